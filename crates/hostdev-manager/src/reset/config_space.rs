//! libvirt's own reset (`virPCIDeviceReset`, libvirt-behaviour.md §2.3), for a
//! function the kernel offers no `reset` for: FLR, then PM D3hot→D0, then a
//! secondary bus reset through the parent bridge, each with the first 256 bytes
//! of config space saved before and written back after.
//!
//! Two deliberate differences:
//! - libvirt *detects* FLR and then returns success without doing anything ("KVM
//!   will perform FLR"). A tool whose output says "Device X reset" must reset it,
//!   so here an FLR is started through DEVCTL (or AF_CTRL) and waited for, as the
//!   kernel's `pcie_flr()` does.
//! - libvirt assumes every VF has FLR (SR-IOV requires it). Starting an FLR the
//!   function does not advertise would do nothing and report success, so, as the
//!   kernel does, only DEVCAP and AF_CAP count; such a VF goes on to PM and bus.

use std::thread::sleep;
use std::time::{Duration, Instant};

use pci_types::PciAddress;

use crate::config::{self, ConfigSpace, HeaderType, CONVENTIONAL_LEN, HEADER_LEN};
use crate::device;
use crate::ops::{Aftermath, Engine, OpError, Refusal};
use crate::paths;
use crate::stub::{self, StubKind};
use crate::usage;
use crate::Sysfs;

/// PM: D3hot and back, 10 ms each (libvirt's and the PCI PM spec's minimum).
const PM_DELAY: Duration = Duration::from_millis(10);
/// FLR: the PCIe spec's 100 ms before the function may be touched again.
const FLR_DELAY: Duration = Duration::from_millis(100);
/// Bus reset: libvirt holds the reset 200 ms and waits 200 ms after.
const BUS_RESET_DELAY: Duration = Duration::from_millis(200);
/// How long a function may answer config reads with all ones after an FLR.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// The config-space reset methods, in libvirt's order.
pub const CONFIG_SPACE_METHODS: &[&str] = &["flr", "af_flr", "pm", "bus"];

/// What a function's config space offers for a reset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Offered {
    /// PCIe FLR: the capability's position, when DEVCAP advertises FLR.
    pub flr: Option<usize>,
    /// AF FLR: the AF capability's position, when AF_CAP advertises FLR.
    pub af_flr: Option<usize>,
    /// PM reset: the PM capability's position, when No_Soft_Reset is clear.
    pub pm: Option<usize>,
    /// The function is not on the root bus (a bus reset is conceivable).
    pub bus: bool,
}

impl Offered {
    /// The methods offered, in the order they are tried.
    pub fn names(&self) -> Vec<String> {
        [
            ("flr", self.flr.is_some()),
            ("af_flr", self.af_flr.is_some()),
            ("pm", self.pm.is_some()),
            ("bus", self.bus),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n.to_string())
        .collect()
    }
}

/// `virPCIDeviceInit`: reads what the function's capabilities offer.
pub(crate) fn detect(address: &PciAddress, bytes: &[u8]) -> Offered {
    let cs = ConfigSpace::new(bytes);
    let pcie = cs.find_capability(config::CAP_ID_EXP);
    let devcap_flr = pcie
        .and_then(|p| cs.read32(p + config::EXP_DEVCAP_OFFSET))
        .is_some_and(|v| v & config::EXP_DEVCAP_FLR != 0);
    let af = cs.find_capability(config::CAP_ID_AF);
    let af_flr = af
        .and_then(|p| cs.read8(p + config::AF_CAP_OFFSET))
        .is_some_and(|v| v & config::AF_CAP_FLR != 0);
    let pm = cs.find_capability(config::CAP_ID_PM);
    let pm_reset = pm
        .and_then(|p| cs.read32(p + config::PM_CTRL_OFFSET))
        .is_some_and(|v| v & config::PM_CTRL_NO_SOFT_RESET == 0);
    Offered {
        flr: pcie.filter(|_| devcap_flr),
        af_flr: af.filter(|_| af_flr),
        pm: pm.filter(|_| pm_reset),
        bus: address.bus() != 0,
    }
}

/// One method's failure: the message, and the errno when a write failed.
struct Failure {
    what: String,
    source: Option<std::io::Error>,
}

impl Failure {
    fn refused(what: String) -> Self {
        Self { what, source: None }
    }
    fn write(what: String, source: std::io::Error) -> Self {
        Self {
            what,
            source: Some(source),
        }
    }
    fn text(&self) -> String {
        match &self.source {
            Some(e) => format!("{}: {}", self.what, crate::ops::errno_text(e)),
            None => self.what.clone(),
        }
    }
}

