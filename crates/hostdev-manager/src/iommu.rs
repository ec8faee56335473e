//! The IOMMU as the kernel shows it: whether devices are in groups, the IOMMU
//! units, interrupt remapping, each group's default domain (translated, or
//! passthrough with `iommu=pt`), and the groups in numeric order. Everything is
//! read through [`Sysfs`], so a snapshot or the simulated kernel answers as far
//! as it holds the files (a snapshot keeps the groups, not `/proc`).
//!
//! Kernel interfaces: `Documentation/ABI/testing/sysfs-kernel-iommu_groups`
//! (`/sys/kernel/iommu_groups/N/{devices,type}`), `/sys/class/iommu` (one entry
//! per unit: `dmar0` for Intel VT-d, `ivhd0` for AMD-Vi), and the interrupt
//! chips of `/proc/interrupts` (`IR-PCI-MSI`, `IR-IO-APIC` when interrupts are
//! remapped).

use std::path::Path;

use crate::paths;
use crate::sysfs::Sysfs;

/// How to turn the IOMMU on, for messages that find none.
pub const ENABLE_HINT: &str = "to enable it, turn on VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the \
firmware setup, and on Intel add intel_iommu=on to the kernel command line (AMD's is on \
by default; amd_iommu=off or iommu=off turn it off); iommu=pt keeps the host's own \
devices in passthrough mode; then reboot";

/// The IOMMU options of a kernel command line worth showing.
const CMDLINE_OPTIONS: &[&str] = &[
    "intel_iommu",
    "amd_iommu",
    "iommu",
    "iommu.passthrough",
    "iommu.strict",
    "intremap",
    "nointremap",
    "vfio_iommu_type1.allow_unsafe_interrupts",
    "vfio.enable_unsafe_noiommu_mode",
];

/// What the kernel says about its IOMMU.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IommuFacts {
    /// Devices are in IOMMU groups (`/sys/kernel/iommu_groups` is not empty).
    pub present: bool,
    /// How many groups there are.
    pub groups: usize,
    /// The IOMMU units (`/sys/class/iommu`: `dmar0`, `ivhd0`, …); empty when the
    /// tree does not say (a snapshot keeps none).
    pub units: Vec<String>,
    /// Whether interrupts are remapped: `Some(true)` when `/proc/interrupts`
    /// lists remapped chips (`IR-…`), `Some(false)` when it lists MSI or IO-APIC
    /// chips and none remapped, `None` when it cannot tell.
    pub interrupt_remapping: Option<bool>,
    /// `vfio_iommu_type1`'s `allow_unsafe_interrupts`, when the module is loaded.
    pub unsafe_interrupts_allowed: Option<bool>,
    /// vfio's `enable_unsafe_noiommu_mode`: vfio-pci takes devices without an IOMMU.
    pub noiommu_mode: bool,
    /// The IOMMU options of the kernel command line, when it can be read.
    pub cmdline: Option<Vec<String>>,
}

