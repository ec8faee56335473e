//! One device as libudev (systemd 252, Debian bookworm) hands it to libvirt's
//! node-device driver: its canonical sysfs path, subsystem, `DEVTYPE`, device
//! node and links, and the properties of the kernel's `uevent` file merged with
//! the udev database entry `/run/udev/data/<id>` — read directly, with no
//! libudev and no daemon (systemd's `src/libsystemd/sd-device/sd-device.c`:
//! `device_read_uevent_file`, `device_read_db_internal_filename`,
//! `device_get_device_id`).
//!
//! Without udevd there is no database: the properties udev rules add
//! (`ID_VENDOR_ID`, `ID_SERIAL`, `ID_TYPE`, `ID_CDROM`, devlinks…) are then
//! missing, exactly as libudev finds them missing, and libvirt drops what
//! needs them (USB devices, most disks). [`database_state`] says which case a
//! tree is in.
//!
//! Every read goes through [`Sysfs`], so a snapshot is read confined to its
//! root with bounded reads; a database file larger than [`MAX_UDEV_DATA`] is
//! not parsed (the device is read as if it had no entry, and
//! [`DbEntry::Unreadable`] says why).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sysfs::{resolve_link, Sysfs};

/// Where udevd keeps its database.
pub const UDEV_DATA: &str = "/run/udev/data";

/// The largest database file parsed: udevd writes a few KiB per device (the
/// property lines of its rules); anything larger did not come from it.
pub const MAX_UDEV_DATA: usize = 64 << 10;

/// Line ends as systemd's parsers see them (`NEWLINE`).
fn newline(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// A C string: the bytes before the first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    b.split(|c| *c == 0).next().unwrap_or_default()
}

/// Text of bytes that should be UTF-8 (sysfs and udev are byte strings): an
/// invalid sequence becomes U+FFFD.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `KEY=VALUE` lines of a `uevent` file, as `device_read_uevent_file`
/// splits them: a line without `=` is ignored, a last line without a line end
/// too; keys and values are C strings (cut at a NUL).
pub fn parse_uevent(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut key_start = None;
    let mut key: &[u8] = &[];
    let mut value_start = None;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(v) = value_start {
            if newline(b) {
                out.push((c_str(key).to_vec(), c_str(&bytes[v..i]).to_vec()));
                value_start = None;
            }
        } else if let Some(k) = key_start {
            if b == b'=' {
                key = &bytes[k..i];
                key_start = None;
                value_start = Some(i + 1);
            } else if newline(b) {
                key_start = None;
            }
        } else if !newline(b) {
            key_start = Some(i);
        }
    }
    out
}

/// One udev database file, read as `device_read_db_internal_filename` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbFile {
    /// `E:KEY=VALUE` lines in order; an empty value (`E:KEY=`) removes the
    /// property (`None`), as libudev does.
    pub properties: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// `S:` lines with `/dev/` put in front: the device's links.
    pub links: Vec<Vec<u8>>,
    /// Lines libudev ignores (no `:` after the key character, `E:` without `=`).
    pub ignored: usize,
}

/// Parses a udev database file byte by byte with libudev's state machine,
/// quirks included: the character after `X:` always belongs to the value (so
/// an empty `S:` line swallows the next line), a key character not followed by
/// `:` makes the line — up to the next line end after that character — be
/// ignored, a last line without a line end is dropped, and values are C
/// strings.
pub fn parse_db(bytes: &[u8]) -> DbFile {
    #[derive(Clone, Copy)]
    enum State {
        PreKey,
        Key(u8),
        PreValue(u8),
        Value(u8, usize),
        Invalid,
    }
    let mut out = DbFile::default();
    let mut state = State::PreKey;
    for (i, &b) in bytes.iter().enumerate() {
        state = match state {
            State::PreKey if newline(b) => State::PreKey,
            State::PreKey => State::Key(b),
            State::Key(k) if b == b':' => State::PreValue(k),
            State::Key(_) => {
                out.ignored += 1;
                State::Invalid
            }
            State::PreValue(k) => State::Value(k, i),
            State::Invalid if newline(b) => State::PreKey,
            State::Invalid => State::Invalid,
            State::Value(k, start) if newline(b) => {
                let value = c_str(&bytes[start..i]);
                match k {
                    b'S' => {
                        let mut link = b"/dev/".to_vec();
                        link.extend_from_slice(value);
                        out.links.push(link);
                    }
                    b'E' => match value.iter().position(|c| *c == b'=') {
                        Some(eq) => {
                            let v = &value[eq + 1..];
                            out.properties
                                .push((value[..eq].to_vec(), (!v.is_empty()).then(|| v.to_vec())));
                        }
                        None => out.ignored += 1,
                    },
                    _ => {}
                }
                State::PreKey
            }
            s @ State::Value(..) => s,
        };
    }
    out
}

