//! libvirt's config-space reset against the simulated kernel's config-space
//! model: every branch of the decision order (FLR, AF FLR, PM, bus, none), the
//! bus-reset refusals, the parent-bridge search, and each failing write.

use std::sync::Arc;

use hostdev_manager::ops::{DetachOptions, Engine, OpError};
use hostdev_manager::reset::{ResetOptions, ResetOutcome};
use hostdev_manager::state::StateDir;
use pci_sim::config::{reg, PROGRAMMED_COMMAND};
use pci_sim::{errno, ConfigCaps, DeviceSpec, DriverSpec, Knobs, SimKernel};
use pci_types::PciAddress;

struct Rig {
    sim: SimKernel,
    engine: Engine,
    _state: tempfile::TempDir,
}

fn a(s: &str) -> PciAddress {
    s.parse().unwrap()
}

/// A kernel with e1000e and vfio-pci loaded and the given devices.
fn rig(devices: Vec<DeviceSpec>) -> Rig {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    for d in devices {
        sim.add_device(d);
    }
    let state = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        Arc::new(sim.clone()),
        Arc::new(sim.clone()),
        StateDir::new(state.path()),
    );
    Rig {
        sim,
        engine,
        _state: state,
    }
}

/// An e1000e the kernel offers no reset for, with these capabilities.
fn nic(address: &str, group: u32, caps: ConfigCaps) -> DeviceSpec {
    let mut d = DeviceSpec::endpoint(address, 0x8086, 0x10d3, group);
    d.reset_methods = Vec::new();
    d.caps = caps;
    d
}

fn pm(no_soft_reset: bool) -> ConfigCaps {
    ConfigCaps {
        pm_no_soft_reset: Some(no_soft_reset),
        ..ConfigCaps::default()
    }
}

fn auto() -> ResetOptions {
    ResetOptions::default()
}

fn only(method: &str) -> ResetOptions {
    ResetOptions {
        method: Some(method.into()),
        ..ResetOptions::default()
    }
}

fn outcome(method: &str) -> ResetOutcome {
    ResetOutcome::ConfigSpace {
        method: method.into(),
    }
}

fn command(sim: &SimKernel, dev: &str) -> u16 {
    let c = sim.config_of(dev);
    u16::from_le_bytes([c[reg::COMMAND], c[reg::COMMAND + 1]])
}

/// The pwrites made, as (file's device, offset, bytes).
fn pwrites(sim: &SimKernel) -> Vec<(String, u64, Vec<u8>)> {
    sim.writes()
        .into_iter()
        .filter_map(|w| {
            let dev = w.path.parent()?.file_name()?.to_str()?.to_string();
            Some((dev, w.offset?, w.data))
        })
        .collect()
}

/// The last write puts the 256 saved bytes back, and the reset had cleared what
/// it restores.
fn assert_restored(sim: &SimKernel, dev: &str) {
    let log = pwrites(sim);
    let (d, off, data) = log.last().expect("a restore");
    assert_eq!((d.as_str(), *off, data.len()), (dev, 0, 256), "{log:?}");
    assert_eq!(command(sim, dev), PROGRAMMED_COMMAND, "config restored");
}

#[test]
fn flr_through_devctl_when_devcap_advertises_it() {
    const DEV: &str = "0000:00:03.0";
    let caps = ConfigCaps {
        pcie_flr: Some(true),
        pm_no_soft_reset: Some(false),
        ..ConfigCaps::default()
    };
    let r = rig(vec![nic(DEV, 3, caps)]);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("flr"));
    assert_eq!(r.sim.resets_of(DEV), ["flr"], "FLR before PM");
    let log = pwrites(&r.sim);
    assert_eq!(log[0], (DEV.into(), reg::DEVCTL as u64, vec![0x00, 0x80]));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_restored(&r.sim, DEV);
}

#[test]
fn af_flr_when_af_cap_advertises_it() {
    const DEV: &str = "0000:00:03.0";
    let caps = ConfigCaps {
        af_flr: Some(true),
        pcie_flr: Some(false),
        ..ConfigCaps::default()
    };
    let r = rig(vec![nic(DEV, 3, caps)]);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("af_flr"));
    assert_eq!(r.sim.resets_of(DEV), ["af_flr"]);
    assert_eq!(
        pwrites(&r.sim)[0],
        (DEV.into(), reg::AF_CTRL as u64, vec![1])
    );
    assert_restored(&r.sim, DEV);
}

