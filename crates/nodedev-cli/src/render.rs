//! The glue between the engine's view of a device and libvirt's XML model.

use std::path::Path;

use anyhow::{Context, Result};
use hostdev_manager::config::HeaderType;
use hostdev_manager::nodes::{Kind, Node};
use hostdev_manager::pci_ids::PciIds;
use hostdev_manager::{device, system, Inventory, NetInterface, PciDevice, Sysfs, SystemInfo};
use nodedev_xml::{
    ApCardCapability, ApMatrixCapability, ApQueueCapability, BridgeHeader, Capability, CcwAddress,
    CssCapability, DevNode, DevNodeKind, DrmCapability, FcHost, FcRemotePort, IdName, IommuGroup,
    MdevCapability, MdevType, NetCapability, NetLink, NodeDevice, PciCapability, PciExpress,
    RemovableMedia, ScsiCapability, ScsiGenericCapability, ScsiHostCapability,
    ScsiTargetCapability, StorageCapability, SystemCapability, UsbDeviceCapability,
    UsbInterfaceCapability, VdpaCapability, VirtFunctions, VportOps,
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
        Found::Device(node) => node_device(node, names),
    };
    Ok(doc.to_xml())
}

/// Every device's document, in virsh's list order (for `dumpxml --all`).
pub fn inventory_xml(inventory: &Inventory, names: &Names) -> Vec<(String, String)> {
    inventory_nodes(inventory, names)
        .iter()
        .map(|d| (d.name.clone(), d.to_xml()))
        .collect()
}

