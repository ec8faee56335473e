//! Golden tests: `list`, `list --tree`, `list --cap X` for every capability,
//! `dumpxml` and `info` of every device of every captured fixture (sysfs
//! snapshots taken in the QEMU rig) and of the hand-made trees, compared byte
//! for byte with files under tests/golden/ that were checked by hand against
//! ../shared/docs/libvirt-behaviour.md and libvirt-nodedev-classes.md. Every
//! document is also validated against libvirt's nodedev.rng and ours.
//!
//! A fixture captured with libvirtd running beside it (the `classes` capture,
//! `tests/fixtures/<name>.libvirt-*`) is also compared with what libvirt 9.0
//! itself printed for the same tree at the same time: list, tree, every
//! capability, every document and every `nodedev-info`.
//!
//! `NODEDEV_BLESS=1 cargo test -p nodedev-cli --test golden` rewrites the files.

mod support;

use std::path::{Path, PathBuf};

use support::tree::{config, with_pcie, Function, Tree};

/// virsh 9.0's capability names, in its order.
const CAPS: &[&str] = &[
    "system",
    "pci",
    "usb_device",
    "usb",
    "net",
    "scsi_host",
    "scsi_target",
    "scsi",
    "storage",
    "fc_host",
    "vports",
    "scsi_generic",
    "drm",
    "mdev_types",
    "mdev",
    "ccw",
    "css",
    "vdpa",
    "ap_card",
    "ap_queue",
    "ap_matrix",
    "vpd",
];

/// Runs every command of a scenario and returns all mismatches.
fn check_scenario(name: &str, root: &Path) {
    check_scenario_with(name, root, None);
}

/// A document libvirt 9.0 writes that its own schema refuses: a stand-alone
/// mediated-device parent (mtty), whose types libvirt nests in a second
/// `mdev_types` capability that nodedev.rng does not know, and a vDPA device
/// bound to virtio_vdpa, for which libvirt prints no `<chardev>` though its
/// schema requires one.
fn outside_libvirts_schema(xml: &str) -> bool {
    use nodedev_xml::Capability;
    nodedev_xml::parse(xml).is_ok_and(|d| {
        d.capabilities.iter().any(|c| match c {
            Capability::MdevTypes(_) => true,
            Capability::Vdpa(v) => v.chardev.is_none(),
            _ => false,
        })
    })
}

