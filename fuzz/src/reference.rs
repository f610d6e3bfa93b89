//! An independent, deliberately naive RFC 9162 implementation (the recursive definitions of
//! sections 2.1.1 to 2.1.4, written from the RFC rather than from trailseal's iterative code),
//! used as a differential oracle: trailseal's verifier must accept exactly what this one accepts.

use trailseal::merkle::{Hash, HashAlg};

/// Why a proof was refused, in trailseal's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Index or sizes impossible (`index >= size`, `old > new`): trailseal's `out_of_range`.
    OutOfRange,
    /// The path has the wrong length for the sizes: `malformed`.
    PathLength,
    /// A well-formed proof that does not lead to the roots: `verification_failed`.
    Mismatch,
}

/// The largest power of two smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[n]) of RFC 9162 2.1.1, over leaf hashes.
pub fn mth(alg: HashAlg, leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => alg.empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            alg.node_hash(&mth(alg, &leaves[..k]), &mth(alg, &leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) of RFC 9162 2.1.3.1, leaf's sibling first.
pub fn path(alg: HashAlg, m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n as u64) as usize;
    let (mut p, top) = if m < k {
        (path(alg, m, &leaves[..k]), mth(alg, &leaves[k..]))
    } else {
        (path(alg, m - k, &leaves[k..]), mth(alg, &leaves[..k]))
    };
    p.push(top);
    p
}

/// PROOF(m, D[n]) of RFC 9162 2.1.4.1 (empty for m = 0 and m = n, as SPEC has it).
pub fn consistency(alg: HashAlg, m: usize, leaves: &[Hash]) -> Vec<Hash> {
    fn sub(alg: HashAlg, m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b {
                Vec::new()
            } else {
                vec![mth(alg, leaves)]
            };
        }
        let k = split(n as u64) as usize;
        let (mut p, top) = if m <= k {
            (sub(alg, m, &leaves[..k], b), mth(alg, &leaves[k..]))
        } else {
            (sub(alg, m - k, &leaves[k..], false), mth(alg, &leaves[..k]))
        };
        p.push(top);
        p
    }
    if m == 0 || m == leaves.len() {
        return Vec::new();
    }
    sub(alg, m, leaves, true)
}

/// The number of hashes in PATH(index, D[size]).
fn path_len(index: u64, size: u64) -> usize {
    if size <= 1 {
        return 0;
    }
    let k = split(size);
    1 + if index < k {
        path_len(index, k)
    } else {
        path_len(index - k, size - k)
    }
}

/// The root PATH leads to from `leaf`, consuming `path` from its end (top sibling last).
fn root_from_path(alg: HashAlg, index: u64, size: u64, leaf: &Hash, path: &[Hash]) -> Hash {
    if size <= 1 {
        return *leaf;
    }
    let k = split(size);
    let (rest, top) = path.split_at(path.len() - 1);
    if index < k {
        alg.node_hash(&root_from_path(alg, index, k, leaf, rest), &top[0])
    } else {
        alg.node_hash(
            &top[0],
            &root_from_path(alg, index - k, size - k, leaf, rest),
        )
    }
}

/// Verdict on an inclusion proof.
pub fn verify_inclusion(
    alg: HashAlg,
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), Refusal> {
    if index >= size {
        return Err(Refusal::OutOfRange);
    }
    if path.len() != path_len(index, size) {
        return Err(Refusal::PathLength);
    }
    if root_from_path(alg, index, size, leaf, path) != *root {
        return Err(Refusal::Mismatch);
    }
    Ok(())
}

/// The number of hashes in SUBPROOF(m, D[n], b).
fn sub_len(m: u64, n: u64, b: bool) -> usize {
    if m == n {
        return usize::from(!b);
    }
    let k = split(n);
    1 + if m <= k {
        sub_len(m, k, b)
    } else {
        sub_len(m - k, n - k, false)
    }
}

/// (old tree hash, new tree hash) that SUBPROOF(m, D[n], b) implies, consuming the proof from
/// its end; with `b` the old tree is the caller's `old_root` itself.
fn sub_roots(alg: HashAlg, m: u64, n: u64, b: bool, proof: &[Hash], old: &Hash) -> (Hash, Hash) {
    if m == n {
        return if b {
            (*old, *old)
        } else {
            (proof[0], proof[0])
        };
    }
    let k = split(n);
    let (rest, top) = proof.split_at(proof.len() - 1);
    if m <= k {
        let (o, nw) = sub_roots(alg, m, k, b, rest, old);
        (o, alg.node_hash(&nw, &top[0]))
    } else {
        let (o, nw) = sub_roots(alg, m - k, n - k, false, rest, old);
        (alg.node_hash(&top[0], &o), alg.node_hash(&top[0], &nw))
    }
}

/// Verdict on a consistency proof, with SPEC's rules for the empty tree and equal sizes.
pub fn verify_consistency(
    alg: HashAlg,
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Refusal> {
    if old > new {
        return Err(Refusal::OutOfRange);
    }
    let want = if old == 0 || old == new {
        0
    } else {
        sub_len(old, new, true)
    };
    if proof.len() != want {
        return Err(Refusal::PathLength);
    }
    if old == 0 {
        let ok = *old_root == alg.empty_root() && (new != 0 || new_root == old_root);
        return if ok { Ok(()) } else { Err(Refusal::Mismatch) };
    }
    if old == new {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(Refusal::Mismatch)
        };
    }
    let (o, nw) = sub_roots(alg, old, new, true, proof, old_root);
    if o == *old_root && nw == *new_root {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

/// The trailseal error code a refusal must come with.
pub fn code(r: Refusal) -> trailseal::ErrorCode {
    match r {
        Refusal::OutOfRange => trailseal::ErrorCode::OutOfRange,
        // A path of the wrong length is a proof that does not verify (as Go's tlog treats it).
        Refusal::PathLength => trailseal::ErrorCode::VerificationFailed,
        Refusal::Mismatch => trailseal::ErrorCode::VerificationFailed,
    }
}
