//! vDPA devices (`vdpa_vdpa0`), as libvirt's `udevProcessVDPA` reads them: the
//! character device is `/dev/` + the first entry of the device's directory
//! whose name starts with `vhost-vdpa` (none when the device is bound to
//! `virtio_vdpa`); a chardev whose `/dev` node is missing drops the device.

use std::path::Path;

use crate::sysfs::{kernfs_order, Sysfs};
use crate::udev::UdevDevice;

/// `<capability type='vdpa'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Vdpa {
    /// `/dev/vhost-vdpa-N`.
    pub chardev: Option<String>,
}

/// Reads a vDPA device.
pub fn read(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<Vdpa, String> {
    let mut entries = sysfs
        .read_dir(&dev.syspath)
        .map_err(|e| format!("cannot list {}: {e}", dev.syspath.display()))?;
    kernfs_order(&mut entries);
    let chardev = match entries.iter().find(|e| e.starts_with("vhost-vdpa")) {
        None => None,
        Some(e) if e.contains('/') => None,
        Some(e) => {
            let node = Path::new("/dev").join(e);
            if !sysfs.exists(&node) {
                return Err(format!(
                    "vDPA chardev path '{}' does not exist",
                    node.display()
                ));
            }
            Some(node.display().to_string())
        }
    };
    Ok(Vdpa { chardev })
}
