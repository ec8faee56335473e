//! The project's one module with `unsafe` code: the libvirt calls that the `virt`
//! crate (libvirt's Rust bindings, 0.4.3 and 0.5) declares in `virt::sys` but does
//! not wrap — node-device event registration (`virConnectNodeDeviceEventRegisterAny`,
//! what `virsh nodedev-event` uses) and a device's active, persistent and autostart
//! flags (what `virsh nodedev-info` prints). Everything above it is safe Rust; every
//! `unsafe` block here says why it is sound. Built only with the `libvirt` feature.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::sync::Mutex;
use std::time::SystemTime;

use virt::connect::Connect;
use virt::nodedev::NodeDevice;
use virt::sys;

use crate::cli::EventType;
use crate::event::NodeEvent;

/// A libvirt call that returns -1 on failure: libvirt's message, else `Ok(value)`.
fn checked(ret: c_int) -> Result<c_int, virt::error::Error> {
    if ret < 0 {
        Err(virt::error::Error::last_error())
    } else {
        Ok(ret)
    }
}

/// `virNodeDeviceIsActive`.
pub fn is_active(dev: &NodeDevice) -> Result<bool, virt::error::Error> {
    // SAFETY: `dev` holds a reference to a live virNodeDevice for the call.
    checked(unsafe { sys::virNodeDeviceIsActive(dev.as_ptr()) }).map(|r| r != 0)
}

/// `virNodeDeviceIsPersistent`.
pub fn is_persistent(dev: &NodeDevice) -> Result<bool, virt::error::Error> {
    // SAFETY: as in `is_active`.
    checked(unsafe { sys::virNodeDeviceIsPersistent(dev.as_ptr()) }).map(|r| r != 0)
}

/// `virNodeDeviceGetAutostart`.
pub fn autostart(dev: &NodeDevice) -> Result<bool, virt::error::Error> {
    let mut autostart: c_int = 0;
    // SAFETY: `dev` is live for the call and `autostart` is a valid int to write.
    checked(unsafe { sys::virNodeDeviceGetAutostart(dev.as_ptr(), &mut autostart) })?;
    Ok(autostart != 0)
}

/// What the callbacks hand over: each event with the time it was delivered (virsh
/// stamps an event when its callback runs).
#[derive(Default)]
struct Sink {
    events: Mutex<Vec<(SystemTime, NodeEvent)>>,
}

impl Sink {
    fn push(&self, event: NodeEvent) {
        // A poisoned lock means a callback panicked, which aborts (extern "C").
        if let Ok(mut events) = self.events.lock() {
            events.push((SystemTime::now(), event));
        }
    }
}

/// The device's name as libvirt gives it to a callback.
///
/// # Safety
/// `dev` must be the device pointer libvirt passed to the running callback.
unsafe fn device_name(dev: sys::virNodeDevicePtr) -> String {
    // SAFETY: libvirt keeps `dev` alive for the callback; the name it returns is
    // owned by the device, NUL-terminated, and copied before the callback returns.
    let name = unsafe { sys::virNodeDeviceGetName(dev) };
    if name.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated, alive for the callback (above).
    unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

/// The lifecycle callback (`virConnectNodeDeviceEventLifecycleCallback`).
unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    dev: sys::virNodeDevicePtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    // SAFETY: `opaque` is the `Sink` that `Subscription` registered with this
    // callback; it outlives the registration (deregistered in `Drop`, before the
    // box is freed), and callbacks only run inside `virEventRunDefaultImpl` on this
    // thread.
    let sink = unsafe { &*opaque.cast::<Sink>() };
    // SAFETY: `dev` is the device of this callback.
    let name = unsafe { device_name(dev) };
    // virsh's names for libvirt's lifecycle events, "unknown" for a newer one.
    sink.push(match u32::try_from(event) {
        Ok(sys::VIR_NODE_DEVICE_EVENT_CREATED) => NodeEvent::Created(name),
        Ok(sys::VIR_NODE_DEVICE_EVENT_DELETED) => NodeEvent::Deleted(name),
        Ok(sys::VIR_NODE_DEVICE_EVENT_DEFINED) => NodeEvent::Lifecycle(name, "Defined"),
        Ok(sys::VIR_NODE_DEVICE_EVENT_UNDEFINED) => NodeEvent::Lifecycle(name, "Undefined"),
        _ => NodeEvent::Lifecycle(name, "unknown"),
    });
}

