//! The `occurred` table: the index of entries by `occurred_at` (when the source says the thing
//! happened), so that "commits in March 2024" is asked of an imported history without reading
//! it all.
//!
//! `time` needs no index (it never decreases, so a bound is a binary search), but
//! `occurred_at` is in no order: a history imported at once carries ten years of commit dates
//! in a few seconds of `time`. So each entry with an `occurred_at` gets a row keyed
//! `(occurred_at in Unix nanoseconds, index)` with no value; a window of `occurred_at` is a
//! range scan of the table (the rows in the window, in `occurred_at` order), which the query
//! sorts by index. Entries without `occurred_at` have no row.
//!
//! The rows are written in the transaction of a commit that writes entries (so they survive or
//! vanish with them). The `meta` record `occurred_end` says up to which leaf the table is
//! complete; the leaves from there on are its unindexed tail, which readers read themselves.
//! As for the posting lists ([`INDEX_TAIL_LEAVES`]), a commit that leaves that tail shorter
//! than 64 leaves writes no rows, and the first that would make it longer indexes the tail,
//! read back from the leaves, with its own leaves: single appends touch the table once every
//! 64 commits. Files written before the table existed have no record (their whole ledger is
//! the tail), and a trailseal of that time appending to a newer file leaves the record behind:
//! either way the next commit of this version indexes them all, in its transaction.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, TableError, WriteTransaction};

use super::bundles::leaf_range;
use super::runs::INDEX_TAIL_LEAVES;
use super::tables::{storage_err, LEAVES, META, OCCURRED};
use crate::error::{Error, Result};

/// The `occurred_at` of a stored leaf, in Unix nanoseconds, if it has one (an error for a
/// leaf that is not an entry). Given by the caller: storage does not read entries.
pub type LeafOccurred = fn(u64, &[u8]) -> Result<Option<i128>>;

/// The `meta` key of the leaf count the table covers (u64, little-endian).
const END_KEY: &str = "occurred_end";

fn read_end<T: ReadableTable<&'static str, &'static [u8]>>(meta: &T) -> Result<u64> {
    let Some(v) = meta.get(END_KEY).map_err(storage_err)? else {
        return Ok(0);
    };
    let bytes: [u8; 8] = v.value().try_into().map_err(|_| Error::Tampered {
        location: "occurred_at index".into(),
        detail: format!("the {END_KEY} record is {} bytes, not 8", v.value().len()),
    })?;
    Ok(u64::from_le_bytes(bytes))
}

/// Write `rows` (`(occurred_at nanos, index)` of leaves `first_new..end`, this commit's),
/// after indexing the table's unindexed tail before `first_new`, read back with `occurred_of`;
/// then record that the table covers `..end`.
pub(super) fn put(
    txn: &WriteTransaction,
    rows: &[(i128, u64)],
    first_new: u64,
    end: u64,
    occurred_of: LeafOccurred,
) -> Result<()> {
    let mut meta = txn.open_table(META).map_err(storage_err)?;
    let covered = read_end(&meta)?;
    if end.saturating_sub(covered) < INDEX_TAIL_LEAVES {
        // A short tail stays unindexed, as the posting lists' does: single appends touch the
        // table once every 64 commits, and readers read the tail's few entries instead.
        return Ok(());
    }
    let mut all = Vec::with_capacity(rows.len());
    if covered < first_new {
        let leaves = txn.open_table(LEAVES).map_err(storage_err)?;
        leaf_range(&leaves, covered, first_new, |index, leaf| {
            all.extend(occurred_of(index, leaf)?.map(|at| (at, index)));
            Ok(())
        })?;
    }
    all.extend_from_slice(rows);
    // In key order: neighbouring rows land on the same pages, each copied once.
    all.sort_unstable();
    let mut t = txn.open_table(OCCURRED).map_err(storage_err)?;
    for row in all {
        t.insert(row, ()).map_err(storage_err)?;
    }
    meta.insert(END_KEY, end.to_le_bytes().as_slice())
        .map_err(storage_err)?;
    Ok(())
}

