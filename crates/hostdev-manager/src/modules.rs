//! Kernel modules: choosing the best VFIO variant driver from `modules.alias` (as
//! libvirt ≥ 10 does) and loading a driver's module through a small trait the
//! simulated kernel can stand in for.

use std::path::{Path, PathBuf};
use std::process::Command;

use pci_types::DriverName;

use crate::sysfs::Sysfs;

/// Why a module could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// The module is blacklisted (`blacklist NAME` in modprobe's configuration).
    #[error("Failed to load PCI driver module {0}: administratively prohibited")]
    Prohibited(String),
    /// modprobe failed; its message.
    #[error("Failed to load PCI driver module {module}: {message}")]
    Failed {
        /// The module.
        module: String,
        /// What modprobe said.
        message: String,
    },
}

/// Loads kernel modules (`modprobe -b`). Tests use the simulated kernel's loader.
pub trait ModuleLoader: Send + Sync {
    /// Loads `module` (underscore spelling), honouring the blacklist.
    fn load(&self, module: &str) -> Result<(), ModuleError>;
}

/// The real `modprobe`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Modprobe;

impl ModuleLoader for Modprobe {
    fn load(&self, module: &str) -> Result<(), ModuleError> {
        let out = Command::new("modprobe").arg("-b").arg(module).output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => {
                if is_blacklisted(module) {
                    return Err(ModuleError::Prohibited(module.to_string()));
                }
                Err(ModuleError::Failed {
                    module: module.to_string(),
                    message: String::from_utf8_lossy(&o.stderr).trim().to_string(),
                })
            }
            Err(e) => Err(ModuleError::Failed {
                module: module.to_string(),
                message: format!("cannot run modprobe: {e}"),
            }),
        }
    }
}

/// libvirt's `virKModIsProhibited`: `modprobe -c` lists `blacklist NAME`.
fn is_blacklisted(module: &str) -> bool {
    Command::new("modprobe")
        .arg("-c")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["blacklist", module])
        })
        .unwrap_or(false)
}

/// The running kernel's release (`uname -r`), read from procfs.
pub fn kernel_release(sysfs: &dyn Sysfs) -> Option<String> {
    let b = sysfs.read(Path::new("/proc/sys/kernel/osrelease")).ok()?;
    let s = String::from_utf8_lossy(&b).trim().to_string();
    (!s.is_empty() && !s.contains('/')).then_some(s)
}

/// `/lib/modules/<release>/modules.alias`.
pub fn modules_alias_path(release: &str) -> PathBuf {
    Path::new("/lib/modules")
        .join(release)
        .join("modules.alias")
}

/// The seven fields of a PCI modalias, `pci:vXXXXXXXXdXXXXXXXXsvXXXXXXXXsdXXXXXXXXbcXXscXXiXX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciModalias {
    fields: [String; 7],
}

const MODALIAS_KEYS: [&str; 7] = ["v", "d", "sv", "sd", "bc", "sc", "i"];
const MODALIAS_WIDTHS: [usize; 7] = [8, 8, 8, 8, 2, 2, 2];

impl PciModalias {
    /// Parses a device's `modalias` attribute (`None` if malformed, which libvirt
    /// reports as "device modalias file … has improper format").
    pub fn parse(text: &str) -> Option<Self> {
        let mut rest = text.trim_end().strip_prefix("pci:")?;
        let mut fields: [String; 7] = Default::default();
        for (i, (key, width)) in MODALIAS_KEYS.iter().zip(MODALIAS_WIDTHS).enumerate() {
            rest = rest.strip_prefix(key)?;
            let value = rest.get(..width)?;
            if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            fields[i] = value.to_ascii_uppercase();
            rest = &rest[width..];
        }
        rest.is_empty().then_some(Self { fields })
    }

    /// How well an alias pattern (`vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*`, with
    /// the `vfio_pci:` prefix removed) matches: `Some(wildcards)` or `None`.
    fn match_alias(&self, pattern: &str) -> Option<usize> {
        let mut rest = pattern;
        let mut wildcards = 0;
        for (i, key) in MODALIAS_KEYS.iter().enumerate() {
            rest = rest.strip_prefix(key)?;
            // A field is either `*` or exactly the device's digits.
            if let Some(r) = rest.strip_prefix('*') {
                wildcards += 1;
                rest = r;
            } else {
                let width = MODALIAS_WIDTHS[i];
                let value = rest.get(..width)?;
                if !value.eq_ignore_ascii_case(&self.fields[i]) {
                    return None;
                }
                rest = &rest[width..];
            }
        }
        rest.is_empty().then_some(wildcards)
    }
}

