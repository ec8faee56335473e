//! The `nodedev` command as a library. This crate is the command line and glue:
//! it parses (clap, or virsh's command line in virsh mode), resolves names, calls
//! the engine (`hostdev-manager`), maps what it reads onto libvirt's XML model
//! (`nodedev-xml`) and prints what virsh prints. `main.rs` only hands the
//! process's arguments and streams to [`main_with`]; tests call the same function
//! with the simulated kernel behind the [`Backend`].
//!
//! | module | what |
//! |---|---|
//! | `app` | [`main_with`], [`run`]: parse, dispatch, error and exit-status policy |
//! | [`cli`] | the clap definitions (what the user typed, nothing resolved) |
//! | [`virsh`] | virsh mode: virsh's command line translated into ours |
//! | `query` | list, dumpxml, info, xml normalize |
//! | `batch` | detach, reattach, apply |
//! | `reset` | reset |
//! | `groups`, `preflight` | the IOMMU-group view and the passthrough check (read only) |
//! | `persist`, `boot` | persistent assignments (`detach --persistent`, `persist list/remove`) and the boot path (`boot`, `boot --udev`) |
//! | `select` | devices by `--id` and by network interface name |
//! | [`hook`] | the libvirt hook and its installation |
//! | `domain` | what a domain document asks for |
//! | `input`, `output` | bounded XML input; virsh's error lines |
//! | `files` | files named on the command line: XML read as regular files only; snapshot and hook script written without replacing devices or links |
//! | `lookup`, `render`, `tree` | names to devices; devices to XML; the tree drawing |
//! | `connect`, `libvirt` | `--connect URI`: the commands sent through libvirt (`libvirt`: feature `libvirt`) |
//! | `check`, `event` | `nodedev check` (our XML against libvirt's), `nodedev event` (uevents as virsh's node-device events) |

mod app;
mod batch;
mod boot;
mod check;
pub mod cli;
mod connect;
mod domain;
mod event;
mod files;
mod groups;
pub mod hook;
mod input;
#[cfg(feature = "libvirt")]
mod libvirt;
#[cfg(feature = "libvirt")]
mod libvirt_sys;
mod lookup;
mod output;
mod persist;
mod preflight;
mod query;
mod render;
mod reset;
mod select;
mod tree;
pub mod virsh;

pub use app::{main_with, run, Backend, Stdio};
pub use lookup::Host;
pub use output::{report, ReportedFailure};
