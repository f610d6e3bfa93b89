//! The committed map's nodes (SPEC section 9.3) as tiles: eight levels of the compact tree to
//! a row of `index_tiles`, so that a commitment reads and writes one row per term it changes
//! (and the rows of the top levels it shares with the others) instead of one per level.
//!
//! The tile of level `k` holds the nodes at depths `8k` to `8k + 7` under one `8k`-bit id
//! prefix; its key is `k` (one byte) and then that prefix (`k` bytes). In it, the node at
//! depth `8k + r` whose prefix continues with the `r` bits `b` is at position `2^r + b`. The
//! tile also keeps, at positions 256 to 511, the hash of each of the 256 subtrees below it
//! (the roots of the next level's tiles, as "stubs"), so a sibling's hash at a tile's edge is
//! read from the tile above rather than from a tile of its own.
//!
//! A row is a sequence of `position (u16 BE) ‖ tag ‖ body`: tag 0 a fork (`hash`), 1 a term's
//! leaf (`id ‖ value ‖ count (u64 BE) ‖ the list tree's frontier hashes`), 2 a stub (`hash`).
//! A term's list lives in its leaf: the commitment that changes the leaf reads the list with
//! it.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use redb::{ReadableTable, Table, TableDefinition};

use super::commit_index::TermList;
use super::tables::storage_err;
use crate::commit_index::map;
use crate::error::{Error, Result};
use crate::merkle::{Frontier, Hash, HashAlg};

/// The map's tiles.
pub(super) const TILES: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("trailseal.index_tiles");

/// Levels of the map per tile: a whole byte of the id's prefix.
const TILE_HEIGHT: usize = 8;

/// A node of the compact map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Node {
    /// Two or more terms below: the subtree's hash.
    Fork(Hash),
    /// One term.
    Leaf(Box<TermLeaf>),
}

/// A term's leaf: its id, its map value and the list the value commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TermLeaf {
    pub(super) id: Hash,
    pub(super) value: Hash,
    pub(super) list: TermList,
}

impl Node {
    pub(super) fn hash(&self, alg: HashAlg) -> Hash {
        match self {
            Node::Fork(h) => *h,
            Node::Leaf(l) => map::leaf_hash(alg, &l.id, &l.value),
        }
    }
}

#[derive(Clone, Debug)]
enum Slot {
    Node(Node),
    Stub(Hash),
}

/// A tile's slots, sorted by position (a sorted list: most tiles hold a few slots, and one
/// read or written whole costs one allocation).
#[derive(Default)]
struct Tile {
    slots: Vec<(u16, Slot)>,
    dirty: bool,
}

impl Tile {
    fn get(&self, pos: u16) -> Option<&Slot> {
        let at = self.slots.binary_search_by_key(&pos, |s| s.0).ok()?;
        Some(&self.slots[at].1)
    }

    fn take(&mut self, pos: u16) -> Option<Slot> {
        let at = self.slots.binary_search_by_key(&pos, |s| s.0).ok()?;
        Some(self.slots.remove(at).1)
    }

    fn set(&mut self, pos: u16, slot: Slot) {
        match self.slots.binary_search_by_key(&pos, |s| s.0) {
            Ok(at) => self.slots[at].1 = slot,
            Err(at) => self.slots.insert(at, (pos, slot)),
        }
        self.dirty = true;
    }
}

/// The row key and position of the node at `depth` under `prefix`; with `stub`, of its hash
/// kept in the tile above (`depth` a positive multiple of 8).
fn place(depth: usize, prefix: &Hash, stub: bool) -> (TileKey, u16) {
    let k = depth / TILE_HEIGHT - usize::from(stub);
    let r = depth - k * TILE_HEIGHT;
    let bits = match r {
        0 => 0,
        8 => u16::from(prefix[k]),
        _ => u16::from(prefix[k] >> (8 - r)),
    };
    let mut key = [0u8; 33];
    key[0] = k as u8;
    key[1..=k].copy_from_slice(&prefix[..k]);
    (TileKey(key), (1 << r) + bits)
}

/// A tile's row key, without an allocation (a commitment looks up a tile for every node it
/// passes): the level, then the level's prefix bytes, then zeros not part of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct TileKey([u8; 33]);

impl TileKey {
    fn as_slice(&self) -> &[u8] {
        &self.0[..=usize::from(self.0[0])]
    }
}

