//! How failures are printed: virsh's `error:` lines, one per message line, and the
//! marker for a batch whose failures were already printed device by device.

use std::fmt;
use std::io::Write;

use hostdev_manager::ops::OpError;

/// Longest piece of user input echoed back in a message; the rest is elided so a
/// 100 kB "device name" does not flood a log.
const MAX_ECHO: usize = 256;

/// An error virsh reports as one `error:` line per entry.
#[derive(Debug)]
pub struct VirshError {
    lines: Vec<String>,
    /// Whether virsh's blank line follows (not when no command ran: a failed
    /// connection).
    pub blank_line: bool,
}

impl VirshError {
    /// An error of these lines.
    pub fn new(lines: Vec<String>) -> Self {
        Self {
            lines,
            blank_line: true,
        }
    }

    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    /// An error of these lines printed before any command ran, without virsh's
    /// blank line (`failed to connect to the hypervisor`).
    pub fn before_command(lines: Vec<String>) -> Self {
        Self {
            lines,
            blank_line: false,
        }
    }
}

impl fmt::Display for VirshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

impl std::error::Error for VirshError {}

/// An error of virsh-style lines, as an `anyhow::Error`.
pub fn virsh_error(lines: &[String]) -> anyhow::Error {
    VirshError::new(lines.to_vec()).into()
}

/// User input as it may be echoed: control characters escaped, and cut after
/// [`MAX_ECHO`] characters with the full length said.
pub fn escape_controls(input: &str) -> String {
    let mut shown = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == MAX_ECHO {
            shown.push_str(&format!("… ({} bytes in all)", input.len()));
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_debug());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// virsh's two lines for a device name that matches nothing.
pub fn not_found(name: &str) -> anyhow::Error {
    let name = escape_controls(name);
    virsh_error(&[
        format!("Could not find matching device '{name}'"),
        format!("Node device not found: no node device with matching name '{name}'"),
    ])
}

/// A failed device's message: an engine error as it reads (its errno is already
/// in the text), anything else with its causes.
pub fn failure_message(e: &anyhow::Error) -> String {
    match e.downcast_ref::<OpError>() {
        Some(op) => op.to_string(),
        None => format!("{e:#}"),
    }
}

/// Prints one device's failure as virsh does: a lookup failure's own lines, else
/// `Failed to <verb> device X` and the message.
pub fn print_failure(
    err: &mut dyn Write,
    verb: &str,
    name: &str,
    e: &anyhow::Error,
) -> std::io::Result<()> {
    match e.downcast_ref::<VirshError>() {
        Some(v) => {
            for line in &v.lines {
                writeln!(err, "error: {line}")?;
            }
        }
        None => {
            writeln!(
                err,
                "error: Failed to {verb} device {}",
                escape_controls(name)
            )?;
            writeln!(err, "error: {}", failure_message(e))?;
        }
    }
    Ok(())
}

/// Prints a failure the way virsh does: one `error:` line per message line.
pub fn report(e: &anyhow::Error, err: &mut dyn Write) {
    if let Some(v) = e.downcast_ref::<VirshError>() {
        for line in &v.lines {
            let _ = writeln!(err, "error: {line}");
        }
    } else {
        let _ = writeln!(err, "error: {e:#}");
    }
}

/// A failure whose messages were already printed (a batch with failed devices).
#[derive(Debug)]
pub struct ReportedFailure;

impl fmt::Display for ReportedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one or more operations failed")
    }
}

impl std::error::Error for ReportedFailure {}

/// Whether the failure is a closed pipe on our output (`nodedev list | head`),
/// which is not an error of the command.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_control_input_is_shown_safely() {
        assert_eq!(escape_controls("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let long = "x".repeat(100_000);
        let shown = escape_controls(&long);
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.ends_with("… (100000 bytes in all)"));
    }
}
