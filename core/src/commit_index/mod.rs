//! Committed indexes (SPEC section 9): the ledger commits, in `index.committed` entries of the
//! log itself, to the full list of leaf indices holding each query term, so that a query's
//! answer can be proven complete with nothing but the log's public key.
//!
//! - [`term`]: a term's id (the map key) and its JSON form.
//! - [`list`]: a term's list of indices as an RFC 9162 tree, and the map value committing to it.
//! - [`map`]: the sparse Merkle map from term ids to values, its proofs.
//! - [`proof`]: completeness proofs, their JSON, and checking one.
//!
//! All of it is pure; `storage::commit_index` keeps the lists and the map, and
//! `ledger::commit_index` updates them in the commit path and builds proofs.

pub mod list;
pub mod map;
pub mod proof;
pub mod term;

use serde_json::{json, Value};

use crate::merkle::{from_hex, to_hex, Hash, HashAlg};
use crate::query::Term;

/// The action of a commitment entry.
pub const INDEX_COMMITTED: &str = "index.committed";

/// The default interval (leaves between commitments) when committed indexes are on: it bounds
/// a proof's tail (at most this many entries past the commitment, plus those of one group
/// commit) and spreads the map's update over this many appends.
pub const DEFAULT_EVERY: u64 = 1024;

/// The commitment entry recorded at leaf index `covered`, for a map of the leaves before it
/// with root `root` (its caller fields: the ledger adds `v` and `time`).
pub fn commitment_entry(alg: HashAlg, covered: u64, root: &Hash) -> Value {
    json!({
        "actor": {"id": "trailseal"},
        "action": INDEX_COMMITTED,
        "subject": {"type": "index", "id": alg.name()},
        "attrs": {"size": covered.to_string(), "root": to_hex(root)},
    })
}

/// If `entry` is a commitment entry: the leaf count it covers and its map root (an error for
/// one whose `attrs` do not read).
pub fn commitment_of(entry: &Value) -> Option<crate::Result<(u64, Hash)>> {
    if entry.get("action").and_then(Value::as_str) != Some(INDEX_COMMITTED) {
        return None;
    }
    let attr = |k: &str| {
        entry
            .get("attrs")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    Some((|| {
        let size = attr("size")
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| crate::Error::malformed("index.committed", "attrs.size"))?;
        let root = from_hex(
            "index.committed attrs.root",
            attr("root").ok_or_else(|| crate::Error::malformed("index.committed", "attrs.root"))?,
        )?;
        Ok((size, root))
    })())
}

/// Every `(term id, index)` pair of leaf `index`'s entry, appended to `out` (possibly
/// repeated: [`group`] dedups); `buf` is scratch space.
pub fn postings_of(
    alg: HashAlg,
    index: u64,
    entry: &Value,
    buf: &mut Vec<u8>,
    out: &mut Vec<(Hash, u64)>,
) {
    Term::keys_of_entry(entry, buf, |key| {
        out.push((term::id_of_key(alg, key), index))
    });
}

/// The term id of every term of `entry`, appended to `out` (possibly repeated); `buf` is
/// scratch space.
pub fn term_ids_of_entry(alg: HashAlg, entry: &Value, buf: &mut Vec<u8>, out: &mut Vec<Hash>) {
    Term::keys_of_entry(entry, buf, |key| out.push(term::id_of_key(alg, key)));
}

/// Sorted `(term id, index)` pairs grouped into per-term appends.
pub fn group(mut postings: Vec<(Hash, u64)>) -> Vec<crate::storage::TermAppend> {
    postings.sort_unstable();
    postings.dedup();
    let mut out: Vec<crate::storage::TermAppend> = Vec::new();
    for (id, index) in postings {
        match out.last_mut() {
            Some(a) if a.id == id => a.elements.push(index),
            _ => out.push(crate::storage::TermAppend {
                id,
                elements: vec![index],
            }),
        }
    }
    out
}
