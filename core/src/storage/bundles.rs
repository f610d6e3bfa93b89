//! Leaf bundles: up to [`BUNDLE_MAX_LEAVES`] consecutive leaves in one value of the `leaves`
//! table (the parent module's docs say why). A stored bundle is a tag byte, then the leaves
//! framed by u32 lengths, plain or LZ4-compressed.

use redb::ReadableTable;

use super::tables::storage_err;
use crate::error::{Error, Result};

/// Leaves per bundle at most.
pub const BUNDLE_MAX_LEAVES: usize = 128;
/// A batch's bundle takes no leaf that would make it longer than this (unless it is its
/// first); typical entries close it earlier, at [`BUNDLE_MAX_LEAVES`] or
/// [`PACKED_BUNDLE_BYTES`]. Just under a power of two, less the page header and key.
pub const BUNDLE_CLOSE_BYTES: usize = 32 * 1024 - 96;
/// What a closed, compressed bundle should take at most: two 4 KiB pages with their header
/// and key. redb gives a value that outgrows one page a run of pages rounded up to a power of
/// two (a bundle of 8.5 KiB would take 16 KiB), so a batch closes a bundle at the size that the
/// compression ratio of the bundle before it says will compress to this, with a twentieth to
/// spare (between [`SMALL_BUNDLE_CLOSE_BYTES`] and [`BUNDLE_CLOSE_BYTES`]). Two pages rather
/// than one: every value read through redb costs a buffer, a cache insertion and a system call,
/// and `verify` measured 10% faster with half as many (a read of one entry then decompresses
/// up to 32 KiB, a few microseconds).
pub const PACKED_BUNDLE_BYTES: usize = 8192 - 64;
/// Commits of fewer leaves than this (single appends, small group commits) close bundles at
/// [`SMALL_BUNDLE_CLOSE_BYTES`]: each such commit rewrites the open bundle, and a bundle that
/// fits one page costs one page write.
pub const SMALL_COMMIT_LEAVES: usize = 16;
/// What fits one 4 KiB redb leaf page with its header, key and length.
pub const SMALL_BUNDLE_CLOSE_BYTES: usize = 4096 - 16;

/// Iterate the leaves framed in a bundle.
pub(super) fn bundle_leaves(bundle: &[u8]) -> impl Iterator<Item = Result<&[u8]>> + '_ {
    let mut rest = bundle;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let item = rest
            .get(..4)
            .map(|n| u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize)
            .and_then(|n| rest.get(4..4 + n).map(|leaf| (leaf, 4 + n)));
        match item {
            Some((leaf, used)) => {
                rest = &rest[used..];
                Some(Ok(leaf))
            }
            None => {
                rest = &[];
                Some(Err(Error::Tampered {
                    location: "leaf bundle".into(),
                    detail: "framing is cut short".into(),
                }))
            }
        }
    })
}

pub(super) fn push_framed(bundle: &mut Vec<u8>, leaf: &[u8]) {
    bundle.extend_from_slice(&(leaf.len() as u32).to_le_bytes());
    bundle.extend_from_slice(leaf);
}

/// First byte of a stored bundle: the framed leaves follow as they are.
pub(super) const BUNDLE_PLAIN: u8 = 0;
/// First byte of a stored bundle: the framed leaves follow LZ4-compressed (block format),
/// after their length as a little-endian u32.
pub(super) const BUNDLE_LZ4: u8 = 1;
/// LZ4 expands at most about 255 times; a stored length beyond that is not one this library
/// wrote, and is refused before anything is allocated for it.
const LZ4_MAX_RATIO: usize = 255;

/// The stored form of a bundle that is open (the last one): framed leaves behind a tag byte,
/// so the next small commit can extend it without decompressing.
pub(super) fn stored_plain(framed: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + framed.len());
    v.push(BUNDLE_PLAIN);
    v.extend_from_slice(framed);
    v
}

/// The stored form of a closed bundle: compressed when that is smaller. Audit entries of one
/// bundle repeat their keys, actors and actions, so this typically stores a third of the bytes.
pub(super) fn stored_closed(framed: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(framed.len())];
    match lz4_flex::block::compress_into(framed, &mut v[5..]) {
        Ok(n) if 5 + n < 1 + framed.len() => {
            v[0] = BUNDLE_LZ4;
            v[1..5].copy_from_slice(&(framed.len() as u32).to_le_bytes());
            v.truncate(5 + n);
            v
        }
        _ => stored_plain(framed),
    }
}

/// How many times smaller than its framed leaves stored bundle `value` is (1 if plain).
fn stored_ratio(value: &[u8]) -> f64 {
    match value {
        [BUNDLE_LZ4, a, b, c, d, ..] => {
            u32::from_le_bytes([*a, *b, *c, *d]) as f64 / value.len() as f64
        }
        _ => 1.0,
    }
}

