//! Target `proof_structured`: proofs built with `arbitrary`.
//!
//! Builds a real tree of up to 100 leaves, makes its inclusion and consistency proofs the way
//! the ledger does (trailseal's `inclusion_ranges` / `consistency_ranges` over the nodes its
//! `Frontier` reports) and checks them against the reference (RFC 9162's recursive PATH and
//! PROOF): same hashes, and both verify. Then mutates them (a flipped bit must always be
//! refused; other mutations must get the reference's verdict), and also verifies wholly
//! arbitrary proofs with huge sizes and indexes. And hashes leaves cut from the input in one
//! batch ([`HashAlg::leaf_hashes`]) against one at a time.

use std::collections::HashMap;
use std::ops::Range;

use arbitrary::{Arbitrary, Unstructured};
use trailseal::merkle::{self, Frontier, Hash, HashAlg, NodeId};
use trailseal::{ConsistencyProof, InclusionProof};

use crate::proof_json::{check_consistency, check_inclusion};
use crate::reference;

#[derive(Arbitrary, Debug)]
enum Mutation {
    None,
    /// Flip one bit of one hash: of the path (`which` below its length), else of the leaf or
    /// first root, else the second root.
    FlipBit {
        which: u8,
        bit: u8,
    },
    Index(u64),
    Size(u64),
    AddToSize(u8),
    DropHash(u8),
    InsertHash(u8, [u8; 32]),
    SwapHashes(u8, u8),
    OtherHash,
}

#[derive(Arbitrary, Debug)]
struct RawProof {
    sha256: bool,
    a: u64,
    b: u64,
    h1: [u8; 32],
    h2: [u8; 32],
    path: Vec<[u8; 32]>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    sha256: bool,
    leaves: u8,
    seed: u8,
    index: u8,
    old: u8,
    inclusion: Mutation,
    consistency: Mutation,
    raw: Option<RawProof>,
}

fn other(alg: HashAlg) -> HashAlg {
    match alg {
        HashAlg::Blake3 => HashAlg::Sha256,
        HashAlg::Sha256 => HashAlg::Blake3,
    }
}

/// Apply `m` to (hash, a, b, first hash, second hash, path); true if it flipped a bit.
fn mutate(
    m: &Mutation,
    alg: &mut HashAlg,
    a: &mut u64,
    b: &mut u64,
    h1: &mut Hash,
    h2: &mut Hash,
    path: &mut Vec<Hash>,
) -> bool {
    match *m {
        Mutation::None => return false,
        Mutation::FlipBit { which, bit } => {
            let w = which as usize;
            let target = if w < path.len() {
                &mut path[w]
            } else if w.is_multiple_of(2) {
                h1
            } else {
                h2
            };
            target[(bit / 8) as usize % 32] ^= 1 << (bit % 8);
            return true;
        }
        Mutation::Index(i) => *a = i,
        Mutation::Size(s) => *b = s,
        Mutation::AddToSize(d) => *b = b.wrapping_add(u64::from(d)),
        Mutation::DropHash(i) => {
            if !path.is_empty() {
                let i = i as usize % path.len();
                path.remove(i);
            }
        }
        Mutation::InsertHash(i, h) => {
            let i = i as usize % (path.len() + 1);
            path.insert(i, h);
        }
        Mutation::SwapHashes(i, j) => {
            if !path.is_empty() {
                let (i, j) = (i as usize % path.len(), j as usize % path.len());
                path.swap(i, j);
            }
        }
        Mutation::OtherHash => *alg = other(*alg),
    }
    false
}

/// The hash of a leaf range from the nodes the frontier reported, as storage serves it.
fn range_hash(alg: HashAlg, nodes: &HashMap<NodeId, Hash>, r: Range<u64>) -> Hash {
    let hs: Vec<Hash> = merkle::subtrees(r.start, r.end)
        .iter()
        .map(|id| nodes[id])
        .collect();
    merkle::fold_subtrees(alg, &hs)
}

