//! The read-only commands: list, dumpxml, info and xml normalize (snapshot: `files`). Each
//! reads through the engine and prints what virsh prints.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use hostdev_manager::nodes::{self, Detail, Kind};
use hostdev_manager::stub::{self, StubKind};
use hostdev_manager::{device, system, Sysfs, COMPUTER};
use pci_types::PciAddress;

use crate::app::Backend;
use crate::cli::{Cli, DumpxmlArgs, InfoArgs, ListArgs};
use crate::input::{input_name, read_xml};
use crate::lookup::{self, find_named, virsh_name_order, Found};
use crate::output::{not_found, virsh_error};
use crate::render::{self, Names};
use crate::tree;

/// One row of the device list.
#[derive(serde::Serialize)]
struct Row {
    name: String,
    parent: Option<String>,
    capabilities: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<PciAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<String>,
}

/// Every node device, sorted as virsh sorts (case-insensitively). Capabilities
/// beyond the main one of a PCI function are looked up only when `full` (they
/// cost file reads).
fn rows(sysfs: &dyn Sysfs, full: bool) -> Result<Vec<Row>> {
    let detail = if full { Detail::Full } else { Detail::Names };
    let all = nodes::enumerate(sysfs, detail)?;
    let mut out = vec![Row {
        name: COMPUTER.to_string(),
        parent: None,
        capabilities: vec!["system"],
        address: None,
        driver: None,
    }];
    for n in all.nodes {
        out.push(Row {
            capabilities: n.capabilities(),
            address: match n.kind {
                Kind::Pci { address, .. } => Some(address),
                _ => None,
            },
            driver: n.driver,
            parent: Some(n.parent),
            name: n.name,
        });
    }
    out.sort_by(|a, b| virsh_name_order(&a.name, &b.name));
    Ok(out)
}

