//! PCI Vital Product Data: the model libvirt reports (`<capability type='vpd'>`).
//!
//! The fields mirror libvirt's `virPCIVPDResource` (src/util/virpcivpd.h).

/// A parsed VPD resource.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdResource {
    /// The identifier string (large resource tag 0x82), e.g. the product name.
    pub name: String,
    /// The read-only fields (VPD-R), if the resource has that section.
    pub read_only: Option<VpdReadOnly>,
    /// The read-write fields (VPD-W), if the resource has that section.
    pub read_write: Option<VpdReadWrite>,
}

/// A vendor- or system-specific field: `V0`..`VZ` or `Y0`..`YZ` keyword, index is the second character.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct VpdCustomField {
    /// The index character (`0`-`9`, `A`-`Z`).
    pub index: char,
    /// The field's text.
    pub value: String,
}

/// The VPD-R section.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdReadOnly {
    /// `EC`: engineering change level.
    pub change_level: Option<String>,
    /// `MN`: manufacture id.
    pub manufacture_id: Option<String>,
    /// `PN`: part number.
    pub part_number: Option<String>,
    /// `SN`: serial number.
    pub serial_number: Option<String>,
    /// `Vx`: vendor-specific fields.
    pub vendor_fields: Vec<VpdCustomField>,
}

/// The VPD-W section.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdReadWrite {
    /// `YA`: asset tag.
    pub asset_tag: Option<String>,
    /// `Vx`: vendor-specific fields.
    pub vendor_fields: Vec<VpdCustomField>,
    /// `Yx` (other than `YA`): system-specific fields.
    pub system_fields: Vec<VpdCustomField>,
}

/// VPD addresses are 15 bits.
const ADDR_MASK: usize = 0x7fff;
const LARGE_RESOURCE: u8 = 0x80;
const TAG_STRING: u8 = 0x82;
const TAG_READ_ONLY: u8 = 0x90;
const TAG_READ_WRITE: u8 = 0x91;
const SMALL_TAG_END: u8 = 0x0f;

/// The bytes of a `vpd` file, read the way libvirt reads them: every byte read
/// is added to the running checksum, and reading past the end fails.
struct Reader<'a> {
    bytes: &'a [u8],
    csum: u8,
}

impl Reader<'_> {
    fn read(&mut self, pos: usize, count: usize) -> Option<&[u8]> {
        let b = self.bytes.get(pos..pos.checked_add(count)?)?;
        for byte in b {
            self.csum = self.csum.wrapping_add(*byte);
        }
        Some(b)
    }
}

/// How libvirt treats a keyword's value (`virPCIVPDResourceGetFieldValueFormat`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Binary,
    /// `RV`: checksum and reserved.
    Reserved,
    /// `RW`: remaining read-write area.
    ReadWrite,
    Unknown,
}

fn upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_vendor(k: &[u8; 2]) -> bool {
    k[0] == b'V' && upper_or_digit(k[1])
}

fn is_system(k: &[u8; 2]) -> bool {
    k[0] == b'Y' && upper_or_digit(k[1]) && k != b"YA"
}

fn format_of(k: &[u8; 2]) -> Format {
    if !(upper_or_digit(k[0]) && upper_or_digit(k[1])) {
        return Format::Unknown;
    }
    if is_vendor(k) || is_system(k) {
        return Format::Text;
    }
    match k {
        b"EC" | b"MN" | b"PN" | b"SN" | b"YA" => Format::Text,
        b"CP" => Format::Binary,
        b"RV" => Format::Reserved,
        b"RW" => Format::ReadWrite,
        _ => Format::Unknown,
    }
}

