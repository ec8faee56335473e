//! `nodedev preflight DEV…`: the engine's own detach checks and plan, run dry
//! (`Engine::preflight`), shown with what a person checks before passing a
//! device through; one verdict line per device, exit status 1 if any is
//! blocked. Nothing is written, so it also runs on a `--root` snapshot.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use hostdev_manager::ops::{DetachOptions, Engine, PreflightReport, Standing, TargetDriver};
use hostdev_manager::pci_ids::PciIds;
use hostdev_manager::state::StateDir;
use hostdev_manager::stub::{stub_kind, DriverRequest, StubKind};
use hostdev_manager::{iommu, Sysfs};
use pci_types::PciAddress;

use crate::app::Backend;
use crate::batch::print_plan;
use crate::cli::{Cli, PreflightArgs};
use crate::groups::{load_ids, Function};
use crate::output::{failure_message, print_failure, ReportedFailure};

/// The engine a preflight runs: over the live kernel with its records, or over a
/// snapshot with an empty private state directory (the records of the machine
/// running the command say nothing about the snapshot's). The engine's
/// preflight writes nothing either way; `Backend::engine` still refuses a
/// snapshot for the commands that write.
fn engine(backend: &Backend) -> Result<(Engine, Option<tempfile::TempDir>)> {
    if backend.host.is_live() {
        return Ok((backend.state_engine(), None));
    }
    let empty = tempfile::Builder::new()
        .prefix("nodedev-preflight.")
        .tempdir()?;
    let engine = Engine::new(
        backend.host.sysfs_arc(),
        Arc::clone(&backend.modules),
        StateDir::new(empty.path().join("state")),
    );
    Ok((engine, Some(empty)))
}

/// The verdict line, with the caveat of a tree without `/proc`.
fn summary(r: &PreflightReport) -> String {
    let on_host_driver = r
        .driver
        .as_deref()
        .is_some_and(|d| stub_kind(d) == StubKind::Other);
    let caveat = !r.verdict.is_blocked() && !r.host_use_checked && on_host_driver;
    format!(
        "{}{}",
        r.verdict,
        if caveat {
            " (host use not checked: no /proc in this tree)"
        } else {
            ""
        }
    )
}

/// A member's part in the detach.
fn role(r: &PreflightReport, address: PciAddress, standing: Standing) -> &'static str {
    if address == r.address {
        return "this device";
    }
    match standing {
        Standing::Exempt => "exempt (bridge)",
        Standing::Blocks => "must come along: its driver does DMA for the host",
        Standing::Fine => "does not block the group",
    }
}

fn target_line(t: &TargetDriver) -> String {
    format!(
        "{}{}: {}",
        t.name,
        if t.variant {
            " (VFIO variant driver from modules.alias)"
        } else {
            ""
        },
        t.status
    )
}

