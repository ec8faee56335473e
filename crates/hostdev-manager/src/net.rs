//! Network interfaces, which libvirt lists as `net_<ifname>_<mac>` node devices
//! under the PCI function that provides them.

use std::path::{Path, PathBuf};

use pci_types::PciAddress;

use crate::device::pci_parent_of;
use crate::paths;
use crate::sysfs::{resolve_link, Sysfs};

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetInterface {
    /// Interface name, e.g. `enp1s0`.
    pub name: String,
    /// Its real sysfs directory, e.g. `/sys/devices/pci0000:00/0000:00:01.0/net/enp1s0`.
    pub sysfs_path: PathBuf,
    /// The PCI function it belongs to (`None`: libvirt's `computer`, e.g. `lo`).
    pub parent: Option<PciAddress>,
    /// The `address` attribute (MAC), as the kernel prints it.
    pub mac: String,
    /// `operstate` when it is one of the states libvirt names (`unknown` included).
    pub link_state: Option<String>,
    /// Link speed in Mb/s, read only while the link is up (as libvirt does); the
    /// kernel's `-1` (unknown) is libvirt's 4294967295.
    pub link_speed: Option<u32>,
    /// Offload features, libvirt's names in its order (see [`crate::net_features`]):
    /// asked of the kernel on a live system, read from the snapshot's
    /// [`FEATURES_FILE`](crate::net_features::FEATURES_FILE) under `--root`.
    pub features: Vec<String>,
    /// `80211` for wireless (udev DEVTYPE=wlan), else `80203`.
    pub subtype: &'static str,
}

impl NetInterface {
    /// libvirt's node-device name: `net_` + ifname + `_` + MAC, every character that
    /// is not an ASCII letter or digit replaced by `_`.
    pub fn nodedev_name(&self) -> String {
        crate::sanitize_name(&format!("net_{}_{}", self.name, self.mac))
    }

    /// The parent's node-device name.
    pub fn parent_name(&self) -> String {
        self.parent
            .map_or_else(|| crate::COMPUTER.to_string(), |p| p.nodedev_name())
    }
}

/// The `operstate` values libvirt's virNetDevIfState knows, index 0 being "unknown".
const LINK_STATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];

fn read_text(sysfs: &dyn Sysfs, path: &Path) -> Option<String> {
    let b = sysfs.read(path).ok()?;
    Some(
        String::from_utf8_lossy(&b)
            .trim_end_matches(['\n', '\0'])
            .to_string(),
    )
}

/// Every interface in `/sys/class/net`, sorted by name.
pub fn list_interfaces(
    sysfs: &dyn Sysfs,
    is_pci: &dyn Fn(&PciAddress) -> bool,
) -> Vec<NetInterface> {
    let Ok(mut names) = sysfs.read_dir(Path::new(paths::CLASS_NET)) else {
        return Vec::new();
    };
    names.sort();
    names
        .into_iter()
        .filter_map(|name| read_interface(sysfs, &name, is_pci))
        .collect()
}

/// Reads one interface; `None` if it vanished or is not a directory link.
pub fn read_interface(
    sysfs: &dyn Sysfs,
    name: &str,
    is_pci: &dyn Fn(&PciAddress) -> bool,
) -> Option<NetInterface> {
    if name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let link = Path::new(paths::CLASS_NET).join(name);
    let sysfs_path = match sysfs.read_link(&link) {
        Ok(t) => resolve_link(&link, &t),
        Err(_) if sysfs.is_dir(&link) => link.clone(),
        Err(_) => return None,
    };
    let attr = |a: &str| read_text(sysfs, &link.join(a));
    let mac = attr("address").unwrap_or_default();
    // libvirt reads speed only when the link is up (drivers report nonsense otherwise).
    let state = attr("operstate").unwrap_or_default();
    let link_state = LINK_STATES.contains(&state.as_str()).then(|| state.clone());
    let link_speed = if state == "up" {
        attr("speed").as_deref().and_then(libvirt_speed)
    } else {
        None
    };
    let features = if sysfs.is_live() {
        crate::net_features::live_features(sysfs, name)
    } else {
        attr(crate::net_features::FEATURES_FILE)
            .map(|f| {
                f.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let wireless = attr("uevent").is_some_and(|u| u.lines().any(|l| l == "DEVTYPE=wlan"));
    Some(NetInterface {
        name: name.to_string(),
        parent: pci_parent_of(&sysfs_path, is_pci),
        sysfs_path,
        mac,
        link_state,
        link_speed,
        features,
        subtype: if wireless { "80211" } else { "80203" },
    })
}

/// The `speed` attribute as libvirt reads it (`virStrToLong_ui`, which takes a
/// negative number modulo 2^32: the kernel's `-1`, SPEED_UNKNOWN, as virtio NICs
/// report it, is 4294967295); 0 and what does not parse are no speed.
pub fn libvirt_speed(text: &str) -> Option<u32> {
    let v: i64 = text.trim().parse().ok()?;
    let v = if v < 0 {
        u32::try_from(-v).ok().map(|m| m.wrapping_neg())?
    } else {
        u32::try_from(v).ok()?
    };
    (v != 0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::{libvirt_speed, read_interface};
    use crate::net_features::FEATURES_FILE;
    use crate::RealSysfs;

    #[test]
    fn a_snapshot_gives_its_captured_features_and_speed() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sys/devices/virtual/net/eth0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(root.path().join("sys/class/net")).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/virtual/net/eth0",
            root.path().join("sys/class/net/eth0"),
        )
        .unwrap();
        for (f, v) in [
            ("address", "52:54:00:12:34:56\n"),
            ("operstate", "up\n"),
            ("speed", "-1\n"),
            (FEATURES_FILE, "rx\ntx\nsg"),
        ] {
            std::fs::write(dir.join(f), v).unwrap();
        }
        let sysfs = RealSysfs::with_root(root.path());
        let i = read_interface(&sysfs, "eth0", &|_| false).unwrap();
        assert_eq!(i.features, ["rx", "tx", "sg"]);
        assert_eq!(i.link_speed, Some(u32::MAX));
        // Without the file (an older snapshot): no features, as before.
        std::fs::remove_file(dir.join(FEATURES_FILE)).unwrap();
        let i = read_interface(&sysfs, "eth0", &|_| false).unwrap();
        assert!(i.features.is_empty());
    }

    #[test]
    fn speed_as_libvirt_reads_it() {
        assert_eq!(libvirt_speed("1000\n"), Some(1000));
        assert_eq!(libvirt_speed("-1\n"), Some(4_294_967_295));
        assert_eq!(libvirt_speed("-2"), Some(4_294_967_294));
        assert_eq!(libvirt_speed("0"), None);
        assert_eq!(libvirt_speed("4294967295"), Some(u32::MAX));
        assert_eq!(libvirt_speed("4294967296"), None);
        assert_eq!(libvirt_speed("-4294967296"), None);
        assert_eq!(libvirt_speed("fast"), None);
    }
}
