//! `nodedev boot`: what the package's systemd unit runs before `basic.target`
//! (the boot pass), and `nodedev boot --udev BDF`, what its udev rule asks
//! (see `hostdev_manager::boot` and docs/persistence.md).
//!
//! Under systemd (`JOURNAL_STREAM` set) every line carries a syslog priority
//! prefix (`<4>` for a warning), so `journalctl -p warning -u nodedev-shim`
//! shows exactly the warnings and errors.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use hostdev_manager::boot::{self, BootPaths, BootResult, UdevDecision};
use hostdev_manager::persist::{ConfigDir, UnusableFile};
use pci_types::PciAddress;

use crate::app::Backend;
use crate::cli::BootArgs;
use crate::output::{escape_controls, ReportedFailure};

/// How a line is logged.
#[derive(Clone, Copy)]
enum Level {
    Info,
    Warning,
    Error,
}

struct Log<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    journal: bool,
}

impl Log<'_> {
    fn line(&mut self, level: Level, text: &str) -> std::io::Result<()> {
        let (prefix, word) = match level {
            Level::Info => ("<6>", ""),
            Level::Warning => ("<4>", "warning: "),
            Level::Error => ("<3>", "error: "),
        };
        let prefix = if self.journal { prefix } else { "" };
        let stream: &mut dyn Write = match level {
            Level::Info => self.out,
            _ => self.err,
        };
        writeln!(stream, "{prefix}{word}{text}")
    }

    /// The files refused, each named, as errors.
    fn unusable(&mut self, files: &[UnusableFile]) -> std::io::Result<()> {
        for u in files {
            self.line(
                Level::Error,
                &format!(
                    "persistent assignment {} is unusable: {}; nothing done for it",
                    u.path.display(),
                    escape_controls(&u.reason)
                ),
            )?;
        }
        Ok(())
    }
}

