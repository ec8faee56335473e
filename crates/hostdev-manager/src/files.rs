//! Files that other people made, read and written by a tool that runs as root.
//!
//! Reading: a file named on the command line (`--pci-ids`, `--xml FILE`, a
//! domain document, a snapshot tar) is opened with [`open_regular`]: links in the
//! path are followed (the user named it), but anything other than a regular file
//! — a FIFO, a device such as `/dev/zero`, a directory — is refused before it is
//! opened, the open itself cannot block (`O_NONBLOCK`) or take a controlling
//! terminal (`O_NOCTTY`), and [`read_regular`] reads at most a stated number of
//! bytes, so no file can make the tool hang or fill memory.
//!
//! Writing: [`write_output`] never replaces what is not a regular file. A new
//! name or an existing regular file is written to `OUT.partial` (created with
//! `O_EXCL`, mode 0600, in the same directory), synced, and renamed over `OUT`; a
//! character device or FIFO (`/dev/null`, `/dev/stdout` through its link, a named
//! pipe) is written straight through when the caller allows it; a symbolic link
//! to anything else, a block device, a directory or a socket is refused.

use std::ffi::OsString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most a `pci.ids` named with `--pci-ids` may hold: 16 MiB (Debian's is 1.3 MB).
pub const MAX_PCI_IDS: u64 = 16 << 20;

/// What kind of file something is, in words, for messages.
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn not_regular(meta: &Metadata) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}, not a regular file", kind_of(meta)),
    )
}

/// Opens a regular file for reading, following links in `path`.
///
/// The file is examined first (`stat`) and anything but a regular file is
/// refused without being opened, so no device's `open` runs. The open is
/// `O_NONBLOCK | O_NOCTTY`, and `fstat` on the opened file must show the same
/// regular file (a swap in between is refused).
pub fn open_regular(path: &Path) -> io::Result<File> {
    let before = std::fs::metadata(path)?;
    if !before.file_type().is_file() {
        return Err(not_regular(&before));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblocking_noctty())
        .open(path)?;
    let after = file.metadata()?;
    if !after.file_type().is_file() || (after.dev(), after.ino()) != (before.dev(), before.ino()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the file was replaced while it was being opened",
        ));
    }
    Ok(file)
}

fn nonblocking_noctty() -> i32 {
    use rustix::fs::OFlags;
    (OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32
}

/// Reads a whole regular file of at most `limit` bytes (see [`open_regular`]).
/// A larger file is an [`io::ErrorKind::FileTooLarge`] error: refused from its
/// size (`fstat`) without reading, or found after reading at most `limit + 1`
/// bytes if it grew. The buffer is sized once from that size, so memory stays
/// near the file's size instead of doubling past it.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(limit));
    }
    read_limited_sized(file, limit, size)
}

/// Reads everything `reader` gives, up to `limit` bytes; one byte more is an
/// [`io::ErrorKind::FileTooLarge`] error naming the limit.
pub fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    read_limited_sized(reader, limit, 0)
}

/// [`read_limited`] of a regular file whose size is expected to be `expected`
/// bytes (its `fstat` size): one allocation, and, when one `read(2)` returns
/// fewer bytes than asked for, no second one to see the end (a regular file
/// gives less only at its end). The limit holds whatever the file really yields.
pub fn read_limited_expecting(
    mut file: std::fs::File,
    limit: u64,
    expected: u64,
) -> io::Result<Vec<u8>> {
    let want = usize::try_from(expected.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = vec![0u8; want];
    let n = loop {
        match file.read(&mut bytes) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r?,
        }
    };
    if n < want {
        bytes.truncate(n);
        return Ok(bytes);
    }
    // The file is at least as long as asked for: read the rest within the limit.
    bytes.truncate(n);
    file.take(limit.saturating_add(1) - n as u64)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`read_limited`], allocating once for `expected` bytes.
fn read_limited_sized(reader: impl Read, limit: u64, expected: u64) -> io::Result<Vec<u8>> {
    let capacity = usize::try_from(expected.min(limit).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// The error for a file larger than `limit` bytes.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than {}, the most this file may hold", bytes(limit)),
    )
}

/// `4096 bytes`, `32 KiB`, `16 MiB`.
pub fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 && n != 4096 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// How [`write_output`] may deliver a file.
#[derive(Clone, Copy, Debug)]
pub struct OutputOptions {
    /// The mode of a file it creates (`0o600` for a snapshot, `0o755` for a
    /// script); set exactly, whatever the umask.
    pub mode: u32,
    /// Whether a character device or FIFO (or a link to one: `/dev/stdout`)
    /// is written straight through. When false, it is refused.
    pub stream_to_devices: bool,
}

