//! Hostile input (issue 11): documents under the 16 MiB cap built to make a
//! parser slow or greedy — a million attributes on one element, hundreds of
//! thousands of namespace declarations, deep nesting, millions of elements,
//! references everywhere — are refused with a message or read correctly, never
//! hang. A domain's `<metadata>` holds other applications' elements, which the
//! hook must skip cheaply: refusing the domain would abort the VM's start.
//!
//! Each case runs under a generous hang guard (a failure means "did not finish
//! at all", not "was slow"); the times are in docs/benchmarks.md.

use std::sync::mpsc;
use std::time::Duration;

use nodedev_xml::{domain_hostdevs, hostdev_element, parse, XmlError, MAX_INPUT};

/// Runs `f` on another thread and fails if it has not finished after `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("did not finish within {limit:?} (hang guard)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked (see above)"),
    }
}

/// The hang guard: minutes, for a debug build on a busy 2-core machine; a
/// quadratic parser needs hours for these inputs.
const GUARD: Duration = Duration::from_secs(300);

/// `n` distinct attribute names, shortest first (`a`, `b`, …, `Z`, `aa`, …).
fn names(n: usize) -> Vec<String> {
    const L: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..n)
        .map(|mut i| {
            let mut width = 1;
            let mut count = L.len();
            while i >= count {
                i -= count;
                width += 1;
                count *= L.len();
            }
            let mut s = vec![b'a'; width];
            for c in s.iter_mut().rev() {
                *c = L[i % L.len()];
                i /= L.len();
            }
            String::from_utf8(s).unwrap()
        })
        .collect()
}

fn attrs(n: usize) -> String {
    names(n).iter().map(|a| format!(" {a}=''")).collect()
}

const SYSTEM: &str = "<capability type='system'><hardware><uuid>00000000-0000-0000-0000-000000000000</uuid></hardware><firmware/></capability>";

/// A domain with one unmanaged PCI hostdev, our metadata, and `foreign` (other
/// applications' metadata) in `<metadata>` before ours.
fn domain(foreign: &str) -> String {
    format!(
        "<domain type='kvm'><name>vm</name><metadata>{foreign}\
         <shim:hostdevs xmlns:shim='https://nodedev-shim.dev/xmlns/hook/1'><shim:group address='0000:01:00.0'/></shim:hostdevs>\
         </metadata><devices><hostdev mode='subsystem' type='pci' managed='no'>\
         <source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source></hostdev></devices></domain>"
    )
}

/// What `domain()` must read, whatever the foreign metadata.
fn assert_read_correctly(xml: &str) {
    let d = domain_hostdevs(xml).unwrap_or_else(|e| panic!("refused: {e}"));
    assert_eq!(d.name, "vm");
    assert_eq!(d.devices.len(), 1);
    assert_eq!(d.devices[0].address.to_string(), "0000:02:00.0");
    assert!(!d.devices[0].managed);
    assert_eq!(d.metadata.groups, vec!["0000:01:00.0".parse().unwrap()]);
}

#[test]
fn a_node_device_element_with_1_5_million_attributes_is_refused() {
    let xml = format!(
        "<device><name{}>computer</name>{SYSTEM}</device>",
        attrs(1_500_000)
    );
    assert!(xml.len() < MAX_INPUT, "{} bytes", xml.len());
    let e = within(GUARD, move || parse(&xml)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, XmlError::Syntax(_)), "{msg}");
    assert!(msg.contains("<name> has more than 256 attributes"), "{msg}");
}

#[test]
fn a_node_device_element_with_many_attributes_under_the_cap_is_read() {
    // 256 attributes are read (and refused as libvirt's schema refuses them),
    // not cut off by the cap: the message names the first unexpected one.
    let xml = format!(
        "<device><name{}>computer</name>{SYSTEM}</device>",
        attrs(256)
    );
    let msg = parse(&xml).unwrap_err().to_string();
    assert!(msg.contains("<name>: unexpected attribute 'a'"), "{msg}");
}

