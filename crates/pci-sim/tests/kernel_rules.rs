//! One test per kernel rule the simulator follows (real-kernel-rig.md §3,
//! libvirt-behaviour.md §8), through the same trait the engine uses.

use std::path::Path;

use hostdev_manager::modules::{ModuleError, ModuleLoader};
use hostdev_manager::Sysfs;
use pci_sim::{errno, DeviceSpec, DriverSpec, Knobs, SimKernel};

const A: &str = "0000:00:01.0";
const B: &str = "0000:00:02.0";

fn sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::endpoint(A, 0x8086, 0x10d3, 1));
    s.add_device(DeviceSpec::endpoint(B, 0x8086, 0x10d3, 2));
    s
}

fn w(s: &SimKernel, path: &str, data: &str) -> Result<(), i32> {
    s.write(Path::new(path), data.as_bytes())
        .map_err(|e| e.raw_os_error().unwrap())
}

fn r(s: &SimKernel, path: &str) -> String {
    String::from_utf8(s.read(Path::new(path)).unwrap()).unwrap()
}

const OVR: &str = "/sys/bus/pci/devices/0000:00:01.0/driver_override";

#[test]
fn driver_override_write_semantics() {
    let s = sim();
    assert_eq!(r(&s, OVR), "(null)\n");
    w(&s, OVR, "vfio-pci\n").unwrap();
    assert_eq!(r(&s, OVR), "vfio-pci\n", "truncated at the newline");
    w(&s, OVR, "").unwrap();
    assert_eq!(
        s.override_of(A).as_deref(),
        Some("vfio-pci"),
        "an empty write does nothing"
    );
    w(&s, OVR, " \n").unwrap();
    assert_eq!(s.override_of(A).as_deref(), Some(" "), "a space is a value");
    w(&s, OVR, "\n").unwrap();
    assert_eq!(s.override_of(A), None, "a newline clears");
    assert_eq!(w(&s, OVR, &"x".repeat(4096)), Err(errno::EINVAL));
    // Writing does not unbind or bind anything.
    w(&s, OVR, "vfio-pci").unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("e1000e"));
}

#[test]
fn unbind_bind_and_probe_errnos() {
    let s = sim();
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/unbind", A),
        Err(errno::ENODEV),
        "not bound to it"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/e1000e/bind", A),
        Err(errno::EBUSY),
        "already bound"
    );
    w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A).unwrap();
    assert_eq!(
        w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A),
        Err(errno::ENOENT),
        "no driver link, no unbind file"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/bind", A),
        Err(errno::ENODEV),
        "no id or override match"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers_probe", "0000:00:1f.0"),
        Err(errno::ENODEV)
    );
    // An override naming no loaded driver: drivers_probe succeeds, nothing binds.
    w(&s, OVR, "no-such-driver").unwrap();
    w(&s, "/sys/bus/pci/drivers_probe", A).unwrap();
    assert_eq!(s.driver_of(A), None);
    w(&s, OVR, "vfio-pci").unwrap();
    w(&s, "/sys/bus/pci/drivers_probe", &format!("{A}\n")).unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("vfio-pci"));
    assert!(s.exists(Path::new("/dev/vfio/1")));
    assert!(s.is_dir(Path::new("/sys/bus/pci/devices/0000:00:01.0/vfio-dev")));
    // drivers_probe of a bound device is a no-op.
    w(&s, "/sys/bus/pci/drivers_probe", A).unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("vfio-pci"));
    // Old kernels answered ENODEV for bind of a bound device.
    s.set_knobs(Knobs {
        bind_ebusy: false,
        ..Knobs::default()
    });
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/bind", A),
        Err(errno::ENODEV)
    );
}

#[test]
fn new_id_and_remove_id() {
    let s = sim();
    w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A).unwrap();
    w(&s, "/sys/bus/pci/devices/0000:00:02.0/driver/unbind", B).unwrap();
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/new_id", "zzzz"),
        Err(errno::EINVAL)
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086"),
        Err(errno::EINVAL)
    );
    w(&s, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 10d3").unwrap();
    assert_eq!(
        s.driver_of(A).as_deref(),
        Some("vfio-pci"),
        "every unbound match is taken at once"
    );
    assert_eq!(s.driver_of(B).as_deref(), Some("vfio-pci"));
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 10d3"),
        Err(errno::EEXIST),
        "dynamic dup"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/e1000e/new_id", "8086 10d3"),
        Err(errno::EEXIST),
        "static id"
    );
    w(&s, "/sys/bus/pci/drivers/vfio-pci/remove_id", "8086 10d3").unwrap();
    assert_eq!(
        s.driver_of(A).as_deref(),
        Some("vfio-pci"),
        "remove_id does not unbind"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/vfio-pci/remove_id", "8086 10d3"),
        Err(errno::ENODEV)
    );
}

