//! Is the host using this device? Mounted filesystems, swap, device-mapper and md
//! holders, network interfaces with addresses or routes, and processes holding its
//! files open. Everything is read through [`Sysfs`], so `/proc` comes from the same
//! root as `/sys` (a snapshot has none, and the simulated kernel can fake it).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::sysfs::{base_name, resolve_link, Sysfs};

/// One reason the host needs the device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InUse {
    /// A filesystem on one of its block devices (or its 9p/virtiofs tag) is mounted.
    Mounted {
        /// The block device or tag.
        source: String,
        /// Where it is mounted.
        mountpoint: String,
    },
    /// One of its block devices is swap.
    Swap {
        /// The block device.
        device: String,
    },
    /// One of its block devices is held by device-mapper (LVM, crypt) or md.
    Holder {
        /// The block device.
        device: String,
        /// The holder (`dm-0`, `md127`).
        holder: String,
    },
    /// One of its network interfaces is up with addresses or routes.
    Interface {
        /// The interface.
        name: String,
        /// What it has.
        what: String,
    },
}

impl fmt::Display for InUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mounted { source, mountpoint } => {
                write!(f, "{source} is mounted on {mountpoint}")
            }
            Self::Swap { device } => write!(f, "{device} is in use as swap"),
            Self::Holder { device, holder } => write!(f, "{device} is held by {holder}"),
            Self::Interface { name, what } => write!(f, "interface {name} is up with {what}"),
        }
    }
}

/// A process holding one of the device's files open.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Its command name (`/proc/<pid>/comm`).
    pub command: String,
    /// The file it holds.
    pub path: PathBuf,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {} ({}) holds {}",
            self.pid,
            self.command,
            self.path.display()
        )
    }
}

fn text(sysfs: &dyn Sysfs, path: &Path) -> String {
    sysfs
        .read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// A block device provided by the PCI function (partitions included).
#[derive(Clone, Debug)]
struct Block {
    name: String,
    dev: String,
    path: PathBuf,
}

/// The head of an NVMe native-multipath namespace that a controller's hidden
/// path device (`nvme<S>c<C>n<N>`) stands for: `nvme<S>n<N>`, which lives under
/// `/sys/devices/virtual/nvme-subsystem` and holds the filesystems.
fn nvme_head(name: &str) -> Option<String> {
    let rest = name.strip_prefix("nvme")?;
    let (subsys, rest) = rest.split_once('c')?;
    let (ctrl, ns) = rest.split_once('n')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(subsys) && digits(ctrl) && digits(ns)).then(|| format!("nvme{subsys}n{ns}"))
}

/// The block devices whose sysfs path lies under `device_path` — disks behind
/// a USB controller, a SCSI or FC HBA, an NVMe controller, and their
/// partitions — and the NVMe multipath heads its controller serves.
fn blocks_under(sysfs: &dyn Sysfs, device_path: &Path) -> Vec<Block> {
    let class = Path::new("/sys/class/block");
    let all: Vec<(String, PathBuf)> = sysfs
        .read_dir(class)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| {
            let link = class.join(&name);
            let target = sysfs.read_link(&link).ok()?;
            Some((name, resolve_link(&link, &target)))
        })
        .collect();
    let block = |(name, path): &(String, PathBuf)| Block {
        dev: text(sysfs, &path.join("dev")).trim().to_string(),
        name: name.clone(),
        path: path.clone(),
    };
    let mut out: Vec<Block> = all
        .iter()
        .filter(|(_, p)| p.starts_with(device_path))
        .map(block)
        .collect();
    let heads: Vec<String> = out.iter().filter_map(|b| nvme_head(&b.name)).collect();
    for head in heads {
        for entry in &all {
            let (name, _) = entry;
            let partition = name
                .strip_prefix(head.as_str())
                .and_then(|r| r.strip_prefix('p'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if (*name == head || partition) && !out.iter().any(|b| b.name == *name) {
                out.push(block(entry));
            }
        }
    }
    out
}

/// A block device as a person should recognise it: `/dev/NAME`, and, when
/// libvirt lists its disk, that node device and how it is attached
/// (`/dev/sdc1 (partition of block_sdc_…, a USB disk)`).
fn describe(sysfs: &dyn Sysfs, b: &Block) -> String {
    let plain = format!("/dev/{}", b.name);
    let partition = sysfs.exists(&b.path.join("partition"));
    let disk_path = if partition {
        match b.path.parent() {
            Some(p) => p,
            None => return plain,
        }
    } else {
        b.path.as_path()
    };
    let Some(dev) = crate::udev::UdevDevice::read(sysfs, disk_path) else {
        return plain;
    };
    let Ok((storage, serial)) = crate::storage::read(sysfs, &dev) else {
        return plain;
    };
    let node = dev.nodedev_name(serial.as_deref());
    let path = disk_path.to_string_lossy();
    let how = match storage.bus.as_deref() {
        Some("usb") => "a USB disk",
        _ if path.contains("/rport-") => "a Fibre Channel disk",
        Some("ata") => "an ATA disk",
        Some("scsi") => "a SCSI disk",
        _ if path.contains("/nvme") => "an NVMe namespace",
        _ if storage.drive_type == "cdrom" => "a CD/DVD drive",
        _ => "a disk",
    };
    format!(
        "{plain} ({}{node}, {how})",
        if partition { "partition of " } else { "" }
    )
}

/// `mount_tag` values of virtio devices under the function (9p shares).
fn mount_tags_under(sysfs: &dyn Sysfs, device_path: &Path) -> Vec<String> {
    sysfs
        .read_dir(device_path)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.starts_with("virtio"))
        .filter_map(|e| {
            let t = text(sysfs, &device_path.join(e).join("mount_tag"));
            let t = t.trim_end_matches(['\n', '\0']).to_string();
            (!t.is_empty()).then_some(t)
        })
        .collect()
}

