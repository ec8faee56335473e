//! Detach and reattach, laid out as the algorithm reads (libvirt's
//! `virHostdevPreparePCIDevices` does the same in its numbered steps):
//!
//! 1. **Which functions**: the devices asked for, and the endpoints of the IOMMU
//!    groups asked for (bridges and pcieport are exempt, as in the kernel's
//!    viability rule).
//! 2. **Lock** them all, in address order, with a bounded wait (plus, for
//!    `new_id`, every device with the same id: a dynamic id binds them all).
//! 3. **Recover**: a record whose operation was interrupted (a `kill -9`, a hook
//!    killed by libvirt's timeout) is undone first.
//! 4. **Check and plan** every device before the first write: refusals, identity,
//!    the stub and its module, the exact writes (`plan.rs`). One refusal stops
//!    everything with nothing written.
//! 5. **Write** (`execute`): the record says what is about to change before it
//!    changes; the `driver` link is read back at the end, because a write the
//!    kernel accepted does not mean the device bound; a failure is rolled back,
//!    and in a group or domain the devices already moved are given back too.
//!
//! Reattach, rollback and recovery are one restore plan (`plan::restore_steps`),
//! computed from what the record says may remain and what sysfs says is there.
//! Each kernel write is a [`KernelWrite`] with its path and libvirt's words.

mod error;
mod execute;
mod inspect;
mod kernel;
mod plan;
mod policy;
mod preflight;
mod target;

use std::sync::Arc;
use std::time::Duration;

use pci_types::{DriverName, PciAddress};

pub use error::{errno, errno_text, Aftermath, DeviceState, OpError, Refusal, Undone, Warning};
pub use kernel::{KernelWrite, WriteRecord};
pub use policy::{standing, Standing};
pub use preflight::{
    Blocker, DriverStatus, GroupMember, GroupReport, PreflightReport, SriovState, TargetDriver,
    Verdict,
};

use execute::Run;
use inspect::{device_state, DeviceFacts};
use plan::{restore_steps, Traces};

use crate::device;
use crate::modules::ModuleLoader;
use crate::paths;
use crate::state::{self, BindMethod, Listing, LockGuard, Phase, Record, StateDir, StateError};
use crate::stub::{stub_kind, DriverRequest, StubKind};
use crate::sysfs::Sysfs;

/// How to bind the stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// `driver_override` when the device has the file (Linux ≥ 3.16), else `new_id`.
    #[default]
    Auto,
    /// Only `driver_override`.
    Override,
    /// Only `new_id` (also on kernels that have `driver_override`).
    NewId,
}

/// Options of a detach.
#[derive(Clone, Debug)]
pub struct DetachOptions {
    /// Which stub (for [`Engine::detach`] and [`Engine::detach_group`]).
    pub driver: DriverRequest,
    /// How to bind it.
    pub method: MethodChoice,
    /// Skip the refusals that protect the host (in-use devices, bridges, PFs with
    /// VFs, a different device at a recorded address).
    pub force: bool,
    /// Only say which writes would be made.
    pub dry_run: bool,
    /// Who asks, when it is not a person: `hook:<domain>` for the libvirt hook,
    /// which gives back only what it took. Written into the records of the devices
    /// this detach moves (a device already detached keeps its owner).
    pub owner: Option<String>,
}

impl Default for DetachOptions {
    fn default() -> Self {
        Self {
            driver: DriverRequest::Vfio,
            method: MethodChoice::Auto,
            force: false,
            dry_run: false,
            owner: None,
        }
    }
}

/// Options of a reattach.
#[derive(Clone, Debug, Default)]
pub struct ReattachOptions {
    /// Reattach even if the host uses the device through its current driver, or the
    /// identity recorded at detach time does not match.
    pub force: bool,
    /// Only say which writes would be made.
    pub dry_run: bool,
}

/// One device (or IOMMU group) a multi-device detach asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The function.
    pub address: PciAddress,
    /// The stub it asks for.
    pub driver: DriverRequest,
    /// Whether every endpoint of its IOMMU group goes with it.
    pub whole_group: bool,
}

