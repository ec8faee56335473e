//! Network interfaces, which libvirt lists as `net_<ifname>_<mac>` node devices
//! under the device that provides them (a PCI function, a USB interface, or
//! `computer` for virtual ones).
//!
//! As libvirt's `udevGetDeviceType` and `udevProcessNetworkInterface`: an
//! interface whose uevent names a `DEVTYPE` other than `wlan` (a bridge, VLAN,
//! bond…) is not listed, nor one whose `operstate` is missing or not a state
//! libvirt names.

use std::path::{Path, PathBuf};

use crate::paths;
use crate::sysfs::{resolve_link, Sysfs};

/// One network interface.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetInterface {
    /// Interface name, e.g. `enp1s0`.
    pub name: String,
    /// Its real sysfs directory, e.g. `/sys/devices/pci0000:00/0000:00:01.0/net/enp1s0`.
    pub sysfs_path: PathBuf,
    /// The parent's node-device name: the nearest listed device above it
    /// (`computer` for virtual interfaces such as `lo`); set by
    /// [`crate::nodes::enumerate`].
    pub parent: String,
    /// The `address` attribute (MAC), as the kernel prints it; empty when there
    /// is none.
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
        if self.mac.is_empty() {
            // libvirt's name has no suffix when the address is empty.
            return crate::sanitize_name(&format!("net_{}", self.name));
        }
        crate::sanitize_name(&format!("net_{}_{}", self.name, self.mac))
    }

    /// The parent's node-device name.
    pub fn parent_name(&self) -> String {
        self.parent.clone()
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

/// Every interface in `/sys/class/net` libvirt lists, sorted by name, with
/// their offload features; parents are left `computer` (the registry,
/// [`crate::nodes::enumerate`], sets them).
pub fn list_interfaces(sysfs: &dyn Sysfs) -> Vec<NetInterface> {
    let Ok(mut names) = sysfs.read_dir(Path::new(paths::CLASS_NET)) else {
        return Vec::new();
    };
    names.sort();
    names
        .into_iter()
        .filter_map(|name| read_interface(sysfs, &name, true).ok())
        .collect()
}

/// Reads one interface (`features`: also its offload features, which cost an
/// ioctl each on a live system); `Err` says why libvirt does not list it.
pub fn read_interface(
    sysfs: &dyn Sysfs,
    name: &str,
    features: bool,
) -> Result<NetInterface, String> {
    if name.contains('/') || name == "." || name == ".." || name.is_empty() {
        return Err("not an interface name".into());
    }
    let link = Path::new(paths::CLASS_NET).join(name);
    let sysfs_path = match sysfs.read_link(&link) {
        Ok(t) => resolve_link(&link, &t),
        Err(_) if sysfs.is_dir(&link) => link.clone(),
        Err(_) => return Err("vanished".into()),
    };
    let attr = |a: &str| read_text(sysfs, &link.join(a));
    let uevent = sysfs.read(&link.join("uevent")).unwrap_or_default();
    let devtype = crate::udev::parse_uevent(&uevent)
        .into_iter()
        .rev()
        .find(|(k, _)| k == b"DEVTYPE")
        .map(|(_, v)| v);
    let wireless = match devtype.as_deref() {
        None => false,
        Some(b"wlan") => true,
        Some(other) => {
            return Err(format!(
                "DEVTYPE={} (libvirt lists only wired and wlan interfaces)",
                crate::udev::lossy(other)
            ))
        }
    };
    // libvirt's udevGetStringSysfsAttr: control characters stripped, empty
    // is none (and the name then has no address part).
    let mac = crate::udev::sysattr(sysfs, &link, "address")
        .and_then(crate::udev::libvirt_string)
        .unwrap_or_default();
    // libvirt reads speed only when the link is up (drivers report nonsense otherwise).
    let state = attr("operstate").ok_or("no operstate")?;
    if !LINK_STATES.contains(&state.as_str()) {
        return Err(format!("operstate '{state}' is not one libvirt knows"));
    }
    let link_speed = if state == "up" {
        attr("speed").as_deref().and_then(libvirt_speed)
    } else {
        None
    };
    let features = if !features {
        Vec::new()
    } else if sysfs.is_live() {
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
    Ok(NetInterface {
        name: name.to_string(),
        parent: crate::COMPUTER.to_string(),
        sysfs_path,
        mac,
        link_state: Some(state),
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
        let i = read_interface(&sysfs, "eth0", true).unwrap();
        assert_eq!(i.features, ["rx", "tx", "sg"]);
        assert_eq!(i.link_speed, Some(u32::MAX));
        // Without the file (an older snapshot): no features, as before.
        std::fs::remove_file(dir.join(FEATURES_FILE)).unwrap();
        let i = read_interface(&sysfs, "eth0", true).unwrap();
        assert!(i.features.is_empty());
        // libvirt lists no bridge, and no interface with a state it cannot read.
        std::fs::write(dir.join("uevent"), "DEVTYPE=bridge\nINTERFACE=eth0\n").unwrap();
        assert!(read_interface(&sysfs, "eth0", true).is_err());
        std::fs::write(dir.join("uevent"), "DEVTYPE=wlan\nINTERFACE=eth0\n").unwrap();
        assert_eq!(
            read_interface(&sysfs, "eth0", true).unwrap().subtype,
            "80211"
        );
        std::fs::write(dir.join("operstate"), "sideways\n").unwrap();
        assert!(read_interface(&sysfs, "eth0", true).is_err());
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
