//! Where things are in sysfs. Every path the engine writes to is built here, from
//! validated types only ([`PciAddress`], [`DriverName`]), so no user string ever
//! becomes part of a path. (Reads of paths found in sysfs itself, such as link
//! targets, go through [`crate::sysfs::resolve_link`].)

use std::path::PathBuf;

use pci_types::{DriverName, PciAddress};

/// `/sys/bus/pci/devices`: one link per PCI function.
pub const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// `/sys/bus/pci/drivers`: one directory per PCI driver.
pub const PCI_DRIVERS: &str = "/sys/bus/pci/drivers";
/// `/sys/bus/pci/drivers_probe`: "find a driver for this device now".
pub const DRIVERS_PROBE: &str = "/sys/bus/pci/drivers_probe";
/// `/sys/kernel/iommu_groups`.
pub const IOMMU_GROUPS: &str = "/sys/kernel/iommu_groups";
/// `/sys/class/iommu`: one entry per IOMMU unit (`dmar0`, `ivhd0`, …).
pub const CLASS_IOMMU: &str = "/sys/class/iommu";
/// `/sys/class/net`: one link per network interface.
pub const CLASS_NET: &str = "/sys/class/net";
/// `/sys/class/block`: one link per block device.
pub const CLASS_BLOCK: &str = "/sys/class/block";
/// `/sys/class/vtconsole`: the text consoles (fbcon among them).
pub const CLASS_VTCONSOLE: &str = "/sys/class/vtconsole";
/// `/sys/module`: one directory per loaded module.
pub const SYS_MODULE: &str = "/sys/module";
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

/// `/sys/bus/pci/drivers/<driver>`.
pub fn driver_dir(driver: &DriverName) -> PathBuf {
    PathBuf::from(PCI_DRIVERS).join(driver.as_str())
}

/// `/sys/bus/pci/drivers/<driver>/<attr>`.
pub fn driver_attr(driver: &DriverName, attr: &str) -> PathBuf {
    driver_dir(driver).join(attr)
}

/// `/sys/module/<module>`.
pub fn module_dir(module: &DriverName) -> PathBuf {
    PathBuf::from(SYS_MODULE).join(module.as_str())
}

/// `/sys/kernel/iommu_groups/<N>/devices`.
pub fn iommu_group_devices(group: u32) -> PathBuf {
    PathBuf::from(IOMMU_GROUPS)
        .join(group.to_string())
        .join("devices")
}
