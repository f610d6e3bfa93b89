//! The committed indexes' storage (SPEC section 9): the sparse Merkle map, whose leaves hold
//! each term's list as its count and list-tree frontier, as tiles of eight levels
//! (`map_tiles`), and the state of the last commitment. Written by the commit that records
//! an `index.committed` entry, in its transaction; read by proofs.
//!
//! `meta` `"commit_index"` holds the commitment interval (u64 LE; present only in ledgers
//! created with committed indexes) and `"index_state"` the last commitment: the leaf index of
//! its entry (the number of leaves the map covers, u64 LE) and the map root.
//!
//! Only the nodes of the compact tree are stored (one per term and one per fork). A
//! commitment applies all its terms in one sorted pass over the tree, reading each tile it
//! passes once and writing each it changes once, and reads nothing below a place that was
//! empty or held one term; it holds only those tiles in memory.

use redb::{ReadableTable, TableError, WriteTransaction};

use super::map_tiles::{Node, TermLeaf, Tiles, TILES};
use super::tables::{storage_err, META};
use crate::commit_index::list;
use crate::commit_index::map::{self, MapProof, Terminal};
use crate::error::{Error, Result};
use crate::merkle::{Frontier, Hash, HashAlg};

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
    fn empty() -> TermList {
        TermList {
            count: 0,
            frontier: Frontier::new(),
        }
    }

    /// The value the map holds for this list.
    pub fn value(&self, alg: HashAlg) -> Hash {
        list::term_value(alg, self.count, &self.frontier.root(alg))
    }
}

fn with_bit(prefix: &Hash, d: usize) -> Hash {
    let mut p = *prefix;
    p[d / 8] |= 0x80 >> (d % 8);
    p
}

/// What a commitment puts at a term's place in the map.
enum Put<'a> {
    /// Elements to append to the term's list (a new term's, if the map has none).
    Append(&'a [u64]),
    /// A term's whole list, moving down beside new terms.
    Whole(TermList),
}

/// The term's list after `put`, from the list it had.
fn land(alg: HashAlg, had: Option<TermList>, put: Put<'_>) -> TermList {
    match put {
        Put::Whole(l) => l,
        Put::Append(els) => {
            let mut l = had.unwrap_or_else(TermList::empty);
            list::extend(alg, &mut l.frontier, els);
            l.count += els.len() as u64;
            l
        }
    }
}

type MapTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// Put `ups` (sorted by id, distinct) into the subtree at `(depth, prefix)`; its new hash.
/// `empty`: the subtree is known to be empty (below a place that was empty or held one
/// term), so nothing is read: most of a new term's path is such.
fn apply(
    t: &mut Tiles<MapTable<'_>>,
    alg: HashAlg,
    (depth, prefix, empty): (usize, &Hash, bool),
    mut ups: Vec<(Hash, Put<'_>)>,
) -> Result<Hash> {
    if ups.is_empty() {
        return if empty {
            Ok(map::EMPTY)
        } else {
            t.hash(alg, depth, prefix)
        };
    }
    // Taken: this place is written below whatever happens.
    let cur = if empty {
        None
    } else {
        t.take_node(depth, prefix)?
    };
    let forked = matches!(cur, Some(Node::Fork(_)));
    let landing = match cur {
        Some(Node::Fork(_)) => None,
        None if ups.len() == 1 => Some(None),
        None => None,
        Some(Node::Leaf(l)) if ups.len() == 1 && ups[0].0 == l.id => Some(Some(l.list)),
        Some(Node::Leaf(l)) => {
            // The lone term moves down beside the new ones: its place becomes a fork.
            let TermLeaf { id, list, .. } = *l;
            match ups.binary_search_by(|(i, _)| i.cmp(&id)) {
                Ok(at) => {
                    let put = std::mem::replace(&mut ups[at].1, Put::Append(&[]));
                    ups[at].1 = Put::Whole(land(alg, Some(list), put));
                }
                Err(at) => ups.insert(at, (id, Put::Whole(list))),
            }
            None
        }
    };
    if let Some(had) = landing {
        let Some((id, put)) = ups.pop() else {
            return Err(Error::Internal("no term to put".into()));
        };
        let list = land(alg, had, put);
        let value = list.value(alg);
        let node = Node::Leaf(Box::new(TermLeaf { id, value, list }));
        let h = node.hash(alg);
        t.put(depth, prefix, node, h)?;
        return Ok(h);
    }
    if depth >= 256 {
        return Err(Error::Internal(
            "two terms with one id in the committed index".into(),
        ));
    }
    // Below a fork the children are as stored; below what was empty or one term, empty.
    let split = ups.partition_point(|(id, _)| !map::bit(id, depth));
    let right_ups = ups.split_off(split);
    let left = apply(t, alg, (depth + 1, prefix, !forked), ups)?;
    let right = apply(
        t,
        alg,
        (depth + 1, &with_bit(prefix, depth), !forked),
        right_ups,
    )?;
    let h = map::node_hash(alg, &left, &right);
    t.put(depth, prefix, Node::Fork(h), h)?;
    Ok(h)
}

/// Append `appends` (sorted by id, distinct) to their terms' lists and the map; the new root.
pub(super) fn append(txn: &WriteTransaction, alg: HashAlg, appends: &[TermAppend]) -> Result<Hash> {
    let table = txn.open_table(TILES).map_err(storage_err)?;
    let mut tiles = Tiles::new(Some(table));
    let ups = appends
        .iter()
        .map(|a| (a.id, Put::Append(&a.elements)))
        .collect();
    let root = apply(&mut tiles, alg, (0, &[0; 32], false), ups)?;
    tiles.flush()?;
    Ok(root)
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

type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

/// The map's tiles through a read transaction (empty before the first commitment).
fn read_tiles(txn: &redb::ReadTransaction) -> Result<Tiles<ReadTable>> {
    match txn.open_table(TILES) {
        Ok(t) => Ok(Tiles::new(Some(t))),
        Err(TableError::TableDoesNotExist(_)) => Ok(Tiles::new(None)),
        Err(e) => Err(storage_err(e)),
    }
}

/// A term's stored list, through a read transaction.
pub(super) fn term_list(txn: &redb::ReadTransaction, id: &Hash) -> Result<Option<TermList>> {
    let mut t = read_tiles(txn)?;
    let mut prefix = [0u8; 32];
    for depth in 0..=256 {
        match t.node(depth, &prefix)? {
            None => return Ok(None),
            Some(Node::Leaf(l)) => return Ok((l.id == *id).then_some(l.list)),
            Some(Node::Fork(_)) if depth < 256 => {
                if map::bit(id, depth) {
                    prefix = with_bit(&prefix, depth);
                }
            }
            Some(Node::Fork(_)) => break,
        }
    }
    Err(fork_below_the_last_bit())
}

fn fork_below_the_last_bit() -> Error {
    Error::Tampered {
        location: "committed index map".into(),
        detail: "a fork below the last bit".into(),
    }
}

/// The map proof for `id`, through a read transaction.
pub(super) fn map_proof(txn: &redb::ReadTransaction, alg: HashAlg, id: &Hash) -> Result<MapProof> {
    let mut t = read_tiles(txn)?;
    let mut siblings = Vec::new();
    let mut prefix = [0u8; 32];
    for depth in 0..=256 {
        match t.node(depth, &prefix)? {
            None => {
                return Ok(MapProof {
                    siblings,
                    terminal: Terminal::Empty,
                })
            }
            Some(Node::Leaf(l)) => {
                let terminal = if l.id == *id {
                    Terminal::Member
                } else {
                    Terminal::Other {
                        id: l.id,
                        value: l.value,
                    }
                };
                return Ok(MapProof { siblings, terminal });
            }
            Some(Node::Fork(_)) if depth < 256 => {
                let (next, other) = if map::bit(id, depth) {
                    (with_bit(&prefix, depth), prefix)
                } else {
                    (prefix, with_bit(&prefix, depth))
                };
                siblings.push(t.hash(alg, depth + 1, &other)?);
                prefix = next;
            }
            Some(Node::Fork(_)) => break,
        }
    }
    Err(fork_below_the_last_bit())
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
