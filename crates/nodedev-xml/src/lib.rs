//! libvirt's node-device XML (`virsh nodedev-dumpxml`) for the capabilities
//! nodedev-shim handles — `system`, `pci` (with SR-IOV, bridges, mdev types, VPD,
//! IOMMU group, NUMA and PCIe links) and `net` — as a typed model, a strict parser
//! and a writer whose output is byte for byte what libvirt's
//! `virNodeDeviceDefFormat` prints. No I/O.
//!
//! ```
//! let xml = "<device>\n  <name>computer</name>\n  <capability type='system'>\n    <hardware>\n      <uuid>00000000-0000-0000-0000-000000000000</uuid>\n    </hardware>\n    <firmware>\n    </firmware>\n  </capability>\n</device>\n";
//! let dev = nodedev_xml::parse(xml).unwrap();
//! assert_eq!(dev.to_xml(), xml);
//! ```
//!
//! Parsing never expands entities: a document with a DOCTYPE is refused, and only
//! XML's five predefined entities and character references are decoded.
#![deny(missing_docs)]

mod model;
mod parse;
mod write;

pub use model::*;
pub use parse::{parse, MAX_DEPTH, MAX_INPUT};
pub use write::escape;

/// Why a document was rejected. Messages name the element at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML.
    #[error("malformed XML {0}")]
    Syntax(String),
    /// A DOCTYPE (and with it any entity declaration) was present.
    #[error("documents with a DOCTYPE are not accepted (entities are never expanded)")]
    Doctype,
    /// An entity other than XML's predefined five.
    #[error("undefined entity '&{0};' (only &lt; &gt; &amp; &apos; &quot; and character references are accepted)")]
    Entity(String),
    /// Larger than [`MAX_INPUT`].
    #[error("document is larger than {} MiB", limit / (1024 * 1024))]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Well-formed, but not a node-device document this crate accepts.
    #[error("{0}")]
    Invalid(String),
}

/// Parses a document and writes it back in libvirt's canonical form
/// (`nodedev xml normalize`).
pub fn normalize(xml: &str) -> Result<String, XmlError> {
    parse(xml).map(|d| d.to_xml())
}
