//! Shared test support: running the real `nodedev` binary, golden files, and a
//! builder for hand-made sysfs trees (for what no kernel here can show).
#![allow(dead_code)]

pub mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The system's pci.ids, which the golden files were made with.
pub fn pci_ids() -> PathBuf {
    for p in ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("no pci.ids on this system: run tests/run (it installs Debian's pci.ids package)");
}

/// Runs `nodedev` with a clean environment and the given root.
pub fn nodedev(root: &Path, args: &[&str]) -> Output {
    nodedev_with_input(root, args, None)
}

/// Runs `nodedev` with standard input.
pub fn nodedev_with_input(root: &Path, args: &[&str], input: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodedev"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--root")
        .arg(root)
        .arg("--pci-ids")
        .arg(pci_ids())
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run nodedev");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input);
    }
    child.wait_with_output().expect("wait for nodedev")
}

/// Runs `nodedev` and returns stdout, failing the test (with stderr) on a non-zero exit.
pub fn stdout_ok(root: &Path, args: &[&str]) -> String {
    let out = nodedev(root, args);
    assert!(
        out.status.success(),
        "nodedev {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Compares `actual` with the golden file; `NODEDEV_BLESS=1` rewrites it.
/// Returns a description of the mismatch instead of panicking, so a test can
/// report every mismatching file at once.
pub fn check_golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("NODEDEV_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: {e} (run with NODEDEV_BLESS=1 to create it, then check it by hand)",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{} differs at line {}:\n  expected: {:?}\n  actual:   {:?}",
        path.display(),
        first + 1,
        expected.lines().nth(first).unwrap_or("<end>"),
        actual.lines().nth(first).unwrap_or("<end>")
    ))
}

/// libvirt's schema directory (set by tests/run).
pub fn libvirt_schemas() -> PathBuf {
    let dir = std::env::var_os("NODEDEV_LIBVIRT_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default();
            std::env::var_os("NODEDEV_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join(".cache/nodedev-shim"))
                .join("libvirt-schemas")
        });
    assert!(
        dir.join("nodedev.rng").is_file(),
        "libvirt's nodedev.rng is not in {}: run tests/setup/libvirt-schemas.sh (tests/run does)",
        dir.display()
    );
    dir
}

/// Validates a document with `xmllint --relaxng`; Err carries xmllint's complaint.
pub fn validate(schema: &Path, xml: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("xmllint")
        .args(["--noout", "--relaxng"])
        .arg(schema)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xmllint is not installed: run tests/run (it installs libxml2-utils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// What a run of `main`'s own code printed and returned.
pub struct SimRun {
    /// The exit status.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `main`'s own code (`nodedev_cli::main_with`) with the simulated kernel
/// behind it (its module loader too) and a 5 s unbind timeout.
pub fn run_sim(sim: &pci_sim::SimKernel, argv: &[&str], input: &[u8]) -> SimRun {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = input;
    let code = nodedev_cli::main_with(
        argv.iter().map(std::ffi::OsString::from).collect(),
        |cli| {
            let mut b = nodedev_cli::Backend::new(
                nodedev_cli::Host::live(std::sync::Arc::new(sim.clone())),
                std::sync::Arc::new(sim.clone()),
                cli,
            );
            b.unbind_timeout = std::time::Duration::from_secs(5);
            Ok(b)
        },
        nodedev_cli::Stdio {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    SimRun {
        code: i32::from(code),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}
