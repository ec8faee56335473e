//! PCI Vital Product Data: the model libvirt reports (`<capability type='vpd'>`)
//! and the parser for the binary `/sys/bus/pci/devices/<BDF>/vpd` file.
//!
//! The fields mirror libvirt's `virPCIVPDResource` (src/util/virpcivpd.h).
//!
//! # Format
//!
//! VPD (PCI Local Bus 3.0 appendix I, PCIe "VPD Format") is a list of resources
//! in a 32 KiB address space. A *large* resource is a tag byte with bit 7 set,
//! a little-endian 16-bit length and that many data bytes: `0x82` is the
//! identifier string (the product name), `0x90` VPD-R (read-only fields),
//! `0x91` VPD-W (read-write fields). A *small* resource is one byte
//! `0b0TTTTLLL` (4-bit type, 3-bit length) followed by its data; type `0xF`
//! (bytes `0x78`..`0x7F`) is the end tag. VPD-R and VPD-W hold fields: a
//! 2-character keyword, one length byte, the value. VPD-R must end with `RV`,
//! whose first value byte makes the byte sum of everything before it zero;
//! VPD-W ends with `RW`, the unused writable space.
//!
//! # libvirt's rules, reproduced by [`parse`]
//!
//! [`parse`] follows `virPCIVPDParse` and its helpers (src/util/virpcivpd.c as
//! of the reference libvirt, 11.3; the older revision that reports read errors
//! differently gives the same results) step by step, because the XML must
//! match libvirt's byte for byte, including on malformed VPD:
//!
//! * Resources are read from offset 0 while the offset is below `0x8000`.
//!   Unknown resource types (large or small) are skipped by their length,
//!   their data unread. A large tag at an offset above `0x7FFD`, or a resource
//!   whose length runs past `0x8000`, stops the walk.
//! * The walk succeeds only if it met the end tag and saw a VPD-R resource;
//!   anything after the end tag is ignored. No VPD-R, no end tag, or any read
//!   past the end of the data (a truncated file) means *no VPD at all*.
//! * The identifier string: the bytes up to the first NUL, with ASCII
//!   whitespace (space, `\t`, `\n`, `\f`, `\r`, not `\v`: GLib's
//!   `g_ascii_isspace`) stripped at both ends, must be printable ASCII
//!   (`0x20`..=`0x7E`), else there is no VPD at all. A later identifier
//!   string replaces an earlier one. With none, the name stays empty (libvirt
//!   keeps it NULL and omits `<name>`; [`VpdResource::name`] cannot tell).
//! * Fields are read while at least 3 bytes (a header) remain in the section;
//!   a field whose length runs past its section makes the VPD invalid.
//! * Keywords: both characters must be `A`-`Z` or `0`-`9`, else the field is
//!   skipped. `Vx` is vendor-specific text, `Yx` (except `YA`) system-specific
//!   text; `EC`, `MN`, `PN`, `SN`, `YA` are text, `CP` binary, `RV` the
//!   checksum, `RW` the writable space; any other keyword (including the
//!   legacy PICMIG `FG`, `LC`, `PG`) is skipped by its length.
//! * Text values get the identifier string's treatment (cut at NUL, stripped);
//!   a value with any other byte is skipped, the VPD stays valid. A zero-length
//!   value is the empty string.
//! * A section object (`read_only` / `read_write`) exists once the section held
//!   one accepted text or binary field, even one libvirt does not report (`CP`,
//!   `YA` or `Yx` in VPD-R, `EC`/`MN`/`PN`/`SN` in VPD-W); a section of only
//!   `RV`/`RW`, unknown or rejected fields has none.
//! * Duplicates: a repeated `EC`/`MN`/`PN`/`SN`/`YA` keeps the last value; a
//!   repeated `Vx`/`Yx` index replaces the value in the position of its first
//!   appearance. Several VPD-R or VPD-W resources merge the same way.
//! * VPD-R: `RW` in it makes the VPD invalid. At `RV` only its first value byte
//!   is read (even if the length is 0: then it is the byte after the field);
//!   the byte sum of every byte read so far, from offset 0, must then be 0 mod
//!   256, and `RV` must end the section, else the VPD is invalid. Bytes that
//!   were never read (skipped resources, the rest of `RV`) are not summed.
//! * VPD-W: `RV` in it makes the VPD invalid. `RW` is optional (vendors omit
//!   it), but if present it must end the section, and the fields must fill the
//!   section exactly (no 1- or 2-byte tail).
//!
//! Every field value that survives is printable ASCII, so the strings are
//! valid UTF-8 and need no further cleaning (XML escaping is the writer's).

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

/// Why libvirt would report no VPD for these bytes (see [`try_parse`]).
///
/// Offsets are byte offsets into the `vpd` file. The variants follow libvirt's
/// own failure points, so a log line can say which rule rejected a device.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VpdError {
    /// A header or value runs past the end of the data (a truncated file).
    #[error("VPD data ends at {len} bytes, {needed} bytes needed at offset {offset:#x}")]
    Truncated {
        /// Where the read started.
        offset: usize,
        /// How many bytes it needed.
        needed: usize,
        /// The data's length.
        len: usize,
    },
    /// The identifier string has a byte that is not printable ASCII.
    #[error("VPD identifier string at offset {offset:#x} has non-printable characters")]
    InvalidName {
        /// Where the string's data starts.
        offset: usize,
    },
    /// `RW` in a VPD-R section or `RV` in a VPD-W section.
    #[error("VPD keyword {keyword} at offset {offset:#x} is not allowed in this section")]
    MisplacedKeyword {
        /// `RV` or `RW`.
        keyword: &'static str,
        /// Where the field starts.
        offset: usize,
    },
    /// A field's length runs past the end of its section.
    #[error("VPD field at offset {offset:#x} runs past the end of its section")]
    FieldOverrun {
        /// Where the field starts.
        offset: usize,
    },
    /// The bytes up to the `RV` checksum byte do not sum to zero.
    #[error("VPD checksum (RV at offset {offset:#x}) does not match")]
    BadChecksum {
        /// Where the `RV` field starts.
        offset: usize,
    },
    /// A VPD-R section has no `RV` field, or `RV` is not its last field.
    #[error("VPD-R section at offset {offset:#x} does not end with its RV checksum")]
    ChecksumNotLast {
        /// Where the section's data starts.
        offset: usize,
    },
    /// A VPD-W section's fields do not fill it exactly, or `RW` is not its last field.
    #[error("VPD-W section at offset {offset:#x} does not end with its last field")]
    ReadWriteNotLast {
        /// Where the section's data starts.
        offset: usize,
    },
    /// There is no VPD-R section (checked before [`VpdError::NoEndTag`], as libvirt does).
    #[error("VPD has no read-only (VPD-R) section")]
    NoReadOnly,
    /// The walk over the resources ended without meeting the end tag.
    #[error("VPD has no end tag within its 32 KiB address space")]
    NoEndTag,
}

