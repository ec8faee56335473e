//! Reads one document from standard input with the parser the CLI uses for it, for
//! the hostile-input benchmark (`tests/bench/hostile-xml.sh`):
//!
//! ```sh
//! cargo run --release -p nodedev-xml --example read_stdin -- node-device < device.xml
//! cargo run --release -p nodedev-xml --example read_stdin -- domain < domain.xml   # the hook's reader
//! cargo run --release -p nodedev-xml --example read_stdin -- hostdev < hostdev.xml # detach --xml
//! ```
//!
//! Prints what was read (or the error) on standard error; exits 1 on an error.

use std::io::Read;

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    let mut xml = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut xml) {
        eprintln!("reading standard input: {e}");
        std::process::exit(2);
    }
    let result = match kind.as_str() {
        "node-device" => nodedev_xml::normalize(&xml).map(|out| format!("{} bytes", out.len())),
        "domain" => nodedev_xml::domain_hostdevs(&xml).map(|d| format!("{d:?}")),
        "hostdev" => nodedev_xml::hostdev_element(&xml).map(|d| format!("{d:?}")),
        _ => {
            eprintln!("usage: read_stdin node-device|domain|hostdev < FILE");
            std::process::exit(2);
        }
    };
    match result {
        Ok(summary) => eprintln!("ok: {summary}"),
        Err(e) => {
            let msg = e.to_string();
            let short: String = msg.chars().take(300).collect();
            eprintln!("error: {short}");
            std::process::exit(1);
        }
    }
}
