//! Node tiles: the tree's node hashes, six levels of a subtree to a value of the `nodes` table
//! (the parent module's docs say why), the cache of tiles and edge nodes an open store
//! shares, and the nodes of partial tiles, which are never stored and so are derived.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use redb::ReadableTable;

use super::bundles::{leaf_range, missing_leaf};
use super::tables::storage_err;
use crate::error::{Error, Result};
use crate::merkle::{Hash, HashAlg, NodeId};

/// Tree levels per tile (see the [`storage`](crate::storage) module docs).
pub const TILE_HEIGHT: u8 = 6;
/// Nodes of a tile's bottom level.
const TILE_SPAN: u64 = 1 << TILE_HEIGHT;
/// Hashes in a tile: 64 + 32 + 16 + 8 + 4 + 2. A tile fills one 4 KiB page.
pub const TILE_HASHES: usize = 2 * TILE_SPAN as usize - 2;

fn tile_key(tier: u8, tile: u64) -> u64 {
    (u64::from(tier) << 58) | tile
}

/// The tier and tile index of a tile key.
pub(super) fn split_tile_key(key: u64) -> (u8, u64) {
    ((key >> 58) as u8, key & ((1 << 58) - 1))
}

/// The key of the tile holding node `id`, and the node's position in it: a tile lists its
/// levels bottom up, each left to right.
pub fn tile_of(id: NodeId) -> (u64, usize) {
    let k = id.level % TILE_HEIGHT;
    let width = TILE_SPAN >> k;
    let offset = 2 * TILE_SPAN - ((2 * TILE_SPAN) >> k);
    (
        tile_key(id.level / TILE_HEIGHT, id.index / width),
        (offset + id.index % width) as usize,
    )
}

/// True if node `id` is stored in a tree of `size` leaves: its tile is complete, i.e. the
/// tile's subtree spans only leaves below `size`. (The node itself is then complete too.)
pub fn is_stored(id: NodeId, size: u64) -> bool {
    let shift = u32::from(id.level / TILE_HEIGHT + 1) * u32::from(TILE_HEIGHT);
    let tile = id.index >> (TILE_HEIGHT - id.level % TILE_HEIGHT);
    shift < 64 && tile < size >> shift
}

/// Tiers whose tiles are kept in memory once read: from tier 1 up (levels 6 and above) a tile
/// covers 4,096 leaves, so at 1 million entries these tiers hold about 250 tiles (1 MiB), at
/// 10 million about 2,500, and a proof reads just its tier-0 tile from the B-tree. Beyond
/// `CACHED_TILES_MAX` tiles (about 16 million entries) the tiles read first stay cached;
/// the upper tiers, which every proof reads, are among them.
pub const CACHED_TILE_TIER: u8 = 1;
/// At most this many tiles (4 KiB each: 16 MiB) are cached; beyond, tiles are read as usual.
const CACHED_TILES_MAX: usize = 4096;

/// Complete node tiles of the upper tree levels, shared by every snapshot of one open store.
/// A complete tile never changes in a valid ledger, so a copy read once stays right (partial
/// tiles, at the right edge and still growing, are never stored). `verify` bypasses the cache
/// and reads every tile from the file.
///
/// It also keeps the nodes of the partial tiles (never stored): those each commit adds, and
/// those a reader had to derive. A node's hash never changes once the node is complete, so
/// these too stay right for every later snapshot, and proofs near the right edge (most of
/// them: every proof against the current size ends there) do not re-hash leaves.
#[derive(Default)]
pub struct TileCache {
    tiles: RwLock<HashMap<u64, Arc<[u8]>>>,
    edge: RwLock<HashMap<NodeId, Hash>>,
}

/// Edge nodes kept at most; past it, those now under a stored tile are dropped (the partial
/// tiles of a tree hold under 64 nodes per level, so what remains is small).
const EDGE_NODES_MAX: usize = 16 * 1024;

impl TileCache {
    fn edge_node(&self, id: NodeId) -> Option<Hash> {
        self.edge
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
    }

    /// Remember nodes of partial tiles of a tree of `size` leaves.
    pub(super) fn remember_edge(&self, nodes: impl IntoIterator<Item = (NodeId, Hash)>, size: u64) {
        let mut map = self.edge.write().unwrap_or_else(|p| p.into_inner());
        map.extend(nodes);
        if map.len() > EDGE_NODES_MAX {
            map.retain(|id, _| !is_stored(*id, size));
        }
    }

