//! The libvirt backend (`--connect URI`; cargo feature `libvirt`): list, dumpxml,
//! info, detach, reattach and reset sent through libvirt's API with the `virt`
//! crate (libvirt's Rust bindings), printed as virsh prints them: virsh's own lines
//! (`Could not find matching device 'X'`, `Failed to detach device X`, `Device X
//! detached`) and libvirt's message as the `error:` line after them.
//!
//! Nothing here runs without `--connect` (or virsh mode's `-c` or
//! `LIBVIRT_DEFAULT_URI`), and `app` refuses it inside the hook before this module
//! is reached.

use std::io::Write;

use anyhow::Result;
use virt::connect::Connect;
use virt::nodedev::NodeDevice;

use crate::cli::{Cli, ListArgs};
use crate::output::{escape_controls, virsh_error, ReportedFailure, VirshError};

/// `VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE`, `…_INACTIVE` (libvirt ≥ 7.3; 9.0
/// refuses `…_PERSISTENT` and `…_TRANSIENT`).
pub(crate) const LIST_ACTIVE: u32 = 1 << 31;
const LIST_INACTIVE: u32 = 1 << 30;

/// An open connection to libvirt.
pub struct Libvirt {
    conn: Connect,
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        let _ = self.conn.close();
    }
}

/// libvirt's message for a failed call (what virsh prints as its last `error:` line).
pub(crate) fn message(e: &virt::error::Error) -> String {
    e.message().to_string()
}

impl Libvirt {
    /// Connects read-write, as virsh does, and keeps libvirt from printing its own
    /// error lines on stderr (virsh installs its own handler too).
    /// `None` is libvirt's default (`LIBVIRT_DEFAULT_URI`, its configuration, or
    /// the first driver that answers), as for virsh without `-c`.
    pub fn open(uri: Option<&str>) -> Result<Self> {
        virt::error::clear_error_callback();
        match Connect::open(uri) {
            Ok(conn) => Ok(Self { conn }),
            // virsh connects before running the command: no blank line follows.
            Err(e) => Err(VirshError::before_command(vec![
                "failed to connect to the hypervisor".to_string(),
                message(&e),
            ])
            .into()),
        }
    }

    /// The connection itself.
    pub(crate) fn connection(&self) -> &Connect {
        &self.conn
    }

    /// A device by its exact node-device name, or virsh's two lines.
    pub fn lookup(&self, name: &str) -> Result<NodeDevice> {
        NodeDevice::lookup_by_name(&self.conn, name).map_err(|e| {
            virsh_error(&[
                format!("Could not find matching device '{}'", escape_controls(name)),
                message(&e),
            ])
        })
    }

    /// The names of the devices libvirt lists with these `virConnectListAllNodeDevices`
    /// flags, in virsh's order, each with its parent (none for `computer`).
    pub fn names(&self, flags: u32) -> Result<Vec<(String, Option<String>)>> {
        let devices = self
            .conn
            .list_all_node_devices(flags)
            .map_err(|e| virsh_error(&["Failed to list node devices".to_string(), message(&e)]))?;
        let mut rows = Vec::with_capacity(devices.len());
        for d in &devices {
            let name = d.get_name().map_err(|e| virsh_error(&[message(&e)]))?;
            let parent = if name == hostdev_manager::COMPUTER {
                None
            } else {
                d.get_parent().ok()
            };
            rows.push((name, parent));
        }
        rows.sort_by(|a, b| crate::lookup::virsh_name_order(&a.0, &b.0));
        Ok(rows)
    }

    /// A device's XML as libvirt writes it.
    pub fn xml(&self, name: &str) -> Result<String> {
        let dev = self.lookup(name)?;
        dev.get_xml_desc(0).map_err(|e| virsh_error(&[message(&e)]))
    }
}

/// The `--cap` names as `virConnectListAllNodeDevices` flags (the bits follow the
/// order of `nodes::CAPABILITY_NAMES`, virsh 9.0's names); virsh's message for an
/// unknown name.
fn cap_flags(caps: &str) -> Result<u32> {
    let mut flags = 0;
    for cap in caps.split(',') {
        let bit = hostdev_manager::nodes::CAPABILITY_NAMES
            .iter()
            .position(|c| *c == cap)
            .ok_or_else(|| virsh_error(&["Invalid capability type".to_string()]))?;
        flags |= 1u32 << bit;
    }
    Ok(flags)
}

