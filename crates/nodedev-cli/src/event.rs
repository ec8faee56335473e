//! `nodedev event`: `virsh nodedev-event` without a daemon. Device events come from
//! the kernel's uevent socket ([`hostdev_manager::uevent`]) and become node-device
//! events by libvirt's node-device driver's rules (`udevHandleOneDevice`):
//!
//! - `add` or `change` of a device this tool lists: `Created` when its name is new,
//!   else `update`;
//! - `remove`: `Deleted` for the device that had that sysfs path;
//! - `move` (a renamed interface): `Deleted` for the old path if it was known, then
//!   as `add`;
//! - anything else (`bind`, `unbind`, …) and devices of classes this tool does not
//!   list: nothing.
//!
//! A device's name is the enumeration's (`nodes::enumerate`, read once for each
//! batch of queued uevents that has an `add`, `change` or `move`), so every class
//! the enumeration lists has events, under the name `nodedev list` prints. Lines as virsh prints them:
//! `event 'lifecycle' for node device NAME: Created`, `event 'update' for node
//! device NAME`, then `event loop timed out` and `events received: N`; exit status
//! 1 when no event came.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use hostdev_manager::uevent::{Monitor, Source};
use hostdev_manager::{nodes, Sysfs};

use crate::app::Backend;
use crate::cli::{EventArgs, EventType, UeventSource};
use crate::output::{not_found, ReportedFailure};

/// A node-device event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// A device appeared.
    Created(String),
    /// A device went away.
    Deleted(String),
    /// A known device changed.
    Update(String),
    /// Another lifecycle event, as libvirt names it (`Defined`, `Undefined`: a
    /// mediated device defined or undefined through libvirt; only libvirt's event
    /// API reports them, through `--connect`).
    #[cfg_attr(not(feature = "libvirt"), allow(dead_code))]
    Lifecycle(String, &'static str),
}

impl NodeEvent {
    fn kind(&self) -> EventType {
        match self {
            Self::Created(_) | Self::Deleted(_) | Self::Lifecycle(..) => EventType::Lifecycle,
            Self::Update(_) => EventType::Update,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Created(n) | Self::Deleted(n) | Self::Update(n) | Self::Lifecycle(n, _) => n,
        }
    }

    /// virsh's line (without the timestamp).
    pub fn line(&self) -> String {
        match self {
            Self::Created(n) => format!("event 'lifecycle' for node device {n}: Created"),
            Self::Deleted(n) => format!("event 'lifecycle' for node device {n}: Deleted"),
            Self::Update(n) => format!("event 'update' for node device {n}"),
            Self::Lifecycle(n, what) => format!("event 'lifecycle' for node device {n}: {what}"),
        }
    }
}

/// The devices known so far, by sysfs path (libvirt's device list, which it
/// searches by path on `remove`), with their names.
#[derive(Default)]
pub struct Known {
    by_path: BTreeMap<String, String>,
}

/// The devices this tool lists now: sysfs path → name (`computer` has no path),
/// from the enumeration `nodedev list` runs (`nodes::enumerate`, names only: one
/// listing per batch of uevents, since under a slow machine a full enumeration
/// lags behind devices that come and go), so every class it lists has events,
/// named as it names them.
fn listed(sysfs: &dyn Sysfs) -> Result<BTreeMap<String, String>> {
    Ok(nodes::enumerate(sysfs, nodes::Detail::Names)?
        .nodes
        .into_iter()
        .map(|n| (n.sysfs_path.display().to_string(), n.name))
        .collect())
}

impl Known {
    /// What is listed now.
    pub fn read(sysfs: &dyn Sysfs) -> Result<Self> {
        Ok(Self {
            by_path: listed_retrying(sysfs)?,
        })
    }

