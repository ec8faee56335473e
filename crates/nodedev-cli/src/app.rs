//! The entry point shared by `main` and the tests: parse the command line (ours or
//! virsh's), run one command, print its failure as virsh does, decide the exit status.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hostdev_manager::modules::{Modprobe, ModuleLoader};
use hostdev_manager::ops::Engine;
use hostdev_manager::state::StateDir;

use crate::cli::{Cli, Command, HookCommand, XmlCommand};
use crate::lookup::Host;
use crate::output::{is_broken_pipe, report, ReportedFailure};
use crate::virsh::{self, Invocation};
use crate::{batch, connect, event, hook, query, reset};

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
    /// Persistent assignments.
    pub config_dir: PathBuf,
    /// How long an unbind may take.
    pub unbind_timeout: Duration,
    /// How long a lock is waited for.
    pub lock_timeout: Duration,
}

impl Backend {
    /// The backend the command line asks for: the live kernel or a snapshot, and
    /// `modprobe` for modules.
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        // xml normalize reads no device tree.
        let host = if matches!(cli.command, Command::Xml(_)) {
            Host::live(Arc::new(hostdev_manager::RealSysfs::system()))
        } else {
            Host::open(cli.root.as_deref())?
        };
        Ok(Self::new(host, Arc::new(Modprobe), cli))
    }

    /// A backend over `host` with the command line's state directory and timeouts.
    pub fn new(host: Host, modules: Arc<dyn ModuleLoader>, cli: &Cli) -> Self {
        Self {
            host,
            modules,
            state_dir: cli.state_dir.clone(),
            config_dir: cli.config_dir.clone(),
            unbind_timeout: cli.unbind_timeout.into(),
            lock_timeout: cli.lock_timeout.into(),
        }
    }

    /// The engine, which needs a live kernel.
    pub fn engine(&self) -> Result<Engine> {
        anyhow::ensure!(
            self.host.is_live(),
            "--root names a snapshot: detach, reattach, reset and the hook need a live kernel"
        );
        Ok(self.state_engine())
    }

    /// The engine over whatever tree is open, for reading records only.
    pub fn state_engine(&self) -> Engine {
        Engine::new(
            self.host.sysfs_arc(),
            Arc::clone(&self.modules),
            StateDir::new(&self.state_dir).with_lock_timeout(self.lock_timeout),
        )
        .with_unbind_timeout(self.unbind_timeout)
    }
}

/// Standard input, output and error of one run.
pub struct Stdio<'a> {
    /// Standard input (XML with `-`, the hook's domain).
    pub input: &'a mut dyn Read,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// Everything `main` does, given the process's arguments, a way to build the
