//! The boot path of persistent assignments against the simulated kernel: the
//! early udev decision, and the boot pass through the engine's ordinary detach
//! (a device the host driver took early, one udev kept unbound, another card at
//! the address, a missing card, bad files, pciback's module, an out-of-date
//! initramfs copy).

use std::fs;
use std::path::Path;

use hostdev_manager::boot::{boot, udev_decision, BootPaths, BootResult, UdevDecision};
use hostdev_manager::device::Identity;
use hostdev_manager::ops::ReattachOptions;
use hostdev_manager::persist::{Assignment, ConfigDir};
use hostdev_manager::state::StateDir;
use hostdev_manager::Sysfs;
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};
use pci_types::{DriverName, PciAddress};

const NIC: &str = "0000:00:01.0";
const NIC2: &str = "0000:00:02.0";
const OTHER: &str = "0000:00:03.0";

fn addr(s: &str) -> PciAddress {
    s.parse().unwrap()
}

fn ids(device: u16) -> Identity {
    Identity {
        vendor: 0x8086,
        device,
        subsystem_vendor: 0x8086,
        subsystem_device: 0,
    }
}

fn assignment(bdf: &str, driver: &str, device: u16) -> Assignment {
    Assignment {
        address: addr(bdf),
        driver: DriverName::new(driver).unwrap(),
        identity: ids(device),
        owner: None,
    }
}

struct Host {
    sim: SimKernel,
    state: StateDir,
    config: ConfigDir,
    copy: ConfigDir,
    dir: tempfile::TempDir,
}

/// Three NICs on their host drivers (two e1000e, one e1000); vfio-pci, pci-stub
/// and pciback loadable but not loaded, as at boot.
fn host() -> Host {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::host("e1000", &[(0x8086, 0x100e)]));
    sim.make_available(DriverSpec::vfio_pci());
    sim.make_available(DriverSpec::pci_stub());
    sim.make_available(DriverSpec::pciback());
    sim.add_device(DeviceSpec::endpoint(NIC, 0x8086, 0x10d3, 1));
    sim.add_device(DeviceSpec::endpoint(NIC2, 0x8086, 0x10d3, 2));
    sim.add_device(DeviceSpec::endpoint(OTHER, 0x8086, 0x100e, 3));
    sim.clear_log();
    let dir = tempfile::tempdir().unwrap();
    Host {
        state: StateDir::new(dir.path().join("run")),
        config: ConfigDir::new(dir.path().join("etc")),
        copy: ConfigDir::new(dir.path().join("initramfs")),
        sim,
        dir,
    }
}

impl Host {
    fn paths(&self) -> BootPaths {
        BootPaths {
            config: self.config.clone(),
            initramfs: Some(self.copy.clone()),
            dev_vfio: self.dir.path().join("dev-vfio"),
        }
    }

    /// What udev's rule does for a device it keeps: the override, written
    /// before any driver probed it (the device is unbound).
    fn udev_keeps(&self, bdf: &str, driver: &str) {
        let dev = Path::new("/sys/bus/pci/devices").join(bdf);
        self.sim
            .write(&dev.join("driver/unbind"), bdf.as_bytes())
            .unwrap();
        self.sim
            .write(&dev.join("driver_override"), driver.as_bytes())
            .unwrap();
        self.sim.clear_log();
    }

    fn writes_to(&self, bdf: &str) -> Vec<String> {
        self.sim
            .writes()
            .into_iter()
            .filter(|w| {
                w.path.to_string_lossy().contains(bdf)
                    || String::from_utf8_lossy(&w.data).contains(bdf)
            })
            .map(|w| {
                format!(
                    "{} <- {}",
                    w.path.display(),
                    String::from_utf8_lossy(&w.data)
                )
            })
            .collect()
    }
}

#[test]
fn a_device_the_host_driver_took_early_is_moved_and_recorded() {
    let h = host();
    h.config.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(!report.failed(), "{report:?}");
    let BootResult::OnStub(o) = &report.items[0].result else {
        panic!("{report:?}")
    };
    assert_eq!(o.driver_before.as_deref(), Some("e1000e"));
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
    let r = engine.record(&addr(NIC)).unwrap().unwrap();
    assert_eq!(r.original_driver.unwrap().as_str(), "e1000e");
    // The twin with the same ids is not touched: assignments are per address.
    assert_eq!(h.sim.driver_of(NIC2).as_deref(), Some("e1000e"));
    assert!(h.writes_to(NIC2).is_empty());
    // A second pass (the unit restarted) changes nothing.
    h.sim.clear_log();
    let again = boot(&engine, &h.paths()).unwrap();
    assert!(matches!(&again.items[0].result, BootResult::OnStub(o) if o.unchanged));
    assert!(h.sim.writes().is_empty(), "{:?}", h.sim.writes());
}

