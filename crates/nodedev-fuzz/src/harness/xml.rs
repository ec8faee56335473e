//! The node-device XML parser and writer.

use nodedev_xml::{
    ApCardCapability, ApMatrixCapability, ApQueueCapability, BridgeHeader, Capability, CcwAddress,
    CssCapability, DevNode, DevNodeKind, DrmCapability, FcHost, FcRemotePort, IdName, IommuGroup,
    MdevCapability, MdevType, NetCapability, NetLink, NodeDevice, PciCapability, PciExpress,
    RemovableMedia, ScsiCapability, ScsiGenericCapability, ScsiHostCapability,
    ScsiTargetCapability, StorageCapability, SystemCapability, SystemFirmware, SystemHardware,
    UsbDeviceCapability, UsbInterfaceCapability, VdpaCapability, VirtFunctions, VportOps, XmlError,
    DRM_TYPES, NET_FEATURES, NET_LINK_STATES,
};
use pci_types::vpd::{VpdCustomField, VpdReadOnly, VpdReadWrite, VpdResource};
use pci_types::{LinkSpeed, PciAddress, PciExpressLink};

use super::{assert_short_message, assert_xml_chars, has_raw_whitespace_exception};
use crate::gen::Source;
use crate::Outcome;

/// Checks what the writer made of `dev` and returns the model it reads back as:
/// no forbidden character, well-formed (only a schema-level refusal is
/// allowed), and, once read, a fixed point: it writes, reads and writes again
/// to the same model and bytes.
fn check_written(dev: &NodeDevice) -> Option<NodeDevice> {
    let xml = dev.to_xml();
    assert_xml_chars(&xml);
    let again = match nodedev_xml::parse(&xml) {
        Ok(d) => d,
        Err(XmlError::Invalid(msg)) => {
            assert_short_message(&msg);
            return None;
        }
        Err(e) => panic!("the writer made a document that is not well-formed: {e}\n{xml}"),
    };
    let xml2 = again.to_xml();
    let third = nodedev_xml::parse(&xml2)
        .unwrap_or_else(|e| panic!("a document read and written again fails: {e}\n{xml2}"));
    assert_eq!(third, again, "not a fixed point:\n{xml2}");
    assert_eq!(third.to_xml(), xml2, "not a fixed point");
    Some(again)
}

/// `nodedev_xml::parse` on the bytes (as UTF-8; others are refused before the
/// parser, as the CLI refuses them). A document it accepts is written, read back
/// to the same model and written to the same bytes (a document with a carriage
/// return in text or a tab or line feed in an attribute value, which XML reads
/// back as line feed and space as libvirt's output does, must be stable from its
/// second writing). A refusal has a short message.
pub fn node_device_xml(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    match nodedev_xml::parse(text) {
        Ok(dev) => {
            let xml = dev.to_xml();
            let again = check_written(&dev).unwrap_or_else(|| {
                panic!("a document the parser accepted writes one it refuses:\n{xml}")
            });
            if !has_raw_whitespace_exception(&xml) {
                assert_eq!(again, dev, "read back differently:\n{xml}");
                assert_eq!(again.to_xml(), xml, "written differently the second time");
            }
            Outcome::Accepted
        }
        Err(e) => {
            assert_short_message(&e.to_string());
            Outcome::Rejected
        }
    }
}

fn address(src: &mut Source) -> PciAddress {
    let (domain, bus, slot, function) = (src.number(), src.byte(), src.byte(), src.byte());
    PciAddress::new(domain, bus, slot % 32, function % 8).expect("in range")
}

/// Free text: anything, often with characters XML forbids or escapes.
fn text(src: &mut Source) -> String {
    src.string(
        12,
        &["Intel Corporation", "e1000e", "computer", "a<b>&'\"", ""],
    )
}

fn opt_text(src: &mut Source) -> Option<String> {
    src.option(text)
}

const VPD_CHARS: &[char] = &[
    'A', 'z', '0', ' ', '-', '_', ',', '.', ':', ';', '=', '"', '>', '&', '<', ']', '~',
];

fn vpd_text(src: &mut Source) -> String {
    let len = src.below(10);
    (0..len).map(|_| *src.pick(VPD_CHARS)).collect()
}

fn custom(src: &mut Source) -> VpdCustomField {
    VpdCustomField {
        index: *src.pick(&['0', '9', 'A', 'F', 'Y', 'Z', '\'', '\0']),
        value: vpd_text(src),
    }
}

