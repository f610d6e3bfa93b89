//! Merkle tree math of RFC 9162 section 2.1 (SPEC sections 1 and 2): hashing, the perfect
//! subtrees a range decomposes into, proof paths, proof verification and the append frontier.
//!
//! Everything here is pure computation with no I/O, in the spirit of Go's
//! `golang.org/x/mod/sumdb/tlog`: storage asks this module *which* nodes it needs
//! ([`subtrees`], [`inclusion_ranges`], [`consistency_ranges`]) and then folds what it read
//! ([`fold_subtrees`]). Every function accepts any `u64` without panicking, because sizes and
//! indexes arrive from untrusted proofs.

mod hash_many;
pub mod prove;
pub mod range;

use std::ops::Range;

use sha2::Digest as _;

use crate::{Error, Result};

/// A 32-byte tree hash (leaf, interior node or root).
pub type Hash = [u8; 32];

/// The hash function `H` of a ledger, fixed when the ledger is created (SPEC section 1).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// BLAKE3 with 32-byte output, for those who ask for it: faster, but no C2SP witness or
    /// tlog client verifies it.
    Blake3,
    /// SHA-256, the default: a ledger using it is bit-for-bit RFC 6962 / RFC 9162, which is
    /// what C2SP witnesses and tlog clients verify.
    #[default]
    Sha256,
}

impl HashAlg {
    /// The name used in JSON, checkpoints and the CLI: `"blake3"` or `"sha256"`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Blake3 => "blake3",
            HashAlg::Sha256 => "sha256",
        }
    }

    /// The root of the empty tree, `H("")`.
    pub fn empty_root(self) -> Hash {
        self.hash_parts(&[])
    }

    /// The hash of a leaf, `H(0x00 || data)`.
    pub fn leaf_hash(self, data: &[u8]) -> Hash {
        self.hash_parts(&[&[0x00], data])
    }

    /// [`HashAlg::leaf_hash`] of each of `leaves`, appended to `out` in order. For BLAKE3
    /// the leaves are hashed side by side in SIMD lanes, several times faster than one at a
    /// time for leaves of a few hundred bytes.
    ///
    /// ```
    /// use trailseal::HashAlg;
    /// let mut out = Vec::new();
    /// HashAlg::Blake3.leaf_hashes(&[b"a".as_slice(), b"bc"], &mut out);
    /// assert_eq!(out, vec![HashAlg::Blake3.leaf_hash(b"a"), HashAlg::Blake3.leaf_hash(b"bc")]);
    /// ```
    pub fn leaf_hashes(self, leaves: &[&[u8]], out: &mut Vec<Hash>) {
        match self {
            HashAlg::Blake3 => hash_many::blake3_leaf_hashes(leaves, out),
            HashAlg::Sha256 => out.extend(leaves.iter().map(|l| self.leaf_hash(l))),
        }
    }

    /// The hash of an interior node, `H(0x01 || left || right)`.
    pub fn node_hash(self, left: &Hash, right: &Hash) -> Hash {
        // One 65-byte input hashed at once: a streaming hasher's buffering costs BLAKE3 about
        // a seventh of a node hash, and `verify` hashes about one node per leaf.
        let mut input = [0u8; 65];
        input[0] = 0x01;
        input[1..33].copy_from_slice(left);
        input[33..].copy_from_slice(right);
        match self {
            HashAlg::Blake3 => *blake3::hash(&input).as_bytes(),
            HashAlg::Sha256 => sha2::Sha256::digest(input).into(),
        }
    }

    /// Hashes the concatenation of `parts` without building it in memory (the committed
    /// indexes' domain-separated hashes, SPEC section 9, are built from it).
    pub fn hash_parts(self, parts: &[&[u8]]) -> Hash {
        match self {
            HashAlg::Blake3 => {
                let mut h = blake3::Hasher::new();
                for p in parts {
                    h.update(p);
                }
                *h.finalize().as_bytes()
            }
            HashAlg::Sha256 => {
                let mut h = sha2::Sha256::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().into()
            }
        }
    }
}

