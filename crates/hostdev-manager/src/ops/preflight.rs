//! `nodedev preflight`: what a detach would do and whether the host survives it,
//! with nothing written.
//!
//! It runs a detach's own path (`members` → `recover` → `plan_detach` →
//! `run_detach`, as `detach --dry-run` does: no lock, no record, no write), with
//! one difference: every refusal is written down instead of stopping at the
//! first. When the device's IOMMU group would not be viable after detaching it
//! alone, the same path runs again for `detach --group`. Around that it reads
//! what a person checks before passing a device through: the IOMMU, the group's
//! members and where they stand, the stub driver's module, who holds the
//! device's files, what `reset --list` would pick, and the SR-IOV state.
//!
//! Nothing here can write: the options are forced to a dry run (the plan is
//! never executed, records are never saved, locks are never taken, modules are
//! never loaded), and the engine is a read-only copy that does not even store
//! its modules.alias cache. The engine can therefore run over a snapshot.

use std::fmt;
use std::path::{Path, PathBuf};

use pci_types::PciAddress;

use super::error::{OpError, Refusal, Warning};
use super::inspect::DeviceFacts;
use super::policy::{self, standing, Standing};
use super::{DetachOptions, Engine, Outcome, Refusals, Target};
use crate::device;
use crate::iommu::{self, IommuFacts};
use crate::reset::ResetPlan;
use crate::stub::DriverRequest;
use crate::usage::{self, Holder};

/// Everything `nodedev preflight` reports about one device.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PreflightReport {
    /// The device.
    pub address: PciAddress,
    /// Its driver now.
    pub driver: Option<String>,
    /// The IOMMU.
    pub iommu: IommuFacts,
    /// Its IOMMU group, every member with where it stands (`None`: no IOMMU).
    pub group: Option<GroupReport>,
    /// The stub a detach binds, and its module.
    pub target: TargetDriver,
    /// Whether the host-usage checks could look (`/proc/self/mountinfo` is
    /// readable): a snapshot has no `/proc`, so mounts, swap and routes are
    /// unknown there.
    pub host_use_checked: bool,
    /// Processes holding the device's files (DRM nodes, block devices): an
    /// unbind waits for them, up to `--unbind-timeout`.
    pub holders: Vec<Holder>,
    /// What `reset --list` shows.
    pub reset: Option<ResetPlan>,
    /// SR-IOV: a PF's VFs, or a VF's PF.
    pub sriov: SriovState,
    /// What stops the detach (or the detach with `--group` the verdict needs).
    pub blockers: Vec<Blocker>,
    /// What a detach would warn about.
    pub warnings: Vec<Warning>,
    /// The writes, exactly as `detach --dry-run` (with `--group` when the
    /// verdict says so) shows them; empty when blocked.
    pub plan: Vec<Outcome>,
    /// The answer.
    pub verdict: Verdict,
}

/// An IOMMU group as the viability rule sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GroupReport {
    /// The group number.
    pub number: u32,
    /// Its default domain type (`/sys/kernel/iommu_groups/N/type`), when known.
    pub domain_type: Option<String>,
    /// Every member, in address order.
    pub members: Vec<GroupMember>,
}

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    /// The function.
    pub address: PciAddress,
    /// Its driver now.
    pub driver: Option<String>,
    /// Where it stands under the viability rule.
    pub standing: Standing,
}

impl GroupReport {
    /// Reads a group.
    pub fn read(sysfs: &dyn crate::Sysfs, group: &crate::IommuGroup) -> Self {
        let mut members: Vec<GroupMember> = group
            .members
            .iter()
            .map(|m| GroupMember {
                address: *m,
                driver: device::current_driver(sysfs, m),
                standing: standing(sysfs, m),
            })
            .collect();
        members.sort_by_key(|m| m.address);
        Self {
            number: group.number,
            domain_type: iommu::domain_type(sysfs, group.number),
            members,
        }
    }

    /// The members that make it not viable now.
    pub fn blocking(&self) -> impl Iterator<Item = &GroupMember> {
        self.members
            .iter()
            .filter(|m| m.standing == Standing::Blocks)
    }
}

/// The stub a detach would bind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TargetDriver {
    /// The driver's name (a VFIO variant from modules.alias, vfio-pci, pciback,
    /// or the name asked for).
    pub name: String,
    /// Chosen from modules.alias as the device's VFIO variant driver.
    pub variant: bool,
    /// Whether it is there.
    pub status: DriverStatus,
}