/// libvirt's `virPCIDeviceFindBestVFIOVariant`: among `alias vfio_pci:… MODULE`
/// lines of modules.alias matching the device, the one with the fewest wildcards
/// (the first wins ties). `None` when nothing matches.
pub fn best_vfio_variant(modules_alias: &str, device: &PciModalias) -> Option<String> {
    const PREFIX: &str = "alias vfio_pci:";
    let mut best: Option<(usize, &str)> = None;
    // modules.alias has tens of thousands of lines and a handful of vfio_pci ones:
    // jump from match to match instead of walking every line.
    for (at, _) in modules_alias.match_indices(PREFIX) {
        if at != 0 && modules_alias.as_bytes()[at - 1] != b'\n' {
            continue;
        }
        let rest = &modules_alias[at + PREFIX.len()..];
        let line = rest.split('\n').next().unwrap_or("");
        let mut parts = line.split_whitespace();
        let (Some(pattern), Some(module)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(w) = device.match_alias(pattern) {
            if best.is_none_or(|(bw, _)| w < bw) {
                best = Some((w, module));
            }
        }
    }
    best.map(|(_, m)| m.to_string())
}

/// The `alias vfio_pci:` lines of modules.alias, all [`best_vfio_variant`] reads
/// (a few lines out of tens of thousands: what is worth caching).
pub fn vfio_alias_lines(modules_alias: &str) -> String {
    modules_alias
        .lines()
        .filter(|l| l.starts_with("alias vfio_pci:"))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// The PCI driver a loaded module provides: the first `pci:NAME` entry of
/// `/sys/module/<module>/drivers`.
pub fn module_pci_driver(sysfs: &dyn Sysfs, module: &str) -> Option<DriverName> {
    let dir = Path::new("/sys/module").join(module).join("drivers");
    let mut entries = sysfs.read_dir(&dir).ok()?;
    entries.sort();
    entries
        .iter()
        .find_map(|e| e.strip_prefix("pci:"))
        .and_then(|d| DriverName::new(d).ok())
}

/// Where modprobe reads its configuration (kmod's search path, in its order).
pub const MODPROBE_CONFIG_DIRS: &[&str] = &[
    "/etc/modprobe.d",
    "/run/modprobe.d",
    "/usr/local/lib/modprobe.d",
    "/lib/modprobe.d",
    "/usr/lib/modprobe.d",
];

/// The module a `modules.dep` or `modules.builtin` line names:
/// `kernel/drivers/vfio/pci/vfio-pci.ko.xz: deps` → `vfio_pci`.
fn module_of_line(line: &str) -> Option<String> {
    let path = line.split(':').next()?.trim();
    let file = path.rsplit('/').next()?;
    let name = file.split(".ko").next()?;
    (!name.is_empty() && file.contains(".ko")).then(|| name.replace('-', "_"))
}

/// Whether the running kernel has `module` (underscore spelling): `Some(true)`
/// when `modules.dep` or `modules.builtin` lists it, `Some(false)` when
/// `modules.dep` can be read and neither does, `None` when it cannot (a
/// snapshot has no `/lib/modules`).
pub fn module_exists(sysfs: &dyn Sysfs, module: &str) -> Option<bool> {
    let release = kernel_release(sysfs)?;
    let dir = Path::new("/lib/modules").join(&release);
    let dep = sysfs.read(&dir.join("modules.dep")).ok()?;
    let builtin = sysfs.read(&dir.join("modules.builtin")).unwrap_or_default();
    let listed = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .any(|l| module_of_line(l).as_deref() == Some(module))
    };
    Some(listed(&dep) || listed(&builtin))
}

/// The configuration file that blacklists `module` (`blacklist NAME`), which
/// `modprobe -b` (what a detach runs) honours: `None` when none does (or the
/// files cannot be read).
pub fn blacklisted_by(sysfs: &dyn Sysfs, module: &str) -> Option<PathBuf> {
    let module = module.replace('-', "_");
    let mut files: Vec<PathBuf> = vec![PathBuf::from("/etc/modprobe.conf")];
    for dir in MODPROBE_CONFIG_DIRS {
        let mut names = sysfs.read_dir(Path::new(dir)).unwrap_or_default();
        names.sort();
        files.extend(
            names
                .into_iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| Path::new(dir).join(n)),
        );
    }
    files.into_iter().find(|f| {
        sysfs.read(f).is_ok_and(|b| {
            String::from_utf8_lossy(&b).lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.len() == 2 && words[0] == "blacklist" && words[1].replace('-', "_") == module
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vfio_lines_choose_as_the_whole_table_does() {
        let table = "alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e\nalias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias usb:v1234* x\nalias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n";
        let dev =
            PciModalias::parse("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00").unwrap();
        let lines = vfio_alias_lines(table);
        assert_eq!(lines.lines().count(), 2);
        assert_eq!(
            best_vfio_variant(&lines, &dev),
            best_vfio_variant(table, &dev)
        );
        assert_eq!(
            best_vfio_variant(&lines, &dev).as_deref(),
            Some("mlx5_vfio_pci")
        );
    }

    const ALIASES: &str = "\
alias pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e
alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci
alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci
alias vfio_pci:v000015B3d0000101Esv000015B3sd*bc*sc*i* mlx5_vfio_pci_special
alias vfio_pci:v00008086d00001889sv*sd*bc*sc*i* ice_vfio_pci
";

    #[test]
    fn picks_the_most_specific_variant() {
        let vf =
            PciModalias::parse("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00\n").unwrap();
        assert_eq!(
            best_vfio_variant(ALIASES, &vf).as_deref(),
            Some("mlx5_vfio_pci_special")
        );
        let nic =
            PciModalias::parse("pci:v00008086d000010D3sv00008086sd0000A01Fbc02sc00i00").unwrap();
        assert_eq!(
            best_vfio_variant(ALIASES, &nic).as_deref(),
            Some("vfio_pci")
        );
        assert_eq!(best_vfio_variant("", &nic), None);
    }

    #[test]
    fn module_names_of_dep_lines() {
        for (line, want) in [
            (
                "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz",
                Some("vfio_pci"),
            ),
            ("kernel/drivers/pci/pci-stub.ko:", Some("pci_stub")),
            ("kernel/drivers/vfio/vfio.ko", Some("vfio")),
            ("", None),
            ("# comment", None),
        ] {
            assert_eq!(module_of_line(line).as_deref(), want, "{line}");
        }
    }

    #[test]
    fn rejects_malformed_modalias() {
        for bad in [
            "",
            "pci:",
            "usb:v1d2",
            "pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i0",
            "pci:vZZZZZZZZd0000101Esv000015B3sd00000001bc02sc00i00",
        ] {
            assert_eq!(PciModalias::parse(bad), None, "{bad}");
        }
    }
}