/// The update callback (`virConnectNodeDeviceEventGenericCallback`).
unsafe extern "C" fn on_update(
    _conn: sys::virConnectPtr,
    dev: sys::virNodeDevicePtr,
    opaque: *mut c_void,
) {
    // SAFETY: as in `on_lifecycle`.
    let sink = unsafe { &*opaque.cast::<Sink>() };
    // SAFETY: `dev` is the device of this callback.
    let name = unsafe { device_name(dev) };
    sink.push(NodeEvent::Update(name));
}

type LifecycleCallback =
    unsafe extern "C" fn(sys::virConnectPtr, sys::virNodeDevicePtr, c_int, c_int, *mut c_void);
type GenericCallback = unsafe extern "C" fn(sys::virConnectPtr, sys::virNodeDevicePtr, *mut c_void);

/// Node-device event callbacks registered on a connection, for one device or all;
/// deregistered when dropped. The connection must have been opened after
/// `virt::event::event_register_default_impl`, and events arrive while
/// `virt::event::event_run_default_impl` runs.
pub struct Subscription<'c> {
    conn: &'c Connect,
    ids: Vec<c_int>,
    // Boxed: its address is the callbacks' `opaque` and must not move.
    sink: Box<Sink>,
}

impl<'c> Subscription<'c> {
    /// Registers a callback for each event type.
    pub fn new(
        conn: &'c Connect,
        device: Option<&NodeDevice>,
        kinds: &[EventType],
    ) -> Result<Self, virt::error::Error> {
        let mut sub = Self {
            conn,
            ids: Vec::new(),
            sink: Box::default(),
        };
        let opaque = std::ptr::from_ref::<Sink>(&sub.sink)
            .cast_mut()
            .cast::<c_void>();
        let dev = device.map_or(std::ptr::null_mut(), NodeDevice::as_ptr);
        for kind in kinds {
            let (id, cb) = match kind {
                EventType::Lifecycle => (
                    sys::VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE,
                    // SAFETY: libvirt's VIR_NODE_DEVICE_EVENT_CALLBACK cast: a
                    // callback registered for the lifecycle ID is called with the
                    // lifecycle signature; the generic type is only how the C API
                    // carries it. Both are `extern "C"` function pointers.
                    unsafe {
                        std::mem::transmute::<LifecycleCallback, GenericCallback>(
                            on_lifecycle as LifecycleCallback,
                        )
                    },
                ),
                EventType::Update => (
                    sys::VIR_NODE_DEVICE_EVENT_ID_UPDATE,
                    on_update as GenericCallback,
                ),
            };
            // SAFETY: the connection and device are live for the call; `opaque`
            // points at the boxed sink, which stays at its address and alive until
            // `Drop` has deregistered every id (no free callback is given, so
            // libvirt never frees it).
            let ret = unsafe {
                sys::virConnectNodeDeviceEventRegisterAny(
                    conn.as_ptr(),
                    dev,
                    id as c_int,
                    Some(cb),
                    opaque,
                    None,
                )
            };
            // On failure `sub` drops here and deregisters what was registered.
            sub.ids.push(checked(ret)?);
        }
        Ok(sub)
    }

    /// The events delivered since the last call, in order.
    pub fn take(&self) -> Vec<(SystemTime, NodeEvent)> {
        self.sink
            .events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            // SAFETY: `id` was returned by a registration on this live connection.
            // A failure (the connection already gone) leaves nothing to call back.
            let _ = unsafe { sys::virConnectNodeDeviceEventDeregisterAny(self.conn.as_ptr(), id) };
        }
    }
}
