//! Enumeration: every PCI function in sysfs, read into [`PciDevice`] the way
//! libvirt's udev node-device backend reads it.

use std::io;
use std::path::{Path, PathBuf};

use pci_types::vpd::VpdResource;
use pci_types::PciAddress;

use crate::config::{ConfigSpace, HeaderType, PciExpressInfo};
use crate::error::{Error, Result};
use crate::paths;
use crate::sysfs::{base_name, kernfs_order, resolve_link, Sysfs};

/// One PCI function as libvirt describes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PciDevice {
    /// Its address.
    pub address: PciAddress,
    /// The device's real sysfs directory, e.g. `/sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0`.
    pub sysfs_path: PathBuf,
    /// The nearest PCI function above it in the sysfs tree (`None`: libvirt's `computer`).
    pub parent: Option<PciAddress>,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Subsystem vendor id, when the kernel exposes it.
    pub subsystem_vendor: Option<u16>,
    /// Subsystem device id, when the kernel exposes it.
    pub subsystem_device: Option<u16>,
    /// Class code (class << 16 | subclass << 8 | prog-if).
    pub class: Option<u32>,
    /// The bound driver's name.
    pub driver: Option<String>,
    /// The IOMMU group and its members (self included) in the kernel's listing order.
    pub iommu_group: Option<IommuGroup>,
    /// NUMA node, when known (the kernel's -1 becomes `None`).
    pub numa_node: Option<i32>,
    /// For an SR-IOV virtual function: its physical function.
    pub physfn: Option<PciAddress>,
    /// For an SR-IOV physical function: its VF capacity and current VFs.
    pub sriov: Option<Sriov>,
    /// The header type; `None` when config space was not readable beyond 64 bytes
    /// (libvirt reads it only when privileged).
    pub header_type: Option<HeaderType>,
    /// PCI Express data; `None` for conventional PCI or an unprivileged read.
    pub pci_express: Option<PciExpressInfo>,
    /// Vital Product Data, when the `vpd` file exists and parses.
    pub vpd: Option<VpdResource>,
    /// Mediated device types offered by the device.
    pub mdev_types: Vec<MdevType>,
}

/// The ids that say which device sits at an address: recorded at detach time and
/// checked before a record is acted on, so a different card that took the slot
/// is never handed to the recorded driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Subsystem vendor id (0 when the kernel does not expose it).
    pub subsystem_vendor: u16,
    /// Subsystem device id (0 when the kernel does not expose it).
    pub subsystem_device: u16,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04x}:{:04x} (subsystem {:04x}:{:04x})",
            self.vendor, self.device, self.subsystem_vendor, self.subsystem_device
        )
    }
}

/// Reads a function's [`Identity`]. An unreadable vendor or device id reads as
/// `ffff`, as config space reads for a missing function; an absent subsystem id as 0.
pub fn read_identity(sysfs: &dyn Sysfs, address: &PciAddress) -> Identity {
    let id = |attr: &str, missing: u32| {
        hex_attr(sysfs, address, attr)
            .ok()
            .flatten()
            .unwrap_or(missing) as u16
    };
    Identity {
        vendor: id("vendor", 0xffff),
        device: id("device", 0xffff),
        subsystem_vendor: id("subsystem_vendor", 0),
        subsystem_device: id("subsystem_device", 0),
    }
}

/// An IOMMU group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IommuGroup {
    /// The group number.
    pub number: u32,
    /// Every function in the group, self included, in the kernel's listing order.
    pub members: Vec<PciAddress>,
}

/// SR-IOV physical-function data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Sriov {
    /// `sriov_totalvfs` (0 when absent).
    pub total_vfs: u32,
    /// The `virtfnN` links, in N order.
    pub virtual_functions: Vec<PciAddress>,
}

pub use crate::mdev::MdevType;

impl PciDevice {
    /// libvirt's node-device name, `pci_0000_07_10_1`.
    pub fn nodedev_name(&self) -> String {
        self.address.nodedev_name()
    }

    /// The parent's node-device name (`computer` at the root).
    pub fn parent_name(&self) -> String {
        self.parent
            .map_or_else(|| crate::COMPUTER.to_string(), |p| p.nodedev_name())
    }
}

/// Every PCI function in `/sys/bus/pci/devices`, sorted by address. Entries that are
/// not PCI addresses are ignored (libvirt logs and skips them too).
pub fn list_addresses(sysfs: &dyn Sysfs) -> Result<Vec<PciAddress>> {
    let names = sysfs
        .read_dir(Path::new(paths::PCI_DEVICES))
        .map_err(|e| Error::read(paths::PCI_DEVICES, e))?;
    let mut out: Vec<PciAddress> = names
        .iter()
        .filter_map(|n| PciAddress::from_sysfs_name(n).ok())
        .collect();
    out.sort();
    Ok(out)
}

