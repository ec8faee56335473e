//! The detach/reattach engine against the simulated kernel (crates/pci-sim): round
//! trips on kernels with and without driver_override, the Xen pciback EEXIST case,
//! concurrency, refusals and bad input. The fault matrix (every write, every
//! errno, a kill at every point) is `fault_matrix.rs`; the journal and the state
//! directory's defences are `sim_journal.rs`.

mod common;

use common::*;
use hostdev_manager::ops::{
    DetachOptions, MethodChoice, OpError, ReattachOptions, Refusal, Warning,
};
use hostdev_manager::state::{Phase, StateDir};
use hostdev_manager::stub::DriverRequest;
use pci_sim::{errno, DeviceSpec, DriverSpec, Knobs, SimKernel};

const CASES: &[(Option<&str>, &str)] = STUBS;

#[test]
fn round_trips_with_and_without_driver_override() {
    for old_kernel in [false, true] {
        for method in [MethodChoice::Auto, MethodChoice::NewId] {
            if old_kernel && method == MethodChoice::NewId {
                continue; // auto already means new_id there
            }
            for (driver, stub) in CASES {
                let knobs = Knobs {
                    driver_override: !old_kernel,
                    ..Knobs::default()
                };
                let r = rig(knobs);
                let ctx = format!("old_kernel={old_kernel} {method:?} {stub}");
                let out = r
                    .engine
                    .detach(addr(NIC), &opts(*driver, method))
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(out.driver_after.as_deref(), Some(*stub), "{ctx}");
                assert_detached(&r, stub, &ctx);
                if *stub == "pciback" && (old_kernel || method == MethodChoice::NewId) {
                    assert_eq!(r.sim.pciback_slots(), vec![addr(NIC)], "{ctx}: slot seized");
                }
                r.engine
                    .reattach(addr(NIC), &ReattachOptions::default())
                    .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_pristine(&r, &ctx);
            }
        }
    }
}

#[test]
fn xen_pciback_new_id_eexist_on_an_old_kernel() {
    // The seed scenario: pciback's match-all id table makes new_id answer EEXIST on a
    // kernel without driver_override. The device must still end on pciback, and come
    // back to its driver with no id or slot left.
    let r = rig(Knobs {
        driver_override: false,
        ..Knobs::default()
    });
    r.engine
        .detach(addr(NIC), &opts(Some("xen"), MethodChoice::Auto))
        .unwrap();
    let log = r.sim.writes();
    let new_id = log
        .iter()
        .find(|w| w.path.ends_with("pciback/new_id"))
        .expect("new_id tried");
    assert_eq!(new_id.errno, Some(errno::EEXIST));
    assert!(
        !log.iter().any(|w| w.path.ends_with("remove_id")),
        "never remove an id we did not add"
    );
    assert_detached(&r, "pciback", "pciback detach");
    r.engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_pristine(&r, "pciback reattach");
}

#[test]
fn concurrent_random_operations_stay_consistent() {
    // 16 devices in groups of two, 8 threads × 200 random detach/reattach.
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    let devices: Vec<String> = (0..16).map(|i| format!("0000:01:{:02x}.0", i)).collect();
    for (i, d) in devices.iter().enumerate() {
        sim.add_device(DeviceSpec::endpoint(d, 0x8086, 0x10d3, 10 + i as u32 / 2));
    }
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state"))
        .with_lock_timeout(std::time::Duration::from_secs(60));
    let engine = sim.engine(state.clone());
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (engine, devices) = (&engine, &devices);
            s.spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
                for _ in 0..200 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let a = addr(&devices[(x % 16) as usize]);
                    if x & 0x100 == 0 {
                        engine
                            .detach(a, &opts(None, MethodChoice::Auto))
                            .expect("detach");
                    } else {
                        engine
                            .reattach(a, &ReattachOptions::default())
                            .expect("reattach");
                    }
                }
            });
        }
    });
    for d in &devices {
        let rec = state.load(&addr(d)).unwrap();
        match sim.driver_of(d).as_deref() {
            Some("vfio-pci") => assert!(rec.is_some(), "{d} on vfio-pci without a record"),
            Some("e1000e") => assert!(rec.is_none(), "{d} on e1000e with a record"),
            other => panic!("{d} ended on {other:?}"),
        }
        assert_eq!(
            sim.override_of(d).as_deref(),
            rec.as_ref().map(|_| "vfio-pci"),
            "{d}"
        );
    }
}

