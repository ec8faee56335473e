//! Man pages and shell completions generated from `nodedev`'s clap
//! definitions, so they can never disagree with the command line.

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// The command as clap describes it, with the binary's name.
pub fn command() -> clap::Command {
    nodedev_cli::cli::Cli::command()
        .name("nodedev")
        .bin_name("nodedev")
        .propagate_version(true)
}

/// The command as the man pages show it: without clap's `help` subcommands,
/// which would each get a page of their own (`--help` is on every page).
fn documented() -> clap::Command {
    fn strip(cmd: clap::Command) -> clap::Command {
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        let mut cmd = cmd.disable_help_subcommand(true);
        for n in names {
            cmd = cmd.mut_subcommand(n, strip);
        }
        cmd
    }
    strip(command())
}

/// The shells completions are written for, and their files' names.
pub const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "nodedev.bash"),
    (Shell::Zsh, "_nodedev"),
    (Shell::Fish, "nodedev.fish"),
];

/// Writes the man pages into `dir/man` and the completions into
/// `dir/completions`; returns every file written.
pub fn write_assets(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let mut written = Vec::new();
    clap_mangen::generate_to(documented(), &man)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&man)?
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    written.extend(pages);
    for (shell, name) in SHELLS {
        let mut c = command();
        let path = completions.join(name);
        let mut f = std::fs::File::create(&path)?;
        clap_complete::generate(shell, &mut c, "nodedev", &mut f);
        written.push(path);
    }
    Ok(written)
}
