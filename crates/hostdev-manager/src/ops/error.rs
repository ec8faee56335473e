//! What an operation reports: the errno values the engine acts on, where a failed
//! operation left the device, typed refusals and warnings, and the error itself.
//!
//! Every failure says what was attempted (in libvirt's words where libvirt has
//! them), the errno, and the device's state as read back after any rollback.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use pci_types::{DriverName, PciAddress};

use crate::device::Identity;
use crate::modules::ModuleError;
use crate::state::StateError;
use crate::usage::{Holder, InUse};
use crate::{human_duration, paths};

/// The errno values the engine branches on (Linux's numbers; the simulated kernel
/// keeps its own copy, so the two stay independent references).
pub mod errno {
    /// No such file or directory: `devices/B/driver/unbind` of an unbound device.
    pub const ENOENT: i32 = 2;
    /// Device or resource busy: `bind` of a device that already has a driver.
    pub const EBUSY: i32 = 16;
    /// File exists: `new_id` of an id the driver already matches.
    pub const EEXIST: i32 = 17;
    /// No such device: `remove_id` of an id that is not registered.
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Connection timed out: what a write that never returned is logged with.
    pub const ETIMEDOUT: i32 = 110;

    /// Whether `e` carries errno `code`.
    pub fn is(e: &std::io::Error, code: i32) -> bool {
        e.raw_os_error() == Some(code)
    }
}

/// `strerror` text and the errno's name: `Device or resource busy (EBUSY)`.
pub fn errno_text(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let (name, text) = match code {
        1 => ("EPERM", "Operation not permitted"),
        2 => ("ENOENT", "No such file or directory"),
        5 => ("EIO", "Input/output error"),
        11 => ("EAGAIN", "Resource temporarily unavailable"),
        12 => ("ENOMEM", "Cannot allocate memory"),
        13 => ("EACCES", "Permission denied"),
        16 => ("EBUSY", "Device or resource busy"),
        17 => ("EEXIST", "File exists"),
        19 => ("ENODEV", "No such device"),
        22 => ("EINVAL", "Invalid argument"),
        25 => ("ENOTTY", "Inappropriate ioctl for device"),
        28 => ("ENOSPC", "No space left on device"),
        30 => ("EROFS", "Read-only file system"),
        34 => ("ERANGE", "Numerical result out of range"),
        110 => ("ETIMEDOUT", "Connection timed out"),
        // std's own text already says "(os error N)".
        _ => return e.to_string(),
    };
    format!("{text} ({name})")
}

/// A device's binding as read back from sysfs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceState {
    /// The bound driver, if any.
    pub driver: Option<String>,
    /// `driver_override`, when set.
    pub driver_override: Option<String>,
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.driver {
            Some(d) => write!(f, "device is on {d}")?,
            None => write!(f, "device has no driver")?,
        }
        match &self.driver_override {
            Some(o) => write!(f, ", driver_override is '{o}'"),
            None => Ok(()),
        }
    }
}

/// Where a failed operation left things.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Aftermath {
    /// The device, read back after any rollback.
    pub state: DeviceState,
    /// Whether the operation's earlier writes were undone.
    pub rolled_back: bool,
    /// Undo writes that failed: the device's record keeps what remains, and the
    /// next `nodedev reattach` (or detach) finishes the job.
    pub undo_failures: Vec<String>,
}

impl Aftermath {
    /// The device as it is, nothing undone.
    pub fn left(state: DeviceState) -> Box<Self> {
        Box::new(Self {
            state,
            rolled_back: false,
            undo_failures: Vec::new(),
        })
    }
}

impl fmt::Display for Aftermath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        if self.rolled_back {
            f.write_str(" after rolling back")?;
        }
        if !self.undo_failures.is_empty() {
            write!(
                f,
                "; rolling back failed ({}): the record keeps what remains, run `nodedev reattach` to finish",
                self.undo_failures.join("; ")
            )?;
        }
        Ok(())
    }
}