/// Every device's model, in virsh's list order: the one list of what this tool
/// enumerates (`dumpxml --all`, `check`, and `event`'s names and sysfs paths).
pub fn inventory_nodes(inventory: &Inventory, names: &Names) -> Vec<NodeDevice> {
    let mut docs: Vec<NodeDevice> = std::iter::once(computer(&inventory.system))
        .chain(
            inventory
                .devices
                .nodes
                .iter()
                .map(|n| node_device(n, names)),
        )
        .collect();
    docs.sort_by(|a, b| crate::lookup::virsh_name_order(&a.name, &b.name));
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
        mdev_types: mdev_types(&dev.mdev_types),
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

fn net(iface: &NetInterface) -> Capability {
    Capability::Net(NetCapability {
        interface: iface.name.clone(),
        address: (!iface.mac.is_empty()).then(|| iface.mac.clone()),
        link: (iface.link_speed.is_some() || iface.link_state.is_some()).then(|| NetLink {
            speed: iface.link_speed,
            state: iface.link_state.clone(),
        }),
        features: iface.features.clone(),
        subtype: Some(iface.subtype.to_string()),
    })
}

fn mdev_types(types: &[hostdev_manager::MdevType]) -> Vec<MdevType> {
    types
        .iter()
        .map(|t| MdevType {
            id: t.id.clone(),
            name: t.name.clone(),
            device_api: t.device_api.clone(),
            available_instances: t.available_instances,
        })
        .collect()
}

fn ccw(a: &hostdev_manager::s390::CcwAddress) -> CcwAddress {
    CcwAddress {
        cssid: a.cssid,
        ssid: a.ssid,
        devno: a.devno,
    }
}

/// The document of a device [`hostdev_manager::nodes`] lists (read with PCI
/// details when it is a PCI function).
pub fn node_device(node: &Node, names: &Names) -> NodeDevice {
    let capability = match &node.kind {
        Kind::Pci {
            device: Some(d), ..
        } => return pci(d, names),
        Kind::Pci { address, .. } => {
            unreachable!("{address}: a PCI function's document needs its details")
        }
        Kind::Net(i) => net(i),
        Kind::UsbDevice(u) => Capability::UsbDevice(UsbDeviceCapability {
            bus: u.bus,
            device: u.device,
            product: IdName {
                id: u.product,
                name: u.product_name.clone(),
            },
            vendor: IdName {
                id: u.vendor,
                name: u.vendor_name.clone(),
            },
        }),
        Kind::Usb(u) => Capability::Usb(UsbInterfaceCapability {
            number: u.number,
            class: u.class,
            subclass: u.subclass,
            protocol: u.protocol,
            description: None,
        }),
        Kind::ScsiHost(h) => Capability::ScsiHost(ScsiHostCapability {
            host: h.host,
            unique_id: h.unique_id.map(|u| u as u32),
            fc_host: h.fc_host.as_ref().map(|f| FcHost {
                wwnn: f.wwnn.clone(),
                wwpn: f.wwpn.clone(),
                fabric_wwn: f.fabric_wwn.clone(),
            }),
            vport_ops: h.vport_ops.as_ref().map(|v| VportOps {
                max_vports: v.max_vports as u32,
                vports: v.vports as u32,
            }),
        }),
        Kind::ScsiTarget(t) => Capability::ScsiTarget(ScsiTargetCapability {
            target: t.target.clone(),
            fc_remote_port: t.fc_remote_port.as_ref().map(|r| FcRemotePort {
                rport: r.rport.clone(),
                wwpn: r.wwpn.clone(),
            }),
        }),
        Kind::Scsi(d) => Capability::Scsi(ScsiCapability {
            host: d.host,
            bus: d.bus,
            target: d.target,
            lun: d.lun,
            kind: d.kind.clone(),
        }),
        Kind::Storage(s) => Capability::Storage(Box::new(StorageCapability {
            block: s.block.clone(),
            bus: s.bus.clone(),
            drive_type: Some(s.drive_type.clone()),
            model: s.model.clone(),
            vendor: s.vendor.clone(),
            serial: s.serial.clone(),
            removable: s.removable.then(|| RemovableMedia {
                media_available: s.media_available,
                media_size: s.media_size,
                media_label: s.media_label.clone(),
            }),
            size: s.size,
            logical_block_size: s.logical_block_size,
            num_blocks: s.num_blocks,
            hotpluggable: false,
        })),
        Kind::ScsiGeneric(g) => Capability::ScsiGeneric(ScsiGenericCapability {
            char_dev: g.char_dev.clone(),
        }),
        Kind::Drm(t) => Capability::Drm(DrmCapability {
            kind: t.as_str().to_string(),
        }),
        Kind::Mdev(m) => Capability::Mdev(MdevCapability {
            type_id: m.type_id.clone(),
            uuid: Some(m.uuid.clone()),
            parent_addr: Some(m.parent_addr.clone()),
            iommu_group: m.iommu_group,
            attrs: Vec::new(),
        }),
        Kind::MdevTypes(p) => Capability::MdevTypes(mdev_types(&p.mdev_types)),
        Kind::Ccw(a) => Capability::Ccw(ccw(a)),
        Kind::Css(c) => Capability::Css(CssCapability {
            address: ccw(&c.address),
            channel_dev_addr: c.channel_dev_addr.as_ref().map(ccw),
            mdev_types: mdev_types(&c.mdev_types),
        }),
        Kind::Vdpa(v) => Capability::Vdpa(VdpaCapability {
            chardev: v.chardev.clone(),
        }),
        Kind::ApCard(a) => Capability::ApCard(ApCardCapability { adapter: *a }),
        Kind::ApQueue(a, d) => Capability::ApQueue(ApQueueCapability {
            adapter: *a,
            domain: *d,
        }),
        Kind::ApMatrix(t) => Capability::ApMatrix(ApMatrixCapability {
            mdev_types: mdev_types(t),
        }),
    };
    let mut devnodes: Vec<DevNode> = node
        .devnode
        .iter()
        .map(|p| DevNode {
            kind: DevNodeKind::Dev,
            path: p.clone(),
        })
        .collect();
    devnodes.extend(node.devlinks.iter().map(|p| DevNode {
        kind: DevNodeKind::Link,
        path: p.clone(),
    }));
    NodeDevice {
        name: node.name.clone(),
        path: Some(node.sysfs_path.display().to_string()),
        devnodes,
        parent: Some(node.parent.clone()),
        driver: node.driver.clone(),
        capabilities: vec![capability],
    }
}