    fn get(&self, key: u64) -> Option<Arc<[u8]>> {
        self.tiles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    fn offer(&self, key: u64, tile: &[u8]) {
        if split_tile_key(key).0 < CACHED_TILE_TIER || tile.len() != TILE_HASHES * 32 {
            return;
        }
        let mut map = self.tiles.write().unwrap_or_else(|p| p.into_inner());
        if map.len() < CACHED_TILES_MAX {
            map.insert(key, Arc::from(tile));
        }
    }
}

/// What reading nodes needs to know of the tree, to tell stored nodes from those of a partial
/// tile (never stored) and derive the latter.
#[derive(Clone, Copy, Debug)]
pub(super) struct Edge {
    pub(super) alg: HashAlg,
    pub(super) size: u64,
}

/// Fetch node hashes: stored ones reading each tile once, those of partial tiles derived.
pub(super) fn read_nodes(
    table: &impl ReadableTable<u64, &'static [u8]>,
    leaves: &impl ReadableTable<u64, &'static [u8]>,
    edge: Edge,
    ids: &[NodeId],
    shared: Option<&TileCache>,
) -> Result<Vec<Hash>> {
    let mut out = vec![[0u8; 32]; ids.len()];
    // Visit the ids tile by tile, so each tile is looked up once and only the hashes needed
    // are copied out of it (a proof needs one or two hashes of each 4 KiB tile it reads).
    let mut order: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .filter(|(_, &id)| is_stored(id, edge.size))
        .map(|(n, &id)| (tile_of(id).0, n))
        .collect();
    order.sort_unstable();
    let mut take = |bytes: &[u8], group: &[(u64, usize)]| -> Result<()> {
        for &(_, n) in group {
            let id = ids[n];
            let pos = tile_of(id).1;
            out[n] = bytes
                .get(pos * 32..pos * 32 + 32)
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or_else(|| Error::Tampered {
                    location: format!("node level {} index {}", id.level, id.index),
                    detail: "not stored".into(),
                })?;
        }
        Ok(())
    };
    for group in order.chunk_by(|a, b| a.0 == b.0) {
        let key = group[0].0;
        if let Some(tile) = shared.and_then(|c| c.get(key)) {
            take(&tile, group)?;
            continue;
        }
        let guard = table.get(key).map_err(storage_err)?;
        let bytes = guard.as_ref().map(|g| g.value()).unwrap_or_default();
        if let Some(c) = shared {
            c.offer(key, bytes);
        }
        take(bytes, group)?;
    }
    let mut derived = HashMap::new();
    for (n, &id) in ids.iter().enumerate() {
        if !is_stored(id, edge.size) {
            out[n] = match shared.and_then(|c| c.edge_node(id)) {
                Some(h) => h,
                None => derive_node(table, leaves, edge, id, &mut derived)?,
            };
        }
    }
    if let Some(c) = shared {
        if !derived.is_empty() {
            c.remember_edge(derived, edge.size);
        }
    }
    Ok(out)
}

/// The hash of `id`, from its tile if stored, else from its children (a leaf from its bytes).
/// Only nodes of partial tiles are derived, so the work is bounded by what those tiles cover:
/// under 64 leaves hashed and under 64 node hashes per level.
fn derive_node(
    table: &impl ReadableTable<u64, &'static [u8]>,
    leaves: &impl ReadableTable<u64, &'static [u8]>,
    edge: Edge,
    id: NodeId,
    memo: &mut HashMap<NodeId, Hash>,
) -> Result<Hash> {
    if is_stored(id, edge.size) {
        return Ok(read_nodes(table, leaves, edge, &[id], None)?[0]);
    }
    if let Some(h) = memo.get(&id) {
        return Ok(*h);
    }
    let h = match id.level {
        0 => {
            // The partial tile's leaves, hashed in one walk over their bundles (each
            // decompressed once) rather than a bundle read per leaf: its other nodes need
            // them too.
            let first = id.index / TILE_SPAN * TILE_SPAN;
            leaf_range(leaves, first, edge.size, |index, leaf| {
                memo.insert(NodeId { level: 0, index }, edge.alg.leaf_hash(leaf));
                Ok(())
            })?;
            *memo.get(&id).ok_or_else(|| missing_leaf(id.index))?
        }
        level => {
            let child = |index| NodeId {
                level: level - 1,
                index,
            };
            let left = derive_node(table, leaves, edge, child(2 * id.index), memo)?;
            let right = derive_node(table, leaves, edge, child(2 * id.index + 1), memo)?;
            edge.alg.node_hash(&left, &right)
        }
    };
    memo.insert(id, h);
    Ok(h)
}

/// The nodes among `nodes` whose tiles a tree of `end` leaves completes, as `(tile key,
/// position, hash)` sorted by tile and position: what [`write_tiles`] stores.
pub(super) fn completed(nodes: &[(NodeId, Hash)], end: u64) -> Vec<(u64, usize, Hash)> {
    let mut new: Vec<(u64, usize, Hash)> = nodes
        .iter()
        .filter(|(id, _)| is_stored(*id, end))
        .map(|&(id, h)| {
            let (key, pos) = tile_of(id);
            (key, pos, h)
        })
        .collect();
    new.sort_unstable_by_key(|&(key, pos, _)| (key, pos));
    new
}

/// Write the tiles a commit completes, given its nodes of them ([`completed`]) in a tree of
/// `end` leaves. Their nodes from earlier commits (a partial tile is never stored) are
/// derived: a tier-0 tile's bottom level from the leaves, a higher tile's from the complete
/// tiles below it (stored by now: tiers are written in order), and the levels above from the
/// level below.
pub(super) fn write_tiles(
    table: &mut redb::Table<'_, u64, &'static [u8]>,
    leaves: &impl ReadableTable<u64, &'static [u8]>,
    alg: HashAlg,
    end: u64,
    new: &[(u64, usize, Hash)],
) -> Result<()> {
    let edge = Edge { alg, size: end };
    for group in new.chunk_by(|a, b| a.0 == b.0) {
        let key = group[0].0;
        let (tier, tile) = split_tile_key(key);
        let bottom = tier * TILE_HEIGHT;
        let first = tile * TILE_SPAN;
        let mut slots = [None; TILE_HASHES];
        for &(_, pos, h) in group {
            slots[pos] = Some(h);
        }
        let mut hashes: Vec<Hash> = Vec::with_capacity(TILE_HASHES);
        // This commit added the bottom level's last nodes; the ones before are older.
        let older = slots[..TILE_SPAN as usize]
            .iter()
            .take_while(|s| s.is_none())
            .count() as u64;
        if older > 0 && tier == 0 {
            leaf_range(leaves, first, first + older, |_, leaf| {
                hashes.push(alg.leaf_hash(leaf));
                Ok(())
            })?;
        } else if older > 0 {
            let below: Vec<NodeId> = (2 * first..2 * (first + older))
                .map(|index| NodeId {
                    level: bottom - 1,
                    index,
                })
                .collect();
            let children = read_nodes(&*table, leaves, edge, &below, None)?;
            hashes.extend(
                children
                    .chunks_exact(2)
                    .map(|c| alg.node_hash(&c[0], &c[1])),
            );
        }
        for (pos, slot) in slots
            .iter()
            .enumerate()
            .take(TILE_SPAN as usize)
            .skip(older as usize)
        {
            hashes.push(slot.ok_or_else(|| {
                Error::Internal(format!("completing tile {key:#x}: position {pos} missing"))
            })?);
        }
        // The levels above: this commit's nodes, or (under older nodes) their children's.
        let mut start = 0;
        for k in 1..TILE_HEIGHT {
            let width = (TILE_SPAN >> k) as usize;
            for q in 0..width {
                let h = match slots[start + 2 * width + q] {
                    Some(h) => h,
                    None => alg.node_hash(&hashes[start + 2 * q], &hashes[start + 2 * q + 1]),
                };
                hashes.push(h);
            }
            start += 2 * width;
        }
        table
            .insert(key, hashes.concat().as_slice())
            .map_err(storage_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_hold_six_level_subtrees() {
        let at = |level, index| tile_of(NodeId { level, index });
        // tier 0, tile 1: leaves 64..128 at 0..64, then 32 level-1 nodes, ..., 2 level-5 nodes
        assert_eq!(at(0, 64 + 5), (1, 5));
        assert_eq!(at(1, 32), (1, 64));
        assert_eq!(at(2, 16 + 3), (1, 96 + 3));
        assert_eq!(at(5, 3), (1, 124 + 1));
        // level 6 starts tier 1
        assert_eq!(at(6, 0), (1 << 58, 0));
        assert_eq!(at(11, 1), (1 << 58, 124 + 1));
        assert_eq!(at(63, 0).0 >> 58, 10);
        // every position of a tile is used exactly once
        let mut seen = [false; TILE_HASHES];
        for level in 0..TILE_HEIGHT {
            for index in 0..(TILE_SPAN >> level) {
                let (key, pos) = at(level, index);
                assert_eq!(key, 0);
                assert!(!std::mem::replace(&mut seen[pos], true));
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn a_tile_is_stored_once_its_subtree_is_complete() {
        let id = |level, index| NodeId { level, index };
        assert!(!is_stored(id(0, 0), 63));
        assert!(is_stored(id(0, 0), 64));
        assert!(is_stored(id(5, 1), 64));
        assert!(!is_stored(id(0, 64), 127));
        assert!(is_stored(id(0, 64), 128));
        // tier 1 needs 4,096 leaves
        assert!(!is_stored(id(6, 0), 4095));
        assert!(is_stored(id(6, 0), 4096));
        assert!(is_stored(id(11, 1), 4096));
        // the top tier never completes
        assert!(!is_stored(id(63, 0), u64::MAX));
    }
}
