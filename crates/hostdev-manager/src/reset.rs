//! `nodedev reset`: the kernel's own function reset (`reset`, and `reset_method` on
//! Linux ≥ 5.15 to pick a method), with libvirt's refusals and its vfio skip.
//!
//! libvirt never uses the kernel's reset; it runs its own config-space sequence
//! (FLR detection, PM D3hot→D0, secondary bus reset). That fallback, for kernels or
//! devices without a `reset` attribute, is not implemented yet: such a device gets
//! a clear error instead.

use std::path::Path;

use pci_types::PciAddress;

use crate::config::{ConfigSpace, HeaderType};
use crate::device;
use crate::ops::{errno_text, DeviceState, Engine, OpError};
use crate::paths;
use crate::stub::{self, StubKind};
use crate::usage;

/// The method names `reset_method` knows.
pub const RESET_METHODS: &[&str] = &[
    "device_specific",
    "acpi",
    "flr",
    "af_flr",
    "pm",
    "bus",
    "cxl_bus",
];

/// Options of a reset.
#[derive(Clone, Debug, Default)]
pub struct ResetOptions {
    /// Use only this method (through `reset_method`), restoring the list after.
    pub method: Option<String>,
    /// Reset a device bound to vfio too (when no process holds its group).
    pub force: bool,
}

/// What a reset did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ResetOutcome {
    /// The kernel reset the function.
    Reset {
        /// The methods the kernel had enabled (its order), or the one forced.
        methods: Vec<String>,
    },
    /// Bound to vfio, which resets the device itself (libvirt skips it too).
    SkippedVfio {
        /// The vfio driver.
        driver: String,
    },
}

/// What `reset --list` shows.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ResetPlan {
    /// The device has a `reset` attribute.
    pub kernel_reset: bool,
    /// `reset_method`'s list (`None` on kernels before 5.15).
    pub methods: Option<Vec<String>>,
    /// What `reset` would do, in words.
    pub would_use: String,
}

fn text(engine: &Engine, path: &Path) -> Option<String> {
    engine
        .sysfs()
        .read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

impl Engine {
    /// What a reset of this device would use.
    pub fn reset_plan(&self, address: PciAddress) -> Result<ResetPlan, OpError> {
        if !device::exists(self.sysfs(), &address) {
            return Err(OpError::NotFound { address });
        }
        let kernel_reset = self.sysfs().exists(&paths::device_attr(&address, "reset"));
        let methods = text(self, &paths::device_attr(&address, "reset_method"))
            .map(|m| m.split_whitespace().map(String::from).collect::<Vec<_>>());
        let driver = device::current_driver(self.sysfs(), &address);
        let would_use = if driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Vfio)
        {
            format!(
                "nothing: bound to {}, which resets it itself (--force resets anyway)",
                driver.unwrap_or_default()
            )
        } else if kernel_reset {
            match &methods {
                Some(m) if !m.is_empty() => format!("the kernel's reset ({} first)", m[0]),
                _ => "the kernel's reset".to_string(),
            }
        } else {
            "none: no kernel reset for this device (libvirt's config-space fallback is not implemented yet)".to_string()
        };
        Ok(ResetPlan {
            kernel_reset,
            methods,
            would_use,
        })
    }

    /// Resets one function.
    pub fn reset(&self, address: PciAddress, opts: &ResetOptions) -> Result<ResetOutcome, OpError> {
        let _lock = self.lock_devices(&[address])?;
        let s = self.sysfs();
        if !device::exists(s, &address) {
            return Err(OpError::NotFound { address });
        }
        let config = s
            .read(&paths::device_attr(&address, "config"))
            .unwrap_or_default();
        if matches!(ConfigSpace::new(&config).header_type(), Some(h) if h != HeaderType::Endpoint) {
            return Err(OpError::Refused {
                reason: format!(
                    "internal error: Invalid attempt to reset PCI device {address}. Only PCI endpoint devices can be reset"
                ),
                forceable: false,
            });
        }
        let driver = device::current_driver(s, &address);
        let on_vfio = driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Vfio);
        if let Some(group) = device::iommu_group(s, &address)? {
            let node = Path::new("/dev/vfio").join(group.number.to_string());
            let holders = usage::processes_holding(s, std::slice::from_ref(&node.to_path_buf()));
            if !holders.is_empty() {
                let list: Vec<String> = holders.iter().map(ToString::to_string).collect();
                return Err(OpError::Refused {
                    reason: format!("{address} is in use through VFIO: {}", list.join(", ")),
                    forceable: false,
                });
            }
        }
        if on_vfio && !opts.force {
            return Ok(ResetOutcome::SkippedVfio {
                driver: driver.unwrap_or_default(),
            });
        }
        let reset_path = paths::device_attr(&address, "reset");
        if !s.exists(&reset_path) {
            return Err(OpError::Invalid(format!(
                "internal error: Unable to reset PCI device {address}: the kernel offers no reset for it (no 'reset' attribute), and libvirt's config-space fallback is not implemented yet"
            )));
        }
        let method_path = paths::device_attr(&address, "reset_method");
        let previous = text(self, &method_path);
        let Some(method) = &opts.method else {
            s.write(&reset_path, b"1")
                .map_err(|source| self.reset_error(address, "the kernel's reset", source))?;
            let methods = previous
                .map(|m| m.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            return Ok(ResetOutcome::Reset { methods });
        };
        if !RESET_METHODS.contains(&method.as_str()) {
            return Err(OpError::Invalid(format!(
                "invalid argument: unknown reset method '{method}' (one of {})",
                RESET_METHODS.join(", ")
            )));
        }
        let Some(previous) = previous else {
            return Err(OpError::Invalid(format!(
                "this kernel has no reset_method for {address} (Linux < 5.15): --method cannot be honoured"
            )));
        };
        s.write(&method_path, method.as_bytes()).map_err(|source| {
            self.reset_error(
                address,
                &format!("selecting reset method '{method}'"),
                source,
            )
        })?;
        let result = s.write(&reset_path, b"1");
        // Always put the list back, also after a failed reset. The list read earlier
        // can hold a method the kernel no longer accepts (a `bus` entry goes stale
        // once the bus has other devices, e.g. a PF's VFs): then ask for the kernel's
        // default list, which is what it was unless someone had changed it.
        let restored = s.write(&method_path, previous.as_bytes()).or_else(|e| {
            if e.raw_os_error() == Some(22) {
                s.write(&method_path, b"default")
            } else {
                Err(e)
            }
        });
        if let Err(source) = result {
            let mut e = self.reset_error(address, &format!("reset method '{method}'"), source);
            if let OpError::Write { what, .. } = &mut e {
                what.push_str(&match &restored {
                    Ok(()) => format!(" (reset_method restored to '{previous}')"),
                    Err(r) => format!(
                        " (restoring reset_method to '{previous}' failed too: {})",
                        errno_text(r)
                    ),
                });
            }
            return Err(e);
        }
        restored.map_err(|source| {
            self.reset_error(
                address,
                &format!("restoring reset_method to '{previous}' after a successful reset"),
                source,
            )
        })?;
        Ok(ResetOutcome::Reset {
            methods: vec![method.clone()],
        })
    }

    fn reset_error(&self, address: PciAddress, what: &str, source: std::io::Error) -> OpError {
        OpError::Write {
            what: format!("Unable to reset PCI device {address} with {what}"),
            source,
            state: DeviceState {
                driver: device::current_driver(self.sysfs(), &address),
                driver_override: None,
            },
            rolled_back: false,
        }
    }
}
