//! A network interface's offload features, as libvirt 9.0 lists them in
//! `<feature name='…'/>` (`virNetDevGetFeatures`, src/util/virnetdev.c).
//!
//! libvirt asks the kernel with `SIOCETHTOOL` ioctls: `ETHTOOL_GRXCSUM`,
//! `GTXCSUM`, `GSG`, `GTSO`, `GGSO`, `GGRO` (one feature each), `ETHTOOL_GFLAGS`
//! (lro, rxvlan, txvlan, ntuple, rxhash) and `ETHTOOL_GFEATURES`, of which it keeps
//! only bit 25 of the active word as `txudptnl` (a constant from the days that bit
//! was UDP-tunnel segmentation; on 6.x kernels it is `tx-ipxip6-segmentation`). The
//! kernel answers every one of those from `dev->features`. Ioctls need `unsafe`,
//! which this workspace forbids, so the same word is read here through ethtool's
//! netlink interface (`ETHTOOL_MSG_FEATURES_GET`, kernel ≥ 5.6) with the `neli`
//! crate, and mapped exactly as the kernel maps it for each legacy ioctl
//! (net/ethtool/ioctl.c `ethtool_get_feature_mask`, `__ethtool_get_flags`):
//! by the kernel's own feature names, and by bit index for `txudptnl`.
//!
//! `rdma` is libvirt's sysfs test (`virNetDevRDMAFeature`): the interface's PCI
//! `resource` file equals that of some `/sys/class/infiniband/*/device`.
//! `switchdev` is its devlink test (`virNetDevSwitchdevFeature`): the eswitch mode
//! of the interface's PCI function (the PF's, for a VF) is `switchdev`.
//!
//! Features exist only in a live kernel: `nodedev snapshot` stores them in a file
//! beside the interface's attributes ([`FEATURES_FILE`]), which `--root` reads.

use std::path::Path;

use neli::consts::nl::NlmF;
use neli::consts::socket::NlFamily;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, Nlattr, NlattrBuilder};
use neli::nl::NlPayload;
use neli::router::synchronous::NlRouter;
use neli::types::{Buffer, GenlBuffer};
use neli::utils::Groups;
use pci_types::PciAddress;

use crate::paths;
use crate::sysfs::{base_name, Sysfs};

/// The file, in a snapshot's copy of an interface's sysfs directory, that holds its
/// features (one name a line, libvirt's order), captured from the live kernel.
pub const FEATURES_FILE: &str = "nodedev-shim-features";

/// The bit of `ETHTOOL_GFEATURES`' first active word libvirt reports as `txudptnl`.
const TX_UDP_TNL_BIT: u32 = 25;

/// The kernel's feature names behind each of libvirt's ioctl-read features, in
/// libvirt's print order: a feature is on when any of its kernel features is active.
const BY_KERNEL_NAME: &[(&str, &[&str])] = &[
    ("rx", &["rx-checksum"]),
    (
        "tx",
        &[
            "tx-checksum-ipv4",
            "tx-checksum-ip-generic",
            "tx-checksum-ipv6",
        ],
    ),
    ("sg", &["tx-scatter-gather"]),
    (
        "tso",
        &[
            "tx-tcp-segmentation",
            "tx-tcp-ecn-segmentation",
            "tx-tcp-mangleid-segmentation",
            "tx-tcp6-segmentation",
        ],
    ),
    ("gso", &["tx-generic-segmentation"]),
    ("gro", &["rx-gro"]),
    ("lro", &["rx-lro"]),
    ("rxvlan", &["rx-vlan-hw-parse"]),
    ("txvlan", &["tx-vlan-hw-insert"]),
    ("ntuple", &["rx-ntuple-filter"]),
    ("rxhash", &["rx-hashing"]),
];

// ethtool netlink (include/uapi/linux/ethtool_netlink.h).
const ETHTOOL_MSG_FEATURES_GET: u8 = 11;
const ETHTOOL_A_FEATURES_HEADER: u16 = 1;
const ETHTOOL_A_FEATURES_ACTIVE: u16 = 4;
const ETHTOOL_A_HEADER_DEV_NAME: u16 = 2;
const ETHTOOL_A_BITSET_NOMASK: u16 = 1;
const ETHTOOL_A_BITSET_BITS: u16 = 3;
const ETHTOOL_A_BITSET_BITS_BIT: u16 = 1;
const ETHTOOL_A_BITSET_BIT_INDEX: u16 = 1;
const ETHTOOL_A_BITSET_BIT_NAME: u16 = 2;
const ETHTOOL_A_BITSET_BIT_VALUE: u16 = 3;
// devlink (include/uapi/linux/devlink.h).
const DEVLINK_CMD_ESWITCH_GET: u8 = 29;
const DEVLINK_ATTR_BUS_NAME: u16 = 1;
const DEVLINK_ATTR_DEV_NAME: u16 = 2;
const DEVLINK_ATTR_ESWITCH_MODE: u16 = 25;
const DEVLINK_ESWITCH_MODE_SWITCHDEV: u16 = 1;

