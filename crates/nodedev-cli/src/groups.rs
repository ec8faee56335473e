//! `nodedev groups`: every IOMMU group in numeric order, each member as `lspci
//! -nn` names it, and whether VFIO can use the group now under the kernel's
//! viability rule (the engine's `standing`, the rule `detach` warns with).

use std::io::Write;

use anyhow::{bail, Context, Result};
use hostdev_manager::ops::{GroupReport, Standing};
use hostdev_manager::pci_ids::PciIds;
use hostdev_manager::{device, iommu, paths, IommuGroup, Sysfs};
use pci_types::PciAddress;

use crate::cli::{Cli, GroupsArgs};
use crate::lookup;

/// The class names `--class` knows: a name, and the class codes it matches
/// (one byte: a class; two: class and subclass).
const CLASSES: &[(&str, &[u32])] = &[
    ("gpu", &[0x03]),
    ("display", &[0x03]),
    ("vga", &[0x0300]),
    ("audio", &[0x0401, 0x0403]),
    ("multimedia", &[0x04]),
    ("net", &[0x02]),
    ("network", &[0x02]),
    ("ethernet", &[0x0200]),
    ("wireless", &[0x0d]),
    ("storage", &[0x01]),
    ("nvme", &[0x0108]),
    ("sata", &[0x0106]),
    ("sas", &[0x0107]),
    ("raid", &[0x0104]),
    ("usb", &[0x0c03]),
    ("serial-bus", &[0x0c]),
    ("bridge", &[0x06]),
    ("crypto", &[0x10]),
    ("accelerator", &[0x12]),
];

/// A `--class` filter: class-code prefixes, each `(code, bytes)`.
struct ClassFilter(Vec<(u32, u32)>);

impl ClassFilter {
    fn parse(text: &str) -> Result<Self> {
        if let Some((_, codes)) = CLASSES.iter().find(|(n, _)| *n == text) {
            return Ok(Self(
                codes
                    .iter()
                    .map(|c| (*c, if *c > 0xff { 2 } else { 1 }))
                    .collect(),
            ));
        }
        let hex = text.strip_prefix("0x").unwrap_or(text);
        if matches!(hex.len(), 2 | 4 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let code = u32::from_str_radix(hex, 16).expect("hex digits");
            return Ok(Self(vec![(code, hex.len() as u32 / 2)]));
        }
        let names: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
        bail!(
            "unknown class '{}': use one of {}, or a class code in hex (03, 0300, 030000)",
            crate::output::escape_controls(text),
            names.join(", ")
        )
    }

    fn matches(&self, class: Option<u32>) -> bool {
        let Some(class) = class else { return false };
        self.0
            .iter()
            .any(|(code, bytes)| class >> (8 * (3 - bytes)) == *code)
    }
}

/// The pci.ids database the command line names (or the system's), if any.
pub(crate) fn load_ids(cli: &Cli) -> Result<Option<PciIds>> {
    lookup::pci_ids_path(cli.pci_ids.as_deref())
        .map(|p| PciIds::load(&p).with_context(|| format!("failed to read {}", p.display())))
        .transpose()
}

/// What `lspci -nn` shows of a function, read with four attribute reads
/// (`vendor`, `device`, `class`, `revision`).
pub(crate) struct Function {
    pub address: PciAddress,
    pub vendor: u16,
    pub device: u16,
    pub class: Option<u32>,
    pub revision: Option<u8>,
}

fn hex(sysfs: &dyn Sysfs, address: &PciAddress, attr: &str) -> Option<u32> {
    let b = sysfs.read(&paths::device_attr(address, attr)).ok()?;
    let t = String::from_utf8_lossy(&b);
    u32::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok()
}

impl Function {
    pub(crate) fn read(sysfs: &dyn Sysfs, address: &PciAddress) -> Self {
        let identity = device::read_identity(sysfs, address);
        // `revision` (Linux ≥ 4.x), else byte 8 of config space.
        let revision = hex(sysfs, address, "revision")
            .and_then(|r| u8::try_from(r).ok())
            .or_else(|| {
                sysfs
                    .read(&paths::device_attr(address, "config"))
                    .ok()?
                    .get(8)
                    .copied()
            });
        Self {
            address: *address,
            vendor: identity.vendor,
            device: identity.device,
            class: hex(sysfs, address, "class"),
            revision,
        }
    }