/// Unescapes the octal escapes of /proc/self/mountinfo (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every way the host uses the PCI function whose sysfs directory is `device_path`.
pub fn host_usage(sysfs: &dyn Sysfs, device_path: &Path) -> Vec<InUse> {
    let mut out = Vec::new();
    let mut blocks = blocks_under(sysfs, device_path);

    // Holders (dm, md) of its block devices, followed transitively: a filesystem
    // mounted from the holder also lives on this device.
    let mut i = 0;
    while i < blocks.len() {
        let b = blocks[i].clone();
        for holder in sysfs
            .read_dir(&Path::new("/sys/class/block").join(&b.name).join("holders"))
            .unwrap_or_default()
        {
            out.push(InUse::Holder {
                device: b.name.clone(),
                holder: holder.clone(),
            });
            if !blocks.iter().any(|x| x.name == holder) {
                let link = Path::new("/sys/class/block").join(&holder);
                let dev = text(sysfs, &link.join("dev")).trim().to_string();
                let path = sysfs
                    .read_link(&link)
                    .map(|t| resolve_link(&link, &t))
                    .unwrap_or(link);
                blocks.push(Block {
                    name: holder,
                    dev,
                    path,
                });
            }
        }
        i += 1;
    }

    let tags = mount_tags_under(sysfs, device_path);
    // Nothing below the device can be mounted or swapped on: skip the tables (a
    // detach of a NIC should not read every mount of the host).
    let mountinfo = if blocks.is_empty() && tags.is_empty() {
        String::new()
    } else {
        text(sysfs, Path::new("/proc/self/mountinfo"))
    };
    for line in mountinfo.lines() {
        // id parent major:minor root mountpoint options … - fstype source superoptions
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(devno), Some(mountpoint)) = (fields.get(2), fields.get(4)) else {
            continue;
        };
        let after: Vec<&str> = line
            .split(" - ")
            .nth(1)
            .map(|r| r.split(' ').collect())
            .unwrap_or_default();
        let (fstype, source) = (
            after.first().copied().unwrap_or(""),
            after.get(1).copied().unwrap_or(""),
        );
        let mountpoint = unescape(mountpoint);
        if let Some(b) = blocks.iter().find(|b| !b.dev.is_empty() && b.dev == *devno) {
            out.push(InUse::Mounted {
                source: describe(sysfs, b),
                mountpoint,
            });
        } else if matches!(fstype, "9p" | "virtiofs") && tags.iter().any(|t| t == source) {
            out.push(InUse::Mounted {
                source: format!("{fstype} share '{source}'"),
                mountpoint,
            });
        }
    }

    let swaps = if blocks.is_empty() {
        String::new()
    } else {
        text(sysfs, Path::new("/proc/swaps"))
    };
    for line in swaps.lines().skip(1) {
        let Some(file) = line.split_whitespace().next() else {
            continue;
        };
        let name = base_name(Path::new(file));
        if let Some(b) = blocks.iter().find(|b| b.name == name) {
            let described = describe(sysfs, b);
            out.push(InUse::Swap {
                device: match described.split_once(' ') {
                    Some((_, what)) => format!("{file} {what}"),
                    None => file.to_string(),
                },
            });
        }
    }

    out.extend(interfaces_in_use(sysfs, device_path));
    out
}

