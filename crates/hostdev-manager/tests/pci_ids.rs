//! The pci.ids lookup against the system's real database (Debian package
//! `pci.ids`, which tests/run installs), and its load time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hostdev_manager::pci_ids::{PciIds, DEFAULT_PCI_IDS_PATHS};

fn system_pci_ids() -> PathBuf {
    DEFAULT_PCI_IDS_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no pci.ids at {DEFAULT_PCI_IDS_PATHS:?}: install Debian's `pci.ids` package \
                 (apt-get install pci.ids; tests/run does it)"
            )
        })
}

#[test]
fn real_file_well_known_ids() {
    let db = PciIds::load(&system_pci_ids()).unwrap();
    assert_eq!(db.vendor_name(0x8086), Some("Intel Corporation"));
    assert_eq!(
        db.device_name(0x8086, 0x10d3),
        Some("82574L Gigabit Network Connection")
    );
    assert_eq!(db.vendor_name(0x1af4), Some("Red Hat, Inc."));
    assert_eq!(
        db.device_name(0x1af4, 0x1000),
        Some("Virtio network device")
    );
    assert_eq!(
        db.device_name(0x1af4, 0x1041),
        Some("Virtio 1.0 network device")
    );
    assert_eq!(db.vendor_name(0x1b36), Some("Red Hat, Inc."));
    assert_eq!(
        db.device_name(0x1b36, 0x0010),
        Some("QEMU NVM Express Controller")
    );
    assert_eq!(db.vendor_name(0x15b3), Some("Mellanox Technologies"));
    // Non-ASCII survives.
    assert_eq!(
        db.vendor_name(0x15cf),
        Some("Hilscher Gesellschaft für Systemautomation mbH")
    );
    // Not in the database: libvirt prints the id alone.
    assert_eq!(db.device_name(0x8086, 0xfffe), None);
    assert_eq!(db.vendor_name(0x0000), None);
    // The subsystem line "8086 a01f  Gigabit CT Desktop Adapter" under 10d3
    // names no device a01f.
    assert_eq!(db.device_name(0x8086, 0xa01f), None);
    // Class names, as `lspci -nn` prints them.
    assert_eq!(db.class_name(0x030000), Some("VGA compatible controller"));
    assert_eq!(db.class_name(0x040300), Some("Audio device"));
    assert_eq!(db.class_name(0x060400), Some("PCI bridge"));
    assert_eq!(
        db.class_name(0x010802),
        Some("Non-Volatile memory controller")
    );
    assert_eq!(db.class_name(0x00ff00), Some("Unclassified device"));
    assert_eq!(db.class_name(0xff0000), Some("Unassigned class"));
}

/// Parses the real file repeatedly and prints the best and median times:
/// `cargo test -p hostdev-manager --release --test pci_ids real_file_load_time -- --nocapture`.
/// The bound only catches a pathological regression (debug builds on a busy
/// machine included).
#[test]
fn real_file_load_time() {
    let path = system_pci_ids();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut parse_times: Vec<Duration> = (0..15)
        .map(|_| {
            let t = Instant::now();
            let db = PciIds::parse(&text);
            let elapsed = t.elapsed();
            assert!(db.vendor_name(0x8086).is_some());
            elapsed
        })
        .collect();
    parse_times.sort();
    let t = Instant::now();
    let db = PciIds::load(Path::new(&path)).unwrap();
    let load = t.elapsed();
    // 4,096 lookups, as `dumpxml --all` on a big host would do.
    let t = Instant::now();
    let mut found = 0;
    for i in 0..4096u16 {
        found += usize::from(db.device_name(0x8086, 0x1000 + i).is_some());
        found += usize::from(db.vendor_name(i).is_some());
    }
    let lookups = t.elapsed();
    println!(
        "pci.ids: {} bytes, {:?}; parse best {:?}, median {:?}; load (read+parse) {:?}; \
         4096 vendor+device lookups {:?} ({found} found)",
        text.len(),
        db,
        parse_times[0],
        parse_times[parse_times.len() / 2],
        load,
        lookups,
    );
    assert!(
        parse_times[0] < Duration::from_secs(2),
        "{:?}",
        parse_times[0]
    );
}