/// What an operation did to one device.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The device.
    pub address: PciAddress,
    /// Driver before.
    pub driver_before: Option<String>,
    /// Driver after (as read back from the `driver` link; in a dry run, the plan's).
    pub driver_after: Option<String>,
    /// The writes, in order (in a dry run: planned, with their conditions).
    pub writes: Vec<WriteRecord>,
    /// Things the user should know that did not stop the operation.
    pub warnings: Vec<Warning>,
    /// Nothing needed doing.
    pub unchanged: bool,
}

impl Outcome {
    /// Nothing done yet to the device.
    fn untouched(dev: &DeviceFacts) -> Self {
        Self {
            address: dev.address,
            driver_before: dev.driver.clone(),
            driver_after: dev.driver.clone(),
            writes: Vec::new(),
            warnings: Vec::new(),
            unchanged: false,
        }
    }
}

/// One device's result in an operation that goes on after a failure.
pub type DeviceResult = (PciAddress, Result<Outcome, OpError>);

/// The default wait for an unbind before reporting who holds the device.
pub const DEFAULT_UNBIND_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine: one per process, shared by threads.
#[derive(Clone)]
pub struct Engine {
    sysfs: Arc<dyn Sysfs>,
    modules: Arc<dyn ModuleLoader>,
    state: StateDir,
    unbind_timeout: Duration,
    /// modules.alias, read once per engine (a batch asks for it per device).
    modules_alias: Arc<std::sync::OnceLock<Option<String>>>,
    /// A preflight's engine: writes nothing at all, not even its caches.
    read_only: bool,
}

/// A device checked and planned, not yet written to.
struct Planned {
    dev: DeviceFacts,
    warnings: Vec<Warning>,
    kind: PlanKind,
}

/// What the checks do with a refusal: a detach stops at the first; a preflight
/// writes every one down and goes on planning.
enum Refusals<'a> {
    Stop,
    Collect(&'a mut Vec<Refusal>),
}

impl Refusals<'_> {
    fn raise(&mut self, refusal: Refusal) -> Result<(), OpError> {
        match self {
            Self::Stop => Err(OpError::Refused(refusal)),
            Self::Collect(all) => {
                all.push(refusal);
                Ok(())
            }
        }
    }
}

enum PlanKind {
    /// Already on the stub.
    Unchanged,
    /// The writes, and the record to journal them in.
    Detach {
        steps: Vec<plan::Step>,
        record: Box<Record>,
    },
    /// Moving between stubs where `new_id` is involved: reattach, then detach
    /// afresh (the record's original driver is kept either way).
    ReattachFirst { request: DriverRequest },
}

impl Engine {
    /// An engine over a kernel, a module loader and a state directory.
    pub fn new(sysfs: Arc<dyn Sysfs>, modules: Arc<dyn ModuleLoader>, state: StateDir) -> Self {
        Self {
            sysfs,
            modules,
            state,
            unbind_timeout: DEFAULT_UNBIND_TIMEOUT,
            modules_alias: Arc::default(),
            read_only: false,
        }
    }

