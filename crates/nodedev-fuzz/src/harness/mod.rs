//! The harnesses: one per parser. Each takes any bytes, returns whether the
//! parser accepted them, and panics when an invariant breaks.
//!
//! | harness | parser | invariants beyond "no panic" |
//! |---|---|---|
//! | [`node_device_xml`] | `nodedev_xml::parse` | what it accepts writes well-formed XML that reads back to the same model and writes the same bytes again (but for the documented CR/tab exceptions, stable after one more round) |
//! | [`node_device_model`] | `NodeDevice::to_xml` on a model made from the bytes | the output never has a character XML forbids, is always well-formed, and is a fixed point after one read |
//! | [`domain_xml`] | `nodedev_xml::domain_hostdevs` (the hook's reader) | what it reads, written back as a domain, reads the same; adding foreign metadata changes nothing |
//! | [`hostdev_xml`] | `nodedev_xml::hostdev_element` | written back, reads the same |
//! | [`pci_address`] | `PciAddress` parsing | every spelling of an accepted (or generated) address parses back to it |
//! | [`driver_name`] | `DriverName::new` | what it accepts is safe to write into sysfs |
//! | [`vpd`] | `pci_types::vpd::try_parse` | fields are printable ASCII of libvirt's lengths; written as XML, well-formed and stable |
//! | [`pci_ids`] | `PciIds::parse` | every lookup agrees with a line-by-line reading of libpciaccess's rules |
//! | [`snapshot_tar`] | `Snapshot::read_tar` and the enumeration over it (`--root FILE.tar`) | reads bounded, links resolved inside the archive (loops end), errors short |
//! | [`udev_data`] | `udev::parse_db`, `udev::parse_uevent` | the database reading agrees with a second reading written from libudev's state machine; no key with `=` or NUL, no value with NUL, links under `/dev/` |
//! | [`class_tree`] | a snapshot tar built from the bytes, `nodes::enumerate` over it | names in libvirt's alphabet, each once; every parent listed or `computer`; no device outside `/sys` |
//!
//! Every error message a harness sees stays short ([`assert_short_message`]).

mod domain;
mod names;
mod pci_ids;
mod snapshot;
mod udev;
mod vpd;
mod xml;

pub use domain::{domain_xml, hostdev_xml};
pub use names::{driver_name, pci_address};
pub use pci_ids::pci_ids;
pub use snapshot::{build_archive, snapshot_tar};
pub use udev::{class_tree, udev_data};
pub use vpd::vpd;
pub use xml::{node_device_model, node_device_xml};

/// XML 1.0's `Char` production.
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Panics if `xml` has a character XML 1.0 forbids.
pub fn assert_xml_chars(xml: &str) {
    if let Some((at, c)) = xml.char_indices().find(|(_, c)| !xml_char(*c)) {
        panic!(
            "output has U+{:04X} at byte {at}, which XML forbids:\n{xml}",
            u32::from(c)
        );
    }
}

/// The longest error message accepted: a message quotes a short piece of the
/// input, never all of it (a 100 kB name must not be echoed).
pub const MAX_MESSAGE: usize = 2048;

/// Panics if an error message is longer than [`MAX_MESSAGE`] bytes.
pub fn assert_short_message(msg: &str) {
    assert!(
        msg.len() <= MAX_MESSAGE,
        "an error message of {} bytes: {}…",
        msg.len(),
        msg.chars().take(300).collect::<String>()
    );
}

/// Whether a written document holds a value XML does not read back as written
/// (libvirt prints these raw too): a carriage return anywhere, or a tab or line
/// feed inside an attribute value. `parse(write(d)) == d` is promised for every
/// other document.
pub fn has_raw_whitespace_exception(xml: &str) -> bool {
    if xml.contains('\r') {
        return true;
    }
    let (mut in_tag, mut in_value) = (false, false);
    for c in xml.chars() {
        match c {
            '<' if !in_value => in_tag = true,
            '>' if !in_value => in_tag = false,
            '\'' | '"' if in_tag => in_value = !in_value,
            '\t' | '\n' if in_value => return true,
            _ => {}
        }
    }
    false
}
