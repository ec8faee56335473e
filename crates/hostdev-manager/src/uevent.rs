//! Device events from the kernel's uevent netlink socket (`NETLINK_KOBJECT_UEVENT`),
//! the source libvirt's node-device driver learns of added and removed devices from.
//!
//! Two multicast groups carry them:
//!
//! - group 1, the kernel's own messages: `ACTION@DEVPATH\0KEY=VALUE\0…`, sent as the
//!   kernel adds, removes, renames (`move`) or changes a device; an interface has its
//!   kernel name (`eth3`) here, before udevd renames it;
//! - group 2, udevd's re-broadcast once its rules have run (a `libudev` header, then
//!   the properties): what libvirt itself reads through libudev, with renamed
//!   interfaces under their new names.
//!
//! [`Source::Auto`] takes udevd's when udevd runs (its control socket exists) and the
//! kernel's otherwise. Only privileged processes can send to either group (the
//! kernel does not set `NL_CFG_F_NONROOT_SEND` for this protocol); the kernel's
//! messages are further checked to come from port 0, the kernel, as libudev does.
//!
//! The socket is rustix's (safe, already the engine's system-call crate): it gives the
//! sender's address with each message and a `poll` with a timeout, which neli's raw
//! socket (used for ethtool netlink in [`crate::net_features`]) does not expose.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{
    bind, recvfrom, socket_with, sockopt, AddressFamily, RecvFlags, SocketFlags, SocketType,
};

/// Where udevd's control socket is while udevd runs.
pub const UDEV_CONTROL: &str = "/run/udev/control";

/// Which messages to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The kernel's (group 1).
    Kernel,
    /// udevd's, after its rules ran (group 2).
    Udev,
    /// udevd's if udevd runs, else the kernel's.
    Auto,
}

impl Source {
    /// What [`Source::Auto`] means on this host now.
    pub fn resolve(self) -> Self {
        match self {
            Self::Auto if Path::new(UDEV_CONTROL).exists() => Self::Udev,
            Self::Auto => Self::Kernel,
            other => other,
        }
    }

    fn group(self) -> u32 {
        match self.resolve() {
            Self::Udev => 2,
            _ => 1,
        }
    }
}

/// One device event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uevent {
    /// `add`, `remove`, `change`, `move`, `bind`, `unbind`, `online`, `offline`.
    pub action: String,
    /// The device's path under `/sys` (`/devices/pci0000:00/0000:00:01.0`).
    pub devpath: String,
    /// Every `KEY=VALUE` the message carried (`SUBSYSTEM`, `INTERFACE`, `DEVPATH_OLD`, …).
    pub properties: BTreeMap<String, String>,
}

impl Uevent {
    /// The device's sysfs path (`/sys` + `DEVPATH`).
    pub fn syspath(&self) -> String {
        format!("/sys{}", self.devpath)
    }

    /// For a `move`: the sysfs path the device had before.
    pub fn old_syspath(&self) -> Option<String> {
        self.properties
            .get("DEVPATH_OLD")
            .map(|p| format!("/sys{p}"))
    }

    /// Parses a message of either group; `None` for anything else (a truncated or
    /// foreign message, one without `ACTION` or `DEVPATH`).
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let props: &[u8] = if buf.starts_with(b"libudev\0") {
            // struct monitor_netlink_header: prefix[8], magic (big endian 0xfeedcafe),
            // header_size, properties_off, properties_len, … (host order).
            let word = |at: usize| -> Option<u32> {
                Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
            };
            if buf.get(8..12)? != 0xfeed_cafe_u32.to_be_bytes() {
                return None;
            }
            let off = usize::try_from(word(16)?).ok()?;
            let len = usize::try_from(word(20)?).ok()?;
            buf.get(off..off.checked_add(len)?)?
        } else {
            // "ACTION@DEVPATH\0" first, then the properties.
            let first = buf.iter().position(|&b| b == 0)?;
            if !buf[..first].contains(&b'@') {
                return None;
            }
            &buf[first + 1..]
        };
        let mut properties = BTreeMap::new();
        for field in props.split(|&b| b == 0).filter(|f| !f.is_empty()) {
            let text = std::str::from_utf8(field).ok()?;
            if let Some((k, v)) = text.split_once('=') {
                properties.insert(k.to_string(), v.to_string());
            }
        }
        Some(Self {
            action: properties.get("ACTION")?.clone(),
            devpath: properties.get("DEVPATH")?.clone(),
            properties,
        })
    }
}

/// An open uevent socket.
pub struct Monitor {
    fd: OwnedFd,
    source: Source,
}

