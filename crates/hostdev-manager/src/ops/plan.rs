//! Plans: the exact writes of an operation, worked out before the first one is
//! made. `--dry-run` prints a plan; a real run executes it step by step
//! (`execute.rs`). A step may depend on what the kernel does in between (a
//! `new_id` binds every unbound device with that id at once): such a step says so
//! ([`When`]), and a dry run prints the condition with it.

use pci_types::{DriverName, PciAddress};

use super::inspect::DeviceFacts;
use super::kernel::{KernelWrite, WriteRecord};
use crate::state::{DeviceId, Record};
use crate::stub;

/// When a planned write is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Always.
    Always,
    /// The device is not on the stub yet (a `new_id` may already have bound it).
    NotOnStub,
    /// The `new_id` added the id (it did not answer EEXIST: an id the driver
    /// already matched is not ours to remove).
    IdAdded,
    /// The bystander was grabbed by the stub while the id was registered.
    Grabbed(PciAddress),
    /// The device has no driver at that point (an explicit bind did not take it).
    Unbound,
}

/// One write of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub write: KernelWrite,
    pub when: When,
}

impl Step {
    fn always(write: KernelWrite) -> Self {
        Self {
            write,
            when: When::Always,
        }
    }

    /// How a dry run shows the step.
    pub fn planned(&self, stub: &str) -> WriteRecord {
        let mut r = WriteRecord::of(&self.write, None);
        r.only_if = match self.when {
            When::Always => None,
            When::NotOnStub => Some(format!("the device is not on {stub} yet")),
            When::IdAdded => Some("the new_id added the id (not EEXIST)".to_string()),
            When::Grabbed(b) => Some(format!("{b} was grabbed by {stub}")),
            When::Unbound => Some("the device has no driver by then".to_string()),
        };
        r
    }
}

/// The writes of an override detach (libvirt's `virPCIDeviceBindWithDriverOverride`):
/// name the stub in `driver_override`, unbind, ask the kernel to probe.
pub(crate) fn override_steps(dev: &DeviceFacts, target: &DriverName) -> Vec<Step> {
    let device = dev.address;
    let mut steps = vec![Step::always(KernelWrite::SetOverride {
        device,
        driver: target.clone(),
    })];
    if let Some(from) = &dev.driver {
        steps.push(Step::always(KernelWrite::Unbind {
            device,
            from: from.clone(),
        }));
    }
    steps.push(Step::always(KernelWrite::DriversProbe { device }));
    steps
}

/// The writes of a `new_id` detach (kernels before 3.16, or `--method new-id`):
/// register the id, unbind, seize the slot (pciback), bind explicitly, take the id
/// back, and unbind the same-id `bystanders` the id grabbed meanwhile.
pub(crate) fn new_id_steps(
    dev: &DeviceFacts,
    target: &DriverName,
    has_new_slot: bool,
    bystanders: &[PciAddress],
) -> Vec<Step> {
    let device = dev.address;
    let id = device_id(dev);
    let mut steps = vec![Step::always(KernelWrite::NewId {
        driver: target.clone(),
        id,
    })];
    if let Some(from) = &dev.driver {
        steps.push(Step::always(KernelWrite::Unbind {
            device,
            from: from.clone(),
        }));
    }
    if target.as_str() == stub::PCIBACK && has_new_slot {
        steps.push(Step {
            write: KernelWrite::NewSlot {
                driver: target.clone(),
                device,
            },
            when: When::NotOnStub,
        });
    }
    steps.push(Step {
        write: KernelWrite::Bind {
            driver: target.clone(),
            device,
        },
        when: When::NotOnStub,
    });
    steps.push(Step {
        write: KernelWrite::RemoveId {
            driver: target.clone(),
            id,
        },
        when: When::IdAdded,
    });
    for b in bystanders {
        steps.push(Step {
            write: KernelWrite::UnbindFrom {
                driver: target.clone(),
                device: *b,
            },
            when: When::Grabbed(*b),
        });
    }
    steps
}

