//! What this tool remembers about the devices it detached, and the locks that
//! serialize concurrent invocations.
//!
//! Layout: `<state dir>/devices/<BDF>.json` (one [`Record`] per device, the
//! write-ahead journal of its operations) and `<state dir>/locks/<BDF>.lock`. An
//! operation locks every device it touches, in address order, with a bounded wait,
//! so two invocations on one device (or overlapping IOMMU groups) serialize and
//! others run in parallel.
//!
//! The tool runs as root on a directory others could have prepared, so:
//! - the directory and its subdirectories are created 0700, and one that is not a
//!   real directory, not owned by the effective user, or writable by group or
//!   others is refused (a planted record could make a hook unbind a host NIC);
//! - records are created 0600 with `O_EXCL`, opened with `O_NOFOLLOW` and
//!   `O_NONBLOCK`, must be regular files of at most [`MAX_RECORD_SIZE`] bytes, and
//!   are validated (the address must equal the file name; driver names and ids go
//!   through their types); a bad record is reported and skipped without blocking
//!   the other devices;
//! - a record is replaced by renaming a fresh file over it, never over anything
//!   but a regular file.
//!
//! Records live on tmpfs by default: they describe the running kernel's state,
//! so they must not outlive a reboot.

mod lock;
mod record;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use pci_types::{DriverName, PciAddress};

use crate::guarded::{self, check_regular, nofollow_nonblock, Guard};
pub use lock::{LockError, LockGuard, LockHolder, DEFAULT_LOCK_TIMEOUT};
pub use record::{now, valid_owner, BindMethod, DeviceId, Identity, Phase, Record, MAX_OWNER_LEN};

/// The default state directory.
pub const DEFAULT_STATE_DIR: &str = "/run/nodedev-shim";

/// The largest record file read (a real one is about 400 bytes).
pub const MAX_RECORD_SIZE: u64 = 64 * 1024;

/// Why the state directory or a record cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file operation failed.
    #[error("state directory: {what} {}: {source}", .path.display())]
    Io {
        /// What was attempted.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The directory could be tampered with by someone else.
    #[error("state directory {} {problem}: refusing to use it ({fix})", .path.display())]
    Unsafe {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What the admin can do.
        fix: String,
    },
    /// A record file is not one this tool wrote.
    #[error("record {} is unusable: {reason} (move it away to make the tool forget it)", .path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl From<Guard> for StateError {
    fn from(g: Guard) -> Self {
        match g {
            Guard::Io { what, path, source } => Self::Io { what, path, source },
            Guard::Unsafe { path, problem, fix } => Self::Unsafe { path, problem, fix },
            Guard::Bad { path, reason } => Self::BadRecord { path, reason },
        }
    }
}

/// A record that was skipped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unusable {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// Every record in the directory.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Listing {
    /// The usable records, sorted by address.
    pub records: Vec<Record>,
    /// Files that are not usable records (reported, never acted on).
    pub unusable: Vec<Unusable>,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
    lock_timeout: Duration,
    /// Set once the directories were created (by this process).
    prepared: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The largest cache file read.
const MAX_CACHE_SIZE: u64 = 1024 * 1024;

