//! The `relayed` table: which requests a commit took in for other processes (see
//! `ledger::relay`), one row per requesting handle, so that a handle whose relaying process
//! died before answering can tell from the file whether its request was committed.

use serde::{Deserialize, Serialize};

use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::{decode, encode, storage_err, RELAYED};
use crate::entry::Timestamp;
use crate::error::Result;

/// How many rows the table keeps before a commit prunes it. A row is only read while its
/// handle recovers from the death of the process that relayed for it, moments after the
/// commit; pruning rows an hour old keeps the table small whatever the number of handles
/// that ever relayed.
const PRUNE_ABOVE: u64 = 1024;
const PRUNE_AGE_NANOS: i128 = 3_600 * 1_000_000_000;

/// What the latest commit holding one handle's relayed request stored of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedRecord {
    /// The handle's sequence number of the request.
    pub seq: u64,
    /// When it was committed (the committing process's clock), for pruning.
    pub at: Timestamp,
    /// Each work of the request that stored or found entries: its position in the request
    /// and the leaf index of each of its receipts, in order. A work not listed failed and
    /// stored nothing.
    pub works: Vec<(u32, Vec<u64>)>,
}

/// Write the rows of one commit, pruning old rows once there are many.
pub(super) fn put(txn: &WriteTransaction, rows: &[([u8; 16], RelayedRecord)]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(RELAYED).map_err(storage_err)?;
    for (client, record) in rows {
        t.insert(client.as_slice(), encode(record)?.as_slice())
            .map_err(storage_err)?;
    }
    if t.len().map_err(storage_err)? > PRUNE_ABOVE {
        let now = rows[0].1.at;
        let mut old = Vec::new();
        for row in t.iter().map_err(storage_err)? {
            let (k, v) = row.map_err(storage_err)?;
            let record: RelayedRecord = decode("relayed", v.value())?;
            if now.unix_nanos() - record.at.unix_nanos() > PRUNE_AGE_NANOS {
                old.push(k.value().to_vec());
            }
        }
        for k in old {
            t.remove(k.as_slice()).map_err(storage_err)?;
        }
    }
    Ok(())
}

/// The row of handle `client`, if any.
pub(super) fn get(txn: &WriteTransaction, client: &[u8; 16]) -> Result<Option<RelayedRecord>> {
    let t = txn.open_table(RELAYED).map_err(storage_err)?;
    let row = t.get(client.as_slice()).map_err(storage_err)?;
    row.map(|v| decode("relayed", v.value())).transpose()
}
