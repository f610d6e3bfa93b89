//! The `rules` table: the leaf index of each `rules.published` entry to the digest of the
//! document it publishes, written in the commit that stores the entry. It lets a handle find
//! the rules versions without scanning the ledger; `verify` holds it to the leaves. Files
//! written before it lack it, and read as having published no rules.

use redb::{ReadableTable, TableError, TableHandle};

use super::tables::{storage_err, RULES};
use crate::error::{Error, Result};

/// Store the rows of one commit.
pub(super) fn put(txn: &redb::WriteTransaction, rows: &[(u64, String)]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(RULES).map_err(storage_err)?;
    for (index, digest) in rows {
        t.insert(*index, digest.as_bytes()).map_err(storage_err)?;
    }
    Ok(())
}

/// Every row with a leaf index of at least `from`, in order.
pub(super) fn read(
    t: &impl ReadableTable<u64, &'static [u8]>,
    from: u64,
) -> Result<Vec<(u64, String)>> {
    let mut out = Vec::new();
    for row in t.range(from..).map_err(storage_err)? {
        let (k, v) = row.map_err(storage_err)?;
        let digest = String::from_utf8(v.value().to_vec()).map_err(|_| Error::Tampered {
            location: format!("rules table row {}", k.value()),
            detail: "the digest is not UTF-8".into(),
        })?;
        out.push((k.value(), digest));
    }
    Ok(out)
}

/// [`read`] through a read transaction (no table: no rows).
pub(super) fn read_committed(txn: &redb::ReadTransaction, from: u64) -> Result<Vec<(u64, String)>> {
    match txn.open_table(RULES) {
        Ok(t) => read(&t, from),
        Err(TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
        Err(e) => Err(storage_err(e)),
    }
}

/// [`read`] through a write transaction, without creating the table.
pub(super) fn read_in_write(txn: &redb::WriteTransaction, from: u64) -> Result<Vec<(u64, String)>> {
    let exists = txn
        .list_tables()
        .map_err(storage_err)?
        .any(|h| h.name() == RULES.name());
    if !exists {
        return Ok(Vec::new());
    }
    let t = txn.open_table(RULES).map_err(storage_err)?;
    read(&t, from)
}
