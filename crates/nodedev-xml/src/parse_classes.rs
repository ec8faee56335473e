//! The parser for the capabilities of libvirt's udev classes besides `system`,
//! `pci` and `net`: what libvirt's `nodedev.rng` accepts for them, read as
//! libvirt's parser reads them, in the writer's canonical model.

use crate::model::*;
use crate::parse::{
    at_most_int, id_name, in_order, mdev_types, opt_text, parse_decimal, parse_unsigned,
    required_text, shorten, text_child, xml_trim, Children, Ctx, Element, Slot,
};
use crate::XmlError;

/// A capability of one of these classes (`kind` is its `type`).
pub(crate) fn capability(ctx: &Ctx, el: &Element, kind: &str) -> Result<Capability, XmlError> {
    Ok(match kind {
        "usb_device" => Capability::UsbDevice(usb_device(ctx, el)?),
        "usb" => Capability::Usb(usb_interface(ctx, el)?),
        "scsi_host" => Capability::ScsiHost(scsi_host(ctx, el)?),
        "scsi_target" => Capability::ScsiTarget(scsi_target(ctx, el)?),
        "scsi" => Capability::Scsi(scsi(ctx, el)?),
        "storage" => Capability::Storage(Box::new(storage(ctx, el)?)),
        "scsi_generic" => {
            let mut ch = Children::new(ctx, el);
            let char_dev = required_text(ctx, ch.req("char", None)?, "the device node")?;
            ch.done()?;
            Capability::ScsiGeneric(ScsiGenericCapability { char_dev })
        }
        "drm" => {
            let mut ch = Children::new(ctx, el);
            let t = required_text(ctx, ch.req("type", None)?, "the DRM type")?;
            ch.done()?;
            if !DRM_TYPES.contains(&t.as_str()) {
                return Err(ctx.err(format!(
                    "DRM type '{}' is not one of {}",
                    shorten(&t),
                    DRM_TYPES.join(", ")
                )));
            }
            Capability::Drm(DrmCapability { kind: t })
        }
        "mdev" => Capability::Mdev(mdev(ctx, el)?),
        "mdev_types" => {
            // A stand-alone parent: the types nested once more.
            let mut ch = Children::new(ctx, el);
            let types = match ch.opt("capability", Some("mdev_types"))? {
                Some(e) => mdev_types(ctx, e)?,
                None => Vec::new(),
            };
            ch.done()?;
            Capability::MdevTypes(types)
        }
        "ccw" => {
            let mut ch = Children::new(ctx, el);
            let a = ccw_address(ctx, el, &mut ch)?;
            ch.done()?;
            Capability::Ccw(a)
        }
        "css" => Capability::Css(css(ctx, el)?),
        "vdpa" => {
            let mut ch = Children::new(ctx, el);
            let chardev = text_child(ctx, &mut ch, "chardev")?;
            ch.done()?;
            Capability::Vdpa(VdpaCapability { chardev })
        }
        "ap_card" => {
            let mut ch = Children::new(ctx, el);
            let adapter = ap_number(ctx, &mut ch, "ap-adapter", 0xff)?;
            ch.done()?;
            Capability::ApCard(ApCardCapability { adapter })
        }
        "ap_queue" => {
            in_order(ctx, el, &[("ap-adapter", None), ("ap-domain", None)])?;
            let mut ch = Children::new(ctx, el);
            let adapter = ap_number(ctx, &mut ch, "ap-adapter", 0xff)?;
            let domain = ap_number(ctx, &mut ch, "ap-domain", 0xffff)?;
            ch.done()?;
            Capability::ApQueue(ApQueueCapability { adapter, domain })
        }
        "ap_matrix" => {
            let mut ch = Children::new(ctx, el);
            let types = match ch.opt("capability", Some("mdev_types"))? {
                Some(e) => mdev_types(ctx, e)?,
                None => Vec::new(),
            };
            ch.done()?;
            Capability::ApMatrix(ApMatrixCapability { mdev_types: types })
        }
        other => {
            return Err(ctx.err(format!(
                "capability type '{}' is not a node-device capability libvirt 9.0 writes",
                shorten(other)
            )))
        }
    })
}

/// A number libvirt prints with `%d`: unsigned decimal, at most `i32::MAX`.
fn int_child(ctx: &Ctx, ch: &mut Children<'_>, name: &str) -> Result<u32, XmlError> {
    let e = ch.req(name, None)?;
    let c = ctx.child(e);
    e.only_attrs(&c, &[])?;
    let v = parse_unsigned(&c, name, e.text_only(&c)?)?;
    at_most_int(&c, name, v)
}

fn u64_child(ctx: &Ctx, ch: &mut Children<'_>, name: &str) -> Result<Option<u64>, XmlError> {
    match ch.opt(name, None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            parse_decimal::<u64>(&c, name, e.text_only(&c)?).map(Some)
        }
        None => Ok(None),
    }
}

