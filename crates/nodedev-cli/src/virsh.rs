//! virsh mode: `nodedev virsh …`, or the binary invoked as `virsh` (a symlink), for
//! scripts that call `virsh nodedev-*`. The virsh command line is translated into
//! the matching `nodedev` one; the commands then print exactly what virsh prints.
//! Anything else is refused with a message saying this is not libvirt.

/// The virsh commands this mode handles.
pub const COMMANDS: &[&str] = &[
    "nodedev-list",
    "nodedev-dumpxml",
    "nodedev-detach",
    "nodedev-dettach",
    "nodedev-reattach",
    "nodedev-reset",
    "nodedev-info",
    "nodedev-event",
];

use std::ffi::OsString;
use std::path::Path;

use clap::{CommandFactory, Parser};

use crate::cli::Cli;

/// A virsh command line that cannot be run: the `error:` lines virsh-style, and
/// whether virsh would print its blank line on stdout too (it does when the command
/// itself ran and failed, not when the command line was rejected).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The messages, each printed as `error: …`.
    pub lines: Vec<String>,
    /// Whether virsh's blank line follows on stdout.
    pub blank_line: bool,
}

fn refusal(lines: Vec<String>, blank_line: bool) -> Refusal {
    Refusal { lines, blank_line }
}

/// What a process's arguments ask for.
#[derive(Debug)]
pub enum Invocation {
    /// A command to run.
    Run(Box<Cli>),
    /// `--help`, `--version` or a mistake in our own command line (clap's text).
    Usage(clap::Error),
    /// A virsh command line this mode does not run.
    Refused(Refusal),
}

/// Parses the process's arguments: `nodedev [GLOBAL…] COMMAND …`, `nodedev
/// [GLOBAL…] virsh VIRSH-ARGS…`, or, when the binary is invoked as `virsh` (a
/// symlink), virsh's own command line.
pub fn parse_argv(argv: Vec<OsString>) -> Invocation {
    let invoked_as_virsh = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == "virsh");
    let (ours, theirs) = if invoked_as_virsh {
        (vec![OsString::from("nodedev")], &argv[1.min(argv.len())..])
    } else {
        match subcommand_index(&argv) {
            Some(i) if argv[i] == "virsh" => (argv[..i].to_vec(), &argv[i + 1..]),
            _ => return parse(argv),
        }
    };
    let Some(theirs) = theirs
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        return Invocation::Refused(refusal(
            vec!["an argument is not valid UTF-8".to_string()],
            false,
        ));
    };
    match translate(&theirs) {
        Ok(mut translated) => {
            // virsh without -c connects to LIBVIRT_DEFAULT_URI when it is set; so
            // does a build with the libvirt backend (a build without it stays
            // daemonless, and says nothing).
            if cfg!(feature = "libvirt") && !translated.iter().any(|a| a == "--connect") {
                if let Some(uri) = std::env::var("LIBVIRT_DEFAULT_URI")
                    .ok()
                    .filter(|u| !u.is_empty())
                {
                    translated.splice(0..0, ["--connect".to_string(), uri]);
                }
            }
            parse(
                ours.into_iter()
                    .chain(translated.into_iter().map(Into::into)),
            )
        }
        Err(mut r) => {
            r.blank_line &= !quiet_flag(&theirs);
            Invocation::Refused(r)
        }
    }
}

fn parse(argv: impl IntoIterator<Item = OsString>) -> Invocation {
    match Cli::try_parse_from(argv) {
        Ok(cli) => Invocation::Run(Box::new(cli)),
        Err(e) => Invocation::Usage(e),
    }
}

