//! Posting lists: the pure half of the query indexes (no I/O; [`crate::storage`] stores them).
//!
//! A posting says "leaf `index` is filed under index term `t`" (an actor, a ref, ...; see
//! [`crate::query::Term`]). Postings are kept as `(term hash, index)` pairs, sorted, in
//! *runs*: each commit writes its own postings as one new run, and runs are merged, eight at a
//! time, into bigger ones (a log-structured merge). Why: about 2.5 of the ~8 terms of a
//! typical entry are nearly unique (a commit ref, a link target, a ticket), and filing each of
//! them under its own key in one big B-tree scatters every commit's inserts over the whole
//! tree, so every commit rewrites about as many pages as it has entries. A run is written in
//! key order at the tree's right edge, and each posting is rewritten once per merge level,
//! sequentially (about four times at 10 million entries).
//!
//! Terms are filed under a 64-bit hash ([`term_hash`], XXH3) rather than their bytes: it keeps
//! a unique posting at about ten bytes. Two terms may share a hash; queries therefore re-check
//! every entry they load against their terms (which also keeps a doctored index from
//! misattributing entries).
//!
//! # Block format
//!
//! A run is stored as blocks of up to about [`BLOCK_BYTES`] bytes. A block is keyed by its
//! first posting `(hash, index)`; its value holds the postings after the first, each as
//! LEB128 `hash delta`, then LEB128 `index` when the hash delta is non-zero (a new term), or
//! `index delta` (at least 1) when it is zero (the same term, the next index). So a block's
//! postings are strictly ascending by construction, and a long posting list costs one or two
//! bytes per posting.

/// Close a block once its value reaches this many bytes: it then fits one 4 KiB redb page
/// together with its key and the page header.
pub const BLOCK_BYTES: usize = 4096 - 192;

/// Runs of the same level are merged this many at a time into one run of the next level.
pub const MERGE_WIDTH: usize = 8;

/// One posting: `(term hash, leaf index)`, ordered by hash, then index.
pub type Posting = (u64, u64);

/// The 64-bit hash a term's key (`query::Term::key`) is filed under: XXH3-64, seed 0 (a
/// published, stable function: the stored indexes don't depend on the Rust version).
pub fn term_hash(term_key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(term_key)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*at)
            .ok_or_else(|| format!("truncated at byte {at}"))?;
        *at += 1;
        let low = u64::from(b & 0x7f);
        if shift == 63 && low > 1 {
            return Err(format!("varint overflows 64 bits at byte {}", *at - 1));
        }
        v |= low << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(format!("varint longer than 10 bytes at byte {at}"))
}

/// Builds one run's blocks from postings pushed in ascending order.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    first: Option<Posting>,
    prev: Posting,
    bytes: Vec<u8>,
    count: u64,
}

impl BlockBuilder {
    /// Append a posting; it must be greater than the previous one (callers sort and dedup).
    pub fn push(&mut self, p: Posting) {
        match self.first {
            None => self.first = Some(p),
            Some(_) => {
                debug_assert!(p > self.prev, "postings pushed out of order");
                let dh = p.0.wrapping_sub(self.prev.0);
                put_varint(&mut self.bytes, dh);
                if dh == 0 {
                    put_varint(&mut self.bytes, p.1.wrapping_sub(self.prev.1));
                } else {
                    put_varint(&mut self.bytes, p.1);
                }
            }
        }
        self.prev = p;
        self.count += 1;
    }

    /// True once the block should be closed (see [`BLOCK_BYTES`]).
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= BLOCK_BYTES
    }

    /// Close the block: its key (first posting), value and number of postings; `None` if
    /// nothing was pushed since the last call.
    pub fn take(&mut self) -> Option<(Posting, Vec<u8>, u64)> {
        let first = self.first.take()?;
        let count = std::mem::take(&mut self.count);
        Some((first, std::mem::take(&mut self.bytes), count))
    }
}

/// Decode a block keyed `first`: every posting in it, ascending. An error names what is wrong
/// (a doctored or damaged block).
pub fn decode_block(first: Posting, bytes: &[u8]) -> Result<Vec<Posting>, String> {
    let mut out = Vec::with_capacity(1 + bytes.len() / 2);
    out.push(first);
    let mut prev = first;
    let mut at = 0;
    while at < bytes.len() {
        let dh = get_varint(bytes, &mut at)?;
        let next = if dh == 0 {
            let di = get_varint(bytes, &mut at)?;
            if di == 0 {
                return Err(format!("posting repeated at byte {at}"));
            }
            let i = prev
                .1
                .checked_add(di)
                .ok_or_else(|| format!("index overflows at byte {at}"))?;
            (prev.0, i)
        } else {
            let h = prev
                .0
                .checked_add(dh)
                .ok_or_else(|| format!("term hash overflows at byte {at}"))?;
            (h, get_varint(bytes, &mut at)?)
        };
        out.push(next);
        prev = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(postings: &[Posting]) -> Vec<(Posting, Vec<u8>, u64)> {
        let mut b = BlockBuilder::default();
        let mut out = Vec::new();
        for &p in postings {
            b.push(p);
            if b.is_full() {
                out.extend(b.take());
            }
        }
        out.extend(b.take());
        out
    }

    #[test]
    fn blocks_round_trip() {
        let mut ps: Vec<Posting> = Vec::new();
        for t in 0..3000u64 {
            let h = term_hash(&t.to_le_bytes());
            for i in 0..(t % 7 + 1) {
                ps.push((h, t * 13 + i * 1_000_003));
            }
        }
        ps.push((u64::MAX, u64::MAX));
        ps.push((0, 0));
        ps.sort();
        ps.dedup();
        let bs = blocks(&ps);
        assert!(bs.len() > 3, "several blocks");
        let mut back = Vec::new();
        for (k, v, n) in &bs {
            assert!(v.len() < BLOCK_BYTES + 20);
            let d = decode_block(*k, v).unwrap();
            assert_eq!(d.len() as u64, *n);
            back.extend(d);
        }
        assert_eq!(back, ps);
    }

    #[test]
    fn doctored_blocks_are_refused_not_panicked_on() {
        let first = (5, 5);
        assert!(decode_block(first, &[0x80]).is_err(), "truncated varint");
        assert!(decode_block(first, &[0, 0]).is_err(), "repeated posting");
        assert!(decode_block(first, &[0]).is_err(), "missing index");
        let mut huge = vec![0xff; 10];
        huge.push(0x01);
        assert!(decode_block(first, &huge).is_err(), "overlong varint");
        assert!(
            decode_block((u64::MAX, 0), &[1, 0]).is_err(),
            "hash overflow"
        );
        assert!(
            decode_block((1, u64::MAX), &[0, 1]).is_err(),
            "index overflow"
        );
        assert_eq!(decode_block(first, &[]).unwrap(), vec![first]);
    }

    #[test]
    fn term_hash_is_the_published_xxh3() {
        // XXH3-64 of the empty input, seed 0 (the reference implementation's test value).
        assert_eq!(term_hash(b""), 0x2D06_8005_38D3_94C2);
    }
}
