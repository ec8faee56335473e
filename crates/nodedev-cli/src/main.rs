//! `nodedev`: libvirt's `virsh nodedev-*` for PCI devices, without a libvirt daemon.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use nodedev_cli::{cli::Cli, report, run, Backend, ReportedFailure};

fn main() -> ExitCode {
    let cli = Cli::parse();
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

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
