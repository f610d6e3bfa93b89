//! Personal values kept beside the leaves (SPEC section 10), in three tables absent from
//! ledgers without personal fields:
//!
//! - `personal`: leaf index to the entry's openings (each sealed field's value and salt), the
//!   only place a clear personal value is stored;
//! - `personal_postings`: `(term hash, index)` rows, no value, for the query terms an entry
//!   has only through its personal values (its actor, say). They are kept apart from the
//!   posting runs, which are shared, compressed blocks built from the leaves (and so from the
//!   commitments): erasing an entry deletes its rows here without rewriting a run;
//! - `erased`: leaf index to the index of the `erasure.performed` entry that erased it.
//!
//! Rows are written in the transaction of the commit that writes their entry. The transaction
//! that appends the erasure record (or prunes the entry) overwrites its openings with zeros of
//! the same length (a tombstone, read as no openings) and removes its postings. A redb file
//! keeps the bytes of freed pages until they are reused, so erasing ends with
//! [`scrub_free_pages`].

use redb::{Database, ReadableTable, TableDefinition, TableError, TableHandle};

use super::tables::storage_err;
use crate::error::{Error, Result};

pub(super) const PERSONAL: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.personal");
pub(super) const PERSONAL_POSTINGS: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("trailseal.personal_postings");
pub(super) const ERASED: TableDefinition<u64, u64> = TableDefinition::new("trailseal.erased");
/// Filled with zeros by [`scrub_free_pages`], then dropped.
const SCRUB: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.scrub");

/// A stored entry's personal terms (hashes) from its leaf (`index`, bytes) and its
/// openings. Given by the ledger: storage does not read entries.
pub type PersonalTerms = fn(u64, &[u8], &[u8]) -> Result<Vec<u64>>;

/// One entry's personal rows, queued in a writer.
#[derive(Clone, Debug)]
pub(super) struct PersonalRows {
    pub(super) index: u64,
    pub(super) openings: Vec<u8>,
    pub(super) terms: Vec<u64>,
}

/// Store the rows of one commit.
pub(super) fn put(txn: &redb::WriteTransaction, rows: &[PersonalRows]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(PERSONAL).map_err(storage_err)?;
    let mut p = txn.open_table(PERSONAL_POSTINGS).map_err(storage_err)?;
    for r in rows {
        t.insert(r.index, r.openings.as_slice())
            .map_err(storage_err)?;
        for &h in &r.terms {
            p.insert((h, r.index), ()).map_err(storage_err)?;
        }
    }
    Ok(())
}

fn exists(txn: &redb::WriteTransaction, name: &str) -> Result<bool> {
    Ok(txn
        .list_tables()
        .map_err(storage_err)?
        .any(|h| h.name() == name))
}

/// Remove entry `index`'s openings and the postings `terms` (its personal terms) in `txn`;
/// with `erased_by`, record the erasure. Whether it had openings.
pub(super) fn remove(
    txn: &redb::WriteTransaction,
    index: u64,
    terms: &[u64],
    erased_by: Option<u64>,
) -> Result<bool> {
    if !exists(txn, PERSONAL.name())? {
        return Ok(false);
    }
    // Overwritten with zeros of the same length rather than removed: a row removed from a
    // page shifts the rows after it and leaves their old bytes past the page's live end,
    // where later copies of the page carry them; an overwrite in place shifts nothing.
    let had = {
        let mut t = txn.open_table(PERSONAL).map_err(storage_err)?;
        let len = match t.get(index).map_err(storage_err)? {
            Some(v) if !is_tombstone(v.value()) => Some(v.value().len()),
            _ => None,
        };
        if let Some(len) = len {
            t.insert(index, vec![0u8; len].as_slice())
                .map_err(storage_err)?;
        }
        len.is_some()
    };
    let mut p = txn.open_table(PERSONAL_POSTINGS).map_err(storage_err)?;
    for &h in terms {
        p.remove((h, index)).map_err(storage_err)?;
    }
    if let Some(by) = erased_by {
        txn.open_table(ERASED)
            .map_err(storage_err)?
            .insert(index, by)
            .map_err(storage_err)?;
    }
    Ok(had)
}

