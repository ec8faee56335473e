//! The engine's errors. Each names what was attempted and on which path or device.

use std::io;
use std::path::PathBuf;

use pci_types::PciAddress;

/// Result alias for the engine.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything the engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No PCI function at that address (its sysfs directory is missing).
    #[error("no PCI device {address} in {path}")]
    NoSuchDevice {
        /// The address that was looked up.
        address: PciAddress,
        /// The directory that was expected.
        path: PathBuf,
    },
    /// A sysfs attribute could not be read.
    #[error("failed to read {}", path.display())]
    Read {
        /// The attribute.
        path: PathBuf,
        /// The errno.
        #[source]
        source: io::Error,
    },
    /// A sysfs attribute held something that does not parse.
    #[error("unexpected content in {}: {content:?}", path.display())]
    Parse {
        /// The attribute.
        path: PathBuf,
        /// What it held (shortened).
        content: String,
    },
}

impl Error {
    pub(crate) fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, content: &[u8]) -> Self {
        let text = String::from_utf8_lossy(&content[..content.len().min(64)]).into_owned();
        Self::Parse {
            path: path.into(),
            content: text,
        }
    }
}
