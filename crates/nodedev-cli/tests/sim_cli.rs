//! The `nodedev` commands (through the library entry point, as main calls it)
//! against the simulated kernel: virsh's output for detach/reattach batches,
//! `--dry-run`, `--json` and `list --detached`.

use std::sync::Arc;

use std::ffi::OsString;

use nodedev_cli::{Backend, Host, Stdio};
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::endpoint("0000:00:01.0", 0x8086, 0x10d3, 1));
    s.add_device(DeviceSpec::endpoint("0000:00:02.0", 0x8086, 0x10d3, 2));
    s
}

fn nodedev(sim: &SimKernel, state: &std::path::Path, args: &[&str]) -> Outcome {
    let mut argv = vec!["nodedev", "--state-dir", state.to_str().unwrap()];
    argv.extend_from_slice(args);
    run_cli(sim, state, &argv, b"")
}

/// Runs `main`'s own code (`nodedev_cli::main_with`) with a simulated kernel behind it.
fn run_cli(sim: &SimKernel, _state: &std::path::Path, argv: &[&str], input: &[u8]) -> Outcome {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = input;
    let code = nodedev_cli::main_with(
        argv.iter().map(OsString::from).collect(),
        |cli| {
            let mut b = Backend::new(
                Host::live(Arc::new(sim.clone())),
                Arc::new(sim.clone()),
                cli,
            );
            b.unbind_timeout = std::time::Duration::from_secs(5);
            Ok(b)
        },
        Stdio {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    Outcome {
        code: i32::from(code),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

#[test]
fn detach_and_reattach_print_what_virsh_prints() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = nodedev(&s, dir.path(), &["detach", "pci_0000_00_01_0", "00:02.0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "Device pci_0000_00_01_0 detached\nDevice 00:02.0 detached\n\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("vfio-pci"));
    let o = nodedev(&s, dir.path(), &["list", "--detached"]);
    assert_eq!(
        o.stdout,
        "pci_0000_00_01_0  e1000e -> vfio-pci (override)\npci_0000_00_02_0  e1000e -> vfio-pci (override)\n\n"
    );
    let o = nodedev(
        &s,
        dir.path(),
        &["-q", "reattach", "pci_0000_00_01_0", "pci_0000_00_02_0"],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
    assert_eq!(
        nodedev(&s, dir.path(), &["-q", "list", "--detached"]).stdout,
        ""
    );
}

#[test]
fn list_detached_shows_a_device_another_tool_put_on_a_stub_apart() {
    use hostdev_manager::Sysfs;
    use std::path::Path;
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    // Another tool (xl pci-assignable-add, libvirt, a person) moves 00:02.0.
    let dev = Path::new("/sys/bus/pci/devices/0000:00:02.0");
    s.write(&dev.join("driver_override"), b"vfio-pci").unwrap();
    s.write(&dev.join("driver/unbind"), b"0000:00:02.0")
        .unwrap();
    s.write(Path::new("/sys/bus/pci/drivers_probe"), b"0000:00:02.0")
        .unwrap();
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("vfio-pci"));
    let o = nodedev(&s, dir.path(), &["-q", "detach", "pci_0000_00_01_0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        nodedev(&s, dir.path(), &["-q", "list", "--detached"]).stdout,
        "pci_0000_00_01_0  e1000e -> vfio-pci (override)\n\
         pci_0000_00_02_0  (unknown) -> vfio-pci (no record: not detached by nodedev; give it back with the tool that detached it)\n"
    );
    // --json stays the records.
    let o = nodedev(&s, dir.path(), &["list", "--detached", "--json"]);
    assert!(!o.stdout.contains("0000:00:02.0"), "{}", o.stdout);
}

#[test]
fn a_failing_device_fails_the_batch_with_virsh_errors() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    s.fail_write("0000:00:02.0/driver_override", 1, 5);
    let o = nodedev(
        &s,
        dir.path(),
        &[
            "detach",
            "pci_0000_00_01_0",
            "pci_0000_00_02_0",
            "pci_0000_00_09_0",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "Device pci_0000_00_01_0 detached\n\n");
    assert_eq!(
        o.stderr,
        "error: Failed to detach device pci_0000_00_02_0\n\
         error: Failed to add driver 'vfio-pci' to driver_override interface of PCI device '0000:00:02.0': Input/output error (EIO) (device is on e1000e)\n\
         error: Could not find matching device 'pci_0000_00_09_0'\n\
         error: Node device not found: no node device with matching name 'pci_0000_00_09_0'\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("vfio-pci"));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
}

#[test]
fn dry_run_and_json() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = nodedev(&s, dir.path(), &["detach", "--dry-run", "pci_0000_00_01_0"]);
    assert_eq!(
        o.stdout,
        "Would detach pci_0000_00_01_0:\n  \
         write 'vfio-pci' to /sys/bus/pci/devices/0000:00:01.0/driver_override\n  \
         write '0000:00:01.0' to /sys/bus/pci/devices/0000:00:01.0/driver/unbind\n  \
         write '0000:00:01.0' to /sys/bus/pci/drivers_probe\n\n"
    );
    assert!(s.writes().is_empty());
    let o = nodedev(
        &s,
        dir.path(),
        &["detach", "--json", "pci_0000_00_01_0", "nosuch"],
    );
    assert_eq!(o.code, 1);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["outcomes"][0]["driver_after"], "vfio-pci");
    assert_eq!(v[0]["outcomes"][0]["writes"].as_array().unwrap().len(), 3);
    assert_eq!(v[1]["ok"], false);
    assert!(v[1]["error"]
        .as_str()
        .unwrap()
        .contains("Could not find matching device 'nosuch'"));
}

/// virsh mode, as the binary invoked as `virsh` runs it.
fn virsh(sim: &SimKernel, state: &std::path::Path, args: &[&str]) -> Outcome {
    let state_dir = format!("--state-dir={}", state.to_str().unwrap());
    let mut argv = vec!["nodedev", state_dir.as_str(), "virsh"];
    argv.extend_from_slice(args);
    run_cli(sim, state, &argv, b"")
}

#[test]
fn virsh_mode_detach_and_reattach() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = virsh(
        &s,
        dir.path(),
        &["nodedev-dettach", "pci_0000_00_01_0", "--driver", "vfio"],
    );
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "Device pci_0000_00_01_0 detached\n\n", "")
    );
    let o = virsh(
        &s,
        dir.path(),
        &["-q", "nodedev-reattach", "--device", "pci_0000_00_01_0"],
    );
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    // virsh looks devices up by exact name only.
    let o = virsh(&s, dir.path(), &["nodedev-detach", "0000:00:01.0"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "error: Could not find matching device '0000:00:01.0'\nerror: Node device not found: no node device with matching name '0000:00:01.0'\n"
    );
    assert_eq!(
        o.stdout, "\n",
        "virsh's blank line follows a failed command too"
    );
    let o = virsh(
        &s,
        dir.path(),
        &["nodedev-detach", "pci_0000_00_01_0", "--driver", "kvm"],
    );
    // libvirt 9.0's QEMU driver's words (the oracle compares them with real virsh).
    assert_eq!(
        o.stderr,
        "error: Failed to detach device pci_0000_00_01_0\nerror: argument unsupported: KVM device assignment is no longer supported on this system\n"
    );
    for (driver, line) in [
        (
            "pci-stub",
            "invalid argument: unknown driver name 'pci-stub'",
        ),
        ("xen", "invalid argument: unknown driver name 'xen'"),
    ] {
        let o = virsh(
            &s,
            dir.path(),
            &["nodedev-detach", "pci_0000_00_01_0", "--driver", driver],
        );
        assert_eq!(o.code, 1);
        assert_eq!(
            o.stderr,
            format!("error: Failed to detach device pci_0000_00_01_0\nerror: {line}\n")
        );
    }
    // In a Xen dom0 virsh talks to the libxl driver: pciback, `xen` or nothing.
    s.load_driver(DriverSpec::pciback());
    s.add_file("/proc/xen/capabilities", "control_d\n");
    let o = virsh(
        &s,
        dir.path(),
        &["-q", "nodedev-detach", "pci_0000_00_02_0"],
    );
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("pciback"));
    virsh(
        &s,
        dir.path(),
        &["-q", "nodedev-reattach", "pci_0000_00_02_0"],
    );
    // Without the libvirt backend -c only picks the driver's rules; with it, -c
    // goes to libvirt: there, a socket nobody listens on (never the machine's
    // own daemon, which would act on real devices), and virsh's connection failure.
    let nowhere = dir.path().join("no-libvirt-sock");
    let uri = if cfg!(feature = "libvirt") {
        format!("qemu+unix:///system?socket={}", nowhere.display())
    } else {
        "qemu:///system".to_string()
    };
    let o = virsh(
        &s,
        dir.path(),
        &[
            "-c",
            &uri,
            "nodedev-detach",
            "pci_0000_00_02_0",
            "--driver",
            "xen",
        ],
    );
    let want = if cfg!(feature = "libvirt") {
        format!(
            "error: Failed to connect socket to '{}': No such file or directory\n",
            nowhere.display()
        )
    } else {
        "unknown driver name 'xen'\n".to_string()
    };
    assert!(o.stderr.ends_with(&want), "{}", o.stderr);
    let o = virsh(
        &s,
        dir.path(),
        &["nodedev-detach", "pci_0000_00_02_0", "--driver", "vfio"],
    );
    assert!(
        o.stderr.ends_with("unknown driver name 'vfio'\n"),
        "{}",
        o.stderr
    );
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
    // Found but not PCI: virsh's "Failed to detach" line comes first.
    let o = virsh(&s, dir.path(), &["nodedev-detach", "computer"]);
    assert_eq!(
        o.stderr,
        "error: Failed to detach device computer\nerror: invalid argument: device computer is not a PCI device\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("e1000e"));
    assert!(s
        .writes()
        .iter()
        .all(|w| !w.path.ends_with("driver_override") || w.data != b"pci-stub"));
}

// ---- the libvirt hook ---------------------------------------------------------

fn hook_sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("nouveau", &[(0x10de, 0x2204)]));
    s.load_driver(DriverSpec::host("snd_hda_intel", &[(0x10de, 0x1aef)]));
    s.load_driver(DriverSpec::host("igbvf", &[(0x8086, 0x10ca)]));
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::endpoint("0000:01:00.0", 0x10de, 0x2204, 1));
    s.add_device(DeviceSpec::endpoint("0000:01:00.1", 0x10de, 0x1aef, 1));
    s.add_device(DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10d3, 2));
    s.add_device(DeviceSpec::endpoint("0000:03:10.2", 0x8086, 0x10ca, 5));
    s.add_device(DeviceSpec::endpoint("0000:04:00.0", 0x8086, 0x10d3, 3));
    s
}

