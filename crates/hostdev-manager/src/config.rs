//! Reading a function's PCI configuration space the way libvirt's virpci.c does.
//!
//! This module only reads (header type, the classic capability list, the PCI
//! Express capability's link registers) and names the registers the config-space
//! reset in [`crate::reset`] writes.

use pci_types::{LinkSpeed, PciExpressLink};

/// Length of the standard configuration header; capabilities live above it.
pub const HEADER_LEN: usize = 0x40;
/// Length of conventional PCI configuration space.
pub const CONVENTIONAL_LEN: usize = 0x100;

const STATUS_OFFSET: usize = 0x06;
const STATUS_CAP_LIST: u16 = 0x10;
const HEADER_TYPE_OFFSET: usize = 0x0e;
const HEADER_TYPE_MASK: u8 = 0x7f;
const CAP_POINTER_OFFSET: usize = 0x34;
/// Capability id of PCI Express.
pub const CAP_ID_EXP: u8 = 0x10;
/// Capability id of power management.
pub const CAP_ID_PM: u8 = 0x01;
/// Capability id of Advanced Features (conventional PCI FLR).
pub const CAP_ID_AF: u8 = 0x13;
/// PM control/status (PMCSR), from the PM capability.
pub const PM_CTRL_OFFSET: usize = 0x04;
/// PMCSR power state bits (D0 = 0, D3hot = 3).
pub const PM_CTRL_STATE_MASK: u32 = 0x3;
/// PMCSR: D3hot → D0 keeps the function's state (no reset).
pub const PM_CTRL_NO_SOFT_RESET: u32 = 0x08;
/// PCIe DEVCAP, from the PCIe capability.
pub const EXP_DEVCAP_OFFSET: usize = 0x04;
/// DEVCAP: the function supports Function Level Reset.
pub const EXP_DEVCAP_FLR: u32 = 1 << 28;
/// PCIe DEVCTL, from the PCIe capability.
pub const EXP_DEVCTL_OFFSET: usize = 0x08;
/// DEVCTL: Initiate Function Level Reset.
pub const EXP_DEVCTL_BCR_FLR: u16 = 0x8000;
/// AF_CAP, from the AF capability.
pub const AF_CAP_OFFSET: usize = 0x03;
/// AF_CAP: the function supports FLR.
pub const AF_CAP_FLR: u8 = 0x02;
/// AF_CTRL, from the AF capability.
pub const AF_CTRL_OFFSET: usize = 0x04;
/// AF_CTRL: Initiate FLR.
pub const AF_CTRL_FLR: u8 = 0x01;
/// A bridge's secondary bus number.
pub const SECONDARY_BUS_OFFSET: usize = 0x19;
/// A bridge's subordinate bus number.
pub const SUBORDINATE_BUS_OFFSET: usize = 0x1a;
/// A bridge's control register.
pub const BRIDGE_CONTROL_OFFSET: usize = 0x3e;
/// Bridge control: hold the secondary bus in reset.
pub const BRIDGE_CTL_BUS_RESET: u16 = 0x40;
const EXP_FLAGS_OFFSET: usize = 0x2;
const EXP_FLAGS_TYPE_MASK: u16 = 0x00f0;
const EXP_TYPE_ROOT_INT_EP: u16 = 0x9;
const EXP_TYPE_ROOT_EC: u16 = 0xa;
const EXP_LNKCAP_OFFSET: usize = 0x0c;
const EXP_LNKSTA_OFFSET: usize = 0x12;
/// Classic capabilities are at least 4 bytes apart above the header: at most this many.
const MAX_CAPS: usize = (CONVENTIONAL_LEN - HEADER_LEN) / 4;

/// The kind of configuration header (byte 0x0e, low 7 bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderType {
    /// Type 0: an endpoint.
    Endpoint,
    /// Type 1: a PCI-to-PCI bridge (root ports and switch ports too).
    PciBridge,
    /// Type 2: a CardBus bridge.
    CardbusBridge,
    /// Any other value, which libvirt refuses.
    Unknown(u8),
}

