//! Raw access for tests that tamper with a ledger file behind the library's back.
//!
//! Only with the `testing` feature, and not part of the API: it exists so the test suite can
//! prove `verify` catches edits.

use std::path::Path;
use std::sync::Arc;

use redb::{ReadableTable, WriteTransaction};

use super::bundles::{
    bundle_leaves, push_framed, stored_closed, stored_plain, unpack_bundle, BUNDLE_LZ4,
};
use super::runs::RunInfo;
use super::tables::{
    decode, encode, storage_err, CHECKPOINTS, CHECKPOINT_TIMESTAMPS, IDS, LEAVES, META, NODES,
    OCCURRED,
};
use super::tiles::tile_of;
use super::{open_db, Reader, Sharing, State, StoredCheckpoint};
use crate::error::{Error, Result};
use crate::merkle::{Hash, NodeId};

/// Open the file directly and let `f` edit the raw tables in one committed transaction.
pub fn edit(path: &Path, f: impl FnOnce(&mut Tables<'_>) -> Result<()>) -> Result<()> {
    let db = open_db(path, false, None, Sharing::default(), false)?;
    let txn = db.begin_write(path)?;
    {
        let mut tables = Tables { txn: &txn };
        f(&mut tables)?;
    }
    txn.commit().map_err(storage_err)
}

/// The runs of a ledger's query indexes, in leaf order, read straight from the file.
pub fn runs(path: &Path) -> Result<Vec<RunInfo>> {
    let db = open_db(path, false, None, Sharing::default(), true)?;
    let txn = db.begin_read()?;
    Reader::new(txn, Arc::default()).runs()
}

/// Raw tables of a ledger.
pub struct Tables<'a> {
    txn: &'a WriteTransaction,
}

