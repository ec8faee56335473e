//! Every node device libvirt's udev backend lists, found the way it finds
//! them (`udevEnumerateDevices`, `udevAddOneDevice`, `udevSetParent` in
//! libvirt 9.0's `src/node_device/node_device_udev.c`):
//!
//! 1. the devices of the subsystems that can hold a listed device, each once,
//!    in libudev's order (by sysfs path, parents first, md/dm last);
//! 2. for each, the class its `DEVTYPE`, properties and subsystem give, and the
//!    class's reader, which may refuse it (then it is not listed: the reason
//!    is kept in [`Enumeration::dropped`]);
//! 3. its name, and as parent the nearest listed device above it in sysfs
//!    (`computer` when there is none); a device whose name an earlier one had
//!    replaces it, as libvirt's list is keyed by name.
//!
//! PCI functions and network interfaces are read by [`crate::device`] and
//! [`crate::net`]; the other classes by [`crate::usb`], [`crate::scsi`],
//! [`crate::storage`], [`crate::drm`], [`crate::mdev`], [`crate::vdpa`] and
//! [`crate::s390`], from what [`crate::udev`] reads.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use pci_types::PciAddress;

use crate::device::{self, PciDevice};
use crate::drm::DrmType;
use crate::error::Result;
use crate::mdev::{Mdev, MdevParent, MdevType};
use crate::net::NetInterface;
use crate::s390::{CcwAddress, Css};
use crate::scsi::{ScsiDevice, ScsiGeneric, ScsiHost, ScsiTarget};
use crate::storage::Storage;
use crate::sysfs::Sysfs;
use crate::udev::{canonical, lossy, DatabaseState, DbEntry, UdevDevice};
use crate::usb::{UsbDevice, UsbInterface};
use crate::vdpa::Vdpa;
use crate::{paths, COMPUTER};

/// The directories whose entries can be listed devices (besides
/// `/sys/bus/pci/devices` and `/sys/class/net`): every device libvirt's type
/// detection accepts belongs to one of these subsystems.
pub const SCAN_DIRS: &[&str] = &[
    "/sys/bus/usb/devices",
    "/sys/bus/scsi/devices",
    "/sys/class/block",
    "/sys/class/scsi_generic",
    "/sys/class/drm",
    "/sys/bus/mdev/devices",
    "/sys/bus/vdpa/devices",
    "/sys/bus/ccw/devices",
    "/sys/bus/css/devices",
    "/sys/bus/ap/devices",
    "/sys/bus/matrix/devices",
    "/sys/class/mtty",
];

/// From how many devices [`enumerate`] reads them on several threads.
const PARALLEL_FROM: usize = 512;
/// The most threads [`enumerate`] reads devices on.
const MAX_THREADS: usize = 4;

/// The capability names virsh accepts for `--cap` (libvirt 9.0's
/// `virNodeDevCapType`, in its order).
pub const CAPABILITY_NAMES: &[&str] = &[
    "system",
    "pci",
    "usb_device",
    "usb",
    "net",
    "scsi_host",
    "scsi_target",
    "scsi",
    "storage",
    "fc_host",
    "vports",
    "scsi_generic",
    "drm",
    "mdev_types",
    "mdev",
    "ccw",
    "css",
    "vdpa",
    "ap_card",
    "ap_queue",
    "ap_matrix",
    "vpd",
];

/// What a listed device is, with what its class reads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "class", content = "details", rename_all = "snake_case")]
pub enum Kind {
    /// A PCI function; its details when they were asked for.
    Pci {
        /// Its address.
        address: PciAddress,
        /// Everything [`device::read_device`] reads (with [`Detail::Full`]).
        device: Option<Box<PciDevice>>,
    },
    /// A network interface.
    Net(Box<NetInterface>),
    /// A USB device.
    UsbDevice(UsbDevice),
    /// A USB interface (capability `usb`).
    Usb(UsbInterface),
    /// A SCSI host.
    ScsiHost(ScsiHost),
    /// A SCSI target.
    ScsiTarget(ScsiTarget),
    /// A SCSI device.
    Scsi(ScsiDevice),
    /// A disk, CD-ROM, floppy or SD card.
    Storage(Box<Storage>),
    /// A SCSI generic node.
    ScsiGeneric(ScsiGeneric),
    /// A DRM minor.
    Drm(DrmType),
    /// An active mediated device.
    Mdev(Mdev),
    /// A stand-alone mediated-device parent (capability `mdev_types`).
    MdevTypes(MdevParent),
    /// An online channel device.
    Ccw(CcwAddress),
    /// A subchannel.
    Css(Css),
    /// A vDPA device.
    Vdpa(Vdpa),
    /// An AP card: its adapter number.
    ApCard(u32),
    /// An AP queue: adapter and domain.
    ApQueue(u32, u32),
    /// The vfio-ap matrix: its mediated-device types.
    ApMatrix(Vec<MdevType>),
}