impl HeaderType {
    /// Anything but an endpoint: what vfio-pci and libvirt's reset refuse, and
    /// what the kernel's IOMMU-group viability rule exempts.
    pub fn is_bridge(self) -> bool {
        self != Self::Endpoint
    }
}

/// What libvirt learns about a device's PCI Express side.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct PciExpressInfo {
    /// The link capability (LNKCAP) and status (LNKSTA), when the function has a link.
    pub link: Option<(PciExpressLink, PciExpressLink)>,
}

/// A configuration-space image as read from sysfs `config`.
///
/// As root the kernel returns the whole space (256 or 4096 bytes); anyone else
/// gets only the 64-byte header. libvirt reads header type and PCIe data only when
/// it is privileged, so [`ConfigSpace::is_privileged_read`] tells the caller which.
#[derive(Clone, Copy, Debug)]
pub struct ConfigSpace<'a> {
    bytes: &'a [u8],
}

impl<'a> ConfigSpace<'a> {
    /// Wraps the bytes read from `config`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The bytes read.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the whole space was readable (more than the 64-byte unprivileged view).
    pub fn is_privileged_read(&self) -> bool {
        self.bytes.len() > HEADER_LEN
    }

    /// A byte, or `None` past what was readable.
    pub fn read8(&self, off: usize) -> Option<u8> {
        self.bytes.get(off).copied()
    }

    /// A little-endian 16-bit register.
    pub fn read16(&self, off: usize) -> Option<u16> {
        Some(u16::from_le_bytes([self.read8(off)?, self.read8(off + 1)?]))
    }

