//! Small files a root process keeps in directories someone else could have
//! prepared: the state directory's records ([`crate::state`]) and the persistent
//! assignments ([`crate::persist`]). One set of rules for both:
//!
//! - a directory is used only if it is a real directory (not a symlink), owned
//!   by the effective user or root, and writable by no one else ([`check_dir`]);
//! - a file is opened with `O_NOFOLLOW | O_NONBLOCK` (a symlink answers ELOOP and
//!   is refused, a FIFO cannot block the open), must be a regular file, and is
//!   read up to a stated size ([`read_bounded`]);
//! - a file is replaced by writing a fresh temporary file (created with `O_EXCL`,
//!   a mode set exactly) in the same directory and renaming it over the old one,
//!   never over anything but a regular file ([`replace`]).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a guarded directory or file cannot be used.
#[derive(Debug)]
pub(crate) enum Guard {
    /// A file operation failed.
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The directory could be tampered with by someone else.
    Unsafe {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    /// The file is not one this tool wrote (a symlink, a FIFO, too large).
    Bad { path: PathBuf, reason: String },
}

impl Guard {
    pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io { what, path, source }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`, for `custom_flags`.
pub(crate) fn nofollow_nonblock() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC)
        .bits() as i32
}

/// Checks that `dir` is a real directory, owned by the effective user (or root),
/// and writable by neither group nor others. `elsewhere` is the option that
/// names another directory (`--state-dir`), for the message.
pub(crate) fn check_dir(dir: &Path, elsewhere: &str) -> Result<(), Guard> {
    let meta = fs::symlink_metadata(dir).map_err(Guard::io("cannot inspect", dir))?;
    let unsafe_dir = |problem: String, fix: String| {
        Err(Guard::Unsafe {
            path: dir.to_path_buf(),
            problem,
            fix,
        })
    };
    if !meta.file_type().is_dir() {
        return unsafe_dir(
            "is not a directory (a symlink or a file)".to_string(),
            format!("remove it, or name another with {elsewhere}"),
        );
    }
    // Root's own directory is as safe as ours: a user who may not write it is
    // then told "permission denied" by the kernel, not refused here.
    let euid = rustix::process::geteuid().as_raw();
    if meta.uid() != euid && meta.uid() != 0 {
        return unsafe_dir(
            format!(
                "is owned by uid {}, not by uid {euid} which runs this",
                meta.uid()
            ),
            format!("chown {euid} {}", dir.display()),
        );
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return unsafe_dir(
            format!("is writable by group or others (mode {mode:04o})"),
            format!("chmod go-w {}", dir.display()),
        );
    }
    Ok(())
}

/// Checks that an opened file is a regular file; returns its metadata.
pub(crate) fn check_regular(file: &File, path: &Path) -> Result<Metadata, Guard> {
    let meta = file.metadata().map_err(Guard::io("cannot inspect", path))?;
    if !meta.file_type().is_file() {
        return Err(Guard::Bad {
            path: path.to_path_buf(),
            reason: "it is not a regular file".to_string(),
        });
    }
    Ok(meta)
}

/// Reads a regular file of at most `limit` bytes without following a symlink
/// or blocking on a FIFO. `None`: there is no such file.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Option<(Vec<u8>, Metadata)>, Guard> {
    let bad = |reason: String| Guard::Bad {
        path: path.to_path_buf(),
        reason,
    };
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nofollow_nonblock())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // O_NOFOLLOW on a symlink answers ELOOP.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(bad("it is a symbolic link".to_string()))
        }
        Err(source) => {
            return Err(Guard::Io {
                what: "cannot open",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let meta = check_regular(&file, path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Guard::io("cannot read", path))?;
    if bytes.len() as u64 > limit {
        return Err(bad(format!("it is larger than {limit} bytes")));
    }
    Ok(Some((bytes, meta)))
}

/// Replaces (or creates) `path` with `bytes`: a fresh file of `mode` in the same
/// directory, synced when `durable`, renamed over `path` unless `path` is
/// something other than a regular file.
pub(crate) fn replace(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<(), Guard> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(nofollow_nonblock())
        .open(&tmp)
        .map_err(Guard::io("cannot create", &tmp))?;
    // The umask may have taken bits away: set the mode exactly.
    let written = f
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| if durable { f.sync_all() } else { Ok(()) });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Guard::io("cannot write", &tmp)(e));
    }
    // Never rename over a device node, a FIFO or a symlink.
    match fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => {
            let _ = fs::remove_file(&tmp);
            return Err(Guard::Bad {
                path: path.to_path_buf(),
                reason: "it is not a regular file".to_string(),
            });
        }
        _ => {}
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Guard::io("cannot replace", path)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_only_and_bounded() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        assert!(read_bounded(&f, 10).unwrap().is_none());
        fs::write(&f, "0123456789").unwrap();
        assert_eq!(read_bounded(&f, 10).unwrap().unwrap().0, b"0123456789");
        let e = read_bounded(&f, 9).unwrap_err();
        assert!(matches!(&e, Guard::Bad { reason, .. } if reason.contains("larger than 9")));
        let l = d.path().join("l");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        let e = read_bounded(&l, 10).unwrap_err();
        assert!(matches!(&e, Guard::Bad { reason, .. } if reason == "it is a symbolic link"));
        assert!(matches!(
            read_bounded(d.path(), 10).unwrap_err(),
            Guard::Bad { .. } | Guard::Io { .. }
        ));
    }

    #[test]
    fn replace_sets_the_mode_and_never_replaces_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        replace(&f, b"one", 0o644, true).unwrap();
        replace(&f, b"two", 0o644, false).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let l = d.path().join("l");
        std::os::unix::fs::symlink(&f, &l).unwrap();
        assert!(matches!(
            replace(&l, b"x", 0o644, false),
            Err(Guard::Bad { .. })
        ));
        assert_eq!(fs::read(&f).unwrap(), b"two");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(d.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn directories_others_can_write_are_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        check_dir(d.path(), "--x").unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o775)).unwrap();
        assert!(matches!(
            check_dir(d.path(), "--x"),
            Err(Guard::Unsafe { problem, .. }) if problem.contains("mode 0775")
        ));
        let l = d.path().join("l");
        std::os::unix::fs::symlink("/", &l).unwrap();
        assert!(matches!(
            check_dir(&l, "--x"),
            Err(Guard::Unsafe { fix, .. }) if fix.contains("--x")
        ));
    }
}
