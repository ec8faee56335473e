//! `nodedev`: libvirt's `virsh nodedev-*` for PCI devices, without a libvirt daemon.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use nodedev_cli::{cli::Cli, report, run, virsh, Backend, ReportedFailure};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // Invoked as `virsh` (a symlink), or as `nodedev virsh …`: translate virsh's
    // command line into ours.
    let invoked_as_virsh = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "virsh");
    let virsh_args = if invoked_as_virsh {
        Some(argv[1..].to_vec())
    } else if argv.get(1).map(String::as_str) == Some("virsh") {
        Some(argv[2..].to_vec())
    } else {
        None
    };
    let cli = match virsh_args {
        // `nodedev --root … virsh …`: the global options come first.
        None => match Cli::parse() {
            Cli {
                command: nodedev_cli::cli::Command::Virsh { .. },
                ..
            } => {
                // Take virsh's arguments as typed: clap would have taken a global
                // flag such as -q out of them.
                let at = argv.iter().position(|a| a == "virsh").unwrap_or(argv.len());
                let args = argv.get(at + 1..).unwrap_or_default();
                match virsh::translate(args) {
                    Ok(ours) => Cli::parse_from(argv[..at].iter().cloned().chain(ours)),
                    Err(refusal) => return refuse(refusal, quiet_flag(args)),
                }
            }
            cli => cli,
        },
        Some(args) => match virsh::translate(&args) {
            Ok(ours) => Cli::parse_from(std::iter::once("nodedev".to_string()).chain(ours)),
            Err(refusal) => return refuse(refusal, quiet_flag(&args)),
        },
    };
    let mut out = io::stdout().lock();
    let mut err = io::stderr();
    let result = Backend::from_cli(&cli)
        .and_then(|backend| run(&cli, &backend, &mut out, &mut err))
        .and_then(|()| out.flush().map_err(Into::into));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            if e.downcast_ref::<ReportedFailure>().is_none() {
                report(&e, &mut err);
            }
            ExitCode::FAILURE
        }
    }
}

/// A virsh command line this mode cannot run: virsh's `error:` lines, exit 1, and
/// its blank line when the command itself would have run (unless -q).
fn refuse(virsh::Refusal(lines, blank_line): virsh::Refusal, quiet: bool) -> ExitCode {
    let _ = io::stdout().flush();
    let mut err = io::stderr();
    for l in lines {
        let _ = writeln!(err, "error: {l}");
    }
    if blank_line && !quiet {
        println!();
    }
    ExitCode::FAILURE
}

/// Whether virsh's global `-q`/`--quiet` comes before the command.
fn quiet_flag(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| a.starts_with('-'))
        .any(|a| a == "-q" || a == "--quiet")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
