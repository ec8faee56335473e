//! `nodedev snapshot`: the sysfs subset this tool reads, as a tar archive with
//! symlinks kept, so a user can attach it to a bug report and `--root` reads it back.
//!
//! Only attributes are copied, never device memory (`resource*`, `rom`). Write-only
//! attributes (`bind`, `unbind`, `reset`, …) become empty files so the reader sees
//! that they exist. Times are zeroed, so the same tree gives the same bytes.
//!
//! What only root can read and that identifies the machine is left out unless
//! [`Capture::include_serials`] (`nodedev snapshot --include-serials`): the DMI
//! attributes the kernel makes mode 0400 ([`DMI_ROOT_ONLY_ATTRS`]), PCI `vpd`
//! (mode 0600; it carries the board's serial number, `SN`), and the serial
//! number of a PCIe Device Serial Number capability in `config` (zeroed: bytes
//! past the first 64 of config space are readable by root only).
//!
//! Reading a snapshot back ([`open`]) treats it as hostile: a tar is read into
//! memory within [`TarLimits`] (nothing is unpacked, nothing left on disk), a
//! directory through in-root resolution ([`RealSysfs::with_root`]); in both, a
//! link never leads outside the snapshot.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::files;
use crate::paths;
use crate::resolve::{resolve, Kind, Resolved, Tree};
use crate::sysfs::{read_limit, resolve_link, RealSysfs, Sysfs};

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
/// The DMI attributes Linux makes readable by root only (mode 0400 in
/// `drivers/firmware/dmi-id.c`): the machine's, board's and chassis's serial
/// numbers and the system UUID. Left out of a snapshot unless
/// [`Capture::include_serials`].
pub const DMI_ROOT_ONLY_ATTRS: &[&str] = &[
    "product_serial",
    "product_uuid",
    "board_serial",
    "chassis_serial",
];
/// PCI attributes left out unless [`Capture::include_serials`]: `vpd` is mode
/// 0600 and holds the board's serial number (keyword `SN`).
pub const DEVICE_ROOT_ONLY_ATTRS: &[&str] = &["vpd"];
/// The PCIe extended capability whose 8-byte serial number is zeroed in a
/// snapshot's `config` unless [`Capture::include_serials`] (Device Serial Number).
pub const DSN_CAPABILITY_ID: u16 = 0x0003;