/// libvirt's text: the bytes up to the first NUL, whitespace stripped at both
/// ends; `None` unless every character is printable ASCII.
fn text_value(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let s = bytes[..end].trim_ascii();
    s.iter()
        .all(|b| (0x20..=0x7e).contains(b))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

/// Sets a custom field, replacing the value of an existing index in place.
fn upsert(fields: &mut Vec<VpdCustomField>, index: char, value: String) {
    match fields.iter_mut().find(|f| f.index == index) {
        Some(f) => f.value = value,
        None => fields.push(VpdCustomField { index, value }),
    }
}

/// Parses one VPD-R (`read_only`) or VPD-W section as `virPCIVPDParseVPDLargeResourceFields`.
fn parse_fields(
    r: &mut Reader<'_>,
    start: usize,
    len: usize,
    read_only: bool,
    res: &mut VpdResource,
) -> bool {
    let end = start + len;
    let mut pos = start;
    let mut has_checksum = false;
    while pos + 3 <= end {
        let Some(header) = r.read(pos, 3) else {
            return false;
        };
        let keyword = [header[0], header[1]];
        let data_len = usize::from(header[2]);
        pos += 3;
        let format = format_of(&keyword);
        let to_read = match format {
            Format::ReadWrite if read_only => return false,
            Format::Reserved if !read_only => return false,
            Format::Reserved => 1,
            _ => data_len,
        };
        if end < pos + data_len {
            return false;
        }
        let Some(data) = r.read(pos, to_read).map(<[u8]>::to_vec) else {
            return false;
        };
        pos += data_len;
        let value = match format {
            Format::Text => match text_value(&data) {
                Some(v) => Some(v),
                // Fields with invalid characters are skipped.
                None => continue,
            },
            Format::Reserved => {
                if r.csum != 0 {
                    return false;
                }
                has_checksum = true;
                break;
            }
            Format::ReadWrite => break,
            Format::Unknown => continue,
            // CP: accepted, but libvirt keeps nothing of it.
            Format::Binary => None,
        };
        if read_only {
            let ro = res.read_only.get_or_insert_with(VpdReadOnly::default);
            let Some(v) = value else { continue };
            match &keyword {
                b"EC" => ro.change_level = Some(v),
                b"MN" => ro.manufacture_id = Some(v),
                b"PN" => ro.part_number = Some(v),
                b"SN" => ro.serial_number = Some(v),
                k if is_vendor(k) => upsert(&mut ro.vendor_fields, char::from(k[1]), v),
                _ => {}
            }
        } else {
            let rw = res.read_write.get_or_insert_with(VpdReadWrite::default);
            let Some(v) = value else { continue };
            match &keyword {
                b"YA" => rw.asset_tag = Some(v),
                k if is_vendor(k) => upsert(&mut rw.vendor_fields, char::from(k[1]), v),
                k if is_system(k) => upsert(&mut rw.system_fields, char::from(k[1]), v),
                _ => {}
            }
        }
    }
    let end_reached = pos >= end;
    if read_only {
        has_checksum && end_reached
    } else {
        end_reached
    }
}

/// Parses the binary `vpd` attribute exactly as libvirt's `virPCIVPDParse` does,
/// returning `None` whenever libvirt would report no VPD: a missing VPD-R section
/// or end tag, a bad checksum, an identifier string with non-printable
/// characters, `RV` not last in VPD-R, a VPD-W that does not end cleanly, or data
/// shorter than its headers say. Text fields with non-printable characters are
/// skipped; values are stripped of surrounding whitespace and cut at a NUL; a
/// repeated vendor or system index replaces the earlier value in place.
///
/// (Without an identifier string libvirt prints no `<name>`; here the name is
/// then empty.)
pub fn parse(bytes: &[u8]) -> Option<VpdResource> {
    let mut r = Reader { bytes, csum: 0 };
    let mut res = VpdResource::default();
    let mut pos = 0usize;
    let mut has_read_only = false;
    let mut end_reached = false;
    while pos <= ADDR_MASK {
        let mut tag = r.read(pos, 1)?[0];
        let len;
        if tag & LARGE_RESOURCE != 0 {
            if pos > ADDR_MASK + 1 - 3 {
                break;
            }
            let h = r.read(pos + 1, 2)?;
            len = usize::from(h[0]) | usize::from(h[1]) << 8;
            pos += 3;
        } else {
            len = usize::from(tag & 7);
            tag >>= 3;
            pos += 1;
        }
        if tag == SMALL_TAG_END {
            end_reached = true;
            break;
        }
        if len > ADDR_MASK + 1 - pos {
            break;
        }
        let well_formed = match tag {
            TAG_STRING => {
                res.name = text_value(r.read(pos, len)?)?;
                true
            }
            TAG_READ_ONLY => {
                has_read_only = true;
                parse_fields(&mut r, pos, len, true, &mut res)
            }
            TAG_READ_WRITE => parse_fields(&mut r, pos, len, false, &mut res),
            _ => {
                pos += len;
                continue;
            }
        };
        if !well_formed {
            return None;
        }
        pos += len;
    }
    (has_read_only && end_reached).then_some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds VPD images field by field.
    struct Vpd(Vec<u8>);

    impl Vpd {
        fn new() -> Self {
            Self(Vec::new())
        }
        fn large(mut self, tag: u8, body: &[u8]) -> Self {
            self.0.push(tag);
            self.0.extend_from_slice(&(body.len() as u16).to_le_bytes());
            self.0.extend_from_slice(body);
            self
        }
        fn name(self, s: &str) -> Self {
            self.large(TAG_STRING, s.as_bytes())
        }
        /// A VPD-R section with the given fields and a correct RV checksum.
        fn read_only(mut self, fields: &[(&str, &[u8])]) -> Self {
            let mut body = Vec::new();
            for (k, v) in fields {
                body.extend_from_slice(k.as_bytes());
                body.push(v.len() as u8);
                body.extend_from_slice(v);
            }
            body.extend_from_slice(b"RV\x01");
            self.0.push(TAG_READ_ONLY);
            self.0
                .extend_from_slice(&((body.len() + 1) as u16).to_le_bytes());
            let sum = self
                .0
                .iter()
                .chain(body.iter())
                .fold(0u8, |a, b| a.wrapping_add(*b));
            body.push(0u8.wrapping_sub(sum));
            self.0.extend_from_slice(&body);
            self
        }
        fn read_write(self, fields: &[(&str, &[u8])]) -> Self {
            let mut body = Vec::new();
            for (k, v) in fields {
                body.extend_from_slice(k.as_bytes());
                body.push(v.len() as u8);
                body.extend_from_slice(v);
            }
            self.large(TAG_READ_WRITE, &body)
        }
        fn end(mut self) -> Vec<u8> {
            self.0.push(0x78);
            self.0
        }
    }

    fn field(index: char, value: &str) -> VpdCustomField {
        VpdCustomField {
            index,
            value: value.into(),
        }
    }

    #[test]
    fn full_resource() {
        let bytes = Vpd::new()
            .name("  BlueField-2 DPU 25GbE  ")
            .read_only(&[
                ("PN", b"MBF2H332A-AEEOT"),
                ("EC", b"B1"),
                ("V2", b"MBF2H332A-AEEOT"),
                ("SN", b"MT2113X00000"),
                ("V3", b"3c53d07eec484d8aab34dabd24fe575aa"),
                ("VA", b"MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:MODL=BF2H332A"),
                ("V0", b"PCIeGen4 x8"),
                ("MN", b"foobar"),
                ("CP", b"\x01\x02"),
                ("FG", b"legacy"),
            ])
            .read_write(&[
                ("V0", b"vendorfield0"),
                ("YA", b"fooasset"),
                ("YB", b"systemfieldB"),
                ("Y0", b"systemfield0"),
                ("RW", &[0; 8]),
            ])
            .end();
        let res = parse(&bytes).expect("valid VPD");
        assert_eq!(res.name, "BlueField-2 DPU 25GbE");
        let ro = res.read_only.unwrap();
        assert_eq!(ro.change_level.as_deref(), Some("B1"));
        assert_eq!(ro.manufacture_id.as_deref(), Some("foobar"));
        assert_eq!(ro.part_number.as_deref(), Some("MBF2H332A-AEEOT"));
        assert_eq!(ro.serial_number.as_deref(), Some("MT2113X00000"));
        assert_eq!(
            ro.vendor_fields,
            vec![
                field('2', "MBF2H332A-AEEOT"),
                field('3', "3c53d07eec484d8aab34dabd24fe575aa"),
                field('A', "MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:MODL=BF2H332A"),
                field('0', "PCIeGen4 x8"),
            ]
        );
        let rw = res.read_write.unwrap();
        assert_eq!(rw.asset_tag.as_deref(), Some("fooasset"));
        assert_eq!(rw.vendor_fields, vec![field('0', "vendorfield0")]);
        assert_eq!(
            rw.system_fields,
            vec![field('B', "systemfieldB"), field('0', "systemfield0")]
        );
    }

    #[test]
    fn libvirt_rules() {
        let ok = |v: Vec<u8>| parse(&v);
        // No VPD-R: no VPD.
        assert!(ok(Vpd::new().name("x").end()).is_none());
        // No end tag.
        assert!(ok(Vpd::new().name("x").read_only(&[]).0).is_none());
        // A bad checksum.
        let mut bad = Vpd::new().name("x").read_only(&[("PN", b"1")]).end();
        let n = bad.len();
        bad[n - 2] ^= 1;
        assert!(parse(&bad).is_none());
        // A name with a non-printable character fails everything.
        assert!(ok(Vpd::new().name("a\u{7}b").read_only(&[]).end()).is_none());
        // A field with one is skipped; a NUL cuts the value.
        let r = ok(Vpd::new()
            .name("x")
            .read_only(&[("PN", b"a\x07b"), ("SN", b"ab\0cd")])
            .end())
        .unwrap();
        let ro = r.read_only.unwrap();
        assert_eq!(ro.part_number, None);
        assert_eq!(ro.serial_number.as_deref(), Some("ab"));
        // A repeated index replaces the value where it was.
        let r = ok(Vpd::new()
            .name("x")
            .read_only(&[("V1", b"a"), ("V2", b"b"), ("V1", b"c")])
            .end())
        .unwrap();
        assert_eq!(
            r.read_only.unwrap().vendor_fields,
            vec![field('1', "c"), field('2', "b")]
        );
        // RW in VPD-R, RV in VPD-W: invalid.
        assert!(ok(Vpd::new().name("x").read_only(&[("RW", b"")]).end()).is_none());
        assert!(ok(Vpd::new()
            .name("x")
            .read_only(&[])
            .read_write(&[("RV", b"\0")])
            .end())
        .is_none());
        // RW must be the last field of VPD-W.
        assert!(ok(Vpd::new()
            .name("x")
            .read_only(&[])
            .read_write(&[("RW", b""), ("YA", b"x")])
            .end())
        .is_none());
        // VPD-W without RW is accepted.
        let r = ok(Vpd::new()
            .name("x")
            .read_only(&[])
            .read_write(&[("YA", b"t")])
            .end())
        .unwrap();
        assert_eq!(r.read_write.unwrap().asset_tag.as_deref(), Some("t"));
        // An unknown resource is skipped unread, so (as in libvirt) its data bytes
        // do not count towards the checksum: before VPD-R it breaks a checksum
        // computed over every byte, after VPD-R it is harmless.
        assert!(ok(Vpd::new().large(0x84, b"zz").name("x").read_only(&[]).end()).is_none());
        let r = ok(Vpd::new().name("x").read_only(&[]).large(0x84, b"zz").end()).unwrap();
        assert_eq!(r.name, "x");
        // Only a checksum: the read-only section is not created.
        let r = ok(Vpd::new().name("x").read_only(&[]).end()).unwrap();
        assert_eq!(r.read_only, None);
    }

    #[test]
    fn never_panics_on_truncated_or_random_input() {
        let good = Vpd::new()
            .name("card")
            .read_only(&[("PN", b"p"), ("V0", b"v")])
            .read_write(&[("YA", b"a"), ("RW", &[0; 4])])
            .end();
        for cut in 0..good.len() {
            assert!(parse(&good[..cut]).is_none(), "prefix {cut} parsed");
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = parse(&bytes);
            let mut flipped = good.clone();
            let i = (seed as usize) % flipped.len();
            flipped[i] = seed as u8;
            let _ = parse(&flipped);
        }
    }
}
