//! A simulated Linux PCI sysfs behind [`hostdev_manager::Sysfs`], for the cases no
//! real kernel in the QEMU rig can show: kernels before 3.16 (no
//! `driver_override`), Xen's pciback, and faults at any step.
//!
//! It follows the real kernel's behaviour as measured in the rig
//! (`../shared/docs/real-kernel-rig.md` §3) and read from the kernel sources
//! (`../shared/docs/libvirt-behaviour.md` §8):
//!
//! | file | rule |
//! |---|---|
//! | `driver_override` | truncated at the first `\n`; `"\n"` clears; an empty write does nothing; ≥ 4095 bytes → `EINVAL`; reads `(null)` when unset; absent before 3.16 |
//! | `devices/B/driver/unbind` | absent (`ENOENT`) when unbound; another BDF → `ENODEV` |
//! | `drivers/D/unbind` | device not bound to D → `ENODEV` |
//! | `drivers/D/bind` | unknown device → `ENODEV`; already bound → `EBUSY` (old kernels `ENODEV`); no match → `ENODEV`; a failed probe → the probe's errno |
//! | `drivers_probe` | unknown BDF → `ENODEV`; bound → nothing; else first matching driver whose probe succeeds; **succeeds even if nothing bound** |
//! | `drivers/D/new_id` | < 2 hex fields → `EINVAL`; id already in the static table (fewer than 7 fields) or in the dynamic list → `EEXIST`; otherwise added and **every unbound matching device is probed at once** |
//! | `drivers/D/remove_id` | < 2 fields → `EINVAL`; not a dynamic id → `ENODEV`; never unbinds |
//! | `pciback/new_slot`, `remove_slot` | add / remove a seized slot (`ENOENT` for an unknown one); a device pciback seizes by override gets a slot too (`pcistub_probe`); `slots` lists them |
//! | `devices/B/reset` | tries the enabled `reset_method` entries in order; none left → `ENOTTY`; absent when the device has no method |
//! | `devices/B/reset_method` | unknown or unsupported name → `EINVAL`; `default` restores; `"\n"` disables every method |
//! | `devices/B/config` | non-root reads 64 bytes and cannot write (`EACCES`); a `pwrite` past the end is cut short; read-only registers keep their value; PMCSR, DEVCTL, AF_CTRL and bridge control reset functions as the hardware would ([`config`]) |
//!
//! Probe rules: vfio-pci refuses non-type-0 headers (`EINVAL`), PFs with VFs enabled
//! (`EBUSY`) and devices without an IOMMU group (`EINVAL`); pci-stub takes anything it
//! matches; pciback has a match-all static table but seizes only devices whose
//! override is `pciback` or whose slot it lists (else `ENODEV`), header types 0 and 1.
//! Matching (`pci_match_device`): an override naming another driver never matches;
//! dynamic ids, then static ids, then an override naming this driver.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use hostdev_manager::modules::{ModuleError, ModuleLoader};
use hostdev_manager::Sysfs;
use pci_types::PciAddress;

pub mod config;
pub use config::ConfigCaps;
use config::{Effect, Layout};

/// errno values used by the kernel paths simulated here.
pub mod errno {
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// I/O error (reading a write-only attribute).
    pub const EIO: i32 = 5;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// No such device.
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
}

fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// What kind of driver a simulated driver is; decides its probe rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    /// An ordinary host driver: probes whatever it matches.
    Host,
    /// vfio-pci (or a variant).
    Vfio,
    /// pci-stub.
    PciStub,
    /// Xen's pciback.
    Pciback,
}

/// A driver the simulated kernel knows (loaded or loadable).
#[derive(Clone, Debug)]
pub struct DriverSpec {
    /// Driver name in sysfs.
    pub name: String,
    /// Module name (underscores).
    pub module: String,
    /// Probe rule.
    pub kind: DriverKind,
    /// Static id table (vendor, device).
    pub ids: Vec<(u16, u16)>,
    /// A static all-ANY entry (pciback).
    pub match_all: bool,
}

impl DriverSpec {
    /// A host driver for the given ids.
    pub fn host(name: &str, ids: &[(u16, u16)]) -> Self {
        Self {
            name: name.into(),
            module: name.replace('-', "_"),
            kind: DriverKind::Host,
            ids: ids.to_vec(),
            match_all: false,
        }
    }

    /// vfio-pci: no static ids that match without an override (6.x's
    /// override-only table).
    pub fn vfio_pci() -> Self {
        Self {
            name: "vfio-pci".into(),
            module: "vfio_pci".into(),
            kind: DriverKind::Vfio,
            ids: Vec::new(),
            match_all: false,
        }
    }

    /// pci-stub: no static ids.
    pub fn pci_stub() -> Self {
        Self {
            name: "pci-stub".into(),
            module: "pci_stub".into(),
            kind: DriverKind::PciStub,
            ids: Vec::new(),
            match_all: false,
        }
    }

    /// Xen's pciback (module xen-pciback, driver "pciback").
    pub fn pciback() -> Self {
        Self {
            name: "pciback".into(),
            module: "xen_pciback".into(),
            kind: DriverKind::Pciback,
            ids: Vec::new(),
            match_all: true,
        }
    }
}

#[derive(Clone, Debug)]
struct Driver {
    spec: DriverSpec,
    dynamic_ids: Vec<(u16, u16)>,
    slots: BTreeSet<PciAddress>,
}