#[test]
fn bad_input_writes_nothing() {
    let r = rig(Knobs::default());
    for bad in ["../vfio-pci", "vfio-pci\n", &"x".repeat(5000)] {
        assert!(DriverRequest::parse(Some(bad)).is_err(), "{bad:?}");
    }
    let e = r
        .engine
        .detach(addr("0000:00:1f.7"), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    assert!(matches!(e, OpError::NotFound { .. }), "{e}");
    let e = r
        .engine
        .reattach(addr("0000:00:1f.7"), &ReattachOptions::default())
        .unwrap_err();
    assert!(matches!(e, OpError::NotFound { .. }), "{e}");
    // A driver that exists nowhere: modprobe fails, nothing is written.
    let e = r
        .engine
        .detach(addr(NIC), &opts(Some("no-such-driver"), MethodChoice::Auto))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Failed to load PCI driver module no_such_driver"),
        "{e}"
    );
    // A blacklisted module: libvirt's own message.
    r.sim.blacklist("pci-stub");
    let e = r
        .engine
        .detach(addr(NIC), &opts(Some("pci-stub"), MethodChoice::Auto))
        .unwrap_err();
    assert!(e.to_string().contains("administratively prohibited"), "{e}");
    assert!(r.sim.writes().is_empty(), "{:?}", r.sim.writes());
    assert_pristine(&r, "bad input");
}

#[test]
fn unprivileged_user_gets_eacces_and_nothing_changes() {
    let r = rig(Knobs {
        unprivileged: true,
        ..Knobs::default()
    });
    let e = r
        .engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("Permission denied (EACCES)"), "{msg}");
    assert!(msg.contains("device is on e1000e"), "{msg}");
    assert!(
        r.sim.writes().iter().all(|w| w.errno.is_some()),
        "a write succeeded"
    );
    assert_pristine(&r, "EACCES");
}

#[test]
fn vfio_refusals_and_unbound_probe_failure() {
    // A bridge and a PF with VFs are refused before any write; a device without an
    // IOMMU group is accepted by the kernel's writes but vfio-pci's probe fails: the
    // tool reads the driver link back, says so, and rolls back.
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("pcieport", &[(0x8086, 0x1901)]));
    sim.load_driver(DriverSpec::host("igb", &[(0x8086, 0x10c9)]));
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    let mut bridge = DeviceSpec::endpoint("0000:00:1c.0", 0x8086, 0x1901, 3);
    bridge.header_type = 1;
    let mut pf = DeviceSpec::endpoint("0000:02:00.0", 0x8086, 0x10c9, 4);
    pf.total_vfs = 7;
    pf.num_vfs = 2;
    let mut lonely = DeviceSpec::endpoint("0000:03:00.0", 0x8086, 0x10d3, 0);
    lonely.iommu_group = None;
    sim.add_device(bridge).add_device(pf).add_device(lonely);
    let dir = tempfile::tempdir().unwrap();
    let engine = sim.engine(StateDir::new(dir.path().join("state")));
    sim.clear_log();
    for (bdf, needle) in [
        ("0000:00:1c.0", "not an endpoint"),
        ("0000:02:00.0", "2 VFs enabled"),
    ] {
        let e = engine
            .detach(addr(bdf), &opts(None, MethodChoice::Auto))
            .unwrap_err();
        assert!(
            matches!(e, OpError::Refused(_)) && e.to_string().contains(needle),
            "{e}"
        );
    }
    assert!(sim.writes().is_empty());
    let e = engine
        .detach(addr("0000:03:00.0"), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("did not bind to vfio-pci") && msg.contains("no IOMMU group"),
        "{msg}"
    );
    assert_eq!(sim.driver_of("0000:03:00.0").as_deref(), Some("e1000e"));
    assert_eq!(sim.override_of("0000:03:00.0"), None);
}

#[test]
fn reattach_refuses_while_the_vfio_group_is_open_and_checks_identity() {
    let r = rig(Knobs::default());
    r.engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap();
    r.sim.with_state(|s| {
        s.open_files
            .push((4242, "qemu-system-x86".into(), "/dev/vfio/1".into()))
    });
    let e = r
        .engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("pid 4242 (qemu-system-x86) holds /dev/vfio/1"),
        "{e}"
    );
    assert_eq!(r.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
    r.sim.with_state(|s| s.open_files.clear());
    // A different device now sits at the address: refuse.
    let mut rec = r.state.load(&addr(NIC)).unwrap().unwrap();
    rec.identity.device = 0x1533;
    r.state.save(&rec, false).unwrap();
    let e = r
        .engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("is not the device that was detached"),
        "{e}"
    );
    rec.identity.device = 0x10d3;
    r.state.save(&rec, false).unwrap();
    r.engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_pristine(&r, "after holder left");
}

