//! `nodedev snapshot`: the sysfs subset this tool reads, as a tar archive with
//! symlinks kept, so a user can attach it to a bug report and `--root` reads it back.
//!
//! Only attributes are copied, never device memory (`resource*`, `rom`). Write-only
//! attributes (`bind`, `unbind`, `reset`, …) become empty files so the reader sees
//! that they exist. Times are zeroed, so the same tree gives the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::paths;
use crate::sysfs::{resolve_link, Sysfs};

/// Attributes copied from each PCI device directory (when present).
pub const DEVICE_ATTRS: &[&str] = &[
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
    "class",
    "revision",
    "config",
    "numa_node",
    "local_cpulist",
    "modalias",
    "uevent",
    "enable",
    "boot_vga",
    "driver_override",
    "reset_method",
    "sriov_totalvfs",
    "sriov_numvfs",
    "sriov_offset",
    "sriov_stride",
    "sriov_vf_device",
    "sriov_drivers_autoprobe",
    "current_link_speed",
    "current_link_width",
    "max_link_speed",
    "max_link_width",
    "vpd",
    "reset",
    "remove",
    "rescan",
];
/// Links copied from each PCI device directory (when present), besides `virtfnN`.
pub const DEVICE_LINKS: &[&str] = &["driver", "iommu_group", "physfn", "subsystem"];
/// Attributes copied from each network interface.
pub const NET_ATTRS: &[&str] = &[
    "address",
    "operstate",
    "speed",
    "type",
    "uevent",
    "ifindex",
    "flags",
    "carrier",
];
/// Files copied from each PCI driver directory.
pub const DRIVER_ATTRS: &[&str] = &[
    "bind",
    "unbind",
    "new_id",
    "remove_id",
    "new_slot",
    "remove_slot",
    "uevent",
];
/// Files at the top of `/sys/bus/pci`.
pub const BUS_ATTRS: &[&str] = &[
    "drivers_probe",
    "drivers_autoprobe",
    "rescan",
    "resource_alignment",
];
/// Attributes of the DMI description of the machine.
pub const DMI_ATTRS: &[&str] = &[
    "product_name",
    "sys_vendor",
    "product_version",
    "product_serial",
    "product_uuid",
    "bios_vendor",
    "bios_version",
    "bios_date",
];

/// One entry of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir,
    /// A regular file and its content.
    File(Vec<u8>),
    /// A symbolic link and its target, as stored.
    Symlink(PathBuf),
}

/// A snapshot: paths (absolute, as on the live system) to entries.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    entries: BTreeMap<PathBuf, Entry>,
}

impl Snapshot {
    /// Collects the subset of `sysfs` that the tool reads.
    pub fn collect(sysfs: &dyn Sysfs) -> Self {
        let mut s = Self::default();
        let bus = Path::new("/sys/bus/pci");
        for attr in BUS_ATTRS {
            s.copy_file(sysfs, &bus.join(attr));
        }
        // PCI functions: the bus links, and the real directories they point to.
        for name in sysfs
            .read_dir(Path::new(paths::PCI_DEVICES))
            .unwrap_or_default()
        {
            let link = Path::new(paths::PCI_DEVICES).join(&name);
            let Some(dir) = s.copy_link(sysfs, &link) else {
                continue;
            };
            s.copy_device_dir(sysfs, &dir);
        }
        // Drivers, with their device links and their module link.
        for drv in sysfs
            .read_dir(Path::new(paths::PCI_DRIVERS))
            .unwrap_or_default()
        {
            let dir = Path::new(paths::PCI_DRIVERS).join(&drv);
            s.add_dir(&dir);
            for attr in DRIVER_ATTRS {
                s.copy_file(sysfs, &dir.join(attr));
            }
            for entry in sysfs.read_dir(&dir).unwrap_or_default() {
                if entry == "module" || pci_types::PciAddress::from_sysfs_name(&entry).is_ok() {
                    s.copy_link(sysfs, &dir.join(&entry));
                }
            }
        }
        // IOMMU groups.
        for group in sysfs
            .read_dir(Path::new(paths::IOMMU_GROUPS))
            .unwrap_or_default()
        {
            let gdir = Path::new(paths::IOMMU_GROUPS).join(&group);
            s.add_dir(&gdir);
            s.copy_file(sysfs, &gdir.join("type"));
            let ddir = gdir.join("devices");
            s.add_dir(&ddir);
            for dev in sysfs.read_dir(&ddir).unwrap_or_default() {
                s.copy_link(sysfs, &ddir.join(dev));
            }
        }
        // Network interfaces.
        for ifname in sysfs
            .read_dir(Path::new(paths::CLASS_NET))
            .unwrap_or_default()
        {
            let link = Path::new(paths::CLASS_NET).join(&ifname);
            let Some(dir) = s.copy_link(sysfs, &link) else {
                continue;
            };
            s.add_dir(&dir);
            for attr in NET_ATTRS {
                s.copy_file(sysfs, &dir.join(attr));
            }
            if sysfs.is_live() {
                let features = crate::net_features::live_features(sysfs, &ifname).join("\n");
                let file = dir.join(crate::net_features::FEATURES_FILE);
                s.add(&file, Entry::File(features.into_bytes()));
            }
        }
        for attr in DMI_ATTRS {
            s.copy_file(sysfs, &Path::new(paths::DMI_ID).join(attr));
        }
        s
    }

