//! XML inputs named on the command line or given on standard input: read with a
//! size bound, then turned into what the commands act on.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use hostdev_manager::stub::DriverRequest;
use pci_types::PciAddress;

use crate::domain::hostdev_driver;
use crate::output::virsh_error;

/// Largest XML document accepted on input (the parser's own limit).
const MAX_XML_INPUT: u64 = nodedev_xml::MAX_INPUT as u64;

/// How messages name an XML input: `standard input` for `-`, else the path.
pub fn input_name(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads an XML input: `stdin` for `-`, else the file.
pub fn read_xml(path: &Path, stdin: &mut dyn Read) -> Result<String> {
    let what = input_name(path);
    if path == Path::new("-") {
        return read_bounded(stdin, &what);
    }
    crate::files::read_text(path, MAX_XML_INPUT, &what)
}

/// Reads UTF-8 text of at most [`MAX_XML_INPUT`] bytes: every XML input goes through here.
pub fn read_bounded(reader: &mut dyn Read, what: &str) -> Result<String> {
    let mut text = String::new();
    reader
        .take(MAX_XML_INPUT + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("failed to read {what} as UTF-8 text"))?;
    anyhow::ensure!(
        text.len() as u64 <= MAX_XML_INPUT,
        "{what}: document is larger than {} MiB",
        MAX_XML_INPUT / (1024 * 1024)
    );
    Ok(text)
}

/// The device an `--xml FILE` names, and the stub a `<hostdev>` asks for.
#[derive(Debug)]
pub struct XmlTarget {
    /// The PCI function.
    pub address: PciAddress,
    /// The `<driver>` of a `<hostdev>` element; `None` for a node-device document.
    pub driver: Option<DriverRequest>,
}

/// `--xml FILE`: a `<hostdev>`/`<interface type='hostdev'>` element (with its
/// driver) or a node-device document (its PCI capability's address).
pub fn xml_target(path: &Path, stdin: &mut dyn Read) -> Result<XmlTarget> {
    let text = read_xml(path, stdin)?;
    let what = input_name(path);
    if let Ok(h) = nodedev_xml::hostdev_element(&text) {
        return Ok(XmlTarget {
            address: h.address,
            driver: Some(hostdev_driver(&h)?),
        });
    }
    let dev = nodedev_xml::parse(&text).with_context(|| {
        format!("{what}: neither a <hostdev> element nor a node-device document")
    })?;
    let pci = dev
        .capabilities
        .iter()
        .find_map(|c| match c {
            nodedev_xml::Capability::Pci(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| {
            virsh_error(&[format!(
                "invalid argument: device {} is not a PCI device",
                dev.name
            )])
        })?;
    let small = |v: u32, n: &str| {
        u8::try_from(v).with_context(|| format!("{what}: {n} {v} is out of range"))
    };
    let address = PciAddress::new(
        pci.domain,
        small(pci.bus, "bus")?,
        small(pci.slot, "slot")?,
        small(pci.function, "function")?,
    )
    .with_context(|| format!("{what}: not a PCI address"))?;
    Ok(XmlTarget {
        address,
        driver: None,
    })
}
