//! The command line end to end: messages and exit codes for bad input, the live
//! system read-only, and snapshots read back with `--root`.

mod support;

use std::path::Path;
use std::process::Command;

use support::tree::{Function, Tree};

fn small_tree() -> Tree {
    let t = Tree::new();
    let nic = Function {
        driver: Some("e1000e"),
        iommu_group: Some(1),
        ..Function::new("0000:00:01.0", 0x8086, 0x10d3, 0x020000)
    };
    t.add(&nic);
    t.net(
        Some("0000:00:01.0"),
        "enp0s1",
        "52:54:00:12:34:56",
        "up",
        1000,
    );
    t
}

fn expect_not_found(root: &Path, args: &[&str], name: &str) {
    let out = support::nodedev(root, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    // virsh prints its blank line after failed commands too.
    assert_eq!(
        out.stdout,
        b"\n",
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let want = format!(
        "error: Could not find matching device '{name}'\nerror: Node device not found: no node device with matching name '{name}'\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), want, "{args:?}");
}

#[test]
fn unknown_and_malformed_names_are_not_found() {
    let t = small_tree();
    for name in [
        "pci_0000_00_09_0",
        "pci_0000_zz_00_0",
        "0000:00:20.0",
        "pci_0000_00_01_0/../x",
        "../../../../etc/passwd",
        "net_nosuch_00_00_00_00_00_00",
        "",
    ] {
        expect_not_found(t.path(), &["dumpxml", name], name);
        expect_not_found(t.path(), &["info", name], name);
    }
}

#[test]
fn every_address_spelling_finds_the_device() {
    let t = small_tree();
    let by_name = support::stdout_ok(t.path(), &["dumpxml", "pci_0000_00_01_0"]);
    for spelling in ["0000:00:01.0", "00:01.0"] {
        assert_eq!(
            support::stdout_ok(t.path(), &["dumpxml", spelling]),
            by_name
        );
    }
    assert!(
        by_name.starts_with("<device>\n  <name>pci_0000_00_01_0</name>\n"),
        "{by_name}"
    );
    assert!(
        by_name.ends_with("</device>\n\n"),
        "virsh's trailing blank line: {by_name:?}"
    );
}

#[test]
fn a_name_with_control_characters_is_shown_escaped() {
    let t = small_tree();
    let out = support::nodedev(t.path(), &["info", "pci\n0000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("error: Could not find matching device 'pci\\n0000'\n"));
}

#[test]
fn invalid_capability_type() {
    let t = small_tree();
    let out = support::nodedev(t.path(), &["list", "--cap", "pci,bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: Invalid capability type\n"
    );
    assert_eq!(
        support::stdout_ok(t.path(), &["list", "--cap", "net"]),
        "net_enp0s1_52_54_00_12_34_56\n\n"
    );
}

#[test]
fn info_prints_virsh_fields() {
    let t = small_tree();
    assert_eq!(
        support::stdout_ok(t.path(), &["info", "pci_0000_00_01_0"]),
        "Name:           pci_0000_00_01_0\nParent:         computer\nActive:         yes\nPersistent:     no\nAutostart:      no\n\n"
    );
    assert_eq!(
        support::stdout_ok(t.path(), &["-q", "info", "computer"]),
        "Name:           computer\nParent:         \nActive:         yes\nPersistent:     yes\nAutostart:      yes\n"
    );
    let json: serde_json::Value = serde_json::from_str(&support::stdout_ok(
        t.path(),
        &["info", "--json", "-q", "00:01.0"],
    ))
    .unwrap();
    assert_eq!(json["details"]["driver"], "e1000e");
    assert_eq!(json["details"]["iommu_group"]["number"], 1);
}

fn normalize(input: &[u8]) -> std::process::Output {
    let t = Tree::new();
    support::nodedev_with_input(t.path(), &["xml", "normalize", "-"], Some(input))
}

#[test]
fn bad_xml_is_rejected_with_a_reason() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"<device><name>x</name>".to_vec()),
        ("not a device", b"<domain/>".to_vec()),
        (
            "dtd",
            b"<!DOCTYPE device [<!ENTITY a 'aaaa'>]><device><name>&a;</name></device>".to_vec(),
        ),
        ("entity", b"<device><name>&xxe;</name></device>".to_vec()),
        ("binary", vec![0xff, 0xfe, 0x00, 0x3c]),
        ("huge", {
            let mut v = b"<device><name>".to_vec();
            v.resize(20 * 1024 * 1024, b'a');
            v
        }),
    ];
    for (what, input) in cases {
        let out = normalize(&input);
        assert_eq!(out.status.code(), Some(1), "{what}");
        assert!(out.stdout.is_empty(), "{what}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn snapshot_reads_back_the_same() {
    let t = small_tree();
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("snap.tar");
    let out = support::nodedev(t.path(), &["snapshot", tar.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for args in [
        &["list", "--tree"][..],
        &["dumpxml", "--all"],
        &["info", "pci_0000_00_01_0"],
    ] {
        assert_eq!(
            support::stdout_ok(&tar, args),
            support::stdout_ok(t.path(), args),
            "{args:?}"
        );
    }
}

#[test]
fn a_snapshot_of_this_machine_reads_back_the_same() {
    // The live /sys (and /run/udev, if any) of the machine running the tests,
    // read only: every class the tool lists, read again from the snapshot.
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("host.tar");
    let live = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_nodedev"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // With the serials: the DMI UUID is in `computer`'s document.
    live(&["snapshot", "--include-serials", tar.to_str().unwrap()]);
    let root = tar.to_str().unwrap();
    for args in [
        &["list", "--tree"][..],
        &["dumpxml", "--all"],
        &["list", "--cap", "storage"],
    ] {
        let mut from_snapshot = vec!["--root", root];
        from_snapshot.extend_from_slice(args);
        assert_eq!(live(&from_snapshot), live(args), "{args:?}");
    }
}

#[test]
fn lists_this_machine_read_only() {
    // The live /sys of the machine running the tests: reading only.
    let out = Command::new(env!("CARGO_BIN_EXE_nodedev"))
        .arg("list")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l == "computer"), "{text}");
    let pci = std::fs::read_dir("/sys/bus/pci/devices")
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("pci_")).count(),
        pci,
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_nodedev"))
        .args(["dumpxml", "--all"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_driver_names_are_refused_before_anything() {
    let t = small_tree();
    let long = "a".repeat(5000);
    for (driver, needle) in [
        ("../vfio-pci", "'/'"),
        ("vfio-pci\n", "a newline"),
        (long.as_str(), "5000 bytes long"),
        (
            "kvm",
            "'legacy KVM' device assignment is no longer supported",
        ),
    ] {
        let out = support::nodedev(
            t.path(),
            &["detach", "--driver", driver, "pci_0000_00_01_0"],
        );
        assert_eq!(out.status.code(), Some(1), "{driver:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: Failed to detach device pci_0000_00_01_0\nerror: "),
            "{err}"
        );
        assert!(err.contains(needle), "{driver:?}: {err}");
    }
    // The tree is a snapshot, not a live kernel: nothing may be written to it.
    let before = std::fs::read(
        t.path()
            .join("sys/bus/pci/devices/0000:00:01.0/driver_override"),
    )
    .unwrap();
    let out = support::nodedev(t.path(), &["detach", "pci_0000_00_01_0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need a live kernel"));
    let after = std::fs::read(
        t.path()
            .join("sys/bus/pci/devices/0000:00:01.0/driver_override"),
    )
    .unwrap();
    assert_eq!(before, after);
}

/// virsh writes a failed command's `error:` lines before its trailing blank line;
/// with both streams on one pipe (`2>&1`) the order shows.
#[test]
fn error_lines_come_before_the_blank_line() {
    let t = small_tree();
    let combined = tempfile::NamedTempFile::new().unwrap();
    for args in [
        &["virsh", "nodedev-dumpxml", "pci_0000_00_09_0"][..],
        &["info", "pci_0000_00_09_0"][..],
    ] {
        let file = combined.reopen().unwrap();
        file.set_len(0).unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_nodedev"))
            .arg("--root")
            .arg(t.path())
            .args(args)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(1));
        assert_eq!(
            std::fs::read_to_string(combined.path()).unwrap(),
            "error: Could not find matching device 'pci_0000_00_09_0'\n\
             error: Node device not found: no node device with matching name 'pci_0000_00_09_0'\n\n",
            "{args:?}"
        );
    }
}

/// A 100 kB device name is echoed cut short, not twice in full.
#[test]
fn a_huge_name_is_not_echoed_in_full() {
    let t = small_tree();
    let name = "x".repeat(100_000);
    let out = support::nodedev(t.path(), &["info", &name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.len() < 1_000, "{} bytes", out.stderr.len());
    assert!(String::from_utf8_lossy(&out.stderr).contains("(100000 bytes in all)"));
}