impl Kind {
    /// The top-level capability's name.
    pub fn capability(&self) -> &'static str {
        match self {
            Self::Pci { .. } => "pci",
            Self::Net(_) => "net",
            Self::UsbDevice(_) => "usb_device",
            Self::Usb(_) => "usb",
            Self::ScsiHost(_) => "scsi_host",
            Self::ScsiTarget(_) => "scsi_target",
            Self::Scsi(_) => "scsi",
            Self::Storage(_) => "storage",
            Self::ScsiGeneric(_) => "scsi_generic",
            Self::Drm(_) => "drm",
            Self::Mdev(_) => "mdev",
            Self::MdevTypes(_) => "mdev_types",
            Self::Ccw(_) => "ccw",
            Self::Css(_) => "css",
            Self::Vdpa(_) => "vdpa",
            Self::ApCard(_) => "ap_card",
            Self::ApQueue(..) => "ap_queue",
            Self::ApMatrix(_) => "ap_matrix",
        }
    }
}

/// One listed node device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// libvirt's name.
    pub name: String,
    /// The real sysfs directory.
    pub sysfs_path: PathBuf,
    /// The parent's name (`computer` at the top).
    pub parent: String,
    /// `/dev/…` node (`DEVNAME`).
    pub devnode: Option<String>,
    /// Links to the node (udev database), sorted.
    pub devlinks: Vec<String>,
    /// The bound driver (the `driver` link; not read with [`Detail::Names`]).
    pub driver: Option<String>,
    /// The udev database entry read for it (none for PCI functions and
    /// network interfaces, whose database entries libvirt does not use).
    pub udev: Option<DbEntry>,
    /// The class and what it read.
    #[serde(flatten)]
    pub kind: Kind,
}

impl Node {
    /// The capabilities `virsh nodedev-list --cap` matches: the top-level one,
    /// then the nested ones (`fc_host`, `vports`, `mdev_types`, `vpd`). For a
    /// PCI function the nested ones are known only with [`Detail::Full`].
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut out = vec![self.kind.capability()];
        match &self.kind {
            Kind::Pci {
                device: Some(d), ..
            } => {
                if !d.mdev_types.is_empty() {
                    out.push("mdev_types");
                }
                if d.vpd.is_some() {
                    out.push("vpd");
                }
            }
            Kind::ScsiHost(h) => {
                if h.fc_host.is_some() {
                    out.push("fc_host");
                }
                if h.vport_ops.is_some() {
                    out.push("vports");
                }
            }
            Kind::Css(c) if !c.mdev_types.is_empty() => out.push("mdev_types"),
            Kind::ApMatrix(t) if !t.is_empty() => out.push("mdev_types"),
            _ => {}
        }
        out
    }
}

/// A device libvirt would not list, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dropped {
    /// Its sysfs directory.
    pub sysfs_path: PathBuf,
    /// The class it would have had.
    pub class: &'static str,
    /// Why it is not listed.
    pub reason: String,
    /// Its udev database entry (often the reason: read, missing, unusable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udev: Option<DbEntry>,
}

/// How much to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Enough for names, parents and capabilities (`nodedev list`): what can
    /// make libvirt leave a device out is read, but not PCI functions' details,
    /// interfaces' offload features, drivers, disks' vendor and model, nor SCSI
    /// hosts' `unique_id`.
    Names,
    /// Everything the XML shows but PCI functions' details (a lookup of one
    /// device by name).
    AllButPci,
    /// Everything the XML shows.
    Full,
}