/// How [`write_output`] delivered a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// A new file, renamed into place from `OUT.partial`.
    Created,
    /// An existing regular file, replaced by rename from `OUT.partial`.
    Replaced,
    /// Written straight to a character device or FIFO, which was left in place.
    Streamed,
}

/// `OUT.partial`: the name a file is written under before it is renamed to `OUT`.
pub fn partial_name(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let mut tmp: OsString = name.to_os_string();
    tmp.push(".partial");
    Ok(path.with_file_name(tmp))
}

/// Writes a file with what `write` produces, without ever replacing something
/// that is not a regular file (see the module documentation). Errors name the
/// file, the errno and what was left: nothing is left behind on a failure
/// (`OUT.partial` is removed, `OUT` untouched), except that an existing
/// `OUT.partial` is never removed or overwritten: it is reported.
pub fn write_output(
    path: &Path,
    opts: &OutputOptions,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<Delivered> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            write_by_rename(path, opts, write).map(|()| Delivered::Created)
        }
        Err(e) => Err(context(e, format!("cannot examine {shown}"))),
        Ok(m) if m.file_type().is_file() => {
            write_by_rename(path, opts, write).map(|()| Delivered::Replaced)
        }
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("{shown} is a directory; name a file"),
        )),
        Ok(m) => {
            // A link, device, FIFO or socket: never replaced. Followed only to a
            // character device or FIFO, and only when the caller streams.
            let is_link = m.file_type().is_symlink();
            let target = match std::fs::metadata(path) {
                Ok(t) => t,
                Err(e) if is_link => {
                    return Err(context(
                        e,
                        format!(
                            "{shown} is a symbolic link whose target cannot be examined; \
                             a link is never replaced nor followed to create a file"
                        ),
                    ))
                }
                Err(e) => return Err(context(e, format!("cannot examine {shown}"))),
            };
            let t = target.file_type();
            let streamable = t.is_char_device() || t.is_fifo();
            if !streamable || !opts.stream_to_devices {
                let what = if is_link {
                    format!("a symbolic link to {}", kind_of(&target))
                } else {
                    kind_of(&target).to_string()
                };
                let rule = match (opts.stream_to_devices, is_link) {
                    (true, true) => {
                        "a link is never replaced, and followed only to a character device \
                         or FIFO (for standard output, name -)"
                    }
                    (true, false) => {
                        "only a new name, a regular file, a character device or a FIFO \
                         can be written"
                    }
                    (false, _) => "only a new name or a regular file can be written here",
                };
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{shown} is {what}: {rule}; nothing was written"),
                ));
            }
            stream(path, write)
                .map(|()| Delivered::Streamed)
                .map_err(|e| context(e, format!("failed to write to {shown}")))
        }
    }
}

/// Writes to a character device or FIFO in place: no create, no truncate.
fn stream(path: &Path, write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(path)?;
    let t = file.metadata()?.file_type();
    if !(t.is_char_device() || t.is_fifo()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it was replaced by something other than a device or FIFO while it was being opened",
        ));
    }
    let mut w = BufWriter::new(file);
    write(&mut w)?;
    w.flush()
}

