//! Carrying plans out. Every write is made once and logged; the device's record
//! (the journal) says what is about to change before it changes; the `driver`
//! link is read back at the end, because a write the kernel accepted does not mean
//! the device bound; and a failure gives everything back through the same restore
//! plan a reattach uses, so rollback, recovery after a kill and reattach are one
//! code path.

use std::io;
use std::sync::{mpsc, Arc};

use pci_types::{DriverName, PciAddress};

use super::error::{errno, Aftermath, OpError, Warning};
use super::inspect::{device_state, DeviceFacts};
use super::kernel::{KernelWrite, WriteRecord};
use super::plan::{restore_steps, Step, Traces, When};
use super::Engine;
use crate::device;
use crate::state::{Phase, Record};
use crate::usage;

/// The writes of one operation, as made, and what it has to say.
#[derive(Default)]
pub(crate) struct Run {
    pub log: Vec<WriteRecord>,
    pub warnings: Vec<Warning>,
}

/// A write that failed, with the kernel's answer.
pub(crate) struct Failed {
    pub write: KernelWrite,
    pub source: io::Error,
}

/// How an unbind ended.
enum UnbindError {
    /// The kernel refused it.
    Failed(io::Error),
    /// It did not return within the unbind timeout.
    Stuck,
}

impl Engine {
    /// Makes one write and logs it.
    pub(crate) fn write(&self, run: &mut Run, w: &KernelWrite) -> io::Result<()> {
        let result = self.sysfs.write(&w.path(), &w.data());
        run.log.push(WriteRecord::of(
            w,
            result
                .as_ref()
                .err()
                .map(|e| e.raw_os_error().unwrap_or(-1)),
        ));
        result
    }

    /// An unbind, waiting at most the unbind timeout: a driver whose remove()
    /// blocks on its users is reported instead of hanging the caller. ENOENT from
    /// `driver/unbind` means the device is already unbound.
    fn unbind(&self, run: &mut Run, w: &KernelWrite) -> Result<(), UnbindError> {
        let (tx, rx) = mpsc::channel();
        let sysfs = Arc::clone(&self.sysfs);
        let (path, data) = (w.path(), w.data());
        std::thread::spawn(move || {
            let _ = tx.send(sysfs.write(&path, &data));
        });
        let Ok(result) = rx.recv_timeout(self.unbind_timeout) else {
            run.log.push(WriteRecord::of(w, Some(errno::ETIMEDOUT)));
            return Err(UnbindError::Stuck);
        };
        run.log.push(WriteRecord::of(
            w,
            result
                .as_ref()
                .err()
                .map(|e| e.raw_os_error().unwrap_or(-1)),
        ));
        match result {
            Err(e) if errno::is(&e, errno::ENOENT) => Ok(()),
            other => other.map_err(UnbindError::Failed),
        }
    }

    fn driver_of(&self, address: &PciAddress) -> Option<String> {
        device::current_driver(self.sysfs(), address)
    }

    fn holds(&self, address: &PciAddress, driver: &DriverName) -> bool {
        self.driver_of(address).as_deref() == Some(driver.as_str())
    }

    /// Whether a conditional step applies now.
    fn applies(
        &self,
        when: When,
        device: &PciAddress,
        stub: Option<&DriverName>,
        id_added: bool,
    ) -> bool {
        match when {
            When::Always => true,
            When::NotOnStub => !stub.is_some_and(|s| self.holds(device, s)),
            When::IdAdded => id_added,
            When::Grabbed(b) => stub.is_some_and(|s| self.holds(&b, s)),
            When::Unbound => self.driver_of(device).is_none(),
        }
    }

    fn write_failed(&self, w: &KernelWrite, source: io::Error, device: &PciAddress) -> OpError {
        OpError::Write {
            what: w.what(),
            source,
            after: Aftermath::left(device_state(self.sysfs(), device)),
        }
    }

