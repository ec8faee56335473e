//! `hold_lock FILE SECONDS`: takes the exclusive `flock` of FILE and sleeps, as a
//! stuck process holding one of nodedev's lock files would. The real-kernel lane
//! uses it to check that the next command gives up within its lock timeout and
//! names the holder (busybox has no `flock`).

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(secs)) = (args.get(1), args.get(2).and_then(|s| s.parse().ok())) else {
        eprintln!("usage: hold_lock FILE SECONDS");
        std::process::exit(2);
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| {
            eprintln!("hold_lock: {path}: {e}");
            std::process::exit(1)
        });
    if let Err(e) = file.lock() {
        eprintln!("hold_lock: {path}: {e}");
        std::process::exit(1);
    }
    std::thread::sleep(Duration::from_secs(secs));
}
