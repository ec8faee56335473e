//! Persistent assignments, `nodedev boot`, `--id` and interface names through
//! the real command line (`main_with`) against the simulated kernel.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hostdev_manager::Sysfs;
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};

const NIC: &str = "0000:00:01.0";

/// Two e1000e (8086:10d3, one with another subsystem), an e1000 (8086:100e),
/// interfaces for the first and a virtio-net behind 00:04.0, `lo` and a bridge.
fn sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::host("e1000", &[(0x8086, 0x100e)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.make_available(DriverSpec::pci_stub());
    s.add_device(DeviceSpec::endpoint(NIC, 0x8086, 0x10d3, 1));
    s.add_device(DeviceSpec::endpoint("0000:00:02.0", 0x8086, 0x10d3, 2));
    s.add_device(DeviceSpec::endpoint("0000:00:03.0", 0x8086, 0x100e, 3));
    s.add_device(DeviceSpec::endpoint("0000:00:04.0", 0x1af4, 0x1041, 4));
    let pci = "/sys/devices/pci0000:00";
    s.add_link("/sys/class/net/eth0", &format!("{pci}/{NIC}/net/eth0"))
        .add_link(
            "/sys/class/net/eth9",
            &format!("{pci}/0000:00:04.0/virtio3/net/eth9"),
        )
        .add_link("/sys/class/net/lo", "/sys/devices/virtual/net/lo")
        .add_link("/sys/class/net/br0", "/sys/devices/virtual/net/br0")
        .add_file(
            "/sys/devices/virtual/net/br0/bridge/forward_delay",
            "1500\n",
        );
    s.clear_log();
    s
}

struct Dirs {
    _tmp: tempfile::TempDir,
    state: String,
    config: String,
}

fn dirs() -> Dirs {
    let t = tempfile::tempdir().unwrap();
    Dirs {
        state: t.path().join("run").to_str().unwrap().to_string(),
        config: t.path().join("etc").to_str().unwrap().to_string(),
        _tmp: t,
    }
}

fn nodedev(sim: &SimKernel, d: &Dirs, args: &[&str]) -> support::SimRun {
    let mut argv = vec![
        "nodedev",
        "--state-dir",
        d.state.as_str(),
        "--config-dir",
        d.config.as_str(),
    ];
    argv.extend_from_slice(args);
    support::run_sim(sim, &argv, b"")
}

fn conf(d: &Dirs, bdf: &str) -> std::path::PathBuf {
    Path::new(&d.config)
        .join("devices")
        .join(format!("{bdf}.conf"))
}

#[test]
fn detach_persistent_remembers_and_reattach_persistent_forgets() {
    let s = sim();
    let d = dirs();
    let o = nodedev(&s, &d, &["detach", "--persistent", "pci_0000_00_01_0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "Device pci_0000_00_01_0 detached\n\n");
    assert_eq!(s.driver_of(NIC).as_deref(), Some("vfio-pci"));
    let text = fs::read_to_string(conf(&d, NIC)).unwrap();
    assert_eq!(
        text,
        "# nodedev-shim: keep this device on its stub at every boot (docs/persistence.md)\n\
         address=0000:00:01.0\ndriver=vfio-pci\nvendor=0x8086\ndevice=0x10d3\n\
         subsystem_vendor=0x8086\nsubsystem_device=0x0000\n"
    );
    let mode = fs::metadata(conf(&d, NIC)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let o = nodedev(&s, &d, &["persist", "list"]);
    assert_eq!(
        o.stdout,
        "pci_0000_00_01_0  vfio-pci  8086:10d3 (subsystem 8086:0000)  now on vfio-pci\n"
    );
    let o = nodedev(&s, &d, &["persist", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["assignments"][0]["driver"], "vfio-pci");
    assert_eq!(v["assignments"][0]["same_device"], true);
    assert_eq!(v["assignments"][0]["identity"]["device"], 0x10d3);
    let o = nodedev(&s, &d, &["reattach", "--persistent", "00:01.0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.driver_of(NIC).as_deref(), Some("e1000e"));
    assert!(!conf(&d, NIC).exists());
}

#[test]
fn persist_remove_forgets_without_touching_the_device() {
    let s = sim();
    let d = dirs();
    let o = nodedev(
        &s,
        &d,
        &["detach", "--persistent", "--driver", "pci-stub", "eth0"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(conf(&d, NIC).exists());
    s.clear_log();
    let o = nodedev(&s, &d, &["persist", "remove", "eth0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o
        .stdout
        .starts_with("Assignment of pci_0000_00_01_0 forgotten"));
    assert!(!conf(&d, NIC).exists());
    assert!(s.writes().is_empty());
    assert_eq!(s.driver_of(NIC).as_deref(), Some("pci-stub"));
    // Nothing left to forget: an error naming the address.
    let o = nodedev(&s, &d, &["persist", "remove", NIC]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("no persistent assignment for 0000:00:01.0"),
        "{}",
        o.stderr
    );
    // A card that is gone is forgotten by its address.
    fs::create_dir_all(conf(&d, "x").parent().unwrap()).unwrap();
    let gone = "0000:00:1f.7";
    fs::write(conf(&d, gone), "x").unwrap();
    let o = nodedev(&s, &d, &["persist", "remove", gone]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!conf(&d, gone).exists());
}

#[test]
fn dry_run_and_bad_options_write_nothing() {
    let s = sim();
    let d = dirs();
    let o = nodedev(&s, &d, &["detach", "--persistent", "--dry-run", NIC]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains(&format!(
            "Would remember pci_0000_00_01_0 in {} (driver vfio-pci)",
            conf(&d, NIC).display()
        )),
        "{}",
        o.stdout
    );
    assert!(!Path::new(&d.config).exists());
    // --owner wants a VFIO driver, and a user that exists.
    for (args, want) in [
        (
            vec!["detach", "--owner", "root", "--driver", "pci-stub", NIC],
            "needs a VFIO driver",
        ),
        (
            vec!["detach", "--owner", "no-such-user-here", NIC],
            "no user 'no-such-user-here'",
        ),
        (vec!["detach", "--owner", "a/b", NIC], "must be a name"),
    ] {
        let o = nodedev(&s, &d, &args);
        assert_ne!(o.code, 0);
        assert!(o.stderr.contains(want), "{args:?}: {}", o.stderr);
    }
    // A config directory others can write: refused before the detach.
    fs::create_dir_all(&d.config).unwrap();
    fs::set_permissions(&d.config, fs::Permissions::from_mode(0o777)).unwrap();
    let o = nodedev(&s, &d, &["detach", "--persistent", NIC]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("writable by group or others"),
        "{}",
        o.stderr
    );
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    assert_eq!(s.driver_of(NIC).as_deref(), Some("e1000e"));
}

#[test]
fn ids_select_exactly_the_functions_with_those_ids() {
    let s = sim();
    let d = dirs();
    let o = nodedev(&s, &d, &["detach", "--dry-run", "--id", "8086:10d3"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let planned: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("Would detach"))
        .collect();
    assert_eq!(
        planned,
        [
            "Would detach pci_0000_00_01_0:",
            "Would detach pci_0000_00_02_0:"
        ]
    );
    // With the subsystem ids too; and twice the same function is once.
    let o = nodedev(
        &s,
        &d,
        &[
            "detach",
            "--id",
            "8086:100e:8086:0000",
            "--id",
            "8086:100e",
            "-q",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.driver_of("0000:00:03.0").as_deref(), Some("vfio-pci"));
    s.clear_log();
    // Unknown and malformed: virsh's lines, exit 1, nothing written, even with
    // a good name beside them.
    let o = nodedev(&s, &d, &["detach", NIC, "--id", "8086:ffff"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "error: Could not find matching device '8086:ffff'\n\
         error: Node device not found: no PCI function with ids 8086:ffff\n"
    );
    for bad in ["8086", "8086:10d3:1", "x086:10d3", "8086:10d3\n"] {
        let o = nodedev(&s, &d, &["reattach", "--id", bad]);
        assert_eq!(o.code, 1, "{bad:?}");
        assert!(
            o.stderr
                .contains("expected VVVV:DDDD or VVVV:DDDD:SVVV:SDDD"),
            "{bad:?}: {}",
            o.stderr
        );
    }
    let o = nodedev(&s, &d, &["reset", "--id", "1234:5678"]);
    assert_eq!(o.code, 1);
    assert!(s.writes().is_empty(), "{:?}", s.writes());
}

#[test]
fn interfaces_name_their_pci_function_and_virtual_ones_are_refused() {
    let s = sim();
    let d = dirs();
    let o = nodedev(&s, &d, &["detach", "--dry-run", "eth0", "eth9"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("Would detach pci_0000_00_01_0:"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("Would detach pci_0000_00_04_0:"),
        "{}",
        o.stdout
    );
    for (name, what) in [("lo", "the loopback interface"), ("br0", "a bridge")] {
        let o = nodedev(&s, &d, &["detach", name]);
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!(
                "error: Failed to detach device {name}\n\
                 error: invalid argument: interface {name} is not backed by a PCI device ({what}): name the PCI device it runs on instead\n"
            )
        );
    }
    // virsh mode takes node-device names only.
    let o = nodedev(&s, &d, &["virsh", "nodedev-detach", "eth0"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("Could not find matching device 'eth0'"),
        "{}",
        o.stderr
    );
    assert!(s.writes().is_empty(), "{:?}", s.writes());
}

#[test]
fn boot_puts_assigned_devices_on_their_stubs_and_warns_about_others() {
    let s = sim();
    let d = dirs();
    for (args, bdf) in [
        (vec!["detach", "--persistent", NIC], NIC),
        (
            vec![
                "detach",
                "--persistent",
                "--driver",
                "pci-stub",
                "0000:00:02.0",
            ],
            "0000:00:02.0",
        ),
    ] {
        let o = nodedev(&s, &d, &args);
        assert_eq!(o.code, 0, "{bdf}: {}", o.stderr);
    }
    // "Reboot": the records in /run are gone, the devices are back on e1000e…
    for bdf in [NIC, "0000:00:02.0"] {
        let o = nodedev(&s, &d, &["reattach", bdf]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    // …and the assignment of 00:02.0 now meets another card.
    let text = fs::read_to_string(conf(&d, "0000:00:02.0"))
        .unwrap()
        .replace("device=0x10d3", "device=0x10d4");
    fs::write(conf(&d, "0000:00:02.0"), text).unwrap();
    let klog = Path::new(&d.state).with_file_name("kmsg");
    fs::write(&klog, "").unwrap();
    let klog_arg = format!("--kernel-log={}", klog.display());
    s.clear_log();
    let o = nodedev(&s, &d, &["boot", "--udev", NIC, &klog_arg]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "NODEDEV_SHIM_DRIVER=vfio-pci\n")
    );
    let o = nodedev(&s, &d, &["boot", "--udev", "0000:00:02.0", &klog_arg]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    assert!(
        o.stderr
            .contains("a different device is at this address (8086:10d3"),
        "{}",
        o.stderr
    );
    let k = fs::read_to_string(&klog).unwrap();
    assert!(
        k.starts_with("<4>nodedev-shim: 0000:00:02.0: a different device"),
        "{k}"
    );
    let o = nodedev(&s, &d, &["boot", "--udev", "0000:00:03.0", &klog_arg]);
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    // The udev helper only answers: udev writes the override itself.
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    let o = nodedev(&s, &d, &["boot", "--initramfs-copy=/nonexistent"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(
        o.stdout,
        "0000:00:01.0: on vfio-pci (moved from e1000e, which had bound it first)\n\
         nodedev boot: 2 assignments: 1 on their stubs, 1 left alone, 0 failed; 0 files refused; 0 given back from an out-of-date initramfs\n"
    );
    assert!(
        o.stderr
            .starts_with("warning: 0000:00:02.0: a different device is at this address"),
        "{}",
        o.stderr
    );
    assert_eq!(s.driver_of(NIC).as_deref(), Some("vfio-pci"));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
    // A bad file fails the unit (exit 1) but the others go on.
    fs::write(conf(&d, "0000:00:03.0"), "address=0000:00:03.0\n").unwrap();
    let o = nodedev(&s, &d, &["boot", "--initramfs-copy=/nonexistent"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains(&format!(
            "error: persistent assignment {} is unusable: 'driver' is missing",
            conf(&d, "0000:00:03.0").display()
        )),
        "{}",
        o.stderr
    );
    assert!(
        o.stdout
            .contains("0000:00:01.0: on vfio-pci (already there)"),
        "{}",
        o.stdout
    );
    assert_eq!(s.driver_of("0000:00:03.0").as_deref(), Some("e1000"));
    let o = nodedev(&s, &d, &["boot", "--udev", "not-an-address"]);
    assert_eq!(o.code, 1);
}

#[test]
fn sim_interfaces_exist() {
    // The fixture itself: the links the interface tests rely on resolve.
    let s = sim();
    assert!(s.read_link(Path::new("/sys/class/net/eth0")).is_ok());
    assert!(s.exists(Path::new("/sys/class/net/br0/bridge")));
}

#[test]
fn a_failed_reattach_keeps_the_assignment() {
    let s = sim();
    let d = dirs();
    let o = nodedev(&s, &d, &["detach", "--persistent", NIC]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The kernel refuses the unbind from vfio-pci: the device stays, so does its file.
    s.fail_write("0000:00:01.0/driver/unbind", 1, 16);
    let o = nodedev(&s, &d, &["reattach", "--persistent", NIC]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("Failed to re-attach device"),
        "{}",
        o.stderr
    );
    assert!(conf(&d, NIC).exists());
    // A retry gives it back and forgets it.
    let o = nodedev(&s, &d, &["reattach", "--persistent", NIC]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!conf(&d, NIC).exists());
    assert_eq!(s.driver_of(NIC).as_deref(), Some("e1000e"));
}

#[test]
fn preflight_takes_ids_and_interfaces_too() {
    let s = sim();
    let d = dirs();
    let o = nodedev(
        &s,
        &d,
        &["preflight", "--json", "--id", "8086:100e", "eth0"],
    );
    let v: serde_json::Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout));
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        names,
        ["pci_0000_00_01_0", "pci_0000_00_03_0"],
        "{}",
        o.stdout
    );
    let o = nodedev(&s, &d, &["preflight", "--id", "8086:ffff"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("no PCI function with ids 8086:ffff"),
        "{}",
        o.stderr
    );
    assert!(s.writes().is_empty(), "{:?}", s.writes());
}
