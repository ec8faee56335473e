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
const CAPS: &[&str] = hostdev_manager::nodes::CAPABILITY_NAMES;

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

/// A Fibre Channel HBA with NPIV, laid out as the kernel lays out a qla2xxx
/// port: `host12` with its `scsi_host` and `fc_host` class devices (WWNs,
/// `vport_create`), a remote port `rport-12:0-0` with a target, a LUN, its
/// disk (and a partition, not listed) and its SCSI generic node, and a vport
/// (`host13`, a vHBA: `fc_host` without `vport_create`). No QEMU device shows
/// FC. Checked against libvirt's tests/nodedevschemadata/hba_vport_ops.xml
/// and scsi_target1_0_0.xml (element for element).
#[test]
fn handmade_fc_npiv() {
    let t = Tree::new();
    let port = Function {
        config: config(0x8086, 0x3c04, 0x060400, 1, 256),
        driver: Some("pcieport"),
        ..Function::new("0000:00:03.2", 0x8086, 0x3c04, 0x060400)
    };
    let hba = Function {
        parent: Some("0000:00:03.2"),
        driver: Some("qla2xxx"),
        ..Function::new("0000:06:00.1", 0x1077, 0x2031, 0x0c0400)
    };
    t.add(&port).add(&hba);
    let h = "/sys/devices/pci0000:00/0000:00:03.2/0000:06:00.1/host12";
    let fc_attrs = |dir: &str, port: &str, node: &str| {
        t.attrs(
            dir,
            &[
                ("port_name", port),
                ("node_name", node),
                ("fabric_name", "0x2001547feebe79c1"),
                ("port_state", "Online"),
                ("max_npiv_vports", "254"),
                ("npiv_vports_inuse", "1"),
            ],
        );
    };
    t.device(h, "/sys/bus/scsi", "DEVTYPE=scsi_host\n")
        .device(&format!("{h}/scsi_host/host12"), "/sys/class/scsi_host", "")
        .attrs(
            &format!("{h}/scsi_host/host12"),
            &[("unique_id", "12"), ("proc_name", "qla2xxx")],
        )
        .device(&format!("{h}/fc_host/host12"), "/sys/class/fc_host", "");
    fc_attrs(
        &format!("{h}/fc_host/host12"),
        "0x2001f4e9d4eb02c9",
        "0x2000f4e9d4eb02c9",
    );
    t.file(format!("{h}/fc_host/host12/vport_create"), b"");
    let rport = format!("{h}/rport-12:0-0");
    t.file(format!("{rport}/uevent"), b"");
    t.device(
        &format!("{rport}/fc_remote_ports/rport-12:0-0"),
        "/sys/class/fc_remote_ports",
        "",
    )
    .attrs(
        &format!("{rport}/fc_remote_ports/rport-12:0-0"),
        &[("port_name", "0x9d73bc45f0e21a86"), ("roles", "FCP Target")],
    );
    let target = format!("{rport}/target12:0:0");
    let lun = format!("{target}/12:0:0:0");
    t.device(&target, "/sys/bus/scsi", "DEVTYPE=scsi_target\n")
        .device(
            &lun,
            "/sys/bus/scsi",
            "DEVTYPE=scsi_device\nDRIVER=sd\nMODALIAS=scsi:t-0x00\n",
        )
        .attrs(
            &lun,
            &[
                ("type", "0"),
                ("vendor", "HITACHI "),
                ("model", "OPEN-V          "),
            ],
        )
        .bind(&lun, "scsi", "sd");
    let disk = format!("{lun}/block/sdb");
    t.device(
        &disk,
        "/sys/class/block",
        "MAJOR=8\nMINOR=16\nDEVNAME=sdb\nDEVTYPE=disk\nDISKSEQ=3\n",
    )
    .attrs(
        &disk,
        &[
            ("size", "209715200"),
            ("removable", "0"),
            ("queue/logical_block_size", "512"),
        ],
    );
    t.link(format!("{disk}/device"), &lun);
    t.device(
        &format!("{disk}/sdb1"),
        "/sys/class/block",
        "MAJOR=8\nMINOR=17\nDEVNAME=sdb1\nDEVTYPE=partition\nPARTN=1\n",
    );
    t.udev_db(
        "b8:16",
        "S:disk/by-path/pci-0000:06:00.1-fc-0x9d73bc45f0e21a86-lun-0\n\
         S:disk/by-id/scsi-360060e8007e2e2000030e2e200001234\n\
         S:disk/by-id/wwn-0x60060e8007e2e2000030e2e200001234\n\
         I:4120321\nE:ID_SCSI=1\nE:ID_VENDOR=HITACHI\nE:ID_MODEL=OPEN-V\nE:ID_TYPE=disk\n\
         E:ID_BUS=scsi\nE:ID_SERIAL=360060e8007e2e2000030e2e200001234\n\
         E:ID_PATH=pci-0000:06:00.1-fc-0x9d73bc45f0e21a86-lun-0\nG:systemd\nQ:systemd\nV:1\n",
    )
    .udev_db(
        "b8:17",
        "S:disk/by-partuuid/1234\nE:ID_TYPE=disk\nE:ID_PART_ENTRY_NUMBER=1\n",
    );
    t.device(
        &format!("{lun}/scsi_generic/sg1"),
        "/sys/class/scsi_generic",
        "MAJOR=21\nMINOR=1\nDEVNAME=sg1\n",
    );
    // The vport: a vHBA under the port's vport device.
    let vport = format!("{h}/vport-12:0-0");
    t.file(format!("{vport}/uevent"), b"");
    let h13 = format!("{vport}/host13");
    t.device(&h13, "/sys/bus/scsi", "DEVTYPE=scsi_host\n")
        .device(
            &format!("{h13}/scsi_host/host13"),
            "/sys/class/scsi_host",
            "",
        )
        .attrs(&format!("{h13}/scsi_host/host13"), &[("unique_id", "13")])
        .device(&format!("{h13}/fc_host/host13"), "/sys/class/fc_host", "");
    fc_attrs(
        &format!("{h13}/fc_host/host13"),
        "0x5001a4a93526d0a1",
        "0x5001a4ace3ee047d",
    );
    check_scenario("handmade-fc-npiv", t.path());
}