impl Tables<'_> {
    /// Replace the bytes of one leaf inside its bundle.
    pub fn set_leaf(&mut self, index: u64, bytes: &[u8]) -> Result<()> {
        let (start, old) = self.stored_bundle(index)?;
        let mut buf = Vec::new();
        let mut new = Vec::new();
        for (i, leaf) in bundle_leaves(unpack_bundle(start, &old, &mut buf)?).enumerate() {
            let leaf = if start + i as u64 == index {
                bytes
            } else {
                leaf?
            };
            push_framed(&mut new, leaf);
        }
        // Keep the bundle's stored form, so the edit is all that changes.
        let new = match old.first() {
            Some(&BUNDLE_LZ4) => stored_closed(&new),
            _ => stored_plain(&new),
        };
        self.put_stored_bundle(start, &new)
    }

    /// The first leaf and stored bytes (tag byte first) of the bundle holding leaf `index`.
    pub fn stored_bundle(&self, index: u64) -> Result<(u64, Vec<u8>)> {
        let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
        let mut r = t.range(..=index).map_err(storage_err)?;
        let (k, v) = r
            .next_back()
            .ok_or_else(|| Error::OutOfRange(index.to_string()))?
            .map_err(storage_err)?;
        Ok((k.value(), v.value().to_vec()))
    }

    /// File id `id` under `index` in the id index, or (with `None`) remove it.
    pub fn set_id(&mut self, id: &str, index: Option<u64>) -> Result<()> {
        let mut t = self.txn.open_table(IDS).map_err(storage_err)?;
        match index {
            Some(i) => t.insert(id, i).map(drop),
            None => t.remove(id).map(drop),
        }
        .map_err(storage_err)
    }

    /// Every stored bundle in order: its first leaf, stored length and tag byte.
    pub fn stored_bundles(&self) -> Result<Vec<(u64, usize, u8)>> {
        let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            out.push((
                k.value(),
                v.value().len(),
                v.value().first().copied().unwrap_or(0),
            ));
        }
        Ok(out)
    }

    /// Store `bytes` as the bundle starting at leaf `start`, as they are.
    pub fn put_stored_bundle(&mut self, start: u64, bytes: &[u8]) -> Result<()> {
        let mut t = self.txn.open_table(LEAVES).map_err(storage_err)?;
        t.insert(start, bytes).map_err(storage_err)?;
        Ok(())
    }

    /// Overwrite one stored node hash.
    pub fn set_node(&mut self, id: NodeId, hash: Hash) -> Result<()> {
        let mut t = self.txn.open_table(NODES).map_err(storage_err)?;
        let (key, pos) = tile_of(id);
        let mut tile = t
            .get(key)
            .map_err(storage_err)?
            .map(|g| g.value().to_vec())
            .unwrap_or_default();
        tile.get_mut(pos * 32..pos * 32 + 32)
            .ok_or_else(|| Error::OutOfRange(format!("{id:?}")))?
            .copy_from_slice(&hash);
        t.insert(key, tile.as_slice()).map_err(storage_err)?;
        Ok(())
    }

    /// Replace the note of stored checkpoint number `seq`.
    pub fn set_checkpoint_note(&mut self, seq: u64, note: &str) -> Result<()> {
        let mut t = self.txn.open_table(CHECKPOINTS).map_err(storage_err)?;
        let mut cp: StoredCheckpoint = {
            let g = t
                .get(seq)
                .map_err(storage_err)?
                .ok_or_else(|| Error::OutOfRange(seq.to_string()))?;
            decode("checkpoint", g.value())?
        };
        cp.note = note.to_owned();
        t.insert(seq, encode(&cp)?.as_slice())
            .map_err(storage_err)?;
        Ok(())
    }

    /// Replace the cosignature lines kept for checkpoint `seq` (their witness keys stay).
    pub fn set_cosignature_lines(&mut self, seq: u64, lines: &[&str]) -> Result<()> {
        let mut t = self
            .txn
            .open_table(super::cosigned::COSIGNATURES)
            .map_err(storage_err)?;
        let mut kept: Vec<super::StoredCosignature> = {
            let g = t
                .get(seq)
                .map_err(storage_err)?
                .ok_or_else(|| Error::OutOfRange(seq.to_string()))?;
            decode("cosignatures", g.value())?
        };
        for (c, line) in kept.iter_mut().zip(lines) {
            c.line = (*line).to_owned();
        }
        t.insert(seq, encode(&kept)?.as_slice())
            .map_err(storage_err)?;
        Ok(())
    }

    /// Store `token` as the time-stamp token of checkpoint number `seq`, whether or not that
    /// checkpoint exists.
    pub fn set_checkpoint_timestamp(&mut self, seq: u64, token: &[u8]) -> Result<()> {
        let mut t = self
            .txn
            .open_table(CHECKPOINT_TIMESTAMPS)
            .map_err(storage_err)?;
        t.insert(seq, token).map_err(storage_err)?;
        Ok(())
    }

    /// Drop the `occurred_at` index and its coverage record, as in a file written before it
    /// existed.
    pub fn drop_occurred_index(&mut self) -> Result<()> {
        self.txn.delete_table(OCCURRED).map_err(storage_err)?;
        let mut t = self.txn.open_table(META).map_err(storage_err)?;
        t.remove("occurred_end").map_err(storage_err)?;
        Ok(())
    }

    /// The `occurred_at` index's rows, `(occurred_at nanos, index)`, in key order.
    pub fn occurred_rows(&self) -> Result<Vec<(i128, u64)>> {
        let t = self.txn.open_table(OCCURRED).map_err(storage_err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(storage_err)? {
            out.push(row.map_err(storage_err)?.0.value());
        }
        Ok(out)
    }

    /// Remove one row of the `occurred_at` index, or add one (`present`).
    pub fn set_occurred_row(&mut self, row: (i128, u64), present: bool) -> Result<()> {
        let mut t = self.txn.open_table(OCCURRED).map_err(storage_err)?;
        if present {
            t.insert(row, ()).map_err(storage_err)?;
        } else {
            t.remove(row).map_err(storage_err)?;
        }
        Ok(())
    }

    /// Forget the committed indexes' map and every term's list in it (the next commitment
    /// starts from an empty map).
    pub fn clear_index_map(&mut self) -> Result<()> {
        self.txn
            .delete_table(super::map_tiles::TILES)
            .map_err(storage_err)?;
        Ok(())
    }

    /// Overwrite the state record.
    pub fn set_state(&mut self, state: &State) -> Result<()> {
        let mut t = self.txn.open_table(META).map_err(storage_err)?;
        t.insert("state", encode(state)?.as_slice())
            .map_err(storage_err)?;
        Ok(())
    }

    /// Set (`Some(digest)`) or drop (`None`) the `rules` row of leaf `index`.
    pub fn set_rules_version(&mut self, index: u64, digest: Option<&str>) -> Result<()> {
        let mut t = self
            .txn
            .open_table(super::tables::RULES)
            .map_err(storage_err)?;
        match digest {
            Some(d) => t.insert(index, d.as_bytes()).map(|_| ()),
            None => t.remove(index).map(|_| ()),
        }
        .map_err(storage_err)
    }

    /// Set (`Some(bytes)`) or drop (`None`) the openings row of entry `index` (its personal
    /// values, SPEC section 10).
    pub fn set_openings(&mut self, index: u64, openings: Option<&[u8]>) -> Result<()> {
        let mut t = self
            .txn
            .open_table(super::personal::PERSONAL)
            .map_err(storage_err)?;
        match openings {
            Some(o) => t.insert(index, o).map(|_| ()),
            None => t.remove(index).map(|_| ()),
        }
        .map_err(storage_err)
    }
}