impl std::str::FromStr for HashAlg {
    type Err = Error;

    /// Parses exactly `"blake3"` or `"sha256"`; names are case-sensitive as in SPEC.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "blake3" => Ok(HashAlg::Blake3),
            "sha256" => Ok(HashAlg::Sha256),
            other => Err(Error::malformed(
                "hash name",
                format!("unknown hash {other:?}, expected \"blake3\" or \"sha256\""),
            )),
        }
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A perfect subtree: its level (height; 0 is a leaf) and its index among the nodes of that
/// level. It covers the leaves `[index << level, (index + 1) << level)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: 0 for a leaf, 1 for the parent of two leaves, and so on.
    pub level: u8,
    /// Position among the nodes of `level`, counted from the left.
    pub index: u64,
}

impl NodeId {
    /// The first leaf under this node, `index << level`.
    ///
    /// Saturates at `u64::MAX` for ids beyond the `u64` leaf space, which no tree of a valid
    /// size contains; this keeps hostile ids from panicking.
    pub fn first_leaf(self) -> u64 {
        shl_saturating(self.index, self.level)
    }

    /// One past the last leaf under this node, `(index + 1) << level`.
    ///
    /// Saturates at `u64::MAX` like [`NodeId::first_leaf`]: the top node of a tree of
    /// `2^64` leaves would end at `2^64`, which a `u64` cannot hold, but such a tree cannot
    /// exist because sizes are themselves `u64`.
    pub fn end_leaf(self) -> u64 {
        match self.index.checked_add(1) {
            Some(next) => shl_saturating(next, self.level),
            None => u64::MAX,
        }
    }
}

/// `x << level`, saturating instead of dropping high bits.
fn shl_saturating(x: u64, level: u8) -> u64 {
    if x == 0 {
        0
    } else if u32::from(level) >= 64 || x.leading_zeros() < u32::from(level) {
        u64::MAX
    } else {
        x << level
    }
}

/// The largest power of two strictly smaller than `n` (the RFC 9162 split point `k`).
/// Only meaningful for `n >= 2`, which callers guarantee; smaller `n` gives 1 rather than a
/// panic.
fn split_point(n: u64) -> u64 {
    // The operand is at least 1, so the shift is at most 63.
    1u64 << (63 - n.saturating_sub(1).max(1).leading_zeros())
}

/// Decomposes the leaf range `[lo, hi)` of an RFC 9162 tree into perfect subtrees, left to
/// right, greedily taking the largest aligned power of two starting at `lo`.
///
/// For `lo == 0` these are the subtrees whose fold is the root of a tree of `hi` leaves. For
/// every range returned by [`inclusion_ranges`] and [`consistency_ranges`], `lo` is aligned
/// to a power of two at least `hi - lo`, so the fold of these subtrees is exactly the RFC's
/// `MTH(D[lo:hi])`. An empty or reversed range gives no subtrees.
pub fn subtrees(lo: u64, hi: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut lo = lo;
    while lo < hi {
        let remaining = hi - lo;
        // Both bounds are at most 63: remaining >= 1 and lo != 0 in the alignment branch.
        let fits = 63 - remaining.leading_zeros();
        let level = if lo == 0 {
            fits
        } else {
            fits.min(lo.trailing_zeros())
        };
        out.push(NodeId {
            level: level as u8,
            index: lo >> level,
        });
        lo += 1u64 << level;
    }
    out
}

/// Folds the hashes of [`subtrees`]`(lo, hi)`, given left to right, into the hash of the whole
/// range as RFC 9162 defines it.
///
/// The fold runs right to left (`h = node(prev, h)`) because the RFC splits off the largest
/// power of two on the left first, so the smaller right-hand subtrees pair up before they join
/// the big left one. An empty slice is the empty tree, `alg.empty_root()`.
pub fn fold_subtrees(alg: HashAlg, hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = hashes.split_last() else {
        return alg.empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |acc, prev| alg.node_hash(prev, &acc))
}