    /// Sets how long an unbind may take before the operation gives up and reports.
    pub fn with_unbind_timeout(mut self, timeout: Duration) -> Self {
        self.unbind_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The kernel view.
    pub fn sysfs(&self) -> &dyn Sysfs {
        self.sysfs.as_ref()
    }

    /// Every record (read only), with the unusable files named.
    pub fn records(&self) -> Result<Listing, OpError> {
        Ok(self.state.list()?)
    }

    /// The record of one device, if any.
    pub fn record(&self, address: &PciAddress) -> Result<Option<Record>, OpError> {
        Ok(self.state.load(address)?)
    }

    /// Locks devices for an operation of another module (reset).
    pub(crate) fn lock(&self, addresses: &[PciAddress]) -> Result<LockGuard, OpError> {
        Ok(self.state.lock(addresses)?)
    }

    /// Detaches one device from its host driver to a stub.
    pub fn detach(&self, address: PciAddress, opts: &DetachOptions) -> Result<Outcome, OpError> {
        let target = Target {
            address,
            driver: opts.driver.clone(),
            whole_group: false,
        };
        let mut outcomes = self.detach_all(&[target], opts)?;
        Ok(outcomes.remove(0))
    }

    /// Detaches every endpoint of the device's IOMMU group, all or none.
    pub fn detach_group(
        &self,
        address: PciAddress,
        opts: &DetachOptions,
    ) -> Result<Vec<Outcome>, OpError> {
        let target = Target {
            address,
            driver: opts.driver.clone(),
            whole_group: true,
        };
        self.detach_all(&[target], opts)
    }

    /// Detaches several devices (and groups) as one operation: everything is
    /// checked before the first write, and if one fails the ones already moved
    /// are given back. `opts.driver` is ignored: each target names its stub.
    pub fn detach_all(
        &self,
        targets: &[Target],
        opts: &DetachOptions,
    ) -> Result<Vec<Outcome>, OpError> {
        if let Some(owner) = &opts.owner {
            if !state::valid_owner(owner) {
                return Err(OpError::BadRequest(format!(
                    "owner tag is longer than {} bytes or has control characters",
                    state::MAX_OWNER_LEN
                )));
            }
        }
        let members = self.members(targets)?;
        let single = members.len() == 1 && !targets.iter().any(|t| t.whole_group);
        let _lock = if opts.dry_run {
            None
        } else {
            Some(self.lock(&self.lock_set(&members, opts.method))?)
        };
        let mut warnings = Vec::new();
        let mut planned = Vec::with_capacity(members.len());
        for (address, request) in &members {
            let step = self
                .recover(*address, opts.dry_run, &mut warnings)
                .and_then(|()| {
                    self.plan_detach(*address, request, opts, single, &mut Refusals::Stop)
                });
            match step {
                Ok(p) => planned.push(p),
                Err(e) if single => return Err(e),
                Err(e) => {
                    return Err(OpError::Member {
                        member: *address,
                        source: Box::new(e),
                        undone: Vec::new(),
                    })
                }
            }
        }
        let mut done: Vec<Outcome> = Vec::with_capacity(planned.len());
        for p in planned {
            let address = p.dev.address;
            match self.run_detach(p, opts) {
                Ok(o) => done.push(o),
                Err(e) if single => return Err(e),
                Err(e) => {
                    let undone = self.give_back(&done);
                    return Err(OpError::Member {
                        member: address,
                        source: Box::new(e),
                        undone,
                    });
                }
            }
        }
        if let Some(first) = done.first_mut() {
            warnings.append(&mut first.warnings);
            first.warnings = warnings;
        }
        Ok(done)
    }

    /// Reattaches, newest first, what a failed multi-device detach had moved.
    fn give_back(&self, done: &[Outcome]) -> Vec<Undone> {
        let force = ReattachOptions {
            force: true,
            dry_run: false,
        };
        done.iter()
            .rev()
            .filter(|o| !o.unchanged)
            .map(|o| Undone {
                address: o.address,
                error: self
                    .reattach_locked(o.address, &force)
                    .err()
                    .map(|e| e.to_string()),
            })
            .collect()
    }

    /// The functions a list of targets names, each once, with its stub; the
    /// endpoints of a group go with their target's stub.
    fn members(&self, targets: &[Target]) -> Result<Vec<(PciAddress, DriverRequest)>, OpError> {
        let s = self.sysfs();
        let mut out: Vec<(PciAddress, DriverRequest)> = Vec::new();
        for t in targets {
            let addresses = match device::iommu_group(s, &t.address)? {
                Some(g) if t.whole_group => {
                    let mut m: Vec<PciAddress> = g
                        .members
                        .into_iter()
                        .filter(|m| device::exists(s, m) && standing(s, m) != Standing::Exempt)
                        .collect();
                    m.sort();
                    m
                }
                _ if !device::exists(s, &t.address) => {
                    return Err(OpError::NotFound { address: t.address })
                }
                _ => vec![t.address],
            };
            for a in addresses {
                match out.iter().find(|(seen, _)| *seen == a) {
                    None => out.push((a, t.driver.clone())),
                    Some((_, d)) if *d == t.driver => {}
                    Some(_) => {
                        return Err(OpError::BadRequest(format!(
                            "{a} is asked for twice with different drivers"
                        )))
                    }
                }
            }
        }
        Ok(out)
    }

    /// What a detach must lock: its devices, the bystanders their records name,
    /// and for `new_id` every device with the same id (a dynamic id binds them
    /// all, so no other operation may be moving one of them meanwhile).
    fn lock_set(
        &self,
        members: &[(PciAddress, DriverRequest)],
        method: MethodChoice,
    ) -> Vec<PciAddress> {
        let s = self.sysfs();
        let mut set: Vec<PciAddress> = members.iter().map(|(a, _)| *a).collect();
        for (a, _) in members {
            if let Ok(Some(r)) = self.state.load(a) {
                set.extend(r.bystanders);
            }
        }
        let new_id = |a: &PciAddress| match method {
            MethodChoice::NewId => true,
            MethodChoice::Override => false,
            MethodChoice::Auto => !s.exists(&paths::device_attr(a, "driver_override")),
        };
        let ids: Vec<(u16, u16)> = members
            .iter()
            .filter(|(a, _)| new_id(a))
            .map(|(a, _)| {
                let i = device::read_identity(s, a);
                (i.vendor, i.device)
            })
            .collect();
        if !ids.is_empty() {
            for a in device::list_addresses(s).unwrap_or_default() {
                let i = device::read_identity(s, &a);
                if ids.contains(&(i.vendor, i.device)) {
                    set.push(a);
                }
            }
        }
        set
    }

    /// Undoes an operation a killed process left unfinished on `address` (its
    /// record is not settled and we hold its lock, so no one is running it).
    fn recover(
        &self,
        address: PciAddress,
        dry_run: bool,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), OpError> {
        let Some(record) = self.state.load(&address)? else {
            return Ok(());
        };
        if record.phase.is_settled() {
            return Ok(());
        }
        if dry_run {
            warnings.push(Warning::Recovered {
                device: address,
                what: format!(
                    "its record says: {}; a real run undoes that first",
                    record.phase
                ),
            });
            return Ok(());
        }
        let dev = DeviceFacts::read(self.sysfs(), address)?;
        let traces = Traces::of(&record);
        let mut run = Run::default();
        let failed = self.run_restore(&traces, &dev, &mut run);
        let after = || Aftermath::left(device_state(self.sysfs(), &address));
        if let Some(f) = failed.into_iter().next() {
            return Err(OpError::Write {
                what: format!(
                    "undoing an interrupted operation on {address} ({}): {}",
                    record.phase,
                    f.write.what()
                ),
                source: f.source,
                after: after(),
            });
        }
        if let Some(why) = self.not_restored(&traces, &address) {
            return Err(OpError::NotBound {
                address,
                expected: record
                    .original_driver
                    .as_ref()
                    .map_or_else(|| "its own driver".to_string(), ToString::to_string),
                hint: format!("undoing an interrupted operation ({}): {why}", record.phase),
                after: after(),
            });
        }
        self.state.remove(&address)?;
        warnings.push(Warning::Recovered {
            device: address,
            what: format!(
                "found an interrupted operation ({}) and undid it; {}",
                record.phase,
                device_state(self.sysfs(), &address)
            ),
        });
        Ok(())
    }

    /// Checks one device and works out its writes (under its lock; a dry run
    /// takes none). A refusal stops it, or with [`Refusals::Collect`] is written
    /// down and the planning goes on.
    fn plan_detach(
        &self,
        address: PciAddress,
        request: &DriverRequest,
        opts: &DetachOptions,
        single: bool,
        refusals: &mut Refusals<'_>,
    ) -> Result<Planned, OpError> {
        let s = self.sysfs();
        let dev = DeviceFacts::read(s, address)?;
        let existing = self.state.load(&address)?;
        let requested = self.choose_driver(&address, request)?;
        if let Some(r) = existing.as_ref().filter(|r| r.identity != dev.identity) {
            if !opts.force {
                refusals.raise(Refusal::NotTheDetachedDevice {
                    address,
                    recorded: r.identity,
                    found: dev.identity,
                })?;
            }
        }
        if !opts.force {
            for r in policy::detach_refusals(s, &dev, &requested) {
                refusals.raise(r)?;
            }
        }
        let target = self.ensure_driver(&requested, !opts.dry_run)?;
        let mut warnings = Vec::new();
        if single && stub_kind(target.as_str()) == StubKind::Vfio {
            warnings.extend(policy::group_viability(s, &dev));
        }
        if dev.is_on(target.as_str()) {
            return Ok(Planned {
                dev,
                warnings,
                kind: PlanKind::Unchanged,
            });
        }
        // Moving a device off a vfio driver a process uses would block, then take
        // it from under that process.
        if let Some(r) = policy::vfio_in_use(s, &dev) {
            refusals.raise(r)?;
        }
        let method = match (opts.method, dev.has_override_file) {
            (MethodChoice::Auto | MethodChoice::Override, true) => BindMethod::Override,
            (MethodChoice::Auto | MethodChoice::NewId, _) => BindMethod::NewId,
            (MethodChoice::Override, false) => {
                return Err(OpError::BadRequest(format!(
                    "this kernel has no driver_override for {address} (Linux < 3.16): use --method new-id or auto"
                )))
            }
        };
        if let Some(r) = &existing {
            let moving = dev.driver.is_some()
                && dev.driver.as_deref() != r.original_driver.as_ref().map(DriverName::as_str);
            if moving && (method == BindMethod::NewId || r.method == BindMethod::NewId) {
                return Ok(Planned {
                    dev,
                    warnings,
                    kind: PlanKind::ReattachFirst {
                        request: request.clone(),
                    },
                });
            }
        }
        let bystanders = match method {
            BindMethod::NewId => self.unbound_same_id(&dev),
            BindMethod::Override => Vec::new(),
        };
        let steps = match method {
            BindMethod::Override => plan::override_steps(&dev, &target),
            BindMethod::NewId => plan::new_id_steps(
                &dev,
                &target,
                // pciback has new_slot; in a dry run its module may not be loaded yet.
                s.exists(&paths::driver_attr(&target, "new_slot"))
                    || !s.exists(&paths::driver_dir(&target)),
                &bystanders,
            ),
        };
        let record = Record {
            address,
            identity: existing.as_ref().map_or(dev.identity, |r| r.identity),
            // Never overwritten: moving between stubs keeps the first driver.
            original_driver: match &existing {
                Some(r) => r.original_driver.clone(),
                None => dev.driver.as_deref().and_then(|d| DriverName::new(d).ok()),
            },
            stub: target,
            method,
            phase: Phase::Detaching,
            override_set: method == BindMethod::Override
                || existing.as_ref().is_some_and(|r| r.override_set),
            dynamic_id: (method == BindMethod::NewId).then(|| plan::device_id(&dev)),
            slot_added: steps
                .iter()
                .any(|st| matches!(st.write, KernelWrite::NewSlot { .. })),
            bystanders,
            owner: existing
                .as_ref()
                .and_then(|r| r.owner.clone())
                .or_else(|| opts.owner.clone()),
            detached_at: existing.as_ref().map_or_else(state::now, |r| r.detached_at),
        };
        Ok(Planned {
            dev,
            warnings,
            kind: PlanKind::Detach {
                steps,
                record: Box::new(record),
            },
        })
    }

    /// Unbound devices with the same vendor:device (what a `new_id` write grabs),
    /// leaving out those this tool has a record of.
    fn unbound_same_id(&self, dev: &DeviceFacts) -> Vec<PciAddress> {
        let s = self.sysfs();
        device::list_addresses(s)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| *a != dev.address && device::current_driver(s, a).is_none())
            .filter(|a| {
                let i = device::read_identity(s, a);
                i.vendor == dev.identity.vendor && i.device == dev.identity.device
            })
            .filter(|a| !matches!(self.state.load(a), Ok(Some(_))))
            .collect()
    }

