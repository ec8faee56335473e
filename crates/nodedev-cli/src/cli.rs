//! The command line, declared with clap. Only parsing lives here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hostdev_manager::ops::MethodChoice;
use hostdev_manager::persist::VfioOwner;

/// What `nodedev --version` prints after the name: the version, and whether this
/// build has the libvirt backend (`--connect`, `check`, `event --connect`).
#[cfg(feature = "libvirt")]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nlibvirt backend: yes");
/// What `nodedev --version` prints after the name: the version, and whether this
/// build has the libvirt backend (`--connect`, `check`, `event --connect`).
#[cfg(not(feature = "libvirt"))]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nlibvirt backend: no (build with --features libvirt)"
);

/// libvirt's node-device commands for PCI devices, without a libvirt daemon.
#[derive(Parser, Debug)]
#[command(name = "nodedev", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Go through libvirt at this URI (`qemu:///system`) instead of reading sysfs:
    /// list, dumpxml, info, detach, reattach, reset, check and event. Needs a build
    /// with the libvirt backend (`nodedev --version` says); refused inside the hook.
    #[arg(long, global = true, value_name = "URI")]
    pub connect: Option<String>,

    /// Read the device tree under this directory, or from a `nodedev snapshot` tar,
    /// instead of `/`.
    #[arg(long, global = true, env = "NODEDEV_ROOT", value_name = "DIR|FILE.tar")]
    pub root: Option<PathBuf>,

    /// The pci.ids database for vendor and product names (default: the system's).
    #[arg(long, global = true, env = "NODEDEV_PCI_IDS", value_name = "FILE")]
    pub pci_ids: Option<PathBuf>,

    /// Quiet: leave out the success messages and the blank line virsh prints after
    /// every command.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Where persistent assignments live (`detach --persistent`, `persist`, `boot`).
    #[arg(long, global = true, env = "NODEDEV_CONFIG_DIR", value_name = "DIR", default_value = hostdev_manager::persist::DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,

    /// Where records of detached devices and lock files live.
    #[arg(long, global = true, env = "NODEDEV_STATE_DIR", value_name = "DIR", default_value = hostdev_manager::state::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,

    /// How long an unbind may take before the tool reports who holds the device
    /// (seconds, or a number with `ms` or `s`).
    #[arg(long, global = true, value_name = "DURATION", default_value = "10")]
    pub unbind_timeout: Timeout,

    /// How long to wait for another nodedev operation on the same device before
    /// giving up and naming it (seconds, or a number with `ms` or `s`).
    #[arg(long, global = true, value_name = "DURATION", default_value = "5")]
    pub lock_timeout: Timeout,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Enumerate devices on this host (virsh nodedev-list).
    List(ListArgs),
    /// Print a device's XML description (virsh nodedev-dumpxml).
    Dumpxml(DumpxmlArgs),
    /// Print basic information about a device (virsh nodedev-info).
    Info(InfoArgs),
    /// Detach devices from their host drivers to a stub (virsh nodedev-detach).
    #[command(alias = "dettach")]
    Detach(DetachArgs),
    /// Give devices back to their host drivers (virsh nodedev-reattach).
    Reattach(ReattachArgs),
    /// Reset devices with the kernel's function reset (virsh nodedev-reset).
    Reset(ResetArgs),
    /// Write the sysfs subset this tool reads into a tar, for bug reports and `--root`.
    Snapshot(SnapshotArgs),
    /// Every IOMMU group, its members, and whether VFIO can use it now.
    Groups(GroupsArgs),
    /// What a detach would do and whether the host survives it; writes nothing.
    Preflight(PreflightArgs),
    /// Work with node-device XML documents.
    #[command(subcommand)]
    Xml(XmlCommand),
    /// Detach or reattach every PCI host device of a domain document.
    Apply {
        /// What to do with the domain's devices.
        #[arg(value_enum)]
        action: ApplyAction,
        /// The domain XML (`-` for standard input).
        domain: PathBuf,
        /// Detach even what the tool refuses to protect the host.
        #[arg(long)]
        force: bool,
    },
    /// The libvirt hook entry point, and its installation.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Persistent assignments: the devices put on a stub at every boot.
    #[command(subcommand)]
    Persist(PersistCommand),
    /// Put every persistently assigned device on its stub (the boot unit runs
    /// this); `--udev BDF` answers the udev rule.
    Boot(BootArgs),
    /// Compare every device's XML with libvirt's (the daemon at --connect, else
    /// libvirt's default URI): a diff per device that differs, exit 1 if any does.
    Check(CheckArgs),
    /// Wait for node-device events and print them as `virsh nodedev-event` does:
    /// from the kernel's uevents, or from libvirt with --connect.
    Event(EventArgs),
    /// virsh's command line (`nodedev virsh nodedev-detach pci_…`), for scripts
    /// written for virsh; also what runs when this binary is invoked as `virsh`.
    Virsh {
        /// virsh's arguments: `[-q] [-c URI] nodedev-COMMAND [OPTIONS]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `nodedev list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// List devices in a tree.
    #[arg(long, conflicts_with = "cap")]
    pub tree: bool,
    /// Capability names, separated by commas (pci, net, system, mdev_types, vpd, …).
    #[arg(long, value_name = "CAPS")]
    pub cap: Option<String>,
    /// Print JSON instead of names.
    #[arg(long)]
    pub json: bool,
    /// List the devices this tool detached (its state records) instead.
    #[arg(long, conflicts_with_all = ["tree", "cap"])]
    pub detached: bool,
    /// Only inactive devices: virsh's `--inactive`; every device seen here is active.
    #[arg(long, hide = true)]
    pub inactive_only: bool,
}

