//! The boot path of persistent assignments ([`crate::persist`]).
//!
//! Two steps, both reading the same files:
//!
//! 1. **Early, in udev** (the package's `60-nodedev-shim.rules`, also in the
//!    initramfs): on a PCI function's `add` event, if it has an assignment file,
//!    the rule asks [`udev_decision`] (through `nodedev boot --udev BDF`, which
//!    writes nothing) and udev itself writes the answer into `driver_override`.
//!    Rules run before the event's `RUN` list, so before `80-drivers.rules` loads
//!    the host driver: that driver then never probes the device. A host driver
//!    already loaded (built in, or loaded for a sibling earlier) has bound the
//!    device before the event is processed; step 2 repairs that.
//! 2. **The boot pass** ([`boot`], `nodedev boot`, a oneshot unit before
//!    `basic.target`): for every assignment, the engine's ordinary detach (one
//!    code path: journal, unbind, bind, verify, rollback), which loads the stub
//!    module (`vfio-pci`, and `xen-pciback`, which has no modalias and is never
//!    loaded by udev) and moves a device the host driver took early. It never
//!    takes a different card found at the address, and it gives back what an
//!    out-of-date initramfs assigned that `/etc` no longer does.

use std::path::{Path, PathBuf};

use pci_types::{DriverName, PciAddress};

use crate::device::{self, Identity};
use crate::ops::{DetachOptions, Engine, OpError, Outcome, ReattachOptions};
use crate::persist::{apply_vfio_owner, Assignment, ConfigDir, PersistError, UnusableFile};
use crate::stub::{stub_kind, DriverRequest, StubKind};

/// What the udev rule does with a device that has an assignment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdevDecision {
    /// Write this driver into `driver_override`.
    Override(DriverName),
    /// Leave the device alone, and say why (a different card, a bad file).
    Refuse(String),
    /// No assignment: nothing to do.
    Nothing,
}

/// The early decision for one device: its assignment, if usable, and only for
/// the device it was made for. Reads only.
pub fn udev_decision(
    sysfs: &dyn crate::Sysfs,
    config: &ConfigDir,
    address: &PciAddress,
) -> UdevDecision {
    match config.load(address) {
        Ok(None) => UdevDecision::Nothing,
        Err(e) => UdevDecision::Refuse(e.to_string()),
        Ok(Some(a)) => {
            if !device::exists(sysfs, address) {
                return UdevDecision::Refuse(format!("{address}: no such PCI function"));
            }
            let found = device::read_identity(sysfs, address);
            if found == a.identity {
                UdevDecision::Override(a.driver)
            } else {
                UdevDecision::Refuse(different_device(&a, &found))
            }
        }
    }
}

fn different_device(a: &Assignment, found: &Identity) -> String {
    format!(
        "{}: a different device is at this address ({found}; the assignment to {} is for {}): not taken, left to its own driver (`nodedev persist remove {}` forgets the assignment)",
        a.address, a.driver, a.identity, a.address
    )
}

/// What the early step did with one assignment.
#[derive(Debug)]
pub enum EarlyResult {
    /// `driver_override` now names the stub.
    Kept,
    /// It already did (udev's rule, or an earlier step).
    AlreadySet,
    /// A driver has it already: left to the boot pass, which moves it.
    Bound(String),
    /// This kernel has no `driver_override` (Linux < 3.16): left to the pass.
    NoOverride,
    /// No device at the address.
    Absent,
    /// Another card sits at the address: left alone.
    DifferentDevice {
        /// Who the assignment is for.
        assigned: Identity,
        /// Who is there.
        found: Identity,
    },
    /// The write failed.
    Failed(std::io::Error),
}

/// What the early step did.
#[derive(Debug, Default)]
pub struct EarlyReport {
    /// One item per usable assignment, in address order.
    pub items: Vec<(Assignment, EarlyResult)>,
    /// Assignment files refused.
    pub unusable: Vec<UnusableFile>,
}

