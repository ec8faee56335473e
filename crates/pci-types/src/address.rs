//! [`PciAddress`]: one PCI function's address, parsed once and printed in every form.

use std::fmt;
use std::str::FromStr;

/// The address of one PCI function: domain (segment), bus, slot (device) and function.
///
/// The domain is a `u32` because VMD and some multi-segment hosts use domains above
/// `0xffff` (libvirt also keeps it as `unsigned int`). Construction checks the ranges
/// the PCI specification allows (slot ≤ 0x1f, function ≤ 7), so every value of this
/// type names a function that can exist.
///
/// Accepted spellings ([`FromStr`]):
///
/// | form | example | notes |
/// |---|---|---|
/// | node-device name | `pci_0000_07_10_1` | libvirt's name; lowercase hex only, as libvirt generates it |
/// | sysfs name (BDF with domain) | `0000:07:10.1` | 4–8 hex digits of domain, either case |
/// | short BDF | `07:10.1` | domain 0, as `lspci` prints it |
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PciAddress {
    domain: u32,
    bus: u8,
    slot: u8,
    function: u8,
}

/// Why a string is not a PCI address. The message names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The string matches none of the accepted spellings.
    #[error("'{input}' is not a PCI address (expected pci_DDDD_BB_SS_F, DDDD:BB:SS.F or BB:SS.F)")]
    Syntax {
        /// The rejected input, with control characters escaped.
        input: String,
    },
    /// The slot is above 0x1f.
    #[error("'{input}': slot 0x{slot:02x} is out of range (at most 0x1f)")]
    SlotRange {
        /// The rejected input.
        input: String,
        /// The slot that was given.
        slot: u8,
    },
    /// The function is above 7.
    #[error("'{input}': function {function} is out of range (at most 7)")]
    FunctionRange {
        /// The rejected input.
        input: String,
        /// The function that was given.
        function: u8,
    },
}

/// The largest slot number a PCI bus has.
pub const MAX_SLOT: u8 = 0x1f;
/// The largest function number a PCI slot has.
pub const MAX_FUNCTION: u8 = 7;

impl PciAddress {
    /// Builds an address, checking the slot and function ranges.
    pub fn new(domain: u32, bus: u8, slot: u8, function: u8) -> Result<Self, AddressError> {
        let input = || format!("{domain:04x}:{bus:02x}:{slot:02x}.{function}");
        if slot > MAX_SLOT {
            return Err(AddressError::SlotRange {
                input: input(),
                slot,
            });
        }
        if function > MAX_FUNCTION {
            return Err(AddressError::FunctionRange {
                input: input(),
                function,
            });
        }
        Ok(Self {
            domain,
            bus,
            slot,
            function,
        })
    }

    /// The PCI domain (segment).
    pub fn domain(&self) -> u32 {
        self.domain
    }
    /// The bus number.
    pub fn bus(&self) -> u8 {
        self.bus
    }
    /// The slot (device) number, 0..=0x1f.
    pub fn slot(&self) -> u8 {
        self.slot
    }
    /// The function number, 0..=7.
    pub fn function(&self) -> u8 {
        self.function
    }