#[test]
fn another_agent_binding_in_between_is_handled() {
    // new_id path: between the unbind and the explicit bind, someone else probes the
    // device (udev). Whatever happens, the device must end detached or pristine.
    for k in 0..6 {
        let r = rig(Knobs {
            driver_override: false,
            ..Knobs::default()
        });
        r.sim.on_write(k, |s| {
            s.probe(NIC);
        });
        match r
            .engine
            .detach(addr(NIC), &opts(Some("pci-stub"), MethodChoice::Auto))
        {
            Ok(_) => assert_detached(&r, "pci-stub", &format!("agent before write {k}")),
            Err(e) => assert_pristine(&r, &format!("agent before write {k}: {e}")),
        }
    }
}

#[test]
fn a_stuck_unbind_is_reported_not_waited_for_forever() {
    let r = rig(Knobs::default());
    let engine = r
        .engine
        .clone()
        .with_unbind_timeout(std::time::Duration::from_millis(100));
    r.sim.set_stuck_unbind(true);
    let e = engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, OpError::StuckUnbind { .. }), "{msg}");
    assert!(
        msg.contains("unbinding 0000:00:01.0 from e1000e did not finish"),
        "{msg}"
    );
    assert!(msg.contains("driver_override was cleared"), "{msg}");
    // The record says exactly what remains.
    let rec = r
        .state
        .load(&addr(NIC))
        .unwrap()
        .expect("a record of the pending unbind");
    assert_eq!(rec.phase, Phase::UnbindPending, "{rec:?}");
    assert_eq!(r.sim.override_of(NIC), None);
    // The kernel finishes later; reattach then brings the device back.
    r.sim.release_unbind();
    // Bounded (10 s) so a scheduling hiccup cannot fail it; normally a few ms.
    for _ in 0..2000 {
        if r.sim.driver_of(NIC).is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(r.sim.driver_of(NIC), None, "the unbind completed");
    r.engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_pristine(&r, "after the stuck unbind");
}

#[test]
fn dry_run_writes_nothing_and_lists_the_writes() {
    let r = rig(Knobs::default());
    let o = r
        .engine
        .detach(
            addr(NIC),
            &DetachOptions {
                dry_run: true,
                ..opts(None, MethodChoice::Auto)
            },
        )
        .unwrap();
    let planned: Vec<String> = o
        .writes
        .iter()
        .map(|w| format!("{} <- {}", w.path.display(), w.data))
        .collect();
    assert_eq!(
        planned,
        [
            "/sys/bus/pci/devices/0000:00:01.0/driver_override <- vfio-pci",
            "/sys/bus/pci/devices/0000:00:01.0/driver/unbind <- 0000:00:01.0",
            "/sys/bus/pci/drivers_probe <- 0000:00:01.0",
        ]
    );
    assert!(r.sim.writes().is_empty());
    assert_pristine(&r, "dry run");
}

