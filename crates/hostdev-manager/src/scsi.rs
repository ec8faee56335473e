//! SCSI hosts (`scsi_host0`, with their Fibre Channel `fc_host` and NPIV
//! `vport_ops` data), targets (`scsi_target0_0_0`, with `fc_remote_port`),
//! devices (`scsi_0_0_0_0`) and SCSI generic nodes (`scsi_generic_sg0`), as
//! libvirt's `udevProcessSCSIHost`, `udevProcessSCSITarget`,
//! `udevProcessSCSIDevice`, `udevProcessSCSIGeneric` and
//! `virNodeDeviceGetSCSIHostCaps`/`…TargetCaps` read them.

use std::path::{Path, PathBuf};

use crate::cnum;
use crate::sysfs::{base_name, Sysfs};
use crate::udev::{lossy, UdevDevice};

/// `/sys/class/scsi_host`.
pub const CLASS_SCSI_HOST: &str = "/sys/class/scsi_host";
/// `/sys/class/fc_host`.
pub const CLASS_FC_HOST: &str = "/sys/class/fc_host";
/// `/sys/class/fc_remote_ports`.
pub const CLASS_FC_REMOTE_PORTS: &str = "/sys/class/fc_remote_ports";

/// `<capability type='scsi_host'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiHost {
    /// N of `hostN`.
    pub host: u32,
    /// `scsi_host/hostN/unique_id` (`None`: libvirt's -1, not printed).
    pub unique_id: Option<i32>,
    /// The Fibre Channel port, when `fc_host/hostN` exists.
    pub fc_host: Option<FcHost>,
    /// NPIV: when `vport_create` exists.
    pub vport_ops: Option<VportOps>,
}

/// `<capability type='fc_host'>`: names as libvirt prints them (the `0x` cut).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FcHost {
    /// `node_name`.
    pub wwnn: String,
    /// `port_name`.
    pub wwpn: String,
    /// `fabric_name`, when readable.
    pub fabric_wwn: Option<String>,
}

/// `<capability type='vport_ops'>` (the filter name is `vports`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VportOps {
    /// `max_npiv_vports`.
    pub max_vports: i32,
    /// `npiv_vports_inuse`.
    pub vports: i32,
}

/// `<capability type='scsi_target'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiTarget {
    /// The sysname, `target0:0:0`.
    pub target: String,
    /// The FC remote port the target sits behind.
    pub fc_remote_port: Option<FcRemotePort>,
}

/// `<capability type='fc_remote_port'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FcRemotePort {
    /// `rport-H:B-N`.
    pub rport: String,
    /// Its `port_name`, as the kernel prints it (`0x` kept).
    pub wwpn: String,
}

/// `<capability type='scsi'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiDevice {
    /// Host.
    pub host: u32,
    /// Bus (channel).
    pub bus: u32,
    /// Target.
    pub target: u32,
    /// LUN.
    pub lun: u32,
    /// The peripheral type libvirt names (`disk`, `cdrom`, …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `<capability type='scsi_generic'>`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScsiGeneric {
    /// `DEVNAME`: `/dev/sg0`.
    pub char_dev: String,
}

/// libvirt's `virFileReadAll(path, 1024)` with the first line end cut: `None`
/// when missing, unreadable or longer than 1024 bytes.
fn read_value(sysfs: &dyn Sysfs, path: &Path) -> Option<String> {
    let b = sysfs.read(path).ok()?;
    if b.len() > 1024 {
        return None;
    }
    let b = crate::udev::c_str(&b);
    let line = b.split(|c| *c == b'\n').next().unwrap_or_default();
    Some(lossy(line))
}

/// `virVHBAGetConfig`: the value with everything up to its first `0x` cut.
fn vhba_value(sysfs: &dyn Sysfs, host: u32, entry: &str) -> Option<String> {
    let path = PathBuf::from(CLASS_FC_HOST)
        .join(format!("host{}", host as i32))
        .join(entry);
    if !sysfs.exists(&path) {
        return None;
    }
    let v = read_value(sysfs, &path)?;
    Some(match v.find("0x") {
        Some(i) => v[i + 2..].to_string(),
        None => v,
    })
}