/// The leaf ranges whose hashes form the inclusion proof `PATH(index, D[size])` of
/// RFC 9162 section 2.1.3.1, ordered from the leaf's sibling upward.
///
/// Fails with [`Error::OutOfRange`] if `index >= size` (so always for `size == 0`).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range<u64>>> {
    if index >= size {
        return Err(Error::OutOfRange(format!(
            "leaf index {index} is not in a tree of size {size}"
        )));
    }
    // Walk from the root down; the RFC's recursion appends each sibling after the deeper
    // path, so the top-down list is reversed at the end.
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let split = lo + split_point(hi - lo);
        if index < split {
            path.push(split..hi);
            hi = split;
        } else {
            path.push(lo..split);
            lo = split;
        }
    }
    path.reverse();
    Ok(path)
}

/// The leaf ranges whose hashes form the consistency proof `PROOF(old, D[new])` of
/// RFC 9162 section 2.1.4.1, in proof order.
///
/// Empty when `old == new` or `old == 0` (SPEC section 2). Fails with [`Error::OutOfRange`] if
/// `old > new`.
pub fn consistency_ranges(old: u64, new: u64) -> Result<Vec<Range<u64>>> {
    if old > new {
        return Err(Error::OutOfRange(format!(
            "old tree size {old} is larger than new tree size {new}"
        )));
    }
    if old == 0 || old == new {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b) appends each sibling after the deeper part, so the siblings
    // are collected top-down and reversed; `head` is the deepest element, if any.
    // Invariant: lo < old <= hi.
    let mut siblings = Vec::new();
    let mut head = None;
    let (mut lo, mut hi) = (0u64, new);
    // The RFC's flag b: true while the old tree is still a whole node of the new one, whose
    // root the verifier already holds and so is left out of the proof.
    let mut complete_subtree = true;
    loop {
        if old == hi {
            if !complete_subtree {
                head = Some(lo..hi);
            }
            break;
        }
        let split = lo + split_point(hi - lo);
        if old <= split {
            siblings.push(split..hi);
            hi = split;
        } else {
            siblings.push(lo..split);
            lo = split;
            complete_subtree = false;
        }
    }
    let mut out: Vec<Range<u64>> = head.into_iter().collect();
    out.extend(siblings.into_iter().rev());
    Ok(out)
}

/// A path of the wrong length is a well-formed proof that does not verify (as Go's
/// `tlog.CheckRecord` and `CheckTree` treat it), not input that fails to parse: a proof cut
/// or padded by one hash, or with `old_size` off by one, must fail as a forgery does.
fn path_len_error(what: &'static str, got: usize, want: usize) -> Error {
    Error::verification(format!(
        "{what}: path has {got} hashes, expected {want} for these sizes"
    ))
}

