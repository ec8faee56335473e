//! Detach, reattach and their building blocks: every sysfs write goes through a
//! `Txn` that logs it (for `--dry-run`, reports and tests), and every operation
//! ends by reading the `driver` link back: a write the kernel accepted does not
//! mean the device bound.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use pci_types::{DriverName, PciAddress};

use crate::config::{ConfigSpace, HeaderType};
use crate::device;
use crate::modules::{self, ModuleError, ModuleLoader, PciModalias};
use crate::paths;
use crate::state::{self, BindMethod, Identity, Record, StateDir};
use crate::stub::{self, DriverRequest, StubKind};
use crate::sysfs::Sysfs;
use crate::usage::{self, Holder, InUse};

/// How to bind the stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// `driver_override` when the device has the file (Linux ≥ 3.16), else `new_id`.
    #[default]
    Auto,
    /// Only `driver_override`.
    Override,
    /// Only `new_id` (also on kernels that have `driver_override`).
    NewId,
}

/// Options of a detach.
#[derive(Clone, Debug)]
pub struct DetachOptions {
    /// Which stub.
    pub driver: DriverRequest,
    /// How to bind it.
    pub method: MethodChoice,
    /// Skip the refusals that protect the host (in-use devices, bridges, PFs with VFs).
    pub force: bool,
    /// Only say which writes would be made.
    pub dry_run: bool,
}

impl Default for DetachOptions {
    fn default() -> Self {
        Self {
            driver: DriverRequest::Vfio,
            method: MethodChoice::Auto,
            force: false,
            dry_run: false,
        }
    }
}

/// Options of a reattach.
#[derive(Clone, Debug, Default)]
pub struct ReattachOptions {
    /// Reattach even if the host uses the device through its current driver, or the
    /// identity recorded at detach time does not match.
    pub force: bool,
    /// Only say which writes would be made.
    pub dry_run: bool,
}

/// One write made (or, in a dry run, planned).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WriteRecord {
    /// The attribute.
    pub path: PathBuf,
    /// What was written, with control characters escaped (`\n`).
    pub data: String,
    /// The errno, when the kernel refused it.
    pub errno: Option<i32>,
}

impl fmt::Display for WriteRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "write '{}' to {}", self.data, self.path.display())?;
        if let Some(e) = self.errno {
            write!(f, " -> {}", errno_text(&io::Error::from_raw_os_error(e)))?;
        }
        Ok(())
    }
}

/// What an operation did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    /// The device.
    pub address: PciAddress,
    /// Driver before.
    pub driver_before: Option<String>,
    /// Driver after (as read back from the `driver` link; unchanged in a dry run).
    pub driver_after: Option<String>,
    /// The writes, in order.
    pub writes: Vec<WriteRecord>,
    /// Things the user should know that did not stop the operation.
    pub warnings: Vec<String>,
    /// Nothing needed doing.
    pub unchanged: bool,
}

/// Where a failed operation left the device: read back after any rollback.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeviceState {
    /// The bound driver, if any.
    pub driver: Option<String>,
    /// `driver_override`, when set.
    pub driver_override: Option<String>,
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.driver {
            Some(d) => write!(f, "device is on {d}")?,
            None => write!(f, "device has no driver")?,
        }
        match &self.driver_override {
            Some(o) => write!(f, ", driver_override is '{o}'"),
            None => Ok(()),
        }
    }
}

/// Why an operation failed. Each message says what was attempted, the errno where
/// there is one, and where the device was left.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// No such PCI function.
    #[error("Device {address} not found: could not access {}: No such file or directory", paths::device_attr(.address, "config").display())]
    NotFound {
        /// The address looked up.
        address: PciAddress,
    },
    /// The request itself is invalid; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The tool refuses, to protect the host or the device; nothing was written.
    #[error("{reason}; nothing was changed{}", if *.forceable { " (use --force to override)" } else { "" })]
    Refused {
        /// Why.
        reason: String,
        /// Whether `--force` overrides it.
        forceable: bool,
    },
    /// The driver's module could not be loaded.
    #[error("{0}; nothing was changed")]
    Module(#[from] ModuleError),
    /// A write failed.
    #[error("{what}: {} ({state}{})", errno_text(.source), rollback_note(.rolled_back))]
    Write {
        /// What was attempted, in libvirt's words.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
        /// Where the device was left.
        state: DeviceState,
        /// Whether earlier writes were undone.
        rolled_back: bool,
    },
    /// All writes succeeded, but the device is not on the driver it should be.
    #[error("{address} did not bind to {expected}: the kernel accepted the writes but the driver's probe did not take the device ({hint}) ({state}{})", rollback_note(.rolled_back))]
    NotBound {
        /// The device.
        address: PciAddress,
        /// The driver expected.
        expected: String,
        /// A likely reason.
        hint: String,
        /// Where the device was left.
        state: DeviceState,
        /// Whether earlier writes were undone.
        rolled_back: bool,
    },
    /// The unbind did not return in time: the host driver still has users.
    #[error("unbinding {address} from {driver} did not finish within {}s: the driver is still in use{}; {state}", .waited.as_secs(), holders_text(.holders))]
    StuckUnbind {
        /// The device.
        address: PciAddress,
        /// Its driver.
        driver: String,
        /// How long we waited.
        waited: Duration,
        /// Processes holding its files.
        holders: Vec<Holder>,
        /// What remains, in words.
        state: String,
    },
    /// The state directory could not be used.
    #[error("state directory {}: {source}", .path.display())]
    State {
        /// The directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// Reading sysfs failed.
    #[error(transparent)]
    Read(#[from] crate::Error),
}

fn rollback_note(rolled_back: &bool) -> &'static str {
    if *rolled_back {
        " after rolling back"
    } else {
        ""
    }
}

fn holders_text(holders: &[Holder]) -> String {
    if holders.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = holders.iter().map(ToString::to_string).collect();
        format!(" ({})", list.join(", "))
    }
}

