//! Vendor and device names from the system's `pci.ids`, found exactly as
//! libpciaccess's `pci_get_strings` finds them for libvirt (vendor and device
//! id given, subsystem ids "any"; libvirt's `udevTranslatePCIIds`).
//!
//! # libpciaccess's rules (src/common_device_name.c, `populate_vendor`)
//!
//! * **File.** `PCIIDS_PATH/pci.ids.gz` (through zlib), else `PCIIDS_PATH/pci.ids`.
//!   Debian builds it with `PCIIDS_PATH=/usr/share/misc`, other distributions
//!   with `/usr/share/hwdata`. No file: no names (libvirt then prints
//!   `<product id='0x…'/>`). The gzip variant is not read here (it would need
//!   a decompressor; Debian's `pci.ids` package ships the plain file):
//!   [`PciIds::load`] rejects it with an error instead of misreading it.
//! * **Reading.** `fgets` into a 128-byte buffer: a line longer than 127 bytes
//!   is read as several pieces, each handled as a line of its own (so long
//!   names are cut at 127 bytes of line, and a continuation piece could even
//!   parse as an entry). A piece ends at its newline or a NUL byte.
//! * **Entries.** Up to three leading tabs are counted; the next 4 characters
//!   must be hex digits, else the line is ignored (comments, blank lines, the
//!   class list's `C 02`, `\t00`, `\t\t01` lines: nothing else is special, and
//!   the class list does not end vendor parsing, it just never matches). The
//!   id is `strtoul(…, 16)` of all the hex digits there (so `08086` is 0x8086),
//!   truncated to 32 bits; an id above 0xFFFF matches no device.
//! * **Names** start at a fixed offset: 6 characters after the tabs (4 digits
//!   and, normally, two spaces), whatever those characters are, and run to the
//!   end of the piece, untrimmed: trailing blanks and a CR (of a CRLF file)
//!   stay. A line of only the id has the name `""` (not "no name").
//! * **Vendors** are lines with no tab. A vendor line sets the "current
//!   vendor" for the lines after it (one with an id above 0xFFFF sets one that
//!   matches nothing). The first line for a vendor id gives its name.
//! * **Devices** are one-tab lines under the current vendor; the first one
//!   with the device id, in file order, gives the name (a vendor listed twice
//!   has the devices of both blocks).
//! * **Subsystems** (two or three tabs) only name subsystem matches, which
//!   libvirt never asks for: ignored.
//!
//! # Class names
//!
//! [`PciIds::class_name`] reads the class list at the end of the file (`C 02
//! Network controller`, then `\t00  Ethernet controller` subclass lines) as
//! lspci does for `lspci -nn`: the subclass's name when the file has it, else
//! the class's. libvirt never asks for these; `nodedev groups` and `nodedev
//! preflight` print them.
//!
//! # Cost
//!
//! [`PciIds::parse`] reads the text once and keeps the names as ranges into it
//! plus two sorted indexes (vendors, vendor:device), so a lookup is a binary
//! search. On Debian's 1.3 MB file a release build parses in about 1.5 ms
//! (see `real_file_load_time` in tests/pci_ids.rs).

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::Path;

/// Where the database usually is, in the order it is looked for: Debian's
/// `pci.ids` package (libpciaccess's path on Debian), then `hwdata`'s (other
/// distributions). The gzip variants libpciaccess tries first are not
/// listed, since [`PciIds::load`] does not read them.
pub const DEFAULT_PCI_IDS_PATHS: &[&str] =
    &["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/// libpciaccess's `fgets(buf, 128, f)` reads at most 127 bytes at a time.
const PIECE: usize = 127;

/// A parsed pci.ids database.
#[derive(Clone, Default)]
pub struct PciIds {
    text: String,
    /// Keyed by vendor id; first occurrence in the file only.
    vendors: Vec<Entry>,
    /// Keyed by `vendor << 16 | device`; first occurrence only.
    devices: Vec<Entry>,
    /// Keyed by `class << 8 | subclass` for subclasses and `class << 8 | 0x1_0000`
    /// for a class's own line; first occurrence only.
    classes: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    key: u32,
    name: Range<usize>,
}

impl fmt::Debug for PciIds {
    // The text is a megabyte: show its size, not its content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PciIds")
            .field("bytes", &self.text.len())
            .field("vendors", &self.vendors.len())
            .field("devices", &self.devices.len())
            .finish()
    }
}