fn pci(src: &mut Source) -> PciCapability {
    PciCapability {
        class: src.option(|s| s.u32() >> s.below(33).min(31)),
        domain: src.number(),
        bus: src.number(),
        slot: src.number(),
        function: src.number(),
        product: IdName {
            id: src.number(),
            name: opt_text(src),
        },
        vendor: IdName {
            id: src.number(),
            name: opt_text(src),
        },
        phys_function: src.option(address),
        virt_functions: src.option(|s| VirtFunctions {
            max_count: s.option(Source::number),
            addresses: s.list(3, address),
        }),
        header: src.option(|s| *s.pick(&[BridgeHeader::PciBridge, BridgeHeader::CardbusBridge])),
        mdev_types: mdev_types(src),
        vpd: src.option(|s| VpdResource {
            name: vpd_text(s),
            read_only: s.option(|s| VpdReadOnly {
                change_level: s.option(vpd_text),
                manufacture_id: s.option(vpd_text),
                part_number: s.option(vpd_text),
                serial_number: s.option(vpd_text),
                vendor_fields: s.list(3, custom),
            }),
            read_write: s.option(|s| VpdReadWrite {
                asset_tag: s.option(vpd_text),
                vendor_fields: s.list(2, custom),
                system_fields: s.list(2, custom),
            }),
        }),
        iommu_group: src.option(|s| IommuGroup {
            number: s.number(),
            addresses: if s.below(8) == 0 {
                Vec::new()
            } else {
                let mut a = vec![address(s)];
                a.extend(s.list(2, address));
                a
            },
        }),
        numa_node: src.option(|s| s.u32() as i32),
        pci_express: src.option(|s| {
            let link = |s: &mut Source| PciExpressLink {
                port: s.option(Source::number),
                speed: s.option(|s| LinkSpeed::from_code(s.byte() % 8)).flatten(),
                width: s.number(),
            };
            PciExpress {
                cap: s.option(link),
                sta: s.option(link),
            }
        }),
    }
}

fn mdev_types(src: &mut Source) -> Vec<MdevType> {
    src.list(2, |s| MdevType {
        id: text(s),
        name: opt_text(s),
        device_api: s.mostly(8, &["vfio-pci", "vfio-ccw", "vfio-ap"]),
        available_instances: s.number(),
    })
}

fn ccw(src: &mut Source) -> CcwAddress {
    CcwAddress {
        cssid: src.number() % 0x100,
        ssid: src.number() % 5,
        devno: src.number(),
    }
}

fn wwn(src: &mut Source) -> String {
    src.mostly(16, &["2000f4e9d4eb02c9", "0x9d73bc45f0e21a86"])
}

fn u64n(src: &mut Source) -> u64 {
    u64::from(src.number()) << (src.below(4) * 16)
}

