//! Files other people made, through the real binary: crafted snapshot tars and
//! directories given to `--root` (links out of the snapshot, absolute and relative;
//! links to `/dev/zero` and `/etc/passwd`; FIFOs and device nodes; a 2.5 GB sparse
//! file; a symbolic-link loop; hard links out), `--pci-ids` and XML inputs that are
//! FIFOs or devices, and `nodedev snapshot` onto links, FIFOs, devices, an existing
//! `OUT.partial`, a new name and `-`. A secret planted next to each snapshot must
//! never appear in anything printed.
//!
//! Every `nodedev` run is watched: one still running after [`WATCHDOG`] fails its
//! test (a hang, not a speed check), and its peak memory must stay under
//! [`MEMORY_LIMIT_KIB`].
//!
//! How memory is measured: `getrusage(RUSAGE_CHILDREN).ru_maxrss` of a process
//! whose only child is that `nodedev` run. Not of this test process: at `execve`
//! the kernel records the replaced address space's high-water mark in the new
//! program's `ru_maxrss`, and std spawns with `CLONE_VM`, so a child of this
//! (large, multi-threaded) process would report this process's peak. So this file
//! has its own `main` (`harness = false`): run with `NODEDEV_TEST_SPAWN` set, the
//! same binary is a small spawner that runs one `nodedev`, waits, and writes the
//! exit code and `RUSAGE_CHILDREN`'s `ru_maxrss` to a file. The figure is an upper
//! bound of `nodedev`'s own peak: it can include the spawner's few MiB, never less
//! than `nodedev` used. Tests run one after another.

mod support;

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use hostdev_manager::snapshot::{Entry, Snapshot, TarLimits};

/// A run still going after this long has hung (every run here takes well under a second).
const WATCHDOG: Duration = Duration::from_secs(120);
/// The most memory one `nodedev` run may use: 64 MiB.
const MEMORY_LIMIT_KIB: i64 = 64 * 1024;
/// Planted outside every crafted snapshot; never printed.
const SECRET: &str = "NODEDEV-TEST-SECRET-7f3a9c";

/// Set (to a directory) when this binary runs as the spawner; see the module doc.
const SPAWN_DIR: &str = "NODEDEV_TEST_SPAWN";
/// The spawner's `nodedev` arguments, as a JSON array of strings.
const SPAWN_ARGS: &str = "NODEDEV_TEST_SPAWN_ARGS";
/// `file` or `pipe`: what `nodedev`'s standard output is.
const SPAWN_STDOUT: &str = "NODEDEV_TEST_SPAWN_STDOUT";

struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Where a run's standard output goes.
enum Out {
    /// A file.
    File,
    /// A pipe (read by the spawner while `nodedev` runs).
    Pipe,
}

/// The spawner: runs one `nodedev`, then writes `CODE MAXRSS_KIB` to `DIR/result`.
fn spawner(dir: &Path) -> ExitCode {
    let args: Vec<String> =
        serde_json::from_str(&std::env::var(SPAWN_ARGS).expect("arguments")).expect("JSON");
    let pipe = std::env::var(SPAWN_STDOUT).as_deref() == Ok("pipe");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodedev"));
    cmd.args(&args)
        .env_remove(SPAWN_DIR)
        .env_remove(SPAWN_ARGS)
        .env_remove(SPAWN_STDOUT)
        .stdin(Stdio::null())
        .stderr(File::create(dir.join("stderr")).unwrap());
    if pipe {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(File::create(dir.join("stdout")).unwrap());
    }
    let mut child = cmd.spawn().expect("run nodedev");
    if let Some(mut p) = child.stdout.take() {
        let mut out = File::create(dir.join("stdout")).unwrap();
        std::io::copy(&mut p, &mut out).unwrap();
    }
    let status = child.wait().unwrap();
    let rss = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss();
    let code = status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    std::fs::write(dir.join("result"), format!("{code} {rss}")).unwrap();
    ExitCode::SUCCESS
}