/// The result of [`enumerate`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct Enumeration {
    /// Whether the tree has a udev database.
    pub udev_database: DatabaseState,
    /// The listed devices, in libudev's order (not virsh's).
    pub nodes: Vec<Node>,
    /// Devices of a listed class that libvirt would not list.
    pub dropped: Vec<Dropped>,
}

impl Enumeration {
    /// The device named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Where a candidate was found.
enum Found {
    Pci(PciAddress),
    Net(String),
    Other,
}

/// A candidate read by its class's reader (with its driver, when read).
enum Source {
    Pci(PciAddress, Option<Box<PciDevice>>, Option<String>),
    Net(std::result::Result<NetInterface, String>, Option<String>),
    Udev(Box<UdevDevice>, Class, Read, Option<String>),
}

/// The classes found through the udev view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    UsbDevice,
    UsbInterface,
    ScsiHost,
    ScsiTarget,
    Scsi,
    Storage,
    ScsiGeneric,
    Drm,
    Mdev,
    MdevTypes,
    Ccw,
    Css,
    Vdpa,
    ApCard,
    ApQueue,
    ApMatrix,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Self::UsbDevice => "usb_device",
            Self::UsbInterface => "usb",
            Self::ScsiHost => "scsi_host",
            Self::ScsiTarget => "scsi_target",
            Self::Scsi => "scsi",
            Self::Storage => "storage",
            Self::ScsiGeneric => "scsi_generic",
            Self::Drm => "drm",
            Self::Mdev => "mdev",
            Self::MdevTypes => "mdev_types",
            Self::Ccw => "ccw",
            Self::Css => "css",
            Self::Vdpa => "vdpa",
            Self::ApCard => "ap_card",
            Self::ApQueue => "ap_queue",
            Self::ApMatrix => "ap_matrix",
        }
    }
}

/// libvirt's `udevGetDeviceType` for the classes read here (PCI functions and
/// network interfaces come from their own directories).
fn classify(dev: &UdevDevice) -> Option<Class> {
    if let Some(t) = &dev.devtype {
        return Some(match t.as_slice() {
            b"usb_device" => Class::UsbDevice,
            b"usb_interface" => Class::UsbInterface,
            b"scsi_host" => Class::ScsiHost,
            b"scsi_target" => Class::ScsiTarget,
            b"scsi_device" => Class::Scsi,
            b"disk" => Class::Storage,
            b"drm_minor" => Class::Drm,
            b"ap_card" => Class::ApCard,
            b"ap_queue" => Class::ApQueue,
            _ => return None,
        });
    }
    Some(match dev.subsystem.as_slice() {
        b"scsi_generic" => Class::ScsiGeneric,
        b"mdev" => Class::Mdev,
        b"ccw" => Class::Ccw,
        b"css" => Class::Css,
        b"vdpa" => Class::Vdpa,
        b"matrix" => Class::ApMatrix,
        b"mtty" => Class::MdevTypes,
        _ => return None,
    })
}

/// What a class reader made of a device: its name and kind.
type Read = std::result::Result<(String, Kind), String>;