/// What a snapshot captures beyond the lists above.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// Keep root-only identifiers: [`DMI_ROOT_ONLY_ATTRS`],
    /// [`DEVICE_ROOT_ONLY_ATTRS`] and the Device Serial Number in `config`.
    pub include_serials: bool,
}

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
    /// Collects the subset of `sysfs` that the tool reads, without root-only
    /// identifiers (the default [`Capture`]).
    pub fn collect(sysfs: &dyn Sysfs) -> Self {
        Self::collect_with(sysfs, &Capture::default())
    }

    /// Collects the subset of `sysfs` that the tool reads, as `capture` says.
    pub fn collect_with(sysfs: &dyn Sysfs, capture: &Capture) -> Self {
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
            s.copy_device_dir(sysfs, &dir, capture);
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
            if capture.include_serials || !DMI_ROOT_ONLY_ATTRS.contains(attr) {
                s.copy_file(sysfs, &Path::new(paths::DMI_ID).join(attr));
            }
        }
        s.record_classes(sysfs, capture);
        s
    }

    /// Everything the device classes besides PCI read ([`crate::nodes`]: USB,
    /// SCSI, storage, DRM, mdev, vDPA, s390, and their udev database entries),
    /// captured by running the enumeration itself against a recorder: the
    /// snapshot holds exactly what it read, links along the way included.
    fn record_classes(&mut self, sysfs: &dyn Sysfs, capture: &Capture) {
        let recorder = Recorder {
            inner: sysfs,
            log: std::sync::Mutex::new(Vec::new()),
        };
        // Everything but PCI functions' details (copied above, with their
        // own rules for what is left out).
        let _ = crate::nodes::enumerate(&recorder, crate::nodes::Detail::AllButPci);
        let log = recorder.log.into_inner().unwrap_or_else(|e| e.into_inner());
        for (op, path) in log {
            let secret = !capture.include_serials
                && (DEVICE_ROOT_ONLY_ATTRS.contains(&crate::sysfs::base_name(&path))
                    || path.starts_with(paths::DMI_ID));
            match op {
                Recorded::File(bytes) if !secret => {
                    if let Some(real) = self.record_path(sysfs, &path, true, 0) {
                        self.add(&real, Entry::File(bytes));
                    }
                }
                Recorded::Link(target) => {
                    if let Some(real) = self.record_path(sysfs, &path, false, 0) {
                        self.add(&real, Entry::Symlink(target));
                    }
                }
                Recorded::Dir => {
                    if let Some(real) = self.record_path(sysfs, &path, true, 0) {
                        self.add_dir(&real);
                    }
                }
                Recorded::Exists => {
                    if let Some(real) = self.record_path(sysfs, &path, true, 0) {
                        if sysfs.is_dir(&real) {
                            self.add_dir(&real);
                        } else if !self.entries.contains_key(&real) {
                            // Its content was not read (a write-only attribute,
                            // a /dev node): an empty file says it exists.
                            self.add(&real, Entry::File(Vec::new()));
                        }
                    }
                }
                Recorded::File(_) => {}
            }
        }
    }

    /// Records the links along `path` (and the last component's too, with
    /// `follow_last`), and returns the path they lead to.
    fn record_path(
        &mut self,
        sysfs: &dyn Sysfs,
        path: &Path,
        follow_last: bool,
        depth: usize,
    ) -> Option<PathBuf> {
        if depth > 40 {
            return None;
        }
        let parts: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let mut cur = PathBuf::from("/");
        for (i, part) in parts.iter().enumerate() {
            let next = cur.join(part);
            let last = i + 1 == parts.len();
            if (!last || follow_last) && sysfs.is_symlink(&next) {
                let target = sysfs.read_link(&next).ok()?;
                self.add(&next, Entry::Symlink(target.clone()));
                cur = self.record_path(sysfs, &resolve_link(&next, &target), true, depth + 1)?;
            } else {
                cur = next;
            }
        }
        Some(cur)
    }

    fn copy_device_dir(&mut self, sysfs: &dyn Sysfs, dir: &Path, capture: &Capture) {
        self.add_dir(dir);
        for attr in DEVICE_ATTRS {
            if capture.include_serials || !DEVICE_ROOT_ONLY_ATTRS.contains(attr) {
                self.copy_file(sysfs, &dir.join(attr));
            }
        }
        if !capture.include_serials {
            if let Some(Entry::File(config)) = self.entries.get_mut(&dir.join("config")) {
                zero_device_serial(config);
            }
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

/// What the recorder saw succeed.
enum Recorded {
    File(Vec<u8>),
    Link(PathBuf),
    Dir,
    Exists,
}

/// A [`Sysfs`] that answers from another and logs every successful read,
/// for [`Snapshot::record_classes`]. It never writes.
struct Recorder<'a> {
    inner: &'a dyn Sysfs,
    log: std::sync::Mutex<Vec<(Recorded, PathBuf)>>,
}

impl Recorder<'_> {
    fn note(&self, r: Recorded, path: &Path) {
        if let Ok(mut log) = self.log.lock() {
            log.push((r, path.to_path_buf()));
        }
    }
}

impl Sysfs for Recorder<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let r = self.inner.read(path);
        if let Ok(b) = &r {
            self.note(Recorded::File(b.clone()), path);
        }
        r
    }

    fn write(&self, _path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(30))
    }

    fn write_at(&self, _path: &Path, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(30))
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let r = self.inner.read_link(path);
        if let Ok(t) = &r {
            self.note(Recorded::Link(t.clone()), path);
        }
        r
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let r = self.inner.read_dir(path);
        if r.is_ok() {
            self.note(Recorded::Dir, path);
        }
        r
    }

    fn exists(&self, path: &Path) -> bool {
        let r = self.inner.exists(path);
        if r {
            self.note(Recorded::Exists, path);
        }
        r
    }

    fn is_symlink(&self, path: &Path) -> bool {
        self.inner.is_symlink(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        let r = self.inner.is_dir(path);
        if r {
            self.note(Recorded::Dir, path);
        }
        r
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }
}