#[test]
fn pm_reset_when_no_soft_reset_is_clear() {
    const DEV: &str = "0000:00:03.0";
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    let plan = r.engine.reset_plan(a(DEV)).unwrap();
    assert!(!plan.kernel_reset);
    assert_eq!(plan.config_space, ["pm"]);
    assert!(
        plan.would_use.contains("config-space sequence (pm"),
        "{}",
        plan.would_use
    );
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("pm"));
    assert_eq!(r.sim.resets_of(DEV), ["pm"]);
    let log = pwrites(&r.sim);
    let pmcsr = reg::PMCSR as u64;
    assert_eq!(log[0], (DEV.into(), pmcsr, vec![3, 0, 0, 0]), "D3hot");
    assert_eq!(log[1], (DEV.into(), pmcsr, vec![0, 0, 0, 0]), "D0");
    assert_restored(&r.sim, DEV);
}

#[test]
fn root_bus_function_without_flr_or_pm_reset_has_nothing() {
    const DEV: &str = "0000:00:03.0";
    // No_Soft_Reset set: D3hot→D0 would keep state, so it is no reset.
    let r = rig(vec![nic(DEV, 3, pm(true))]);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert_eq!(
        e,
        "internal error: Unable to reset PCI device 0000:00:03.0: no FLR, PM reset or bus reset available"
    );
    assert!(r.sim.writes().is_empty());
}

/// Bus 1 behind the root port 00:1c.0: the target, a second function, and
/// another port's bus 2.
fn bus_rig(peer_caps: Option<ConfigCaps>) -> Rig {
    let mut devices = vec![
        DeviceSpec::bridge("0000:00:1c.0", 1, 1, 10),
        DeviceSpec::bridge("0000:00:1d.0", 2, 2, 11),
        nic("0000:01:00.0", 1, pm(true)),
        nic("0000:02:00.0", 2, ConfigCaps::default()),
    ];
    if let Some(caps) = peer_caps {
        devices.push(nic("0000:01:00.1", 5, caps));
    }
    rig(devices)
}

#[test]
fn bus_reset_through_the_parent_bridge_when_alone_on_the_bus() {
    const DEV: &str = "0000:01:00.0";
    let r = bus_rig(None);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
    assert_eq!(r.sim.resets_of(DEV), ["bus"]);
    assert!(r.sim.resets_of("0000:02:00.0").is_empty(), "another bus");
    let log = pwrites(&r.sim);
    let ctl = reg::BRIDGE_CONTROL as u64;
    assert_eq!(log[0], ("0000:00:1c.0".into(), ctl, vec![0x40, 0]));
    assert_eq!(log[1], ("0000:00:1c.0".into(), ctl, vec![0, 0]));
    assert_eq!(r.sim.config_of("0000:00:1c.0")[reg::BRIDGE_CONTROL], 0);
    assert_restored(&r.sim, DEV);
}

#[test]
fn bus_reset_refused_while_another_function_is_on_a_host_driver() {
    const DEV: &str = "0000:01:00.0";
    let r = bus_rig(Some(ConfigCaps::default()));
    assert_eq!(r.sim.driver_of("0000:01:00.1").as_deref(), Some("e1000e"));
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "internal error: Unable to reset PCI device 0000:01:00.0: internal error: Active 0000:01:00.1 devices on bus with 0000:01:00.0, not doing bus reset (0000:01:00.1 is on e1000e"
        ),
        "{e}"
    );
    // libvirt's words, as libvirt prints them (no suffix of ours).
    assert!(matches!(
        r.engine.reset(a(DEV), &auto()),
        Err(OpError::Libvirt(_))
    ));
    assert!(r.sim.writes().is_empty());
    // Once the other function is detached, the bus is ours; the reset reaches
    // every function below the bridge, the detached one too.
    r.engine
        .detach(a("0000:01:00.1"), &DetachOptions::default())
        .unwrap();
    r.sim.clear_log();
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
    assert_eq!(r.sim.resets_of("0000:01:00.1"), ["bus"]);
    assert_eq!(
        command(&r.sim, "0000:01:00.1"),
        PROGRAMMED_COMMAND,
        "the neighbour's config is put back too"
    );
    assert_restored(&r.sim, DEV);
}

