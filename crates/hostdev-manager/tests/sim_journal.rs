//! Nothing lost: the record as a write-ahead journal with one owner, the original
//! driver never overwritten, locks that cover every device a write can touch, and
//! a state directory no one else can plant records in. Each test is a case that
//! lost a device before the engine was laid out this way (issue 10).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use hostdev_manager::ops::{DetachOptions, MethodChoice, OpError, Warning};
use hostdev_manager::state::{BindMethod, LockError, Phase, StateDir, StateError};
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};
use pci_types::DriverName;

fn e1000e() -> Option<DriverName> {
    Some(DriverName::new("e1000e").unwrap())
}

#[test]
fn moving_to_another_stub_keeps_the_original_driver() {
    for knobs in [pci_sim::Knobs::default(), old_kernel()] {
        let r = rig(knobs);
        let ctx = format!("driver_override: {}", knobs.driver_override);
        r.engine
            .detach(addr(NIC), &opts(None, MethodChoice::Auto))
            .unwrap();
        r.engine
            .detach(addr(NIC), &opts(Some("pci-stub"), MethodChoice::Auto))
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(r.sim.driver_of(NIC).as_deref(), Some("pci-stub"), "{ctx}");
        let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
        assert_eq!(rec.original_driver, e1000e(), "{ctx}");
        assert_eq!(rec.stub.as_str(), "pci-stub", "{ctx}");
        r.engine.reattach(addr(NIC), &reattach()).unwrap();
        assert_pristine(&r, &ctx);
    }
}

#[test]
fn a_group_detach_racing_member_detaches_keeps_every_original_driver() {
    const MEMBERS: [&str; 3] = ["0000:09:01.0", "0000:09:02.0", "0000:09:03.0"];
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000", &[(0x8086, 0x100e)]));
    sim.load_driver(DriverSpec::vfio_pci());
    sim.load_driver(DriverSpec::pci_stub());
    for bdf in MEMBERS {
        sim.add_device(DeviceSpec::endpoint(bdf, 0x8086, 0x100e, 20));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state")).with_lock_timeout(Duration::from_secs(60));
    let engine = sim.engine(state.clone());
    for round in 0..20 {
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = engine.detach_group(addr(MEMBERS[0]), &opts(None, MethodChoice::Auto));
            });
            s.spawn(|| {
                let m = addr(MEMBERS[1 + round % 2]);
                let _ = engine.detach(m, &opts(Some("pci-stub"), MethodChoice::Auto));
            });
        });
        for bdf in MEMBERS {
            if let Some(rec) = state.load(&addr(bdf)).unwrap() {
                assert_eq!(
                    rec.original_driver.as_ref().map(DriverName::as_str),
                    Some("e1000"),
                    "round {round}: {bdf}"
                );
                engine.reattach(addr(bdf), &reattach()).unwrap();
            }
            assert_eq!(
                sim.driver_of(bdf).as_deref(),
                Some("e1000"),
                "round {round}: {bdf}"
            );
            assert_eq!(sim.override_of(bdf), None, "round {round}: {bdf}");
        }
    }
}

