//! Fuzzing on stable Rust, inside `cargo test` (issue 11).
//!
//! Each **harness** ([`harness`]) is a function `fn(&[u8]) -> Outcome`: it
//! feeds the bytes to one parser and panics when an invariant breaks (no
//! panic, bounded error messages, parse → write → parse stable, …). That is
//! the shape of a `cargo fuzz` target, so each can also run under libFuzzer on
//! nightly: `fuzz_target!(|d: &[u8]| { nodedev_fuzz::harness::node_device_xml(d); })`.
//!
//! The **driver** ([`driver::run`]) runs a harness on every file of its corpus
//! (`crates/nodedev-fuzz/corpus/<harness>/`, plus seed directories such as the
//! XML samples), then on a bounded number of mutations of them from a fixed seed
//! — the same inputs on every machine — under a hang guard (a case that runs
//! longer than the limit fails) and a memory ceiling (the process's peak RSS),
//! and returns a [`driver::Report`]. `tests/fuzz.rs` runs every harness that
//! way; docs/testing.md has the layout, the budgets and how to add a harness.
#![deny(missing_docs)]

pub mod driver;
pub mod gen;
pub mod harness;

pub use driver::{Config, Harness, Outcome, Report};
