//! The node hashes of a published tree, read from its hash tiles: a
//! [`NodeHashes`](crate::merkle::prove::NodeHashes), so proofs and roots are assembled from a
//! published log by the same code that assembles them from a ledger file.
//!
//! A node at level `l` sits under tile level `l / 8`; when `l` is not a multiple of 8 it is
//! the hash of the `2^(l % 8)` tile hashes below it, all in one tile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::layout::{parse_tile, Object, TILE_HEIGHT, TILE_WIDTH};
use super::Source;
use crate::error::{Error, Result};
use crate::merkle::prove::NodeHashes;
use crate::merkle::{Hash, HashAlg, NodeId};

/// Tiles kept at most; past it the cache starts over (a proof needs a few, a monitor
/// walks them in order).
const CACHED_TILES: usize = 1024;

/// Tiles read, by (level, index).
type Tiles = HashMap<(u8, u64), Arc<Vec<Hash>>>;

/// Reads node hashes of the tree of `size` leaves published at `source`.
pub struct TileNodes<'s> {
    source: &'s dyn Source,
    size: u64,
    cache: Mutex<Tiles>,
}

impl<'s> TileNodes<'s> {
    /// Nodes of the published tree of `size` leaves (the published checkpoint's size).
    pub fn new(source: &'s dyn Source, size: u64) -> Self {
        TileNodes {
            source,
            size,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The hashes of tile `level`/`index` of this tree (partial at the right edge). A
    /// partial tile no longer there is read from the full one, which a later publish wrote.
    pub fn tile(&self, level: u8, index: u64) -> Result<Arc<Vec<Hash>>> {
        if let Some(t) = self.lock().get(&(level, index)) {
            return Ok(t.clone());
        }
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let row = if shift >= 64 { 0 } else { self.size >> shift };
        let width = row.saturating_sub(index * TILE_WIDTH).min(TILE_WIDTH);
        if width == 0 {
            return Err(Error::OutOfRange(format!(
                "tile {level}/{index} is beyond the published tree of {} entries",
                self.size
            )));
        }
        let obj = Object::Tile {
            level,
            index,
            width,
        };
        let full = Object::Tile {
            level,
            index,
            width: TILE_WIDTH,
        };
        let bytes = match self.source.get(&obj.path())? {
            Some(b) => b,
            None if width < TILE_WIDTH => self
                .source
                .get(&full.path())?
                .ok_or_else(|| missing(&obj.path()))?,
            None => return Err(missing(&obj.path())),
        };
        // A full tile read for a partial one holds more: the first `width` are this tree's.
        let hashes = if bytes.len() as u64 == TILE_WIDTH * 32 && width < TILE_WIDTH {
            parse_tile(&bytes[..width as usize * 32], width)?
        } else {
            parse_tile(&bytes, width).map_err(|e| Error::Tampered {
                location: obj.path(),
                detail: e.to_string(),
            })?
        };
        let hashes = Arc::new(hashes);
        let mut cache = self.lock();
        if cache.len() >= CACHED_TILES {
            cache.clear();
        }
        cache.insert((level, index), hashes.clone());
        Ok(hashes)
    }

    fn lock(&self) -> MutexGuard<'_, Tiles> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn node(&self, id: NodeId) -> Result<Hash> {
        let level = id.level / TILE_HEIGHT;
        let k = u32::from(id.level % TILE_HEIGHT);
        let first = id.index << k;
        let tile = self.tile(level, first / TILE_WIDTH)?;
        let at = (first % TILE_WIDTH) as usize;
        let below = tile.get(at..at + (1usize << k)).ok_or_else(|| {
            Error::OutOfRange(format!(
                "node {}/{} is not complete in the published tree of {} entries",
                id.level, id.index, self.size
            ))
        })?;
        let mut row = below.to_vec();
        while row.len() > 1 {
            row = row
                .chunks_exact(2)
                .map(|p| HashAlg::Sha256.node_hash(&p[0], &p[1]))
                .collect();
        }
        Ok(row[0])
    }
}

fn missing(path: &str) -> Error {
    Error::Tampered {
        location: path.to_owned(),
        detail: "missing from the published log".into(),
    }
}

impl NodeHashes for TileNodes<'_> {
    fn node_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        ids.iter().map(|&id| self.node(id)).collect()
    }
}
