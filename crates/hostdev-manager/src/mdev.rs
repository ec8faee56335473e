//! Mediated devices: the types a parent offers (`mdev_supported_types`, shown
//! as `<capability type='mdev_types'>` inside `pci`, `css` and `ap_matrix`,
//! and as the whole device for a stand-alone parent such as the `mtty`
//! sample), and the active mediated devices themselves
//! (`mdev_<uuid>_<parent address>`), as libvirt's `virMediatedDeviceGetMdevTypes`,
//! `udevProcessMediatedDevice` and `udevProcessMdevParent` read them.
//!
//! libvirt also lists mediated devices that `mdevctl` defines but that are not
//! started, and the `<attr>` elements of their configuration; both come from
//! running `mdevctl`, which this tool does not do: it lists the active ones,
//! from sysfs, without attributes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sysfs::{base_name, kernfs_order, resolve_link, Sysfs};
use crate::udev::{lossy, UdevDevice};

/// `/sys/bus/mdev/devices`.
pub const MDEV_DEVICES: &str = "/sys/bus/mdev/devices";
/// `/sys/class/mdev_bus`: one link per device that can have mediated devices.
pub const CLASS_MDEV_BUS: &str = "/sys/class/mdev_bus";

/// A mediated device type under `mdev_supported_types`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MdevType {
    /// The type's directory name, e.g. `nvidia-11`.
    pub id: String,
    /// Its `name` attribute, if present.
    pub name: Option<String>,
    /// Its `device_api` attribute, e.g. `vfio-pci`.
    pub device_api: String,
    /// Its `available_instances` attribute.
    pub available_instances: u32,
}

fn read_trimmed(sysfs: &dyn Sysfs, path: &Path) -> Result<Option<String>> {
    match sysfs.read(path) {
        Ok(bytes) => Ok(Some(
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\n', ' ', '\0'])
                .to_string(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::read(path, e)),
    }
}

/// The types under `<dir>/mdev_supported_types`, in the kernel's listing
/// order (libvirt prints them in `readdir` order). None when the directory is
/// absent; an error when a type lacks `device_api` or `available_instances`
/// (libvirt then fails the whole device).
pub fn read_types(sysfs: &dyn Sysfs, dir: &Path) -> Result<Vec<MdevType>> {
    let dir = dir.join("mdev_supported_types");
    let Ok(mut ids) = sysfs.read_dir(&dir) else {
        return Ok(Vec::new());
    };
    kernfs_order(&mut ids);
    let mut out = Vec::new();
    for id in ids {
        let tdir = dir.join(&id);
        let name = read_trimmed(sysfs, &tdir.join("name"))?;
        let api_path = tdir.join("device_api");
        let device_api =
            read_trimmed(sysfs, &api_path)?.ok_or_else(|| Error::parse(&api_path, b"missing"))?;
        let instances_path = tdir.join("available_instances");
        let instances = read_trimmed(sysfs, &instances_path)?.unwrap_or_default();
        let available_instances = instances
            .parse()
            .map_err(|_| Error::parse(&instances_path, instances.as_bytes()))?;
        out.push(MdevType {
            id,
            name,
            device_api,
            available_instances,
        });
    }
    Ok(out)
}

/// `<capability type='mdev'>`: an active mediated device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mdev {
    /// The type: the basename of the `mdev_type` link.
    pub type_id: String,
    /// The UUID (the device's name in sysfs).
    pub uuid: String,
    /// The parent's sysfs name (`0000:00:02.0`, `0.0.0052`, `matrix`).
    pub parent_addr: String,
    /// Its IOMMU group.
    pub iommu_group: u32,
}

/// The directory libudev calls a device's parent: the nearest ancestor that
/// is a device (under `/sys/devices`, one with a `uevent` file).
pub fn udev_parent(sysfs: &dyn Sysfs, syspath: &Path) -> Option<PathBuf> {
    for p in syspath.ancestors().skip(1) {
        if p == Path::new("/sys") || p == Path::new("/") {
            return None;
        }
        let is_device = if p.starts_with("/sys/devices/") {
            sysfs.exists(&p.join("uevent"))
        } else {
            sysfs.is_dir(p)
        };
        if is_device {
            return Some(p.to_path_buf());
        }
    }
    None
}

/// Reads an active mediated device. The second value is the parent address
/// for the name.
pub fn read_mdev(sysfs: &dyn Sysfs, dev: &UdevDevice) -> std::result::Result<Mdev, String> {
    let type_link = dev.syspath.join("mdev_type");
    let target = sysfs
        .read_link(&type_link)
        .map_err(|e| format!("cannot resolve {}: {e}", type_link.display()))?;
    let type_id = base_name(&resolve_link(&type_link, &target)).to_string();
    let uuid = lossy(&dev.sysname);
    let group_link = Path::new(MDEV_DEVICES)
        .join(lossy(&dev.sysname))
        .join("iommu_group");
    if uuid.contains('/') || !sysfs.exists(&group_link) {
        return Err(format!("failed to access '{}'", group_link.display()));
    }
    let group = sysfs
        .read_link(&group_link)
        .ok()
        .and_then(|t| base_name(&t).parse::<u32>().ok())
        .filter(|g| *g <= i32::MAX as u32)
        .ok_or_else(|| format!("failed to resolve '{}'", group_link.display()))?;
    let parent = udev_parent(sysfs, &dev.syspath)
        .ok_or_else(|| format!("could not get parent of '{}'", dev.syspath.display()))?;
    Ok(Mdev {
        type_id,
        uuid,
        parent_addr: base_name(&parent).to_string(),
        iommu_group: group,
    })
}

/// A stand-alone mediated-device parent (`SUBSYSTEM=mtty`): only its types.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MdevParent {
    /// Its entry in `/sys/class/mdev_bus`.
    pub address: String,
    /// Its types.
    pub mdev_types: Vec<MdevType>,
}

/// Reads a stand-alone parent: it must have an entry in `/sys/class/mdev_bus`
/// pointing at it (`virMediatedDeviceParentGetAddress`).
pub fn read_parent(sysfs: &dyn Sysfs, dev: &UdevDevice) -> std::result::Result<MdevParent, String> {
    let mut entries = sysfs
        .read_dir(Path::new(CLASS_MDEV_BUS))
        .unwrap_or_default();
    kernfs_order(&mut entries);
    let address = entries
        .into_iter()
        .find(|e| {
            let link = Path::new(CLASS_MDEV_BUS).join(e);
            crate::udev::canonical(sysfs, &link).as_deref() == Some(dev.syspath.as_path())
        })
        .ok_or_else(|| {
            format!(
                "unable to find address for mdev parent device '{}'",
                dev.syspath.display()
            )
        })?;
    let mdev_types = read_types(sysfs, &dev.syspath).map_err(|e| e.to_string())?;
    Ok(MdevParent {
        address,
        mdev_types,
    })
}
