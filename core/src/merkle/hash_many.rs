//! BLAKE3 leaf hashes of many leaves at once, for `verify`.
//!
//! Hashing one short input at a time runs BLAKE3's compression function on one block at a
//! time: for a ~430-byte leaf, seven compressions in a row, about 40% of `verify`'s CPU. BLAKE3
//! is built to compress the same block position of many inputs at once in SIMD lanes (16 with
//! AVX-512, 8 with AVX2, 4 with SSE4.1), which the `blake3` crate does for the chunks of one
//! long input with `Platform::hash_many`. Leaves are chunks of their own one-chunk messages, so
//! the same kernel hashes many leaves at once: every block but the last of each leaf goes
//! through `hash_many` (leaves with the same number of such blocks together), and the last
//! block, which carries the `CHUNK_END | ROOT` flags and the leaf's own length, is compressed
//! alone.
//!
//! `blake3::platform` is the crate's own dispatch to its tested SIMD kernels, public but
//! hidden and outside its semver promise, so the workspace pins `blake3` to one exact
//! version; `tests` compare every length with `blake3::hash`. Inputs longer than one chunk
//! (1024 bytes, the `0x00` prefix included) take the ordinary hasher.

use blake3::platform::Platform;
use blake3::IncrementCounter;

/// A 32-byte hash; this module works on bytes alone, so the tree math can call it without
/// it depending back on the tree math.
type Hash = [u8; 32];

const BLOCK_LEN: usize = 64;
const CHUNK_LEN: usize = 1024;
/// The flags and IV of the BLAKE3 specification (section 2.1 and 2.2).
const CHUNK_START: u8 = 1;
const CHUNK_END: u8 = 2;
const ROOT: u8 = 8;
const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// Buffers reused across calls on one thread (`verify` calls once per bundle).
#[derive(Default)]
struct Scratch {
    /// Indexes of the leaves of one chunk, ordered by their number of leading blocks.
    order: Vec<usize>,
    /// The leading blocks of one group's leaves, `0x00` prefix included, end to end.
    bytes: Vec<u8>,
    /// The chaining values after them, 32 bytes a leaf.
    cvs: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Groups of leaves by their number of blocks before the last one (0..=15).
const GROUPS: usize = CHUNK_LEN / BLOCK_LEN;

/// `BLAKE3(0x00 || leaf)` of one leaf, the plain way (leaves of a chunk or more).
fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&[0x00]);
    h.update(leaf);
    *h.finalize().as_bytes()
}

/// Appends `BLAKE3(0x00 || leaf)` for each of `leaves` to `out`, in order.
pub(super) fn blake3_leaf_hashes(leaves: &[&[u8]], out: &mut Vec<Hash>) {
    let platform = Platform::detect();
    let base = out.len();
    out.resize(base + leaves.len(), [0; 32]);
    let hashes = &mut out[base..];
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        // A counting sort of the one-chunk leaves by group; longer ones hashed at once.
        let leading = |leaf: &[u8]| leaf.len() / BLOCK_LEN;
        let mut starts = [0usize; GROUPS + 1];
        for (i, leaf) in leaves.iter().enumerate() {
            if leaf.len() < CHUNK_LEN {
                starts[leading(leaf) + 1] += 1;
            } else {
                hashes[i] = leaf_hash(leaf);
            }
        }
        for g in 1..=GROUPS {
            starts[g] += starts[g - 1];
        }
        s.order.clear();
        s.order.resize(starts[GROUPS], 0);
        let mut fill = starts;
        for (i, leaf) in leaves.iter().enumerate() {
            if leaf.len() < CHUNK_LEN {
                let g = leading(leaf);
                s.order[fill[g]] = i;
                fill[g] += 1;
            }
        }
        for full in 0..GROUPS {
            let members = &s.order[starts[full]..starts[full + 1]];
            if !members.is_empty() {
                group(
                    platform,
                    full,
                    leaves,
                    members,
                    &mut s.bytes,
                    &mut s.cvs,
                    hashes,
                );
            }
        }
    });
}