/// The VPD address register has 15 bits: resources live below this offset.
const ADDR_SPACE: usize = 0x8000;
/// Bit 7 of a tag byte marks a large resource.
const LARGE: u8 = 0x80;
const TAG_NAME: u8 = 0x82;
const TAG_VPD_R: u8 = 0x90;
const TAG_VPD_W: u8 = 0x91;
/// The end tag's 4-bit small-resource type (tag bytes `0x78`..=`0x7F`).
const SMALL_END: u8 = 0x0f;

/// Parses the binary `vpd` attribute as libvirt does; `None` wherever libvirt
/// reports no VPD (its node-device XML then has no `<capability type='vpd'>`).
///
/// The rules are listed in the [module documentation](self); [`try_parse`]
/// says why bytes were rejected.
pub fn parse(bytes: &[u8]) -> Option<VpdResource> {
    try_parse(bytes).ok()
}

/// [`parse`], with the reason when libvirt would report no VPD.
pub fn try_parse(bytes: &[u8]) -> Result<VpdResource, VpdError> {
    let mut r = Reader { bytes, csum: 0 };
    let mut res = VpdResource::default();
    let mut pos = 0;
    let mut has_read_only = false;
    let mut has_end = false;
    while pos < ADDR_SPACE {
        let tag_byte = r.read(pos, 1)?[0];
        let (tag, len) = if tag_byte & LARGE != 0 {
            // A large header needs 3 bytes; libvirt gives up rather than read
            // a header that would cross the address space's end.
            if pos > ADDR_SPACE - 3 {
                break;
            }
            let h = r.read(pos + 1, 2)?;
            pos += 3;
            (tag_byte, usize::from(u16::from_le_bytes([h[0], h[1]])))
        } else {
            pos += 1;
            (tag_byte >> 3, usize::from(tag_byte & 7))
        };
        if tag == SMALL_END {
            has_end = true;
            break;
        }
        if len > ADDR_SPACE - pos {
            break;
        }
        match tag {
            TAG_NAME => {
                let data = r.read(pos, len)?;
                res.name = text(data).ok_or(VpdError::InvalidName { offset: pos })?;
            }
            TAG_VPD_R => {
                has_read_only = true;
                fields(&mut r, pos, len, Section::ReadOnly, &mut res)?;
            }
            TAG_VPD_W => fields(&mut r, pos, len, Section::ReadWrite, &mut res)?,
            // Unknown resources are skipped by their length, unread (so their
            // data is not part of the checksum).
            _ => {}
        }
        pos += len;
    }
    if !has_read_only {
        Err(VpdError::NoReadOnly)
    } else if !has_end {
        Err(VpdError::NoEndTag)
    } else {
        Ok(res)
    }
}

/// The data, read as libvirt reads its file descriptor: every byte read is
/// added to the running checksum, and a read past the end fails.
struct Reader<'a> {
    bytes: &'a [u8],
    csum: u8,
}

impl<'a> Reader<'a> {
    fn read(&mut self, offset: usize, count: usize) -> Result<&'a [u8], VpdError> {
        let bytes = self.bytes;
        let data = offset
            .checked_add(count)
            .and_then(|end| bytes.get(offset..end))
            .ok_or(VpdError::Truncated {
                offset,
                needed: count,
                len: bytes.len(),
            })?;
        self.csum = data.iter().fold(self.csum, |s, b| s.wrapping_add(*b));
        Ok(data)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    ReadOnly,
    ReadWrite,
}

/// How libvirt treats a keyword's value (`virPCIVPDResourceGetFieldValueFormat`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Text,
    /// `CP`: accepted but not reported.
    Binary,
    /// `RV`: checksum and reserved.
    Checksum,
    /// `RW`: remaining read-write area.
    Writable,
    /// Skipped by its length.
    Unknown,
}

fn upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn is_vendor_keyword(k: [u8; 2]) -> bool {
    k[0] == b'V' && upper_or_digit(k[1])
}

/// `Y0`..`YZ` except `YA`, the asset tag.
fn is_system_keyword(k: [u8; 2]) -> bool {
    k[0] == b'Y' && upper_or_digit(k[1]) && k != *b"YA"
}

fn format_of(k: [u8; 2]) -> Format {
    if !(upper_or_digit(k[0]) && upper_or_digit(k[1])) {
        return Format::Unknown;
    }
    if is_vendor_keyword(k) || is_system_keyword(k) {
        return Format::Text;
    }
    match &k {
        b"EC" | b"MN" | b"PN" | b"SN" | b"YA" => Format::Text,
        b"CP" => Format::Binary,
        b"RV" => Format::Checksum,
        b"RW" => Format::Writable,
        _ => Format::Unknown,
    }
}

/// libvirt's text rule: a C string (cut at the first NUL), stripped of
/// `g_ascii_isspace` characters at both ends (`trim_ascii` strips the same
/// set: no `\v`), accepted only if every byte is printable ASCII.
fn text(raw: &[u8]) -> Option<String> {
    let c_string = raw.split(|b| *b == 0).next().unwrap_or_default();
    let stripped = c_string.trim_ascii();
    if stripped.iter().all(|b| (0x20..=0x7e).contains(b)) {
        // All ASCII, so this conversion cannot fail.
        String::from_utf8(stripped.to_vec()).ok()
    } else {
        None
    }
}