impl Engine {
    /// The config-space reset: `method` picks one; `None` tries libvirt's order.
    pub(super) fn config_space_reset(
        &self,
        address: PciAddress,
        method: Option<&str>,
    ) -> Result<String, OpError> {
        let s = self.sysfs();
        let config_path = paths::device_attr(&address, "config");
        let bytes = s
            .read(&config_path)
            .map_err(|source| OpError::ConfigSpace {
                what: format!(
                    "Failed to open config space file '{}'",
                    config_path.display()
                ),
                source: Some(source),
            })?;
        if bytes.len() < CONVENTIONAL_LEN {
            // The kernel shows non-root readers the first 64 bytes only; libvirt's
            // open(O_RDWR) fails the same way.
            return Err(OpError::ConfigSpace {
                what: format!(
                    "Failed to open config space file '{}': only {} bytes are readable, as for any user but root (run as root)",
                    config_path.display(),
                    bytes.len()
                ),
                source: None,
            });
        }
        // Every method here resets the function, and only the first 256 bytes
        // come back: a PF's SR-IOV control (extended config space) would not,
        // leaving VFs the kernel still lists but the hardware has dropped. The
        // kernel's reset restores that state; libvirt's sequence does not.
        let num_vfs = device::num_vfs(s, &address);
        if num_vfs > 0 {
            return Err(OpError::Refused(Refusal::Other {
                reason: format!(
                    "internal error: Unable to reset PCI device {address}: it is an SR-IOV PF with {num_vfs} VFs enabled, and the config-space sequence restores only the first 256 bytes of config space, not the SR-IOV state; use the kernel's reset, or set sriov_numvfs to 0 first"
                ),
                forceable: false,
            }));
        }
        let offered = detect(&address, &bytes);
        if let Some(m) = method {
            let available = match m {
                "flr" => offered.flr.is_some(),
                "af_flr" => offered.af_flr.is_some(),
                "pm" => offered.pm.is_some(),
                "bus" => offered.bus,
                _ => {
                    return Err(OpError::BadRequest(format!(
                    "invalid argument: reset method '{m}' has no config-space sequence (one of {})",
                    CONFIG_SPACE_METHODS.join(", ")
                )))
                }
            };
            if !available {
                return Err(OpError::BadRequest(format!(
                    "invalid argument: {address} does not offer reset method '{m}' in its config space (it offers: {})",
                    list_or_none(&offered.names())
                )));
            }
        }
        let saved = bytes[..CONVENTIONAL_LEN].to_vec();
        let wanted = |m: &str| method.is_none_or(|x| x == m);
        let mut failures: Vec<Failure> = Vec::new();
        if let Some(pos) = offered.flr.filter(|_| wanted("flr")) {
            let ctl = ConfigSpace::new(&bytes)
                .read16(pos + config::EXP_DEVCTL_OFFSET)
                .unwrap_or(0);
            let data = (ctl | config::EXP_DEVCTL_BCR_FLR).to_le_bytes();
            match self.flr(address, pos + config::EXP_DEVCTL_OFFSET, &data, &saved) {
                Ok(()) => return Ok("flr".into()),
                Err(f) => failures.push(f),
            }
        }
        if let Some(pos) = offered.af_flr.filter(|_| wanted("af_flr")) {
            match self.flr(
                address,
                pos + config::AF_CTRL_OFFSET,
                &[config::AF_CTRL_FLR],
                &saved,
            ) {
                Ok(()) => return Ok("af_flr".into()),
                Err(f) => failures.push(f),
            }
        }
        if let Some(pos) = offered.pm.filter(|_| wanted("pm")) {
            let pmcsr = ConfigSpace::new(&bytes)
                .read32(pos + config::PM_CTRL_OFFSET)
                .unwrap_or(0);
            match self.pm_reset(address, pos + config::PM_CTRL_OFFSET, pmcsr, &saved) {
                Ok(()) => return Ok("pm".into()),
                Err(f) => failures.push(f),
            }
        }
        // libvirt: "bus reset is not an option with the root bus".
        if offered.bus && wanted("bus") {
            match self.bus_reset(address, &saved) {
                Ok(()) => return Ok("bus".into()),
                Err(f) => failures.push(f),
            }
        }
        let Some(last) = failures.pop() else {
            return Err(OpError::Libvirt(format!(
                "internal error: Unable to reset PCI device {address}: no FLR, PM reset or bus reset available"
            )));
        };
        let earlier = if failures.is_empty() {
            String::new()
        } else {
            let texts: Vec<String> = failures.iter().map(Failure::text).collect();
            format!(" (tried before: {})", texts.join("; "))
        };
        let what = format!(
            "internal error: Unable to reset PCI device {address}: {}{earlier}",
            last.what
        );
        Err(match last.source {
            Some(source) => OpError::Write {
                what,
                source,
                after: Aftermath::left(self.state_of(address)),
            },
            None => OpError::Libvirt(what),
        })
    }

