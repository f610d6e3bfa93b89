//! The `published` table: for each destination a ledger was published to (a directory or an
//! object-storage URL, as [`crate::publish::Destination::name`] spells it), the tree size whose
//! checkpoint was written there last, so the next publish writes only what changed since.
//! Files written before the table existed lack it, and read as published nowhere; the first
//! publish creates it.

use redb::{ReadTransaction, TableError, WriteTransaction};

use super::tables::{decode, encode, storage_err, PUBLISHED};
use super::PublishedState;
use crate::error::{Error, Result};

/// Record what was published to each destination (replacing the previous record).
pub(super) fn put(txn: &WriteTransaction, rows: &[(String, PublishedState)]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(PUBLISHED).map_err(storage_err)?;
    for (dest, state) in rows {
        t.insert(dest.as_str(), encode(state)?.as_slice())
            .map_err(storage_err)?;
    }
    Ok(())
}

/// What was last published to `dest`, if anything.
pub(super) fn get(txn: &ReadTransaction, dest: &str) -> Result<Option<PublishedState>> {
    let t = match txn.open_table(PUBLISHED) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(storage_err(e)),
    };
    let Some(row) = t.get(dest).map_err(storage_err)? else {
        return Ok(None);
    };
    decode("published", row.value())
        .map(Some)
        .map_err(|e| Error::Tampered {
            location: format!("published record of {dest}"),
            detail: e.to_string(),
        })
}
