//! Range proofs: the leaves `[first, end)` of an RFC 9162 tree of `size` leaves, given whole,
//! with the hashes of the maximal subtrees outside the range, left to right, lead to the root.
//!
//! Used twice by completeness proofs (SPEC section 9): for a run of one term's committed list
//! of leaf indices, and for the commitment entry and the tail after it in the log. The
//! recursion follows the RFC's split (`k`, the largest power of two below the node's size), so
//! a verifier in any language rebuilds the same nodes: a node wholly outside the range takes
//! the next proof hash, a leaf inside it takes the next given leaf hash, every other node is
//! `node_hash(left, right)`.

use super::{Hash, HashAlg};
use crate::error::{Error, Result};

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The proof hashes of leaves `[first, end)` in a tree of `size` leaves: `mth(lo, hi)` gives
/// the hash of the RFC 9162 subtree over leaves `[lo, hi)`, and is asked only for the maximal
/// subtrees outside the range, left to right.
pub fn prove_range(
    size: u64,
    first: u64,
    end: u64,
    mut mth: impl FnMut(u64, u64) -> Result<Hash>,
) -> Result<Vec<Hash>> {
    if first >= end || end > size {
        return Err(Error::OutOfRange(format!(
            "no range proof of leaves [{first}, {end}) in a tree of {size}"
        )));
    }
    let mut out = Vec::new();
    fn walk(
        lo: u64,
        hi: u64,
        r: (u64, u64),
        mth: &mut dyn FnMut(u64, u64) -> Result<Hash>,
        out: &mut Vec<Hash>,
    ) -> Result<()> {
        if hi <= r.0 || lo >= r.1 {
            out.push(mth(lo, hi)?);
            return Ok(());
        }
        if hi - lo == 1 {
            return Ok(());
        }
        let k = split(hi - lo);
        walk(lo, lo + k, r, mth, out)?;
        walk(lo + k, hi, r, mth, out)
    }
    walk(0, size, (first, end), &mut mth, &mut out)?;
    Ok(out)
}

/// The root of a tree of `size` leaves from the leaf hashes of `[first, first + leaves.len())`
/// and their range proof. Fails (never panics) on an empty or out-of-tree range and on a proof
/// with too few or too many hashes.
pub fn root_from_range(
    alg: HashAlg,
    size: u64,
    first: u64,
    leaves: &[Hash],
    proof: &[Hash],
) -> Result<Hash> {
    let end = first
        .checked_add(leaves.len() as u64)
        .filter(|&e| e > first && e <= size)
        .ok_or_else(|| {
            Error::verification(format!(
                "a range of {} leaves from {first} is not in a tree of {size}",
                leaves.len()
            ))
        })?;
    struct Walk<'a> {
        alg: HashAlg,
        r: (u64, u64),
        leaves: &'a [Hash],
        proof: std::slice::Iter<'a, Hash>,
    }
    impl Walk<'_> {
        fn node(&mut self, lo: u64, hi: u64) -> Result<Hash> {
            if hi <= self.r.0 || lo >= self.r.1 {
                return self
                    .proof
                    .next()
                    .copied()
                    .ok_or_else(|| Error::verification("the range proof is too short"));
            }
            if hi - lo == 1 {
                return Ok(self.leaves[(lo - self.r.0) as usize]);
            }
            let k = split(hi - lo);
            let l = self.node(lo, lo + k)?;
            let r = self.node(lo + k, hi)?;
            Ok(self.alg.node_hash(&l, &r))
        }
    }
    let mut w = Walk {
        alg,
        r: (first, end),
        leaves,
        proof: proof.iter(),
    };
    let root = w.node(0, size)?;
    if w.proof.next().is_some() {
        return Err(Error::verification("the range proof is too long"));
    }
    Ok(root)
}

/// The RFC 9162 root of these leaf hashes (the empty root for none).
pub fn root_of(alg: HashAlg, leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => alg.empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            alg.node_hash(&root_of(alg, &leaves[..k]), &root_of(alg, &leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_of_small_trees_proves_and_nothing_else_does() {
        let alg = HashAlg::Sha256;
        for size in 1..=20u64 {
            let leaves: Vec<Hash> = (0..size).map(|i| alg.leaf_hash(&i.to_be_bytes())).collect();
            let root = root_of(alg, &leaves);
            for first in 0..size {
                for end in first + 1..=size {
                    let proof = prove_range(size, first, end, |lo, hi| {
                        Ok(root_of(alg, &leaves[lo as usize..hi as usize]))
                    })
                    .unwrap();
                    let part = &leaves[first as usize..end as usize];
                    assert_eq!(
                        root_from_range(alg, size, first, part, &proof).unwrap(),
                        root
                    );
                    let mut short = proof.clone();
                    if short.pop().is_some() {
                        assert!(root_from_range(alg, size, first, part, &short).is_err());
                    }
                    let mut long = proof.clone();
                    long.push([0; 32]);
                    assert!(root_from_range(alg, size, first, part, &long).is_err());
                    if first > 0 {
                        let moved = root_from_range(alg, size, first - 1, part, &proof);
                        assert!(moved.map_or(true, |r| r != root));
                    }
                }
            }
        }
        assert!(root_from_range(alg, 4, 3, &[[0; 32]; 2], &[]).is_err());
        assert!(root_from_range(alg, 4, 0, &[], &[]).is_err());
        assert!(root_from_range(alg, 4, u64::MAX, &[[0; 32]], &[]).is_err());
    }
}
