//! The commands that move devices: `detach`, `reattach` (a batch runs in
//! parallel, one thread per device) and `apply` (a domain's devices, in order).
//!
//! Names are resolved and options checked before any thread starts or anything is
//! written; results are reported in the order the devices were given.

use std::io::{Read, Write};

use anyhow::{Context, Result};
use hostdev_manager::ops::{DetachOptions, Engine, Outcome, ReattachOptions};
use hostdev_manager::stub::DriverRequest;
use pci_types::PciAddress;

use crate::app::Backend;
use crate::cli::{ApplyAction, Cli, DetachArgs, ReattachArgs, VirshHypervisor};
use crate::domain::{self, Hostdevs};
use crate::input::{read_xml, xml_target};
use crate::output::{
    escape_controls, failure_message, print_failure, virsh_error, ReportedFailure,
};
use crate::persist::AfterDetach;

/// One device's result in a batch, for `--json`.
#[derive(serde::Serialize)]
struct BatchItem {
    device: String,
    ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outcomes: Vec<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A device as the user named it, and what that name resolved to.
struct Target {
    name: String,
    address: Result<PciAddress>,
}

/// Resolves every name, `--id` and interface (or the `--xml` document) before
/// anything runs.
fn targets(
    backend: &Backend,
    devices: &[String],
    ids: &[String],
    xml: Option<&std::path::Path>,
    exact: bool,
    verb: &str,
    stdin: &mut dyn Read,
) -> Result<(Vec<Target>, Option<DriverRequest>)> {
    if let Some(path) = xml {
        let t = xml_target(path, stdin)?;
        let target = Target {
            name: t.address.nodedev_name(),
            address: Ok(t.address),
        };
        return Ok((vec![target], t.driver));
    }
    let targets = crate::select::targets(backend.host.sysfs(), devices, ids, exact, verb)?
        .into_iter()
        .map(|(name, address)| Target { name, address })
        .collect();
    Ok((targets, None))
}

/// Runs `op` on every resolved target in parallel; results in the given order.
fn run_parallel(
    targets: Vec<Target>,
    op: impl Fn(PciAddress) -> Result<Vec<Outcome>> + Sync,
) -> Vec<(String, Result<Vec<Outcome>>)> {
    let op = &op;
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .into_iter()
            .map(|t| scope.spawn(move || (t.name, t.address.and_then(op))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker thread panicked"))
            .collect()
    })
}

/// How a batch reports: virsh's lines, the writes of a dry run, or JSON.
struct Report<'a> {
    cli: &'a Cli,
    json: bool,
    dry_run: bool,
    /// `detach` / `re-attach`, as in virsh's "Failed to … device".
    verb: &'static str,
    /// `detached` / `re-attached`, as in virsh's "Device X …".
    done: &'static str,
}

impl Report<'_> {
    fn print(
        &self,
        results: Vec<(String, Result<Vec<Outcome>>)>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        let mut any_failed = false;
        let mut items = Vec::new();
        for (name, result) in results {
            match result {
                Ok(outcomes) => {
                    for w in outcomes.iter().flat_map(|o| &o.warnings) {
                        writeln!(err, "warning: {w}")?;
                    }
                    if self.json {
                        items.push(BatchItem {
                            device: name,
                            ok: true,
                            outcomes,
                            error: None,
                        });
                    } else if self.dry_run {
                        print_plan(out, self.verb, &outcomes)?;
                    } else if !self.cli.quiet {
                        writeln!(out, "Device {name} {}", self.done)?;
                    }
                }
                Err(e) => {
                    any_failed = true;
                    if self.json {
                        items.push(BatchItem {
                            error: Some(failure_message(&e)),
                            device: name,
                            ok: false,
                            outcomes: Vec::new(),
                        });
                    } else {
                        print_failure(err, self.verb, &name, &e)?;
                    }
                }
            }
        }
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &items)?;
            out.write_all(b"\n")?;
        }
        if any_failed {
            return Err(ReportedFailure.into());
        }
        Ok(())
    }
}

