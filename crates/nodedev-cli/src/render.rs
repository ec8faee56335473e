//! The glue between the engine's view of a device and libvirt's XML model.

use std::path::Path;

use anyhow::{Context, Result};
use hostdev_manager::config::HeaderType;
use hostdev_manager::pci_ids::PciIds;
use hostdev_manager::{device, system, Inventory, NetInterface, PciDevice, Sysfs, SystemInfo};
use nodedev_xml::{
    BridgeHeader, Capability, IdName, IommuGroup, MdevType, NetCapability, NetLink, NodeDevice,
    PciCapability, PciExpress, SystemCapability, VirtFunctions,
};
use pci_types::PciAddress;

use crate::lookup::{self, Found};

/// Vendor and product names (none when no pci.ids is installed, as libpciaccess).
pub struct Names {
    ids: Option<PciIds>,
}

impl Names {
    /// Loads the database at `path`, if any.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let ids = match path {
            None => None,
            Some(p) => {
                Some(PciIds::load(p).with_context(|| format!("failed to read {}", p.display()))?)
            }
        };
        Ok(Self { ids })
    }

    fn vendor(&self, vendor: u16) -> Option<String> {
        self.ids.as_ref()?.vendor_name(vendor).map(str::to_string)
    }

    fn product(&self, vendor: u16, device: u16) -> Option<String> {
        self.ids
            .as_ref()?
            .device_name(vendor, device)
            .map(str::to_string)
    }
}

/// The XML document of a device, as `virsh nodedev-dumpxml` prints it.
pub fn device_xml(sysfs: &dyn Sysfs, found: &Found, names: &Names) -> Result<String> {
    let doc = match found {
        Found::Computer => computer(&system::read_system(sysfs)),
        Found::Pci(address) => {
            let known = lookup::pci_set(sysfs)?;
            let dev = device::read_device(sysfs, address, &|a: &PciAddress| known.contains(a))?;
            pci(&dev, names)
        }
        Found::Net(iface) => net(iface),
    };
    Ok(doc.to_xml())
}

/// Every device's document, in virsh's list order (for `dumpxml --all`).
pub fn inventory_xml(inventory: &Inventory, names: &Names) -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = std::iter::once(computer(&inventory.system))
        .chain(inventory.pci.iter().map(|d| pci(d, names)))
        .chain(inventory.net.iter().map(net))
        .map(|d| (d.name.clone(), d.to_xml()))
        .collect();
    docs.sort_by(|a, b| crate::lookup::virsh_name_order(&a.0, &b.0));
    docs
}

fn computer(info: &SystemInfo) -> NodeDevice {
    NodeDevice {
        name: hostdev_manager::COMPUTER.to_string(),
        path: None,
        devnodes: Vec::new(),
        parent: None,
        driver: None,
        capabilities: vec![Capability::System(SystemCapability {
            product: info.product_name.clone(),
            hardware: nodedev_xml::SystemHardware {
                vendor: info.hardware_vendor.clone(),
                version: info.hardware_version.clone(),
                serial: info.hardware_serial.clone(),
                uuid: info.hardware_uuid.clone(),
            },
            firmware: nodedev_xml::SystemFirmware {
                vendor: info.firmware_vendor.clone(),
                version: info.firmware_version.clone(),
                release_date: info.firmware_release_date.clone(),
            },
        })],
    }
}

/// Maps an enumerated PCI function onto libvirt's `<device>` with a `pci` capability.
pub fn pci(dev: &PciDevice, names: &Names) -> NodeDevice {
    let a = dev.address;
    let cap = PciCapability {
        class: dev.class,
        domain: a.domain(),
        bus: u32::from(a.bus()),
        slot: u32::from(a.slot()),
        function: u32::from(a.function()),
        product: IdName {
            id: u32::from(dev.device),
            name: names.product(dev.vendor, dev.device),
        },
        vendor: IdName {
            id: u32::from(dev.vendor),
            name: names.vendor(dev.vendor),
        },
        phys_function: dev.physfn,
        virt_functions: dev.sriov.as_ref().map(|s| VirtFunctions {
            max_count: (s.total_vfs > 0).then_some(s.total_vfs),
            addresses: s.virtual_functions.clone(),
        }),
        header: match dev.header_type {
            Some(HeaderType::PciBridge) => Some(BridgeHeader::PciBridge),
            Some(HeaderType::CardbusBridge) => Some(BridgeHeader::CardbusBridge),
            _ => None,
        },
        mdev_types: dev
            .mdev_types
            .iter()
            .map(|t| MdevType {
                id: t.id.clone(),
                name: t.name.clone(),
                device_api: t.device_api.clone(),
                available_instances: t.available_instances,
            })
            .collect(),
        vpd: dev.vpd.clone(),
        iommu_group: dev.iommu_group.as_ref().map(|g| IommuGroup {
            number: g.number,
            addresses: g.members.clone(),
        }),
        numa_node: dev.numa_node,
        pci_express: dev.pci_express.map(|e| PciExpress {
            cap: e.link.map(|l| l.0),
            sta: e.link.map(|l| l.1),
        }),
    };
    NodeDevice {
        name: dev.nodedev_name(),
        path: Some(dev.sysfs_path.display().to_string()),
        devnodes: Vec::new(),
        parent: Some(dev.parent_name()),
        driver: dev.driver.clone(),
        capabilities: vec![Capability::Pci(Box::new(cap))],
    }
}

fn net(iface: &NetInterface) -> NodeDevice {
    NodeDevice {
        name: iface.nodedev_name(),
        path: Some(iface.sysfs_path.display().to_string()),
        devnodes: Vec::new(),
        parent: Some(iface.parent_name()),
        driver: None,
        capabilities: vec![Capability::Net(NetCapability {
            interface: iface.name.clone(),
            address: Some(iface.mac.clone()),
            link: (iface.link_speed.is_some() || iface.link_state.is_some()).then(|| NetLink {
                speed: iface.link_speed,
                state: iface.link_state.clone(),
            }),
            features: iface.features.clone(),
            subtype: Some(iface.subtype.to_string()),
        })],
    }
}