/// Why the tool will not act. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A bridge: a stub would take what is behind it along (and vfio-pci binds
    /// only endpoints).
    NotEndpoint {
        /// The bridge.
        address: PciAddress,
        /// The stub asked for.
        stub: DriverName,
    },
    /// On pciback with no record of ours: most likely `xl pci-assignable-add`,
    /// whose quarantine only xl undoes.
    AssignableByXl {
        /// The device.
        address: PciAddress,
    },
    /// vfio-pci refuses a PF with VFs enabled.
    PfWithVfs {
        /// The PF.
        address: PciAddress,
        /// How many VFs it has.
        vfs: u32,
    },
    /// The boot VGA device while the host displays on it.
    BootDisplay {
        /// The GPU.
        address: PciAddress,
        /// What displays on it (DRM cards, framebuffers, fbcon).
        users: Vec<String>,
    },
    /// Detaching would pull the device from under the host.
    InUse {
        /// The device.
        address: PciAddress,
        /// How the host uses it.
        uses: Vec<InUse>,
    },
    /// A reattach would unbind the device from a host driver that uses it.
    InUseOnHostDriver {
        /// The device.
        address: PciAddress,
        /// How the host uses it.
        uses: Vec<InUse>,
    },
    /// A process uses the device through VFIO; it would lose it mid-flight.
    HeldThroughVfio {
        /// The device.
        address: PciAddress,
        /// Who holds `/dev/vfio/N`.
        holders: Vec<Holder>,
    },
    /// Another device sits at the recorded address.
    NotTheDetachedDevice {
        /// The address.
        address: PciAddress,
        /// Who was detached.
        recorded: Identity,
        /// Who is there now.
        found: Identity,
    },
    /// Anything else, in the words of the check that refused.
    Other {
        /// Why.
        reason: String,
        /// Whether `--force` overrides it.
        forceable: bool,
    },
}

impl Refusal {
    /// Whether `--force` overrides it.
    pub fn forceable(&self) -> bool {
        match self {
            Self::HeldThroughVfio { .. } => false,
            Self::Other { forceable, .. } => *forceable,
            _ => true,
        }
    }
}

fn joined<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotEndpoint { address, stub } if stub.as_str().contains("vfio") => write!(
                f,
                "{address} is not an endpoint (a bridge), and vfio-pci binds only endpoints"
            ),
            Self::NotEndpoint { address, stub } => write!(
                f,
                "{address} is not an endpoint (a bridge): {stub} would take it from its driver, and every device behind it with it"
            ),
            Self::AssignableByXl { address } => write!(
                f,
                "{address} is on pciback and this tool has no record of detaching it: it was most likely made assignable with `xl pci-assignable-add`, and only xl takes it out of Xen's quarantine (`xl pci-assignable-remove -r {address}`); --force gives it back anyway"
            ),
            Self::PfWithVfs { address, vfs } => write!(
                f,
                "{address} is an SR-IOV physical function with {vfs} VFs enabled; vfio-pci refuses it (write 0 to sriov_numvfs first)"
            ),
            Self::BootDisplay { address, users } => write!(
                f,
                "{address} is the boot VGA device and the host displays on it ({}); detaching it leaves this machine without a screen",
                users.join(", ")
            ),
            Self::InUse { address, uses } => {
                write!(f, "{address} is in use by the host: {}", joined(uses, "; "))
            }
            Self::InUseOnHostDriver { address, uses } => write!(
                f,
                "{address} is on its host driver and in use: {}",
                joined(uses, "; ")
            ),
            Self::HeldThroughVfio { address, holders } => write!(
                f,
                "{address} is in use through VFIO: {}",
                joined(holders, ", ")
            ),
            Self::NotTheDetachedDevice {
                address,
                recorded,
                found,
            } => write!(
                f,
                "{address} is not the device that was detached: recorded {recorded}, found {found}"
            ),
            Self::Other { reason, .. } => f.write_str(reason),
        }
    }
}

