//! [`DriverName`]: a kernel driver name that is safe to write into sysfs.

use std::fmt;
use std::str::FromStr;

/// The longest driver name accepted. Kernel module names are at most 55 bytes
/// (`MODULE_NAME_LEN` − 1 − 8), and PCI driver names are shorter in practice.
pub const MAX_DRIVER_NAME_LEN: usize = 64;

/// The name of a kernel PCI driver (`vfio-pci`, `pciback`, `e1000e`, …).
///
/// Every value is safe to write into `driver_override` or to join onto
/// `/sys/bus/pci/drivers/`: it is non-empty, at most [`MAX_DRIVER_NAME_LEN`] bytes,
/// and made only of ASCII letters, digits, `-`, `_` and `.`. So it can contain no `/`
/// (no path traversal), no whitespace and no newline (the kernel truncates
/// `driver_override` at a newline, which would silently bind a different name).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct DriverName(String);

/// Why a string is not an acceptable driver name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverNameError {
    /// The name is empty.
    #[error("driver name is empty")]
    Empty,
    /// The name is longer than [`MAX_DRIVER_NAME_LEN`].
    #[error("driver name is {len} bytes long (at most {MAX_DRIVER_NAME_LEN})")]
    TooLong {
        /// The length that was given.
        len: usize,
    },
    /// The name contains a character a driver name cannot have.
    #[error("driver name '{shown}' contains {what}")]
    BadCharacter {
        /// The name with control characters escaped.
        shown: String,
        /// The offending character, described.
        what: String,
    },
}

impl DriverName {
    /// Checks and wraps a driver name.
    pub fn new(name: &str) -> Result<Self, DriverNameError> {
        if name.is_empty() {
            return Err(DriverNameError::Empty);
        }
        if name.len() > MAX_DRIVER_NAME_LEN {
            return Err(DriverNameError::TooLong { len: name.len() });
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            let what = match c {
                '/' => "'/'".to_string(),
                '\n' => "a newline".to_string(),
                c if c.is_whitespace() => "whitespace".to_string(),
                c if c.is_control() => format!("control character {:?}", c),
                c => format!("'{c}'"),
            };
            return Err(DriverNameError::BadCharacter {
                shown: name.escape_debug().to_string(),
                what,
            });
        }
        if name == "." || name == ".." {
            return Err(DriverNameError::BadCharacter {
                shown: name.to_string(),
                what: "only dots".to_string(),
            });
        }
        Ok(Self(name.to_string()))
    }

    /// The name as the kernel spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The module name: `-` replaced by `_`, as `modprobe` and `/sys/module` spell it.
    pub fn module_name(&self) -> String {
        self.0.replace('-', "_")
    }
}

impl fmt::Display for DriverName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DriverName {
    type Err = DriverNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for DriverName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for DriverName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DriverName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_driver_names() {
        for n in [
            "vfio-pci",
            "pci-stub",
            "pciback",
            "e1000e",
            "mlx5_vfio_pci",
            "nvme",
            "snd_hda_intel",
        ] {
            assert_eq!(DriverName::new(n).unwrap().as_str(), n);
        }
        assert_eq!(
            DriverName::new("vfio-pci").unwrap().module_name(),
            "vfio_pci"
        );
    }

    #[test]
    fn rejects_unsafe_names() {
        assert_eq!(DriverName::new(""), Err(DriverNameError::Empty));
        assert!(matches!(
            DriverName::new(&"a".repeat(5000)),
            Err(DriverNameError::TooLong { len: 5000 })
        ));
        for (bad, what) in [
            ("../e1000e", "'/'"),
            ("vfio-pci\n", "a newline"),
            ("vfio pci", "whitespace"),
            ("vfio\tpci", "whitespace"),
            ("a\0b", "control character"),
            ("..", "only dots"),
        ] {
            let err = DriverName::new(bad).unwrap_err().to_string();
            assert!(err.contains(what), "{bad:?}: {err}");
        }
    }
}
