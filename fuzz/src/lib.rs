//! Fuzz targets for trailseal.
//!
//! Each target is a `pub fn run(data: &[u8])` here, so that libFuzzer (`fuzz_targets/*.rs`,
//! built by `cargo fuzz` on nightly) and the stable replay harness (`tests/replay.rs` and the
//! `replay` binary, which feed every file of `seeds/<target>/` through the same function) run
//! exactly the same code. A target panics only when trailseal breaks a property it promises;
//! every refusal of hostile input must be an `Err`, never a panic.

pub mod completeness;
pub mod entry;
pub mod keys;
pub mod ledger_model;
pub mod mem;
pub mod note;
pub mod proof_json;
pub mod proof_structured;
pub mod reference;
pub mod rules;
pub mod witness;
pub mod timestamp_token;

/// A fuzz target: takes any bytes, panics only on a broken promise.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz_targets/*.rs` and of the `seeds/` folders).
pub const TARGETS: &[(&str, Target)] = &[
    ("proof_json", proof_json::run),
    ("proof_structured", proof_structured::run),
    ("note", note::run),
    ("keys", keys::run),
    ("entry", entry::run),
    ("ledger_model", ledger_model::run),
    ("witness", witness::run),
    ("timestamp_token", timestamp_token::run),
    ("rules", rules::run),
    ("completeness", completeness::run),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
