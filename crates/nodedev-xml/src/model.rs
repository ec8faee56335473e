//! The node-device document as plain data.

use pci_types::vpd::VpdResource;
use pci_types::{PciAddress, PciExpressLink};

/// A `<device>` document.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NodeDevice {
    /// `<name>`: `pci_0000_07_10_1`, `net_eth0_…`, `computer`.
    pub name: String,
    /// `<path>`: the sysfs path (absent for `computer`).
    pub path: Option<String>,
    /// `<devnode type='dev'>` then `<devnode type='link'>` entries.
    pub devnodes: Vec<DevNode>,
    /// `<parent>`: the parent's name.
    pub parent: Option<String>,
    /// `<driver><name>`: the bound driver.
    pub driver: Option<String>,
    /// `<capability>` elements, in order.
    pub capabilities: Vec<Capability>,
}

/// A device node of the device.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DevNode {
    /// `dev` (the node) or `link` (a symlink to it).
    pub kind: DevNodeKind,
    /// The path.
    pub path: String,
}

/// The kind of a `<devnode>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DevNodeKind {
    /// `type='dev'`.
    Dev,
    /// `type='link'`.
    Link,
}

/// The capabilities this crate reads and writes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Capability {
    /// `type='system'` (the `computer` device).
    System(SystemCapability),
    /// `type='pci'`.
    Pci(Box<PciCapability>),
    /// `type='net'`.
    Net(NetCapability),
}

/// `<product>` or `<vendor>`: an id and an optional name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IdName {
    /// The id (printed `0x%04x`).
    pub id: u32,
    /// The name from pci.ids; `None` prints a self-closing element.
    pub name: Option<String>,
}

/// `<capability type='pci'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PciCapability {
    /// `<class>`: class << 16 | subclass << 8 | prog-if.
    pub class: Option<u32>,
    /// `<domain>` (printed as libvirt's `%d`).
    pub domain: u32,
    /// `<bus>`.
    pub bus: u32,
    /// `<slot>`.
    pub slot: u32,
    /// `<function>`.
    pub function: u32,
    /// `<product>`.
    pub product: IdName,
    /// `<vendor>`.
    pub vendor: IdName,
    /// `<capability type='phys_function'>`: this is a VF of that PF.
    pub phys_function: Option<PciAddress>,
    /// `<capability type='virt_functions'>`: this is an SR-IOV PF.
    pub virt_functions: Option<VirtFunctions>,
    /// `<capability type='pci-bridge'/>` or `'cardbus-bridge'`.
    pub header: Option<BridgeHeader>,
    /// `<capability type='mdev_types'>` (omitted when empty).
    pub mdev_types: Vec<MdevType>,
    /// `<capability type='vpd'>`.
    pub vpd: Option<VpdResource>,
    /// `<iommuGroup>`.
    pub iommu_group: Option<IommuGroup>,
    /// `<numa node>` (printed only when ≥ 0).
    pub numa_node: Option<i32>,
    /// `<pci-express>`.
    pub pci_express: Option<PciExpress>,
}

/// An SR-IOV physical function's VFs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VirtFunctions {
    /// `maxCount` (`sriov_totalvfs`); omitted when `None` or 0.
    pub max_count: Option<u32>,
    /// The VFs.
    pub addresses: Vec<PciAddress>,
}

/// A bridge header type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BridgeHeader {
    /// Header type 1.
    PciBridge,
    /// Header type 2.
    CardbusBridge,
}

impl BridgeHeader {
    /// libvirt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PciBridge => "pci-bridge",
            Self::CardbusBridge => "cardbus-bridge",
        }
    }
}

/// A mediated device type.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MdevType {
    /// `id`.
    pub id: String,
    /// `<name>`.
    pub name: Option<String>,
    /// `<deviceAPI>`: `vfio-pci`, `vfio-ccw` or `vfio-ap`.
    pub device_api: String,
    /// `<availableInstances>`.
    pub available_instances: u32,
}

/// `<iommuGroup>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IommuGroup {
    /// `number`.
    pub number: u32,
    /// Members, self included (at least one).
    pub addresses: Vec<PciAddress>,
}

/// `<pci-express>`: `<pci-express/>` when both links are `None`.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct PciExpress {
    /// `<link validity='cap'>`.
    pub cap: Option<PciExpressLink>,
    /// `<link validity='sta'>`.
    pub sta: Option<PciExpressLink>,
}

/// `<capability type='net'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetCapability {
    /// `<interface>`.
    pub interface: String,
    /// `<address>` (MAC).
    pub address: Option<String>,
    /// `<link>`.
    pub link: Option<NetLink>,
    /// `<feature name>` entries (written in libvirt's order, see
    /// [`canonical_features`]).
    pub features: Vec<String>,
    /// `<capability type='80203'|'80211'/>`.
    pub subtype: Option<String>,
}

/// `<link speed state/>` of a net capability.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NetLink {
    /// Mb/s; `None` (or 0) is not printed.
    pub speed: Option<u32>,
    /// One of [`NET_LINK_STATES`], the interface's `operstate`. Note that
    /// `unknown` is a state libvirt prints (`lo` and many virtual interfaces
    /// report it); only a missing state is left out.
    pub state: Option<String>,
}

/// The link states libvirt names (`virNetDevIfState`, after its empty "no state").
pub const NET_LINK_STATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];

/// The network device features libvirt knows (`virNetDevFeature`), in the order
/// it prints them.
pub const NET_FEATURES: [&str; 14] = [
    "rx",
    "tx",
    "sg",
    "tso",
    "gso",
    "gro",
    "lro",
    "rxvlan",
    "txvlan",
    "ntuple",
    "rxhash",
    "rdma",
    "txudptnl",
    "switchdev",
];

/// Features as libvirt prints them: the known ones in [`NET_FEATURES`] order,
/// each once (libvirt keeps a bitmap), then any others in their given order,
/// each once.
pub fn canonical_features(features: &[String]) -> Vec<String> {
    let given: std::collections::HashSet<&str> = features.iter().map(String::as_str).collect();
    let mut out: Vec<String> = NET_FEATURES
        .iter()
        .filter(|k| given.contains(*k))
        .map(|k| k.to_string())
        .collect();
    // Unknown names (a model built by hand) follow, once each, in their order.
    let mut seen = std::collections::HashSet::new();
    for f in features {
        if !NET_FEATURES.contains(&f.as_str()) && seen.insert(f.as_str()) {
            out.push(f.clone());
        }
    }
    out
}

/// `<capability type='system'>`.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct SystemCapability {
    /// `<product>`.
    pub product: Option<String>,
    /// `<hardware>`.
    pub hardware: SystemHardware,
    /// `<firmware>`.
    pub firmware: SystemFirmware,
}

/// `<hardware>` of the system capability.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct SystemHardware {
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<version>`.
    pub version: Option<String>,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<uuid>`, canonical lowercase with dashes; `None` prints the zero UUID, as libvirt does.
    pub uuid: Option<String>,
}

/// `<firmware>` of the system capability.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct SystemFirmware {
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<version>`.
    pub version: Option<String>,
    /// `<release_date>`.
    pub release_date: Option<String>,
}

/// Canonical UUID text (lowercase, dashed) from 32 hex digits with or without
/// dashes; `None` if it is not a UUID.
pub fn canonical_uuid(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let dashed = text.len() == 36;
    if dashed && [8, 13, 18, 23].iter().any(|&i| text.as_bytes()[i] != b'-') {
        return None;
    }
    if !dashed && text.len() != 32 {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}
