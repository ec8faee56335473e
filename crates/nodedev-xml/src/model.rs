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
    /// `type='usb_device'`.
    UsbDevice(UsbDeviceCapability),
    /// `type='usb'` (a USB interface).
    Usb(UsbInterfaceCapability),
    /// `type='scsi_host'`.
    ScsiHost(ScsiHostCapability),
    /// `type='scsi_target'`.
    ScsiTarget(ScsiTargetCapability),
    /// `type='scsi'`.
    Scsi(ScsiCapability),
    /// `type='storage'`.
    Storage(Box<StorageCapability>),
    /// `type='scsi_generic'`.
    ScsiGeneric(ScsiGenericCapability),
    /// `type='drm'`.
    Drm(DrmCapability),
    /// `type='mdev'`.
    Mdev(MdevCapability),
    /// `type='mdev_types'` as a device's own capability (a stand-alone parent
    /// such as `mtty`): libvirt prints the types nested in a second
    /// `<capability type='mdev_types'>`, which is what this holds.
    MdevTypes(Vec<MdevType>),
    /// `type='ccw'`.
    Ccw(CcwAddress),
    /// `type='css'`.
    Css(CssCapability),
    /// `type='vdpa'`.
    Vdpa(VdpaCapability),
    /// `type='ap_card'`.
    ApCard(ApCardCapability),
    /// `type='ap_queue'`.
    ApQueue(ApQueueCapability),
    /// `type='ap_matrix'`.
    ApMatrix(ApMatrixCapability),
}

impl Capability {
    /// The `type` attribute.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::System(_) => "system",
            Self::Pci(_) => "pci",
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
            Self::ApQueue(_) => "ap_queue",
            Self::ApMatrix(_) => "ap_matrix",
        }
    }
}

/// `<capability type='usb_device'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsbDeviceCapability {
    /// `<bus>` (printed `%d`).
    pub bus: u32,
    /// `<device>` (printed `%d`).
    pub device: u32,
    /// `<product id>`: unlike PCI's, libvirt writes an unnamed one `<product id='0x…' />`.
    pub product: IdName,
    /// `<vendor id>`.
    pub vendor: IdName,
}

/// `<capability type='usb'>`: a USB interface.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsbInterfaceCapability {
    /// `<number>`.
    pub number: u32,
    /// `<class>`.
    pub class: u32,
    /// `<subclass>`.
    pub subclass: u32,
    /// `<protocol>`.
    pub protocol: u32,
    /// `<description>` (libvirt's udev backend never sets it).
    pub description: Option<String>,
}

/// `<capability type='scsi_host'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiHostCapability {
    /// `<host>`.
    pub host: u32,
    /// `<unique_id>` (printed when present).
    pub unique_id: Option<u32>,
    /// `<capability type='fc_host'>`.
    pub fc_host: Option<FcHost>,
    /// `<capability type='vport_ops'>`.
    pub vport_ops: Option<VportOps>,
}

/// `<capability type='fc_host'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FcHost {
    /// `<wwnn>`.
    pub wwnn: String,
    /// `<wwpn>`.
    pub wwpn: String,
    /// `<fabric_wwn>`.
    pub fabric_wwn: Option<String>,
}

/// `<capability type='vport_ops'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VportOps {
    /// `<max_vports>`.
    pub max_vports: u32,
    /// `<vports>`.
    pub vports: u32,
}

/// `<capability type='scsi_target'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiTargetCapability {
    /// `<target>`: the target's sysfs name.
    pub target: String,
    /// `<capability type='fc_remote_port'>`: (`<rport>`, `<wwpn>`).
    pub fc_remote_port: Option<FcRemotePort>,
}

/// `<capability type='fc_remote_port'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FcRemotePort {
    /// `<rport>`.
    pub rport: String,
    /// `<wwpn>`.
    pub wwpn: String,
}

/// `<capability type='scsi'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiCapability {
    /// `<host>`.
    pub host: u32,
    /// `<bus>`.
    pub bus: u32,
    /// `<target>`.
    pub target: u32,
    /// `<lun>`.
    pub lun: u32,
    /// `<type>` (`disk`, `cdrom`, …).
    pub kind: Option<String>,
}

/// `<capability type='storage'>`.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct StorageCapability {
    /// `<block>`: the device node.
    pub block: String,
    /// `<bus>`.
    pub bus: Option<String>,
    /// `<drive_type>`.
    pub drive_type: Option<String>,
    /// `<model>`.
    pub model: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<serial>`.
    pub serial: Option<String>,
    /// `<capability type='removable'>`; `None` prints `<size>` instead.
    pub removable: Option<RemovableMedia>,
    /// `<size>` of a fixed disk.
    pub size: u64,
    /// `<logical_block_size>` (printed when not 0).
    pub logical_block_size: u64,
    /// `<num_blocks>` (printed when not 0).
    pub num_blocks: u64,
    /// `<capability type='hotpluggable'/>` (libvirt's udev backend never sets it).
    pub hotpluggable: bool,
}

/// `<capability type='removable'>` of a storage device.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct RemovableMedia {
    /// `<media_available>`.
    pub media_available: bool,
    /// `<media_size>`.
    pub media_size: u64,
    /// `<media_label>`.
    pub media_label: Option<String>,
}

/// `<capability type='scsi_generic'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiGenericCapability {
    /// `<char>`: the device node.
    pub char_dev: String,
}

/// `<capability type='drm'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DrmCapability {
    /// `<type>`: `primary`, `control` or `render`.
    pub kind: String,
}

/// The DRM minor types libvirt names.
pub const DRM_TYPES: [&str; 3] = ["primary", "control", "render"];

/// `<capability type='mdev'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MdevCapability {
    /// `<type id>`.
    pub type_id: String,
    /// `<uuid>`.
    pub uuid: Option<String>,
    /// `<parent_addr>`.
    pub parent_addr: Option<String>,
    /// `<iommuGroup number>`.
    pub iommu_group: u32,
    /// `<attr name value/>` (from mdevctl).
    pub attrs: Vec<(String, String)>,
}

/// A channel-subsystem address (`<cssid>`, `<ssid>`, `<devno>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CcwAddress {
    /// `<cssid>`.
    pub cssid: u32,
    /// `<ssid>`.
    pub ssid: u32,
    /// `<devno>`.
    pub devno: u32,
}

/// `<capability type='css'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CssCapability {
    /// The subchannel's address.
    pub address: CcwAddress,
    /// `<channel_dev_addr>`.
    pub channel_dev_addr: Option<CcwAddress>,
    /// `<capability type='mdev_types'>` (omitted when empty).
    pub mdev_types: Vec<MdevType>,
}

/// `<capability type='vdpa'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VdpaCapability {
    /// `<chardev>`.
    pub chardev: Option<String>,
}

/// `<capability type='ap_card'>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApCardCapability {
    /// `<ap-adapter>` (0–255).
    pub adapter: u32,
}

/// `<capability type='ap_queue'>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApQueueCapability {
    /// `<ap-adapter>` (0–255).
    pub adapter: u32,
    /// `<ap-domain>` (0–255 in the schema; hardware has up to 0x00ff).
    pub domain: u32,
}

/// `<capability type='ap_matrix'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApMatrixCapability {
    /// `<capability type='mdev_types'>` (omitted when empty).
    pub mdev_types: Vec<MdevType>,
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
