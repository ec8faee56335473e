//! Block devices libvirt lists as `storage` (`block_sda_<ID_SERIAL>`,
//! `block_vda`): whole disks, CD/DVD drives with or without media, floppies
//! and SD cards, as `udevProcessStorage` and its helpers read them.
//!
//! The drive type is the udev database's `ID_TYPE`; without it (or when it is
//! `generic`) `ID_DRIVE_FLOPPY`, `ID_CDROM` or `ID_DRIVE_FLASH_SD`, and failing
//! those the device node's name (`/dev/vd*` and `/dev/nvme*` are disks,
//! `/dev/dasd*` DASDs). Anything else — partitions (not `DEVTYPE=disk`), loop,
//! zram, dm, md, nbd, and every `sd*`/`sr*` when there is no udev database — is
//! not listed.

use crate::cnum;
use crate::sysfs::Sysfs;
use crate::udev::UdevDevice;

/// `<capability type='storage'>`, with libvirt's fields as it fills them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Storage {
    /// The device node, `/dev/sda`.
    pub block: String,
    /// `ID_BUS` (`ata`, `scsi`, `usb`; none for virtio and NVMe).
    pub bus: Option<String>,
    /// `disk`, `cdrom`, `floppy`, `sd` or `dasd`.
    pub drive_type: String,
    /// The `device/model` attribute, trailing spaces trimmed.
    pub model: Option<String>,
    /// The `device/vendor` attribute, trailing spaces trimmed.
    pub vendor: Option<String>,
    /// `ID_SERIAL` (a DASD's `device/uid`); also the end of the name.
    pub serial: Option<String>,
    /// Removable media (CD and floppy drives whose `removable` is 1).
    pub removable: bool,
    /// Media present (CD: `ID_CDROM_MEDIA`; floppy: `ID_FS_LABEL`).
    pub media_available: bool,
    /// Media size, `num_blocks × logical_block_size`.
    pub media_size: u64,
    /// `ID_FS_LABEL` of the media.
    pub media_label: Option<String>,
    /// `num_blocks × logical_block_size` (fixed disks).
    pub size: u64,
    /// `queue/logical_block_size`.
    pub logical_block_size: u64,
    /// The `size` attribute: 512-byte sectors whatever the block size (libvirt
    /// multiplies it by the logical block size all the same).
    pub num_blocks: u64,
}

/// An optional 64-bit attribute (`udevGetUint64SysfsAttr`, base 0).
fn u64_attr(sysfs: &dyn Sysfs, dev: &UdevDevice, name: &str) -> Result<u64, String> {
    match dev.sysattr(sysfs, name) {
        None => Ok(0),
        Some(v) => cnum::to_ulonglong(&v, 0).ok_or_else(|| format!("{name} is not a number")),
    }
}

/// `virTrimSpaces`: trailing ASCII white space removed.
fn trim_end(s: String) -> String {
    s.trim_end_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
        .to_string()
}

/// The kludge for drivers that give no drive type (`udevKludgeStorageType`).
fn kludge(block: &str) -> Option<&'static str> {
    [
        ("/dev/vd", "disk"),
        ("/dev/dasd", "dasd"),
        ("/dev/nvme", "disk"),
    ]
    .iter()
    .find(|(prefix, _)| block.starts_with(prefix))
    .map(|(_, t)| *t)
}

