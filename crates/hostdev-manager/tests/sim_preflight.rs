//! `Engine::preflight` against the simulated kernel: it writes nothing (no sysfs
//! write, no record, no lock file, no cache, no module loaded), its plan is the
//! one `detach --dry-run` gives, its first blocker is what `detach` refuses with
//! (one code path), and it lists every refusal where `detach` stops at the first.

mod common;

use std::path::Path;

use common::{addr, opts, rig};
use hostdev_manager::ops::{
    DetachOptions, DriverStatus, Engine, MethodChoice, OpError, PreflightReport, Standing, Verdict,
};
use hostdev_manager::state::StateDir;
use pci_sim::{DeviceSpec, DriverSpec, Knobs, SimKernel};

fn vfio() -> DetachOptions {
    opts(None, MethodChoice::Auto)
}

fn dry(o: &DetachOptions) -> DetachOptions {
    DetachOptions {
        dry_run: true,
        ..o.clone()
    }
}

/// Files under a directory, recursively (the state directory must stay empty).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path().display().to_string());
            out.extend(files_under(&e.path()));
        }
    }
    out
}

/// Runs a preflight and checks that nothing anywhere changed: no sysfs write,
/// no file in the state directory, no driver loaded, no device moved.
fn preflight(
    sim: &SimKernel,
    engine: &Engine,
    state: &Path,
    bdf: &str,
    o: &DetachOptions,
) -> PreflightReport {
    use hostdev_manager::Sysfs;
    let drivers = Path::new("/sys/bus/pci/drivers");
    let loaded_before = sim.read_dir(drivers).unwrap();
    let driver_before = sim.driver_of(bdf);
    let report = engine.preflight(addr(bdf), o).unwrap();
    assert!(
        sim.writes().is_empty(),
        "preflight wrote {:?}",
        sim.writes()
    );
    assert!(
        files_under(state).is_empty(),
        "preflight left files: {:?}",
        files_under(state)
    );
    assert_eq!(
        sim.read_dir(drivers).unwrap(),
        loaded_before,
        "a module was loaded"
    );
    assert_eq!(sim.driver_of(bdf), driver_before);
    report
}

fn plan_writes(outcomes: &[hostdev_manager::ops::Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .flat_map(|o| {
            std::iter::once(format!("{}:", o.address)).chain(o.writes.iter().map(|w| w.to_string()))
        })
        .collect()
}

#[test]
fn ready_device_plans_what_a_dry_run_plans_and_writes_nothing() {
    let r = rig(Knobs::default());
    let state = r.dir.path().join("state");
    let report = preflight(&r.sim, &r.engine, &state, common::NIC, &vfio());
    assert_eq!(report.verdict, Verdict::Ready, "{:?}", report.blockers);
    assert!(report.blockers.is_empty());
    assert_eq!(report.target.name, "vfio-pci");
    assert_eq!(report.target.status, DriverStatus::Loaded);
    let group = report.group.as_ref().unwrap();
    assert_eq!(group.number, 1);
    assert_eq!(group.members.len(), 1);
    assert_eq!(group.members[0].standing, Standing::Blocks);
    // The same plan as `detach --dry-run`, which runs the same path.
    let dry_run = r.engine.detach(addr(common::NIC), &dry(&vfio())).unwrap();
    assert_eq!(plan_writes(&report.plan), plan_writes(&[dry_run]));
    assert_eq!(report.plan[0].writes.len(), 3);
    // And the real detach makes exactly those writes.
    r.engine.detach(addr(common::NIC), &vfio()).unwrap();
    let made: Vec<String> = r
        .sim
        .writes()
        .iter()
        .map(|w| {
            format!(
                "write '{}' to {}",
                String::from_utf8_lossy(&w.data),
                w.path.display()
            )
        })
        .collect();
    assert_eq!(made, plan_writes(&report.plan)[1..]);
    // Now it is on vfio-pci: nothing to do, still ready.
    r.sim.clear_log();
    let again = r.engine.preflight(addr(common::NIC), &vfio()).unwrap();
    assert_eq!(again.verdict, Verdict::Ready);
    assert!(again.plan[0].unchanged);
    assert!(r.sim.writes().is_empty());
}

/// A kernel with one device on its host driver (and vfio-pci loaded, or only
/// loadable), an engine over it, and the directory of its state.
fn one_device(
    driver: &str,
    spec: DeviceSpec,
    vfio_loaded: bool,
) -> (SimKernel, Engine, tempfile::TempDir) {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host(driver, &[(spec.vendor, spec.device)]));
    if vfio_loaded {
        sim.load_driver(DriverSpec::vfio_pci());
    }
    sim.add_device(spec);
    let dir = tempfile::tempdir().unwrap();
    let engine = sim.engine(StateDir::new(dir.path().join("state")));
    sim.clear_log();
    (sim, engine, dir)
}