#[test]
fn rerunning_a_detach_after_a_stuck_unbind_keeps_the_original_driver() {
    let r = rig(pci_sim::Knobs::default());
    let quick = r
        .engine
        .clone()
        .with_unbind_timeout(Duration::from_millis(100));
    r.sim.set_stuck_unbind(true);
    let e = quick
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    assert!(matches!(e, OpError::StuckUnbind { .. }), "{e}");
    assert!(e.to_string().contains("within 100 ms"), "{e}");
    let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    assert_eq!(
        (rec.phase, rec.original_driver.clone()),
        (Phase::UnbindPending, e1000e())
    );
    // Run again while the kernel still has not finished: it says so again, and the
    // record still names e1000e (it once recorded "(none)").
    let e = quick
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    assert!(matches!(e, OpError::StuckUnbind { .. }), "{e}");
    let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    assert_eq!(rec.original_driver, e1000e());
    r.sim.release_unbind();
    for _ in 0..2000 {
        if r.sim.driver_of(NIC).is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    r.engine.reattach(addr(NIC), &reattach()).unwrap();
    assert_pristine(&r, "after the unbind finished");
}

#[test]
fn the_pending_record_of_a_new_id_detach_says_new_id() {
    let r = rig(old_kernel());
    let quick = r
        .engine
        .clone()
        .with_unbind_timeout(Duration::from_millis(50));
    r.sim.set_stuck_unbind(true);
    let e = quick
        .detach(addr(NIC), &opts(Some("pci-stub"), MethodChoice::Auto))
        .unwrap_err();
    assert!(matches!(e, OpError::StuckUnbind { .. }), "{e}");
    let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    assert_eq!(rec.method, BindMethod::NewId);
    // The id it added is taken back at once, not left to grab hot-plugged cards.
    assert!(r.sim.dynamic_ids("pci-stub").is_empty());
    assert_eq!(rec.dynamic_id, None);
    r.sim.release_unbind();
    for _ in 0..2000 {
        if r.sim.driver_of(NIC).is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    r.engine.reattach(addr(NIC), &reattach()).unwrap();
    assert_pristine(&r, "after the unbind finished");
}

#[test]
fn a_killed_detach_is_found_and_undone_by_the_next_listing() {
    let r = rig(old_kernel());
    // Killed right after the new_id and the unbind: the id is registered, the
    // device has no driver.
    r.sim.kill_after(2);
    assert!(killed(|| {
        let _ = r
            .engine
            .detach(addr(NIC), &opts(Some("pci-stub"), MethodChoice::Auto));
    }));
    r.sim.kill_after(usize::MAX);
    assert_eq!(r.sim.driver_of(NIC), None);
    assert_eq!(r.sim.dynamic_ids("pci-stub"), vec![(0x8086, 0x10d3)]);
    let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    assert_eq!(rec.phase, Phase::Detaching);
    let recovered = r.next_command().recover_interrupted();
    assert_eq!(recovered.len(), 1);
    let warnings = recovered[0].1.as_ref().unwrap();
    assert!(
        matches!(&warnings[0], Warning::Recovered { what, .. } if what.contains("device is on e1000e")),
        "{warnings:?}"
    );
    assert_pristine(&r, "after the listing's recovery");
}

#[test]
fn a_running_operation_is_not_recovered_under_its_feet() {
    let r = rig(pci_sim::Knobs::default());
    r.sim.kill_after(1);
    killed(|| {
        let _ = r.engine.detach(addr(NIC), &opts(None, MethodChoice::Auto));
    });
    r.sim.kill_after(usize::MAX);
    // Someone holds the device's lock: its operation is under way.
    let held = r.state.lock(&[addr(NIC)]).unwrap();
    assert!(r.next_command().recover_interrupted().is_empty());
    assert!(r.state.load(&addr(NIC)).unwrap().is_some());
    drop(held);
    assert_eq!(r.next_command().recover_interrupted().len(), 1);
    assert_pristine(&r, "recovered once the lock was free");
}

#[test]
fn a_new_id_detach_never_unbinds_a_sibling_another_detach_bound() {
    const SIB: &str = "0000:00:03.0";
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    sim.add_device(DeviceSpec::endpoint(NIC, 0x8086, 0x10d3, 1));
    sim.add_device(DeviceSpec::endpoint(SIB, 0x8086, 0x10d3, 3));
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state")).with_lock_timeout(Duration::from_secs(60));
    let engine = sim.engine(state);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..100 {
                engine
                    .detach(addr(NIC), &opts(None, MethodChoice::NewId))
                    .unwrap();
                engine.reattach(addr(NIC), &reattach()).unwrap();
            }
        });
        s.spawn(|| {
            for i in 0..100 {
                engine
                    .detach(addr(SIB), &opts(None, MethodChoice::Override))
                    .unwrap();
                std::thread::yield_now();
                assert_eq!(
                    sim.driver_of(SIB).as_deref(),
                    Some("vfio-pci"),
                    "round {i}: the sibling was taken off vfio-pci"
                );
                engine.reattach(addr(SIB), &reattach()).unwrap();
            }
        });
    });
    for bdf in [NIC, SIB] {
        assert_eq!(sim.driver_of(bdf).as_deref(), Some("e1000e"), "{bdf}");
    }
    assert!(sim.dynamic_ids("vfio-pci").is_empty());
}

#[test]
fn locks_and_records_are_private_and_lock_waits_are_bounded() {
    let r = rig(pci_sim::Knobs::default());
    r.engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let state = r.dir.path().join("state");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("locks")), 0o700);
    assert_eq!(mode(&state.join("locks/0000:00:01.0.lock")), 0o600);
    assert_eq!(mode(&state.join("devices/0000:00:01.0.json")), 0o600);
    // A stuck holder: the next command gives up within its lock timeout, naming it.
    let held = r.state.lock(&[addr(NIC)]).unwrap();
    let impatient = r
        .sim
        .engine(r.state.clone().with_lock_timeout(Duration::from_millis(50)));
    let e = impatient.reattach(addr(NIC), &reattach()).unwrap_err();
    assert!(
        matches!(&e, OpError::State(StateError::Lock(LockError::Timeout { holder: Some(h), .. })) if h.pid == std::process::id()),
        "{e}"
    );
    assert!(e.to_string().contains("--lock-timeout"), "{e}");
    drop(held);
    r.engine.reattach(addr(NIC), &reattach()).unwrap();
}