/// Mediated devices and vDPA, laid out as the kernel lays them out: an i915
/// GPU with GVT-g types and an active mdev (`mdev_<uuid>_0000_00_02_0`), the
/// `mtty` sample parent (a device whose own capability is `mdev_types`) with an
/// active mdev and one whose IOMMU group is gone (not listed), and vDPA
/// simulators: bound to vhost_vdpa (`/dev/vhost-vdpa-0`), to virtio_vdpa (no
/// chardev), and bound to vhost_vdpa with its /dev node missing (not
/// listed). No QEMU device offers mdev types or vDPA. Checked against libvirt's
/// tests/nodedevmdevctldata/mdevctl-list-multiple.out.xml (the mdev element
/// order, the parent-address suffix) and pci_0000_02_10_7_mdev_types.xml.
#[test]
fn handmade_mdev_and_vdpa() {
    let t = Tree::new();
    let gpu = Function {
        driver: Some("i915"),
        iommu_group: Some(1),
        mdev_types: vec![
            ("i915-GVTg_V5_4", None, "vfio-pci", 1),
            ("i915-GVTg_V5_8", Some("GVTg_V5_8"), "vfio-pci", 2),
        ],
        ..Function::new("0000:00:02.0", 0x8086, 0x3e92, 0x030000)
    };
    t.add(&gpu);
    let g = "/sys/devices/pci0000:00/0000:00:02.0";
    t.link("/sys/class/mdev_bus/0000:00:02.0", g);
    let mdev = |parent: &str, uuid: &str, mtype: &str, group: Option<u32>| {
        t.mdev(parent, uuid, mtype, group);
    };
    mdev(
        g,
        "200f228a-c80a-4d50-bfb7-f5a0e4e34045",
        "i915-GVTg_V5_4",
        Some(0),
    );
    let m = "/sys/devices/virtual/mtty/mtty";
    t.device(m, "/sys/class/mtty", "");
    for (id, name, n) in [
        ("mtty-1", "Single port serial", "24"),
        ("mtty-2", "Dual-port serial", "12"),
    ] {
        t.attrs(
            &format!("{m}/mdev_supported_types/{id}"),
            &[
                ("name", name),
                ("device_api", "vfio-pci"),
                ("available_instances", n),
            ],
        );
    }
    t.link("/sys/class/mdev_bus/mtty", m);
    mdev(
        m,
        "3627463d-b7f0-4fea-b468-f1da537d301b",
        "mtty-1",
        Some(12),
    );
    mdev(m, "5f3ac7c4-60bc-44ba-9d66-d1b2f4e1a0b7", "mtty-2", None);
    for (n, driver, node) in [
        (0, "vhost_vdpa", true),
        (1, "virtio_vdpa", false),
        (2, "vhost_vdpa", false),
    ] {
        let dir = format!("/sys/devices/vdpa{n}");
        t.device(&dir, "/sys/bus/vdpa", "MODALIAS=vdpa:v00000001d00000001\n")
            .bind(&dir, "vdpa", driver);
        if driver == "vhost_vdpa" {
            t.file(
                format!("{dir}/vhost-vdpa-{n}/dev"),
                format!("506:{n}\n").as_bytes(),
            );
            t.file(format!("{dir}/vhost-vdpa-{n}/uevent"), b"");
            if node {
                t.file(format!("/dev/vhost-vdpa-{n}"), b"");
            }
        } else {
            t.device(
                &format!("{dir}/virtio3"),
                "/sys/bus/virtio",
                "MODALIAS=virtio:d00000001v00000000\n",
            );
        }
    }
    check_scenario("handmade-mdev-vdpa", t.path());
}

