//! The `checkpoint_timestamps` table: an RFC 3161 time-stamp token (DER) per kept
//! checkpoint, by the checkpoint's sequence number. Files written before the table existed
//! lack it, and read as having no tokens; the first token stored creates it.

use redb::{ReadTransaction, ReadableTable, TableError, WriteTransaction};

use super::tables::{storage_err, CHECKPOINTS, CHECKPOINT_TIMESTAMPS};
use crate::error::{Error, Result};

/// Store `token` for checkpoint `seq` (replacing one stored before), which must exist.
pub(super) fn put(txn: &WriteTransaction, rows: &[(u64, Vec<u8>)]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let checkpoints = txn.open_table(CHECKPOINTS).map_err(storage_err)?;
    let mut t = txn.open_table(CHECKPOINT_TIMESTAMPS).map_err(storage_err)?;
    for (seq, token) in rows {
        if checkpoints.get(*seq).map_err(storage_err)?.is_none() {
            return Err(Error::OutOfRange(format!(
                "no kept checkpoint number {seq}"
            )));
        }
        t.insert(*seq, token.as_slice()).map_err(storage_err)?;
    }
    Ok(())
}

/// The token of checkpoint `seq`, if one was stored.
pub(super) fn get(txn: &ReadTransaction, seq: u64) -> Result<Option<Vec<u8>>> {
    let Some(t) = open(txn)? else {
        return Ok(None);
    };
    let row = t.get(seq).map_err(storage_err)?;
    Ok(row.map(|v| v.value().to_vec()))
}

/// Every stored token with its checkpoint's sequence number, in order.
pub(super) fn all(txn: &ReadTransaction) -> Result<Vec<(u64, Vec<u8>)>> {
    let Some(t) = open(txn)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(storage_err)? {
        let (k, v) = row.map_err(storage_err)?;
        out.push((k.value(), v.value().to_vec()));
    }
    Ok(out)
}

fn open(txn: &ReadTransaction) -> Result<Option<redb::ReadOnlyTable<u64, &'static [u8]>>> {
    match txn.open_table(CHECKPOINT_TIMESTAMPS) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(storage_err(e)),
    }
}
