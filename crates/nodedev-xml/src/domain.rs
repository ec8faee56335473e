//! The parts of a libvirt domain document that concern PCI host devices:
//! `<hostdev mode='subsystem' type='pci'>` and `<interface type='hostdev'>`, and
//! nodedev-shim's own metadata element. Everything else in the domain is ignored.
//!
//! The metadata, in `<metadata>`, in the namespace [`HOOK_NAMESPACE`]:
//!
//! ```xml
//! <shim:hostdevs xmlns:shim="https://nodedev-shim.dev/xmlns/hook/1">
//!   <shim:device address='0000:01:00.1'/>            <!-- also detach this function -->
//!   <shim:group address='0000:01:00.0'/>             <!-- and its whole IOMMU group -->
//!   <shim:skip address='0000:02:00.0'/>              <!-- leave this hostdev alone -->
//! </shim:hostdevs>
//! ```

use pci_types::PciAddress;

use crate::parse::{build_tree_with, shorten, Element, Keep, TreeRules, DOMAIN_MAX_DEPTH};
use crate::XmlError;

/// The XML namespace of nodedev-shim's domain metadata.
pub const HOOK_NAMESPACE: &str = "https://nodedev-shim.dev/xmlns/hook/1";

/// One PCI function a domain uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainPciDevice {
    /// The host address (`<source><address …/>`).
    pub address: PciAddress,
    /// `managed='yes'`: libvirt detaches it itself.
    pub managed: bool,
    /// `<driver name='vfio|kvm|xen'/>`.
    pub driver_name: Option<String>,
    /// `<driver model='…'/>` (libvirt ≥ 10): an explicit (variant) driver.
    pub driver_model: Option<String>,
    /// It came from `<interface type='hostdev'>`.
    pub interface: bool,
}

/// What nodedev-shim's metadata adds.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HookMetadata {
    /// Functions to detach too.
    pub devices: Vec<PciAddress>,
    /// Functions whose whole IOMMU group is to be detached.
    pub groups: Vec<PciAddress>,
    /// Hostdevs to leave alone.
    pub skip: Vec<PciAddress>,
}

/// The PCI side of a domain document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainHostdevs {
    /// `<name>`.
    pub name: String,
    /// PCI hostdevs and hostdev interfaces, in document order.
    pub devices: Vec<DomainPciDevice>,
    /// nodedev-shim's metadata, if any.
    pub metadata: HookMetadata,
}

/// The local part of a qualified name (`shim:hostdevs` → `hostdevs`).
fn local_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(_, local)| local)
}

/// An attribute that binds a prefix (or the default namespace) to ours.
fn binds_our_namespace(name: &str, value: &str) -> bool {
    (name == "xmlns" || name.starts_with("xmlns:")) && value == HOOK_NAMESPACE
}

/// What the domain reader keeps: the root, its `<name>`, the PCI hostdevs and
/// hostdev interfaces with their `<driver>` and `<source><address>`, and in
/// `<metadata>` the `hostdevs` elements that bind our namespace with their
/// items' `address`. Everything else (the rest of the domain, other
/// applications' metadata of any size) is read, checked and dropped.
const DOMAIN: TreeRules = TreeRules {
    max_depth: DOMAIN_MAX_DEPTH,
    keep: |ancestors, name| {
        let path: Vec<&str> = ancestors.iter().map(|e| e.name.as_str()).collect();
        match (path.as_slice(), name) {
            ([], _) => Keep::Some(|_, _| false),
            (["domain"], "name" | "devices" | "metadata") => Keep::Some(|_, _| false),
            (["domain", "devices"], "hostdev" | "interface") => Keep::All,
            (["domain", "devices", _], "driver" | "source") => Keep::All,
            (["domain", "devices", _, "source"], "address") => Keep::All,
            (["domain", "metadata"], n) if local_name(n) == "hostdevs" => {
                Keep::IfAny(binds_our_namespace)
            }
            (["domain", "metadata", _], _) => Keep::Some(|name, _| name == "address"),
            _ => Keep::Skip,
        }
    },
};

/// What `nodedev detach --xml` reads of one `<hostdev>` or `<interface>`.
const HOSTDEV: TreeRules = TreeRules {
    max_depth: DOMAIN_MAX_DEPTH,
    keep: |ancestors, name| match (ancestors.len(), name) {
        (0, _) => Keep::All,
        (1, "driver" | "source") => Keep::All,
        (2, "address") if ancestors[1].name == "source" => Keep::All,
        _ => Keep::Skip,
    },
};

fn invalid(msg: impl Into<String>) -> XmlError {
    XmlError::Invalid(msg.into())
}

