//! Which stub driver a detach binds, and making sure it is there.

use pci_types::{DriverName, PciAddress};

use super::error::OpError;
use super::preflight::DriverStatus;
use super::Engine;
use crate::modules::{self, PciModalias};
use crate::paths;
use crate::stub::{self, DriverRequest};

impl Engine {
    /// The driver name for a request: for VFIO, the best variant driver for the
    /// device in modules.alias (libvirt ≥ 10 does the same), else vfio-pci.
    pub fn choose_driver(
        &self,
        address: &PciAddress,
        request: &DriverRequest,
    ) -> Result<DriverName, OpError> {
        let name = match request {
            DriverRequest::Named(n) => return Ok(n.clone()),
            DriverRequest::Xen => stub::PCIBACK,
            DriverRequest::Vfio => {
                let s = self.sysfs();
                let table = self.modules_alias.get_or_init(|| self.vfio_aliases());
                let variant = (|| {
                    let alias = s.read(&paths::device_attr(address, "modalias")).ok()?;
                    let alias = PciModalias::parse(&String::from_utf8_lossy(&alias))?;
                    modules::best_vfio_variant(table.as_deref()?, &alias)
                })();
                match variant {
                    // The generic driver's module is vfio_pci, its driver vfio-pci.
                    Some(m) if m != "vfio_pci" => {
                        return DriverName::new(&m).map_err(|e| {
                            OpError::BadRequest(format!("modules.alias names '{m}': {e}"))
                        })
                    }
                    _ => stub::VFIO_PCI,
                }
            }
        };
        Ok(DriverName::new(name).expect("built-in names are valid"))
    }

    /// The `alias vfio_pci:` lines of the running kernel's modules.alias: from the
    /// state directory's cache when it was made from this very file (same release,
    /// size, time and inode), else read (about a megabyte) and cached.
    fn vfio_aliases(&self) -> Option<String> {
        let s = self.sysfs();
        let release = modules::kernel_release(s)?;
        let path = modules::modules_alias_path(&release);
        let key = s.version_of(&path).map(|v| format!("{release} {v}"));
        if let Some(hit) = key
            .as_deref()
            .and_then(|k| self.state.cached("vfio-aliases", k))
        {
            return Some(hit);
        }
        let bytes = s.read(&path).ok()?;
        let lines = modules::vfio_alias_lines(&String::from_utf8_lossy(&bytes));
        // A preflight writes nothing, not even this cache.
        if let Some(k) = key.as_ref().filter(|_| !self.read_only) {
            self.state.store_cache("vfio-aliases", k, &lines);
        }
        Some(lines)
    }

    /// The driver's directory as it exists (as named, or with `-` → `_`), else
    /// the module that provides it (xen-pciback registers the driver "pciback").
    fn driver_or_module(&self, name: &DriverName) -> Result<DriverName, DriverName> {
        let s = self.sysfs();
        if s.exists(&paths::driver_dir(name)) {
            return Ok(name.clone());
        }
        let underscored = DriverName::new(&name.module_name()).expect("still valid");
        if s.exists(&paths::driver_dir(&underscored)) {
            return Ok(underscored);
        }
        Err(if name.as_str() == stub::PCIBACK {
            DriverName::new("xen_pciback").expect("valid")
        } else {
            underscored
        })
    }

    /// What [`ensure_driver`](Self::ensure_driver) would find, without loading
    /// anything: the driver registered, its module loaded, loadable, built in,
    /// blacklisted (`modprobe -b` refuses it), missing, or unknown (no module
    /// files in this tree).
    pub(crate) fn driver_status(&self, name: &DriverName) -> DriverStatus {
        let s = self.sysfs();
        let module = match self.driver_or_module(name) {
            Ok(_) => return DriverStatus::Loaded,
            Err(module) => module,
        };
        if s.exists(&paths::module_dir(&module)) {
            return DriverStatus::Loaded;
        }
        let m = module.to_string();
        if let Some(file) = modules::blacklisted_by(s, &m) {
            return DriverStatus::Blacklisted { module: m, file };
        }
        match modules::module_exists(s, &m) {
            Some(true) => DriverStatus::Loadable { module: m },
            Some(false) => DriverStatus::Missing { module: m },
            None => DriverStatus::Unknown { module: m },
        }
    }

    /// libvirt's `virPCIDeviceFindDriver`: the driver directory exists (as named or
    /// with `-` → `_`), else load its module (unless `load` is false, for a dry
    /// run) and find the PCI driver it registers.
    pub(crate) fn ensure_driver(
        &self,
        name: &DriverName,
        load: bool,
    ) -> Result<DriverName, OpError> {
        let s = self.sysfs();
        let module = match self.driver_or_module(name) {
            Ok(found) => return Ok(found),
            Err(module) => module,
        };
        if !load {
            return Ok(name.clone());
        }
        if !s.exists(&paths::module_dir(&module)) {
            self.modules.load(module.as_str())?;
        }
        if s.exists(&paths::driver_dir(name)) {
            return Ok(name.clone());
        }
        match modules::module_pci_driver(s, module.as_str()) {
            Some(d) if s.exists(&paths::driver_dir(&d)) => Ok(d),
            Some(d) => Err(OpError::DriverMissing(format!(
                "pci driver '{d}' supposedly loaded by module '{module}' not found in sysfs"
            ))),
            None => Err(OpError::DriverMissing(format!(
                "module '{module}' does not implement any pci driver"
            ))),
        }
    }

    /// Loads the module of a driver a device is given back to, if it was unloaded
    /// meanwhile (best effort: a failure shows as the device not binding).
    pub(crate) fn reload_original(&self, driver: &DriverName) {
        if !self.sysfs().exists(&paths::driver_dir(driver)) {
            let _ = self.modules.load(&driver.module_name());
        }
    }
}
