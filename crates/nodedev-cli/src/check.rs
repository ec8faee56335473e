//! `nodedev check`: every device both this tool and libvirt list, our XML against
//! the daemon's, one unified diff per device that differs (libvirt's side `-`,
//! ours `+`), and a summary. Exit status 1 when any document differs or when this
//! tool lists a device libvirt does not. A user runs it once to trust the tool
//! on a host.
//!
//! The diff itself ([`first_difference`], [`unified_diff`]) needs no libvirt.

// Without the backend only the tests use the diff.
#![cfg_attr(not(feature = "libvirt"), allow(dead_code))]

/// The first line where two documents differ: its number (from 1) and both
/// lines (`None` past the end of a document).
pub fn first_difference<'a>(
    a: &'a str,
    b: &'a str,
) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (None, None) => return (a != b).then_some((n, None, None)),
            (x, y) if x == y => continue,
            (x, y) => return Some((n, x, y)),
        }
    }
}

/// A unified diff (3 lines of context, as `diff -u`) from `a` (labelled `from`) to
/// `b`, or `None` when they are equal.
pub fn unified_diff(a: &str, b: &str, from: &str, to: &str) -> Option<String> {
    if a == b {
        return None;
    }
    Some(
        similar::TextDiff::from_lines(a, b)
            .unified_diff()
            .context_radius(3)
            .header(from, to)
            .to_string(),
    )
}

#[cfg(feature = "libvirt")]
pub use command::check;

#[cfg(feature = "libvirt")]
mod command {
    use std::collections::BTreeMap;
    use std::io::Write;

    use anyhow::Result;
    use hostdev_manager::Inventory;

    use super::{first_difference, unified_diff};
    use crate::app::Backend;
    use crate::cli::{CheckArgs, Cli};
    use crate::libvirt::Libvirt;
    use crate::lookup::{pci_ids_path, virsh_name_order};
    use crate::output::ReportedFailure;
    use crate::render::{inventory_nodes, Names};

    /// `nodedev check`.
    pub fn check(
        cli: &Cli,
        backend: &Backend,
        lv: &Libvirt,
        args: &CheckArgs,
        out: &mut dyn Write,
    ) -> Result<()> {
        let names = Names::load(pci_ids_path(cli.pci_ids.as_deref()).as_deref())?;
        let ours: BTreeMap<String, String> =
            inventory_nodes(&Inventory::read(backend.host.sysfs())?, &names)
                .into_iter()
                .map(|d| (d.name.clone(), d.to_xml()))
                .collect();
        let theirs: Vec<String> = lv
            .names(crate::libvirt::LIST_ACTIVE)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let mut compared = 0;
        let mut differ = Vec::new();
        let mut only_libvirt = Vec::new();
        for name in &theirs {
            let Some(our_xml) = ours.get(name) else {
                only_libvirt.push(name.as_str());
                continue;
            };
            compared += 1;
            let their_xml = lv.xml(name)?;
            match unified_diff(
                &their_xml,
                our_xml,
                &format!("libvirt {name}"),
                &format!("nodedev {name}"),
            ) {
                None if args.verbose => writeln!(out, "same {name}")?,
                None => {}
                Some(diff) => {
                    let (line, a, b) =
                        first_difference(&their_xml, our_xml).unwrap_or((0, None, None));
                    writeln!(
                        out,
                        "DIFFERS {name}: line {line}: libvirt {}, nodedev {}",
                        a.map_or("(end)".to_string(), |l| format!("'{}'", l.trim())),
                        b.map_or("(end)".to_string(), |l| format!("'{}'", l.trim()))
                    )?;
                    out.write_all(diff.as_bytes())?;
                    differ.push(name.clone());
                }
            }
        }
        let mut only_ours: Vec<&str> = ours
            .keys()
            .map(String::as_str)
            .filter(|n| !theirs.iter().any(|t| t == n))
            .collect();
        only_ours.sort_by(|a, b| virsh_name_order(a, b));
        for name in &only_ours {
            writeln!(
                out,
                "ONLY-NODEDEV {name}: listed by nodedev, not by libvirt"
            )?;
        }
        writeln!(
            out,
            "check: {compared} devices compared, {} differ, {} listed by nodedev only, {} by libvirt only{}",
            differ.len(),
            only_ours.len(),
            only_libvirt.len(),
            if only_libvirt.is_empty() {
                String::new()
            } else {
                format!(" ({})", only_libvirt.join(" "))
            }
        )?;
        if !differ.is_empty() || !only_ours.is_empty() {
            return Err(ReportedFailure.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_documents_have_no_diff() {
        assert_eq!(unified_diff("a\nb\n", "a\nb\n", "x", "y"), None);
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    }

    #[test]
    fn names_the_first_differing_line() {
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n"),
            Some((2, Some("b"), Some("B")))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some((2, None, Some("b")))
        );
    }

    #[test]
    fn unified_diff_has_context_and_hunks() {
        let a: String = (1..=20).map(|i| format!("l{i}\n")).collect();
        let b = a.replace("l5\n", "L5\n").replace("l18\n", "");
        let d = unified_diff(&a, &b, "libvirt", "nodedev").unwrap();
        assert_eq!(
            d,
            "--- libvirt\n+++ nodedev\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+L5\n l6\n l7\n l8\n@@ -15,6 +15,5 @@\n l15\n l16\n l17\n-l18\n l19\n l20\n"
        );
    }
}