/// Whether a stub driver is there, or what loading it would meet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DriverStatus {
    /// Registered (or its module loaded).
    Loaded,
    /// Not loaded; its module is in `modules.dep` or built in: a detach loads it.
    Loadable {
        /// The module.
        module: String,
    },
    /// Blacklisted in modprobe's configuration: the detach's `modprobe -b` fails.
    Blacklisted {
        /// The module.
        module: String,
        /// The file with the `blacklist` line.
        file: PathBuf,
    },
    /// This kernel has no such module.
    Missing {
        /// The module.
        module: String,
    },
    /// Not loaded, and this tree has no module files to tell (a snapshot).
    Unknown {
        /// The module.
        module: String,
    },
}

impl fmt::Display for DriverStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loaded => f.write_str("loaded"),
            Self::Loadable { module } => write!(f, "not loaded; a detach loads module {module}"),
            Self::Blacklisted { module, file } => write!(
                f,
                "module {module} is blacklisted in {}: the detach's modprobe -b refuses to load it",
                file.display()
            ),
            Self::Missing { module } => {
                write!(f, "this kernel has no module {module} (not in modules.dep)")
            }
            Self::Unknown { module } => write!(
                f,
                "not loaded; whether module {module} exists is not known (no modules.dep here)"
            ),
        }
    }
}

/// SR-IOV state of the device.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SriovState {
    /// A PF: the VFs it can have.
    pub total_vfs: Option<u32>,
    /// A PF: the VFs enabled now (vfio-pci refuses a PF with VFs).
    pub num_vfs: u32,
    /// A VF: its PF.
    pub physfn: Option<PciAddress>,
    /// A VF: its PF's driver (a VF usually needs its PF on the host driver).
    pub physfn_driver: Option<String>,
}

/// One thing that stops a detach.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// The device it is about (the device, or a member of its group).
    pub device: PciAddress,
    /// Why, in the words a detach uses.
    pub reason: String,
    /// `detach --force` would go ahead anyway.
    pub forceable: bool,
}

impl Blocker {
    fn refused(device: PciAddress, r: &Refusal) -> Self {
        Self {
            device,
            reason: r.to_string(),
            forceable: r.forceable(),
        }
    }
}

/// The answer for one device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// `detach DEV` works and leaves its group usable by VFIO.
    Ready,
    /// Detaching it alone leaves its group not viable; `detach --group DEV`
    /// works and takes these others along.
    ReadyWithGroup {
        /// The other endpoints `--group` detaches.
        others: Vec<PciAddress>,
    },
    /// Something stops it.
    Blocked {
        /// What, one reason each.
        reasons: Vec<String>,
    },
}

impl Verdict {
    /// Whether a detach would be refused or fail.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Self::Blocked { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready => f.write_str("ready"),
            Self::ReadyWithGroup { others } => {
                let others: Vec<String> = others.iter().map(PciAddress::short_name).collect();
                write!(
                    f,
                    "ready with --group (its IOMMU group needs {} detached too)",
                    others.join(", ")
                )
            }
            Self::Blocked { reasons } => write!(f, "blocked: {}", reasons.join("; ")),
        }
    }
}

/// What a detach's own path found for a set of targets, run dry.
#[derive(Default)]
struct Checked {
    blockers: Vec<Blocker>,
    warnings: Vec<Warning>,
    plan: Vec<Outcome>,
    members: Vec<PciAddress>,
}

impl Engine {
    /// What `detach` (with `opts.driver`) would do to `address`, and whether the
    /// host survives it, with nothing written. See the module documentation.
    pub fn preflight(
        &self,
        address: PciAddress,
        opts: &DetachOptions,
    ) -> Result<PreflightReport, OpError> {
        let mut engine = self.clone();
        engine.read_only = true;
        let dry = DetachOptions {
            dry_run: true,
            owner: None,
            ..opts.clone()
        };
        engine.preflight_dry(address, &dry)
    }