/// Two functions of one card in one group (a GPU and its HDMI audio function).
fn shared_group() -> (SimKernel, Engine, tempfile::TempDir) {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("nouveau", &[(0x10de, 0x1b80)]));
    sim.load_driver(DriverSpec::host("snd_hda_intel", &[(0x10de, 0x10f0)]));
    sim.load_driver(DriverSpec::host("pcieport", &[(0x8086, 0x1901)]));
    sim.load_driver(DriverSpec::vfio_pci());
    let mut port = DeviceSpec::bridge("0000:00:01.0", 1, 1, 7);
    port.vendor = 0x8086;
    port.device = 0x1901;
    let mut gpu = DeviceSpec::endpoint("0000:01:00.0", 0x10de, 0x1b80, 7);
    gpu.class = 0x030000;
    let mut audio = DeviceSpec::endpoint("0000:01:00.1", 0x10de, 0x10f0, 7);
    audio.class = 0x040300;
    sim.add_device(port).add_device(gpu).add_device(audio);
    let dir = tempfile::tempdir().unwrap();
    let engine = sim.engine(StateDir::new(dir.path().join("state")));
    sim.clear_log();
    (sim, engine, dir)
}

#[test]
fn a_shared_group_is_ready_with_group_and_plans_the_group_detach() {
    let (sim, engine, dir) = shared_group();
    let state = dir.path().join("state");
    let report = preflight(&sim, &engine, &state, "0000:01:00.0", &vfio());
    assert_eq!(
        report.verdict,
        Verdict::ReadyWithGroup {
            others: vec![addr("0000:01:00.1")]
        }
    );
    assert_eq!(
        report.verdict.to_string(),
        "ready with --group (its IOMMU group needs 01:00.1 detached too)"
    );
    let standings: Vec<(String, Standing)> = report
        .group
        .as_ref()
        .unwrap()
        .members
        .iter()
        .map(|m| (m.address.to_string(), m.standing))
        .collect();
    assert_eq!(
        standings,
        [
            ("0000:00:01.0".to_string(), Standing::Exempt),
            ("0000:01:00.0".to_string(), Standing::Blocks),
            ("0000:01:00.1".to_string(), Standing::Blocks),
        ]
    );
    // The plan is `detach --group --dry-run`'s: both functions, not the port.
    let group_dry = engine
        .detach_group(addr("0000:01:00.0"), &dry(&vfio()))
        .unwrap();
    assert_eq!(plan_writes(&report.plan), plan_writes(&group_dry));
    assert_eq!(report.plan.len(), 2);
    // After `detach --group`, the device alone is ready.
    engine.detach_group(addr("0000:01:00.0"), &vfio()).unwrap();
    sim.clear_log();
    let after = preflight(
        &sim,
        &engine,
        &state_dir_of_no_new_files(&dir),
        "0000:01:00.0",
        &vfio(),
    );
    assert_eq!(after.verdict, Verdict::Ready);
    // pci-stub has no group to care about.
    engine
        .reattach(addr("0000:01:00.0"), &Default::default())
        .unwrap();
    engine
        .reattach(addr("0000:01:00.1"), &Default::default())
        .unwrap();
    sim.clear_log();
    let stub = engine
        .preflight(
            addr("0000:01:00.0"),
            &opts(Some("pci-stub"), MethodChoice::Auto),
        )
        .unwrap();
    assert_eq!(stub.verdict, Verdict::Ready);
    assert!(sim.writes().is_empty());
}

/// After a real detach the state directory holds records: check a directory
/// that stays empty instead.
fn state_dir_of_no_new_files(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("unused")
}