/// An unsigned number as libvirt's `virXMLPropUInt` with base 0 reads it:
/// `0x…` hex, a leading `0` octal, otherwise decimal.
fn base0(s: &str) -> Option<u32> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') {
        u32::from_str_radix(&t[1..], 8).ok()
    } else {
        t.parse().ok()
    }
}

/// `<address domain bus slot function/>` with libvirt's checks and messages.
fn pci_address(el: &Element, what: &str) -> Result<PciAddress, XmlError> {
    let field = |n: &str| -> Result<u32, XmlError> {
        let v = el
            .attr(n)
            .ok_or_else(|| invalid(format!("{what}: <address> lacks '{n}'")))?;
        base0(v).ok_or_else(|| {
            invalid(format!(
                "{what}: <address {n}='{}'> is not a number",
                shorten(v)
            ))
        })
    };
    let (domain, bus, slot, function) = (
        field("domain")?,
        field("bus")?,
        field("slot")?,
        field("function")?,
    );
    if bus > 0xff {
        return Err(invalid(format!(
            "{what}: Invalid PCI address bus='0x{bus:x}', must be <= 0xFF"
        )));
    }
    if slot > 0x1f {
        return Err(invalid(format!(
            "{what}: Invalid PCI address slot='0x{slot:x}', must be <= 0x1F"
        )));
    }
    if function > 7 {
        return Err(invalid(format!(
            "{what}: Invalid PCI address function=0x{function:x}, must be <= 7"
        )));
    }
    if domain == 0 && bus == 0 && slot == 0 {
        return Err(invalid(format!(
            "{what}: Invalid PCI address 0000:00:00, at least one of domain, bus, or slot must be > 0"
        )));
    }
    PciAddress::new(domain, bus as u8, slot as u8, function as u8)
        .map_err(|e| invalid(e.to_string()))
}

fn child<'a>(el: &'a Element, name: &str) -> Option<&'a Element> {
    el.children.iter().find(|c| c.name == name)
}

/// The address in `<source>`, for a hostdev or a hostdev interface.
fn source_address(el: &Element, what: &str) -> Result<PciAddress, XmlError> {
    let source = child(el, "source").ok_or_else(|| invalid(format!("{what} has no <source>")))?;
    let address = child(source, "address")
        .ok_or_else(|| invalid(format!("{what} has no <source><address>")))?;
    pci_address(address, what)
}

/// The prefix (`""` for the default namespace) bound to our namespace on an element.
fn our_prefix(el: &Element) -> Option<String> {
    el.attrs.iter().find_map(|(k, v)| {
        (v == HOOK_NAMESPACE).then(|| {
            k.strip_prefix("xmlns:")
                .map_or_else(String::new, str::to_string)
        })
    })
}

fn metadata(meta: &Element) -> Result<HookMetadata, XmlError> {
    let mut out = HookMetadata::default();
    for el in &meta.children {
        let (prefix, local) = el.name.split_once(':').unwrap_or(("", el.name.as_str()));
        if local != "hostdevs" || our_prefix(el).as_deref() != Some(prefix) {
            continue;
        }
        for item in &el.children {
            let local = local_name(&item.name);
            let what = format!("metadata <{}>", shorten(&item.name));
            let address = item
                .attr("address")
                .ok_or_else(|| invalid(format!("{what} lacks 'address'")))?;
            let address: PciAddress = address
                .parse()
                .map_err(|e| invalid(format!("{what}: {e}")))?;
            match local {
                "device" => out.devices.push(address),
                "group" => out.groups.push(address),
                "skip" => out.skip.push(address),
                other => {
                    return Err(invalid(format!(
                        "metadata: unknown element <{}> (device, group or skip)",
                        shorten(other)
                    )))
                }
            }
        }
    }
    Ok(out)
}

/// Reads one `<hostdev mode='subsystem' type='pci'>` or `<interface
/// type='hostdev'>` element on its own (`nodedev detach --xml`).
pub fn hostdev_element(xml: &str) -> Result<DomainPciDevice, XmlError> {
    let el = build_tree_with(xml, &HOSTDEV)?;
    let is_pci_hostdev = el.name == "hostdev" && el.attr("type") == Some("pci");
    let is_hostdev_interface = el.name == "interface" && el.attr("type") == Some("hostdev");
    if !(is_pci_hostdev || is_hostdev_interface) {
        return Err(invalid(format!(
            "<{}> is not a PCI <hostdev> or an <interface type='hostdev'>",
            shorten(&el.name)
        )));
    }
    let driver = child(&el, "driver");
    Ok(DomainPciDevice {
        address: source_address(&el, &format!("<{}>", shorten(&el.name)))?,
        managed: el.attr("managed") == Some("yes"),
        driver_name: driver.and_then(|d| d.attr("name")).map(str::to_string),
        driver_model: driver.and_then(|d| d.attr("model")).map(str::to_string),
        interface: is_hostdev_interface,
    })
}

