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
    /// Link speed in Mb/s, read only while the link is up (as libvirt does).
    pub link_speed: Option<u32>,
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
        attr("speed")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|s| *s > 0 && *s != i64::from(u32::MAX))
            .map(|s| s as u32)
    } else {
        None
    };
    let wireless = attr("uevent").is_some_and(|u| u.lines().any(|l| l == "DEVTYPE=wlan"));
    Some(NetInterface {
        name: name.to_string(),
        parent: pci_parent_of(&sysfs_path, is_pci),
        sysfs_path,
        mac,
        link_state,
        link_speed,
        subtype: if wireless { "80211" } else { "80203" },
    })
}