/// Like [`check_scenario`]; with `libvirt` (the path prefix of a capture's
/// `.libvirt-*` files), also compares with what libvirt printed.
fn check_scenario_with(name: &str, root: &Path, libvirt: Option<&Path>) {
    let golden = support::workspace().join("tests/golden").join(name);
    let libvirt_rng = support::libvirt_schemas().join("nodedev.rng");
    let our_rng = support::workspace().join("xml-schemas/nodedev-shim.rng");
    let mut failures = Vec::new();

    let list = support::stdout_ok(root, &["list"]);
    failures.extend(support::check_golden(&golden.join("list.txt"), &list).err());
    let tree = support::stdout_ok(root, &["list", "--tree"]);
    failures.extend(support::check_golden(&golden.join("tree.txt"), &tree).err());
    let mut caps = String::new();
    for cap in CAPS {
        caps.push_str(&format!("== {cap}\n"));
        caps.push_str(&support::stdout_ok(root, &["list", "--cap", cap]));
    }
    failures.extend(support::check_golden(&golden.join("list-caps.txt"), &caps).err());

    let mut all = String::new();
    let mut all_docs: Vec<String> = Vec::new();
    let names: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    assert!(names.len() > 1, "{name}: the list is empty:\n{list}");
    for dev in &names {
        let xml = support::stdout_ok(root, &["-q", "dumpxml", dev]);
        failures.extend(
            support::check_golden(&golden.join("dumpxml").join(format!("{dev}.xml")), &xml).err(),
        );
        for rng in [&libvirt_rng, &our_rng] {
            if rng == &libvirt_rng && outside_libvirts_schema(&xml) {
                continue;
            }
            if let Err(e) = support::validate(rng, &xml) {
                failures.push(format!(
                    "{name}/{dev}: does not validate against {}:\n{e}",
                    rng.display()
                ));
            }
        }
        // Our own parser reads back what we write, byte for byte.
        let normalized = support::nodedev_with_input(
            root,
            &["-q", "xml", "normalize", "-"],
            Some(xml.as_bytes()),
        );
        if normalized.stdout != xml.as_bytes() {
            failures.push(format!(
                "{name}/{dev}: parse+write changed the document: {}",
                String::from_utf8_lossy(&normalized.stderr)
            ));
        }
        let info = support::stdout_ok(root, &["info", dev]);
        failures.extend(
            support::check_golden(&golden.join("info").join(format!("{dev}.txt")), &info).err(),
        );
        if !all.is_empty() {
            all.push('\n');
        }
        all.push_str(&xml);
        all_docs.push(xml);
    }
    let dump_all = support::stdout_ok(root, &["-q", "dumpxml", "--all"]);
    if dump_all != all {
        failures.push(format!(
            "{name}: dumpxml --all is not every dumpxml in list order"
        ));
    }
    if let Some(prefix) = libvirt {
        let said = |what: &str| {
            let p = PathBuf::from(format!("{}.libvirt-{what}", prefix.display()));
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let mut same = |what: &str, ours: &str| {
            let theirs = said(what);
            if theirs != ours {
                let first = theirs
                    .lines()
                    .zip(ours.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(theirs.lines().count().min(ours.lines().count()));
                failures.push(format!(
                    "{name}: {what} differs from libvirt's at line {}:\n  libvirt: {:?}\n  nodedev: {:?}",
                    first + 1,
                    theirs.lines().nth(first),
                    ours.lines().nth(first)
                ));
            }
        };
        same("list.txt", &list);
        same("tree.txt", &tree);
        same("caps.txt", &caps);
        // virsh ends each document with a blank line.
        let docs: String = all_docs.iter().map(|d| format!("{d}\n")).collect();
        same("dumpxml.xml", &docs);
        let infos: String = names
            .iter()
            .map(|d| support::stdout_ok(root, &["virsh", "nodedev-info", d]))
            .collect();
        same("info.txt", &infos);
    }
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn fixtures() -> Vec<PathBuf> {
    let dir = support::workspace().join("tests/fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "tar"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Every file, link and directory under `root`, with contents and link targets.
fn tree_contents(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            let what = if t.is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if t.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else {
                format!("{:?}", std::fs::read(&p).unwrap())
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}

/// `groups` and `preflight` (every PCI function, one after another), human and
/// JSON, byte for byte against `tests/golden/<name>/`. preflight exits 1 exactly
/// when some device is blocked.
fn check_readiness(name: &str, root: &Path) {
    let golden = support::workspace().join("tests/golden").join(name);
    let mut failures = Vec::new();
    for (file, args) in [
        ("groups.txt", &["groups"][..]),
        ("groups.json", &["groups", "--json"][..]),
    ] {
        let out = support::stdout_ok(root, args);
        failures.extend(support::check_golden(&golden.join(file), &out).err());
    }
    let pci = support::stdout_ok(root, &["-q", "list", "--cap", "pci"]);
    let devices: Vec<&str> = pci.lines().filter(|l| !l.is_empty()).collect();
    let before = tree_contents(root);
    for (file, json) in [("preflight.txt", false), ("preflight.json", true)] {
        let mut args = vec!["preflight"];
        if json {
            args.push("--json");
        }
        args.extend(&devices);
        let out = support::nodedev(root, &args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let blocked = if json {
            stdout.contains("\"verdict\": \"blocked\"")
        } else {
            stdout
                .lines()
                .any(|l| l.starts_with("pci_") && l.contains(": blocked: "))
        };
        let want = if blocked { 1 } else { 0 };
        if out.status.code() != Some(want) {
            failures.push(format!(
                "{name}: preflight {} exited {:?}, wanted {want}: {}",
                if json { "--json" } else { "" },
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        failures.extend(support::check_golden(&golden.join(file), &stdout).err());
    }
    if tree_contents(root) != before {
        failures.push(format!("{name}: preflight changed the snapshot directory"));
    }
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn captured_fixtures() {
    let fixtures = fixtures();
    assert!(
        !fixtures.is_empty(),
        "no tests/fixtures/*.tar: capture them with tests/rig/capture-fixtures.sh"
    );
    for f in fixtures {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        // Unpack once; `--root FILE.tar` would unpack again for every command
        // (snapshot_reads_back_the_same in cli.rs covers that path).
        let dir = tempfile::tempdir().unwrap();
        let tar = std::fs::File::open(&f).unwrap();
        hostdev_manager::snapshot::unpack_tar(tar, dir.path()).unwrap();
        let prefix = f.with_extension("");
        let libvirt = PathBuf::from(format!("{}.libvirt-list.txt", prefix.display()))
            .is_file()
            .then_some(prefix.as_path());
        check_scenario_with(&name, dir.path(), libvirt);
    }
}

#[test]
fn captured_fixtures_readiness() {
    for f in fixtures() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = tempfile::tempdir().unwrap();
        let tar = std::fs::File::open(&f).unwrap();
        hostdev_manager::snapshot::unpack_tar(tar, dir.path()).unwrap();
        check_readiness(&name, dir.path());
    }
}

#[test]
fn readiness_reads_a_snapshot_tar_the_same() {
    // --root FILE.tar (read into memory) gives what the unpacked tree gives.
    let f = support::workspace().join("tests/fixtures/qemu-q35-rich.tar");
    let dir = tempfile::tempdir().unwrap();
    hostdev_manager::snapshot::unpack_tar(std::fs::File::open(&f).unwrap(), dir.path()).unwrap();
    for args in [&["groups"][..], &["preflight", "09:01.0", "00:01.0"][..]] {
        let a = support::nodedev(dir.path(), args);
        let b = support::nodedev(&f, args);
        assert_eq!(a.status.code(), b.status.code(), "{args:?}");
        assert_eq!(a.stdout, b.stdout, "{args:?}");
    }
}

#[test]
fn handmade_gpu_with_hdmi_audio() {
    // A discrete GPU and its HDMI audio function behind one root port, in one
    // IOMMU group (as on most desktop boards); the boot GPU (an integrated one,
    // with the console on it) alone in another; a NIC in a third.
    let t = Tree::new();
    let port = Function {
        config: config(0x8086, 0x1901, 0x060400, 1, 256),
        driver: Some("pcieport"),
        iommu_group: Some(1),
        ..Function::new("0000:00:01.0", 0x8086, 0x1901, 0x060400)
    };
    let mut gpu_config = config(0x10de, 0x1b80, 0x030000, 0x80, 256);
    gpu_config[8] = 0xa1;
    let gpu = Function {
        parent: Some("0000:00:01.0"),
        config: gpu_config,
        driver: Some("nouveau"),
        iommu_group: Some(1),
        ..Function::new("0000:01:00.0", 0x10de, 0x1b80, 0x030000)
    };
    let mut audio_config = config(0x10de, 0x10f0, 0x040300, 0x80, 256);
    audio_config[8] = 0xa1;
    let audio = Function {
        parent: Some("0000:00:01.0"),
        config: audio_config,
        driver: Some("snd_hda_intel"),
        iommu_group: Some(1),
        ..Function::new("0000:01:00.1", 0x10de, 0x10f0, 0x040300)
    };
    let igpu = Function {
        config: config(0x8086, 0x3e92, 0x030000, 0, 256),
        driver: Some("i915"),
        iommu_group: Some(2),
        ..Function::new("0000:00:02.0", 0x8086, 0x3e92, 0x030000)
    };
    let nic = Function {
        config: config(0x8086, 0x15bc, 0x020000, 0, 256),
        driver: Some("e1000e"),
        iommu_group: Some(3),
        ..Function::new("0000:00:1f.6", 0x8086, 0x15bc, 0x020000)
    };
    t.add(&port).add(&gpu).add(&audio).add(&igpu).add(&nic);
    t.file("/sys/bus/pci/devices/0000:00:02.0/boot_vga", b"1\n");
    t.file("/sys/bus/pci/devices/0000:01:00.0/boot_vga", b"0\n");
    t.file(
        "/sys/bus/pci/devices/0000:00:02.0/drm/card0/dev",
        b"226:0\n",
    );
    t.file("/sys/class/vtconsole/vtcon1/bind", b"1\n");
    t.file(
        "/sys/class/vtconsole/vtcon1/name",
        b"(M) frame buffer device\n",
    );
    t.file("/sys/bus/pci/drivers/vfio-pci/bind", b"");
    let root = t.path();
    let golden = support::workspace().join("tests/golden/handmade-gpu-audio");
    let mut failures = Vec::new();

    // --class gpu: whole groups with a GPU in them, so the audio function too.
    let gpu_groups = support::stdout_ok(root, &["groups", "--class", "gpu"]);
    for needed in [
        "IOMMU group 1:",
        "01:00.0",
        "01:00.1",
        "Audio device [0403]",
        "IOMMU group 2:",
    ] {
        assert!(
            gpu_groups.contains(needed),
            "{needed} missing:\n{gpu_groups}"
        );
    }
    assert!(!gpu_groups.contains("00:1f.6"), "{gpu_groups}");
    failures.extend(support::check_golden(&golden.join("groups-class-gpu.txt"), &gpu_groups).err());
    let audio_groups = support::stdout_ok(root, &["groups", "--class", "audio"]);
    assert!(audio_groups.contains("01:00.0") && !audio_groups.contains("IOMMU group 2:"));
    let json = support::stdout_ok(root, &["groups", "--class", "0300", "--json"]);
    failures.extend(support::check_golden(&golden.join("groups-class-0300.json"), &json).err());
    let none = support::stdout_ok(root, &["groups", "--class", "nvme"]);
    assert_eq!(none, "No IOMMU group has a device of class nvme.\n");
    let bad = support::nodedev(root, &["groups", "--class", "gpus"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown class 'gpus'"));
    let all = support::stdout_ok(root, &["groups"]);
    failures.extend(support::check_golden(&golden.join("groups.txt"), &all).err());

    // The discrete GPU needs its audio function; the boot GPU has the console.
    let out = support::nodedev(root, &["preflight", "01:00.0", "00:02.0", "00:1f.6"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "pci_0000_01_00_0: ready with --group (its IOMMU group needs 01:00.1 detached too)"
        ),
        "{text}"
    );
    assert!(
        text.contains("pci_0000_00_02_0: blocked: 0000:00:02.0 is the boot VGA device"),
        "{text}"
    );
    failures.extend(support::check_golden(&golden.join("preflight.txt"), &text).err());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// VPD bytes built field by field (PCI spec 6.x, "Vital Product Data").
fn vpd_bytes() -> Vec<u8> {
    fn large(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag, body.len() as u8, (body.len() >> 8) as u8];
        v.extend_from_slice(body);
        v
    }
    fn kw(k: &str, v: &[u8]) -> Vec<u8> {
        let mut out = k.as_bytes().to_vec();
        out.push(v.len() as u8);
        out.extend_from_slice(v);
        out
    }
    let mut out = large(0x82, b"Example Network Adapter <X> & Co");
    let mut ro = Vec::new();
    for (k, v) in [
        ("PN", "MCX623106AN-CDAT"),
        ("EC", "A6"),
        ("MN", "1028"),
        ("SN", "MT2113X00000"),
        ("V0", "PCIeGen4 x16"),
        ("V3", "vendor 'three'"),
    ] {
        ro.extend(kw(k, v.as_bytes()));
    }
    // RV: one checksum byte that makes the sum of every byte so far zero.
    let ro_len = ro.len() + 4;
    let mut section = vec![0x90, ro_len as u8, (ro_len >> 8) as u8];
    section.extend(&ro);
    section.extend(b"RV\x01");
    let sum: u32 = out
        .iter()
        .chain(section.iter())
        .map(|b| u32::from(*b))
        .sum();
    section.push(((256 - (sum % 256)) % 256) as u8);
    out.extend(section);
    let mut rw = Vec::new();
    rw.extend(kw("YA", b"asset-42"));
    rw.extend(kw("V1", b"rw vendor"));
    rw.extend(kw("Y1", b"system one"));
    rw.extend(kw("RW", &[0; 4]));
    out.extend(large(0x91, &rw));
    out.push(0x78);
    out
}

#[test]
fn handmade_vpd_and_mdev_types() {
    let t = Tree::new();
    let root_port = Function {
        config: with_pcie(
            config(0x8086, 0x1901, 0x060400, 1, 4096),
            4,
            2 << 24 | 16 << 4 | 4,
            16 << 4 | 4,
        ),
        driver: Some("pcieport"),
        iommu_group: Some(1),
        ..Function::new("0000:00:01.0", 0x8086, 0x1901, 0x060400)
    };
    let nic = Function {
        parent: Some("0000:00:01.0"),
        config: with_pcie(
            config(0x15b3, 0x101d, 0x020000, 0x80, 4096),
            0,
            16 << 4 | 4,
            8 << 4 | 4,
        ),
        driver: Some("mlx5_core"),
        iommu_group: Some(2),
        numa_node: 0,
        vpd: Some(vpd_bytes()),
        total_vfs: Some(8),
        ..Function::new("0000:01:00.0", 0x15b3, 0x101d, 0x020000)
    };
    let gpu = Function {
        config: with_pcie(
            config(0x10de, 0x13f2, 0x030000, 0, 4096),
            0,
            3 << 4 | 3,
            3 << 4 | 1,
        ),
        driver: Some("nvidia"),
        iommu_group: Some(3),
        numa_node: 1,
        mdev_types: vec![
            ("nvidia-11", Some("GRID M60-0B"), "vfio-pci", 16),
            ("nvidia-18", Some("GRID M60-1Q"), "vfio-pci", 8),
            ("nvidia-22", None, "vfio-pci", 0),
        ],
        ..Function::new("0000:00:02.0", 0x10de, 0x13f2, 0x030000)
    };
    t.add(&root_port).add(&nic).add(&gpu);
    t.net(
        Some("0000:01:00.0"),
        "enp1s0f0np0",
        "0c:42:a1:00:00:01",
        "up",
        25000,
    )
    .net(None, "lo", "00:00:00:00:00:00", "unknown", -1);
    check_scenario("handmade-vpd-mdev", t.path());
}

#[test]
fn handmade_old_kernel_unprivileged() {
    // A pre-3.16 kernel (no driver_override), read by a non-root user: config is
    // 64 bytes, so libvirt (unprivileged) shows no header type and no PCIe data.
    let t = Tree::new();
    let bridge = Function {
        config: config(0x8086, 0x244e, 0x060401, 0x01, 64),
        driver_override: false,
        ..Function::new("0000:00:1e.0", 0x8086, 0x244e, 0x060401)
    };
    let nic = Function {
        parent: Some("0000:00:1e.0"),
        config: config(0x8086, 0x100e, 0x020000, 0, 64),
        driver: Some("e1000"),
        driver_override: false,
        ..Function::new("0000:05:01.0", 0x8086, 0x100e, 0x020000)
    };
    let cardbus = Function {
        config: config(0x1180, 0x0476, 0x060700, 0x82, 256),
        driver: Some("yenta_cardbus"),
        driver_override: false,
        ..Function::new("0000:00:1f.1", 0x1180, 0x0476, 0x060700)
    };
    t.add(&bridge).add(&nic).add(&cardbus);
    t.net(
        Some("0000:05:01.0"),
        "eth0",
        "52:54:00:12:34:56",
        "down",
        -1,
    );
    check_scenario("handmade-old-kernel", t.path());
}

#[test]
fn virsh_mode() {
    // `nodedev virsh …` (what a `virsh` symlink runs): virsh's exact output for
    // every read command, success and failure, byte for byte.
    let f = support::workspace().join("tests/fixtures/qemu-q35-rich.tar");
    let dir = tempfile::tempdir().unwrap();
    hostdev_manager::snapshot::unpack_tar(std::fs::File::open(&f).unwrap(), dir.path()).unwrap();
    let golden = support::workspace().join("tests/golden/virsh");
    let cases: &[(&str, &[&str])] = &[
        ("nodedev-list", &["nodedev-list"]),
        ("nodedev-list-q", &["-q", "nodedev-list", "--cap", "pci"]),
        (
            "nodedev-list-tree",
            &["-c", "qemu:///system", "nodedev-list", "--tree"],
        ),
        ("nodedev-list-inactive", &["nodedev-list", "--inactive"]),
        ("nodedev-list-bad-cap", &["nodedev-list", "--cap", "bogus"]),
        (
            "nodedev-list-conflict",
            &["nodedev-list", "--all", "--inactive"],
        ),
        ("nodedev-dumpxml", &["nodedev-dumpxml", "pci_0000_02_00_0"]),
        (
            "nodedev-dumpxml-device-option",
            &["nodedev-dumpxml", "--device", "computer"],
        ),
        (
            "nodedev-dumpxml-by-address",
            &["nodedev-dumpxml", "0000:02:00.0"],
        ),
        ("nodedev-info", &["nodedev-info", "pci_0000_02_10_0"]),
        ("nodedev-info-unknown", &["nodedev-info", "nosuch"]),
        ("nodedev-detach-missing-device", &["nodedev-detach"]),
        ("nodedev-reset", &["nodedev-reset", "pci_0000_00_01_0"]),
        ("not-a-nodedev-command", &["start", "vm1"]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        let mut argv = vec!["virsh"];
        argv.extend_from_slice(args);
        let out = support::nodedev(dir.path(), &argv);
        let text = format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        failures.extend(support::check_golden(&golden.join(format!("{name}.txt")), &text).err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
