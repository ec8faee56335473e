//! The `nodedev` command as a library: `main.rs` parses the command line and calls
//! [`run`]; tests call it with the simulated kernel behind the same [`Backend`].

pub mod cli;
mod commands;
pub mod hook;
mod lookup;
mod render;
mod tree;
pub mod virsh;

pub use commands::{report, run, run_with_input, Backend, ReportedFailure};
pub use lookup::Host;