#[test]
fn group_detach_rolls_back_every_member_if_one_fails() {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("e1000", &[(0x8086, 0x100e)]));
    sim.load_driver(DriverSpec::vfio_pci());
    for bdf in ["0000:09:01.0", "0000:09:02.0", "0000:09:03.0"] {
        sim.add_device(DeviceSpec::endpoint(bdf, 0x8086, 0x100e, 20));
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = sim.engine(StateDir::new(dir.path().join("state")));
    // The third member's override write fails.
    sim.fail_write("0000:09:03.0/driver_override", 1, errno::EIO);
    let e = engine
        .detach_group(addr("0000:09:01.0"), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    match &e {
        OpError::Member { member, undone, .. } => {
            assert_eq!(member.to_string(), "0000:09:03.0", "{e}");
            assert_eq!(undone.len(), 2, "{e}");
            assert!(undone.iter().all(|u| u.error.is_none()), "{e}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(e.errno(), Some(errno::EIO), "{e}");
    for bdf in ["0000:09:01.0", "0000:09:02.0", "0000:09:03.0"] {
        assert_eq!(sim.driver_of(bdf).as_deref(), Some("e1000"), "{bdf}");
        assert_eq!(sim.override_of(bdf), None, "{bdf}");
    }
    // Without the fault the whole group moves, and a plain detach warns about the rest.
    let o = engine
        .detach_group(addr("0000:09:01.0"), &opts(None, MethodChoice::Auto))
        .unwrap();
    assert_eq!(o.len(), 3);
    for bdf in ["0000:09:01.0", "0000:09:02.0", "0000:09:03.0"] {
        assert_eq!(sim.driver_of(bdf).as_deref(), Some("vfio-pci"), "{bdf}");
        engine
            .reattach(addr(bdf), &ReattachOptions::default())
            .unwrap();
    }
    let o = engine
        .detach(addr("0000:09:02.0"), &opts(None, MethodChoice::Auto))
        .unwrap();
    assert!(
        o.warnings.iter().any(|w| matches!(w,
            Warning::GroupNotViable { group: 20, members } if members.contains(&"0000:09:01.0 (e1000)".to_string()))),
        "{:?}",
        o.warnings
    );
}

#[test]
fn reattach_without_a_record_does_what_libvirt_does() {
    // Detached by someone else (virsh, by hand): clear the override, unbind,
    // re-probe; whatever the kernel's matching picks is accepted.
    let r = rig(Knobs::default());
    {
        use hostdev_manager::Sysfs;
        let w = |p: &str, d: &str| r.sim.write(std::path::Path::new(p), d.as_bytes()).unwrap();
        w(
            "/sys/bus/pci/devices/0000:00:01.0/driver_override",
            "vfio-pci",
        );
        w("/sys/bus/pci/devices/0000:00:01.0/driver/unbind", NIC);
        w("/sys/bus/pci/drivers_probe", NIC);
    }
    assert_eq!(r.sim.driver_of(NIC).as_deref(), Some("vfio-pci"));
    r.engine
        .reattach(addr(NIC), &ReattachOptions::default())
        .unwrap();
    assert_pristine(&r, "reattach without record");
}

#[test]
fn refuses_devices_the_host_uses_unless_forced() {
    let dev = "/sys/devices/pci0000:00/0000:00:01.0";
    type Setup = Box<dyn Fn(&SimKernel)>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "is mounted on /",
            Box::new(move |s| {
                s.add_link(
                    "/sys/class/block/nvme0n1p2",
                    &format!("{dev}/nvme/nvme0/nvme0n1/nvme0n1p2"),
                )
                .add_file(
                    &format!("{dev}/nvme/nvme0/nvme0n1/nvme0n1p2/dev"),
                    "259:2\n",
                )
                .add_file(
                    "/proc/self/mountinfo",
                    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n",
                );
            }),
        ),
        (
            "in use as swap",
            Box::new(move |s| {
                s.add_link(
                    "/sys/class/block/sdb1",
                    &format!("{dev}/host0/target0:0:0/0:0:0:0/block/sdb/sdb1"),
                )
                .add_file(
                    &format!("{dev}/host0/target0:0:0/0:0:0:0/block/sdb/sdb1/dev"),
                    "8:17\n",
                )
                .add_file(
                    "/proc/swaps",
                    "Filename Type Size Used Priority\n/dev/sdb1 partition 1 0 -2\n",
                );
            }),
        ),
        (
            "is held by dm-0",
            Box::new(move |s| {
                s.add_link("/sys/class/block/sdc", &format!("{dev}/host1/block/sdc"))
                    .add_file(&format!("{dev}/host1/block/sdc/dev"), "8:32\n")
                    .add_link(
                        "/sys/class/block/sdc/holders/dm-0",
                        "/sys/devices/virtual/block/dm-0",
                    );
            }),
        ),
        (
            "interface eth0 is up with 2 IPv4 route(s)",
            Box::new(move |s| {
                s.add_link("/sys/class/net/eth0", &format!("{dev}/net/eth0"))
                    .add_file(&format!("{dev}/net/eth0/flags"), "0x1003\n")
                    .add_file(
                        "/proc/net/route",
                        "Iface\tDestination\tGateway\neth0\t00000000\t0100A8C0\neth0\t0000A8C0\t00000000\n",
                    );
            }),
        ),
    ];
    for (needle, setup) in cases {
        let r = rig(Knobs::default());
        setup(&r.sim);
        let e = r
            .engine
            .detach(addr(NIC), &opts(None, MethodChoice::Auto))
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(&e, OpError::Refused(r @ Refusal::InUse { .. }) if r.forceable()),
            "{msg}"
        );
        assert!(
            msg.contains(needle) && msg.contains("use --force"),
            "{needle}: {msg}"
        );
        assert!(
            r.sim.writes().is_empty(),
            "{needle}: wrote {:?}",
            r.sim.writes()
        );
        let forced = DetachOptions {
            force: true,
            ..opts(None, MethodChoice::Auto)
        };
        r.engine.detach(addr(NIC), &forced).unwrap();
        assert_eq!(
            r.sim.driver_of(NIC).as_deref(),
            Some("vfio-pci"),
            "{needle}"
        );
    }
    // An interface that is down, or up with only a link-local address, is not "in use".
    let r = rig(Knobs::default());
    r.sim
        .add_link("/sys/class/net/eth0", &format!("{dev}/net/eth0"))
        .add_file(&format!("{dev}/net/eth0/flags"), "0x1003\n")
        .add_file(
            "/proc/net/if_inet6",
            "fe800000000000005054fffe123456 02 40 20 80 eth0\n",
        );
    r.engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap();
}

#[test]
fn boot_vga_in_use_is_refused_unless_forced() {
    let r = rig(Knobs::default());
    r.sim
        .add_file("/sys/bus/pci/devices/0000:00:01.0/boot_vga", "1\n")
        .add_file(
            "/sys/devices/pci0000:00/0000:00:01.0/drm/card0/dev",
            "226:0\n",
        )
        .add_file("/sys/class/vtconsole/vtcon1/bind", "1\n")
        .add_file("/sys/class/vtconsole/vtcon1/name", "frame buffer device\n");
    let e = r
        .engine
        .detach(addr(NIC), &opts(None, MethodChoice::Auto))
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("boot VGA device")
            && msg.contains("card0")
            && msg.contains("framebuffer console"),
        "{msg}"
    );
    assert!(r.sim.writes().is_empty());
    let forced = DetachOptions {
        force: true,
        ..opts(None, MethodChoice::Auto)
    };
    r.engine.detach(addr(NIC), &forced).unwrap();
}

