//! The simulated host the engine tests share: two e1000e with the same id (00:01.0
//! bound, 00:02.0 unbound, so a `new_id` would grab it), vfio-pci loaded, pci-stub
//! and pciback loadable; and the invariants every test states.
#![allow(dead_code)]

use hostdev_manager::ops::{DetachOptions, Engine, MethodChoice, ReattachOptions};
use hostdev_manager::state::StateDir;
use hostdev_manager::stub::DriverRequest;
use pci_sim::{DeviceSpec, DriverSpec, Knobs, SimKernel};
use pci_types::{DriverName, PciAddress};

/// The device the tests move.
pub const NIC: &str = "0000:00:01.0";
/// Its twin (same vendor:device), unbound.
pub const TWIN: &str = "0000:00:02.0";

/// The stubs, as `--driver` names them and as sysfs does.
pub const STUBS: &[(Option<&str>, &str)] = &[
    (None, "vfio-pci"),
    (Some("pci-stub"), "pci-stub"),
    (Some("xen"), "pciback"),
];

pub struct Rig {
    pub sim: SimKernel,
    pub engine: Engine,
    pub state: StateDir,
    pub dir: tempfile::TempDir,
}

impl Rig {
    /// A second engine over the same kernel and records (the next command).
    pub fn next_command(&self) -> Engine {
        self.sim.engine(self.state.clone())
    }
}

pub fn rig(knobs: Knobs) -> Rig {
    let sim = SimKernel::new();
    sim.set_knobs(Knobs {
        unprivileged: false,
        ..knobs
    });
    sim.load_driver(DriverSpec::host("e1000e", &[(0x8086, 0x10d3)]));
    sim.load_driver(DriverSpec::vfio_pci());
    sim.add_device(DeviceSpec::endpoint(NIC, 0x8086, 0x10d3, 1));
    sim.add_device(DeviceSpec::endpoint(TWIN, 0x8086, 0x10d3, 2));
    // The twin starts unbound (as if someone had unbound it), so new_id would grab it.
    unbind(&sim, TWIN);
    sim.set_knobs(knobs);
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::new(dir.path().join("state"));
    let engine = sim.engine(state.clone());
    sim.clear_log();
    Rig {
        sim,
        engine,
        state,
        dir,
    }
}

pub fn old_kernel() -> Knobs {
    Knobs {
        driver_override: false,
        ..Knobs::default()
    }
}

pub fn unbind(sim: &SimKernel, bdf: &str) {
    use hostdev_manager::Sysfs;
    let path = std::path::PathBuf::from(format!("/sys/bus/pci/devices/{bdf}/driver/unbind"));
    sim.write(&path, bdf.as_bytes()).unwrap();
}

pub fn addr(s: &str) -> PciAddress {
    s.parse().unwrap()
}

pub fn opts(driver: Option<&str>, method: MethodChoice) -> DetachOptions {
    DetachOptions {
        driver: DriverRequest::parse(driver).unwrap(),
        method,
        ..DetachOptions::default()
    }
}

pub fn reattach() -> ReattachOptions {
    ReattachOptions::default()
}

/// What, if anything, differs from the device's starting state: on e1000e, no
/// override, no dynamic id in any stub, no pciback slot, no record; the bystander
/// untouched.
pub fn not_pristine(r: &Rig) -> Vec<String> {
    let mut out = Vec::new();
    if r.sim.driver_of(NIC).as_deref() != Some("e1000e") {
        out.push(format!("driver is {:?}", r.sim.driver_of(NIC)));
    }
    if let Some(o) = r.sim.override_of(NIC) {
        out.push(format!("override '{o}' left"));
    }
    for stub in ["vfio-pci", "pci-stub", "pciback"] {
        if !r.sim.dynamic_ids(stub).is_empty() {
            out.push(format!("dynamic id left in {stub}"));
        }
    }
    if !r.sim.pciback_slots().is_empty() {
        out.push("pciback slot left".into());
    }
    if !matches!(r.state.load(&addr(NIC)), Ok(None)) {
        out.push("record left".into());
    }
    if r.sim.driver_of(TWIN).is_some() {
        out.push(format!("bystander grabbed by {:?}", r.sim.driver_of(TWIN)));
    }
    out
}

pub fn assert_pristine(r: &Rig, context: &str) {
    let diff = not_pristine(r);
    assert!(diff.is_empty(), "{context}: {}", diff.join("; "));
}

/// Fully detached: on the stub, with a settled record that says so, nothing left
/// in any id table, the bystander untouched.
pub fn not_detached(r: &Rig, stub: &str) -> Vec<String> {
    let mut out = Vec::new();
    if r.sim.driver_of(NIC).as_deref() != Some(stub) {
        out.push(format!("driver is {:?}, not {stub}", r.sim.driver_of(NIC)));
    }
    match r.state.load(&addr(NIC)) {
        Ok(Some(rec)) => {
            if rec.stub.as_str() != stub {
                out.push(format!("record stub {}", rec.stub));
            }
            if rec.original_driver != Some(DriverName::new("e1000e").unwrap()) {
                out.push(format!("record original {:?}", rec.original_driver));
            }
            if rec.dynamic_id.is_some() {
                out.push("record keeps a dynamic id".into());
            }
            if !rec.phase.is_settled() {
                out.push(format!("record phase {:?}", rec.phase));
            }
        }
        other => out.push(format!("no record: {other:?}")),
    }
    if r.sim.driver_of(TWIN).is_some() {
        out.push("bystander grabbed".into());
    }
    for s in ["vfio-pci", "pci-stub", "pciback"] {
        if !r.sim.dynamic_ids(s).is_empty() {
            out.push(format!("dynamic id left in {s}"));
        }
    }
    out
}

pub fn assert_detached(r: &Rig, stub: &str, context: &str) {
    let diff = not_detached(r, stub);
    assert!(diff.is_empty(), "{context}: {}", diff.join("; "));
}

/// Runs `f` as a process that may be killed by [`SimKernel::kill_after`]: true if
/// it was.
pub fn killed(f: impl FnOnce()) -> bool {
    silence_simulated_kills();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => false,
        Err(p) if p.is::<pci_sim::Killed>() => true,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Keeps the panic hook quiet about simulated kills (and only about them).
pub fn silence_simulated_kills() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<pci_sim::Killed>() {
                default(info);
            }
        }));
    });
}