/// A single-GPU passthrough domain: the GPU unmanaged, its audio function through
/// our metadata (the GPU's whole IOMMU group), an SR-IOV VF as a hostdev
/// interface, a managed NIC libvirt handles itself, and a skipped hostdev.
const GPU_DOMAIN: &str = r#"<domain type='kvm'>
  <name>gaming</name>
  <metadata>
    <shim:hostdevs xmlns:shim="https://nodedev-shim.dev/xmlns/hook/1">
      <shim:group address='0000:01:00.0'/>
      <shim:skip address='0000:04:00.0'/>
    </shim:hostdevs>
  </metadata>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source>
    </hostdev>
    <interface type='hostdev' managed='no'>
      <mac address='52:54:00:6d:90:02'/>
      <driver name='vfio'/>
      <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/></source>
    </interface>
  </devices>
</domain>
"#;

fn hook(sim: &SimKernel, state: &std::path::Path, op: &str, sub: &str, input: &[u8]) -> Outcome {
    let argv = [
        "nodedev",
        "--state-dir",
        state.to_str().unwrap(),
        "hook",
        "qemu",
        "gaming",
        op,
        sub,
        "-",
    ];
    run_cli(sim, state, &argv, input)
}

fn drivers(s: &SimKernel) -> Vec<Option<String>> {
    [
        "0000:01:00.0",
        "0000:01:00.1",
        "0000:02:00.0",
        "0000:03:10.2",
        "0000:04:00.0",
    ]
    .iter()
    .map(|a| s.driver_of(a))
    .collect()
}

