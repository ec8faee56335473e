//! The host the commands look at, and name lookup.
//!
//! A user's device string is never joined onto a path: it is parsed into a
//! [`PciAddress`] (whose sysfs name is then built from numbers), compared with the
//! names of the devices [`hostdev_manager::nodes::enumerate`] lists, or matched to
//! `computer`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use hostdev_manager::nodes::{self, Detail, Node};
use hostdev_manager::{device, RealSysfs, Sysfs, COMPUTER};
use pci_types::PciAddress;

use crate::output::{escape_controls, not_found};

/// The device tree being read, and what it takes to keep it readable.
pub struct Host {
    sysfs: Arc<dyn Sysfs>,
    /// Whether this is the live kernel (writes allowed) rather than a snapshot.
    live: bool,
}

impl Host {
    /// `/`, a snapshot directory (read confined to it), or a snapshot tar (read
    /// into memory; nothing is unpacked): see `hostdev_manager::snapshot::open`.
    pub fn open(root: Option<&Path>) -> Result<Self> {
        let Some(root) = root.filter(|r| *r != Path::new("/")) else {
            return Ok(Self::live(Arc::new(RealSysfs::system())));
        };
        let sysfs = hostdev_manager::snapshot::open(root)
            .with_context(|| format!("--root {}: not a readable snapshot", root.display()))?;
        Ok(Self { sysfs, live: false })
    }

    /// A live kernel (the real one, or the simulated one in tests).
    pub fn live(sysfs: Arc<dyn Sysfs>) -> Self {
        Self { sysfs, live: true }
    }

    /// The sysfs view.
    pub fn sysfs(&self) -> &dyn Sysfs {
        self.sysfs.as_ref()
    }

    /// The sysfs view, shareable with the engine's threads.
    pub fn sysfs_arc(&self) -> Arc<dyn Sysfs> {
        Arc::clone(&self.sysfs)
    }

    /// Whether writes go to a live kernel.
    pub fn is_live(&self) -> bool {
        self.live
    }
}

/// A node device found by name.
pub enum Found {
    /// `computer`.
    Computer,
    /// A PCI function.
    Pci(PciAddress),
    /// Any other device: a network interface, a USB device, a disk…
    Device(Box<Node>),
}

/// Every PCI address in the tree, as a set for parent lookups.
pub fn pci_set(sysfs: &dyn Sysfs) -> Result<BTreeSet<PciAddress>> {
    Ok(device::list_addresses(sysfs)?.into_iter().collect())
}

/// Finds a device by libvirt name, or (for PCI) by any address spelling.
pub fn find(sysfs: &dyn Sysfs, name: &str) -> Result<Option<Found>> {
    if name == COMPUTER {
        return Ok(Some(Found::Computer));
    }
    if let Ok(address) = name.parse::<PciAddress>() {
        return Ok(device::exists(sysfs, &address).then_some(Found::Pci(address)));
    }
    // Every other name is some class's "<subsystem>_…": a name without '_'
    // matches nothing, and needs no enumeration.
    if !name.contains('_') {
        return Ok(None);
    }
    let all = nodes::enumerate(sysfs, Detail::AllButPci)?;
    Ok(all
        .nodes
        .into_iter()
        .find(|n| n.name == name && !matches!(n.kind, nodes::Kind::Pci { .. }))
        .map(|n| Found::Device(Box::new(n))))
}

/// Finds a device; with `exact`, only by its exact node-device name, as virsh's
/// `virNodeDeviceLookupByName` does (an address spelling is then not found).
pub fn find_named(sysfs: &dyn Sysfs, name: &str, exact: bool) -> Result<Option<Found>> {
    let found = find(sysfs, name)?;
    if !exact {
        return Ok(found);
    }
    Ok(found.filter(|f| match f {
        Found::Computer => name == COMPUTER,
        Found::Pci(a) => a.nodedev_name() == name,
        Found::Device(n) => n.name == name,
    }))
}

/// Finds the PCI function a detach, reattach or reset acts on, with virsh's
/// messages for a name that matches nothing or matches a device of another class.
/// Outside virsh mode a network interface's name (`eth1`) names its PCI function.
pub fn pci_target(sysfs: &dyn Sysfs, name: &str, exact: bool) -> Result<PciAddress> {
    let found = find_named(sysfs, name, exact)?;
    if found.is_none() && !exact {
        if let Some(by_interface) = crate::select::interface_function(sysfs, name) {
            return by_interface;
        }
    }
    match found {
        Some(Found::Pci(a)) => Ok(a),
        // Found, but not PCI: a failure of the operation, which virsh prints after
        // its "Failed to <verb> device X" line.
        Some(_) => Err(anyhow::anyhow!(
            "invalid argument: device {} is not a PCI device",
            escape_controls(name)
        )),
        None => Err(not_found(name)),
    }
}

/// virsh's order for device names: `strcasecmp`, i.e. ASCII case folded.
pub fn virsh_name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        .then_with(|| a.cmp(b))
}

/// Where the system's pci.ids is, unless the user named one.
pub fn pci_ids_path(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    hostdev_manager::pci_ids::DEFAULT_PCI_IDS_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}