/// Hashes the leaves `members` of `leaves`, each `full` blocks before its last one.
fn group(
    platform: Platform,
    full: usize,
    leaves: &[&[u8]],
    members: &[usize],
    bytes: &mut Vec<u8>,
    cvs: &mut Vec<u8>,
    hashes: &mut [Hash],
) {
    // The chaining value after the leading blocks: the IV when there are none.
    cvs.clear();
    cvs.resize(members.len() * 32, 0);
    if full == 0 {
        for cv in cvs.chunks_exact_mut(32) {
            write_words(&IV, cv);
        }
    } else {
        let span = full * BLOCK_LEN;
        bytes.clear();
        for &i in members {
            bytes.push(0x00);
            bytes.extend_from_slice(&leaves[i][..span - 1]);
        }
        leading_blocks(platform, full, bytes, cvs);
    }
    for (&i, cv) in members.iter().zip(cvs.chunks_exact(32)) {
        let leaf = leaves[i];
        // The last block: bytes `full * 64 ..` of `0x00 || leaf`, zero-padded.
        let mut block = [0u8; BLOCK_LEN];
        let block_len = if full == 0 {
            block[1..=leaf.len()].copy_from_slice(leaf);
            leaf.len() + 1
        } else {
            let start = full * BLOCK_LEN - 1;
            block[..leaf.len() - start].copy_from_slice(&leaf[start..]);
            leaf.len() - start
        };
        let mut words = read_words(cv);
        let start_flag = if full == 0 { CHUNK_START } else { 0 };
        platform.compress_in_place(
            &mut words,
            &block,
            block_len as u8,
            0,
            start_flag | CHUNK_END | ROOT,
        );
        write_words(&words, &mut hashes[i]);
    }
}

/// The chaining values of `bytes`' inputs of `full` blocks each after those blocks, into
/// `cvs` (32 bytes each). `hash_many` takes its inputs as arrays of one length, so each
/// length from 1 to 15 blocks is its own instance.
fn leading_blocks(platform: Platform, full: usize, bytes: &[u8], cvs: &mut [u8]) {
    macro_rules! by_length {
        ($($blocks:literal),*) => {
            match full {
                $($blocks => hash_many::<{ $blocks * BLOCK_LEN }>(platform, bytes, cvs),)*
                _ => unreachable!("a leaf of one chunk has at most 15 blocks before its last"),
            }
        };
    }
    by_length!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
}

/// Inputs handed to `hash_many` at once: as many as the widest SIMD kernel (AVX-512) takes.
const LANES: usize = 16;

fn hash_many<const N: usize>(platform: Platform, bytes: &[u8], cvs: &mut [u8]) {
    let zero = [0u8; N];
    let mut inputs = [&zero; LANES];
    for (chunk, cvs) in bytes.chunks(N * LANES).zip(cvs.chunks_mut(32 * LANES)) {
        let mut k = 0;
        for (slot, input) in inputs.iter_mut().zip(chunk.chunks_exact(N)) {
            if let Ok(input) = input.try_into() {
                *slot = input;
                k += 1;
            }
        }
        platform.hash_many(
            &inputs[..k],
            &IV,
            0,
            IncrementCounter::No,
            0,
            CHUNK_START,
            0,
            &mut cvs[..32 * k],
        );
    }
}

fn read_words(bytes: &[u8]) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    words
}

fn write_words(words: &[u32; 8], out: &mut [u8]) {
    for (w, b) in words.iter().zip(out.chunks_exact_mut(4)) {
        b.copy_from_slice(&w.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(leaf: &[u8]) -> Hash {
        *blake3::Hasher::new()
            .update(&[0x00])
            .update(leaf)
            .finalize()
            .as_bytes()
    }

    #[test]
    fn every_length_matches_the_reference_hasher() {
        // Every length up to two chunks, all at once (groups of each block count, lanes
        // partly filled) and one at a time.
        let data: Vec<u8> = (0..2100u32).map(|i| (i * 31 + i / 7) as u8).collect();
        let leaves: Vec<&[u8]> = (0..=2100).map(|n| &data[..n.min(data.len())]).collect();
        let mut out = vec![[7u8; 32]];
        blake3_leaf_hashes(&leaves, &mut out);
        assert_eq!(out[0], [7u8; 32], "what was already there is kept");
        for (leaf, got) in leaves.iter().zip(&out[1..]) {
            assert_eq!(*got, reference(leaf), "length {}", leaf.len());
            let mut one = Vec::new();
            blake3_leaf_hashes(&[leaf], &mut one);
            assert_eq!(one, vec![reference(leaf)], "length {} alone", leaf.len());
        }
    }

    #[test]
    fn many_leaves_of_one_length_fill_every_lane() {
        // More leaves of one block count than any SIMD degree, each different, in an order
        // that interleaves lengths.
        let leaves: Vec<Vec<u8>> = (0..100u32)
            .map(|i| {
                let len = if i % 3 == 0 {
                    430
                } else {
                    400 + (i as usize % 29)
                };
                (0..len)
                    .map(|j| (j as u32 ^ i.wrapping_mul(2654435761)) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        blake3_leaf_hashes(&refs, &mut out);
        let want: Vec<Hash> = refs.iter().map(|l| reference(l)).collect();
        assert_eq!(out, want);
    }
}
