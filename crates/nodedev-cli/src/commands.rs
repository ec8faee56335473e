//! The commands: each reads through the engine and prints what virsh prints.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hostdev_manager::modules::{Modprobe, ModuleLoader};
use hostdev_manager::ops::{
    DetachOptions, Engine, MethodChoice, OpError, Outcome, ReattachOptions,
};
use hostdev_manager::state::StateDir;
use hostdev_manager::stub::DriverRequest;
use hostdev_manager::{device, net, system, Sysfs, COMPUTER};
use pci_types::PciAddress;

use crate::cli::{
    Cli, Command, DetachArgs, DumpxmlArgs, HookCommand, InfoArgs, ListArgs, Method, ReattachArgs,
    ResetArgs, SnapshotArgs, XmlCommand,
};
use crate::lookup::{self, Found, Host};
use crate::render::{self, Names};
use crate::tree;

/// Largest XML document accepted on input.
const MAX_XML_INPUT: u64 = 16 * 1024 * 1024;

/// The capability names virsh accepts for `--cap` (virNodeDevCapType).
const VALID_CAPS: &[&str] = &[
    "system",
    "pci",
    "usb_device",
    "usb",
    "net",
    "scsi_host",
    "scsi_target",
    "scsi",
    "storage",
    "fc_host",
    "vports",
    "scsi_generic",
    "drm",
    "mdev_types",
    "mdev",
    "ccw",
    "css",
    "vdpa",
    "ap_card",
    "ap_queue",
    "ap_matrix",
    "vpd",
    "ccwgroup",
    "ccwgroup_member",
];

/// An error virsh reports as one `error:` line per entry.
#[derive(Debug)]
pub struct VirshError {
    lines: Vec<String>,
}

impl fmt::Display for VirshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for VirshError {}

fn virsh_error(lines: &[String]) -> anyhow::Error {
    VirshError {
        lines: lines.to_vec(),
    }
    .into()
}

/// Shows a name as typed, but with control characters escaped.
fn shown(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn not_found(name: &str) -> anyhow::Error {
    let name = shown(name);
    virsh_error(&[
        format!("Could not find matching device '{name}'"),
        format!("Node device not found: no node device with matching name '{name}'"),
    ])
}

/// A failed device's message: an engine error as it reads (its errno is already
/// in the text), anything else with its causes.
fn failure_message(e: &anyhow::Error) -> String {
    match e.downcast_ref::<OpError>() {
        Some(op) => op.to_string(),
        None => format!("{e:#}"),
    }
}

/// Prints one device's failure as virsh does: a lookup failure's own lines, else
/// `Failed to <verb> device X` and the message.
fn print_failure(
    err: &mut dyn Write,
    verb: &str,
    name: &str,
    e: &anyhow::Error,
) -> std::io::Result<()> {
    match e.downcast_ref::<VirshError>() {
        Some(v) => {
            for line in &v.lines {
                writeln!(err, "error: {line}")?;
            }
        }
        None => {
            writeln!(err, "error: Failed to {verb} device {}", shown(name))?;
            writeln!(err, "error: {}", failure_message(e))?;
        }
    }
    Ok(())
}

/// Prints a failure the way virsh does: one `error:` line per message line.
pub fn report(e: &anyhow::Error, err: &mut dyn Write) {
    if let Some(v) = e.downcast_ref::<VirshError>() {
        for line in &v.lines {
            let _ = writeln!(err, "error: {line}");
        }
    } else {
        let _ = writeln!(err, "error: {e:#}");
    }
}

/// A failure whose messages were already printed (a batch with failed devices).
#[derive(Debug)]
pub struct ReportedFailure;

impl fmt::Display for ReportedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one or more operations failed")
    }
}

impl std::error::Error for ReportedFailure {}

/// What the commands run against: the device tree, a module loader and the state
/// directory. `main` builds it from the command line; tests build it around the
/// simulated kernel.
pub struct Backend {
    /// The device tree.
    pub host: Host,
    /// Loads driver modules.
    pub modules: Arc<dyn ModuleLoader>,
    /// Records and locks.
    pub state_dir: PathBuf,
    /// How long an unbind may take.
    pub unbind_timeout: Duration,
}