/// Verifies an inclusion proof as RFC 9162 section 2.1.3.2 describes.
///
/// Fails with [`Error::OutOfRange`] if `index >= size` (including `size == 0`), and with
/// [`Error::VerificationFailed`] if `path` has the wrong length for `(index, size)` or the
/// recomputed root differs from `root`.
pub fn verify_inclusion(
    alg: HashAlg,
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<()> {
    let want = inclusion_ranges(index, size)?.len();
    if path.len() != want {
        return Err(path_len_error("inclusion proof", path.len(), want));
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf_hash;
    for p in path {
        if snode == 0 {
            // Unreachable after the length check; kept so a mistake there cannot pass a proof.
            return Err(path_len_error("inclusion proof", path.len(), want));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = alg.node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = alg.node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(path_len_error("inclusion proof", path.len(), want));
    }
    if &r != root {
        return Err(Error::verification(format!(
            "inclusion proof of leaf {index} in tree of size {size} does not lead to the given root"
        )));
    }
    Ok(())
}

/// Verifies a consistency proof as RFC 9162 section 2.1.4.2 describes.
///
/// - `old > new`: [`Error::OutOfRange`].
/// - `old == new`: the path must be empty ([`Error::VerificationFailed`]) and the roots equal
///   ([`Error::VerificationFailed`]); for size 0 both must be `alg.empty_root()`.
/// - `old == 0 < new`: SPEC makes the proof from the empty tree empty, so it is accepted only
///   with an empty path and `old_root == alg.empty_root()`; `new_root` is not constrained,
///   since every tree extends the empty tree.
/// - otherwise a path of the wrong length, or a proof that does not
///   reproduce both roots is [`Error::VerificationFailed`].
pub fn verify_consistency(
    alg: HashAlg,
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<()> {
    let want = consistency_ranges(old, new)?.len();
    if path.len() != want {
        return Err(path_len_error("consistency proof", path.len(), want));
    }
    if old == 0 {
        // A tree of size 0 has exactly one root, so a different claimed root is a lie even
        // though there is nothing to prove.
        if *old_root != alg.empty_root() {
            return Err(Error::verification(
                "the old root of a tree of size 0 must be the empty-tree root",
            ));
        }
        if new == 0 && new_root != old_root {
            return Err(Error::verification(
                "the new root of a tree of size 0 must be the empty-tree root",
            ));
        }
        return Ok(());
    }
    if old == new {
        if old_root != new_root {
            return Err(Error::verification(format!(
                "trees of equal size {old} have different roots"
            )));
        }
        return Ok(());
    }

    // When old is a power of two the old tree is itself a node of the new tree, so its root
    // is the starting point rather than part of the path.
    let old_is_subtree = old.is_power_of_two();
    let (first, rest) = if old_is_subtree {
        (*old_root, path)
    } else {
        match path.split_first() {
            Some((f, r)) => (*f, r),
            None => return Err(path_len_error("consistency proof", 0, want)),
        }
    };
    let mut fnode = old - 1;
    let mut snode = new - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = first;
    let mut sr = first;
    for c in rest {
        if snode == 0 {
            return Err(path_len_error("consistency proof", path.len(), want));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = alg.node_hash(c, &fr);
            sr = alg.node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = alg.node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(path_len_error("consistency proof", path.len(), want));
    }
    if &fr != old_root {
        return Err(Error::verification(format!(
            "consistency proof from size {old} to {new} does not lead to the old root"
        )));
    }
    if &sr != new_root {
        return Err(Error::verification(format!(
            "consistency proof from size {old} to {new} does not lead to the new root"
        )));
    }
    Ok(())
}

/// The append frontier of a tree: the hashes of the perfect subtrees [`subtrees`]`(0, size)`,
/// left to right. It is all an appender needs to keep in memory (at most 64 hashes) to compute
/// the root and every new interior node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from the hashes of [`subtrees`]`(0, size)`, left to right, as read
    /// back from storage.
    ///
    /// Fails with [`Error::InvalidArgument`] if the number of hashes is not the number of
    /// those subtrees (the number of one bits in `size`).
    pub fn from_subtrees(size: u64, hashes: Vec<Hash>) -> Result<Self> {
        let want = size.count_ones() as usize;
        if hashes.len() != want {
            return Err(Error::InvalidArgument(format!(
                "a tree of size {size} has {want} frontier subtrees, got {} hashes",
                hashes.len()
            )));
        }
        Ok(Frontier { size, hashes })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree: [`fold_subtrees`] of the frontier (the empty root for size 0).
    pub fn root(&self, alg: HashAlg) -> Hash {
        fold_subtrees(alg, &self.hashes)
    }

    /// The hashes of [`subtrees`]`(0, self.size())`, left to right.
    pub fn subtree_hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash.
    ///
    /// Calls `new_node` for every node that becomes complete, first the leaf itself
    /// (`NodeId { level: 0, index: size }`) and then each parent formed by this append,
    /// bottom-up (level 1, 2, ...), so a store that records them can serve any historical root
    /// or proof by [`subtrees`] look-ups.
    ///
    /// A frontier already at `u64::MAX` leaves cannot grow; such a push changes nothing and
    /// calls nothing. [`Frontier::try_push`] reports that case as an error instead.
    pub fn push(&mut self, alg: HashAlg, leaf_hash: Hash, new_node: impl FnMut(NodeId, &Hash)) {
        // The only error is a full tree, which cannot be reached by appending in practice.
        let _ = self.try_push(alg, leaf_hash, new_node);
    }

    /// Like [`Frontier::push`], but fails with [`Error::OutOfRange`] (and changes nothing) when
    /// the tree already has `u64::MAX` leaves.
    pub fn try_push(
        &mut self,
        alg: HashAlg,
        leaf_hash: Hash,
        mut new_node: impl FnMut(NodeId, &Hash),
    ) -> Result<()> {
        let size = self.size;
        let Some(new_size) = size.checked_add(1) else {
            return Err(Error::OutOfRange(
                "the tree already holds u64::MAX leaves".into(),
            ));
        };
        new_node(
            NodeId {
                level: 0,
                index: size,
            },
            &leaf_hash,
        );
        let mut h = leaf_hash;
        let mut level: u32 = 0;
        // Each one bit at the bottom of `size` is a complete left sibling on the frontier
        // that the new leaf now pairs with. size < u64::MAX, so level stays below 64.
        while (size >> level) & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                break; // unreachable: the frontier holds one hash per one bit of size
            };
            h = alg.node_hash(&left, &h);
            level += 1;
            new_node(
                NodeId {
                    level: level as u8,
                    index: size >> level,
                },
                &h,
            );
        }
        self.hashes.push(h);
        self.size = new_size;
        Ok(())
    }
}

/// A hash as 64 lowercase hex digits.
pub fn to_hex(h: &Hash) -> String {
    hex::encode(h)
}

/// Parses a hash from exactly 64 hex digits (either case).
///
/// Fails with [`Error::Malformed`] naming `what` for any other length or a non-hex character.
pub fn from_hex(what: &'static str, s: &str) -> Result<Hash> {
    if s.len() != 64 {
        return Err(Error::malformed(
            what,
            format!(
                "expected 64 hex digits, got {} characters",
                s.chars().count()
            ),
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| Error::malformed(what, format!("not a hex hash: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const ALGS: [HashAlg; 2] = [HashAlg::Blake3, HashAlg::Sha256];

    fn code<T: std::fmt::Debug>(r: Result<T>) -> ErrorCode {
        r.expect_err("expected an error").code()
    }

    #[test]
    fn empty_roots_are_known_values() {
        assert_eq!(
            to_hex(&HashAlg::Sha256.empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            to_hex(&HashAlg::Blake3.empty_root()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn domain_separation() {
        for alg in ALGS {
            let l = alg.leaf_hash(b"");
            assert_ne!(l, alg.empty_root());
            // H(0x01 || a || b) must differ from the leaf hash of the same 64 bytes.
            let mut cat = Vec::new();
            cat.extend_from_slice(&l);
            cat.extend_from_slice(&l);
            assert_ne!(alg.node_hash(&l, &l), alg.leaf_hash(&cat));
        }
        // RFC 6962 leaf hash of the empty leaf.
        assert_eq!(
            to_hex(&HashAlg::Sha256.leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(HashAlg::default(), HashAlg::Sha256);
        for alg in ALGS {
            assert_eq!(alg.name().parse::<HashAlg>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.name());
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{}\"", alg.name()));
            assert_eq!(serde_json::from_str::<HashAlg>(&json).unwrap(), alg);
        }
        for bad in ["", "SHA256", "Blake3", "sha-256", "md5", "blake3 "] {
            assert_eq!(
                code(bad.parse::<HashAlg>()),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hex_parsing() {
        let h = HashAlg::Sha256.empty_root();
        let s = to_hex(&h);
        assert_eq!(from_hex("hash", &s).unwrap(), h);
        assert_eq!(from_hex("hash", &s.to_uppercase()).unwrap(), h);
        for bad in [
            String::new(),
            s[..63].to_string(),
            format!("{s}0"),
            format!("{}g", &s[..63]),
            format!("{}é", &s[..62]),
            format!(" {}", &s[..63]),
        ] {
            assert_eq!(
                code(from_hex("hash", &bad)),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn node_id_leaves() {
        let n = NodeId { level: 3, index: 2 };
        assert_eq!((n.first_leaf(), n.end_leaf()), (16, 24));
        let top = NodeId {
            level: 63,
            index: 1,
        };
        assert_eq!(top.first_leaf(), 1 << 63);
        assert_eq!(top.end_leaf(), u64::MAX);
        let silly = NodeId {
            level: 200,
            index: u64::MAX,
        };
        assert_eq!((silly.first_leaf(), silly.end_leaf()), (u64::MAX, u64::MAX));
        let zero = NodeId {
            level: 255,
            index: 0,
        };
        assert_eq!((zero.first_leaf(), zero.end_leaf()), (0, u64::MAX));
    }

    #[test]
    fn subtrees_edges() {
        assert!(subtrees(0, 0).is_empty());
        assert!(subtrees(5, 5).is_empty());
        assert!(subtrees(9, 3).is_empty());
        assert_eq!(
            subtrees(0, 13),
            vec![
                NodeId { level: 3, index: 0 },
                NodeId { level: 2, index: 2 },
                NodeId {
                    level: 0,
                    index: 12
                },
            ]
        );
        // Unaligned start: alignment limits the first subtree.
        assert_eq!(
            subtrees(6, 16),
            vec![NodeId { level: 1, index: 3 }, NodeId { level: 3, index: 1 }]
        );
        let all = subtrees(0, u64::MAX);
        assert_eq!(all.len(), 64);
        assert_eq!(
            all[0],
            NodeId {
                level: 63,
                index: 0
            }
        );
        assert_eq!(all[63].end_leaf(), u64::MAX);
        let tail = subtrees(u64::MAX - 1, u64::MAX);
        assert_eq!(
            tail,
            vec![NodeId {
                level: 0,
                index: u64::MAX - 1
            }]
        );
        // Subtrees tile the range exactly.
        for (lo, hi) in [
            (0u64, 1u64),
            (3, 17),
            (1 << 40, (1 << 40) + 12345),
            (7, u64::MAX),
        ] {
            let mut at = lo;
            for n in subtrees(lo, hi) {
                assert_eq!(n.first_leaf(), at);
                at = n.end_leaf();
            }
            assert_eq!(at, hi);
        }
    }

    #[test]
    fn fold_of_nothing_is_empty_root() {
        for alg in ALGS {
            assert_eq!(fold_subtrees(alg, &[]), alg.empty_root());
            let l = alg.leaf_hash(b"x");
            assert_eq!(fold_subtrees(alg, &[l]), l);
        }
    }

    #[test]
    fn ranges_errors_and_extremes() {
        assert_eq!(code(inclusion_ranges(0, 0)), ErrorCode::OutOfRange);
        assert_eq!(code(inclusion_ranges(5, 5)), ErrorCode::OutOfRange);
        assert_eq!(
            code(inclusion_ranges(u64::MAX, u64::MAX)),
            ErrorCode::OutOfRange
        );
        assert_eq!(code(consistency_ranges(2, 1)), ErrorCode::OutOfRange);
        assert!(inclusion_ranges(0, 1).unwrap().is_empty());
        assert!(consistency_ranges(0, 0).unwrap().is_empty());
        assert!(consistency_ranges(0, u64::MAX).unwrap().is_empty());
        assert!(consistency_ranges(7, 7).unwrap().is_empty());
        assert_eq!(inclusion_ranges(u64::MAX - 1, u64::MAX).unwrap().len(), 63);
        assert_eq!(inclusion_ranges(0, u64::MAX).unwrap().len(), 64);
        assert!(consistency_ranges(1, u64::MAX).unwrap().len() <= 64);
        assert!(consistency_ranges(u64::MAX - 1, u64::MAX).unwrap().len() <= 128);
        // RFC 9162 2.1.5 examples over a tree of 7 leaves.
        assert_eq!(
            consistency_ranges(3, 7).unwrap(),
            vec![2..3, 3..4, 0..2, 4..7]
        );
        assert_eq!(consistency_ranges(4, 7).unwrap(), vec![4..7]);
        assert_eq!(consistency_ranges(6, 7).unwrap(), vec![4..6, 6..7, 0..4]);
        assert_eq!(inclusion_ranges(0, 7).unwrap(), vec![1..2, 2..4, 4..7]);
        assert_eq!(inclusion_ranges(3, 7).unwrap(), vec![2..3, 0..2, 4..7]);
        assert_eq!(inclusion_ranges(4, 7).unwrap(), vec![5..6, 6..7, 0..4]);
        assert_eq!(inclusion_ranges(6, 7).unwrap(), vec![4..6, 0..4]);
    }

    #[test]
    fn verify_never_panics_on_extreme_sizes() {
        let alg = HashAlg::Sha256;
        let h = alg.leaf_hash(b"a");
        let paths: Vec<Vec<Hash>> =
            vec![vec![], vec![h; 1], vec![h; 63], vec![h; 64], vec![h; 200]];
        for path in &paths {
            for (i, n) in [
                (0, 0),
                (0, 1),
                (u64::MAX, u64::MAX),
                (u64::MAX - 1, u64::MAX),
                (0, u64::MAX),
                (1 << 63, u64::MAX),
                (u64::MAX, 0),
            ] {
                let ok = verify_inclusion(alg, &h, i, n, path, &h).is_ok();
                assert_eq!(
                    ok,
                    (i, n) == (0, 1) && path.is_empty(),
                    "{i} {n} {}",
                    path.len()
                );
            }
            for (o, n) in [
                (u64::MAX, 0),
                (1, u64::MAX),
                (u64::MAX - 1, u64::MAX),
                (1 << 63, u64::MAX),
                ((1 << 63) + 1, u64::MAX),
                (u64::MAX, u64::MAX),
            ] {
                let _ = verify_consistency(alg, o, n, &h, &h, path);
            }
        }
    }

    #[test]
    fn inclusion_error_kinds() {
        let alg = HashAlg::Blake3;
        let leaves: Vec<Hash> = (0u8..5).map(|i| alg.leaf_hash(&[i])).collect();
        let mut f = Frontier::new();
        for l in &leaves {
            f.push(alg, *l, |_, _| {});
        }
        let root = f.root(alg);
        let path: Vec<Hash> = inclusion_ranges(1, 5)
            .unwrap()
            .into_iter()
            .map(|r| naive(alg, &leaves[r.start as usize..r.end as usize]))
            .collect();
        verify_inclusion(alg, &leaves[1], 1, 5, &path, &root).unwrap();
        let c = |r: Result<()>| code(r);
        assert_eq!(
            c(verify_inclusion(alg, &leaves[1], 5, 5, &path, &root)),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            c(verify_inclusion(alg, &leaves[1], 0, 0, &[], &root)),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            c(verify_inclusion(alg, &leaves[1], 1, 5, &path[..2], &root)),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_inclusion(alg, &leaves[2], 1, 5, &path, &root)),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_inclusion(alg, &leaves[1], 0, 5, &path, &root)),
            ErrorCode::VerificationFailed
        );
    }

    #[test]
    fn consistency_error_kinds() {
        let alg = HashAlg::Sha256;
        let e = alg.empty_root();
        let x = alg.leaf_hash(b"x");
        let c = |r: Result<()>| code(r);
        verify_consistency(alg, 0, 0, &e, &e, &[]).unwrap();
        verify_consistency(alg, 0, 9, &e, &x, &[]).unwrap();
        verify_consistency(alg, 1, 1, &x, &x, &[]).unwrap();
        assert_eq!(
            c(verify_consistency(alg, 2, 1, &x, &x, &[])),
            ErrorCode::OutOfRange
        );
        assert_eq!(
            c(verify_consistency(alg, 0, 0, &x, &x, &[])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 0, 0, &e, &x, &[])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 0, 3, &x, &x, &[])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 0, 3, &e, &x, &[e])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 1, 1, &x, &x, &[x])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 1, 1, &x, &e, &[])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 1, 2, &x, &e, &[])),
            ErrorCode::VerificationFailed
        );
        assert_eq!(
            c(verify_consistency(alg, 1, 2, &x, &e, &[x])),
            ErrorCode::VerificationFailed
        );
        let two = alg.node_hash(&x, &e);
        verify_consistency(alg, 1, 2, &x, &two, &[e]).unwrap();
    }

    /// RFC 9162 MTH straight from the definition, for cross-checks.
    fn naive(alg: HashAlg, leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => alg.empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                alg.node_hash(&naive(alg, &leaves[..k]), &naive(alg, &leaves[k..]))
            }
        }
    }

    #[test]
    fn frontier_push_emits_every_node_once() {
        for alg in ALGS {
            let mut f = Frontier::new();
            assert_eq!(f.root(alg), alg.empty_root());
            let mut leaves = Vec::new();
            let mut nodes = std::collections::BTreeMap::new();
            for i in 0u64..70 {
                let l = alg.leaf_hash(&i.to_le_bytes());
                leaves.push(l);
                let mut emitted = Vec::new();
                f.push(alg, l, |id, h| emitted.push((id, *h)));
                assert_eq!(emitted[0], (NodeId { level: 0, index: i }, l));
                for (k, (id, h)) in emitted.iter().enumerate() {
                    assert_eq!(id.level as usize, k, "bottom-up order");
                    assert_eq!(id.end_leaf(), i + 1);
                    let r = id.first_leaf() as usize..id.end_leaf() as usize;
                    assert_eq!(*h, naive(alg, &leaves[r]));
                    assert!(nodes.insert(*id, *h).is_none(), "{id:?} emitted twice");
                }
                assert_eq!(f.size(), i + 1);
                assert_eq!(f.root(alg), naive(alg, &leaves));
                let ids = subtrees(0, f.size());
                let want: Vec<Hash> = ids.iter().map(|id| nodes[id]).collect();
                assert_eq!(f.subtree_hashes(), &want[..]);
                let rebuilt = Frontier::from_subtrees(f.size(), want).unwrap();
                assert_eq!(rebuilt, f);
            }
        }
    }

    #[test]
    fn frontier_from_subtrees_checks_count_and_full_tree() {
        let alg = HashAlg::Blake3;
        let h = alg.leaf_hash(b"");
        assert_eq!(
            code(Frontier::from_subtrees(3, vec![h])),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(Frontier::from_subtrees(0, vec![h])),
            ErrorCode::InvalidArgument
        );
        let mut full = Frontier::from_subtrees(u64::MAX, vec![h; 64]).unwrap();
        let root = full.root(alg);
        let mut called = false;
        assert_eq!(
            code(full.try_push(alg, h, |_, _| called = true)),
            ErrorCode::OutOfRange
        );
        full.push(alg, h, |_, _| called = true);
        assert!(!called);
        assert_eq!((full.size(), full.root(alg)), (u64::MAX, root));

        // The largest possible merge: 2^63 - 1 leaves plus one makes a level-63 node.
        let mut almost = Frontier::from_subtrees((1 << 63) - 1, vec![h; 63]).unwrap();
        let mut top = None;
        almost.push(alg, h, |id, _| top = Some(id));
        assert_eq!(
            top,
            Some(NodeId {
                level: 63,
                index: 0
            })
        );
        assert_eq!(almost.subtree_hashes().len(), 1);
    }
}
