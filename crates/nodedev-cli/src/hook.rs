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
use hostdev_manager::ops::{DetachOptions, Engine, OpError, ReattachOptions, Target};
use nodedev_xml::domain_hostdevs;

use crate::domain::{self, Hostdevs};
use crate::input::read_bounded;

/// The name of the script `hook install` puts into `qemu.d/`.
pub const HOOK_SCRIPT: &str = "50-nodedev-shim";

fn owner(domain: &str) -> String {
    format!("hook:{domain}")
}

/// The two hook calls that move devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `prepare begin`: before QEMU starts.
    Prepare,
    /// `release end`: after QEMU is gone.
    Release,
}

impl Operation {
    /// The operation libvirt's arguments name, if it is one the hook acts on.
    pub fn of(operation: &str, sub_operation: &str) -> Option<Self> {
        match (operation, sub_operation) {
            ("prepare", "begin") => Some(Self::Prepare),
            ("release", "end") => Some(Self::Release),
            _ => None,
        }
    }
}

/// Runs the qemu hook for one of the operations that move devices. `input` is the
/// domain XML (read only for `prepare`).
pub fn qemu(
    engine: &Engine,
    domain: &str,
    operation: Operation,
    input: &mut dyn Read,
    err: &mut dyn Write,
) -> Result<()> {
    match operation {
        Operation::Prepare => prepare_domain(engine, domain, input, err),
        Operation::Release => release_domain(engine, domain, err),
    }
}

fn prepare_domain(
    engine: &Engine,
    domain: &str,
    input: &mut dyn Read,
    err: &mut dyn Write,
) -> Result<()> {
    let xml = read_bounded(input, "standard input")?;
    let doc = domain_hostdevs(&xml).context("the domain XML on standard input is not usable")?;
    let targets: Vec<Target> = domain::plan(&doc, Hostdevs::UnmanagedOnly)?
        .into_iter()
        .map(|step| Target {
            address: step.address,
            driver: step.driver,
            whole_group: step.whole_group,
        })
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    // One operation: every device is checked before the first write, the records
    // say whose they are from the first write on, and one failure gives back what
    // this run moved.
    let opts = DetachOptions {
        owner: Some(owner(domain)),
        ..DetachOptions::default()
    };
    let outcomes = engine.detach_all(&targets, &opts).map_err(|e| match &e {
        // "<member>: <why>; devices already moved were given back: …"
        OpError::Member { .. } => anyhow::anyhow!("{domain}: cannot detach {e}"),
        _ => anyhow::anyhow!("{domain}: cannot detach {}: {e}", targets[0].address),
    })?;
    for o in outcomes {
        for w in &o.warnings {
            writeln!(err, "nodedev hook: {domain}: warning: {w}")?;
        }
        if o.unchanged {
            continue; // already detached by someone else: not ours to give back
        }
        writeln!(
            err,
            "nodedev hook: {domain}: detached {} ({} -> {})",
            o.address,
            o.driver_before.as_deref().unwrap_or("no driver"),
            o.driver_after.as_deref().unwrap_or("no driver")
        )?;
    }
    Ok(())
}

/// Reattaches every device whose record says this domain's hook detached it
/// (including one whose detach was interrupted).
fn release_domain(engine: &Engine, domain: &str, err: &mut dyn Write) -> Result<()> {
    let mut failed = Vec::new();
    for (a, result) in engine.reattach_owned(&owner(domain), &ReattachOptions::default())? {
        match result {
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
    crate::files::install_script(&path, &script)?;
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