/// One of the capabilities of libvirt's other udev classes.
fn class_capability(src: &mut Source) -> Capability {
    match src.below(16) {
        0 => Capability::UsbDevice(UsbDeviceCapability {
            bus: src.number(),
            device: src.number(),
            product: IdName {
                id: src.number(),
                name: opt_text(src),
            },
            vendor: IdName {
                id: src.number(),
                name: opt_text(src),
            },
        }),
        1 => Capability::Usb(UsbInterfaceCapability {
            number: src.number(),
            class: src.number(),
            subclass: src.number(),
            protocol: src.number(),
            description: opt_text(src),
        }),
        2 => Capability::ScsiHost(ScsiHostCapability {
            host: src.number(),
            unique_id: src.option(Source::number),
            fc_host: src.option(|s| FcHost {
                wwnn: wwn(s),
                wwpn: wwn(s),
                fabric_wwn: s.option(wwn),
            }),
            vport_ops: src.option(|s| VportOps {
                max_vports: s.number(),
                vports: s.number(),
            }),
        }),
        3 => Capability::ScsiTarget(ScsiTargetCapability {
            target: src.mostly(12, &["target0:0:0"]),
            fc_remote_port: src.option(|s| FcRemotePort {
                rport: s.mostly(12, &["rport-1:0-0"]),
                wwpn: wwn(s),
            }),
        }),
        4 => Capability::Scsi(ScsiCapability {
            host: src.number(),
            bus: src.number(),
            target: src.number(),
            lun: src.number(),
            kind: src.option(|s| s.mostly(8, &["disk", "cdrom"])),
        }),
        5 => Capability::Storage(Box::new(StorageCapability {
            block: src.mostly(12, &["/dev/sda"]),
            bus: opt_text(src),
            drive_type: opt_text(src),
            model: opt_text(src),
            vendor: opt_text(src),
            serial: opt_text(src),
            removable: src.option(|s| RemovableMedia {
                media_available: s.bool(),
                media_size: u64n(s),
                media_label: opt_text(s),
            }),
            size: u64n(src),
            logical_block_size: u64n(src),
            num_blocks: u64n(src),
            hotpluggable: src.bool(),
        })),
        6 => Capability::ScsiGeneric(ScsiGenericCapability {
            char_dev: src.mostly(8, &["/dev/sg0"]),
        }),
        7 => Capability::Drm(DrmCapability {
            kind: src.mostly(8, &DRM_TYPES),
        }),
        8 => Capability::Mdev(MdevCapability {
            type_id: src.mostly(8, &["i915-GVTg_V5_4"]),
            uuid: src.option(|s| s.mostly(36, &["200f228a-c80a-4d50-bfb7-f5a0e4e34045"])),
            parent_addr: opt_text(src),
            iommu_group: src.number(),
            attrs: src.list(2, |s| (text(s), text(s))),
        }),
        9 => Capability::MdevTypes(mdev_types(src)),
        10 => Capability::Ccw(ccw(src)),
        11 => Capability::Css(CssCapability {
            address: ccw(src),
            channel_dev_addr: src.option(ccw),
            mdev_types: mdev_types(src),
        }),
        12 => Capability::Vdpa(VdpaCapability {
            chardev: src.option(|s| s.mostly(8, &["/dev/vhost-vdpa-0"])),
        }),
        13 => Capability::ApCard(ApCardCapability {
            adapter: src.number(),
        }),
        14 => Capability::ApQueue(ApQueueCapability {
            adapter: src.number(),
            domain: src.number(),
        }),
        _ => Capability::ApMatrix(ApMatrixCapability {
            mdev_types: mdev_types(src),
        }),
    }
}

fn capability(src: &mut Source) -> Capability {
    match src.below(4) {
        3 => class_capability(src),
        0 => Capability::System(SystemCapability {
            product: opt_text(src),
            hardware: SystemHardware {
                vendor: opt_text(src),
                version: opt_text(src),
                serial: opt_text(src),
                uuid: src.option(|s| s.mostly(36, &["4C4C4544-004E-3710-804B-C4C04F4B4E32"])),
            },
            firmware: SystemFirmware {
                vendor: opt_text(src),
                version: opt_text(src),
                release_date: opt_text(src),
            },
        }),
        1 => Capability::Pci(Box::new(pci(src))),
        _ => Capability::Net(NetCapability {
            interface: src.mostly(12, &["eth0", "wlp3s0", "a<b>&'\""]),
            address: src.option(|s| s.mostly(17, &["52:54:00:12:34:56"])),
            link: src.option(|s| NetLink {
                speed: s.option(Source::number),
                state: s.option(|s| s.mostly(4, &NET_LINK_STATES)),
            }),
            features: src.list(4, |s| s.mostly(4, &NET_FEATURES)),
            subtype: src.option(|s| s.mostly(4, &["80203", "80211"])),
        }),
    }
}

/// A node-device model built from the bytes — strings with NUL, controls,
/// quotes, `]]>` and non-ASCII in every field, numbers of any size — written
/// with `to_xml`: the output never has a character XML forbids, is always
/// well-formed (the parser may refuse it only for what libvirt's schema
/// refuses, e.g. an empty name), and once read is a fixed point of write and
/// read.
pub fn node_device_model(data: &[u8]) -> Outcome {
    let mut src = Source::new(data);
    let dev = NodeDevice {
        name: src.mostly(12, &["pci_0000_00_01_0", "computer", "a<b>&'\"\u{1b}\0x"]),
        path: opt_text(&mut src),
        devnodes: src.list(3, |s| DevNode {
            kind: if s.below(4) == 0 {
                DevNodeKind::Dev
            } else {
                DevNodeKind::Link
            },
            path: text(s),
        }),
        parent: opt_text(&mut src),
        driver: opt_text(&mut src),
        capabilities: if src.below(16) == 0 {
            Vec::new()
        } else {
            let mut caps = vec![capability(&mut src)];
            caps.extend(src.list(1, capability));
            caps
        },
    };
    match check_written(&dev) {
        Some(_) => Outcome::Accepted,
        None => Outcome::Rejected,
    }
}
