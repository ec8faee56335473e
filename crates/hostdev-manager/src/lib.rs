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
//! * [`nodes`]: every node device libvirt lists, with its parent: the classes
//!   of [`usb`], [`scsi`], [`storage`], [`drm`], [`mdev`], [`vdpa`] and
//!   [`s390`], from what [`udev`] reads (sysfs and the udev database);
//!   [`cnum`]: numbers read as libvirt reads them.
//! * [`config`]: configuration-space parsing (header type, capabilities, PCIe links).
//! * [`snapshot`]: the sysfs subset the tool reads, as a tar for bug reports, and
//!   reading one back; [`resolve`], [`files`]: paths resolved inside a root, reads
//!   of files others made (regular files only, bounded).
//! * [`pci_ids`]: vendor and device names from the system's `pci.ids`.
//! * [`paths`]: where things are in sysfs.
//! * [`iommu`]: the IOMMU, its groups and their domains; with
//!   [`ops::Engine::preflight`] and [`ops::standing`], what `nodedev groups` and
//!   `nodedev preflight` show.
//! * [`uevent`]: device events from the kernel's uevent netlink socket (`nodedev event`).
//!
//! Kernel interfaces used: `Documentation/ABI/testing/sysfs-bus-pci` and
//! `Documentation/driver-api/vfio.rst` in the Linux tree.

pub mod boot;
pub mod cnum;
pub mod config;
mod confined;
pub mod device;
pub mod drm;
mod error;
pub mod files;
mod guarded;
pub mod iommu;
pub mod mdev;
pub mod modules;
pub mod net;
pub mod net_features;
pub mod nodes;
pub mod ops;
pub mod paths;
pub mod pci_ids;
pub mod persist;
pub mod reset;
pub mod resolve;
pub mod s390;
pub mod scsi;
pub mod snapshot;
pub mod state;
pub mod storage;
pub mod stub;
pub mod sysfs;
pub mod system;
pub mod udev;
pub mod uevent;
pub mod usage;
pub mod usb;
pub mod vdpa;

pub use device::{IommuGroup, MdevType, PciDevice, Sriov};
pub use error::{Error, Result};
pub use net::NetInterface;
pub use sysfs::{RealSysfs, Sysfs};
pub use system::SystemInfo;

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
/// letter or digit becomes `_` — byte by byte, so a character of several
/// UTF-8 bytes becomes as many `_`.
pub fn sanitize_name(name: &str) -> String {
    sanitize_bytes(name.as_bytes())
}

/// [`sanitize_name`] of raw bytes (sysfs names and udev values are bytes).
pub fn sanitize_bytes(name: &[u8]) -> String {
    name.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect()
}

/// Every node device this tool knows on a host: the computer and every device
/// [`nodes::enumerate`] lists, read in full.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Inventory {
    /// The machine (`computer`).
    pub system: SystemInfo,
    /// The other devices, and the ones libvirt would not list.
    pub devices: nodes::Enumeration,
}

impl Inventory {
    /// Reads everything.
    pub fn read(sysfs: &dyn Sysfs) -> Result<Self> {
        Ok(Self {
            system: system::read_system(sysfs),
            devices: nodes::enumerate(sysfs, nodes::Detail::Full)?,
        })
    }
}
