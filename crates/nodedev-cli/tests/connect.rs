//! `--connect` in both builds (with and without the `libvirt` feature): the hook
//! refuses it before contacting anything, a build without the backend says so, and
//! one with it does contact the socket it is given (a listener here stands in for
//! libvirtd's socket and counts the connections it gets). The real daemon is in the
//! oracle lanes (tests/rig/host-oracle.sh, guest/oracle.sh).

use std::io::ErrorKind;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const DOMAIN: &str = "<domain type='kvm'><name>vm1</name><devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/></source></hostdev></devices></domain>";

fn run(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodedev"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// A listener on a fresh socket path, and libvirt's URI for it.
fn fake_daemon(dir: &Path) -> (UnixListener, String) {
    let sock = dir.join("libvirt-sock");
    let l = UnixListener::bind(&sock).unwrap();
    l.set_nonblocking(true).unwrap();
    (l, format!("qemu+unix:///system?socket={}", sock.display()))
}

/// How many connections the listener got (accepted and closed at once, so that
/// a client waiting for an answer gets end-of-file).
fn connections(l: &UnixListener) -> usize {
    let mut n = 0;
    loop {
        match l.accept() {
            Ok(_) => n += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return n,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn the_hook_refuses_to_connect_and_contacts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, uri) = fake_daemon(dir.path());
    let state = dir.path().join("state");
    for args in [
        vec!["hook", "qemu", "vm1", "prepare", "begin", "-"],
        vec!["hook", "qemu", "vm1", "release", "end", "-"],
        vec!["hook", "qemu", "vm1", "started", "begin", "-"],
    ] {
        let mut full = vec!["--connect", &uri, "--state-dir", state.to_str().unwrap()];
        full.extend(&args);
        let out = run(&full, &[], DOMAIN.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("nodedev hook never connects to libvirt") && err.contains("deadlocks"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(connections(&listener), 0, "the hook contacted the socket");
    assert!(!state.exists(), "the hook wrote state before refusing");
}

#[test]
fn without_connect_no_daemon_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, uri) = fake_daemon(dir.path());
    // LIBVIRT_DEFAULT_URI is virsh mode's only; our own commands never read it.
    let out = run(
        &["list", "--cap", "pci"],
        &[("LIBVIRT_DEFAULT_URI", &uri)],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(connections(&listener), 0);
}

#[test]
fn version_says_whether_the_backend_is_built_in() {
    let out = run(&["--version"], &[], b"");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = if cfg!(feature = "libvirt") {
        "libvirt backend: yes"
    } else {
        "libvirt backend: no"
    };
    assert!(text.contains(want), "{text}");
}

#[test]
fn event_list_and_refusals() {
    let out = run(&["event", "--list"], &[], b"");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "lifecycle\nupdate\n\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["--root", dir.path().to_str().unwrap(), "event", "--all"],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("snapshot"),
        "{out:?}"
    );
}

#[cfg(not(feature = "libvirt"))]
#[test]
fn a_build_without_the_backend_refuses_connect() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, uri) = fake_daemon(dir.path());
    for args in [
        vec!["--connect", &uri, "list"],
        vec!["--connect", &uri, "detach", "pci_0000_00_01_0"],
        vec!["check"],
    ] {
        let out = run(&args, &[], b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--features libvirt"), "{args:?}: {err}");
    }
    // virsh mode's -c keeps its daemonless meaning in this build.
    let out = run(
        &["virsh", "-c", &uri, "nodedev-list", "--cap", "system"],
        &[],
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "computer\n\n");
    assert_eq!(connections(&listener), 0);
}

#[cfg(feature = "libvirt")]
#[test]
fn a_build_with_the_backend_contacts_the_socket_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, uri) = fake_daemon(dir.path());
    // Our --connect, virsh mode's -c, and LIBVIRT_DEFAULT_URI in virsh mode: each
    // reaches the listener (which hangs up, so the command fails with libvirt's
    // message); the hang guard is the listener loop's deadline.
    for (args, env) in [
        (vec!["--connect", uri.as_str(), "list"], vec![]),
        (
            vec![
                "--connect",
                uri.as_str(),
                "event",
                "--all",
                "--timeout",
                "60",
            ],
            vec![],
        ),
        (vec!["virsh", "-c", uri.as_str(), "nodedev-list"], vec![]),
        (
            vec!["virsh", "nodedev-list"],
            vec![("LIBVIRT_DEFAULT_URI", uri.as_str())],
        ),
    ] {
        let child = {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodedev"));
            cmd.env_clear()
                .args(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in &env {
                cmd.env(k, v);
            }
            cmd.spawn().unwrap()
        };
        use std::time::{Duration, Instant};
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = 0;
        while got == 0 && Instant::now() < deadline {
            got = connections(&listener);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(got, 1, "{args:?}: no connection");
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    // A socket nobody listens on: virsh's two lines, no blank line (no command ran).
    let gone = format!("qemu+unix:///system?socket={}/none", dir.path().display());
    let out = run(&["--connect", &gone, "list"], &[], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "error: failed to connect to the hypervisor\nerror: Failed to connect socket to "
        ),
        "{err}"
    );
    // What only nodedev does is refused before connecting.
    for args in [
        vec!["detach", "--persistent", "pci_0000_00_01_0"],
        vec!["detach", "--dry-run", "pci_0000_00_01_0"],
        vec!["reattach", "--force", "pci_0000_00_01_0"],
        vec!["reset", "--method", "flr", "pci_0000_00_01_0"],
        vec!["groups"],
        vec!["event", "--all", "--source", "kernel"],
    ] {
        let mut full = vec!["--connect", uri.as_str()];
        full.extend(&args);
        let out = run(&full, &[], b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--connect"), "{args:?}: {err}");
    }
    assert_eq!(connections(&listener), 0);
}

/// Whether the process has a handler for SIGINT (`SigCgt` in its status): then a
/// SIGINT reaches the handler instead of ending the process.
fn catches_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

#[test]
fn ctrl_c_ends_the_event_loop_as_virsh_does() {
    // The kernel's uevents, no daemon; `computer` never has events, so nothing
    // but the interrupt can end the loop.
    let child = Command::new(env!("CARGO_BIN_EXE_nodedev"))
        .env_clear()
        .args([
            "event", "--loop", "--all", "--source", "kernel", "--device", "computer",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !catches_sigint(child.id()) {
        assert!(std::time::Instant::now() < deadline, "never caught SIGINT");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event loop interrupted\nevents received: 0\n\n",
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}