#[test]
fn hook_prepare_then_release_ends_where_it_started() {
    let s = hook_sim();
    let dir = tempfile::tempdir().unwrap();
    let before = drivers(&s);
    let o = hook(&s, dir.path(), "prepare", "begin", GPU_DOMAIN.as_bytes());
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "", "a qemu.d hook must print nothing on stdout");
    let vfio = Some("vfio-pci".to_string());
    assert_eq!(
        drivers(&s),
        vec![
            vfio.clone(),
            vfio.clone(),
            before[2].clone(),
            vfio,
            before[4].clone()
        ]
    );
    // Started, stopped and the other operations do nothing and read nothing.
    for (op, sub) in [
        ("start", "begin"),
        ("started", "begin"),
        ("stopped", "end"),
        ("migrate", "begin"),
    ] {
        let o = hook(&s, dir.path(), op, sub, b"<not even xml");
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "", ""),
            "{op} {sub}"
        );
    }
    let o = hook(&s, dir.path(), "release", "end", b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(drivers(&s), before);
    assert_eq!(
        nodedev(&s, dir.path(), &["-q", "list", "--detached"]).stdout,
        ""
    );
}

#[test]
fn hook_gives_back_only_what_it_took() {
    let s = hook_sim();
    let dir = tempfile::tempdir().unwrap();
    // The admin detached the VF by hand before the domain started.
    assert_eq!(
        nodedev(&s, dir.path(), &["-q", "detach", "pci_0000_03_10_2"]).code,
        0
    );
    assert_eq!(
        hook(&s, dir.path(), "prepare", "begin", GPU_DOMAIN.as_bytes()).code,
        0
    );
    assert_eq!(hook(&s, dir.path(), "release", "end", b"").code, 0);
    assert_eq!(
        s.driver_of("0000:03:10.2").as_deref(),
        Some("vfio-pci"),
        "still the admin's"
    );
    assert_eq!(s.driver_of("0000:01:00.0").as_deref(), Some("nouveau"));
}

