//! Path resolution confined to a root, as `openat2(RESOLVE_IN_ROOT)` does it, but
//! written out component by component so that the same rule serves a snapshot
//! directory (through `O_PATH | O_NOFOLLOW` descriptors, on any kernel) and a
//! snapshot tar read into memory.
//!
//! The rule: the root is `/`. `..` at the root stays at the root. A symbolic
//! link is expanded where it is met: an absolute target starts again from the
//! root, a relative one from the directory holding the link. At most
//! [`MAX_LINKS`] links are followed in one resolution (`ELOOP` after that, as the
//! kernel's limit of 40), and at most [`MAX_STEPS`] components are walked in all
//! (`ENAMETOOLONG` after that), so a link target of `a/../` repeated cannot make
//! every read slow. Nothing ever names a file outside the tree.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};

/// Links followed in one resolution before it fails with `ELOOP` (the kernel's `MAXSYMLINKS`).
pub const MAX_LINKS: usize = 40;
/// Components walked in one resolution, links' targets included, before it fails
/// with `ENAMETOOLONG`. A sysfs path with its links takes a few dozen.
pub const MAX_STEPS: usize = 256;

/// What one name in a directory is.
pub(crate) enum Kind<D> {
    /// A directory, with what it takes to look names up in it.
    Dir(D),
    /// A symbolic link and its target, as stored.
    Link(PathBuf),
    /// A regular file.
    File,
    /// Anything else: a device node, FIFO or socket. Never opened.
    Other,
}

/// A tree that names can be looked up in, one directory at a time.
pub(crate) trait Tree {
    /// A directory of the tree.
    type Dir: Clone;
    /// The root directory.
    fn root(&self) -> io::Result<Self::Dir>;
    /// What `name` is in `dir` (without following it); absent is `NotFound`.
    fn lookup(&self, dir: &Self::Dir, name: &OsStr) -> io::Result<Kind<Self::Dir>>;
    /// A walk to the directory `path` that [`remember`](Tree::remember) kept
    /// (none by default). Whatever it returns was resolved inside the root.
    fn recall(&self, _path: &Path) -> Option<Walked<Self::Dir>> {
        None
    }
    /// Keeps a walk to the directory `path` for [`recall`](Tree::recall)
    /// (nothing by default).
    fn remember(&self, _path: &Path, _walked: &Walked<Self::Dir>) {}
    /// The remembered walk to the nearest ancestor of `path` (a proper one),
    /// with the rest of `path` below it (none by default).
    fn recall_ancestor(&self, _path: &Path) -> Option<(Walked<Self::Dir>, PathBuf)> {
        None
    }
}

/// Where a path led.
pub(crate) struct Resolved<D> {
    /// The directory holding the last component (the object itself when
    /// `name` is `None`: the path ended at the root or at a `..`).
    pub parent: D,
    /// The last component's name in `parent`.
    pub name: Option<OsString>,
    /// What the last component is.
    pub kind: Kind<D>,
}

enum Step {
    Root,
    Up,
    Name(OsString),
}

fn push_path(pending: &mut Vec<Step>, path: &Path) {
    // `pending` is a stack: the next step is at the end.
    let steps: Vec<Step> = path
        .components()
        .filter_map(|c| match c {
            Component::RootDir | Component::Prefix(_) => Some(Step::Root),
            Component::CurDir => None,
            Component::ParentDir => Some(Step::Up),
            Component::Normal(n) => Some(Step::Name(n.to_os_string())),
        })
        .collect();
    pending.extend(steps.into_iter().rev());
}

fn eloop() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::LOOP.raw_os_error())
}

fn enametoolong() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::NAMETOOLONG.raw_os_error())
}

fn enotdir() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error())
}

/// A walk that ended at a directory: the directories it stands in (the root
/// first, the directory last) and what it spent of the limits.
#[derive(Clone, Debug)]
pub(crate) struct Walked<D> {
    /// The root, then each directory down to where the walk ended.
    pub stack: Vec<D>,
    /// Links followed.
    pub links: usize,
    /// Components walked.
    pub steps: usize,
}