    /// libvirt's node-device name: `pci_0000_07_10_1`.
    pub fn nodedev_name(&self) -> String {
        format!(
            "pci_{:04x}_{:02x}_{:02x}_{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }

    /// The kernel's sysfs name, `0000:07:10.1` (the same as [`Display`](fmt::Display)).
    pub fn sysfs_name(&self) -> String {
        self.to_string()
    }

    /// The short form `lspci` prints for domain 0: `07:10.1` (the full form otherwise).
    pub fn short_name(&self) -> String {
        if self.domain == 0 {
            format!("{:02x}:{:02x}.{:x}", self.bus, self.slot, self.function)
        } else {
            self.to_string()
        }
    }

    /// The attributes of libvirt's `<address/>` element:
    /// `domain='0x0000' bus='0x07' slot='0x10' function='0x1'`.
    pub fn xml_attributes(&self) -> String {
        format!(
            "domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'",
            self.domain, self.bus, self.slot, self.function
        )
    }

    /// Parses the kernel's sysfs name (`0000:07:10.1`) only: the form directory
    /// entries under `/sys/bus/pci/devices` have. Rejects the other spellings.
    pub fn from_sysfs_name(s: &str) -> Result<Self, AddressError> {
        parse_bdf(s, s, true)
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

impl FromStr for PciAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("pci_") {
            return parse_nodedev_name(s, rest);
        }
        parse_bdf(s, s, false)
    }
}

/// A printable copy of rejected input for messages: control characters escaped,
/// and very long input shortened so an error never floods a terminal.
fn quoted(input: &str) -> String {
    const LIMIT: usize = 64;
    let mut out: String = input
        .chars()
        .take(LIMIT)
        .flat_map(char::escape_debug)
        .collect();
    if input.chars().count() > LIMIT {
        out.push('…');
    }
    out
}

fn syntax(input: &str) -> AddressError {
    AddressError::Syntax {
        input: quoted(input),
    }
}

/// Parses exactly `len_range` hex digits of `field`; `lower_only` demands lowercase.
fn hex_field(field: &str, lens: std::ops::RangeInclusive<usize>, lower_only: bool) -> Option<u32> {
    if !lens.contains(&field.len()) {
        return None;
    }
    let ok = field.bytes().all(|b| {
        b.is_ascii_digit()
            || (b'a'..=b'f').contains(&b)
            || (!lower_only && (b'A'..=b'F').contains(&b))
    });
    if !ok {
        return None;
    }
    u32::from_str_radix(field, 16).ok()
}

fn checked(
    input: &str,
    domain: u32,
    bus: u32,
    slot: u32,
    function: u32,
) -> Result<PciAddress, AddressError> {
    let bus = u8::try_from(bus).map_err(|_| syntax(input))?;
    let slot = u8::try_from(slot).map_err(|_| syntax(input))?;
    let function = u8::try_from(function).map_err(|_| syntax(input))?;
    if slot > MAX_SLOT {
        return Err(AddressError::SlotRange {
            input: quoted(input),
            slot,
        });
    }
    if function > MAX_FUNCTION {
        return Err(AddressError::FunctionRange {
            input: quoted(input),
            function,
        });
    }
    Ok(PciAddress {
        domain,
        bus,
        slot,
        function,
    })
}

/// `pci_DDDD_BB_SS_F` (the `pci_` prefix already removed).
fn parse_nodedev_name(input: &str, rest: &str) -> Result<PciAddress, AddressError> {
    let mut parts = rest.split('_');
    let (Some(d), Some(b), Some(s), Some(f), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(syntax(input));
    };
    let field = |v: &str, lens| hex_field(v, lens, true).ok_or_else(|| syntax(input));
    checked(
        input,
        field(d, 4..=8)?,
        field(b, 2..=2)?,
        field(s, 2..=2)?,
        field(f, 1..=1)?,
    )
}

/// `DDDD:BB:SS.F`, or `BB:SS.F` unless `require_domain`.
fn parse_bdf(input: &str, s: &str, require_domain: bool) -> Result<PciAddress, AddressError> {
    let (head, f) = s.rsplit_once('.').ok_or_else(|| syntax(input))?;
    let fields: Vec<&str> = head.split(':').collect();
    let (d, b, sl) = match fields.as_slice() {
        [d, b, sl] => (Some(*d), *b, *sl),
        [b, sl] if !require_domain => (None, *b, *sl),
        _ => return Err(syntax(input)),
    };
    let field = |v: &str, lens| hex_field(v, lens, false).ok_or_else(|| syntax(input));
    let domain = match d {
        Some(d) => field(d, 4..=8)?,
        None => 0,
    };
    checked(
        input,
        domain,
        field(b, 2..=2)?,
        field(sl, 2..=2)?,
        field(f, 1..=1)?,
    )
}

impl serde::Serialize for PciAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PciAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(d: u32, b: u8, s: u8, f: u8) -> PciAddress {
        PciAddress::new(d, b, s, f).unwrap()
    }

    #[test]
    fn parses_every_accepted_spelling() {
        let want = addr(0, 7, 0x10, 1);
        for s in [
            "pci_0000_07_10_1",
            "0000:07:10.1",
            "07:10.1",
            "0000:07:10.1",
            "0000:07:10.1",
        ] {
            assert_eq!(s.parse::<PciAddress>().unwrap(), want, "{s}");
        }
        assert_eq!(
            "0000:0A:1F.7".parse::<PciAddress>().unwrap(),
            addr(0, 0xa, 0x1f, 7)
        );
        assert_eq!(
            "10000:e1:00.3".parse::<PciAddress>().unwrap(),
            addr(0x10000, 0xe1, 0, 3)
        );
        assert_eq!(
            "pci_10000_e1_00_3".parse::<PciAddress>().unwrap(),
            addr(0x10000, 0xe1, 0, 3)
        );
    }

    #[test]
    fn prints_every_form() {
        let a = addr(0, 7, 0x10, 1);
        assert_eq!(a.to_string(), "0000:07:10.1");
        assert_eq!(a.sysfs_name(), "0000:07:10.1");
        assert_eq!(a.nodedev_name(), "pci_0000_07_10_1");
        assert_eq!(a.short_name(), "07:10.1");
        assert_eq!(
            a.xml_attributes(),
            "domain='0x0000' bus='0x07' slot='0x10' function='0x1'"
        );
        assert_eq!(addr(1, 0, 0, 0).short_name(), "0001:00:00.0");
    }

    #[test]
    fn rejects_malformed_input_with_the_reason() {
        for bad in [
            "",
            "pci_0000_zz_00_0",
            "pci_0000_07_10_1/../x",
            "pci_0000_07_10_1_",
            "pci_0000_07_10",
            "PCI_0000_07_10_1",
            "pci_0000_0A_00_0",
            "0000:07:10",
            "0000:07:10.",
            "0000:07:10.10",
            "0000:7:10.1",
            "000:07:10.1",
            "0000:07:10.1\n",
            " 0000:07:10.1",
            "0000:07:10.1/../../etc",
            "0000:07:+1.1",
            "0000:07:10.-1",
            "..",
            "07.10.1",
        ] {
            let err = bad.parse::<PciAddress>().unwrap_err();
            assert!(matches!(err, AddressError::Syntax { .. }), "{bad:?}: {err}");
        }
        assert!(matches!(
            "0000:00:20.0".parse::<PciAddress>(),
            Err(AddressError::SlotRange { slot: 0x20, .. })
        ));
        assert!(matches!(
            "pci_0000_00_00_8".parse::<PciAddress>(),
            Err(AddressError::FunctionRange { function: 8, .. })
        ));
        assert!(PciAddress::from_sysfs_name("07:10.1").is_err());
        assert!(PciAddress::new(0, 0, 0x20, 0).is_err());
        assert!(PciAddress::new(0, 0, 0, 8).is_err());
    }

    #[test]
    fn messages_escape_and_bound_the_input() {
        let err = "a\nb".parse::<PciAddress>().unwrap_err().to_string();
        assert!(err.contains("a\\nb"), "{err}");
        let long = "x".repeat(5000);
        let err = long.parse::<PciAddress>().unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn display_parse_roundtrip_and_order() {
        for (d, b, s, f) in [(0, 0, 0, 0), (0xffff, 0xff, 0x1f, 7), (0x1_0000, 1, 2, 3)] {
            let a = addr(d, b, s, f);
            assert_eq!(a.to_string().parse::<PciAddress>().unwrap(), a);
            assert_eq!(a.nodedev_name().parse::<PciAddress>().unwrap(), a);
        }
        assert!(addr(0, 1, 0, 0) < addr(0, 1, 0, 1));
        assert!(addr(0, 1, 0x1f, 7) < addr(0, 2, 0, 0));
    }
}