/// What `nodedev apply` does with a domain's devices.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyAction {
    /// Detach them (as the hook's prepare would, managed ones included).
    Detach,
    /// Give them back.
    Reattach,
}

/// A positive duration: `10` (seconds), `2.5`, `100ms` or `10s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl std::str::FromStr for Timeout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (number, unit) = match s.strip_suffix("ms") {
            Some(n) => (n, 0.001),
            None => (s.strip_suffix('s').unwrap_or(s), 1.0),
        };
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (try 10, 2.5, 100ms or 10s)"))?;
        let seconds = value * unit;
        if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
            return Err(format!(
                "'{s}' is out of range: give more than 0 and at most a day"
            ));
        }
        let d = Duration::from_secs_f64(seconds);
        if d.is_zero() {
            return Err(format!("'{s}' rounds to zero"));
        }
        Ok(Self(d))
    }
}

impl From<Timeout> for Duration {
    fn from(t: Timeout) -> Self {
        t.0
    }
}

/// How to bind the stub.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum Method {
    /// driver_override where the kernel has it (Linux ≥ 3.16), else new_id.
    #[default]
    Auto,
    /// driver_override only.
    Override,
    /// new_id / bind / remove_id (also on kernels with driver_override).
    NewId,
}

impl From<Method> for MethodChoice {
    fn from(m: Method) -> Self {
        match m {
            Method::Auto => MethodChoice::Auto,
            Method::Override => MethodChoice::Override,
            Method::NewId => MethodChoice::NewId,
        }
    }
}

