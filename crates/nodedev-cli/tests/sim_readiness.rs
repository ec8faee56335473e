//! `nodedev groups` and `nodedev preflight` through `main`'s own code against the
//! simulated kernel (a live kernel to the tool): preflight writes nothing, prints
//! exactly the plan `detach --dry-run` prints, and its verdicts follow the
//! group's viability as `detach --group` changes it.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use nodedev_cli::{Backend, Host, Stdio};
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// 00:01.0 alone in group 1; 00:02.0 and 00:03.0 share group 2.
fn sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::endpoint("0000:00:01.0", 0x8086, 0x10d3, 1));
    s.add_device(DeviceSpec::endpoint("0000:00:02.0", 0x8086, 0x10d3, 2));
    s.add_device(DeviceSpec::endpoint("0000:00:03.0", 0x8086, 0x10d3, 2));
    // A live kernel has /proc: the host-usage checks look (and find nothing).
    s.add_file("/proc/self/mountinfo", "");
    s.clear_log();
    s
}

fn nodedev(sim: &SimKernel, state: &Path, args: &[&str]) -> Outcome {
    let mut argv = vec!["nodedev", "--state-dir", state.to_str().unwrap()];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input: &[u8] = b"";
    let code = nodedev_cli::main_with(
        argv.iter().map(OsString::from).collect(),
        |cli| {
            Ok(Backend::new(
                Host::live(Arc::new(sim.clone())),
                Arc::new(sim.clone()),
                cli,
            ))
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

/// The `Would detach …` block of a preflight's output.
fn plan_block(text: &str) -> String {
    text.lines()
        .skip_while(|l| !l.starts_with("Would detach"))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn preflight_prints_the_dry_run_plan_and_writes_nothing() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let o = nodedev(&s, &state, &["preflight", "pci_0000_00_01_0"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.starts_with("pci_0000_00_01_0: ready\n"),
        "{}",
        o.stdout
    );
    assert!(s.writes().is_empty(), "{:?}", s.writes());
    assert!(!state.exists(), "preflight created the state directory");
    let dry = nodedev(
        &s,
        &state,
        &["-q", "detach", "--dry-run", "pci_0000_00_01_0"],
    );
    assert_eq!(dry.code, 0);
    assert_eq!(plan_block(&o.stdout), dry.stdout);
    assert_eq!(dry.stdout.lines().count(), 4, "{}", dry.stdout);

    // A shared group: ready with --group, and the plan is --group's.
    let o = nodedev(&s, &state, &["preflight", "00:02.0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.starts_with(
            "pci_0000_00_02_0: ready with --group (its IOMMU group needs 00:03.0 detached too)\n"
        ),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("    00:03.0 e1000e  must come along"),
        "{}",
        o.stdout
    );
    let dry = nodedev(
        &s,
        &state,
        &["-q", "detach", "--group", "--dry-run", "00:02.0"],
    );
    assert_eq!(plan_block(&o.stdout), dry.stdout);
    assert!(s.writes().is_empty());

    // JSON says the same.
    let o = nodedev(&s, &state, &["preflight", "--json", "00:02.0", "00:01.0"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["verdict"]["verdict"], "ready-with-group");
    assert_eq!(v[0]["verdict"]["others"][0], "0000:00:03.0");
    assert_eq!(v[1]["verdict"]["verdict"], "ready");
    assert_eq!(v[1]["ready"], true);
    assert!(s.writes().is_empty());
}

#[test]
fn viability_follows_a_group_detach() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let o = nodedev(&s, &state, &["groups", "--group", "2"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .starts_with("IOMMU group 2: blocked by 00:02.0 (e1000e), 00:03.0 (e1000e)\n"),
        "{}",
        o.stdout
    );
    assert_eq!(
        nodedev(&s, &state, &["-q", "detach", "--group", "00:02.0"]).code,
        0
    );
    let o = nodedev(&s, &state, &["groups", "--group", "2"]);
    assert!(
        o.stdout.starts_with("IOMMU group 2: viable\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("driver: vfio-pci"), "{}", o.stdout);
    // Each member alone is ready now (nothing to do).
    let o = nodedev(&s, &state, &["preflight", "00:03.0"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.starts_with("pci_0000_00_03_0: ready\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("  nothing to do: already on vfio-pci\n"),
        "{}",
        o.stdout
    );
    let o = nodedev(&s, &state, &["groups", "--group", "9"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("no IOMMU group 9: this machine has groups 1-2"),
        "{}",
        o.stderr
    );
}

#[test]
fn preflight_failures_and_refusals() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let o = nodedev(&s, &state, &["preflight", "00:01.0", "pci_0000_00_09_0"]);
    assert_eq!(o.code, 1);
    assert!(o.stdout.starts_with("pci_0000_00_01_0: ready\n"));
    assert_eq!(
        o.stderr,
        "error: Could not find matching device 'pci_0000_00_09_0'\n\
         error: Node device not found: no node device with matching name 'pci_0000_00_09_0'\n"
    );
    let o = nodedev(&s, &state, &["preflight", "--driver", "kvm", "00:01.0"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("'legacy KVM' device assignment is no longer supported"),
        "{}",
        o.stderr
    );
    // A PF with VFs and an interface with routes: both reasons on the verdict line.
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("igb", &[(0x8086, 0x10c9)]));
    s.load_driver(DriverSpec::vfio_pci());
    let mut pf = DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10c9, 4);
    pf.total_vfs = 7;
    pf.num_vfs = 2;
    s.add_device(pf);
    let dev = "/sys/devices/pci0000:00/0000:02:00.0";
    s.add_link("/sys/class/net/eth0", &format!("{dev}/net/eth0"))
        .add_file(&format!("{dev}/net/eth0/flags"), "0x1003\n")
        .add_file(
            "/proc/net/route",
            "Iface\tDestination\tGateway\neth0\t00000000\t0100A8C0\n",
        )
        .add_file("/proc/self/mountinfo", "");
    s.clear_log();
    let o = nodedev(&s, &state, &["preflight", "02:00.0"]);
    assert_eq!(o.code, 1);
    let first = o
        .stdout
        .lines()
        .next()
        .unwrap_or_else(|| panic!("{}", o.stderr));
    assert_eq!(
        first,
        "pci_0000_02_00_0: blocked: 0000:02:00.0 is an SR-IOV physical function with 2 VFs enabled; \
         vfio-pci refuses it (write 0 to sriov_numvfs first); 0000:02:00.0 is in use by the host: \
         interface eth0 is up with 1 IPv4 route(s)"
    );
    assert!(
        o.stdout
            .contains("  SR-IOV:    physical function, 2 of 7 VFs enabled\n"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("Would detach"), "{}", o.stdout);
    assert!(s.writes().is_empty());
}