/// backend from the parsed command line, and the three streams; returns the exit
/// status. Tests call it with the simulated kernel, so they run `main`'s own code.
pub fn main_with(
    argv: Vec<OsString>,
    backend: impl FnOnce(&Cli) -> Result<Backend>,
    io: Stdio<'_>,
) -> u8 {
    let cli = match virsh::parse_argv(argv) {
        Invocation::Run(cli) => cli,
        Invocation::Usage(e) => {
            // --help and --version go to stdout with status 0, mistakes to stderr.
            let text = e.render().to_string();
            let stream: &mut dyn Write = if e.use_stderr() { io.err } else { io.out };
            let _ = stream.write_all(text.as_bytes());
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
        Invocation::Refused(refusal) => {
            for line in &refusal.lines {
                let _ = writeln!(io.err, "error: {line}");
            }
            if refusal.blank_line {
                let _ = io.out.write_all(b"\n");
            }
            return 1;
        }
    };
    let backend = match backend(&cli) {
        Ok(b) => b,
        Err(e) => {
            report(&e, io.err);
            return 1;
        }
    };
    let result = run(&cli, &backend, io.input, io.out, io.err);
    let _ = io.out.flush();
    match result {
        Ok(()) => 0,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(_) => 1,
    }
}

/// Whether a command ends with virsh's blank line (on stdout, after its output and
/// after its `error:` lines, unless `-q`). The commands that are not virsh's do not.
fn prints_virsh_blank_line(command: &Command) -> bool {
    !matches!(
        command,
        Command::Snapshot(_)
            | Command::Xml(_)
            | Command::Hook(_)
            | Command::Virsh { .. }
            | Command::Groups(_)
            | Command::Preflight(_)
            | Command::Persist(_)
            | Command::Boot(_)
            | Command::Check(_)
    )
}

/// Runs one command, writing its output to `out` and its diagnostics to `err`. A
/// failure is printed here, virsh's way (before the blank line, as virsh orders
/// them), and returned so the caller can set the exit status.
pub fn run(
    cli: &Cli,
    backend: &Backend,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let result = dispatch(cli, backend, input, out, err);
    if let Err(e) = &result {
        if e.downcast_ref::<ReportedFailure>().is_none() && !is_broken_pipe(e) {
            let _ = out.flush();
            report(e, err);
        }
    }
    let command_ran = !matches!(&result, Err(e) if e
        .downcast_ref::<crate::output::VirshError>()
        .is_some_and(|v| !v.blank_line));
    if prints_virsh_blank_line(&cli.command) && !cli.quiet && command_ran {
        out.write_all(b"\n")?;
    }
    result
}

fn dispatch(
    cli: &Cli,
    backend: &Backend,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    if let Some(uri) = &cli.connect {
        return connect::dispatch(cli, backend, uri, out, err);
    }
    let sysfs = backend.host.sysfs();
    match &cli.command {
        Command::List(args) if args.detached => query::list_detached(backend, args, out, err),
        Command::List(args) => query::list(sysfs, args, out),
        Command::Dumpxml(args) => query::dumpxml(sysfs, cli, args, out),
        Command::Info(args) => query::info(sysfs, args, out),
        Command::Snapshot(args) => crate::files::snapshot(sysfs, args, out),
        Command::Xml(XmlCommand::Normalize { file }) => query::xml_normalize(file, input, out),
        Command::Detach(args) => batch::detach(cli, backend, args, input, out, err),
        Command::Reattach(args) => batch::reattach(cli, backend, args, input, out, err),
        Command::Apply {
            action,
            domain,
            force,
        } => batch::apply(cli, backend, *action, domain, *force, input, out, err),
        Command::Reset(args) => reset::reset(cli, backend, args, out, err),
        Command::Groups(args) => crate::groups::groups(cli, sysfs, args, out),
        Command::Preflight(args) => crate::preflight::preflight(cli, backend, args, out, err),
        Command::Hook(HookCommand::Qemu {
            domain,
            operation,
            sub_operation,
            ..
        }) => match hook::Operation::of(operation, sub_operation) {
            // Only prepare and release need the engine (and a live kernel); the
            // others return at once, without reading standard input.
            Some(op) => hook::qemu(&backend.engine()?, domain, op, input, err),
            None => Ok(()),
        },
        Command::Hook(HookCommand::Install { dir }) => {
            let exe = std::env::current_exe().context("cannot find the nodedev binary")?;
            let path = hook::install(dir, &exe)?;
            writeln!(
                err,
                "hook installed: {} (restart libvirtd to load it)",
                path.display()
            )?;
            Ok(())
        }
        Command::Hook(HookCommand::Uninstall { dir }) => {
            let path = hook::uninstall(dir)?;
            writeln!(err, "hook removed: {}", path.display())?;
            Ok(())
        }
        Command::Persist(cmd) => crate::persist::run(cli, backend, cmd, out, err),
        Command::Boot(args) => crate::boot::run(backend, args, out, err),
        Command::Check(args) => connect::check(cli, backend, None, args, out),
        Command::Event(args) => event::event(backend, args, out),
        Command::Virsh { .. } => Err(anyhow::anyhow!(
            "virsh mode is translated before the command runs"
        )),
    }
}