#[test]
fn metadata_with_1_5_million_attributes_is_read_and_the_rest_of_the_domain_too() {
    let xml = domain(&format!(
        "<app:data xmlns:app='urn:example:app'{}/>",
        attrs(1_500_000)
    ));
    assert!(xml.len() < MAX_INPUT, "{} bytes", xml.len());
    within(GUARD, move || assert_read_correctly(&xml));
}

#[test]
fn duplicate_attributes_are_found_among_a_million_even_in_skipped_metadata() {
    // The duplicate is the last attribute, far past the few compared one by one.
    let mut a = attrs(1_000_000);
    a.push_str(" b='again'");
    let xml = domain(&format!("<app:data xmlns:app='urn:example:app'{a}/>"));
    let msg = within(GUARD, move || domain_hostdevs(&xml))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("<app:data>: duplicated attribute 'b'"),
        "{msg}"
    );
    // On a kept element too, with nine names before the repeated one.
    let xml = "<device><name a='' b='' c='' d='' e='' f='' g='' h='' i='' e=''>x</name></device>";
    let msg = parse(xml).unwrap_err().to_string();
    assert!(msg.contains("<name>: duplicated attribute 'e'"), "{msg}");
}

#[test]
fn metadata_with_600_thousand_namespace_declarations_is_read() {
    let decls: String = names(600_000)
        .iter()
        .map(|a| format!(" xmlns:p{a}='urn:{a}'"))
        .collect();
    let xml = domain(&format!("<app:data xmlns:app='urn:example:app'{decls}/>"));
    assert!(xml.len() < MAX_INPUT, "{} bytes", xml.len());
    within(GUARD, move || assert_read_correctly(&xml));
}

#[test]
fn deep_metadata_is_read_as_deep_as_libxml2_reads_it() {
    // 200 levels: refused before (the node-device limit of 32 applied), while
    // libvirt (libxml2: 256 levels) keeps such metadata.
    let deep = |n: usize| {
        format!(
            "<app:d xmlns:app='urn:example:app'>{}{}",
            "<app:d>".repeat(n - 1),
            "</app:d>".repeat(n)
        )
    };
    assert_read_correctly(&domain(&deep(200)));
    assert_read_correctly(&domain(&deep(2000)));
    // Deeper than libxml2 reads even with XML_PARSE_HUGE: refused, at once.
    let xml = domain(&deep(1_000_000));
    let msg = within(GUARD, move || domain_hostdevs(&xml))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nested deeper than 2048"), "{msg}");
    // Node-device documents keep their limit.
    let msg = parse(&format!("{}{}", "<a>".repeat(100), "</a>".repeat(100)))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nested deeper than 32"), "{msg}");
}

#[test]
fn metadata_with_two_million_elements_is_read() {
    let xml = domain(&format!(
        "<app:list xmlns:app='urn:example:app'>{}</app:list>",
        "<app:e/>".repeat(1_900_000)
    ));
    assert!(xml.len() < MAX_INPUT, "{} bytes", xml.len());
    within(GUARD, move || assert_read_correctly(&xml));
}

#[test]
fn metadata_full_of_references_and_text_is_read() {
    let xml = domain(&format!(
        "<app:t xmlns:app='urn:example:app' v='{}'>{}<![CDATA[{}]]></app:t>",
        "&amp;&#x41;".repeat(200_000),
        "x&lt;&#66;".repeat(800_000),
        "<".repeat(1_000_000)
    ));
    assert!(xml.len() < MAX_INPUT, "{} bytes", xml.len());
    within(GUARD, move || assert_read_correctly(&xml));
}

