//! The udev database and uevent readers, and the device classes over a whole
//! snapshot tree.

use std::collections::BTreeSet;

use hostdev_manager::nodes::{self, Detail};
use hostdev_manager::snapshot::{Snapshot, TarLimits};
use hostdev_manager::udev::{parse_db, parse_uevent};

use crate::gen::Source;
use crate::Outcome;

/// Database properties: key, and value (`None`: removed).
type Properties = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A second reading of a udev database file, written apart from
/// `hostdev_manager::udev::parse_db` from the description of libudev's state
/// machine (`device_read_db_internal_filename`, systemd 252): a line is a key
/// character and `:`; the character after the `:` always starts the value
/// (even a line end); the value runs to the next line end; a key character
/// followed by anything else makes everything up to the next line end *after
/// it* ignored; a last line without a line end is dropped.
fn reference_db(data: &[u8]) -> (Properties, Vec<Vec<u8>>) {
    let nl = |b: u8| b == b'\n' || b == b'\r';
    let cstr = |b: &[u8]| b.split(|c| *c == 0).next().unwrap_or_default().to_vec();
    let (mut props, mut links) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < data.len() {
        if nl(data[i]) {
            i += 1;
            continue;
        }
        let key = data[i];
        if data.get(i + 1) != Some(&b':') {
            // Skip to the line end that follows the offending character.
            let from = i + 2;
            match data.get(from..).and_then(|r| r.iter().position(|b| nl(*b))) {
                Some(p) => i = from + p + 1,
                None => return (props, links),
            }
            continue;
        }
        let start = i + 2;
        if start >= data.len() {
            return (props, links);
        }
        let Some(p) = data[start + 1..].iter().position(|b| nl(*b)) else {
            return (props, links);
        };
        let end = start + 1 + p;
        let value = cstr(&data[start..end]);
        match key {
            b'S' => links.push([b"/dev/".as_slice(), &value].concat()),
            b'E' => {
                if let Some(eq) = value.iter().position(|c| *c == b'=') {
                    let v = value[eq + 1..].to_vec();
                    props.push((value[..eq].to_vec(), (!v.is_empty()).then_some(v)));
                }
            }
            _ => {}
        }
        i = end + 1;
    }
    (props, links)
}

/// `parse_db` on the bytes: agrees with a second reading (`reference_db`); no key holds `=` or
/// a NUL, no value a NUL, every link starts with `/dev/`. Then `parse_uevent`:
/// no key holds a line end or a NUL, nor `=` past its first byte; no value a
/// line end or a NUL.
pub fn udev_data(data: &[u8]) -> Outcome {
    let db = parse_db(data);
    let (props, links) = reference_db(data);
    assert_eq!(
        db.properties, props,
        "properties differ from the reference reading"
    );
    assert_eq!(db.links, links, "links differ from the reference reading");
    for (k, v) in &db.properties {
        assert!(!k.contains(&b'=') && !k.contains(&0), "key {k:?}");
        if let Some(v) = v {
            assert!(!v.contains(&0) && !v.is_empty(), "value {v:?}");
        }
    }
    for l in &db.links {
        assert!(l.starts_with(b"/dev/") && !l.contains(&0), "link {l:?}");
    }
    for (k, v) in parse_uevent(data) {
        // libudev takes a line's first byte as the key's start unseen, so a
        // key may begin with '='; the rest holds none.
        assert!(
            !k.get(1..).unwrap_or_default().contains(&b'='),
            "uevent key {k:?}"
        );
        for b in [b'\n', b'\r', 0] {
            assert!(!k.contains(&b), "uevent key {k:?}");
        }
        for b in [b'\n', b'\r', 0] {
            assert!(!v.contains(&b), "uevent value {v:?}");
        }
    }
    if db.properties.is_empty() && db.links.is_empty() {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    }
}

/// Path components a generated tree is made of: the directories of the
/// classes, device names, attribute names, and ways out (`..`, `/`).
const PARTS: &[&str] = &[
    "sys",
    "devices",
    "pci0000:00",
    "0000:00:01.0",
    "0000:00:02.0",
    "usb1",
    "1-1",
    "1-1:1.0",
    "host0",
    "target0:0:0",
    "0:0:0:0",
    "block",
    "sda",
    "sr0",
    "scsi_generic",
    "sg0",
    "drm",
    "card0",
    "bus",
    "class",
    "usb",
    "scsi",
    "pci",
    "net",
    "eth0",
    "mdev",
    "vdpa",
    "vdpa0",
    "ap",
    "card07",
    "css",
    "0.0.0052",
    "mtty",
    "mdev_bus",
    "mdev_supported_types",
    "mtty-1",
    "3627463d-b7f0-4fea-b468-f1da537d301b",
    "iommu_group",
    "kernel",
    "iommu_groups",
    "12",
    "uevent",
    "subsystem",
    "device",
    "driver",
    "vendor",
    "model",
    "size",
    "type",
    "removable",
    "queue",
    "logical_block_size",
    "run",
    "udev",
    "data",
    "b8:0",
    "b11:0",
    "c189:1",
    "c226:0",
    "+scsi:0:0:0:0",
    "..",
    ".",
    "",
];

