//! Locks that serialize invocations: one `flock` per device (and one per stub
//! driver's dynamic id table), always taken in address order and always with a
//! bounded wait. A wait that runs out names the process holding the lock, as
//! `/proc/locks` tells it, instead of hanging the caller (a libvirt hook that
//! hangs hangs libvirt).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::human_duration;

/// How long an operation waits for a lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Held locks; dropping releases them.
#[derive(Debug)]
pub struct LockGuard {
    _files: Vec<File>,
}

impl LockGuard {
    pub(crate) fn new(files: Vec<File>) -> Self {
        Self { _files: files }
    }
}

/// The process holding a lock, from `/proc/locks`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LockHolder {
    /// Its process id (the one that took the lock).
    pub pid: u32,
    /// Its command name, when still running.
    pub command: Option<String>,
}

/// A lock that could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process held it for longer than the wait allowed.
    #[error("{what} is locked by another operation{}; gave up after {} (lock file {}; --lock-timeout waits longer)", holder_text(.holder), human_duration(*.waited), .path.display())]
    Timeout {
        /// What the lock protects (`0000:00:01.0`, `vfio-pci's id table`).
        what: String,
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// Who holds it, when `/proc/locks` says.
        holder: Option<LockHolder>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {}: {source}", .path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn holder_text(holder: &Option<LockHolder>) -> String {
    match holder {
        None => String::new(),
        Some(LockHolder {
            pid,
            command: Some(c),
        }) => format!(" (pid {pid}, {c})"),
        Some(LockHolder { pid, command: None }) => format!(" (pid {pid})"),
    }
}

/// Takes the exclusive `flock` of an open lock file, retrying until `timeout`.
pub(crate) fn lock_with_timeout(
    file: File,
    path: &Path,
    what: &str,
    timeout: Duration,
) -> Result<File, LockError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(LockError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(LockError::Timeout {
                what: what.to_string(),
                path: path.to_path_buf(),
                waited,
                holder: holder_of(&file),
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The holder of a `flock` on `file`, from `/proc/locks` (matched by inode).
fn holder_of(file: &File) -> Option<LockHolder> {
    let meta = file.metadata().ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = holder_in(&locks, meta.dev(), meta.ino())?;
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim_end().to_string());
    Some(LockHolder { pid, command })
}

/// Finds the pid holding a FLOCK on (dev, inode) in `/proc/locks` text: lines such
/// as `1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF`; waiters (`->`) are skipped.
fn holder_in(proc_locks: &str, dev: u64, ino: u64) -> Option<u32> {
    // Linux's dev_t encoding (MAJOR/MINOR of kdev_t as userspace sees it).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    proc_locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = fields.get(5)?.split(':');
        let (ma, mi, i) = (id.next()?, id.next()?, id.next()?);
        let same = u64::from_str_radix(ma, 16).ok()? == major
            && u64::from_str_radix(mi, 16).ok()? == minor
            && i.parse::<u64>().ok()? == ino;
        same.then(|| fields.get(4)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_holder_in_proc_locks() {
        let text = "1: FLOCK  ADVISORY  WRITE 4242 00:1a:777 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 999 00:1a:777 0 EOF\n\
                    2: POSIX  ADVISORY  WRITE 11 00:1a:888 0 EOF\n";
        let dev = 0x1a;
        assert_eq!(holder_in(text, dev, 777), Some(4242));
        assert_eq!(holder_in(text, dev, 888), None);
        assert_eq!(holder_in(text, dev, 1), None);
    }

    #[test]
    fn a_held_lock_times_out_naming_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = File::create(&path).unwrap();
        first.lock().unwrap();
        let second = File::options().write(true).open(&path).unwrap();
        let e = lock_with_timeout(second, &path, "x", Duration::from_millis(20)).unwrap_err();
        match e {
            LockError::Timeout { holder, .. } => {
                assert_eq!(holder.map(|h| h.pid), Some(std::process::id()))
            }
            other => panic!("{other}"),
        }
        drop(first);
        let third = File::options().write(true).open(&path).unwrap();
        assert!(lock_with_timeout(third, &path, "x", Duration::from_millis(20)).is_ok());
    }
}