fn usb_device(ctx: &Ctx, el: &Element) -> Result<UsbDeviceCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[
            ("bus", None),
            ("device", None),
            ("product", None),
            ("vendor", None),
        ],
    )?;
    let mut ch = Children::new(ctx, el);
    let bus = int_child(ctx, &mut ch, "bus")?;
    let device = int_child(ctx, &mut ch, "device")?;
    let product = id_name(ctx, ch.req("product", None)?)?;
    let vendor = id_name(ctx, ch.req("vendor", None)?)?;
    ch.done()?;
    for (what, v) in [("product", &product), ("vendor", &vendor)] {
        if v.id > 0xffff {
            return Err(ctx.err(format!("{what} id 0x{:x} is out of range", v.id)));
        }
    }
    Ok(UsbDeviceCapability {
        bus,
        device,
        product,
        vendor,
    })
}

fn usb_interface(ctx: &Ctx, el: &Element) -> Result<UsbInterfaceCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[
            ("number", None),
            ("class", None),
            ("subclass", None),
            ("protocol", None),
            ("description", None),
        ],
    )?;
    let mut ch = Children::new(ctx, el);
    let out = UsbInterfaceCapability {
        number: int_child(ctx, &mut ch, "number")?,
        class: int_child(ctx, &mut ch, "class")?,
        subclass: int_child(ctx, &mut ch, "subclass")?,
        protocol: int_child(ctx, &mut ch, "protocol")?,
        description: text_child(ctx, &mut ch, "description")?,
    };
    ch.done()?;
    Ok(out)
}

/// `wwn` of basictypes.rng: `(0x)?[0-9a-fA-F]{16}`.
fn wwn(
    ctx: &Ctx,
    ch: &mut Children<'_>,
    name: &str,
    required: bool,
) -> Result<Option<String>, XmlError> {
    let Some(e) = ch.opt(name, None)? else {
        return if required {
            Err(ctx.err(format!("missing element <{name}>")))
        } else {
            Ok(None)
        };
    };
    let c = ctx.child(e);
    e.only_attrs(&c, &[])?;
    let t = e.text_only(&c)?;
    let digits = t.strip_prefix("0x").unwrap_or(t);
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(c.err(format!(
            "'{}' is not a WWN (16 hexadecimal digits)",
            shorten(t)
        )));
    }
    Ok(Some(t.to_string()))
}

fn scsi_host(ctx: &Ctx, el: &Element) -> Result<ScsiHostCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[("host", None), ("unique_id", None), ("capability", None)],
    )?;
    let mut ch = Children::new(ctx, el);
    let host = int_child(ctx, &mut ch, "host")?;
    let unique_id = match ch.opt("unique_id", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            let v = parse_unsigned(&c, "unique_id", e.text_only(&c)?)?;
            Some(at_most_int(&c, "unique_id", v)?)
        }
        None => None,
    };
    let fc_host = match ch.opt("capability", Some("fc_host"))? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.element_only(&c)?;
            in_order(
                &c,
                e,
                &[("wwnn", None), ("wwpn", None), ("fabric_wwn", None)],
            )?;
            let mut cc = Children::new(&c, e);
            let out = FcHost {
                wwnn: wwn(&c, &mut cc, "wwnn", true)?.unwrap_or_default(),
                wwpn: wwn(&c, &mut cc, "wwpn", true)?.unwrap_or_default(),
                fabric_wwn: wwn(&c, &mut cc, "fabric_wwn", false)?,
            };
            cc.done()?;
            Some(out)
        }
        None => None,
    };
    let vport_ops = match ch.opt("capability", Some("vport_ops"))? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.element_only(&c)?;
            in_order(&c, e, &[("max_vports", None), ("vports", None)])?;
            let mut cc = Children::new(&c, e);
            let out = VportOps {
                max_vports: int_child(&c, &mut cc, "max_vports")?,
                vports: int_child(&c, &mut cc, "vports")?,
            };
            cc.done()?;
            Some(out)
        }
        None => None,
    };
    if let Some(other) = ch.all("capability", None).first() {
        return Err(ctx.child(other).err(format!(
            "unknown SCSI host capability type '{}' (fc_host or vport_ops)",
            shorten(other.attr("type").unwrap_or(""))
        )));
    }
    ch.done()?;
    Ok(ScsiHostCapability {
        host,
        unique_id,
        fc_host,
        vport_ops,
    })
}

