//! sysfs access behind one small trait, so the real kernel, a snapshot directory
//! and the simulated kernel share every line of the code above it.
//!
//! Paths are always written as on a live system (`/sys/bus/pci/devices/…`); an
//! implementation maps them onto wherever its tree lives. Every path the engine
//! builds comes from a validated [`PciAddress`](pci_types::PciAddress) or
//! [`DriverName`](pci_types::DriverName), never from raw user input.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

/// The operations the engine needs from the kernel's sysfs.
///
/// Reads and directory listings behave as `read(2)`/`readdir(3)` would; a write is
/// exactly one `write(2)` of the whole buffer, because the kernel acts on each
/// write call (a split write to `driver_override` sets the override to the tail).
/// [`write_at`](Sysfs::write_at) is one `pwrite(2)`, for the binary `config`
/// attribute, where the offset is the config-space register.
pub trait Sysfs: Send + Sync {
    /// Reads a whole attribute file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Writes `data` to an attribute file in one `write(2)`, without creating or truncating it.
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Writes `data` at byte `offset` of a binary attribute (PCI `config`) in one
    /// `pwrite(2)`. A short write is an error: the kernel truncates writes past the
    /// end of config space silently, and a register half-written is never intended.
    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()>;
    /// The target of a symbolic link, as stored (sysfs links are relative).
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
    /// The names of a directory's entries, in the order the filesystem returns them.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether the path exists (a dangling link counts as absent, as `access(2)` says).
    fn exists(&self, path: &Path) -> bool;
    /// Whether the path itself is a symbolic link.
    fn is_symlink(&self, path: &Path) -> bool;
    /// Whether the path is (or links to) a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether this is the running kernel's own sysfs, so that what sysfs does not
    /// hold (a network interface's offload features) may be asked of the kernel.
    fn is_live(&self) -> bool {
        false
    }
    /// Something that changes whenever the file does (size, modification time,
    /// inode), for caches of what is derived from it; `None` when unknown (then
    /// nothing is cached).
    fn version_of(&self, _path: &Path) -> Option<String> {
        None
    }
}

/// The most bytes read from a sysfs attribute: a page, what a `show()` method
/// can return (`PAGE_SIZE` on x86-64).
pub const MAX_ATTRIBUTE: u64 = 4096;
/// The most bytes read from a PCI function's `config`: PCIe's 4 KiB
/// configuration space (conventional PCI has 256 bytes).
pub const MAX_CONFIG: u64 = 4096;
/// The most bytes read from a PCI function's `vpd`: 32 KiB, the whole VPD
/// address space (its address register has 15 bits).
pub const MAX_VPD: u64 = 32 << 10;
/// The most bytes read from a file outside `/sys` (`/proc`, `/lib/modules/…`).
pub const MAX_OTHER_FILE: u64 = 16 << 20;

/// The most bytes a snapshot read of `path` returns: what the kernel would give
/// ([`MAX_CONFIG`] for `config`, [`MAX_VPD`] for `vpd`, [`MAX_ATTRIBUTE`] for
/// any other file under `/sys`), what udevd writes for a database entry
/// ([`crate::udev::MAX_UDEV_DATA`] under `/run/udev/data`), [`MAX_OTHER_FILE`]
/// elsewhere. A longer file is an [`io::ErrorKind::FileTooLarge`] error, not a
/// truncated read: no kernel (nor udevd) made it.
pub fn read_limit(path: &Path) -> u64 {
    match base_name(path) {
        "config" => MAX_CONFIG,
        "vpd" => MAX_VPD,
        _ if path.starts_with("/sys") => MAX_ATTRIBUTE,
        _ if path.starts_with(crate::udev::UDEV_DATA) => crate::udev::MAX_UDEV_DATA as u64,
        _ => MAX_OTHER_FILE,
    }
}

/// The real filesystem: `/` for the live system, or a snapshot directory
/// (an unpacked `nodedev snapshot`, a hand-made tree in a test).
///
/// The live system is read as it always was (`std::fs`). A snapshot directory
/// is confined: every path, link and listing is resolved inside the root, one
/// component at a time without following links out; only regular files with
/// one link are opened (`O_NOFOLLOW | O_NONBLOCK`), and reads stop at
/// [`read_limit`]. See `crate::confined` (private) for the rules.
#[derive(Debug, Clone)]
pub struct RealSysfs {
    root: PathBuf,
    confined: Option<crate::confined::ConfinedDir>,
}

impl RealSysfs {
    /// The live system (root `/`).
    pub fn system() -> Self {
        Self {
            root: PathBuf::from("/"),
            confined: None,
        }
    }

    /// A snapshot tree under `root`: `/sys/…` is read from `root/sys/…`, and
    /// nothing outside `root` is ever read or written (see the type's documentation).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            confined: Some(crate::confined::ConfinedDir::new(root.clone())),
            root,
        }
    }

    /// The root directory this instance reads under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a live-system path onto this root, lexically. Only normal components
    /// are kept, so no `..` in a path can climb out of the root (links in the tree
    /// are another matter: a snapshot root is read through in-root resolution,
    /// not through this path).
    pub fn host_path(&self, path: &Path) -> PathBuf {
        let mut out = self.root.clone();
        for c in path.components() {
            if let Component::Normal(part) = c {
                out.push(part);
            }
        }
        out
    }
}