/// The early step (`nodedev boot --early`: the initramfs's `init-top` script
/// and `nodedev-shim-early.service`, both before udev's coldplug): for every
/// assignment whose device is there, is the one assigned and has no driver
/// yet, name the stub in `driver_override`, as the udev rule would, but before
/// any driver module is loaded, so loading a host driver for a sibling of the
/// same model cannot take it. Nothing else is written.
pub fn early(sysfs: &dyn crate::Sysfs, config: &ConfigDir) -> Result<EarlyReport, PersistError> {
    let listing = config.list()?;
    let items = listing
        .assignments
        .into_iter()
        .map(|a| {
            let result = early_one(sysfs, &a);
            (a, result)
        })
        .collect();
    Ok(EarlyReport {
        items,
        unusable: listing.unusable,
    })
}

fn early_one(sysfs: &dyn crate::Sysfs, a: &Assignment) -> EarlyResult {
    if !device::exists(sysfs, &a.address) {
        return EarlyResult::Absent;
    }
    let found = device::read_identity(sysfs, &a.address);
    if found != a.identity {
        return EarlyResult::DifferentDevice {
            assigned: a.identity,
            found,
        };
    }
    if let Some(d) = device::current_driver(sysfs, &a.address) {
        return EarlyResult::Bound(d);
    }
    let path = crate::paths::device_attr(&a.address, "driver_override");
    if !sysfs.exists(&path) {
        return EarlyResult::NoOverride;
    }
    if override_of(sysfs, &a.address).as_deref() == Some(a.driver.as_str()) {
        return EarlyResult::AlreadySet;
    }
    match sysfs.write(&path, a.driver.as_str().as_bytes()) {
        Ok(()) => EarlyResult::Kept,
        Err(e) => EarlyResult::Failed(e),
    }
}

/// What the boot pass did with one assignment.
#[derive(Debug)]
pub enum BootResult {
    /// The device is on its stub; the outcome says whether it moved (and from
    /// which driver) or was already there.
    OnStub(Outcome),
    /// No device at the address (the card was removed, or its slot renumbered).
    Absent,
    /// Another card sits at the address: it was left alone.
    DifferentDevice {
        /// Who the assignment is for.
        assigned: Identity,
        /// Who is there.
        found: Identity,
    },
    /// The detach failed; the error says what remains.
    Failed(OpError),
}

/// One assignment's line in the boot report.
#[derive(Debug)]
pub struct BootItem {
    /// The assignment.
    pub assignment: Assignment,
    /// What happened.
    pub result: BootResult,
    /// The VFIO group node given to the assignment's owner, or why not.
    pub owner: Option<Result<PathBuf, String>>,
}

/// A device an out-of-date initramfs assigned that `/etc` no longer assigns (or
/// assigns to another driver), given back before the pass.
#[derive(Debug)]
pub struct Stale {
    /// The initramfs's copy of the assignment.
    pub assignment: Assignment,
    /// The reattach.
    pub result: Result<Outcome, OpError>,
}

/// Everything the boot pass did.
#[derive(Debug, Default)]
pub struct BootReport {
    /// One item per usable assignment, in address order.
    pub items: Vec<BootItem>,
    /// Assignment files refused (named; nothing done for them).
    pub unusable: Vec<UnusableFile>,
    /// Devices an out-of-date initramfs assigned, given back.
    pub stale: Vec<Stale>,
}

impl BootReport {
    /// Whether anything failed (a detach, a reattach, an owner, a bad file). A
    /// different card or a missing one is a warning, not a failure.
    pub fn failed(&self) -> bool {
        !self.unusable.is_empty()
            || self.stale.iter().any(|s| s.result.is_err())
            || self.items.iter().any(|i| {
                matches!(i.result, BootResult::Failed(_)) || matches!(i.owner, Some(Err(_)))
            })
    }
}

/// Where the boot pass looks.
#[derive(Clone, Debug)]
pub struct BootPaths {
    /// The assignments (`/etc/nodedev-shim`).
    pub config: ConfigDir,
    /// The initramfs's copy of them, as its `init-bottom` script left it in
    /// `/run` (`None`, or a missing directory: no initramfs copy).
    pub initramfs: Option<ConfigDir>,
    /// Where VFIO group nodes are (`/dev/vfio`).
    pub dev_vfio: PathBuf,
}