/// Where our subcommand is in `argv`: the first argument that is neither a global
/// option nor the value of one (clap would take a global `-q` out of virsh's
/// arguments, and a value such as `--root virsh` is not the subcommand).
fn subcommand_index(argv: &[OsString]) -> Option<usize> {
    let command = Cli::command();
    let takes_value = |long: Option<&str>, short: Option<char>| {
        command.get_arguments().any(|a| {
            a.get_action().takes_values()
                && ((long.is_some() && a.get_long() == long)
                    || (short.is_some() && a.get_short() == short))
        })
    };
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        if a == "--" {
            return argv.get(i + 1).map(|_| i + 1);
        } else if let Some(long) = a.strip_prefix("--") {
            if !long.contains('=') && takes_value(Some(long), None) {
                i += 1;
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            let last = shorts.chars().last();
            if shorts.chars().count() == 1 && takes_value(None, last) {
                i += 1;
            }
        } else {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether virsh's global `-q`/`--quiet` comes before the command.
fn quiet_flag(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| a.starts_with('-'))
        .any(|a| a == "-q" || a == "--quiet")
}

/// Splits `--opt=value` into `--opt value`, as virsh accepts both.
fn split_equals(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => {
                out.push(k.to_string());
                out.push(v.to_string());
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Translates `virsh [-q] [-c URI] COMMAND [OPTIONS…]` into `nodedev` arguments.
pub fn translate(args: &[String]) -> Result<Vec<String>, Refusal> {
    let args = split_equals(args);
    let mut global = Vec::new();
    // The libvirt driver virsh would talk to decides which --driver names it takes.
    let mut hypervisor = "auto";
    let mut i = 0;
    // Global options before the command.
    while i < args.len() && args[i].starts_with('-') {
        match args[i].as_str() {
            "-q" | "--quiet" => global.push("-q".to_string()),
            "-c" | "--connect" => {
                // With the libvirt backend: through libvirt at that URI. Without
                // it there is no daemon to connect to; the URI's scheme says which
                // driver's rules to follow.
                i += 1;
                let uri = args.get(i).map(String::as_str).unwrap_or("");
                if cfg!(feature = "libvirt") {
                    global.extend(["--connect".to_string(), uri.to_string()]);
                }
                hypervisor = if uri.starts_with("xen") || uri.starts_with("libxl") {
                    "xen"
                } else if uri.starts_with("qemu") {
                    "qemu"
                } else {
                    "auto"
                };
            }
            "-r" | "--readonly" => {}
            other => {
                return Err(refusal(
                    vec![format!("unsupported option '{other}'. See --help.")],
                    false,
                ));
            }
        }
        i += 1;
    }
    let Some(command) = args.get(i) else {
        return Err(refusal(vec![not_libvirt("(none)")], false));
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(refusal(
            vec![
                format!("unknown command: '{command}'"),
                not_libvirt(command),
            ],
            false,
        ));
    }
    let rest = &args[i + 1..];
    let mut positional = Vec::new();
    let mut flags: Vec<(String, Option<String>)> = Vec::new();
    let mut j = 0;
    while j < rest.len() {
        let a = &rest[j];
        let takes_value = matches!(
            a.as_str(),
            "--cap" | "--driver" | "--device" | "--xpath" | "--event" | "--timeout"
        );
        if takes_value {
            let v = rest.get(j + 1).cloned().ok_or_else(|| {
                refusal(
                    vec![format!("command '{command}' requires {} option", &a[2..])],
                    false,
                )
            })?;
            flags.push((a.clone(), Some(v)));
            j += 2;
        } else if a.starts_with("--") {
            flags.push((a.clone(), None));
            j += 1;
        } else {
            positional.push(a.clone());
            j += 1;
        }
    }
    let flag = |n: &str| flags.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let device = flag("--device")
        .flatten()
        .or_else(|| positional.first().cloned());
    let mut out = global;
    let unknown = |allowed: &[&str]| -> Result<(), Refusal> {
        match flags.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(refusal(
                vec![format!("command '{command}' doesn't support option {k}")],
                false,
            )),
            None => Ok(()),
        }
    };
    let need_device = |device: &Option<String>| -> Result<String, Refusal> {
        device.clone().ok_or_else(|| {
            refusal(
                vec![format!("command '{command}' requires <device> option")],
                false,
            )
        })
    };
    match command.as_str() {
        "nodedev-list" => {
            unknown(&["--tree", "--cap", "--inactive", "--all"])?;
            if flag("--all").is_some() && flag("--inactive").is_some() {
                return Err(refusal(
                    vec!["Option --all is incompatible with --inactive".into()],
                    true,
                ));
            }
            if flag("--tree").is_some() && (flag("--cap").is_some() || flag("--inactive").is_some())
            {
                return Err(refusal(vec!["Option --tree is incompatible with --cap, --inactive, --persistent and --transient".into()],
                    true,
                ));
            }
            out.push("list".into());
            if flag("--tree").is_some() {
                out.push("--tree".into());
            }
            if let Some(Some(cap)) = flag("--cap") {
                out.extend(["--cap".into(), cap]);
            }
            if flag("--inactive").is_some() {
                // Every device this tool sees is active: virsh lists none.
                out.push("--inactive-only".into());
            }
        }
        "nodedev-dumpxml" => {
            unknown(&["--device", "--inactive"])?;
            out.extend([
                "dumpxml".into(),
                "--exact-name".into(),
                need_device(&device)?,
            ]);
        }
        "nodedev-info" => {
            unknown(&["--device"])?;
            out.extend(["info".into(), "--exact-name".into(), need_device(&device)?]);
        }
        "nodedev-detach" | "nodedev-dettach" => {
            unknown(&["--device", "--driver"])?;
            out.extend([
                "detach".into(),
                "--exact-name".into(),
                "--virsh".into(),
                hypervisor.into(),
            ]);
            if let Some(Some(d)) = flag("--driver") {
                out.extend(["--driver".into(), d]);
            }
            out.push(need_device(&device)?);
        }
        "nodedev-reattach" => {
            unknown(&["--device"])?;
            out.extend([
                "reattach".into(),
                "--exact-name".into(),
                need_device(&device)?,
            ]);
        }
        "nodedev-reset" => {
            unknown(&["--device"])?;
            out.extend([
                "reset".into(),
                "--exact-name".into(),
                "--virsh-output".into(),
                need_device(&device)?,
            ]);
        }
        "nodedev-event" => {
            unknown(&[
                "--device",
                "--event",
                "--loop",
                "--timeout",
                "--list",
                "--timestamp",
            ])?;
            out.push("event".into());
            if flag("--list").is_some() {
                out.push("--list".into());
                return Ok(out);
            }
            // virsh's checks, in its order, as the command's own errors.
            let event = match flag("--event").flatten() {
                None => {
                    return Err(refusal(
                        vec!["either --list or --event <type> is required".into()],
                        true,
                    ))
                }
                Some(e) if crate::cli::EventType::names().any(|n| n == e) => e,
                Some(e) => return Err(refusal(vec![format!("unknown event type {e}")], true)),
            };
            out.extend(["--event".into(), event]);
            if let Some(Some(t)) = flag("--timeout") {
                // vshCommandOptTimeoutToMs: an unsigned number of seconds, not 0,
                // that fits in an int of milliseconds.
                match t.parse::<u32>() {
                    Ok(secs) if secs > 0 && secs <= i32::MAX as u32 / 1000 => {
                        out.extend(["--timeout".into(), secs.to_string()]);
                    }
                    _ => {
                        return Err(refusal(
                            vec![format!(
                            "Numeric value '{t}' for <timeout> option is malformed or out of range"
                        )],
                            true,
                        ))
                    }
                }
            }
            for f in ["--loop", "--timestamp"] {
                if flag(f).is_some() {
                    out.push(f.into());
                }
            }
            // virsh 9.0 takes a positional argument as --device here too.
            if let Some(d) = device {
                out.extend(["--device".into(), d]);
            }
        }
        _ => unreachable!("checked against COMMANDS"),
    }
    Ok(out)
}

fn not_libvirt(command: &str) -> String {
    format!(
        "this is nodedev-shim's virsh mode, not libvirt: it runs {} only ('{command}' needs libvirt)",
        COMMANDS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(args: &[&str]) -> Result<Vec<String>, Refusal> {
        translate(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn nodedev_event_as_virsh_takes_it() {
        assert_eq!(
            t(&[
                "nodedev-event",
                "--event=lifecycle",
                "--loop",
                "--timeout",
                "5"
            ])
            .unwrap(),
            ["event", "--event", "lifecycle", "--timeout", "5", "--loop"]
        );
        assert_eq!(
            t(&["nodedev-event", "--list", "--event", "nope"]).unwrap(),
            ["event", "--list"]
        );
        assert_eq!(
            t(&[
                "nodedev-event",
                "--event",
                "update",
                "--device",
                "computer",
                "--timestamp"
            ])
            .unwrap(),
            [
                "event",
                "--event",
                "update",
                "--timestamp",
                "--device",
                "computer"
            ]
        );
        let lines = |a: &[&str]| t(a).unwrap_err().lines;
        assert_eq!(
            lines(&["nodedev-event"]),
            ["either --list or --event <type> is required"]
        );
        assert_eq!(
            lines(&["nodedev-event", "--event", "nope"]),
            ["unknown event type nope"]
        );
        for bad in ["0", "-1", "x", "2147484"] {
            assert_eq!(
                lines(&["nodedev-event", "--event", "update", "--timeout", bad]),
                [format!(
                    "Numeric value '{bad}' for <timeout> option is malformed or out of range"
                )]
            );
        }
        assert_eq!(
            lines(&["nodedev-event", "computer"]),
            ["either --list or --event <type> is required"]
        );
        assert_eq!(
            t(&["nodedev-event", "--event", "update", "computer"]).unwrap(),
            ["event", "--event", "update", "--device", "computer"]
        );
    }

    #[test]
    fn translates_virsh_spellings() {
        // -c goes through libvirt in a build with the backend, else only picks
        // the driver's rules.
        let want: &[&str] = if cfg!(feature = "libvirt") {
            &["-q", "--connect", "qemu:///system", "list", "--tree"]
        } else {
            &["-q", "list", "--tree"]
        };
        assert_eq!(
            t(&["-q", "-c", "qemu:///system", "nodedev-list", "--tree"]).unwrap(),
            want
        );
        assert_eq!(
            t(&["nodedev-dettach", "pci_0000_00_01_0", "--driver=vfio"]).unwrap(),
            [
                "detach",
                "--exact-name",
                "--virsh",
                "auto",
                "--driver",
                "vfio",
                "pci_0000_00_01_0"
            ]
        );
        assert_eq!(
            t(&["nodedev-dumpxml", "--device", "computer"]).unwrap(),
            ["dumpxml", "--exact-name", "computer"]
        );
    }

    #[test]
    fn refuses_what_it_is_not() {
        let e = t(&["start", "vm1"]).unwrap_err();
        assert_eq!(e.lines[0], "unknown command: 'start'");
        assert!(e.lines[1].contains("not libvirt"));
        assert_eq!(
            t(&["nodedev-detach"]).unwrap_err().lines,
            ["command 'nodedev-detach' requires <device> option"]
        );
        assert_eq!(
            t(&["nodedev-list", "--all", "--inactive"])
                .unwrap_err()
                .lines,
            ["Option --all is incompatible with --inactive"]
        );
    }

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn finds_the_subcommand_past_global_options_and_their_values() {
        let at = |a: &[&str]| subcommand_index(&argv(a));
        assert_eq!(at(&["nodedev", "virsh", "-q", "nodedev-list"]), Some(1));
        assert_eq!(at(&["nodedev", "-q", "--root", "virsh", "list"]), Some(4));
        assert_eq!(at(&["nodedev", "--root=virsh", "virsh"]), Some(2));
        assert_eq!(at(&["nodedev", "--state-dir", "/x", "-q"]), None);
    }

    #[test]
    fn virsh_arguments_are_taken_as_typed() {
        match parse_argv(argv(&[
            "nodedev",
            "--root",
            "virsh",
            "virsh",
            "-q",
            "nodedev-list",
        ])) {
            Invocation::Run(cli) => {
                assert!(cli.quiet);
                assert_eq!(cli.root.as_deref(), Some(Path::new("virsh")));
                assert!(matches!(cli.command, crate::cli::Command::List(_)));
            }
            other => panic!("{other:?}"),
        }
        match parse_argv(argv(&["/usr/bin/virsh", "-q", "start", "vm"])) {
            Invocation::Refused(r) => assert!(!r.blank_line && r.lines.len() == 2),
            other => panic!("{other:?}"),
        }
    }
}