/// `strerror` text and the errno's name: `Device or resource busy (EBUSY)`.
pub fn errno_text(e: &io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let (name, text) = match code {
        1 => ("EPERM", "Operation not permitted"),
        2 => ("ENOENT", "No such file or directory"),
        5 => ("EIO", "Input/output error"),
        11 => ("EAGAIN", "Resource temporarily unavailable"),
        12 => ("ENOMEM", "Cannot allocate memory"),
        13 => ("EACCES", "Permission denied"),
        16 => ("EBUSY", "Device or resource busy"),
        17 => ("EEXIST", "File exists"),
        19 => ("ENODEV", "No such device"),
        22 => ("EINVAL", "Invalid argument"),
        25 => ("ENOTTY", "Inappropriate ioctl for device"),
        28 => ("ENOSPC", "No space left on device"),
        30 => ("EROFS", "Read-only file system"),
        34 => ("ERANGE", "Numerical result out of range"),
        110 => ("ETIMEDOUT", "Connection timed out"),
        _ => {
            let s = e.to_string();
            let text = s.split(" (os error").next().unwrap_or(&s).to_string();
            return format!("{text} (errno {code})");
        }
    };
    format!("{text} ({name})")
}

/// A sequence of logged writes for one operation.
struct Txn<'a> {
    sysfs: &'a Arc<dyn Sysfs>,
    log: Vec<WriteRecord>,
    dry_run: bool,
    /// What went wrong that did not fail the operation.
    warnings: Vec<String>,
}

impl<'a> Txn<'a> {
    fn new(sysfs: &'a Arc<dyn Sysfs>, dry_run: bool) -> Self {
        Self {
            sysfs,
            log: Vec::new(),
            dry_run,
            warnings: Vec::new(),
        }
    }

    fn write(&mut self, path: PathBuf, data: &[u8]) -> io::Result<()> {
        let result = if self.dry_run {
            Ok(())
        } else {
            self.sysfs.write(&path, data)
        };
        self.log.push(WriteRecord {
            path,
            data: String::from_utf8_lossy(data).escape_debug().to_string(),
            errno: result
                .as_ref()
                .err()
                .map(|e| e.raw_os_error().unwrap_or(-1)),
        });
        result
    }
}

/// A device as the operations see it.
struct Inspected {
    address: PciAddress,
    identity: Identity,
    sysfs_path: PathBuf,
    driver: Option<String>,
    header_type: Option<HeaderType>,
    num_vfs: u32,
    group: Option<device::IommuGroup>,
}

/// The engine: one per process, shared by threads.
#[derive(Clone)]
pub struct Engine {
    sysfs: Arc<dyn Sysfs>,
    modules: Arc<dyn ModuleLoader>,
    state: StateDir,
    unbind_timeout: Duration,
    /// modules.alias, read once per engine (a batch asks for it per device).
    modules_alias: Arc<std::sync::OnceLock<Option<String>>>,
}

/// The default wait for an unbind before reporting who holds the device.
pub const DEFAULT_UNBIND_TIMEOUT: Duration = Duration::from_secs(10);

impl Engine {
    /// An engine over a kernel, a module loader and a state directory.
    pub fn new(sysfs: Arc<dyn Sysfs>, modules: Arc<dyn ModuleLoader>, state: StateDir) -> Self {
        Self {
            sysfs,
            modules,
            state,
            unbind_timeout: DEFAULT_UNBIND_TIMEOUT,
            modules_alias: Arc::default(),
        }
    }

    /// Sets how long an unbind may take before the operation gives up and reports.
    pub fn with_unbind_timeout(mut self, timeout: Duration) -> Self {
        self.unbind_timeout = timeout;
        self
    }