impl PciIds {
    /// Parses a database's text. Never fails: lines libpciaccess would ignore
    /// are ignored.
    pub fn parse(text: &str) -> PciIds {
        Self::from_text(text.to_owned())
    }

    /// Reads and parses a file. Bytes that are not UTF-8 are replaced by U+FFFD
    /// (libvirt would copy them through; Debian's file is UTF-8). A
    /// gzip-compressed file is an [`io::ErrorKind::InvalidData`] error.
    ///
    /// The file must be a regular file of at most
    /// [`MAX_PCI_IDS`](crate::files::MAX_PCI_IDS) bytes: a FIFO or a device
    /// (`/dev/zero`) is refused before it is opened ([`crate::files::read_regular`]).
    pub fn load(path: &Path) -> io::Result<PciIds> {
        let bytes = crate::files::read_regular(path, crate::files::MAX_PCI_IDS)?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is gzip-compressed; give the uncompressed pci.ids",
                    path.display()
                ),
            ));
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(Self::from_text(text))
    }

    /// The vendor's name, as libvirt prints it in `<vendor>`.
    pub fn vendor_name(&self, vendor: u16) -> Option<&str> {
        self.lookup(&self.vendors, u32::from(vendor))
    }

    /// The device's name, as libvirt prints it in `<product>`.
    pub fn device_name(&self, vendor: u16, device: u16) -> Option<&str> {
        self.lookup(&self.devices, device_key(vendor, device))
    }

    /// The name lspci gives a class code (`class << 16 | subclass << 8 |
    /// prog-if`): the subclass's (`Ethernet controller`), else the class's
    /// (`Network controller`); `None` when the file names neither.
    pub fn class_name(&self, class: u32) -> Option<&str> {
        let (base, sub) = ((class >> 16) & 0xff, (class >> 8) & 0xff);
        self.lookup(&self.classes, base << 8 | sub)
            .or_else(|| self.lookup(&self.classes, CLASS_ONLY | base << 8))
    }

    fn lookup(&self, index: &[Entry], key: u32) -> Option<&str> {
        let i = index.binary_search_by_key(&key, |e| e.key).ok()?;
        self.text.get(index[i].name.clone())
    }

    fn from_text(text: String) -> PciIds {
        let mut index = Indexer::default();
        // NUL bytes end libpciaccess's lines early; real files have none, so
        // look for them per line only if the text has any.
        let has_nul = text.as_bytes().contains(&0);
        let mut line_start = 0;
        while line_start < text.len() {
            // Line starts follow a newline, so they are char boundaries; `find`
            // is std's memchr.
            let line_end = match text[line_start..].find('\n') {
                Some(nl) => line_start + nl + 1,
                None => text.len(),
            };
            // fgets's pieces: 127 bytes, newline included.
            let mut piece = line_start;
            while piece < line_end {
                let piece_end = line_end.min(piece + PIECE);
                index.piece(&text, piece, piece_end, has_nul);
                piece = piece_end;
            }
            line_start = line_end;
        }
        let Indexer {
            mut vendors,
            mut devices,
            ..
        } = index;
        // Stable sorts: among equal keys the first line of the file stays
        // first, and dedup keeps it.
        vendors.sort_by_key(|e| e.key);
        vendors.dedup_by_key(|e| e.key);
        devices.sort_by_key(|e| e.key);
        devices.dedup_by_key(|e| e.key);
        let mut classes = class_entries(&text);
        classes.sort_by_key(|e| e.key);
        classes.dedup_by_key(|e| e.key);
        PciIds {
            text,
            vendors,
            devices,
            classes,
        }
    }
}

/// The key bit that marks a class's own line in the class index.
const CLASS_ONLY: u32 = 0x1_0000;