fn print_report(
    sysfs: &dyn Sysfs,
    r: &PreflightReport,
    ids: Option<&PciIds>,
    out: &mut dyn Write,
) -> Result<()> {
    let field = |out: &mut dyn Write, name: &str, value: &str| -> Result<()> {
        writeln!(out, "  {:<10} {value}", format!("{name}:"))?;
        Ok(())
    };
    writeln!(out, "{}: {}", r.address.nodedev_name(), summary(r))?;
    let text = Function::read(sysfs, &r.address).describe(ids);
    field(out, "device", &format!("{} {text}", r.address.short_name()))?;
    field(out, "driver", r.driver.as_deref().unwrap_or("no driver"))?;
    field(out, "IOMMU", &r.iommu.summary())?;
    if let Some(cmdline) = r.iommu.cmdline.as_ref().filter(|c| !c.is_empty()) {
        field(out, "cmdline", &cmdline.join(" "))?;
    }
    if let Some(g) = &r.group {
        let domain = g
            .domain_type
            .as_deref()
            .map(iommu::describe_domain)
            .unwrap_or_default();
        let heading = format!("  {:<10} {domain}", format!("group {}:", g.number));
        writeln!(out, "{}", heading.trim_end())?;
        let driver = |d: &Option<String>| d.clone().unwrap_or_else(|| "no driver".into());
        let width = g.members.iter().map(|m| driver(&m.driver).len()).max();
        for m in &g.members {
            writeln!(
                out,
                "    {} {:<width$}  {}",
                m.address.short_name(),
                driver(&m.driver),
                role(r, m.address, m.standing),
                width = width.unwrap_or(0)
            )?;
        }
    }
    field(out, "stub", &target_line(&r.target))?;
    let host_use = if !r.host_use_checked {
        "not checked: this tree has no /proc (a snapshot), so mounts, swap and routes are unknown"
    } else if r
        .blockers
        .iter()
        .any(|b| b.device == r.address && b.reason.contains("in use by the host"))
    {
        "in use (see blocked)"
    } else {
        "none found (mounts, swap, dm/md holders, routed interfaces)"
    };
    field(out, "host use", host_use)?;
    for h in &r.holders {
        field(
            out,
            "holder",
            &format!("{h}: the unbind waits for it (--unbind-timeout)"),
        )?;
    }
    if let Some(reset) = &r.reset {
        field(out, "reset", &reset.would_use)?;
    }
    if let Some(total) = r.sriov.total_vfs {
        field(
            out,
            "SR-IOV",
            &format!(
                "physical function, {} of {total} VFs enabled",
                r.sriov.num_vfs
            ),
        )?;
    }
    if let Some(pf) = r.sriov.physfn {
        field(
            out,
            "SR-IOV",
            &format!(
                "virtual function of {} ({})",
                pf.short_name(),
                r.sriov.physfn_driver.as_deref().unwrap_or("no driver")
            ),
        )?;
    }
    for b in &r.blockers {
        let note = if b.forceable {
            " (detach --force would go ahead anyway)"
        } else {
            ""
        };
        field(out, "blocked", &format!("{}{note}", b.reason))?;
    }
    for w in &r.warnings {
        field(out, "warning", &w.to_string())?;
    }
    print_plan(out, "detach", &r.plan)?;
    Ok(())
}

/// `nodedev preflight DEV… [--driver D] [--json]`.
pub fn preflight(
    cli: &Cli,
    backend: &Backend,
    args: &PreflightArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let sysfs = backend.host.sysfs();
    let driver = DriverRequest::parse(args.driver.as_deref())?;
    let opts = DetachOptions {
        driver,
        ..DetachOptions::default()
    };
    let ids = load_ids(cli)?;
    let (engine, _empty_state) = engine(backend)?;
    let mut failed = false;
    let mut json = Vec::new();
    let targets = crate::select::targets(sysfs, &args.devices, &args.select.ids, false, "check")?;
    for (i, (name, address)) in targets.into_iter().enumerate() {
        let report = address.and_then(|a| engine.preflight(a, &opts).map_err(anyhow::Error::from));
        match report {
            Ok(r) => {
                failed |= r.verdict.is_blocked();
                if args.json {
                    let mut v = serde_json::to_value(&r)?;
                    v["device"] = name.as_str().into();
                    v["name"] = r.address.nodedev_name().into();
                    v["description"] = Function::read(sysfs, &r.address)
                        .describe(ids.as_ref())
                        .into();
                    v["ready"] = (!r.verdict.is_blocked()).into();
                    v["summary"] = summary(&r).into();
                    json.push(v);
                } else {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    print_report(sysfs, &r, ids.as_ref(), out)?;
                }
            }
            Err(e) => {
                failed = true;
                if args.json {
                    json.push(serde_json::json!({
                        "device": name,
                        "ready": false,
                        "error": failure_message(&e),
                    }));
                } else {
                    print_failure(err, "check", &name, &e)?;
                }
            }
        }
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}