    /// Carries out a detach plan: journal, writes, verification; rolled back on
    /// failure. `record` is the journal as the plan wrote it (phase `Detaching`,
    /// every trace the steps may leave marked).
    pub(crate) fn execute_detach(
        &self,
        dev: &DeviceFacts,
        steps: &[Step],
        mut record: Record,
        run: &mut Run,
    ) -> Result<(), OpError> {
        let address = dev.address;
        self.state.save(&record, false)?;
        let stub = record.stub.clone();
        let mut id_added = false;
        let mut slot_added = false;
        let mut failure: Option<OpError> = None;
        for step in steps {
            if !self.applies(step.when, &address, Some(&stub), id_added) {
                continue;
            }
            let w = &step.write;
            let result = match w {
                KernelWrite::Unbind { from, .. } => match self.unbind(run, w) {
                    Ok(()) => Ok(()),
                    Err(UnbindError::Failed(e)) => Err(e),
                    Err(UnbindError::Stuck) => {
                        return Err(self.stuck(dev, from, &mut record, id_added, run))
                    }
                },
                KernelWrite::NewId { .. } => match self.write(run, w) {
                    Ok(()) => {
                        id_added = true;
                        Ok(())
                    }
                    // The stub already matches this id (pciback's match-all table,
                    // an id registered before): carry on, and never remove an id we
                    // did not add.
                    Err(e) if errno::is(&e, errno::EEXIST) => {
                        record.dynamic_id = None;
                        self.state.save(&record, false)?;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                KernelWrite::NewSlot { .. } => {
                    let r = self.write(run, w);
                    slot_added = r.is_ok();
                    record.slot_added = slot_added;
                    r
                }
                KernelWrite::Bind { driver, .. } => match self.write(run, w) {
                    // Someone (udev, another prober) bound it in between: fine if it
                    // is our stub.
                    Err(e) if errno::is(&e, errno::EBUSY) && self.holds(&address, driver) => Ok(()),
                    other => other,
                },
                KernelWrite::RemoveId { .. } => {
                    // Nothing lists a driver's dynamic ids, so the answer is all we
                    // have: ENODEV means the id is not there. One retry turns a
                    // passing fault into the same answer twice.
                    let mut r = self.write(run, w);
                    if r.is_err() {
                        r = self.write(run, w);
                    }
                    match r {
                        Err(e) if !errno::is(&e, errno::ENODEV) => Err(e),
                        _ => {
                            record.dynamic_id = None;
                            self.state.save(&record, false)?;
                            Ok(())
                        }
                    }
                }
                KernelWrite::UnbindFrom { device: b, .. } => {
                    if let Err(e) = self.write(run, w) {
                        run.warnings.push(Warning::BystanderKept {
                            device: *b,
                            stub: stub.clone(),
                            error: super::error::errno_text(&e),
                        });
                    }
                    Ok(())
                }
                KernelWrite::SetOverride { .. }
                | KernelWrite::ClearOverride { .. }
                | KernelWrite::DriversProbe { .. }
                | KernelWrite::RemoveSlot { .. } => self.write(run, w),
            };
            if let Err(source) = result {
                // A write the kernel refused changed nothing: its trace is not there
                // (unless it was before this operation).
                match w {
                    KernelWrite::SetOverride { .. } => {
                        record.override_set = dev.driver_override.is_some()
                    }
                    KernelWrite::NewId { .. } => record.dynamic_id = None,
                    _ => {}
                }
                failure = Some(self.write_failed(w, source, &address));
                break;
            }
        }
        let failure = failure.or_else(|| {
            (!self.holds(&address, &stub)).then(|| OpError::NotBound {
                address,
                expected: stub.to_string(),
                hint: self.probe_hint(dev, &stub),
                after: Aftermath::left(device_state(self.sysfs(), &address)),
            })
        });
        if let Some(e) = failure {
            return Err(self.roll_back(&mut record, run, e));
        }
        record.phase = Phase::Detached;
        record.slot_added = slot_added;
        record.bystanders.clear();
        self.state.save(&record, true)?;
        Ok(())
    }

    /// A likely reason a probe did not take the device.
    fn probe_hint(&self, dev: &DeviceFacts, target: &DriverName) -> String {
        if super::policy::vfio_without_iommu(self.sysfs(), dev, target.as_str()) {
            return "the device has no IOMMU group: is the IOMMU enabled (intel_iommu=on / amd_iommu=on)?".to_string();
        }
        if let Some(d) = self.driver_of(&dev.address) {
            return format!("{d} took it first");
        }
        "see the kernel log (dmesg) for the probe error".to_string()
    }

    /// The unbind from the host driver did not return: take back what can be taken
    /// back without the device (the override, so that when the kernel finishes the
    /// device is simply unbound; the dynamic id; grabbed bystanders) and record
    /// that the unbind is pending.
    fn stuck(
        &self,
        dev: &DeviceFacts,
        driver: &str,
        record: &mut Record,
        id_added: bool,
        run: &mut Run,
    ) -> OpError {
        let address = dev.address;
        let mut remains = Vec::new();
        if record.override_set {
            let clear = KernelWrite::ClearOverride { device: address };
            match self.write(run, &clear) {
                Ok(()) => {
                    record.override_set = false;
                    remains.push("driver_override was cleared".to_string());
                }
                Err(e) => remains.push(format!(
                    "driver_override still names {} (clearing it failed: {})",
                    record.stub,
                    super::error::errno_text(&e)
                )),
            }
        }
        if let Some(id) = record.dynamic_id.filter(|_| id_added) {
            let remove = KernelWrite::RemoveId {
                driver: record.stub.clone(),
                id,
            };
            if matches!(self.write(run, &remove), Err(e) if !errno::is(&e, errno::ENODEV)) {
                remains.push(format!(
                    "the id {id} may still be registered in {}",
                    record.stub
                ));
            } else {
                record.dynamic_id = None;
            }
        }
        record.phase = Phase::UnbindPending;
        if let Err(e) = self.state.save(record, true) {
            remains.push(format!("the record could not be updated: {e}"));
        }
        let files = usage::device_files(self.sysfs(), &dev.sysfs_path, Some(driver));
        remains.push(format!(
            "the kernel will finish the unbind when they let go, and the device will then have no driver: run `nodedev reattach {address}` afterwards"
        ));
        OpError::StuckUnbind {
            address,
            driver: driver.to_string(),
            waited: self.unbind_timeout,
            holders: usage::processes_holding(self.sysfs(), &files),
            what_remains: remains.join("; "),
        }
    }

    /// Gives the device back after a failed detach, and says where it was left.
    fn roll_back(&self, record: &mut Record, run: &mut Run, error: OpError) -> OpError {
        let address = record.address;
        let writes_before = run.log.len();
        let mut undo_failures: Vec<String> = match DeviceFacts::read(self.sysfs(), address) {
            Ok(facts) => self
                .run_restore(&Traces::of(record), &facts, run)
                .into_iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.write.what(),
                        super::error::errno_text(&f.source)
                    )
                })
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        if undo_failures.is_empty() {
            if let Some(miss) = self.not_restored(&Traces::of(record), &address) {
                undo_failures.push(miss);
            }
        }
        if undo_failures.is_empty() {
            if let Err(e) = self.state.remove(&address) {
                undo_failures.push(e.to_string());
            }
        }
        error.with_aftermath(Aftermath {
            state: device_state(self.sysfs(), &address),
            // Only when something had to be undone.
            rolled_back: run.log.len() > writes_before,
            undo_failures,
        })
    }