/// Zeroes the serial number of every PCIe Device Serial Number capability in a
/// copy of config space (the 8 bytes after the capability header).
pub fn zero_device_serial(config: &mut [u8]) {
    const EXTENDED: usize = 0x100;
    let mut off = EXTENDED;
    // At most one capability per dword of extended space: a looping list ends.
    for _ in 0..(4096 - EXTENDED) / 4 {
        let Some(h) = config.get(off..off + 4) else {
            return;
        };
        let header = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if header == 0 || header == u32::MAX {
            return;
        }
        if header & 0xffff == u32::from(DSN_CAPABILITY_ID) {
            if let Some(serial) = config.get_mut(off + 4..off + 12) {
                serial.fill(0);
            }
        }
        let next = ((header >> 20) & 0xffc) as usize;
        if next < EXTENDED {
            return;
        }
        off = next;
    }
}

/// Bounds on a snapshot tar read into memory ([`Snapshot::read_tar`]). A real
/// snapshot of a large machine is a few MB, in tens of thousands of members, none
/// larger than 32 KiB (VPD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TarLimits {
    /// The archive's size in bytes (headers, names and data).
    pub archive_bytes: u64,
    /// Members, of any type.
    pub members: usize,
    /// One file's size (a sparse member counts with its full size).
    pub file_bytes: u64,
    /// All files' sizes together (a hard link counts as a copy).
    pub total_file_bytes: u64,
}

impl Default for TarLimits {
    /// 32 MiB of archive, 65 536 members, 64 KiB per file, 16 MiB of files.
    fn default() -> Self {
        Self {
            archive_bytes: 32 << 20,
            members: 65_536,
            file_bytes: 64 << 10,
            total_file_bytes: 16 << 20,
        }
    }
}

/// What to do with a snapshot too large to read into memory.
const UNPACK_HINT: &str = ", the most a snapshot tar may hold in memory; for a machine \
    this large, unpack it (`tar xf`) and give the directory to --root";

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A member's path inside the archive, made absolute (`sys/x` → `/sys/x`).
/// `None` for the archive's root (`./`); an error for `..`, which no snapshot has.
fn member_path(path: &Path) -> io::Result<Option<PathBuf>> {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                return Err(invalid(format!(
                    "member {} climbs out of the archive with '..'",
                    path.display()
                )))
            }
        }
    }
    Ok((out != Path::new("/")).then_some(out))
}

impl Snapshot {
    /// Reads a snapshot tar into memory, within `limits`; nothing is written to
    /// disk. Directories, regular files (sparse ones with their full size) and
    /// symbolic links are kept, links with their targets as stored (they are
    /// resolved inside the snapshot when read). A hard link becomes a copy of the
    /// earlier member it names, which must be in the archive. Device nodes,
    /// FIFOs and other special members are left out: a snapshot never holds them.
    pub fn read_tar(archive: impl Read, limits: &TarLimits) -> io::Result<Self> {
        let mut counted = archive.take(limits.archive_bytes.saturating_add(1));
        let result = Self::read_members(&mut counted, limits);
        // Cut off at the size limit, the tar reader fails or ends early: say why.
        if counted.limit() == 0 {
            return Err(invalid(format!(
                "the archive is larger than {}{UNPACK_HINT}",
                files::bytes(limits.archive_bytes)
            )));
        }
        result
    }

