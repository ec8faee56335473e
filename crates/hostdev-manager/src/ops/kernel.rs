//! The kernel's PCI binding interface, one value per write: each knows its sysfs
//! attribute, what it writes, and the words libvirt uses when it fails
//! (`virpci.c`). Kernel rules: `Documentation/ABI/testing/sysfs-bus-pci`.

use std::fmt;
use std::path::PathBuf;

use pci_types::{DriverName, PciAddress};

use super::error::errno_text;
use crate::paths;
use crate::state::DeviceId;

/// One write to the kernel's PCI binding interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelWrite {
    /// `devices/B/driver_override` ← driver: only that driver may bind the device.
    SetOverride {
        /// The device.
        device: PciAddress,
        /// The driver.
        driver: DriverName,
    },
    /// `devices/B/driver_override` ← `"\n"`: any matching driver may bind again (an
    /// empty write does nothing).
    ClearOverride {
        /// The device.
        device: PciAddress,
    },
    /// `devices/B/driver/unbind` ← B: unbind from whatever driver holds it.
    Unbind {
        /// The device.
        device: PciAddress,
        /// The driver it is expected to be on (for the message).
        from: String,
    },
    /// `drivers_probe` ← B: the kernel binds the first driver that takes it.
    DriversProbe {
        /// The device.
        device: PciAddress,
    },
    /// `drivers/D/new_id` ← `vvvv dddd`: D matches that id from now on, and probes
    /// every unbound device with it at once.
    NewId {
        /// The stub.
        driver: DriverName,
        /// The id.
        id: DeviceId,
    },
    /// `drivers/D/remove_id` ← `vvvv dddd`: forget a dynamic id (never unbinds).
    RemoveId {
        /// The stub.
        driver: DriverName,
        /// The id.
        id: DeviceId,
    },
    /// `drivers/pciback/new_slot` ← B: pciback may seize the device.
    NewSlot {
        /// pciback.
        driver: DriverName,
        /// The device.
        device: PciAddress,
    },
    /// `drivers/pciback/remove_slot` ← B.
    RemoveSlot {
        /// pciback.
        driver: DriverName,
        /// The device.
        device: PciAddress,
    },
    /// `drivers/D/bind` ← B: bind an unbound device to D explicitly.
    Bind {
        /// The driver.
        driver: DriverName,
        /// The device.
        device: PciAddress,
    },
    /// `drivers/D/unbind` ← B: unbind the device from D only (a bystander).
    UnbindFrom {
        /// The driver.
        driver: DriverName,
        /// The device.
        device: PciAddress,
    },
}

impl KernelWrite {
    /// The attribute written.
    pub fn path(&self) -> PathBuf {
        match self {
            Self::SetOverride { device, .. } | Self::ClearOverride { device } => {
                paths::device_attr(device, "driver_override")
            }
            Self::Unbind { device, .. } => paths::device_attr(device, "driver/unbind"),
            Self::DriversProbe { .. } => PathBuf::from(paths::DRIVERS_PROBE),
            Self::NewId { driver, .. } => paths::driver_attr(driver, "new_id"),
            Self::RemoveId { driver, .. } => paths::driver_attr(driver, "remove_id"),
            Self::NewSlot { driver, .. } => paths::driver_attr(driver, "new_slot"),
            Self::RemoveSlot { driver, .. } => paths::driver_attr(driver, "remove_slot"),
            Self::Bind { driver, .. } => paths::driver_attr(driver, "bind"),
            Self::UnbindFrom { driver, .. } => paths::driver_attr(driver, "unbind"),
        }
    }

    /// What is written, in one `write(2)`.
    pub fn data(&self) -> Vec<u8> {
        match self {
            Self::SetOverride { driver, .. } => driver.as_str().as_bytes().to_vec(),
            Self::ClearOverride { .. } => b"\n".to_vec(),
            Self::NewId { id, .. } | Self::RemoveId { id, .. } => id.to_string().into_bytes(),
            Self::Unbind { device, .. }
            | Self::DriversProbe { device }
            | Self::NewSlot { device, .. }
            | Self::RemoveSlot { device, .. }
            | Self::Bind { device, .. }
            | Self::UnbindFrom { device, .. } => device.sysfs_name().into_bytes(),
        }
    }

    /// What was attempted, in libvirt's words, for the message of a failure.
    pub fn what(&self) -> String {
        match self {
            Self::SetOverride { device, driver } => format!(
                "Failed to add driver '{driver}' to driver_override interface of PCI device '{device}'"
            ),
            Self::ClearOverride { device } => format!(
                "Failed to add driver '\\n' to driver_override interface of PCI device '{device}'"
            ),
            Self::Unbind { device, from } => {
                format!("Failed to unbind PCI device '{device}' from {from}")
            }
            Self::UnbindFrom { device, driver } => {
                format!("Failed to unbind PCI device '{device}' from {driver}")
            }
            Self::DriversProbe { device } => {
                format!("Failed to trigger a probe for PCI device '{device}'")
            }
            Self::NewId { driver, id } => format!("Failed to add PCI device ID '{id}' to {driver}"),
            Self::RemoveId { driver, id } => format!("Failed to remove PCI ID '{id}' from {driver}"),
            Self::NewSlot { driver, device } => {
                format!("Failed to add slot for PCI device '{device}' to {driver}")
            }
            Self::RemoveSlot { driver, device } => {
                format!("Failed to remove slot for PCI device '{device}' from {driver}")
            }
            Self::Bind { driver, device } => {
                format!("Failed to bind PCI device '{device}' to {driver}")
            }
        }
    }
}

/// One write made, or in a dry run planned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WriteRecord {
    /// The attribute.
    pub path: PathBuf,
    /// What was written, with control characters escaped (`\n`).
    pub data: String,
    /// The errno, when the kernel refused it.
    pub errno: Option<i32>,
    /// In a dry run: the condition under which a real run makes this write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
}

impl WriteRecord {
    /// The record of `write`, with the kernel's answer.
    pub fn of(write: &KernelWrite, errno: Option<i32>) -> Self {
        Self {
            path: write.path(),
            data: String::from_utf8_lossy(&write.data())
                .escape_debug()
                .to_string(),
            errno,
            only_if: None,
        }
    }
}

impl fmt::Display for WriteRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "write '{}' to {}", self.data, self.path.display())?;
        if let Some(e) = self.errno {
            write!(
                f,
                " -> {}",
                errno_text(&std::io::Error::from_raw_os_error(e))
            )?;
        }
        if let Some(c) = &self.only_if {
            write!(f, " (only if {c})")?;
        }
        Ok(())
    }
}
