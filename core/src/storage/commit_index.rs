//! The committed indexes' tables (SPEC section 9): each term's list as its count and list-tree
//! frontier, the sparse Merkle map's nodes, and the state of the last commitment. Written by
//! the commit that records an `index.committed` entry, in its transaction; read by proofs.
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `index_terms` | term id (32 bytes) | count (u64 BE), then the list tree's frontier hashes |
//! | `index_nodes` | the id prefix of the node's depth (32 bytes, later bits 0), then the depth (u16 BE) | `0x00 ‖ hash` (a node with two or more terms below) or `0x01 ‖ term id ‖ value` (one term) |
//!
//! `meta` `"commit_index"` holds the commitment interval (u64 LE; present only in ledgers
//! created with committed indexes) and `"index_state"` the last commitment: the leaf index of
//! its entry (the number of leaves the map covers, u64 LE) and the map root.
//!
//! Only the nodes of the compact tree are stored (one per term and one per fork), so an update
//! of `u` terms reads and writes about `u · log2(terms)` rows and holds only those in memory.

use std::borrow::Cow;

use redb::{ReadableTable, Table, TableDefinition, TableError, WriteTransaction};

use super::tables::{storage_err, META};
use crate::commit_index::list;
use crate::commit_index::map::{self, MapProof, Terminal};
use crate::error::{Error, Result};
use crate::merkle::{Frontier, Hash, HashAlg};

pub(super) const TERMS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("trailseal.index_terms");
pub(super) const NODES: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("trailseal.index_nodes");
/// `meta` key of the commitment interval.
pub(super) const EVERY_KEY: &str = "commit_index";
/// `meta` key of the last commitment.
const STATE_KEY: &str = "index_state";

/// The last commitment: the map covers leaves `[0, covered)`, `covered` being the index of
/// its `index.committed` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexState {
    /// Leaves the map covers (the commitment entry's own index; 0 before the first).
    pub covered: u64,
    /// The map root recorded in that entry.
    pub root: Hash,
}

impl IndexState {
    /// Before any commitment: nothing covered, the empty map.
    pub const NONE: IndexState = IndexState {
        covered: 0,
        root: map::EMPTY,
    };
}

/// One term's new list elements (ascending, after every element it already has).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermAppend {
    /// The term id.
    pub id: Hash,
    /// The leaf indices to append to its list.
    pub elements: Vec<u64>,
}

/// A term's list as stored: its count and list-tree frontier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermList {
    /// Elements in the list.
    pub count: u64,
    /// The list tree's frontier.
    pub frontier: Frontier,
}