/// The framed leaves of stored bundle `value`, whose first leaf is `start`: borrowed when it
/// is plain, else decompressed into `buf`.
pub(super) fn unpack_bundle<'a>(
    start: u64,
    value: &'a [u8],
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8]> {
    let bad = |detail: String| Error::Tampered {
        location: format!("leaf {start}"),
        detail: format!("its bundle {detail}"),
    };
    match value.split_first() {
        Some((&BUNDLE_PLAIN, framed)) => Ok(framed),
        Some((&BUNDLE_LZ4, rest)) if rest.len() >= 4 => {
            let (len, packed) = rest.split_at(4);
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > packed.len().saturating_mul(LZ4_MAX_RATIO) {
                return Err(bad(format!(
                    "claims {len} bytes from {} compressed ones",
                    packed.len()
                )));
            }
            // Only new capacity is zeroed: a successful decompression writes every byte.
            buf.resize(len, 0);
            match lz4_flex::block::decompress_into(packed, buf) {
                Ok(n) if n == len => Ok(buf.as_slice()),
                Ok(n) => Err(bad(format!("decompresses to {n} bytes, not {len}"))),
                Err(e) => Err(bad(format!("does not decompress: {e}"))),
            }
        }
        Some((tag, _)) => Err(bad(format!("has an unknown encoding ({tag})"))),
        None => Err(bad("is empty".into())),
    }
}

/// Write leaves `first..` into bundles: the open last bundle continued while it has room,
/// closed ones stored compressed (including the previously open one, if this commit closes
/// it), the one left open stored plain.
pub(super) fn append_leaves(
    table: &mut redb::Table<'_, u64, &'static [u8]>,
    first: u64,
    leaves: &[Vec<u8>],
) -> Result<()> {
    // A small commit rewrites the open bundle whole; keeping the bundles such commits
    // fill to one page makes that a 4 KiB write instead of up to 32 KiB. A larger one
    // closes bundles at what will compress to two pages (see `PACKED_BUNDLE_BYTES`).
    let small = leaves.len() < SMALL_COMMIT_LEAVES;
    let close_at = |ratio: f64| {
        if small {
            SMALL_BUNDLE_CLOSE_BYTES
        } else {
            ((PACKED_BUNDLE_BYTES as f64 * ratio * 0.95) as usize)
                .clamp(SMALL_BUNDLE_CLOSE_BYTES, BUNDLE_CLOSE_BYTES)
        }
    };
    // The open last bundle (stored plain), and how well the one before it compressed.
    let (open, ratio) = {
        let mut newest = table.range::<u64>(..).map_err(storage_err)?.rev();
        let open = match newest.next().transpose().map_err(storage_err)? {
            Some((k, v)) => match v.value().split_first() {
                Some((&BUNDLE_PLAIN, framed)) => Some((k.value(), framed.to_vec())),
                // Compressed already: closed.
                _ => None,
            },
            None => None,
        };
        let before = newest.next().transpose().map_err(storage_err)?;
        (open, before.map_or(1.0, |(_, v)| stored_ratio(v.value())))
    };
    let mut close = close_at(ratio);
    let (mut start, mut bundle) = open.unwrap_or((first, Vec::new()));
    let mut count = bundle_leaves(&bundle).count();
    for (index, leaf) in (first..).zip(leaves) {
        let full =
            count >= BUNDLE_MAX_LEAVES || (count > 0 && 1 + bundle.len() + 4 + leaf.len() > close);
        if full {
            // Compressing here costs a batch about what the smaller write-out saves; on a
            // thread of its own, beside the tile and index writes, it measured slower (the
            // ledger computes the receipts' roots on the other core meanwhile).
            let stored = stored_closed(&bundle);
            table
                .insert(start, stored.as_slice())
                .map_err(storage_err)?;
            close = close_at(bundle.len() as f64 / stored.len() as f64);
            start = index;
            bundle.clear();
            count = 0;
        }
        push_framed(&mut bundle, leaf);
        count += 1;
    }
    table
        .insert(start, stored_plain(&bundle).as_slice())
        .map_err(storage_err)?;
    Ok(())
}