pub fn list(sysfs: &dyn Sysfs, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let wanted: Option<Vec<&str>> = match &args.cap {
        None => None,
        Some(caps) => {
            let caps: Vec<&str> = caps.split(',').collect();
            if caps.iter().any(|c| !nodes::CAPABILITY_NAMES.contains(c)) {
                return Err(virsh_error(&["Invalid capability type".to_string()]));
            }
            Some(caps)
        }
    };
    let needs_full = args.json
        || wanted
            .as_ref()
            .is_some_and(|w| w.iter().any(|c| *c == "mdev_types" || *c == "vpd"));
    let mut rows = rows(sysfs, needs_full)?;
    if args.inactive_only {
        rows.clear();
    }
    if let Some(wanted) = &wanted {
        rows.retain(|n| n.capabilities.iter().any(|c| wanted.contains(c)));
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    if args.tree {
        let names: Vec<String> = rows.iter().map(|n| n.name.clone()).collect();
        let parents: Vec<Option<String>> = rows.iter().map(|n| n.parent.clone()).collect();
        out.write_all(tree::draw(&names, &parents).as_bytes())?;
        return Ok(());
    }
    // One write, not one per line (standard output is line-buffered).
    let mut text = String::new();
    for n in &rows {
        text.push_str(&n.name);
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

pub fn dumpxml(
    sysfs: &dyn Sysfs,
    cli: &Cli,
    args: &DumpxmlArgs,
    out: &mut dyn Write,
) -> Result<()> {
    let names = Names::load(lookup::pci_ids_path(cli.pci_ids.as_deref()).as_deref())?;
    if args.all {
        let inventory = hostdev_manager::Inventory::read(sysfs)?;
        for (i, (_, xml)) in render::inventory_xml(&inventory, &names).iter().enumerate() {
            if i > 0 {
                out.write_all(b"\n")?;
            }
            out.write_all(xml.as_bytes())?;
        }
        return Ok(());
    }
    let name = args.device.as_deref().unwrap_or_default();
    let found = find_named(sysfs, name, args.exact_name)?.ok_or_else(|| not_found(name))?;
    out.write_all(render::device_xml(sysfs, &found, &names)?.as_bytes())?;
    Ok(())
}

pub fn info(sysfs: &dyn Sysfs, args: &InfoArgs, out: &mut dyn Write) -> Result<()> {
    let found =
        find_named(sysfs, &args.device, args.exact_name)?.ok_or_else(|| not_found(&args.device))?;
    let known = lookup::pci_set(sysfs)?;
    let is_pci = |a: &PciAddress| known.contains(a);
    // The fictional computer is active, persistent and autostarted; udev devices
    // are active and neither persistent nor autostarted.
    let (name, parent, persistent, autostart) = match &found {
        Found::Computer => (COMPUTER.to_string(), String::new(), "yes", "yes"),
        Found::Pci(a) => {
            let path = device::sysfs_path(sysfs, a)?;
            let parent = device::pci_parent_of(&path, &is_pci)
                .map_or_else(|| COMPUTER.to_string(), |p| p.nodedev_name());
            (a.nodedev_name(), parent, "no", "no")
        }
        Found::Device(n) => (n.name.clone(), n.parent.clone(), "no", "no"),
    };
    if args.json {
        let (details, udev_entry) = match &found {
            Found::Computer => (serde_json::to_value(system::read_system(sysfs))?, None),
            Found::Pci(a) => (
                serde_json::to_value(device::read_device(sysfs, a, &is_pci)?)?,
                None,
            ),
            Found::Device(n) => (serde_json::to_value(n)?, n.udev.clone()),
        };
        let mut doc = serde_json::json!({
            "name": name,
            "parent": if parent.is_empty() { None } else { Some(&parent) },
            "active": true,
            "persistent": persistent == "yes",
            "autostart": autostart == "yes",
            "details": details,
            "udev": udev_report(sysfs, udev_entry, matches!(found, Found::Computer))?,
        });
        if doc["udev"].is_null() {
            doc.as_object_mut().map(|o| o.remove("udev"));
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    writeln!(out, "{:<15} {}", "Name:", name)?;
    writeln!(out, "{:<15} {}", "Parent:", parent)?;
    writeln!(out, "{:<15} yes", "Active:")?;
    writeln!(out, "{:<15} {}", "Persistent:", persistent)?;
    writeln!(out, "{:<15} {}", "Autostart:", autostart)?;
    Ok(())
}

/// What `info --json` says about the udev database: whether the tree has one
/// (without it libvirt — and this tool — list no USB devices and no `sd*`/`sr*`
/// disks), the device's own entry, and for `computer` every device of a listed
/// class that is not listed, with the reason.
fn udev_report(
    sysfs: &dyn Sysfs,
    entry: Option<hostdev_manager::udev::DbEntry>,
    computer: bool,
) -> Result<serde_json::Value> {
    let database = hostdev_manager::udev::database_state(sysfs);
    let mut v = serde_json::json!({
        "database": database,
        "database_path": hostdev_manager::udev::UDEV_DATA,
    });
    if database == hostdev_manager::udev::DatabaseState::Absent {
        v["note"] = serde_json::json!(
            "no udev database (no udevd): as libvirt, no USB device is listed (their ids come \
             from udev), nor any disk but /dev/vd*, /dev/nvme* and /dev/dasd* ones (the drive \
             type comes from udev), and no device has links"
        );
    }
    if let Some(e) = entry {
        v["entry"] = serde_json::to_value(e)?;
    }
    if computer {
        let all = nodes::enumerate(sysfs, Detail::Names)?;
        v["not_listed"] = serde_json::to_value(&all.dropped)?;
    }
    Ok(v)
}

pub fn xml_normalize(file: &Path, stdin: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
    let text = read_xml(file, stdin)?;
    let xml = nodedev_xml::normalize(&text)
        .with_context(|| format!("{}: invalid node-device XML", input_name(file)))?;
    out.write_all(xml.as_bytes())?;
    Ok(())
}

/// `list --detached`: the records. On a live kernel, operations whose process
/// was killed are undone first (said on stderr); operations still running, and any
/// that cannot be undone, are listed as unfinished. In text, the devices on a stub
/// driver that no record explains follow (see [`unrecorded_on_stub`]).
pub fn list_detached(
    backend: &Backend,
    args: &ListArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let engine = backend.state_engine();
    if backend.host.is_live() {
        for (address, result) in engine.recover_interrupted() {
            match result {
                Ok(warnings) => {
                    for w in warnings {
                        writeln!(err, "warning: {w}")?;
                    }
                }
                Err(e) => writeln!(
                    err,
                    "warning: {address}: an interrupted operation could not be undone: {e}"
                )?,
            }
        }
    }
    let listing = engine
        .records()
        .with_context(|| format!("failed to read {}", backend.state_dir.display()))?;
    for u in &listing.unusable {
        writeln!(
            err,
            "warning: skipped record {}: {}",
            u.path.display(),
            u.reason
        )?;
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &listing.records)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    for r in &listing.records {
        write!(
            out,
            "{}  {} -> {} ({})",
            r.address.nodedev_name(),
            r.original_driver.as_ref().map_or("(none)", |d| d.as_str()),
            r.stub,
            r.method
        )?;
        if !r.phase.is_settled() {
            write!(out, "  unfinished: {}", r.phase)?;
        }
        if let Some(owner) = &r.owner {
            write!(out, "  [{owner}]")?;
        }
        writeln!(out)?;
    }
    let recorded: Vec<PciAddress> = listing.records.iter().map(|r| r.address).collect();
    for (address, stub) in unrecorded_on_stub(backend.host.sysfs(), &recorded) {
        writeln!(
            out,
            "{}  (unknown) -> {stub} (no record: not detached by nodedev; give it back with the tool that detached it)",
            address.nodedev_name()
        )?;
    }
    Ok(())
}

/// Devices bound to a stub driver (pciback, vfio-pci or a variant, pci-stub) with
/// no record of ours: another tool put them there (`xl pci-assignable-add`,
/// libvirt, driverctl, a person). We do not know their original driver, and the
/// other tool may hold state we cannot undo (xl keeps the original driver in
/// xenstore and quarantines the device in Xen), so they are shown apart.
fn unrecorded_on_stub(sysfs: &dyn Sysfs, recorded: &[PciAddress]) -> Vec<(PciAddress, String)> {
    device::list_addresses(sysfs)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !recorded.contains(a))
        .filter_map(|a| {
            let driver = device::current_driver(sysfs, &a)?;
            (stub::stub_kind(&driver) != StubKind::Other).then_some((a, driver))
        })
        .collect()
}
