//! A directory tree read as a snapshot root: every path is resolved inside the
//! root ([`crate::resolve`]) through `O_PATH | O_NOFOLLOW` descriptors, one
//! component at a time, so no link — absolute, relative, or looping — reaches a
//! file outside it, and no path is ever handed to the kernel whole.
//!
//! Files are opened only when they are regular files (a device node, FIFO or
//! socket is refused after `fstatat`, without being opened), with `O_NOFOLLOW |
//! O_NONBLOCK | O_NOCTTY`, and checked again with `fstat`; a regular file with
//! more than one hard link is refused too (a hard link could name any file on
//! the same filesystem). Reads stop at [`read_limit`](crate::sysfs::read_limit);
//! a directory lists at most [`MAX_DIR_ENTRIES`] names.
//!
//! The last few walks to a directory are kept as their descriptors, so reading a
//! device's thirty attributes walks to its directory once. A kept descriptor was
//! reached inside the root; if the tree changes meanwhile, a read may see the
//! directory it walked to then — still a directory that was inside the root.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::files;
use crate::resolve::{resolve, Kind, Resolved, Tree, Walked};
use crate::sysfs::{read_limit, write_at_once, write_once};

/// The most names one directory of a snapshot may list.
pub const MAX_DIR_ENTRIES: usize = 65_536;

/// How many walks to directories are kept (each holds a descriptor per level,
/// shared with the walks it was continued from): enough for the attributes of a
/// device and its links to be read without walking from the root each time, and
/// for the next device in path order to start from its parent's walk.
const REMEMBERED_WALKS: usize = 32;
/// Only walks at most this many directories deep are kept (sysfs paths are
/// under 20), so the kept descriptors stay under 32 × 24 = 768, below the usual
/// limit of 1024 open files, whatever a hostile tree's depth.
const REMEMBERED_DEPTH: usize = 24;

/// A snapshot directory: the root is opened for each walk from the root; the
/// last few walks to a directory are kept, as descriptors, for the reads that follow.
#[derive(Debug, Clone)]
pub(crate) struct ConfinedDir {
    root: PathBuf,
    walks: Walks,
}

type Dir = Arc<OwnedFd>;
/// The kept walks, the most recent first.
type Walks = Arc<Mutex<VecDeque<(PathBuf, Walked<Dir>)>>>;

impl Tree for ConfinedDir {
    type Dir = Dir;

    fn root(&self) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            &self.root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Arc::new(fd))
    }

    fn lookup(&self, dir: &Dir, name: &OsStr) -> io::Result<Kind<Dir>> {
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let fd = rustix::fs::openat(
                    dir,
                    name,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                Kind::Dir(Arc::new(fd))
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
                Kind::Link(PathBuf::from(std::ffi::OsString::from_vec(
                    target.into_bytes(),
                )))
            }
            FileType::RegularFile => Kind::File,
            _ => Kind::Other,
        })
    }

    fn recall(&self, path: &Path) -> Option<Walked<Dir>> {
        let mut walks = self.walks.lock().unwrap_or_else(|p| p.into_inner());
        let at = walks
            .iter()
            .position(|(p, _)| p.as_os_str() == path.as_os_str())?;
        let hit = walks.remove(at)?;
        walks.push_front(hit.clone());
        Some(hit.1)
    }

    fn recall_ancestor(&self, path: &Path) -> Option<(Walked<Dir>, PathBuf)> {
        use std::os::unix::ffi::OsStrExt;
        let full = path.as_os_str().as_bytes();
        let mut walks = self.walks.lock().unwrap_or_else(|p| p.into_inner());
        // The longest kept path that `path` continues after a '/'.
        let (at, len) = walks
            .iter()
            .enumerate()
            .filter_map(|(i, (p, _))| {
                let p = p.as_os_str().as_bytes();
                (p.len() > 1
                    && full.len() > p.len()
                    && full.starts_with(p)
                    && full[p.len()] == b'/')
                    .then_some((i, p.len()))
            })
            .max_by_key(|(_, len)| *len)?;
        let hit = walks.remove(at)?;
        walks.push_front(hit.clone());
        let rest = PathBuf::from(std::ffi::OsStr::from_bytes(&full[len + 1..]));
        Some((hit.1, rest))
    }

    fn remember(&self, path: &Path, walked: &Walked<Dir>) {
        if walked.stack.len() > REMEMBERED_DEPTH {
            return;
        }
        let mut walks = self.walks.lock().unwrap_or_else(|p| p.into_inner());
        walks.push_front((path.to_path_buf(), walked.clone()));
        walks.truncate(REMEMBERED_WALKS);
    }
}

fn not_regular(kind: &Kind<Dir>) -> io::Error {
    let what = match kind {
        Kind::Dir(_) => {
            return io::Error::from_raw_os_error(rustix::io::Errno::ISDIR.raw_os_error())
        }
        Kind::Link(_) => "a symbolic link",
        Kind::File => "a regular file",
        Kind::Other => "a device node, FIFO or socket",
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}, not a regular file (never opened in a snapshot)"),
    )
}