#[test]
fn a_member_the_host_uses_blocks_the_group() {
    let (sim, engine, _dir) = shared_group();
    let audio = "/sys/devices/pci0000:00/0000:01:00.1";
    sim.add_link("/sys/class/block/sda", &format!("{audio}/host0/block/sda"))
        .add_file(&format!("{audio}/host0/block/sda/dev"), "8:0\n")
        .add_file(
            "/proc/self/mountinfo",
            "22 1 8:0 / /data rw - ext4 /dev/sda rw\n",
        );
    let report = engine.preflight(addr("0000:01:00.0"), &vfio()).unwrap();
    let Verdict::Blocked { reasons } = &report.verdict else {
        panic!("{:?}", report.verdict)
    };
    assert_eq!(
        reasons,
        &[
            "with --group: 0000:01:00.1 is in use by the host: /dev/sda is mounted on /data"
                .to_string()
        ]
    );
    assert_eq!(report.blockers[0].device, addr("0000:01:00.1"));
    assert!(report.blockers[0].forceable);
    assert!(report.plan.is_empty());
    // The group detach refuses with the same words.
    let e = engine
        .detach_group(addr("0000:01:00.0"), &vfio())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("0000:01:00.1 is in use by the host: /dev/sda is mounted on /data"),
        "{e}"
    );
    assert!(sim.writes().is_empty());
}

#[test]
fn every_refusal_is_listed_where_detach_stops_at_the_first() {
    let mut pf = DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10c9, 4);
    pf.total_vfs = 7;
    pf.num_vfs = 2;
    let (sim, engine, dir) = one_device("igb", pf, true);
    let dev = "/sys/devices/pci0000:00/0000:02:00.0";
    sim.add_link("/sys/class/net/eth0", &format!("{dev}/net/eth0"))
        .add_file(&format!("{dev}/net/eth0/flags"), "0x1003\n")
        .add_file(
            "/proc/net/route",
            "Iface\tDestination\tGateway\neth0\t00000000\t0100A8C0\n",
        )
        .add_file("/sys/bus/pci/devices/0000:02:00.0/boot_vga", "1\n")
        .add_file(&format!("{dev}/drm/card0/dev"), "226:0\n");
    let report = preflight(
        &sim,
        &engine,
        &dir.path().join("state"),
        "0000:02:00.0",
        &vfio(),
    );
    let reasons: Vec<&str> = report.blockers.iter().map(|b| b.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("SR-IOV physical function with 2 VFs enabled"));
    assert!(reasons[1].contains("boot VGA device") && reasons[1].contains("card0"));
    assert!(reasons[2].contains("interface eth0 is up with 1 IPv4 route(s)"));
    assert_eq!(report.sriov.total_vfs, Some(7));
    assert_eq!(report.sriov.num_vfs, 2);
    // detach: the first one only, in the same words.
    let e = engine.detach(addr("0000:02:00.0"), &vfio()).unwrap_err();
    assert!(matches!(e, OpError::Refused(_)));
    assert!(e.to_string().starts_with(reasons[0]), "{e}");
    assert!(sim.writes().is_empty());
}

#[test]
fn no_iommu_group_is_blocked_and_says_how_to_enable_it() {
    let mut lonely = DeviceSpec::endpoint("0000:03:00.0", 0x8086, 0x10d3, 0);
    lonely.iommu_group = None;
    let (sim, engine, dir) = one_device("e1000e", lonely, true);
    let report = preflight(
        &sim,
        &engine,
        &dir.path().join("state"),
        "0000:03:00.0",
        &vfio(),
    );
    assert!(report.verdict.is_blocked());
    let text = report.verdict.to_string();
    assert!(
        text.starts_with("blocked: no IOMMU: 0000:03:00.0 is in no IOMMU group")
            && text.contains("intel_iommu=on"),
        "{text}"
    );
    assert!(!report.iommu.present);
    assert!(report.group.is_none());
    // pci-stub needs no IOMMU.
    let stub = engine
        .preflight(
            addr("0000:03:00.0"),
            &opts(Some("pci-stub"), MethodChoice::Auto),
        )
        .unwrap();
    assert_eq!(stub.verdict, Verdict::Ready);
    // With vfio's no-IOMMU mode, vfio-pci takes it.
    sim.add_file(
        "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
        "Y\n",
    );
    let unsafe_mode = engine.preflight(addr("0000:03:00.0"), &vfio()).unwrap();
    assert_eq!(unsafe_mode.verdict, Verdict::Ready);
    assert!(unsafe_mode.iommu.noiommu_mode);
    assert!(sim.writes().is_empty());
}