    /// The kernel view.
    pub fn sysfs(&self) -> &dyn Sysfs {
        self.sysfs.as_ref()
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    fn inspect(&self, address: PciAddress) -> Result<Inspected, OpError> {
        let s = self.sysfs();
        if !device::exists(s, &address) {
            return Err(OpError::NotFound { address });
        }
        let hex = |attr: &str| -> u16 {
            s.read(&paths::device_attr(&address, attr))
                .ok()
                .and_then(|b| {
                    let t = String::from_utf8_lossy(&b).trim().to_string();
                    u16::from_str_radix(t.trim_start_matches("0x"), 16).ok()
                })
                .unwrap_or(0)
        };
        let config = s
            .read(&paths::device_attr(&address, "config"))
            .unwrap_or_default();
        let num_vfs = device::num_vfs(s, &address);
        Ok(Inspected {
            address,
            identity: Identity {
                vendor: hex("vendor"),
                device: hex("device"),
                subsystem_vendor: hex("subsystem_vendor"),
                subsystem_device: hex("subsystem_device"),
            },
            sysfs_path: device::sysfs_path(s, &address)?,
            driver: device::current_driver(s, &address),
            header_type: ConfigSpace::new(&config).header_type(),
            num_vfs,
            group: device::iommu_group(s, &address)?,
        })
    }

    /// Refuses (not forceably) when a process holds the device's VFIO group open.
    pub(crate) fn refuse_if_vfio_held(
        &self,
        address: PciAddress,
        group: Option<&device::IommuGroup>,
    ) -> Result<(), OpError> {
        let Some(g) = group else { return Ok(()) };
        let holders = usage::vfio_group_holders(self.sysfs(), g.number);
        if holders.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = holders.iter().map(ToString::to_string).collect();
        Err(OpError::Refused {
            reason: format!("{address} is in use through VFIO: {}", list.join(", ")),
            forceable: false,
        })
    }

    fn device_state(&self, address: &PciAddress) -> DeviceState {
        let o = self
            .sysfs
            .read(&paths::device_attr(address, "driver_override"))
            .ok()
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\n')
                    .to_string()
            })
            .filter(|o| o != "(null)");
        DeviceState {
            driver: device::current_driver(self.sysfs(), address),
            driver_override: o,
        }
    }

    /// The error for a refused write: what was attempted, the errno, and where the
    /// device is now (read back at the time of the error).
    fn write_error(
        &self,
        address: PciAddress,
        what: String,
    ) -> impl FnOnce(io::Error) -> OpError + '_ {
        move |source| OpError::Write {
            what,
            source,
            state: self.device_state(&address),
            rolled_back: false,
        }
    }

    /// Chooses the driver name for a request (variant from modules.alias for VFIO).
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
                let table = self.modules_alias.get_or_init(|| {
                    let release = modules::kernel_release(s)?;
                    let bytes = s.read(&modules::modules_alias_path(&release)).ok()?;
                    // No copy when (as always) the table is UTF-8.
                    Some(
                        String::from_utf8(bytes)
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    )
                });
                let variant = (|| {
                    let alias = s.read(&paths::device_attr(address, "modalias")).ok()?;
                    let alias = PciModalias::parse(&String::from_utf8_lossy(&alias))?;
                    modules::best_vfio_variant(table.as_deref()?, &alias)
                })();
                match variant {
                    // The generic driver's module is vfio_pci, its driver vfio-pci.
                    Some(m) if m != "vfio_pci" => {
                        return DriverName::new(&m).map_err(|e| OpError::Invalid(e.to_string()))
                    }
                    _ => stub::VFIO_PCI,
                }
            }
        };
        Ok(DriverName::new(name).expect("built-in names are valid"))
    }

    /// libvirt's `virPCIDeviceFindDriver`: the driver directory exists (as named or
    /// with `-` → `_`), else load its module and find the PCI driver it registers.
    /// In a dry run nothing is loaded.
    fn ensure_driver(&self, name: &DriverName, dry_run: bool) -> Result<DriverName, OpError> {
        let s = self.sysfs();
        let dir = |n: &str| Path::new(paths::PCI_DRIVERS).join(n);
        if s.exists(&dir(name.as_str())) {
            return Ok(name.clone());
        }
        let underscored = name.module_name();
        if s.exists(&dir(&underscored)) {
            return Ok(DriverName::new(&underscored).expect("still valid"));
        }
        // xen-pciback registers the driver "pciback".
        let module = if name.as_str() == stub::PCIBACK {
            "xen_pciback".to_string()
        } else {
            underscored
        };
        if dry_run {
            return Ok(name.clone());
        }
        if !s.exists(&Path::new("/sys/module").join(&module)) {
            self.modules.load(&module)?;
        }
        if s.exists(&dir(name.as_str())) {
            return Ok(name.clone());
        }
        match modules::module_pci_driver(s, &module) {
            Some(d) if s.exists(&dir(d.as_str())) => Ok(d),
            Some(d) => Err(OpError::Invalid(format!(
                "internal error: pci driver '{d}' supposedly loaded by module '{module}' not found in sysfs"
            ))),
            None => Err(OpError::Invalid(format!(
                "internal error: module '{module}' does not implement any pci driver"
            ))),
        }
    }

    fn refusals(&self, dev: &Inspected, target: &DriverName, force: bool) -> Result<(), OpError> {
        let refuse = |reason: String| {
            Err(OpError::Refused {
                reason,
                forceable: true,
            })
        };
        if force {
            return Ok(());
        }
        if stub::stub_kind(target.as_str()) == StubKind::Vfio {
            if matches!(dev.header_type, Some(h) if h != HeaderType::Endpoint) {
                return refuse(format!(
                    "{} is not an endpoint (a bridge), and vfio-pci binds only endpoints",
                    dev.address
                ));
            }
            if dev.num_vfs > 0 {
                return refuse(format!(
                    "{} is an SR-IOV physical function with {} VFs enabled; vfio-pci refuses it (write 0 to sriov_numvfs first)",
                    dev.address, dev.num_vfs
                ));
            }
        }
        if let Some(why) = self.boot_display_in_use(dev) {
            return refuse(why);
        }
        if let Some(used) = self.host_use(dev) {
            return refuse(format!("{} is in use by the host: {used}", dev.address));
        }
        Ok(())
    }

    /// How the host uses a device that is on a host driver (mounts, swap, holders,
    /// routed interfaces), in words; `None` when it does not, or is on a stub.
    fn host_use(&self, dev: &Inspected) -> Option<String> {
        let on_host_driver = dev
            .driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Other);
        if !on_host_driver {
            return None;
        }
        let used = usage::host_usage(self.sysfs(), &dev.sysfs_path);
        (!used.is_empty()).then(|| {
            used.iter()
                .map(InUse::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The boot VGA device while a console or display uses it: detaching it takes
    /// the machine's screen away (the classic single-GPU passthrough trap).
    fn boot_display_in_use(&self, dev: &Inspected) -> Option<String> {
        let s = self.sysfs();
        let boot_vga = s.read(&paths::device_attr(&dev.address, "boot_vga")).ok()?;
        let on_host_driver = dev
            .driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Other);
        if boot_vga.trim_ascii() != b"1" || !on_host_driver {
            return None;
        }
        let mut users: Vec<String> = Vec::new();
        for sub in ["drm", "graphics"] {
            for n in s.read_dir(&dev.sysfs_path.join(sub)).unwrap_or_default() {
                if n.starts_with("card") || n.starts_with("fb") {
                    users.push(n);
                }
            }
        }
        // fbcon bound to a framebuffer is the text console on this device.
        let vt = Path::new("/sys/class/vtconsole");
        for con in s.read_dir(vt).unwrap_or_default() {
            let bound = s.read(&vt.join(&con).join("bind")).ok();
            let name = s.read(&vt.join(&con).join("name")).ok();
            if bound.as_deref().map(<[u8]>::trim_ascii) == Some(b"1")
                && name.is_some_and(|n| String::from_utf8_lossy(&n).contains("frame buffer"))
            {
                users.push(format!("{con} (framebuffer console)"));
            }
        }
        (!users.is_empty()).then(|| {
            format!(
                "{} is the boot VGA device and the host displays on it ({}); detaching it leaves this machine without a screen",
                dev.address,
                users.join(", ")
            )
        })
    }

    /// Group members bound to drivers that use the kernel's DMA API (so the group
    /// is not viable for VFIO): not unbound, not vfio, not pci-stub, not a bridge
    /// or pcieport.
    fn dma_members(&self, dev: &Inspected) -> Vec<String> {
        let Some(group) = &dev.group else {
            return Vec::new();
        };
        let s = self.sysfs();
        group
            .members
            .iter()
            .filter(|m| **m != dev.address)
            .filter_map(|m| {
                let driver = device::current_driver(s, m)?;
                let config = s.read(&paths::device_attr(m, "config")).unwrap_or_default();
                let bridge = matches!(ConfigSpace::new(&config).header_type(), Some(h) if h != HeaderType::Endpoint);
                let fine = bridge
                    || driver == "pcieport"
                    || matches!(stub::stub_kind(&driver), StubKind::Vfio | StubKind::PciStub);
                (!fine).then(|| format!("{m} ({driver})"))
            })
            .collect()
    }

    /// Detaches one device from its host driver to a stub.
    pub fn detach(&self, address: PciAddress, opts: &DetachOptions) -> Result<Outcome, OpError> {
        let lock = self.lock(&[address])?;
        let result = self.detach_locked(address, opts);
        drop(lock);
        result
    }

    /// Locks devices for an operation of another module (reset).
    pub(crate) fn lock_devices(
        &self,
        addresses: &[PciAddress],
    ) -> Result<state::LockGuard, OpError> {
        self.lock(addresses)
    }

    fn lock(&self, addresses: &[PciAddress]) -> Result<state::LockGuard, OpError> {
        self.state.lock(addresses).map_err(|source| OpError::State {
            path: self.state.path().to_path_buf(),
            source,
        })
    }

    fn detach_locked(&self, address: PciAddress, opts: &DetachOptions) -> Result<Outcome, OpError> {
        let dev = self.inspect(address)?;
        let requested = self.choose_driver(&address, &opts.driver)?;
        self.refusals(&dev, &requested, opts.force)?;
        let target = self.ensure_driver(&requested, opts.dry_run)?;
        let mut warnings = Vec::new();
        if stub::stub_kind(target.as_str()) == StubKind::Vfio {
            let dma = self.dma_members(&dev);
            if !dma.is_empty() {
                warnings.push(format!(
                    "IOMMU group {} is not viable for VFIO: {} still on host drivers (detach them too, or use --group)",
                    dev.group.as_ref().map_or(0, |g| g.number),
                    dma.join(", ")
                ));
            }
        }
        if dev.driver.as_deref() == Some(target.as_str()) {
            return Ok(Outcome {
                address,
                driver_before: dev.driver.clone(),
                driver_after: dev.driver,
                writes: Vec::new(),
                warnings,
                unchanged: true,
            });
        }
        let has_override = self
            .sysfs
            .exists(&paths::device_attr(&address, "driver_override"));
        let method = match opts.method {
            MethodChoice::Auto if has_override => BindMethod::Override,
            MethodChoice::Auto => BindMethod::NewId,
            MethodChoice::Override if !has_override => {
                return Err(OpError::Invalid(format!(
                    "this kernel has no driver_override for {address} (Linux < 3.16): use --method new-id or auto"
                )))
            }
            MethodChoice::Override => BindMethod::Override,
            MethodChoice::NewId => BindMethod::NewId,
        };
        let mut txn = Txn::new(&self.sysfs, opts.dry_run);
        let bound = match method {
            BindMethod::Override => self.bind_override(&mut txn, &dev, &target),
            BindMethod::NewId => {
                let _driver_lock = self.lock_driver(&target)?;
                self.bind_new_id(&mut txn, &dev, &target)
            }
        };
        let (dynamic_id, slot_added) = bound?;
        if !opts.dry_run {
            let original_driver = dev.driver.as_deref().and_then(|d| DriverName::new(d).ok());
            let record = Record {
                address,
                identity: dev.identity,
                original_driver,
                stub: target.clone(),
                method,
                dynamic_id,
                slot_added,
                detached_at: state::now(),
                pending: None,
                owner: None,
            };
            self.state.save(&record).map_err(|source| OpError::State {
                path: self.state.path().to_path_buf(),
                source,
            })?;
        }
        warnings.append(&mut txn.warnings);
        Ok(Outcome {
            address,
            driver_before: dev.driver,
            driver_after: if opts.dry_run {
                Some(target.to_string())
            } else {
                device::current_driver(self.sysfs(), &address)
            },
            writes: txn.log,
            warnings,
            unchanged: false,
        })
    }

    /// Serializes `new_id` work per stub driver: an id in a driver's dynamic table is
    /// shared by every device with that id, so two such detaches must not interleave.
    fn lock_driver(&self, driver: &DriverName) -> Result<std::fs::File, OpError> {
        let err = |source| OpError::State {
            path: self.state.path().to_path_buf(),
            source,
        };
        self.state.lock_driver(driver).map_err(err)
    }

    /// Writes the BDF to the device's `driver/unbind`, waiting at most the unbind
    /// timeout; a driver whose remove() blocks on its users is reported with the
    /// processes holding the device's files.
    fn unbind_current(
        &self,
        txn: &mut Txn<'_>,
        dev: &Inspected,
        driver: &str,
    ) -> Result<(), OpError> {
        let path = paths::device_attr(&dev.address, "driver/unbind");
        let data = dev.address.sysfs_name().into_bytes();
        if txn.dry_run {
            return txn
                .write(path, &data)
                .map_err(|e| unreachable!("dry run cannot fail: {e}"));
        }
        let (tx, rx) = mpsc::channel();
        let sysfs = Arc::clone(&self.sysfs);
        let (p, d) = (path.clone(), data.clone());
        std::thread::spawn(move || {
            let _ = tx.send(sysfs.write(&p, &d));
        });
        let result = match rx.recv_timeout(self.unbind_timeout) {
            Ok(r) => r,
            Err(_) => {
                txn.log.push(WriteRecord {
                    path,
                    data: String::from_utf8_lossy(&data).into_owned(),
                    errno: Some(110),
                });
                let files = usage::device_files(self.sysfs(), &dev.sysfs_path, Some(driver));
                let holders = usage::processes_holding(self.sysfs(), &files);
                return Err(OpError::StuckUnbind {
                    address: dev.address,
                    driver: driver.to_string(),
                    waited: self.unbind_timeout,
                    holders,
                    state: "the kernel will finish the unbind when they let go, and the device will then have no driver: run `nodedev reattach` afterwards".to_string(),
                });
            }
        };
        txn.log.push(WriteRecord {
            path,
            data: String::from_utf8_lossy(&data).into_owned(),
            errno: result
                .as_ref()
                .err()
                .map(|e| e.raw_os_error().unwrap_or(-1)),
        });
        result.map_err(self.write_error(
            dev.address,
            format!(
                "Failed to unbind PCI device '{}' from {driver}",
                dev.address
            ),
        ))
    }

    fn bind_override(
        &self,
        txn: &mut Txn<'_>,
        dev: &Inspected,
        target: &DriverName,
    ) -> Result<(Option<String>, bool), OpError> {
        let a = dev.address;
        let override_path = paths::device_attr(&a, "driver_override");
        txn.write(override_path.clone(), target.as_str().as_bytes())
            .map_err(self.write_error(a, format!("Failed to add driver '{target}' to driver_override interface of PCI device '{a}'")))?;
        let step = (|| {
            if let Some(driver) = &dev.driver {
                self.unbind_current(txn, dev, driver)?;
            }
            txn.write(
                PathBuf::from("/sys/bus/pci/drivers_probe"),
                a.sysfs_name().as_bytes(),
            )
            .map_err(self.write_error(a, format!("Failed to trigger a probe for PCI device '{a}'")))
        })();
        match step {
            Err(OpError::StuckUnbind {
                address,
                driver,
                waited,
                holders,
                ..
            }) => {
                // Leave no override behind: when the kernel finishes, the device
                // will simply be unbound. Record that.
                let _ = txn.write(override_path, b"\n");
                self.record_pending(
                    dev,
                    target,
                    "unbind from the host driver still pending in the kernel",
                );
                Err(OpError::StuckUnbind {
                    address,
                    driver,
                    waited,
                    holders,
                    state: "driver_override was cleared; the kernel will finish the unbind when they let go and the device will then have no driver: run `nodedev reattach` afterwards".to_string(),
                })
            }
            Err(e) => {
                self.rollback_override(txn, dev);
                Err(with_state(e, self.device_state(&a)))
            }
            Ok(()) => {
                if txn.dry_run {
                    return Ok((None, false));
                }
                let now = device::current_driver(self.sysfs(), &a);
                if now.as_deref() == Some(target.as_str()) {
                    return Ok((None, false));
                }
                self.rollback_override(txn, dev);
                Err(OpError::NotBound {
                    address: a,
                    expected: target.to_string(),
                    hint: self.probe_hint(dev, target),
                    state: self.device_state(&a),
                    rolled_back: true,
                })
            }
        }
    }

    fn record_pending(&self, dev: &Inspected, target: &DriverName, what: &str) {
        let record = Record {
            address: dev.address,
            identity: dev.identity,
            original_driver: dev.driver.as_deref().and_then(|d| DriverName::new(d).ok()),
            stub: target.clone(),
            method: BindMethod::Override,
            dynamic_id: None,
            slot_added: false,
            detached_at: state::now(),
            pending: Some(what.to_string()),
            owner: None,
        };
        let _ = self.state.save(&record);
    }

    /// A likely reason a probe did not take the device.
    fn probe_hint(&self, dev: &Inspected, target: &DriverName) -> String {
        if stub::stub_kind(target.as_str()) == StubKind::Vfio && dev.group.is_none() {
            return "the device has no IOMMU group: is the IOMMU enabled (intel_iommu=on / amd_iommu=on)?".to_string();
        }
        if let Some(d) = device::current_driver(self.sysfs(), &dev.address) {
            return format!("{d} took it first");
        }
        "see the kernel log (dmesg) for the probe error".to_string()
    }

    /// Undoes an override bind: clear the override, unbind whatever holds the
    /// device now if that is not the original driver, and re-probe.
    fn rollback_override(&self, txn: &mut Txn<'_>, dev: &Inspected) {
        let a = dev.address;
        let _ = txn.write(paths::device_attr(&a, "driver_override"), b"\n");
        let now = device::current_driver(self.sysfs(), &a);
        if now.is_some() && now != dev.driver {
            let _ = txn.write(
                paths::device_attr(&a, "driver/unbind"),
                a.sysfs_name().as_bytes(),
            );
        }
        if device::current_driver(self.sysfs(), &a).is_none() {
            if let Some(orig) = &dev.driver {
                let _ = txn.write(
                    Path::new(paths::PCI_DRIVERS).join(orig).join("bind"),
                    a.sysfs_name().as_bytes(),
                );
            }
        }
        if device::current_driver(self.sysfs(), &a).is_none() {
            let _ = txn.write(
                PathBuf::from("/sys/bus/pci/drivers_probe"),
                a.sysfs_name().as_bytes(),
            );
        }
    }

    /// Unbound devices with the same vendor:device as `dev` (they are what a
    /// `new_id` write grabs).
    fn unbound_same_id(&self, dev: &Inspected) -> Vec<PciAddress> {
        let s = self.sysfs();
        device::list_addresses(s)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| *a != dev.address && device::current_driver(s, a).is_none())
            .filter(|a| {
                self.inspect(*a).is_ok_and(|o| {
                    o.identity.vendor == dev.identity.vendor
                        && o.identity.device == dev.identity.device
                })
            })
            .collect()
    }

    fn bind_new_id(
        &self,
        txn: &mut Txn<'_>,
        dev: &Inspected,
        target: &DriverName,
    ) -> Result<(Option<String>, bool), OpError> {
        let a = dev.address;
        let s = self.sysfs();
        let drv_dir = Path::new(paths::PCI_DRIVERS).join(target.as_str());
        let id = format!("{:04x} {:04x}", dev.identity.vendor, dev.identity.device);
        let bystanders = self.unbound_same_id(dev);
        let mut added_id = false;
        let mut slot_added = false;

        let result = (|| -> Result<(), OpError> {
            match txn.write(drv_dir.join("new_id"), id.as_bytes()) {
                Ok(()) => added_id = true,
                // The stub already matches this id (pciback's match-all table, an id
                // already registered): carry on, and never remove an id we did not add.
                Err(e) if e.raw_os_error() == Some(17) => {}
                Err(source) => {
                    return Err(self.write_error(
                        a,
                        format!("Failed to add PCI device ID '{id}' to {target}"),
                    )(source))
                }
            }
            let on_stub =
                |s: &dyn Sysfs| device::current_driver(s, &a).as_deref() == Some(target.as_str());
            if !on_stub(s) {
                if let Some(driver) = device::current_driver(s, &a) {
                    self.unbind_current(txn, dev, &driver)?;
                }
            }
            if target.as_str() == stub::PCIBACK
                && s.exists(&drv_dir.join("new_slot"))
                && !on_stub(s)
            {
                txn.write(drv_dir.join("new_slot"), a.sysfs_name().as_bytes())
                    .map_err(self.write_error(
                        a,
                        format!("Failed to add slot for PCI device '{a}' to {target}"),
                    ))?;
                slot_added = true;
            }
            if !on_stub(s) {
                match txn.write(drv_dir.join("bind"), a.sysfs_name().as_bytes()) {
                    Ok(()) => {}
                    // Someone (udev, another prober) bound it in between: fine if
                    // it is our stub, checked below.
                    Err(e) if e.raw_os_error() == Some(16) && (txn.dry_run || on_stub(s)) => {}
                    Err(source) => {
                        return Err(self.write_error(
                            a,
                            format!("Failed to bind PCI device '{a}' to {target}"),
                        )(source))
                    }
                }
            }
            Ok(())
        })();

        // Always: take back the id we added, and give back same-id devices the id
        // grabbed while it was registered (they were unbound before; leave them so).
        let mut cleanup_error = None;
        if added_id {
            // Nothing lists a driver's dynamic ids, so the answer is all we have:
            // ENODEV means the id is not there. One retry turns a passing fault
            // (or a spurious ENODEV) into the same answer twice.
            let mut result = txn.write(drv_dir.join("remove_id"), id.as_bytes());
            if result.is_err() {
                result = txn.write(drv_dir.join("remove_id"), id.as_bytes());
            }
            match result {
                Ok(()) => added_id = false,
                Err(e) if e.raw_os_error() == Some(19) => added_id = false,
                Err(source) => {
                    cleanup_error = Some(self
                        .write_error(a, format!("Failed to remove PCI ID '{id}' from {target}"))(
                        source,
                    ))
                }
            }
        }
        for b in &bystanders {
            if device::current_driver(s, b).as_deref() == Some(target.as_str()) {
                if let Err(e) = txn.write(drv_dir.join("unbind"), b.sysfs_name().as_bytes()) {
                    txn.warnings.push(format!(
                        "{b} (same id, unbound before) was grabbed by {target} while the id was registered, and unbinding it failed: {}; it is still on {target}",
                        errno_text(&e)
                    ));
                }
            }
        }

        let failure = match (result, cleanup_error) {
            (Err(e), _) => Some(e),
            (Ok(()), Some(e)) => Some(e),
            (Ok(()), None) if txn.dry_run => None,
            (Ok(()), None) if device::current_driver(s, &a).as_deref() == Some(target.as_str()) => {
                None
            }
            (Ok(()), None) => Some(OpError::NotBound {
                address: a,
                expected: target.to_string(),
                hint: self.probe_hint(dev, target),
                state: self.device_state(&a),
                rolled_back: false,
            }),
        };
        let Some(err) = failure else {
            return Ok((added_id.then_some(id), slot_added));
        };
        if matches!(err, OpError::StuckUnbind { .. }) {
            self.record_pending(
                dev,
                target,
                "unbind from the host driver still pending in the kernel",
            );
            return Err(err);
        }
        // Roll back to the original driver.
        if device::current_driver(s, &a).as_deref() == Some(target.as_str()) {
            let _ = txn.write(drv_dir.join("unbind"), a.sysfs_name().as_bytes());
        }
        if slot_added {
            let _ = txn.write(drv_dir.join("remove_slot"), a.sysfs_name().as_bytes());
        }
        if added_id {
            let _ = txn.write(drv_dir.join("remove_id"), id.as_bytes());
        }
        self.restore_original(txn, dev.address, dev.driver.as_deref());
        Err(with_state(err, self.device_state(&a)).rolled_back())
    }

    /// Binds the device back to `original` explicitly (loading its module if it
    /// was unloaded meanwhile), falling back to `drivers_probe`.
    fn restore_original(&self, txn: &mut Txn<'_>, a: PciAddress, original: Option<&str>) {
        let s = self.sysfs();
        if device::current_driver(s, &a).is_some() {
            return;
        }
        if let Some(orig) = original {
            let dir = Path::new(paths::PCI_DRIVERS).join(orig);
            if !s.exists(&dir) && !txn.dry_run {
                let _ = self.modules.load(&orig.replace('-', "_"));
            }
            if txn
                .write(dir.join("bind"), a.sysfs_name().as_bytes())
                .is_ok()
                && (txn.dry_run || device::current_driver(s, &a).is_some())
            {
                return;
            }
        }
        let _ = txn.write(
            PathBuf::from("/sys/bus/pci/drivers_probe"),
            a.sysfs_name().as_bytes(),
        );
    }

    /// Gives a device back to its host driver.
    pub fn reattach(
        &self,
        address: PciAddress,
        opts: &ReattachOptions,
    ) -> Result<Outcome, OpError> {
        let lock = self.lock(&[address])?;
        let result = self.reattach_locked(address, opts);
        drop(lock);
        result
    }

    fn reattach_locked(
        &self,
        address: PciAddress,
        opts: &ReattachOptions,
    ) -> Result<Outcome, OpError> {
        let dev = self.inspect(address)?;
        let record = self.state.load(&address).map_err(|source| OpError::State {
            path: self.state.path().to_path_buf(),
            source,
        })?;
        if let Some(r) = &record {
            if r.identity != dev.identity && !opts.force {
                return Err(OpError::Refused {
                    reason: format!(
                        "{address} is not the device that was detached: recorded {:04x}:{:04x} (subsystem {:04x}:{:04x}), found {:04x}:{:04x} (subsystem {:04x}:{:04x})",
                        r.identity.vendor, r.identity.device, r.identity.subsystem_vendor, r.identity.subsystem_device,
                        dev.identity.vendor, dev.identity.device, dev.identity.subsystem_vendor, dev.identity.subsystem_device
                    ),
                    forceable: true,
                });
            }
        }
        // A process using the device through VFIO would lose it mid-flight.
        if dev
            .driver
            .as_deref()
            .is_some_and(|d| stub::stub_kind(d) == StubKind::Vfio)
        {
            self.refuse_if_vfio_held(address, dev.group.as_ref())?;
        }
        // Unbinding a device the host uses through its own driver would pull it
        // from under the host (libvirt would do it anyway).
        if let Some(used) = self.host_use(&dev).filter(|_| !opts.force) {
            return Err(OpError::Refused {
                reason: format!("{address} is on its host driver and in use: {used}"),
                forceable: true,
            });
        }

        let mut txn = Txn::new(&self.sysfs, opts.dry_run);
        let a = address;
        let expected = record.as_ref().and_then(|r| r.original_driver.clone());
        let method = record.as_ref().map_or(BindMethod::Override, |r| r.method);
        let result = (|| -> Result<(), OpError> {
            match method {
                BindMethod::Override => {
                    // A single newline clears the override (an empty write does nothing).
                    if self
                        .sysfs
                        .exists(&paths::device_attr(&a, "driver_override"))
                    {
                        txn.write(paths::device_attr(&a, "driver_override"), b"\n")
                            .map_err(self.write_error(a, format!("Failed to add driver '\\n' to driver_override interface of PCI device '{a}'")))?;
                    }
                    if let Some(driver) = &dev.driver {
                        self.unbind_current(&mut txn, &dev, driver)?;
                    }
                    txn.write(
                        PathBuf::from("/sys/bus/pci/drivers_probe"),
                        a.sysfs_name().as_bytes(),
                    )
                    .map_err(self.write_error(
                        a,
                        format!("Failed to trigger a probe for PCI device '{a}'"),
                    ))?;
                }
                BindMethod::NewId => {
                    let r = record.as_ref().expect("new-id method comes from a record");
                    let drv_dir = Path::new(paths::PCI_DRIVERS).join(r.stub.as_str());
                    if let Some(driver) = &dev.driver {
                        self.unbind_current(&mut txn, &dev, driver)?;
                    }
                    if r.slot_added {
                        txn.write(drv_dir.join("remove_slot"), a.sysfs_name().as_bytes())
                            .map_err(self.write_error(
                                a,
                                format!(
                                    "Failed to remove slot for PCI device '{a}' from {}",
                                    r.stub
                                ),
                            ))?;
                    }
                    if let Some(id) = &r.dynamic_id {
                        match txn.write(drv_dir.join("remove_id"), id.as_bytes()) {
                            Err(e) if e.raw_os_error() != Some(19) => {
                                return Err(self.write_error(
                                    a,
                                    format!("Failed to remove PCI ID '{id}' from {}", r.stub),
                                )(e))
                            }
                            _ => {}
                        }
                    }
                    self.restore_original(
                        &mut txn,
                        a,
                        r.original_driver.as_ref().map(DriverName::as_str),
                    );
                }
            }
            Ok(())
        })();
        result?;
        let after = device::current_driver(self.sysfs(), &a);
        if !opts.dry_run {
            if let Some(exp) = &expected {
                if after.as_deref() != Some(exp.as_str()) {
                    // Keep the record: it says where the device should go.
                    return Err(OpError::NotBound {
                        address: a,
                        expected: exp.to_string(),
                        hint: match &after {
                            Some(d) => format!("{d} took it"),
                            None => format!("is the {exp} module loaded? see dmesg"),
                        },
                        state: self.device_state(&a),
                        rolled_back: false,
                    });
                }
            }
            self.state.remove(&a).map_err(|source| OpError::State {
                path: self.state.path().to_path_buf(),
                source,
            })?;
        }
        Ok(Outcome {
            address: a,
            driver_before: dev.driver,
            driver_after: after,
            writes: txn.log,
            warnings: Vec::new(),
            unchanged: false,
        })
    }

    /// Detaches every endpoint of the device's IOMMU group (bridges and pcieport
    /// are exempt, as in the kernel's viability rule); if one fails, the ones
    /// already moved are reattached.
    pub fn detach_group(
        &self,
        address: PciAddress,
        opts: &DetachOptions,
    ) -> Result<Vec<Outcome>, OpError> {
        let dev = self.inspect(address)?;
        let members: Vec<PciAddress> = match &dev.group {
            None => vec![address],
            Some(g) => {
                let mut m: Vec<PciAddress> = g
                    .members
                    .iter()
                    .copied()
                    .filter(|m| {
                        let Ok(i) = self.inspect(*m) else {
                            return false;
                        };
                        let bridge = matches!(i.header_type, Some(h) if h != HeaderType::Endpoint);
                        !bridge && i.driver.as_deref() != Some("pcieport")
                    })
                    .collect();
                m.sort();
                m
            }
        };
        let lock = self.lock(&members)?;
        let mut done: Vec<Outcome> = Vec::new();
        for m in &members {
            match self.detach_locked(*m, opts) {
                Ok(o) => done.push(o),
                Err(e) => {
                    let mut undone = Vec::new();
                    for o in done.iter().rev().filter(|o| !o.unchanged) {
                        let ok = self
                            .reattach_locked(
                                o.address,
                                &ReattachOptions {
                                    force: true,
                                    dry_run: opts.dry_run,
                                },
                            )
                            .is_ok();
                        undone.push(format!(
                            "{}{}",
                            o.address,
                            if ok { "" } else { " (reattach failed)" }
                        ));
                    }
                    drop(lock);
                    let note = if undone.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; group members already detached were reattached: {}",
                            undone.join(", ")
                        )
                    };
                    return Err(match e {
                        OpError::Refused { reason, forceable } => OpError::Refused {
                            reason: format!("{reason} (group member of {address}){note}"),
                            forceable,
                        },
                        other if note.is_empty() => other,
                        other => OpError::Invalid(format!("{other}{note}")),
                    });
                }
            }
        }
        drop(lock);
        // Inside a group operation the viability warning is about members we did
        // not move, which detach_locked already names per device; keep one copy.
        for o in &mut done {
            o.warnings.retain(|w| !w.contains("is not viable"));
        }
        Ok(done)
    }
}

fn with_state(e: OpError, new_state: DeviceState) -> OpError {
    match e {
        OpError::Write {
            what,
            source,
            rolled_back,
            ..
        } => OpError::Write {
            what,
            source,
            state: new_state,
            rolled_back,
        },
        OpError::NotBound {
            address,
            expected,
            hint,
            rolled_back,
            ..
        } => OpError::NotBound {
            address,
            expected,
            hint,
            state: new_state,
            rolled_back,
        },
        other => other,
    }
}

impl OpError {
    fn rolled_back(self) -> Self {
        match self {
            OpError::Write {
                what,
                source,
                state,
                ..
            } => OpError::Write {
                what,
                source,
                state,
                rolled_back: true,
            },
            OpError::NotBound {
                address,
                expected,
                hint,
                state,
                ..
            } => OpError::NotBound {
                address,
                expected,
                hint,
                state,
                rolled_back: true,
            },
            other => other,
        }
    }
}