fn read_udev(sysfs: &dyn Sysfs, dev: &UdevDevice, class: Class, full: bool) -> Read {
    let plain = || dev.nodedev_name(None);
    Ok(match class {
        Class::UsbDevice => (
            plain(),
            Kind::UsbDevice(crate::usb::read_device(sysfs, dev)?),
        ),
        Class::UsbInterface => (plain(), Kind::Usb(crate::usb::read_interface(sysfs, dev)?)),
        Class::ScsiHost => (
            plain(),
            Kind::ScsiHost(crate::scsi::read_host(sysfs, dev, full)?),
        ),
        Class::ScsiTarget => (
            plain(),
            Kind::ScsiTarget(crate::scsi::read_target(sysfs, dev)),
        ),
        Class::Scsi => (plain(), Kind::Scsi(crate::scsi::read_device(sysfs, dev)?)),
        Class::Storage => {
            let (s, serial) = crate::storage::read_for(sysfs, dev, full)?;
            (
                dev.nodedev_name(serial.as_deref()),
                Kind::Storage(Box::new(s)),
            )
        }
        Class::ScsiGeneric => (plain(), Kind::ScsiGeneric(crate::scsi::read_generic(dev)?)),
        Class::Drm => (plain(), Kind::Drm(crate::drm::read(dev)?)),
        Class::Mdev => {
            let m = crate::mdev::read_mdev(sysfs, dev)?;
            (
                dev.nodedev_name(Some(m.parent_addr.as_bytes())),
                Kind::Mdev(m),
            )
        }
        Class::MdevTypes => (
            plain(),
            Kind::MdevTypes(crate::mdev::read_parent(sysfs, dev)?),
        ),
        Class::Ccw => (plain(), Kind::Ccw(crate::s390::read_ccw(sysfs, dev)?)),
        Class::Css => (plain(), Kind::Css(crate::s390::read_css(sysfs, dev)?)),
        Class::Vdpa => (plain(), Kind::Vdpa(crate::vdpa::read(sysfs, dev)?)),
        Class::ApCard => (plain(), Kind::ApCard(crate::s390::read_ap_card(dev)?)),
        Class::ApQueue => {
            let (a, d) = crate::s390::read_ap_queue(dev)?;
            (plain(), Kind::ApQueue(a, d))
        }
        // "matrix" is both subsystem and sysname: libvirt names it by hand.
        Class::ApMatrix => (
            "ap_matrix".to_string(),
            Kind::ApMatrix(crate::s390::read_ap_matrix(sysfs, dev)?),
        ),
    })
}