    /// Writes one register of a function's config space.
    fn poke(&self, address: &PciAddress, offset: usize, data: &[u8]) -> std::io::Result<()> {
        self.sysfs()
            .write_at(&paths::device_attr(address, "config"), offset as u64, data)
    }

    /// Writes the saved 256 bytes back (`virPCIDeviceWrite(cfgfd, 0, buf, 256)`).
    fn restore(&self, address: &PciAddress, saved: &[u8]) -> Result<(), Failure> {
        self.poke(address, 0, saved).map_err(|e| {
            Failure::write(
                format!("Failed to restore PCI config space for {address}"),
                e,
            )
        })
    }

    /// Starts an FLR with one register write, waits, restores config.
    fn flr(
        &self,
        address: PciAddress,
        register: usize,
        data: &[u8],
        saved: &[u8],
    ) -> Result<(), Failure> {
        self.poke(&address, register, data).map_err(|e| {
            Failure::write(format!("starting an FLR (config offset {register:#x})"), e)
        })?;
        sleep(FLR_DELAY);
        self.wait_ready(&address);
        self.restore(&address, saved)
    }

    /// `virPCIDeviceTryPowerManagementReset`: D3hot, 10 ms, D0, 10 ms, restore.
    fn pm_reset(
        &self,
        address: PciAddress,
        register: usize,
        pmcsr: u32,
        saved: &[u8],
    ) -> Result<(), Failure> {
        let ctl = pmcsr & !config::PM_CTRL_STATE_MASK;
        let d3hot = (ctl | 3).to_le_bytes();
        self.poke(&address, register, &d3hot).map_err(|e| {
            Failure::write(
                format!("putting {address} into D3hot (PMCSR at config offset {register:#x})"),
                e,
            )
        })?;
        sleep(PM_DELAY);
        if let Err(e) = self.poke(&address, register, &ctl.to_le_bytes()) {
            // Left in D3hot the function is unusable: say so, and still try to put
            // its config back (a later D0 write by anyone then finds it intact).
            let restored = self.restore(&address, saved).is_ok();
            return Err(Failure::write(
                format!(
                    "bringing {address} back to D0 (PMCSR at config offset {register:#x}); the function may be left in D3hot, config space {}",
                    if restored { "restored" } else { "NOT restored" }
                ),
                e,
            ));
        }
        sleep(PM_DELAY);
        self.restore(&address, saved)
    }

    /// `virPCIDeviceTrySecondaryBusReset`, which also restores the other
    /// functions on the bus: the reset clears their BARs and command registers
    /// as well, and libvirt, saving only its own device, leaves them so (a
    /// neighbour reattached to its driver later would find its BARs at zero).
    fn bus_reset(&self, address: PciAddress, saved: &[u8]) -> Result<(), Failure> {
        self.bus_conflict(address)?;
        let parent = self.parent_bridge(address)?;
        let neighbours: Vec<(PciAddress, Vec<u8>)> = bus_peers(self.sysfs(), &address)
            .into_iter()
            .filter_map(|peer| {
                let bytes = self
                    .sysfs()
                    .read(&paths::device_attr(&peer, "config"))
                    .ok()?;
                (bytes.len() >= CONVENTIONAL_LEN)
                    .then(|| (peer, bytes[..CONVENTIONAL_LEN].to_vec()))
            })
            .collect();
        let parent_config = paths::device_attr(&parent, "config");
        let ctl = self
            .sysfs()
            .read(&parent_config)
            .ok()
            .and_then(|b| ConfigSpace::new(&b).read16(config::BRIDGE_CONTROL_OFFSET))
            .ok_or_else(|| {
                Failure::refused(format!(
                    "Failed to read PCI config space for {parent} (the parent bridge)"
                ))
            })?;
        let at = config::BRIDGE_CONTROL_OFFSET as u64;
        let assert = (ctl | config::BRIDGE_CTL_BUS_RESET).to_le_bytes();
        self.sysfs()
            .write_at(&parent_config, at, &assert)
            .map_err(|e| {
                Failure::write(
                    format!("starting a secondary bus reset on {parent} (bridge control)"),
                    e,
                )
            })?;
        sleep(BUS_RESET_DELAY);
        let release = (ctl & !config::BRIDGE_CTL_BUS_RESET).to_le_bytes();
        // A bus left in reset takes every function below the bridge with it:
        // one retry before giving up, and the message says it loudly.
        if let Err(e) = self
            .sysfs()
            .write_at(&parent_config, at, &release)
            .or_else(|_| self.sysfs().write_at(&parent_config, at, &release))
        {
            return Err(Failure::write(
                format!(
                    "ending the secondary bus reset on {parent} (bridge control): the bus below {parent} is still held in reset and {address}'s config space was NOT restored"
                ),
                e,
            ));
        }
        sleep(BUS_RESET_DELAY);
        let lost: Vec<String> = neighbours
            .iter()
            .filter_map(|(peer, bytes)| self.restore(peer, bytes).err())
            .map(|f| f.text())
            .collect();
        self.restore(&address, saved)?;
        if lost.is_empty() {
            Ok(())
        } else {
            Err(Failure::refused(format!(
                "the bus reset through {parent} worked, but restoring another function on the bus failed: {}",
                lost.join("; ")
            )))
        }
    }

