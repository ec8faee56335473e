//! `nodedev reset`: the kernel's function reset, else libvirt's config-space sequence.

use std::io::Write;

use anyhow::Result;

use crate::app::Backend;
use crate::cli::{Cli, ResetArgs};
use crate::output::{failure_message, print_failure, ReportedFailure};

/// `nodedev reset`: one device after another (resets of functions on one bus must
/// not overlap), virsh's `Device X reset` or two `error:` lines each.
pub fn reset(
    cli: &Cli,
    backend: &Backend,
    args: &ResetArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    use hostdev_manager::reset::{ResetOptions, ResetOutcome};
    let engine = backend.engine()?;
    let sysfs = backend.host.sysfs();
    let mut failed = false;
    let mut json = Vec::new();
    let targets = crate::select::targets(
        sysfs,
        &args.devices,
        &args.select.ids,
        args.exact_name,
        "reset",
    )?;
    for (name, address) in targets {
        let name = &name;
        let result = (|| -> Result<serde_json::Value> {
            let address = address?;
            if args.list {
                let plan = engine.reset_plan(address)?;
                if !args.json {
                    writeln!(out, "{}:", address.nodedev_name())?;
                    writeln!(
                        out,
                        "  {:<14} {}",
                        "reset file:",
                        if plan.kernel_reset { "yes" } else { "no" }
                    )?;
                    // The kernel hides both files when it has no method for the
                    // device; `reset` without `reset_method` is a kernel < 5.15.
                    let methods = match (&plan.methods, plan.kernel_reset) {
                        (Some(m), _) => m.join(" "),
                        (None, true) => "(no reset_method: Linux < 5.15)".to_string(),
                        (None, false) => "(none)".to_string(),
                    };
                    writeln!(out, "  {:<14} {methods}", "reset_method:")?;
                    let offered = if plan.config_space.is_empty() {
                        "none".to_string()
                    } else {
                        plan.config_space.join(" ")
                    };
                    writeln!(out, "  {:<14} {offered}", "config space:")?;
                    writeln!(out, "  {:<14} {}", "would use:", plan.would_use)?;
                }
                return Ok(serde_json::to_value(plan)?);
            }
            let outcome = engine.reset(
                address,
                &ResetOptions {
                    method: args.method.clone(),
                    force: args.force,
                    config_space: args.config_space,
                },
            )?;
            // virsh prints nothing here: libvirt skips such a device silently.
            if let (ResetOutcome::SkippedVfio { driver }, false) = (&outcome, args.virsh_output) {
                writeln!(err, "note: {address} is bound to {driver}, which resets it itself: nothing done (--force resets it anyway)")?;
            }
            if !args.json && !cli.quiet {
                writeln!(out, "Device {name} reset")?;
            }
            Ok(serde_json::to_value(outcome)?)
        })();
        match result {
            Ok(v) => json.push(serde_json::json!({ "device": name, "ok": true, "result": v })),
            Err(e) => {
                failed = true;
                json.push(serde_json::json!({ "device": name, "ok": false, "error": failure_message(&e) }));
                if !args.json {
                    print_failure(err, "reset", name, &e)?;
                }
            }
        }
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &json)?;
        out.write_all(b"\n")?;
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}