#[test]
fn new_id_does_not_take_a_bound_device() {
    let s = sim();
    w(&s, "/sys/bus/pci/drivers/vfio-pci/new_id", "8086 10d3").unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("e1000e"));
}

#[test]
fn vfio_pci_probe_refusals() {
    let s = sim();
    let mut bridge = DeviceSpec::endpoint("0000:00:1c.0", 0x8086, 0x1901, 3);
    bridge.header_type = 1;
    let mut pf = DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10c9, 4);
    pf.total_vfs = 7;
    pf.num_vfs = 2;
    let mut nogroup = DeviceSpec::endpoint("0000:03:00.0", 0x1234, 0x5678, 0);
    nogroup.iommu_group = None;
    s.add_device(bridge).add_device(pf).add_device(nogroup);
    for (bdf, want) in [
        ("0000:00:1c.0", errno::EINVAL),
        ("0000:02:00.0", errno::EBUSY),
        ("0000:03:00.0", errno::EINVAL),
    ] {
        w(
            &s,
            &format!("/sys/bus/pci/devices/{bdf}/driver_override"),
            "vfio-pci",
        )
        .unwrap();
        assert_eq!(
            w(&s, "/sys/bus/pci/drivers/vfio-pci/bind", bdf),
            Err(want),
            "{bdf}"
        );
        // Through drivers_probe the failure is silent: success, nothing bound.
        w(&s, "/sys/bus/pci/drivers_probe", bdf).unwrap();
        assert_eq!(s.driver_of(bdf), None, "{bdf}");
    }
}

#[test]
fn pciback_seizes_only_overridden_or_listed_slots() {
    let s = sim();
    s.load_driver(DriverSpec::pciback());
    w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A).unwrap();
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/pciback/new_id", "8086 10d3"),
        Err(errno::EEXIST),
        "match-all table"
    );
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/pciback/bind", A),
        Err(errno::ENODEV),
        "not seized"
    );
    w(&s, "/sys/bus/pci/drivers/pciback/new_slot", A).unwrap();
    w(&s, "/sys/bus/pci/drivers/pciback/bind", A).unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("pciback"));
    w(&s, "/sys/bus/pci/drivers/pciback/unbind", A).unwrap();
    w(&s, "/sys/bus/pci/drivers/pciback/remove_slot", A).unwrap();
    assert_eq!(
        w(&s, "/sys/bus/pci/drivers/pciback/remove_slot", A),
        Err(errno::ENOENT)
    );
    w(&s, OVR, "pciback").unwrap();
    w(&s, "/sys/bus/pci/drivers_probe", A).unwrap();
    assert_eq!(s.driver_of(A).as_deref(), Some("pciback"));
}

#[test]
fn old_kernel_has_no_driver_override() {
    let s = sim();
    s.set_knobs(Knobs {
        driver_override: false,
        ..Knobs::default()
    });
    assert!(!s.exists(Path::new(OVR)));
    assert_eq!(w(&s, OVR, "vfio-pci"), Err(errno::ENOENT));
}

#[test]
fn modules_faults_and_the_log() {
    let s = sim();
    assert!(!s.exists(Path::new("/sys/bus/pci/drivers/pci-stub")));
    s.load("pci-stub").unwrap();
    assert!(s.exists(Path::new("/sys/bus/pci/drivers/pci-stub/bind")));
    assert!(matches!(s.load("nope"), Err(ModuleError::Failed { .. })));
    s.blacklist("xen-pciback");
    assert_eq!(
        s.load("xen_pciback"),
        Err(ModuleError::Prohibited("xen_pciback".into()))
    );
    s.clear_log();
    s.fail_write("driver/unbind", 1, errno::EBUSY);
    assert_eq!(
        w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A),
        Err(errno::EBUSY)
    );
    assert_eq!(
        s.driver_of(A).as_deref(),
        Some("e1000e"),
        "a failed write has no effect"
    );
    w(&s, "/sys/bus/pci/devices/0000:00:01.0/driver/unbind", A).unwrap();
    s.on_write(3, |st| st.remove_device(B));
    w(&s, OVR, "x").unwrap();
    assert!(s.exists(Path::new("/sys/bus/pci/devices/0000:00:02.0")));
    w(&s, OVR, "y").unwrap();
    assert!(
        !s.exists(Path::new("/sys/bus/pci/devices/0000:00:02.0")),
        "hook ran before write 3"
    );
    let log = s.writes();
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].errno, Some(errno::EBUSY));
    assert_eq!(log[1].errno, None);
    s.set_knobs(Knobs {
        unprivileged: true,
        ..Knobs::default()
    });
    assert_eq!(w(&s, OVR, "z"), Err(errno::EACCES));
}

