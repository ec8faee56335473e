//! What the engine reads about a device before it decides anything.

use std::path::PathBuf;

use pci_types::PciAddress;

use super::error::{DeviceState, OpError};
use crate::config::{ConfigSpace, HeaderType};
use crate::device::{self, Identity, IommuGroup};
use crate::paths;
use crate::stub::{stub_kind, StubKind};
use crate::sysfs::Sysfs;

/// A device as the operations see it, read under its lock.
#[derive(Clone, Debug)]
pub(crate) struct DeviceFacts {
    pub address: PciAddress,
    pub identity: Identity,
    /// The device's real sysfs directory.
    pub sysfs_path: PathBuf,
    /// The bound driver.
    pub driver: Option<String>,
    /// `None` when config space is not readable.
    pub header_type: Option<HeaderType>,
    /// VFs enabled now (`sriov_numvfs`).
    pub num_vfs: u32,
    pub group: Option<IommuGroup>,
    /// The kernel has `driver_override` (Linux ≥ 3.16).
    pub has_override_file: bool,
    /// `driver_override`, when set.
    pub driver_override: Option<String>,
    /// pciback lists the device in its `slots` (a `new_slot`, or pciback's own when
    /// it seized the device by override): it seizes the device at the next probe.
    pub pciback_slot: bool,
}

impl DeviceFacts {
    pub fn read(sysfs: &dyn Sysfs, address: PciAddress) -> Result<Self, OpError> {
        if !device::exists(sysfs, &address) {
            return Err(OpError::NotFound { address });
        }
        let config = sysfs
            .read(&paths::device_attr(&address, "config"))
            .unwrap_or_default();
        let override_path = paths::device_attr(&address, "driver_override");
        let has_override_file = sysfs.exists(&override_path);
        Ok(Self {
            address,
            identity: device::read_identity(sysfs, &address),
            sysfs_path: device::sysfs_path(sysfs, &address)?,
            driver: device::current_driver(sysfs, &address),
            header_type: ConfigSpace::new(&config).header_type(),
            num_vfs: device::num_vfs(sysfs, &address),
            group: device::iommu_group(sysfs, &address)?,
            has_override_file,
            driver_override: has_override_file
                .then(|| read_override(sysfs, &address))
                .flatten(),
            pciback_slot: pciback_lists(sysfs, &address),
        })
    }

    pub fn is_bridge(&self) -> bool {
        self.header_type.is_some_and(HeaderType::is_bridge)
    }

    /// How the rules treat its current driver (`None`: unbound).
    pub fn driver_kind(&self) -> Option<StubKind> {
        self.driver.as_deref().map(stub_kind)
    }

    /// On a driver that is not a stub: the host's own.
    pub fn on_host_driver(&self) -> bool {
        self.driver_kind() == Some(StubKind::Other)
    }

    pub fn is_on(&self, driver: &str) -> bool {
        self.driver.as_deref() == Some(driver)
    }
}

fn read_override(sysfs: &dyn Sysfs, address: &PciAddress) -> Option<String> {
    sysfs
        .read(&paths::device_attr(address, "driver_override"))
        .ok()
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\n')
                .to_string()
        })
        .filter(|o| o != "(null)")
}

/// Whether pciback's `slots` lists the device (`%04x:%02x:%02x.%d` per line).
fn pciback_lists(sysfs: &dyn Sysfs, address: &PciAddress) -> bool {
    let slots = paths::driver_attr(&pciback(), "slots");
    sysfs.read(&slots).is_ok_and(|b| {
        String::from_utf8_lossy(&b)
            .lines()
            .any(|l| l.trim() == address.sysfs_name())
    })
}

/// Xen's stub, as sysfs names its driver.
pub(crate) fn pciback() -> pci_types::DriverName {
    pci_types::DriverName::new(crate::stub::PCIBACK).expect("valid")
}

/// A device's binding as it is now.
pub(crate) fn device_state(sysfs: &dyn Sysfs, address: &PciAddress) -> DeviceState {
    DeviceState {
        driver: device::current_driver(sysfs, address),
        driver_override: read_override(sysfs, address),
    }
}