/// A dry run's plan, as `--dry-run` (and `preflight`) print it.
pub(crate) fn print_plan(out: &mut dyn Write, verb: &str, outcomes: &[Outcome]) -> Result<()> {
    for o in outcomes {
        writeln!(out, "Would {verb} {}:", o.address.nodedev_name())?;
        if o.writes.is_empty() {
            writeln!(
                out,
                "  nothing to do: already on {}",
                o.driver_after.as_deref().unwrap_or("no driver")
            )?;
        }
        for w in &o.writes {
            writeln!(out, "  {w}")?;
        }
    }
    Ok(())
}

/// `nodedev detach DEV…`.
pub fn detach(
    cli: &Cli,
    backend: &Backend,
    args: &DetachArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let (targets, xml_driver) = targets(
        backend,
        &args.devices,
        &args.select.ids,
        args.xml.as_deref(),
        args.exact_name,
        "detach",
        stdin,
    )?;
    // virsh mode: libvirt's QEMU driver takes only `vfio` and its libxl driver only
    // `xen`, and says so for each device it found (an unknown one is "not found").
    let mut virsh_driver = None;
    if let Some(hypervisor) = args.virsh {
        let xen = match hypervisor {
            VirshHypervisor::Xen => true,
            VirshHypervisor::Qemu => false,
            VirshHypervisor::Auto => is_xen_dom0(backend.host.sysfs()),
        };
        let refused = if xen {
            libxl_driver_refusal(args.driver.as_deref())
        } else {
            qemu_driver_refusal(args.driver.as_deref())
        };
        virsh_driver = Some(if xen {
            DriverRequest::Xen
        } else {
            DriverRequest::Vfio
        });
        if let Some(refused) = refused {
            let results = run_parallel(targets, |_| Err(anyhow::anyhow!("{refused}")));
            return Report {
                cli,
                json: args.json,
                dry_run: args.dry_run,
                verb: "detach",
                done: "detached",
            }
            .print(results, out, err);
        }
    }
    // A bad --driver is rejected before anything is written, in virsh's words.
    let driver = match (&args.driver, xml_driver) {
        _ if virsh_driver.is_some() => virsh_driver.expect("checked"),
        (None, Some(from_xml)) => from_xml,
        (given, _) => DriverRequest::parse(given.as_deref()).map_err(|e| {
            let first = targets.first().map_or("", |t| t.name.as_str());
            virsh_error(&[
                format!("Failed to detach device {}", escape_controls(first)),
                e.to_string(),
            ])
        })?,
    };
    let opts = DetachOptions {
        driver,
        method: args.method.into(),
        force: args.force,
        dry_run: args.dry_run,
        owner: None,
    };
    let engine = backend.engine()?;
    let after = AfterDetach::new(
        backend,
        args.persistent,
        args.owner.as_ref(),
        &opts.driver,
        args.dry_run,
    )?;
    let results = run_parallel(targets, |address| {
        let outcomes = if args.group {
            engine.detach_group(address, &opts)?
        } else {
            vec![engine.detach(address, &opts)?]
        };
        after.apply(engine.sysfs(), &outcomes)?;
        Ok(outcomes)
    });
    let planned = if args.json {
        Vec::new()
    } else {
        after.planned(&results)
    };
    let printed = Report {
        cli,
        json: args.json,
        dry_run: args.dry_run,
        verb: "detach",
        done: "detached",
    }
    .print(results, out, err);
    for line in planned {
        writeln!(out, "{line}")?;
    }
    printed
}

/// What libvirt 9.0's QEMU driver answers to `virsh nodedev-detach --driver NAME`
/// (`qemuNodeDeviceDetachFlags`): nothing for none or `vfio`.
fn qemu_driver_refusal(driver: Option<&str>) -> Option<String> {
    match driver {
        None | Some("vfio") => None,
        Some("kvm") => Some(
            "argument unsupported: KVM device assignment is no longer supported on this system"
                .to_string(),
        ),
        Some(other) => Some(format!(
            "invalid argument: unknown driver name '{}'",
            escape_controls(other)
        )),
    }
}