/// Remove the bytes of leaves `range` (pruning): each bundle holding some of them is
/// rewritten with those leaves framed as empty, so the bundles stay contiguous and every other
/// leaf keeps its place. An entry is never empty, so in an entries ledger an empty leaf is a
/// pruned one (which `verify` accepts only where a pruning record covers it). `gone` gets each
/// leaf's bytes before they go (leaves already empty are skipped). Closed bundles are stored
/// compressed again (a bundle of blanks takes a few bytes); the last one stays plain, so the
/// next append can still extend it. One bundle in memory at a time.
pub(super) fn blank_leaves(
    table: &mut redb::Table<'_, u64, &'static [u8]>,
    range: std::ops::Range<u64>,
    mut gone: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let last_key = table.last().map_err(storage_err)?.map(|(k, _)| k.value());
    let mut at = range.start;
    let mut buf = Vec::new();
    while at < range.end {
        let (first, value) = {
            let mut r = table.range(..=at).map_err(storage_err)?;
            let (k, v) = r
                .next_back()
                .ok_or_else(|| missing_leaf(at))?
                .map_err(storage_err)?;
            (k.value(), v.value().to_vec())
        };
        let framed = unpack_bundle(first, &value, &mut buf)?;
        let mut rewritten = Vec::with_capacity(framed.len());
        let mut index = first;
        for leaf in bundle_leaves(framed) {
            let leaf = leaf?;
            if range.contains(&index) && !leaf.is_empty() {
                gone(index, leaf)?;
                push_framed(&mut rewritten, b"");
            } else {
                push_framed(&mut rewritten, leaf);
            }
            index += 1;
        }
        if index <= at {
            return Err(missing_leaf(at));
        }
        let stored = if Some(first) == last_key {
            stored_plain(&rewritten)
        } else {
            stored_closed(&rewritten)
        };
        table
            .insert(first, stored.as_slice())
            .map_err(storage_err)?;
        at = index;
    }
    Ok(())
}

pub(super) fn missing_leaf(index: u64) -> Error {
    Error::Tampered {
        location: format!("leaf {index}"),
        detail: "no stored leaf bytes".into(),
    }
}

/// A bundle's framed leaves, `first..end`.
pub(super) struct Unpacked {
    first: u64,
    end: u64,
    framed: Vec<u8>,
}

impl Unpacked {
    pub(super) fn leaf(&self, index: u64) -> Option<Result<&[u8]>> {
        let skip = index.checked_sub(self.first).filter(|_| index < self.end)?;
        bundle_leaves(&self.framed).nth(skip as usize)
    }

    pub(super) fn leaf_bytes(&self, index: u64) -> Result<Vec<u8>> {
        let leaf = self.leaf(index).ok_or_else(|| missing_leaf(index))??;
        Ok(leaf.to_vec())
    }
}

/// The bundle holding leaf `index`, decompressed.
pub(super) fn bundle_of(
    table: &impl ReadableTable<u64, &'static [u8]>,
    index: u64,
) -> Result<Unpacked> {
    let mut range = table.range(..=index).map_err(storage_err)?;
    let (start, bundle) = range
        .next_back()
        .ok_or_else(|| missing_leaf(index))?
        .map_err(storage_err)?;
    let (first, value) = (start.value(), bundle.value());
    // A compressed bundle is decompressed into `buf`, which is then the bundle; a plain one
    // is copied out of the table.
    let mut buf = Vec::new();
    let framed = if value.first() == Some(&BUNDLE_PLAIN) {
        unpack_bundle(first, value, &mut buf)?.to_vec()
    } else {
        unpack_bundle(first, value, &mut buf)?;
        buf
    };
    let count = bundle_leaves(&framed).count() as u64;
    Ok(Unpacked {
        first,
        end: first + count,
        framed,
    })
}

pub(super) fn read_leaf(
    table: &impl ReadableTable<u64, &'static [u8]>,
    index: u64,
) -> Result<Vec<u8>> {
    bundle_of(table, index)?.leaf_bytes(index)
}

/// How many leaves the stored bundles hold (the last bundle's first index plus its leaves).
pub(super) fn stored_leaves(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    match table.last().map_err(storage_err)? {
        Some((k, v)) => {
            let mut n = 0u64;
            let mut buf = Vec::new();
            for leaf in bundle_leaves(unpack_bundle(k.value(), v.value(), &mut buf)?) {
                leaf?;
                n += 1;
            }
            Ok(k.value() + n)
        }
        None => Ok(0),
    }
}

/// Leaves `first..end` of a leaf table as `(index, bytes)`, in order.
pub(super) fn leaf_range<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    first: u64,
    end: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    leaf_batches(table, first, end, |at, leaves| {
        leaves
            .iter()
            .enumerate()
            .try_for_each(|(i, leaf)| f(at + i as u64, leaf))
    })
}

/// Leaves `first..end` of a leaf table, a bundle's worth at a time (see [`walk_bundles`]).
pub(super) fn leaf_batches<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    first: u64,
    end: u64,
    f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
) -> Result<()> {
    let start = match table.range(..=first).map_err(storage_err)?.next_back() {
        Some(item) => item.map_err(storage_err)?.0.value(),
        None => 0,
    };
    let next = walk_bundles(table, start, first, end, f)?;
    if next < end {
        return Err(Error::Tampered {
            location: format!("leaf {next}"),
            detail: format!("missing: leaves up to {end} were expected"),
        });
    }
    Ok(())
}

