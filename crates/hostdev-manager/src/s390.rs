//! The s390 classes: channel devices (`ccw_0_0_ffff`), subchannels
//! (`css_0_0_fffe`, with their mediated-device types for vfio-ccw), AP cards
//! (`ap_card07`), AP queues (`ap_07_0038`) and the vfio-ap matrix
//! (`ap_matrix`), as libvirt 9.0's `udevProcessCCW`, `udevProcessCSS`,
//! `udevProcessAPCard`, `udevProcessAPQueue` and `udevProcessAPMatrix` read
//! them: 9.0 lists only online channel devices, and only subchannels driven by
//! `io_subchannel` or `vfio_ccw`.

use crate::cnum;
use crate::mdev::{read_types, MdevType};
use crate::sysfs::{base_name, Sysfs};
use crate::udev::UdevDevice;

/// A channel-subsystem address `cssid.ssid.devno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CcwAddress {
    /// Channel subsystem id.
    pub cssid: u32,
    /// Subchannel set id.
    pub ssid: u32,
    /// Device number.
    pub devno: u32,
}

/// `virCCWDeviceAddressParseFromString`: three hexadecimal numbers, each
/// separated by one character (libvirt does not look at which).
pub fn parse_ccw_address(s: &str) -> Option<CcwAddress> {
    let mut rest = s.as_bytes();
    let mut v = [0u32; 3];
    for (i, part) in v.iter_mut().enumerate() {
        let (n, used) = cnum::to_uint_prefix(rest, 16)?;
        *part = n;
        rest = &rest[used..];
        if i < 2 {
            rest = rest.get(1..)?;
        }
    }
    Some(CcwAddress {
        cssid: v[0],
        ssid: v[1],
        devno: v[2],
    })
}

/// `<capability type='css'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Css {
    /// The subchannel's address.
    pub address: CcwAddress,
    /// The address of the device on it (`dev_busid`), unless `none`.
    pub channel_dev_addr: Option<CcwAddress>,
    /// vfio-ccw's mediated-device types.
    pub mdev_types: Vec<MdevType>,
}

fn address_of(dev: &UdevDevice) -> Result<CcwAddress, String> {
    let name = base_name(&dev.syspath);
    parse_ccw_address(name)
        .ok_or_else(|| format!("failed to parse the CCW address from sysfs path: '{name}'"))
}

/// Reads a channel device; offline ones are not listed (libvirt 9.0).
pub fn read_ccw(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<CcwAddress, String> {
    let online = match dev.sysattr(sysfs, "online") {
        None => 0,
        Some(v) => cnum::to_int(&v, 0).ok_or("online is not a number")?,
    };
    if online != 1 {
        return Err("offline".into());
    }
    address_of(dev)
}

/// Reads a subchannel.
pub fn read_css(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<Css, String> {
    let driver = dev.property_text("DRIVER");
    if !matches!(driver.as_deref(), Some("io_subchannel" | "vfio_ccw")) {
        return Err("neither io_subchannel nor vfio_ccw drives it".into());
    }
    let address = address_of(dev)?;
    let channel_dev_addr = dev
        .string_sysattr(sysfs, "dev_busid")
        .filter(|b| b != "none")
        .and_then(|b| parse_ccw_address(&b));
    let mdev_types = read_types(sysfs, &dev.syspath).map_err(|e| e.to_string())?;
    Ok(Css {
        address,
        channel_dev_addr,
        mdev_types,
    })
}

/// `<capability type='ap_card'>`: the adapter number.
pub fn read_ap_card(dev: &UdevDevice) -> Result<u32, String> {
    let name = base_name(&dev.syspath);
    name.get(4..)
        .and_then(|n| cnum::to_uint(n.as_bytes(), 16))
        .ok_or_else(|| format!("failed to parse the AP Card from sysfs path: '{name}'"))
}

/// `<capability type='ap_queue'>`: adapter and domain, from `XX.YYYY`.
pub fn read_ap_queue(dev: &UdevDevice) -> Result<(u32, u32), String> {
    let name = base_name(&dev.syspath);
    let bad = || format!("failed to parse the AP Queue from sysfs path: '{name}'");
    let (adapter, used) = cnum::to_uint_prefix(name.as_bytes(), 16).ok_or_else(bad)?;
    let rest = name.as_bytes().get(used + 1..).ok_or_else(bad)?;
    let (domain, _) = cnum::to_uint_prefix(rest, 16).ok_or_else(bad)?;
    Ok((adapter, domain))
}

/// `<capability type='ap_matrix'>`: vfio-ap's types.
pub fn read_ap_matrix(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<Vec<MdevType>, String> {
    read_types(sysfs, &dev.syspath).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccw_addresses_as_libvirt_reads_them() {
        let a = |s: &str| parse_ccw_address(s).map(|a| (a.cssid, a.ssid, a.devno));
        assert_eq!(a("0.0.ffff"), Some((0, 0, 0xffff)));
        assert_eq!(a("fe.3.0815"), Some((0xfe, 3, 0x815)));
        // libvirt steps over one character between the numbers, whatever it is.
        assert_eq!(a("0x0y1z2"), Some((0, 1, 2)));
        assert_eq!(a("0.0"), None);
        assert_eq!(a("0.0."), None);
        assert_eq!(a("matrix"), None);
    }
}