/// The class list: `C cc  name` lines and the `\tss  name` subclass lines under
/// them (prog-if lines, with two tabs, are skipped). Any other line that is not
/// a comment or blank ends the current class. Names are trimmed at the end.
fn class_entries(text: &str) -> Vec<Entry> {
    let hex2 = |s: &str| {
        let d = s.get(..2)?;
        let rest = s.get(2..)?;
        (d.bytes().all(|b| b.is_ascii_hexdigit()) && rest.starts_with("  "))
            .then(|| u32::from_str_radix(d, 16).ok())
            .flatten()
    };
    let mut out = Vec::new();
    let mut current: Option<u32> = None;
    let Some(start) = text.find("\nC ").map(|i| i + 1) else {
        return out;
    };
    let mut at = start;
    for line in text[start..].split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let name_at = |offset: usize| {
            let name = body[offset..].trim_end();
            at + offset..at + offset + name.len()
        };
        if let Some(rest) = body.strip_prefix("C ") {
            current = hex2(rest);
            if let Some(c) = current {
                out.push(Entry {
                    key: CLASS_ONLY | c << 8,
                    name: name_at(6),
                });
            }
        } else if let Some(rest) = body.strip_prefix('\t') {
            if let (Some(c), Some(s)) = (current, hex2(rest)) {
                out.push(Entry {
                    key: c << 8 | s,
                    name: name_at(5),
                });
            }
        } else if !body.is_empty() && !body.starts_with('#') {
            current = None;
        }
        at += line.len();
    }
    out
}

/// The state of libpciaccess's read loop.
#[derive(Default)]
struct Indexer {
    /// libpciaccess's `vendor`: None before any vendor line (PCI_MATCH_ANY)
    /// and after one whose id is no 16-bit value.
    current: Option<u16>,
    vendors: Vec<Entry>,
    devices: Vec<Entry>,
}

impl Indexer {
    /// One `fgets` result: `text[start..end]`, ending with its newline if any.
    fn piece(&mut self, text: &str, start: usize, end: usize, has_nul: bool) {
        let piece = &text.as_bytes()[start..end];
        // The C string libpciaccess works on: up to a NUL, newline removed.
        let mut len = piece.len() - usize::from(piece.last() == Some(&b'\n'));
        if has_nul {
            len = piece[..len].iter().position(|b| *b == 0).unwrap_or(len);
        }
        let line = &piece[..len];
        let tabs = line.iter().take(3).take_while(|b| **b == b'\t').count();
        let Some(digits) = line.get(tabs..tabs + 4) else {
            return;
        };
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return;
        }
        let id = u16::try_from(strtoul_hex(&line[tabs..])).ok();
        let name = char_range(text, start + (tabs + 6).min(len), start + len);
        match tabs {
            0 => {
                self.current = id;
                if let Some(v) = id {
                    self.vendors.push(Entry {
                        key: u32::from(v),
                        name,
                    });
                }
            }
            1 => {
                if let (Some(v), Some(d)) = (self.current, id) {
                    self.devices.push(Entry {
                        key: device_key(v, d),
                        name,
                    });
                }
            }
            _ => {}
        }
    }
}

fn device_key(vendor: u16, device: u16) -> u32 {
    u32::from(vendor) << 16 | u32::from(device)
}

/// `(unsigned) strtoul(s, NULL, 16)` for `s` starting with a hex digit: the
/// value of the leading hex digits, saturated at `ULONG_MAX` (64-bit), then
/// truncated to 32 bits.
fn strtoul_hex(s: &[u8]) -> u32 {
    let value = s
        .iter()
        .map_while(|b| char::from(*b).to_digit(16))
        .try_fold(0u64, |v, d| v.checked_mul(16)?.checked_add(u64::from(d)))
        .unwrap_or(u64::MAX);
    value as u32
}