/// `nodedev detach`.
#[derive(Args, Debug)]
pub struct DetachArgs {
    /// Devices (names, PCI addresses or network interface names); several are
    /// detached in parallel.
    #[arg(required_unless_present_any = ["xml", "ids"])]
    pub devices: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub select: SelectArgs,
    /// Take the device from a node-device document or a `<hostdev>` element
    /// (whose `<driver name/model>` picks the stub unless --driver does).
    #[arg(long, value_name = "FILE", conflicts_with = "devices")]
    pub xml: Option<PathBuf>,
    /// The stub: `vfio` (default: the best VFIO variant, else vfio-pci), `xen`
    /// (pciback), or a driver name such as `pci-stub`.
    #[arg(long, value_name = "DRIVER")]
    pub driver: Option<String>,
    /// How to bind the stub.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    pub method: Method,
    /// Detach every endpoint of each device's IOMMU group, all or none.
    #[arg(long)]
    pub group: bool,
    /// Detach even what the tool refuses to protect the host (in use, bridges, PFs with VFs).
    #[arg(long)]
    pub force: bool,
    /// Print the sysfs writes that would be made, and make none.
    #[arg(long)]
    pub dry_run: bool,
    /// Also at every boot: remember each device (its address, stub and ids) in
    /// the config directory (see `nodedev persist`).
    #[arg(long)]
    pub persistent: bool,
    /// Give the device's /dev/vfio/N to `USER[:GROUP]` (for QEMU running
    /// unprivileged); remembered with --persistent.
    #[arg(long, value_name = "USER[:GROUP]")]
    pub owner: Option<VfioOwner>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept only exact node-device names, as virsh does (virsh mode).
    #[arg(long, hide = true)]
    pub exact_name: bool,
    /// virsh mode: take `--driver` as the libvirt driver virsh would talk to does
    /// (`qemu`: vfio only; `xen`, libxl: pciback only; `auto`: xen in a Xen dom0).
    #[arg(long, hide = true, value_enum)]
    pub virsh: Option<VirshHypervisor>,
}

/// The libvirt driver whose rules virsh mode follows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirshHypervisor {
    /// `qemu:///system` (the QEMU driver).
    Qemu,
    /// `xen:///system` (the libxl driver).
    Xen,
    /// Whichever this host has: libxl in a Xen dom0, else QEMU.
    Auto,
}

/// `nodedev reattach`.
#[derive(Args, Debug)]
pub struct ReattachArgs {
    /// Devices (names, PCI addresses or network interface names); several are
    /// reattached in parallel.
    #[arg(required_unless_present_any = ["xml", "ids"])]
    pub devices: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub select: SelectArgs,
    /// Also forget the devices' persistent assignments (once each is given back).
    #[arg(long)]
    pub persistent: bool,
    /// Take the device from a node-device document or a `<hostdev>` element.
    #[arg(long, value_name = "FILE", conflicts_with = "devices")]
    pub xml: Option<PathBuf>,
    /// Reattach even if the identity differs from the record or the host uses the device.
    #[arg(long)]
    pub force: bool,
    /// Print the sysfs writes that would be made, and make none.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept only exact node-device names, as virsh does (virsh mode).
    #[arg(long, hide = true)]
    pub exact_name: bool,
}

/// `nodedev reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    /// Devices (names, PCI addresses or network interface names).
    #[arg(required_unless_present = "ids")]
    pub devices: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub select: SelectArgs,
    /// Only this method (flr, af_flr, pm, bus, acpi, device_specific, cxl_bus),
    /// through reset_method (Linux ≥ 5.15); the list is restored afterwards.
    /// With the config-space sequence: flr, af_flr, pm or bus.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Reset a device bound to vfio too (vfio resets it itself; skipped otherwise).
    #[arg(long)]
    pub force: bool,
    /// Use libvirt's config-space sequence (FLR, PM D3hot→D0, secondary bus
    /// reset) even where the kernel offers a reset. Without this flag it is used
    /// only where the kernel offers none.
    #[arg(long)]
    pub config_space: bool,
    /// Show the methods the device offers and what the tool would use; reset nothing.
    #[arg(long)]
    pub list: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Accept only exact node-device names, as virsh does (virsh mode).
    #[arg(long, hide = true)]
    pub exact_name: bool,
    /// virsh mode: print what virsh prints, no notes of ours.
    #[arg(long, hide = true)]
    pub virsh_output: bool,
}