impl Backend {
    /// The backend the command line asks for.
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        // xml normalize reads no device tree.
        let host = if matches!(cli.command, Command::Xml(_)) {
            Host::live(Arc::new(hostdev_manager::RealSysfs::system()))
        } else {
            Host::open(cli.root.as_deref())?
        };
        Ok(Self {
            host,
            modules: Arc::new(Modprobe),
            state_dir: cli.state_dir.clone(),
            unbind_timeout: Duration::from_secs(cli.unbind_timeout),
        })
    }

    fn engine(&self) -> Result<Engine> {
        anyhow::ensure!(
            self.host.is_live(),
            "--root names a snapshot: detach, reattach, reset and the hook need a live kernel"
        );
        Ok(Engine::new(
            self.host.sysfs_arc(),
            Arc::clone(&self.modules),
            StateDir::new(&self.state_dir),
        )
        .with_unbind_timeout(self.unbind_timeout))
    }
}

/// Runs one command, writing its output to `out` and its diagnostics to `err`;
/// standard input is the process's.
pub fn run(cli: &Cli, backend: &Backend, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    // Not locked here: xml normalize and --xml - take the lock themselves.
    run_with_input(cli, backend, &mut std::io::stdin(), out, err)
}

/// [`run`] with the given standard input (the hook reads the domain XML there).
pub fn run_with_input(
    cli: &Cli,
    backend: &Backend,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    if let Command::Xml(XmlCommand::Normalize { file }) = &cli.command {
        return xml_normalize(file, out);
    }
    if let Command::Hook(h) = &cli.command {
        return match h {
            HookCommand::Qemu {
                domain,
                operation,
                sub_operation,
                ..
            } => {
                // Only prepare and release need the engine (and a live kernel).
                if !matches!(
                    (operation.as_str(), sub_operation.as_str()),
                    ("prepare", "begin") | ("release", "end")
                ) {
                    return Ok(());
                }
                crate::hook::qemu(
                    &backend.engine()?,
                    domain,
                    operation,
                    sub_operation,
                    input,
                    err,
                )
            }
            HookCommand::Install { dir } => {
                let exe = std::env::current_exe().context("cannot find the nodedev binary")?;
                let path = crate::hook::install(dir, &exe)?;
                writeln!(
                    err,
                    "hook installed: {} (restart libvirtd to load it)",
                    path.display()
                )?;
                Ok(())
            }
            HookCommand::Uninstall { dir } => {
                let path = crate::hook::uninstall(dir)?;
                writeln!(err, "hook removed: {}", path.display())?;
                Ok(())
            }
        };
    }
    let sysfs = backend.host.sysfs();
    let result = match &cli.command {
        Command::List(args) if args.detached => list_detached(backend, args, out),
        Command::List(args) => list(sysfs, args, out),
        Command::Dumpxml(args) => dumpxml(sysfs, cli, args, out),
        Command::Info(args) => info(sysfs, args, out),
        Command::Detach(args) => batch(cli, backend, Op::Detach(args), out, err),
        Command::Reset(args) => reset(cli, backend, args, out, err),
        Command::Apply {
            action,
            domain,
            force,
        } => apply(backend, action, domain, *force, cli.quiet, out, err),
        Command::Reattach(args) => batch(cli, backend, Op::Reattach(args), out, err),
        Command::Snapshot(args) => return snapshot(sysfs, args, out),
        Command::Virsh { .. } => Err(anyhow::anyhow!("virsh mode is translated before run()")),
        Command::Xml(_) | Command::Hook(_) => unreachable!("handled above"),
    };
    // virsh prints a blank line after every command, failed ones too, unless -q.
    if !cli.quiet {
        out.write_all(b"\n")?;
    }
    result
}

