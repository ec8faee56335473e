//! Runs every fuzz harness a bounded number of times (see docs/testing.md):
//! `cargo test -p nodedev-fuzz` for all, `cargo test -p nodedev-fuzz -- NAME…`
//! for some; `NODEDEV_FUZZ_CASES` and `NODEDEV_FUZZ_SEED` change the budget and
//! the seed. One process runs the harnesses one after another, so the memory
//! ceiling holds per harness, and prints one report line each.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use nodedev_fuzz::driver::{run, Config};
use nodedev_fuzz::{harness, Harness};

const XML_TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"'",
    b"\"",
    b"=",
    b"&",
    b";",
    b"&amp;",
    b"&lt;",
    b"&#x41;",
    b"&#0;",
    b"&#x1b;",
    b"&#13;",
    b"&#9;",
    b"&#xFFFE;",
    b"&bogus;",
    b"]]>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0'?>",
    b"<!DOCTYPE d [<!ENTITY e 'x'>]>",
    b"\r\n",
    b"\r",
    b"\t",
    b"\0",
    b"\x1b[2J",
    b"\x1a",
    b"\xef\xbf\xbf",
    b"\xc3\xa9",
    b" a='1'",
    b" xmlns:x='urn:x'",
    b"xmlns=",
    b"x:",
    b"<capability type='pci'>",
    b"</capability>",
    b"<address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>",
    b"0x",
    b"-1",
    b"4294967296",
    b"99999999999",
    b"type=",
    b"index=",
    b"access='readonly'",
];

const DOMAIN_TOKENS: &[&[u8]] = &[
    b"<hostdev mode='subsystem' type='pci' managed='no'>",
    b"</hostdev>",
    b"<interface type='hostdev'>",
    b"</interface>",
    b"<source>",
    b"</source>",
    b"<address domain='0' bus='1' slot='0' function='0'/>",
    b"<driver name='vfio' model='m'/>",
    b"<metadata>",
    b"</metadata>",
    b"<shim:hostdevs xmlns:shim='https://nodedev-shim.dev/xmlns/hook/1'>",
    b"</shim:hostdevs>",
    b"<shim:group address='0000:01:00.0'/>",
    b"<shim:device address='01:00.1'/>",
    b"<shim:skip address='pci_0000_02_00_0'/>",
    b" xmlns='https://nodedev-shim.dev/xmlns/hook/1'",
    b"<app:x xmlns:app='urn:a'>",
    b"</app:x>",
    b"managed='yes'",
    b"0x",
    b"07",
];

const ADDRESS_TOKENS: &[&[u8]] = &[
    b"pci_",
    b"_",
    b":",
    b".",
    b"0000",
    b"ffff",
    b"FFFF",
    b"1f",
    b"20",
    b"7",
    b"8",
    b"ffffffff",
    b"100000000",
    b"\n",
    b" ",
    b"\0",
    b"-",
    b"+",
    b"0x",
];

const VPD_TOKENS: &[&[u8]] = &[
    b"\x82\x08\x00testname",
    b"\x90\x16\x00",
    b"\x91\x19\x00",
    b"PN\x02",
    b"EC\x04",
    b"SN\x03",
    b"MN\x01",
    b"VA\x02",
    b"YA\x04",
    b"YF\x02",
    b"RV\x02\x00\x00",
    b"RW\x02\x00\x00",
    b"CP\x04",
    b"\x78",
    b"\x79",
    b"\x7f",
    b"\xff\xff",
    b"\x00",
    b"\x1b",
];

const PCI_IDS_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\t",
    b"\t\t",
    b"\t\t\t",
    b"8086  Intel Corporation\n",
    b"\t10d3  82574L\n",
    b"\t\t8086 a01f  Subsystem\n",
    b"C 02  Network controller\n",
    b"# comment\n",
    b"\r\n",
    b"\0",
    b"08086  ",
    b"ffffffffffffffffffff",
    b"\xc3\xa9",
    b"\xe2\x82\xac",
];

const UDEV_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r",
    b"E:",
    b"S:",
    b"I:",
    b"G:",
    b"=",
    b"E:ID_TYPE=disk\n",
    b"E:ID_SERIAL=",
    b"S:disk/by-id/",
    b"DEVTYPE=",
    b"MAJOR=8\n",
    b"\0",
    b"\xff",
    b":",
];

fn config(
    name: &'static str,
    extra_seeds: &'static [&'static str],
    dictionary: &'static [&'static [u8]],
    cases: usize,
) -> Config {
    Config {
        name,
        extra_seeds,
        dictionary,
        cases,
        max_len: 256 * 1024,
        case_timeout: Duration::from_secs(60),
        max_rss_bytes: 512 << 20,
    }
}

fn harnesses() -> Vec<(Config, Harness)> {
    let samples: &[&str] = &["crates/nodedev-xml/tests/samples"];
    vec![
        (
            config("node_device_xml", samples, XML_TOKENS, 60_000),
            harness::node_device_xml,
        ),
        (
            config("node_device_model", &[], &[], 15_000),
            harness::node_device_model,
        ),
        (
            config("domain_xml", &[], DOMAIN_TOKENS, 60_000),
            harness::domain_xml,
        ),
        (
            config("hostdev_xml", &[], DOMAIN_TOKENS, 30_000),
            harness::hostdev_xml,
        ),
        (
            config("pci_address", &[], ADDRESS_TOKENS, 50_000),
            harness::pci_address,
        ),
        (
            config("driver_name", &[], ADDRESS_TOKENS, 50_000),
            harness::driver_name,
        ),
        (config("vpd", &[], VPD_TOKENS, 50_000), harness::vpd),
        (
            config("pci_ids", &[], PCI_IDS_TOKENS, 20_000),
            harness::pci_ids,
        ),
        (
            config("snapshot_tar", &[], &[], 8_000),
            harness::snapshot_tar,
        ),
        (
            config("udev_data", &[], UDEV_TOKENS, 20_000),
            harness::udev_data,
        ),
        (config("class_tree", &[], &[], 6_000), harness::class_tree),
    ]
}

fn main() {
    // `cargo test` passes its own flags through (`--quiet`, `--nocapture`…):
    // words that are not flags select harnesses by name.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (config, harness) in harnesses() {
        if !wanted.is_empty() && !wanted.iter().any(|w| config.name.contains(w.as_str())) {
            continue;
        }
        ran += 1;
        match panic::catch_unwind(AssertUnwindSafe(|| run(&config, harness))) {
            Ok(report) => println!("fuzz {report}"),
            Err(_) => {
                println!("fuzz {}: FAILED (see the message above)", config.name);
                failed.push(config.name);
            }
        }
    }
    if ran == 0 {
        println!("fuzz: no harness matches {wanted:?}");
    }
    if !failed.is_empty() {
        println!("fuzz: failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}