    /// The node-device events one uevent means, by libvirt's rules, given what
    /// is listed now (`listed`, read only for the actions that need it).
    pub fn apply(
        &mut self,
        action: &str,
        syspath: &str,
        old_syspath: Option<&str>,
        listed: impl FnOnce() -> Result<BTreeMap<String, String>>,
    ) -> Result<Vec<NodeEvent>> {
        let mut events = Vec::new();
        match action {
            "remove" => {
                if let Some(name) = self.by_path.remove(syspath) {
                    events.push(NodeEvent::Deleted(name));
                }
                return Ok(events);
            }
            "add" | "change" | "move" => {}
            _ => return Ok(events),
        }
        if action == "move" {
            if let Some(name) = old_syspath.and_then(|p| self.by_path.remove(p)) {
                events.push(NodeEvent::Deleted(name));
            }
        }
        let now = listed()?;
        let Some(name) = now.get(syspath) else {
            return Ok(events); // a class this tool does not list, or gone already
        };
        let known = self.by_path.values().any(|n| n == name);
        // A name that moved to this path (a re-added device) leaves its old entry.
        self.by_path.retain(|_, n| n != name);
        self.by_path.insert(syspath.to_string(), name.clone());
        events.push(if known {
            NodeEvent::Update(name.clone())
        } else {
            NodeEvent::Created(name.clone())
        });
        Ok(events)
    }

    /// Whether a device of this name is known.
    pub fn has_name(&self, name: &str) -> bool {
        name == hostdev_manager::COMPUTER || self.by_path.values().any(|n| n == name)
    }
}

/// [`listed`], read again when a device vanished under it (a PCI function removed
/// between the directory listing and its link).
fn listed_retrying(sysfs: &dyn Sysfs) -> Result<BTreeMap<String, String>> {
    let mut tries = 0;
    loop {
        match listed(sysfs) {
            Ok(l) => return Ok(l),
            Err(_) if tries < 5 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// `virTimeStringNowRaw`: `2026-12-02 10:43:48.256+0000` (UTC).
fn timestamp(now: SystemTime) -> String {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// `nodedev event` without `--connect`.
pub fn event(backend: &Backend, args: &EventArgs, out: &mut dyn Write) -> Result<()> {
    if args.list {
        for name in EventType::names() {
            writeln!(out, "{name}")?;
        }
        return Ok(());
    }
    anyhow::ensure!(
        backend.host.is_live(),
        "--root names a snapshot: event needs the live kernel's uevents"
    );
    // Subscribe first, so that nothing between the listing and the loop is lost.
    let monitor = Monitor::open(match args.source {
        UeventSource::Auto => Source::Auto,
        UeventSource::Kernel => Source::Kernel,
        UeventSource::Udev => Source::Udev,
    })
    .context("cannot open the kernel's uevent socket (NETLINK_KOBJECT_UEVENT)")?;
    let sysfs = backend.host.sysfs();
    let mut known = Known::read(sysfs)?;
    if let Some(dev) = &args.device {
        if !known.has_name(dev) {
            return Err(not_found(dev));
        }
    }
    let wanted = |e: &NodeEvent| {
        (args.all || args.event == Some(e.kind()))
            && args.device.as_deref().is_none_or(|d| d == e.name())
    };
    run_loop(args, out, |until| {
        let first = match monitor.next(Some(until)) {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(Vec::new()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        // Everything already queued is one batch, read against one listing.
        let mut batch = vec![first];
        loop {
            match monitor.next(Some(Instant::now())) {
                Ok(Some(more)) => batch.push(more),
                Ok(None) => break,
                // Ctrl-C: the queued batch is printed first, then the loop stops.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => break,
                Err(e) => return Err(e.into()),
            }
        }
        let mut now: Option<BTreeMap<String, String>> = None;
        let mut events = Vec::new();
        for uevent in &batch {
            let these = known.apply(
                &uevent.action,
                &uevent.syspath(),
                uevent.old_syspath().as_deref(),
                || {
                    if now.is_none() {
                        now = Some(listed_retrying(sysfs)?);
                    }
                    Ok(now.clone().unwrap_or_default())
                },
            )?;
            let delivered = SystemTime::now();
            events.extend(
                these
                    .into_iter()
                    .filter(|e| wanted(e))
                    .map(|e| (delivered, e)),
            );
        }
        Ok(events)
    })
}

/// The loop both event sources share. `wait(until)` returns the events delivered
/// by `until` (none if nothing came); waits are at most [`CTRL_C_CHECK`] long, so
/// that Ctrl-C (even one that lands just before a wait) and the deadline are seen
/// while nothing comes. Each event is printed as it comes; the loop ends at the
/// deadline (`--timeout`), at Ctrl-C, or after the first event without `--loop`.
fn run_loop(
    args: &EventArgs,
    out: &mut dyn Write,
    mut wait: impl FnMut(Instant) -> Result<Vec<(SystemTime, NodeEvent)>>,
) -> Result<()> {
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
    let interrupted = on_ctrl_c()?;
    let mut printer = Printer::new(args, out);
    let end = 'wait: loop {
        if interrupted.load(Ordering::Relaxed) {
            break End::Interrupted;
        }
        let wake = Instant::now() + CTRL_C_CHECK;
        for (when, e) in wait(deadline.map_or(wake, |d| d.min(wake)))? {
            printer.print(when, &e)?;
            if !args.r#loop {
                break 'wait End::Done;
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break End::TimedOut;
        }
    };
    printer.finish(end)
}

/// How often an event loop looks at the Ctrl-C flag and the deadline while no
/// event comes.
const CTRL_C_CHECK: Duration = Duration::from_millis(200);

/// How an event loop ended, for virsh's last lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// The timeout passed: `event loop timed out`.
    TimedOut,
    /// Ctrl-C (SIGINT): `event loop interrupted`.
    Interrupted,
    /// The one event of a run without `--loop` came.
    Done,
}

/// A flag that SIGINT sets, instead of ending the process, so that the loop ends
/// with virsh's `event loop interrupted` and the count (virsh catches SIGINT while
/// it waits for events, too).
fn on_ctrl_c() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag))
        .context("cannot catch SIGINT")?;
    Ok(flag)
}

/// virsh's lines for the events of one `nodedev event`, counted.
struct Printer<'a> {
    out: &'a mut dyn Write,
    timestamp: bool,
    count: u64,
}

