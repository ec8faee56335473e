//! The libvirt hook entry point: `nodedev hook qemu <domain> <operation>
//! <sub-operation> <extra>`, run by libvirtd from /etc/libvirt/hooks/qemu.d/ with
//! the domain XML on standard input. It never calls libvirt (a hook that does
//! deadlocks the daemon), prints nothing on stdout (libvirt may read a qemu.d
//! script's stdout as a rewritten domain), and reports on stderr, one line per
//! problem, which libvirt logs.
//!
//! - `prepare begin`: detach every PCI source of `<hostdev mode='subsystem'
//!   type='pci' managed='no'>` and `<interface type='hostdev' managed='no'>` (the
//!   ones libvirt expects to find detached), plus the devices and IOMMU groups our
//!   metadata names, minus the ones it skips; the records say `hook:<domain>`.
//!   If one fails, the ones this run moved are given back and the hook fails, so
//!   libvirt aborts the start.
//! - `release end`: reattach exactly what the hook detached for this domain.
//! - anything else: exit 0 at once, without reading standard input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hostdev_manager::ops::{DetachOptions, Engine, MethodChoice, ReattachOptions};
use hostdev_manager::stub::DriverRequest;
use nodedev_xml::{domain_hostdevs, DomainHostdevs, DomainPciDevice};
use pci_types::{DriverName, PciAddress};

/// The name of the script `hook install` puts into `qemu.d/`.
pub const HOOK_SCRIPT: &str = "50-nodedev-shim";

fn owner(domain: &str) -> String {
    format!("hook:{domain}")
}

/// The stub a hostdev asks for: `model=` names a driver, `name='vfio'` (or none)
/// the VFIO default, `xen` pciback, `kvm` libvirt's error.
pub(crate) fn hostdev_driver(d: &DomainPciDevice) -> Result<DriverRequest> {
    if let Some(model) = &d.driver_model {
        return Ok(DriverRequest::Named(DriverName::new(model)?));
    }
    Ok(DriverRequest::parse(d.driver_name.as_deref())?)
}

/// One step of acting on a domain: a function, the stub it asks for, and whether
/// its whole IOMMU group goes with it.
pub(crate) type Step = (PciAddress, DriverRequest, bool);

/// What a domain document asks for, in order: its PCI hostdevs and hostdev
/// interfaces (only the unmanaged ones when `unmanaged_only`, as for the hook),
/// minus our metadata's skips, then the metadata's devices and groups.
pub(crate) fn plan(doc: &DomainHostdevs, unmanaged_only: bool) -> Result<Vec<Step>> {
    let skip = &doc.metadata.skip;
    let mut steps = Vec::new();
    for d in doc
        .devices
        .iter()
        // The hook leaves managed devices to libvirt, which detaches them itself.
        .filter(|d| !(unmanaged_only && d.managed))
        .filter(|d| !skip.contains(&d.address))
    {
        let driver = hostdev_driver(d).with_context(|| format!("hostdev {}", d.address))?;
        steps.push((d.address, driver, false));
    }
    steps.extend(
        doc.metadata
            .devices
            .iter()
            .map(|a| (*a, DriverRequest::Vfio, false)),
    );
    steps.extend(
        doc.metadata
            .groups
            .iter()
            .map(|a| (*a, DriverRequest::Vfio, true)),
    );
    Ok(steps)
}

/// Runs the qemu hook. `input` is the domain XML (read only for the two
/// operations that need it).
pub fn qemu(
    engine: &Engine,
    domain: &str,
    operation: &str,
    sub: &str,
    input: &mut dyn Read,
    err: &mut dyn Write,
) -> Result<()> {
    let prepare = operation == "prepare" && sub == "begin";
    let release = operation == "release" && sub == "end";
    if !prepare && !release {
        return Ok(());
    }
    if release {
        return release_domain(engine, domain, err);
    }
    let xml = crate::commands::read_bounded(input, "standard input")?;
    let doc = domain_hostdevs(&xml).context("the domain XML on standard input is not usable")?;
    let mut moved: Vec<PciAddress> = Vec::new();
    for (address, driver, group) in plan(&doc, true)? {
        let opts = DetachOptions {
            driver,
            method: MethodChoice::Auto,
            force: false,
            dry_run: false,
        };
        let result = if group {
            engine.detach_group(address, &opts)
        } else {
            engine.detach(address, &opts).map(|o| vec![o])
        };
        match result {
            Ok(outcomes) => {
                for o in outcomes {
                    for w in &o.warnings {
                        writeln!(err, "nodedev hook: {domain}: warning: {w}")?;
                    }
                    if o.unchanged {
                        continue; // already detached by someone else: not ours to give back
                    }
                    if let Some(mut rec) = engine.state().load(&o.address)? {
                        rec.owner = Some(owner(domain));
                        engine.state().save(&rec)?;
                    }
                    writeln!(
                        err,
                        "nodedev hook: {domain}: detached {} ({} -> {})",
                        o.address,
                        o.driver_before.as_deref().unwrap_or("no driver"),
                        o.driver_after.as_deref().unwrap_or("no driver")
                    )?;
                    moved.push(o.address);
                }
            }
            Err(e) => {
                for a in moved.iter().rev() {
                    let _ = engine.reattach(*a, &ReattachOptions::default());
                }
                bail!("{domain}: cannot detach {address}: {e}; {} device(s) already moved were given back", moved.len());
            }
        }
    }
    Ok(())
}

/// Reattaches every device whose record says this domain's hook detached it.
fn release_domain(engine: &Engine, domain: &str, err: &mut dyn Write) -> Result<()> {
    let mine: Vec<PciAddress> = engine
        .state()
        .list()?
        .into_iter()
        .filter(|r| r.owner.as_deref() == Some(owner(domain).as_str()))
        .map(|r| r.address)
        .collect();
    let mut failed = Vec::new();
    for a in mine {
        match engine.reattach(a, &ReattachOptions::default()) {
            Ok(o) => writeln!(
                err,
                "nodedev hook: {domain}: re-attached {a} ({})",
                o.driver_after.as_deref().unwrap_or("no driver")
            )?,
            Err(e) => failed.push(format!("{a}: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!("{domain}: cannot re-attach {}", failed.join("; "));
    }
    Ok(())
}

/// Installs the hook script into `<dir>/qemu.d/` (idempotent).
pub fn install(dir: &Path, exe: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let qemu_d = dir.join("qemu.d");
    std::fs::create_dir_all(&qemu_d)
        .with_context(|| format!("cannot create {}", qemu_d.display()))?;
    let path = qemu_d.join(HOOK_SCRIPT);
    let exe = exe
        .to_str()
        .context("the nodedev binary's path is not UTF-8")?;
    let script = format!(
        "#!/bin/sh\n# Installed by `nodedev hook install`: prepares and releases PCI host devices\n# without calling back into libvirt. Remove with `nodedev hook uninstall`.\nexec '{}' hook qemu \"$@\"\n",
        exe.replace('\'', "'\\''")
    );
    if std::fs::read_to_string(&path).ok().as_deref() != Some(script.as_str()) {
        let tmp = qemu_d.join(format!(".{HOOK_SCRIPT}.tmp"));
        std::fs::write(&tmp, &script).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot install {}", path.display()))?;
    }
    Ok(path)
}

/// Removes the hook script (idempotent).
pub fn uninstall(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("qemu.d").join(HOOK_SCRIPT);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(path),
    }
}