    fn preflight_dry(
        &self,
        address: PciAddress,
        opts: &DetachOptions,
    ) -> Result<PreflightReport, OpError> {
        debug_assert!(opts.dry_run && self.read_only);
        let s = self.sysfs();
        let dev = DeviceFacts::read(s, address)?;
        let chosen = self.choose_driver(&address, &opts.driver)?;
        let variant =
            matches!(opts.driver, DriverRequest::Vfio) && chosen.as_str() != crate::stub::VFIO_PCI;
        let status = self.driver_status(&chosen);
        let mut blockers = Vec::new();
        if policy::vfio_without_iommu(s, &dev, chosen.as_str()) {
            blockers.push(Blocker {
                device: address,
                reason: format!(
                    "no IOMMU: {address} is in no IOMMU group, so {chosen} cannot take it ({})",
                    iommu::ENABLE_HINT
                ),
                forceable: false,
            });
        }
        if matches!(
            status,
            DriverStatus::Blacklisted { .. } | DriverStatus::Missing { .. }
        ) {
            blockers.push(Blocker {
                device: address,
                reason: format!("{chosen}: {status}"),
                forceable: false,
            });
        }
        let alone = self.dry_check(
            &[Target {
                address,
                driver: opts.driver.clone(),
                whole_group: false,
            }],
            opts,
        )?;
        blockers.extend(alone.blockers);
        let mut warnings = alone.warnings;
        let needs_group = warnings
            .iter()
            .any(|w| matches!(w, Warning::GroupNotViable { .. }));
        let (verdict, plan) = if !blockers.is_empty() {
            let reasons = blockers.iter().map(|b| b.reason.clone()).collect();
            (Verdict::Blocked { reasons }, Vec::new())
        } else if needs_group {
            let group = self.dry_check(
                &[Target {
                    address,
                    driver: opts.driver.clone(),
                    whole_group: true,
                }],
                opts,
            )?;
            for w in group.warnings {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            if group.blockers.is_empty() {
                let others = group
                    .members
                    .into_iter()
                    .filter(|m| *m != address)
                    .collect();
                (Verdict::ReadyWithGroup { others }, group.plan)
            } else {
                let reasons = group
                    .blockers
                    .iter()
                    .map(|b| format!("with --group: {}", b.reason))
                    .collect();
                blockers = group.blockers;
                (Verdict::Blocked { reasons }, Vec::new())
            }
        } else {
            (Verdict::Ready, alone.plan)
        };
        let holders = if dev.on_host_driver() {
            usage::processes_holding(
                s,
                &usage::device_files(s, &dev.sysfs_path, dev.driver.as_deref()),
            )
        } else {
            Vec::new()
        };
        let physfn = sysfs_link_address(s, &address, "physfn");
        let total_vfs = s
            .read(&crate::paths::device_attr(&address, "sriov_totalvfs"))
            .ok()
            .and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok());
        Ok(PreflightReport {
            address,
            driver: dev.driver.clone(),
            iommu: iommu::facts(s),
            group: dev.group.as_ref().map(|g| GroupReport::read(s, g)),
            target: TargetDriver {
                name: chosen.to_string(),
                variant,
                status,
            },
            host_use_checked: s.exists(Path::new("/proc/self/mountinfo")),
            holders,
            reset: self.reset_plan(address).ok(),
            sriov: SriovState {
                total_vfs,
                num_vfs: dev.num_vfs,
                physfn,
                physfn_driver: physfn.and_then(|p| device::current_driver(s, &p)),
            },
            blockers,
            warnings,
            plan,
            verdict,
        })
    }

    /// `detach_all`'s path as a dry run that writes every refusal down: the
    /// members, an interrupted operation's record (a real run undoes it first),
    /// each member's checks and plan, and the plan shown as `--dry-run` shows it.
    fn dry_check(&self, targets: &[Target], opts: &DetachOptions) -> Result<Checked, OpError> {
        debug_assert!(opts.dry_run);
        let members = self.members(targets)?;
        let single = members.len() == 1 && !targets.iter().any(|t| t.whole_group);
        let mut checked = Checked {
            members: members.iter().map(|(a, _)| *a).collect(),
            ..Checked::default()
        };
        for (address, request) in &members {
            self.recover(*address, true, &mut checked.warnings)?;
            let mut refusals = Vec::new();
            let planned = self.plan_detach(
                *address,
                request,
                opts,
                single,
                &mut Refusals::Collect(&mut refusals),
            );
            let planned = match planned {
                Ok(p) => p,
                Err(e) => {
                    checked.blockers.push(Blocker {
                        device: *address,
                        reason: e.to_string(),
                        forceable: false,
                    });
                    continue;
                }
            };
            if !refusals.is_empty() {
                checked
                    .blockers
                    .extend(refusals.iter().map(|r| Blocker::refused(*address, r)));
                checked.warnings.extend(planned.warnings);
                continue;
            }
            // A dry run: run_detach only turns the steps into their descriptions.
            let mut outcome = self.run_detach(planned, opts)?;
            checked.warnings.append(&mut outcome.warnings);
            checked.plan.push(outcome);
        }
        Ok(checked)
    }
}

fn sysfs_link_address(
    sysfs: &dyn crate::Sysfs,
    address: &PciAddress,
    link: &str,
) -> Option<PciAddress> {
    let target = sysfs
        .read_link(&crate::paths::device_attr(address, link))
        .ok()?;
    PciAddress::from_sysfs_name(crate::sysfs::base_name(&target)).ok()
}