/// The largest uevent: the kernel's buffer is 2048 bytes, udevd's messages carry
/// its properties on top (libudev reads with 8 KiB).
const MAX_MESSAGE: usize = 16 * 1024;

impl Monitor {
    /// Subscribes to `source`'s group. Events from now on are queued (the socket's
    /// receive buffer is raised to 4 MiB when allowed, as udevd's listeners do).
    pub fn open(source: Source) -> std::io::Result<Self> {
        let source = source.resolve();
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::KOBJECT_UEVENT),
        )?;
        let _ = sockopt::set_socket_recv_buffer_size_force(&fd, 4 << 20)
            .or_else(|_| sockopt::set_socket_recv_buffer_size(&fd, 4 << 20));
        bind(&fd, &SocketAddrNetlink::new(0, source.group()))?;
        Ok(Self { fd, source })
    }

    /// The group this monitor reads.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The next event, waiting until `deadline` (forever when `None`; a deadline
    /// already past takes only what is queued); `Ok(None)` once the deadline
    /// passed. Messages that do not parse, or that claim to be the kernel's but
    /// come from a process, are skipped. A signal caught while waiting returns an
    /// error of kind [`std::io::ErrorKind::Interrupted`], so that the caller can
    /// look at what its handler set (Ctrl-C) and call again to go on.
    pub fn next(&self, deadline: Option<Instant>) -> std::io::Result<Option<Uevent>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            // A deadline already past polls once without waiting (what is queued).
            let timeout = deadline.map(|d| timespec(d.saturating_duration_since(Instant::now())));
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, timeout.as_ref()) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            let (n, _, from) = match recvfrom(&self.fd, &mut buf[..], RecvFlags::DONTWAIT) {
                Ok(r) => r,
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                // The queue overflowed: events were lost, as for libvirt then; go on.
                Err(rustix::io::Errno::NOBUFS) => continue,
                Err(e) => return Err(e.into()),
            };
            let sender = from.and_then(|a| SocketAddrNetlink::try_from(a).ok());
            let from_kernel = sender.is_some_and(|s| s.pid() == 0);
            if self.source == Source::Kernel && !from_kernel {
                continue;
            }
            if let Some(event) = Uevent::parse(&buf[..n.min(buf.len())]) {
                return Ok(Some(event));
            }
        }
    }
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_kernel_message() {
        let msg = b"add@/devices/pci0000:00/0000:00:02.0/0000:02:10.0\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:02.0/0000:02:10.0\0SUBSYSTEM=pci\0PCI_SLOT_NAME=0000:02:10.0\0SEQNUM=1234\0";
        let e = Uevent::parse(msg).unwrap();
        assert_eq!(e.action, "add");
        assert_eq!(
            e.syspath(),
            "/sys/devices/pci0000:00/0000:00:02.0/0000:02:10.0"
        );
        assert_eq!(e.properties["SUBSYSTEM"], "pci");
        assert_eq!(e.old_syspath(), None);
    }

    #[test]
    fn parses_a_udev_message() {
        let props = b"ACTION=move\0DEVPATH=/devices/x/net/enp2s0\0DEVPATH_OLD=/devices/x/net/eth3\0SUBSYSTEM=net\0INTERFACE=enp2s0\0";
        let mut msg = b"libudev\0".to_vec();
        msg.extend_from_slice(&0xfeed_cafe_u32.to_be_bytes());
        msg.extend_from_slice(&40u32.to_ne_bytes()); // header size
        msg.extend_from_slice(&40u32.to_ne_bytes()); // properties offset
        msg.extend_from_slice(&(props.len() as u32).to_ne_bytes());
        msg.resize(40, 0);
        msg.extend_from_slice(props);
        let e = Uevent::parse(&msg).unwrap();
        assert_eq!(e.action, "move");
        assert_eq!(e.old_syspath().as_deref(), Some("/sys/devices/x/net/eth3"));
        assert_eq!(e.properties["INTERFACE"], "enp2s0");
    }

    #[test]
    fn rejects_foreign_and_truncated_messages() {
        assert_eq!(Uevent::parse(b""), None);
        assert_eq!(Uevent::parse(b"hello\0ACTION=add\0"), None);
        assert_eq!(Uevent::parse(b"add@/x\0SUBSYSTEM=pci\0"), None);
        let mut bad = b"libudev\0".to_vec();
        bad.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(Uevent::parse(&bad), None);
        let mut short = b"libudev\0".to_vec();
        short.extend_from_slice(&0xfeed_cafe_u32.to_be_bytes());
        short.extend_from_slice(&[40, 0, 0, 0, 40, 0, 0, 0, 255, 0, 0, 0]);
        assert_eq!(Uevent::parse(&short), None);
    }
}