/// Something the user should know that did not stop the operation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Warning {
    /// Other members of the IOMMU group are on host drivers, so VFIO cannot use it.
    GroupNotViable {
        /// The group.
        group: u32,
        /// The members on DMA-API drivers, `address (driver)`.
        members: Vec<String>,
    },
    /// A same-id device grabbed by the stub while a `new_id` was registered could not
    /// be given back.
    BystanderKept {
        /// The device.
        device: PciAddress,
        /// The stub that holds it.
        stub: DriverName,
        /// Why unbinding it failed.
        error: String,
    },
    /// An operation that was interrupted (killed) was found and undone first.
    Recovered {
        /// The device.
        device: PciAddress,
        /// What was found and what was done.
        what: String,
    },
    /// A record file that is not usable was skipped.
    UnusableRecord {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GroupNotViable { group, members } => write!(
                f,
                "IOMMU group {group} is not viable for VFIO: {} still on host drivers (detach them too, or use --group)",
                members.join(", ")
            ),
            Self::BystanderKept {
                device,
                stub,
                error,
            } => write!(
                f,
                "{device} (same id, unbound before) was grabbed by {stub} while the id was registered, and unbinding it failed: {error}; it is still on {stub}"
            ),
            Self::Recovered { device, what } => write!(f, "{device}: {what}"),
            Self::UnusableRecord { path, reason } => {
                write!(f, "skipped record {}: {reason}", path.display())
            }
        }
    }
}

/// One device of a group or domain operation that had already been moved when a
/// later one failed, and whether giving it back worked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Undone {
    /// The device.
    pub address: PciAddress,
    /// The error of giving it back, if that failed.
    pub error: Option<String>,
}

impl fmt::Display for Undone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            None => write!(f, "{}", self.address),
            Some(e) => write!(f, "{} (NOT given back: {e})", self.address),
        }
    }
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// No such PCI function.
    #[error("Device {address} not found: could not access {}: No such file or directory", paths::device_attr(.address, "config").display())]
    NotFound {
        /// The address looked up.
        address: PciAddress,
    },
    /// The request cannot be carried out as asked; nothing was written.
    #[error("{0}")]
    BadRequest(String),
    /// The tool refuses, to protect the host or the device; nothing was written.
    #[error("{}; nothing was changed{}", .0, force_note(.0))]
    Refused(Refusal),
    /// The driver's module could not be loaded.
    #[error("{0}; nothing was changed")]
    Module(#[from] ModuleError),
    /// The module loaded but registers no usable PCI driver.
    #[error("internal error: {0}; nothing was changed")]
    DriverMissing(String),
    /// A write failed.
    #[error("{what}: {} ({after})", errno_text(.source))]
    Write {
        /// What was attempted, in libvirt's words.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
        /// Where the device was left.
        after: Box<Aftermath>,
    },
    /// All writes succeeded, but the device is not on the driver it should be.
    #[error("{address} did not bind to {expected}: the kernel accepted the writes but the driver's probe did not take the device ({hint}) ({after})")]
    NotBound {
        /// The device.
        address: PciAddress,
        /// The driver expected.
        expected: String,
        /// A likely reason.
        hint: String,
        /// Where the device was left.
        after: Box<Aftermath>,
    },
    /// The unbind did not return in time: the host driver still has users.
    #[error("unbinding {address} from {driver} did not finish within {}: the driver is still in use{}; {what_remains}", human_duration(*.waited), holders_text(.holders))]
    StuckUnbind {
        /// The device.
        address: PciAddress,
        /// Its driver.
        driver: String,
        /// How long we waited.
        waited: Duration,
        /// Processes holding its files.
        holders: Vec<Holder>,
        /// What remains, in words.
        what_remains: String,
    },
    /// One device of a group or domain failed; the ones already moved were given
    /// back (or not: `undone` says).
    #[error("{member}: {source}{}", undone_text(.undone))]
    Member {
        /// The device that failed.
        member: PciAddress,
        /// Its failure.
        #[source]
        source: Box<OpError>,
        /// The devices already moved, and whether each was given back.
        undone: Vec<Undone>,
    },
    /// An error in libvirt's own words, printed as libvirt prints it (reset's
    /// refusals); nothing was written.
    #[error("{0}")]
    Libvirt(String),
    /// Config space could not be read as the operation needs it.
    #[error("{what}{}", .source.as_ref().map(|e| format!(": {}", errno_text(e))).unwrap_or_default())]
    ConfigSpace {
        /// What was attempted and why it falls short.
        what: String,
        /// The kernel's answer, when a read failed.
        #[source]
        source: Option<io::Error>,
    },
    /// The state directory, a record or a lock could not be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// Reading sysfs failed.
    #[error(transparent)]
    Read(#[from] crate::Error),
}

fn force_note(r: &Refusal) -> &'static str {
    if r.forceable() {
        " (use --force to override)"
    } else {
        ""
    }
}