fn text(sysfs: &dyn Sysfs, path: &Path) -> Option<String> {
    sysfs
        .read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

fn yes(value: Option<String>) -> Option<bool> {
    value.map(|v| matches!(v.as_str(), "Y" | "y" | "1"))
}

/// vfio's unsafe no-IOMMU mode is on.
pub fn noiommu_mode(sysfs: &dyn Sysfs) -> bool {
    yes(text(
        sysfs,
        Path::new("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"),
    ))
    .unwrap_or(false)
}

/// Reads what the kernel says about its IOMMU.
pub fn facts(sysfs: &dyn Sysfs) -> IommuFacts {
    let groups = group_numbers(sysfs).len();
    let mut units = sysfs
        .read_dir(Path::new(paths::CLASS_IOMMU))
        .unwrap_or_default();
    units.sort();
    let interrupts = text(sysfs, Path::new("/proc/interrupts"));
    let interrupt_remapping = interrupts.and_then(|t| {
        if t.contains(" IR-") {
            Some(true)
        } else if t.contains("PCI-MSI") || t.contains("IO-APIC") {
            Some(false)
        } else {
            None
        }
    });
    let cmdline = text(sysfs, Path::new("/proc/cmdline")).map(|c| {
        c.split_whitespace()
            .filter(|o| CMDLINE_OPTIONS.contains(&o.split('=').next().unwrap_or(o)))
            .map(String::from)
            .collect()
    });
    IommuFacts {
        present: groups > 0,
        groups,
        units,
        interrupt_remapping,
        unsafe_interrupts_allowed: yes(text(
            sysfs,
            Path::new("/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"),
        )),
        noiommu_mode: noiommu_mode(sysfs),
        cmdline,
    }
}

/// The IOMMU groups, in numeric order.
pub fn group_numbers(sysfs: &dyn Sysfs) -> Vec<u32> {
    let mut out: Vec<u32> = sysfs
        .read_dir(Path::new(paths::IOMMU_GROUPS))
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

/// A group's default domain type (`/sys/kernel/iommu_groups/N/type`, Linux ≥
/// 5.11): `DMA` or `DMA-FQ` (translated), `identity` (passthrough), `unmanaged`
/// (a user such as VFIO owns it), `blocked`.
pub fn domain_type(sysfs: &dyn Sysfs, group: u32) -> Option<String> {
    text(
        sysfs,
        &Path::new(paths::IOMMU_GROUPS)
            .join(group.to_string())
            .join("type"),
    )
    .filter(|t| !t.is_empty())
}

/// A domain type in words.
pub fn describe_domain(domain_type: &str) -> String {
    match domain_type {
        "identity" => "passthrough (identity: iommu=pt)".to_string(),
        "DMA" => "translated (DMA)".to_string(),
        "DMA-FQ" => "translated (DMA-FQ: lazy invalidation)".to_string(),
        "unmanaged" => "owned by a user such as VFIO (unmanaged)".to_string(),
        "blocked" => "blocked".to_string(),
        other => other.to_string(),
    }
}

/// What kind of IOMMU a `/sys/class/iommu` entry is.
pub fn unit_kind(unit: &str) -> &'static str {
    if unit.starts_with("dmar") {
        "Intel VT-d"
    } else if unit.starts_with("ivhd") {
        "AMD-Vi"
    } else if unit.starts_with("smmu") {
        "Arm SMMU"
    } else {
        "IOMMU"
    }
}

impl IommuFacts {
    /// One line for people: `present (26 groups; Intel VT-d dmar0; interrupt
    /// remapping on)`, or `none: <how to enable it>`.
    pub fn summary(&self) -> String {
        if !self.present {
            return if self.noiommu_mode {
                "none, but vfio's unsafe no-IOMMU mode is on (no isolation: the device can reach all host memory)".to_string()
            } else {
                format!("none: {ENABLE_HINT}")
            };
        }
        let mut parts = vec![format!(
            "{} group{}",
            self.groups,
            if self.groups == 1 { "" } else { "s" }
        )];
        if !self.units.is_empty() {
            let units: Vec<String> = self
                .units
                .iter()
                .map(|u| format!("{} {u}", unit_kind(u)))
                .collect();
            parts.push(units.join(", "));
        }
        parts.push(match self.interrupt_remapping {
            Some(true) => "interrupt remapping on".to_string(),
            Some(false) if self.unsafe_interrupts_allowed == Some(true) => {
                "interrupt remapping off (allow_unsafe_interrupts is set)".to_string()
            }
            Some(false) => "interrupt remapping off: VFIO refuses to start a guest unless vfio_iommu_type1.allow_unsafe_interrupts=1".to_string(),
            None => "interrupt remapping not known".to_string(),
        });
        format!("present ({})", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let mut f = IommuFacts {
            present: true,
            groups: 2,
            units: vec!["dmar0".into()],
            interrupt_remapping: Some(true),
            unsafe_interrupts_allowed: None,
            noiommu_mode: false,
            cmdline: None,
        };
        assert_eq!(
            f.summary(),
            "present (2 groups; Intel VT-d dmar0; interrupt remapping on)"
        );
        f.interrupt_remapping = Some(false);
        assert!(f.summary().contains("allow_unsafe_interrupts=1"));
        f.present = false;
        assert!(f.summary().starts_with("none: to enable it"));
        assert!(f.summary().contains("intel_iommu=on"));
        assert_eq!(
            describe_domain("identity"),
            "passthrough (identity: iommu=pt)"
        );
        assert_eq!(unit_kind("ivhd0"), "AMD-Vi");
    }
}