    /// Executes (or, in a dry run, shows) one planned device.
    fn run_detach(&self, p: Planned, opts: &DetachOptions) -> Result<Outcome, OpError> {
        let Planned {
            dev,
            mut warnings,
            kind,
        } = p;
        let address = dev.address;
        let mut outcome = Outcome::untouched(&dev);
        match kind {
            PlanKind::Unchanged => outcome.unchanged = true,
            PlanKind::Detach { steps, record } if opts.dry_run => {
                outcome.writes = steps
                    .iter()
                    .map(|st| st.planned(record.stub.as_str()))
                    .collect();
                outcome.driver_after = Some(record.stub.to_string());
            }
            PlanKind::Detach { steps, record } => {
                let mut run = Run::default();
                self.execute_detach(&dev, &steps, *record, &mut run)?;
                outcome.writes = run.log;
                warnings.append(&mut run.warnings);
                outcome.driver_after = device::current_driver(self.sysfs(), &address);
            }
            PlanKind::ReattachFirst { request } => {
                let back = self.reattach_locked(
                    address,
                    &ReattachOptions {
                        force: true,
                        dry_run: opts.dry_run,
                    },
                )?;
                outcome.writes = back.writes;
                if !opts.dry_run {
                    let fresh =
                        self.plan_detach(address, &request, opts, false, &mut Refusals::Stop)?;
                    let then = self.run_detach(fresh, opts)?;
                    outcome.writes.extend(then.writes);
                    warnings.extend(then.warnings);
                    outcome.driver_after = then.driver_after;
                } else {
                    outcome.driver_after = None;
                    warnings.push(Warning::Recovered {
                        device: address,
                        what: "moving between stubs with new_id: a real run reattaches it first, then detaches it afresh".to_string(),
                    });
                }
            }
        }
        outcome.warnings = warnings;
        Ok(outcome)
    }

