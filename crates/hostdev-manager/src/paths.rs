//! Where things are in sysfs. Every path the engine touches is built here, from
//! validated types only, so no user string ever becomes part of a path.

use std::path::PathBuf;

use pci_types::PciAddress;

/// `/sys/bus/pci/devices`: one link per PCI function.
pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// `/sys/bus/pci/drivers`: one directory per PCI driver.
pub const PCI_DRIVERS: &str = "/sys/bus/pci/drivers";
/// `/sys/kernel/iommu_groups`.
pub const IOMMU_GROUPS: &str = "/sys/kernel/iommu_groups";
/// `/sys/class/net`: one link per network interface.
pub const CLASS_NET: &str = "/sys/class/net";
/// `/sys/devices/virtual/dmi/id`: the firmware's description of the machine.
pub const DMI_ID: &str = "/sys/devices/virtual/dmi/id";

/// `/sys/bus/pci/devices/<BDF>`.
pub fn device_dir(address: &PciAddress) -> PathBuf {
    PathBuf::from(PCI_DEVICES).join(address.sysfs_name())
}

/// `/sys/bus/pci/devices/<BDF>/<attr>`.
pub fn device_attr(address: &PciAddress, attr: &str) -> PathBuf {
    device_dir(address).join(attr)
}

/// `/sys/kernel/iommu_groups/<N>/devices`.
pub fn iommu_group_devices(group: u32) -> PathBuf {
    PathBuf::from(IOMMU_GROUPS)
        .join(group.to_string())
        .join("devices")
}