    fn read_members(archive: &mut dyn Read, limits: &TarLimits) -> io::Result<Self> {
        let mut snap = Self::default();
        let mut total: u64 = 0;
        let count = |total: &mut u64, bytes: &[u8]| {
            *total += bytes.len() as u64;
            if *total > limits.total_file_bytes {
                return Err(invalid(format!(
                    "its files hold more than {}{UNPACK_HINT}",
                    files::bytes(limits.total_file_bytes)
                )));
            }
            Ok(())
        };
        let mut members = 0usize;
        {
            let mut a = tar::Archive::new(archive);
            for entry in a.entries()? {
                let mut entry = entry?;
                members += 1;
                if members > limits.members {
                    return Err(invalid(format!(
                        "more than {} members{UNPACK_HINT}",
                        limits.members
                    )));
                }
                let raw = entry.path()?.into_owned();
                let Some(path) = member_path(&raw)? else {
                    continue;
                };
                let shown = raw.display();
                let kind = entry.header().entry_type();
                use tar::EntryType as T;
                match kind {
                    T::Directory => snap.add_dir(&path),
                    T::Regular | T::Continuous | T::GNUSparse => {
                        let size = entry.size();
                        if size > limits.file_bytes {
                            return Err(invalid(format!(
                                "member {shown} is {size} bytes; a snapshot file holds at most {}",
                                files::bytes(limits.file_bytes)
                            )));
                        }
                        let bytes = files::read_limited(&mut entry, limits.file_bytes)
                            .map_err(|e| files::context(e, format!("member {shown}")))?;
                        count(&mut total, &bytes)?;
                        snap.add(&path, Entry::File(bytes));
                    }
                    T::Symlink => {
                        let target = entry
                            .link_name()?
                            .ok_or_else(|| invalid(format!("symbolic link {shown} has no target")))?
                            .into_owned();
                        if target.as_os_str().len() > 4096 {
                            return Err(invalid(format!(
                                "symbolic link {shown} has a target longer than 4096 bytes"
                            )));
                        }
                        snap.add(&path, Entry::Symlink(target));
                    }
                    T::Link => {
                        let target = entry
                            .link_name()?
                            .ok_or_else(|| invalid(format!("hard link {shown} has no target")))?
                            .into_owned();
                        let found = member_path(&target)
                            .map_err(|e| {
                                invalid(format!(
                                    "hard link {shown} names {}: {e}",
                                    target.display()
                                ))
                            })?
                            .and_then(|t| snap.entries.get(&t).cloned());
                        let Some(copy) = found.filter(|e| !matches!(e, Entry::Dir)) else {
                            return Err(invalid(format!(
                                "hard link {shown} names {}, which is not a file earlier in the \
                                 archive (a hard link in a snapshot never reaches the host)",
                                target.display()
                            )));
                        };
                        if let Entry::File(bytes) = &copy {
                            count(&mut total, bytes)?;
                        }
                        snap.add(&path, copy);
                    }
                    // Devices, FIFOs, and anything else: never part of a snapshot.
                    _ => {}
                }
            }
        }
        Ok(snap)
    }

    /// The entry a path resolves to inside the snapshot, for [`Sysfs`] reads.
    fn resolved(&self, path: &Path, follow_last: bool) -> io::Result<Resolved<PathBuf>> {
        resolve(self, path, follow_last)
    }
}

impl Tree for Snapshot {
    type Dir = PathBuf;

    fn root(&self) -> io::Result<PathBuf> {
        Ok(PathBuf::from("/"))
    }

    fn lookup(&self, dir: &PathBuf, name: &OsStr) -> io::Result<Kind<PathBuf>> {
        let path = dir.join(name);
        match self.entries.get(&path) {
            None => Err(io::ErrorKind::NotFound.into()),
            Some(Entry::Dir) => Ok(Kind::Dir(path)),
            Some(Entry::File(_)) => Ok(Kind::File),
            Some(Entry::Symlink(t)) => Ok(Kind::Link(t.clone())),
        }
    }
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A snapshot read back: read-only, every link resolved inside it, reads bounded
/// by [`read_limit`] as on a directory root.
impl Sysfs for Snapshot {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let r = self.resolved(path, true)?;
        match (&r.kind, &r.name) {
            (Kind::File, Some(name)) => {
                let Some(Entry::File(bytes)) = self.entries.get(&r.parent.join(name)) else {
                    return Err(io::ErrorKind::NotFound.into());
                };
                let limit = read_limit(path);
                if bytes.len() as u64 > limit {
                    return Err(files::too_large(limit));
                }
                Ok(bytes.clone())
            }
            (Kind::Dir(_), _) => Err(errno(rustix::io::Errno::ISDIR)),
            _ => Err(errno(rustix::io::Errno::INVAL)),
        }
    }

    fn write(&self, _path: &Path, _data: &[u8]) -> io::Result<()> {
        Err(errno(rustix::io::Errno::ROFS))
    }

