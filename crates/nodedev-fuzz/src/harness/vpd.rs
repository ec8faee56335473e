//! The binary VPD parser.

use nodedev_xml::{Capability, IdName, NodeDevice, PciCapability, XmlError};
use pci_types::vpd::{self, VpdCustomField, VpdResource};

use super::assert_xml_chars;
use crate::Outcome;

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The same bytes with the checksum of the first `RV` field set so that the
/// bytes before it sum to zero (mutations break checksums; this lets them reach
/// the field rules behind it).
fn with_checksum(data: &[u8]) -> Option<Vec<u8>> {
    let at = data.windows(2).position(|w| w == b"RV")? + 3;
    if at >= data.len() {
        return None;
    }
    let mut fixed = data.to_vec();
    let sum = fixed[..at].iter().fold(0u8, |s, b| s.wrapping_add(*b));
    fixed[at] = 0u8.wrapping_sub(sum);
    Some(fixed)
}

/// A PCI node-device document around a VPD resource.
fn document(res: &VpdResource) -> NodeDevice {
    NodeDevice {
        name: "pci_0000_01_00_0".into(),
        path: None,
        devnodes: Vec::new(),
        parent: None,
        driver: None,
        capabilities: vec![Capability::Pci(Box::new(PciCapability {
            class: None,
            domain: 0,
            bus: 1,
            slot: 0,
            function: 0,
            product: IdName { id: 1, name: None },
            vendor: IdName { id: 2, name: None },
            phys_function: None,
            virt_functions: None,
            header: None,
            mdev_types: Vec::new(),
            vpd: Some(res.clone()),
            iommu_group: None,
            numa_node: None,
            pci_express: None,
        }))],
    }
}

fn check(data: &[u8]) -> Outcome {
    let tried = vpd::try_parse(data);
    assert_eq!(
        vpd::parse(data),
        tried.clone().ok(),
        "parse and try_parse disagree"
    );
    let res = match tried {
        Ok(res) => res,
        Err(e) => {
            assert!(e.to_string().len() < 200, "{e}");
            return Outcome::Rejected;
        }
    };
    // Fields as libvirt keeps them: printable ASCII, a value at most 255 bytes
    // (one length byte), each custom index a digit or an upper-case letter.
    assert!(printable(&res.name) && res.name.len() <= 0xffff, "{res:?}");
    let mut values: Vec<&str> = Vec::new();
    let mut customs: Vec<&VpdCustomField> = Vec::new();
    if let Some(ro) = &res.read_only {
        values.extend(
            [
                &ro.change_level,
                &ro.manufacture_id,
                &ro.part_number,
                &ro.serial_number,
            ]
            .into_iter()
            .flatten()
            .map(String::as_str),
        );
        customs.extend(&ro.vendor_fields);
    }
    if let Some(rw) = &res.read_write {
        values.extend(rw.asset_tag.as_deref());
        customs.extend(&rw.vendor_fields);
        customs.extend(&rw.system_fields);
    }
    values.extend(customs.iter().map(|f| f.value.as_str()));
    for v in &values {
        assert!(printable(v) && v.len() <= 255, "{v:?} in {res:?}");
    }
    for f in &customs {
        assert!(
            f.index.is_ascii_digit() || f.index.is_ascii_uppercase(),
            "{res:?}"
        );
    }
    // Printed in a document, it is well-formed XML whatever the bytes, and the
    // document is a fixed point once read.
    let xml = document(&res).to_xml();
    assert_xml_chars(&xml);
    match nodedev_xml::parse(&xml) {
        Ok(d) => {
            let again = d.to_xml();
            assert_eq!(nodedev_xml::parse(&again).as_ref(), Ok(&d), "{again}");
        }
        // Outside libvirt's schema's VPD character set or lengths.
        Err(XmlError::Invalid(_)) => {}
        Err(e) => panic!("VPD printed as a malformed document: {e}\n{xml}"),
    }
    Outcome::Accepted
}

/// `pci_types::vpd::try_parse` on the bytes, and on the bytes with a corrected
/// checksum: `parse` agrees with it; every field is printable ASCII within
/// libvirt's lengths; printed in a node-device document it is well-formed and
/// reads back stably.
pub fn vpd(data: &[u8]) -> Outcome {
    let first = check(data);
    let fixed = with_checksum(data).map(|d| check(&d));
    if first == Outcome::Accepted || fixed == Some(Outcome::Accepted) {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}