impl StateDir {
    /// A state directory at `dir` (created on first use).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            prepared: std::sync::Arc::default(),
        }
    }

    /// Sets how long a lock is waited for.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn devices_dir(&self) -> PathBuf {
        self.dir.join("devices")
    }

    fn record_path(&self, address: &PciAddress) -> PathBuf {
        self.devices_dir()
            .join(format!("{}.json", address.sysfs_name()))
    }

    /// Creates the directory and its subdirectories (0700) where missing, and
    /// checks that none of them can be tampered with.
    fn prepare(&self) -> Result<(), StateError> {
        let dirs = [
            self.dir.clone(),
            self.devices_dir(),
            self.dir.join("locks"),
            self.dir.join("cache"),
        ];
        // Each directory is checked before anything is created inside it; they
        // are created once per process and checked every time (someone could
        // change a mode between two operations of a long-lived caller).
        let create = !self.prepared.load(Ordering::Relaxed);
        for dir in &dirs {
            if create {
                match fs::DirBuilder::new().mode(0o700).create(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(source) => {
                        return Err(StateError::Io {
                            what: "cannot create",
                            path: dir.clone(),
                            source,
                        })
                    }
                }
            }
            check_dir(dir)?;
        }
        self.prepared.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Checks the directories that exist, for reads (nothing is created).
    fn check_existing(&self) -> Result<bool, StateError> {
        for dir in [self.dir.clone(), self.devices_dir()] {
            match fs::symlink_metadata(&dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                _ => check_dir(&dir)?,
            }
        }
        Ok(true)
    }

    /// Takes exclusive locks on every address (sorted, deduplicated), waiting at
    /// most the lock timeout for each.
    pub fn lock(&self, addresses: &[PciAddress]) -> Result<LockGuard, StateError> {
        self.prepare()?;
        let mut sorted = addresses.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut files = Vec::with_capacity(sorted.len());
        for a in sorted {
            files.push(self.lock_file(&format!("{}.lock", a.sysfs_name()), &a.to_string())?);
        }
        Ok(LockGuard::new(files))
    }

    /// Takes the lock of a stub driver's dynamic id table (held while a new_id
    /// detach registers and removes ids).
    pub fn lock_driver(&self, driver: &DriverName) -> Result<LockGuard, StateError> {
        self.prepare()?;
        let file = self.lock_file(
            &format!("driver-{driver}.lock"),
            &format!("{driver}'s dynamic id table"),
        )?;
        Ok(LockGuard::new(vec![file]))
    }

    /// Opens (creating, 0600) `locks/NAME` and takes its exclusive `flock`.
    fn lock_file(&self, name: &str, what: &str) -> Result<File, StateError> {
        let path = self.dir.join("locks").join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(nofollow_nonblock())
            .open(&path)
            .map_err(|source| StateError::Io {
                what: "cannot open lock file",
                path: path.clone(),
                source,
            })?;
        check_regular(&file, &path)?;
        Ok(lock::lock_with_timeout(
            file,
            &path,
            what,
            self.lock_timeout,
        )?)
    }

    /// The record of a device, if this tool detached it (or is detaching it).
    pub fn load(&self, address: &PciAddress) -> Result<Option<Record>, StateError> {
        if !self.check_existing()? {
            return Ok(None);
        }
        let path = self.record_path(address);
        match read_record(&path) {
            Ok(Some(r)) if r.address != *address => Err(StateError::BadRecord {
                path,
                reason: format!("it names {} but its file name says {address}", r.address),
            }),
            other => other,
        }
    }

    /// Writes a record atomically: a new 0600 file, then a rename over the old one.
    /// `durable` adds an fsync of the file (once per operation, when it finishes).
    /// The journal's steps need to survive the process, which a rename does; they
    /// need not survive the machine, whose reboot forgets the kernel state they
    /// describe anyway (and the default directory is tmpfs).
    pub fn save(&self, record: &Record, durable: bool) -> Result<(), StateError> {
        self.prepare()?;
        let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| StateError::Io {
            what: "cannot encode",
            path: self.record_path(&record.address),
            source: io::Error::other(e),
        })?;
        bytes.push(b'\n');
        let path = self.record_path(&record.address);
        Ok(guarded::replace(&path, &bytes, 0o600, durable)?)
    }

    /// A cached value derived from a file, if the cache was made from the same
    /// `key` (which names the file's version). Anything unusable is a miss.
    pub fn cached(&self, name: &str, key: &str) -> Option<String> {
        self.check_existing().ok()?;
        let path = self.dir.join("cache").join(name);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nofollow_nonblock())
            .open(&path)
            .ok()?;
        check_regular(&file, &path).ok()?;
        let mut text = String::new();
        file.take(MAX_CACHE_SIZE).read_to_string(&mut text).ok()?;
        let (first, rest) = text.split_once('\n')?;
        (first == key).then(|| rest.to_string())
    }

    /// Stores a cached value (best effort: a cache that cannot be written is
    /// simply not used).
    pub fn store_cache(&self, name: &str, key: &str, value: &str) {
        if self.prepare().is_ok() {
            let content = format!("{key}\n{value}");
            let path = self.dir.join("cache").join(name);
            let _ = guarded::replace(&path, content.as_bytes(), 0o600, false);
        }
    }

    /// Forgets a device.
    pub fn remove(&self, address: &PciAddress) -> Result<(), StateError> {
        let path = self.record_path(address);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::Io {
                what: "cannot remove",
                path,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Every record, sorted by address; files that are not usable records are
    /// listed apart and never block the others.
    pub fn list(&self) -> Result<Listing, StateError> {
        let mut listing = Listing::default();
        if !self.check_existing()? {
            return Ok(listing);
        }
        let dir = self.devices_dir();
        let entries = fs::read_dir(&dir).map_err(|source| StateError::Io {
            what: "cannot list",
            path: dir.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a temporary file of a save in progress
            }
            let path = dir.join(&name);
            let address = name
                .strip_suffix(".json")
                .and_then(|bdf| PciAddress::from_sysfs_name(bdf).ok());
            let Some(address) = address else {
                listing.unusable.push(Unusable {
                    path,
                    reason: "its name is not <PCI address>.json".to_string(),
                });
                continue;
            };
            match self.load(&address) {
                Ok(Some(r)) => listing.records.push(r),
                Ok(None) => {}
                Err(StateError::BadRecord { path, reason }) => {
                    listing.unusable.push(Unusable { path, reason })
                }
                Err(e) => return Err(e),
            }
        }
        listing.records.sort_by_key(|r| r.address);
        listing.unusable.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }
}

/// A directory may hold records only if it is a real directory (not a symlink),
/// owned by the effective user (or root), and writable by no one else.
fn check_dir(dir: &Path) -> Result<(), StateError> {
    Ok(guarded::check_dir(dir, "--state-dir")?)
}

/// Reads and checks one record file: a regular file, bounded, well-formed.
fn read_record(path: &Path) -> Result<Option<Record>, StateError> {
    let Some((bytes, _)) = guarded::read_bounded(path, MAX_RECORD_SIZE)? else {
        return Ok(None);
    };
    let bad = |reason: String| StateError::BadRecord {
        path: path.to_path_buf(),
        reason,
    };
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    record.validate().map_err(bad)?;
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    use super::*;

    fn record(bdf: &str) -> Record {
        Record {
            address: bdf.parse().unwrap(),
            identity: Identity {
                vendor: 0x8086,
                device: 0x10d3,
                subsystem_vendor: 0x8086,
                subsystem_device: 0,
            },
            original_driver: Some(DriverName::new("e1000e").unwrap()),
            stub: DriverName::new("vfio-pci").unwrap(),
            method: BindMethod::Override,
            phase: Phase::Detached,
            override_set: true,
            dynamic_id: None,
            slot_added: false,
            bystanders: Vec::new(),
            owner: None,
            detached_at: 1,
        }
    }

    fn state() -> (tempfile::TempDir, StateDir) {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path().join("state"));
        (dir, s)
    }

    #[test]
    fn records_round_trip_and_list_sorted() {
        let (_d, s) = state();
        assert_eq!(s.load(&"0000:00:01.0".parse().unwrap()).unwrap(), None);
        for bdf in ["0000:00:02.0", "0000:00:01.0"] {
            s.save(&record(bdf), false).unwrap();
        }
        let all = s.list().unwrap();
        assert_eq!(all.records.len(), 2);
        assert_eq!(all.records[0], record("0000:00:01.0"));
        s.remove(&"0000:00:01.0".parse().unwrap()).unwrap();
        s.remove(&"0000:00:01.0".parse().unwrap()).unwrap();
        assert_eq!(s.list().unwrap().records.len(), 1);
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(s.path()), 0o700);
        assert_eq!(
            mode(&s.record_path(&"0000:00:02.0".parse().unwrap())),
            0o600
        );
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let (_d, s) = state();
        s.save(&record("0000:00:01.0"), false).unwrap();
        fs::set_permissions(s.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = s.list().unwrap_err().to_string();
        assert!(e.contains("writable by group or others (mode 0777)"), "{e}");
        assert!(s.load(&"0000:00:01.0".parse().unwrap()).is_err());
        assert!(s.lock(&["0000:00:01.0".parse().unwrap()]).is_err());
    }

    #[test]
    fn bad_records_are_skipped_and_named() {
        let (_d, s) = state();
        s.save(&record("0000:00:01.0"), false).unwrap();
        let devices = s.devices_dir();
        // An address that is not the file's own.
        let mut other = record("0000:00:09.0");
        other.address = "0000:00:03.0".parse().unwrap();
        fs::write(
            devices.join("0000:00:09.0.json"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        // A driver name with a slash.
        let text = serde_json::to_string(&record("0000:00:04.0"))
            .unwrap()
            .replace("e1000e", "../e1000e");
        fs::write(devices.join("0000:00:04.0.json"), text).unwrap();
        // A symlink to a root-only file, and a FIFO.
        std::os::unix::fs::symlink("/etc/shadow", devices.join("0000:00:05.0.json")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            devices.join("0000:00:06.0.json"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        fs::write(devices.join("junk.txt"), "x").unwrap();
        let listing = s.list().unwrap();
        assert_eq!(listing.records, vec![record("0000:00:01.0")]);
        let reasons: Vec<String> = listing
            .unusable
            .iter()
            .map(|u| {
                format!(
                    "{}: {}",
                    u.path.file_name().unwrap().to_string_lossy(),
                    u.reason
                )
            })
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:#?}");
        assert!(
            reasons[0].contains("0000:00:04.0.json") && reasons[0].contains("'/'"),
            "{reasons:#?}"
        );
        assert!(reasons[1].contains("symbolic link"), "{reasons:#?}");
        assert!(reasons[2].contains("not a regular file"), "{reasons:#?}");
        assert!(reasons[3].contains("names 0000:00:03.0"), "{reasons:#?}");
        assert!(reasons[4].contains("junk.txt"), "{reasons:#?}");
        // Saving over the FIFO is refused, never renamed over.
        assert!(s.save(&record("0000:00:06.0"), false).is_err());
        assert!(fs::symlink_metadata(devices.join("0000:00:06.0.json"))
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn a_cache_is_used_only_for_its_key() {
        let (_d, s) = state();
        assert_eq!(s.cached("x", "k1"), None);
        s.store_cache("x", "k1", "a\nb\n");
        assert_eq!(s.cached("x", "k1").as_deref(), Some("a\nb\n"));
        assert_eq!(s.cached("x", "k2"), None, "a changed file must miss");
        let mode = fs::metadata(s.path().join("cache/x"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn locks_serialize_and_release() {
        use std::sync::mpsc;
        let (_d, s) = state();
        let a: PciAddress = "0000:00:01.0".parse().unwrap();
        let guard = s.lock(&[a, a]).unwrap();
        // While held, another locker times out (naming this process)…
        let short = s.clone().with_lock_timeout(Duration::from_millis(30));
        let e = short.lock(&[a]).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        // …and one that waits longer gets it once it is released.
        let (tx, rx) = mpsc::channel();
        let s2 = s.clone().with_lock_timeout(Duration::from_secs(30));
        let t = std::thread::spawn(move || {
            let g = s2.lock(&[a]);
            tx.send(()).unwrap();
            g.is_ok()
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "got the lock while held"
        );
        drop(guard);
        assert!(t.join().unwrap());
    }
}