#[test]
fn a_blacklisted_or_missing_stub_module_blocks() {
    let nic = DeviceSpec::endpoint("0000:00:01.0", 0x8086, 0x10d3, 1);
    let (sim, engine, dir) = one_device("e1000e", nic, false);
    // No modules.dep in this tree: not known, not blocked.
    let report = engine.preflight(addr("0000:00:01.0"), &vfio()).unwrap();
    assert_eq!(
        report.target.status,
        DriverStatus::Unknown {
            module: "vfio_pci".into()
        }
    );
    assert_eq!(report.verdict, Verdict::Ready);
    sim.add_file(
        "/lib/modules/6.1.0-sim/modules.dep",
        "kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/vfio.ko.xz\n",
    );
    let report = preflight(
        &sim,
        &engine,
        &dir.path().join("state"),
        "0000:00:01.0",
        &vfio(),
    );
    assert_eq!(
        report.target.status,
        DriverStatus::Loadable {
            module: "vfio_pci".into()
        }
    );
    assert_eq!(report.verdict, Verdict::Ready);
    let missing = engine
        .preflight(
            addr("0000:00:01.0"),
            &opts(Some("nosuch-stub"), MethodChoice::Auto),
        )
        .unwrap();
    assert!(
        missing
            .verdict
            .to_string()
            .contains("no module nosuch_stub"),
        "{}",
        missing.verdict
    );
    // Blacklisted: preflight says so, and the detach's modprobe -b refuses.
    sim.add_file(
        "/etc/modprobe.d/no-vfio.conf",
        "# passthrough off\nblacklist vfio-pci\n",
    );
    sim.blacklist("vfio_pci");
    let report = engine.preflight(addr("0000:00:01.0"), &vfio()).unwrap();
    assert!(
        report
            .verdict
            .to_string()
            .contains("module vfio_pci is blacklisted in /etc/modprobe.d/no-vfio.conf"),
        "{}",
        report.verdict
    );
    assert!(sim.writes().is_empty());
    let e = engine.detach(addr("0000:00:01.0"), &vfio()).unwrap_err();
    assert!(e.to_string().contains("administratively prohibited"), "{e}");
}

#[test]
fn a_device_held_through_vfio_cannot_move_even_forced() {
    let r = rig(Knobs::default());
    r.engine.detach(addr(common::NIC), &vfio()).unwrap();
    r.sim.with_state(|s| {
        s.open_files
            .push((4242, "qemu".into(), "/dev/vfio/1".into()))
    });
    r.sim.clear_log();
    let forced = DetachOptions {
        force: true,
        ..opts(Some("pci-stub"), MethodChoice::Auto)
    };
    let report = r.engine.preflight(addr(common::NIC), &forced).unwrap();
    assert!(report.verdict.is_blocked());
    assert_eq!(report.blockers.len(), 1);
    assert!(!report.blockers[0].forceable);
    assert!(
        report.blockers[0].reason.contains("pid 4242 (qemu)"),
        "{}",
        report.blockers[0].reason
    );
    assert!(r.sim.writes().is_empty());
}

#[test]
fn a_vfio_variant_driver_from_modules_alias_is_the_stub() {
    let nic = DeviceSpec::endpoint("0000:00:01.0", 0x8086, 0x10d3, 1);
    let (sim, engine, dir) = one_device("e1000e", nic, true);
    sim.add_file(
        "/lib/modules/6.1.0-sim/modules.alias",
        "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n\
         alias vfio_pci:v00008086d000010D3sv*sd*bc*sc*i* e1000e_vfio_pci\n",
    )
    .add_file(
        "/lib/modules/6.1.0-sim/modules.dep",
        "kernel/drivers/vfio/pci/e1000e-vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko\n",
    );
    let report = preflight(
        &sim,
        &engine,
        &dir.path().join("state"),
        "0000:00:01.0",
        &vfio(),
    );
    assert_eq!(report.target.name, "e1000e_vfio_pci");
    assert!(report.target.variant);
    assert_eq!(
        report.target.status,
        DriverStatus::Loadable {
            module: "e1000e_vfio_pci".into()
        }
    );
    assert_eq!(report.verdict, Verdict::Ready);
    assert_eq!(
        report.plan[0].writes[0].to_string(),
        "write 'e1000e_vfio_pci' to /sys/bus/pci/devices/0000:00:01.0/driver_override"
    );
    let dry_run = engine.detach(addr("0000:00:01.0"), &dry(&vfio())).unwrap();
    assert_eq!(plan_writes(&report.plan), plan_writes(&[dry_run]));
    // Asked for by name, it is no variant.
    let named = engine
        .preflight(
            addr("0000:00:01.0"),
            &opts(Some("vfio-pci"), MethodChoice::Auto),
        )
        .unwrap();
    assert_eq!(named.target.name, "vfio-pci");
    assert!(!named.target.variant);
}
