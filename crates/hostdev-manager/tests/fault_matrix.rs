//! The fault matrix, one named test per case (run one with
//! `cargo test -p hostdev-manager --test fault_matrix -- 'kill-detach/old-kernel/pciback'`):
//!
//! - `plan/…`: a dry run's plan is what a real run writes (a step may be skipped
//!   only where the plan says when it is made);
//! - `detach/…/write-K/ERRNO`, `reattach/…`: the K-th write fails; the device
//!   ends fully detached with a record, or back on e1000e with no override, id,
//!   slot or record, and a failed reattach keeps its record for a retry;
//! - `kill-detach/…/after-K`, `kill-reattach/…`, `kill-group/…`: the process is
//!   killed after K writes; the records tell the truth about every device not where
//!   it started, and the next command (reattach) gives everything back.
//!
//! Over kernels with and without `driver_override`, `--method auto` and `new-id`,
//! and the three stubs.

mod common;

use common::*;
use hostdev_manager::ops::{DetachOptions, MethodChoice, Warning, WriteRecord};
use libtest_mimic::{Arguments, Failed, Trial};
use pci_sim::{errno, DeviceSpec, DriverSpec, Knobs, SimKernel};

#[derive(Clone, Copy)]
struct Combo {
    old_kernel: bool,
    method: MethodChoice,
    driver: Option<&'static str>,
    stub: &'static str,
}

impl Combo {
    fn name(&self) -> String {
        let kernel = if self.old_kernel {
            "old-kernel"
        } else {
            "override-kernel"
        };
        let method = match self.method {
            MethodChoice::NewId => "new-id",
            _ => "auto",
        };
        format!("{kernel}/{method}/{}", self.stub)
    }

    fn knobs(&self) -> Knobs {
        Knobs {
            driver_override: !self.old_kernel,
            ..Knobs::default()
        }
    }

    fn opts(&self) -> DetachOptions {
        opts(self.driver, self.method)
    }

    fn rig(&self) -> Rig {
        rig(self.knobs())
    }
}

fn combos() -> Vec<Combo> {
    let mut out = Vec::new();
    for (old_kernel, method) in [
        (false, MethodChoice::Auto),
        (false, MethodChoice::NewId),
        (true, MethodChoice::Auto),
    ] {
        for (driver, stub) in STUBS {
            out.push(Combo {
                old_kernel,
                method,
                driver: *driver,
                stub,
            });
        }
    }
    out
}

fn check(problems: Vec<String>, context: &str) -> Result<(), Failed> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{context}: {}", problems.join("; ")).into())
    }
}

/// The number of writes of a clean detach and of the reattach after it.
fn clean_counts(c: Combo) -> (usize, usize) {
    let r = c.rig();
    r.engine.detach(addr(NIC), &c.opts()).expect("clean detach");
    let detach = r.sim.writes().len();
    r.sim.clear_log();
    r.engine
        .reattach(addr(NIC), &reattach())
        .expect("clean reattach");
    (detach, r.sim.writes().len())
}

/// Every real write matches the next planned one; planned steps with a condition
/// may be skipped, unconditional ones may not; nothing unplanned is written.
fn follows_plan(planned: &[WriteRecord], real: &[pci_sim::WriteLog]) -> Result<(), String> {
    let mut i = 0;
    for step in planned {
        let matches = real.get(i).is_some_and(|w| {
            w.path == step.path
                && String::from_utf8_lossy(&w.data).escape_debug().to_string() == step.data
        });
        if matches {
            i += 1;
        } else if step.only_if.is_none() {
            return Err(format!(
                "planned {step} was not written (real writes: {:?})",
                real.iter()
                    .map(|w| w.path.display().to_string())
                    .collect::<Vec<_>>()
            ));
        }
    }
    match real.get(i) {
        None => Ok(()),
        Some(w) => Err(format!("unplanned write to {}", w.path.display())),
    }
}

