//! Hand-made sysfs trees, laid out as the kernel lays them out: real device
//! directories under `sys/devices`, relative links from `sys/bus/pci/devices`,
//! `driver` and `iommu_group` links, and the reverse links of drivers and groups.
//! Used only for what no kernel in the QEMU rig can show (VPD, mdev types, a
//! pre-3.16 kernel without `driver_override`, an unprivileged read of config).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

/// A sysfs tree in a temporary directory.
pub struct Tree {
    dir: tempfile::TempDir,
}

/// One PCI function to add.
#[derive(Clone)]
pub struct Function {
    /// `0000:07:00.0`.
    pub bdf: &'static str,
    /// The bridge it sits behind (`None`: the root bus).
    pub parent: Option<&'static str>,
    pub vendor: u16,
    pub device: u16,
    pub class: u32,
    pub subsystem: (u16, u16),
    /// Raw configuration space (64 bytes for an unprivileged reader).
    pub config: Vec<u8>,
    pub driver: Option<&'static str>,
    pub iommu_group: Option<u32>,
    pub numa_node: i32,
    /// Kernels before 3.16 have no `driver_override`.
    pub driver_override: bool,
    pub vpd: Option<Vec<u8>>,
    /// (id, name, device_api, available_instances)
    pub mdev_types: Vec<(&'static str, Option<&'static str>, &'static str, u32)>,
    pub total_vfs: Option<u32>,
    pub physfn: Option<&'static str>,
}

impl Function {
    /// An endpoint on the root bus with a 256-byte conventional config.
    pub fn new(bdf: &'static str, vendor: u16, device: u16, class: u32) -> Self {
        Self {
            bdf,
            parent: None,
            vendor,
            device,
            class,
            subsystem: (vendor, 0),
            config: config(vendor, device, class, 0, 256),
            driver: None,
            iommu_group: None,
            numa_node: -1,
            driver_override: true,
            vpd: None,
            mdev_types: Vec::new(),
            total_vfs: None,
            physfn: None,
        }
    }
}

/// A configuration space of `len` bytes with the given ids and header type.
pub fn config(vendor: u16, device: u16, class: u32, header_type: u8, len: usize) -> Vec<u8> {
    let mut c = vec![0u8; len.max(64)];
    c[0..2].copy_from_slice(&vendor.to_le_bytes());
    c[2..4].copy_from_slice(&device.to_le_bytes());
    c[0x09] = class as u8;
    c[0x0a] = (class >> 8) as u8;
    c[0x0b] = (class >> 16) as u8;
    c[0x0e] = header_type;
    c.truncate(len);
    c
}

/// Adds a PCI Express capability at 0x40 (port type, LNKCAP, LNKSTA) to a config.
pub fn with_pcie(mut c: Vec<u8>, port_type: u16, lnkcap: u32, lnksta: u16) -> Vec<u8> {
    c[0x06] |= 0x10;
    c[0x34] = 0x40;
    c[0x40] = 0x10;
    c[0x41] = 0;
    c[0x42..0x44].copy_from_slice(&((port_type << 4) | 2).to_le_bytes());
    c[0x4c..0x50].copy_from_slice(&lnkcap.to_le_bytes());
    c[0x52..0x54].copy_from_slice(&lnksta.to_le_bytes());
    c
}

/// The relative link target from the directory holding `link` to `target`
/// (both absolute, as on a live system).
fn relative(link: &Path, target: &Path) -> PathBuf {
    let from: Vec<Component> = link.parent().unwrap().components().collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

impl Tree {
    /// An empty tree with the top-level directories the kernel always has.
    pub fn new() -> Self {
        let t = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in [
            "sys/bus/pci/devices",
            "sys/bus/pci/drivers",
            "sys/kernel/iommu_groups",
            "sys/class/net",
            "sys/devices/pci0000:00",
        ] {
            t.mkdir(&Path::new("/").join(d));
        }
        t.file("/sys/bus/pci/drivers_probe", b"");
        t
    }

    /// The root to pass to `--root`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn host(&self, abs: &Path) -> PathBuf {
        self.dir.path().join(abs.strip_prefix("/").unwrap())
    }

    fn mkdir(&self, abs: &Path) {
        fs::create_dir_all(self.host(abs)).unwrap();
    }

    /// Writes a file (creating its directory).
    pub fn file(&self, abs: impl AsRef<Path>, content: &[u8]) {
        let p = self.host(abs.as_ref());
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    /// Makes `link` a relative symlink to `target`.
    pub fn link(&self, link: impl AsRef<Path>, target: impl AsRef<Path>) {
        let (link, target) = (link.as_ref(), target.as_ref());
        let p = self.host(link);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        symlink(relative(link, target), p).unwrap();
    }

    fn device_path(&self, bdf: &str) -> PathBuf {
        let link = self.host(&Path::new("/sys/bus/pci/devices").join(bdf));
        let target =
            fs::read_link(&link).unwrap_or_else(|_| panic!("add {bdf} before its children"));
        let mut abs = PathBuf::from("/sys/bus/pci/devices");
        for c in target.components() {
            match c {
                Component::ParentDir => {
                    abs.pop();
                }
                Component::Normal(n) => abs.push(n),
                _ => {}
            }
        }
        abs
    }

    /// Adds a PCI function with everything the kernel would create for it.
    pub fn add(&self, f: &Function) -> &Self {
        let domain = &f.bdf[..4];
        let dir = match f.parent {
            Some(p) => self.device_path(p).join(f.bdf),
            None => PathBuf::from(format!("/sys/devices/pci{domain}:00")).join(f.bdf),
        };
        self.mkdir(&dir);
        let attr = |name: &str, v: String| self.file(dir.join(name), v.as_bytes());
        attr("vendor", format!("0x{:04x}\n", f.vendor));
        attr("device", format!("0x{:04x}\n", f.device));
        attr("class", format!("0x{:06x}\n", f.class));
        attr("subsystem_vendor", format!("0x{:04x}\n", f.subsystem.0));
        attr("subsystem_device", format!("0x{:04x}\n", f.subsystem.1));
        attr("numa_node", format!("{}\n", f.numa_node));
        attr(
            "modalias",
            format!(
                "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}\n",
                f.vendor,
                f.device,
                f.subsystem.0,
                f.subsystem.1,
                f.class >> 16,
                (f.class >> 8) & 0xff,
                f.class & 0xff
            ),
        );
        // The uevent a PCI function has (libudev's device test, and what
        // finds an mdev's parent, need one).
        let mut uevent = String::new();
        if let Some(d) = f.driver {
            uevent.push_str(&format!("DRIVER={d}\n"));
        }
        uevent.push_str(&format!(
            "PCI_CLASS={:X}\nPCI_ID={:04X}:{:04X}\nPCI_SUBSYS_ID={:04X}:{:04X}\nPCI_SLOT_NAME={}\n",
            f.class, f.vendor, f.device, f.subsystem.0, f.subsystem.1, f.bdf
        ));
        attr("uevent", uevent);
        self.link(dir.join("subsystem"), "/sys/bus/pci");
        self.file(dir.join("config"), &f.config);
        if f.driver_override {
            attr("driver_override", "(null)\n".into());
        }
        if let Some(vpd) = &f.vpd {
            self.file(dir.join("vpd"), vpd);
        }
        if let Some(n) = f.total_vfs {
            attr("sriov_totalvfs", format!("{n}\n"));
            attr("sriov_numvfs", "0\n".into());
        }
        for (id, name, api, n) in &f.mdev_types {
            let t = dir.join("mdev_supported_types").join(id);
            if let Some(name) = name {
                self.file(t.join("name"), format!("{name}\n").as_bytes());
            }
            self.file(t.join("device_api"), format!("{api}\n").as_bytes());
            self.file(t.join("available_instances"), format!("{n}\n").as_bytes());
        }
        self.link(Path::new("/sys/bus/pci/devices").join(f.bdf), &dir);
        if let Some(drv) = f.driver {
            let ddir = Path::new("/sys/bus/pci/drivers").join(drv);
            for a in ["bind", "unbind", "new_id", "remove_id"] {
                self.file(ddir.join(a), b"");
            }
            self.link(dir.join("driver"), &ddir);
            self.link(ddir.join(f.bdf), &dir);
        }
        if let Some(g) = f.iommu_group {
            let gdir = Path::new("/sys/kernel/iommu_groups").join(g.to_string());
            self.link(dir.join("iommu_group"), &gdir);
            self.link(gdir.join("devices").join(f.bdf), &dir);
        }
        if let Some(pf) = f.physfn {
            let pf_dir = self.device_path(pf);
            self.link(dir.join("physfn"), &pf_dir);
            let mut i = 0;
            while self.host(&pf_dir.join(format!("virtfn{i}"))).exists() {
                i += 1;
            }
            self.link(pf_dir.join(format!("virtfn{i}")), &dir);
        }
        self
    }

    /// Adds a network interface under a PCI function (or virtual, with `None`).
    pub fn net(
        &self,
        parent: Option<&str>,
        ifname: &str,
        mac: &str,
        operstate: &str,
        speed: i64,
    ) -> &Self {
        let dir = match parent {
            Some(p) => self.device_path(p).join("net").join(ifname),
            None => Path::new("/sys/devices/virtual/net").join(ifname),
        };
        self.file(dir.join("address"), format!("{mac}\n").as_bytes());
        self.file(dir.join("operstate"), format!("{operstate}\n").as_bytes());
        self.file(dir.join("speed"), format!("{speed}\n").as_bytes());
        self.file(dir.join("type"), b"1\n");
        self.file(
            dir.join("uevent"),
            format!("INTERFACE={ifname}\nIFINDEX=2\n").as_bytes(),
        );
        self.link(Path::new("/sys/class/net").join(ifname), &dir);
        self
    }

    /// Adds a device the way the kernel registers one: its directory (`path`,
    /// under `/sys/devices`) with a `uevent` file and a `subsystem` link to
    /// `subsystem` (`/sys/bus/scsi`, `/sys/class/scsi_generic`), and the link
    /// to it in that subsystem's list (`…/devices/NAME` for a bus, `NAME` for
    /// a class).
    pub fn device(&self, path: &str, subsystem: &str, uevent: &str) -> &Self {
        let dir = Path::new(path);
        self.file(dir.join("uevent"), uevent.as_bytes());
        self.link(dir.join("subsystem"), subsystem);
        let name = dir.file_name().unwrap();
        let list = if subsystem.starts_with("/sys/bus/") {
            Path::new(subsystem).join("devices").join(name)
        } else {
            Path::new(subsystem).join(name)
        };
        self.link(list, dir);
        self
    }

    /// Writes attribute files of a directory: `(name, value)`, the value
    /// followed by a line end as the kernel prints it.
    pub fn attrs(&self, dir: &str, attrs: &[(&str, &str)]) -> &Self {
        for (name, value) in attrs {
            self.file(Path::new(dir).join(name), format!("{value}\n").as_bytes());
        }
        self
    }

    /// A udev database entry (`/run/udev/data/ID`), as udevd writes it.
    pub fn udev_db(&self, id: &str, content: &str) -> &Self {
        self.file(Path::new("/run/udev/data").join(id), content.as_bytes());
        self
    }

    /// Binds a driver: the device's `driver` link to `/sys/bus/BUS/drivers/NAME`.
    pub fn bind(&self, dir: &str, bus: &str, driver: &str) -> &Self {
        let ddir = Path::new("/sys/bus").join(bus).join("drivers").join(driver);
        self.mkdir(&ddir);
        self.link(Path::new(dir).join("driver"), &ddir);
        self
    }

    /// An active mediated device `uuid` of type `mtype` under `parent` (bound
    /// to vfio_mdev), in IOMMU group `group` (none: its group is gone).
    pub fn mdev(&self, parent: &str, uuid: &str, mtype: &str, group: Option<u32>) -> &Self {
        let dir = format!("{parent}/{uuid}");
        self.device(&dir, "/sys/bus/mdev", &format!("MDEV_TYPE={mtype}\n"))
            .bind(&dir, "mdev", "vfio_mdev");
        self.link(
            format!("{dir}/mdev_type"),
            format!("{parent}/mdev_supported_types/{mtype}"),
        );
        if let Some(n) = group {
            let gdir = format!("/sys/kernel/iommu_groups/{n}");
            self.link(format!("{dir}/iommu_group"), &gdir);
            self.link(format!("{gdir}/devices/{uuid}"), &dir);
        }
        self
    }
}
