//! `nodedev reset`: the kernel's own function reset (`reset`, and `reset_method` on
//! Linux ≥ 5.15 to pick a method), with libvirt's refusals and its vfio skip.
//!
//! libvirt never uses the kernel's reset; it runs its own config-space sequence
//! (FLR, PM D3hot→D0, secondary bus reset; `reset/config_space.rs`). That sequence is
//! used here where the kernel offers no reset for a function (no `reset`
//! attribute, or every method disabled in `reset_method`), or when asked for.
//! The kernel's reset is preferred because it runs the driver's reset hooks and
//! knows device quirks that config writes from user space cannot.

use std::path::Path;

use pci_types::PciAddress;

use crate::config::{ConfigSpace, HeaderType};
use crate::device;
use crate::ops::{errno_text, Aftermath, DeviceState, Engine, OpError, Refusal};
use crate::paths;
use crate::stub::{self, StubKind};

mod config_space;
pub use config_space::CONFIG_SPACE_METHODS;

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
    /// Use libvirt's config-space sequence even where the kernel offers a reset.
    pub config_space: bool,
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
    /// libvirt's config-space sequence reset the function.
    ConfigSpace {
        /// The method that worked: `flr`, `af_flr`, `pm` or `bus`.
        method: String,
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
    /// What libvirt's config-space sequence could try, in its order (empty when
    /// config space cannot be read in full, i.e. without root).
    pub config_space: Vec<String>,
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
        let config = self
            .sysfs()
            .read(&paths::device_attr(&address, "config"))
            .unwrap_or_default();
        let config_space = if config.len() >= crate::config::CONVENTIONAL_LEN {
            config_space::detect(&address, &config).names()
        } else {
            Vec::new()
        };
        let kernel_usable = kernel_reset && methods.as_ref().is_none_or(|m| !m.is_empty());
        let driver = device::current_driver(self.sysfs(), &address);
        let would_use = if driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Vfio)
        {
            format!(
                "nothing: bound to {}, which resets it itself (--force resets anyway)",
                driver.unwrap_or_default()
            )
        } else if kernel_usable {
            match &methods {
                Some(m) => format!("the kernel's reset ({} first)", m[0]),
                None => "the kernel's reset".to_string(),
            }
        } else if config.len() < crate::config::CONVENTIONAL_LEN {
            "libvirt's config-space sequence, which needs root to read config space".to_string()
        } else if config_space.is_empty() {
            "none: the kernel offers no reset and config space offers no FLR, PM reset or bus reset"
                .to_string()
        } else {
            format!(
                "libvirt's config-space sequence ({}, first that works; bus only when every other function on the bus is detached or unbound)",
                config_space.join(", ")
            )
        };
        Ok(ResetPlan {
            kernel_reset,
            methods,
            config_space,
            would_use,
        })
    }

    /// Resets one function.
    pub fn reset(&self, address: PciAddress, opts: &ResetOptions) -> Result<ResetOutcome, OpError> {
        let s = self.sysfs();
        // The bus's other functions too: a bus reset checks their drivers, and no
        // detach or reattach of theirs may run while it does. (The root bus is
        // never reset, so its functions are left alone.)
        let mut locked = if address.bus() == 0 {
            Vec::new()
        } else {
            config_space::bus_peers(s, &address)
        };
        locked.push(address);
        locked.sort();
        let _lock = self.lock(&locked)?;
        if !device::exists(s, &address) {
            return Err(OpError::NotFound { address });
        }
        let config = s
            .read(&paths::device_attr(&address, "config"))
            .unwrap_or_default();
        if ConfigSpace::new(&config)
            .header_type()
            .is_some_and(HeaderType::is_bridge)
        {
            return Err(OpError::Libvirt(format!(
                "internal error: Invalid attempt to reset PCI device {address}. Only PCI endpoint devices can be reset"
            )));
        }
        let driver = device::current_driver(s, &address);
        let on_vfio = driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Vfio);
        if let Some(group) = device::iommu_group(s, &address)? {
            let holders = crate::usage::vfio_group_holders(s, group.number);
            if !holders.is_empty() {
                return Err(OpError::Refused(Refusal::HeldThroughVfio {
                    address,
                    holders,
                }));
            }
        }
        if on_vfio && !opts.force {
            return Ok(ResetOutcome::SkippedVfio {
                driver: driver.unwrap_or_default(),
            });
        }
        let reset_path = paths::device_attr(&address, "reset");
        let method_path = paths::device_attr(&address, "reset_method");
        let previous = text(self, &method_path);
        // No attribute, or every method switched off in reset_method (the kernel
        // then answers ENOTTY): the kernel has no reset to offer.
        let kernel_usable =
            s.exists(&reset_path) && previous.as_deref().is_none_or(|m| !m.is_empty());
        if opts.config_space || !kernel_usable {
            return self
                .config_space_reset(address, opts.method.as_deref())
                .map(|method| ResetOutcome::ConfigSpace { method });
        }
        let Some(method) = &opts.method else {
            s.write(&reset_path, b"1")
                .map_err(|source| self.reset_error(address, "the kernel's reset", source))?;
            let methods = previous
                .map(|m| m.split_whitespace().map(String::from).collect())
                .unwrap_or_default();
            return Ok(ResetOutcome::Reset { methods });
        };
        if !RESET_METHODS.contains(&method.as_str()) {
            return Err(OpError::BadRequest(format!(
                "invalid argument: unknown reset method '{method}' (one of {})",
                RESET_METHODS.join(", ")
            )));
        }
        let Some(previous) = previous else {
            return Err(OpError::BadRequest(format!(
                "this kernel has no reset_method for {address} (Linux < 5.15): --method cannot be honoured by the kernel's reset (--config-space --method {method} uses libvirt's config-space sequence)"
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
            after: Aftermath::left(self.state_of(address)),
        }
    }

    /// Where a reset left the device, for its errors: its driver (a reset never
    /// touches driver_override).
    fn state_of(&self, address: PciAddress) -> DeviceState {
        DeviceState {
            driver: device::current_driver(self.sysfs(), &address),
            driver_override: None,
        }
    }
}