fn plan_case(c: Combo) -> Result<(), Failed> {
    let r = c.rig();
    let dry = DetachOptions {
        dry_run: true,
        ..c.opts()
    };
    let planned = r.engine.detach(addr(NIC), &dry)?.writes;
    if !r.sim.writes().is_empty() {
        return Err("the dry run wrote".into());
    }
    r.engine.detach(addr(NIC), &c.opts())?;
    follows_plan(&planned, &r.sim.writes()).map_err(|e| format!("detach: {e}"))?;
    r.sim.clear_log();
    let dry = hostdev_manager::ops::ReattachOptions {
        dry_run: true,
        ..reattach()
    };
    let planned = r.engine.reattach(addr(NIC), &dry)?.writes;
    r.engine.reattach(addr(NIC), &reattach())?;
    follows_plan(&planned, &r.sim.writes()).map_err(|e| format!("reattach: {e}"))?;
    check(not_pristine(&r), "after the round trip")
}

fn detach_fault(c: Combo, k: usize, e: i32) -> Result<(), Failed> {
    let r = c.rig();
    r.sim.fail_nth_write(k, e);
    match r.engine.detach(addr(NIC), &c.opts()) {
        // Giving back a same-id bystander failed: the target is detached, and the
        // outcome must say what remains.
        Ok(o) if r.sim.driver_of(TWIN).is_some() => {
            if !o
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::BystanderKept { device, .. } if device.to_string() == TWIN))
            {
                return Err(format!("bystander left grabbed without a word: {:?}", o.warnings).into());
            }
            let mut problems = not_detached(&r, c.stub);
            problems.retain(|p| p != "bystander grabbed");
            check(problems, "detached with a bystander kept")
        }
        Ok(_) => check(not_detached(&r, c.stub), "detach succeeded"),
        Err(err) => {
            let left = not_pristine(&r);
            if left.is_empty() {
                return Ok(());
            }
            // Not everything could be undone: the error must say so, the record
            // must remain, and the next reattach must finish the job.
            let told = err.aftermath().is_some_and(|a| !a.undo_failures.is_empty());
            if !told || !matches!(r.state.load(&addr(NIC)), Ok(Some(_))) {
                return Err(format!(
                    "failed ({err}) and left {left:?} without a record that says so"
                )
                .into());
            }
            r.next_command().reattach(addr(NIC), &reattach())?;
            check(
                not_pristine(&r),
                &format!("after a reattach following: {err}"),
            )
        }
    }
}

fn reattach_fault(c: Combo, k: usize, e: i32) -> Result<(), Failed> {
    let r = c.rig();
    r.engine.detach(addr(NIC), &c.opts())?;
    let before = r.sim.writes().len();
    r.sim.fail_nth_write(before + k, e);
    match r.engine.reattach(addr(NIC), &reattach()) {
        Ok(_) => check(not_pristine(&r), "reattach succeeded"),
        Err(err) => {
            // Consistent either way: the record stays, and a retry finishes.
            if !matches!(r.state.load(&addr(NIC)), Ok(Some(_))) {
                return Err(format!("a failed reattach must keep the record ({err})").into());
            }
            r.engine
                .reattach(addr(NIC), &reattach())
                .map_err(|e2| format!("retry failed: {e2} (first: {err})"))?;
            check(not_pristine(&r), "after the retry")
        }
    }
}

/// After a kill: every way the device differs from where it started is on
/// record, in a record that is not settled (or the detach had finished).
fn records_tell_the_truth(r: &Rig, stub: &str) -> Result<(), Failed> {
    let left = not_pristine(r);
    if left.is_empty() || not_detached(r, stub).is_empty() {
        return Ok(());
    }
    match r.state.load(&addr(NIC)) {
        Ok(Some(rec)) if !rec.phase.is_settled() => Ok(()),
        other => {
            Err(format!("killed, the device shows {left:?}, but its record is {other:?}").into())
        }
    }
}

fn kill_detach(c: Combo, k: usize) -> Result<(), Failed> {
    let r = c.rig();
    r.sim.kill_after(k);
    let was_killed = killed(|| {
        let _ = r.engine.detach(addr(NIC), &c.opts());
    });
    r.sim.kill_after(usize::MAX);
    records_tell_the_truth(&r, c.stub)?;
    // The next command gives it back, whatever the kill left.
    r.next_command()
        .reattach(addr(NIC), &reattach())
        .map_err(|e| format!("reattach after the kill (killed: {was_killed}): {e}"))?;
    check(
        not_pristine(&r),
        &format!("reattach after a kill after {k} writes"),
    )
}

