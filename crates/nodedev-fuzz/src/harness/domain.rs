//! The libvirt hook's domain reader and `detach --xml`'s hostdev reader.

use std::fmt::Write;

use nodedev_xml::{DomainHostdevs, DomainPciDevice, HOOK_NAMESPACE};

use super::assert_short_message;
use crate::Outcome;

/// Text as XML reads it back exactly: `& < >` as entities and a carriage return
/// as a character reference (a raw one would read back as a line feed).
fn text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value as XML reads it back exactly: white space other than a
/// space as character references (raw, it would be normalized to a space).
fn attr(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// One device as libvirt writes it in `<devices>`.
fn device_xml(d: &DomainPciDevice) -> String {
    let managed = if d.managed { "yes" } else { "no" };
    let mut out = if d.interface {
        format!("<interface type='hostdev' managed='{managed}'>")
    } else {
        format!("<hostdev mode='subsystem' type='pci' managed='{managed}'>")
    };
    if d.driver_name.is_some() || d.driver_model.is_some() {
        out.push_str("<driver");
        if let Some(n) = &d.driver_name {
            let _ = write!(out, " name='{}'", attr(n));
        }
        if let Some(m) = &d.driver_model {
            let _ = write!(out, " model='{}'", attr(m));
        }
        out.push_str("/>");
    }
    let _ = write!(
        out,
        "<source><address {}/></source>",
        d.address.xml_attributes()
    );
    out.push_str(if d.interface {
        "</interface>"
    } else {
        "</hostdev>"
    });
    out
}

/// A domain document holding what `d` says, with `foreign` (other applications'
/// metadata) in `<metadata>` before ours.
fn domain_doc(d: &DomainHostdevs, foreign: &str) -> String {
    let mut out = format!(
        "<domain type='kvm'><name>{}</name><metadata>{foreign}<shim:hostdevs xmlns:shim='{HOOK_NAMESPACE}'>",
        text(&d.name)
    );
    for (tag, list) in [
        ("device", &d.metadata.devices),
        ("group", &d.metadata.groups),
        ("skip", &d.metadata.skip),
    ] {
        for a in list {
            let _ = write!(out, "<shim:{tag} address='{a}'/>");
        }
    }
    out.push_str("</shim:hostdevs></metadata><devices>");
    for dev in &d.devices {
        out.push_str(&device_xml(dev));
    }
    out.push_str("</devices></domain>");
    out
}

/// `domain_hostdevs`, the reader the libvirt hook runs on its standard input.
/// What it reads, written back as a domain, reads the same; and the input
/// itself (a well-formed `<domain>`), placed in that domain's `<metadata>` as other applications' metadata, changes
/// nothing (what the reader skips cannot leak into what it reads).
pub fn domain_xml(data: &[u8]) -> Outcome {
    let Ok(input) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    let read = match nodedev_xml::domain_hostdevs(input) {
        Ok(d) => d,
        Err(e) => {
            assert_short_message(&e.to_string());
            return Outcome::Rejected;
        }
    };
    let doc = domain_doc(&read, "");
    let again = nodedev_xml::domain_hostdevs(&doc)
        .unwrap_or_else(|e| panic!("the domain written from {read:?} is refused: {e}\n{doc}"));
    assert_eq!(again, read, "read differently after writing:\n{doc}");
    // Its root is a <domain>, so nothing in it is our metadata there; only an
    // XML declaration cannot move into another document.
    if !input.contains("<?xml") {
        let doc = domain_doc(&read, input);
        match nodedev_xml::domain_hostdevs(&doc) {
            Ok(with_foreign) => assert_eq!(
                with_foreign, read,
                "foreign metadata changed what was read:\n{doc}"
            ),
            Err(nodedev_xml::XmlError::TooLarge { .. }) => {}
            Err(e) => panic!("a well-formed document as foreign metadata is refused: {e}\n{doc}"),
        }
    }
    Outcome::Accepted
}

/// `hostdev_element` (`nodedev detach --xml`): what it reads, written back as
/// libvirt writes the element, reads the same.
pub fn hostdev_xml(data: &[u8]) -> Outcome {
    let Ok(input) = std::str::from_utf8(data) else {
        return Outcome::Rejected;
    };
    match nodedev_xml::hostdev_element(input) {
        Ok(d) => {
            let xml = device_xml(&d);
            let again = nodedev_xml::hostdev_element(&xml)
                .unwrap_or_else(|e| panic!("{d:?} written back is refused: {e}\n{xml}"));
            assert_eq!(again, d, "read differently after writing:\n{xml}");
            Outcome::Accepted
        }
        Err(e) => {
            assert_short_message(&e.to_string());
            Outcome::Rejected
        }
    }
}