/// `list` through libvirt.
pub fn list(lv: &Libvirt, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    anyhow::ensure!(
        !args.json && !args.detached,
        "--connect: list --json and list --detached read this tool's own view; leave out --connect"
    );
    let mut flags = if args.inactive_only {
        LIST_INACTIVE
    } else {
        LIST_ACTIVE
    };
    if let Some(caps) = &args.cap {
        flags |= cap_flags(caps)?;
    }
    let rows = lv.names(flags)?;
    if args.tree {
        let (names, parents): (Vec<String>, Vec<Option<String>>) = rows.into_iter().unzip();
        out.write_all(crate::tree::draw(&names, &parents).as_bytes())?;
    } else {
        for (name, _) in rows {
            writeln!(out, "{name}")?;
        }
    }
    Ok(())
}

/// `dumpxml DEV` through libvirt.
pub fn dumpxml(lv: &Libvirt, name: &str, out: &mut dyn Write) -> Result<()> {
    out.write_all(lv.xml(name)?.as_bytes())?;
    Ok(())
}

/// `info DEV` through libvirt: virsh's five lines, from the calls virsh makes
/// (`virNodeDeviceIsActive`, `IsPersistent`, `GetAutostart`; the `virt` crate
/// declares them without wrapping them: [`crate::libvirt_sys`]). As virsh does, a
/// failed active or persistent call prints `yes` (virsh tests the call's -1 as
/// true) and a failed autostart call `no autostart`.
pub fn info(lv: &Libvirt, name: &str, out: &mut dyn Write) -> Result<()> {
    use crate::libvirt_sys::{autostart, is_active, is_persistent};
    let dev = lv.lookup(name)?;
    let name = dev.get_name().map_err(|e| virsh_error(&[message(&e)]))?;
    let parent = dev.get_parent().unwrap_or_default();
    let yes = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "{:<15} {}", "Name:", name)?;
    writeln!(out, "{:<15} {}", "Parent:", parent)?;
    writeln!(
        out,
        "{:<15} {}",
        "Active:",
        yes(is_active(&dev).unwrap_or(true))
    )?;
    writeln!(
        out,
        "{:<15} {}",
        "Persistent:",
        yes(is_persistent(&dev).unwrap_or(true))
    )?;
    match autostart(&dev) {
        Ok(a) => writeln!(out, "{:<15} {}", "Autostart:", yes(a))?,
        Err(_) => writeln!(out, "{:<15} no autostart", "Autostart:")?,
    }
    Ok(())
}

/// What a device operation asks libvirt for.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    /// `virNodeDeviceDetachFlags` with this driver, or `virNodeDeviceDettach`.
    Detach(Option<&'a str>),
    /// `virNodeDeviceReAttach`.
    Reattach,
    /// `virNodeDeviceReset`.
    Reset,
}

/// detach, reattach or reset of each named device, one after another, as virsh
/// does them one at a time: `Device X detached` (unless `-q`), or virsh's
/// `error:` lines; exit status 1 if any failed.
pub fn operate(
    cli: &Cli,
    lv: &Libvirt,
    names: &[String],
    op: Operation<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let (verb, done) = match op {
        Operation::Detach(_) => ("detach", "detached"),
        Operation::Reattach => ("re-attach", "re-attached"),
        Operation::Reset => ("reset", "reset"),
    };
    let mut failed = false;
    for name in names {
        let dev = match lv.lookup(name) {
            Ok(d) => d,
            Err(e) => {
                crate::output::report(&e, err);
                failed = true;
                continue;
            }
        };
        let result = match op {
            Operation::Detach(Some(driver)) => dev.detach_flags(Some(driver), 0),
            Operation::Detach(None) => dev.detach(),
            Operation::Reattach => dev.reattach(),
            Operation::Reset => dev.reset(),
        };
        match result {
            Ok(_) if !cli.quiet => writeln!(out, "Device {name} {done}")?,
            Ok(_) => {}
            Err(e) => {
                failed = true;
                writeln!(
                    err,
                    "error: Failed to {verb} device {}",
                    escape_controls(name)
                )?;
                writeln!(err, "error: {}", message(&e))?;
            }
        }
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_names_are_libvirts_bits() {
        assert_eq!(cap_flags("system").unwrap(), 1);
        assert_eq!(cap_flags("pci,net").unwrap(), 2 | 16);
        assert_eq!(cap_flags("vpd").unwrap(), 1 << 21);
        assert!(cap_flags("pci,nope").is_err());
    }
}
