//! The checks that protect the host and the device, made before anything is
//! written: what vfio-pci cannot take, what the host still uses, what a VFIO user
//! holds, and whether an IOMMU group is viable. `detach` stops at the first
//! refusal; `preflight` (`preflight.rs`) shows them all. Both call these.

use std::path::Path;

use pci_types::{DriverName, PciAddress};

use super::error::{Refusal, Warning};
use super::inspect::DeviceFacts;
use crate::config::ConfigSpace;
use crate::device;
use crate::paths;
use crate::stub::{stub_kind, StubKind};
use crate::sysfs::Sysfs;
use crate::usage::{self, InUse};

/// Every reason a detach to `target` would hurt the host or cannot work, in the
/// order a detach reports them (it reports the first); `--force` skips these
/// (but not [`vfio_in_use`]).
pub(crate) fn detach_refusals(
    sysfs: &dyn Sysfs,
    dev: &DeviceFacts,
    target: &DriverName,
) -> Vec<Refusal> {
    let address = dev.address;
    let mut out = Vec::new();
    // A bridge on a stub takes what is behind it along (vfio-pci binds only
    // endpoints anyway; pciback and pci-stub would take a root port from pcieport).
    if dev.is_bridge() {
        out.push(Refusal::NotEndpoint {
            address,
            stub: target.clone(),
        });
    }
    if stub_kind(target.as_str()) == StubKind::Vfio && dev.num_vfs > 0 {
        out.push(Refusal::PfWithVfs {
            address,
            vfs: dev.num_vfs,
        });
    }
    let users = boot_display_users(sysfs, dev);
    if !users.is_empty() {
        out.push(Refusal::BootDisplay { address, users });
    }
    let uses = host_use(sysfs, dev);
    if !uses.is_empty() {
        out.push(Refusal::InUse { address, uses });
    }
    out
}

/// vfio-pci cannot take a device the IOMMU does not cover: without an IOMMU
/// group its probe fails (unless the unsafe no-IOMMU mode is on, where vfio
/// makes a group of its own). A detach still tries, and reads the failure back.
pub(crate) fn vfio_without_iommu(sysfs: &dyn Sysfs, dev: &DeviceFacts, target: &str) -> bool {
    stub_kind(target) == StubKind::Vfio && dev.group.is_none() && !crate::iommu::noiommu_mode(sysfs)
}

/// A process holding the device's VFIO group: unbinding the device from its vfio
/// driver would take it from under that process (and the unbind would block until
/// the process lets go). Never overridden by `--force`.
pub(crate) fn vfio_in_use(sysfs: &dyn Sysfs, dev: &DeviceFacts) -> Option<Refusal> {
    if dev.driver_kind() != Some(StubKind::Vfio) {
        return None;
    }
    let group = dev.group.as_ref()?;
    let holders = usage::vfio_group_holders(sysfs, group.number);
    (!holders.is_empty()).then_some(Refusal::HeldThroughVfio {
        address: dev.address,
        holders,
    })
}

/// How the host uses a device that is on a host driver (mounts, swap, holders,
/// routed interfaces); nothing when it is unbound or on a stub.
pub(crate) fn host_use(sysfs: &dyn Sysfs, dev: &DeviceFacts) -> Vec<InUse> {
    if !dev.on_host_driver() {
        return Vec::new();
    }
    usage::host_usage(sysfs, &dev.sysfs_path)
}

/// What displays on the boot VGA device while it is on a host driver: its DRM
/// cards and framebuffers, and fbcon (the classic single-GPU passthrough trap).
fn boot_display_users(sysfs: &dyn Sysfs, dev: &DeviceFacts) -> Vec<String> {
    let Ok(boot_vga) = sysfs.read(&paths::device_attr(&dev.address, "boot_vga")) else {
        return Vec::new();
    };
    if boot_vga.trim_ascii() != b"1" || !dev.on_host_driver() {
        return Vec::new();
    }
    let mut users: Vec<String> = Vec::new();
    for sub in ["drm", "graphics"] {
        for n in sysfs
            .read_dir(&dev.sysfs_path.join(sub))
            .unwrap_or_default()
        {
            if n.starts_with("card") || n.starts_with("fb") {
                users.push(n);
            }
        }
    }
    // fbcon bound to a framebuffer is the text console on this device.
    let vt = Path::new(paths::CLASS_VTCONSOLE);
    for con in sysfs.read_dir(vt).unwrap_or_default() {
        let bound = sysfs.read(&vt.join(&con).join("bind")).ok();
        let name = sysfs.read(&vt.join(&con).join("name")).ok();
        if bound.as_deref().map(<[u8]>::trim_ascii) == Some(b"1")
            && name.is_some_and(|n| String::from_utf8_lossy(&n).contains("frame buffer"))
        {
            users.push(format!("{con} (framebuffer console)"));
        }
    }
    users
}

/// Where a function stands under the kernel's viability rule for VFIO groups: a
/// group can be used by VFIO only when every member is unbound, on a driver that
/// leaves DMA to its user (a vfio driver, pci-stub), or a bridge (pcieport).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// A bridge (or on pcieport): exempt from the rule, and left where it is by
    /// `detach --group`.
    Exempt,
    /// Unbound, or on a vfio driver or pci-stub: does not stop the group.
    Fine,
    /// On a driver that does DMA for the host: the group is not viable while it is.
    Blocks,
}

/// How the viability rule sees `address` now.
pub fn standing(sysfs: &dyn Sysfs, address: &PciAddress) -> Standing {
    let driver = device::current_driver(sysfs, address);
    let config = sysfs
        .read(&paths::device_attr(address, "config"))
        .unwrap_or_default();
    let bridge = ConfigSpace::new(&config)
        .header_type()
        .is_some_and(|h| h.is_bridge());
    match driver.as_deref() {
        _ if bridge => Standing::Exempt,
        Some("pcieport") => Standing::Exempt,
        None => Standing::Fine,
        Some(d) if matches!(stub_kind(d), StubKind::Vfio | StubKind::PciStub) => Standing::Fine,
        Some(_) => Standing::Blocks,
    }
}

/// The kernel's viability rule for a VFIO group, seen from one member: the other
/// members that break it ([`Standing::Blocks`]), as a warning.
pub(crate) fn group_viability(sysfs: &dyn Sysfs, dev: &DeviceFacts) -> Option<Warning> {
    let group = dev.group.as_ref()?;
    let members: Vec<String> = group
        .members
        .iter()
        .filter(|m| **m != dev.address)
        .filter(|m| standing(sysfs, m) == Standing::Blocks)
        .map(|m| {
            let driver = device::current_driver(sysfs, m).unwrap_or_default();
            format!("{m} ({driver})")
        })
        .collect();
    (!members.is_empty()).then_some(Warning::GroupNotViable {
        group: group.number,
        members,
    })
}
