//! The C2SP tlog-tiles layout, no I/O: where each object of a published log lives, how hash
//! tiles and entry bundles are encoded and parsed, and which objects a publish from one tree
//! size to another must write.
//!
//! A tile at level `L` and index `N` lists the hashes of the nodes at tree level `8L` with
//! indices `256N ..`, 256 of them when full, fewer (`W`) at the right edge of a tree, where the
//! path gets the suffix `.p/W`. Entry bundles are the level-0 analogue for the entries
//! themselves, each entry framed by a big-endian `u16` length.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::merkle::{Hash, NodeId};

/// Hashes (or entries) in a full tile (or bundle): 2^8.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels a tile spans.
pub const TILE_HEIGHT: u8 = 8;
/// The largest entry an entry bundle can frame: its length is a `u16`.
pub const MAX_BUNDLED_ENTRY: usize = u16::MAX as usize;
/// Where the checkpoint lives.
pub const CHECKPOINT_PATH: &str = "checkpoint";

/// One object of a published log, besides the checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// Hash tile `level`/`index`; `width` hashes, 256 for a full tile.
    Tile {
        /// Tile level (tree level / 8).
        level: u8,
        /// Tile index within the level.
        index: u64,
        /// Hashes it holds.
        width: u64,
    },
    /// Entry bundle `index`, `width` entries.
    Bundle {
        /// Bundle index (entry index / 256).
        index: u64,
        /// Entries it holds.
        width: u64,
    },
}

impl Object {
    /// Its path under the log's prefix, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        match *self {
            Object::Tile {
                level,
                index,
                width,
            } => format!("tile/{level}/{}", index_path(index, width)),
            Object::Bundle { index, width } => format!("tile/entries/{}", index_path(index, width)),
        }
    }

    /// The nodes whose hashes a tile lists (empty for a bundle).
    pub fn nodes(&self) -> Vec<NodeId> {
        match *self {
            Object::Tile {
                level,
                index,
                width,
            } => (0..width)
                .map(|i| NodeId {
                    level: level * TILE_HEIGHT,
                    index: index * TILE_WIDTH + i,
                })
                .collect(),
            Object::Bundle { .. } => Vec::new(),
        }
    }

    /// The entries a bundle holds, or the leaves a tile's subtrees span.
    pub fn leaves(&self) -> std::ops::Range<u64> {
        let (shift, index, width) = match *self {
            Object::Tile {
                level,
                index,
                width,
            } => (u32::from(level * TILE_HEIGHT), index, width),
            Object::Bundle { index, width } => (0, index, width),
        };
        let first = (index * TILE_WIDTH) << shift;
        first..first + (width << shift)
    }
}

/// `N[.p/W]`: N in three-digit groups, all but the last prefixed with `x`.
fn index_path(index: u64, width: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            let _ = write!(out, "x{g:03}/");
        } else {
            let _ = write!(out, "{g:03}");
        }
    }
    if width < TILE_WIDTH {
        let _ = write!(out, ".p/{width}");
    }
    out
}

/// The objects a tree of `size` leaves has that one of `from` leaves did not (or had with
/// fewer hashes): every tile and bundle that grew, full ones once, and the partial ones at
/// the right edge of `size`. Lowest level first, left to right. With `from == 0`, the
/// whole log. The count is `O(levels + (size - from) / 256)`, whatever the size.
pub fn plan(from: u64, size: u64) -> Vec<Object> {
    let mut out = Vec::new();
    if size <= from {
        return out;
    }
    let bundles = grown(from, size);
    out.extend(
        bundles
            .into_iter()
            .map(|(index, width)| Object::Bundle { index, width }),
    );
    let mut level = 0u8;
    loop {
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        if shift >= 64 || size >> shift == 0 {
            break;
        }
        for (index, width) in grown(from >> shift, size >> shift) {
            out.push(Object::Tile {
                level,
                index,
                width,
            });
        }
        level += 1;
    }
    out
}

/// For a row of `to` items that had `from`: the (index, width) of each 256-wide group that
/// changed.
fn grown(from: u64, to: u64) -> Vec<(u64, u64)> {
    if to <= from {
        return Vec::new();
    }
    let first = from / TILE_WIDTH;
    let last = (to - 1) / TILE_WIDTH;
    (first..=last)
        .map(|i| (i, (to - i * TILE_WIDTH).min(TILE_WIDTH)))
        .collect()
}

