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
];

/// A virsh command line that cannot be run: the `error:` lines virsh-style, and
/// whether virsh would print its blank line on stdout too (it does when the command
/// itself ran and failed, not when the command line was rejected).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub Vec<String>, pub bool);

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
    let mut i = 0;
    // Global options before the command.
    while i < args.len() && args[i].starts_with('-') {
        match args[i].as_str() {
            "-q" | "--quiet" => global.push("-q".to_string()),
            "-c" | "--connect" => i += 1, // accepted: there is no daemon to connect to
            "-r" | "--readonly" => {}
            other => {
                return Err(Refusal(
                    vec![format!("unsupported option '{other}'. See --help.")],
                    false,
                ));
            }
        }
        i += 1;
    }
    let Some(command) = args.get(i) else {
        return Err(Refusal(vec![not_libvirt("(none)")], false));
    };
    if !COMMANDS.contains(&command.as_str()) {
        return Err(Refusal(
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
        let takes_value = matches!(a.as_str(), "--cap" | "--driver" | "--device" | "--xpath");
        if takes_value {
            let v = rest.get(j + 1).cloned().ok_or_else(|| {
                Refusal(
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
            Some((k, _)) => Err(Refusal(
                vec![format!("command '{command}' doesn't support option {k}")],
                false,
            )),
            None => Ok(()),
        }
    };
    let need_device = |device: &Option<String>| -> Result<String, Refusal> {
        device.clone().ok_or_else(|| {
            Refusal(
                vec![format!("command '{command}' requires <device> option")],
                false,
            )
        })
    };
    match command.as_str() {
        "nodedev-list" => {
            unknown(&["--tree", "--cap", "--inactive", "--all"])?;
            if flag("--all").is_some() && flag("--inactive").is_some() {
                return Err(Refusal(
                    vec!["Option --all is incompatible with --inactive".into()],
                    true,
                ));
            }
            if flag("--tree").is_some() && (flag("--cap").is_some() || flag("--inactive").is_some())
            {
                return Err(Refusal(
                    vec!["Option --tree is incompatible with --cap, --inactive, --persistent and --transient".into()],
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
            out.extend(["detach".into(), "--exact-name".into()]);
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
            out.extend(["reset".into(), "--exact-name".into(), need_device(&device)?]);
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
    fn translates_virsh_spellings() {
        assert_eq!(
            t(&["-q", "-c", "qemu:///system", "nodedev-list", "--tree"]).unwrap(),
            ["-q", "list", "--tree"]
        );
        assert_eq!(
            t(&["nodedev-dettach", "pci_0000_00_01_0", "--driver=vfio"]).unwrap(),
            [
                "detach",
                "--exact-name",
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
        assert_eq!(e.0[0], "unknown command: 'start'");
        assert!(e.0[1].contains("not libvirt"));
        assert_eq!(
            t(&["nodedev-detach"]).unwrap_err().0,
            ["command 'nodedev-detach' requires <device> option"]
        );
        assert_eq!(
            t(&["nodedev-list", "--all", "--inactive"]).unwrap_err().0,
            ["Option --all is incompatible with --inactive"]
        );
    }
}
