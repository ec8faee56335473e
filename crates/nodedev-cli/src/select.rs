//! Choosing devices besides by name: every function with given ids (`--id
//! VVVV:DDDD[:SVVV:SDDD]`), and a network interface's PCI function (`eth1`).
//!
//! An `--id` that is malformed or matches no function stops the command before
//! anything is written (a typo must not half-apply a batch); names keep the
//! batch rule (each name fails or succeeds on its own).

use anyhow::Result;
use hostdev_manager::{device, paths, sysfs::resolve_link, Sysfs};
use pci_types::PciAddress;

use crate::lookup::pci_target;
use crate::output::{escape_controls, virsh_error};

/// A `--id` value: vendor and device, optionally the subsystem's too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMatch {
    vendor: u16,
    device: u16,
    subsystem: Option<(u16, u16)>,
}

impl IdMatch {
    /// Parses `VVVV:DDDD` or `VVVV:DDDD:SVVV:SDDD` (four hex digits each).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<u16> = s
            .split(':')
            .map(|p| {
                (p.len() == 4 && p.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u16::from_str_radix(p, 16).ok())
                    .flatten()
            })
            .collect::<Option<_>>()?;
        match parts[..] {
            [vendor, device] => Some(Self {
                vendor,
                device,
                subsystem: None,
            }),
            [vendor, device, sv, sd] => Some(Self {
                vendor,
                device,
                subsystem: Some((sv, sd)),
            }),
            _ => None,
        }
    }

    fn matches(&self, i: &device::Identity) -> bool {
        i.vendor == self.vendor
            && i.device == self.device
            && self
                .subsystem
                .is_none_or(|(sv, sd)| i.subsystem_vendor == sv && i.subsystem_device == sd)
    }
}

/// Every function the `--id` values select, in address order, each once; an
/// error (virsh's lines, nothing written) for a malformed value or one that
/// matches nothing. `verb` is the command's, for "Failed to detach device".
pub fn functions_with_ids(
    sysfs: &dyn Sysfs,
    ids: &[String],
    verb: &str,
) -> Result<Vec<PciAddress>> {
    let mut matchers = Vec::with_capacity(ids.len());
    for raw in ids {
        let Some(m) = IdMatch::parse(raw) else {
            return Err(virsh_error(&[
                format!("Failed to {verb} device {}", escape_controls(raw)),
                format!(
                    "invalid argument: --id '{}': expected VVVV:DDDD or VVVV:DDDD:SVVV:SDDD (four hex digits each)",
                    escape_controls(raw)
                ),
            ]));
        };
        matchers.push((raw, m));
    }
    if matchers.is_empty() {
        return Ok(Vec::new());
    }
    let all: Vec<(PciAddress, device::Identity)> = device::list_addresses(sysfs)?
        .into_iter()
        .map(|a| (a, device::read_identity(sysfs, &a)))
        .collect();
    let mut chosen: Vec<PciAddress> = Vec::new();
    for (raw, m) in matchers {
        let found: Vec<PciAddress> = all
            .iter()
            .filter(|(_, i)| m.matches(i))
            .map(|(a, _)| *a)
            .collect();
        if found.is_empty() {
            let raw = escape_controls(raw);
            return Err(virsh_error(&[
                format!("Could not find matching device '{raw}'"),
                format!("Node device not found: no PCI function with ids {raw}"),
            ]));
        }
        chosen.extend(found);
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

/// The PCI function behind a network interface: `None` if there is no such
/// interface; an error that says what the interface is when no PCI function
/// provides it (`lo`, a bridge, a bond, a tunnel).
pub fn interface_function(sysfs: &dyn Sysfs, name: &str) -> Option<Result<PciAddress>> {
    // Linux's rule for interface names (dev_valid_name): at most 15 bytes, no
    // '/', ':' or whitespace, not "." or "..".
    let valid = !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if !valid {
        return None;
    }
    let link = std::path::Path::new(paths::CLASS_NET).join(name);
    let target = sysfs.read_link(&link).ok()?;
    let real = resolve_link(&link, &target);
    let is_pci = |a: &PciAddress| device::exists(sysfs, a);
    if let Some(a) = device::pci_parent_of(&real, &is_pci) {
        return Some(Ok(a));
    }
    let kind = if sysfs.exists(&link.join("bridge")) {
        "a bridge"
    } else if sysfs.exists(&link.join("bonding")) {
        "a bond"
    } else if name == "lo" {
        "the loopback interface"
    } else if real.starts_with("/sys/devices/virtual") {
        "a virtual interface"
    } else {
        "not on a PCI bus"
    };
    Some(Err(anyhow::anyhow!(
        "invalid argument: interface {} is not backed by a PCI device ({kind}): name the PCI device it runs on instead",
        escape_controls(name)
    )))
}

/// The commands' targets: each name (resolved on its own: an unknown one is
/// that item's failure), then each function the `--id` values select (named
/// by node-device name). Malformed or unmatched `--id` values fail the whole
/// command first.
pub fn targets(
    sysfs: &dyn Sysfs,
    names: &[String],
    ids: &[String],
    exact: bool,
    verb: &str,
) -> Result<Vec<(String, Result<PciAddress>)>> {
    let by_id = functions_with_ids(sysfs, ids, verb)?;
    let mut out: Vec<(String, Result<PciAddress>)> = names
        .iter()
        .map(|n| (n.clone(), pci_target(sysfs, n, exact)))
        .collect();
    out.extend(by_id.into_iter().map(|a| (a.nodedev_name(), Ok(a))));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_spellings() {
        assert_eq!(
            IdMatch::parse("8086:10d3"),
            Some(IdMatch {
                vendor: 0x8086,
                device: 0x10d3,
                subsystem: None
            })
        );
        assert_eq!(
            IdMatch::parse("8086:10D3:1af4:1100").unwrap().subsystem,
            Some((0x1af4, 0x1100))
        );
        for bad in [
            "",
            "8086",
            "8086:",
            "8086:10d",
            "8086:10d3:1af4",
            "8086:10d3:",
            "0x8086:10d3",
            "8086:10d3:1af4:1100:0",
            "8086-10d3",
            "+086:10d3",
            "8086:10d3\n",
        ] {
            assert_eq!(IdMatch::parse(bad), None, "{bad:?}");
        }
    }
}