fn kill_detach_then_detach_again(c: Combo, k: usize) -> Result<(), Failed> {
    let r = c.rig();
    r.sim.kill_after(k);
    killed(|| {
        let _ = r.engine.detach(addr(NIC), &c.opts());
    });
    r.sim.kill_after(usize::MAX);
    // A second detach undoes what the first left and detaches for real, keeping
    // the original driver.
    r.next_command().detach(addr(NIC), &c.opts())?;
    check(not_detached(&r, c.stub), "detach after a killed detach")?;
    r.next_command().reattach(addr(NIC), &reattach())?;
    check(not_pristine(&r), "and back")
}

fn kill_reattach(c: Combo, k: usize) -> Result<(), Failed> {
    let r = c.rig();
    r.engine.detach(addr(NIC), &c.opts())?;
    let before = r.sim.writes().len();
    r.sim.kill_after(before + k);
    killed(|| {
        let _ = r.engine.reattach(addr(NIC), &reattach());
    });
    r.sim.kill_after(usize::MAX);
    records_tell_the_truth(&r, c.stub)?;
    r.next_command().reattach(addr(NIC), &reattach())?;
    check(
        not_pristine(&r),
        &format!("reattach after a killed reattach (after {k} writes)"),
    )
}

/// Three e1000 in one IOMMU group behind a bridge.
fn group_sim() -> (
    SimKernel,
    hostdev_manager::state::StateDir,
    tempfile::TempDir,
) {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000", &[(0x8086, 0x100e)]));
    sim.load_driver(DriverSpec::vfio_pci());
    for bdf in GROUP {
        sim.add_device(DeviceSpec::endpoint(bdf, 0x8086, 0x100e, 20));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = hostdev_manager::state::StateDir::new(dir.path().join("state"));
    sim.clear_log();
    (sim, state, dir)
}

const GROUP: [&str; 3] = ["0000:09:01.0", "0000:09:02.0", "0000:09:03.0"];

fn kill_group(k: usize) -> Result<(), Failed> {
    let (sim, state, _dir) = group_sim();
    sim.kill_after(k);
    killed(|| {
        let _ = sim
            .engine(state.clone())
            .detach_group(addr(GROUP[0]), &opts(None, MethodChoice::Auto));
    });
    sim.kill_after(usize::MAX);
    let engine = sim.engine(state.clone());
    for bdf in GROUP {
        let off = sim.driver_of(bdf).as_deref() != Some("e1000") || sim.override_of(bdf).is_some();
        let recorded = matches!(state.load(&addr(bdf)), Ok(Some(_)));
        if off && !recorded {
            return Err(format!("{bdf} is off e1000 with no record").into());
        }
        if recorded {
            engine.reattach(addr(bdf), &reattach())?;
        }
        if sim.driver_of(bdf).as_deref() != Some("e1000") || sim.override_of(bdf).is_some() {
            return Err(format!("{bdf} not given back: {:?}", sim.driver_of(bdf)).into());
        }
    }
    Ok(())
}

fn main() {
    silence_simulated_kills();
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for c in combos() {
        let name = c.name();
        let (detach_writes, reattach_writes) = clean_counts(c);
        assert!(detach_writes >= 2 && reattach_writes >= 2, "{name}");
        trials.push(Trial::test(format!("plan/{name}"), move || plan_case(c)));
        for (e, ename) in [
            (errno::EIO, "EIO"),
            (errno::EBUSY, "EBUSY"),
            (errno::ENODEV, "ENODEV"),
            (errno::EINVAL, "EINVAL"),
        ] {
            for k in 1..=detach_writes {
                trials.push(Trial::test(
                    format!("detach/{name}/write-{k}/{ename}"),
                    move || detach_fault(c, k, e),
                ));
            }
            for k in 1..=reattach_writes {
                trials.push(Trial::test(
                    format!("reattach/{name}/write-{k}/{ename}"),
                    move || reattach_fault(c, k, e),
                ));
            }
        }
        for k in 0..=detach_writes {
            trials.push(Trial::test(
                format!("kill-detach/{name}/after-{k}"),
                move || kill_detach(c, k),
            ));
            trials.push(Trial::test(
                format!("kill-detach-then-detach/{name}/after-{k}"),
                move || kill_detach_then_detach_again(c, k),
            ));
        }
        for k in 0..reattach_writes {
            trials.push(Trial::test(
                format!("kill-reattach/{name}/after-{k}"),
                move || kill_reattach(c, k),
            ));
        }
    }
    for k in 0..=9 {
        trials.push(Trial::test(format!("kill-group/after-{k}"), move || {
            kill_group(k)
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