/// Whether a function with this address exists.
pub fn exists(sysfs: &dyn Sysfs, address: &PciAddress) -> bool {
    sysfs.exists(&paths::device_dir(address))
}

/// The device's real sysfs directory (the `/sys/bus/pci/devices/<BDF>` link resolved).
pub fn sysfs_path(sysfs: &dyn Sysfs, address: &PciAddress) -> Result<PathBuf> {
    let link = paths::device_dir(address);
    match sysfs.read_link(&link) {
        Ok(target) => Ok(resolve_link(&link, &target)),
        // Not a link (a hand-made tree may use plain directories): the path itself.
        Err(e) if e.raw_os_error() == Some(22) && sysfs.is_dir(&link) => Ok(link),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NoSuchDevice {
            address: *address,
            path: link,
        }),
        Err(e) => Err(Error::read(link, e)),
    }
}

/// The parent of a sysfs directory as libvirt's udev backend finds it: walk up
/// the path to the nearest component that is itself a known PCI function.
pub fn pci_parent_of(sysfs_path: &Path, known: &dyn Fn(&PciAddress) -> bool) -> Option<PciAddress> {
    sysfs_path
        .ancestors()
        .skip(1)
        .filter_map(|p| PciAddress::from_sysfs_name(base_name(p)).ok())
        .find(|a| known(a))
}

/// The bound driver's name, from the `driver` link.
pub fn current_driver(sysfs: &dyn Sysfs, address: &PciAddress) -> Option<String> {
    let target = sysfs
        .read_link(&paths::device_attr(address, "driver"))
        .ok()?;
    let name = base_name(&target);
    (!name.is_empty()).then(|| name.to_string())
}

