//! The committed map (SPEC section 9.3): a sparse Merkle tree over 256-bit term ids, in its
//! compact form, with no I/O (the store keeps its nodes, `storage::commit_index`).
//!
//! The hash of the subtree holding the set `S` of (term id, value) pairs whose ids share a
//! `d`-bit prefix is:
//!
//! - [`EMPTY`] (32 zero bytes) when `S` is empty;
//! - `leaf_hash(id, value) = H(0x11 || id || value)` when `S` holds one pair, at any depth;
//! - `node_hash(l, r) = H(0x12 || l || r)` otherwise, `l` and `r` the subtrees of the ids
//!   whose bit `d` (most significant bit of byte 0 first) is 0 and 1.
//!
//! So the root is a function of the set alone, a single term costs one leaf however deep,
//! and a proof for an id is the siblings down to where its subtree holds at most one pair.

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::merkle::{from_hex, to_hex, Hash, HashAlg};

/// The hash of an empty subtree.
pub const EMPTY: Hash = [0; 32];
/// Domain byte of a map leaf.
pub const LEAF: u8 = 0x11;
/// Domain byte of a map node.
pub const NODE: u8 = 0x12;

/// `H(0x11 || id || value)`.
pub fn leaf_hash(alg: HashAlg, id: &Hash, value: &Hash) -> Hash {
    alg.hash_parts(&[&[LEAF], id, value])
}

/// `H(0x12 || left || right)`.
pub fn node_hash(alg: HashAlg, left: &Hash, right: &Hash) -> Hash {
    alg.hash_parts(&[&[NODE], left, right])
}

/// Bit `d` of `id`, most significant bit of byte 0 first.
pub fn bit(id: &Hash, d: usize) -> bool {
    id[d / 8] & (0x80 >> (d % 8)) != 0
}

/// What a map proof ends on, at the depth its siblings reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// The term's own leaf: the proof shows its value.
    Member,
    /// An empty subtree: the term is absent.
    Empty,
    /// Another term's leaf, whose id shares the prefix: the term is absent.
    Other {
        /// The other term's id.
        id: Hash,
        /// Its value.
        value: Hash,
    },
}

/// A proof that the map holds a value for a term id, or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapProof {
    /// Sibling hashes from the root down: `siblings[d]` is the subtree at depth `d + 1` on
    /// the other side of the id's bit `d`.
    pub siblings: Vec<Hash>,
    /// Where the path ends.
    pub terminal: Terminal,
}

impl MapProof {
    /// The root this proof leads to for `id`, given the value the map holds for it
    /// (`Some` exactly when the terminal is [`Terminal::Member`]).
    pub fn root(&self, alg: HashAlg, id: &Hash, value: Option<&Hash>) -> Result<Hash> {
        let depth = self.siblings.len();
        if depth > 256 {
            return Err(Error::verification("a map proof deeper than 256 levels"));
        }
        let mut h = match (&self.terminal, value) {
            (Terminal::Member, Some(v)) => leaf_hash(alg, id, v),
            (Terminal::Empty, None) => EMPTY,
            (
                Terminal::Other {
                    id: other,
                    value: v,
                },
                None,
            ) => {
                if other == id || (0..depth).any(|d| bit(other, d) != bit(id, d)) {
                    return Err(Error::verification(
                        "a map proof's other leaf is not beside the term",
                    ));
                }
                leaf_hash(alg, other, v)
            }
            (Terminal::Member, None) => {
                return Err(Error::verification(
                    "the map holds the term, the proof says",
                ))
            }
            (_, Some(_)) => return Err(Error::verification("the map does not hold the term")),
        };
        for d in (0..depth).rev() {
            let s = &self.siblings[d];
            h = if bit(id, d) {
                node_hash(alg, s, &h)
            } else {
                node_hash(alg, &h, s)
            };
        }
        Ok(h)
    }

    /// `{"siblings": [hex], "terminal": "member" | "empty" | {"id": hex, "value": hex}}`
    pub fn to_json(&self) -> Value {
        let terminal = match &self.terminal {
            Terminal::Member => json!("member"),
            Terminal::Empty => json!("empty"),
            Terminal::Other { id, value } => json!({"id": to_hex(id), "value": to_hex(value)}),
        };
        json!({"siblings": self.siblings.iter().map(to_hex).collect::<Vec<_>>(), "terminal": terminal})
    }

    /// The proof a [`MapProof::to_json`] object holds.
    pub fn from_json(v: &Value) -> Result<MapProof> {
        let bad = |why: &str| Error::malformed("map proof", why.to_owned());
        let obj = v.as_object().ok_or_else(|| bad("must be an object"))?;
        super::term::exact(obj, &["siblings", "terminal"]).map_err(|e| bad(&e))?;
        let siblings = hashes(&obj["siblings"], "siblings")?;
        if siblings.len() > 256 {
            return Err(bad("more than 256 siblings"));
        }
        let terminal = match &obj["terminal"] {
            Value::String(s) if s == "member" => Terminal::Member,
            Value::String(s) if s == "empty" => Terminal::Empty,
            Value::Object(o) => {
                super::term::exact(o, &["id", "value"]).map_err(|e| bad(&e))?;
                Terminal::Other {
                    id: hex_at(&o["id"], "terminal.id")?,
                    value: hex_at(&o["value"], "terminal.value")?,
                }
            }
            _ => return Err(bad("`terminal` must be \"member\", \"empty\" or a leaf")),
        };
        Ok(MapProof { siblings, terminal })
    }
}

/// A hex hash at `what`.
pub(crate) fn hex_at(v: &Value, what: &'static str) -> Result<Hash> {
    from_hex(
        what,
        v.as_str()
            .ok_or_else(|| Error::malformed(what, "must be a hex string"))?,
    )
}

/// A list of hex hashes at `what`.
pub(crate) fn hashes(v: &Value, what: &'static str) -> Result<Vec<Hash>> {
    v.as_array()
        .ok_or_else(|| Error::malformed(what, "must be a list of hex hashes"))?
        .iter()
        .map(|h| hex_at(h, what))
        .collect()
}

/// The root of a whole map given as sorted, distinct `(id, value)` pairs (the definition
/// above, recursively; tests and vectors use it to check the store's incremental root).
pub fn root_of(alg: HashAlg, pairs: &[(Hash, Hash)], depth: usize) -> Hash {
    match pairs {
        [] => EMPTY,
        [(id, v)] => leaf_hash(alg, id, v),
        _ => {
            let split = pairs.partition_point(|(id, _)| !bit(id, depth));
            node_hash(
                alg,
                &root_of(alg, &pairs[..split], depth + 1),
                &root_of(alg, &pairs[split..], depth + 1),
            )
        }
    }
}