/// Reads a SCSI host (`hostN`); without `full`, its `unique_id` (which cannot
/// make libvirt drop it) is left unread, for a listing.
pub fn read_host(sysfs: &dyn Sysfs, dev: &UdevDevice, full: bool) -> Result<ScsiHost, String> {
    let name = base_name(&dev.syspath);
    let host = name
        .strip_prefix("host")
        .and_then(|n| cnum::to_uint(n.as_bytes(), 0))
        .ok_or_else(|| format!("failed to parse SCSI host '{name}'"))?;
    let h = host as i32;
    let unique_id = full
        .then(|| {
            read_value(
                sysfs,
                &Path::new(CLASS_SCSI_HOST).join(format!("host{h}/unique_id")),
            )
        })
        .flatten()
        .and_then(|v| cnum::to_int(v.as_bytes(), 10))
        .filter(|v| *v >= 0);
    let mut fc_host = None;
    let mut vport_ops = None;
    let ok = (|| {
        if sysfs.exists(&Path::new(CLASS_FC_HOST).join(format!("host{h}"))) {
            let wwpn = vhba_value(sysfs, host, "port_name")?;
            let wwnn = vhba_value(sysfs, host, "node_name")?;
            let fabric_wwn = vhba_value(sysfs, host, "fabric_name");
            fc_host = Some(FcHost {
                wwnn,
                wwpn,
                fabric_wwn,
            });
        }
        let vport_create =
            |class: &str| sysfs.exists(&Path::new(class).join(format!("host{h}/vport_create")));
        if vport_create(CLASS_FC_HOST) || vport_create(CLASS_SCSI_HOST) {
            let number =
                |e: &str| vhba_value(sysfs, host, e).and_then(|v| cnum::to_int(v.as_bytes(), 10));
            vport_ops = Some(VportOps {
                max_vports: number("max_npiv_vports")?,
                vports: number("npiv_vports_inuse")?,
            });
        }
        Some(())
    })();
    if ok.is_none() {
        // libvirt clears both on any failure.
        fc_host = None;
        vport_ops = None;
    }
    Ok(ScsiHost {
        host,
        unique_id,
        fc_host,
        vport_ops,
    })
}

/// Reads a SCSI target (`targetH:B:T`).
pub fn read_target(sysfs: &dyn Sysfs, dev: &UdevDevice) -> ScsiTarget {
    let rport = dev
        .syspath
        .parent()
        .map(|p| base_name(p).to_string())
        .unwrap_or_default();
    let fc_remote_port = (!rport.is_empty()
        && !rport.contains('/')
        && sysfs.exists(&Path::new(CLASS_FC_REMOTE_PORTS).join(&rport)))
    .then(|| {
        let path = Path::new(CLASS_FC_REMOTE_PORTS)
            .join(&rport)
            .join("port_name");
        let b = sysfs.read(&path).ok()?;
        let b = crate::udev::c_str(&b);
        let wwpn = lossy(b.split(|c| *c == b'\n').next().unwrap_or_default());
        Some(FcRemotePort { rport, wwpn })
    })
    .flatten();
    ScsiTarget {
        target: lossy(&dev.sysname),
        fc_remote_port,
    }
}

/// libvirt's names of SCSI peripheral types (`udevGetSCSIType`).
pub fn scsi_type_name(t: u32) -> Option<&'static str> {
    Some(match t {
        0 => "disk",
        1 => "tape",
        3 => "processor",
        4 => "worm",
        5 => "cdrom",
        6 => "scanner",
        7 => "mod",
        8 => "changer",
        13 => "enclosure",
        12 => "raid",
        _ => return None,
    })
}

/// Reads a SCSI device (`H:B:T:L`).
pub fn read_device(sysfs: &dyn Sysfs, dev: &UdevDevice) -> Result<ScsiDevice, String> {
    let name = base_name(&dev.syspath);
    let bad = || format!("failed to parse the SCSI address from filename: '{name}'");
    let mut rest = name.as_bytes();
    let mut parts = [0u32; 4];
    for (i, part) in parts.iter_mut().enumerate() {
        let (v, used) = cnum::to_uint_prefix(rest, 10).ok_or_else(bad)?;
        *part = v;
        rest = &rest[used..];
        if i < 3 {
            // libvirt steps over one character, whatever it is.
            rest = rest.get(1..).ok_or_else(bad)?;
        }
    }
    let kind = match dev.sysattr(sysfs, "type") {
        None => None,
        Some(t) => {
            let t =
                cnum::to_uint(&t, 0).ok_or_else(|| format!("type of {name} is not a number"))?;
            scsi_type_name(t).map(str::to_string)
        }
    };
    Ok(ScsiDevice {
        host: parts[0],
        bus: parts[1],
        target: parts[2],
        lun: parts[3],
        kind,
    })
}

/// Reads a SCSI generic node.
pub fn read_generic(dev: &UdevDevice) -> Result<ScsiGeneric, String> {
    Ok(ScsiGeneric {
        char_dev: dev
            .property_text("DEVNAME")
            .ok_or_else(|| "no DEVNAME".to_string())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_libvirts() {
        assert_eq!(scsi_type_name(0), Some("disk"));
        assert_eq!(scsi_type_name(5), Some("cdrom"));
        assert_eq!(scsi_type_name(12), Some("raid"));
        assert_eq!(scsi_type_name(13), Some("enclosure"));
        // printer, communications, no LUN: no <type>.
        assert_eq!(scsi_type_name(2), None);
        assert_eq!(scsi_type_name(9), None);
        assert_eq!(scsi_type_name(0x7f), None);
    }
}