    /// The whole bus must be this function plus functions not in host use:
    /// unbound, or on a stub driver whose VFIO group no process holds (libvirt:
    /// its own inactive list).
    fn bus_conflict(&self, address: PciAddress) -> Result<(), Failure> {
        let s = self.sysfs();
        for peer in bus_peers(s, &address) {
            let driver = device::current_driver(s, &peer);
            let why = match driver.as_deref() {
                None => None,
                Some(d) if stub::stub_kind(d) == StubKind::Other => {
                    Some(format!("{peer} is on {d}"))
                }
                Some(d) => device::iommu_group(s, &peer)
                    .ok()
                    .flatten()
                    .map(|g| usage::vfio_group_holders(s, g.number))
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("{peer} is on {d} and in use by {}", h[0])),
            };
            if let Some(why) = why {
                return Err(Failure::refused(format!(
                    "internal error: Active {peer} devices on bus with {address}, not doing bus reset ({why}; detach or unbind it first)"
                )));
            }
        }
        Ok(())
    }

    /// `virPCIDeviceGetParent`: the bridge whose secondary bus is ours, else the
    /// one with the highest secondary bus whose range holds ours (VFs can sit on
    /// a bus number of their own).
    fn parent_bridge(&self, address: PciAddress) -> Result<PciAddress, Failure> {
        let s = self.sysfs();
        let mut best: Option<(u8, PciAddress)> = None;
        for candidate in device::list_addresses(s).unwrap_or_default() {
            if candidate.domain() != address.domain() || candidate == address {
                continue;
            }
            let class = device::hex_attr(s, &candidate, "class").ok().flatten();
            if class.map(|c| (c >> 8) & 0xffff) != Some(0x0604) {
                continue;
            }
            let Ok(bytes) = s.read(&paths::device_attr(&candidate, "config")) else {
                continue;
            };
            let cs = ConfigSpace::new(&bytes);
            if cs.header_type() != Some(HeaderType::PciBridge) || bytes.len() < HEADER_LEN {
                continue;
            }
            let (Some(secondary), Some(subordinate)) = (
                cs.read8(config::SECONDARY_BUS_OFFSET),
                cs.read8(config::SUBORDINATE_BUS_OFFSET),
            ) else {
                continue;
            };
            if secondary == address.bus() {
                return Ok(candidate);
            }
            if secondary < address.bus()
                && address.bus() <= subordinate
                && best.is_none_or(|(b, _)| secondary > b)
            {
                best = Some((secondary, candidate));
            }
        }
        best.map(|(_, a)| a).ok_or_else(|| {
            Failure::refused(format!(
                "internal error: Failed to find parent device for {address}"
            ))
        })
    }

    /// After an FLR a function may answer config reads with all ones for a while.
    fn wait_ready(&self, address: &PciAddress) {
        let start = Instant::now();
        let path = paths::device_attr(address, "config");
        while start.elapsed() < READY_TIMEOUT {
            match self.sysfs().read(&path) {
                Ok(b) if ConfigSpace::new(&b).read16(0) != Some(0xffff) => return,
                Err(_) => return,
                _ => sleep(Duration::from_millis(10)),
            }
        }
    }
}

/// Every other function on the same domain and bus.
pub(crate) fn bus_peers(sysfs: &dyn Sysfs, address: &PciAddress) -> Vec<PciAddress> {
    device::list_addresses(sysfs)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a != address && a.domain() == address.domain() && a.bus() == address.bus())
        .collect()
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
