//! Persistent assignments: the devices to put on a stub driver at every boot.
//!
//! One small text file per device, `<config dir>/devices/<BDF>.conf` (the
//! config dir is `/etc/nodedev-shim` unless told otherwise), written by
//! `nodedev detach --persistent` and read at boot by the udev rule's helper and
//! by `nodedev boot` (see `docs/persistence.md`):
//!
//! ```text
//! # nodedev-shim: keep this device on its stub at every boot (docs/persistence.md)
//! address=0000:00:01.0
//! driver=vfio-pci
//! owner=qemu:kvm
//! vendor=0x8086
//! device=0x10d3
//! subsystem_vendor=0x8086
//! subsystem_device=0x0000
//! ```
//!
//! The rules a file must meet (anything else is refused, with the file named,
//! and boot goes on with the other devices):
//!
//! - lines are `key=value` with no spaces around `=`; blank lines and lines
//!   starting with `#` are comments; the last line ends with a newline;
//! - the keys are `address`, `driver`, `vendor`, `device`, `subsystem_vendor`,
//!   `subsystem_device` (all required) and `owner` (optional), each once; any
//!   other key is refused;
//! - `address` is the file's own name; `driver` is a driver name (letters,
//!   digits, `-_.`, no `/`); the ids are `0x` and four hex digits; `owner` is
//!   `USER[:GROUP]` (names or numbers);
//! - the file is a regular file (a symlink is refused, never followed) of at most
//!   [`MAX_ASSIGNMENT_SIZE`] bytes, owned by root (or the user running the tool)
//!   and writable by no one else, in directories with the same rule.
//!
//! The writer puts `owner` before the ids, so a file cut at any line loses a
//! required key, and a file cut inside a line has no final newline: a truncated
//! file is always refused, never read as a shorter assignment.
//!
//! Files are written 0644 by renaming a fresh file over the old one: an
//! assignment holds no secret (an address, a driver name, the ids every user can
//! read in sysfs, a user name), and being readable lets `nodedev persist list`
//! and monitoring run without root. Only root may change one.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use pci_types::{DriverName, PciAddress};

use crate::device::Identity;
use crate::guarded::{self, Guard};

/// Where assignments live unless `--config-dir` (or `NODEDEV_CONFIG_DIR`) says otherwise.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/nodedev-shim";

/// The largest assignment file read (a real one is about 200 bytes).
pub const MAX_ASSIGNMENT_SIZE: u64 = 4096;

/// The mode assignment files are written with (see the module documentation).
pub const ASSIGNMENT_MODE: u32 = 0o644;

/// The longest user or group name accepted in an owner (Linux's `LOGIN_NAME_MAX`
/// is 256; useradd allows 32).
const MAX_NAME_LEN: usize = 32;

/// Why the config directory or an assignment cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// A file operation failed.
    #[error("config directory: {what} {}: {source}", .path.display())]
    Io {
        /// What was attempted.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A directory someone else could tamper with.
    #[error("config directory {} {problem}: refusing to use it ({fix})", .path.display())]
    Unsafe {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// What the admin can do.
        fix: String,
    },
    /// A file that is not a usable assignment.
    #[error("persistent assignment {} is unusable: {reason} (fix it, or remove it with `nodedev persist remove`)", .path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl From<Guard> for PersistError {
    fn from(g: Guard) -> Self {
        match g {
            Guard::Io { what, path, source } => Self::Io { what, path, source },
            Guard::Unsafe { path, problem, fix } => Self::Unsafe { path, problem, fix },
            Guard::Bad { path, reason } => Self::BadFile { path, reason },
        }
    }
}

/// Who gets `/dev/vfio/N` (`USER[:GROUP]`), for an unprivileged QEMU.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VfioOwner {
    /// A user name or a numeric uid.
    pub user: String,
    /// A group name or a numeric gid (`None`: the group is left as it is).
    pub group: Option<String>,
}

impl std::str::FromStr for VfioOwner {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (user, group) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        let check = |what: &str, name: &str| -> Result<String, String> {
            let numeric = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
            let named = !name.is_empty()
                && name.len() <= MAX_NAME_LEN
                && name
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if (numeric && name.parse::<u32>().is_ok()) || named {
                Ok(name.to_string())
            } else {
                Err(format!(
                    "owner '{}': the {what} must be a name (letters, digits, '_', '-', '.', at most {MAX_NAME_LEN}) or a number",
                    s.escape_debug()
                ))
            }
        };
        Ok(Self {
            user: check("user", user)?,
            group: group.map(|g| check("group", g)).transpose()?,
        })
    }
}