/// The device's vendor:device, as `new_id` takes it.
pub(crate) fn device_id(dev: &DeviceFacts) -> DeviceId {
    DeviceId {
        vendor: dev.identity.vendor,
        device: dev.identity.device,
    }
}

/// What may remain in the kernel from this tool's work on a device, and where it
/// came from: the one input of [`restore_steps`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Traces {
    /// The driver to give the device back to (`None`: let the kernel probe).
    pub original: Option<DriverName>,
    /// The stub whose dynamic id and slot these are.
    pub stub: Option<DriverName>,
    /// `driver_override` may name the stub.
    pub override_set: bool,
    /// A dynamic id that may be registered in the stub.
    pub dynamic_id: Option<DeviceId>,
    /// A pciback slot that may be registered.
    pub slot_added: bool,
    /// Same-id devices the stub may have grabbed while the dynamic id was registered.
    pub bystanders: Vec<PciAddress>,
}

impl Traces {
    /// A record's traces.
    pub fn of(record: &Record) -> Self {
        Self {
            original: record.original_driver.clone(),
            stub: Some(record.stub.clone()),
            override_set: record.override_set,
            dynamic_id: record.dynamic_id,
            slot_added: record.slot_added,
            bystanders: record.bystanders.clone(),
        }
    }

    /// A device this tool has no record of (detached by libvirt or by hand):
    /// libvirt's reattach, which clears the override and lets the kernel probe;
    /// `stub` is the stub it is on, which it must leave.
    pub fn unrecorded(stub: Option<DriverName>) -> Self {
        Self {
            original: None,
            stub,
            override_set: true,
            dynamic_id: None,
            slot_added: false,
            bystanders: Vec::new(),
        }
    }
}

/// The writes that give a device back, from any state a detach, a reattach or a
/// kill may have left (one path for reattach, rollback and recovery): clear the
/// override, unbind from whatever is not the original driver, take back the
/// pciback slot and the dynamic id, bind the original driver explicitly, and let
/// the kernel probe if that did not take it. Nothing already right is redone.
pub(crate) fn restore_steps(traces: &Traces, dev: &DeviceFacts) -> Vec<Step> {
    let device = dev.address;
    let mut steps = Vec::new();
    if dev.has_override_file && (traces.override_set || dev.driver_override.is_some()) {
        steps.push(Step::always(KernelWrite::ClearOverride { device }));
    }
    let on_original =
        matches!((&dev.driver, &traces.original), (Some(d), Some(o)) if d == o.as_str());
    if let Some(from) = dev.driver.as_ref().filter(|_| !on_original) {
        steps.push(Step::always(KernelWrite::Unbind {
            device,
            from: from.clone(),
        }));
    }
    // pciback's slot: the one a new_id detach added, or the one pciback added
    // itself when it seized the device by override (else it seizes it again at the
    // next probe).
    let pciback = super::inspect::pciback();
    let on_pciback = traces.stub.as_ref() == Some(&pciback) || dev.is_on(pciback.as_str());
    if (traces.slot_added && traces.stub.as_ref() == Some(&pciback))
        || (on_pciback && dev.pciback_slot)
    {
        steps.push(Step::always(KernelWrite::RemoveSlot {
            driver: pciback,
            device,
        }));
    }
    if let Some(stub) = &traces.stub {
        if let Some(id) = traces.dynamic_id {
            steps.push(Step::always(KernelWrite::RemoveId {
                driver: stub.clone(),
                id,
            }));
        }
        for b in &traces.bystanders {
            steps.push(Step {
                write: KernelWrite::UnbindFrom {
                    driver: stub.clone(),
                    device: *b,
                },
                when: When::Grabbed(*b),
            });
        }
    }
    if !on_original {
        if let Some(original) = &traces.original {
            steps.push(Step {
                write: KernelWrite::Bind {
                    driver: original.clone(),
                    device,
                },
                when: When::Unbound,
            });
        }
        steps.push(Step {
            write: KernelWrite::DriversProbe { device },
            when: if traces.original.is_some() {
                When::Unbound
            } else {
                When::Always
            },
        });
    }
    steps
}