#[test]
fn a_device_udev_kept_unbound_goes_to_its_stub_and_back_to_the_kernels_choice() {
    let h = host();
    h.config.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    assert_eq!(
        udev_decision(&h.sim, &h.config, &addr(NIC)),
        UdevDecision::Override(DriverName::new("vfio-pci").unwrap())
    );
    assert_eq!(
        udev_decision(&h.sim, &h.config, &addr(NIC2)),
        UdevDecision::Nothing
    );
    h.udev_keeps(NIC, "vfio-pci");
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(!report.failed(), "{report:?}");
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
    // Nothing to unbind: it never had a driver.
    assert!(
        !h.writes_to(NIC).iter().any(|w| w.contains("unbind")),
        "{:?}",
        h.writes_to(NIC)
    );
    let r = engine.record(&addr(NIC)).unwrap().unwrap();
    assert_eq!(r.original_driver, None);
    // A reattach lets the kernel choose: e1000e.
    engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("e1000e"));
    assert_eq!(h.sim.override_of(NIC), None);
}

#[test]
fn another_card_at_the_address_is_never_taken() {
    let h = host();
    // Assigned when 00:03.0 was an e1000e; now an e1000 sits there.
    h.config
        .save(&assignment(OTHER, "vfio-pci", 0x10d3))
        .unwrap();
    h.config.save(&assignment(NIC, "pci-stub", 0x10d3)).unwrap();
    let d = udev_decision(&h.sim, &h.config, &addr(OTHER));
    assert!(
        matches!(&d, UdevDecision::Refuse(w) if w.contains("a different device is at this address (8086:100e")),
        "{d:?}"
    );
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(
        !report.failed(),
        "a different card is a warning: {report:?}"
    );
    let other = report
        .items
        .iter()
        .find(|i| i.assignment.address == addr(OTHER))
        .unwrap();
    assert!(matches!(
        other.result,
        BootResult::DifferentDevice { found, .. } if found.device == 0x100e
    ));
    assert_eq!(h.sim.driver_of(OTHER).as_deref(), Some("e1000"));
    assert!(h.writes_to(OTHER).is_empty(), "{:?}", h.writes_to(OTHER));
    // The other assignment went on.
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("pci-stub"));
    // The assignment is kept: the card may come back.
    assert!(h.config.load(&addr(OTHER)).unwrap().is_some());
}

#[test]
fn a_missing_card_is_reported_and_the_rest_go_on() {
    let h = host();
    h.config
        .save(&assignment("0000:00:09.0", "vfio-pci", 0x10d3))
        .unwrap();
    h.config.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(matches!(report.items[0].result, BootResult::OnStub(_)));
    assert!(matches!(report.items[1].result, BootResult::Absent));
    assert!(!report.failed());
}

#[test]
fn bad_files_are_named_and_nothing_is_written_for_them() {
    let h = host();
    h.config.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    let devices = h.config.path().join("devices");
    // Truncated, an unknown key, a driver with '/', a symlink.
    let text = assignment(NIC2, "vfio-pci", 0x10d3).to_text();
    fs::write(
        devices.join(format!("{NIC2}.conf")),
        &text[..text.len() - 20],
    )
    .unwrap();
    let text = assignment(OTHER, "vfio-pci", 0x100e)
        .to_text()
        .replace("driver=", "drivers=");
    fs::write(devices.join(format!("{OTHER}.conf")), text).unwrap();
    let text = assignment("0000:00:04.0", "vfio-pci", 0x10d3)
        .to_text()
        .replace("vfio-pci", "../../../bin/sh");
    fs::write(devices.join("0000:00:04.0.conf"), text).unwrap();
    std::os::unix::fs::symlink(
        devices.join(format!("{NIC}.conf")),
        devices.join("0000:00:05.0.conf"),
    )
    .unwrap();
    for bdf in [NIC2, OTHER] {
        let d = udev_decision(&h.sim, &h.config, &addr(bdf));
        assert!(
            matches!(&d, UdevDecision::Refuse(w) if w.contains(&format!("{bdf}.conf"))),
            "{d:?}"
        );
    }
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(report.failed());
    let named: Vec<String> = report
        .unusable
        .iter()
        .map(|u| {
            format!(
                "{}: {}",
                u.path.file_name().unwrap().to_string_lossy(),
                u.reason
            )
        })
        .collect();
    assert_eq!(named.len(), 4, "{named:#?}");
    assert!(named[0].starts_with("0000:00:02.0.conf: "), "{named:#?}");
    assert!(named[1].contains("0000:00:03.0.conf: line 3: unknown key 'drivers'"));
    assert!(
        named[2].contains("0000:00:04.0.conf: driver: driver name '../../../bin/sh' contains '/'")
    );
    assert!(named[3].contains("0000:00:05.0.conf: it is a symbolic link"));
    // The good one went on; the others were left where they were.
    assert_eq!(report.items.len(), 1);
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
    assert_eq!(h.sim.driver_of(NIC2).as_deref(), Some("e1000e"));
    assert_eq!(h.sim.driver_of(OTHER).as_deref(), Some("e1000"));
    for bdf in [NIC2, OTHER] {
        assert!(h.writes_to(bdf).is_empty(), "{bdf}: {:?}", h.writes_to(bdf));
    }
}