/// `nodedev dumpxml`.
#[derive(Args, Debug)]
pub struct DumpxmlArgs {
    /// Device name (pci_0000_07_10_1), PCI address (0000:07:10.1, 07:10.1), net_… or computer.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub device: Option<String>,
    /// Every device, one document after another.
    #[arg(long)]
    pub all: bool,
    /// Accept only exact node-device names, as virsh does (virsh mode).
    #[arg(long, hide = true)]
    pub exact_name: bool,
}

/// `nodedev info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Device name or PCI address.
    pub device: String,
    /// Print JSON, with everything the tool knows about the device.
    #[arg(long)]
    pub json: bool,
    /// Accept only exact node-device names, as virsh does (virsh mode).
    #[arg(long, hide = true)]
    pub exact_name: bool,
}

/// `nodedev groups`.
#[derive(Args, Debug)]
pub struct GroupsArgs {
    /// Only this group.
    #[arg(long, value_name = "N")]
    pub group: Option<u32>,
    /// Only the groups with a device of this class: gpu, vga, audio, multimedia,
    /// net, ethernet, wireless, storage, nvme, sata, sas, raid, usb, serial-bus,
    /// bridge, crypto, accelerator, or a class code in hex (03, 0300, 030000).
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nodedev preflight`.
#[derive(Args, Debug)]
pub struct PreflightArgs {
    /// Devices (names, PCI addresses or network interface names); each is
    /// checked as `detach DEV` would be.
    #[arg(required_unless_present = "ids")]
    pub devices: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub select: SelectArgs,
    /// The stub, as for detach: `vfio` (default), `xen`, or a driver name.
    #[arg(long, value_name = "DRIVER")]
    pub driver: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nodedev snapshot`.
#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// The tar file to write (`-` for standard output). A new name or a regular
    /// file is written by rename from OUT.partial, mode 0600; a character device
    /// or FIFO (`/dev/stdout` into a pipe) is written straight through; a link to a
    /// file is refused.
    pub output: PathBuf,
    /// Keep what only root can read and that identifies the machine: DMI
    /// product/board/chassis serials and the system UUID, PCI VPD, and PCIe
    /// device serial numbers (left out by default).
    #[arg(long)]
    pub include_serials: bool,
}

/// `nodedev check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print every device compared, not only the ones that differ.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Which of virsh's node-device event types to print.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// A device appeared (`Created`) or went away (`Deleted`).
    Lifecycle,
    /// A device that libvirt (or this tool) already knew changed.
    Update,
}

impl EventType {
    /// virsh's names of the event types, in virsh's order (`nodedev-event --list`).
    pub fn names() -> impl Iterator<Item = String> {
        use clap::ValueEnum;
        Self::value_variants()
            .iter()
            .filter_map(|t| t.to_possible_value())
            .map(|v| v.get_name().to_string())
    }
}

/// `nodedev event`.
#[derive(Args, Debug)]
pub struct EventArgs {
    /// Only this device's events (a node-device name).
    #[arg(long, value_name = "DEV")]
    pub device: Option<String>,
    /// The event type to wait for (virsh requires one; see --all).
    #[arg(long, value_enum, required_unless_present_any = ["all", "list"])]
    pub event: Option<EventType>,
    /// Both event types.
    #[arg(long, conflicts_with = "event")]
    pub all: bool,
    /// Keep printing events until the timeout, rather than stopping after the first.
    #[arg(long = "loop")]
    pub r#loop: bool,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u32>,
    /// Put a timestamp before each event.
    #[arg(long)]
    pub timestamp: bool,
    /// List the event types and exit.
    #[arg(long)]
    pub list: bool,
    /// Which uevents to read: udevd's (after its rules ran, as libvirt reads them),
    /// the kernel's own, or udevd's when udevd runs (auto).
    #[arg(long, value_enum, default_value_t = UeventSource::Auto)]
    pub source: UeventSource,
}

/// Where `nodedev event` reads uevents from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UeventSource {
    /// udevd's when udevd runs, else the kernel's.
    Auto,
    /// The kernel's (netlink group 1).
    Kernel,
    /// udevd's (netlink group 2).
    Udev,
}