impl TermList {
    fn decode(id: &Hash, bytes: &[u8]) -> Result<TermList> {
        let bad = || Error::Tampered {
            location: format!("committed index term {}", crate::merkle::to_hex(id)),
            detail: "unreadable list record".into(),
        };
        let count = u64::from_be_bytes(
            bytes
                .get(..8)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        let hashes: Vec<Hash> = bytes[8..]
            .chunks(32)
            .map(|c| c.try_into().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        let frontier = Frontier::from_subtrees(count, hashes).map_err(|_| bad())?;
        Ok(TermList { count, frontier })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = self.count.to_be_bytes().to_vec();
        for h in self.frontier.subtree_hashes() {
            out.extend_from_slice(h);
        }
        out
    }

    /// The value the map holds for this list.
    pub fn value(&self, alg: HashAlg) -> Hash {
        list::term_value(alg, self.count, &self.frontier.root(alg))
    }
}

/// A stored map node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Fork(Hash),
    Leaf(Hash, Hash),
}

impl Node {
    fn hash(n: Option<Node>, alg: HashAlg) -> Hash {
        match n {
            None => map::EMPTY,
            Some(Node::Fork(h)) => h,
            Some(Node::Leaf(id, v)) => map::leaf_hash(alg, &id, &v),
        }
    }
}

/// Prefix first, then depth: the keys sort in the depth-first order an update walks the
/// tree in (a node, its left subtree, its right subtree), so a commitment's reads and writes
/// sweep the table once, front to back, instead of jumping between one region per depth.
fn node_key(depth: usize, prefix: &Hash) -> [u8; 34] {
    let mut k = [0u8; 34];
    k[..32].copy_from_slice(prefix);
    k[32..].copy_from_slice(&(depth as u16).to_be_bytes());
    k
}

fn get_node(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    depth: usize,
    prefix: &Hash,
) -> Result<Option<Node>> {
    let Some(v) = t
        .get(node_key(depth, prefix).as_slice())
        .map_err(storage_err)?
    else {
        return Ok(None);
    };
    let v = v.value();
    let bad = || Error::Tampered {
        location: format!("committed index map node at depth {depth}"),
        detail: "unreadable node record".into(),
    };
    let h = |r: std::ops::Range<usize>| -> Result<Hash> {
        v.get(r).and_then(|s| s.try_into().ok()).ok_or_else(bad)
    };
    match (v.first(), v.len()) {
        (Some(0), 33) => Ok(Some(Node::Fork(h(1..33)?))),
        (Some(1), 65) => Ok(Some(Node::Leaf(h(1..33)?, h(33..65)?))),
        _ => Err(bad()),
    }
}

fn put_node(
    t: &mut Table<&'static [u8], &'static [u8]>,
    depth: usize,
    prefix: &Hash,
    n: Node,
) -> Result<()> {
    let mut v = Vec::with_capacity(65);
    match n {
        Node::Fork(h) => {
            v.push(0);
            v.extend_from_slice(&h);
        }
        Node::Leaf(id, value) => {
            v.push(1);
            v.extend_from_slice(&id);
            v.extend_from_slice(&value);
        }
    }
    t.insert(node_key(depth, prefix).as_slice(), v.as_slice())
        .map_err(storage_err)?;
    Ok(())
}

fn with_bit(prefix: &Hash, d: usize) -> Hash {
    let mut p = *prefix;
    p[d / 8] |= 0x80 >> (d % 8);
    p
}

/// Put `ups` (`(id, value)`, sorted by id, distinct) into the subtree at `(depth, prefix)`;
/// its new node. `empty`: the subtree is known to be empty (below a place that was empty or
/// held one term), so nothing is read: most of a new term's path is such.
fn apply(
    t: &mut Table<&'static [u8], &'static [u8]>,
    alg: HashAlg,
    (depth, prefix, empty): (usize, &Hash, bool),
    ups: &[(Hash, Hash)],
) -> Result<Option<Node>> {
    if empty && ups.is_empty() {
        return Ok(None);
    }
    let cur = if empty {
        None
    } else {
        get_node(t, depth, prefix)?
    };
    if ups.is_empty() {
        return Ok(cur);
    }
    let ups: Cow<'_, [(Hash, Hash)]> = match cur {
        Some(Node::Fork(_)) => Cow::Borrowed(ups),
        None if ups.len() == 1 => {
            let n = Node::Leaf(ups[0].0, ups[0].1);
            put_node(t, depth, prefix, n)?;
            return Ok(Some(n));
        }
        None => Cow::Borrowed(ups),
        Some(Node::Leaf(id, _)) if ups.len() == 1 && ups[0].0 == id => {
            let n = Node::Leaf(id, ups[0].1);
            put_node(t, depth, prefix, n)?;
            return Ok(Some(n));
        }
        Some(Node::Leaf(id, value)) => {
            // The lone term moves down beside the new ones: its place becomes a fork.
            let mut merged = ups.to_vec();
            if let Err(at) = merged.binary_search_by(|(i, _)| i.cmp(&id)) {
                merged.insert(at, (id, value));
            }
            Cow::Owned(merged)
        }
    };
    if depth >= 256 {
        return Err(Error::Internal(
            "two terms with one id in the committed index".into(),
        ));
    }
    // Below a fork the children are as stored; below what was empty or one term, empty.
    let below_empty = !matches!(cur, Some(Node::Fork(_)));
    let split = ups.partition_point(|(id, _)| !map::bit(id, depth));
    let left = apply(t, alg, (depth + 1, prefix, below_empty), &ups[..split])?;
    let right = apply(
        t,
        alg,
        (depth + 1, &with_bit(prefix, depth), below_empty),
        &ups[split..],
    )?;
    let n = Node::Fork(map::node_hash(
        alg,
        &Node::hash(left, alg),
        &Node::hash(right, alg),
    ));
    put_node(t, depth, prefix, n)?;
    Ok(Some(n))
}

/// Append `appends` (sorted by id, distinct) to their terms' lists and the map; the new root.
pub(super) fn append(txn: &WriteTransaction, alg: HashAlg, appends: &[TermAppend]) -> Result<Hash> {
    let mut terms = txn.open_table(TERMS).map_err(storage_err)?;
    let mut ups = Vec::with_capacity(appends.len());
    for a in appends {
        let mut l = match terms.get(a.id.as_slice()).map_err(storage_err)? {
            Some(v) => TermList::decode(&a.id, v.value())?,
            None => TermList {
                count: 0,
                frontier: Frontier::new(),
            },
        };
        list::extend(alg, &mut l.frontier, &a.elements);
        l.count += a.elements.len() as u64;
        terms
            .insert(a.id.as_slice(), l.encode().as_slice())
            .map_err(storage_err)?;
        ups.push((a.id, l.value(alg)));
    }
    let mut nodes = txn.open_table(NODES).map_err(storage_err)?;
    let root = apply(&mut nodes, alg, (0, &[0; 32], false), &ups)?;
    Ok(Node::hash(root, alg))
}