#[test]
fn hook_failure_rolls_back_and_aborts_the_start() {
    let s = hook_sim();
    let dir = tempfile::tempdir().unwrap();
    let before = drivers(&s);
    s.fail_write("0000:03:10.2/driver_override", 1, 16);
    let o = hook(&s, dir.path(), "prepare", "begin", GPU_DOMAIN.as_bytes());
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    let last = o.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("error: gaming: cannot detach 0000:03:10.2:")
            && last.contains("given back"),
        "{}",
        o.stderr
    );
    assert_eq!(drivers(&s), before);
}

#[test]
fn malformed_domain_xml_changes_nothing() {
    for bad in [
        &b"<domain><name>x</name>"[..],
        b"<!DOCTYPE domain [<!ENTITY a 'b'>]><domain>&a;</domain>",
        b"<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x1ff' slot='0' function='0'/></source></hostdev></devices></domain>",
        b"\xff\xfe",
    ] {
        let s = hook_sim();
        let dir = tempfile::tempdir().unwrap();
        s.clear_log();
        let o = hook(&s, dir.path(), "prepare", "begin", bad);
        assert_eq!(o.code, 1, "{}", String::from_utf8_lossy(bad));
        assert_eq!(o.stdout, "");
        assert_eq!(o.stderr.lines().count(), 1, "one line for libvirt's log: {}", o.stderr);
        assert!(o.stderr.starts_with("error: "), "{}", o.stderr);
        assert!(s.writes().is_empty());
    }
}

