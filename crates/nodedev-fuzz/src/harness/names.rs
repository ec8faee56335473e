//! Device names and PCI addresses, and kernel driver names.

use std::str::FromStr;

use pci_types::{DriverName, PciAddress, MAX_DRIVER_NAME_LEN};

use super::assert_short_message;
use crate::gen::Source;
use crate::Outcome;

/// Every spelling of `a` parses back to it: the node-device name, the sysfs
/// name (also in upper case, and through `from_sysfs_name`), the short form,
/// and the attributes of libvirt's `<address/>` as the domain reader reads them.
fn check_spellings(a: PciAddress) {
    let back = |s: &str| {
        PciAddress::from_str(s).unwrap_or_else(|e| panic!("{a:?} printed as {s:?} is refused: {e}"))
    };
    for s in [
        a.nodedev_name(),
        a.sysfs_name(),
        a.short_name(),
        a.to_string(),
    ] {
        assert_eq!(back(&s), a, "{s}");
    }
    assert_eq!(back(&a.sysfs_name().to_uppercase()), a);
    assert_eq!(PciAddress::from_sysfs_name(&a.sysfs_name()), Ok(a));
    if a.domain() != 0 {
        assert_eq!(a.short_name(), a.sysfs_name());
    }
    let hostdev = format!(
        "<hostdev mode='subsystem' type='pci'><source><address {}/></source></hostdev>",
        a.xml_attributes()
    );
    match nodedev_xml::hostdev_element(&hostdev) {
        Ok(d) => assert_eq!(d.address, a, "{hostdev}"),
        // libvirt refuses 0000:00:00.x in a hostdev (the host bridge's slot).
        Err(e) => assert!(
            a.domain() == 0 && a.bus() == 0 && a.slot() == 0,
            "{hostdev}: {e}"
        ),
    }
}

/// `PciAddress` parsing on the bytes as text: no panic, a short message, and
/// every spelling of what it accepts round-trips; then the first bytes as an
/// address (any domain, bus, slot, function), whose spellings all round-trip.
pub fn pci_address(data: &[u8]) -> Outcome {
    let mut src = Source::new(data);
    let generated =
        PciAddress::new(src.u32(), src.byte(), src.byte() % 32, src.byte() % 8).expect("in range");
    check_spellings(generated);
    let text = String::from_utf8_lossy(data);
    let outcome = match PciAddress::from_str(&text) {
        Ok(a) => {
            check_spellings(a);
            Outcome::Accepted
        }
        Err(e) => {
            assert_short_message(&e.to_string());
            Outcome::Rejected
        }
    };
    if let Err(e) = PciAddress::from_sysfs_name(&text) {
        assert_short_message(&e.to_string());
    }
    outcome
}

/// `DriverName::new` on the bytes as text: what it accepts is safe to write into
/// sysfs (ASCII letters, digits, `-`, `_` and `.` only, so no `/`, white space
/// or newline; not empty, not `.` or `..`, at most MAX_DRIVER_NAME_LEN bytes) and is the input itself; a refusal
/// has a short message.
pub fn driver_name(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    match DriverName::new(&text) {
        Ok(d) => {
            let s = d.as_str();
            assert_eq!(s, text, "a driver name is not rewritten");
            assert!(!s.is_empty() && s.len() <= MAX_DRIVER_NAME_LEN, "{s:?}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
                "{s:?}"
            );
            assert!(s != "." && s != "..", "{s:?}");
            assert_eq!(DriverName::from_str(s).as_ref(), Ok(&d));
            let _ = d.module_name();
            Outcome::Accepted
        }
        Err(e) => {
            assert_short_message(&e.to_string());
            Outcome::Rejected
        }
    }
}
