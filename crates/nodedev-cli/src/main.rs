//! `nodedev`: libvirt's `virsh nodedev-*` for PCI devices, without a libvirt daemon.

use std::io;
use std::process::ExitCode;

use nodedev_cli::{main_with, Backend, Stdio};

fn main() -> ExitCode {
    let code = main_with(
        std::env::args_os().collect(),
        Backend::from_cli,
        Stdio {
            input: &mut io::stdin(),
            out: &mut io::stdout().lock(),
            err: &mut io::stderr(),
        },
    );
    ExitCode::from(code)
}