/// Reads the PCI host devices of a domain document (the document libvirt hands
/// its hooks on standard input). Fails on a document that is not well-formed, is
/// not a `<domain>`, or has a PCI hostdev whose address libvirt would reject.
pub fn domain_hostdevs(xml: &str) -> Result<DomainHostdevs, XmlError> {
    let root = build_tree_with(xml, &DOMAIN)?;
    if root.name != "domain" {
        return Err(invalid(format!(
            "the root element is <{}>, not <domain>",
            shorten(&root.name)
        )));
    }
    let name = child(&root, "name")
        .map(|n| n.text.trim().to_string())
        .unwrap_or_default();
    let mut devices = Vec::new();
    if let Some(devs) = child(&root, "devices") {
        for el in &devs.children {
            let managed = el.attr("managed") == Some("yes");
            let driver = child(el, "driver");
            let driver_name = driver.and_then(|d| d.attr("name")).map(str::to_string);
            let driver_model = driver.and_then(|d| d.attr("model")).map(str::to_string);
            let is_pci_hostdev = el.name == "hostdev"
                && el.attr("mode") == Some("subsystem")
                && el.attr("type") == Some("pci");
            let is_hostdev_interface = el.name == "interface" && el.attr("type") == Some("hostdev");
            if !(is_pci_hostdev || is_hostdev_interface) {
                continue;
            }
            let what = if is_pci_hostdev {
                "<hostdev type='pci'>"
            } else {
                "<interface type='hostdev'>"
            };
            devices.push(DomainPciDevice {
                address: source_address(el, what)?,
                managed,
                driver_name,
                driver_model,
                interface: is_hostdev_interface,
            });
        }
    }
    let metadata = match child(&root, "metadata") {
        Some(m) => metadata(m)?,
        None => HookMetadata::default(),
    };
    Ok(DomainHostdevs {
        name,
        devices,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPU: &str = r#"<domain type='kvm'>
  <name>win11</name>
  <metadata>
    <shim:hostdevs xmlns:shim="https://nodedev-shim.dev/xmlns/hook/1">
      <shim:group address='0000:01:00.0'/>
      <shim:skip address='0000:05:00.0'/>
    </shim:hostdevs>
    <other:thing xmlns:other="urn:x"><other:device address='0000:09:00.0'/></other:thing>
  </metadata>
  <devices>
    <disk type='file' device='disk'><source file='/x.img'/></disk>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <driver name='vfio'/>
      <source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0' bus='2' slot='0' function='0'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>
    <interface type='hostdev' managed='no'>
      <driver name='vfio' model='mlx5_vfio_pci'/>
      <source><address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='02'/></source>
    </interface>
  </devices>
</domain>"#;

    #[test]
    fn reads_hostdevs_interfaces_and_metadata() {
        let d = domain_hostdevs(GPU).unwrap();
        assert_eq!(d.name, "win11");
        let a: Vec<String> = d.devices.iter().map(|x| x.address.to_string()).collect();
        assert_eq!(a, ["0000:01:00.0", "0000:02:00.0", "0000:03:10.2"]);
        assert!(!d.devices[0].managed && d.devices[1].managed && d.devices[2].interface);
        assert_eq!(d.devices[2].driver_model.as_deref(), Some("mlx5_vfio_pci"));
        assert_eq!(d.metadata.groups, vec!["0000:01:00.0".parse().unwrap()]);
        assert_eq!(d.metadata.skip, vec!["0000:05:00.0".parse().unwrap()]);
        assert!(
            d.metadata.devices.is_empty(),
            "other namespaces are ignored"
        );
    }

    #[test]
    fn rejects_bad_documents_with_a_reason() {
        for (xml, needle) in [
            ("<domain><name>x</name>", "malformed XML"),
            ("<network/>", "not <domain>"),
            (
                "<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x100' slot='0' function='0'/></source></hostdev></devices></domain>",
                "must be <= 0xFF",
            ),
            (
                "<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0' slot='0' function='0'/></source></hostdev></devices></domain>",
                "at least one of domain, bus, or slot",
            ),
            ("<domain><devices><hostdev mode='subsystem' type='pci'/></devices></domain>", "has no <source>"),
            ("<!DOCTYPE domain [<!ENTITY x 'y'>]><domain/>", "DOCTYPE"),
        ] {
            let e = domain_hostdevs(xml).unwrap_err().to_string();
            assert!(e.contains(needle), "{xml}: {e}");
        }
    }
}
