//! A term's committed list (SPEC section 9.2): the leaf indices holding the term, ascending,
//! as an RFC 9162 tree whose leaves are the indices as 8-byte big-endian integers, and the
//! value the map holds for it, `H(0x13 || count || list root)`.

use crate::merkle::{range, Frontier, Hash, HashAlg};

/// Domain byte of a term's map value.
pub const TERM_VALUE: u8 = 0x13;

/// The list-tree leaf hash of leaf index `index`: `H(0x00 || u64 BE)`.
pub fn element_hash(alg: HashAlg, index: u64) -> Hash {
    alg.leaf_hash(&index.to_be_bytes())
}

/// The map value of a list of `count` indices whose tree has root `root`.
pub fn term_value(alg: HashAlg, count: u64, root: &Hash) -> Hash {
    alg.hash_parts(&[&[TERM_VALUE], &count.to_be_bytes(), root])
}

/// The list tree's frontier after `elements` are appended to `f` (the incremental form the
/// store keeps per term).
pub fn extend(alg: HashAlg, f: &mut Frontier, elements: &[u64]) {
    for &e in elements {
        f.push(alg, element_hash(alg, e), |_, _| {});
    }
}

/// The root of a whole list.
pub fn root(alg: HashAlg, elements: &[u64]) -> Hash {
    let hashes: Vec<Hash> = elements.iter().map(|&e| element_hash(alg, e)).collect();
    range::root_of(alg, &hashes)
}

/// The positions `[first, end)` of `elements` (ascending) a proof for the index range
/// `[lo, hi)` reveals: every element in the range, and one more on each side where there is
/// one, which shows the range holds no other. Never empty for a non-empty list.
pub fn revealed(elements: &[u64], lo: u64, hi: u64) -> (usize, usize) {
    let a = elements.partition_point(|&x| x < lo);
    let b = elements.partition_point(|&x| x < hi.max(lo));
    (a.saturating_sub(1), (b + 1).min(elements.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_and_the_whole_list_agree() {
        let alg = HashAlg::Sha256;
        let els: Vec<u64> = (0..37).map(|i| i * 3 + 1).collect();
        let mut f = Frontier::new();
        extend(alg, &mut f, &els[..10]);
        extend(alg, &mut f, &els[10..]);
        assert_eq!(f.root(alg), root(alg, &els));
        assert_eq!(revealed(&els, 0, 5), (0, 3));
        assert_eq!(revealed(&els, 200, 300), (36, 37));
        assert_eq!(revealed(&els, 5, 6), (1, 3));
    }
}