/// File contents: uevent and database lines, numbers, and hostile bytes.
const CONTENTS: &[&[u8]] = &[
    b"DEVTYPE=disk\nMAJOR=8\nMINOR=0\nDEVNAME=sda\n",
    b"DEVTYPE=usb_device\nBUSNUM=001\nDEVNUM=002\nMAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\n",
    b"DEVTYPE=usb_interface\n",
    b"DEVTYPE=scsi_host\n",
    b"DEVTYPE=scsi_target\n",
    b"DEVTYPE=scsi_device\n",
    b"DEVTYPE=drm_minor\nMAJOR=226\nMINOR=0\nDEVNAME=dri/card0\n",
    b"MAJOR=21\nMINOR=0\nDEVNAME=sg0\n",
    b"DEVTYPE=ap_card\n",
    b"MDEV_TYPE=mtty-1\n",
    b"DRIVER=vfio_ccw\n",
    b"INTERFACE=eth0\nIFINDEX=2\n",
    b"E:ID_TYPE=cd\nE:ID_CDROM_MEDIA=1\nS:cdrom\n",
    b"E:ID_VENDOR_ID=1d6b\nE:ID_MODEL_ID=0002\nE:ID_SERIAL=x\n",
    b"E:ID_TYPE=disk\nE:ID_SERIAL=\xff\xfe\x00\n",
    b"S:\nE:ID_TYPE=disk\n",
    b"X\nE:ID_TYPE\n",
    b"0\n",
    b"1\n",
    b"-1\n",
    b"0x1d6b\n",
    b"18446744073709551616\n",
    b"512\n",
    b"2048\n",
    b"\xff\xfe\x80\n",
    b"",
];

fn component(src: &mut Source) -> &'static str {
    PARTS[src.below(PARTS.len())]
}

fn path(src: &mut Source, max: usize) -> String {
    let n = 1 + src.below(max);
    (0..n).map(|_| component(src)).collect::<Vec<_>>().join("/")
}

/// Devices of each class as the kernel registers them: where its subsystem
/// lists it, and its uevent.
const TEMPLATES: &[(&str, &[u8])] = &[
    ("bus/usb", b"DEVTYPE=usb_device\nBUSNUM=001\nDEVNUM=002\nMAJOR=189\nMINOR=1\nDEVNAME=bus/usb/001/002\n"),
    ("bus/usb", b"DEVTYPE=usb_interface\n"),
    ("bus/scsi", b"DEVTYPE=scsi_host\n"),
    ("bus/scsi", b"DEVTYPE=scsi_target\n"),
    ("bus/scsi", b"DEVTYPE=scsi_device\n"),
    ("class/block", b"DEVTYPE=disk\nMAJOR=8\nMINOR=0\nDEVNAME=sda\n"),
    ("class/block", b"DEVTYPE=disk\nMAJOR=254\nMINOR=0\nDEVNAME=vda\n"),
    ("class/scsi_generic", b"MAJOR=21\nMINOR=0\nDEVNAME=sg0\n"),
    ("class/drm", b"DEVTYPE=drm_minor\nMAJOR=226\nMINOR=128\nDEVNAME=dri/renderD128\n"),
    ("bus/mdev", b"MDEV_TYPE=mtty-1\n"),
    ("bus/vdpa", b""),
    ("bus/ap", b"DEVTYPE=ap_queue\n"),
    ("bus/css", b"DRIVER=io_subchannel\n"),
    ("bus/ccw", b""),
    ("bus/matrix", b""),
    ("class/mtty", b""),
    ("class/net", b"INTERFACE=eth0\nIFINDEX=2\n"),
];

/// Device names, one per class more or less.
const NAMES: &[&str] = &[
    "1-1",
    "1-1:1.0",
    "usb1",
    "host0",
    "target0:0:0",
    "0:0:0:0",
    "sda",
    "vda",
    "sg0",
    "renderD128",
    "3627463d-b7f0-4fea-b468-f1da537d301b",
    "vdpa0",
    "07.0038",
    "0.0.0052",
    "0.0.0815",
    "matrix",
    "mtty",
    "eth0",
    "x!y",
    "",
];

