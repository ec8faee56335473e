//! `--connect URI`: which commands go through libvirt and which are refused, in
//! every build. The hook never connects (libvirtd waits for its hook; a hook that
//! calls back into libvirt deadlocks it): `nodedev --connect URI hook …` is refused
//! before anything is contacted. A build without the `libvirt` feature refuses every
//! `--connect`, saying how to get one that has it.

use std::io::Write;

use anyhow::{bail, Result};

use crate::app::Backend;
use crate::cli::{CheckArgs, Cli, Command};

/// The hook's refusal.
pub const HOOK_REFUSAL: &str = "nodedev hook never connects to libvirt: libvirtd runs the hook and waits for it, so a hook that calls libvirt deadlocks the daemon; leave out --connect (the hook works on sysfs directly)";

/// Why a build without the backend refuses.
#[cfg(not(feature = "libvirt"))]
const NO_BACKEND: &str = "this nodedev was built without the libvirt backend (nodedev --version says so): --connect, check and event --connect need a build with `cargo build --features libvirt` (libvirt's development files, Debian's libvirt-dev); leave out --connect to work on sysfs without a daemon";

/// Runs `cli.command` through libvirt at `uri`.
pub fn dispatch(
    cli: &Cli,
    backend: &Backend,
    uri: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    if matches!(cli.command, Command::Hook(_)) {
        bail!(HOOK_REFUSAL);
    }
    let what = match &cli.command {
        Command::Snapshot(_) => Some("snapshot writes the sysfs this tool reads"),
        Command::Xml(_) => Some("xml normalize reads a file"),
        Command::Apply { .. } => {
            Some("apply moves a domain's devices on sysfs; libvirt does that itself for managed hostdevs")
        }
        Command::Virsh { .. } => Some("virsh mode takes -c"),
        Command::List(_)
        | Command::Dumpxml(_)
        | Command::Info(_)
        | Command::Detach(_)
        | Command::Reattach(_)
        | Command::Reset(_)
        | Command::Check(_)
        | Command::Event(_) => None,
        // Everything else (groups, preflight, …) is this tool's own view of sysfs.
        _ => Some("this command is nodedev's own view of sysfs, which libvirt has no call for"),
    };
    if let Some(what) = what {
        bail!("--connect {uri}: {what}; leave out --connect");
    }
    #[cfg(feature = "libvirt")]
    {
        through_libvirt(cli, backend, uri, out, err)
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (backend, out, err);
        bail!(NO_BACKEND)
    }
}

/// `nodedev check` (`uri` from `--connect`, else libvirt's default).
pub fn check(
    cli: &Cli,
    backend: &Backend,
    uri: Option<&str>,
    args: &CheckArgs,
    out: &mut dyn Write,
) -> Result<()> {
    #[cfg(feature = "libvirt")]
    {
        let lv = crate::libvirt::Libvirt::open(uri)?;
        crate::check::check(cli, backend, &lv, args, out)
    }
    #[cfg(not(feature = "libvirt"))]
    {
        let _ = (cli, backend, uri, args, out);
        bail!(NO_BACKEND)
    }
}

#[cfg(feature = "libvirt")]
fn through_libvirt(
    cli: &Cli,
    backend: &Backend,
    uri: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    use crate::cli::Method;
    use crate::libvirt::{self, Libvirt, Operation};

    // What only this tool's own engine does is refused before connecting: the
    // first of the command's options that is set.
    let ours: Option<(&str, Vec<(bool, &str)>)> = match &cli.command {
        Command::Dumpxml(a) => Some(("dumpxml", vec![(a.all, "--all")])),
        Command::Info(a) => Some(("info", vec![(a.json, "--json")])),
        Command::Detach(a) => Some((
            "detach",
            vec![
                (a.xml.is_some(), "--xml"),
                (!a.select.ids.is_empty(), "--id"),
                (a.persistent, "--persistent"),
                (a.owner.is_some(), "--owner"),
                (a.group, "--group"),
                (a.force, "--force"),
                (a.dry_run, "--dry-run"),
                (a.json, "--json"),
                (!matches!(a.method, Method::Auto), "--method"),
            ],
        )),
        Command::Reattach(a) => Some((
            "reattach",
            vec![
                (a.xml.is_some(), "--xml"),
                (!a.select.ids.is_empty(), "--id"),
                (a.persistent, "--persistent"),
                (a.force, "--force"),
                (a.dry_run, "--dry-run"),
                (a.json, "--json"),
            ],
        )),
        Command::Reset(a) => Some((
            "reset",
            vec![
                (!a.select.ids.is_empty(), "--id"),
                (a.method.is_some(), "--method"),
                (a.force, "--force"),
                (a.config_space, "--config-space"),
                (a.list, "--list"),
                (a.json, "--json"),
            ],
        )),
        // --source picks this tool's uevent socket; through libvirt the daemon's
        // events are read.
        Command::Event(a) => Some((
            "event",
            vec![(
                !matches!(a.source, crate::cli::UeventSource::Auto),
                "--source",
            )],
        )),
        _ => None,
    };
    if let Some((cmd, flags)) = ours {
        if let Some((_, flag)) = flags.iter().find(|(set, _)| *set) {
            bail!("--connect: {cmd} {flag} is this tool's own (libvirt has no such option); leave out --connect or {flag}");
        }
    }
    // Our own spellings of a PCI device (0000:07:10.1, 07:10.1) become its libvirt
    // name; virsh mode passes names exactly as typed.
    let name_of = |name: &str, exact: bool| -> String {
        match name.parse::<pci_types::PciAddress>() {
            Ok(a) if !exact => a.nodedev_name(),
            _ => name.to_string(),
        }
    };
    let names_of = |names: &[String], exact: bool| -> Vec<String> {
        names.iter().map(|n| name_of(n, exact)).collect()
    };
    match &cli.command {
        Command::Event(a) if a.list => crate::event::event(backend, a, out),
        Command::Event(a) => crate::event::through_libvirt(uri, a, out),
        Command::Check(a) => check(cli, backend, Some(uri), a, out),
        _ => {
            let lv = Libvirt::open(Some(uri))?;
            match &cli.command {
                Command::List(a) => libvirt::list(&lv, a, out),
                Command::Dumpxml(a) => libvirt::dumpxml(
                    &lv,
                    &name_of(a.device.as_deref().unwrap_or_default(), a.exact_name),
                    out,
                ),
                Command::Info(a) => libvirt::info(&lv, &name_of(&a.device, a.exact_name), out),
                Command::Detach(a) => {
                    let op = Operation::Detach(a.driver.as_deref());
                    libvirt::operate(cli, &lv, &names_of(&a.devices, a.exact_name), op, out, err)
                }
                Command::Reattach(a) => {
                    let names = names_of(&a.devices, a.exact_name);
                    libvirt::operate(cli, &lv, &names, Operation::Reattach, out, err)
                }
                Command::Reset(a) => {
                    let names = names_of(&a.devices, a.exact_name);
                    libvirt::operate(cli, &lv, &names, Operation::Reset, out, err)
                }
                _ => bail!("--connect: not a command that goes through libvirt"),
            }
        }
    }
}