#[test]
fn planted_records_are_refused_and_other_devices_go_on() {
    let r = rig(pci_sim::Knobs::default());
    r.sim
        .add_device(DeviceSpec::endpoint("0000:00:07.0", 0x8086, 0x10d3, 7));
    // Make the directories, then plant what a local attacker (or a careless hand)
    // could: a record whose address is not its name, one with a driver name that
    // is a path, a symlink to a root-only file, a FIFO.
    r.engine
        .detach(addr(TWIN), &opts(Some("pci-stub"), MethodChoice::Auto))
        .unwrap();
    let devices = r.dir.path().join("state/devices");
    let good = std::fs::read_to_string(devices.join("0000:00:02.0.json")).unwrap();
    std::fs::write(
        devices.join("0000:00:07.0.json"),
        good.replace("0000:00:02.0", "0000:00:01.0"),
    )
    .unwrap();
    std::fs::write(
        devices.join("0000:00:08.0.json"),
        good.replace("0000:00:02.0", "0000:00:08.0")
            .replace("\"pci-stub\"", "\"../../../../tmp/x\""),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/shadow", devices.join("0000:00:09.0.json")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        devices.join("0000:00:0a.0.json"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let listing = r.engine.records().unwrap();
    assert_eq!(listing.records.len(), 1, "{listing:?}");
    assert_eq!(listing.unusable.len(), 4, "{listing:?}");
    // Other devices go on.
    r.engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap();
    r.engine.reattach(addr(NIC), &reattach()).unwrap();
    r.engine.reattach(addr(TWIN), &reattach()).unwrap();
    // Acting on a planted record's device is refused, naming the file.
    let e = r
        .engine
        .reattach(addr("0000:00:07.0"), &reattach())
        .unwrap_err();
    assert!(
        e.to_string().contains("0000:00:07.0.json is unusable"),
        "{e}"
    );
    // A hook's release goes on past them.
    let released = r.engine.reattach_owned("hook:vm", &reattach()).unwrap();
    assert!(released.is_empty());
}

#[test]
fn a_state_directory_others_can_write_is_refused_before_anything_is_written() {
    let r = rig(pci_sim::Knobs::default());
    let state = r.dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = r
        .engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    assert!(e.to_string().contains("writable by group or others"), "{e}");
    assert!(r.sim.writes().is_empty());
    assert!(r.engine.reattach_owned("hook:vm", &reattach()).is_err());
    // A symlink as the state directory is refused too.
    std::fs::remove_dir(&state).unwrap();
    std::os::unix::fs::symlink("/tmp", &state).unwrap();
    let e = r
        .engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    assert!(r.sim.writes().is_empty());
}

#[test]
fn the_owner_is_written_with_the_journal_and_only_the_owner_gets_it_back() {
    let r = rig(pci_sim::Knobs::default());
    let hook = DetachOptions {
        owner: Some("hook:vm1".into()),
        ..opts(None, MethodChoice::Auto)
    };
    // Killed before its first write, the record already names its owner...
    r.sim.kill_after(0);
    killed(|| {
        let _ = r.engine.detach(addr(NIC), &hook);
    });
    r.sim.kill_after(usize::MAX);
    let rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    assert_eq!(rec.owner.as_deref(), Some("hook:vm1"));
    // ...so the domain's release finds it.
    let released = r.engine.reattach_owned("hook:vm1", &reattach()).unwrap();
    assert_eq!(released.len(), 1);
    assert!(released[0].1.is_ok());
    assert_pristine(&r, "released");
    // A device someone else detached is not the hook's to give back.
    r.engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap();
    let again = r.engine.detach(addr(NIC), &hook).unwrap();
    assert!(again.unchanged);
    assert!(r
        .engine
        .reattach_owned("hook:vm1", &reattach())
        .unwrap()
        .is_empty());
    assert_eq!(r.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
}

#[test]
fn two_targets_are_checked_before_the_first_write() {
    let r = rig(pci_sim::Knobs::default());
    // The second device is the boot display: refused, and so nothing is written
    // for the first either.
    r.sim
        .add_device(DeviceSpec::endpoint("0000:00:05.0", 0x8086, 0x10d3, 5))
        .add_file("/sys/bus/pci/devices/0000:00:05.0/boot_vga", "1\n")
        .add_file(
            "/sys/devices/pci0000:00/0000:00:05.0/drm/card0/dev",
            "226:0\n",
        );
    r.sim.clear_log();
    let targets = [NIC, "0000:00:05.0"].map(|a| hostdev_manager::ops::Target {
        address: addr(a),
        driver: hostdev_manager::stub::DriverRequest::Vfio,
        whole_group: false,
    });
    let e = r
        .engine
        .detach_all(&targets, &DetachOptions::default())
        .unwrap_err();
    assert!(e.refusal().is_some(), "{e}");
    assert!(r.sim.writes().is_empty(), "{:?}", r.sim.writes());
}