/// An erased or pruned entry's openings row: zeros, as long as the openings were.
fn is_tombstone(v: &[u8]) -> bool {
    v.iter().all(|&b| b == 0)
}

/// A row's openings, unless it is a tombstone.
fn live(v: &[u8]) -> Option<Vec<u8>> {
    (!is_tombstone(v)).then(|| v.to_vec())
}

/// Entry `index`'s openings at this snapshot, if it has them.
pub(super) fn openings(txn: &redb::ReadTransaction, index: u64) -> Result<Option<Vec<u8>>> {
    match txn.open_table(PERSONAL) {
        Ok(t) => Ok(t
            .get(index)
            .map_err(storage_err)?
            .and_then(|g| live(g.value()))),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage_err(e)),
    }
}

/// [`openings`] through a write transaction.
pub(super) fn openings_in_write(
    txn: &redb::WriteTransaction,
    index: u64,
) -> Result<Option<Vec<u8>>> {
    if !exists(txn, PERSONAL.name())? {
        return Ok(None);
    }
    let t = txn.open_table(PERSONAL).map_err(storage_err)?;
    let v = t
        .get(index)
        .map_err(storage_err)?
        .and_then(|g| live(g.value()));
    Ok(v)
}

/// The erasure record that erased entry `index`, if one did.
pub(super) fn erased_by(txn: &redb::ReadTransaction, index: u64) -> Result<Option<u64>> {
    match txn.open_table(ERASED) {
        Ok(t) => Ok(t.get(index).map_err(storage_err)?.map(|g| g.value())),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage_err(e)),
    }
}

/// Every leaf index with personal postings under term hash `h`, ascending.
pub(super) fn postings(txn: &redb::ReadTransaction, h: u64) -> Result<Vec<u64>> {
    match txn.open_table(PERSONAL_POSTINGS) {
        Ok(t) => {
            let mut out = Vec::new();
            for row in t.range((h, 0)..=(h, u64::MAX)).map_err(storage_err)? {
                out.push(row.map_err(storage_err)?.0.value().1);
            }
            Ok(out)
        }
        Err(TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(storage_err(e)),
    }
}

/// Whether leaf `index` is filed under term hash `h` through its personal values.
pub(super) fn has_posting(txn: &redb::ReadTransaction, h: u64, index: u64) -> Result<bool> {
    match txn.open_table(PERSONAL_POSTINGS) {
        Ok(t) => Ok(t.get((h, index)).map_err(storage_err)?.is_some()),
        Err(TableError::TableDoesNotExist(_)) => Ok(false),
        Err(e) => Err(storage_err(e)),
    }
}

/// What `verify` walks: every openings row, every personal posting and every erased row, in
/// key order, each handed to its callback.
pub(super) struct Visit<'f> {
    pub(super) opening: &'f mut dyn FnMut(u64, &[u8]) -> Result<()>,
    pub(super) posting: &'f mut dyn FnMut(u64, u64) -> Result<()>,
    pub(super) erased: &'f mut dyn FnMut(u64, u64) -> Result<()>,
}

/// Every row of table `def` to `f`, in key order (no table: no rows).
fn each<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
    mut f: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<()>,
) -> Result<()> {
    let t = match txn.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
        Err(e) => return Err(storage_err(e)),
    };
    for row in t.iter().map_err(storage_err)? {
        let (k, v) = row.map_err(storage_err)?;
        f(k.value(), v.value())?;
    }
    Ok(())
}

/// Walk the three tables (see [`Visit`]).
pub(super) fn visit(txn: &redb::ReadTransaction, v: Visit<'_>) -> Result<()> {
    each(txn, PERSONAL, |k, val| {
        if is_tombstone(val) {
            Ok(())
        } else {
            (v.opening)(k, val)
        }
    })?;
    each(txn, PERSONAL_POSTINGS, |(h, i), ()| (v.posting)(h, i))?;
    each(txn, ERASED, |k, by| (v.erased)(k, by))
}

