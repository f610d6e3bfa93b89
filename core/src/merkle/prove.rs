//! Proof assembly: which node hashes a proof or a root needs, asked of storage through one
//! narrow interface, and the proof made of them.
//!
//! As Go's `tlog.ProveRecord(t, n, HashReader)`, this is the whole proof path: the tree math
//! in the parent module says which perfect subtrees make up each range, [`NodeHashes`] reads
//! their hashes (storage reads stored tiles and derives the nodes of a partial tile), and
//! the proof is folded here. Nothing here knows how hashes are stored.

use std::ops::Range;

use super::{consistency_ranges, fold_subtrees, inclusion_ranges, subtrees, Hash, HashAlg, NodeId};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::{Error, Result};

/// The one thing proof assembly asks of storage: the hashes of complete subtrees of the tree
/// being proven, in the order asked. Any `Fn(&[NodeId]) -> Result<Vec<Hash>>` is one.
pub trait NodeHashes {
    /// The hash of each of `ids`, in order.
    fn node_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>>;
}

impl<F: Fn(&[NodeId]) -> Result<Vec<Hash>>> NodeHashes for F {
    fn node_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        self(ids)
    }
}

/// The root of the tree of `size` leaves, folded from its perfect subtrees.
pub fn root(alg: HashAlg, nodes: &impl NodeHashes, size: u64) -> Result<Hash> {
    Ok(fold_subtrees(alg, &nodes.node_hashes(&subtrees(0, size))?))
}

/// The hash of each leaf range, with one read of storage for all of them (so a tile holding
/// nodes of several ranges is looked up once).
pub fn range_hashes(
    alg: HashAlg,
    nodes: &impl NodeHashes,
    ranges: &[Range<u64>],
) -> Result<Vec<Hash>> {
    let groups: Vec<Vec<NodeId>> = ranges.iter().map(|r| subtrees(r.start, r.end)).collect();
    let all: Vec<NodeId> = groups.iter().flatten().copied().collect();
    let hashes = nodes.node_hashes(&all)?;
    let mut out = Vec::with_capacity(groups.len());
    let mut at = 0;
    for g in &groups {
        out.push(fold_subtrees(alg, &hashes[at..at + g.len()]));
        at += g.len();
    }
    Ok(out)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves. `root` is that tree's
/// root when the caller has it (the current tree's is in the ledger's state record); without
/// it, it is folded from `popcount(size)` more subtrees.
pub fn inclusion(
    alg: HashAlg,
    nodes: &impl NodeHashes,
    index: u64,
    size: u64,
    root: Option<Hash>,
) -> Result<InclusionProof> {
    let mut ranges = inclusion_ranges(index, size)?;
    ranges.push(index..index + 1);
    if root.is_none() {
        ranges.push(0..size);
    }
    let mut hashes = range_hashes(alg, nodes, &ranges)?;
    let root = match root {
        Some(r) => r,
        None => pop(&mut hashes)?,
    };
    let leaf_hash = pop(&mut hashes)?;
    Ok(InclusionProof {
        hash: alg,
        index,
        tree_size: size,
        leaf_hash,
        root,
        path: hashes,
    })
}

/// The consistency proof from the tree of `old` leaves to the tree of `size` leaves; `root`
/// as for [`inclusion`].
pub fn consistency(
    alg: HashAlg,
    nodes: &impl NodeHashes,
    old: u64,
    size: u64,
    root: Option<Hash>,
) -> Result<ConsistencyProof> {
    if old > size {
        return Err(Error::OutOfRange(format!(
            "old size {old} is larger than the new size {size}"
        )));
    }
    let mut ranges = consistency_ranges(old, size)?;
    ranges.push(0..old);
    if root.is_none() {
        ranges.push(0..size);
    }
    let mut hashes = range_hashes(alg, nodes, &ranges)?;
    let new_root = match root {
        Some(r) => r,
        None => pop(&mut hashes)?,
    };
    let old_root = pop(&mut hashes)?;
    Ok(ConsistencyProof {
        hash: alg,
        old_size: old,
        new_size: size,
        old_root,
        new_root,
        path: hashes,
    })
}

/// The last hash asked for: there is always one, since every range above was pushed.
fn pop(hashes: &mut Vec<Hash>) -> Result<Hash> {
    hashes
        .pop()
        .ok_or_else(|| Error::Internal("proof assembly read fewer hashes than it asked".into()))
}
