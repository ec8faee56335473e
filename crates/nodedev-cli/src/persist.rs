//! Persistent assignments on the command line: `detach --persistent` and
//! `--owner`, `reattach --persistent`, `persist list` and `persist remove`
//! (the files themselves: `hostdev_manager::persist`).

use std::io::Write;

use anyhow::{Context, Result};
use hostdev_manager::ops::Outcome;
use hostdev_manager::persist::{apply_vfio_owner, Assignment, ConfigDir, VfioOwner};
use hostdev_manager::stub::{stub_kind, DriverRequest, StubKind};
use hostdev_manager::{device, Sysfs};
use pci_types::{DriverName, PciAddress};

use crate::app::Backend;
use crate::cli::{Cli, PersistCommand};
use crate::output::{escape_controls, print_failure, ReportedFailure};

/// Where VFIO group nodes are.
const DEV_VFIO: &str = "/dev/vfio";

/// What a detach does besides moving the devices: remember them, give their
/// VFIO group nodes to a user.
pub struct AfterDetach {
    config: Option<ConfigDir>,
    owner: Option<VfioOwner>,
    dry_run: bool,
}

impl AfterDetach {
    /// Checks the options before anything is written: the config directory
    /// (created and checked), the owner's user and group, and that `--owner`
    /// goes with a VFIO driver.
    pub fn new(
        backend: &Backend,
        persistent: bool,
        owner: Option<&VfioOwner>,
        driver: &DriverRequest,
        dry_run: bool,
    ) -> Result<Self> {
        if let Some(o) = owner {
            let vfio = match driver {
                DriverRequest::Vfio => true,
                DriverRequest::Xen => false,
                DriverRequest::Named(n) => stub_kind(n.as_str()) == StubKind::Vfio,
            };
            anyhow::ensure!(
                vfio,
                "--owner gives a VFIO group node (/dev/vfio/N) to a user: it needs a VFIO driver, not this --driver"
            );
            o.resolve()
                .map_err(|e| anyhow::anyhow!("--owner {o}: {e}"))?;
        }
        let config = persistent.then(|| ConfigDir::new(&backend.config_dir));
        if let (Some(c), false) = (&config, dry_run) {
            c.prepare()?;
        }
        Ok(Self {
            config,
            owner: owner.cloned(),
            dry_run,
        })
    }

    /// After a device's detach succeeded: its assignment saved and its group
    /// node given away (not in a dry run).
    pub fn apply(&self, sysfs: &dyn Sysfs, outcomes: &[Outcome]) -> Result<()> {
        if self.dry_run {
            return Ok(());
        }
        for o in outcomes {
            if let Some(owner) = &self.owner {
                apply_vfio_owner(sysfs, &o.address, owner, std::path::Path::new(DEV_VFIO))
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{} is detached, but its VFIO group node was not given away: {e}",
                            o.address
                        )
                    })?;
            }
            if let Some(config) = &self.config {
                let driver = o
                    .driver_after
                    .as_deref()
                    .and_then(|d| DriverName::new(d).ok())
                    .with_context(|| format!("{} has no driver after its detach", o.address))?;
                let a = Assignment {
                    address: o.address,
                    driver,
                    identity: device::read_identity(sysfs, &o.address),
                    owner: self.owner.clone(),
                };
                config.save(&a).map_err(|e| {
                    anyhow::anyhow!(
                        "{} is detached now, but not remembered for the next boot: {e}",
                        o.address
                    )
                })?;
            }
        }
        Ok(())
    }

    /// A dry run's last lines: which files a real run would write.
    pub fn planned(&self, results: &[(String, Result<Vec<Outcome>>)]) -> Vec<String> {
        let Some(config) = self.config.as_ref().filter(|_| self.dry_run) else {
            return Vec::new();
        };
        results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .flatten()
            .map(|o| {
                format!(
                    "Would remember {} in {} (driver {})",
                    o.address.nodedev_name(),
                    config.file_of(&o.address).display(),
                    o.driver_after.as_deref().unwrap_or("?")
                )
            })
            .collect()
    }
}