/// What became of a device's database entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DbEntry {
    /// `/run/udev/data/<id>` was read.
    Read {
        /// The file.
        path: String,
    },
    /// There is no such file (no udevd, or udevd has not processed the device).
    Missing {
        /// The file looked for.
        path: String,
    },
    /// The file exists but was not used.
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The device has no database id (no subsystem).
    NoId,
    /// Not read: the device's class uses nothing from it (no property, no
    /// device node for links), so a listing leaves it unread.
    NotRead {
        /// The file.
        path: String,
    },
}

/// Whether a tree has a udev database at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseState {
    /// `/run/udev/data` exists: udevd runs (or ran) on this host.
    Present,
    /// No `/run/udev/data`: no udevd (a container, a minimal host, an old
    /// snapshot). libvirt then lists no USB devices and, of the disks, only
    /// `/dev/vd*`, `/dev/nvme*` and `/dev/dasd*` ones.
    Absent,
}

/// Whether the udev database exists in this tree.
pub fn database_state(sysfs: &dyn Sysfs) -> DatabaseState {
    if sysfs.is_dir(Path::new(UDEV_DATA)) {
        DatabaseState::Present
    } else {
        DatabaseState::Absent
    }
}

/// A device as libudev describes it.
#[derive(Clone, Debug)]
pub struct UdevDevice {
    /// The canonical sysfs path (`/sys/devices/…`).
    pub syspath: PathBuf,
    /// The subsystem (the basename of the `subsystem` link), raw bytes.
    pub subsystem: Vec<u8>,
    /// The sysname: the basename of the syspath, `!` read as `/`.
    pub sysname: Vec<u8>,
    /// `DEVTYPE` (`None` when the uevent file has none).
    pub devtype: Option<Vec<u8>>,
    /// `/dev/` + `DEVNAME`.
    pub devnode: Option<Vec<u8>>,
    /// The device's links (`S:` lines), sorted as libudev sorts them (strcmp),
    /// each once.
    pub devlinks: Vec<Vec<u8>>,
    /// The database entry.
    pub db: DbEntry,
    properties: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl UdevDevice {
    /// Reads the device whose real directory is `syspath` — its uevent and
    /// subsystem, not yet its database entry ([`UdevDevice::load_db`]) — or
    /// `None` when it is not a device libudev would create (no `uevent` file,
    /// no `subsystem`).
    pub fn read_uevent(sysfs: &dyn Sysfs, syspath: &Path) -> Option<Self> {
        let uevent = sysfs.read(&syspath.join("uevent")).ok()?;
        let subsystem = sysfs
            .read_link(&syspath.join("subsystem"))
            .ok()?
            .file_name()?
            .as_bytes()
            .to_vec();
        let raw_name = syspath.file_name()?.as_bytes();
        let sysname: Vec<u8> = raw_name
            .iter()
            .map(|&b| if b == b'!' { b'/' } else { b })
            .collect();
        let mut properties = BTreeMap::new();
        let (mut major, mut minor) = (None, None);
        for (k, v) in parse_uevent(&uevent) {
            match k.as_slice() {
                b"MAJOR" => major = Some(v),
                b"MINOR" => minor = Some(v),
                b"DEVNAME" => {
                    let v = if v.first() == Some(&b'/') {
                        v
                    } else {
                        [b"/dev/".as_slice(), &v].concat()
                    };
                    properties.insert(k, v);
                }
                b"IFINDEX" => {
                    if parse_positive(&v).is_some() {
                        properties.insert(k, v);
                    }
                }
                _ => {
                    properties.insert(k, v);
                }
            }
        }
        // device_set_devnum: MAJOR 0 means none; both must be numbers.
        let devnum = match (&major, &minor) {
            (Some(ma), mi) => {
                let maj = parse_u32(ma);
                let min = mi.as_deref().map(parse_u32);
                match (maj, min) {
                    (Some(0), _) => None,
                    (Some(a), None) => Some((a, 0)),
                    (Some(a), Some(Some(b))) => Some((a, b)),
                    _ => None,
                }
            }
            _ => None,
        };
        if devnum.is_some() {
            if let Some(ma) = major {
                properties.insert(b"MAJOR".to_vec(), ma);
            }
            if let Some(mi) = minor {
                properties.insert(b"MINOR".to_vec(), mi);
            }
        }
        properties.insert(b"SUBSYSTEM".to_vec(), subsystem.clone());
        let id = match (devnum, properties.get(b"IFINDEX".as_slice())) {
            (Some((a, b)), _) => {
                format!("{}{a}:{b}", if subsystem == b"block" { 'b' } else { 'c' })
            }
            (None, Some(ifindex)) => format!("n{}", lossy(ifindex)),
            (None, None) => format!("+{}:{}", lossy(&subsystem), lossy(raw_name)),
        };
        // DEVTYPE and the node come from the uevent file only (libudev keeps
        // them apart from the properties the database may add).
        let devtype = properties.get(b"DEVTYPE".as_slice()).cloned();
        let devnode = properties.get(b"DEVNAME".as_slice()).cloned();
        let db = if id.contains('/') {
            DbEntry::NoId
        } else {
            DbEntry::NotRead {
                path: format!("{UDEV_DATA}/{id}"),
            }
        };
        Some(Self {
            syspath: syspath.to_path_buf(),
            subsystem,
            sysname,
            devtype,
            devnode,
            devlinks: Vec::new(),
            db,
            properties,
        })
    }

    /// Reads the device: its uevent, subsystem and database entry.
    pub fn read(sysfs: &dyn Sysfs, syspath: &Path) -> Option<Self> {
        let mut dev = Self::read_uevent(sysfs, syspath)?;
        dev.load_db(sysfs);
        Some(dev)
    }

    /// Merges the database entry into the properties (once; nothing when the
    /// device has no database id).
    pub fn load_db(&mut self, sysfs: &dyn Sysfs) {
        let DbEntry::NotRead { path } = &self.db else {
            return;
        };
        let path = path.clone();
        let properties = &mut self.properties;
        let mut devlinks = Vec::new();
        let db = {
            match sysfs.read(Path::new(&path)) {
                Ok(bytes) if bytes.len() > MAX_UDEV_DATA => DbEntry::Unreadable {
                    path,
                    reason: format!(
                        "{} bytes, more than the {} KiB a udev database entry may have",
                        bytes.len(),
                        MAX_UDEV_DATA >> 10
                    ),
                },
                Ok(bytes) => {
                    let file = parse_db(&bytes);
                    for (k, v) in file.properties {
                        match v {
                            Some(v) => properties.insert(k, v),
                            None => properties.remove(&k),
                        };
                    }
                    devlinks = file.links;
                    devlinks.sort();
                    devlinks.dedup();
                    DbEntry::Read { path }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => DbEntry::Missing { path },
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => DbEntry::Unreadable {
                    path,
                    reason: format!(
                        "larger than the {} KiB a udev database entry may have",
                        MAX_UDEV_DATA >> 10
                    ),
                },
                Err(e) => DbEntry::Unreadable {
                    path,
                    reason: e.to_string(),
                },
            }
        };
        self.devlinks = devlinks;
        self.db = db;
    }

    /// `udev_device_get_property_value`.
    pub fn property(&self, key: &str) -> Option<&[u8]> {
        self.properties.get(key.as_bytes()).map(Vec::as_slice)
    }

    /// A property as text (invalid UTF-8 replaced).
    pub fn property_text(&self, key: &str) -> Option<String> {
        self.property(key).map(lossy)
    }

    /// Whether `DEVTYPE` is `t`.
    pub fn devtype_is(&self, t: &str) -> bool {
        self.devtype.as_deref() == Some(t.as_bytes())
    }

    /// Whether the subsystem is `s`.
    pub fn subsystem_is(&self, s: &str) -> bool {
        self.subsystem == s.as_bytes()
    }

    /// `udev_device_get_sysattr_value`: the attribute file with its trailing
    /// line ends removed, up to its first NUL; `None` when it cannot be read.
    pub fn sysattr(&self, sysfs: &dyn Sysfs, name: &str) -> Option<Vec<u8>> {
        sysattr(sysfs, &self.syspath, name)
    }

    /// libvirt's `udevGetStringSysfsAttr`: the attribute without the control
    /// characters libvirt strips (all C0 controls but line feed), and `None`
    /// when that leaves it empty.
    pub fn string_sysattr(&self, sysfs: &dyn Sysfs, name: &str) -> Option<String> {
        self.sysattr(sysfs, name).and_then(libvirt_string)
    }

    /// The node-device name libvirt builds (`nodeDeviceGenerateName`):
    /// subsystem `_` sysname (`_` suffix), every byte that is not an ASCII
    /// letter or digit replaced by `_`.
    pub fn nodedev_name(&self, suffix: Option<&[u8]>) -> String {
        let mut raw = self.subsystem.clone();
        raw.push(b'_');
        raw.extend_from_slice(&self.sysname);
        if let Some(s) = suffix {
            raw.push(b'_');
            raw.extend_from_slice(s);
        }
        crate::sanitize_bytes(&raw)
    }

    /// The `driver` link's basename, read as libvirt reads it for the XML.
    pub fn driver(&self, sysfs: &dyn Sysfs) -> Option<String> {
        driver_of(sysfs, &self.syspath)
    }
}

/// The basename of `<dir>/driver`, if the link resolves.
pub fn driver_of(sysfs: &dyn Sysfs, dir: &Path) -> Option<String> {
    let link = dir.join("driver");
    let target = sysfs.read_link(&link).ok()?;
    let name = target.file_name()?.as_bytes();
    (!name.is_empty()).then(|| lossy(name))
}

/// An attribute as libvirt's `udevGetStringSysfsAttr` keeps it: without the
/// control characters `virStringStripControlChars` removes (every C0 control
/// but tab, line feed and carriage return), `None` when that leaves nothing.
pub fn libvirt_string(v: Vec<u8>) -> Option<String> {
    let kept: Vec<u8> = v
        .into_iter()
        .filter(|b| !matches!(b, 0x01..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f))
        .collect();
    (!kept.is_empty()).then(|| lossy(&kept))
}

/// `udev_device_get_sysattr_value` of `<dir>/<name>`.
pub fn sysattr(sysfs: &dyn Sysfs, dir: &Path, name: &str) -> Option<Vec<u8>> {
    let mut v = sysfs.read(&dir.join(name)).ok()?;
    while v.last().is_some_and(|b| newline(*b)) {
        v.pop();
    }
    let n = c_str(&v).len();
    v.truncate(n);
    Some(v)
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    // systemd's safe_atou: strtoul with base 10, no sign, whole string.
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_positive(b: &[u8]) -> Option<u32> {
    parse_u32(b).filter(|v| *v > 0 && *v <= i32::MAX as u32)
}

/// The real directory a sysfs link (`/sys/bus/usb/devices/1-1`) points to;
/// a plain directory (a hand-made tree) is its own.
pub fn canonical(sysfs: &dyn Sysfs, link: &Path) -> Option<PathBuf> {
    match sysfs.read_link(link) {
        Ok(target) => Some(resolve_link(link, &target)),
        Err(_) if sysfs.is_dir(link) => Some(link.to_path_buf()),
        Err(_) => None,
    }
}

/// libudev's enumeration order (`device_compare` in `device-enumerator.c`):
/// `…/block/md*` and `…/block/dm-*` last, otherwise by path, component by
/// component, so a device comes before everything below it.
pub fn enumeration_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let (a, b) = (a.as_os_str().as_bytes(), b.as_os_str().as_bytes());
    let late = |s: &[u8]| contains(s, b"/block/md") || contains(s, b"/block/dm-");
    late(a).cmp(&late(b)).then_with(|| path_order(a, b))
}

/// systemd's `path_compare` of two normalized absolute paths: component by
/// component, bytewise, a shorter component first (so `/a/b` before `/a-b`,
/// and a path before everything below it). `Path`'s own ordering says the
/// same, slower.
pub fn path_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let mut x = a.split(|c| *c == b'/').filter(|p| !p.is_empty());
    let mut y = b.split(|c| *c == b'/').filter(|p| !p.is_empty());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => match p.cmp(q) {
                std::cmp::Ordering::Equal => {}
                o => return o,
            },
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uevent_lines_as_libudev_splits_them() {
        let got = parse_uevent(
            b"MAJOR=8\nMINOR=0\nDEVNAME=sda\nno-equals\nEMPTY=\nA=b=c\r\nLAST=unterminated",
        );
        let want: Vec<(Vec<u8>, Vec<u8>)> = [
            ("MAJOR", "8"),
            ("MINOR", "0"),
            ("DEVNAME", "sda"),
            ("EMPTY", ""),
            ("A", "b=c"),
        ]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(
            parse_uevent(b"K=v\0hidden\n"),
            vec![(b"K".to_vec(), b"v".to_vec())]
        );
    }

    #[test]
    fn db_lines_as_libudev_parses_them() {
        let db = parse_db(
            b"S:disk/by-id/b\nS:disk/by-id/a\nI:123\nE:ID_TYPE=disk\nE:ID_FS_LABEL=\nE:NOEQUALS\nXY\nE:KEPT=1\nE:ID_BUS=ata\nE:TAIL=1",
        );
        assert_eq!(
            db.links,
            vec![b"/dev/disk/by-id/b".to_vec(), b"/dev/disk/by-id/a".to_vec()]
        );
        assert_eq!(
            db.properties,
            vec![
                (b"ID_TYPE".to_vec(), Some(b"disk".to_vec())),
                (b"ID_FS_LABEL".to_vec(), None),
                (b"KEPT".to_vec(), Some(b"1".to_vec())),
                (b"ID_BUS".to_vec(), Some(b"ata".to_vec())),
            ]
        );
        // "E:NOEQUALS" has no '='; "XY" has no ':' after its key character
        // (its own line end ends it); the unterminated last line is dropped.
        assert_eq!(db.ignored, 2);
        // An empty value takes the line end as its first character: the next
        // line is part of it.
        let db = parse_db(b"S:\nE:ID_TYPE=disk\nE:ID_BUS=usb\n");
        assert_eq!(db.links, vec![b"/dev/\nE:ID_TYPE=disk".to_vec()]);
        assert_eq!(
            db.properties,
            vec![(b"ID_BUS".to_vec(), Some(b"usb".to_vec()))]
        );
        // A key character followed by a line end: that line end made the line
        // invalid, so the next line is skipped too.
        let db = parse_db(b"X\nE:SKIPPED=1\nE:KEPT=1\n");
        assert_eq!(db.properties, vec![(b"KEPT".to_vec(), Some(b"1".to_vec()))]);
    }

    #[test]
    fn path_order_is_component_by_component() {
        use std::cmp::Ordering::*;
        assert_eq!(path_order(b"/a/b", b"/a-b"), Less);
        assert_eq!(path_order(b"/a", b"/a/b"), Less);
        assert_eq!(path_order(b"/a/b", b"/a/b"), Equal);
        assert_eq!(path_order(b"/a/c", b"/a/b/z"), Greater);
        for (a, b) in [
            ("/x/y", "/x-y"),
            ("/p/0000:00:1f.2", "/p/0000:00:1f.20"),
            ("/q", "/q/r"),
        ] {
            assert_eq!(
                path_order(a.as_bytes(), b.as_bytes()),
                Path::new(a).cmp(Path::new(b)),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn enumeration_puts_parents_first_and_md_dm_last() {
        let mut v: Vec<PathBuf> = [
            "/sys/devices/virtual/block/dm-0",
            "/sys/devices/pci0000:00/0000:00:1f.2/ata1",
            "/sys/devices/pci0000:00/0000:00:1f.2",
            "/sys/devices/pci0000:00/0000:00:1f.20",
            "/sys/devices/virtual/block/loop0",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        v.sort_by(|a, b| enumeration_order(a, b));
        let got: Vec<&str> = v.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            got,
            [
                "/sys/devices/pci0000:00/0000:00:1f.2",
                "/sys/devices/pci0000:00/0000:00:1f.2/ata1",
                "/sys/devices/pci0000:00/0000:00:1f.20",
                "/sys/devices/virtual/block/loop0",
                "/sys/devices/virtual/block/dm-0",
            ]
        );
    }
}