#[test]
fn bus_reset_refused_while_a_detached_function_is_in_use_through_vfio() {
    const DEV: &str = "0000:01:00.0";
    let r = bus_rig(Some(ConfigCaps::default()));
    r.engine
        .detach(a("0000:01:00.1"), &DetachOptions::default())
        .unwrap();
    // A guest has the other function's group (5) open.
    r.sim.with_state(|s| {
        s.open_files
            .push((4242, "qemu-system-x86".into(), "/dev/vfio/5".into()))
    });
    r.sim.clear_log();
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("Active 0000:01:00.1 devices on bus with 0000:01:00.0, not doing bus reset (0000:01:00.1 is on vfio-pci and in use by")
            && e.contains("qemu-system-x86"),
        "{e}"
    );
    assert!(r.sim.writes().is_empty());
    assert!(r.sim.resets_of(DEV).is_empty());
}

#[test]
fn an_unbound_function_does_not_block_the_bus() {
    const DEV: &str = "0000:01:00.0";
    let r = bus_rig(Some(ConfigCaps::default()));
    use hostdev_manager::Sysfs;
    r.sim
        .write(
            std::path::Path::new("/sys/bus/pci/drivers/e1000e/unbind"),
            b"0000:01:00.1",
        )
        .unwrap();
    r.sim.clear_log();
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
}

#[test]
fn the_parent_is_the_bridge_with_the_highest_secondary_bus_below_it() {
    const DEV: &str = "0000:03:00.0";
    let r = rig(vec![
        DeviceSpec::bridge("0000:00:1c.0", 1, 4, 10),
        DeviceSpec::bridge("0000:01:00.0", 2, 4, 10),
        nic(DEV, 1, ConfigCaps::default()),
    ]);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
    assert_eq!(pwrites(&r.sim)[0].0, "0000:01:00.0");
}

#[test]
fn no_parent_bridge_is_libvirts_error() {
    const DEV: &str = "0000:05:00.0";
    let r = rig(vec![nic(DEV, 1, ConfigCaps::default())]);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("Unable to reset PCI device 0000:05:00.0: internal error: Failed to find parent device for 0000:05:00.0"),
        "{e}"
    );
    assert!(r.sim.writes().is_empty());
}

#[test]
fn a_failed_pm_reset_falls_through_to_the_bus_reset() {
    const DEV: &str = "0000:01:00.0";
    // A PM reset is offered, but its D3hot write fails.
    let r = rig(vec![
        DeviceSpec::bridge("0000:00:1c.0", 1, 1, 10),
        nic(DEV, 1, pm(false)),
    ]);
    r.sim.fail_write("/config", 1, errno::EIO);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
    assert_eq!(r.sim.resets_of(DEV), ["bus"]);
    // Both fail: the last error is reported, the earlier one kept.
    let r = rig(vec![
        DeviceSpec::bridge("0000:00:1c.0", 1, 1, 10),
        nic(DEV, 1, pm(false)),
    ]);
    r.sim.fail_write("/config", 1, errno::EIO);
    r.sim.fail_write("/config", 2, errno::EBUSY);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("starting a secondary bus reset on 0000:00:1c.0 (bridge control) (tried before: putting 0000:01:00.0 into D3hot")
            && e.contains("Device or resource busy (EBUSY)"),
        "{e}"
    );
}

#[test]
fn every_failing_write_is_reported_with_its_errno_and_what_remains() {
    const DEV: &str = "0000:00:03.0";
    // D3hot refused: nothing happened.
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    r.sim.fail_write("/config", 1, errno::EIO);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("Unable to reset PCI device 0000:00:03.0: putting 0000:00:03.0 into D3hot (PMCSR at config offset 0x44): Input/output error (EIO) (device is on e1000e)"),
        "{e}"
    );
    // D0 refused: the function may sit in D3hot; its config is still put back.
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    r.sim.fail_write("/config", 2, errno::EIO);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("bringing 0000:00:03.0 back to D0")
            && e.contains("may be left in D3hot, config space restored"),
        "{e}"
    );
    assert_eq!(
        r.sim.config_of(DEV)[reg::PMCSR] & 3,
        0,
        "the restore wrote D0"
    );
    // The restore refused.
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    r.sim.fail_write("/config", 3, errno::EIO);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("Failed to restore PCI config space for 0000:00:03.0: Input/output error (EIO)"),
        "{e}"
    );
    assert_eq!(r.sim.resets_of(DEV), ["pm"], "the reset itself happened");
    assert_ne!(
        command(&r.sim, DEV),
        PROGRAMMED_COMMAND,
        "config not restored"
    );
}