/// How a walk ended.
enum End<D> {
    /// At a name in the directory on top of the stack.
    Name(OsString, Kind<D>),
    /// At the directory on top of the stack itself.
    Dir,
}

/// Walks `pending` (a stack: next step last) from `at`, following links (the
/// last one too when `follow_last`), within [`MAX_LINKS`] and [`MAX_STEPS`].
fn walk<T: Tree>(
    tree: &T,
    at: &mut Walked<T::Dir>,
    mut pending: Vec<Step>,
    follow_last: bool,
) -> io::Result<End<T::Dir>> {
    while let Some(step) = pending.pop() {
        at.steps += 1;
        if at.steps > MAX_STEPS {
            return Err(enametoolong());
        }
        match step {
            Step::Root => at.stack.truncate(1),
            Step::Up => {
                if at.stack.len() > 1 {
                    at.stack.pop();
                }
            }
            Step::Name(name) => {
                let last = pending.is_empty();
                let here = at.stack.last().expect("the root is never popped");
                match tree.lookup(here, &name)? {
                    Kind::Dir(d) if !last => at.stack.push(d),
                    Kind::Link(target) if !last || follow_last => {
                        at.links += 1;
                        if at.links > MAX_LINKS {
                            return Err(eloop());
                        }
                        push_path(&mut pending, &target);
                    }
                    Kind::File | Kind::Other if !last => return Err(enotdir()),
                    kind => return Ok(End::Name(name, kind)),
                }
            }
        }
    }
    Ok(End::Dir)
}

/// Walks to the directory `path` names (following every link), or recalls a
/// walk the tree remembered: to `path` itself, or else to its nearest
/// ancestor, from which the rest is walked (the same steps a walk from the
/// root would take after that ancestor, with the same limits spent).
fn walk_to_dir<T: Tree>(tree: &T, path: &Path) -> io::Result<Walked<T::Dir>> {
    if let Some(w) = tree.recall(path) {
        return Ok(w);
    }
    let recalled = tree.recall_ancestor(path);
    let (mut at, rest) = match &recalled {
        Some((w, rest)) => (w.clone(), rest.as_path()),
        None => (
            Walked {
                stack: vec![tree.root()?],
                links: 0,
                steps: 0,
            },
            path,
        ),
    };
    let mut pending = Vec::new();
    push_path(&mut pending, rest);
    match walk(tree, &mut at, pending, true)? {
        End::Dir => {}
        End::Name(_, Kind::Dir(d)) => at.stack.push(d),
        End::Name(..) => return Err(enotdir()),
    }
    tree.remember(path, &at);
    Ok(at)
}

/// The directory `path` leads to (every link followed), reached as
/// [`resolve`] reaches a path's parent: for a read of one name in it.
pub(crate) fn walk_to_dir_of<T: Tree>(tree: &T, path: &Path) -> io::Result<T::Dir> {
    let mut w = walk_to_dir(tree, path)?;
    Ok(w.stack.pop().expect("the root is never popped"))
}

