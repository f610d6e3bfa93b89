//! # trailseal
//!
//! An embedded, append-only, tamper-evident audit ledger. Leaves are stored in a
//! [redb](https://docs.rs/redb) file and form an RFC 9162 Merkle tree (a transparency log):
//! anyone holding a leaf, a proof and a signed checkpoint can check the record with nothing but
//! a public key.
//!
//! The crate is a set of concepts, one module each:
//!
//! - [`merkle`]: the tree math (pure functions, no I/O): hashing, proof paths, verification.
//! - [`proof`]: inclusion and consistency proofs in their SPEC JSON form.
//! - [`proof_check`]: a proof checked offline, optionally against an outside checkpoint.
//! - [`entry`]: the audit-entry schema, validation and canonical (RFC 8785) encoding.
//! - [`note`]: signer and verifier keys, C2SP signed notes (Go `sumdb/note` compatible).
//! - [`checkpoint`]: C2SP tlog checkpoints, signed as notes.
//! - [`commit_index`]: committed indexes: the log commits to every term's list of entries, so
//!   query answers can be proven complete.
//! - [`postings`]: posting lists of the query indexes: term hashes, block encoding (pure).
//! - [`query`]: the secondary indexes and queries over them.
//! - [`trace`]: what an entry rests on, or what rests on it.
//! - [`why`]: which rule allowed an entry, and who approved that rule.
//! - [`gate`]: release gates evaluated against the ledger.
//! - [`rules`]: decisions as code: rules documents, published in the ledger, enforced on append.
//! - [`evidence`]: evidence bundles, checked without the ledger.
//! - [`report`]: approval latency and change statistics.
//! - [`delivery_report`]: delivery measures under rules: time to decision, concentration, AI interventions.
//! - [`export`]: entries as OCSF events and (feature `parquet`) as Parquet files.
//! - [`publish`]: the ledger as a static C2SP tlog-tiles log (directory or object storage).
//! - [`timestamp_token`]: RFC 3161 trusted timestamps of checkpoints, requested and checked.
//! - [`storage`]: the only module that knows redb.
//! - [`ledger`]: the facade that composes them.
//! - [`error`]: the one error enum with stable codes.

#![warn(missing_docs)]

pub mod capture;
pub mod checkpoint;
pub mod commit_index;
pub mod delivery_report;
pub mod entry;
pub mod error;
pub mod evidence;
pub mod export;
pub mod gate;
pub mod key_chain;
pub mod keystore;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod postings;
pub mod proof;
pub mod proof_check;
pub mod publish;
pub mod query;
pub mod report;
pub mod request_timeout;
pub mod retention;
pub mod rules;
pub mod storage;
pub mod timestamp_token;
pub mod trace;
pub mod why;
pub mod witness;

pub use checkpoint::Checkpoint;
pub use entry::{Entry, Timestamp};
pub use error::{Error, ErrorCode, Result};
pub use evidence::{
    verify_bundle, verify_bundle_bytes, verify_bundle_with_tsa, Anchor, Bundle, BundleReport,
    Selection,
};
pub use gate::{GatePolicy, GateResult};
pub use ledger::{
    CreateOptions, Durability, EraseOptions, EraseReport, Ledger, LedgerKind, OpenOptions,
    PruneOptions, PruneReport, PublishStatus, Publisher, Receipt, RecordedBy, RelayRole, Sharing,
    TimestampedCheckpoint, VerifyOptions, VerifyReport,
};
pub use merkle::{Hash, HashAlg};
pub use note::{Signer, Verifier};
pub use proof::{ConsistencyProof, InclusionProof};
pub use proof_check::{check_consistency, check_inclusion, Outside};
pub use report::Report;
pub use request_timeout::request_timeout;
pub use retention::EraseSelect;
pub use timestamp_token::{request_timestamp, verify_timestamp_token, AttestedTime};
pub use witness::{CosignerKey, WitnessPolicy, WitnessReport, WitnessSpec};