impl fmt::Display for VfioOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user)?;
        if let Some(g) = &self.group {
            write!(f, ":{g}")?;
        }
        Ok(())
    }
}

impl VfioOwner {
    /// The uid and gid, looked up in the system's user database (a number is
    /// taken as it is).
    pub fn resolve(&self) -> Result<(u32, Option<u32>), String> {
        let uid = match self.user.parse::<u32>() {
            Ok(n) => n,
            Err(_) => nix::unistd::User::from_name(&self.user)
                .map_err(|e| format!("cannot look up user '{}': {e}", self.user))?
                .ok_or_else(|| format!("no user '{}' on this system", self.user))?
                .uid
                .as_raw(),
        };
        let gid = match &self.group {
            None => None,
            Some(g) => Some(match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => nix::unistd::Group::from_name(g)
                    .map_err(|e| format!("cannot look up group '{g}': {e}"))?
                    .ok_or_else(|| format!("no group '{g}' on this system"))?
                    .gid
                    .as_raw(),
            }),
        };
        Ok((uid, gid))
    }
}

/// One persistent assignment: keep the device at `address` on `driver`, if it is
/// still the device with `identity`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// The function.
    pub address: PciAddress,
    /// The stub it goes to (`vfio-pci`, a VFIO variant, `pci-stub`, `pciback`).
    pub driver: DriverName,
    /// Who the device was when it was assigned; a different card at the address
    /// is never taken.
    pub identity: Identity,
    /// Who gets its `/dev/vfio/N`.
    pub owner: Option<VfioOwner>,
}

const KEYS: [&str; 7] = [
    "address",
    "driver",
    "owner",
    "vendor",
    "device",
    "subsystem_vendor",
    "subsystem_device",
];

impl Assignment {
    /// The file's text (see the module documentation for the format).
    pub fn to_text(&self) -> String {
        let mut t = String::from(
            "# nodedev-shim: keep this device on its stub at every boot (docs/persistence.md)\n",
        );
        t.push_str(&format!(
            "address={}\ndriver={}\n",
            self.address, self.driver
        ));
        if let Some(o) = &self.owner {
            t.push_str(&format!("owner={o}\n"));
        }
        let i = &self.identity;
        t.push_str(&format!(
            "vendor=0x{:04x}\ndevice=0x{:04x}\nsubsystem_vendor=0x{:04x}\nsubsystem_device=0x{:04x}\n",
            i.vendor, i.device, i.subsystem_vendor, i.subsystem_device
        ));
        t
    }

    /// Reads a file's text; `address` is the address its name says.
    pub fn parse(text: &str, address: &PciAddress) -> Result<Self, String> {
        if !text.is_empty() && !text.ends_with('\n') {
            return Err("its last line has no newline (the file was cut short?)".to_string());
        }
        let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {n} is not key=value"));
            };
            let Some(slot) = KEYS.iter().position(|k| *k == key) else {
                return Err(format!(
                    "line {n}: unknown key '{}' (known: {})",
                    key.escape_debug(),
                    KEYS.join(", ")
                ));
            };
            if values[slot].replace(value).is_some() {
                return Err(format!("line {n}: '{key}' is given twice"));
            }
        }
        let get = |key: &str| -> Result<&str, String> {
            let slot = KEYS.iter().position(|k| *k == key).expect("known key");
            values[slot].ok_or_else(|| format!("'{key}' is missing (the file was cut short?)"))
        };
        let named: PciAddress = get("address")?
            .parse()
            .map_err(|e| format!("address: {e}"))?;
        if named != *address {
            return Err(format!("it names {named} but its file name says {address}"));
        }
        let driver = DriverName::new(get("driver")?).map_err(|e| format!("driver: {e}"))?;
        let id = |key: &str| -> Result<u16, String> {
            let v = get(key)?;
            v.strip_prefix("0x")
                .filter(|h| h.len() == 4 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u16::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    format!("{key} '{}' is not 0x and four hex digits", v.escape_debug())
                })
        };
        let identity = Identity {
            vendor: id("vendor")?,
            device: id("device")?,
            subsystem_vendor: id("subsystem_vendor")?,
            subsystem_device: id("subsystem_device")?,
        };
        let owner = match values[2] {
            None => None,
            Some(o) => Some(o.parse::<VfioOwner>()?),
        };
        Ok(Self {
            address: *address,
            driver,
            identity,
            owner,
        })
    }
}