/// The s390 classes, laid out as an s390x kernel lays them out: the channel
/// subsystem (`css0`) with an I/O subchannel and its online DASD-like device,
/// an offline device (libvirt 9.0 does not list it), a vfio-ccw subchannel
/// with its mdev type and an active mdev (`…_0_0_0052`), a CHSC subchannel
/// (not listed), an AP card with a queue bound to vfio_ap, and the vfio-ap
/// matrix with its type and an active mdev (`…_matrix`). Checked against
/// libvirt's tests/nodedevschemadata ccw_0_0_ffff.xml,
/// css_0_0_fffe_mdev_types_channel_dev_addr.xml, ap_card07.xml,
/// ap_07_0038.xml, ap_matrix_mdev_types.xml and
/// tests/nodedevmdevctldata/mdevctl-list-multiple.out.xml.
#[test]
fn handmade_s390() {
    let t = Tree::new();
    t.file("/sys/devices/css0/uevent", b"");
    let sch = |id: &str, driver: &str, busid: &str| {
        let dir = format!("/sys/devices/css0/{id}");
        t.device(
            &dir,
            "/sys/bus/css",
            &format!("DRIVER={driver}\nST=0\nMODALIAS=css:t0\n"),
        )
        .attrs(&dir, &[("dev_busid", busid), ("type", "0")])
        .bind(&dir, "css", driver);
        dir
    };
    let io = sch("0.0.0000", "io_subchannel", "0.0.0815");
    t.device(
        &format!("{io}/0.0.0815"),
        "/sys/bus/ccw",
        "DRIVER=dasd-eckd\nCU_TYPE=3990\nMODALIAS=ccw:t3990m00dt3390dm0A\n",
    )
    .attrs(
        &format!("{io}/0.0.0815"),
        &[("online", "1"), ("cutype", "3990/00")],
    )
    .bind(&format!("{io}/0.0.0815"), "ccw", "dasd-eckd");
    let io2 = sch("0.0.0001", "io_subchannel", "0.0.0816");
    t.device(&format!("{io2}/0.0.0816"), "/sys/bus/ccw", "CU_TYPE=3990\n")
        .attrs(&format!("{io2}/0.0.0816"), &[("online", "0")]);
    let vfio = sch("0.0.0052", "vfio_ccw", "none");
    t.attrs(
        &format!("{vfio}/mdev_supported_types/vfio_ccw-io"),
        &[
            ("name", "I/O subchannel (Non-QDIO)"),
            ("device_api", "vfio-ccw"),
            ("available_instances", "0"),
        ],
    );
    t.link("/sys/class/mdev_bus/0.0.0052", &vfio);
    let mdev = |parent: &str, uuid: &str, mtype: &str, group: u32| {
        t.mdev(parent, uuid, mtype, Some(group));
    };
    mdev(
        &vfio,
        "cc000052-9b13-9b13-9b13-cc23009b1326",
        "vfio_ccw-io",
        0,
    );
    sch("0.0.ff00", "chsc_subchannel", "none");
    t.file("/sys/devices/ap/uevent", b"");
    let card = "/sys/devices/ap/card07";
    t.device(
        card,
        "/sys/bus/ap",
        "DEVTYPE=ap_card\nDRIVER=cex4card\nMODALIAS=ap:t11\n",
    )
    .attrs(card, &[("hwtype", "11"), ("online", "1")])
    .bind(card, "ap", "cex4card");
    let queue = format!("{card}/07.0038");
    t.device(
        &queue,
        "/sys/bus/ap",
        "DEVTYPE=ap_queue\nDRIVER=vfio_ap\nMODALIAS=ap:t11\n",
    )
    .bind(&queue, "ap", "vfio_ap");
    let matrix = "/sys/devices/vfio_ap/matrix";
    t.file("/sys/devices/vfio_ap/uevent", b"");
    t.device(matrix, "/sys/bus/matrix", "").attrs(
        &format!("{matrix}/mdev_supported_types/vfio_ap-passthrough"),
        &[
            ("name", "VFIO AP Passthrough Device"),
            ("device_api", "vfio-ap"),
            ("available_instances", "65535"),
        ],
    );
    t.link("/sys/class/mdev_bus/matrix", matrix);
    mdev(
        matrix,
        "783e6dbb-ea0e-411f-94e2-717eaad438bf",
        "vfio_ap-passthrough",
        1,
    );
    check_scenario("handmade-s390", t.path());
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