fn holders_text(holders: &[Holder]) -> String {
    if holders.is_empty() {
        String::new()
    } else {
        format!(" ({})", joined(holders, ", "))
    }
}

fn undone_text(undone: &[Undone]) -> String {
    if undone.is_empty() {
        String::new()
    } else {
        format!(
            "; devices already moved were given back: {}",
            joined(undone, ", ")
        )
    }
}

impl OpError {
    /// The refusal, if this is one (also inside a group member's failure).
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            Self::Member { source, .. } => source.refusal(),
            _ => None,
        }
    }

    /// The errno of the failed write, if this is one (also inside a member's failure).
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Write { source, .. } => source.raw_os_error(),
            Self::Member { source, .. } => source.errno(),
            _ => None,
        }
    }

    /// Where the device was left, when the operation got as far as writing.
    pub fn aftermath(&self) -> Option<&Aftermath> {
        match self {
            Self::Write { after, .. } | Self::NotBound { after, .. } => Some(after),
            Self::Member { source, .. } => source.aftermath(),
            _ => None,
        }
    }

    /// The same error with the aftermath replaced (after a rollback).
    pub(crate) fn with_aftermath(self, new: Aftermath) -> Self {
        match self {
            Self::Write { what, source, .. } => Self::Write {
                what,
                source,
                after: Box::new(new),
            },
            Self::NotBound {
                address,
                expected,
                hint,
                ..
            } => Self::NotBound {
                address,
                expected,
                hint,
                after: Box::new(new),
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn state(driver: Option<&str>) -> DeviceState {
        DeviceState {
            driver: driver.map(str::to_string),
            driver_override: None,
        }
    }

    /// Every variant's text, and whether it keeps its source (as vfio-ioctls tests it).
    #[test]
    fn error_texts_and_sources() {
        let a: PciAddress = "0000:00:01.0".parse().unwrap();
        let write = OpError::Write {
            what: format!("Failed to unbind PCI device '{a}' from e1000e"),
            source: io::Error::from_raw_os_error(16),
            after: Box::new(Aftermath {
                state: state(Some("e1000e")),
                rolled_back: true,
                undo_failures: Vec::new(),
            }),
        };
        assert_eq!(
            write.to_string(),
            "Failed to unbind PCI device '0000:00:01.0' from e1000e: Device or resource busy (EBUSY) (device is on e1000e after rolling back)"
        );
        assert!(write.source().is_some());
        assert_eq!(write.errno(), Some(16));
        let refused = OpError::Refused(Refusal::PfWithVfs { address: a, vfs: 2 });
        assert!(refused
            .to_string()
            .ends_with("nothing was changed (use --force to override)"));
        assert!(refused.source().is_none());
        let held = OpError::Refused(Refusal::HeldThroughVfio {
            address: a,
            holders: Vec::new(),
        });
        assert!(held.to_string().ends_with("; nothing was changed"));
        let stuck = OpError::StuckUnbind {
            address: a,
            driver: "e1000e".into(),
            waited: Duration::from_millis(100),
            holders: Vec::new(),
            what_remains: "x".into(),
        };
        assert!(stuck.to_string().contains("within 100 ms"), "{stuck}");
        let member = OpError::Member {
            member: a,
            source: Box::new(refused),
            undone: vec![Undone {
                address: "0000:00:02.0".parse().unwrap(),
                error: Some("EBUSY".into()),
            }],
        };
        assert!(member.refusal().is_some());
        assert!(member
            .to_string()
            .ends_with("given back: 0000:00:02.0 (NOT given back: EBUSY)"));
        let partial = Aftermath {
            state: state(None),
            rolled_back: true,
            undo_failures: vec!["remove_id: EIO".into()],
        };
        assert!(partial
            .to_string()
            .contains("the record keeps what remains"));
        assert_eq!(
            errno_text(&io::Error::from_raw_os_error(95)),
            io::Error::from_raw_os_error(95).to_string()
        );
    }
}