/// Walk the bundles from the one keyed `start`, checking they are contiguous, and call `f`
/// with the leaves of each bundle that fall in `first..end` and the index of the first of
/// them. Returns the index after the last leaf walked.
fn walk_bundles<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    start: u64,
    first: u64,
    end: u64,
    mut f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
) -> Result<u64> {
    let mut next = start;
    let mut buf = Vec::new();
    for item in table.range(start..).map_err(storage_err)? {
        let (key, bundle) = item.map_err(storage_err)?;
        if key.value() != next {
            return Err(Error::Tampered {
                location: format!("leaf {next}"),
                detail: format!("leaf bundles jump from {next} to {}", key.value()),
            });
        }
        let at = next.max(first);
        let mut leaves = Vec::with_capacity(BUNDLE_MAX_LEAVES);
        let mut ended = false;
        for leaf in bundle_leaves(unpack_bundle(next, bundle.value(), &mut buf)?) {
            let leaf = leaf?;
            if next >= end {
                ended = true;
                break;
            }
            if next >= first {
                leaves.push(leaf);
            }
            next += 1;
        }
        if !leaves.is_empty() {
            f(at, &leaves)?;
        }
        if ended {
            return Ok(next);
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_framing_round_trips() {
        let mut b = Vec::new();
        push_framed(&mut b, b"one");
        push_framed(&mut b, b"");
        push_framed(&mut b, b"three");
        let got: Vec<&[u8]> = bundle_leaves(&b).map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![&b"one"[..], b"", b"three"]);
        b.pop();
        assert!(bundle_leaves(&b).any(|r| r.is_err()));
    }

    fn framed<L: AsRef<[u8]>>(leaves: &[L]) -> Vec<u8> {
        let mut b = Vec::new();
        for leaf in leaves {
            push_framed(&mut b, leaf.as_ref());
        }
        b
    }

    #[test]
    fn closed_bundles_are_compressed_when_that_is_smaller() {
        let entry = br#"{"actor":{"id":"alice@example.com","role":"release"},"action":"deploy"}"#;
        let b = framed(&[entry; 40]);
        let stored = stored_closed(&b);
        assert_eq!(stored[0], BUNDLE_LZ4);
        assert!(
            stored.len() * 4 < b.len(),
            "{} of {}",
            stored.len(),
            b.len()
        );
        let mut buf = vec![9u8; 3];
        assert_eq!(unpack_bundle(0, &stored, &mut buf).unwrap(), b.as_slice());
        // Bytes that do not compress are stored plain, one tag byte longer.
        let mut noise = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..512 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        let b = framed(&[&noise]);
        let stored = stored_closed(&b);
        assert_eq!((stored[0], stored.len()), (BUNDLE_PLAIN, b.len() + 1));
        assert_eq!(unpack_bundle(0, &stored, &mut buf).unwrap(), b.as_slice());
        assert_eq!(
            unpack_bundle(0, &stored_plain(&b), &mut buf).unwrap(),
            b.as_slice()
        );
    }

    #[test]
    fn damaged_stored_bundles_are_tampered_not_panics() {
        let b = framed(&[b"{\"action\":\"deploy\"}"; 30]);
        let good = stored_closed(&b);
        assert_eq!(good[0], BUNDLE_LZ4);
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut short = good.clone();
        short[1..5].copy_from_slice(&((b.len() - 1) as u32).to_le_bytes());
        let cut = good[..good.len() - 3].to_vec();
        let mut unknown = good.clone();
        unknown[0] = 7;
        let cases: [(&[u8], &str); 6] = [
            (&huge, "claims 4294967295 bytes"),
            (&short, "not decompress"),
            (&cut, "not decompress"),
            (&unknown, "unknown encoding (7)"),
            (&[], "is empty"),
            (&[BUNDLE_LZ4, 1], "unknown encoding (1)"),
        ];
        let mut buf = Vec::new();
        for (value, want) in cases {
            let err = unpack_bundle(64, value, &mut buf).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Tampered, "{err}");
            assert!(err.to_string().contains("leaf 64"), "{err}");
            assert!(err.to_string().contains(want), "{want}: {err}");
        }
        // Every single-byte change either fails cleanly or decodes to some bytes (which the
        // leaf hashes then catch); none panics.
        for i in 0..good.len() {
            let mut v = good.clone();
            v[i] ^= 0x5a;
            let _ = unpack_bundle(0, &v, &mut buf);
        }
    }
}