    /// Gives a device back to its host driver (or, without a record, lets the
    /// kernel probe it, as libvirt does).
    pub fn reattach(
        &self,
        address: PciAddress,
        opts: &ReattachOptions,
    ) -> Result<Outcome, OpError> {
        let mut set = vec![address];
        if let Ok(Some(r)) = self.state.load(&address) {
            set.extend(r.bystanders);
        }
        let _lock = if opts.dry_run {
            None
        } else {
            Some(self.lock(&set)?)
        };
        self.reattach_locked(address, opts)
    }

    fn reattach_locked(
        &self,
        address: PciAddress,
        opts: &ReattachOptions,
    ) -> Result<Outcome, OpError> {
        let s = self.sysfs();
        let dev = DeviceFacts::read(s, address)?;
        let record = self.state.load(&address)?;
        if let Some(r) = record.as_ref().filter(|r| r.identity != dev.identity) {
            if !opts.force {
                return Err(OpError::Refused(Refusal::NotTheDetachedDevice {
                    address,
                    recorded: r.identity,
                    found: dev.identity,
                }));
            }
        }
        // A process using the device through VFIO would lose it mid-flight.
        if let Some(r) = policy::vfio_in_use(s, &dev) {
            return Err(OpError::Refused(r));
        }
        if record.is_none() && dev.is_on(crate::stub::PCIBACK) && !opts.force {
            return Err(OpError::Refused(Refusal::AssignableByXl { address }));
        }
        let traces = match &record {
            Some(r) => Traces::of(r),
            None => Traces::unrecorded(
                dev.driver
                    .as_deref()
                    .filter(|d| stub_kind(d) != StubKind::Other)
                    .and_then(|d| DriverName::new(d).ok()),
            ),
        };
        let steps = restore_steps(&traces, &dev);
        // Unbinding a device the host uses through its own driver would pull it
        // from under the host (libvirt would do it anyway).
        let unbinds = steps
            .iter()
            .any(|st| matches!(st.write, KernelWrite::Unbind { .. }));
        if unbinds && !opts.force {
            let uses = policy::host_use(s, &dev);
            if !uses.is_empty() {
                return Err(OpError::Refused(Refusal::InUseOnHostDriver {
                    address,
                    uses,
                }));
            }
        }
        let mut outcome = Outcome::untouched(&dev);
        if opts.dry_run {
            let stub = traces.stub.as_ref().map_or("the stub", DriverName::as_str);
            outcome.writes = steps.iter().map(|st| st.planned(stub)).collect();
            outcome.driver_after = traces.original.as_ref().map(ToString::to_string);
            return Ok(outcome);
        }
        if let Some(r) = &record {
            let mut journal = r.clone();
            journal.phase = Phase::Reattaching;
            self.state.save(&journal, false)?;
        }
        let mut run = Run::default();
        let mut failed = self.run_restore(&traces, &dev, &mut run).into_iter();
        let after = |undo_failures: Vec<String>| {
            Box::new(Aftermath {
                state: device_state(s, &address),
                rolled_back: false,
                undo_failures,
            })
        };
        if let Some(first) = failed.next() {
            // The record stays: it says what remains, and a retry finishes.
            let rest = failed
                .map(|f| format!("{}: {}", f.write.what(), errno_text(&f.source)))
                .collect();
            return Err(OpError::Write {
                what: first.write.what(),
                source: first.source,
                after: after(rest),
            });
        }
        if let Some(why) = traces
            .original
            .is_none()
            .then(|| self.not_restored(&traces, &address))
            .flatten()
        {
            // Without a record: the device must at least have left its stub.
            return Err(OpError::NotBound {
                address,
                expected: "its own driver".to_string(),
                hint: why,
                after: after(Vec::new()),
            });
        }
        if let Some(original) = &traces.original {
            let now = device::current_driver(s, &address);
            if now.as_deref() != Some(original.as_str()) {
                return Err(OpError::NotBound {
                    address,
                    expected: original.to_string(),
                    hint: match &now {
                        Some(d) => format!("{d} took it"),
                        None => format!("is the {original} module loaded? see dmesg"),
                    },
                    after: after(Vec::new()),
                });
            }
        }
        if record.is_some() {
            self.state.remove(&address)?;
        }
        outcome.writes = run.log;
        outcome.driver_after = device::current_driver(s, &address);
        Ok(outcome)
    }