#[test]
fn a_bus_left_in_reset_is_said_loudly() {
    const DEV: &str = "0000:01:00.0";
    let r = bus_rig(None);
    // The release and its retry both fail.
    r.sim.fail_write("/config", 2, errno::EIO);
    r.sim.fail_write("/config", 3, errno::EIO);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("the bus below 0000:00:1c.0 is still held in reset") && e.contains("(EIO)"),
        "{e}"
    );
    // One failure only: the retry releases it.
    let r = bus_rig(None);
    r.sim.fail_write("/config", 2, errno::EIO);
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("bus"));
    assert_eq!(r.sim.config_of("0000:00:1c.0")[reg::BRIDGE_CONTROL], 0);
}

#[test]
fn method_and_config_space_options() {
    const DEV: &str = "0000:00:03.0";
    let mut d = nic(DEV, 3, pm(false));
    d.reset_methods = vec!["pm".into()];
    let r = rig(vec![d]);
    // The kernel offers a reset: it is used unless the config space is asked for.
    assert_eq!(
        r.engine.reset(a(DEV), &auto()).unwrap(),
        ResetOutcome::Reset {
            methods: vec!["pm".into()]
        }
    );
    assert!(pwrites(&r.sim).is_empty());
    let opts = ResetOptions {
        config_space: true,
        method: Some("pm".into()),
        ..ResetOptions::default()
    };
    assert_eq!(r.engine.reset(a(DEV), &opts).unwrap(), outcome("pm"));
    assert_eq!(r.sim.resets_of(DEV), ["pm", "pm"]);
    // A method config space does not offer, or has no sequence for.
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    let e = r
        .engine
        .reset(a(DEV), &only("flr"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not offer reset method 'flr' in its config space (it offers: pm)"),
        "{e}"
    );
    let e = r
        .engine
        .reset(a(DEV), &only("acpi"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("'acpi' has no config-space sequence"), "{e}");
    assert!(r.sim.writes().is_empty());
}

#[test]
fn every_method_switched_off_in_reset_method_means_no_kernel_reset() {
    const DEV: &str = "0000:00:03.0";
    let mut d = nic(DEV, 3, pm(false));
    d.reset_methods = vec!["pm".into()];
    let r = rig(vec![d]);
    use hostdev_manager::Sysfs;
    r.sim
        .write(
            std::path::Path::new("/sys/bus/pci/devices/0000:00:03.0/reset_method"),
            b"\n",
        )
        .unwrap();
    assert!(r.sim.reset_method_of(DEV).is_empty());
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("pm"));
}

#[test]
fn without_root_config_space_cannot_be_used() {
    const DEV: &str = "0000:00:03.0";
    let r = rig(vec![nic(DEV, 3, pm(false))]);
    r.sim.set_knobs(Knobs {
        unprivileged: true,
        ..Knobs::default()
    });
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("only 64 bytes are readable, as for any user but root (run as root)"),
        "{e}"
    );
    assert!(r.sim.resets_of(DEV).is_empty());
}

#[test]
fn a_pf_with_vfs_enabled_is_refused_because_its_sriov_state_would_be_lost() {
    const DEV: &str = "0000:00:03.0";
    let mut pf = nic(
        DEV,
        3,
        ConfigCaps {
            pcie_flr: Some(true),
            ..ConfigCaps::default()
        },
    );
    pf.total_vfs = 4;
    pf.num_vfs = 2;
    let r = rig(vec![pf]);
    let e = r.engine.reset(a(DEV), &auto()).unwrap_err().to_string();
    assert!(
        e.contains("SR-IOV PF with 2 VFs enabled")
            && e.contains("restores only the first 256 bytes"),
        "{e}"
    );
    assert!(r.sim.writes().is_empty());
    r.sim.with_state(|s| s.set_num_vfs(DEV, 0));
    assert_eq!(r.engine.reset(a(DEV), &auto()).unwrap(), outcome("flr"));
}
