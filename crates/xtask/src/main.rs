//! `cargo run -p xtask -- assets DIR`: writes `DIR/man/*.1` (one page per
//! command and subcommand: `nodedev.1`, `nodedev-detach.1`, …) and
//! `DIR/completions/{nodedev.bash,_nodedev,nodedev.fish}`, all generated from
//! `nodedev`'s clap definitions (`packaging/build-deb.sh` puts them into the
//! Debian package).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "assets" => match xtask::write_assets(&PathBuf::from(dir)) {
            Ok(files) => {
                for f in files {
                    println!("{}", f.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xtask: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo run -p xtask -- assets DIR");
            ExitCode::from(2)
        }
    }
}