/// A simulated PCI function.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    /// Address.
    pub address: PciAddress,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code.
    pub class: u32,
    /// Header type (0 endpoint, 1 bridge).
    pub header_type: u8,
    /// IOMMU group.
    pub iommu_group: Option<u32>,
    /// SR-IOV capacity (PF).
    pub total_vfs: u32,
    /// VFs enabled now (PF).
    pub num_vfs: u32,
    /// Reset methods the device supports, in the kernel's order (empty: no `reset`).
    pub reset_methods: Vec<String>,
    /// Capabilities in config space (see [`config`]).
    pub caps: ConfigCaps,
    /// A bridge's secondary and subordinate bus numbers.
    pub bridge_buses: Option<(u8, u8)>,
}

impl DeviceSpec {
    /// An endpoint in its own group.
    pub fn endpoint(address: &str, vendor: u16, device: u16, group: u32) -> Self {
        Self {
            address: address.parse().expect("valid address"),
            vendor,
            device,
            class: 0x020000,
            header_type: 0,
            iommu_group: Some(group),
            total_vfs: 0,
            num_vfs: 0,
            reset_methods: vec!["flr".into()],
            caps: ConfigCaps::default(),
            bridge_buses: None,
        }
    }

    /// A PCI-to-PCI bridge (or a PCIe port) whose secondary bus is `secondary`
    /// and whose range ends at `subordinate`.
    pub fn bridge(address: &str, secondary: u8, subordinate: u8, group: u32) -> Self {
        Self {
            class: 0x060400,
            header_type: 1,
            reset_methods: Vec::new(),
            bridge_buses: Some((secondary, subordinate)),
            ..Self::endpoint(address, 0x8086, 0x244e, group)
        }
    }

    fn layout(&self) -> Layout<'_> {
        Layout {
            vendor: self.vendor,
            device: self.device,
            class: self.class,
            header_type: self.header_type,
            bus: self.address.bus(),
            bridge_buses: self.bridge_buses,
            caps: &self.caps,
        }
    }
}

#[derive(Clone, Debug)]
struct Device {
    spec: DeviceSpec,
    driver: Option<String>,
    driver_override: Option<String>,
    /// `reset_method` as set now.
    enabled_resets: Vec<String>,
    /// Resets done, by method: the kernel's `reset`, or what a config write set
    /// off (`pm`, `flr`, `af_flr`, `bus`).
    resets: Vec<String>,
    /// Config space now.
    config: Vec<u8>,
}

/// One write the simulated kernel received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteLog {
    /// The attribute, as the caller named it.
    pub path: PathBuf,
    /// The bytes.
    pub data: Vec<u8>,
    /// Where in the file, for a `pwrite` to `config`.
    pub offset: Option<u64>,
    /// The errno returned, if the write failed.
    pub errno: Option<i32>,
}

/// Behaviour switches for older or unusual kernels.
#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    /// `driver_override` exists (Linux ≥ 3.16).
    pub driver_override: bool,
    /// `bind` of an already-bound device answers `EBUSY` (6.x) rather than `ENODEV`.
    pub bind_ebusy: bool,
    /// `reset_method` exists (Linux ≥ 5.15).
    pub reset_method: bool,
    /// Every write is refused with `EACCES`, as for a non-root user.
    pub unprivileged: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            driver_override: true,
            bind_ebusy: true,
            reset_method: true,
            unprivileged: false,
        }
    }
}

type Hook = Box<dyn FnMut(&mut SimState) + Send>;

struct Fault {
    /// Only writes to paths ending in this count (empty: every write).
    suffix: String,
    nth: usize,
    seen: usize,
    errno: i32,
}

/// The simulated kernel's state; tests reach it through [`SimKernel::with_state`]
/// and hooks.
pub struct SimState {
    devices: BTreeMap<PciAddress, Device>,
    drivers: BTreeMap<String, Driver>,
    available: BTreeMap<String, DriverSpec>,
    blacklisted: BTreeSet<String>,
    /// Behaviour switches.
    pub knobs: Knobs,
    log: Vec<WriteLog>,
    faults: Vec<Fault>,
    hooks: Vec<(usize, Hook)>,
    /// Open files of simulated processes: (pid, command, path).
    pub open_files: Vec<(u32, String, PathBuf)>,
    release: String,
    modules_alias: String,
    /// Other files of the machine (procfs, block and net class entries…), for the
    /// host-usage checks: path → content, or a link target when `Err`.
    extra: BTreeMap<PathBuf, Result<Vec<u8>, PathBuf>>,
}

/// A simulated kernel. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct SimKernel {
    inner: Arc<Mutex<SimState>>,
    /// While set, writes to an `unbind` file block (outside the state lock, so the
    /// rest of the kernel stays readable): a driver whose remove() waits for its
    /// users, the common GPU complaint.
    stuck_unbind: Arc<std::sync::atomic::AtomicBool>,
    /// Writes allowed before the simulated process is killed (`usize::MAX`: never).
    kill_after: Arc<std::sync::atomic::AtomicUsize>,
}

/// The panic payload of a simulated kill ([`SimKernel::kill_after`]).
#[derive(Debug)]
pub struct Killed;

impl Default for SimKernel {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a path points in the simulated tree.
enum Node {
    Dir(Vec<String>),
    File(Vec<u8>),
    /// A sysfs link: read back relative to where it sits, as sysfs writes them.
    Link(PathBuf),
    /// A procfs fd link: read back as the absolute path of the open file.
    AbsLink(PathBuf),
    WriteOnly,
}

fn parse_hex_fields(data: &[u8]) -> Option<Vec<u32>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut out = Vec::new();
    for f in text.split_whitespace() {
        let f = f.strip_prefix("0x").unwrap_or(f);
        out.push(u32::from_str_radix(f, 16).ok()?);
    }
    Some(out)
}

fn bdf_of(data: &[u8]) -> Option<PciAddress> {
    let text = std::str::from_utf8(data).ok()?;
    // sysfs_streq: a trailing newline is tolerated.
    PciAddress::from_sysfs_name(text.strip_suffix('\n').unwrap_or(text)).ok()
}

