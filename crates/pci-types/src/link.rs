//! PCI Express link fields as libvirt reports them (`<pci-express><link …/>`).

use std::fmt;

/// A PCIe link speed: the 4-bit "current/max link speed" code of LNKCAP/LNKSTA.
///
/// libvirt prints these through the enum `"", "2.5", "5", "8", "16", "32", "64"`
/// indexed by the code; code 0 prints nothing (the attribute is omitted).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum LinkSpeed {
    /// 2.5 GT/s (code 1).
    Gt2_5,
    /// 5 GT/s (code 2).
    Gt5,
    /// 8 GT/s (code 3).
    Gt8,
    /// 16 GT/s (code 4).
    Gt16,
    /// 32 GT/s (code 5).
    Gt32,
    /// 64 GT/s (code 6).
    Gt64,
}

impl LinkSpeed {
    const ALL: [(LinkSpeed, &'static str); 6] = [
        (LinkSpeed::Gt2_5, "2.5"),
        (LinkSpeed::Gt5, "5"),
        (LinkSpeed::Gt8, "8"),
        (LinkSpeed::Gt16, "16"),
        (LinkSpeed::Gt32, "32"),
        (LinkSpeed::Gt64, "64"),
    ];

    /// The speed for a register code; `None` for 0 and for codes libvirt has no name for.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL
            .get(usize::from(code).checked_sub(1)?)
            .map(|(s, _)| *s)
    }

    /// The register code (1..=6).
    pub fn code(self) -> u8 {
        Self::ALL
            .iter()
            .position(|(s, _)| *s == self)
            .map_or(0, |i| i as u8 + 1)
    }

    /// libvirt's spelling: `2.5`, `5`, `8`, `16`, `32`, `64` (GT/s).
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, n)| n)
    }

    /// Parses libvirt's spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)
    }
}

impl fmt::Display for LinkSpeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for LinkSpeed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One `<link>` of `<pci-express>`: the capability (`validity='cap'`, from LNKCAP)
/// or the status (`validity='sta'`, from LNKSTA).
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize)]
pub struct PciExpressLink {
    /// Port number (LNKCAP bits 31:24); libvirt prints it for `cap` only.
    pub port: Option<u32>,
    /// Link speed; `None` when the code is 0.
    pub speed: Option<LinkSpeed>,
    /// Negotiated or maximum width (lanes).
    pub width: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        assert_eq!(LinkSpeed::from_code(0), None);
        assert_eq!(LinkSpeed::from_code(1), Some(LinkSpeed::Gt2_5));
        assert_eq!(LinkSpeed::from_code(6), Some(LinkSpeed::Gt64));
        assert_eq!(LinkSpeed::from_code(7), None);
        for code in 1..=6 {
            let s = LinkSpeed::from_code(code).unwrap();
            assert_eq!(s.code(), code);
            assert_eq!(LinkSpeed::from_name(s.as_str()), Some(s));
        }
        assert_eq!(LinkSpeed::Gt2_5.to_string(), "2.5");
    }
}