/// `start..end` narrowed to `char` boundaries: a 127-byte piece can end (and
/// the fixed name offset can fall) inside a multi-byte character, where
/// libvirt would copy the partial bytes and a `&str` cannot.
fn char_range(text: &str, mut start: usize, mut end: usize) -> Range<usize> {
    while !text.is_char_boundary(start) {
        start += 1;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# List of PCI ID's
#
# Syntax:
# vendor  vendor_name
#\tdevice  device_name\t\t\t\t<-- single tab
#\t\tsubvendor subdevice  subsystem_name\t<-- two tabs

0001  SafeNet (wrong ID)
0010  Allied Telesis, Inc (Wrong ID)
# This is a relabelled RTL-8139
\t8139  AT-2500TX V3 Ethernet
8086  Intel Corporation
\t10d3  82574L Gigabit Network Connection
\t\t8086 a01f  Gigabit CT Desktop Adapter
\t\t10d3 10d3  Subsystem that must not name device 10d3
\t10ca  82576 Virtual Function
1af4  Red Hat, Inc.
\t1000  Virtio network device
\t1041  Virtio 1.0 network device
ffff  Illegal Vendor ID

# List of known device classes, subclasses and programming interfaces

# Syntax:
# C class\tclass_name
#\tsubclass\tsubclass_name  \t\t<-- single tab
#\t\tprog-if  prog-if_name  \t<-- two tabs

C 00  Unclassified device
\t00  Non-VGA unclassified device
\t01  VGA compatible unclassified device
\t\t00  UHCI
C 02  Network controller
\t00  Ethernet controller
";

    #[test]
    fn vendors_devices_and_comments() {
        let db = PciIds::parse(SAMPLE);
        assert_eq!(db.vendor_name(0x8086), Some("Intel Corporation"));
        assert_eq!(
            db.device_name(0x8086, 0x10d3),
            Some("82574L Gigabit Network Connection")
        );
        assert_eq!(
            db.device_name(0x8086, 0x10ca),
            Some("82576 Virtual Function")
        );
        assert_eq!(db.vendor_name(0x1af4), Some("Red Hat, Inc."));
        assert_eq!(
            db.device_name(0x1af4, 0x1041),
            Some("Virtio 1.0 network device")
        );
        assert_eq!(
            db.vendor_name(0x0010),
            Some("Allied Telesis, Inc (Wrong ID)")
        );
        // A comment between a vendor and its devices changes nothing.
        assert_eq!(
            db.device_name(0x0010, 0x8139),
            Some("AT-2500TX V3 Ethernet")
        );
        assert_eq!(db.vendor_name(0xffff), Some("Illegal Vendor ID"));
        // Unknown ids, and a device under the wrong vendor.
        assert_eq!(db.vendor_name(0x1234), None);
        assert_eq!(db.device_name(0x8086, 0x1000), None);
        assert_eq!(db.device_name(0x1234, 0x10d3), None);
    }

    #[test]
    fn subsystem_lines_are_not_devices() {
        let db = PciIds::parse(SAMPLE);
        assert_eq!(db.device_name(0x8086, 0xa01f), None);
        assert_eq!(
            db.device_name(0x8086, 0x10d3),
            Some("82574L Gigabit Network Connection")
        );
    }

    #[test]
    fn class_names_as_lspci_gives_them() {
        let db = PciIds::parse(SAMPLE);
        assert_eq!(db.class_name(0x020000), Some("Ethernet controller"));
        // An unknown subclass falls back to the class; prog-if lines are no subclass.
        assert_eq!(db.class_name(0x028000), Some("Network controller"));
        assert_eq!(
            db.class_name(0x000100),
            Some("VGA compatible unclassified device")
        );
        assert_eq!(db.class_name(0x000000), Some("Non-VGA unclassified device"));
        assert_eq!(db.class_name(0x030000), None);
        // A vendor after the class list ends it; its devices are no subclasses.
        let db = PciIds::parse(&format!(
            "{SAMPLE}abcd  Late Vendor\n\t01  Not a subclass\n"
        ));
        assert_eq!(db.class_name(0x020100), Some("Network controller"));
        assert_eq!(PciIds::parse("8086  Intel\n").class_name(0x020000), None);
    }

    #[test]
    fn class_list_is_inert() {
        let db = PciIds::parse(SAMPLE);
        // "C 00" is no vendor 0x000c or similar; class and prog-if lines are
        // not devices of the last vendor (ffff).
        for id in [0x0000, 0x0001, 0x0002, 0x000c] {
            assert_eq!(db.device_name(0xffff, id), None);
        }
        assert_eq!(db.vendor_name(0x0c00), None);
        // libpciaccess does not stop there: a vendor after the class list counts.
        let db = PciIds::parse(&format!("{SAMPLE}abcd  Late Vendor\n\tef01  Late Device\n"));
        assert_eq!(db.vendor_name(0xabcd), Some("Late Vendor"));
        assert_eq!(db.device_name(0xabcd, 0xef01), Some("Late Device"));
    }

    #[test]
    fn names_are_taken_at_a_fixed_offset_untrimmed() {
        let db = PciIds::parse(
            "1111  Trailing blanks  \t\n\
             \t2222  Device, trailing blank \n\
             3333 One space\n\
             4444\n\
             5555 \n\
             6666  \n\
             7777\tTab-separated\n\
             8888    Four spaces\n\
             9999  CRLF vendor\r\n\
             \tabcd  CRLF device\r\n",
        );
        assert_eq!(db.vendor_name(0x1111), Some("Trailing blanks  \t"));
        assert_eq!(
            db.device_name(0x1111, 0x2222),
            Some("Device, trailing blank ")
        );
        // Six characters after the id's start, whatever they are.
        assert_eq!(db.vendor_name(0x3333), Some("ne space"));
        assert_eq!(db.vendor_name(0x7777), Some("ab-separated"));
        assert_eq!(db.vendor_name(0x8888), Some("  Four spaces"));
        // Only the id: an empty name, not no name.
        assert_eq!(db.vendor_name(0x4444), Some(""));
        assert_eq!(db.vendor_name(0x5555), Some(""));
        assert_eq!(db.vendor_name(0x6666), Some(""));
        // CR stays (libpciaccess only removes the newline).
        assert_eq!(db.vendor_name(0x9999), Some("CRLF vendor\r"));
        assert_eq!(db.device_name(0x9999, 0xabcd), Some("CRLF device\r"));
    }

    #[test]
    fn ids_are_strtoul_values() {
        let db = PciIds::parse(
            "ABCD  Upper case\n\
             \tEF01  Upper device\n\
             01234  Five digits, value 0x1234\n\
             \t00042  Five digits device\n\
             12345  Too big: matches nothing\n\
             \t0001  Under a vendor that matches nothing\n\
             100001111  Truncated to 32 bits: 0x1111\n\
             \t2222  Device of 0x1111\n\
             123\n\
             \t12g4  Not hex\n\
             g123  Not hex\n",
        );
        assert_eq!(db.vendor_name(0xabcd), Some("Upper case"));
        assert_eq!(db.device_name(0xabcd, 0xef01), Some("Upper device"));
        // The name still starts 6 characters after the id's first digit.
        assert_eq!(db.vendor_name(0x1234), Some(" Five digits, value 0x1234"));
        assert_eq!(db.device_name(0x1234, 0x0042), Some(" Five digits device"));
        assert_eq!(db.device_name(0x2345, 0x0001), None);
        assert_eq!(db.device_name(0x1234, 0x0001), None);
        assert_eq!(
            db.vendor_name(0x1111),
            Some("111  Truncated to 32 bits: 0x1111")
        );
        assert_eq!(db.device_name(0x1111, 0x2222), Some("Device of 0x1111"));
        assert_eq!(db.vendor_name(0x0123), None);
    }

    #[test]
    fn first_occurrence_wins_and_repeated_vendor_blocks_merge() {
        let db = PciIds::parse(
            "1000  First\n\
             \t0001  Device one\n\
             \t0001  Device one again\n\
             2000  Other\n\
             1000  Second\n\
             \t0002  Device two\n\
             \t0001  Device one, third\n",
        );
        assert_eq!(db.vendor_name(0x1000), Some("First"));
        assert_eq!(db.device_name(0x1000, 0x0001), Some("Device one"));
        assert_eq!(db.device_name(0x1000, 0x0002), Some("Device two"));
        assert_eq!(db.device_name(0x2000, 0x0002), None);
    }

    #[test]
    fn devices_before_any_vendor_and_odd_tabs() {
        let db = PciIds::parse(
            "\t0001  Orphan device\n\
             1000  Vendor\n\
             \t\t\t0002  Three tabs: a subsystem-like line\n\
             \t\t\t\t0003  Four tabs: ignored\n\
             \t \t0004  Tab, space: ignored\n\
             \t0005  Device\n",
        );
        assert_eq!(db.device_name(0x1000, 0x0001), None);
        assert_eq!(db.device_name(0x1000, 0x0002), None);
        assert_eq!(db.device_name(0x1000, 0x0003), None);
        assert_eq!(db.device_name(0x1000, 0x0004), None);
        assert_eq!(db.device_name(0x1000, 0x0005), Some("Device"));
    }

    #[test]
    fn long_lines_are_read_in_127_byte_pieces() {
        let long = "x".repeat(200);
        // A comment whose first 127 bytes end just before "2000  Hidden".
        let mut comment = String::from("# A long comment, then a piece that looks like a vendor:");
        comment.push_str(&" ".repeat(127 - comment.len()));
        let text = format!(
            "1000  {long}\n\
             \t0001  {long}\n\
             {comment}2000  Hidden\n\
             \t0002  Device of the hidden vendor\n",
        );
        let db = PciIds::parse(&text);
        // 127 bytes of line: 6 for the id and blanks, 121 of name.
        assert_eq!(db.vendor_name(0x1000), Some(&long[..121]));
        assert_eq!(db.device_name(0x1000, 0x0001), Some(&long[..120]));
        assert_eq!(db.vendor_name(0x2000), Some("Hidden"));
        assert_eq!(
            db.device_name(0x2000, 0x0002),
            Some("Device of the hidden vendor")
        );
        assert_eq!(db.device_name(0x1000, 0x0002), None);

        // A piece ending inside a multi-byte character: the name is cut before it.
        let text = format!("1000  {}é\n", "x".repeat(120));
        let db = PciIds::parse(&text);
        assert_eq!(db.vendor_name(0x1000), Some("x".repeat(120).as_str()));
        assert_eq!(
            PciIds::parse("1000  Gesellschaft für Systemautomation\n").vendor_name(0x1000),
            Some("Gesellschaft für Systemautomation")
        );
    }

    #[test]
    fn nul_ends_a_line() {
        let db = PciIds::parse("1000  Name\0ignored\n\t0001  Dev\0\n\t0\x0002  No\n");
        assert_eq!(db.vendor_name(0x1000), Some("Name"));
        assert_eq!(db.device_name(0x1000, 0x0001), Some("Dev"));
        assert_eq!(db.device_name(0x1000, 0x0002), None);
    }

    #[test]
    fn empty_and_garbage_input() {
        for text in ["", "\n", "\t", "1", "1234", "\u{fffd}\u{fffd}", "é1234  x"] {
            let db = PciIds::parse(text);
            assert_eq!(
                db.vendor_name(0x1234),
                if text == "1234" { Some("") } else { None }
            );
        }
        // Pseudo-random text never panics.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            let s: String = (0..(state % 300))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ['\t', '\n', ' ', '0', 'a', 'F', 'é', '\0', '\r', '#'][(state % 10) as usize]
                })
                .collect();
            let db = PciIds::parse(&s);
            let _ = (db.vendor_name(0x0a0f), db.device_name(0x0000, 0xaaaa));
        }
    }

    #[test]
    fn load_rejects_gzip_and_reads_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("pci.ids.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
        let err = PciIds::load(&gz).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("gzip"), "{err}");

        let latin1 = dir.path().join("pci.ids");
        std::fs::write(&latin1, b"1000  Gesellschaft f\xfcr X\n\t0001  Dev\n").unwrap();
        let db = PciIds::load(&latin1).unwrap();
        assert_eq!(db.vendor_name(0x1000), Some("Gesellschaft f\u{fffd}r X"));
        assert_eq!(db.device_name(0x1000, 0x0001), Some("Dev"));

        let missing = PciIds::load(&dir.path().join("nope")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn load_refuses_devices_fifos_and_huge_files() {
        // /dev/zero would be read until memory ran out; a FIFO would block for ever.
        let err = PciIds::load(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        crate::files::mkfifo(&fifo);
        let err = PciIds::load(&fifo).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(crate::files::MAX_PCI_IDS + 1)
            .unwrap();
        let err = PciIds::load(&big).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("16 MiB"), "{err}");
    }
}