/// One row of the device list.
#[derive(serde::Serialize)]
struct Node {
    name: String,
    parent: Option<String>,
    capabilities: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<PciAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    driver: Option<String>,
}

/// Every node device, sorted as virsh sorts (case-insensitively). Capabilities
/// beyond the main one are looked up only when `full` (they cost file reads).
fn nodes(sysfs: &dyn Sysfs, full: bool) -> Result<Vec<Node>> {
    let known = lookup::pci_set(sysfs)?;
    let is_pci = |a: &PciAddress| known.contains(a);
    let mut out = vec![Node {
        name: COMPUTER.to_string(),
        parent: None,
        capabilities: vec!["system"],
        address: None,
        driver: None,
    }];
    for address in &known {
        let path = device::sysfs_path(sysfs, address)?;
        let mut capabilities = vec!["pci"];
        let mut driver = None;
        if full {
            let dev = device::read_device(sysfs, address, &is_pci)?;
            if !dev.mdev_types.is_empty() {
                capabilities.push("mdev_types");
            }
            if dev.vpd.is_some() {
                capabilities.push("vpd");
            }
            driver = dev.driver;
        }
        out.push(Node {
            name: address.nodedev_name(),
            parent: Some(
                device::pci_parent_of(&path, &is_pci)
                    .map_or_else(|| COMPUTER.to_string(), |p| p.nodedev_name()),
            ),
            capabilities,
            address: Some(*address),
            driver,
        });
    }
    for iface in net::list_interfaces(sysfs, &is_pci) {
        out.push(Node {
            name: iface.nodedev_name(),
            parent: Some(iface.parent_name()),
            capabilities: vec!["net"],
            address: None,
            driver: None,
        });
    }
    out.sort_by(|a, b| virsh_name_order(&a.name, &b.name));
    Ok(out)
}

/// virsh's order for device names: `strcasecmp`, i.e. ASCII case folded.
pub fn virsh_name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        .then_with(|| a.cmp(b))
}

fn list(sysfs: &dyn Sysfs, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let wanted: Option<Vec<&str>> = match &args.cap {
        None => None,
        Some(caps) => {
            let caps: Vec<&str> = caps.split(',').collect();
            if caps.iter().any(|c| !VALID_CAPS.contains(c)) {
                return Err(virsh_error(&["Invalid capability type".to_string()]));
            }
            Some(caps)
        }
    };
    let needs_full = args.json
        || wanted
            .as_ref()
            .is_some_and(|w| w.iter().any(|c| *c == "mdev_types" || *c == "vpd"));
    let mut rows = nodes(sysfs, needs_full)?;
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
    for n in &rows {
        writeln!(out, "{}", n.name)?;
    }
    Ok(())
}

fn dumpxml(sysfs: &dyn Sysfs, cli: &Cli, args: &DumpxmlArgs, out: &mut dyn Write) -> Result<()> {
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
    let found = find(sysfs, name, args.exact_name)?.ok_or_else(|| not_found(name))?;
    out.write_all(render::device_xml(sysfs, &found, &names)?.as_bytes())?;
    Ok(())
}

fn info(sysfs: &dyn Sysfs, args: &InfoArgs, out: &mut dyn Write) -> Result<()> {
    let found =
        find(sysfs, &args.device, args.exact_name)?.ok_or_else(|| not_found(&args.device))?;
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
        Found::Net(i) => (i.nodedev_name(), i.parent_name(), "no", "no"),
    };
    if args.json {
        let details = match &found {
            Found::Computer => serde_json::to_value(system::read_system(sysfs))?,
            Found::Pci(a) => serde_json::to_value(device::read_device(sysfs, a, &is_pci)?)?,
            Found::Net(i) => serde_json::to_value(i)?,
        };
        let doc = serde_json::json!({
            "name": name,
            "parent": if parent.is_empty() { None } else { Some(&parent) },
            "active": true,
            "persistent": persistent == "yes",
            "autostart": autostart == "yes",
            "details": details,
        });
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

fn snapshot(sysfs: &dyn Sysfs, args: &SnapshotArgs, out: &mut dyn Write) -> Result<()> {
    let snap = hostdev_manager::snapshot::Snapshot::collect(sysfs);
    if args.output == Path::new("-") {
        snap.write_tar(out)?;
        return Ok(());
    }
    let tmp = args.output.with_extension("tar.partial");
    let file = std::fs::File::create(&tmp)
        .with_context(|| format!("failed to create {}", tmp.display()))?;
    snap.write_tar(std::io::BufWriter::new(file))
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .and_then(|f| f.sync_all())
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.output).with_context(|| {
        format!(
            "failed to rename {} to {}",
            tmp.display(),
            args.output.display()
        )
    })?;
    eprintln!(
        "Snapshot of {} sysfs entries written to {}",
        snap.entries().len(),
        args.output.display()
    );
    Ok(())
}