impl SimKernel {
    /// An empty kernel with vfio-pci, pci-stub and xen-pciback available as modules
    /// (not loaded), release `6.1.0-sim`.
    pub fn new() -> Self {
        let mut available = BTreeMap::new();
        for d in [
            DriverSpec::vfio_pci(),
            DriverSpec::pci_stub(),
            DriverSpec::pciback(),
        ] {
            available.insert(d.module.clone(), d);
        }
        Self {
            inner: Arc::new(Mutex::new(SimState {
                devices: BTreeMap::new(),
                drivers: BTreeMap::new(),
                available,
                blacklisted: BTreeSet::new(),
                knobs: Knobs::default(),
                log: Vec::new(),
                faults: Vec::new(),
                hooks: Vec::new(),
                open_files: Vec::new(),
                release: "6.1.0-sim".into(),
                modules_alias: "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n".into(),
                extra: BTreeMap::new(),
            })),
            stuck_unbind: Arc::default(),
            kill_after: Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX)),
        }
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state (for set-up and assertions).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut self.state())
    }

    /// Loads a driver now (as if its module were loaded at boot).
    pub fn load_driver(&self, spec: DriverSpec) -> &Self {
        let mut s = self.state();
        s.available.insert(spec.module.clone(), spec.clone());
        s.drivers.insert(
            spec.name.clone(),
            Driver {
                spec,
                dynamic_ids: Vec::new(),
                slots: BTreeSet::new(),
            },
        );
        self
    }

    /// Makes a driver loadable by module name without loading it.
    pub fn make_available(&self, spec: DriverSpec) -> &Self {
        self.state().available.insert(spec.module.clone(), spec);
        self
    }

    /// Blacklists a module (modprobe -b refuses it).
    pub fn blacklist(&self, module: &str) -> &Self {
        self.state().blacklisted.insert(module.replace('-', "_"));
        self
    }

    /// Adds a device and lets the loaded drivers probe it, as at boot.
    pub fn add_device(&self, spec: DeviceSpec) -> &Self {
        let mut s = self.state();
        let a = spec.address;
        let enabled_resets = spec.reset_methods.clone();
        let config = spec.layout().build(true);
        s.devices.insert(
            a,
            Device {
                spec,
                driver: None,
                driver_override: None,
                enabled_resets,
                resets: Vec::new(),
                config,
            },
        );
        let _ = s.attach(a);
        self
    }

    /// Sets the behaviour switches.
    pub fn set_knobs(&self, knobs: Knobs) -> &Self {
        self.state().knobs = knobs;
        self
    }

    /// Fails the `nth` (1-based) write to any path ending in `suffix` with `errno`;
    /// the write has no effect.
    pub fn fail_write(&self, suffix: &str, nth: usize, errno: i32) -> &Self {
        self.state().faults.push(Fault {
            suffix: suffix.into(),
            nth,
            seen: 0,
            errno,
        });
        self
    }

    /// Fails the `nth` (1-based) write of all, whatever its path, with `errno`.
    pub fn fail_nth_write(&self, nth: usize, errno: i32) -> &Self {
        self.fail_write("", nth, errno)
    }

    /// Runs `hook` just before the write with this 0-based index is carried out
    /// (so between write `n - 1` and write `n`): another agent acting in between.
    pub fn on_write(&self, n: usize, hook: impl FnMut(&mut SimState) + Send + 'static) -> &Self {
        self.state().hooks.push((n, Box::new(hook)));
        self
    }

    /// An engine over this kernel (and its module loader) with records in `state`.
    pub fn engine(&self, state: hostdev_manager::state::StateDir) -> hostdev_manager::ops::Engine {
        hostdev_manager::ops::Engine::new(Arc::new(self.clone()), Arc::new(self.clone()), state)
    }

    /// Simulates `kill -9` of the caller: once `n` writes (of the whole log) have
    /// been made, the next write attempt panics with [`Killed`] before it reaches
    /// the kernel, so the caller stops wherever it is (run it under
    /// `catch_unwind`). Locks it held are released by the unwinding, as a dead
    /// process's are. `usize::MAX` turns it off again.
    pub fn kill_after(&self, n: usize) {
        self.kill_after
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes unbinds block until [`SimKernel::release_unbind`] (or not).
    pub fn set_stuck_unbind(&self, stuck: bool) {
        self.stuck_unbind
            .store(stuck, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets blocked unbinds finish.
    pub fn release_unbind(&self) {
        self.set_stuck_unbind(false);
    }

    /// Adds a plain file elsewhere in the tree (e.g. `/proc/self/mountinfo`).
    pub fn add_file(&self, path: &str, content: &str) -> &Self {
        self.state()
            .extra
            .insert(path.into(), Ok(content.as_bytes().to_vec()));
        self
    }

    /// Adds a link elsewhere in the tree (e.g. `/sys/class/block/sda`); the target
    /// is absolute and is read back relative, as sysfs does.
    pub fn add_link(&self, path: &str, target: &str) -> &Self {
        self.state().extra.insert(path.into(), Err(target.into()));
        self
    }

    /// Every write so far.
    pub fn writes(&self) -> Vec<WriteLog> {
        self.state().log.clone()
    }

    /// Forgets the write log.
    pub fn clear_log(&self) {
        self.state().log.clear();
    }

    /// The driver a device is bound to.
    pub fn driver_of(&self, address: &str) -> Option<String> {
        let a: PciAddress = address.parse().expect("valid address");
        self.state().devices.get(&a).and_then(|d| d.driver.clone())
    }

    /// A device's `driver_override`.
    pub fn override_of(&self, address: &str) -> Option<String> {
        let a: PciAddress = address.parse().expect("valid address");
        self.state()
            .devices
            .get(&a)
            .and_then(|d| d.driver_override.clone())
    }

    /// A loaded driver's dynamic ids.
    pub fn dynamic_ids(&self, driver: &str) -> Vec<(u16, u16)> {
        self.state()
            .drivers
            .get(driver)
            .map(|d| d.dynamic_ids.clone())
            .unwrap_or_default()
    }

    /// The resets done on a device, by method, in order.
    pub fn resets_of(&self, address: &str) -> Vec<String> {
        let a: PciAddress = address.parse().expect("valid address");
        self.state()
            .devices
            .get(&a)
            .map(|d| d.resets.clone())
            .unwrap_or_default()
    }

    /// A device's config space now (all of it, as root reads it).
    pub fn config_of(&self, address: &str) -> Vec<u8> {
        let a: PciAddress = address.parse().expect("valid address");
        self.state()
            .devices
            .get(&a)
            .map(|d| d.config.clone())
            .unwrap_or_default()
    }

    /// A device's `reset_method` now.
    pub fn reset_method_of(&self, address: &str) -> Vec<String> {
        let a: PciAddress = address.parse().expect("valid address");
        self.state()
            .devices
            .get(&a)
            .map(|d| d.enabled_resets.clone())
            .unwrap_or_default()
    }

    /// pciback's seized slots.
    pub fn pciback_slots(&self) -> Vec<PciAddress> {
        self.state()
            .drivers
            .get("pciback")
            .map(|d| d.slots.iter().copied().collect())
            .unwrap_or_default()
    }

    fn node(&self, path: &Path) -> Option<Node> {
        self.state().node(path)
    }
}

impl SimState {
    /// Removes a device (hot-unplug).
    pub fn remove_device(&mut self, address: &str) {
        let a: PciAddress = address.parse().expect("valid address");
        self.devices.remove(&a);
    }

    /// Binds a device to a driver directly, as another agent (udev, a script) would
    /// through `drivers_probe`; returns whether it bound.
    pub fn probe(&mut self, address: &str) -> bool {
        let a: PciAddress = address.parse().expect("valid address");
        self.attach(a).is_ok() && self.devices.get(&a).is_some_and(|d| d.driver.is_some())
    }

    /// Sets `sriov_numvfs` directly.
    pub fn set_num_vfs(&mut self, address: &str, n: u32) {
        let a: PciAddress = address.parse().expect("valid address");
        if let Some(d) = self.devices.get_mut(&a) {
            d.spec.num_vfs = n;
        }
    }

    fn matches(&self, drv: &Driver, dev: &Device) -> bool {
        let id = (dev.spec.vendor, dev.spec.device);
        if let Some(o) = &dev.driver_override {
            if *o != drv.spec.name {
                return false;
            }
        }
        if drv.dynamic_ids.contains(&id) || drv.spec.match_all || drv.spec.ids.contains(&id) {
            return true;
        }
        dev.driver_override.as_deref() == Some(drv.spec.name.as_str())
    }

    /// The driver's probe: Ok or the errno it returns.
    fn probe_rule(&self, drv: &Driver, dev: &Device) -> Result<(), i32> {
        match drv.spec.kind {
            DriverKind::Host | DriverKind::PciStub => Ok(()),
            DriverKind::Vfio => {
                if dev.spec.header_type != 0 {
                    Err(errno::EINVAL)
                } else if dev.spec.num_vfs > 0 {
                    Err(errno::EBUSY)
                } else if dev.spec.iommu_group.is_none() {
                    Err(errno::EINVAL)
                } else {
                    Ok(())
                }
            }
            DriverKind::Pciback => {
                let seize = dev.driver_override.as_deref() == Some("pciback")
                    || drv.slots.contains(&dev.spec.address);
                if seize && dev.spec.header_type <= 1 {
                    Ok(())
                } else {
                    Err(errno::ENODEV)
                }
            }
        }
    }

    /// pciback's probe (`pcistub_probe`) adds the slot of a device it seizes by
    /// override to its id list itself, as `new_slot` would.
    fn seized(&mut self, driver: &str, a: PciAddress) {
        if let Some(drv) = self.drivers.get_mut(driver) {
            if drv.spec.kind == DriverKind::Pciback {
                drv.slots.insert(a);
            }
        }
    }

    /// `device_attach`: the first driver that matches and probes successfully.
    fn attach(&mut self, a: PciAddress) -> Result<(), i32> {
        let dev = self.devices.get(&a).ok_or(errno::ENODEV)?.clone();
        if dev.driver.is_some() {
            return Ok(());
        }
        let chosen = self
            .drivers
            .values()
            .find(|drv| self.matches(drv, &dev) && self.probe_rule(drv, &dev).is_ok())
            .map(|d| d.spec.name.clone());
        if let Some(name) = chosen {
            self.seized(&name, a);
            self.devices.get_mut(&a).expect("present").driver = Some(name);
        }
        Ok(())
    }

    fn group_has_vfio(&self, group: u32) -> bool {
        self.devices.values().any(|d| {
            d.spec.iommu_group == Some(group)
                && d.driver
                    .as_ref()
                    .and_then(|n| self.drivers.get(n))
                    .is_some_and(|drv| drv.spec.kind == DriverKind::Vfio)
        })
    }

    fn dev_dir(a: &PciAddress) -> PathBuf {
        PathBuf::from(format!("/sys/devices/pci{:04x}:00", a.domain())).join(a.sysfs_name())
    }

    /// Splits a path into (device, attribute) if it names something inside a
    /// device directory (through either spelling).
    fn device_attr<'p>(&self, path: &'p str) -> Option<(PciAddress, &'p str)> {
        let rest = path.strip_prefix("/sys/bus/pci/devices/").or_else(|| {
            path.strip_prefix("/sys/devices/")
                .and_then(|r| r.split_once('/').map(|(_, r)| r))
        })?;
        let (bdf, attr) = rest.split_once('/').unwrap_or((rest, ""));
        let a = PciAddress::from_sysfs_name(bdf).ok()?;
        self.devices.contains_key(&a).then_some((a, attr))
    }

    fn node(&self, path: &Path) -> Option<Node> {
        let p = path.to_str()?.trim_end_matches('/');
        if let Some(entry) = self.extra.get(Path::new(p)) {
            return Some(match entry {
                Ok(b) => Node::File(b.clone()),
                Err(t) => Node::Link(t.clone()),
            });
        }
        // A directory made of extra entries (and, below a link, the link's target).
        let prefix = format!("{p}/");
        let children: BTreeSet<String> = self
            .extra
            .keys()
            .filter_map(|k| {
                k.to_str()?
                    .strip_prefix(&prefix)?
                    .split('/')
                    .next()
                    .map(String::from)
            })
            .collect();
        if !children.is_empty() && self.devices.keys().all(|a| !p.ends_with(&a.sysfs_name())) {
            return Some(Node::Dir(children.into_iter().collect()));
        }
        if let Some((link, Err(target))) = self
            .extra
            .iter()
            .find(|(k, _)| p.starts_with(&format!("{}/", k.display())))
        {
            let rest = &p[link.as_os_str().len()..];
            return self.node(&PathBuf::from(format!("{}{rest}", target.display())));
        }
        let dir = |v: Vec<String>| Some(Node::Dir(v));
        match p {
            "/sys/bus/pci/devices" => {
                return dir(self.devices.keys().map(|a| a.sysfs_name()).collect())
            }
            "/sys/bus/pci/drivers" => return dir(self.drivers.keys().cloned().collect()),
            "/sys/bus/pci/drivers_probe" => return Some(Node::WriteOnly),
            "/sys/kernel/iommu_groups" => {
                let g: BTreeSet<u32> = self
                    .devices
                    .values()
                    .filter_map(|d| d.spec.iommu_group)
                    .collect();
                return dir(g.iter().map(u32::to_string).collect());
            }
            "/proc/sys/kernel/osrelease" => {
                return Some(Node::File(format!("{}\n", self.release).into_bytes()))
            }
            "/proc" => {
                let pids: BTreeSet<u32> = self.open_files.iter().map(|f| f.0).collect();
                return dir(pids.iter().map(u32::to_string).collect());
            }
            _ => {}
        }
        if p == format!("/lib/modules/{}/modules.alias", self.release) {
            return Some(Node::File(self.modules_alias.clone().into_bytes()));
        }
        if let Some(rest) = p.strip_prefix("/proc/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let pid: u32 = parts.first()?.parse().ok()?;
            let files: Vec<&(u32, String, PathBuf)> =
                self.open_files.iter().filter(|f| f.0 == pid).collect();
            if files.is_empty() {
                return None;
            }
            return match parts.as_slice() {
                [_, "comm"] => Some(Node::File(format!("{}\n", files[0].1).into_bytes())),
                [_, "fd"] => dir((0..files.len()).map(|i| (i + 3).to_string()).collect()),
                [_, "fd", n] => {
                    let i: usize = n.parse().ok()?;
                    files
                        .get(i.checked_sub(3)?)
                        .map(|f| Node::AbsLink(f.2.clone()))
                }
                _ => None,
            };
        }
        if let Some(g) = p.strip_prefix("/dev/vfio/") {
            let g: u32 = g.parse().ok()?;
            return self.group_has_vfio(g).then(|| Node::File(Vec::new()));
        }
        if let Some(rest) = p.strip_prefix("/sys/kernel/iommu_groups/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let g: u32 = parts.first()?.parse().ok()?;
            let members: Vec<PciAddress> = self
                .devices
                .values()
                .filter(|d| d.spec.iommu_group == Some(g))
                .map(|d| d.spec.address)
                .collect();
            if members.is_empty() {
                return None;
            }
            return match parts.as_slice() {
                [_] => dir(vec!["devices".into()]),
                [_, "devices"] => dir(members.iter().map(|a| a.sysfs_name()).collect()),
                [_, "devices", bdf] => {
                    let a = PciAddress::from_sysfs_name(bdf).ok()?;
                    members.contains(&a).then(|| Node::Link(Self::dev_dir(&a)))
                }
                _ => None,
            };
        }
        if let Some(rest) = p.strip_prefix("/sys/module/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let drv = self.drivers.values().find(|d| d.spec.module == parts[0])?;
            return match parts.as_slice() {
                [_] => dir(vec!["drivers".into()]),
                [_, "drivers"] => dir(vec![format!("pci:{}", drv.spec.name)]),
                _ => None,
            };
        }
        if let Some(rest) = p.strip_prefix("/sys/bus/pci/drivers/") {
            let (name, attr) = rest.split_once('/').unwrap_or((rest, ""));
            let drv = self.drivers.get(name)?;
            let pciback = drv.spec.kind == DriverKind::Pciback;
            let bound: Vec<PciAddress> = self
                .devices
                .values()
                .filter(|d| d.driver.as_deref() == Some(name))
                .map(|d| d.spec.address)
                .collect();
            return match attr {
                "" => {
                    let mut v: Vec<String> = ["bind", "unbind", "new_id", "remove_id", "module"]
                        .map(String::from)
                        .to_vec();
                    if pciback {
                        v.extend(["new_slot", "remove_slot", "slots"].map(String::from));
                    }
                    v.extend(bound.iter().map(|a| a.sysfs_name()));
                    dir(v)
                }
                "bind" | "unbind" | "new_id" | "remove_id" => Some(Node::WriteOnly),
                "new_slot" | "remove_slot" if pciback => Some(Node::WriteOnly),
                "slots" if pciback => Some(Node::File(
                    drv.slots
                        .iter()
                        .map(|a| format!("{}\n", a.sysfs_name()))
                        .collect::<String>()
                        .into_bytes(),
                )),
                "module" => Some(Node::Link(
                    PathBuf::from("/sys/module").join(&drv.spec.module),
                )),
                bdf => {
                    let a = PciAddress::from_sysfs_name(bdf).ok()?;
                    bound.contains(&a).then(|| Node::Link(Self::dev_dir(&a)))
                }
            };
        }
        if let Some(a) = p
            .strip_prefix("/sys/bus/pci/devices/")
            .and_then(|b| PciAddress::from_sysfs_name(b).ok())
            .filter(|a| self.devices.contains_key(a))
        {
            return Some(Node::Link(Self::dev_dir(&a)));
        }
        let (a, attr) = self.device_attr(p)?;
        let d = &self.devices[&a];
        let s = &d.spec;
        let text = |t: String| Some(Node::File(t.into_bytes()));
        match attr {
            "" => {
                let mut v: Vec<String> = [
                    "vendor",
                    "device",
                    "class",
                    "subsystem_vendor",
                    "subsystem_device",
                    "config",
                    "numa_node",
                    "modalias",
                    "reset",
                ]
                .map(String::from)
                .to_vec();
                if self.knobs.driver_override {
                    v.push("driver_override".into());
                }
                if d.driver.is_some() {
                    v.push("driver".into());
                }
                Some(Node::Dir(v))
            }
            "vendor" => text(format!("0x{:04x}\n", s.vendor)),
            "device" => text(format!("0x{:04x}\n", s.device)),
            "subsystem_vendor" => text(format!("0x{:04x}\n", s.vendor)),
            "subsystem_device" => text("0x0000\n".into()),
            "class" => text(format!("0x{:06x}\n", s.class)),
            "numa_node" => text("-1\n".into()),
            "modalias" => text(format!(
                "pci:v{:08X}d{:08X}sv{:08X}sd00000000bc{:02X}sc{:02X}i{:02X}\n",
                s.vendor,
                s.device,
                s.vendor,
                s.class >> 16,
                (s.class >> 8) & 0xff,
                s.class & 0xff
            )),
            // Without CAP_SYS_ADMIN the kernel shows only the standard header.
            "config" if self.knobs.unprivileged => Some(Node::File(d.config[..64].to_vec())),
            "config" => Some(Node::File(d.config.clone())),
            "driver_override" if self.knobs.driver_override => text(format!(
                "{}\n",
                d.driver_override.as_deref().unwrap_or("(null)")
            )),
            "reset" if !s.reset_methods.is_empty() => Some(Node::WriteOnly),
            "reset_method" if self.knobs.reset_method && !s.reset_methods.is_empty() => {
                text(format!("{}\n", d.enabled_resets.join(" ")))
            }
            "boot_vga" | "reset" | "reset_method" => None,
            "sriov_totalvfs" if s.total_vfs > 0 => text(format!("{}\n", s.total_vfs)),
            "sriov_numvfs" if s.total_vfs > 0 => text(format!("{}\n", s.num_vfs)),
            "iommu_group" => s
                .iommu_group
                .map(|g| Node::Link(PathBuf::from(format!("/sys/kernel/iommu_groups/{g}")))),
            "driver" => d
                .driver
                .as_ref()
                .map(|n| Node::Link(PathBuf::from("/sys/bus/pci/drivers").join(n))),
            "driver/unbind" => d.driver.as_ref().map(|_| Node::WriteOnly),
            "vfio-dev" => d
                .driver
                .as_ref()
                .and_then(|n| self.drivers.get(n))
                .filter(|drv| drv.spec.kind == DriverKind::Vfio)
                .map(|_| Node::Dir(Vec::new())),
            _ => None,
        }
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> Result<(), i32> {
        if self.knobs.unprivileged {
            return Err(errno::EACCES);
        }
        let p = path
            .to_str()
            .ok_or(errno::ENOENT)?
            .trim_end_matches('/')
            .to_string();
        // A zero-length write never reaches the attribute's store().
        if data.is_empty() {
            return if self.node(path).is_some() {
                Ok(())
            } else {
                Err(errno::ENOENT)
            };
        }
        if p == "/sys/bus/pci/drivers_probe" {
            let a = bdf_of(data).ok_or(errno::ENODEV)?;
            return self.attach(a);
        }
        if let Some(rest) = p.strip_prefix("/sys/bus/pci/drivers/") {
            let (name, attr) = rest.split_once('/').ok_or(errno::EACCES)?;
            let name = name.to_string();
            if !self.drivers.contains_key(&name) {
                return Err(errno::ENOENT);
            }
            return self.driver_write(&name, attr, data);
        }
        let (a, attr) = self.device_attr(&p).ok_or(errno::ENOENT)?;
        let attr = attr.to_string();
        // open(2) fails first for an attribute this kernel does not have.
        if self.node(path).is_none() {
            return Err(errno::ENOENT);
        }
        match attr.as_str() {
            "driver_override" if self.knobs.driver_override => {
                if data.len() >= 4095 {
                    return Err(errno::EINVAL);
                }
                let text = String::from_utf8_lossy(data);
                let value = text.split('\n').next().unwrap_or("");
                self.devices.get_mut(&a).expect("present").driver_override =
                    (!value.is_empty()).then(|| value.to_string());
                Ok(())
            }
            "driver/unbind" => {
                let d = &self.devices[&a];
                if d.driver.is_none() {
                    return Err(errno::ENOENT);
                }
                if bdf_of(data) != Some(a) {
                    return Err(errno::ENODEV);
                }
                self.devices.get_mut(&a).expect("present").driver = None;
                Ok(())
            }
            "reset" => {
                if data.strip_suffix(b"\n").unwrap_or(data) != b"1" {
                    return Err(errno::EINVAL);
                }
                let d = self.devices.get_mut(&a).expect("present");
                // pci_reset_function tries the enabled methods in order; none → ENOTTY.
                let m = d.enabled_resets.first().cloned().ok_or(25)?;
                d.resets.push(m);
                Ok(())
            }
            "reset_method" => {
                const KNOWN: &[&str] = &[
                    "device_specific",
                    "acpi",
                    "flr",
                    "af_flr",
                    "pm",
                    "bus",
                    "cxl_bus",
                ];
                let text = String::from_utf8_lossy(data);
                let text = text.trim();
                let d = self.devices.get_mut(&a).expect("present");
                if text == "default" {
                    d.enabled_resets = d.spec.reset_methods.clone();
                    return Ok(());
                }
                let mut new = Vec::new();
                for m in text.split_whitespace() {
                    // "Invalid reset method" and "Unsupported reset method" are both EINVAL.
                    if !KNOWN.contains(&m) || !d.spec.reset_methods.iter().any(|x| x == m) {
                        return Err(errno::EINVAL);
                    }
                    new.push(m.to_string());
                }
                d.enabled_resets = new;
                Ok(())
            }
            _ => Err(errno::EACCES),
        }
    }

    /// A `pwrite` to a device's `config` (`pci_write_config`): bytes past the end of
    /// config space are dropped, read-only bytes keep their value, and the
    /// hardware acts on what was written (see [`config`]).
    fn write_at(&mut self, path: &Path, offset: u64, data: &[u8]) -> Result<usize, i32> {
        if self.knobs.unprivileged {
            return Err(errno::EACCES);
        }
        let p = path.to_str().ok_or(errno::ENOENT)?;
        let (a, attr) = self.device_attr(p).ok_or(errno::ENOENT)?;
        if attr != "config" {
            // Text attributes ignore the offset; nothing here writes them so.
            return Err(errno::EINVAL);
        }
        let d = self.devices.get_mut(&a).expect("present");
        let size = d.config.len();
        let Ok(off) = usize::try_from(offset) else {
            return Ok(0);
        };
        if off > size {
            return Ok(0);
        }
        let n = data.len().min(size - off);
        let before = d.config.clone();
        let layout = d.spec.layout();
        for (i, b) in data[..n].iter().enumerate() {
            if layout.writable(off + i) {
                d.config[off + i] = *b;
            }
        }
        let effects = config::effects(&layout, &before, &mut d.config);
        for effect in effects {
            match effect {
                Effect::Reset(method) => self.function_reset(a, method),
                Effect::BusReset => {
                    let (secondary, subordinate) =
                        self.devices[&a].spec.bridge_buses.expect("a bridge");
                    let below: Vec<PciAddress> = self
                        .devices
                        .keys()
                        .filter(|b| {
                            b.domain() == a.domain() && (secondary..=subordinate).contains(&b.bus())
                        })
                        .copied()
                        .collect();
                    for b in below {
                        self.function_reset(b, "bus");
                    }
                }
            }
        }
        Ok(n)
    }

    /// A function comes out of reset: config back to power-on values.
    fn function_reset(&mut self, a: PciAddress, method: &str) {
        let d = self.devices.get_mut(&a).expect("present");
        d.config = d.spec.layout().build(false);
        d.resets.push(method.to_string());
    }

    fn driver_write(&mut self, name: &str, attr: &str, data: &[u8]) -> Result<(), i32> {
        match attr {
            "bind" => {
                let a = bdf_of(data).ok_or(errno::ENODEV)?;
                let dev = self.devices.get(&a).ok_or(errno::ENODEV)?.clone();
                if dev.driver.is_some() {
                    return Err(if self.knobs.bind_ebusy {
                        errno::EBUSY
                    } else {
                        errno::ENODEV
                    });
                }
                let drv = &self.drivers[name];
                if !self.matches(drv, &dev) {
                    return Err(errno::ENODEV);
                }
                self.probe_rule(drv, &dev)?;
                self.seized(name, a);
                self.devices.get_mut(&a).expect("present").driver = Some(name.to_string());
                Ok(())
            }
            "unbind" => {
                let a = bdf_of(data).ok_or(errno::ENODEV)?;
                let dev = self.devices.get_mut(&a).ok_or(errno::ENODEV)?;
                if dev.driver.as_deref() != Some(name) {
                    return Err(errno::ENODEV);
                }
                dev.driver = None;
                Ok(())
            }
            "new_id" => {
                let f = parse_hex_fields(data).ok_or(errno::EINVAL)?;
                if f.len() < 2 || f[0] > 0xffff || f[1] > 0xffff {
                    return Err(errno::EINVAL);
                }
                let id = (f[0] as u16, f[1] as u16);
                let drv = &self.drivers[name];
                let in_static = drv.spec.match_all || drv.spec.ids.contains(&id);
                if (f.len() < 7 && in_static) || drv.dynamic_ids.contains(&id) {
                    return Err(errno::EEXIST);
                }
                self.drivers
                    .get_mut(name)
                    .expect("present")
                    .dynamic_ids
                    .push(id);
                // driver_attach(): every unbound matching device is probed now.
                let unbound: Vec<PciAddress> = self
                    .devices
                    .values()
                    .filter(|d| d.driver.is_none() && (d.spec.vendor, d.spec.device) == id)
                    .map(|d| d.spec.address)
                    .collect();
                for a in unbound {
                    let dev = self.devices[&a].clone();
                    let drv = &self.drivers[name];
                    if self.matches(drv, &dev) && self.probe_rule(drv, &dev).is_ok() {
                        self.devices.get_mut(&a).expect("present").driver = Some(name.to_string());
                    }
                }
                Ok(())
            }
            "remove_id" => {
                let f = parse_hex_fields(data).ok_or(errno::EINVAL)?;
                if f.len() < 2 {
                    return Err(errno::EINVAL);
                }
                let id = (f[0] as u16, f[1] as u16);
                let ids = &mut self.drivers.get_mut(name).expect("present").dynamic_ids;
                let i = ids.iter().position(|x| *x == id).ok_or(errno::ENODEV)?;
                ids.remove(i);
                Ok(())
            }
            "new_slot" | "remove_slot" if self.drivers[name].spec.kind == DriverKind::Pciback => {
                let a = bdf_of(data).ok_or(errno::EINVAL)?;
                let slots = &mut self.drivers.get_mut(name).expect("present").slots;
                if attr == "new_slot" {
                    slots.insert(a);
                    Ok(())
                } else if slots.remove(&a) {
                    Ok(())
                } else {
                    Err(errno::ENOENT)
                }
            }
            _ => Err(errno::ENOENT),
        }
    }
}

impl SimKernel {
    /// Every write and pwrite goes through here: hooks run, faults are injected,
    /// the log is kept.
    fn logged_write(&self, path: &Path, offset: Option<u64>, data: &[u8]) -> io::Result<()> {
        let limit = self.kill_after.load(std::sync::atomic::Ordering::SeqCst);
        if limit != usize::MAX && self.state().log.len() >= limit {
            std::panic::panic_any(Killed);
        }
        if path.ends_with("unbind") {
            while self.stuck_unbind.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        let mut s = self.state();
        let index = s.log.len();
        let mut hooks = std::mem::take(&mut s.hooks);
        for (n, hook) in hooks.iter_mut() {
            if *n == index {
                hook(&mut s);
            }
        }
        hooks.retain(|(n, _)| *n != index);
        s.hooks.extend(hooks);
        let p = path.to_string_lossy().into_owned();
        let mut injected = None;
        for f in s.faults.iter_mut() {
            if p.ends_with(&f.suffix) {
                f.seen += 1;
                if f.seen == f.nth {
                    injected = Some(f.errno);
                }
            }
        }
        let result = match injected {
            Some(e) => Err(e),
            None => match offset {
                None => s.write(path, data).map(|()| data.len()),
                Some(off) => s.write_at(path, off, data),
            },
        };
        s.log.push(WriteLog {
            path: path.to_path_buf(),
            data: data.to_vec(),
            offset,
            errno: result.err(),
        });
        match result {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", data.len()),
            )),
            Err(e) => Err(err(e)),
        }
    }
}

impl Sysfs for SimKernel {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.node(path) {
            Some(Node::File(b)) => Ok(b),
            Some(Node::WriteOnly) => Err(err(errno::EIO)),
            Some(Node::Dir(_)) => Err(err(21)),
            Some(Node::Link(t)) | Some(Node::AbsLink(t)) => self.read(&t),
            None => Err(err(errno::ENOENT)),
        }
    }

    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.logged_write(path, None, data)
    }

    fn write_at(&self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        self.logged_write(path, Some(offset), data)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        match self.node(path) {
            Some(Node::Link(t)) => Ok(relative_to(path, &t)),
            Some(Node::AbsLink(t)) => Ok(t),
            Some(_) => Err(err(errno::EINVAL)),
            None => Err(err(errno::ENOENT)),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        match self.node(path) {
            Some(Node::Dir(v)) => Ok(v),
            Some(Node::Link(t)) => self.read_dir(&t),
            Some(_) => Err(err(20)),
            None => Err(err(errno::ENOENT)),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        self.node(path).is_some()
    }

    fn is_symlink(&self, path: &Path) -> bool {
        matches!(self.node(path), Some(Node::Link(_) | Node::AbsLink(_)))
    }

    fn is_dir(&self, path: &Path) -> bool {
        match self.node(path) {
            Some(Node::Dir(_)) => true,
            Some(Node::Link(t)) => self.is_dir(&t),
            _ => false,
        }
    }
}

/// A link target written relative to the link, as sysfs writes them.
fn relative_to(link: &Path, target: &Path) -> PathBuf {
    let from: Vec<_> = link
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    let to: Vec<_> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

impl ModuleLoader for SimKernel {
    fn load(&self, module: &str) -> Result<(), ModuleError> {
        let module = module.replace('-', "_");
        let mut s = self.state();
        if s.blacklisted.contains(&module) {
            return Err(ModuleError::Prohibited(module));
        }
        let Some(spec) = s.available.get(&module).cloned() else {
            return Err(ModuleError::Failed {
                message: format!(
                    "modprobe: FATAL: Module {module} not found in directory /lib/modules/{}",
                    s.release
                ),
                module,
            });
        };
        s.drivers.entry(spec.name.clone()).or_insert(Driver {
            spec,
            dynamic_ids: Vec::new(),
            slots: BTreeSet::new(),
        });
        Ok(())
    }
}

/// Per-path write counts (for assertions that count writes to a file).
pub fn count_writes(log: &[WriteLog]) -> HashMap<PathBuf, usize> {
    let mut m = HashMap::new();
    for w in log {
        *m.entry(w.path.clone()).or_insert(0) += 1;
    }
    m
}
