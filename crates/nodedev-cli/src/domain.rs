//! What a libvirt domain document asks for: its PCI host devices, the stub each
//! one wants, and the IOMMU groups our metadata names. Shared by `nodedev apply`
//! and the hook, so both read a domain the same way.

use anyhow::{bail, Context, Result};
use hostdev_manager::stub::DriverRequest;
use nodedev_xml::{DomainHostdevs, DomainPciDevice};
use pci_types::{DriverName, PciAddress};

/// The stub a hostdev asks for: `model=` names a driver, `name='vfio'` (or none)
/// the VFIO default, `xen` pciback, `kvm` libvirt's error.
pub fn hostdev_driver(d: &DomainPciDevice) -> Result<DriverRequest> {
    if let Some(model) = &d.driver_model {
        return Ok(DriverRequest::Named(DriverName::new(model)?));
    }
    Ok(DriverRequest::parse(d.driver_name.as_deref())?)
}

/// One device a domain needs detached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The PCI function.
    pub address: PciAddress,
    /// The stub it asks for.
    pub driver: DriverRequest,
    /// Whether the endpoints of its whole IOMMU group go with it (metadata `<group>`).
    pub whole_group: bool,
}

/// Which hostdevs a domain plan takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hostdevs {
    /// Every PCI hostdev (`nodedev apply`).
    All,
    /// Only the unmanaged ones (the hook: libvirt detaches managed ones itself).
    UnmanagedOnly,
}

/// What a domain document asks for, in order: its PCI hostdevs and hostdev
/// interfaces, minus our metadata's skips, then the metadata's devices and groups.
///
/// Everything is checked before anything is done: a bad `<driver>` fails the whole
/// plan, and a device named twice with two different stubs is refused (which one
/// would the domain get?), while one named twice alike is taken once.
pub fn plan(doc: &DomainHostdevs, which: Hostdevs) -> Result<Vec<Step>> {
    let skip = &doc.metadata.skip;
    let mut steps: Vec<Step> = Vec::new();
    for d in doc
        .devices
        .iter()
        .filter(|d| !(which == Hostdevs::UnmanagedOnly && d.managed))
        .filter(|d| !skip.contains(&d.address))
    {
        let driver = hostdev_driver(d).with_context(|| format!("hostdev {}", d.address))?;
        steps.push(Step {
            address: d.address,
            driver,
            whole_group: false,
        });
    }
    steps.extend(doc.metadata.devices.iter().map(|a| Step {
        address: *a,
        driver: DriverRequest::Vfio,
        whole_group: false,
    }));
    steps.extend(doc.metadata.groups.iter().map(|a| Step {
        address: *a,
        driver: DriverRequest::Vfio,
        whole_group: true,
    }));
    let mut unique: Vec<Step> = Vec::with_capacity(steps.len());
    for step in steps {
        match unique.iter_mut().find(|s| s.address == step.address) {
            None => unique.push(step),
            Some(seen) if seen.driver != step.driver => bail!(
                "{} is named twice with different drivers ({} and {}): the domain must name one",
                step.address,
                describe(&seen.driver),
                describe(&step.driver)
            ),
            Some(seen) => seen.whole_group |= step.whole_group,
        }
    }
    Ok(unique)
}

fn describe(d: &DriverRequest) -> String {
    match d {
        DriverRequest::Vfio => "vfio".to_string(),
        DriverRequest::Xen => "xen".to_string(),
        DriverRequest::Named(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(hostdevs: &str) -> DomainHostdevs {
        nodedev_xml::domain_hostdevs(&format!(
            "<domain type='kvm'><name>vm</name><devices>{hostdevs}</devices></domain>"
        ))
        .unwrap()
    }

    fn hostdev(slot: u8, driver: &str) -> String {
        format!("<hostdev mode='subsystem' type='pci' managed='no'>{driver}<source><address domain='0x0000' bus='0x00' slot='{slot:#04x}' function='0x0'/></source></hostdev>")
    }

    #[test]
    fn a_device_named_twice_with_two_drivers_is_refused() {
        let doc = domain(&format!(
            "{}{}",
            hostdev(1, ""),
            hostdev(1, "<driver name='vfio' model='pci-stub'/>")
        ));
        let e = plan(&doc, Hostdevs::All).unwrap_err().to_string();
        assert!(
            e.contains("named twice with different drivers (vfio and pci-stub)"),
            "{e}"
        );
    }

    #[test]
    fn a_device_named_twice_alike_is_taken_once() {
        let doc = domain(&format!("{}{}", hostdev(1, ""), hostdev(1, "")));
        assert_eq!(plan(&doc, Hostdevs::All).unwrap().len(), 1);
    }
}
