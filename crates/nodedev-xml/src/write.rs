//! The writer: what libvirt's `virNodeDeviceDefFormat` prints, byte for byte.

use pci_types::vpd::{VpdCustomField, VpdResource};
use pci_types::{PciAddress, PciExpressLink};

use crate::model::*;

/// The part of a string libvirt sees: its strings are C strings, which end at
/// the first NUL.
fn c_string(s: &str) -> &str {
    s.split('\0').next().unwrap_or_default()
}

/// Characters XML 1.0 forbids (but NUL, which ends the string first): the C0
/// controls other than tab, line feed and carriage return, and U+FFFE, U+FFFF.
/// The writer drops them, as libvirt's `virBufferEscapeString` "silently
/// ignores control characters"; libvirt's list stops at 0x19, so it prints
/// 0x1A–0x1F (the escape character among them) raw, which no XML parser reads
/// back. Here they are dropped too: every document this crate writes is
/// well-formed, whatever the strings in the model.
fn forbidden(c: char) -> bool {
    matches!(c, '\u{1}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// libvirt's `virBufferEscapeString`: the string ends at its first NUL; `< > &
/// " '` become entities; the control characters XML forbids are dropped
/// (libvirt drops 0x01–0x08, 0x0B, 0x0C and 0x0E–0x19; 0x1A–0x1F, U+FFFE and
/// U+FFFF, which libvirt would print and so write a document XML parsers
/// refuse, are dropped as well). Tab, line feed and carriage return stay.
pub fn escape(s: &str) -> String {
    let s = c_string(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// A line-oriented buffer with libvirt's 2-space indentation.
struct Buf {
    out: String,
    indent: usize,
}

impl Buf {
    fn line(&mut self, s: &str) {
        for _ in 0..self.indent {
            self.out.push(' ');
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn open(&mut self, s: &str) {
        self.line(s);
        self.indent += 2;
    }

    fn close(&mut self, s: &str) {
        self.indent -= 2;
        self.line(s);
    }

    /// `<tag>escaped</tag>` when there is a value.
    fn text(&mut self, tag: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.line(&format!("<{tag}>{}</{tag}>", escape(v)));
        }
    }
}

fn address(a: &PciAddress) -> String {
    format!("<address {}/>", a.xml_attributes())
}

impl NodeDevice {
    /// The document as libvirt formats it, ending with a newline.
    pub fn to_xml(&self) -> String {
        let mut b = Buf {
            out: String::new(),
            indent: 0,
        };
        b.open("<device>");
        b.text("name", Some(&self.name));
        b.text("path", self.path.as_deref());
        for kind in [DevNodeKind::Dev, DevNodeKind::Link] {
            for n in self.devnodes.iter().filter(|n| n.kind == kind) {
                let t = if kind == DevNodeKind::Dev {
                    "dev"
                } else {
                    "link"
                };
                b.line(&format!(
                    "<devnode type='{t}'>{}</devnode>",
                    escape(&n.path)
                ));
            }
        }
        b.text("parent", self.parent.as_deref());
        if let Some(d) = &self.driver {
            b.open("<driver>");
            b.text("name", Some(d));
            b.close("</driver>");
        }
        for cap in &self.capabilities {
            b.open(&format!("<capability type='{}'>", cap.type_name()));
            match cap {
                Capability::System(s) => system(&mut b, s),
                Capability::Pci(p) => pci(&mut b, p),
                Capability::Net(n) => net(&mut b, n),
                Capability::UsbDevice(u) => usb_device(&mut b, u),
                Capability::Usb(u) => usb_interface(&mut b, u),
                Capability::ScsiHost(h) => scsi_host(&mut b, h),
                Capability::ScsiTarget(t) => scsi_target(&mut b, t),
                Capability::Scsi(d) => scsi(&mut b, d),
                Capability::Storage(d) => storage(&mut b, d),
                Capability::ScsiGeneric(g) => b.text("char", Some(&g.char_dev)),
                Capability::Drm(d) => b.text("type", Some(&d.kind)),
                Capability::Mdev(m) => mdev(&mut b, m),
                Capability::MdevTypes(t) => mdev_types(&mut b, t),
                Capability::Ccw(a) => ccw_address(&mut b, a),
                Capability::Css(c) => css(&mut b, c),
                Capability::Vdpa(v) => b.text("chardev", v.chardev.as_deref()),
                Capability::ApCard(a) => {
                    b.line(&format!("<ap-adapter>0x{:02x}</ap-adapter>", a.adapter));
                }
                Capability::ApQueue(q) => {
                    b.line(&format!("<ap-adapter>0x{:02x}</ap-adapter>", q.adapter));
                    b.line(&format!("<ap-domain>0x{:04x}</ap-domain>", q.domain));
                }
                Capability::ApMatrix(m) => mdev_types(&mut b, &m.mdev_types),
            }
            b.close("</capability>");
        }
        b.close("</device>");
        b.out
    }
}

fn system(b: &mut Buf, s: &SystemCapability) {
    b.text("product", s.product.as_deref());
    b.open("<hardware>");
    b.text("vendor", s.hardware.vendor.as_deref());
    b.text("version", s.hardware.version.as_deref());
    b.text("serial", s.hardware.serial.as_deref());
    // libvirt holds the UUID as 16 bytes and prints it with virUUIDFormat:
    // lowercase, dashed; all zeros when it has none (or could not parse one).
    let uuid = s
        .hardware
        .uuid
        .as_deref()
        .and_then(canonical_uuid)
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".to_string());
    b.line(&format!("<uuid>{uuid}</uuid>"));
    b.close("</hardware>");
    b.open("<firmware>");
    b.text("vendor", s.firmware.vendor.as_deref());
    b.text("version", s.firmware.version.as_deref());
    b.text("release_date", s.firmware.release_date.as_deref());
    b.close("</firmware>");
}

fn id_name(b: &mut Buf, tag: &str, v: &IdName) {
    match &v.name {
        Some(n) => b.line(&format!("<{tag} id='0x{:04x}'>{}</{tag}>", v.id, escape(n))),
        None => b.line(&format!("<{tag} id='0x{:04x}'/>", v.id)),
    }
}

fn pci(b: &mut Buf, p: &PciCapability) {
    if let Some(c) = p.class {
        b.line(&format!("<class>0x{c:06x}</class>"));
    }
    // libvirt prints the domain with %d.
    b.line(&format!("<domain>{}</domain>", p.domain as i32));
    b.line(&format!("<bus>{}</bus>", p.bus));
    b.line(&format!("<slot>{}</slot>", p.slot));
    b.line(&format!("<function>{}</function>", p.function));
    id_name(b, "product", &p.product);
    id_name(b, "vendor", &p.vendor);
    if let Some(pf) = &p.phys_function {
        b.open("<capability type='phys_function'>");
        b.line(&address(pf));
        b.close("</capability>");
    }
    if let Some(vfs) = &p.virt_functions {
        let max = match vfs.max_count {
            Some(m) if m > 0 => format!(" maxCount='{m}'"),
            _ => String::new(),
        };
        if vfs.addresses.is_empty() {
            b.line(&format!("<capability type='virt_functions'{max}/>"));
        } else {
            b.open(&format!("<capability type='virt_functions'{max}>"));
            for a in &vfs.addresses {
                b.line(&address(a));
            }
            b.close("</capability>");
        }
    }
    if let Some(h) = p.header {
        b.line(&format!("<capability type='{}'/>", h.as_str()));
    }
    mdev_types(b, &p.mdev_types);
    if let Some(v) = &p.vpd {
        vpd(b, v);
    }
    if let Some(g) = p.iommu_group.as_ref().filter(|g| !g.addresses.is_empty()) {
        b.open(&format!("<iommuGroup number='{}'>", g.number as i32));
        for a in &g.addresses {
            b.line(&address(a));
        }
        b.close("</iommuGroup>");
    }
    if let Some(n) = p.numa_node.filter(|n| *n >= 0) {
        b.line(&format!("<numa node='{n}'/>"));
    }
    if let Some(e) = &p.pci_express {
        if e.cap.is_none() && e.sta.is_none() {
            b.line("<pci-express/>");
        } else {
            b.open("<pci-express>");
            link(b, e.cap.as_ref(), "cap");
            link(b, e.sta.as_ref(), "sta");
            b.close("</pci-express>");
        }
    }
}

/// `virNodeDeviceCapMdevTypesFormat`: nothing when there are no types.
fn mdev_types(b: &mut Buf, types: &[MdevType]) {
    if types.is_empty() {
        return;
    }
    b.open("<capability type='mdev_types'>");
    for t in types {
        b.open(&format!("<type id='{}'>", escape(&t.id)));
        b.text("name", t.name.as_deref());
        b.text("deviceAPI", Some(&t.device_api));
        b.line(&format!(
            "<availableInstances>{}</availableInstances>",
            t.available_instances
        ));
        b.close("</type>");
    }
    b.close("</capability>");
}

/// USB's ids: libvirt writes an unnamed one with a space before `/>`.
fn usb_id_name(b: &mut Buf, tag: &str, v: &IdName) {
    match &v.name {
        Some(n) => b.line(&format!("<{tag} id='0x{:04x}'>{}</{tag}>", v.id, escape(n))),
        None => b.line(&format!("<{tag} id='0x{:04x}' />", v.id)),
    }
}

fn usb_device(b: &mut Buf, u: &UsbDeviceCapability) {
    b.line(&format!("<bus>{}</bus>", u.bus as i32));
    b.line(&format!("<device>{}</device>", u.device as i32));
    usb_id_name(b, "product", &u.product);
    usb_id_name(b, "vendor", &u.vendor);
}

fn usb_interface(b: &mut Buf, u: &UsbInterfaceCapability) {
    b.line(&format!("<number>{}</number>", u.number as i32));
    b.line(&format!("<class>{}</class>", u.class as i32));
    b.line(&format!("<subclass>{}</subclass>", u.subclass as i32));
    b.line(&format!("<protocol>{}</protocol>", u.protocol as i32));
    b.text("description", u.description.as_deref());
}

fn scsi_host(b: &mut Buf, h: &ScsiHostCapability) {
    b.line(&format!("<host>{}</host>", h.host as i32));
    if let Some(u) = h.unique_id {
        b.line(&format!("<unique_id>{}</unique_id>", u as i32));
    }
    if let Some(fc) = &h.fc_host {
        b.open("<capability type='fc_host'>");
        b.text("wwnn", Some(&fc.wwnn));
        b.text("wwpn", Some(&fc.wwpn));
        b.text("fabric_wwn", fc.fabric_wwn.as_deref());
        b.close("</capability>");
    }
    if let Some(v) = &h.vport_ops {
        b.open("<capability type='vport_ops'>");
        b.line(&format!("<max_vports>{}</max_vports>", v.max_vports as i32));
        b.line(&format!("<vports>{}</vports>", v.vports as i32));
        b.close("</capability>");
    }
}

fn scsi_target(b: &mut Buf, t: &ScsiTargetCapability) {
    b.text("target", Some(&t.target));
    if let Some(r) = &t.fc_remote_port {
        // libvirt prints these two with %s, unescaped; they are kernel names.
        b.open("<capability type='fc_remote_port'>");
        b.text("rport", Some(&r.rport));
        b.text("wwpn", Some(&r.wwpn));
        b.close("</capability>");
    }
}

fn scsi(b: &mut Buf, d: &ScsiCapability) {
    b.line(&format!("<host>{}</host>", d.host as i32));
    b.line(&format!("<bus>{}</bus>", d.bus as i32));
    b.line(&format!("<target>{}</target>", d.target as i32));
    b.line(&format!("<lun>{}</lun>", d.lun as i32));
    b.text("type", d.kind.as_deref());
}

fn storage(b: &mut Buf, s: &StorageCapability) {
    b.text("block", Some(&s.block));
    b.text("bus", s.bus.as_deref());
    b.text("drive_type", s.drive_type.as_deref());
    b.text("model", s.model.as_deref());
    b.text("vendor", s.vendor.as_deref());
    b.text("serial", s.serial.as_deref());
    let blocks = |b: &mut Buf| {
        if s.logical_block_size > 0 {
            b.line(&format!(
                "<logical_block_size>{}</logical_block_size>",
                s.logical_block_size
            ));
        }
        if s.num_blocks > 0 {
            b.line(&format!("<num_blocks>{}</num_blocks>", s.num_blocks));
        }
    };
    match &s.removable {
        Some(r) => {
            b.open("<capability type='removable'>");
            b.line(&format!(
                "<media_available>{}</media_available>",
                u8::from(r.media_available)
            ));
            b.line(&format!("<media_size>{}</media_size>", r.media_size));
            b.text("media_label", r.media_label.as_deref());
            blocks(b);
            b.close("</capability>");
        }
        None => {
            b.line(&format!("<size>{}</size>", s.size));
            blocks(b);
        }
    }
    if s.hotpluggable {
        b.line("<capability type='hotpluggable'/>");
    }
}

fn mdev(b: &mut Buf, m: &MdevCapability) {
    b.line(&format!("<type id='{}'/>", escape(&m.type_id)));
    b.text("uuid", m.uuid.as_deref());
    b.text("parent_addr", m.parent_addr.as_deref());
    b.line(&format!("<iommuGroup number='{}'/>", m.iommu_group));
    // libvirt prints mdevctl's attributes with %s, unescaped; escaped here so
    // the document stays well-formed.
    for (name, value) in &m.attrs {
        b.line(&format!(
            "<attr name='{}' value='{}'/>",
            escape(name),
            escape(value)
        ));
    }
}

fn ccw_address(b: &mut Buf, a: &CcwAddress) {
    b.line(&format!("<cssid>0x{:x}</cssid>", a.cssid));
    b.line(&format!("<ssid>0x{:x}</ssid>", a.ssid));
    b.line(&format!("<devno>0x{:04x}</devno>", a.devno));
}

fn css(b: &mut Buf, c: &CssCapability) {
    ccw_address(b, &c.address);
    if let Some(d) = &c.channel_dev_addr {
        b.open("<channel_dev_addr>");
        ccw_address(b, d);
        b.close("</channel_dev_addr>");
    }
    mdev_types(b, &c.mdev_types);
}

fn link(b: &mut Buf, l: Option<&PciExpressLink>, validity: &str) {
    let Some(l) = l else { return };
    let mut s = format!("<link validity='{validity}'");
    if let Some(p) = l.port {
        s.push_str(&format!(" port='{}'", p as i32));
    }
    if let Some(sp) = l.speed {
        s.push_str(&format!(" speed='{}'", sp.as_str()));
    }
    s.push_str(&format!(" width='{}'/>", l.width as i32));
    b.line(&s);
}

/// VPD field values: libvirt prints them with `virBufferAsprintf`, unescaped
/// (its VPD parser admits any printable ASCII). Quotes and `>` are legal in
/// element text and stay as they are, so the bytes match libvirt's; `&` and `<`
/// would make libvirt's output malformed, and only those are escaped here, with
/// `>` after `]]` (the text may not contain `]]>`). A value from elsewhere than
/// the VPD parser is cut at NUL and loses the characters XML forbids, as in
/// [`escape`].
fn vpd_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in c_string(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if out.ends_with("]]") => out.push_str("&gt;"),
            c if forbidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn vpd(b: &mut Buf, v: &VpdResource) {
    let custom = |b: &mut Buf, tag: &str, f: &VpdCustomField| {
        b.line(&format!(
            "<{tag} index='{}'>{}</{tag}>",
            escape(&f.index.to_string()),
            vpd_text(&f.value)
        ));
    };
    let field = |b: &mut Buf, tag: &str, value: Option<&str>| {
        if let Some(v) = value {
            b.line(&format!("<{tag}>{}</{tag}>", vpd_text(v)));
        }
    };
    b.open("<capability type='vpd'>");
    b.text("name", Some(&v.name));
    if let Some(ro) = &v.read_only {
        b.open("<fields access='readonly'>");
        field(b, "change_level", ro.change_level.as_deref());
        field(b, "manufacture_id", ro.manufacture_id.as_deref());
        field(b, "part_number", ro.part_number.as_deref());
        field(b, "serial_number", ro.serial_number.as_deref());
        for f in &ro.vendor_fields {
            custom(b, "vendor_field", f);
        }
        b.close("</fields>");
    }
    if let Some(rw) = &v.read_write {
        b.open("<fields access='readwrite'>");
        field(b, "asset_tag", rw.asset_tag.as_deref());
        for f in &rw.vendor_fields {
            custom(b, "vendor_field", f);
        }
        for f in &rw.system_fields {
            custom(b, "system_field", f);
        }
        b.close("</fields>");
    }
    b.close("</capability>");
}

fn net(b: &mut Buf, n: &NetCapability) {
    b.text("interface", Some(&n.interface));
    b.text("address", n.address.as_deref());
    if let Some(l) = &n.link {
        if l.speed.is_some() || l.state.is_some() {
            let mut s = String::from("<link");
            if let Some(sp) = l.speed {
                s.push_str(&format!(" speed='{sp}'"));
            }
            if let Some(st) = &l.state {
                s.push_str(&format!(" state='{}'", escape(st)));
            }
            s.push_str("/>");
            b.line(&s);
        }
    }
    for f in canonical_features(&n.features) {
        b.line(&format!("<feature name='{}'/>", escape(&f)));
    }
    if let Some(t) = &n.subtype {
        b.line(&format!("<capability type='{}'/>", escape(t)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_uuid_is_printed_as_vir_uuid_format_does() {
        let doc = |uuid: Option<&str>| {
            NodeDevice {
                name: "computer".into(),
                path: None,
                devnodes: Vec::new(),
                parent: None,
                driver: None,
                capabilities: vec![Capability::System(SystemCapability {
                    hardware: SystemHardware {
                        uuid: uuid.map(str::to_string),
                        ..Default::default()
                    },
                    ..Default::default()
                })],
            }
            .to_xml()
        };
        assert!(doc(Some("4C4C4544-004E-3710-804B-C4C04F4B4E32"))
            .contains("<uuid>4c4c4544-004e-3710-804b-c4c04f4b4e32</uuid>"));
        assert!(doc(Some("not a uuid <x>"))
            .contains("<uuid>00000000-0000-0000-0000-000000000000</uuid>"));
        assert!(doc(None).contains("<uuid>00000000-0000-0000-0000-000000000000</uuid>"));
    }

    #[test]
    fn escapes_like_libvirt() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        // libvirt's dropped controls; tab, line feed and carriage return stay.
        assert_eq!(escape("x\u{1}y\u{19}z\t\n\r"), "xyz\t\n\r");
        // Past libvirt's list: 0x1A-0x1F (ESC among them), U+FFFE, U+FFFF.
        assert_eq!(
            escape("a\u{1a}\u{1b}[31mb\u{1f}\u{fffe}\u{ffff}c\u{fffd}\u{7f}\u{85}"),
            "a[31mbc\u{fffd}\u{7f}\u{85}"
        );
        // A C string ends at its NUL.
        assert_eq!(escape("name\0hidden<"), "name");
        assert_eq!(escape("\0"), "");
    }

    #[test]
    fn vpd_text_is_raw_but_well_formed() {
        assert_eq!(vpd_text("a\"'>b"), "a\"'>b");
        assert_eq!(vpd_text("x]]>y]>z>"), "x]]&gt;y]>z>");
        assert_eq!(vpd_text("&<\u{1b}\0rest"), "&amp;&lt;");
    }

    #[test]
    fn every_character_xml_forbids_is_dropped_and_nothing_else() {
        let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
        for c in (1..0x11_0000).filter_map(char::from_u32) {
            let s = c.to_string();
            let e = escape(&s);
            assert_eq!(e.is_empty(), !allowed(c), "U+{:04X}", c as u32);
            assert_eq!(vpd_text(&s).is_empty(), !allowed(c), "U+{:04X}", c as u32);
        }
    }
}