/// The hashes of a tile, which must hold `width` of them.
pub fn parse_tile(bytes: &[u8], width: u64) -> Result<Vec<Hash>> {
    if bytes.len() as u64 != width * 32 {
        return Err(Error::malformed(
            "hash tile",
            format!(
                "{} bytes, not the {} of {width} hashes",
                bytes.len(),
                width * 32
            ),
        ));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32-byte chunk"))
        .collect())
}

/// Append one entry to a bundle being built; an entry over [`MAX_BUNDLED_ENTRY`] bytes is
/// refused (the rule is in [`crate::publish`]'s docs).
pub fn push_entry(bundle: &mut Vec<u8>, index: u64, entry: &[u8]) -> Result<()> {
    let len = u16::try_from(entry.len()).map_err(|_| {
        Error::InvalidArgument(format!(
            "entry {index} is {} bytes: a tlog-tiles entry bundle holds entries of at most {MAX_BUNDLED_ENTRY} bytes, so this ledger cannot be published past it",
            entry.len()
        ))
    })?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// The entries of a bundle, in order.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = match rest {
            [a, b, tail @ ..] => (usize::from(u16::from_be_bytes([*a, *b])), tail),
            _ => return Err(Error::malformed("entry bundle", "a dangling length byte")),
        };
        if tail.len() < len {
            return Err(Error::malformed(
                "entry bundle",
                format!("an entry of {len} bytes with {} left", tail.len()),
            ));
        }
        out.push(&tail[..len]);
        rest = &tail[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        let t = Object::Tile {
            level: 0,
            index: 1234067,
            width: 256,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let t = Object::Tile {
            level: 2,
            index: 1234067,
            width: 8,
        };
        assert_eq!(t.path(), "tile/2/x001/x234/067.p/8");
        assert_eq!(
            Object::Bundle { index: 0, width: 1 }.path(),
            "tile/entries/000.p/1"
        );
        assert_eq!(
            Object::Bundle {
                index: 1000,
                width: 256
            }
            .path(),
            "tile/entries/x001/000"
        );
    }

    #[test]
    fn a_full_plan_covers_every_level_and_an_increment_only_what_grew() {
        // 70,000 leaves: 273 full bundles and one of 112; level 1 has 273 nodes (one full tile
        // and one of 17), level 2 one node.
        let p = plan(0, 70_000);
        assert_eq!(
            p.iter()
                .filter(|o| matches!(o, Object::Bundle { .. }))
                .count(),
            274
        );
        assert!(p.contains(&Object::Tile {
            level: 1,
            index: 1,
            width: 17
        }));
        assert!(p.contains(&Object::Tile {
            level: 2,
            index: 0,
            width: 1
        }));
        assert_eq!(
            p.last(),
            Some(&Object::Tile {
                level: 2,
                index: 0,
                width: 1
            })
        );
        // 1,000 more on a large tree: a handful of objects, not a function of the size.
        let big = plan(1_000_000, 1_001_000);
        assert!(big.len() <= 14, "{}", big.len());
        assert!(plan(1_000_000_000, 1_000_001_000).len() <= 14);
        // An increment within one bundle rewrites just that bundle and the tiles above.
        assert_eq!(
            plan(10, 11),
            vec![
                Object::Bundle {
                    index: 0,
                    width: 11
                },
                Object::Tile {
                    level: 0,
                    index: 0,
                    width: 11
                }
            ]
        );
        assert!(plan(5, 5).is_empty());
    }

    #[test]
    fn bundles_round_trip_and_refuse_what_they_cannot_frame() {
        let mut b = Vec::new();
        push_entry(&mut b, 0, b"one").unwrap();
        push_entry(&mut b, 1, b"").unwrap();
        push_entry(&mut b, 2, &[7; MAX_BUNDLED_ENTRY]).unwrap();
        let e = parse_bundle(&b).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], b"one");
        assert_eq!(e[2].len(), MAX_BUNDLED_ENTRY);
        let err = push_entry(&mut b, 3, &[7; MAX_BUNDLED_ENTRY + 1]).unwrap_err();
        assert!(err.to_string().contains("entry 3"), "{err}");
        assert!(parse_bundle(&b[..b.len() - 1]).is_err());
        assert!(parse_bundle(&[0]).is_err());
    }
}