type Msg = Genlmsghdr<u8, u16>;

/// One active kernel feature: its bit index and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFeature {
    /// The `NETIF_F_*_BIT` index.
    pub index: u32,
    /// The kernel's name, e.g. `tx-scatter-gather`.
    pub name: String,
}

/// libvirt's ioctl-read feature names for a set of active kernel features: `rx` …
/// `rxhash`, in libvirt's order (without `rdma`, `txudptnl` and `switchdev`).
pub fn libvirt_features(active: &[KernelFeature]) -> Vec<String> {
    BY_KERNEL_NAME
        .iter()
        .filter(|(_, kernel)| active.iter().any(|f| kernel.contains(&f.name.as_str())))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// libvirt's `txudptnl`: bit 25 of the active word, whatever its name.
pub fn txudptnl(active: &[KernelFeature]) -> bool {
    active.iter().any(|f| f.index == TX_UDP_TNL_BIT)
}

fn attr(kind: u16, payload: impl neli::Size + neli::ToBytes) -> Option<Nlattr<u16, Buffer>> {
    NlattrBuilder::default()
        .nla_type(AttrTypeBuilder::default().nla_type(kind).build().ok()?)
        .nla_payload(payload)
        .build()
        .ok()
}

fn router() -> Option<NlRouter> {
    NlRouter::connect(NlFamily::Generic, None, Groups::empty())
        .ok()
        .map(|(r, _)| r)
}

/// Sends one generic-netlink request and returns the attributes of the answers.
fn request(
    router: &NlRouter,
    family: &str,
    cmd: u8,
    attrs: Vec<Nlattr<u16, Buffer>>,
) -> Option<Vec<Msg>> {
    let id = router.resolve_genl_family(family).ok()?;
    let msg = GenlmsghdrBuilder::<u8, u16>::default()
        .cmd(cmd)
        .version(1)
        .attrs(attrs.into_iter().collect::<GenlBuffer<u16, Buffer>>())
        .build()
        .ok()?;
    let recv = router
        .send::<u16, Msg, u16, Msg>(id, NlmF::ACK, NlPayload::Payload(msg))
        .ok()?;
    let mut out = Vec::new();
    for m in recv {
        let m = m.ok()?;
        if let NlPayload::Payload(p) = m.nl_payload() {
            out.push(p.clone());
        }
    }
    Some(out)
}

/// The active features of interface `ifname` in the running kernel, or `None`
/// when the kernel cannot say (no ethtool netlink, no such interface).
pub fn active_kernel_features(ifname: &str) -> Option<Vec<KernelFeature>> {
    let router = router()?;
    let header = attr(ETHTOOL_A_FEATURES_HEADER, Vec::<u8>::new())?
        .nest(&attr(ETHTOOL_A_HEADER_DEV_NAME, ifname)?)
        .ok()?;
    let answers = request(&router, "ethtool", ETHTOOL_MSG_FEATURES_GET, vec![header])?;
    let mut active = Vec::new();
    for msg in &answers {
        let handle = msg.attrs().get_attr_handle();
        let Ok(set) = handle.get_nested_attributes::<u16>(ETHTOOL_A_FEATURES_ACTIVE) else {
            continue;
        };
        // Without a mask the set lists only the bits that are on.
        let list = set.get_attribute(ETHTOOL_A_BITSET_NOMASK).is_some();
        let Ok(bits) = set.get_nested_attributes::<u16>(ETHTOOL_A_BITSET_BITS) else {
            continue;
        };
        for bit in bits.iter() {
            if *bit.nla_type().nla_type() != ETHTOOL_A_BITSET_BITS_BIT {
                continue;
            }
            let Ok(b) = bit.get_attr_handle::<u16>() else {
                continue;
            };
            let on = list || b.get_attribute(ETHTOOL_A_BITSET_BIT_VALUE).is_some();
            let index = b.get_attr_payload_as::<u32>(ETHTOOL_A_BITSET_BIT_INDEX);
            let name = b.get_attr_payload_as_with_len::<String>(ETHTOOL_A_BITSET_BIT_NAME);
            if let (true, Ok(index), Ok(name)) = (on, index, name) {
                active.push(KernelFeature { index, name });
            }
        }
    }
    Some(active)
}

/// Whether the devlink eswitch of PCI function `address` is in switchdev mode.
fn eswitch_is_switchdev(address: &PciAddress) -> bool {
    let Some(router) = router() else {
        return false;
    };
    let (Some(bus), Some(dev)) = (
        attr(DEVLINK_ATTR_BUS_NAME, "pci"),
        attr(DEVLINK_ATTR_DEV_NAME, address.sysfs_name().as_str()),
    ) else {
        return false;
    };
    let Some(answers) = request(&router, "devlink", DEVLINK_CMD_ESWITCH_GET, vec![bus, dev]) else {
        return false;
    };
    answers.iter().any(|m| {
        m.attrs()
            .get_attr_handle()
            .get_attr_payload_as::<u16>(DEVLINK_ATTR_ESWITCH_MODE)
            .is_ok_and(|mode| mode == DEVLINK_ESWITCH_MODE_SWITCHDEV)
    })
}

/// The PCI function behind `/sys/class/net/<ifname>/device`, if that is one (a
/// virtio NIC's is the virtio device, so it has none, as for libvirt).
fn pci_function_of(sysfs: &dyn Sysfs, ifname: &str) -> Option<PciAddress> {
    let link = Path::new(paths::CLASS_NET).join(ifname).join("device");
    let target = sysfs.read_link(&link).ok()?;
    PciAddress::from_sysfs_name(base_name(&target)).ok()
}

/// libvirt's rdma test: the interface's PCI `resource` file is byte-equal to that
/// of an InfiniBand device.
fn has_rdma(sysfs: &dyn Sysfs, ifname: &str) -> bool {
    let ib = Path::new("/sys/class/infiniband");
    let Ok(ours) = sysfs.read(
        &Path::new(paths::CLASS_NET)
            .join(ifname)
            .join("device/resource"),
    ) else {
        return false;
    };
    sysfs.read_dir(ib).unwrap_or_default().iter().any(|d| {
        sysfs
            .read(&ib.join(d).join("device/resource"))
            .is_ok_and(|r| !r.is_empty() && r == ours)
    })
}

/// Every feature libvirt 9.0 prints for interface `ifname` of the live kernel, in
/// its order (its enum: rx … rxhash, rdma, txudptnl, switchdev). Empty when the
/// kernel cannot be asked.
pub fn live_features(sysfs: &dyn Sysfs, ifname: &str) -> Vec<String> {
    let active = active_kernel_features(ifname).unwrap_or_default();
    let mut out = libvirt_features(&active);
    if has_rdma(sysfs, ifname) {
        out.push("rdma".to_string());
    }
    if txudptnl(&active) {
        out.push("txudptnl".to_string());
    }
    if let Some(pci) = pci_function_of(sysfs, ifname) {
        // For a VF, the PF's eswitch.
        let physfn = paths::device_attr(&pci, "physfn");
        let owner = sysfs
            .read_link(&physfn)
            .ok()
            .and_then(|t| PciAddress::from_sysfs_name(base_name(&t)).ok())
            .unwrap_or(pci);
        if eswitch_is_switchdev(&owner) {
            out.push("switchdev".to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(index: u32, name: &str) -> KernelFeature {
        KernelFeature {
            index,
            name: name.to_string(),
        }
    }

    #[test]
    fn maps_as_the_legacy_ioctls_do() {
        // A virtio NIC's typical active set (kernel 6.1 bit numbers).
        let active = [
            f(0, "tx-scatter-gather"),
            f(3, "tx-checksum-ip-generic"),
            f(11, "tx-generic-segmentation"),
            f(14, "rx-gro"),
            f(16, "tx-tcp-segmentation"),
            f(20, "tx-tcp6-segmentation"),
            f(8, "rx-vlan-hw-parse"),
        ];
        assert_eq!(
            libvirt_features(&active),
            ["tx", "sg", "tso", "gso", "gro", "rxvlan"]
        );
    }

    #[test]
    fn txudptnl_is_bit_25_whatever_its_name() {
        let active = [f(25, "tx-ipxip6-segmentation"), f(28, "rx-hashing")];
        assert_eq!(libvirt_features(&active), ["rxhash"]);
        assert!(txudptnl(&active));
        // The kernel's udp-tunnel bit (26 on 6.x) is not what libvirt reads.
        assert!(!txudptnl(&[f(26, "tx-udp_tnl-segmentation")]));
    }
}