    /// Runs the restore plan for `traces` (best effort: every step is tried) and
    /// returns the writes that failed.
    pub(crate) fn run_restore(
        &self,
        traces: &Traces,
        dev: &DeviceFacts,
        run: &mut Run,
    ) -> Vec<Failed> {
        let address = dev.address;
        let mut failed = Vec::new();
        for step in restore_steps(traces, dev) {
            if !self.applies(step.when, &address, traces.stub.as_ref(), false) {
                continue;
            }
            let w = step.write;
            let result = match &w {
                KernelWrite::Unbind { .. } => match self.unbind(run, &w) {
                    Ok(()) => Ok(()),
                    Err(UnbindError::Failed(e)) => Err(e),
                    Err(UnbindError::Stuck) => Err(io::Error::from_raw_os_error(errno::ETIMEDOUT)),
                },
                KernelWrite::Bind { driver, .. } => {
                    // Its module may have been unloaded meanwhile; a failed bind
                    // falls through to drivers_probe.
                    self.reload_original(driver);
                    let _ = self.write(run, &w);
                    Ok(())
                }
                KernelWrite::RemoveId { .. } => {
                    let mut r = self.write(run, &w);
                    if r.is_err() {
                        r = self.write(run, &w);
                    }
                    match r {
                        Err(e) if errno::is(&e, errno::ENODEV) => Ok(()),
                        other => other,
                    }
                }
                KernelWrite::RemoveSlot { .. } => match self.write(run, &w) {
                    // An unknown slot: never added, or already removed.
                    Err(e) if errno::is(&e, errno::ENOENT) => Ok(()),
                    other => other,
                },
                _ => self.write(run, &w),
            };
            if let Err(source) = result {
                failed.push(Failed { write: w, source });
            }
        }
        failed
    }

    /// Why the device is not back where `traces` say it belongs, if it is not.
    pub(crate) fn not_restored(&self, traces: &Traces, address: &PciAddress) -> Option<String> {
        let now = self.driver_of(address);
        match (&traces.original, &traces.stub) {
            (Some(o), _) if now.as_deref() != Some(o.as_str()) => Some(format!(
                "{address} is not back on {o} ({})",
                now.map_or_else(
                    || "no driver took it".to_string(),
                    |d| format!("{d} took it")
                )
            )),
            (None, Some(s)) if now.as_deref() == Some(s.as_str()) => {
                Some(format!("{address} is still on {s}"))
            }
            _ => None,
        }
    }
}