    /// As `lspci -nn` describes it: `Ethernet controller [0200]: Intel Corporation
    /// 82574L Gigabit Network Connection [8086:10d3] (rev 00)`.
    pub(crate) fn describe(&self, ids: Option<&PciIds>) -> String {
        let class = self.class.unwrap_or(0x00ff_ffff);
        let class_name = ids
            .and_then(|i| i.class_name(class))
            .map_or_else(|| "Class".to_string(), str::to_string);
        let vendor = ids.and_then(|i| i.vendor_name(self.vendor));
        let product = ids.and_then(|i| i.device_name(self.vendor, self.device));
        let name = match (vendor, product) {
            (Some(v), Some(p)) => format!("{v} {p}"),
            (Some(v), None) => format!("{v} Device"),
            (None, _) => "Device".to_string(),
        };
        let mut text = format!(
            "{class_name} [{:04x}]: {name} [{:04x}:{:04x}]",
            class >> 8,
            self.vendor,
            self.device
        );
        if let Some(r) = self.revision {
            text.push_str(&format!(" (rev {r:02x})"));
        }
        text
    }
}

/// One member, for JSON.
#[derive(serde::Serialize)]
struct MemberJson {
    address: PciAddress,
    name: String,
    class: Option<String>,
    class_name: Option<String>,
    vendor: String,
    vendor_name: Option<String>,
    device: String,
    device_name: Option<String>,
    revision: Option<String>,
    description: String,
    driver: Option<String>,
    standing: Standing,
}

/// One group, for JSON.
#[derive(serde::Serialize)]
struct GroupJson {
    group: u32,
    domain_type: Option<String>,
    viable: bool,
    blocked_by: Vec<PciAddress>,
    members: Vec<MemberJson>,
}

/// The members of group `n`, in address order.
fn group_members(sysfs: &dyn Sysfs, n: u32) -> Result<Vec<PciAddress>> {
    let dir = paths::iommu_group_devices(n);
    let names = sysfs
        .read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?;
    let mut members: Vec<PciAddress> = names
        .iter()
        .filter_map(|n| PciAddress::from_sysfs_name(n).ok())
        .collect();
    members.sort();
    Ok(members)
}

/// What a member is besides its driver: `exempt (bridge)`.
fn standing_note(s: Standing) -> &'static str {
    match s {
        Standing::Exempt => ", exempt (bridge)",
        Standing::Fine | Standing::Blocks => "",
    }
}

/// The group's line: `viable`, or who blocks it.
fn viability(report: &GroupReport) -> String {
    let blocking: Vec<String> = report
        .blocking()
        .map(|m| {
            format!(
                "{} ({})",
                m.address.short_name(),
                m.driver.as_deref().unwrap_or("no driver")
            )
        })
        .collect();
    if !blocking.is_empty() {
        return format!("blocked by {}", blocking.join(", "));
    }
    if report
        .members
        .iter()
        .all(|m| m.standing == Standing::Exempt)
    {
        "viable (bridges only)".to_string()
    } else {
        "viable".to_string()
    }
}

/// The message for a tree without IOMMU groups.
fn no_iommu(sysfs: &dyn Sysfs, out: &mut dyn Write) -> Result<()> {
    let facts = iommu::facts(sysfs);
    writeln!(
        out,
        "No IOMMU groups: the kernel put no device in an IOMMU group, so the IOMMU is off or absent and VFIO cannot pass a device through{}.",
        if facts.noiommu_mode {
            " (vfio's unsafe no-IOMMU mode is on: devices get a group when vfio-pci takes them, without isolation)"
        } else {
            ""
        }
    )?;
    let mut hint = iommu::ENABLE_HINT.to_string();
    hint[..1].make_ascii_uppercase();
    writeln!(out, "{hint}.")?;
    if let Some(c) = facts.cmdline.filter(|c| !c.is_empty()) {
        writeln!(out, "Kernel command line: {}", c.join(" "))?;
    }
    Ok(())
}

