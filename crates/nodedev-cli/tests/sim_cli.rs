//! The `nodedev` commands (through the library entry point, as main calls it)
//! against the simulated kernel: virsh's output for detach/reattach batches,
//! `--dry-run`, `--json` and `list --detached`.

use std::sync::Arc;

use clap::Parser;
use nodedev_cli::cli::Cli;
use nodedev_cli::{report, run, Backend, Host, ReportedFailure};
use pci_sim::{DeviceSpec, DriverSpec, SimKernel};

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn sim() -> SimKernel {
    let s = SimKernel::new();
    s.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    s.load_driver(DriverSpec::vfio_pci());
    s.add_device(DeviceSpec::endpoint("0000:00:01.0", 0x8086, 0x10d3, 1));
    s.add_device(DeviceSpec::endpoint("0000:00:02.0", 0x8086, 0x10d3, 2));
    s
}

fn nodedev(sim: &SimKernel, state: &std::path::Path, args: &[&str]) -> Outcome {
    let mut argv = vec!["nodedev", "--state-dir", state.to_str().unwrap()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    let backend = Backend {
        host: Host::live(Arc::new(sim.clone())),
        modules: Arc::new(sim.clone()),
        state_dir: state.to_path_buf(),
        unbind_timeout: std::time::Duration::from_secs(5),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match run(&cli, &backend, &mut out, &mut err) {
        Ok(()) => 0,
        Err(e) => {
            if e.downcast_ref::<ReportedFailure>().is_none() {
                report(&e, &mut err);
            }
            1
        }
    };
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

#[test]
fn detach_and_reattach_print_what_virsh_prints() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = nodedev(&s, dir.path(), &["detach", "pci_0000_00_01_0", "00:02.0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "Device pci_0000_00_01_0 detached\nDevice 00:02.0 detached\n\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("vfio-pci"));
    let o = nodedev(&s, dir.path(), &["list", "--detached"]);
    assert_eq!(
        o.stdout,
        "pci_0000_00_01_0  e1000e -> vfio-pci (override)\npci_0000_00_02_0  e1000e -> vfio-pci (override)\n\n"
    );
    let o = nodedev(
        &s,
        dir.path(),
        &["-q", "reattach", "pci_0000_00_01_0", "pci_0000_00_02_0"],
    );
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
    assert_eq!(
        nodedev(&s, dir.path(), &["-q", "list", "--detached"]).stdout,
        ""
    );
}

#[test]
fn a_failing_device_fails_the_batch_with_virsh_errors() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    s.fail_write("0000:00:02.0/driver_override", 1, 5);
    let o = nodedev(
        &s,
        dir.path(),
        &[
            "detach",
            "pci_0000_00_01_0",
            "pci_0000_00_02_0",
            "pci_0000_00_09_0",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "Device pci_0000_00_01_0 detached\n\n");
    assert_eq!(
        o.stderr,
        "error: Failed to detach device pci_0000_00_02_0\n\
         error: Failed to add driver 'vfio-pci' to driver_override interface of PCI device '0000:00:02.0': Input/output error (EIO) (device is on e1000e)\n\
         error: Could not find matching device 'pci_0000_00_09_0'\n\
         error: Node device not found: no node device with matching name 'pci_0000_00_09_0'\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("vfio-pci"));
    assert_eq!(s.driver_of("0000:00:02.0").as_deref(), Some("e1000e"));
}

#[test]
fn dry_run_and_json() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = nodedev(&s, dir.path(), &["detach", "--dry-run", "pci_0000_00_01_0"]);
    assert_eq!(
        o.stdout,
        "Would detach pci_0000_00_01_0:\n  \
         write 'vfio-pci' to /sys/bus/pci/devices/0000:00:01.0/driver_override\n  \
         write '0000:00:01.0' to /sys/bus/pci/devices/0000:00:01.0/driver/unbind\n  \
         write '0000:00:01.0' to /sys/bus/pci/drivers_probe\n\n"
    );
    assert!(s.writes().is_empty());
    let o = nodedev(
        &s,
        dir.path(),
        &["detach", "--json", "pci_0000_00_01_0", "nosuch"],
    );
    assert_eq!(o.code, 1);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["outcomes"][0]["driver_after"], "vfio-pci");
    assert_eq!(v[0]["outcomes"][0]["writes"].as_array().unwrap().len(), 3);
    assert_eq!(v[1]["ok"], false);
    assert!(v[1]["error"]
        .as_str()
        .unwrap()
        .contains("Could not find matching device 'nosuch'"));
}

fn virsh(sim: &SimKernel, state: &std::path::Path, args: &[&str]) -> Outcome {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match nodedev_cli::virsh::translate(&argv) {
        Ok(ours) => {
            let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
            nodedev(sim, state, &ours)
        }
        Err(nodedev_cli::virsh::Refusal(lines, _)) => Outcome {
            code: 1,
            stdout: String::new(),
            stderr: lines.iter().map(|l| format!("error: {l}\n")).collect(),
        },
    }
}

#[test]
fn virsh_mode_detach_and_reattach() {
    let s = sim();
    let dir = tempfile::tempdir().unwrap();
    let o = virsh(
        &s,
        dir.path(),
        &["nodedev-dettach", "pci_0000_00_01_0", "--driver", "vfio"],
    );
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "Device pci_0000_00_01_0 detached\n\n", "")
    );
    let o = virsh(
        &s,
        dir.path(),
        &["-q", "nodedev-reattach", "--device", "pci_0000_00_01_0"],
    );
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    // virsh looks devices up by exact name only.
    let o = virsh(&s, dir.path(), &["nodedev-detach", "0000:00:01.0"]);
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "error: Could not find matching device '0000:00:01.0'\nerror: Node device not found: no node device with matching name '0000:00:01.0'\n"
    );
    assert_eq!(
        o.stdout, "\n",
        "virsh's blank line follows a failed command too"
    );
    let o = virsh(
        &s,
        dir.path(),
        &["nodedev-detach", "pci_0000_00_01_0", "--driver", "kvm"],
    );
    assert_eq!(
        o.stderr,
        "error: Failed to detach device pci_0000_00_01_0\nerror: argument unsupported: 'legacy KVM' device assignment is no longer supported on this system\n"
    );
    assert_eq!(s.driver_of("0000:00:01.0").as_deref(), Some("e1000e"));
}