/// Resolves `path` (absolute or relative, both taken from the root) inside
/// `tree`. The last component is followed when it is a link and `follow_last`.
///
/// The directory holding the last component is reached first (and may be
/// recalled from [`Tree::recall`]: reads of a device's attributes share it), then
/// the last component is looked up there.
pub(crate) fn resolve<T: Tree>(
    tree: &T,
    path: &Path,
    follow_last: bool,
) -> io::Result<Resolved<T::Dir>> {
    let (mut at, pending) = match (path.parent(), path.components().next_back()) {
        (Some(parent), Some(Component::Normal(last))) => (
            walk_to_dir(tree, parent)?,
            vec![Step::Name(last.to_os_string())],
        ),
        _ => {
            let mut pending = Vec::new();
            push_path(&mut pending, path);
            let at = Walked {
                stack: vec![tree.root()?],
                links: 0,
                steps: 0,
            };
            (at, pending)
        }
    };
    let end = walk(tree, &mut at, pending, follow_last)?;
    let here = at.stack.pop().expect("the root is never popped");
    Ok(match end {
        End::Name(name, kind) => Resolved {
            parent: here,
            name: Some(name),
            kind,
        },
        // The path ended at a directory reached by `/` or `..` (or at a link to one).
        End::Dir => Resolved {
            parent: here.clone(),
            name: None,
            kind: Kind::Dir(here),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tree of paths for the rule alone.
    struct Map(BTreeMap<PathBuf, Option<PathBuf>>); // None: directory; Some(t): link

    impl Tree for Map {
        type Dir = PathBuf;
        fn root(&self) -> io::Result<PathBuf> {
            Ok(PathBuf::from("/"))
        }
        fn lookup(&self, dir: &PathBuf, name: &OsStr) -> io::Result<Kind<PathBuf>> {
            let p = dir.join(name);
            match self.0.get(&p) {
                None if p.ends_with("file") => Ok(Kind::File),
                None => Err(io::ErrorKind::NotFound.into()),
                Some(None) => Ok(Kind::Dir(p)),
                Some(Some(t)) => Ok(Kind::Link(t.clone())),
            }
        }
    }

    fn tree() -> Map {
        let slow = format!("{}d", "../devices/".repeat(MAX_STEPS / 2));
        let mut m = BTreeMap::new();
        for d in ["/sys", "/sys/devices", "/sys/devices/d", "/sys/bus"] {
            m.insert(PathBuf::from(d), None);
        }
        let links = [
            ("/sys/bus/rel", "../devices/d"),
            ("/sys/bus/abs", "/sys/devices/d"),
            ("/sys/bus/out", "../../../../../etc"),
            ("/sys/bus/etc", "/etc"),
            ("/sys/bus/loop", "loop2"),
            ("/sys/bus/loop2", "loop"),
            ("/sys/bus/root", "/"),
            ("/sys/bus/slow", &slow),
        ];
        for (l, t) in links {
            m.insert(PathBuf::from(l), Some(PathBuf::from(t)));
        }
        Map(m)
    }

    fn dir_of(path: &str) -> io::Result<PathBuf> {
        match resolve(&tree(), Path::new(path), true)? {
            Resolved {
                kind: Kind::Dir(d), ..
            } => Ok(d),
            Resolved {
                parent,
                name: Some(n),
                ..
            } => Ok(parent.join(n)),
            Resolved { parent, .. } => Ok(parent),
        }
    }

    #[test]
    fn links_resolve_inside_the_root() {
        assert_eq!(dir_of("/sys/bus/rel").unwrap(), Path::new("/sys/devices/d"));
        assert_eq!(dir_of("/sys/bus/abs").unwrap(), Path::new("/sys/devices/d"));
        assert_eq!(
            dir_of("/sys/bus/rel/file").unwrap(),
            Path::new("/sys/devices/d/file")
        );
        // `..` past the root stays at the root, in a path or in a link.
        assert_eq!(dir_of("/../../sys").unwrap(), Path::new("/sys"));
        assert_eq!(dir_of("/sys/bus/root/sys").unwrap(), Path::new("/sys"));
        // /etc is outside the tree's /sys, and inside the tree it does not exist.
        let e = dir_of("/sys/bus/out/passwd").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        let e = dir_of("/sys/bus/etc/passwd").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn long_walks_end_with_enametoolong() {
        let e = dir_of("/sys/bus/slow").unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::NAMETOOLONG.raw_os_error())
        );
        // The same walk, short enough, arrives.
        assert_eq!(
            dir_of("/sys/devices/../devices/../devices/d").unwrap(),
            Path::new("/sys/devices/d")
        );
    }

    #[test]
    fn loops_end_with_eloop_and_files_are_no_directories() {
        let e = dir_of("/sys/bus/loop").unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
        let e = dir_of("/sys/devices/d/file/x").unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::NOTDIR.raw_os_error())
        );
    }

    #[test]
    fn the_last_link_is_kept_when_not_followed() {
        let r = resolve(&tree(), Path::new("/sys/bus/rel"), false).unwrap();
        assert!(matches!(r.kind, Kind::Link(ref t) if t == Path::new("../devices/d")));
        assert_eq!(r.parent, Path::new("/sys/bus"));
    }
}