/// The tiles a commitment or a proof reads, each read from the table once, and those it
/// changed, written back by [`Tiles::flush`].
pub(super) struct Tiles<T> {
    table: Option<T>,
    cache: HashMap<TileKey, Tile>,
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> Tiles<T> {
    /// Over `table` (`None`: a map not yet stored, empty).
    pub(super) fn new(table: Option<T>) -> Tiles<T> {
        Tiles {
            table,
            cache: HashMap::new(),
        }
    }

    fn tile(&mut self, key: TileKey) -> Result<&mut Tile> {
        match self.cache.entry(key) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let tile = match &self.table {
                    Some(t) => match t.get(key.as_slice()).map_err(storage_err)? {
                        Some(v) => decode(key.as_slice(), v.value())?,
                        None => Tile::default(),
                    },
                    None => Tile::default(),
                };
                Ok(e.insert(tile))
            }
        }
    }

    /// The node at `depth` under `prefix`, if any.
    pub(super) fn node(&mut self, depth: usize, prefix: &Hash) -> Result<Option<Node>> {
        let (key, pos) = place(depth, prefix, false);
        Ok(match self.tile(key)?.get(pos) {
            Some(Slot::Node(n)) => Some(n.clone()),
            _ => None,
        })
    }

    /// The node at `depth` under `prefix`, if any, taken out of its tile: for an update,
    /// which puts the node's successor there (no copy of a term's list is made).
    pub(super) fn take_node(&mut self, depth: usize, prefix: &Hash) -> Result<Option<Node>> {
        let (key, pos) = place(depth, prefix, false);
        Ok(match self.tile(key)?.take(pos) {
            Some(Slot::Node(n)) => Some(n),
            _ => None,
        })
    }

    /// The hash of the subtree at `depth` under `prefix` ([`map::EMPTY`] if empty).
    pub(super) fn hash(&mut self, alg: HashAlg, depth: usize, prefix: &Hash) -> Result<Hash> {
        if depth == 0 || depth % TILE_HEIGHT != 0 {
            return Ok(self
                .node(depth, prefix)?
                .map_or(map::EMPTY, |n| n.hash(alg)));
        }
        let (key, pos) = place(depth, prefix, true);
        Ok(match self.tile(key)?.get(pos) {
            Some(Slot::Stub(h)) => *h,
            _ => map::EMPTY,
        })
    }

    /// Put `node`, whose hash is `hash`, at `depth` under `prefix`.
    pub(super) fn put(
        &mut self,
        depth: usize,
        prefix: &Hash,
        node: Node,
        hash: Hash,
    ) -> Result<()> {
        let (key, pos) = place(depth, prefix, false);
        self.tile(key)?.set(pos, Slot::Node(node));
        if depth > 0 && depth % TILE_HEIGHT == 0 {
            let (key, pos) = place(depth, prefix, true);
            self.tile(key)?.set(pos, Slot::Stub(hash));
        }
        Ok(())
    }
}

impl Tiles<Table<'_, &'static [u8], &'static [u8]>> {
    /// Write back every tile changed.
    pub(super) fn flush(mut self) -> Result<()> {
        let Some(table) = &mut self.table else {
            return Err(Error::Internal("map tiles to write without a table".into()));
        };
        let mut buf = Vec::new();
        // In key order: the B-tree is then written in one sweep, each page touched once.
        let mut dirty: Vec<(&TileKey, &Tile)> =
            self.cache.iter().filter(|(_, t)| t.dirty).collect();
        dirty.sort_unstable_by_key(|(k, _)| k.as_slice());
        for (key, tile) in dirty {
            encode(tile, &mut buf);
            table
                .insert(key.as_slice(), buf.as_slice())
                .map_err(storage_err)?;
        }
        Ok(())
    }
}

fn encode(tile: &Tile, out: &mut Vec<u8>) {
    out.clear();
    for (pos, slot) in &tile.slots {
        out.extend_from_slice(&pos.to_be_bytes());
        match slot {
            Slot::Node(Node::Fork(h)) => {
                out.push(0);
                out.extend_from_slice(h);
            }
            Slot::Node(Node::Leaf(l)) => {
                out.push(1);
                out.extend_from_slice(&l.id);
                out.extend_from_slice(&l.value);
                out.extend_from_slice(&l.list.count.to_be_bytes());
                for h in l.list.frontier.subtree_hashes() {
                    out.extend_from_slice(h);
                }
            }
            Slot::Stub(h) => {
                out.push(2);
                out.extend_from_slice(h);
            }
        }
    }
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (a, b) = self.0.split_at_checked(n)?;
        self.0 = b;
        Some(a)
    }

    fn hash(&mut self) -> Option<Hash> {
        self.take(32)?.try_into().ok()
    }
}

fn decode(key: &[u8], v: &[u8]) -> Result<Tile> {
    let bad = || Error::Tampered {
        location: format!(
            "committed index map tile {}",
            key.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        detail: "unreadable tile".into(),
    };
    let mut c = Cursor(v);
    let mut tile = Tile::default();
    let mut last = 0;
    while !c.0.is_empty() {
        let slot = (|| {
            let head = c.take(3)?;
            let pos = u16::from_be_bytes([head[0], head[1]]);
            let slot = match head[2] {
                0 => Slot::Node(Node::Fork(c.hash()?)),
                2 => Slot::Stub(c.hash()?),
                1 => {
                    let id = c.hash()?;
                    let value = c.hash()?;
                    let count = u64::from_be_bytes(c.take(8)?.try_into().ok()?);
                    let hashes = (0..count.count_ones())
                        .map(|_| c.hash())
                        .collect::<Option<Vec<Hash>>>()?;
                    let frontier = Frontier::from_subtrees(count, hashes).ok()?;
                    Slot::Node(Node::Leaf(Box::new(TermLeaf {
                        id,
                        value,
                        list: TermList { count, frontier },
                    })))
                }
                _ => return None,
            };
            Some((pos, slot))
        })();
        let Some((pos, slot)) = slot else {
            return Err(bad());
        };
        // Sorted, distinct, in range.
        if pos <= last || pos >= 512 {
            return Err(bad());
        }
        last = pos;
        tile.slots.push((pos, slot));
    }
    Ok(tile)
}
