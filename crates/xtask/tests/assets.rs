//! The generated man pages and completions cover the whole command line: every
//! subcommand has its page and its completion, every visible flag appears in
//! its page and in each shell's completion, and hidden flags appear nowhere.

use std::path::Path;

/// A subcommand's path (`["persist", "remove"]`) and its command.
fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    out.push((path.clone(), cmd.clone()));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let mut p = path.clone();
        p.push(sub.get_name().to_string());
        walk(sub, p, out);
    }
}

fn roff(s: &str) -> String {
    s.replace('-', "\\-")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_subcommand_and_flag_is_in_the_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    xtask::write_assets(dir.path()).unwrap();
    let mut cmd = xtask::command();
    cmd.build();
    let mut all = Vec::new();
    walk(&cmd, Vec::new(), &mut all);
    assert!(all.len() > 15, "{}", all.len());
    let completions: Vec<(String, String)> = xtask::SHELLS
        .iter()
        .map(|(shell, name)| {
            (
                shell.to_string(),
                read(&dir.path().join("completions").join(name)),
            )
        })
        .collect();
    let mut checked = 0;
    for (path, sub) in &all {
        let page_name = std::iter::once("nodedev".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        let page = read(&dir.path().join("man").join(format!("{page_name}.1")));
        assert!(
            page.contains(&format!(".TH {page_name} 1")),
            "{page_name}: no title"
        );
        if let Some(last) = path.last() {
            for (shell, text) in &completions {
                assert!(text.contains(last.as_str()), "{shell}: no {last}");
            }
        }
        for arg in sub.get_arguments() {
            let Some(long) = arg.get_long() else {
                if arg.is_positional() && !arg.is_hide_set() {
                    let value = arg.get_id().as_str().to_uppercase();
                    assert!(page.contains(&value), "{page_name}: no {value}");
                }
                continue;
            };
            if long == "help" || long == "version" {
                continue;
            }
            let flag = format!("--{long}");
            if arg.is_hide_set() {
                assert!(
                    !page.contains(&roff(&flag)),
                    "{page_name}: hidden {flag} is shown"
                );
                continue;
            }
            assert!(page.contains(&roff(&flag)), "{page_name}: no {flag}");
            for (shell, text) in &completions {
                let found = match shell.as_str() {
                    "fish" => text.contains(&format!("-l {long}")),
                    _ => text.contains(&flag),
                };
                assert!(found, "{shell} completion: no {flag} ({page_name})");
            }
            checked += 1;
        }
    }
    // The new commands and flags of issue 14, by name (the walk above covers
    // them only as long as they exist).
    for (page, flag) in [
        ("nodedev-detach", "--persistent"),
        ("nodedev-detach", "--owner"),
        ("nodedev-detach", "--id"),
        ("nodedev-reattach", "--persistent"),
        ("nodedev-reset", "--id"),
        ("nodedev-persist-list", "--json"),
        ("nodedev-persist-remove", "--id"),
        ("nodedev-boot", "--udev"),
        ("nodedev", "--config-dir"),
    ] {
        let text = read(&dir.path().join("man").join(format!("{page}.1")));
        assert!(text.contains(&roff(flag)), "{page}: no {flag}");
    }
    assert!(checked > 60, "only {checked} flags checked");
}
