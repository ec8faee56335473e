//! Config space of a simulated function: the registers the reset fallback reads
//! and writes, laid out as real hardware lays them out, with the side effects
//! a write has on real hardware.
//!
//! | register | where | a write… |
//! |---|---|---|
//! | command | 0x04 | is kept (a reset clears it: how a test sees that config was restored) |
//! | BAR0 | 0x10 (endpoints) | is kept (a reset clears it) |
//! | bus numbers | 0x18–0x1a (bridges) | read only here |
//! | bridge control | 0x3e (bridges) | setting bit 0x40 resets every function below the bridge (`bus`) |
//! | PMCSR | PM cap + 4 | D3hot (3) → D0 (0) resets the function (`pm`) unless No_Soft_Reset (0x08) is set |
//! | DEVCTL | PCIe cap + 8 | bit 15 starts an FLR (`flr`) if DEVCAP bit 28 says the function has one; reads 0 |
//! | AF_CTRL | AF cap + 4 | bit 0 starts an FLR (`af_flr`) if AF_CAP bit 0x02 says so; reads 0 |
//!
//! Every other byte is read only, as vendor, class and capability pointers are.
//! Capabilities sit at fixed places: PM at 0x40, PCI Express at 0x50, AF at
//! 0x90, chained in that order. A function with a PCIe capability has 4096 bytes
//! of config space, others 256; an unprivileged reader sees the first 64, as
//! from the real `config` file.

/// The capabilities of a simulated function's config space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigCaps {
    /// A PM capability; `Some(true)` sets No_Soft_Reset (D3hot→D0 keeps state).
    pub pm_no_soft_reset: Option<bool>,
    /// A PCI Express capability; `Some(true)` advertises FLR in DEVCAP.
    pub pcie_flr: Option<bool>,
    /// An Advanced Features capability; `Some(true)` advertises FLR in AF_CAP.
    pub af_flr: Option<bool>,
}

/// Offsets of the modelled registers.
pub mod reg {
    /// Command register.
    pub const COMMAND: usize = 0x04;
    /// BAR0 (endpoints).
    pub const BAR0: usize = 0x10;
    /// Secondary bus number (bridges).
    pub const SECONDARY_BUS: usize = 0x19;
    /// Subordinate bus number (bridges).
    pub const SUBORDINATE_BUS: usize = 0x1a;
    /// Bridge control (bridges).
    pub const BRIDGE_CONTROL: usize = 0x3e;
    /// The PM capability.
    pub const PM: usize = 0x40;
    /// PMCSR.
    pub const PMCSR: usize = PM + 4;
    /// The PCI Express capability.
    pub const PCIE: usize = 0x50;
    /// DEVCTL.
    pub const DEVCTL: usize = PCIE + 8;
    /// The Advanced Features capability.
    pub const AF: usize = 0x90;
    /// AF_CTRL.
    pub const AF_CTRL: usize = AF + 4;
}

/// The command register as a bound driver leaves it (memory, bus master, INTx off).
pub const PROGRAMMED_COMMAND: u16 = 0x0406;
/// BAR0 as the firmware assigned it.
pub const PROGRAMMED_BAR0: u32 = 0xfebc_0000;

/// What a function reset does to a function's config, as the device's own reset
/// logic does: back to power-on values.
pub(crate) struct Layout<'a> {
    pub vendor: u16,
    pub device: u16,
    pub class: u32,
    pub header_type: u8,
    pub bus: u8,
    pub bridge_buses: Option<(u8, u8)>,
    pub caps: &'a ConfigCaps,
}

