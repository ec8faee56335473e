//! USB devices (`usb_1_1`, `usb_usb1` for root hubs) and their interfaces
//! (`usb_1_1_1_0`), as libvirt's `udevProcessUSBDevice` and
//! `udevProcessUSBInterface` read them.
//!
//! A USB device needs the udev database: its ids are `ID_VENDOR_ID` and
//! `ID_MODEL_ID`, which only udev's `usb_id` builtin sets. Without them libvirt
//! drops the device, and so does this module; its interfaces stay, under the
//! nearest device that is listed (the PCI host controller).

use crate::cnum;
use crate::sysfs::Sysfs;
use crate::udev::UdevDevice;

/// `<capability type='usb_device'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsbDevice {
    /// `BUSNUM`.
    pub bus: u32,
    /// `DEVNUM`.
    pub device: u32,
    /// `ID_VENDOR_ID` (udev database).
    pub vendor: u32,
    /// `ID_MODEL_ID` (udev database).
    pub product: u32,
    /// `ID_VENDOR_FROM_DATABASE` (hwdb), else the `manufacturer` attribute.
    pub vendor_name: Option<String>,
    /// `ID_MODEL_FROM_DATABASE` (hwdb), else the `product` attribute.
    pub product_name: Option<String>,
}

/// `<capability type='usb'>`: one interface of a USB device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsbInterface {
    /// `bInterfaceNumber`.
    pub number: u32,
    /// `bInterfaceClass`.
    pub class: u32,
    /// `bInterfaceSubClass`.
    pub subclass: u32,
    /// `bInterfaceProtocol`.
    pub protocol: u32,
}

/// Why a USB device is not listed (for `info --json` and messages).
pub const NO_IDS: &str = "no ID_VENDOR_ID/ID_MODEL_ID in the udev database";

/// A required numeric property (`udevGetUintProperty`).
fn uint_property(dev: &UdevDevice, key: &str, base: u32) -> Result<u32, String> {
    let v = dev
        .property(key)
        .ok_or_else(|| format!("no udev property {key}"))?;
    cnum::to_uint(v, base).ok_or_else(|| format!("udev property {key} is not a number"))
}

/// Reads a USB device; `Err` says why libvirt would drop it.
pub fn read_device(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<UsbDevice, String> {
    let bus = uint_property(dev, "BUSNUM", 10)?;
    let device = uint_property(dev, "DEVNUM", 10)?;
    let vendor = uint_property(dev, "ID_VENDOR_ID", 16).map_err(|_| NO_IDS.to_string())?;
    let vendor_name = dev
        .property_text("ID_VENDOR_FROM_DATABASE")
        .or_else(|| dev.string_sysattr(sysfs, "manufacturer"));
    let product = uint_property(dev, "ID_MODEL_ID", 16).map_err(|_| NO_IDS.to_string())?;
    let product_name = dev
        .property_text("ID_MODEL_FROM_DATABASE")
        .or_else(|| dev.string_sysattr(sysfs, "product"));
    Ok(UsbDevice {
        bus,
        device,
        vendor,
        product,
        vendor_name,
        product_name,
    })
}

/// An optional numeric attribute (`udevGetUintSysfsAttr`): absent is 0, a
/// value that does not parse drops the device.
pub(crate) fn uint_attr(
    sysfs: &dyn Sysfs,
    dev: &UdevDevice,
    name: &str,
    base: u32,
) -> Result<u32, String> {
    match dev.sysattr(sysfs, name) {
        None => Ok(0),
        Some(v) => cnum::to_uint(&v, base).ok_or_else(|| format!("{name} is not a number")),
    }
}

/// Reads a USB interface.
pub fn read_interface(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<UsbInterface, String> {
    Ok(UsbInterface {
        number: uint_attr(sysfs, dev, "bInterfaceNumber", 16)?,
        class: uint_attr(sysfs, dev, "bInterfaceClass", 16)?,
        subclass: uint_attr(sysfs, dev, "bInterfaceSubClass", 16)?,
        protocol: uint_attr(sysfs, dev, "bInterfaceProtocol", 16)?,
    })
}