    fn copy_device_dir(&mut self, sysfs: &dyn Sysfs, dir: &Path) {
        self.add_dir(dir);
        for attr in DEVICE_ATTRS {
            self.copy_file(sysfs, &dir.join(attr));
        }
        for link in DEVICE_LINKS {
            self.copy_link(sysfs, &dir.join(link));
        }
        let entries = sysfs.read_dir(dir).unwrap_or_default();
        for entry in &entries {
            if entry.starts_with("virtfn") {
                self.copy_link(sysfs, &dir.join(entry));
            }
        }
        if entries.iter().any(|e| e == "vfio-dev") {
            self.add_dir(&dir.join("vfio-dev"));
        }
        let mdev = dir.join("mdev_supported_types");
        for t in sysfs.read_dir(&mdev).unwrap_or_default() {
            let tdir = mdev.join(t);
            self.add_dir(&tdir);
            for attr in ["name", "device_api", "available_instances", "description"] {
                self.copy_file(sysfs, &tdir.join(attr));
            }
        }
    }

    fn add_dir(&mut self, dir: &Path) {
        for a in dir.ancestors() {
            if a == Path::new("/") || a.as_os_str().is_empty() {
                break;
            }
            self.entries.entry(a.to_path_buf()).or_insert(Entry::Dir);
        }
    }

    fn add(&mut self, path: &Path, entry: Entry) {
        if let Some(parent) = path.parent() {
            self.add_dir(parent);
        }
        self.entries.insert(path.to_path_buf(), entry);
    }

    /// Copies a file if it exists; a file that exists but cannot be read
    /// (write-only attributes) is recorded empty.
    fn copy_file(&mut self, sysfs: &dyn Sysfs, path: &Path) {
        match sysfs.read(path) {
            Ok(bytes) => self.add(path, Entry::File(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(_) if sysfs.exists(path) && !sysfs.is_dir(path) => {
                self.add(path, Entry::File(Vec::new()))
            }
            Err(_) => {}
        }
    }

    /// Copies a link if it is one, and returns the path it resolves to.
    fn copy_link(&mut self, sysfs: &dyn Sysfs, path: &Path) -> Option<PathBuf> {
        let target = sysfs.read_link(path).ok()?;
        self.add(path, Entry::Symlink(target.clone()));
        Some(resolve_link(path, &target))
    }

    /// The entries, by absolute path.
    pub fn entries(&self) -> &BTreeMap<PathBuf, Entry> {
        &self.entries
    }

    /// Writes the snapshot as a tar archive (paths relative to `/`, times zeroed).
    pub fn write_tar<W: Write>(&self, out: W) -> io::Result<W> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        for (path, entry) in &self.entries {
            let rel = path.strip_prefix("/").unwrap_or(path);
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            match entry {
                Entry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder.append_data(&mut header, rel, io::empty())?;
                }
                Entry::File(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(bytes.len() as u64);
                    builder.append_data(&mut header, rel, bytes.as_slice())?;
                }
                Entry::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, rel, target)?;
                }
            }
        }
        builder.into_inner()
    }
}

/// Unpacks a snapshot tar into `dir` (which must exist). Entries that would land
/// outside `dir` are refused by the tar reader; links are kept as they are.
pub fn unpack_tar<R: io::Read>(archive: R, dir: &Path) -> io::Result<()> {
    let mut a = tar::Archive::new(archive);
    a.set_preserve_permissions(false);
    a.set_overwrite(true);
    a.unpack(dir)
}