/// `nodedev boot [--udev BDF]`.
pub fn run(
    backend: &Backend,
    args: &BootArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let config = ConfigDir::new(&backend.config_dir);
    if let Some(bdf) = &args.udev {
        return udev(backend, &config, bdf, &args.kernel_log, out, err);
    }
    let mut log = Log {
        out,
        err,
        journal: std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    if args.early {
        return early(backend, &config, &mut log);
    }
    let engine = backend.engine()?;
    let paths = BootPaths {
        config,
        initramfs: boot::initramfs_copy(&args.initramfs_copy),
        dev_vfio: args.dev_vfio.clone(),
    };
    let report = boot::boot(&engine, &paths)?;
    for s in &report.stale {
        let a = &s.assignment;
        match &s.result {
            Ok(o) => log.line(
                Level::Warning,
                &format!(
                    "{}: the initramfs still assigns it to {}, {} no longer does: given back ({}); run update-initramfs -u",
                    a.address,
                    a.driver,
                    paths.config.path().display(),
                    o.driver_after.as_deref().map_or("no driver".to_string(), |d| format!("now on {d}"))
                ),
            )?,
            Err(e) => log.line(
                Level::Error,
                &format!(
                    "{}: the initramfs still assigns it to {}, {} no longer does; giving it back failed: {e}",
                    a.address,
                    a.driver,
                    paths.config.path().display()
                ),
            )?,
        }
    }
    log.unusable(&report.unusable)?;
    let (mut on_stub, mut left, mut failed) = (0, 0, 0);
    for item in &report.items {
        let a = &item.assignment;
        match &item.result {
            BootResult::OnStub(o) => {
                on_stub += 1;
                let how = if o.unchanged {
                    "already there".to_string()
                } else {
                    match &o.driver_before {
                        Some(d) => format!("moved from {d}, which had bound it first"),
                        None => "no driver had bound it".to_string(),
                    }
                };
                log.line(
                    Level::Info,
                    &format!(
                        "{}: on {} ({how})",
                        a.address,
                        o.driver_after.as_deref().unwrap_or("?")
                    ),
                )?;
                for w in &o.warnings {
                    log.line(Level::Warning, &w.to_string())?;
                }
            }
            BootResult::Absent => {
                left += 1;
                log.line(
                    Level::Warning,
                    &format!(
                        "{}: no device at this address (assigned to {} for {}): nothing done",
                        a.address, a.driver, a.identity
                    ),
                )?;
            }
            BootResult::DifferentDevice { assigned, found } => {
                left += 1;
                log.line(
                    Level::Warning,
                    &format!(
                        "{}: a different device is at this address ({found}; the assignment to {} is for {assigned}): not taken, left to its own driver (`nodedev persist remove {}` forgets the assignment)",
                        a.address, a.driver, a.address
                    ),
                )?;
            }
            BootResult::Failed(e) => {
                failed += 1;
                log.line(
                    Level::Error,
                    &format!("{}: could not put it on {}: {e}", a.address, a.driver),
                )?;
            }
        }
        match &item.owner {
            Some(Ok(node)) => log.line(
                Level::Info,
                &format!(
                    "{}: {} given to {}",
                    a.address,
                    node.display(),
                    a.owner
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
            )?,
            Some(Err(e)) => {
                log.line(Level::Error, &format!("{}: {e}", a.address))?;
            }
            None => {}
        }
    }
    log.line(
        Level::Info,
        &format!(
            "nodedev boot: {} assignment{}: {on_stub} on their stubs, {left} left alone, {failed} failed; {} file{} refused; {} given back from an out-of-date initramfs",
            report.items.len(),
            if report.items.len() == 1 { "" } else { "s" },
            report.unusable.len(),
            if report.unusable.len() == 1 { "" } else { "s" },
            report.stale.len()
        ),
    )?;
    if report.failed() {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

/// `nodedev boot --early`.
fn early(backend: &Backend, config: &ConfigDir, log: &mut Log<'_>) -> Result<()> {
    use boot::EarlyResult;
    anyhow::ensure!(
        backend.host.is_live(),
        "--root names a snapshot: boot needs a live kernel"
    );
    let report = boot::early(backend.host.sysfs(), config)?;
    log.unusable(&report.unusable)?;
    let mut failed = !report.unusable.is_empty();
    for (a, result) in &report.items {
        let (level, what) = match result {
            EarlyResult::Kept => (
                Level::Info,
                format!("driver_override set to {}", a.driver),
            ),
            EarlyResult::AlreadySet => (
                Level::Info,
                format!("driver_override already names {}", a.driver),
            ),
            EarlyResult::Bound(d) => (
                Level::Info,
                format!("{d} has it already: `nodedev boot` moves it to {}", a.driver),
            ),
            EarlyResult::NoOverride => (
                Level::Info,
                "no driver_override (Linux < 3.16): `nodedev boot` binds it".to_string(),
            ),
            EarlyResult::Absent => (
                Level::Warning,
                format!("no device at this address (assigned to {})", a.driver),
            ),
            EarlyResult::DifferentDevice { assigned, found } => (
                Level::Warning,
                format!(
                    "a different device is at this address ({found}; the assignment to {} is for {assigned}): not taken",
                    a.driver
                ),
            ),
            EarlyResult::Failed(e) => {
                failed = true;
                (
                    Level::Error,
                    format!("cannot write driver_override: {e}"),
                )
            }
        };
        log.line(level, &format!("{}: {what}", a.address))?;
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

/// The udev rule's helper: prints `NODEDEV_SHIM_DRIVER=DRIVER` for a device
/// to keep, nothing otherwise; writes nothing to sysfs. A refusal (another card,
/// a bad file) goes to the kernel log too, where it is seen even in the initramfs.
fn udev(
    backend: &Backend,
    config: &ConfigDir,
    bdf: &str,
    kernel_log: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let address: PciAddress = bdf.parse().map_err(|e| {
        anyhow::anyhow!("--udev '{}': not a PCI address: {e}", escape_controls(bdf))
    })?;
    match boot::udev_decision(backend.host.sysfs(), config, &address) {
        UdevDecision::Override(driver) => writeln!(out, "NODEDEV_SHIM_DRIVER={driver}")?,
        UdevDecision::Nothing => {}
        UdevDecision::Refuse(why) => {
            writeln!(err, "warning: {why}")?;
            to_kernel_log(kernel_log, &format!("nodedev-shim: {why}"));
        }
    }
    Ok(())
}

/// A warning line in the kernel log (`/dev/kmsg`, priority 4), best effort.
fn to_kernel_log(kmsg: &Path, text: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(kmsg) {
        // One write is one record; the kernel cuts records at about 1 KiB.
        let line: String = text.chars().filter(|c| !c.is_control()).take(900).collect();
        let _ = f.write_all(format!("<4>{line}\n").as_bytes());
    }
}