    fn write_at(&self, _path: &Path, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Err(errno(rustix::io::Errno::ROFS))
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        match self.resolved(path, false)?.kind {
            Kind::Link(t) => Ok(t),
            _ => Err(errno(rustix::io::Errno::INVAL)),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let Kind::Dir(dir) = self.resolved(path, true)?.kind else {
            return Err(errno(rustix::io::Errno::NOTDIR));
        };
        Ok(self
            .entries
            .range::<Path, _>((
                std::ops::Bound::Excluded(dir.as_path()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(p, _)| p.starts_with(&dir))
            .filter(|(p, _)| p.parent() == Some(dir.as_path()))
            .filter_map(|(p, _)| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect())
    }

    fn exists(&self, path: &Path) -> bool {
        self.resolved(path, true).is_ok()
    }

    fn is_symlink(&self, path: &Path) -> bool {
        matches!(
            self.resolved(path, false),
            Ok(Resolved {
                kind: Kind::Link(_),
                ..
            })
        )
    }

    fn is_dir(&self, path: &Path) -> bool {
        matches!(
            self.resolved(path, true),
            Ok(Resolved {
                kind: Kind::Dir(_),
                ..
            })
        )
    }
}

/// Opens a `--root`: a directory is read in place through in-root resolution
/// ([`RealSysfs::with_root`]); a regular file is a snapshot tar, read into memory
/// within the default [`TarLimits`]. Anything else (a FIFO, a device) is refused
/// without being opened. Errors say which it was.
pub fn open(root: &Path) -> io::Result<Arc<dyn Sysfs>> {
    let meta = std::fs::metadata(root)?;
    if meta.is_dir() {
        return Ok(Arc::new(RealSysfs::with_root(root)));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}, neither a directory nor a snapshot file",
                files::kind_of(&meta)
            ),
        ));
    }
    let limits = TarLimits::default();
    if meta.len() > limits.archive_bytes {
        return Err(invalid(format!(
            "{} bytes, more than {}{UNPACK_HINT}",
            meta.len(),
            files::bytes(limits.archive_bytes)
        )));
    }
    let file = files::open_regular(root)?;
    Ok(Arc::new(Snapshot::read_tar(
        io::BufReader::new(file),
        &limits,
    )?))
}

