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
//! # Parsing
//!
//! [`parse`] accepts what libvirt's `nodedev.rng` accepts for these
//! capabilities and what libvirt's own parser would read, and refuses anything
//! else with a message naming the element (and attribute) at fault:
//!
//! - The `<device>` children may come in any order; the children of each
//!   capability must come in the order of the schema's sequences.
//! - Values are read as libvirt reads them: an empty optional element is absent
//!   (XPath `string()`), VPD fields with a repeated index replace the earlier
//!   value, net features collapse into libvirt's order; values libvirt would
//!   not print (`maxCount='0'`, a negative NUMA node, a speed of 0) are dropped.
//!   So `parse(&d.to_xml()) == Ok(d)` for every document `d` it returns, but
//!   for a carriage return in text or a tab or newline in an attribute value
//!   (from a character reference): libvirt prints those raw, and XML then reads
//!   them back as a line feed or a space.
//! - XML is read as an XML 1.0 processor reads it (line ends and attribute
//!   values normalized; characters XML forbids refused — a NUL, an escape
//!   character or any other control but tab, line feed and carriage return,
//!   literal or as a character reference — with the character and its byte
//!   offset in the message). A document with a DOCTYPE is refused and nothing
//!   but XML's five predefined entities and character references is ever
//!   expanded. Input is capped at [`MAX_INPUT`] bytes, nesting at
//!   [`MAX_DEPTH`], attributes per element at [`MAX_ATTRIBUTES`]; no input
//!   makes it panic.
//! - Reading takes time linear in the size of the input, whatever it holds
//!   (attributes are checked for duplicates with a hash set, not quick-xml's
//!   pairwise comparison), and messages quote at most 40 characters of any
//!   name or value.
//!
//! # Domain documents
//!
//! [`domain_hostdevs`] (the libvirt hook's reader) and [`hostdev_element`]
//! keep only what they use: the PCI hostdevs and hostdev interfaces, and our
//! metadata. Every other element — above all other applications' elements in
//! `<metadata>`, which libvirt keeps as given — is checked for
//! well-formedness in linear time and dropped, without a limit on its
//! attributes or elements (refusing the domain would abort the VM's start);
//! nesting is limited only where libxml2, which libvirt parses with, stops.
//!
//! # Writing
//!
//! [`NodeDevice::to_xml`] prints what `virNodeDeviceDefFormat` prints: its element
//! order, 2-space indentation, single-quoted attributes, its number formats,
//! and its escaping ([`escape`] is `virBufferEscapeString`; VPD field values
//! are printed raw as libvirt prints them, except `&`, `<` and the `>` of
//! `]]>`, which would make the document malformed). Every string is cut at its
//! first NUL (libvirt's strings are C strings) and loses the characters XML
//! 1.0 forbids, so the output is well-formed whatever the model holds (libvirt
//! itself prints 0x1A–0x1F raw).
#![deny(missing_docs)]

mod domain;
mod model;
mod parse;
mod parse_classes;
mod write;

pub use domain::{
    domain_hostdevs, hostdev_element, DomainHostdevs, DomainPciDevice, HookMetadata, HOOK_NAMESPACE,
};
pub use model::*;
pub use parse::{parse, MAX_ATTRIBUTES, MAX_DEPTH, MAX_INPUT};
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