#[test]
fn pciback_is_loaded_by_the_pass_since_nothing_else_loads_it() {
    let h = host();
    h.config.save(&assignment(NIC, "pciback", 0x10d3)).unwrap();
    h.udev_keeps(NIC, "pciback");
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(!report.failed(), "{report:?}");
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("pciback"));
    // Recorded: `nodedev reattach` gives it back without --force (a device on
    // pciback with no record is refused as xl's).
    engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("e1000e"));
}

#[test]
fn what_an_out_of_date_initramfs_assigned_is_given_back() {
    let h = host();
    // The initramfs was built when both NICs were assigned; /etc now keeps only
    // NIC2, and to pci-stub instead of vfio-pci.
    h.copy.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    h.copy.save(&assignment(NIC2, "vfio-pci", 0x10d3)).unwrap();
    h.config
        .save(&assignment(NIC2, "pci-stub", 0x10d3))
        .unwrap();
    h.udev_keeps(NIC, "vfio-pci");
    h.udev_keeps(NIC2, "vfio-pci");
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(!report.failed(), "{report:?}");
    let stale: Vec<String> = report
        .stale
        .iter()
        .map(|s| s.assignment.address.to_string())
        .collect();
    assert_eq!(stale, [NIC, NIC2]);
    assert_eq!(h.sim.driver_of(NIC).as_deref(), Some("e1000e"));
    assert_eq!(h.sim.override_of(NIC), None);
    assert_eq!(h.sim.driver_of(NIC2).as_deref(), Some("pci-stub"));
    // Given back first, NIC2 went to its own driver, which its record now
    // names: never the stale stub.
    let r = engine.record(&addr(NIC2)).unwrap().unwrap();
    assert_eq!(r.original_driver.unwrap().as_str(), "e1000e");
}

#[test]
fn an_override_someone_else_set_is_not_given_back() {
    let h = host();
    h.copy.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    // Not the initramfs's doing: another driver name.
    h.udev_keeps(NIC, "pci-stub");
    let engine = h.sim.engine(h.state.clone());
    let report = boot(&engine, &h.paths()).unwrap();
    assert!(report.stale.is_empty());
    assert_eq!(h.sim.override_of(NIC).as_deref(), Some("pci-stub"));
}

#[test]
fn the_early_step_only_names_the_stub_of_unbound_assigned_devices() {
    use hostdev_manager::boot::{early, EarlyResult};
    let h = host();
    h.config.save(&assignment(NIC, "vfio-pci", 0x10d3)).unwrap();
    h.config
        .save(&assignment(NIC2, "pci-stub", 0x10d3))
        .unwrap();
    h.config
        .save(&assignment(OTHER, "vfio-pci", 0x10d3))
        .unwrap();
    // At boot before any driver module: NIC unbound; NIC2 was taken by a
    // built-in driver; OTHER is another card.
    let dev = Path::new("/sys/bus/pci/devices").join(NIC);
    h.sim
        .write(&dev.join("driver/unbind"), NIC.as_bytes())
        .unwrap();
    h.sim.clear_log();
    let report = early(&h.sim, &h.config).unwrap();
    let got: Vec<String> = report
        .items
        .iter()
        .map(|(a, r)| {
            format!(
                "{} {}",
                a.address,
                match r {
                    EarlyResult::Kept => "kept".to_string(),
                    EarlyResult::Bound(d) => format!("bound to {d}"),
                    EarlyResult::DifferentDevice { .. } => "different".to_string(),
                    other => format!("{other:?}"),
                }
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "0000:00:01.0 kept",
            "0000:00:02.0 bound to e1000e",
            "0000:00:03.0 different"
        ]
    );
    assert_eq!(h.sim.override_of(NIC).as_deref(), Some("vfio-pci"));
    // One write: NIC's override. Nothing for the bound one or the other card.
    let writes = h.sim.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].path.ends_with("0000:00:01.0/driver_override"));
    // A host driver probing now leaves NIC alone.
    h.sim.with_state(|s| s.probe(NIC));
    assert_eq!(h.sim.driver_of(NIC), None);
    // Twice is once.
    h.sim.clear_log();
    let again = early(&h.sim, &h.config).unwrap();
    assert!(matches!(again.items[0].1, EarlyResult::AlreadySet));
    assert!(h.sim.writes().is_empty());
}