/// The last commitment, as of a write transaction.
pub(super) fn state(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<IndexState> {
    let Some(v) = meta.get(STATE_KEY).map_err(storage_err)? else {
        return Ok(IndexState::NONE);
    };
    let v = v.value();
    match (v.get(..8), v.get(8..)) {
        (Some(c), Some(r)) if r.len() == 32 => Ok(IndexState {
            covered: u64::from_le_bytes(c.try_into().map_err(storage_err)?),
            root: r.try_into().map_err(storage_err)?,
        }),
        _ => Err(Error::Tampered {
            location: "committed index state".into(),
            detail: format!("the {STATE_KEY} record is {} bytes, not 40", v.len()),
        }),
    }
}

/// Record the last commitment.
pub(super) fn put_state(txn: &WriteTransaction, s: IndexState) -> Result<()> {
    let mut v = s.covered.to_le_bytes().to_vec();
    v.extend_from_slice(&s.root);
    let mut meta = txn.open_table(META).map_err(storage_err)?;
    meta.insert(STATE_KEY, v.as_slice()).map_err(storage_err)?;
    Ok(())
}

/// The interval of a ledger with committed indexes (`None`: without).
pub(super) fn every(meta: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Option<u64>> {
    let Some(v) = meta.get(EVERY_KEY).map_err(storage_err)? else {
        return Ok(None);
    };
    let b: [u8; 8] = v.value().try_into().map_err(|_| Error::Tampered {
        location: "committed index interval".into(),
        detail: "not 8 bytes".into(),
    })?;
    Ok(Some(u64::from_le_bytes(b)))
}

/// A term's stored list, through a read transaction.
pub(super) fn term_list(txn: &redb::ReadTransaction, id: &Hash) -> Result<Option<TermList>> {
    let t = match txn.open_table(TERMS) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(storage_err(e)),
    };
    let v = t.get(id.as_slice()).map_err(storage_err)?;
    v.map(|v| TermList::decode(id, v.value())).transpose()
}

/// The map proof for `id`, through a read transaction.
pub(super) fn map_proof(txn: &redb::ReadTransaction, alg: HashAlg, id: &Hash) -> Result<MapProof> {
    let t = match txn.open_table(NODES) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return Ok(MapProof {
                siblings: Vec::new(),
                terminal: Terminal::Empty,
            })
        }
        Err(e) => return Err(storage_err(e)),
    };
    let mut siblings = Vec::new();
    let mut prefix = [0u8; 32];
    for depth in 0..=256 {
        match get_node(&t, depth, &prefix)? {
            None => {
                return Ok(MapProof {
                    siblings,
                    terminal: Terminal::Empty,
                })
            }
            Some(Node::Leaf(other, value)) => {
                let terminal = if other == *id {
                    Terminal::Member
                } else {
                    Terminal::Other { id: other, value }
                };
                return Ok(MapProof { siblings, terminal });
            }
            Some(Node::Fork(_)) if depth < 256 => {
                let (next, other) = if map::bit(id, depth) {
                    (with_bit(&prefix, depth), prefix)
                } else {
                    (prefix, with_bit(&prefix, depth))
                };
                siblings.push(Node::hash(get_node(&t, depth + 1, &other)?, alg));
                prefix = next;
            }
            Some(Node::Fork(_)) => break,
        }
    }
    Err(Error::Tampered {
        location: "committed index map".into(),
        detail: "a fork below the last bit".into(),
    })
}

/// A map built apart from the ledger (in a file of its own, deleted on drop): how `verify`
/// recomputes every commitment with the same code and no more memory than a commit uses.
pub struct ScratchIndex {
    db: Option<redb::Database>,
    path: std::path::PathBuf,
}

impl ScratchIndex {
    /// A new, empty scratch map in the system's temporary directory.
    pub fn new() -> Result<ScratchIndex> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "trailseal-index-{}-{}-{}.redb",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            crate::entry::Timestamp::now().unix_nanos()
        ));
        let db = redb::Database::create(&path).map_err(storage_err)?;
        Ok(ScratchIndex { db: Some(db), path })
    }

    /// [`append`] into the scratch map, in one non-durable transaction; the new root.
    pub fn append(&mut self, alg: HashAlg, appends: &[TermAppend]) -> Result<Hash> {
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| Error::Internal("scratch index closed".into()))?;
        let mut txn = db.begin_write().map_err(storage_err)?;
        txn.set_durability(redb::Durability::None)
            .map_err(storage_err)?;
        let root = append(&txn, alg, appends)?;
        txn.commit().map_err(storage_err)?;
        Ok(root)
    }
}

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        drop(self.db.take());
        let _ = std::fs::remove_file(&self.path);
    }
}