impl<'a> Printer<'a> {
    fn new(args: &EventArgs, out: &'a mut dyn Write) -> Self {
        Self {
            out,
            timestamp: args.timestamp,
            count: 0,
        }
    }

    /// One event, delivered at `when`, flushed at once (the reader may be a pipe).
    fn print(&mut self, when: SystemTime, e: &NodeEvent) -> Result<()> {
        if self.timestamp {
            write!(self.out, "{}: ", timestamp(when))?;
        }
        writeln!(self.out, "{}", e.line())?;
        self.out.flush()?;
        self.count += 1;
        Ok(())
    }

    /// virsh's last lines; exit status 1 when no event came.
    fn finish(self, end: End) -> Result<()> {
        match end {
            End::TimedOut => writeln!(self.out, "event loop timed out")?,
            End::Interrupted => writeln!(self.out, "event loop interrupted")?,
            End::Done => {}
        }
        writeln!(self.out, "events received: {}", self.count)?;
        if self.count == 0 {
            return Err(ReportedFailure.into());
        }
        Ok(())
    }
}

/// `nodedev event --connect URI`: libvirt's node-device events, through its event
/// API (`virConnectNodeDeviceEventRegisterAny`, as `virsh nodedev-event` does),
/// printed as virsh prints them.
#[cfg(feature = "libvirt")]
pub fn through_libvirt(uri: &str, args: &EventArgs, out: &mut dyn Write) -> Result<()> {
    use crate::libvirt::{message, Libvirt};
    use crate::libvirt_sys::Subscription;
    use crate::output::virsh_error;

    let lv_error = |e: virt::error::Error| virsh_error(&[message(&e)]);
    // The event loop before the connection: a connection opened without one
    // delivers no events (virsh registers it first too).
    virt::event::event_register_default_impl().map_err(lv_error)?;
    let lv = Libvirt::open(Some(uri))?;
    let device = args.device.as_deref().map(|d| lv.lookup(d)).transpose()?;
    let kinds: Vec<EventType> = if args.all {
        vec![EventType::Lifecycle, EventType::Update]
    } else {
        args.event.into_iter().collect()
    };
    let subscription =
        Subscription::new(lv.connection(), device.as_ref(), &kinds).map_err(lv_error)?;
    // libvirt's loop polls again after a signal, so a timer wakes it at least every
    // CTRL_C_CHECK for run_loop to look at the Ctrl-C flag and the deadline.
    let wake = virt::event::event_add_timeout(
        i32::try_from(CTRL_C_CHECK.as_millis()).unwrap_or(i32::MAX),
        |_, _| {},
        std::ptr::null_mut(),
    )
    .map_err(lv_error)?;
    let result = run_loop(args, out, |_until| {
        virt::event::event_run_default_impl().map_err(lv_error)?;
        Ok(subscription.take())
    });
    drop(subscription);
    let _ = wake.event_remove_timeout();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, n)| (p.to_string(), n.to_string()))
            .collect()
    }

    #[test]
    fn follows_libvirts_rules() {
        let pf = ("/sys/devices/p/0000:02:00.0", "pci_0000_02_00_0");
        let vf = ("/sys/devices/p/0000:02:10.0", "pci_0000_02_10_0");
        let mut k = Known {
            by_path: map(&[pf]),
        };
        let now = map(&[pf, vf]);
        let ok = |m: &BTreeMap<String, String>| {
            let m = m.clone();
            move || Ok(m)
        };
        assert_eq!(
            k.apply("add", vf.0, None, ok(&now)).unwrap(),
            [NodeEvent::Created(vf.1.into())]
        );
        assert_eq!(
            k.apply("change", vf.0, None, ok(&now)).unwrap(),
            [NodeEvent::Update(vf.1.into())]
        );
        assert_eq!(k.apply("bind", vf.0, None, ok(&now)).unwrap(), []);
        assert_eq!(
            k.apply("remove", vf.0, None, ok(&now)).unwrap(),
            [NodeEvent::Deleted(vf.1.into())]
        );
        assert_eq!(k.apply("remove", vf.0, None, ok(&now)).unwrap(), []);
        // A class not listed: nothing.
        assert_eq!(
            k.apply("add", "/sys/devices/p/usb1", None, ok(&now))
                .unwrap(),
            []
        );
    }

    #[test]
    fn a_rename_is_deleted_then_created() {
        let old = ("/sys/devices/p/net/eth3", "net_eth3_02_00_00_00_02_10");
        let new = ("/sys/devices/p/net/enp2s0", "net_enp2s0_02_00_00_00_02_10");
        let mut k = Known {
            by_path: map(&[old]),
        };
        let now = map(&[new]);
        assert_eq!(
            k.apply("move", new.0, Some(old.0), || Ok(now.clone()))
                .unwrap(),
            [
                NodeEvent::Deleted(old.1.into()),
                NodeEvent::Created(new.1.into())
            ]
        );
        // udevd's messages already carry the new name: its `move` finds no old path
        // and the device known: an update, as libvirt prints.
        assert_eq!(
            k.apply("move", new.0, Some(old.0), || Ok(now.clone()))
                .unwrap(),
            [NodeEvent::Update(new.1.into())]
        );
    }

    #[test]
    fn virsh_lines_and_timestamps() {
        assert_eq!(
            NodeEvent::Created("pci_0000_02_10_0".into()).line(),
            "event 'lifecycle' for node device pci_0000_02_10_0: Created"
        );
        assert_eq!(
            NodeEvent::Update("computer".into()).line(),
            "event 'update' for node device computer"
        );
        let t = UNIX_EPOCH + Duration::from_millis(1_796_208_228_256);
        assert_eq!(timestamp(t), "2026-12-02 10:43:48.256+0000");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000+0000");
    }
}