#[test]
fn skipped_metadata_is_still_checked_for_well_formedness() {
    for (foreign, needle) in [
        (
            "<app:x xmlns:app='urn:a'>&ext;</app:x>",
            "undefined entity '&ext;'",
        ),
        (
            "<app:x xmlns:app='urn:a' v='&#0;'/>",
            "character reference '&#0;'",
        ),
        (
            "<app:x xmlns:app='urn:a'>\u{1b}[31m</app:x>",
            "character U+001B",
        ),
        (
            "<app:x xmlns:app='urn:a'>a]]>b</app:x>",
            "']]>' is not allowed",
        ),
        ("<app:x xmlns:app='urn:a' v='<'/>", "'<' is not allowed"),
        ("<app:x xmlns:app='urn:a'><app:y></app:x>", "malformed XML"),
        ("<app:x xmlns:app='urn:a' v=1/>", "malformed XML"),
    ] {
        let msg = domain_hostdevs(&domain(foreign)).unwrap_err().to_string();
        assert!(msg.contains(needle), "{foreign}: {msg}");
    }
}

#[test]
fn only_metadata_in_our_namespace_is_ours() {
    // A foreign element named `hostdevs` (another namespace, or none) is skipped,
    // even with children that look like ours.
    let xml = domain(
        "<other:hostdevs xmlns:other='urn:other'><other:device address='0000:09:00.0'/></other:hostdevs>\
         <hostdevs><device address='0000:0a:00.0'/></hostdevs>",
    );
    let d = domain_hostdevs(&xml).unwrap();
    assert!(d.metadata.devices.is_empty(), "{d:?}");
    // Ours, bound as the default namespace, with any number of foreign attributes.
    let xml = domain(&format!(
        "<hostdevs xmlns='https://nodedev-shim.dev/xmlns/hook/1'{}><device address='0000:0b:00.0' note='x'/></hostdevs>",
        attrs(100_000)
    ));
    let d = within(GUARD, move || domain_hostdevs(&xml)).unwrap();
    assert_eq!(d.metadata.devices, vec!["0000:0b:00.0".parse().unwrap()]);
}

#[test]
fn a_hostdev_element_skips_what_it_does_not_read() {
    let xml = format!(
        "<hostdev mode='subsystem' type='pci' managed='yes'><alias name='x'{}/>\
         <source><address domain='0' bus='3' slot='0' function='1'/></source></hostdev>",
        attrs(1_000_000)
    );
    let d = within(GUARD, move || hostdev_element(&xml)).unwrap();
    assert_eq!(d.address.to_string(), "0000:03:00.1");
    assert!(d.managed);
    // Its own element is libvirt's: capped like every element the reader keeps.
    let xml = format!(
        "<hostdev mode='subsystem' type='pci'{}><source><address domain='0' bus='3' slot='0' function='1'/></source></hostdev>",
        attrs(1000)
    );
    let msg = hostdev_element(&xml).unwrap_err().to_string();
    assert!(
        msg.contains("<hostdev> has more than 256 attributes"),
        "{msg}"
    );
}

#[test]
fn messages_never_echo_a_huge_name_or_value() {
    let long = "n".repeat(100_000);
    for msg in [
        parse(&format!("<device><{long}/></device>"))
            .unwrap_err()
            .to_string(),
        parse(&format!("<{long}/>")).unwrap_err().to_string(),
        parse(&format!(
            "<device><name>x</name><capability type='{long}'/></device>"
        ))
        .unwrap_err()
        .to_string(),
        parse(&format!("<device><name {long}='1'>x</name></device>"))
            .unwrap_err()
            .to_string(),
        domain_hostdevs(&format!("<{long}/>")).unwrap_err().to_string(),
        // quick-xml's own message quotes both names of a mismatched end tag
        // (found by the node_device_xml fuzz harness).
        parse(&format!("<device></{long}>")).unwrap_err().to_string(),
        domain_hostdevs(&format!("<domain><{long}></{long}x>"))
            .unwrap_err()
            .to_string(),
        domain_hostdevs(&format!(
            "<domain><devices><hostdev mode='subsystem' type='pci'><source><address domain='{long}' bus='0' slot='1' function='0'/></source></hostdev></devices></domain>"
        ))
        .unwrap_err()
        .to_string(),
    ] {
        assert!(msg.len() < 400, "{} bytes: {}", msg.len(), &msg[..200]);
    }
}