/// Sets a `Vx`/`Yx` field; an index seen before keeps its position
/// (`virPCIVPDResourceCustomUpsertValue`).
fn upsert(fields: &mut Vec<VpdCustomField>, index: u8, value: String) {
    let index = char::from(index);
    match fields.iter_mut().find(|f| f.index == index) {
        Some(f) => f.value = value,
        None => fields.push(VpdCustomField { index, value }),
    }
}

/// Parses one VPD-R or VPD-W section (`virPCIVPDParseVPDLargeResourceFields`).
fn fields(
    r: &mut Reader<'_>,
    start: usize,
    len: usize,
    section: Section,
    res: &mut VpdResource,
) -> Result<(), VpdError> {
    let end = start + len;
    let mut pos = start;
    // Set when RV (VPD-R) or RW (VPD-W) ended the loop.
    let mut terminated = false;
    // A field header is 3 bytes; a zero-length field is just its header.
    while pos + 3 <= end {
        let field_at = pos;
        let header = r.read(pos, 3)?;
        let keyword = [header[0], header[1]];
        let data_len = usize::from(header[2]);
        pos += 3;
        let format = format_of(keyword);
        let to_read = match (format, section) {
            (Format::Writable, Section::ReadOnly) => {
                return Err(VpdError::MisplacedKeyword {
                    keyword: "RW",
                    offset: field_at,
                })
            }
            (Format::Checksum, Section::ReadWrite) => {
                return Err(VpdError::MisplacedKeyword {
                    keyword: "RV",
                    offset: field_at,
                })
            }
            // Only the checksum byte is read (and summed), even when the
            // field claims zero length.
            (Format::Checksum, _) => 1,
            _ => data_len,
        };
        if pos + data_len > end {
            return Err(VpdError::FieldOverrun { offset: field_at });
        }
        let data = r.read(pos, to_read)?;
        pos += data_len;
        let value = match format {
            Format::Text => match text(data) {
                Some(v) => Some(v),
                // libvirt skips a value it cannot print; the VPD stays valid.
                None => continue,
            },
            Format::Checksum => {
                if r.csum != 0 {
                    return Err(VpdError::BadChecksum { offset: field_at });
                }
                terminated = true;
                break;
            }
            Format::Writable => {
                terminated = true;
                break;
            }
            Format::Unknown => continue,
            Format::Binary => None,
        };
        // libvirt creates the section for any accepted text or binary field,
        // even one it then ignores.
        match section {
            Section::ReadOnly => {
                let ro = res.read_only.get_or_insert_with(Default::default);
                let Some(v) = value else { continue };
                match &keyword {
                    b"EC" => ro.change_level = Some(v),
                    b"MN" => ro.manufacture_id = Some(v),
                    b"PN" => ro.part_number = Some(v),
                    b"SN" => ro.serial_number = Some(v),
                    k if is_vendor_keyword(*k) => upsert(&mut ro.vendor_fields, k[1], v),
                    // YA and Yx in VPD-R: accepted, not reported.
                    _ => {}
                }
            }
            Section::ReadWrite => {
                let rw = res.read_write.get_or_insert_with(Default::default);
                let Some(v) = value else { continue };
                match &keyword {
                    b"YA" => rw.asset_tag = Some(v),
                    k if is_vendor_keyword(*k) => upsert(&mut rw.vendor_fields, k[1], v),
                    k if is_system_keyword(*k) => upsert(&mut rw.system_fields, k[1], v),
                    // EC, MN, PN, SN in VPD-W: accepted, not reported.
                    _ => {}
                }
            }
        }
    }
    let end_reached = pos >= end;
    match section {
        Section::ReadOnly if !(terminated && end_reached) => {
            Err(VpdError::ChecksumNotLast { offset: start })
        }
        // RW is optional, but the fields must fill the section exactly.
        Section::ReadWrite if !end_reached => Err(VpdError::ReadWriteNotLast { offset: start }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds VPD images resource by resource, so the vectors below read like
    /// the PCI spec's layout.
    #[derive(Default)]
    struct Vpd(Vec<u8>);

    /// Field bytes: keyword, length, value.
    fn kv(fields: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in fields {
            out.extend_from_slice(k.as_bytes());
            out.push(u8::try_from(v.len()).unwrap());
            out.extend_from_slice(v);
        }
        out
    }

    fn byte_sum(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0, |s, b| s.wrapping_add(*b))
    }

    impl Vpd {
        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }
        fn large(self, tag: u8, body: &[u8]) -> Self {
            let len = u16::try_from(body.len()).unwrap().to_le_bytes();
            self.raw(&[tag, len[0], len[1]]).raw(body)
        }
        fn name(self, s: &[u8]) -> Self {
            self.large(TAG_NAME, s)
        }
        /// VPD-R with these fields, then `RV` (length 1) holding the checksum
        /// of every byte so far: right whenever all earlier bytes were read.
        fn vpd_r(self, fields: &[(&str, &[u8])]) -> Self {
            let mut body = kv(fields);
            body.extend_from_slice(b"RV\x01");
            let len = u16::try_from(body.len() + 1).unwrap().to_le_bytes();
            let mut me = self.raw(&[TAG_VPD_R, len[0], len[1]]).raw(&body);
            let sum = byte_sum(&me.0);
            me.0.push(sum.wrapping_neg());
            me
        }
        fn vpd_w(self, fields: &[(&str, &[u8])]) -> Self {
            self.large(TAG_VPD_W, &kv(fields))
        }
        fn end(self) -> Vec<u8> {
            self.raw(&[0x78]).0
        }
    }

    fn custom(index: char, value: &str) -> VpdCustomField {
        VpdCustomField {
            index,
            value: value.into(),
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.into())
    }

    // ---- libvirt's own vectors (tests/virpcivpdtest.c, tests/virpcimock.c) ----

    const STRING_RES: &[u8] = b"\x82\x08\x00testname";
    const VPD_R_HEADER: &[u8] = &[0x90, 0x16, 0x00];
    const VPD_R_FIELDS: &[u8] = b"PN\x0242EC\x044242VA\x02EX";
    const VPD_R_VALID_RV: &[u8] = b"RV\x02\x31\x00";
    const VPD_R_INVALID_RV: &[u8] = b"RV\x02\xff\x00";
    const VPD_W_HEADER: &[u8] = &[0x91, 0x19, 0x00];
    const VPD_W_FIELDS: &[u8] = b"VZ\x0242YA\x04ID42YF\x02EXYE\x00RW\x02\x00\x00";

    /// virpcimock's device VPD, also the "Reading VPD bytes" vector.
    fn mock_vpd() -> Vec<u8> {
        Vpd::default()
            .raw(STRING_RES)
            .raw(VPD_R_HEADER)
            .raw(VPD_R_FIELDS)
            .raw(VPD_R_VALID_RV)
            .end()
    }

    /// testVirPCIVPDValidateExampleReadOnlyFields.
    fn example_read_only() -> VpdReadOnly {
        VpdReadOnly {
            change_level: s("4242"),
            part_number: s("42"),
            vendor_fields: vec![custom('A', "EX")],
            ..Default::default()
        }
    }

    #[test]
    fn libvirt_checksum_vector_sums_to_zero() {
        // Every byte up to and including RV's first value byte sums to 0.
        let v = mock_vpd();
        assert_eq!(byte_sum(&v[..v.len() - 2]), 0);
    }

    #[test]
    fn libvirt_mock_device_vpd() {
        let res = parse(&mock_vpd()).unwrap();
        assert_eq!(
            res,
            VpdResource {
                name: "testname".into(),
                read_only: Some(example_read_only()),
                read_write: None,
            }
        );
    }

    #[test]
    fn libvirt_full_vpd() {
        let bytes = Vpd::default()
            .raw(STRING_RES)
            .raw(VPD_R_HEADER)
            .raw(VPD_R_FIELDS)
            .raw(VPD_R_VALID_RV)
            .raw(VPD_W_HEADER)
            .raw(VPD_W_FIELDS)
            .end();
        let res = parse(&bytes).unwrap();
        assert_eq!(res.name, "testname");
        assert_eq!(res.read_only, Some(example_read_only()));
        assert_eq!(
            res.read_write,
            Some(VpdReadWrite {
                asset_tag: s("ID42"),
                vendor_fields: vec![custom('Z', "42")],
                // A zero-length value is the empty string.
                system_fields: vec![custom('F', "EX"), custom('E', "")],
            })
        );
    }

    #[test]
    fn libvirt_zero_length_rw_and_no_rw() {
        let base = || {
            Vpd::default()
                .raw(STRING_RES)
                .raw(VPD_R_HEADER)
                .raw(VPD_R_FIELDS)
                .raw(VPD_R_VALID_RV)
        };
        let expected_rw = Some(VpdReadWrite {
            vendor_fields: vec![custom('Z', "42")],
            ..Default::default()
        });
        let zero_rw = base().raw(&[0x91, 0x08, 0x00]).raw(b"VZ\x0242RW\x00").end();
        let res = parse(&zero_rw).unwrap();
        assert_eq!(res.read_only, Some(example_read_only()));
        assert_eq!(res.read_write, expected_rw);

        let no_rw = base().raw(&[0x91, 0x05, 0x00]).raw(b"VZ\x0242").end();
        let res = parse(&no_rw).unwrap();
        assert_eq!(res.read_only, Some(example_read_only()));
        assert_eq!(res.read_write, expected_rw);
    }

    #[test]
    fn libvirt_skips_invalid_keywords() {
        let bytes = Vpd::default()
            .raw(STRING_RES)
            .raw(&[0x90, 0x25, 0x00])
            .raw(VPD_R_FIELDS)
            // A control character, a non-alphanumeric index, lower case.
            .raw(b"\x07A\x02\x00\x00")
            .raw(b"V\x07\x02\x00\x00")
            .raw(b"ex\x02\x00\x00")
            .raw(b"RV\x02\x9a\x00")
            .end();
        let res = parse(&bytes).unwrap();
        assert_eq!(res.name, "testname");
        assert_eq!(res.read_only, Some(example_read_only()));
        assert_eq!(res.read_write, None);
    }

    #[test]
    fn libvirt_skips_invalid_values_real_world_card() {
        // An HP 361i as programmed by its vendor: "N/A" values, a vendor field
        // with trailing blanks, 0xff-filled system fields, a zero-length RW.
        let bytes = Vpd::default()
            .raw(&[0x82, 0x23, 0x00])
            .raw(b"HP Ethernet 1Gb 2-port 361i Adapter")
            .raw(&[0x90, 0x42, 0x00])
            .raw(b"PN\x03N/AEC\x03N/ASN\x03N/A")
            .raw(b"V0\x294W/1W PCIeG2x4 2p 1GbE RJ45 Intel i350   ")
            .raw(b"RV\x01\x63")
            .raw(&[0x91, 0x47, 0x00])
            .raw(b"V1\x065.7.06V3\x062.8.20V6\x061.5.35YA\x03N/A")
            .raw(b"YB\x10")
            .raw(&[0xff; 16])
            .raw(b"YC\x0d")
            .raw(&[0xff; 13])
            .raw(b"RW\x00")
            .end();
        let res = parse(&bytes).unwrap();
        assert_eq!(
            res,
            VpdResource {
                name: "HP Ethernet 1Gb 2-port 361i Adapter".into(),
                read_only: Some(VpdReadOnly {
                    change_level: s("N/A"),
                    manufacture_id: None,
                    part_number: s("N/A"),
                    serial_number: s("N/A"),
                    vendor_fields: vec![custom('0', "4W/1W PCIeG2x4 2p 1GbE RJ45 Intel i350")],
                }),
                read_write: Some(VpdReadWrite {
                    asset_tag: s("N/A"),
                    vendor_fields: vec![
                        custom('1', "5.7.06"),
                        custom('3', "2.8.20"),
                        custom('6', "1.5.35"),
                    ],
                    system_fields: vec![],
                }),
            }
        );
    }

    #[test]
    fn libvirt_invalid_vectors() {
        let name = || Vpd::default().raw(STRING_RES);
        let cases: Vec<(&str, Vec<u8>, VpdError)> = vec![
            (
                "a single zero byte",
                vec![0x00],
                // Small resource type 0, length 0, then nothing more to read.
                VpdError::Truncated {
                    offset: 1,
                    needed: 1,
                    len: 1,
                },
            ),
            (
                "string header shorter than its data",
                Vpd::default()
                    .raw(&[0x82, 0x0a, 0x00])
                    .raw(b"testname")
                    .raw(&[0x90, 0x05, 0x00])
                    .raw(b"RV\x02\xd4\x00")
                    .end(),
                VpdError::InvalidName { offset: 3 },
            ),
            (
                "string header longer than its data",
                Vpd::default()
                    .raw(&[0x82, 0x04, 0x00])
                    .raw(b"testname")
                    .raw(&[0x90, 0x05, 0x00])
                    .raw(b"RV\x02\xda\x00")
                    .end(),
                // "name" and "RV\x02" are read as small resources, then
                // 0xda as a large tag whose 0x7800-byte body the file lacks.
                VpdError::Truncated {
                    offset: 20 + 0x7800,
                    needed: 1,
                    len: 20,
                },
            ),
            ("no VPD-R", name().end(), VpdError::NoReadOnly),
            (
                "VPD-R without RV",
                name().raw(VPD_R_HEADER).raw(VPD_R_FIELDS).end(),
                // The declared length runs over the end tag into nothing.
                VpdError::Truncated {
                    offset: 31,
                    needed: 3,
                    len: 32,
                },
            ),
            (
                "invalid RV",
                name()
                    .raw(VPD_R_HEADER)
                    .raw(VPD_R_FIELDS)
                    .raw(VPD_R_INVALID_RV)
                    .end(),
                VpdError::BadChecksum { offset: 31 },
            ),
            (
                "zero-length RV",
                name()
                    .raw(&[0x90, 0x14, 0x00])
                    .raw(VPD_R_FIELDS)
                    .raw(b"RV\x00")
                    .end(),
                VpdError::BadChecksum { offset: 31 },
            ),
            (
                "RW in VPD-R",
                name()
                    .raw(&[0x90, 0x1b, 0x00])
                    .raw(VPD_R_FIELDS)
                    .raw(b"RW\x02\x00\x00")
                    .raw(b"RV\x02\x81\x00")
                    .end(),
                VpdError::MisplacedKeyword {
                    keyword: "RW",
                    offset: 31,
                },
            ),
            (
                "control character in the identifier string",
                Vpd::default()
                    .raw(&[0x82, 0x08, 0x00])
                    .raw(b"t\x03stname")
                    .raw(&[0x90, 0x0a, 0x00])
                    .raw(b"SN\x02\x04\x02")
                    .raw(b"RV\x02\x8a\x00")
                    .end(),
                VpdError::InvalidName { offset: 3 },
            ),
            (
                "SN longer than VPD-R",
                name()
                    .raw(&[0x90, 0x0a, 0x00])
                    .raw(b"SN\x42\x04\x02")
                    .raw(b"RV\x02\xe8\x00")
                    .end(),
                VpdError::FieldOverrun { offset: 14 },
            ),
            (
                "RV not last (checksum valid)",
                name()
                    .raw(&[0x90, 0x0a, 0x00])
                    .raw(b"RV\x02\xd1\x00")
                    .raw(b"SN\x02\x04\x02")
                    .end(),
                VpdError::ChecksumNotLast { offset: 14 },
            ),
            (
                "RW not last",
                name()
                    .raw(VPD_R_HEADER)
                    .raw(VPD_R_FIELDS)
                    .raw(VPD_R_VALID_RV)
                    .raw(&[0x91, 0x08, 0x00])
                    .raw(b"RW\x00VZ\x0242")
                    .end(),
                VpdError::ReadWriteNotLast { offset: 39 },
            ),
        ];
        for (what, bytes, err) in cases {
            assert_eq!(try_parse(&bytes), Err(err), "{what}");
            assert_eq!(parse(&bytes), None, "{what}");
        }
    }

    // ---- libvirt's sample node device (tests/nodedevschemadata/pci_0000_42_00_0_vpd.xml) ----

    #[test]
    fn bluefield_sample() {
        let bytes = Vpd::default()
            .name(
                b"BlueField-2 DPU 25GbE Dual-Port SFP56, Crypto Enabled, 16GB on-board DDR, \
                  1GbE OOB management, Tall Bracket",
            )
            .vpd_r(&[
                ("PN", b"MBF2H332A-AEEOT"),
                ("EC", b"B1"),
                ("V2", b"MBF2H332A-AEEOT"),
                ("SN", b"MT2113X00000"),
                ("V3", b"3c53d07eec484d8aab34dabd24fe575aa"),
                ("VA", b"MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:MODL=BF2H332A"),
                ("V0", b"PCIeGen4 x8"),
                ("MN", b"foobar"),
            ])
            .vpd_w(&[
                ("V0", b"vendorfield0"),
                ("YA", b"fooasset"),
                ("V2", b"vendorfield2"),
                ("VA", b"vendorfieldA"),
                ("YB", b"systemfieldB"),
                ("Y0", b"systemfield0"),
                ("RW", &[0; 32]),
            ])
            .end();
        let res = parse(&bytes).unwrap();
        assert_eq!(
            res.name,
            "BlueField-2 DPU 25GbE Dual-Port SFP56, Crypto Enabled, 16GB on-board DDR, \
             1GbE OOB management, Tall Bracket"
        );
        let ro = res.read_only.unwrap();
        assert_eq!(ro.change_level, s("B1"));
        assert_eq!(ro.manufacture_id, s("foobar"));
        assert_eq!(ro.part_number, s("MBF2H332A-AEEOT"));
        assert_eq!(ro.serial_number, s("MT2113X00000"));
        // Fields keep the device's order (libvirt prints them in that order).
        assert_eq!(
            ro.vendor_fields,
            vec![
                custom('2', "MBF2H332A-AEEOT"),
                custom('3', "3c53d07eec484d8aab34dabd24fe575aa"),
                custom('A', "MLX:MN=MLNX:CSKU=V2:UUID=V3:PCI=V0:MODL=BF2H332A"),
                custom('0', "PCIeGen4 x8"),
            ]
        );
        let rw = res.read_write.unwrap();
        assert_eq!(rw.asset_tag, s("fooasset"));
        assert_eq!(
            rw.vendor_fields,
            vec![
                custom('0', "vendorfield0"),
                custom('2', "vendorfield2"),
                custom('A', "vendorfieldA"),
            ]
        );
        assert_eq!(
            rw.system_fields,
            vec![custom('B', "systemfieldB"), custom('0', "systemfield0")]
        );
    }

    // ---- edge cases of libvirt's rules ----

    #[test]
    fn text_is_cut_at_nul_stripped_and_printable_ascii_only() {
        assert_eq!(text(b" \t\n\x0c\r name \r\n"), s("name"));
        assert_eq!(
            text(b"abc\0\x01\xff"),
            s("abc"),
            "bytes after a NUL are ignored"
        );
        assert_eq!(text(b"\0abc"), s(""));
        assert_eq!(text(b""), s(""));
        assert_eq!(text(b"   "), s(""));
        assert_eq!(text(b"a  b"), s("a  b"), "inner blanks stay");
        assert_eq!(
            text(b"<&'\"~!"),
            s("<&'\"~!"),
            "all printable ASCII is accepted"
        );
        // GLib's g_ascii_isspace does not count \v as whitespace.
        assert_eq!(text(b"\x0bname"), None);
        assert_eq!(text(b"a\tb"), None);
        assert_eq!(text(b"caf\xc3\xa9"), None, "non-ASCII is rejected");
        assert_eq!(text(b"del\x7f"), None);
        assert_eq!(text("гbl🐧".as_bytes()), None);
    }

    #[test]
    fn keyword_formats() {
        for (k, f) in [
            ("SN", Format::Text),
            ("EC", Format::Text),
            ("MN", Format::Text),
            ("PN", Format::Text),
            ("VA", Format::Text),
            ("V0", Format::Text),
            ("YA", Format::Text),
            ("YZ", Format::Text),
            ("Y0", Format::Text),
            ("CP", Format::Binary),
            ("RV", Format::Checksum),
            ("RW", Format::Writable),
            ("sn", Format::Unknown),
            ("vA", Format::Unknown),
            ("Va", Format::Unknown),
            ("Ya", Format::Unknown),
            ("42", Format::Unknown),
            ("EX", Format::Unknown),
            ("FG", Format::Unknown),
            ("LC", Format::Unknown),
            ("PG", Format::Unknown),
            ("V\0", Format::Unknown),
        ] {
            let k: [u8; 2] = k.as_bytes().try_into().unwrap();
            assert_eq!(format_of(k), f, "{:?}", k);
        }
    }

    #[test]
    fn identifier_string() {
        let with_name = |n: &[u8]| parse(&Vpd::default().name(n).vpd_r(&[]).end());
        assert_eq!(with_name(b"  card \r\n").unwrap().name, "card");
        assert_eq!(with_name(b"card\0\x01garbage").unwrap().name, "card");
        assert_eq!(with_name(b"").unwrap().name, "");
        assert_eq!(
            with_name(b"\x0bcard"),
            None,
            "a bad name drops the whole VPD"
        );
        assert_eq!(with_name(b"caf\xc3\xa9"), None);
        // No identifier string at all: valid, name left empty.
        let res = parse(&Vpd::default().vpd_r(&[("PN", b"1")]).end()).unwrap();
        assert_eq!(res.name, "");
        assert_eq!(res.read_only.unwrap().part_number, s("1"));
        // The last identifier string wins, wherever it is.
        let res = parse(&Vpd::default().name(b"one").vpd_r(&[]).name(b"two").end()).unwrap();
        assert_eq!(res.name, "two");
    }

    #[test]
    fn when_sections_exist() {
        let ro = |fields: &[(&str, &[u8])]| {
            parse(&Vpd::default().name(b"x").vpd_r(fields).end())
                .unwrap()
                .read_only
        };
        // Only RV, only unknown or rejected fields: no section.
        assert_eq!(ro(&[]), None);
        assert_eq!(ro(&[("ZZ", b"1"), ("FG", b"1"), ("pn", b"1")]), None);
        assert_eq!(ro(&[("PN", b"\x01")]), None);
        // An accepted field libvirt does not report still creates it.
        assert_eq!(ro(&[("CP", b"\x01\x02")]), Some(VpdReadOnly::default()));
        assert_eq!(ro(&[("YA", b"tag")]), Some(VpdReadOnly::default()));
        assert_eq!(ro(&[("Y1", b"sys")]), Some(VpdReadOnly::default()));
        assert_eq!(ro(&[("CP", b"")]), Some(VpdReadOnly::default()));

        let rw = |fields: &[(&str, &[u8])]| {
            parse(&Vpd::default().name(b"x").vpd_r(&[]).vpd_w(fields).end())
                .unwrap()
                .read_write
        };
        assert_eq!(rw(&[]), None);
        assert_eq!(rw(&[("RW", &[0; 4])]), None);
        assert_eq!(rw(&[("YB", &[0xff; 4]), ("RW", b"")]), None);
        assert_eq!(
            rw(&[("PN", b"x"), ("SN", b"y")]),
            Some(VpdReadWrite::default())
        );
        assert_eq!(rw(&[("CP", b"\x00")]), Some(VpdReadWrite::default()));
    }

    #[test]
    fn duplicates() {
        let res = parse(
            &Vpd::default()
                .name(b"x")
                .vpd_r(&[
                    ("PN", b"first"),
                    ("V1", b"a"),
                    ("V2", b"b"),
                    ("PN", b"second"),
                    ("V1", b"c"),
                    // A rejected repeat leaves the earlier value.
                    ("V2", b"\x01"),
                ])
                .vpd_w(&[("YA", b"t1"), ("Y5", b"p"), ("YA", b"t2"), ("Y5", b"q")])
                .end(),
        )
        .unwrap();
        let ro = res.read_only.unwrap();
        assert_eq!(ro.part_number, s("second"));
        assert_eq!(ro.vendor_fields, vec![custom('1', "c"), custom('2', "b")]);
        let rw = res.read_write.unwrap();
        assert_eq!(rw.asset_tag, s("t2"));
        assert_eq!(rw.system_fields, vec![custom('5', "q")]);
    }

    #[test]
    fn several_sections_merge() {
        let res = parse(
            &Vpd::default()
                .name(b"x")
                .vpd_r(&[("PN", b"1"), ("V1", b"a")])
                .vpd_w(&[("YA", b"t")])
                .vpd_r(&[("SN", b"2"), ("V1", b"b"), ("V2", b"c")])
                .vpd_w(&[("V9", b"w")])
                .end(),
        )
        .unwrap();
        let ro = res.read_only.unwrap();
        assert_eq!(ro.part_number, s("1"));
        assert_eq!(ro.serial_number, s("2"));
        assert_eq!(ro.vendor_fields, vec![custom('1', "b"), custom('2', "c")]);
        let rw = res.read_write.unwrap();
        assert_eq!(rw.asset_tag, s("t"));
        assert_eq!(rw.vendor_fields, vec![custom('9', "w")]);
    }

    #[test]
    fn checksum_covers_only_bytes_read() {
        // RV's bytes after the first are not summed: anything may follow.
        let mut bytes = Vpd::default().name(b"x").vpd_r(&[("PN", b"1")]).end();
        let rv_len_at = bytes.len() - 3;
        assert_eq!(&bytes[rv_len_at - 2..rv_len_at], b"RV");
        // Lengthen RV by two garbage bytes (and its section by as much).
        bytes[rv_len_at] = 3;
        bytes.splice(bytes.len() - 1..bytes.len() - 1, [0xaa, 0x55]);
        // The VPD-R header follows the 4 bytes of name "x".
        assert_eq!(bytes[4], 0x90);
        bytes[5] += 2;
        // The two length bytes changed: fix the checksum byte (offset 14).
        bytes[14] = byte_sum(&bytes[..14]).wrapping_neg();
        assert!(parse(&bytes).is_some());
        // Garbage there does not matter; the checksum byte does.
        bytes[15] ^= 0xff;
        assert!(parse(&bytes).is_some());
        bytes[14] ^= 1;
        assert!(parse(&bytes).is_none());

        // Skipped resources are not read: their data does not count. Before
        // VPD-R, a builder checksum over every byte is then wrong...
        let skipped_first = Vpd::default()
            .large(0x84, b"zz")
            .raw(&[0x22, 1, 2]) // small resource type 4, 2 bytes
            .name(b"x")
            .vpd_r(&[])
            .end();
        assert_eq!(
            try_parse(&skipped_first),
            Err(VpdError::BadChecksum { offset: 15 })
        );
        // ...and right once the skipped data bytes are left out of it.
        let mut fixed = skipped_first.clone();
        let n = fixed.len();
        fixed[n - 2] = fixed[n - 2].wrapping_add(byte_sum(b"zz\x01\x02"));
        assert!(parse(&fixed).is_some());
        // After VPD-R, they cannot matter.
        assert!(parse(
            &Vpd::default()
                .name(b"x")
                .vpd_r(&[])
                .large(0x84, b"zz")
                .end()
        )
        .is_some());
        // The running sum goes on across sections: a second VPD-R's RV
        // closes the sum of everything before it.
        assert!(parse(&Vpd::default().vpd_r(&[]).vpd_r(&[]).end()).is_some());
    }

    #[test]
    fn zero_length_rv_sums_the_byte_after_it() {
        // A zero-length RV still reads one byte: the end tag (0x78). Pad with
        // an unknown keyword whose byte makes the total zero.
        let mut bytes = Vpd::default()
            .name(b"x")
            .raw(&[0x90, 0x07, 0x00])
            .raw(b"ZZ\x01\x00")
            .raw(b"RV\x00")
            .end();
        let pad = 4 + 3 + 3;
        assert_eq!(bytes[pad], 0);
        bytes[pad] = byte_sum(&bytes).wrapping_neg();
        assert_eq!(
            parse(&bytes),
            Some(VpdResource {
                name: "x".into(),
                ..Default::default()
            })
        );
        // Without the end tag there is no byte to read.
        assert!(matches!(
            try_parse(&bytes[..bytes.len() - 1]),
            Err(VpdError::Truncated { .. })
        ));
    }

    #[test]
    fn section_boundaries() {
        let head = || Vpd::default().name(b"x").vpd_r(&[]);
        // VPD-W with a 1- or 2-byte tail after its last field.
        for tail in [&b"\0"[..], b"\0\0"] {
            let mut body = kv(&[("YA", b"t")]);
            body.extend_from_slice(tail);
            assert_eq!(
                try_parse(&head().large(TAG_VPD_W, &body).end()),
                Err(VpdError::ReadWriteNotLast { offset: 14 })
            );
        }
        // A zero-length VPD-W or VPD-R section.
        assert_eq!(
            try_parse(&head().large(TAG_VPD_W, b"").end()).map(|r| r.read_write),
            Ok(None)
        );
        assert_eq!(
            try_parse(&Vpd::default().large(TAG_VPD_R, b"").end()),
            Err(VpdError::ChecksumNotLast { offset: 3 })
        );
        // A field overrunning VPD-W.
        assert_eq!(
            try_parse(&head().large(TAG_VPD_W, b"YA\x05ab").end()),
            Err(VpdError::FieldOverrun { offset: 14 })
        );
        // RV in VPD-W.
        assert_eq!(
            try_parse(&head().vpd_w(&[("RV", b"\0")]).end()),
            Err(VpdError::MisplacedKeyword {
                keyword: "RV",
                offset: 14
            })
        );
    }

    #[test]
    fn end_tag_and_what_follows() {
        let body = || Vpd::default().name(b"x").vpd_r(&[("PN", b"p")]);
        // Every small tag of type 0xF ends the walk, whatever its length bits.
        for end in 0x78..=0x7f {
            assert!(parse(&body().raw(&[end]).0).is_some(), "{end:#x}");
        }
        // Anything after the end tag is ignored.
        assert!(parse(&body().raw(&[0x78, 0xff, 0x00, 0x90]).0).is_some());
        // A large tag 0xf8 is no end tag: an unknown resource.
        assert_eq!(
            try_parse(&body().raw(&[0xf8]).0),
            Err(VpdError::Truncated {
                offset: 16,
                needed: 2,
                len: 16
            })
        );
        // Empty data.
        assert_eq!(
            try_parse(&[]),
            Err(VpdError::Truncated {
                offset: 0,
                needed: 1,
                len: 0
            })
        );
        // An unknown small resource before the end tag is skipped.
        assert!(parse(&body().raw(&[0x22, 0xee, 0xee]).end()).is_some());
    }

    #[test]
    fn address_space_limit() {
        // Pad with an unknown large resource so the next tag sits at `at`.
        let at = |at: usize, tail: &[u8]| {
            let v = Vpd::default().name(b"x").vpd_r(&[]);
            let pad = at - v.0.len() - 3;
            v.large(0x84, &vec![0; pad]).raw(tail).0
        };
        // An end tag at the last address is found.
        assert!(parse(&at(0x7fff, &[0x78])).is_some());
        // A large tag at 0x7ffe or 0x7fff stops the walk before its header.
        assert_eq!(
            try_parse(&at(0x7ffe, &[0x84, 0, 0, 0x78])),
            Err(VpdError::NoEndTag)
        );
        assert_eq!(
            try_parse(&at(0x7fff, &[0x84, 0, 0, 0x78])),
            Err(VpdError::NoEndTag)
        );
        // At 0x7ffd it fits, but the end tag after it is out of range.
        assert_eq!(
            try_parse(&at(0x7ffd, &[0x84, 0, 0, 0x78])),
            Err(VpdError::NoEndTag)
        );
        // A resource running past 0x8000 stops the walk.
        assert_eq!(
            try_parse(&Vpd::default().vpd_r(&[]).raw(&[0x84, 0xff, 0xff]).end()),
            Err(VpdError::NoEndTag)
        );
        // Without VPD-R that is reported first.
        assert_eq!(
            try_parse(&[0x84, 0xff, 0xff, 0x78]),
            Err(VpdError::NoReadOnly)
        );
    }

    /// Every field of a parsed resource is what libvirt could print.
    fn check_invariants(res: &VpdResource) {
        let ok = |v: &str| v.bytes().all(|b| (0x20..=0x7e).contains(&b)) && v.trim() == v;
        assert!(ok(&res.name));
        let customs = |fields: &[VpdCustomField]| {
            for (i, f) in fields.iter().enumerate() {
                assert!(f.index.is_ascii_uppercase() || f.index.is_ascii_digit());
                assert!(ok(&f.value));
                assert!(fields[..i].iter().all(|g| g.index != f.index));
            }
        };
        if let Some(ro) = &res.read_only {
            for v in [
                &ro.change_level,
                &ro.manufacture_id,
                &ro.part_number,
                &ro.serial_number,
            ]
            .into_iter()
            .flatten()
            {
                assert!(ok(v));
            }
            customs(&ro.vendor_fields);
        }
        if let Some(rw) = &res.read_write {
            assert!(rw.asset_tag.as_deref().is_none_or(ok));
            customs(&rw.vendor_fields);
            customs(&rw.system_fields);
            assert!(rw.system_fields.iter().all(|f| f.index != 'A'));
        }
    }

    #[test]
    fn never_panics_on_truncated_mutated_or_random_input() {
        let valid = [
            mock_vpd(),
            Vpd::default()
                .name(b"card")
                .vpd_r(&[("PN", b"p"), ("V0", b"v"), ("CP", b"\x01")])
                .vpd_w(&[("YA", b"a"), ("Y1", b"s"), ("RW", &[0; 4])])
                .end(),
        ];
        // Every strict prefix lacks the end tag (or more): never VPD.
        for v in &valid {
            check_invariants(&parse(v).unwrap());
            for cut in 0..v.len() {
                assert_eq!(parse(&v[..cut]), None, "prefix of {cut} bytes");
            }
        }
        // xorshift64: deterministic, no dependency.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            // Random bytes, biased towards VPD-looking tags half the time.
            let len = (next() % 96) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 && !bytes.is_empty() {
                bytes[0] = [0x82, 0x90, 0x91, 0x78][(next() % 4) as usize];
            }
            if let Some(res) = parse(&bytes) {
                check_invariants(&res);
            }
            // Valid images with a few bytes changed, inserted or removed.
            let mut m = valid[round % valid.len()].clone();
            for _ in 0..=(next() % 3) {
                let i = (next() as usize) % m.len();
                match next() % 3 {
                    0 => m[i] = next() as u8,
                    1 => m.insert(i, next() as u8),
                    _ => {
                        m.remove(i);
                    }
                }
                if m.is_empty() {
                    break;
                }
            }
            if let Some(res) = parse(&m) {
                check_invariants(&res);
            }
        }
    }
}
