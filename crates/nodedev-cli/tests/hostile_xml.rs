//! Issue 11's acceptance for XML, end to end: a document of 1.5 million
//! attributes (under the 16 MiB cap) is refused by `nodedev xml normalize -` (the
//! real binary) and read by the libvirt hook when the attributes sit in a
//! domain's `<metadata>` (the hook's entry point against the simulated kernel:
//! the VM's device is detached as if the metadata were not there). Characters
//! XML forbids are refused with a message naming them. Each run has a generous
//! hang guard; the times are in docs/benchmarks.md.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use std::ffi::OsString;

use nodedev_cli::{Backend, Host};
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};

/// Minutes, for a debug build on a busy 2-core machine; the quadratic parser
/// needed hours for these inputs.
const GUARD: Duration = Duration::from_secs(300);

/// `n` distinct attributes ` a=''`, ` b=''`, …: 1.5 million fit in 12 MB.
fn attrs(n: usize) -> String {
    const L: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = String::with_capacity(n * 9);
    for mut i in 0..n {
        let (mut width, mut count) = (1, L.len());
        while i >= count {
            i -= count;
            width += 1;
            count *= L.len();
        }
        let mut name = vec![b'a'; width];
        for c in name.iter_mut().rev() {
            *c = L[i % L.len()];
            i /= L.len();
        }
        out.push(' ');
        out.push_str(std::str::from_utf8(&name).unwrap());
        out.push_str("=''");
    }
    out
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The real binary with `input` on standard input, killed (and the test failed)
/// if it has not finished within the guard.
fn nodedev(args: &[&str], input: Vec<u8>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodedev"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nodedev runs");
    let mut stdin = child.stdin.take().unwrap();
    // A refusal may close standard input before all of it is written.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > GUARD {
            let _ = child.kill();
            panic!("nodedev {args:?} did not finish within {GUARD:?} (hang guard)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn normalize_refuses_an_element_with_1_5_million_attributes() {
    let doc = format!(
        "<device><name{}>computer</name><capability type='system'><hardware><uuid>00000000-0000-0000-0000-000000000000</uuid></hardware><firmware/></capability></device>",
        attrs(1_500_000)
    );
    assert!(doc.len() < 16 << 20, "{} bytes", doc.len());
    let r = nodedev(&["xml", "normalize", "-"], doc.into_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        r.stderr.contains("<name> has more than 256 attributes"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.len() < 1000, "{} bytes of message", r.stderr.len());
}

#[test]
fn normalize_refuses_characters_xml_forbids_naming_them() {
    for (doc, needle) in [
        (
            &b"<device><name>a\0b</name></device>"[..],
            "character U+0000 at byte 15",
        ),
        (
            b"<device><name>\x1b[2J</name></device>",
            "character U+001B at byte 14",
        ),
        (
            b"<device><name>&#x1a;</name></device>",
            "character reference '&#x1a;'",
        ),
    ] {
        let r = nodedev(&["xml", "normalize", "-"], doc.to_vec());
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stdout, "");
        assert!(r.stderr.contains(needle), "{}", r.stderr);
    }
}

/// Runs `main`'s own code (`nodedev_cli::main_with`) with a simulated kernel.
fn run_sim(sim: &SimKernel, argv: &[&str], input: &[u8]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = input;
    let code = nodedev_cli::main_with(
        argv.iter().map(OsString::from).collect(),
        |cli| {
            let mut b = Backend::new(
                Host::live(Arc::new(sim.clone())),
                Arc::new(sim.clone()),
                cli,
            );
            b.unbind_timeout = Duration::from_secs(5);
            Ok(b)
        },
        nodedev_cli::Stdio {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    Run {
        code: i32::from(code),
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

#[test]
fn the_hook_reads_a_domain_whose_metadata_has_1_5_million_attributes() {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    sim.add_device(DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10d3, 2));
    let domain = format!(
        "<domain type='kvm'><name>vm</name><metadata><app:data xmlns:app='urn:example:app'{}/></metadata>\
         <devices><hostdev mode='subsystem' type='pci' managed='no'>\
         <source><address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/></source>\
         </hostdev></devices></domain>",
        attrs(1_500_000)
    );
    assert!(domain.len() < 16 << 20, "{} bytes", domain.len());
    let state = tempfile::tempdir().unwrap();
    let (tx, rx) = mpsc::channel();
    {
        let (sim, state) = (sim.clone(), state.path().to_path_buf());
        std::thread::spawn(move || {
            let argv = [
                "nodedev",
                "--state-dir",
                state.to_str().unwrap(),
                "hook",
                "qemu",
                "vm",
                "prepare",
                "begin",
                "-",
            ];
            let _ = tx.send(run_sim(&sim, &argv, domain.as_bytes()));
        });
    }
    let r = rx
        .recv_timeout(GUARD)
        .unwrap_or_else(|_| panic!("the hook did not finish within {GUARD:?} (hang guard)"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "a qemu.d hook prints nothing on stdout");
    assert_eq!(sim.driver_of("0000:02:00.0").as_deref(), Some("vfio-pci"));
    assert!(r.stderr.contains("detached 0000:02:00.0"), "{}", r.stderr);
}