fn scsi_target(ctx: &Ctx, el: &Element) -> Result<ScsiTargetCapability, XmlError> {
    in_order(ctx, el, &[("target", None), ("capability", None)])?;
    let mut ch = Children::new(ctx, el);
    let target = required_text(ctx, ch.req("target", None)?, "the target name")?;
    let fc_remote_port = match ch.opt("capability", Some("fc_remote_port"))? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.element_only(&c)?;
            in_order(&c, e, &[("rport", None), ("wwpn", None)])?;
            let mut cc = Children::new(&c, e);
            let rport = required_text(&c, cc.req("rport", None)?, "the remote port")?;
            let wwpn = wwn(&c, &mut cc, "wwpn", true)?.unwrap_or_default();
            cc.done()?;
            Some(FcRemotePort { rport, wwpn })
        }
        None => None,
    };
    ch.done()?;
    Ok(ScsiTargetCapability {
        target,
        fc_remote_port,
    })
}

fn scsi(ctx: &Ctx, el: &Element) -> Result<ScsiCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[
            ("host", None),
            ("bus", None),
            ("target", None),
            ("lun", None),
            ("type", None),
        ],
    )?;
    let mut ch = Children::new(ctx, el);
    let out = ScsiCapability {
        host: int_child(ctx, &mut ch, "host")?,
        bus: int_child(ctx, &mut ch, "bus")?,
        target: int_child(ctx, &mut ch, "target")?,
        lun: int_child(ctx, &mut ch, "lun")?,
        kind: text_child(ctx, &mut ch, "type")?,
    };
    ch.done()?;
    Ok(out)
}

const STORAGE_ORDER: &[Slot] = &[
    ("block", None),
    ("bus", None),
    ("drive_type", None),
    ("model", None),
    ("vendor", None),
    ("serial", None),
    ("capability", Some(("type", &["removable"]))),
    ("size", None),
    ("logical_block_size", None),
    ("num_blocks", None),
    ("capability", Some(("type", &["hotpluggable"]))),
];

fn storage(ctx: &Ctx, el: &Element) -> Result<StorageCapability, XmlError> {
    in_order(ctx, el, STORAGE_ORDER)?;
    let mut ch = Children::new(ctx, el);
    let block = required_text(ctx, ch.req("block", None)?, "the device node")?;
    let mut s = StorageCapability {
        block,
        bus: text_child(ctx, &mut ch, "bus")?,
        drive_type: text_child(ctx, &mut ch, "drive_type")?,
        model: text_child(ctx, &mut ch, "model")?,
        vendor: text_child(ctx, &mut ch, "vendor")?,
        serial: text_child(ctx, &mut ch, "serial")?,
        ..Default::default()
    };
    let removable = ch.opt("capability", Some("removable"))?;
    let size = u64_child(ctx, &mut ch, "size")?;
    match (removable, size) {
        (Some(e), None) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["type"])?;
            e.element_only(&c)?;
            in_order(
                &c,
                e,
                &[
                    ("media_available", None),
                    ("media_size", None),
                    ("media_label", None),
                    ("logical_block_size", None),
                    ("num_blocks", None),
                ],
            )?;
            let mut cc = Children::new(&c, e);
            let avail = required_text(&c, cc.req("media_available", None)?, "media_available")?;
            let media_available = match xml_trim(&avail) {
                "0" => false,
                "1" => true,
                other => {
                    return Err(c.err(format!(
                        "media_available '{}' is neither 0 nor 1",
                        shorten(other)
                    )))
                }
            };
            let media_size = u64_child(&c, &mut cc, "media_size")?
                .ok_or_else(|| c.err("missing element <media_size>"))?;
            let media_label = text_child(&c, &mut cc, "media_label")?;
            s.logical_block_size = u64_child(&c, &mut cc, "logical_block_size")?.unwrap_or(0);
            s.num_blocks = u64_child(&c, &mut cc, "num_blocks")?.unwrap_or(0);
            cc.done()?;
            s.removable = Some(RemovableMedia {
                media_available,
                media_size,
                media_label,
            });
        }
        (None, Some(size)) => {
            s.size = size;
            s.logical_block_size = u64_child(ctx, &mut ch, "logical_block_size")?.unwrap_or(0);
            s.num_blocks = u64_child(ctx, &mut ch, "num_blocks")?.unwrap_or(0);
        }
        (Some(_), Some(_)) => {
            return Err(ctx.err("has both <capability type='removable'> and <size>"))
        }
        (None, None) => {
            return Err(ctx.err(
                "needs <capability type='removable'> (removable media) or <size> (a fixed disk)",
            ))
        }
    }
    if let Some(e) = ch.opt("capability", Some("hotpluggable"))? {
        let c = ctx.child(e);
        e.only_attrs(&c, &["type"])?;
        e.empty(&c)?;
        s.hotpluggable = true;
    }
    if let Some(other) = ch.all("capability", None).first() {
        return Err(ctx.child(other).err(format!(
            "unknown storage capability type '{}' (removable or hotpluggable)",
            shorten(other.attr("type").unwrap_or(""))
        )));
    }
    ch.done()?;
    Ok(s)
}