#[test]
fn hook_install_and_uninstall_are_idempotent() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let exe = std::path::Path::new("/usr/local/bin/nodedev");
    let p1 = nodedev_cli::hook::install(dir.path(), exe).unwrap();
    let p2 = nodedev_cli::hook::install(dir.path(), exe).unwrap();
    assert_eq!(p1, p2);
    assert_eq!(p1, dir.path().join("qemu.d/50-nodedev-shim"));
    let text = std::fs::read_to_string(&p1).unwrap();
    assert!(
        text.starts_with("#!/bin/sh\n")
            && text.contains("exec '/usr/local/bin/nodedev' hook qemu \"$@\""),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&p1).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("qemu.d"))
            .unwrap()
            .count(),
        1,
        "no temporary file left"
    );
    nodedev_cli::hook::uninstall(dir.path()).unwrap();
    nodedev_cli::hook::uninstall(dir.path()).unwrap();
    assert!(!p1.exists());
}

// ---- XML inputs ----------------------------------------------------------------

#[test]
fn detach_from_a_hostdev_element_or_a_node_device_document() {
    let s = hook_sim();
    let dir = tempfile::tempdir().unwrap();
    let hostdev = dir.path().join("hostdev.xml");
    std::fs::write(
        &hostdev,
        "<hostdev mode='subsystem' type='pci' managed='no'>\n  <driver name='vfio' model='vfio-pci'/>\n  <source>\n    <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n  </source>\n</hostdev>\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let o = nodedev(&s, &state, &["detach", "--xml", hostdev.to_str().unwrap()]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Device pci_0000_02_00_0 detached\n\n"),
        "{}",
        o.stderr
    );
    assert_eq!(s.driver_of("0000:02:00.0").as_deref(), Some("vfio-pci"));
    let o = nodedev(
        &s,
        &state,
        &["-q", "reattach", "--xml", hostdev.to_str().unwrap()],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.driver_of("0000:02:00.0").as_deref(), Some("e1000e"));
    // A node-device document, as `nodedev dumpxml` prints it.
    let nodedev_doc = dir.path().join("dev.xml");
    std::fs::write(&nodedev_doc, "<device>\n  <name>pci_0000_04_00_0</name>\n  <capability type='pci'>\n    <domain>0</domain>\n    <bus>4</bus>\n    <slot>0</slot>\n    <function>0</function>\n    <product id='0x10d3'/>\n    <vendor id='0x8086'/>\n  </capability>\n</device>\n").unwrap();
    let o = nodedev(
        &s,
        &state,
        &[
            "detach",
            "--driver",
            "vfio-pci",
            "--xml",
            nodedev_doc.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(s.driver_of("0000:04:00.0").as_deref(), Some("vfio-pci"));
    // Garbage: refused before anything is written.
    s.clear_log();
    std::fs::write(&nodedev_doc, "<domain/>").unwrap();
    let o = nodedev(
        &s,
        &state,
        &["detach", "--xml", nodedev_doc.to_str().unwrap()],
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("neither a <hostdev> element nor a node-device document"),
        "{}",
        o.stderr
    );
    assert!(s.writes().is_empty());
}

#[test]
fn apply_handles_every_pci_hostdev_of_a_domain() {
    let s = hook_sim();
    let dir = tempfile::tempdir().unwrap();
    let domain = dir.path().join("domain.xml");
    std::fs::write(&domain, GPU_DOMAIN).unwrap();
    let state = dir.path().join("state");
    let before = drivers(&s);
    let o = nodedev(&s, &state, &["apply", "detach", domain.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The GPU is named as a hostdev and as a metadata group: one step for its
    // whole group, and every function it moved named once.
    assert_eq!(
        o.stdout,
        "Device pci_0000_01_00_0 detached\nDevice pci_0000_01_00_1 detached\nDevice pci_0000_02_00_0 detached\nDevice pci_0000_03_10_2 detached\n\n"
    );
    // Managed ones too (apply is not the hook); the skipped one stays.
    let vfio = Some("vfio-pci".to_string());
    assert_eq!(
        drivers(&s),
        vec![
            vfio.clone(),
            vfio.clone(),
            vfio.clone(),
            vfio,
            before[4].clone()
        ]
    );
    let o = nodedev(
        &s,
        &state,
        &["-q", "apply", "reattach", domain.to_str().unwrap()],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(drivers(&s), before);
}

/// Two e1000e on bus 1 behind a root port, neither with a kernel reset: the
/// config-space sequence as `reset --list`, `reset` and virsh mode show it.
#[test]
fn reset_without_a_kernel_reset_uses_the_config_space_sequence() {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::bridge("0000:00:1c.0", 1, 1, 10));
    for (bdf, group) in [("0000:01:00.0", 1), ("0000:01:00.1", 2)] {
        let mut d = DeviceSpec::endpoint(bdf, 0x8086, 0x10d3, group);
        d.reset_methods = Vec::new();
        s.add_device(d);
    }
    let dir = tempfile::tempdir().unwrap();
    let o = nodedev(&s, dir.path(), &["reset", "--list", "pci_0000_01_00_0"]);
    assert_eq!(
        o.stdout,
        "pci_0000_01_00_0:\n  reset file:    no\n  reset_method:  (none)\n  config space:  bus\n  would use:     libvirt's config-space sequence (bus, first that works; bus only when every other function on the bus is detached or unbound)\n\n"
    );
    let o = nodedev(&s, dir.path(), &["reset", "pci_0000_01_00_0"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "error: Failed to reset device pci_0000_01_00_0\nerror: internal error: Unable to reset PCI device 0000:01:00.0: internal error: Active 0000:01:00.1 devices on bus with 0000:01:00.0, not doing bus reset (0000:01:00.1 is on e1000e; detach or unbind it first)\n"
    );
    assert!(s.writes().is_empty());
    let o = nodedev(&s, dir.path(), &["-q", "detach", "pci_0000_01_00_1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = virsh(&s, dir.path(), &["nodedev-reset", "pci_0000_01_00_0"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "Device pci_0000_01_00_0 reset\n\n"),
        "{}",
        o.stderr
    );
    assert_eq!(s.resets_of("0000:01:00.0"), ["bus"]);
    assert_eq!(s.resets_of("0000:01:00.1"), ["bus"]);
}

#[test]
fn apply_reports_a_failing_device_as_virsh_does_and_goes_on() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let domain = dir.path().join("domain.xml");
    std::fs::write(
        &domain,
        "<domain type='kvm'><name>vm</name><devices>\
         <hostdev mode='subsystem' type='pci' managed='no'><source>\
         <address domain='0x0000' bus='0x00' slot='0x09' function='0x0'/></source></hostdev>\
         <hostdev mode='subsystem' type='pci' managed='no'><source>\
         <address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev>\
         </devices></domain>",
    )
    .unwrap();
    let state = dir.path().join("state");
    let o = nodedev(&s, &state, &["apply", "detach", domain.to_str().unwrap()]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "error: Failed to detach device pci_0000_00_09_0\nerror: Device 0000:00:09.0 not found: could not access /sys/bus/pci/devices/0000:00:09.0/config: No such file or directory\n"
    );
    assert_eq!(o.stdout, "Device pci_0000_00_01_0 detached\n\n");
}

/// libvirt kills a hook that overruns its timeout: whatever a killed `prepare
/// begin` left, the domain's `release end` gives back (it once exited 0 and left a
/// NIC without a driver).
#[test]
fn release_gives_back_what_a_killed_prepare_left() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.payload().is::<pci_sim::Killed>() {
            quiet(info);
        }
    }));
    for k in 0..=9 {
        let s = hook_sim();
        let dir = tempfile::tempdir().unwrap();
        let before = drivers(&s);
        s.clear_log();
        s.kill_after(k);
        let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hook(&s, dir.path(), "prepare", "begin", GPU_DOMAIN.as_bytes())
        }))
        .is_err();
        s.kill_after(usize::MAX);
        let o = hook(&s, dir.path(), "release", "end", b"");
        assert_eq!(
            o.code, 0,
            "killed after {k} writes ({killed}): {}",
            o.stderr
        );
        assert_eq!(drivers(&s), before, "killed after {k} writes");
        for a in ["0000:01:00.0", "0000:01:00.1", "0000:03:10.2"] {
            assert_eq!(s.override_of(a), None, "killed after {k} writes: {a}");
        }
        let listed = nodedev(&s, dir.path(), &["-q", "list", "--detached"]);
        assert_eq!(listed.stdout, "", "killed after {k} writes: records left");
    }
}
