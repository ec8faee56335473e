//! The pci.ids reader.

use std::collections::HashMap;

use hostdev_manager::pci_ids::PciIds;

use crate::gen::Source;
use crate::Outcome;

/// libpciaccess's rules (hostdev_manager::pci_ids's module documentation) read
/// the plain way: line by line, each line in 127-byte `fgets` pieces, first
/// entry wins, in hash maps. The parser under test indexes and sorts instead;
/// both must agree on every lookup.
struct Oracle {
    vendors: HashMap<u16, String>,
    devices: HashMap<(u16, u16), String>,
}

/// Narrowed to character boundaries, as a `&str` must be.
fn on_chars(text: &str, mut start: usize, mut end: usize) -> &str {
    while !text.is_char_boundary(start) {
        start += 1;
    }
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end.max(start)]
}

impl Oracle {
    fn read(text: &str) -> Oracle {
        let mut o = Oracle {
            vendors: HashMap::new(),
            devices: HashMap::new(),
        };
        let mut current: Option<u16> = None;
        let bytes = text.as_bytes();
        let mut line_start = 0;
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' || i + 1 == bytes.len() {
                let line_end = i + 1;
                let mut piece = line_start;
                while piece < line_end {
                    let end = line_end.min(piece + 127);
                    o.piece(text, piece, end, &mut current);
                    piece = end;
                }
                line_start = line_end;
            }
        }
        o
    }

    fn piece(&mut self, text: &str, start: usize, end: usize, current: &mut Option<u16>) {
        let raw = &text.as_bytes()[start..end];
        let mut len = raw.len();
        if raw.last() == Some(&b'\n') {
            len -= 1;
        }
        if let Some(nul) = raw[..len].iter().position(|b| *b == 0) {
            len = nul;
        }
        let line = &raw[..len];
        let tabs = line.iter().take(3).take_while(|b| **b == b'\t').count();
        if line.len() < tabs + 4 || !line[tabs..tabs + 4].iter().all(u8::is_ascii_hexdigit) {
            return;
        }
        let mut value: u64 = 0;
        let mut saturated = false;
        for d in line[tabs..]
            .iter()
            .map_while(|b| char::from(*b).to_digit(16))
        {
            match value
                .checked_mul(16)
                .and_then(|v| v.checked_add(u64::from(d)))
            {
                Some(v) => value = v,
                None => saturated = true,
            }
        }
        let id = u16::try_from(if saturated { u64::MAX } else { value } as u32).ok();
        let name = on_chars(text, start + (tabs + 6).min(len), start + len).to_string();
        match tabs {
            0 => {
                *current = id;
                if let Some(v) = id {
                    self.vendors.entry(v).or_insert(name);
                }
            }
            1 => {
                if let (Some(v), Some(d)) = (*current, id) {
                    self.devices.entry((v, d)).or_insert(name);
                }
            }
            _ => {}
        }
    }
}

fn check_name(name: Option<&str>) {
    if let Some(n) = name {
        assert!(n.len() <= 127 && !n.contains(['\n', '\0']), "{n:?}");
    }
}

/// `PciIds::parse` on the bytes (as text, invalid UTF-8 replaced as `load`
/// does): every vendor and device the oracle finds is found with the same name,
/// and ids it does not know (probed from the bytes) are unknown; names are at
/// most 127 bytes and hold no newline or NUL.
pub fn pci_ids(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let db = PciIds::parse(&text);
    let oracle = Oracle::read(&text);
    for (v, name) in &oracle.vendors {
        assert_eq!(db.vendor_name(*v), Some(name.as_str()), "vendor {v:04x}");
        check_name(Some(name));
    }
    for ((v, d), name) in &oracle.devices {
        assert_eq!(
            db.device_name(*v, *d),
            Some(name.as_str()),
            "device {v:04x}:{d:04x}"
        );
        check_name(Some(name));
    }
    let mut src = Source::new(data);
    for _ in 0..16 {
        let (v, d) = (src.u32() as u16, src.u32() as u16);
        let vendor = db.vendor_name(v);
        assert_eq!(vendor, oracle.vendors.get(&v).map(String::as_str));
        check_name(vendor);
        let device = db.device_name(v, d);
        assert_eq!(device, oracle.devices.get(&(v, d)).map(String::as_str));
        check_name(device);
    }
    if oracle.vendors.is_empty() {
        Outcome::Rejected
    } else {
        Outcome::Accepted
    }
}