    /// Reattaches every device whose record names `owner` (a hook's release),
    /// each on its own; one failure does not stop the others.
    pub fn reattach_owned(
        &self,
        owner: &str,
        opts: &ReattachOptions,
    ) -> Result<Vec<DeviceResult>, OpError> {
        let listing = self.state.list()?;
        Ok(listing
            .records
            .into_iter()
            .filter(|r| r.owner.as_deref() == Some(owner))
            .map(|r| (r.address, self.reattach(r.address, opts)))
            .collect())
    }

    /// Undoes every interrupted operation whose process is gone (its lock is
    /// free); operations still running are left alone.
    pub fn recover_interrupted(&self) -> Vec<(PciAddress, Result<Vec<Warning>, OpError>)> {
        let Ok(listing) = self.state.list() else {
            return Vec::new();
        };
        let quick = self
            .state
            .clone()
            .with_lock_timeout(Duration::from_millis(1));
        listing
            .records
            .into_iter()
            .filter(|r| !r.phase.is_settled())
            .filter_map(|r| {
                let mut set = vec![r.address];
                set.extend(r.bystanders.iter().copied());
                let _lock = match quick.lock(&set) {
                    Err(StateError::Lock(_)) => return None, // still running
                    Err(e) => return Some((r.address, Err(e.into()))),
                    Ok(l) => l,
                };
                let mut warnings = Vec::new();
                let result = self
                    .recover(r.address, false, &mut warnings)
                    .map(|()| warnings);
                Some((r.address, result))
            })
            .collect()
    }
}