impl ConfinedDir {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            walks: Arc::default(),
        }
    }

    /// Opens the regular file `path` leads to, with `flags` added to
    /// `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`.
    fn open_file(&self, path: &Path, flags: OFlags) -> io::Result<(File, u64)> {
        let r = resolve(self, path, true)?;
        let (parent, name) = match (&r.kind, r.name) {
            (Kind::File, Some(name)) => (r.parent, name),
            (kind, _) => return Err(not_regular(kind)),
        };
        let fd = rustix::fs::openat(
            &parent,
            &name,
            flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}, not a regular file", files::kind_of(&meta)),
            ));
        }
        if meta.nlink() != 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a file with {} hard links (a hard link may name any file on the \
                     filesystem; snapshot files have one)",
                    meta.nlink()
                ),
            ));
        }
        Ok((file, meta.len()))
    }

    pub(crate) fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let (file, size) = self.open_file(path, OFlags::RDONLY)?;
        files::read_limited_expecting(file, read_limit(path), size)
    }

    pub(crate) fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        write_once(&self.open_file(path, OFlags::WRONLY)?.0, data)
    }

    pub(crate) fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        write_at_once(&self.open_file(path, OFlags::WRONLY)?.0, offset, data)
    }

    pub(crate) fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        // The directory holding the link reached first (it is usually a
        // remembered walk), the link itself read without a lookup before it:
        // readlinkat(2) on anything else is EINVAL, as for a lookup.
        if let (Some(parent), Some(std::path::Component::Normal(name))) =
            (path.parent(), path.components().next_back())
        {
            if let Ok(dir) = crate::resolve::walk_to_dir_of(self, parent) {
                return rustix::fs::readlinkat(&dir, name, Vec::new())
                    .map(|t| PathBuf::from(std::ffi::OsString::from_vec(t.into_bytes())))
                    .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()));
            }
        }
        match resolve(self, path, false)?.kind {
            Kind::Link(target) => Ok(target),
            _ => Err(io::Error::from_raw_os_error(
                rustix::io::Errno::INVAL.raw_os_error(),
            )),
        }
    }

    pub(crate) fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let Resolved { kind, .. } = resolve(self, path, true)?;
        let Kind::Dir(dir) = kind else {
            return Err(io::Error::from_raw_os_error(
                rustix::io::Errno::NOTDIR.raw_os_error(),
            ));
        };
        let fd = rustix::fs::openat(
            &dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if names.len() == MAX_DIR_ENTRIES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("more than {MAX_DIR_ENTRIES} entries in one snapshot directory"),
                ));
            }
            names.push(String::from_utf8_lossy(name).into_owned());
        }
        Ok(names)
    }

    pub(crate) fn exists(&self, path: &Path) -> bool {
        resolve(self, path, true).is_ok()
    }

    pub(crate) fn is_symlink(&self, path: &Path) -> bool {
        matches!(
            resolve(self, path, false),
            Ok(Resolved {
                kind: Kind::Link(_),
                ..
            })
        )
    }

    pub(crate) fn is_dir(&self, path: &Path) -> bool {
        matches!(
            resolve(self, path, true),
            Ok(Resolved {
                kind: Kind::Dir(_),
                ..
            })
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::sysfs::{RealSysfs, Sysfs};
    use std::io;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    /// A snapshot root next to a secret that no read through it may return.
    struct Hostile {
        _dir: tempfile::TempDir,
        sysfs: RealSysfs,
        secret: std::path::PathBuf,
    }

    fn hostile() -> Hostile {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"TOP SECRET\n").unwrap();
        let root = dir.path().join("root");
        let d = root.join("sys/devices/pci0000:00/0000:00:01.0");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
        std::fs::write(d.join("vendor"), b"0x8086\n").unwrap();
        symlink(
            "../../../devices/pci0000:00/0000:00:01.0",
            root.join("sys/bus/pci/devices/0000:00:01.0"),
        )
        .unwrap();
        symlink(&secret, d.join("abs")).unwrap();
        symlink("../../../../secret", d.join("rel")).unwrap();
        symlink("/dev/zero", d.join("zero")).unwrap();
        symlink("loop2", d.join("loop")).unwrap();
        symlink("loop", d.join("loop2")).unwrap();
        symlink("../../..", root.join("sys/up")).unwrap();
        std::fs::hard_link(&secret, d.join("hard")).unwrap();
        crate::files::mkfifo(&d.join("fifo"));
        let big = std::fs::File::create(d.join("config")).unwrap();
        big.set_len(2_500_000_000).unwrap(); // sparse
        std::fs::write(d.join("vpd"), vec![0x82; 32 << 10]).unwrap();
        Hostile {
            sysfs: RealSysfs::with_root(&root),
            _dir: dir,
            secret,
        }
    }

    fn dev(attr: &str) -> std::path::PathBuf {
        Path::new("/sys/bus/pci/devices/0000:00:01.0").join(attr)
    }

    #[test]
    fn nothing_outside_the_root_is_read() {
        let h = hostile();
        assert_eq!(h.sysfs.read(&dev("vendor")).unwrap(), b"0x8086\n");
        for attr in ["abs", "rel", "zero"] {
            let e = h.sysfs.read(&dev(attr)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotFound, "{attr}: {e}");
            assert!(!h.sysfs.exists(&dev(attr)), "{attr}");
            assert!(h.sysfs.is_symlink(&dev(attr)), "{attr}");
        }
        // A link to the directory holding the root lands on the root itself.
        assert!(h
            .sysfs
            .read_dir(Path::new("/sys/up"))
            .unwrap()
            .contains(&"sys".to_string()));
        assert!(h.sysfs.read(Path::new("/sys/up/secret")).is_err());
        assert!(h.sysfs.read(Path::new("/../secret")).is_err());
        let e = h.sysfs.read(&dev("hard")).unwrap_err();
        assert!(e.to_string().contains("2 hard links"), "{e}");
        assert!(std::fs::read(&h.secret).is_ok());
    }

    #[test]
    fn specials_loops_and_big_files_end_at_once() {
        let h = hostile();
        let e = h.sysfs.read(&dev("fifo")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let e = h.sysfs.read(&dev("loop")).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        let e = h.sysfs.read(&dev("config")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
        assert_eq!(h.sysfs.read(&dev("vpd")).unwrap().len(), 32 << 10);
        assert!(h.sysfs.write(&dev("fifo"), b"1").is_err());
    }

    #[test]
    fn a_device_node_is_never_opened() {
        let h = hostile();
        let node = h
            .sysfs
            .root()
            .join("sys/devices/pci0000:00/0000:00:01.0/null");
        // Needs CAP_MKNOD (the test machine runs as root); without it there is nothing to test.
        if rustix::fs::mknodat(
            rustix::fs::CWD,
            &node,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 5), // /dev/zero
        )
        .is_err()
        {
            eprintln!("skipped: cannot mknod here");
            return;
        }
        let e = h.sysfs.read(&dev("null")).unwrap_err();
        assert!(e.to_string().contains("device node"), "{e}");
    }

    #[test]
    fn listings_and_links_go_through_the_same_rule() {
        let h = hostile();
        let mut names = h.sysfs.read_dir(Path::new("/sys/bus/pci/devices")).unwrap();
        names.sort();
        assert_eq!(names, ["0000:00:01.0"]);
        assert!(h.sysfs.read_dir(&dev("abs")).is_err());
        assert_eq!(h.sysfs.read_link(&dev("abs")).unwrap(), h.secret.as_path());
        assert!(h
            .sysfs
            .is_dir(Path::new("/sys/bus/pci/devices/0000:00:01.0")));
        assert!(!h.sysfs.is_dir(&dev("zero")));
    }

    #[test]
    fn a_walk_continued_from_a_kept_ancestor_reads_what_a_fresh_walk_reads() {
        // Reads through one instance (its kept walks warm, continued from the
        // nearest kept ancestor) and through a fresh instance each: the same
        // answers, links that climb or leave included.
        let h = hostile();
        let root = h.sysfs.root().to_path_buf();
        let d = root.join("sys/devices/pci0000:00/0000:00:01.0");
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("sub/deeper/attr"), b"deep\n").unwrap();
        std::fs::write(d.join("sub/attr"), b"sub\n").unwrap();
        symlink("../..", d.join("sub/deeper/up")).unwrap();
        symlink("/sys/devices", d.join("sub/abs")).unwrap();
        symlink("../../../../../../../../..", d.join("sub/out")).unwrap();
        let paths = [
            "/sys/devices/pci0000:00/0000:00:01.0/sub/deeper/attr",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/attr",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/deeper/up/vendor",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/deeper/up/sub/attr",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/deeper/../attr",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/abs/pci0000:00/0000:00:01.0/vendor",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/out/sys/devices/pci0000:00/0000:00:01.0/vendor",
            "/sys/devices/pci0000:00/0000:00:01.0/sub/out/secret",
            "/sys/devices/pci0000:00/0000:00:01.0/vendor",
        ];
        let warm = RealSysfs::with_root(&root);
        for round in 0..2 {
            for p in paths {
                let fresh = RealSysfs::with_root(&root);
                let a = warm.read(Path::new(p)).map_err(|e| e.kind());
                let b = fresh.read(Path::new(p)).map_err(|e| e.kind());
                assert_eq!(a, b, "{p} (round {round})");
                assert!(!a.unwrap_or_default().starts_with(b"TOP SECRET"), "{p}");
                let la = warm.read_link(Path::new(p)).map_err(|e| e.kind());
                let lb = fresh.read_link(Path::new(p)).map_err(|e| e.kind());
                assert_eq!(la, lb, "{p} as a link (round {round})");
            }
        }
        assert_eq!(
            warm.read(Path::new(paths[2])).unwrap(),
            warm.read(Path::new("/sys/devices/pci0000:00/0000:00:01.0/vendor"))
                .unwrap()
        );
    }
}
