//! Snapshot trees: a `--root FILE.tar` from someone else's bug report.
//!
//! The bytes are read as a little program that builds a tar archive out of the
//! pieces a sysfs snapshot is made of — directories, attribute files, relative and
//! absolute symbolic links (into the tree, out of it, in loops), hard links, long
//! and odd names — so mutations reach the resolver and the enumeration instead of
//! stopping at tar's header checksum. The archive is read as `--root` reads it
//! (in memory, within limits) and the whole tree is enumerated as `list` and
//! `dumpxml --all` would. Invariants: no panic, every read bounded (an attribute
//! larger than a page is an error, not a read), errors short.

use std::io::Write;
use std::path::Path;

use hostdev_manager::snapshot::{Snapshot, TarLimits};
use hostdev_manager::{device, Inventory, Sysfs};

use super::assert_short_message;
use crate::Outcome;

const DIRS: &[&str] = &[
    "sys",
    "sys/bus/pci/devices",
    "sys/bus/pci/drivers/e1000e",
    "sys/bus/pci/drivers/vfio-pci",
    "sys/devices/pci0000:00",
    "sys/devices/pci0000:00/0000:00:01.0",
    "sys/devices/pci0000:00/0000:00:1c.0",
    "sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
    "sys/devices/pci0000:00/0000:00:01.0/net/eth0",
    "sys/devices/pci0000:00/0000:00:01.0/mdev_supported_types/nvidia-11",
    "sys/kernel/iommu_groups/1/devices",
    "sys/class/net",
    "sys/devices/virtual/dmi/id",
];

const FILES: &[&str] = &[
    "vendor",
    "device",
    "subsystem_vendor",
    "class",
    "config",
    "numa_node",
    "sriov_totalvfs",
    "vpd",
    "address",
    "operstate",
    "speed",
    "name",
    "device_api",
    "available_instances",
    "product_name",
    "modalias",
];

const LINK_NAMES: &[&str] = &[
    "sys/bus/pci/devices/0000:00:01.0",
    "sys/bus/pci/devices/0000:01:00.0",
    "sys/bus/pci/devices/0000:00:1c.0",
    "sys/devices/pci0000:00/0000:00:01.0/driver",
    "sys/devices/pci0000:00/0000:00:01.0/iommu_group",
    "sys/devices/pci0000:00/0000:00:01.0/virtfn0",
    "sys/devices/pci0000:00/0000:00:01.0/physfn",
    "sys/kernel/iommu_groups/1/devices/0000:00:01.0",
    "sys/class/net/eth0",
    "sys/class/net/lo",
];

const TARGETS: &[&str] = &[
    "../../../devices/pci0000:00/0000:00:01.0",
    "../../../devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
    "../../../bus/pci/drivers/e1000e",
    "../../../../kernel/iommu_groups/1",
    "../../devices/pci0000:00/0000:00:01.0/net/eth0",
    "/etc/passwd",
    "/dev/zero",
    "/proc/self/environ",
    "../../../../../../../../../../etc/shadow",
    ".",
    "..",
    "0000:00:01.0",
    "/sys/bus/pci/devices/0000:00:01.0",
    "/sys/bus/pci/devices",
    "",
];

/// Reads the next byte, or 0 when the program ends.
fn next(data: &[u8], at: &mut usize) -> u8 {
    let b = data.get(*at).copied().unwrap_or(0);
    *at += 1;
    b
}

/// The archive the bytes describe.
pub fn build_archive(data: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut at = 0;
    let mut files: Vec<String> = Vec::new();
    let mut members = 0;
    while at < data.len() && members < 256 {
        members += 1;
        let op = next(data, &mut at) % 7;
        let pick = |list: &[&str], b: u8| list[b as usize % list.len()].to_string();
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_mtime(0);
        let result = match op {
            0 => {
                let dir = pick(DIRS, next(data, &mut at));
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, &dir, std::io::empty())
            }
            1 | 2 => {
                let dir = pick(DIRS, next(data, &mut at));
                let name = pick(FILES, next(data, &mut at));
                let len = next(data, &mut at) as usize;
                let content: Vec<u8> = data.iter().skip(at).take(len).copied().collect();
                at += content.len();
                let path = format!("{dir}/{name}");
                files.push(path.clone());
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                builder.append_data(&mut header, &path, &content[..])
            }
            3 | 4 => {
                let name = pick(LINK_NAMES, next(data, &mut at));
                let target = pick(TARGETS, next(data, &mut at));
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, &name, &target)
            }
            5 => {
                // A hard link to an earlier file, or to one outside the archive.
                let name = format!(
                    "sys/devices/pci0000:00/0000:00:01.0/{}",
                    pick(FILES, next(data, &mut at))
                );
                let target = match files.get(next(data, &mut at) as usize % (files.len() + 1)) {
                    Some(f) => f.clone(),
                    None => "etc/passwd".to_string(),
                };
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                builder.append_link(&mut header, &name, &target)
            }
            _ => {
                // A file with a big declared size and little data behind it.
                let dir = pick(DIRS, next(data, &mut at));
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(u64::from(next(data, &mut at)) << 16);
                let _ = header.set_path(format!("{dir}/config"));
                header.set_cksum();
                let raw = builder.get_mut();
                let _ = raw.write_all(header.as_bytes());
                Ok(())
            }
        };
        // A name tar itself refuses (too long, not UTF-8) is skipped.
        let _ = result;
    }
    builder.into_inner().unwrap_or_default()
}

/// The harness.
pub fn snapshot_tar(data: &[u8]) -> Outcome {
    let archive = build_archive(data);
    let limits = TarLimits {
        archive_bytes: 1 << 20,
        members: 512,
        file_bytes: 64 << 10,
        total_file_bytes: 1 << 20,
    };
    let snap = match Snapshot::read_tar(&archive[..], &limits) {
        Ok(s) => s,
        Err(e) => {
            assert_short_message(&e.to_string());
            return Outcome::Rejected;
        }
    };
    let sysfs: &dyn Sysfs = &snap;
    match Inventory::read(sysfs) {
        Ok(inventory) => {
            for node in &inventory.devices.nodes {
                if let hostdev_manager::nodes::Kind::Pci { address, .. } = &node.kind {
                    let _ = device::iommu_group(sysfs, address);
                }
            }
        }
        Err(e) => assert_short_message(&e.to_string()),
    }
    // Walk what the tree offers, as a reader would, through links and loops.
    for path in [
        "/sys/bus/pci/devices",
        "/sys/class/net",
        "/sys/kernel/iommu_groups/1/devices",
    ] {
        for name in sysfs.read_dir(Path::new(path)).unwrap_or_default() {
            let p = Path::new(path).join(&name);
            let _ = sysfs.read_link(&p);
            for attr in FILES {
                if let Ok(bytes) = sysfs.read(&p.join(attr)) {
                    assert!(
                        bytes.len() <= 32 << 10,
                        "{} bytes read from {}",
                        bytes.len(),
                        p.join(attr).display()
                    );
                }
            }
        }
    }
    Outcome::Accepted
}