    /// A little-endian 32-bit register.
    pub fn read32(&self, off: usize) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.read8(off)?,
            self.read8(off + 1)?,
            self.read8(off + 2)?,
            self.read8(off + 3)?,
        ]))
    }

    /// The header type, or `None` if byte 0x0e was not readable.
    pub fn header_type(&self) -> Option<HeaderType> {
        Some(match self.read8(HEADER_TYPE_OFFSET)? & HEADER_TYPE_MASK {
            0 => HeaderType::Endpoint,
            1 => HeaderType::PciBridge,
            2 => HeaderType::CardbusBridge,
            other => HeaderType::Unknown(other),
        })
    }

    /// Offset of a classic capability, as `virPCIDeviceFindCapabilityOffset`:
    /// `Some(pos)` when found; `None` when not found *or* unreadable (libvirt
    /// reports both as failure). Unlike libvirt, a looping list ends after the
    /// largest number of capabilities that fit, instead of spinning forever.
    pub fn find_capability(&self, id: u8) -> Option<usize> {
        if self.read16(STATUS_OFFSET)? & STATUS_CAP_LIST == 0 {
            return None;
        }
        let mut pos = usize::from(self.read8(CAP_POINTER_OFFSET)?);
        for _ in 0..MAX_CAPS {
            if pos < HEADER_LEN || pos == 0xff {
                return None;
            }
            if self.read8(pos)? == id {
                return Some(pos);
            }
            pos = usize::from(self.read8(pos + 1)?);
        }
        None
    }

    /// libvirt's `is_pcie` (virPCIDeviceInit): true if the PCIe capability is found;
    /// otherwise a guess from the config size, where anything but 256 bytes counts
    /// as PCIe. (So a host bridge with 4 KiB of config and no PCIe capability is
    /// reported as PCIe without a link, exactly as libvirt reports it.)
    pub fn is_pcie(&self) -> bool {
        self.find_capability(CAP_ID_EXP).is_some() || self.bytes.len() != CONVENTIONAL_LEN
    }

    /// The PCIe data libvirt prints, or `None` when the device is not PCIe.
    pub fn pci_express(&self) -> Option<PciExpressInfo> {
        if !self.is_pcie() {
            return None;
        }
        let Some(pos) = self.find_capability(CAP_ID_EXP) else {
            return Some(PciExpressInfo::default());
        };
        let flags = self.read16(pos + EXP_FLAGS_OFFSET).unwrap_or(0);
        let port_type = (flags & EXP_FLAGS_TYPE_MASK) >> 4;
        if port_type == EXP_TYPE_ROOT_INT_EP || port_type == EXP_TYPE_ROOT_EC {
            return Some(PciExpressInfo::default());
        }
        let cap = self.read32(pos + EXP_LNKCAP_OFFSET)?;
        let sta = u32::from(self.read16(pos + EXP_LNKSTA_OFFSET)?);
        let speed = |v: u32| LinkSpeed::from_code((v & 0xf) as u8);
        let width = |v: u32| (v & 0x3f0) >> 4;
        Some(PciExpressInfo {
            link: Some((
                PciExpressLink {
                    port: Some(cap >> 24),
                    speed: speed(cap),
                    width: width(cap),
                },
                PciExpressLink {
                    port: None,
                    speed: speed(sta),
                    width: width(sta),
                },
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 KiB config with a PM capability at 0x40 and PCIe at 0x50.
    fn pcie_endpoint(port_type: u16) -> Vec<u8> {
        let mut c = vec![0u8; 4096];
        c[STATUS_OFFSET] = STATUS_CAP_LIST as u8;
        c[CAP_POINTER_OFFSET] = 0x40;
        c[0x40] = CAP_ID_PM;
        c[0x41] = 0x50;
        c[0x50] = CAP_ID_EXP;
        c[0x51] = 0x00;
        c[0x52..0x54].copy_from_slice(&((port_type << 4) | 2).to_le_bytes());
        // LNKCAP: port 3, x4, 8 GT/s.
        c[0x5c..0x60].copy_from_slice(&(3u32 << 24 | 4 << 4 | 3).to_le_bytes());
        // LNKSTA: x1, 2.5 GT/s.
        c[0x62..0x64].copy_from_slice(&(1u16 << 4 | 1).to_le_bytes());
        c
    }

    #[test]
    fn reads_pcie_links() {
        let c = pcie_endpoint(0);
        let info = ConfigSpace::new(&c).pci_express().unwrap();
        let (cap, sta) = info.link.unwrap();
        assert_eq!(
            cap,
            PciExpressLink {
                port: Some(3),
                speed: Some(LinkSpeed::Gt8),
                width: 4
            }
        );
        assert_eq!(
            sta,
            PciExpressLink {
                port: None,
                speed: Some(LinkSpeed::Gt2_5),
                width: 1
            }
        );
        assert_eq!(ConfigSpace::new(&c).find_capability(CAP_ID_PM), Some(0x40));
    }

    #[test]
    fn integrated_endpoints_have_no_link() {
        let c = pcie_endpoint(EXP_TYPE_ROOT_INT_EP);
        assert_eq!(
            ConfigSpace::new(&c).pci_express(),
            Some(PciExpressInfo { link: None })
        );
    }

    #[test]
    fn size_guess_when_no_pcie_capability() {
        let mut c = vec![0u8; 256];
        assert_eq!(ConfigSpace::new(&c).pci_express(), None);
        c.resize(4096, 0);
        assert_eq!(
            ConfigSpace::new(&c).pci_express(),
            Some(PciExpressInfo { link: None })
        );
    }

    #[test]
    fn unprivileged_view_and_loops_are_safe() {
        let c = pcie_endpoint(0);
        let short = ConfigSpace::new(&c[..64]);
        assert!(!short.is_privileged_read());
        assert_eq!(short.find_capability(CAP_ID_EXP), None);
        let mut looped = vec![0u8; 256];
        looped[STATUS_OFFSET] = STATUS_CAP_LIST as u8;
        looped[CAP_POINTER_OFFSET] = 0x40;
        looped[0x40] = 0x05;
        looped[0x41] = 0x40;
        assert_eq!(ConfigSpace::new(&looped).find_capability(CAP_ID_EXP), None);
        assert_eq!(ConfigSpace::new(&[]).header_type(), None);
    }

    #[test]
    fn header_types() {
        let mut c = vec![0u8; 64];
        for (v, want) in [
            (0x00, HeaderType::Endpoint),
            (0x81, HeaderType::PciBridge),
            (0x02, HeaderType::CardbusBridge),
            (0x03, HeaderType::Unknown(3)),
        ] {
            c[HEADER_TYPE_OFFSET] = v;
            assert_eq!(ConfigSpace::new(&c).header_type(), Some(want));
        }
    }
}