/// Attributes the classes read, with a value.
const ATTRS: &[&str] = &[
    "size",
    "removable",
    "queue/logical_block_size",
    "device/vendor",
    "device/model",
    "type",
    "bInterfaceClass",
    "manufacturer",
    "online",
    "dev_busid",
    "address",
    "operstate",
    "mdev_supported_types/mtty-1/device_api",
    "mdev_supported_types/mtty-1/available_instances",
];

fn append_file(b: &mut tar::Builder<Vec<u8>>, path: &str, content: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(content.len() as u64);
    let _ = b.append_data(&mut h, path, content);
}

fn append_link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o777);
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    let _ = b.append_link(&mut h, path, target);
}

/// A snapshot tar built from the bytes — devices of every class laid out as
/// the kernel lays them out (uevent, subsystem link, the subsystem's link to
/// them, attributes, a database entry), their uevents and attributes taken
/// from hostile values too, and stray entries (links that loop, climb out or
/// dangle) — read back with the snapshot reader and enumerated: no panic;
/// every name is libvirt's alphabet, each once; every parent is `computer` or
/// a listed device; no device outside `/sys`.
pub fn class_tree(data: &[u8]) -> Outcome {
    let mut src = Source::new(data);
    let mut builder = tar::Builder::new(Vec::new());
    for _ in 0..1 + src.below(8) {
        let (subsystem, uevent) = TEMPLATES[src.below(TEMPLATES.len())];
        let name = NAMES[src.below(NAMES.len())];
        let dir = format!("sys/devices/{}/{name}", path(&mut src, 3));
        let mut ue = uevent.to_vec();
        if src.below(4) == 0 {
            ue.extend_from_slice(CONTENTS[src.below(CONTENTS.len())]);
        }
        append_file(&mut builder, &format!("{dir}/uevent"), &ue);
        append_link(
            &mut builder,
            &format!("{dir}/subsystem"),
            &format!("/sys/{subsystem}"),
        );
        let list = if subsystem.starts_with("bus/") {
            format!("sys/{subsystem}/devices/{name}")
        } else {
            format!("sys/{subsystem}/{name}")
        };
        append_link(&mut builder, &list, &format!("/{dir}"));
        for _ in 0..src.below(4) {
            let attr = ATTRS[src.below(ATTRS.len())];
            append_file(
                &mut builder,
                &format!("{dir}/{attr}"),
                CONTENTS[src.below(CONTENTS.len())],
            );
        }
        if src.bool() {
            let id = PARTS[src.below(PARTS.len())];
            append_file(
                &mut builder,
                &format!("run/udev/data/{id}"),
                CONTENTS[src.below(CONTENTS.len())],
            );
        }
    }
    for _ in 0..src.below(12) {
        let p = path(&mut src, 8);
        match src.below(3) {
            0 => {
                let target = if src.bool() {
                    format!("/{}", path(&mut src, 6))
                } else {
                    path(&mut src, 10)
                };
                append_link(&mut builder, &p, &target);
            }
            _ => {
                let content: Vec<u8> = src
                    .list(3, |s| CONTENTS[s.below(CONTENTS.len())].to_vec())
                    .concat();
                append_file(&mut builder, &p, &content);
            }
        }
    }
    let Ok(bytes) = builder.into_inner() else {
        return Outcome::Rejected;
    };
    let snap = match Snapshot::read_tar(bytes.as_slice(), &TarLimits::default()) {
        Ok(s) => s,
        Err(e) => {
            super::assert_short_message(&e.to_string());
            return Outcome::Rejected;
        }
    };
    let all = match nodes::enumerate(&snap, Detail::Full) {
        Ok(a) => a,
        Err(e) => {
            super::assert_short_message(&e.to_string());
            return Outcome::Rejected;
        }
    };
    let names: BTreeSet<&str> = all.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names.len(), all.nodes.len(), "a name twice");
    for n in &all.nodes {
        assert!(
            n.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "name {:?}",
            n.name
        );
        assert!(
            n.parent == hostdev_manager::COMPUTER || names.contains(n.parent.as_str()),
            "{} has parent {} that is not listed",
            n.name,
            n.parent
        );
        assert!(
            n.sysfs_path.starts_with("/sys"),
            "{}",
            n.sysfs_path.display()
        );
    }
    if all.nodes.is_empty() {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    }
}