/// Reads a disk; `Err` says why libvirt would not list it. The second value
/// is the serial's bytes for the name.
pub fn read(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<(Storage, Option<Vec<u8>>), String> {
    read_for(sysfs, dev, true)
}

/// [`read`]; without `full`, the vendor and model (which cannot make libvirt
/// drop a disk) are left unread, for a listing.
pub fn read_for(
    sysfs: &dyn Sysfs,
    dev: &UdevDevice,
    full: bool,
) -> Result<(Storage, Option<Vec<u8>>), String> {
    let block = dev
        .devnode
        .as_deref()
        .map(crate::udev::lossy)
        .ok_or_else(|| "no device node".to_string())?;
    let mut serial_raw = dev.property("ID_SERIAL").map(<[u8]>::to_vec);
    let mut s = Storage {
        bus: dev.property_text("ID_BUS"),
        serial: dev.property_text("ID_SERIAL"),
        vendor: full
            .then(|| dev.string_sysattr(sysfs, "device/vendor").map(trim_end))
            .flatten(),
        model: full
            .then(|| dev.string_sysattr(sysfs, "device/model").map(trim_end))
            .flatten(),
        drive_type: String::new(),
        removable: false,
        media_available: false,
        media_size: 0,
        media_label: None,
        size: 0,
        logical_block_size: 0,
        num_blocks: 0,
        block,
    };
    let id_type = dev.property_text("ID_TYPE");
    let drive_type = match id_type.as_deref() {
        Some(t) if t != "generic" => t.to_string(),
        _ => {
            if dev.property("ID_DRIVE_FLOPPY").is_some() {
                "floppy".into()
            } else if dev.property("ID_CDROM").is_some() {
                "cd".into()
            } else if dev.property("ID_DRIVE_FLASH_SD").is_some() {
                "sd".into()
            } else {
                kludge(&s.block)
                    .ok_or_else(|| {
                        format!(
                            "no drive type ({} and no udev ID_TYPE, ID_CDROM, ID_DRIVE_FLOPPY or ID_DRIVE_FLASH_SD)",
                            if id_type.is_some() { "ID_TYPE=generic" } else { "not vd*, nvme* or dasd*" }
                        )
                    })?
                    .into()
            }
        }
    };
    let sizes = |s: &mut Storage| -> Result<(), String> {
        s.num_blocks = u64_attr(sysfs, dev, "size")?;
        s.logical_block_size = u64_attr(sysfs, dev, "queue/logical_block_size")?;
        Ok(())
    };
    let removable_media = |s: &mut Storage, has_media: bool| -> Result<(), String> {
        let removable = match dev.sysattr(sysfs, "removable") {
            None => 0,
            Some(v) => cnum::to_int(&v, 0).ok_or("removable is not a number")?,
        };
        s.removable = removable == 1;
        if has_media {
            s.media_available = true;
            s.media_label = dev.property_text("ID_FS_LABEL");
            sizes(s)?;
            s.media_size = s.num_blocks.wrapping_mul(s.logical_block_size);
        }
        Ok(())
    };
    match drive_type.as_str() {
        "cd" | "cd/dvd" => {
            s.drive_type = "cdrom".into();
            let has_media = match dev.property("ID_CDROM_MEDIA") {
                None => false,
                Some(v) => cnum::to_int(v, 0).ok_or("ID_CDROM_MEDIA is not a number")? != 0,
            };
            removable_media(&mut s, has_media)?;
        }
        "floppy" => {
            s.drive_type = drive_type;
            let has_media = dev.property("ID_FS_LABEL").is_some();
            removable_media(&mut s, has_media)?;
        }
        "disk" | "sd" | "dasd" => {
            if drive_type == "dasd" {
                s.serial = dev.string_sysattr(sysfs, "device/uid");
                serial_raw = s.serial.as_ref().map(|v| v.as_bytes().to_vec());
            }
            s.drive_type = drive_type;
            sizes(&mut s)?;
            s.size = s.num_blocks.wrapping_mul(s.logical_block_size);
        }
        other => return Err(format!("drive type '{other}' is not one libvirt lists")),
    }
    Ok((s, serial_raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RealSysfs;

    /// A block device `name` with `attrs` and (when given) a udev database
    /// entry, read back; `Err` is why it would not be listed.
    fn disk(name: &str, attrs: &[(&str, &str)], db: Option<&str>) -> Result<Storage, String> {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sys/devices/virtual/block").join(name);
        std::fs::create_dir_all(dir.join("queue")).unwrap();
        std::fs::create_dir_all(root.path().join("sys/class/block")).unwrap();
        std::os::unix::fs::symlink("../../../../class/block", dir.join("subsystem")).unwrap();
        std::fs::write(
            dir.join("uevent"),
            format!("MAJOR=8\nMINOR=0\nDEVNAME={name}\nDEVTYPE=disk\n"),
        )
        .unwrap();
        for (a, v) in attrs {
            std::fs::write(dir.join(a), format!("{v}\n")).unwrap();
        }
        if let Some(db) = db {
            std::fs::create_dir_all(root.path().join("run/udev/data")).unwrap();
            std::fs::write(root.path().join("run/udev/data/b8:0"), db).unwrap();
        }
        let sysfs = RealSysfs::with_root(root.path());
        let dev = UdevDevice::read(
            &sysfs,
            Path::new("/sys/devices/virtual/block").join(name).as_path(),
        )
        .expect("a device");
        read(&sysfs, &dev).map(|(s, _)| s)
    }

    use std::path::Path;

    const SIZES: &[(&str, &str)] = &[("size", "2880"), ("queue/logical_block_size", "512")];

    #[test]
    fn drive_types_as_libvirt_decides_them() {
        // Without udev: only the kludge's prefixes.
        assert!(disk("sda", SIZES, None)
            .unwrap_err()
            .contains("no drive type"));
        assert_eq!(disk("vda", SIZES, None).unwrap().drive_type, "disk");
        assert_eq!(disk("nvme0n1", SIZES, None).unwrap().drive_type, "disk");
        assert_eq!(disk("dasda", SIZES, None).unwrap().drive_type, "dasd");
        assert!(disk("loop0", SIZES, None).is_err());
        // ID_TYPE=generic falls back to the udisks2 and cdrom_id properties.
        let floppy = disk(
            "fd0",
            &[
                ("size", "2880"),
                ("queue/logical_block_size", "512"),
                ("removable", "1"),
            ],
            Some("E:ID_TYPE=generic\nE:ID_DRIVE_FLOPPY=1\nE:ID_FS_LABEL=BOOT\n"),
        )
        .unwrap();
        assert_eq!(floppy.drive_type, "floppy");
        assert!(floppy.removable && floppy.media_available);
        assert_eq!(floppy.media_label.as_deref(), Some("BOOT"));
        assert_eq!(floppy.media_size, 2880 * 512);
        // A floppy drive with no medium: removable, nothing available.
        let empty = disk("fd0", &[("removable", "1")], Some("E:ID_DRIVE_FLOPPY=1\n")).unwrap();
        assert!(empty.removable && !empty.media_available && empty.media_size == 0);
        let sd = disk("mmcblk0", SIZES, Some("E:ID_DRIVE_FLASH_SD=1\n")).unwrap();
        assert_eq!((sd.drive_type.as_str(), sd.size), ("sd", 2880 * 512));
        // ID_CDROM without ID_TYPE; "cd" becomes "cdrom".
        let cd = disk(
            "sr0",
            &[
                ("size", "8192"),
                ("queue/logical_block_size", "2048"),
                ("removable", "1"),
            ],
            Some("E:ID_CDROM=1\nE:ID_CDROM_MEDIA=1\n"),
        )
        .unwrap();
        assert_eq!(cd.drive_type, "cdrom");
        assert_eq!(cd.media_size, 8192 * 2048);
        // A CD drive whose removable is 0: no removable capability, size 0
        // (libvirt prints <size>0</size> and the block numbers).
        let fixed_cd = disk(
            "sr1",
            &[
                ("size", "8192"),
                ("queue/logical_block_size", "2048"),
                ("removable", "0"),
            ],
            Some("E:ID_TYPE=cd\nE:ID_CDROM_MEDIA=1\n"),
        )
        .unwrap();
        assert!(!fixed_cd.removable && fixed_cd.size == 0 && fixed_cd.num_blocks == 8192);
        // Types libvirt does not list.
        assert!(disk("st0", SIZES, Some("E:ID_TYPE=tape\n"))
            .unwrap_err()
            .contains("'tape'"));
        assert!(disk("sdb", SIZES, Some("E:ID_TYPE=generic\n")).is_err());
        // A USB stick: a disk, removable or not, never the removable capability.
        let stick = disk(
            "sdc",
            &[("size", "2880"), ("removable", "1")],
            Some("E:ID_TYPE=disk\nE:ID_BUS=usb\nE:ID_SERIAL=Stick_1\n"),
        )
        .unwrap();
        assert!(!stick.removable && stick.bus.as_deref() == Some("usb"));
        // Values that do not parse drop the device, as in libvirt.
        assert!(disk("vdb", &[("size", "lots")], None).is_err());
        assert!(disk("sr2", &[("removable", "x")], Some("E:ID_CDROM=1\n")).is_err());
        assert!(disk("sr3", &[], Some("E:ID_CDROM=1\nE:ID_CDROM_MEDIA=yes\n")).is_err());
    }
}