impl Layout<'_> {
    /// Config space after power-on (`programmed` false) or as firmware and the
    /// driver left it (`programmed` true).
    pub fn build(&self, programmed: bool) -> Vec<u8> {
        let caps = self.caps;
        let size = if caps.pcie_flr.is_some() { 4096 } else { 256 };
        let mut c = vec![0u8; size];
        c[0..2].copy_from_slice(&self.vendor.to_le_bytes());
        c[2..4].copy_from_slice(&self.device.to_le_bytes());
        c[0x09..0x0c].copy_from_slice(&self.class.to_le_bytes()[..3]);
        c[0x0e] = self.header_type;
        if programmed {
            c[reg::COMMAND..reg::COMMAND + 2].copy_from_slice(&PROGRAMMED_COMMAND.to_le_bytes());
            if self.header_type == 0 {
                c[reg::BAR0..reg::BAR0 + 4].copy_from_slice(&PROGRAMMED_BAR0.to_le_bytes());
            }
        }
        if let Some((secondary, subordinate)) = self.bridge_buses {
            // Bus numbers are programmed by firmware and survive in this model.
            c[0x18] = self.bus;
            c[reg::SECONDARY_BUS] = secondary;
            c[reg::SUBORDINATE_BUS] = subordinate;
        }
        let mut chain: Vec<usize> = Vec::new();
        if let Some(no_soft_reset) = caps.pm_no_soft_reset {
            c[reg::PM] = 0x01;
            c[reg::PM + 2..reg::PM + 4].copy_from_slice(&0x0003u16.to_le_bytes());
            c[reg::PMCSR] = if no_soft_reset { 0x08 } else { 0 };
            chain.push(reg::PM);
        }
        if let Some(flr) = caps.pcie_flr {
            c[reg::PCIE] = 0x10;
            // Version 2, an endpoint.
            c[reg::PCIE + 2..reg::PCIE + 4].copy_from_slice(&0x0002u16.to_le_bytes());
            let devcap: u32 = if flr { 1 << 28 } else { 0 };
            c[reg::PCIE + 4..reg::PCIE + 8].copy_from_slice(&devcap.to_le_bytes());
            // LNKCAP/LNKSTA: 2.5 GT/s x1.
            c[reg::PCIE + 0xc..reg::PCIE + 0x10].copy_from_slice(&0x11u32.to_le_bytes());
            c[reg::PCIE + 0x12..reg::PCIE + 0x14].copy_from_slice(&0x11u16.to_le_bytes());
            chain.push(reg::PCIE);
        }
        if let Some(flr) = caps.af_flr {
            c[reg::AF] = 0x13;
            c[reg::AF + 2] = 0x06;
            c[reg::AF + 3] = if flr { 0x03 } else { 0x01 };
            chain.push(reg::AF);
        }
        if let Some(first) = chain.first() {
            c[0x06] = 0x10;
            c[0x34] = *first as u8;
            for pair in chain.windows(2) {
                c[pair[0] + 1] = pair[1] as u8;
            }
        }
        c
    }

    /// Whether software can change this byte.
    pub fn writable(&self, off: usize) -> bool {
        let caps = self.caps;
        let bridge = self.bridge_buses.is_some();
        matches!(off, 0x04 | 0x05 | 0x3c)
            || (!bridge && (reg::BAR0..reg::BAR0 + 0x18).contains(&off))
            || (bridge && (off == reg::BRIDGE_CONTROL || off == reg::BRIDGE_CONTROL + 1))
            || (caps.pm_no_soft_reset.is_some() && (off == reg::PMCSR || off == reg::PMCSR + 1))
            || (caps.pcie_flr.is_some() && (off == reg::DEVCTL || off == reg::DEVCTL + 1))
            || (caps.af_flr.is_some() && off == reg::AF_CTRL)
    }
}

/// What a config write asks the hardware to do, besides storing bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The function resets itself: `pm`, `flr` or `af_flr`.
    Reset(&'static str),
    /// A bridge resets everything below it.
    BusReset,
}

/// Applies a write to `config` and says what it sets off. `before` is the
/// content before the write.
pub(crate) fn effects(layout: &Layout<'_>, before: &[u8], after: &mut [u8]) -> Vec<Effect> {
    let caps = layout.caps;
    let mut out = Vec::new();
    if let Some(no_soft_reset) = caps.pm_no_soft_reset {
        let (old, new) = (before[reg::PMCSR] & 3, after[reg::PMCSR] & 3);
        // No_Soft_Reset is read only.
        after[reg::PMCSR] = (after[reg::PMCSR] & !0x08) | (before[reg::PMCSR] & 0x08);
        if old == 3 && new == 0 && !no_soft_reset {
            out.push(Effect::Reset("pm"));
        }
    }
    if let Some(flr) = caps.pcie_flr {
        if after[reg::DEVCTL + 1] & 0x80 != 0 {
            after[reg::DEVCTL + 1] &= !0x80;
            if flr {
                out.push(Effect::Reset("flr"));
            }
        }
    }
    if let Some(flr) = caps.af_flr {
        if after[reg::AF_CTRL] & 0x01 != 0 {
            after[reg::AF_CTRL] &= !0x01;
            if flr {
                out.push(Effect::Reset("af_flr"));
            }
        }
    }
    if layout.bridge_buses.is_some()
        && before[reg::BRIDGE_CONTROL] & 0x40 == 0
        && after[reg::BRIDGE_CONTROL] & 0x40 != 0
    {
        out.push(Effect::BusReset);
    }
    out
}