/// Rebuild `personal_postings` whole in `txn`, after the transaction that erased commits.
/// redb removes a row from a page by shifting the rows after it down, which leaves their old
/// bytes past the page's live end (and later copies of the page carry them), and it keeps a
/// removed key as a branch separator: a live page can still show an erased row's key, here a
/// term hash of a value. Rebuilt in key order through a second table, every page is written
/// afresh and the old ones are freed (for [`scrub_free_pages`]). The `personal` table needs
/// no such pass: its rows are zeroed in place, never removed.
pub(super) fn rewrite_after_erasure(txn: &redb::WriteTransaction) -> Result<()> {
    const REBUILT: TableDefinition<(u64, u64), ()> =
        TableDefinition::new("trailseal.personal_postings.rebuilt");
    if !exists(txn, PERSONAL.name())? {
        return Ok(());
    }
    {
        let old = txn.open_table(PERSONAL_POSTINGS).map_err(storage_err)?;
        let mut new = txn.open_table(REBUILT).map_err(storage_err)?;
        for row in old.iter().map_err(storage_err)? {
            new.insert(row.map_err(storage_err)?.0.value(), ())
                .map_err(storage_err)?;
        }
    }
    txn.delete_table(PERSONAL_POSTINGS).map_err(storage_err)?;
    {
        let tmp = txn.open_table(REBUILT).map_err(storage_err)?;
        let mut fresh = txn.open_table(PERSONAL_POSTINGS).map_err(storage_err)?;
        for row in tmp.iter().map_err(storage_err)? {
            fresh
                .insert(row.map_err(storage_err)?.0.value(), ())
                .map_err(storage_err)?;
        }
    }
    txn.delete_table(REBUILT).map_err(storage_err)?;
    Ok(())
}

/// `n` write transactions that change nothing, committed.
fn empty_commits(db: &Database, n: usize) -> Result<()> {
    for _ in 0..n {
        db.begin_write()
            .map_err(storage_err)?
            .commit()
            .map_err(storage_err)?;
    }
    Ok(())
}

/// Value size of a scrub row: one per leaf page of 4 KiB, with room for the key and header.
const SCRUB_VALUE: usize = 3_800;

/// Overwrite the file's free pages with zeros: redb reuses freed pages without clearing them,
/// so after an erasure the old pages of the `personal` table may still hold the values.
/// After two empty commits (pages a commit frees become allocatable after a later one),
/// fills a table with zero-filled rows until the file grows, that is until every free page is
/// in use (redb writes a newly allocated page whole), commits, then drops the table. The cost:
/// the file grows by one of redb's growth steps (it doubles while the file is smaller than a
/// region), which `compact` returns; the command's `erase` compacts when it has the file
/// alone. A page pinned by another handle's open read snapshot is not free and is not reached.
/// `path`: the file, to see it grow.
pub(super) fn scrub_free_pages(
    db: &Database,
    path: &std::path::Path,
    rebuild_postings: bool,
) -> Result<()> {
    if rebuild_postings {
        let txn = db.begin_write().map_err(storage_err)?;
        rewrite_after_erasure(&txn)?;
        txn.commit().map_err(storage_err)?;
    }
    let size = || std::fs::metadata(path).map(|m| m.len()).map_err(Error::Io);
    // Pages freed by a commit become allocatable only after a later one: two empty commits
    // release what the erasure and the rebuild freed.
    empty_commits(db, 2)?;
    let txn = db.begin_write().map_err(storage_err)?;
    let stats = txn.stats().map_err(storage_err)?;
    let page = stats.page_size().max(1) as u64;
    let len = size()?;
    let used = stats.allocated_pages().saturating_mul(page);
    // Pages beyond those in use (free ones, and headers: an overestimate), plus a few for
    // the scrub table's own branch pages; the fill stops when the file grows, which is when
    // every free page has been taken.
    let rows = len.saturating_sub(used) / page + 8;
    {
        let mut t = txn.open_table(SCRUB).map_err(storage_err)?;
        let zeros = vec![0u8; SCRUB_VALUE];
        for k in 0..rows {
            t.insert(k, zeros.as_slice()).map_err(storage_err)?;
            if size()? > len {
                break;
            }
        }
    }
    txn.commit().map_err(storage_err)?;
    let txn = db.begin_write().map_err(storage_err)?;
    txn.delete_table(SCRUB).map_err(storage_err)?;
    txn.commit().map_err(storage_err)?;
    Ok(())
}