/// `nodedev hook …`.
#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// What libvirtd runs: /etc/libvirt/hooks/qemu.d/* DOMAIN OPERATION SUB-OPERATION EXTRA,
    /// with the domain XML on standard input.
    Qemu {
        /// The domain's name.
        domain: String,
        /// prepare, start, started, stopped, release, migrate, restore, reconnect, attach.
        operation: String,
        /// begin, end or -.
        sub_operation: String,
        /// Extra argument (- when none).
        extra: Option<String>,
    },
    /// Put the hook into DIR/qemu.d/ (idempotent; libvirtd reads hooks when it starts).
    Install {
        /// libvirt's hook directory.
        #[arg(long, default_value = "/etc/libvirt/hooks")]
        dir: PathBuf,
    },
    /// Remove the hook from DIR/qemu.d/.
    Uninstall {
        /// libvirt's hook directory.
        #[arg(long, default_value = "/etc/libvirt/hooks")]
        dir: PathBuf,
    },
}

/// `nodedev xml …`.
#[derive(Subcommand, Debug)]
pub enum XmlCommand {
    /// Parse a node-device document and print it in libvirt's canonical form.
    Normalize {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
    },
}

/// Devices chosen by their ids, for the commands that take `DEV…`.
#[derive(Args, Debug, Default, Clone)]
pub struct SelectArgs {
    /// Every PCI function with these ids: VVVV:DDDD (vendor:device) or
    /// VVVV:DDDD:SVVV:SDDD (with the subsystem's), in hex; may be repeated.
    #[arg(long = "id", value_name = "VVVV:DDDD[:SVVV:SDDD]")]
    pub ids: Vec<String>,
}

/// `nodedev persist …`.
#[derive(Subcommand, Debug)]
pub enum PersistCommand {
    /// Show the persistent assignments, with what sits at each address now.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget devices' assignments without touching the devices now (an address
    /// also works for a card that is gone).
    Remove {
        /// Devices (names, PCI addresses or network interface names).
        #[arg(required_unless_present = "ids")]
        devices: Vec<String>,
        #[command(flatten)]
        #[allow(missing_docs)]
        select: SelectArgs,
    },
}

/// `nodedev boot`.
#[derive(Args, Debug)]
pub struct BootArgs {
    /// The udev rule's question for one device (its sysfs name, udev's
    /// `$kernel`): prints NODEDEV_SHIM_DRIVER=DRIVER when its assignment is
    /// usable and the device is the one assigned; writes nothing.
    #[arg(long, value_name = "BDF", conflicts_with = "early")]
    pub udev: Option<String>,
    /// Before udev's coldplug (the initramfs, nodedev-shim-early.service): name
    /// the stub in driver_override of every assigned device no driver has yet;
    /// nothing else is written.
    #[arg(long)]
    pub early: bool,
    /// Where the initramfs's copy of the assignments is (its init-bottom script
    /// leaves it there), to give back what an out-of-date initramfs assigned.
    #[arg(long, value_name = "DIR", default_value = hostdev_manager::boot::INITRAMFS_COPY, hide = true)]
    pub initramfs_copy: PathBuf,
    /// Where the VFIO group nodes are.
    #[arg(long, value_name = "DIR", default_value = "/dev/vfio", hide = true)]
    pub dev_vfio: PathBuf,
    /// Where `--udev` logs a device it refuses (the kernel log, seen even in
    /// the initramfs).
    #[arg(long, value_name = "FILE", default_value = "/dev/kmsg", hide = true)]
    pub kernel_log: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts() {
        let t = |s: &str| s.parse::<Timeout>().map(Duration::from);
        assert_eq!(t("10"), Ok(Duration::from_secs(10)));
        assert_eq!(t("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(t("2.5s"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "0ms", "-1", "x", "", "1e9", "NaN"] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }
}
