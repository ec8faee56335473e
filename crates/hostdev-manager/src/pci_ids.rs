//! Vendor and device names from the system's `pci.ids`, looked up as libpciaccess's
//! `pci_get_strings` does for libvirt (vendor and device id; subsystem ids ANY).
//!
//! The file is indexed once (one pass over vendor lines), and a vendor's device
//! lines are scanned only when a name is asked for, so loading the 1.3 MB
//! database costs a millisecond or two.

use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::path::Path;

/// Where Debian (package `pci.ids`) and other distributions (`hwdata`) keep it, in
/// the order they are tried.
pub const DEFAULT_PCI_IDS_PATHS: &[&str] =
    &["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/// A parsed pci.ids database.
#[derive(Debug, Clone, Default)]
pub struct PciIds {
    text: String,
    /// vendor id → (name, byte range of its device lines).
    vendors: HashMap<u16, (Range<usize>, Range<usize>)>,
}

/// `XXXX` at the start of `s`, followed by whitespace: the id and where the name starts.
fn id_and_name(s: &str) -> Option<(u16, usize)> {
    let id = s.get(..4)?;
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = &s[4..];
    let name_start = 4 + (rest.len() - rest.trim_start_matches([' ', '\t']).len());
    if name_start == 4 {
        return None;
    }
    Some((u16::from_str_radix(id, 16).ok()?, name_start))
}

impl PciIds {
    /// Indexes a database's text. Malformed lines are ignored, as libpciaccess does.
    pub fn parse(text: impl Into<String>) -> Self {
        let text = text.into();
        let mut vendors = HashMap::new();
        let mut current: Option<(u16, Range<usize>, usize)> = None;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let body = line.trim_end_matches(['\n', '\r']);
            if body.starts_with('\t') || body.starts_with('#') || body.is_empty() {
                continue;
            }
            // A new top-level line ends the current vendor's device block.
            if let Some((id, name, block_start)) = current.take() {
                vendors.entry(id).or_insert((name, block_start..start));
            }
            // Lines like "C 02  Network controller" start the class list: not vendors.
            if let Some((id, name_at)) = id_and_name(body) {
                current = Some((id, start + name_at..start + body.len(), offset));
            }
        }
        if let Some((id, name, block_start)) = current {
            vendors.entry(id).or_insert((name, block_start..text.len()));
        }
        Self { text, vendors }
    }

    /// Reads and indexes a file.
    pub fn load(path: &Path) -> io::Result<Self> {
        let bytes = std::fs::read(path)?;
        Ok(Self::parse(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// The vendor's name.
    pub fn vendor_name(&self, vendor: u16) -> Option<&str> {
        self.vendors
            .get(&vendor)
            .map(|(name, _)| &self.text[name.clone()])
    }

    /// The device's name (the line under its vendor with one tab).
    pub fn device_name(&self, vendor: u16, device: u16) -> Option<&str> {
        let (_, block) = self.vendors.get(&vendor)?;
        let mut offset = block.start;
        for line in self.text[block.clone()].split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            let body = line.trim_end_matches(['\n', '\r']);
            let Some(rest) = body.strip_prefix('\t') else {
                continue;
            };
            if rest.starts_with('\t') {
                continue; // a subsystem line
            }
            if let Some((id, name_at)) = id_and_name(rest) {
                if id == device {
                    return Some(&self.text[start + 1 + name_at..start + body.len()]);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\n\
#\tcomment with a tab\n\
0001  SafeNet (wrong ID)\n\
8086  Intel Corporation\n\
\t10d3  82574L Gigabit Network Connection\n\
\t\t8086 a01f  Gigabit CT Desktop Adapter\n\
\t10ca  82576 Virtual Function\n\
1af4  Red Hat, Inc.\r\n\
\t1000  Virtio network device\r\n\
\n\
C 02  Network controller\n\
\t00  Ethernet controller\n";

    #[test]
    fn looks_up_vendors_and_devices() {
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
            db.device_name(0x1af4, 0x1000),
            Some("Virtio network device")
        );
        assert_eq!(
            db.device_name(0x8086, 0xa01f),
            None,
            "subsystem lines are not devices"
        );
        assert_eq!(db.device_name(0x0001, 0x10d3), None);
        assert_eq!(db.vendor_name(0xffff), None);
        // The class list is not mistaken for vendor 0x0002 or similar.
        assert_eq!(db.device_name(0x1af4, 0x0000), None);
    }

    #[test]
    fn system_database() {
        let Some(path) = DEFAULT_PCI_IDS_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
        else {
            panic!("no pci.ids: install Debian's pci.ids package (tests/run does)");
        };
        let db = PciIds::load(path).unwrap();
        assert_eq!(db.vendor_name(0x8086), Some("Intel Corporation"));
        assert_eq!(
            db.device_name(0x8086, 0x10d3),
            Some("82574L Gigabit Network Connection")
        );
        assert_eq!(db.vendor_name(0x1b36), Some("Red Hat, Inc."));
        assert_eq!(
            db.device_name(0x1af4, 0x1041),
            Some("Virtio 1.0 network device")
        );
    }
}