fn nodedev_with(args: &[&OsStr], out: Out, env: &[(&str, &OsStr)], case: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let argv: Vec<String> = args
        .iter()
        .map(|a| a.to_str().expect("UTF-8 test arguments").to_string())
        .collect();
    let mut spawner = Command::new(std::env::current_exe().unwrap())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(SPAWN_DIR, dir.path())
        .env(SPAWN_ARGS, serde_json::to_string(&argv).unwrap())
        .env(
            SPAWN_STDOUT,
            match out {
                Out::File => "file",
                Out::Pipe => "pipe",
            },
        )
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("run the spawner");
    let start = Instant::now();
    loop {
        if let Some(s) = spawner.try_wait().unwrap() {
            assert!(s.success(), "{case}: the spawner failed: {s}");
            break;
        }
        if start.elapsed() > WATCHDOG {
            // The spawner and nodedev share a process group of their own.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(format!("-{}", spawner.id()))
                .status();
            let _ = spawner.wait();
            panic!("{case}: nodedev {args:?} still running after {WATCHDOG:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let result = std::fs::read_to_string(dir.path().join("result")).unwrap();
    let (code, rss) = result.split_once(' ').unwrap();
    let rss: i64 = rss.parse().unwrap();
    assert!(
        rss < MEMORY_LIMIT_KIB,
        "{case}: nodedev {args:?} reached a peak resident set of {rss} KiB (limit {MEMORY_LIMIT_KIB} KiB)"
    );
    let run = Run {
        code: code.parse().ok(),
        stdout: std::fs::read(dir.path().join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.path().join("stderr")).unwrap(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "{case}: nodedev {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

fn nodedev(args: &[&OsStr], case: &str) -> Run {
    nodedev_with(args, Out::File, &[], case)
}

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// Nothing printed came from outside the snapshot.
fn assert_clean(run: &Run, case: &str) {
    for (what, text) in [("stdout", run.out()), ("stderr", run.stderr.clone())] {
        assert!(
            !text.contains(SECRET),
            "{case}: the planted secret was printed on {what}:\n{text}"
        );
        assert!(
            !text.contains("root:x:0:0"),
            "{case}: /etc/passwd was printed on {what}:\n{text}"
        );
    }
}

fn fixture() -> PathBuf {
    support::workspace().join("tests/fixtures/qemu-q35-rich.tar")
}

const DEV: &str = "sys/devices/pci0000:00/0000:00:01.0";
const DMI: &str = "sys/devices/virtual/dmi/id";

/// A secret in a directory of its own, and a path that climbs from anywhere in a
/// snapshot to it (`../` many times, then its absolute path).
struct Secret {
    dir: tempfile::TempDir,
}

impl Secret {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), format!("{SECRET}\n")).unwrap();
        Self { dir }
    }
    fn path(&self) -> PathBuf {
        self.dir.path().join("secret")
    }
    fn climbing(&self) -> String {
        format!(
            "{}{}",
            "../".repeat(16),
            self.path().display().to_string().trim_start_matches('/')
        )
    }
}

/// The fixture's members, then `extra` appended (a later member replaces an
/// earlier one of the same path).
fn crafted_tar(extra: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(File::open(fixture()).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        b.append(&h, &mut e).unwrap();
    }
    extra(&mut b);
    b.into_inner().unwrap()
}

fn header(kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(0);
    h.set_mode(0o644);
    h
}

fn add_link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
    b.append_link(&mut header(kind), path, target).unwrap();
}

fn add_special(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str) {
    let mut h = header(kind);
    h.set_device_major(1).unwrap();
    h.set_device_minor(5).unwrap(); // /dev/zero
    b.append_data(&mut h, path, std::io::empty()).unwrap();
}

/// A GNU sparse member of `real` bytes of which only the last 512 are stored.
fn add_sparse(b: &mut tar::Builder<Vec<u8>>, path: &str, real: u64) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(512);
    h.set_mode(0o644);
    h.set_path(path).unwrap();
    let gnu = h.as_gnu_mut().unwrap();
    gnu.set_real_size(real);
    gnu.sparse[0].set_offset(real - 512);
    gnu.sparse[0].set_length(512);
    h.set_cksum();
    b.append(&h, &[0u8; 512][..]).unwrap();
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

fn write_tar(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The read commands a bug-report reader runs on a snapshot.
const READS: &[&[&str]] = &[
    &["list"],
    &["list", "--tree"],
    &["dumpxml", "computer"],
    &["dumpxml", "--all"],
    &["info", "pci_0000_00_01_0"],
    &["info", "--json", "pci_0000_00_01_0"],
    &["dumpxml", "pci_0000_00_01_0"],
    &["snapshot", "-"],
];

/// Runs every read command on `root`: nothing from outside is printed, `list`
/// shows no device the clean fixture does not have, and each run ends.
fn read_everything(root: &Path, case: &str) -> Vec<Run> {
    let clean = nodedev(&[os("--root"), fixture().as_os_str(), os("list")], "clean");
    assert_eq!(clean.code, Some(0), "{}", clean.stderr);
    let clean_names: Vec<String> = clean.out().lines().map(String::from).collect();
    let mut runs = Vec::new();
    for args in READS {
        let mut argv = vec![os("--root"), root.as_os_str()];
        argv.extend(args.iter().map(os));
        let what = format!("{case}: {}", args.join(" "));
        let run = nodedev(&argv, &what);
        assert_clean(&run, &what);
        if args[0] == "snapshot" {
            // The tar of a hostile root holds no byte of the secret either.
            assert!(
                !run.stdout
                    .windows(SECRET.len())
                    .any(|w| w == SECRET.as_bytes()),
                "{what}: the secret is in the snapshot written from it"
            );
        }
        if args == &["list"] {
            for line in run.out().lines().filter(|l| !l.is_empty()) {
                assert!(
                    clean_names.iter().any(|c| c == line),
                    "{what}: {line} is not in the snapshot (the live host's?)"
                );
            }
        }
        runs.push(run);
    }
    runs
}

/// The device classes' inputs made hostile in a snapshot directory captured
/// with udevd (qemu-q35-classes-udev): a 2.5 GB sparse udev database entry, one
/// that is a link climbing to a secret, one of binary garbage with lines
/// without `=`, a device whose `uevent` is gone (its parent is missing for its
/// children), a model attribute that is not UTF-8, links that loop, and a
/// `uevent` that is a FIFO. Every read command ends, prints nothing from
/// outside, lists only devices of the snapshot, and reads each input as
/// libudev and libvirt would: the disks and USB device whose database entry is
/// unusable are not listed (with the reason in `info --json computer`), the
/// hub's children hang from the root hub, the model shows U+FFFD.
fn device_classes_with_hostile_udev_data_loops_fifos_and_bad_bytes_show_only_themselves() {
    let fixture = support::workspace().join("tests/fixtures/qemu-q35-classes-udev.tar");
    let secret = Secret::new();
    let root = tempfile::tempdir().unwrap();
    hostdev_manager::snapshot::unpack_tar(File::open(&fixture).unwrap(), root.path()).unwrap();
    let r = |p: &str| root.path().join(p);
    let clean = nodedev(&[os("--root"), fixture.as_os_str(), os("list")], "clean");
    assert_eq!(clean.code, Some(0), "{}", clean.stderr);
    let clean_names: Vec<String> = clean.out().lines().map(String::from).collect();
    for name in [
        "block_sda_0QEMU_QEMU_HARDDISK_rigsd0",
        "usb_1_1",
        "usb_2_2",
        "drm_card0",
    ] {
        assert!(
            clean_names.iter().any(|n| n == name),
            "{name} not in the fixture"
        );
    }
    // sda's database entry: 2.5 GB (sparse).
    let db = r("run/udev/data/b8:0");
    std::fs::remove_file(&db).unwrap();
    File::create(&db).unwrap().set_len(2_500_000_000).unwrap();
    // sr0's: a link that climbs out to the secret.
    let db = r("run/udev/data/b11:0");
    std::fs::remove_file(&db).unwrap();
    symlink(secret.climbing(), &db).unwrap();
    // The hub's (1-1, c189:1): binary, lines without '=' or ':'.
    std::fs::write(
        r("run/udev/data/c189:1"),
        b"\xff\xfe\x00E:ID_VENDOR_ID\nE:ID_MODEL_ID0002\nX\nE:ID_VENDOR_ID=\nS:\x1b[2J\n\x00\x00",
    )
    .unwrap();
    // 2-2 is no device any more: its children look for another parent.
    std::fs::remove_file(r("sys/devices/pci0000:00/0000:00:0b.0/usb2/2-2/uevent")).unwrap();
    // The ATA disk's model is not UTF-8.
    std::fs::write(
        r("sys/devices/pci0000:00/0000:00:1f.2/ata1/host1/target1:0:0/1:0:0:0/model"),
        b"QEMU \xff\xfe HARDDISK\n",
    )
    .unwrap();
    // Links that loop, and a uevent that is a FIFO.
    symlink("9-9", r("sys/bus/usb/devices/9-9")).unwrap();
    symlink("../loopb", r("sys/class/block/loopa")).unwrap();
    symlink("loopa", r("sys/class/loopb")).unwrap();
    let card = r("sys/devices/pci0000:00/0000:00:09.0/drm/card0/uevent");
    std::fs::remove_file(&card).unwrap();
    mkfifo(&card);

    let mut reads: Vec<&[&str]> = READS.to_vec();
    reads.push(&["info", "--json", "computer"]);
    reads.push(&["dumpxml", "block_sdb_QEMU_HARDDISK_rigata0"]);
    reads.push(&["list", "--cap", "storage,usb_device,drm"]);
    let mut out = std::collections::HashMap::new();
    for args in reads {
        let mut argv = vec![os("--root"), root.path().as_os_str()];
        argv.extend(args.iter().map(os));
        let what = format!("hostile classes: {}", args.join(" "));
        let run = nodedev(&argv, &what);
        assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
        assert_clean(&run, &what);
        out.insert(args.join(" "), run.out());
    }
    let list = &out["list"];
    for line in list.lines().filter(|l| !l.is_empty()) {
        assert!(
            clean_names.iter().any(|c| c == line),
            "{line} is not in the snapshot"
        );
    }
    for gone in [
        "block_sda_0QEMU_QEMU_HARDDISK_rigsd0",
        "block_sr0_0QEMU_QEMU_CD_ROM_sr0",
        "usb_1_1",
        "usb_2_2",
        "drm_card0",
    ] {
        assert!(
            !list.lines().any(|l| l == gone),
            "{gone} is listed:\n{list}"
        );
    }
    let tree = &out["list --tree"];
    assert!(
        tree.contains(
            "  |   +- usb_usb1\n  |   |   |\n  |   |   +- usb_1_0_1_0\n  |   |   +- usb_1_1_1\n"
        ),
        "the hub's children hang from the root hub:\n{tree}"
    );
    assert!(
        tree.contains("  |       +- usb_2_2_1_0\n"),
        "2-2's interface hangs from the root hub:\n{tree}"
    );
    let info = &out["info --json computer"];
    assert!(
        info.contains("larger than the 64 KiB a udev database entry may have"),
        "{info}"
    );
    assert!(info.contains("ID_VENDOR_ID"), "{info}");
    let xml = &out["dumpxml block_sdb_QEMU_HARDDISK_rigata0"];
    assert!(
        xml.contains("<model>QEMU \u{fffd}\u{fffd} HARDDISK</model>"),
        "{xml}"
    );
    support::validate(&support::libvirt_schemas().join("nodedev.rng"), xml).unwrap();
}

fn a_tar_with_links_out_devices_fifos_and_loops_shows_only_itself() {
    let secret = Secret::new();
    let climbing = secret.climbing();
    let abs = secret.path().display().to_string();
    let tar = crafted_tar(|b| {
        use tar::EntryType::{Char, Fifo, Symlink};
        add_link(b, Symlink, &format!("{DMI}/product_name"), &abs);
        add_link(b, Symlink, &format!("{DMI}/sys_vendor"), &climbing);
        add_link(b, Symlink, &format!("{DMI}/product_version"), "/dev/zero");
        add_link(b, Symlink, &format!("{DMI}/product_serial"), "/etc/passwd");
        add_special(b, Fifo, &format!("{DMI}/bios_vendor"));
        add_special(b, Char, &format!("{DMI}/bios_version"));
        add_link(b, Symlink, &format!("{DMI}/bios_date"), "bios_date2");
        add_link(b, Symlink, &format!("{DMI}/bios_date2"), "bios_date");
        add_link(b, Symlink, &format!("{DEV}/config"), "/dev/zero");
        add_link(b, Symlink, &format!("{DEV}/vpd"), &abs);
        add_link(b, Symlink, &format!("{DEV}/uevent"), &climbing);
        add_link(
            b,
            Symlink,
            &format!("{DEV}/numa_node"),
            "/proc/self/environ",
        );
        // A link that walks back and forth, to make every read through it slow.
        let slow = format!("{}vendor", "../0000:00:01.0/".repeat(200));
        add_link(b, Symlink, &format!("{DEV}/revision"), &slow);
        // Whole directories pointed at the live system's.
        add_link(b, Symlink, "sys/class/net", "/sys/class/net");
        add_link(
            b,
            Symlink,
            "sys/bus/pci/drivers",
            "../../../../../../sys/bus/pci/drivers",
        );
        add_link(
            b,
            Symlink,
            "sys/kernel/iommu_groups",
            "/sys/kernel/iommu_groups",
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let path = write_tar(dir.path(), "links.tar", &tar);
    let runs = read_everything(&path, "links tar");
    // These read commands work: the hostile entries are just absent.
    for (args, run) in READS.iter().zip(&runs) {
        if matches!(args[0], "list" | "snapshot") || args == &["dumpxml", "computer"] {
            assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        }
    }
    assert!(runs[2]
        .out()
        .starts_with("<device>\n  <name>computer</name>"));
}

fn a_sparse_2_5_gb_member_is_refused_from_its_header() {
    let tar = crafted_tar(|b| add_sparse(b, &format!("{DEV}/config"), 2_684_354_560));
    let dir = tempfile::tempdir().unwrap();
    let path = write_tar(dir.path(), "sparse.tar", &tar);
    // The archive is barely larger than the fixture; its member claims 2.5 GB.
    let grown =
        std::fs::metadata(&path).unwrap().len() - std::fs::metadata(fixture()).unwrap().len();
    assert!(grown < 8192, "{grown}");
    for args in READS {
        let mut argv = vec![os("--root"), path.as_os_str()];
        argv.extend(args.iter().map(os));
        let run = nodedev(&argv, &format!("sparse tar: {}", args.join(" ")));
        assert_eq!(run.code, Some(1), "{args:?}");
        assert!(
            run.stderr.contains("2684354560 bytes") && run.stderr.contains("config"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

fn hard_links_out_of_a_tar_are_refused_and_inside_it_are_copies() {
    let secret = Secret::new();
    let dir = tempfile::tempdir().unwrap();
    for (i, target) in [
        secret.path().display().to_string(),
        secret.climbing(),
        "/etc/passwd".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let tar = crafted_tar(|b| {
            add_link(
                b,
                tar::EntryType::Link,
                &format!("{DMI}/product_name"),
                target,
            )
        });
        let path = write_tar(dir.path(), &format!("hard{i}.tar"), &tar);
        let run = nodedev(
            &[
                os("--root"),
                path.as_os_str(),
                os("dumpxml"),
                os("computer"),
            ],
            &format!("hard link to {target}"),
        );
        assert_clean(&run, target);
        assert_eq!(run.code, Some(1));
        assert!(run.stderr.contains("hard link"), "{}", run.stderr);
    }
    // A hard link to an earlier member is that member's content.
    let tar = crafted_tar(|b| {
        add_link(
            b,
            tar::EntryType::Link,
            &format!("{DMI}/product_name"),
            &format!("{DEV}/vendor"),
        )
    });
    let path = write_tar(dir.path(), "inside.tar", &tar);
    let run = nodedev(
        &[
            os("--root"),
            path.as_os_str(),
            os("dumpxml"),
            os("computer"),
        ],
        "hard link inside",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.out().contains("<product>0x8086</product>"),
        "{}",
        run.out()
    );
}

fn a_directory_with_links_out_fifos_devices_and_a_sparse_file_shows_only_itself() {
    let secret = Secret::new();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    hostdev_manager::snapshot::unpack_tar(File::open(fixture()).unwrap(), &root).unwrap();
    let at = |p: &str| root.join(p);
    std::fs::create_dir_all(at(DMI)).unwrap();
    let replace_with_link = |p: &str, target: &str| {
        let _ = std::fs::remove_file(at(p));
        symlink(target, at(p)).unwrap();
    };
    let abs = secret.path().display().to_string();
    replace_with_link(&format!("{DMI}/product_name"), &abs);
    replace_with_link(&format!("{DMI}/sys_vendor"), &secret.climbing());
    replace_with_link(&format!("{DMI}/product_version"), "/dev/zero");
    replace_with_link(&format!("{DMI}/product_serial"), "/etc/passwd");
    replace_with_link(&format!("{DMI}/bios_date"), "bios_date2");
    replace_with_link(&format!("{DMI}/bios_date2"), "bios_date");
    replace_with_link(&format!("{DEV}/config"), "/dev/zero");
    replace_with_link(&format!("{DEV}/uevent"), &secret.climbing());
    replace_with_link(&format!("{DEV}/vpd"), &abs);
    for p in [format!("{DMI}/bios_vendor"), format!("{DEV}/numa_node")] {
        let _ = std::fs::remove_file(at(&p));
        mkfifo(&at(&p));
    }
    // A hard link to the secret (same filesystem): the file itself, by another name.
    let hard = at(&format!("{DEV}/modalias"));
    std::fs::remove_file(&hard).unwrap();
    std::fs::hard_link(secret.path(), &hard).unwrap();
    // A 2.5 GB sparse config.
    let big = at("sys/devices/pci0000:00/0000:00:02.0/config");
    File::create(&big).unwrap().set_len(2_684_354_560).unwrap();
    // The live system's directories.
    std::fs::remove_dir_all(at("sys/class/net")).unwrap();
    symlink("/sys/class/net", at("sys/class/net")).unwrap();
    std::fs::remove_dir_all(at("sys/kernel/iommu_groups")).unwrap();
    symlink(
        "../../../../../../../sys/kernel/iommu_groups",
        at("sys/kernel/iommu_groups"),
    )
    .unwrap();
    // A device node, where this machine lets us make one (tests run as root).
    let node = at(&format!("{DMI}/bios_version"));
    let _ = std::fs::remove_file(&node);
    let made_node = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success());
    // The links really lead out: followed on the host, they reach the secret.
    assert!(std::fs::read_to_string(at(&format!("{DMI}/product_name")))
        .unwrap()
        .contains(SECRET));
    assert!(std::fs::read_to_string(at(&format!("{DMI}/sys_vendor")))
        .unwrap()
        .contains(SECRET));
    assert!(std::fs::read_to_string(&hard).unwrap().contains(SECRET));
    let runs = read_everything(&root, "hostile directory");
    for (args, run) in READS.iter().zip(&runs) {
        if matches!(args[0], "list" | "snapshot") || args == &["dumpxml", "computer"] {
            assert_eq!(run.code, Some(0), "{args:?}: {}", run.stderr);
        }
    }
    if made_node {
        assert!(std::fs::metadata(&node)
            .unwrap()
            .file_type()
            .is_char_device());
    }
}

fn pci_ids_and_xml_inputs_must_be_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let tar = fixture();
    for input in [Path::new("/dev/zero"), fifo.as_path(), dir.path()] {
        let cases: Vec<Vec<&OsStr>> = vec![
            vec![
                os("--root"),
                tar.as_os_str(),
                os("--pci-ids"),
                input.as_os_str(),
                os("dumpxml"),
                os("pci_0000_00_01_0"),
            ],
            vec![os("xml"), os("normalize"), input.as_os_str()],
        ];
        let mut cases = cases;
        if input != dir.path() {
            // (A directory is a valid --root.)
            cases.push(vec![os("--root"), input.as_os_str(), os("list")]);
        }
        for argv in cases {
            let run = nodedev(&argv, &format!("{}", input.display()));
            assert_eq!(run.code, Some(1), "{argv:?}");
            assert!(
                run.stderr.contains("not a regular file")
                    || run.stderr.contains("neither a directory"),
                "{argv:?}: {}",
                run.stderr
            );
        }
    }
    // A regular file over the limit is refused after reading the limit, not all of it.
    let big = dir.path().join("pci.ids");
    File::create(&big).unwrap().set_len(3 << 30).unwrap();
    let run = nodedev(
        &[
            os("--root"),
            tar.as_os_str(),
            os("--pci-ids"),
            big.as_os_str(),
            os("dumpxml"),
            os("pci_0000_00_01_0"),
        ],
        "3 GB pci.ids",
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("16 MiB"), "{}", run.stderr);
}

fn nothing_is_unpacked_for_a_tar_root() {
    let tmp = tempfile::tempdir().unwrap();
    let run = nodedev_with(
        &[os("--root"), fixture().as_os_str(), os("list")],
        Out::File,
        &[("TMPDIR", tmp.path().as_os_str())],
        "TMPDIR",
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

// ---- nodedev snapshot OUT ----

fn snapshot_to(out: &Path, extra: &[&str], case: &str) -> Run {
    let tar = fixture();
    let mut argv = vec![
        os("--root"),
        tar.as_os_str(),
        os("snapshot"),
        out.as_os_str(),
    ];
    argv.extend(extra.iter().map(os));
    nodedev(&argv, case)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn parses_as_snapshot(bytes: &[u8]) -> Snapshot {
    Snapshot::read_tar(bytes, &TarLimits::default()).expect("a snapshot tar")
}

fn snapshot_onto_new_and_regular_files_renames_into_place_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.v2");
    // The old temporary name (`with_extension("tar.partial")`) would have clobbered this.
    let unrelated = dir.path().join("report.tar.partial");
    std::fs::write(&unrelated, b"unrelated").unwrap();
    let run = snapshot_to(&out, &[], "new name");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(mode(&out), 0o600);
    parses_as_snapshot(&std::fs::read(&out).unwrap());
    assert_eq!(std::fs::read(&unrelated).unwrap(), b"unrelated");
    assert!(!dir.path().join("report.v2.partial").exists());
    // An existing world-readable file is replaced by a 0600 one.
    std::fs::write(&out, b"old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = snapshot_to(&out, &[], "existing file");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(mode(&out), 0o600);
    parses_as_snapshot(&std::fs::read(&out).unwrap());
}

fn snapshot_refuses_an_existing_partial_file_and_links_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.tar");
    std::fs::write(&out, b"old").unwrap();
    std::fs::write(dir.path().join("snap.tar.partial"), b"someone's").unwrap();
    let run = snapshot_to(&out, &[], "existing OUT.partial");
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("snap.tar.partial"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"old");
    assert_eq!(
        std::fs::read(dir.path().join("snap.tar.partial")).unwrap(),
        b"someone's"
    );
    // A link to a file (a planted /tmp/report.tar -> /etc/shadow): refused, both intact.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"victim").unwrap();
    let link = dir.path().join("link.tar");
    symlink(&victim, &link).unwrap();
    let run = snapshot_to(&link, &[], "link to a file");
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
    // A dangling link: its target is not created.
    let dangling = dir.path().join("dangling.tar");
    symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let run = snapshot_to(&dangling, &[], "dangling link");
    assert_eq!(run.code, Some(1));
    assert!(!dir.path().join("nowhere").exists());
    // A directory.
    let run = snapshot_to(dir.path(), &[], "directory");
    assert_eq!(run.code, Some(1));
}

fn snapshot_streams_into_devices_fifos_and_stdout() {
    // /dev/null stays a character device.
    let run = snapshot_to(Path::new("/dev/null"), &[], "/dev/null");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    // A FIFO: written through, still a FIFO, and what came out is the snapshot.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut v = Vec::new();
            File::open(&fifo).unwrap().read_to_end(&mut v).unwrap();
            v
        })
    };
    let run = snapshot_to(&fifo, &[], "FIFO");
    // Whatever happened, let the reader go (a writer that never came leaves it blocked).
    if !reader.is_finished() {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(rustix_nonblock())
            .open(&fifo);
    }
    let got = reader.join().unwrap();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    parses_as_snapshot(&got);
    // `-` and /dev/stdout into a pipe: the tar on standard output.
    for out in ["-", "/dev/stdout"] {
        let run = nodedev_with(
            &[os("--root"), fixture().as_os_str(), os("snapshot"), os(out)],
            Out::Pipe,
            &[],
            out,
        );
        assert_eq!(run.code, Some(0), "{out}: {}", run.stderr);
        let snap = parses_as_snapshot(&run.stdout);
        assert!(snap.entries().len() > 1000, "{out}");
    }
    // /dev/stdout onto a regular file is a link to a file: refused, with the way out.
    let run = snapshot_to(Path::new("/dev/stdout"), &[], "/dev/stdout to a file");
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("name -"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

/// O_NONBLOCK, for opening a FIFO's write end without waiting.
fn rustix_nonblock() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

fn snapshot_leaves_out_serials_unless_asked() {
    let mut config = vec![0u8; 4096];
    config[..4].copy_from_slice(&[0x86, 0x80, 0xd3, 0x10]);
    config[0x100..0x104].copy_from_slice(&(0x0003u32 | (1 << 16)).to_le_bytes());
    config[0x104..0x10c].copy_from_slice(b"DSN-1234");
    let tar = crafted_tar(|b| {
        let mut file = |path: &str, bytes: &[u8]| {
            let mut h = header(tar::EntryType::Regular);
            h.set_size(bytes.len() as u64);
            b.append_data(&mut h, path, bytes).unwrap();
        };
        file(&format!("{DMI}/product_name"), b"Test Box\n");
        file(&format!("{DMI}/product_serial"), b"SERIAL-1234\n");
        file(
            &format!("{DMI}/product_uuid"),
            b"4c4c4544-0000-0000-0000-000000000000\n",
        );
        file(&format!("{DEV}/config"), &config);
        file(
            &format!("{DEV}/vpd"),
            b"\x82\x04\x00Test\x90\x08\x00SN\x05VPD12x\x78\x00",
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let root = write_tar(dir.path(), "live.tar", &tar);
    let with = |extra: &[&str], name: &str| {
        let out = dir.path().join(name);
        let mut argv = vec![
            os("--root"),
            root.as_os_str(),
            os("snapshot"),
            out.as_os_str(),
        ];
        argv.extend(extra.iter().map(os));
        let run = nodedev(&argv, name);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(mode(&out), 0o600);
        let bytes = std::fs::read(&out).unwrap();
        (parses_as_snapshot(&bytes), bytes, out)
    };
    let has = |bytes: &[u8], s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    let file = |snap: &Snapshot, p: &str| match snap.entries().get(&Path::new("/").join(p)) {
        Some(Entry::File(b)) => Some(b.clone()),
        _ => None,
    };
    let (plain, bytes, out) = with(&[], "plain.tar");
    for s in ["SERIAL-1234", "4c4c4544", "DSN-1234", "VPD12"] {
        assert!(!has(&bytes, s), "{s} is in the default snapshot");
    }
    assert_eq!(
        file(&plain, &format!("{DMI}/product_name")).unwrap(),
        b"Test Box\n"
    );
    assert!(file(&plain, &format!("{DMI}/product_serial")).is_none());
    assert!(file(&plain, &format!("{DEV}/vpd")).is_none());
    assert_eq!(
        &file(&plain, &format!("{DEV}/config")).unwrap()[0x104..0x10c],
        &[0; 8]
    );
    let computer = nodedev(
        &[os("--root"), out.as_os_str(), os("dumpxml"), os("computer")],
        "computer of the plain snapshot",
    );
    assert!(
        computer.out().contains("<product>Test Box</product>"),
        "{}",
        computer.out()
    );
    assert!(!computer.out().contains("<serial>"), "{}", computer.out());
    let (full, bytes, _) = with(&["--include-serials"], "full.tar");
    for s in ["SERIAL-1234", "4c4c4544", "DSN-1234", "VPD12"] {
        assert!(has(&bytes, s), "{s} is missing with --include-serials");
    }
    assert!(file(&full, &format!("{DEV}/vpd")).is_some());
}

fn hook_install_never_replaces_a_link_or_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let qemu_d = dir.path().join("qemu.d");
    std::fs::create_dir(&qemu_d).unwrap();
    let script = qemu_d.join("50-nodedev-shim");
    let install = |case: &str| {
        nodedev(
            &[
                os("hook"),
                os("install"),
                os("--dir"),
                dir.path().as_os_str(),
            ],
            case,
        )
    };
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"victim").unwrap();
    symlink(&victim, &script).unwrap();
    let run = install("link");
    assert_eq!(run.code, Some(1));
    assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
    std::fs::remove_file(&script).unwrap();
    mkfifo(&script);
    let run = install("FIFO");
    assert_eq!(run.code, Some(1));
    assert!(std::fs::symlink_metadata(&script)
        .unwrap()
        .file_type()
        .is_fifo());
    std::fs::remove_file(&script).unwrap();
    let run = install("new");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(mode(&script), 0o755);
    assert!(std::fs::read_to_string(&script)
        .unwrap()
        .starts_with("#!/bin/sh\n"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&script)
        .unwrap();
    f.write_all(b"# edited\n").unwrap();
    let run = install("reinstall");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!std::fs::read_to_string(&script)
        .unwrap()
        .contains("# edited"));
    assert_eq!(mode(&script), 0o755);
}

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "device_classes_with_hostile_udev_data_loops_fifos_and_bad_bytes_show_only_themselves",
        device_classes_with_hostile_udev_data_loops_fifos_and_bad_bytes_show_only_themselves,
    ),
    (
        "a_tar_with_links_out_devices_fifos_and_loops_shows_only_itself",
        a_tar_with_links_out_devices_fifos_and_loops_shows_only_itself,
    ),
    (
        "a_sparse_2_5_gb_member_is_refused_from_its_header",
        a_sparse_2_5_gb_member_is_refused_from_its_header,
    ),
    (
        "hard_links_out_of_a_tar_are_refused_and_inside_it_are_copies",
        hard_links_out_of_a_tar_are_refused_and_inside_it_are_copies,
    ),
    (
        "a_directory_with_links_out_fifos_devices_and_a_sparse_file_shows_only_itself",
        a_directory_with_links_out_fifos_devices_and_a_sparse_file_shows_only_itself,
    ),
    (
        "pci_ids_and_xml_inputs_must_be_regular_files",
        pci_ids_and_xml_inputs_must_be_regular_files,
    ),
    (
        "nothing_is_unpacked_for_a_tar_root",
        nothing_is_unpacked_for_a_tar_root,
    ),
    (
        "snapshot_onto_new_and_regular_files_renames_into_place_mode_0600",
        snapshot_onto_new_and_regular_files_renames_into_place_mode_0600,
    ),
    (
        "snapshot_refuses_an_existing_partial_file_and_links_to_files",
        snapshot_refuses_an_existing_partial_file_and_links_to_files,
    ),
    (
        "snapshot_streams_into_devices_fifos_and_stdout",
        snapshot_streams_into_devices_fifos_and_stdout,
    ),
    (
        "snapshot_leaves_out_serials_unless_asked",
        snapshot_leaves_out_serials_unless_asked,
    ),
    (
        "hook_install_never_replaces_a_link_or_a_fifo",
        hook_install_never_replaces_a_link_or_a_fifo,
    ),
];

/// Runs the tests (or, as the spawner, one `nodedev`). Arguments: an optional
/// name filter (a substring, as libtest takes it) and `--list`; other flags
/// libtest would take are ignored.
fn main() -> ExitCode {
    if let Some(dir) = std::env::var_os(SPAWN_DIR) {
        return spawner(Path::new(&dir));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().find(|a| !a.starts_with('-'));
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filter.is_none_or(|f| name.contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let plural = if selected.len() == 1 { "" } else { "s" };
    println!("\nrunning {} test{plural}", selected.len());
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    let _ = std::io::stdout().flush();
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        TESTS.len() - selected.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
