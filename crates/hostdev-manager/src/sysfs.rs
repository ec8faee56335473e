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
}

/// The real filesystem under a root directory: `/` for the live system, or an
/// unpacked `nodedev snapshot` for a bug report or a test.
#[derive(Debug, Clone)]
pub struct RealSysfs {
    root: PathBuf,
}

impl RealSysfs {
    /// The live system (root `/`).
    pub fn system() -> Self {
        Self {
            root: PathBuf::from("/"),
        }
    }

    /// A tree under `root`: `/sys/…` is read from `root/sys/…`.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory this instance reads under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a live-system path onto this root. Only normal components are kept,
    /// so no `..` in a path can climb out of the root.
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
        std::fs::read(self.host_path(path))
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.host_path(path))?;
        let n = f.write(data)?;
        if n != data.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", data.len()),
            ));
        }
        Ok(())
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.host_path(path))?;
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

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(self.host_path(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        std::fs::read_dir(self.host_path(path))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect()
    }

    fn exists(&self, path: &Path) -> bool {
        self.host_path(path).exists()
    }

    fn is_symlink(&self, path: &Path) -> bool {
        self.host_path(path).is_symlink()
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.host_path(path).is_dir()
    }

    fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }
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
