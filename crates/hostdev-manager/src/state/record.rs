//! The record of one device: a write-ahead journal of what this tool did to it.
//!
//! A record is written *before* the first sysfs write of an operation and says
//! what is about to change (an override about to be set, a `new_id` about to be
//! added, a pciback slot about to be seized), so a process killed at any instant
//! leaves a record from which the next command can put everything back. Only the
//! engine writes records, and only under the device's lock.

use std::fmt;

use pci_types::{DriverName, PciAddress};

pub use crate::device::Identity;

/// The longest owner tag accepted (`hook:<domain>`).
pub const MAX_OWNER_LEN: usize = 512;

/// How a device was moved to its stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindMethod {
    /// `driver_override`, then unbind and `drivers_probe` (Linux ≥ 3.16).
    Override,
    /// `new_id` on the stub, unbind, explicit `bind`, `remove_id` (older kernels).
    NewId,
}

impl fmt::Display for BindMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Override => "override",
            Self::NewId => "new-id",
        })
    }
}

/// Where an operation on the device stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// A detach is under way; if no process holds the device's lock, it was
    /// interrupted and the next command puts the device back.
    Detaching,
    /// On the stub: the detach finished.
    Detached,
    /// A reattach is under way (or was interrupted, as above).
    Reattaching,
    /// The unbind from the host driver did not return in time: the kernel finishes
    /// it when the driver's users let go, and the device is then left without a
    /// driver until the next command gives it back.
    UnbindPending,
}

impl Phase {
    /// Whether the record describes a finished state (a detached device) rather
    /// than an operation that is running or was interrupted.
    pub fn is_settled(self) -> bool {
        self == Self::Detached
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Detaching => "detach under way or interrupted",
            Self::Detached => "detached",
            Self::Reattaching => "reattach under way or interrupted",
            Self::UnbindPending => "unbind from the host driver still pending in the kernel",
        })
    }
}

/// A vendor:device pair as `new_id` and `remove_id` take it (`8086 10d3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DeviceId {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x} {:04x}", self.vendor, self.device)
    }
}

/// The record of one device this tool detached (or is detaching).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The device (must equal the record file's name).
    pub address: PciAddress,
    /// Who it is, so a different device at the same address is never "reattached".
    pub identity: Identity,
    /// The driver it had before this tool first moved it (`None`: it was unbound).
    /// Never overwritten while the record exists: moving between stubs keeps it.
    pub original_driver: Option<DriverName>,
    /// The stub it is (being) bound to.
    pub stub: DriverName,
    /// How.
    pub method: BindMethod,
    /// Where the operation stands.
    pub phase: Phase,
    /// `driver_override` may name the stub (set, or about to be set).
    #[serde(default)]
    pub override_set: bool,
    /// A `new_id` this tool added (or is about to add) to the stub and has not
    /// removed yet.
    #[serde(default)]
    pub dynamic_id: Option<DeviceId>,
    /// A pciback slot this tool added (or is about to add) with `new_slot`.
    #[serde(default)]
    pub slot_added: bool,
    /// While a `new_id` is registered: the unbound devices with the same id, which
    /// the stub may grab and which must then be unbound again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bystanders: Vec<PciAddress>,
    /// Who asked for the detach when it was not a person: `hook:<domain>` for the
    /// libvirt hook, which gives back only what it took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Seconds since the Unix epoch when the device was first detached.
    pub detached_at: u64,
}

impl Record {
    /// Checks what serde cannot: the owner tag's size and characters.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(owner) = &self.owner {
            if owner.len() > MAX_OWNER_LEN || owner.chars().any(char::is_control) {
                return Err(format!(
                    "owner is longer than {MAX_OWNER_LEN} bytes or has control characters"
                ));
            }
        }
        Ok(())
    }

    /// Whether kernel state may remain that a reattach must undo besides the
    /// binding itself (an override, a dynamic id, a pciback slot).
    pub fn leaves_traces(&self) -> bool {
        self.override_set || self.dynamic_id.is_some() || self.slot_added
    }
}

/// Checks an owner tag before it is used: [`Record::validate`]'s rule.
pub fn valid_owner(owner: &str) -> bool {
    owner.len() <= MAX_OWNER_LEN && !owner.chars().any(char::is_control)
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
