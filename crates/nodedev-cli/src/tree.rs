//! virsh's tree drawing (`vshTreePrintInternal` in libvirt's tools/vsh.c), line for line.

/// Draws the forest of `names` (already in display order), where `parents[i]` is
/// the parent's name or `None` for a root. Roots are drawn in order, as virsh does.
pub fn draw(names: &[String], parents: &[Option<String>]) -> String {
    // Each node's children, in display order (virsh scans the whole list for
    // each node; the same order, found once).
    let index: std::collections::HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (i, parent) in parents.iter().enumerate() {
        if let Some(&p) = parent.as_deref().and_then(|p| index.get(p)) {
            children[p].push(i);
        }
    }
    let mut out = String::new();
    for (i, parent) in parents.iter().enumerate() {
        if parent.is_none() {
            let mut indent = String::new();
            draw_node(names, &children, i, i, true, &mut indent, &mut out);
        }
    }
    out
}

fn draw_node(
    names: &[String],
    children_of: &[Vec<usize>],
    dev: usize,
    last_sibling: usize,
    root: bool,
    indent: &mut String,
    out: &mut String,
) {
    let name = &names[dev];
    out.push_str(indent);
    if !root {
        out.push_str("+- ");
    }
    out.push_str(name);
    out.push('\n');

    if !root {
        indent.push(if dev == last_sibling { ' ' } else { '|' });
        indent.push(' ');
    }

    let children = &children_of[dev];
    let last_child = children.last().copied();
    if last_child.is_some() {
        out.push_str(indent);
        out.push_str("  |\n");
    }

    indent.push_str("  ");
    for &child in children {
        draw_node(
            names,
            children_of,
            child,
            last_child.unwrap_or(child),
            false,
            indent,
            out,
        );
    }
    indent.truncate(indent.len() - 2);

    // After the last leaf of a branch, a line holding only the indent.
    if last_child.is_none() && dev == last_sibling {
        out.push_str(indent);
        out.push('\n');
    }
    if !root {
        indent.truncate(indent.len() - 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_virsh_layout() {
        let rows = [
            ("computer", None),
            ("net_enp1s0_52_54_00_aa_bb_cc", Some("pci_0000_01_00_0")),
            ("net_lo_00_00_00_00_00_00", Some("computer")),
            ("pci_0000_00_00_0", Some("computer")),
            ("pci_0000_00_01_0", Some("computer")),
            ("pci_0000_00_02_0", Some("computer")),
            ("pci_0000_01_00_0", Some("pci_0000_00_01_0")),
        ];
        let names: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
        let parents: Vec<Option<String>> = rows.iter().map(|r| r.1.map(String::from)).collect();
        let want = "computer
  |
  +- net_lo_00_00_00_00_00_00
  +- pci_0000_00_00_0
  +- pci_0000_00_01_0
  |   |
  |   +- pci_0000_01_00_0
  |       |
  |       +- net_enp1s0_52_54_00_aa_bb_cc
  |         \n  +- pci_0000_00_02_0
    \n";
        assert_eq!(draw(&names, &parents), want);
    }
}