/// After a reattach succeeded with `--persistent`: forget the device.
pub fn forget(backend: &Backend, address: &PciAddress) -> Result<()> {
    ConfigDir::new(&backend.config_dir)
        .remove(address)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{address} is re-attached, but still assigned at boot: {e}"))
}

/// `nodedev persist list|remove`.
pub fn run(
    cli: &Cli,
    backend: &Backend,
    cmd: &PersistCommand,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let config = ConfigDir::new(&backend.config_dir);
    match cmd {
        PersistCommand::List { json } => list(backend.host.sysfs(), &config, *json, out, err),
        PersistCommand::Remove { devices, select } => {
            let sysfs = backend.host.sysfs();
            // An address names an assignment even when its card is gone.
            let mut targets = Vec::new();
            for name in devices {
                let by_address = name
                    .parse::<PciAddress>()
                    .ok()
                    .filter(|a| !device::exists(sysfs, a));
                let address = match by_address {
                    Some(a) => Ok(a),
                    None => crate::lookup::pci_target(sysfs, name, false),
                };
                targets.push((name.clone(), address));
            }
            targets.extend(
                crate::select::functions_with_ids(sysfs, &select.ids, "forget")?
                    .into_iter()
                    .map(|a| (a.nodedev_name(), Ok(a))),
            );
            let mut failed = false;
            for (name, address) in targets {
                let result = address.and_then(|a| {
                    anyhow::ensure!(
                        config.remove(&a)?,
                        "no persistent assignment for {a} in {}",
                        config.path().display()
                    );
                    Ok(a)
                });
                match result {
                    Ok(a) if !cli.quiet => writeln!(
                        out,
                        "Assignment of {} forgotten (the device is left where it is)",
                        a.nodedev_name()
                    )?,
                    Ok(_) => {}
                    Err(e) => {
                        failed = true;
                        print_failure(err, "forget", &name, &e)?;
                    }
                }
            }
            if failed {
                return Err(ReportedFailure.into());
            }
            Ok(())
        }
    }
}

/// One assignment as `persist list --json` shows it.
#[derive(serde::Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    assignment: &'a Assignment,
    file: std::path::PathBuf,
    /// Whether a function sits at the address now.
    present: bool,
    /// Whether it is the device assigned (same ids).
    same_device: bool,
    /// Its driver now.
    driver_now: Option<String>,
}

fn list(
    sysfs: &dyn Sysfs,
    config: &ConfigDir,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let all = config.list()?;
    for u in &all.unusable {
        writeln!(
            err,
            "warning: persistent assignment {} is unusable: {} (nothing is done for it at boot)",
            u.path.display(),
            escape_controls(&u.reason)
        )?;
    }
    let listed: Vec<Listed> = all
        .assignments
        .iter()
        .map(|a| {
            let present = device::exists(sysfs, &a.address);
            Listed {
                assignment: a,
                file: config.file_of(&a.address),
                present,
                same_device: present && device::read_identity(sysfs, &a.address) == a.identity,
                driver_now: device::current_driver(sysfs, &a.address),
            }
        })
        .collect();
    if json {
        let doc = serde_json::json!({ "assignments": listed, "unusable": all.unusable });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    for l in &listed {
        let a = l.assignment;
        let owner = a
            .owner
            .as_ref()
            .map(|o| format!("  owner {o}"))
            .unwrap_or_default();
        let now = if !l.present {
            "now: no device at this address".to_string()
        } else if !l.same_device {
            format!(
                "now: a different device ({}), not taken at boot",
                device::read_identity(sysfs, &a.address)
            )
        } else {
            format!("now on {}", l.driver_now.as_deref().unwrap_or("no driver"))
        };
        writeln!(
            out,
            "{}  {}  {}{owner}  {now}",
            a.address.nodedev_name(),
            a.driver,
            a.identity
        )?;
    }
    Ok(())
}