fn read_trimmed(sysfs: &dyn Sysfs, path: &Path) -> io::Result<Option<String>> {
    match sysfs.read(path) {
        Ok(bytes) => Ok(Some(
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\n', ' ', '\0'])
                .to_string(),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a hex attribute like `0x8086\n`, as `strtoul(…, 16)` would.
fn parse_hex(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

/// The VFs a PF has enabled now (`sriov_numvfs`; 0 for anything else).
pub(crate) fn num_vfs(sysfs: &dyn Sysfs, address: &PciAddress) -> u32 {
    read_trimmed(sysfs, &paths::device_attr(address, "sriov_numvfs"))
        .ok()
        .flatten()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// A hex attribute (`class`, `vendor`…): `None` when the file is absent.
pub(crate) fn hex_attr(sysfs: &dyn Sysfs, address: &PciAddress, attr: &str) -> Result<Option<u32>> {
    let path = paths::device_attr(address, attr);
    match read_trimmed(sysfs, &path).map_err(|e| Error::read(&path, e))? {
        None => Ok(None),
        Some(text) => parse_hex(&text)
            .map(Some)
            .ok_or_else(|| Error::parse(&path, text.as_bytes())),
    }
}

fn link_address(sysfs: &dyn Sysfs, path: &Path) -> Option<PciAddress> {
    let target = sysfs.read_link(path).ok()?;
    PciAddress::from_sysfs_name(base_name(&target)).ok()
}

/// The IOMMU group of a function, with its members in the kernel's order.
pub fn iommu_group(sysfs: &dyn Sysfs, address: &PciAddress) -> Result<Option<IommuGroup>> {
    let link = paths::device_attr(address, "iommu_group");
    let Ok(target) = sysfs.read_link(&link) else {
        return Ok(None);
    };
    let number_text = base_name(&target);
    let number: u32 = number_text
        .parse()
        .map_err(|_| Error::parse(&link, number_text.as_bytes()))?;
    let dir = paths::iommu_group_devices(number);
    let mut names = sysfs.read_dir(&dir).map_err(|e| Error::read(&dir, e))?;
    kernfs_order(&mut names);
    let members = names
        .iter()
        .filter_map(|n| PciAddress::from_sysfs_name(n).ok())
        .collect();
    Ok(Some(IommuGroup { number, members }))
}

fn sriov(sysfs: &dyn Sysfs, address: &PciAddress) -> Result<Option<Sriov>> {
    let total_path = paths::device_attr(address, "sriov_totalvfs");
    let total_vfs =
        match read_trimmed(sysfs, &total_path).map_err(|e| Error::read(&total_path, e))? {
            None => 0,
            Some(t) => t
                .parse()
                .map_err(|_| Error::parse(&total_path, t.as_bytes()))?,
        };
    let mut virtual_functions = Vec::new();
    loop {
        let link = paths::device_attr(address, &format!("virtfn{}", virtual_functions.len()));
        if !sysfs.exists(&link) {
            break;
        }
        let vf = link_address(sysfs, &link)
            .ok_or_else(|| Error::parse(&link, b"not a PCI device link"))?;
        virtual_functions.push(vf);
    }
    // libvirt flags a PF when it has VFs or can have them.
    Ok(
        (total_vfs > 0 || !virtual_functions.is_empty()).then_some(Sriov {
            total_vfs,
            virtual_functions,
        }),
    )
}

fn mdev_types(sysfs: &dyn Sysfs, address: &PciAddress) -> Result<Vec<MdevType>> {
    crate::mdev::read_types(sysfs, &paths::device_dir(address))
}

fn vpd(sysfs: &dyn Sysfs, address: &PciAddress) -> Option<VpdResource> {
    let bytes = sysfs.read(&paths::device_attr(address, "vpd")).ok()?;
    pci_types::vpd::parse(&bytes)
}

/// Reads everything libvirt reports about one function.
///
/// `is_known` says whether an address is a PCI function in this tree (used to find
/// the parent); pass the set from [`list_addresses`] when reading many.
pub fn read_device(
    sysfs: &dyn Sysfs,
    address: &PciAddress,
    is_known: &dyn Fn(&PciAddress) -> bool,
) -> Result<PciDevice> {
    let sysfs_path = sysfs_path(sysfs, address)?;
    let vendor = hex_attr(sysfs, address, "vendor")?.unwrap_or(0xffff) as u16;
    let device = hex_attr(sysfs, address, "device")?.unwrap_or(0xffff) as u16;
    let subsystem_vendor = hex_attr(sysfs, address, "subsystem_vendor")?.map(|v| v as u16);
    let subsystem_device = hex_attr(sysfs, address, "subsystem_device")?.map(|v| v as u16);
    let class = hex_attr(sysfs, address, "class")?;

    let numa_path = paths::device_attr(address, "numa_node");
    let numa_node = match read_trimmed(sysfs, &numa_path).map_err(|e| Error::read(&numa_path, e))? {
        None => None,
        Some(t) => Some(
            t.parse::<i32>()
                .map_err(|_| Error::parse(&numa_path, t.as_bytes()))?,
        )
        .filter(|n| *n >= 0),
    };

    let config_bytes = sysfs
        .read(&paths::device_attr(address, "config"))
        .unwrap_or_default();
    let config = ConfigSpace::new(&config_bytes);
    // libvirt reads header type and PCIe data only when it can read all of config.
    let (header_type, pci_express) = if config.is_privileged_read() {
        (config.header_type(), config.pci_express())
    } else {
        (None, None)
    };

    Ok(PciDevice {
        address: *address,
        parent: pci_parent_of(&sysfs_path, is_known),
        sysfs_path,
        vendor,
        device,
        subsystem_vendor,
        subsystem_device,
        class,
        driver: current_driver(sysfs, address),
        iommu_group: iommu_group(sysfs, address)?,
        numa_node,
        physfn: link_address(sysfs, &paths::device_attr(address, "physfn")),
        sriov: sriov(sysfs, address)?,
        header_type,
        pci_express,
        vpd: vpd(sysfs, address),
        mdev_types: mdev_types(sysfs, address)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_attributes_parse_like_strtoul() {
        assert_eq!(parse_hex("0x8086"), Some(0x8086));
        assert_eq!(parse_hex("0x020000"), Some(0x020000));
        assert_eq!(parse_hex("8086"), Some(0x8086));
        assert_eq!(parse_hex("0xzz"), None);
    }

    #[test]
    fn parent_is_the_nearest_known_function() {
        let known = |a: &PciAddress| a.bus() == 0 || a.bus() == 7;
        let p = Path::new("/sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/0000:08:00.0");
        assert_eq!(
            pci_parent_of(p, &known),
            Some("0000:07:00.0".parse().unwrap())
        );
        let p = Path::new("/sys/devices/pci0000:00/0000:00:1c.0");
        assert_eq!(pci_parent_of(p, &known), None);
        let p = Path::new("/sys/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0");
        assert_eq!(
            pci_parent_of(p, &known),
            Some("0000:00:02.0".parse().unwrap())
        );
    }
}