/// Interfaces of the function that are up and have IPv4 routes or non-link-local
/// IPv6 addresses (a link-local address alone does not mean the host uses it).
fn interfaces_in_use(sysfs: &dyn Sysfs, device_path: &Path) -> Vec<InUse> {
    let class = Path::new("/sys/class/net");
    // Read once, and only when an interface of the device is up.
    let routes = std::cell::OnceCell::new();
    let inet6 = std::cell::OnceCell::new();
    let mut out = Vec::new();
    for name in sysfs.read_dir(class).unwrap_or_default() {
        let link = class.join(&name);
        let Ok(target) = sysfs.read_link(&link) else {
            continue;
        };
        if !resolve_link(&link, &target).starts_with(device_path) {
            continue;
        }
        // IFF_UP is bit 0 of `flags`.
        let flags = text(sysfs, &link.join("flags"));
        let up = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
            .is_ok_and(|f| f & 1 == 1);
        if !up {
            continue;
        }
        let routes = routes.get_or_init(|| text(sysfs, Path::new("/proc/net/route")));
        let inet6 = inet6.get_or_init(|| text(sysfs, Path::new("/proc/net/if_inet6")));
        let v4 = routes
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().next() == Some(name.as_str()))
            .count();
        let v6 = inet6
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() == 6 && f[5] == name && f[3] != "20"
            })
            .count();
        if v4 > 0 || v6 > 0 {
            let mut what = Vec::new();
            if v4 > 0 {
                what.push(format!("{v4} IPv4 route(s)"));
            }
            if v6 > 0 {
                what.push(format!("{v6} IPv6 address(es)"));
            }
            out.push(InUse::Interface {
                name,
                what: what.join(" and "),
            });
        }
    }
    out
}

/// Processes holding a VFIO group's character device (`/dev/vfio/N`) open: a
/// guest (or any VFIO user) that would lose the device mid-flight.
pub fn vfio_group_holders(sysfs: &dyn Sysfs, group: u32) -> Vec<Holder> {
    processes_holding(sysfs, &[PathBuf::from(format!("/dev/vfio/{group}"))])
}

/// Processes holding any of `files` open (from `/proc/<pid>/fd`), sorted by pid.
pub fn processes_holding(sysfs: &dyn Sysfs, files: &[PathBuf]) -> Vec<Holder> {
    if files.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pid in sysfs.read_dir(Path::new("/proc")).unwrap_or_default() {
        let Ok(pid_num) = pid.parse::<u32>() else {
            continue;
        };
        let fd_dir = Path::new("/proc").join(&pid).join("fd");
        for fd in sysfs.read_dir(&fd_dir).unwrap_or_default() {
            let Ok(target) = sysfs.read_link(&fd_dir.join(&fd)) else {
                continue;
            };
            if files.contains(&target)
                && !out
                    .iter()
                    .any(|h: &Holder| h.pid == pid_num && h.path == target)
            {
                let command = text(sysfs, &Path::new("/proc").join(&pid).join("comm"))
                    .trim()
                    .to_string();
                out.push(Holder {
                    pid: pid_num,
                    command,
                    path: target,
                });
            }
        }
    }
    out.sort_by_key(|h| h.pid);
    out
}

