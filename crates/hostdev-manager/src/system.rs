//! The `computer` node device: the machine as its firmware (DMI) describes it.

use std::path::Path;

use crate::paths;
use crate::sysfs::Sysfs;

/// What libvirt's `system` capability shows, from `/sys/devices/virtual/dmi/id`.
/// Serial and UUID are readable by root only; absent values are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SystemInfo {
    /// `product_name`.
    pub product_name: Option<String>,
    /// `sys_vendor`.
    pub hardware_vendor: Option<String>,
    /// `product_version`.
    pub hardware_version: Option<String>,
    /// `product_serial`.
    pub hardware_serial: Option<String>,
    /// `product_uuid`.
    pub hardware_uuid: Option<String>,
    /// `bios_vendor`.
    pub firmware_vendor: Option<String>,
    /// `bios_version`.
    pub firmware_version: Option<String>,
    /// `bios_date`.
    pub firmware_release_date: Option<String>,
}

/// Reads the DMI attributes; missing or unreadable ones stay `None`.
pub fn read_system(sysfs: &dyn Sysfs) -> SystemInfo {
    let attr = |name: &str| {
        let bytes = sysfs.read(&Path::new(paths::DMI_ID).join(name)).ok()?;
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        (!text.is_empty()).then_some(text)
    };
    SystemInfo {
        product_name: attr("product_name"),
        hardware_vendor: attr("sys_vendor"),
        hardware_version: attr("product_version"),
        hardware_serial: attr("product_serial"),
        hardware_uuid: attr("product_uuid"),
        firmware_vendor: attr("bios_vendor"),
        firmware_version: attr("bios_version"),
        firmware_release_date: attr("bios_date"),
    }
}