/// libvirt's libxl driver: pciback only (`xen`, or no `--driver`).
fn libxl_driver_refusal(driver: Option<&str>) -> Option<String> {
    match driver {
        None | Some("xen") => None,
        Some(other) => Some(format!(
            "invalid argument: unknown driver name '{}'",
            escape_controls(other)
        )),
    }
}

/// Whether this is a Xen dom0 (`control_d` in `/proc/xen/capabilities`; a Xen
/// guest has the file too, without it), where virsh talks to libvirt's libxl driver.
fn is_xen_dom0(sysfs: &dyn hostdev_manager::Sysfs) -> bool {
    sysfs
        .read(std::path::Path::new("/proc/xen/capabilities"))
        .is_ok_and(|t| String::from_utf8_lossy(&t).contains("control_d"))
}

/// `nodedev reattach DEV…`.
pub fn reattach(
    cli: &Cli,
    backend: &Backend,
    args: &ReattachArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let (targets, _) = targets(
        backend,
        &args.devices,
        &args.select.ids,
        args.xml.as_deref(),
        args.exact_name,
        "re-attach",
        stdin,
    )?;
    let opts = ReattachOptions {
        force: args.force,
        dry_run: args.dry_run,
    };
    let engine = backend.engine()?;
    let results = run_parallel(targets, |address| {
        let outcome = engine.reattach(address, &opts)?;
        if args.persistent && !args.dry_run {
            crate::persist::forget(backend, &address)?;
        }
        Ok(vec![outcome])
    });
    Report {
        cli,
        json: args.json,
        dry_run: args.dry_run,
        verb: "re-attach",
        done: "re-attached",
    }
    .print(results, out, err)
}

/// `nodedev apply detach|reattach DOMAIN.xml`: every PCI hostdev and hostdev
/// interface of the domain (managed or not), minus the metadata's skips, plus its
/// devices and groups; one after another, carrying on after a failure.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    cli: &Cli,
    backend: &Backend,
    action: ApplyAction,
    domain: &std::path::Path,
    force: bool,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let doc = nodedev_xml::domain_hostdevs(&read_xml(domain, stdin)?)
        .with_context(|| format!("{}: not a usable domain document", domain.display()))?;
    let steps = domain::plan(&doc, Hostdevs::All)?;
    let engine = backend.engine()?;
    let mut failed = false;
    for step in steps {
        let result = match action {
            ApplyAction::Detach => detach_step(&engine, &step, force),
            ApplyAction::Reattach => reattach_step(&engine, &step, force),
        };
        let (verb, done) = match action {
            ApplyAction::Detach => ("detach", "detached"),
            ApplyAction::Reattach => ("re-attach", "re-attached"),
        };
        match result {
            Ok(moved) if !cli.quiet => {
                for a in moved {
                    writeln!(out, "Device {} {done}", a.nodedev_name())?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                failed = true;
                print_failure(err, verb, &step.address.nodedev_name(), &e)?;
            }
        }
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

fn detach_step(engine: &Engine, step: &domain::Step, force: bool) -> Result<Vec<PciAddress>> {
    let opts = DetachOptions {
        driver: step.driver.clone(),
        force,
        ..DetachOptions::default()
    };
    let outcomes = if step.whole_group {
        engine.detach_group(step.address, &opts)?
    } else {
        vec![engine.detach(step.address, &opts)?]
    };
    Ok(outcomes.iter().map(|o| o.address).collect())
}

fn reattach_step(engine: &Engine, step: &domain::Step, force: bool) -> Result<Vec<PciAddress>> {
    let opts = ReattachOptions {
        force,
        dry_run: false,
    };
    let members = if step.whole_group {
        hostdev_manager::device::iommu_group(engine.sysfs(), &step.address)?
            .map_or_else(|| vec![step.address], |g| g.members)
    } else {
        vec![step.address]
    };
    let mut moved = Vec::new();
    for m in members {
        if m == step.address || engine.record(&m)?.is_some() {
            engine.reattach(m, &opts)?;
            moved.push(m);
        }
    }
    Ok(moved)
}
