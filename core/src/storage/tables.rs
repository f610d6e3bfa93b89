//! The redb tables (the layout is in the parent module's docs) and the helpers every part of
//! storage uses to read and write them.

use serde::{Deserialize, Serialize};

use redb::TableDefinition;

use crate::error::{Error, Result};

pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("trailseal.meta");
pub(super) const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.leaves");
pub(super) const NODES: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.nodes");
pub(super) const IDS: TableDefinition<&str, u64> = TableDefinition::new("trailseal.ids");
pub(super) const CHECKPOINTS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("trailseal.checkpoints");
pub(super) const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.posting_runs");
/// Posting block key: (run id, term hash, index) of the block's first posting.
pub(super) type BlockKey = (u64, u64, u64);
pub(super) const BLOCKS: TableDefinition<BlockKey, &[u8]> =
    TableDefinition::new("trailseal.posting_blocks");
/// Rows of requests relayed for other processes, keyed by the requesting handle's id.
pub(super) const RELAYED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("trailseal.relayed");
/// Time-stamp tokens (DER) of kept checkpoints, keyed by the checkpoint's sequence number
/// in `checkpoints`. A table of its own so that `StoredCheckpoint` keeps its encoding and
/// files written before it still open (a file without it has no tokens).
pub(super) const CHECKPOINT_TIMESTAMPS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("trailseal.checkpoint_timestamps");
/// What was published where (`published.rs`): destination name to postcard
/// [`PublishedState`](super::PublishedState). Absent from files that were never published.
pub(super) const PUBLISHED: TableDefinition<&str, &[u8]> =
    TableDefinition::new("trailseal.published");
/// Entries by `occurred_at` (`occurred.rs`): `(Unix nanoseconds, leaf index)`, no value.
/// Absent from files written before it (see `occurred.rs` for how they are indexed).
pub(super) const OCCURRED: TableDefinition<(i128, u64), ()> =
    TableDefinition::new("trailseal.occurred");
/// Rules versions (`rules.rs`): leaf index of a `rules.published` entry to its document's
/// digest. Absent from files where no rules were ever published.
pub(super) const RULES: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.rules");
pub(super) type BlockTable<'t> = redb::Table<'t, BlockKey, &'static [u8]>;

pub(super) fn storage_err(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

pub(super) fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::NotALedger(format!("unreadable {what} record: {e}")))
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Internal(format!("encoding a record: {e}")))
}