/// `nodedev groups`.
pub fn groups(cli: &Cli, sysfs: &dyn Sysfs, args: &GroupsArgs, out: &mut dyn Write) -> Result<()> {
    let filter = args.class.as_deref().map(ClassFilter::parse).transpose()?;
    let numbers = iommu::group_numbers(sysfs);
    if numbers.is_empty() {
        if args.json {
            let value = serde_json::json!({
                "iommu": iommu::facts(sysfs),
                "groups": [],
                "hint": iommu::ENABLE_HINT,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            return Ok(());
        }
        return no_iommu(sysfs, out);
    }
    if let Some(g) = args.group.filter(|g| !numbers.contains(g)) {
        bail!(
            "no IOMMU group {g}: this machine has groups {}-{}",
            numbers[0],
            numbers[numbers.len() - 1]
        );
    }
    let ids = load_ids(cli)?;
    let mut shown: Vec<GroupJson> = Vec::new();
    for n in numbers
        .into_iter()
        .filter(|n| args.group.is_none_or(|g| g == *n))
    {
        let members = group_members(sysfs, n)?;
        let functions: Vec<Function> = members.iter().map(|a| Function::read(sysfs, a)).collect();
        if let Some(f) = &filter {
            if !functions.iter().any(|d| f.matches(d.class)) {
                continue;
            }
        }
        // Members in address order, as `functions`.
        let report = GroupReport::read(sysfs, &IommuGroup { number: n, members });
        let mut json_members = Vec::new();
        for (d, m) in functions.iter().zip(&report.members) {
            let class = d.class.unwrap_or(0x00ff_ffff);
            json_members.push(MemberJson {
                address: d.address,
                name: d.address.nodedev_name(),
                class: d.class.map(|c| format!("0x{c:06x}")),
                class_name: ids
                    .as_ref()
                    .and_then(|i| i.class_name(class))
                    .map(str::to_string),
                vendor: format!("0x{:04x}", d.vendor),
                vendor_name: ids
                    .as_ref()
                    .and_then(|i| i.vendor_name(d.vendor))
                    .map(str::to_string),
                device: format!("0x{:04x}", d.device),
                device_name: ids
                    .as_ref()
                    .and_then(|i| i.device_name(d.vendor, d.device))
                    .map(str::to_string),
                revision: d.revision.map(|r| format!("0x{r:02x}")),
                description: d.describe(ids.as_ref()),
                driver: m.driver.clone(),
                standing: m.standing,
            });
        }
        if !args.json {
            writeln!(out, "IOMMU group {n}: {}", viability(&report))?;
            for m in &json_members {
                writeln!(
                    out,
                    "  {} {}  {}  {}{}",
                    m.address.short_name(),
                    m.name,
                    m.description,
                    m.driver
                        .as_deref()
                        .map_or_else(|| "no driver".to_string(), |d| format!("driver: {d}")),
                    standing_note(m.standing)
                )?;
            }
        }
        shown.push(GroupJson {
            group: n,
            domain_type: report.domain_type.clone(),
            viable: report.blocking().next().is_none(),
            blocked_by: report.blocking().map(|m| m.address).collect(),
            members: json_members,
        });
    }
    if args.json {
        let value = serde_json::json!({
            "iommu": iommu::facts(sysfs),
            "groups": shown,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else if shown.is_empty() {
        writeln!(
            out,
            "No IOMMU group has a device of class {}.",
            crate::output::escape_controls(args.class.as_deref().unwrap_or(""))
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_filters() {
        let gpu = ClassFilter::parse("gpu").unwrap();
        assert!(gpu.matches(Some(0x030000)) && gpu.matches(Some(0x030200)));
        assert!(!gpu.matches(Some(0x040300)) && !gpu.matches(None));
        let audio = ClassFilter::parse("audio").unwrap();
        assert!(audio.matches(Some(0x040300)) && audio.matches(Some(0x040100)));
        assert!(!audio.matches(Some(0x040000)));
        let nvme = ClassFilter::parse("nvme").unwrap();
        assert!(nvme.matches(Some(0x010802)) && !nvme.matches(Some(0x010601)));
        assert!(ClassFilter::parse("0x0300")
            .unwrap()
            .matches(Some(0x030000)));
        assert!(ClassFilter::parse("030000")
            .unwrap()
            .matches(Some(0x030000)));
        assert!(!ClassFilter::parse("030001")
            .unwrap()
            .matches(Some(0x030000)));
        for bad in ["", "gpus", "3", "0x12345", "zz"] {
            let e = ClassFilter::parse(bad).err().unwrap().to_string();
            assert!(e.contains("unknown class") && e.contains("nvme"), "{e}");
        }
    }
}
