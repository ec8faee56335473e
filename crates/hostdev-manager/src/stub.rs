//! Which driver a detach binds the device to.

use pci_types::{DriverName, DriverNameError};

/// The stub a user asked for, as virsh's `--driver` spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DriverRequest {
    /// No `--driver`, `vfio` or `default`: the best VFIO variant for the device from
    /// modules.alias, else `vfio-pci` (libvirt ≥ 10).
    Vfio,
    /// `xen`: Xen's `pciback` (module `xen-pciback`).
    Xen,
    /// Any other name: that driver (`pci-stub`, `vfio-pci`, `mlx5_vfio_pci`, …).
    Named(DriverName),
}

/// Why a `--driver` value is refused (before anything is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverRequestError {
    /// libvirt's message for the removed legacy KVM assignment.
    #[error("argument unsupported: 'legacy KVM' device assignment is no longer supported on this system")]
    LegacyKvm,
    /// Not a valid driver name.
    #[error("invalid argument: invalid driver name: {0}")]
    BadName(#[from] DriverNameError),
}

/// The Xen stub's driver name in sysfs (its module is `xen-pciback`).
pub const PCIBACK: &str = "pciback";
/// The generic VFIO driver.
pub const VFIO_PCI: &str = "vfio-pci";
/// The legacy KVM stub, still useful as a driver that claims anything.
pub const PCI_STUB: &str = "pci-stub";

impl DriverRequest {
    /// Parses virsh's `--driver` (absent = VFIO).
    pub fn parse(driver: Option<&str>) -> Result<Self, DriverRequestError> {
        match driver {
            None | Some("vfio") | Some("default") => Ok(Self::Vfio),
            Some("xen") => Ok(Self::Xen),
            Some("kvm") => Err(DriverRequestError::LegacyKvm),
            Some(name) => Ok(Self::Named(DriverName::new(name)?)),
        }
    }
}

/// How a driver is treated by the rules that care (vfio refusals, reset skipping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StubKind {
    /// vfio-pci or a vfio variant driver.
    Vfio,
    /// Xen pciback.
    Pciback,
    /// pci-stub.
    PciStub,
    /// Anything else.
    Other,
}

/// Classifies a driver by name. Variant drivers are recognised by their `vfio`
/// name part here; on a live device libvirt also checks the `vfio-dev` directory.
pub fn stub_kind(driver: &str) -> StubKind {
    match driver {
        VFIO_PCI => StubKind::Vfio,
        PCIBACK => StubKind::Pciback,
        PCI_STUB => StubKind::PciStub,
        d if d.ends_with("_vfio_pci") || d.ends_with("-vfio-pci") => StubKind::Vfio,
        _ => StubKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virsh_spellings() {
        assert_eq!(DriverRequest::parse(None), Ok(DriverRequest::Vfio));
        assert_eq!(DriverRequest::parse(Some("vfio")), Ok(DriverRequest::Vfio));
        assert_eq!(DriverRequest::parse(Some("xen")), Ok(DriverRequest::Xen));
        assert_eq!(
            DriverRequest::parse(Some("kvm")),
            Err(DriverRequestError::LegacyKvm)
        );
        assert!(
            matches!(DriverRequest::parse(Some("pci-stub")), Ok(DriverRequest::Named(n)) if n.as_str() == "pci-stub")
        );
        assert!(matches!(
            DriverRequest::parse(Some("../x")),
            Err(DriverRequestError::BadName(_))
        ));
        assert!(matches!(
            DriverRequest::parse(Some("vfio-pci\n")),
            Err(DriverRequestError::BadName(_))
        ));
    }

    #[test]
    fn kinds() {
        assert_eq!(stub_kind("vfio-pci"), StubKind::Vfio);
        assert_eq!(stub_kind("mlx5_vfio_pci"), StubKind::Vfio);
        assert_eq!(stub_kind("pciback"), StubKind::Pciback);
        assert_eq!(stub_kind("e1000e"), StubKind::Other);
    }
}
