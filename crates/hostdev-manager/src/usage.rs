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
}

/// The block devices whose sysfs path lies under `device_path`.
fn blocks_under(sysfs: &dyn Sysfs, device_path: &Path) -> Vec<Block> {
    let class = Path::new("/sys/class/block");
    let mut out = Vec::new();
    for name in sysfs.read_dir(class).unwrap_or_default() {
        let link = class.join(&name);
        let Ok(target) = sysfs.read_link(&link) else {
            continue;
        };
        if resolve_link(&link, &target).starts_with(device_path) {
            let dev = text(sysfs, &link.join("dev")).trim().to_string();
            out.push(Block { name, dev });
        }
    }
    out
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
                let dev = text(
                    sysfs,
                    &Path::new("/sys/class/block").join(&holder).join("dev"),
                )
                .trim()
                .to_string();
                blocks.push(Block { name: holder, dev });
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
                source: format!("/dev/{}", b.name),
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
        if blocks.iter().any(|b| b.name == name) {
            out.push(InUse::Swap {
                device: file.to_string(),
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
/// devices, and (for NVIDIA's driver) `/dev/nvidia*`.
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

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\04"), "/end\\04");
    }
}