/// Every device libvirt would list, with the ones it would not.
pub fn enumerate(sysfs: &dyn Sysfs, detail: Detail) -> Result<Enumeration> {
    // The candidates: PCI functions, interfaces, and the devices of the other
    // classes' subsystems, each once.
    let mut found: Vec<(PathBuf, Found)> = Vec::new();
    let mut seen: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    // A kernel without PCI (an s390 guest without zPCI) has no PCI bus directory.
    let addresses = if sysfs.exists(Path::new(paths::PCI_DEVICES)) {
        device::list_addresses(sysfs)?
    } else {
        Vec::new()
    };
    for a in &addresses {
        let path = device::sysfs_path(sysfs, a)?;
        if seen.insert(path.as_os_str().as_bytes().to_vec()) {
            found.push((path, Found::Pci(*a)));
        }
    }
    for name in sysfs
        .read_dir(Path::new(paths::CLASS_NET))
        .unwrap_or_default()
    {
        let Some(path) = canonical(sysfs, &Path::new(paths::CLASS_NET).join(&name)) else {
            continue;
        };
        if seen.insert(path.as_os_str().as_bytes().to_vec()) {
            found.push((path, Found::Net(name)));
        }
    }
    for dir in SCAN_DIRS {
        for entry in sysfs.read_dir(Path::new(dir)).unwrap_or_default() {
            if let Some(path) = canonical(sysfs, &Path::new(dir).join(&entry)) {
                if seen.insert(path.as_os_str().as_bytes().to_vec()) {
                    found.push((path, Found::Other));
                }
            }
        }
    }
    // libudev's order (path by path, md and dm last). Reading in that order
    // also reaches each device's directory from its parent's (a snapshot
    // directory is walked one component at a time).
    let late = |p: &Path| {
        let b = p.as_os_str().as_bytes();
        b.windows(9).any(|w| w == b"/block/md") || b.windows(10).any(|w| w == b"/block/dm-")
    };
    let mut keyed: Vec<(bool, PathBuf, Found)> =
        found.into_iter().map(|(p, f)| (late(&p), p, f)).collect();
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            crate::udev::path_order(a.1.as_os_str().as_bytes(), b.1.as_os_str().as_bytes())
        })
    });

    // Each candidate read whole, by its class's reader; many of them on a few
    // threads, each on a contiguous run (results keep the order).
    let full = detail != Detail::Names;
    let known: BTreeSet<PciAddress> = addresses.iter().copied().collect();
    let read_one =
        |(_, path, found): &(bool, PathBuf, Found)| -> Option<Result<(PathBuf, Source)>> {
            let source = match found {
                Found::Pci(address) => {
                    let device = match detail {
                        Detail::Names | Detail::AllButPci => None,
                        Detail::Full => {
                            match device::read_device(sysfs, address, &|a| known.contains(a)) {
                                Ok(d) => Some(Box::new(d)),
                                Err(e) => return Some(Err(e)),
                            }
                        }
                    };
                    let driver = match &device {
                        Some(d) => d.driver.clone(),
                        None if full => device::current_driver(sysfs, address),
                        None => None,
                    };
                    Source::Pci(*address, device, driver)
                }
                Found::Net(ifname) => {
                    let read = crate::net::read_interface(sysfs, ifname, full);
                    let driver = full.then(|| crate::udev::driver_of(sysfs, path)).flatten();
                    Source::Net(read, driver)
                }
                Found::Other => {
                    let mut dev = UdevDevice::read_uevent(sysfs, path)?;
                    let class = classify(&dev)?;
                    // The database entry only matters for the classes that read its
                    // properties and for devices with a node (their links).
                    if full
                        || dev.devnode.is_some()
                        || matches!(class, Class::UsbDevice | Class::Storage | Class::Css)
                    {
                        dev.load_db(sysfs);
                    }
                    let read = read_udev(sysfs, &dev, class, full);
                    let driver = full.then(|| dev.driver(sysfs)).flatten();
                    Source::Udev(Box::new(dev), class, read, driver)
                }
            };
            Some(Ok((path.clone(), source)))
        };
    let threads = if keyed.len() < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    };
    let candidates: Vec<(PathBuf, Source)> = if threads <= 1 {
        keyed.iter().filter_map(read_one).collect::<Result<_>>()?
    } else {
        let chunk = keyed.len().div_ceil(threads);
        let parts: Vec<Result<Vec<(PathBuf, Source)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = keyed
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().filter_map(read_one).collect()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut all = Vec::with_capacity(keyed.len());
        for part in parts {
            all.extend(part?);
        }
        all
    };

    let mut dropped = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    // Keyed by the path's bytes (hashing a `Path` walks its components).
    let mut by_path: HashMap<Vec<u8>, String> = HashMap::new();
    for (path, source) in candidates {
        let (name, kind, devnode, devlinks, driver, udev) = match source {
            Source::Pci(address, device, driver) => (
                address.nodedev_name(),
                Kind::Pci { address, device },
                None,
                Vec::new(),
                driver,
                None,
            ),
            Source::Net(read, driver) => match read {
                Ok(i) => (
                    i.nodedev_name(),
                    Kind::Net(Box::new(i)),
                    None,
                    Vec::new(),
                    driver,
                    None,
                ),
                Err(reason) => {
                    dropped.push(Dropped {
                        sysfs_path: path,
                        class: "net",
                        reason,
                        udev: None,
                    });
                    continue;
                }
            },
            Source::Udev(dev, class, read, driver) => match read {
                Ok((name, kind)) => (
                    name,
                    kind,
                    dev.devnode.as_deref().map(lossy),
                    dev.devlinks.iter().map(|l| lossy(l)).collect(),
                    driver,
                    Some(dev.db.clone()),
                ),
                Err(reason) => {
                    dropped.push(Dropped {
                        sysfs_path: path,
                        class: class.name(),
                        reason,
                        udev: Some(dev.db.clone()),
                    });
                    continue;
                }
            },
        };
        // udevSetParent: the nearest registered device above it.
        let parent = path
            .ancestors()
            .skip(1)
            .take_while(|p| *p != Path::new("/sys") && *p != Path::new("/"))
            .find_map(|p| by_path.get(p.as_os_str().as_bytes()))
            .cloned()
            .unwrap_or_else(|| COMPUTER.to_string());
        let mut kind = kind;
        if let Kind::Net(i) = &mut kind {
            i.parent = parent.clone();
        }
        let node = Node {
            name: name.clone(),
            sysfs_path: path.clone(),
            parent,
            devnode,
            devlinks,
            driver,
            udev,
            kind,
        };
        match by_name.get(&name) {
            // libvirt's list is keyed by name: the later device replaces the
            // earlier, which can no longer be found by its path.
            Some(&i) => {
                by_path.remove(nodes[i].sysfs_path.as_os_str().as_bytes());
                nodes[i] = node;
            }
            None => {
                by_name.insert(name.clone(), nodes.len());
                nodes.push(node);
            }
        }
        by_path.insert(path.into_os_string().into_vec(), name);
    }
    Ok(Enumeration {
        udev_database: crate::udev::database_state(sysfs),
        nodes,
        dropped,
    })
}