/// A file in the config directory that is not a usable assignment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnusableFile {
    /// The file.
    pub path: PathBuf,
    /// Why it was refused.
    pub reason: String,
}

/// Every assignment in the directory.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Assignments {
    /// The usable ones, sorted by address.
    pub assignments: Vec<Assignment>,
    /// Files refused (named, never acted on).
    pub unusable: Vec<UnusableFile>,
}

/// The config directory.
#[derive(Clone, Debug)]
pub struct ConfigDir {
    dir: PathBuf,
}

impl ConfigDir {
    /// The config directory at `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn devices_dir(&self) -> PathBuf {
        self.dir.join("devices")
    }

    /// The file of a device's assignment.
    pub fn file_of(&self, address: &PciAddress) -> PathBuf {
        self.devices_dir()
            .join(format!("{}.conf", address.sysfs_name()))
    }

    /// Creates the directories (0755) where missing and checks them; a command
    /// that will save calls this before it writes anything to sysfs.
    pub fn prepare(&self) -> Result<(), PersistError> {
        for dir in [self.dir.clone(), self.devices_dir()] {
            match fs::DirBuilder::new().mode(0o755).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Guard::io("cannot create", &dir)(e).into()),
            }
            guarded::check_dir(&dir, "--config-dir")?;
        }
        Ok(())
    }

    /// Checks the directories that exist (nothing is created); false if there
    /// are none.
    fn check_existing(&self) -> Result<bool, PersistError> {
        for dir in [self.dir.clone(), self.devices_dir()] {
            match fs::symlink_metadata(&dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                _ => guarded::check_dir(&dir, "--config-dir")?,
            }
        }
        Ok(true)
    }

    /// The assignment of one device, if any.
    pub fn load(&self, address: &PciAddress) -> Result<Option<Assignment>, PersistError> {
        if !self.check_existing()? {
            return Ok(None);
        }
        let path = self.file_of(address);
        let Some((bytes, meta)) = guarded::read_bounded(&path, MAX_ASSIGNMENT_SIZE)? else {
            return Ok(None);
        };
        let bad = |reason: String| PersistError::BadFile {
            path: path.clone(),
            reason,
        };
        let euid = rustix::process::geteuid().as_raw();
        if meta.uid() != 0 && meta.uid() != euid {
            return Err(bad(format!("it is owned by uid {}, not root", meta.uid())));
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(bad(format!(
                "it is writable by group or others (mode {mode:04o})"
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".to_string()))?;
        Assignment::parse(&text, address).map(Some).map_err(bad)
    }

    /// Writes an assignment (atomically, mode 0644, synced); returns its file.
    pub fn save(&self, assignment: &Assignment) -> Result<PathBuf, PersistError> {
        self.prepare()?;
        let path = self.file_of(&assignment.address);
        guarded::replace(
            &path,
            assignment.to_text().as_bytes(),
            ASSIGNMENT_MODE,
            true,
        )?;
        Ok(path)
    }

    /// Forgets a device; false if there was nothing to forget. A symlink or
    /// other non-regular file in its place is removed too (it is not followed).
    pub fn remove(&self, address: &PciAddress) -> Result<bool, PersistError> {
        if !self.check_existing()? {
            return Ok(false);
        }
        let path = self.file_of(address);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Guard::io("cannot remove", &path)(e).into()),
        }
    }

    /// Every assignment, sorted by address; unusable files are listed apart and
    /// never stop the others.
    pub fn list(&self) -> Result<Assignments, PersistError> {
        let mut all = Assignments::default();
        if !self.check_existing()? {
            return Ok(all);
        }
        let dir = self.devices_dir();
        let entries = fs::read_dir(&dir).map_err(Guard::io("cannot list", &dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a save in progress
            }
            let path = dir.join(&name);
            let address = name
                .strip_suffix(".conf")
                .and_then(|bdf| PciAddress::from_sysfs_name(bdf).ok());
            let Some(address) = address else {
                all.unusable.push(UnusableFile {
                    path,
                    reason: "its name is not <PCI address>.conf".to_string(),
                });
                continue;
            };
            match self.load(&address) {
                Ok(Some(a)) => all.assignments.push(a),
                Ok(None) => {}
                Err(PersistError::BadFile { path, reason }) => {
                    all.unusable.push(UnusableFile { path, reason })
                }
                Err(PersistError::Io { path, source, .. }) => all.unusable.push(UnusableFile {
                    path,
                    reason: source.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        all.assignments.sort_by_key(|a| a.address);
        all.unusable.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(all)
    }
}

/// The character device of a device's VFIO group: `/dev/vfio/N` (or
/// `noiommu-N` without an IOMMU), under `dev_vfio`.
pub fn vfio_group_node(
    sysfs: &dyn crate::Sysfs,
    address: &PciAddress,
    dev_vfio: &Path,
) -> Option<PathBuf> {
    let group = crate::device::iommu_group(sysfs, address).ok()??;
    [
        group.number.to_string(),
        format!("noiommu-{}", group.number),
    ]
    .into_iter()
    .map(|n| dev_vfio.join(n))
    .find(|p| p.exists())
}

/// Gives a device's `/dev/vfio/N` to `owner` (for QEMU running as that user);
/// returns the node. The device must be on a VFIO driver.
pub fn apply_vfio_owner(
    sysfs: &dyn crate::Sysfs,
    address: &PciAddress,
    owner: &VfioOwner,
    dev_vfio: &Path,
) -> Result<PathBuf, String> {
    let (uid, gid) = owner.resolve()?;
    let node = vfio_group_node(sysfs, address, dev_vfio).ok_or_else(|| {
        format!(
            "{address} has no VFIO group node under {} (is it on vfio-pci, with an IOMMU group?)",
            dev_vfio.display()
        )
    })?;
    rustix::fs::chown(
        &node,
        Some(rustix::fs::Uid::from_raw(uid)),
        gid.map(rustix::fs::Gid::from_raw),
    )
    .map_err(|e| {
        format!(
            "cannot give {} to {owner}: {}",
            node.display(),
            io::Error::from(e)
        )
    })?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(bdf: &str) -> Assignment {
        Assignment {
            address: bdf.parse().unwrap(),
            driver: DriverName::new("vfio-pci").unwrap(),
            identity: Identity {
                vendor: 0x8086,
                device: 0x10d3,
                subsystem_vendor: 0x8086,
                subsystem_device: 0,
            },
            owner: Some("qemu:kvm".parse().unwrap()),
        }
    }

    fn dir() -> (tempfile::TempDir, ConfigDir) {
        let d = tempfile::tempdir().unwrap();
        let c = ConfigDir::new(d.path().join("etc"));
        (d, c)
    }

    #[test]
    fn text_round_trips_in_the_documented_form() {
        let x = a("0000:00:01.0");
        assert_eq!(
            x.to_text(),
            "# nodedev-shim: keep this device on its stub at every boot (docs/persistence.md)\n\
             address=0000:00:01.0\ndriver=vfio-pci\nowner=qemu:kvm\nvendor=0x8086\ndevice=0x10d3\n\
             subsystem_vendor=0x8086\nsubsystem_device=0x0000\n"
        );
        assert_eq!(Assignment::parse(&x.to_text(), &x.address).unwrap(), x);
    }

    #[test]
    fn every_truncation_is_refused() {
        let x = a("0000:00:01.0");
        let text = x.to_text();
        let header = text.find('\n').unwrap() + 1;
        for cut in header..text.len() {
            let r = Assignment::parse(&text[..cut], &x.address);
            assert!(r.is_err(), "cut at {cut} was read: {:?}", &text[..cut]);
        }
    }

    #[test]
    fn bad_contents_are_refused_with_a_reason() {
        let x = a("0000:00:01.0");
        let text = x.to_text();
        let cases = [
            (text.replace("owner=", "colour="), "unknown key 'colour'"),
            (text.replace("vfio-pci", "../vfio-pci"), "'/'"),
            (text.replace("vfio-pci", "vfio pci"), "whitespace"),
            (text.replace("0x10d3", "0x10d"), "four hex digits"),
            (text.replace("0x10d3", "10d3"), "four hex digits"),
            (
                text.replace("0000:00:01.0", "0000:00:02.0"),
                "names 0000:00:02.0",
            ),
            (format!("{text}driver=pci-stub\n"), "twice"),
            (text.replace("owner=qemu:kvm", "owner=qemu:k/vm"), "group"),
            (
                text.replace("driver=vfio-pci\n", "driver vfio-pci\n"),
                "key=value",
            ),
        ];
        for (t, want) in cases {
            let e = Assignment::parse(&t, &x.address).unwrap_err();
            assert!(e.contains(want), "{e} (wanted {want})");
        }
    }

    #[test]
    fn files_are_written_0644_and_bad_ones_named_while_others_load() {
        let (_d, c) = dir();
        assert!(c.list().unwrap().assignments.is_empty());
        let path = c.save(&a("0000:00:01.0")).unwrap();
        c.save(&a("0000:00:02.0")).unwrap();
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o644);
        assert_eq!(mode(c.path()), 0o755);
        let devices = c.path().join("devices");
        // A symlink, an unknown key, a driver with '/', a cut file, a bad name.
        std::os::unix::fs::symlink(&path, devices.join("0000:00:03.0.conf")).unwrap();
        let text = a("0000:00:04.0").to_text().replace("owner", "colour");
        fs::write(devices.join("0000:00:04.0.conf"), text).unwrap();
        let text = a("0000:00:05.0").to_text().replace("vfio-pci", "a/b");
        fs::write(devices.join("0000:00:05.0.conf"), text).unwrap();
        let text = a("0000:00:06.0").to_text();
        fs::write(devices.join("0000:00:06.0.conf"), &text[..text.len() - 3]).unwrap();
        fs::write(devices.join("notes.txt"), "x").unwrap();
        let all = c.list().unwrap();
        let got: Vec<_> = all
            .assignments
            .iter()
            .map(|x| x.address.to_string())
            .collect();
        assert_eq!(got, ["0000:00:01.0", "0000:00:02.0"]);
        let reasons: Vec<String> = all
            .unusable
            .iter()
            .map(|u| format!("{}: {}", u.path.display(), u.reason))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:#?}");
        assert!(reasons[0].contains("0000:00:03.0.conf: it is a symbolic link"));
        assert!(reasons[1].contains("0000:00:04.0.conf: line 4: unknown key 'colour'"));
        assert!(reasons[2].contains("0000:00:05.0.conf: driver:"));
        assert!(reasons[3].contains("0000:00:06.0.conf: its last line has no newline"));
        assert!(reasons[4].contains("notes.txt"));
        // Saving over the symlink is refused; removing it removes the link only.
        assert!(c.save(&a("0000:00:03.0")).is_err());
        assert!(c.remove(&"0000:00:03.0".parse().unwrap()).unwrap());
        assert!(path.exists());
        assert!(c.remove(&"0000:00:01.0".parse().unwrap()).unwrap());
        assert!(!c.remove(&"0000:00:01.0".parse().unwrap()).unwrap());
    }

    #[test]
    fn a_file_or_directory_others_can_write_is_refused() {
        let (_d, c) = dir();
        let path = c.save(&a("0000:00:01.0")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let e = c
            .load(&"0000:00:01.0".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("writable by group or others (mode 0666)"), "{e}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(c.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = c.list().unwrap_err().to_string();
        assert!(
            e.contains("config directory") && e.contains("mode 0777"),
            "{e}"
        );
        assert!(c.prepare().is_err());
    }

    #[test]
    fn owners() {
        for good in ["qemu", "qemu:kvm", "1000", "1000:1000", "_x.y-z:kvm"] {
            assert_eq!(good.parse::<VfioOwner>().unwrap().to_string(), good);
        }
        for bad in [
            "",
            ":kvm",
            "qemu:",
            "q/emu",
            "qemu:kvm:x",
            "-x",
            "99999999999",
        ] {
            assert!(bad.parse::<VfioOwner>().is_err(), "{bad}");
        }
        assert_eq!(
            "0:0".parse::<VfioOwner>().unwrap().resolve(),
            Ok((0, Some(0)))
        );
        assert_eq!(
            "root".parse::<VfioOwner>().unwrap().resolve(),
            Ok((0, None))
        );
        assert!("no-such-user-here"
            .parse::<VfioOwner>()
            .unwrap()
            .resolve()
            .unwrap_err()
            .contains("no user"));
    }
}
