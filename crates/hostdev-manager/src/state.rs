//! What this tool remembers about the devices it detached, and the locks that
//! serialize concurrent invocations.
//!
//! One JSON record per detached device in `<state dir>/devices/<BDF>.json`, written
//! atomically (temporary file, fsync, rename), so a crash leaves either the old
//! record or the new one. One lock file per device in `<state dir>/locks/`; an
//! operation locks every device it touches, in address order, so two invocations on
//! one device (or overlapping IOMMU groups) serialize and others run in parallel.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pci_types::{DriverName, PciAddress};

/// The default state directory (tmpfs: records describe the running kernel's
/// state, so they must not outlive a reboot).
pub const DEFAULT_STATE_DIR: &str = "/run/nodedev-shim";

/// How a device was moved to its stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMethod {
    /// `driver_override`, then unbind and `drivers_probe` (Linux ≥ 3.16).
    Override,
    /// `new_id` on the stub, unbind, explicit `bind`, `remove_id` (older kernels).
    NewId,
}

/// The device's identity, checked before every later operation on the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Subsystem vendor id (0 when the kernel does not expose it).
    pub subsystem_vendor: u16,
    /// Subsystem device id (0 when the kernel does not expose it).
    pub subsystem_device: u16,
}

/// The record of one detached device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The device.
    pub address: PciAddress,
    /// Who it is, so a different device at the same address is never "reattached".
    pub identity: Identity,
    /// The driver it had before (`None`: it was unbound).
    pub original_driver: Option<DriverName>,
    /// The stub it was bound to.
    pub stub: DriverName,
    /// How.
    pub method: BindMethod,
    /// A `new_id` this tool added and has not removed yet (normally `None`: it is
    /// removed at the end of the detach).
    pub dynamic_id: Option<String>,
    /// Whether a pciback slot was added (`new_slot`) and must be removed on reattach.
    pub slot_added: bool,
    /// Seconds since the Unix epoch.
    pub detached_at: u64,
    /// Anything left in an intermediate state, in words (e.g. an unbind still pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// Who asked for the detach when it was not a person: `hook:<domain>` for the
    /// libvirt hook, which gives back only what it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

/// Held locks; dropping releases them.
#[derive(Debug)]
pub struct LockGuard {
    _files: Vec<File>,
}

impl StateDir {
    /// A state directory at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, address: &PciAddress) -> PathBuf {
        self.dir
            .join("devices")
            .join(format!("{}.json", address.sysfs_name()))
    }

    /// Takes exclusive locks on every address (sorted, deduplicated), blocking
    /// until each is free.
    pub fn lock(&self, addresses: &[PciAddress]) -> io::Result<LockGuard> {
        let mut sorted = addresses.to_vec();
        sorted.sort();
        sorted.dedup();
        let mut files = Vec::with_capacity(sorted.len());
        for a in sorted {
            files.push(self.lock_file(&format!("{}.lock", a.sysfs_name()))?);
        }
        Ok(LockGuard { _files: files })
    }

    /// Takes the lock of a stub driver's dynamic id table (held while a new_id
    /// detach registers and removes ids), blocking; released when the file drops.
    pub fn lock_driver(&self, driver: &pci_types::DriverName) -> io::Result<fs::File> {
        self.lock_file(&format!("driver-{driver}.lock"))
    }

    /// Opens (creating) `locks/NAME` and takes its exclusive `flock`, blocking.
    fn lock_file(&self, name: &str) -> io::Result<fs::File> {
        let locks = self.dir.join("locks");
        fs::create_dir_all(&locks)?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(locks.join(name))?;
        f.lock()?;
        Ok(f)
    }

    /// The record of a device, if this tool detached it.
    pub fn load(&self, address: &PciAddress) -> io::Result<Option<Record>> {
        match fs::read(self.record_path(address)) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", self.record_path(address).display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a record atomically.
    pub fn save(&self, record: &Record) -> io::Result<()> {
        let path = self.record_path(&record.address);
        let dir = path.parent().expect("records live in a directory");
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.tmp", record.address.sysfs_name()));
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(record).map_err(io::Error::other)?)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()
    }

    /// Forgets a device.
    pub fn remove(&self, address: &PciAddress) -> io::Result<()> {
        match fs::remove_file(self.record_path(address)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every record, sorted by address.
    pub fn list(&self) -> io::Result<Vec<Record>> {
        let dir = self.dir.join("devices");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in entries {
            let name = e?.file_name().to_string_lossy().into_owned();
            let Some(bdf) = name.strip_suffix(".json") else {
                continue;
            };
            let Ok(address) = PciAddress::from_sysfs_name(bdf) else {
                continue;
            };
            if let Some(r) = self.load(&address)? {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.address);
        Ok(out)
    }
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
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
            dynamic_id: None,
            slot_added: false,
            detached_at: 1,
            pending: None,
            owner: None,
        }
    }

    #[test]
    fn records_round_trip_and_list_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path());
        assert_eq!(s.load(&"0000:00:01.0".parse().unwrap()).unwrap(), None);
        for bdf in ["0000:00:02.0", "0000:00:01.0"] {
            s.save(&record(bdf)).unwrap();
        }
        let all = s.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], record("0000:00:01.0"));
        s.remove(&"0000:00:01.0".parse().unwrap()).unwrap();
        s.remove(&"0000:00:01.0".parse().unwrap()).unwrap();
        assert_eq!(s.list().unwrap().len(), 1);
    }

    #[test]
    fn locks_serialize_and_release() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path());
        let a: PciAddress = "0000:00:01.0".parse().unwrap();
        let guard = s.lock(&[a, a]).unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let (s2, r2) = (s.clone(), released.clone());
        let t = std::thread::spawn(move || {
            let _g = s2.lock(&[a]).unwrap();
            // Only reachable once the first holder has let go.
            r2.load(Ordering::SeqCst)
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        released.store(true, Ordering::SeqCst);
        drop(guard);
        assert!(
            t.join().unwrap(),
            "the second locker ran while the lock was held"
        );
    }
}