fn mdev(ctx: &Ctx, el: &Element) -> Result<MdevCapability, XmlError> {
    // The schema interleaves these: any order.
    let mut ch = Children::new(ctx, el);
    let t = ch.req("type", None)?;
    let tc = ctx.child(t);
    t.only_attrs(&tc, &["id"])?;
    t.empty(&tc)?;
    let type_id = t.req_attr(&tc, "id")?.to_string();
    if type_id.is_empty() {
        return Err(tc.err("missing type id attribute"));
    }
    let uuid = match ch.opt("uuid", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            let text = e.text_only(&c)?;
            match opt_text(text) {
                None => None,
                Some(u) => Some(
                    canonical_uuid(xml_trim(&u))
                        .ok_or_else(|| c.err(format!("'{}' is not a UUID", shorten(&u))))?,
                ),
            }
        }
        None => None,
    };
    let parent_addr = text_child(ctx, &mut ch, "parent_addr")?;
    let iommu_group = match ch.opt("iommuGroup", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &["number"])?;
            e.empty(&c)?;
            match e.attr("number") {
                Some(n) => parse_unsigned(&c, "number", n)?,
                None => 0,
            }
        }
        None => 0,
    };
    let mut attrs = Vec::new();
    for a in ch.all("attr", None) {
        let c = ctx.child(a);
        a.only_attrs(&c, &["name", "value"])?;
        a.empty(&c)?;
        attrs.push((
            a.req_attr(&c, "name")?.to_string(),
            a.req_attr(&c, "value")?.to_string(),
        ));
    }
    ch.done()?;
    Ok(MdevCapability {
        type_id,
        uuid,
        parent_addr,
        iommu_group,
        attrs,
    })
}

/// A number as libvirt's `virStrToLong_uip(…, 0)` reads it: decimal, or
/// hexadecimal after `0x` (octal after a leading `0`), no sign.
fn c_number(ctx: &Ctx, what: &str, s: &str, base16: bool) -> Result<u32, XmlError> {
    let t = xml_trim(s);
    let bad = || ctx.err(format!("{what} '{}' is not a number", shorten(s)));
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if base16 {
        (t, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    u32::from_str_radix(digits, radix).map_err(|_| bad())
}

fn ccw_address(ctx: &Ctx, el: &Element, ch: &mut Children<'_>) -> Result<CcwAddress, XmlError> {
    in_order(ctx, el, &[("cssid", None), ("ssid", None), ("devno", None)])?;
    let mut field = |name: &str, max: u32, base16: bool| -> Result<u32, XmlError> {
        let e = ch.req(name, None)?;
        let c = ctx.child(e);
        e.only_attrs(&c, &[])?;
        let v = c_number(&c, name, e.text_only(&c)?, base16)?;
        if v > max {
            return Err(c.err(format!(
                "{name} 0x{v:x} is out of range (at most 0x{max:x})"
            )));
        }
        Ok(v)
    };
    Ok(CcwAddress {
        cssid: field("cssid", 0xfe, false)?,
        ssid: field("ssid", 0x3, false)?,
        devno: field("devno", 0xffff, true)?,
    })
}

fn css(ctx: &Ctx, el: &Element) -> Result<CssCapability, XmlError> {
    in_order(
        ctx,
        el,
        &[
            ("cssid", None),
            ("ssid", None),
            ("devno", None),
            ("channel_dev_addr", None),
            ("capability", None),
        ],
    )?;
    let mut ch = Children::new(ctx, el);
    let address = ccw_address(ctx, el, &mut ch)?;
    let channel_dev_addr = match ch.opt("channel_dev_addr", None)? {
        Some(e) => {
            let c = ctx.child(e);
            e.only_attrs(&c, &[])?;
            e.element_only(&c)?;
            let mut cc = Children::new(&c, e);
            let a = ccw_address(&c, e, &mut cc)?;
            cc.done()?;
            Some(a)
        }
        None => None,
    };
    let types = match ch.opt("capability", Some("mdev_types"))? {
        Some(e) => mdev_types(ctx, e)?,
        None => Vec::new(),
    };
    ch.done()?;
    Ok(CssCapability {
        address,
        channel_dev_addr,
        mdev_types: types,
    })
}

fn ap_number(ctx: &Ctx, ch: &mut Children<'_>, name: &str, max: u32) -> Result<u32, XmlError> {
    let e = ch.req(name, None)?;
    let c = ctx.child(e);
    e.only_attrs(&c, &[])?;
    let v = c_number(&c, name, e.text_only(&c)?, false)?;
    if v > max {
        return Err(c.err(format!(
            "{name} 0x{v:x} is out of range (at most 0x{max:x})"
        )));
    }
    Ok(v)
}