/// Unpacks a snapshot tar into `dir` (which must exist). Entries that would land
/// outside `dir` are refused by the tar reader; links are kept as they are.
/// The tool itself never unpacks (see [`open`]); this is for tests and people.
pub fn unpack_tar<R: io::Read>(archive: R, dir: &Path) -> io::Result<()> {
    let mut a = tar::Archive::new(archive);
    a.set_preserve_permissions(false);
    a.set_overwrite(true);
    a.unpack(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar built member by member.
    struct Tar(tar::Builder<Vec<u8>>);

    impl Tar {
        fn new() -> Self {
            Self(tar::Builder::new(Vec::new()))
        }
        fn header(kind: tar::EntryType, size: u64) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(0o644);
            h
        }
        fn file(mut self, path: &str, bytes: &[u8]) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, bytes.len() as u64);
            self.0.append_data(&mut h, path, bytes).unwrap();
            self
        }
        fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Self {
            let mut h = Self::header(kind, 0);
            self.0.append_link(&mut h, path, target).unwrap();
            self
        }
        fn symlink(self, path: &str, target: &str) -> Self {
            self.link(tar::EntryType::Symlink, path, target)
        }
        fn special(mut self, kind: tar::EntryType, path: &str) -> Self {
            let mut h = Self::header(kind, 0);
            self.0.append_data(&mut h, path, io::empty()).unwrap();
            self
        }
        /// A GNU sparse member of `real` bytes whose last 512 are stored.
        fn sparse(mut self, path: &str, real: u64) -> Self {
            let mut h = Self::header(tar::EntryType::GNUSparse, 512);
            h.set_path(path).unwrap();
            let gnu = h.as_gnu_mut().unwrap();
            gnu.set_real_size(real);
            gnu.sparse[0].set_offset(real - 512);
            gnu.sparse[0].set_length(512);
            h.set_cksum();
            self.0.append(&h, &[b'x'; 512][..]).unwrap();
            self
        }
        fn bytes(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
        fn read(self) -> io::Result<Snapshot> {
            Snapshot::read_tar(self.bytes().as_slice(), &TarLimits::default())
        }
    }

    fn dev() -> &'static str {
        "sys/devices/pci0000:00/0000:00:01.0"
    }

    #[test]
    fn links_in_a_tar_stay_inside_it() {
        let snap = Tar::new()
            .file(&format!("{}/vendor", dev()), b"0x8086\n")
            .symlink(
                "sys/bus/pci/devices/0000:00:01.0",
                "../../../devices/pci0000:00/0000:00:01.0",
            )
            .symlink("sys/abs", "/sys/devices/pci0000:00/0000:00:01.0/vendor")
            .symlink("sys/out", "../../../../../../etc/passwd")
            .symlink("sys/etc", "/etc/passwd")
            .symlink("sys/zero", "/dev/zero")
            .symlink("sys/loop", "loop2")
            .symlink("sys/loop2", "loop")
            .read()
            .unwrap();
        assert_eq!(
            snap.read(Path::new("/sys/bus/pci/devices/0000:00:01.0/vendor"))
                .unwrap(),
            b"0x8086\n"
        );
        assert_eq!(snap.read(Path::new("/sys/abs")).unwrap(), b"0x8086\n");
        for p in ["/sys/out", "/sys/etc", "/sys/zero"] {
            let e = snap.read(Path::new(p)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{p}");
            assert!(!snap.exists(Path::new(p)), "{p}");
            assert!(snap.is_symlink(Path::new(p)), "{p}");
        }
        let e = snap.read(Path::new("/sys/loop")).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        assert_eq!(
            snap.read_link(Path::new("/sys/bus/pci/devices/0000:00:01.0"))
                .unwrap(),
            Path::new("../../../devices/pci0000:00/0000:00:01.0")
        );
        let mut names = snap.read_dir(Path::new("/sys/bus/pci/devices")).unwrap();
        names.sort();
        assert_eq!(names, ["0000:00:01.0"]);
        assert!(snap.is_dir(Path::new("/sys/bus/pci/devices/0000:00:01.0")));
        assert_eq!(
            snap.write(Path::new("/sys/abs"), b"x")
                .unwrap_err()
                .raw_os_error(),
            Some(rustix::io::Errno::ROFS.raw_os_error())
        );
    }

    #[test]
    fn hard_links_name_earlier_members_only() {
        let snap = Tar::new()
            .file("sys/a", b"A")
            .link(tar::EntryType::Link, "sys/b", "sys/a")
            .read()
            .unwrap();
        assert_eq!(snap.read(Path::new("/sys/b")).unwrap(), b"A");
        for target in ["/etc/passwd", "../../etc/passwd", "sys/later"] {
            let e = Tar::new()
                .link(tar::EntryType::Link, "sys/b", target)
                .file("sys/later", b"L")
                .read()
                .unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{target}");
        }
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        // A 2.5 GB sparse member, 512 bytes stored: refused from its header.
        let e = Tar::new()
            .sparse("sys/config", 2_500_000_000)
            .read()
            .unwrap_err();
        assert!(e.to_string().contains("2500000000 bytes"), "{e}");
        // A member just over the per-file limit.
        let e = Tar::new()
            .file("sys/vpd", &vec![0; (64 << 10) + 1])
            .read()
            .unwrap_err();
        assert!(e.to_string().contains("64 KiB"), "{e}");
        // Many files within the per-file limit, over the total.
        let limits = TarLimits {
            total_file_bytes: 10,
            ..TarLimits::default()
        };
        let tar = Tar::new().file("sys/a", b"123456").file("sys/b", b"123456");
        let e = Snapshot::read_tar(tar.bytes().as_slice(), &limits).unwrap_err();
        assert!(e.to_string().contains("more than 10 bytes"), "{e}");
        let limits = TarLimits {
            members: 2,
            ..TarLimits::default()
        };
        let tar = Tar::new().file("a", b"").file("b", b"").file("c", b"");
        let e = Snapshot::read_tar(tar.bytes().as_slice(), &limits).unwrap_err();
        assert!(e.to_string().contains("more than 2 members"), "{e}");
        let limits = TarLimits {
            archive_bytes: 2048,
            ..TarLimits::default()
        };
        let tar = Tar::new().file("a", &[1; 4096]);
        let e = Snapshot::read_tar(tar.bytes().as_slice(), &limits).unwrap_err();
        assert!(e.to_string().contains("larger than 2 KiB"), "{e}");
        // An attribute read is bounded like the kernel's: a page.
        let snap = Tar::new()
            .file("sys/uevent", &[b'x'; 5000])
            .file("sys/vpd", &[b'v'; 5000])
            .read()
            .unwrap();
        let e = snap.read(Path::new("/sys/uevent")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(snap.read(Path::new("/sys/vpd")).unwrap().len(), 5000);
    }

    #[test]
    fn special_members_and_dot_dot_are_not_kept() {
        let snap = Tar::new()
            .special(tar::EntryType::Fifo, "sys/fifo")
            .special(tar::EntryType::Char, "sys/zero")
            .file("sys/ok", b"1")
            .read()
            .unwrap();
        assert!(!snap.exists(Path::new("/sys/fifo")));
        assert!(!snap.exists(Path::new("/sys/zero")));
        assert!(snap.exists(Path::new("/sys/ok")));
        // The tar crate refuses to write `..`; write the header by hand.
        let mut h = Tar::header(tar::EntryType::Regular, 1);
        h.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &b"x"[..]).unwrap();
        let e = Snapshot::read_tar(b.into_inner().unwrap().as_slice(), &TarLimits::default())
            .unwrap_err();
        assert!(e.to_string().contains("'..'"), "{e}");
    }

    #[test]
    fn serials_are_left_out_unless_asked_for() {
        let mut config = vec![0u8; 4096];
        config[..4].copy_from_slice(&[0x86, 0x80, 0xd3, 0x10]);
        // Extended capabilities: AER (0x0001) at 0x100 → DSN (0x0003) at 0x140.
        config[0x100..0x104]
            .copy_from_slice(&(0x0001u32 | (1 << 16) | (0x140 << 20)).to_le_bytes());
        config[0x140..0x144].copy_from_slice(&(0x0003u32 | (1 << 16)).to_le_bytes());
        config[0x144..0x14c].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let live = Tar::new()
            .file(&format!("{}/config", dev()), &config)
            .file(&format!("{}/vpd", dev()), b"\x82\x03\x00abc")
            .file(&format!("{}/vendor", dev()), b"0x8086\n")
            .symlink(
                "sys/bus/pci/devices/0000:00:01.0",
                "../../../devices/pci0000:00/0000:00:01.0",
            )
            .file("sys/devices/virtual/dmi/id/product_name", b"Box\n")
            .file("sys/devices/virtual/dmi/id/product_serial", b"SER123\n")
            .file("sys/devices/virtual/dmi/id/product_uuid", b"uuid\n")
            .read()
            .unwrap();
        let dmi =
            |s: &Snapshot, a: &str| s.entries().contains_key(&Path::new(paths::DMI_ID).join(a));
        let attr =
            |s: &Snapshot, a: &str| match s.entries().get(&Path::new("/").join(dev()).join(a)) {
                Some(Entry::File(b)) => Some(b.clone()),
                _ => None,
            };
        let plain = Snapshot::collect(&live);
        assert!(dmi(&plain, "product_name"));
        assert!(!dmi(&plain, "product_serial"));
        assert!(!dmi(&plain, "product_uuid"));
        assert_eq!(attr(&plain, "vpd"), None);
        let scrubbed = attr(&plain, "config").unwrap();
        assert_eq!(&scrubbed[0x144..0x14c], &[0; 8]);
        assert_eq!(scrubbed[..0x144], config[..0x144]);
        assert_eq!(scrubbed[0x14c..], config[0x14c..]);
        let full = Snapshot::collect_with(
            &live,
            &Capture {
                include_serials: true,
            },
        );
        assert!(dmi(&full, "product_serial"));
        assert!(dmi(&full, "product_uuid"));
        assert_eq!(attr(&full, "vpd").unwrap(), b"\x82\x03\x00abc");
        assert_eq!(attr(&full, "config").unwrap(), config);
    }

    #[test]
    fn device_serial_walk_survives_loops_and_short_config() {
        let mut config = vec![0u8; 0x110];
        // A capability pointing at itself.
        config[0x100..0x104].copy_from_slice(&(0x0003u32 | (0x100 << 20)).to_le_bytes());
        config[0x104..0x10c].copy_from_slice(&[9; 8]);
        zero_device_serial(&mut config);
        assert_eq!(&config[0x104..0x10c], &[0; 8]);
        let mut short = vec![0xffu8; 64];
        zero_device_serial(&mut short);
        assert_eq!(short, vec![0xff; 64]);
    }

    #[test]
    fn a_snapshot_reads_back_as_written() {
        let snap = Tar::new()
            .file(&format!("{}/vendor", dev()), b"0x8086\n")
            .symlink(
                "sys/bus/pci/devices/0000:00:01.0",
                "../../../devices/pci0000:00/0000:00:01.0",
            )
            .read()
            .unwrap();
        let again = Snapshot::read_tar(
            snap.write_tar(Vec::new()).unwrap().as_slice(),
            &TarLimits::default(),
        )
        .unwrap();
        assert_eq!(again.entries(), snap.entries());
    }
}