/// [`end`] inside a write transaction.
pub(super) fn end_in_write(txn: &WriteTransaction) -> Result<u64> {
    let meta = txn.open_table(META).map_err(storage_err)?;
    read_end(&meta)
}

fn open(txn: &ReadTransaction) -> Result<Option<redb::ReadOnlyTable<(i128, u64), ()>>> {
    match txn.open_table(OCCURRED) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage_err(e)),
    }
}

/// Where the table's coverage ends (0 for a file without it).
pub(super) fn end(txn: &ReadTransaction) -> Result<u64> {
    let meta = txn.open_table(META).map_err(storage_err)?;
    read_end(&meta)
}

/// The indexes in `lo..hi` of the entries whose `occurred_at` is in `since..until` (nanos;
/// either end open), ascending: the table's rows in the window, then the unindexed tail's
/// leaves from `covered` (see the module docs) read with `occurred_of`. Memory: eight bytes
/// per entry in the window.
pub(super) fn window(
    txn: &ReadTransaction,
    (since, until): (Option<i128>, Option<i128>),
    (lo, hi): (u64, u64),
    size: u64,
    occurred_of: LeafOccurred,
) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    if lo >= hi || matches!((since, until), (Some(s), Some(u)) if s >= u) {
        return Ok(out);
    }
    let covered = end(txn)?.min(size);
    if let Some(t) = open(txn)? {
        let from = (since.unwrap_or(i128::MIN), 0u64);
        let rows = match until {
            Some(u) => t.range(from..(u, 0u64)),
            None => t.range(from..),
        }
        .map_err(storage_err)?;
        for row in rows {
            let (_, index) = row.map_err(storage_err)?.0.value();
            if (lo..hi).contains(&index) {
                out.push(index);
            }
        }
        out.sort_unstable();
    }
    let from = covered.max(lo);
    if from < hi {
        let leaves = txn.open_table(LEAVES).map_err(storage_err)?;
        let inside = |at: i128| since.is_none_or(|s| at >= s) && until.is_none_or(|u| at < u);
        leaf_range(&leaves, from, hi, |index, leaf| {
            if occurred_of(index, leaf)?.is_some_and(inside) {
                out.push(index);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Check the table against the entries of leaves `..covered`: each entry with an
/// `occurred_at` has its row, and there are no other rows (the counts agree). Returns the
/// rows checked. One point lookup per entry: memory stays flat.
pub(super) fn check(txn: &ReadTransaction, size: u64, occurred_of: LeafOccurred) -> Result<u64> {
    let covered = end(txn)?;
    let bad = |detail: String| Error::Tampered {
        location: "occurred_at index".into(),
        detail,
    };
    if covered > size {
        return Err(bad(format!(
            "covers leaves up to {covered}, past the tree size {size}"
        )));
    }
    let Some(t) = open(txn)? else {
        return if covered == 0 {
            Ok(0)
        } else {
            Err(bad(format!(
                "covers leaves up to {covered} but has no table"
            )))
        };
    };
    let leaves = txn.open_table(LEAVES).map_err(storage_err)?;
    let mut expected = 0u64;
    leaf_range(&leaves, 0, covered, |index, leaf| {
        if let Some(at) = occurred_of(index, leaf)? {
            if t.get((at, index)).map_err(storage_err)?.is_none() {
                return Err(bad(format!("leaf {index} is missing from it")));
            }
            expected += 1;
        }
        Ok(())
    })?;
    let held = t.len().map_err(storage_err)?;
    if held != expected {
        return Err(bad(format!(
            "holds {held} rows for the {expected} entries of leaves 0..{covered} with an occurred_at: a row names a leaf or time it should not"
        )));
    }
    Ok(held)
}