fn write_by_rename(
    path: &Path,
    opts: &OutputOptions,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = partial_name(path)?;
    let (shown, tmp_shown) = (path.display(), tmp.display());
    // O_CREAT | O_EXCL: never an existing file, never through a link.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::AlreadyExists {
                " (left by a run that was killed while writing, or someone else's file): \
                 remove it or choose another name"
            } else {
                ""
            };
            context(
                e,
                format!("cannot create {tmp_shown}{hint}; {shown} was not touched"),
            )
        })?;
    let written = (|| {
        let mut w = BufWriter::new(&file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        file.set_permissions(std::fs::Permissions::from_mode(opts.mode))?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(context(
            e,
            format!("failed to write {tmp_shown} (removed; {shown} was not touched)"),
        ));
    }
    drop(file);
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(context(
            e,
            format!("failed to rename {tmp_shown} to {shown} (removed; {shown} was not touched)"),
        ));
    }
    // The rename is durable once the directory is synced; a failure here loses
    // nothing that was promised.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Wraps an I/O error with what was being done, keeping its kind (and so its errno text).
pub fn context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Makes a FIFO (for tests).
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tar_like(w: &mut dyn Write) -> io::Result<()> {
        w.write_all(b"new content")
    }

    fn opts() -> OutputOptions {
        OutputOptions {
            mode: 0o600,
            stream_to_devices: true,
        }
    }

    #[test]
    fn reads_regular_files_within_the_limit_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        let e = read_regular(&f, 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("larger than 4 bytes"), "{e}");
        // Through a link: the user named it.
        symlink(&f, dir.path().join("l")).unwrap();
        assert_eq!(read_regular(&dir.path().join("l"), 5).unwrap(), b"12345");
        // A directory, a character device, a FIFO: refused without reading.
        let e = read_regular(dir.path(), 5).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 5).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let e = read_regular(&fifo, 5).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(bytes(4096), "4096 bytes");
        assert_eq!(bytes(32 << 10), "32 KiB");
        assert_eq!(bytes(16 << 20), "16 MiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }

    #[test]
    fn partial_name_appends_to_the_whole_name() {
        assert_eq!(
            partial_name(Path::new("/tmp/report.v2")).unwrap(),
            PathBuf::from("/tmp/report.v2.partial")
        );
        assert_eq!(
            partial_name(Path::new("out.tar")).unwrap(),
            PathBuf::from("out.tar.partial")
        );
        assert!(partial_name(Path::new("/")).is_err());
    }

    #[test]
    fn new_and_regular_files_are_renamed_into_place_with_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.v2");
        // An unrelated file that the old `with_extension` naming would have clobbered.
        std::fs::write(dir.path().join("report.tar.partial"), b"keep").unwrap();
        assert_eq!(
            write_output(&out, &opts(), &mut tar_like).unwrap(),
            Delivered::Created
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"new content");
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        assert_eq!(
            std::fs::read(dir.path().join("report.tar.partial")).unwrap(),
            b"keep"
        );
        std::fs::write(&out, b"old").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        let script = OutputOptions {
            mode: 0o755,
            stream_to_devices: false,
        };
        assert_eq!(
            write_output(&out, &script, &mut tar_like).unwrap(),
            Delivered::Replaced
        );
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        assert!(!dir.path().join("report.v2.partial").exists());
    }

    #[test]
    fn an_existing_partial_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tar");
        std::fs::write(&out, b"old").unwrap();
        std::fs::write(dir.path().join("out.tar.partial"), b"someone's").unwrap();
        let e = write_output(&out, &opts(), &mut tar_like).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("out.tar.partial"), "{e}");
        assert!(e.to_string().contains("was not touched"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert_eq!(
            std::fs::read(dir.path().join("out.tar.partial")).unwrap(),
            b"someone's"
        );
        // A link named OUT.partial is not followed either.
        std::fs::remove_file(dir.path().join("out.tar.partial")).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        symlink(&victim, dir.path().join("out.tar.partial")).unwrap();
        write_output(&out, &opts(), &mut tar_like).unwrap_err();
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.tar");
        std::fs::write(&out, b"old").unwrap();
        let mut failing = |w: &mut dyn Write| -> io::Result<()> {
            w.write_all(b"half")?;
            Err(io::Error::other("the source went away"))
        };
        let e = write_output(&out, &opts(), &mut failing).unwrap_err();
        assert!(e.to_string().contains("the source went away"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        assert!(!dir.path().join("out.tar.partial").exists());
    }

    #[test]
    fn links_and_devices_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"victim").unwrap();
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let e = write_output(&link, &opts(), &mut tar_like).unwrap_err();
        assert!(
            e.to_string()
                .contains("is a symbolic link to a regular file"),
            "{e}"
        );
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&victim).unwrap(), b"victim");
        // A dangling link: not followed to create its target.
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        write_output(&dangling, &opts(), &mut tar_like).unwrap_err();
        assert!(!dir.path().join("nowhere").exists());
        // A directory.
        write_output(dir.path(), &opts(), &mut tar_like).unwrap_err();
        // A character device: streamed through, left a character device.
        assert_eq!(
            write_output(Path::new("/dev/null"), &opts(), &mut tar_like).unwrap(),
            Delivered::Streamed
        );
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        // ... or refused when the caller does not stream.
        let script = OutputOptions {
            mode: 0o755,
            stream_to_devices: false,
        };
        let e = write_output(Path::new("/dev/null"), &script, &mut tar_like).unwrap_err();
        assert!(e.to_string().contains("a character device"), "{e}");
        // A link to a character device is followed (as /dev/stdout is).
        let to_null = dir.path().join("to-null");
        symlink("/dev/null", &to_null).unwrap();
        assert_eq!(
            write_output(&to_null, &opts(), &mut tar_like).unwrap(),
            Delivered::Streamed
        );
        assert!(std::fs::symlink_metadata(&to_null)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
