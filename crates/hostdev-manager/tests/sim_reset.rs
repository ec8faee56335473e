//! `reset` against the simulated kernel: the kernel's reset, reset_method chosen and
//! restored (also after a failure), libvirt's refusals and vfio skip.

use std::sync::Arc;

use hostdev_manager::ops::{Engine, OpError};
use hostdev_manager::reset::{ResetOptions, ResetOutcome};
use hostdev_manager::state::StateDir;
use pci_sim::{errno, DeviceSpec, DriverSpec, Knobs, SimKernel};
use pci_types::PciAddress;

const NIC: &str = "0000:00:01.0";

fn setup(methods: &[&str]) -> (SimKernel, Engine, tempfile::TempDir) {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    let mut d = DeviceSpec::endpoint(NIC, 0x8086, 0x10d3, 1);
    d.reset_methods = methods.iter().map(|m| m.to_string()).collect();
    sim.add_device(d);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        Arc::new(sim.clone()),
        Arc::new(sim.clone()),
        StateDir::new(dir.path()),
    );
    (sim, engine, dir)
}

fn a(s: &str) -> PciAddress {
    s.parse().unwrap()
}

fn with(method: Option<&str>, force: bool) -> ResetOptions {
    ResetOptions {
        method: method.map(String::from),
        force,
        config_space: false,
    }
}

#[test]
fn kernel_reset_and_chosen_methods() {
    let (sim, engine, _d) = setup(&["flr", "pm", "bus"]);
    assert_eq!(
        engine.reset(a(NIC), &with(None, false)).unwrap(),
        ResetOutcome::Reset {
            methods: vec!["flr".into(), "pm".into(), "bus".into()]
        }
    );
    engine.reset(a(NIC), &with(Some("pm"), false)).unwrap();
    assert_eq!(sim.resets_of(NIC), ["flr", "pm"]);
    assert_eq!(sim.reset_method_of(NIC), ["flr", "pm", "bus"], "restored");
    let plan = engine.reset_plan(a(NIC)).unwrap();
    assert!(plan.kernel_reset);
    assert_eq!(plan.methods.unwrap(), ["flr", "pm", "bus"]);
    assert!(plan.would_use.contains("flr first"), "{}", plan.would_use);
}

#[test]
fn unsupported_or_unknown_method_and_failed_reset_restore_the_list() {
    let (sim, engine, _d) = setup(&["pm", "bus"]);
    let e = engine
        .reset(a(NIC), &with(Some("flr"), false))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("selecting reset method 'flr'") && e.contains("(EINVAL)"),
        "{e}"
    );
    assert!(sim.resets_of(NIC).is_empty());
    assert_eq!(sim.reset_method_of(NIC), ["pm", "bus"]);
    let e = engine
        .reset(a(NIC), &with(Some("af"), false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown reset method 'af'"), "{e}");
    // The reset itself fails (the bus has another device, say): the list comes back.
    sim.fail_write("/reset", 1, 25);
    let e = engine
        .reset(a(NIC), &with(Some("bus"), false))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("reset method 'bus'")
            && e.contains("(ENOTTY)")
            && e.contains("reset_method restored to 'pm bus'"),
        "{e}"
    );
    assert_eq!(sim.reset_method_of(NIC), ["pm", "bus"]);
}

#[test]
fn refusals_and_the_vfio_skip() {
    let (sim, engine, _d) = setup(&["flr"]);
    let mut bridge = DeviceSpec::endpoint("0000:00:1c.0", 0x8086, 0x1901, 3);
    bridge.header_type = 1;
    sim.add_device(bridge);
    let e = engine
        .reset(a("0000:00:1c.0"), &with(None, false))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Only PCI endpoint devices can be reset"),
        "{e}"
    );
    // On vfio-pci: skipped (vfio resets it), unless forced; never while the group is open.
    engine
        .detach(a(NIC), &hostdev_manager::ops::DetachOptions::default())
        .unwrap();
    assert_eq!(
        engine.reset(a(NIC), &with(None, false)).unwrap(),
        ResetOutcome::SkippedVfio {
            driver: "vfio-pci".into()
        }
    );
    assert!(sim.resets_of(NIC).is_empty());
    sim.with_state(|s| s.open_files.push((77, "qemu".into(), "/dev/vfio/1".into())));
    let e = engine.reset(a(NIC), &with(None, true)).unwrap_err();
    assert!(
        matches!(e, OpError::Refused { .. }) && e.to_string().contains("pid 77 (qemu)"),
        "{e}"
    );
    sim.with_state(|s| s.open_files.clear());
    engine.reset(a(NIC), &with(None, true)).unwrap();
    assert_eq!(sim.resets_of(NIC), ["flr"]);
}

#[test]
fn no_kernel_reset_and_old_kernels() {
    let (_sim, engine, _d) = setup(&[]);
    let e = engine
        .reset(a(NIC), &with(None, false))
        .unwrap_err()
        .to_string();
    // No kernel reset: libvirt's config-space sequence, which finds nothing on a
    // root-bus function without PM or FLR (sim_config_reset.rs has the rest).
    assert_eq!(
        e,
        "internal error: Unable to reset PCI device 0000:00:01.0: no FLR, PM reset or bus reset available"
    );
    let (sim, engine, _d) = setup(&["pm"]);
    sim.set_knobs(Knobs {
        reset_method: false,
        ..Knobs::default()
    });
    let e = engine
        .reset(a(NIC), &with(Some("pm"), false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Linux < 5.15"), "{e}");
    engine.reset(a(NIC), &with(None, false)).unwrap();
    assert_eq!(sim.resets_of(NIC), ["pm"]);
    let _ = errno::EINVAL;
}