impl Sysfs for RealSysfs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if let Some(c) = &self.confined {
            return c.read(path);
        }
        std::fs::read(self.host_path(path))
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        if let Some(c) = &self.confined {
            return c.write(path, data);
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.host_path(path))?;
        write_once(&f, data)
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        if let Some(c) = &self.confined {
            return c.write_at(path, offset, data);
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.host_path(path))?;
        write_at_once(&f, offset, data)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        if let Some(c) = &self.confined {
            return c.read_link(path);
        }
        std::fs::read_link(self.host_path(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        if let Some(c) = &self.confined {
            return c.read_dir(path);
        }
        std::fs::read_dir(self.host_path(path))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }

    fn exists(&self, path: &Path) -> bool {
        if let Some(c) = &self.confined {
            return c.exists(path);
        }
        self.host_path(path).exists()
    }

    fn is_symlink(&self, path: &Path) -> bool {
        if let Some(c) = &self.confined {
            return c.is_symlink(path);
        }
        self.host_path(path).is_symlink()
    }

    fn is_dir(&self, path: &Path) -> bool {
        if let Some(c) = &self.confined {
            return c.is_dir(path);
        }
        self.host_path(path).is_dir()
    }

    fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    fn version_of(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        if self.confined.is_some() {
            return None;
        }
        let m = std::fs::metadata(self.host_path(path)).ok()?;
        Some(format!(
            "{} {}.{} {} {}",
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.dev(),
            m.ino()
        ))
    }
}

/// One `write(2)` of all of `data`; a short write is an error (the kernel acts
/// on each write call, so a second call to finish it would be a second command).
pub(crate) fn write_once(mut f: &std::fs::File, data: &[u8]) -> io::Result<()> {
    let n = f.write(data)?;
    if n != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {n} of {} bytes", data.len()),
        ));
    }
    Ok(())
}

/// One `pwrite(2)` of all of `data` at `offset`; a short write is an error.
pub(crate) fn write_at_once(f: &std::fs::File, offset: u64, data: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let n = f.write_at(data, offset)?;
    if n != data.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "short write at offset {offset:#x}: {n} of {} bytes",
                data.len()
            ),
        ));
    }
    Ok(())
}

/// Resolves a symlink's target against the directory holding the link, purely
/// lexically (sysfs links are relative and never pass through other links), and
/// keeps the result inside `/`.
pub fn resolve_link(link: &Path, target: &Path) -> PathBuf {
    let mut out = if target.is_absolute() {
        PathBuf::from("/")
    } else {
        link.parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    };
    for c in target.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The last component of a path as a string (`""` if none).
pub fn base_name(path: &Path) -> &str {
    path.file_name().and_then(OsStr::to_str).unwrap_or("")
}

/// The order in which the kernel's sysfs (kernfs) lists a directory without
/// namespace tags: by `kernfs_name_hash` of the name, then by name.
///
/// libvirt prints some lists (IOMMU group members, mdev types) in directory order,
/// so to print what it prints — and to print the same thing from a snapshot whose
/// filesystem lists in another order — we sort by the kernel's own hash. This is
/// the hash of Linux ≥ 4.8 on 64-bit hosts (`partial_name_hash` per byte, then
/// `hash_long(hash, 32)`, then masked to 31 bits).
pub fn kernfs_order(names: &mut [String]) {
    names.sort_by_cached_key(|n| (kernfs_name_hash(n), n.clone()));
}

/// `kernfs_name_hash(name, NULL)` of fs/kernfs/dir.c on a 64-bit kernel.
pub fn kernfs_name_hash(name: &str) -> u32 {
    const GOLDEN_RATIO_64: u64 = 0x61C8_8646_80B5_83EB;
    let mut hash: u64 = 0;
    for &c in name.as_bytes() {
        let c = u64::from(c);
        hash = hash
            .wrapping_add(c << 4)
            .wrapping_add(c >> 4)
            .wrapping_mul(11);
    }
    let mut h = (hash.wrapping_mul(GOLDEN_RATIO_64) >> 32) as u32;
    h &= 0x7fff_ffff;
    // Reserved for ".", ".." and the end marker, as in the kernel.
    if h < 2 {
        h += 2;
    }
    if h >= 0x7fff_ffff {
        h = 0x7fff_fffe;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_path_never_leaves_the_root() {
        let s = RealSysfs::with_root("/tmp/snap");
        assert_eq!(
            s.host_path(Path::new("/sys/bus/pci/devices/../../../../etc/passwd")),
            PathBuf::from("/tmp/snap/sys/bus/pci/devices/etc/passwd")
        );
    }

    #[test]
    fn resolves_relative_links() {
        let got = resolve_link(
            Path::new("/sys/bus/pci/devices/0000:00:01.0"),
            Path::new("../../../devices/pci0000:00/0000:00:01.0"),
        );
        assert_eq!(got, PathBuf::from("/sys/devices/pci0000:00/0000:00:01.0"));
        let got = resolve_link(Path::new("/sys/a"), Path::new("../../../../x"));
        assert_eq!(got, PathBuf::from("/x"));
    }

    #[test]
    fn kernfs_order_matches_a_live_kernel() {
        // Order `ls -f /sys/bus/pci/devices` printed on a 6.18 kernel.
        let mut names: Vec<String> = [
            "0000:00:00.0",
            "0000:00:01.0",
            "0000:00:02.0",
            "0000:00:03.0",
            "0000:00:04.0",
            "0000:00:05.0",
        ]
        .map(String::from)
        .to_vec();
        kernfs_order(&mut names);
        assert_eq!(
            names,
            [
                "0000:00:01.0",
                "0000:00:04.0",
                "0000:00:00.0",
                "0000:00:03.0",
                "0000:00:02.0",
                "0000:00:05.0"
            ]
        );
    }
}
