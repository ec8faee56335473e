//! Files named on the command line, which someone else may have made: XML inputs
//! are read as regular files only, within the parser's size limit; the snapshot
//! and the hook script are written without ever replacing a device node, FIFO or
//! symbolic link (`hostdev_manager::files` has the rules).
//!
//! `nodedev snapshot OUT`:
//!
//! | OUT | what happens |
//! |---|---|
//! | `-` | the tar goes to standard output |
//! | a new name, or an existing regular file | written to `OUT.partial` (created exclusively, mode 0600, same directory), synced, renamed to `OUT` |
//! | an existing `OUT.partial` | refused, both files left as they are |
//! | a character device or FIFO, or a link to one (`/dev/null`, `/dev/stdout` into a pipe) | written straight through; the node stays what it was |
//! | a link to a regular file, a dangling link, a block device, a directory | refused, nothing written |

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use hostdev_manager::files::{self, Delivered, OutputOptions};
use hostdev_manager::snapshot::{Capture, Snapshot};
use hostdev_manager::Sysfs;

use crate::cli::SnapshotArgs;

/// Reads a named XML file (not `-`): a regular file of at most `limit` bytes, as
/// UTF-8 text. `what` names it in messages.
pub fn read_text(path: &Path, limit: u64, what: &str) -> Result<String> {
    let bytes =
        files::read_regular(path, limit).with_context(|| format!("failed to read {what}"))?;
    String::from_utf8(bytes).with_context(|| format!("failed to read {what} as UTF-8 text"))
}

/// `nodedev snapshot OUT [--include-serials]`.
pub fn snapshot(sysfs: &dyn Sysfs, args: &SnapshotArgs, out: &mut dyn Write) -> Result<()> {
    let capture = Capture {
        include_serials: args.include_serials,
    };
    let snap = Snapshot::collect_with(sysfs, &capture);
    if args.output == Path::new("-") {
        snap.write_tar(out)?;
        return Ok(());
    }
    let opts = OutputOptions {
        mode: 0o600,
        stream_to_devices: true,
    };
    let mut write = |w: &mut dyn Write| snap.write_tar(w).map(drop);
    let delivered = files::write_output(&args.output, &opts, &mut write)
        .with_context(|| format!("snapshot not written to {}", args.output.display()))?;
    let how = match delivered {
        Delivered::Created | Delivered::Replaced => "",
        Delivered::Streamed => " (streamed)",
    };
    eprintln!(
        "Snapshot of {} sysfs entries written to {}{how}{}",
        snap.entries().len(),
        args.output.display(),
        if capture.include_serials {
            ", serial numbers included"
        } else {
            ""
        }
    );
    Ok(())
}

/// Writes an executable script (mode 0755) at `path` unless it already holds
/// exactly `script`: a regular file or a new name only, by rename from
/// `PATH.partial`.
pub fn install_script(path: &Path, script: &str) -> Result<()> {
    // The current content, if it is a small regular file (a FIFO there must not hang us).
    if files::read_regular(path, 64 << 10).ok().as_deref() == Some(script.as_bytes()) {
        return Ok(());
    }
    let opts = OutputOptions {
        mode: 0o755,
        stream_to_devices: false,
    };
    let mut write = |w: &mut dyn Write| -> io::Result<()> { w.write_all(script.as_bytes()) };
    files::write_output(path, &opts, &mut write)
        .with_context(|| format!("cannot install {}", path.display()))?;
    Ok(())
}
