//! The `cosignatures` and `witnesses` tables: witness cosignatures kept beside the checkpoint
//! they sign, and the size each witness last cosigned, which the next `add-checkpoint` to that
//! witness must start its consistency proof from.
//!
//! Both tables came after storage format 4's first files, so a file without them reads as
//! having no cosignatures; they are created by the first write that needs them.

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableError, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::tables::{decode, encode, storage_err};
use crate::error::{Error, Result};
use crate::merkle::Hash;

/// Checkpoint sequence number (its key in `checkpoints`) to postcard `Vec<StoredCosignature>`.
pub(super) const COSIGNATURES: TableDefinition<u64, &[u8]> =
    TableDefinition::new("trailseal.cosignatures");
/// Witness vkey string to postcard [`WitnessState`].
pub(super) const WITNESSES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("trailseal.witnesses");

/// One cosignature kept with a checkpoint, and the key that made it, so that `verify` can
/// check it again without being told the witness keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCosignature {
    /// The witness's vkey string (type 0x04).
    pub witness_key: String,
    /// The note signature line, without its newline.
    pub line: String,
}

/// What a witness last cosigned of this ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessState {
    /// The tree size.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
}

/// Adds `new` to the cosignatures kept for checkpoint `seq` (a line already kept is not kept
/// twice) and records each witness's new state.
pub(super) fn put(
    txn: &WriteTransaction,
    cosigs: &[(u64, Vec<StoredCosignature>)],
    states: &[(String, WitnessState)],
) -> Result<()> {
    if !cosigs.is_empty() {
        let mut t = txn.open_table(COSIGNATURES).map_err(storage_err)?;
        for (seq, new) in cosigs {
            let mut kept: Vec<StoredCosignature> = match t.get(*seq).map_err(storage_err)? {
                Some(v) => decode("cosignatures", v.value())?,
                None => Vec::new(),
            };
            for c in new {
                if !kept.contains(c) {
                    kept.push(c.clone());
                }
            }
            t.insert(*seq, encode(&kept)?.as_slice())
                .map_err(storage_err)?;
        }
    }
    if !states.is_empty() {
        let mut t = txn.open_table(WITNESSES).map_err(storage_err)?;
        for (key, state) in states {
            t.insert(key.as_str(), encode(state)?.as_slice())
                .map_err(storage_err)?;
        }
    }
    Ok(())
}

fn absent_is_empty<T>(r: std::result::Result<T, TableError>) -> Result<Option<T>> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage_err(e)),
    }
}

/// Every kept cosignature, by checkpoint sequence number.
pub(super) fn all(txn: &ReadTransaction) -> Result<Vec<(u64, Vec<StoredCosignature>)>> {
    let Some(t) = absent_is_empty(txn.open_table(COSIGNATURES))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(storage_err)? {
        let (k, v) = row.map_err(storage_err)?;
        let cosigs = decode("cosignatures", v.value()).map_err(|e| Error::Tampered {
            location: format!("cosignatures of checkpoint {}", k.value()),
            detail: e.to_string(),
        })?;
        out.push((k.value(), cosigs));
    }
    Ok(out)
}

/// What witness `key` last cosigned, if it ever did.
pub(super) fn state(txn: &ReadTransaction, key: &str) -> Result<Option<WitnessState>> {
    let Some(t) = absent_is_empty(txn.open_table(WITNESSES))? else {
        return Ok(None);
    };
    let row = t.get(key).map_err(storage_err)?;
    row.map(|v| decode("witness state", v.value())).transpose()
}