fn xml_normalize(file: &Path, out: &mut dyn Write) -> Result<()> {
    let text = read_xml(file)?;
    let xml = nodedev_xml::normalize(&text)
        .with_context(|| format!("{}: invalid node-device XML", input_name(file)))?;
    out.write_all(xml.as_bytes())?;
    Ok(())
}

/// A detach or reattach request.
enum Op<'a> {
    Detach(&'a DetachArgs),
    Reattach(&'a ReattachArgs),
}

/// One device's result in a batch.
#[derive(serde::Serialize)]
struct BatchItem {
    device: String,
    ok: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outcomes: Vec<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Finds a device; with `exact`, only by its exact node-device name, as virsh's
/// `virNodeDeviceLookupByName` does (an address spelling is then not found).
fn find(sysfs: &dyn Sysfs, name: &str, exact: bool) -> Result<Option<Found>> {
    let found = lookup::find(sysfs, name)?;
    if !exact {
        return Ok(found);
    }
    Ok(found.filter(|f| match f {
        Found::Computer => name == COMPUTER,
        Found::Pci(a) => a.nodedev_name() == name,
        Found::Net(i) => i.nodedev_name() == name,
    }))
}

/// Finds a PCI device for detach/reattach, with virsh's messages.
fn pci_target(sysfs: &dyn Sysfs, name: &str, exact: bool) -> Result<PciAddress> {
    match find(sysfs, name, exact)? {
        Some(Found::Pci(a)) => Ok(a),
        Some(_) => Err(virsh_error(&[format!(
            "invalid argument: device {} is not a PCI device",
            shown(name)
        )])),
        None => Err(not_found(name)),
    }
}

/// Runs detach or reattach on every device in parallel, then reports each in the
/// order given. Any failure makes the command fail (exit 1) after all have run.
fn batch(
    cli: &Cli,
    backend: &Backend,
    op: Op<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let (listed, xml, json, dry_run) = match &op {
        Op::Detach(a) => (&a.devices, &a.xml, a.json, a.dry_run),
        Op::Reattach(a) => (&a.devices, &a.xml, a.json, a.dry_run),
    };
    // Bad input (a document, a driver name) is rejected before anything is written.
    let (devices, xml_driver) = match xml {
        Some(path) => {
            let (name, driver) = xml_target(path)?;
            (vec![name], driver)
        }
        None => (listed.clone(), None),
    };
    let devices = &devices;
    let driver = match &op {
        Op::Detach(a) if a.driver.is_none() && xml_driver.is_some() => xml_driver,
        Op::Detach(a) => Some(DriverRequest::parse(a.driver.as_deref()).map_err(|e| {
            virsh_error(&[
                format!("Failed to detach device {}", shown(&devices[0])),
                e.to_string(),
            ])
        })?),
        Op::Reattach(_) => None,
    };
    let engine = backend.engine()?;
    let sysfs = backend.host.sysfs();
    let results: Vec<(String, Result<Vec<Outcome>>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .map(|name| {
                let engine = &engine;
                let driver = driver.clone();
                let op = &op;
                scope.spawn(move || {
                    let result = (|| -> Result<Vec<Outcome>> {
                        let exact = match op {
                            Op::Detach(a) => a.exact_name,
                            Op::Reattach(a) => a.exact_name,
                        };
                        let address = pci_target(sysfs, name, exact)?;
                        match op {
                            Op::Detach(a) => {
                                let opts = DetachOptions {
                                    driver: driver.unwrap_or(DriverRequest::Vfio),
                                    method: match a.method {
                                        Method::Auto => MethodChoice::Auto,
                                        Method::Override => MethodChoice::Override,
                                        Method::NewId => MethodChoice::NewId,
                                    },
                                    force: a.force,
                                    dry_run: a.dry_run,
                                };
                                if a.group {
                                    Ok(engine.detach_group(address, &opts)?)
                                } else {
                                    Ok(vec![engine.detach(address, &opts)?])
                                }
                            }
                            Op::Reattach(a) => Ok(vec![engine.reattach(
                                address,
                                &ReattachOptions {
                                    force: a.force,
                                    dry_run: a.dry_run,
                                },
                            )?]),
                        }
                    })();
                    (name.clone(), result)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });

    let (verb, failed_verb) = match op {
        Op::Detach(_) => ("detached", "detach"),
        Op::Reattach(_) => ("re-attached", "re-attach"),
    };
    let mut any_failed = false;
    let mut items = Vec::new();
    for (name, result) in results {
        match result {
            Ok(outcomes) => {
                for o in &outcomes {
                    for w in &o.warnings {
                        writeln!(err, "warning: {w}")?;
                    }
                }
                if json {
                    items.push(BatchItem {
                        device: name,
                        ok: true,
                        outcomes,
                        error: None,
                    });
                    continue;
                }
                if dry_run {
                    for o in &outcomes {
                        writeln!(out, "Would {failed_verb} {}:", o.address.nodedev_name())?;
                        if o.writes.is_empty() {
                            writeln!(
                                out,
                                "  nothing to do: already on {}",
                                o.driver_after.as_deref().unwrap_or("no driver")
                            )?;
                        }
                        for w in &o.writes {
                            writeln!(out, "  {w}")?;
                        }
                    }
                } else if !cli.quiet {
                    writeln!(out, "Device {name} {verb}")?;
                }
            }
            Err(e) => {
                any_failed = true;
                if json {
                    items.push(BatchItem {
                        error: Some(failure_message(&e)),
                        device: name,
                        ok: false,
                        outcomes: Vec::new(),
                    });
                    continue;
                }
                print_failure(err, failed_verb, &name, &e)?;
            }
        }
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &items)?;
        out.write_all(b"\n")?;
    }
    if any_failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

/// `list --detached`: the state records.
fn list_detached(backend: &Backend, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let records = StateDir::new(&backend.state_dir)
        .list()
        .with_context(|| format!("failed to read {}", backend.state_dir.display()))?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &records)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    for r in records {
        let method = match r.method {
            hostdev_manager::state::BindMethod::Override => "override",
            hostdev_manager::state::BindMethod::NewId => "new-id",
        };
        write!(
            out,
            "{}  {} -> {} ({method})",
            r.address.nodedev_name(),
            r.original_driver.as_ref().map_or("(none)", |d| d.as_str()),
            r.stub
        )?;
        if let Some(p) = &r.pending {
            write!(out, "  pending: {p}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// How messages name an XML input: `standard input` for `-`, else the path.
fn input_name(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads an XML input: standard input for `-`, else the file.
fn read_xml(path: &Path) -> Result<String> {
    let what = input_name(path);
    if path == Path::new("-") {
        return read_bounded(&mut std::io::stdin().lock(), &what);
    }
    let mut file = std::fs::File::open(path).with_context(|| format!("failed to open {what}"))?;
    read_bounded(&mut file, &what)
}

/// Reads UTF-8 text of at most [`MAX_XML_INPUT`] bytes: every XML input goes through here.
pub(crate) fn read_bounded(reader: &mut dyn Read, what: &str) -> Result<String> {
    let mut text = String::new();
    reader
        .take(MAX_XML_INPUT + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("failed to read {what} as UTF-8 text"))?;
    anyhow::ensure!(
        text.len() as u64 <= MAX_XML_INPUT,
        "{what}: document is larger than {} MiB",
        MAX_XML_INPUT / (1024 * 1024)
    );
    Ok(text)
}

/// `--xml FILE`: a `<hostdev>`/`<interface type='hostdev'>` element (with its
/// driver) or a node-device document (its PCI capability's address).
fn xml_target(path: &Path) -> Result<(String, Option<DriverRequest>)> {
    let text = read_xml(path)?;
    let what = path.display();
    if let Ok(h) = nodedev_xml::hostdev_element(&text) {
        return Ok((
            h.address.nodedev_name(),
            Some(crate::hook::hostdev_driver(&h)?),
        ));
    }
    let dev = nodedev_xml::parse(&text).with_context(|| {
        format!("{what}: neither a <hostdev> element nor a node-device document")
    })?;
    let pci = dev
        .capabilities
        .iter()
        .find_map(|c| match c {
            nodedev_xml::Capability::Pci(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| {
            virsh_error(&[format!(
                "invalid argument: device {} is not a PCI device",
                dev.name
            )])
        })?;
    let small = |v: u32, n: &str| {
        u8::try_from(v).with_context(|| format!("{what}: {n} {v} is out of range"))
    };
    let address = PciAddress::new(
        pci.domain,
        small(pci.bus, "bus")?,
        small(pci.slot, "slot")?,
        small(pci.function, "function")?,
    )
    .with_context(|| format!("{what}: not a PCI address"))?;
    Ok((address.nodedev_name(), None))
}

/// `nodedev apply detach|reattach DOMAIN.xml`: every PCI hostdev and hostdev
/// interface of the domain (managed or not), minus the metadata's skips, plus its
/// devices and groups.
fn apply(
    backend: &Backend,
    action: &str,
    domain: &Path,
    force: bool,
    quiet: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let doc = nodedev_xml::domain_hostdevs(&read_xml(domain)?)
        .with_context(|| format!("{}: not a usable domain document", domain.display()))?;
    let engine = backend.engine()?;
    let detach = action == "detach";
    let mut failed = false;
    for (address, driver, group) in crate::hook::plan(&doc, false)? {
        let name = address.nodedev_name();
        let result = if detach {
            let opts = DetachOptions {
                driver,
                method: MethodChoice::Auto,
                force,
                dry_run: false,
            };
            if group {
                engine.detach_group(address, &opts).map(|_| ())
            } else {
                engine.detach(address, &opts).map(|_| ())
            }
        } else {
            let members = if group {
                device::iommu_group(backend.host.sysfs(), &address)?
                    .map_or_else(|| vec![address], |g| g.members)
            } else {
                vec![address]
            };
            members
                .into_iter()
                .filter(|m| *m == address || engine.state().load(m).ok().flatten().is_some())
                .try_for_each(|m| {
                    engine
                        .reattach(
                            m,
                            &ReattachOptions {
                                force,
                                dry_run: false,
                            },
                        )
                        .map(|_| ())
                })
        };
        match result {
            Ok(()) if !quiet => writeln!(
                out,
                "Device {name} {}",
                if detach { "detached" } else { "re-attached" }
            )?,
            Ok(()) => {}
            Err(e) => {
                failed = true;
                let verb = if detach { "detach" } else { "re-attach" };
                print_failure(err, verb, &name, &e.into())?;
            }
        }
    }
    if failed {
        return Err(ReportedFailure.into());
    }
    Ok(())
}

/// `nodedev reset`: one device after another (resets of functions on one bus must
/// not overlap), virsh's `Device X reset` or two `error:` lines each.
fn reset(
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
    for name in &args.devices {
        let result = (|| -> Result<serde_json::Value> {
            let address = pci_target(sysfs, name, args.exact_name)?;
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
            if let ResetOutcome::SkippedVfio { driver } = &outcome {
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
