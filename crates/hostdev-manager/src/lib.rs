//! The nodedev-shim engine.
//!
//! Everything it knows about the kernel it learns through the [`Sysfs`] trait:
//! [`RealSysfs`] over `/` (or, confined to it, over a snapshot directory), a
//! snapshot tar read into memory ([`snapshot::Snapshot`]), and the simulated
//! kernel of the `pci-sim` crate in tests. Above that trait there is one code path.
//!
//! Moving devices:
//!
//! * [`ops`]: detach, reattach and their steps — members, locks, recovery of what
//!   a killed run left, checks and a plan for every device, then the writes, read
//!   back and rolled back on failure. [`ops::Engine`] is the entry point.
//! * [`state`]: the records (a write-ahead journal per device) and the locks, in a
//!   directory no one else can write.
//! * [`reset`]: the kernel's reset, and libvirt's config-space sequence.
//! * [`stub`], [`modules`]: which stub a request means, and loading it.
//! * [`usage`]: whether the host uses a device (mounts, swap, holders, routes,
//!   processes holding its files).
//!
//! Reading devices:
//!
//! * [`device`]: enumeration of PCI functions into [`PciDevice`], the way
//!   libvirt's udev node-device backend reads them.
//! * [`net`], [`net_features`], [`system`]: the other node devices libvirt lists
//!   next to PCI ones (`net_<ifname>_<mac>`, `computer`).
//! * [`config`]: configuration-space parsing (header type, capabilities, PCIe links).
//! * [`snapshot`]: the sysfs subset the tool reads, as a tar for bug reports, and
//!   reading one back; [`resolve`], [`files`]: paths resolved inside a root, reads
//!   of files others made (regular files only, bounded).
//! * [`pci_ids`]: vendor and device names from the system's `pci.ids`.
//! * [`paths`]: where things are in sysfs.
//! * [`iommu`]: the IOMMU, its groups and their domains; with
//!   [`ops::Engine::preflight`] and [`ops::standing`], what `nodedev groups` and
//!   `nodedev preflight` show.
//!
//! Kernel interfaces used: `Documentation/ABI/testing/sysfs-bus-pci` and
//! `Documentation/driver-api/vfio.rst` in the Linux tree.

pub mod config;
mod confined;
pub mod device;
mod error;
pub mod files;
pub mod iommu;
pub mod modules;
pub mod net;
pub mod net_features;
pub mod ops;
pub mod paths;
pub mod pci_ids;
pub mod reset;
pub mod resolve;
pub mod snapshot;
pub mod state;
pub mod stub;
pub mod sysfs;
pub mod system;
pub mod usage;

pub use device::{IommuGroup, MdevType, PciDevice, Sriov};
pub use error::{Error, Result};
pub use net::NetInterface;
pub use sysfs::{RealSysfs, Sysfs};
pub use system::SystemInfo;

use std::collections::BTreeSet;

use pci_types::PciAddress;

/// A duration as people read it in messages: `100 ms`, `10 s`, `2.5 s`.
pub fn human_duration(d: std::time::Duration) -> String {
    if d < std::time::Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// libvirt's name for the root of the device tree.
pub const COMPUTER: &str = "computer";

/// libvirt's rule for node-device names: every character that is not an ASCII
/// letter or digit becomes `_`.
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Every node device this tool knows on a host: the computer, its PCI functions
/// and its network interfaces.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inventory {
    /// The machine (`computer`).
    pub system: SystemInfo,
    /// PCI functions, sorted by address.
    pub pci: Vec<PciDevice>,
    /// Network interfaces, sorted by name.
    pub net: Vec<NetInterface>,
}

impl Inventory {
    /// Reads everything.
    pub fn read(sysfs: &dyn Sysfs) -> Result<Self> {
        let addresses = device::list_addresses(sysfs)?;
        let known: BTreeSet<PciAddress> = addresses.iter().copied().collect();
        let is_known = |a: &PciAddress| known.contains(a);
        let pci = addresses
            .iter()
            .map(|a| device::read_device(sysfs, a, &is_known))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            system: system::read_system(sysfs),
            net: net::list_interfaces(sysfs, &is_known),
            pci,
        })
    }
}