#[test]
fn bridges_are_refused_for_every_stub_unless_forced() {
    let sim = SimKernel::new();
    sim.load_driver(DriverSpec::host("pcieport", &[(0x8086, 0x1901)]));
    let mut port = DeviceSpec::endpoint("0000:00:1c.0", 0x8086, 0x1901, 3);
    port.header_type = 1;
    sim.add_device(port);
    let dir = tempfile::tempdir().unwrap();
    let engine = sim.engine(StateDir::new(dir.path().join("state")));
    sim.clear_log();
    for driver in [Some("xen"), Some("pci-stub"), None] {
        let e = engine
            .detach(addr("0000:00:1c.0"), &opts(driver, MethodChoice::Auto))
            .unwrap_err();
        assert!(
            matches!(e.refusal(), Some(Refusal::NotEndpoint { .. })),
            "{driver:?}: {e}"
        );
    }
    assert!(sim.writes().is_empty());
    assert_eq!(sim.driver_of("0000:00:1c.0").as_deref(), Some("pcieport"));
}

#[test]
fn a_device_xl_made_assignable_is_not_taken_from_xen_without_force() {
    // `xl pci-assignable-add` by hand: a slot in pciback, unbind, bind. No record.
    let r = rig(old_kernel());
    r.sim.load_driver(DriverSpec::pciback());
    {
        use hostdev_manager::Sysfs;
        let w = |p: &str| {
            r.sim
                .write(std::path::Path::new(p), NIC.as_bytes())
                .unwrap()
        };
        w("/sys/bus/pci/drivers/pciback/new_slot");
        w("/sys/bus/pci/devices/0000:00:01.0/driver/unbind");
        w("/sys/bus/pci/drivers/pciback/bind");
    }
    assert_eq!(r.sim.driver_of(NIC).as_deref(), Some("pciback"));
    r.sim.clear_log();
    let e = r.engine.reattach(addr(NIC), &reattach()).unwrap_err();
    assert!(
        matches!(e.refusal(), Some(Refusal::AssignableByXl { .. }))
            && e.to_string()
                .contains("xl pci-assignable-remove -r 0000:00:01.0"),
        "{e}"
    );
    assert!(r.sim.writes().is_empty());
    // --force gives it back, slot included, and checks that it left pciback.
    r.engine
        .reattach(
            addr(NIC),
            &ReattachOptions {
                force: true,
                ..reattach()
            },
        )
        .unwrap();
    assert_pristine(&r, "forced reattach of an xl device");
}

#[test]
fn an_override_round_trip_to_pciback_leaves_no_slot() {
    // pciback adds a slot itself when it seizes by override (pcistub_probe); it
    // would seize the device again at its next probe.
    let r = rig(Knobs::default());
    r.engine
        .detach(addr(NIC), &opts(Some("xen"), MethodChoice::Auto))
        .unwrap();
    assert_eq!(r.sim.pciback_slots(), vec![addr(NIC)]);
    r.engine.reattach(addr(NIC), &reattach()).unwrap();
    assert!(r.sim.pciback_slots().is_empty());
    assert_pristine(&r, "override round trip to pciback");
}