#[test]
fn enumeration_reads_the_simulated_tree() {
    let s = sim();
    let addrs = hostdev_manager::device::list_addresses(&s).unwrap();
    assert_eq!(addrs.len(), 2);
    let d = hostdev_manager::device::read_device(&s, &addrs[0], &|_| true).unwrap();
    assert_eq!((d.vendor, d.device), (0x8086, 0x10d3));
    assert_eq!(d.driver.as_deref(), Some("e1000e"));
    assert_eq!(d.iommu_group.unwrap().members, vec![addrs[0]]);
}

/// `pci_write_config` and the hardware behind it: read-only bytes stay, writes
/// past the end are cut short, non-root sees 64 bytes and cannot write, and
/// the reset registers act as the PCI specs say.
#[test]
fn config_space_writes() {
    use pci_sim::config::{reg, PROGRAMMED_COMMAND};
    use pci_sim::ConfigCaps;
    let s = SimKernel::new();
    let mut bridge = DeviceSpec::bridge("0000:00:1c.0", 1, 2, 1);
    bridge.caps.pcie_flr = Some(false);
    s.add_device(bridge);
    let mut ep = DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10d3, 2);
    ep.caps = ConfigCaps {
        pm_no_soft_reset: Some(true),
        pcie_flr: Some(false),
        af_flr: None,
    };
    s.add_device(ep);
    s.add_device(DeviceSpec::endpoint("0000:03:00.0", 0x8086, 0x10d3, 3));
    let cfg = Path::new("/sys/bus/pci/devices/0000:02:00.0/config");
    let at = |off: usize, data: &[u8]| {
        s.write_at(cfg, off as u64, data)
            .map_err(|e| e.raw_os_error())
    };
    assert_eq!(s.read(cfg).unwrap().len(), 4096, "PCIe: extended config");
    // Vendor id is read only; the command register takes the write.
    at(0, &[0xff, 0xff, 0xff, 0xff, 0x07, 0x00]).unwrap();
    let c = s.config_of("0000:02:00.0");
    assert_eq!(&c[0..2], &0x8086u16.to_le_bytes());
    assert_eq!(c[reg::COMMAND], 0x07);
    // Past the end: a short write (the kernel returns 0 bytes written).
    let e = s.write_at(cfg, 4096 + 1, &[1]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WriteZero);
    // No_Soft_Reset set: D3hot→D0 is no reset, and the bit cannot be cleared.
    at(reg::PMCSR, &[3, 0, 0, 0]).unwrap();
    at(reg::PMCSR, &[0, 0, 0, 0]).unwrap();
    assert!(s.resets_of("0000:02:00.0").is_empty());
    assert_eq!(s.config_of("0000:02:00.0")[reg::PMCSR], 0x08);
    // DEVCAP without FLR: the initiate bit does nothing and reads back 0.
    at(reg::DEVCTL, &[0, 0x80]).unwrap();
    assert!(s.resets_of("0000:02:00.0").is_empty());
    assert_eq!(s.config_of("0000:02:00.0")[reg::DEVCTL + 1], 0);
    // Secondary bus reset: every function in the bridge's range (1..=2), and
    // their config back to power-on values.
    let bctl = Path::new("/sys/bus/pci/devices/0000:00:1c.0/config");
    s.write_at(bctl, reg::BRIDGE_CONTROL as u64, &[0x40, 0])
        .unwrap();
    s.write_at(bctl, reg::BRIDGE_CONTROL as u64, &[0, 0])
        .unwrap();
    assert_eq!(s.resets_of("0000:02:00.0"), ["bus"]);
    assert!(s.resets_of("0000:03:00.0").is_empty(), "bus 3 is outside");
    assert!(
        s.resets_of("0000:00:1c.0").is_empty(),
        "not the bridge itself"
    );
    assert_ne!(s.config_of("0000:02:00.0")[reg::COMMAND], 0x07);
    assert_ne!(
        u16::from_le_bytes([
            s.config_of("0000:03:00.0")[4],
            s.config_of("0000:03:00.0")[5]
        ]),
        0,
        "untouched: {PROGRAMMED_COMMAND:#x}"
    );
    // Not root: 64 bytes to read, EACCES to write.
    s.set_knobs(Knobs {
        unprivileged: true,
        ..Knobs::default()
    });
    assert_eq!(s.read(cfg).unwrap().len(), 64);
    assert_eq!(at(reg::COMMAND, &[0]), Err(Some(errno::EACCES)));
}