/// Where the package's initramfs script leaves its copy of the assignments.
pub const INITRAMFS_COPY: &str = "/run/nodedev-shim.initramfs";

/// The boot pass (see the module documentation). Every assignment is tried; one
/// failure does not stop the others.
pub fn boot(engine: &Engine, paths: &BootPaths) -> Result<BootReport, PersistError> {
    let listing = paths.config.list()?;
    let mut report = BootReport {
        unusable: listing.unusable,
        ..BootReport::default()
    };
    if let Some(copy) = &paths.initramfs {
        // Its unusable files are /etc's as they were: reported from /etc, and
        // the initramfs's udev refused them too (nothing to give back).
        report.stale = give_back_stale(engine, copy, &listing.assignments);
    }
    for a in listing.assignments {
        let result = boot_one(engine, &a);
        let owner = match (&result, &a.owner) {
            (BootResult::OnStub(o), Some(owner))
                if o.driver_after.as_deref().map(stub_kind) == Some(StubKind::Vfio) =>
            {
                Some(apply_vfio_owner(
                    engine.sysfs(),
                    &a.address,
                    owner,
                    &paths.dev_vfio,
                ))
            }
            _ => None,
        };
        report.items.push(BootItem {
            assignment: a,
            result,
            owner,
        });
    }
    Ok(report)
}

fn boot_one(engine: &Engine, a: &Assignment) -> BootResult {
    let s = engine.sysfs();
    if !device::exists(s, &a.address) {
        return BootResult::Absent;
    }
    let found = device::read_identity(s, &a.address);
    if found != a.identity {
        return BootResult::DifferentDevice {
            assigned: a.identity,
            found,
        };
    }
    let opts = DetachOptions {
        driver: DriverRequest::Named(a.driver.clone()),
        ..DetachOptions::default()
    };
    match engine.detach(a.address, &opts) {
        // A host driver loaded while the detach ran (udev's coldplug goes on
        // beside this unit) took the device between the unbind and the probe:
        // once more, now from that driver.
        Err(OpError::NotBound { .. }) => match engine.detach(a.address, &opts) {
            Ok(o) => BootResult::OnStub(o),
            Err(e) => BootResult::Failed(e),
        },
        Ok(o) => BootResult::OnStub(o),
        Err(e) => BootResult::Failed(e),
    }
}

/// Gives back what the initramfs's copy assigned and `/etc` does not (any
/// more, or not to that driver): only a device that is still the one assigned,
/// whose `driver_override` names that driver, and that no record explains.
fn give_back_stale(engine: &Engine, copy: &ConfigDir, current: &[Assignment]) -> Vec<Stale> {
    let Ok(old) = copy.list() else {
        return Vec::new();
    };
    let s = engine.sysfs();
    old.assignments
        .into_iter()
        .filter(|o| {
            !current
                .iter()
                .any(|c| c.address == o.address && c.driver == o.driver)
        })
        .filter(|o| {
            device::exists(s, &o.address)
                && device::read_identity(s, &o.address) == o.identity
                && override_of(s, &o.address).as_deref() == Some(o.driver.as_str())
                && matches!(engine.record(&o.address), Ok(None))
        })
        .map(|o| {
            let result = engine.reattach(
                o.address,
                &ReattachOptions {
                    // pciback without a record is refused as xl's otherwise; we
                    // know who set this override.
                    force: true,
                    dry_run: false,
                },
            );
            Stale {
                assignment: o,
                result,
            }
        })
        .collect()
}

fn override_of(sysfs: &dyn crate::Sysfs, address: &PciAddress) -> Option<String> {
    let b = sysfs
        .read(&crate::paths::device_attr(address, "driver_override"))
        .ok()?;
    let t = String::from_utf8_lossy(&b).trim_end().to_string();
    (t != "(null)" && !t.is_empty()).then_some(t)
}

/// The initramfs copy's directory, if its script left one.
pub fn initramfs_copy(path: &Path) -> Option<ConfigDir> {
    path.is_dir().then(|| ConfigDir::new(path))
}