/// The device files a host driver hands out for the function: DRM nodes, block
/// devices, the nodes of every device libvirt lists below it (USB devices'
/// `/dev/bus/usb/…`, SCSI generic nodes, disks behind an HBA or a USB
/// controller), and (for NVIDIA's driver) `/dev/nvidia*`.
pub fn device_files(sysfs: &dyn Sysfs, device_path: &Path, driver: Option<&str>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = sysfs
        .read_dir(&device_path.join("drm"))
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.starts_with("card") || n.starts_with("renderD"))
        .map(|n| Path::new("/dev/dri").join(n))
        .collect();
    files.extend(
        blocks_under(sysfs, device_path)
            .into_iter()
            .map(|b| Path::new("/dev").join(b.name)),
    );
    if let Ok(all) = crate::nodes::enumerate(sysfs, crate::nodes::Detail::Names) {
        files.extend(
            all.nodes
                .iter()
                .filter(|n| n.sysfs_path.starts_with(device_path))
                .filter_map(|n| n.devnode.as_ref().map(PathBuf::from)),
        );
    }
    files.sort();
    files.dedup();
    if driver == Some("nvidia") {
        for n in sysfs.read_dir(Path::new("/dev")).unwrap_or_default() {
            if n.starts_with("nvidia") {
                files.push(Path::new("/dev").join(n));
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree with a disk behind a USB controller (partition mounted), one
    /// behind an FC HBA (whole disk mounted), and an NVMe namespace under
    /// native multipath (its head's partition is swap).
    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let p = |rel: &str| root.path().join(rel.trim_start_matches('/'));
        let file = |rel: &str, v: &str| {
            std::fs::create_dir_all(p(rel).parent().unwrap()).unwrap();
            std::fs::write(p(rel), v).unwrap();
        };
        let link = |rel: &str, target: &str| {
            std::fs::create_dir_all(p(rel).parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, p(rel)).unwrap();
        };
        let disk = |dir: &str, name: &str, devt: &str| {
            file(
                &format!("{dir}/uevent"),
                &format!(
                    "MAJOR={}\nMINOR={}\nDEVNAME={name}\nDEVTYPE=disk\n",
                    &devt[..devt.find(':').unwrap()],
                    &devt[devt.find(':').unwrap() + 1..]
                ),
            );
            file(&format!("{dir}/dev"), &format!("{devt}\n"));
            link(&format!("{dir}/subsystem"), "/sys/class/block");
            link(&format!("/sys/class/block/{name}"), dir);
        };
        let part = |dir: &str, name: &str, devt: &str| {
            file(&format!("{dir}/dev"), &format!("{devt}\n"));
            file(&format!("{dir}/partition"), "1\n");
            link(&format!("/sys/class/block/{name}"), dir);
        };
        let usb = "/sys/devices/pci0000:00/0000:00:0b.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0/block/sdc";
        disk(usb, "sdc", "8:32");
        part(&format!("{usb}/sdc1"), "sdc1", "8:33");
        file(
            "/run/udev/data/b8:32",
            "E:ID_TYPE=disk\nE:ID_BUS=usb\nE:ID_SERIAL=QEMU_HARDDISK_rigusb0-0:0\n",
        );
        let fc = "/sys/devices/pci0000:00/0000:00:03.2/0000:06:00.1/host12/rport-12:0-0/target12:0:0/12:0:0:0/block/sdb";
        disk(fc, "sdb", "8:16");
        file(
            "/run/udev/data/b8:16",
            "E:ID_TYPE=disk\nE:ID_BUS=scsi\nE:ID_SERIAL=3600\n",
        );
        disk(
            "/sys/devices/pci0000:00/0000:00:15.0/0000:0a:00.0/nvme/nvme1/nvme1c1n1",
            "nvme1c1n1",
            "259:3",
        );
        let head = "/sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1";
        disk(head, "nvme1n1", "259:1");
        part(&format!("{head}/nvme1n1p1"), "nvme1n1p1", "259:2");
        file(
            "/proc/self/mountinfo",
            "22 1 8:33 / /mnt/usb rw - ext2 /dev/sdc1 rw\n23 1 8:16 / /srv/fc rw - xfs /dev/sdb rw\n",
        );
        file(
            "/proc/swaps",
            "Filename Type Size Used Priority\n/dev/nvme1n1p1 partition 1 0 -2\n",
        );
        root
    }

    #[test]
    fn disks_behind_a_usb_controller_an_hba_and_an_nvme_controller_are_in_use() {
        let root = tree();
        let sysfs = crate::RealSysfs::with_root(root.path());
        let used = |dev: &str| -> Vec<String> {
            host_usage(&sysfs, Path::new(dev))
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            used("/sys/devices/pci0000:00/0000:00:0b.0"),
            ["/dev/sdc1 (partition of block_sdc_QEMU_HARDDISK_rigusb0_0_0, a USB disk) is mounted on /mnt/usb"]
        );
        assert_eq!(
            used("/sys/devices/pci0000:00/0000:00:03.2/0000:06:00.1"),
            ["/dev/sdb (block_sdb_3600, a Fibre Channel disk) is mounted on /srv/fc"]
        );
        // The root port above the HBA: the same disk.
        assert_eq!(used("/sys/devices/pci0000:00/0000:00:03.2").len(), 1);
        assert_eq!(
            used("/sys/devices/pci0000:00/0000:00:15.0/0000:0a:00.0"),
            ["/dev/nvme1n1p1 (partition of block_nvme1n1, an NVMe namespace) is in use as swap"]
        );
        assert!(used("/sys/devices/pci0000:00/0000:00:01.0").is_empty());
        // The device nodes a detach reports holders of include the disks'.
        let files = device_files(
            &sysfs,
            Path::new("/sys/devices/pci0000:00/0000:00:0b.0"),
            None,
        );
        assert!(files.contains(&PathBuf::from("/dev/sdc1")), "{files:?}");
        assert_eq!(nvme_head("nvme1c1n1").as_deref(), Some("nvme1n1"));
        assert_eq!(nvme_head("nvme1n1"), None);
        assert_eq!(nvme_head("nvme1c1n1p1"), None);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\04"), "/end\\04");
    }
}