fn honest(input: &Input) {
    let alg = if input.sha256 {
        HashAlg::Sha256
    } else {
        HashAlg::Blake3
    };
    let n = u64::from(input.leaves % 100) + 1;
    let leaves: Vec<Hash> = (0..n)
        .map(|i| alg.leaf_hash(&[input.seed, i as u8, (i >> 8) as u8]))
        .collect();
    let mut nodes = HashMap::new();
    let mut frontier = Frontier::new();
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.push(alg, *leaf, |id, h| {
            assert!(nodes.insert(id, *h).is_none(), "node {id:?} reported twice");
        });
        // Every size of small trees; of larger ones the last (the rest is quadratic).
        if n <= 16 || i + 1 == leaves.len() {
            assert_eq!(
                frontier.root(alg),
                reference::mth(alg, &leaves[..=i]),
                "frontier root at size {}",
                i + 1
            );
        }
    }
    let root = frontier.root(alg);

    // Inclusion.
    let index = u64::from(input.index) % n;
    let ranges = merkle::inclusion_ranges(index, n).expect("index < size");
    let path: Vec<Hash> = ranges
        .into_iter()
        .map(|r| range_hash(alg, &nodes, r))
        .collect();
    assert_eq!(
        path,
        reference::path(alg, index as usize, &leaves),
        "inclusion path of {index} in {n}"
    );
    let mut p = InclusionProof {
        hash: alg,
        index,
        tree_size: n,
        leaf_hash: leaves[index as usize],
        root,
        path,
    };
    p.verify().expect("an honest inclusion proof verifies");
    assert_eq!(InclusionProof::from_json(&p.to_json()).unwrap(), p);
    let flipped = mutate(
        &input.inclusion,
        &mut p.hash,
        &mut p.index,
        &mut p.tree_size,
        &mut p.leaf_hash,
        &mut p.root,
        &mut p.path,
    );
    if flipped {
        assert!(p.verify().is_err(), "a flipped bit passed: {p:?}");
    }
    check_inclusion(&p);

    // Consistency.
    let old = u64::from(input.old) % (n + 1);
    let ranges = merkle::consistency_ranges(old, n).expect("old <= new");
    let path: Vec<Hash> = ranges
        .into_iter()
        .map(|r| range_hash(alg, &nodes, r))
        .collect();
    assert_eq!(
        path,
        reference::consistency(alg, old as usize, &leaves),
        "consistency proof from {old} to {n}"
    );
    let mut c = ConsistencyProof {
        hash: alg,
        old_size: old,
        new_size: n,
        old_root: reference::mth(alg, &leaves[..old as usize]),
        new_root: root,
        path,
    };
    c.verify().expect("an honest consistency proof verifies");
    assert_eq!(ConsistencyProof::from_json(&c.to_json()).unwrap(), c);
    let flipped = mutate(
        &input.consistency,
        &mut c.hash,
        &mut c.old_size,
        &mut c.new_size,
        &mut c.old_root,
        &mut c.new_root,
        &mut c.path,
    );
    // A flipped bit of the new root is not noticed when the old tree is empty: every tree
    // extends the empty tree (SPEC section 2), so the proof says nothing about the new root.
    if flipped && !(c.old_size == 0 && c.new_size > 0 && c.path.is_empty()) {
        assert!(c.verify().is_err(), "a flipped bit passed: {c:?}");
    }
    check_consistency(&c);
}

fn raw(r: &RawProof) {
    let alg = if r.sha256 {
        HashAlg::Sha256
    } else {
        HashAlg::Blake3
    };
    // Keep paths near real lengths (at most 64 hashes for any u64 size) so the fuzzer can hit
    // the right length for huge sizes.
    let path: Vec<Hash> = r.path.iter().take(70).copied().collect();
    check_inclusion(&InclusionProof {
        hash: alg,
        index: r.a,
        tree_size: r.b,
        leaf_hash: r.h1,
        root: r.h2,
        path: path.clone(),
    });
    check_consistency(&ConsistencyProof {
        hash: alg,
        old_size: r.a,
        new_size: r.b,
        old_root: r.h1,
        new_root: r.h2,
        path,
    });
}

/// The target.
/// Hashing a batch of leaves at once (side by side in SIMD lanes, for BLAKE3) agrees with
/// hashing each alone. The leaves are cut from `data`: each byte gives the length (times 9,
/// up to 2,295 bytes, past one BLAKE3 chunk) of the leaf taken from the bytes after it.
fn leaf_batch(data: &[u8]) {
    let mut leaves = Vec::new();
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let take = (usize::from(n) * 9).min(tail.len());
        leaves.push(&tail[..take]);
        rest = &tail[take..];
    }
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        let mut out = vec![[1; 32]];
        alg.leaf_hashes(&leaves, &mut out);
        let want: Vec<Hash> = std::iter::once([1; 32])
            .chain(leaves.iter().map(|l| alg.leaf_hash(l)))
            .collect();
        assert_eq!(out, want, "{alg:?} batch of {} leaves", leaves.len());
    }
}

pub fn run(data: &[u8]) {
    leaf_batch(data);
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    honest(&input);
    if let Some(r) = &input.raw {
        raw(r);
    }
}
