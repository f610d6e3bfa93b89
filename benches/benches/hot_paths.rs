//! Micro-benchmarks of trailseal's hot paths (divan):
//!
//! ```sh
//! cargo bench -p trailseal-benches --bench hot_paths            # everything
//! cargo bench -p trailseal-benches --bench hot_paths -- hash    # only names matching "hash"
//! ```
//!
//! The proof benchmarks build a ledger of `TRAILSEAL_BENCH_SIZE` entries (default 100,000) in
//! a temporary directory first (a few seconds), removed at the end.

use std::path::PathBuf;
use std::sync::OnceLock;

use divan::counter::BytesCount;
use divan::{black_box, Bencher};
use serde_json::Value;
use trailseal::entry;
use trailseal::merkle::Frontier;
use trailseal::{ConsistencyProof, CreateOptions, Durability, HashAlg, InclusionProof, Ledger};
use trailseal_benches as tb;

const ALGS: [HashAlg; 2] = [HashAlg::Blake3, HashAlg::Sha256];

fn main() {
    divan::main();
    if let Some(dir) = DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A typical entry of the comparison's stream, and its index (its links point below it).
fn sample_entry() -> (Value, u64) {
    let index = 123_456;
    (tb::entry_json(index), index)
}

mod entry_path {
    use super::*;

    /// `entry::validate` + `ValidEntry::encode`: what an append does to each entry before
    /// hashing it.
    #[divan::bench]
    fn validate_and_encode(bencher: Bencher) {
        let (value, index) = sample_entry();
        let time = tb::fixed_time(index);
        let len = tb::encode(&value, index).len();
        bencher.counter(BytesCount::new(len)).bench(|| {
            let v = entry::validate(black_box(&value), index).unwrap();
            v.encode(&time, entry::DEFAULT_MAX_ENTRY_BYTES).unwrap()
        });
    }

    #[divan::bench]
    fn validate(bencher: Bencher) {
        let (value, index) = sample_entry();
        bencher.bench(|| {
            entry::validate(black_box(&value), index)
                .map(|_| ())
                .unwrap()
        });
    }

    #[divan::bench]
    fn encode(bencher: Bencher) {
        let (value, index) = sample_entry();
        let time = tb::fixed_time(index);
        let valid = entry::validate(&value, index).unwrap();
        bencher.bench(|| {
            black_box(valid)
                .encode(&time, entry::DEFAULT_MAX_ENTRY_BYTES)
                .unwrap()
        });
    }

    /// Formatting the ledger-assigned `time` (part of `encode`).
    #[divan::bench]
    fn timestamp_to_string() -> String {
        black_box(tb::fixed_time(42)).to_string()
    }
}

mod hashing {
    use super::*;

    /// `H(0x00 || leaf)` of a typical ~430-byte entry.
    #[divan::bench(args = ALGS)]
    fn leaf_hash(bencher: Bencher, alg: HashAlg) {
        let leaf = tb::leaf_bytes(123_456);
        bencher
            .counter(BytesCount::new(leaf.len()))
            .bench(|| alg.leaf_hash(black_box(&leaf)));
    }

    /// The leaf hashes of a bundle's worth of typical entries (64) at once, as `verify`
    /// hashes them (compare with 64 times `leaf_hash`).
    #[divan::bench(args = ALGS)]
    fn leaf_hashes_64(bencher: Bencher, alg: HashAlg) {
        let leaves: Vec<Vec<u8>> = (0..64).map(|i| tb::leaf_bytes(123_456 + i)).collect();
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let mut out = Vec::with_capacity(64);
        bencher
            .counter(BytesCount::new(leaves.iter().map(Vec::len).sum::<usize>()))
            .bench_local(|| {
                out.clear();
                alg.leaf_hashes(black_box(&refs), &mut out);
                out[63]
            });
    }

    /// `H(0x01 || left || right)`.
    #[divan::bench(args = ALGS)]
    fn node_hash(bencher: Bencher, alg: HashAlg) {
        let (l, r) = (alg.leaf_hash(b"left"), alg.leaf_hash(b"right"));
        bencher.bench(|| alg.node_hash(black_box(&l), black_box(&r)));
    }
}

mod frontier {
    use super::*;

    /// `Frontier::push` of one leaf hash (amortised: about one node hash per push), with a
    /// no-op node callback.
    #[divan::bench(args = ALGS)]
    fn push(bencher: Bencher, alg: HashAlg) {
        let mut f = Frontier::new();
        let h = alg.leaf_hash(b"leaf");
        bencher.bench_local(|| f.push(alg, black_box(h), |_, _| {}));
    }

    /// `Frontier::root` of a tree of 1,000,000 leaves (7 subtrees): computed once per receipt
    /// on the append path.
    #[divan::bench(args = ALGS)]
    fn root_at_1m(bencher: Bencher, alg: HashAlg) {
        let f = Frontier::from_subtrees(
            1_000_000,
            (0..1_000_000u64.count_ones())
                .map(|i| alg.leaf_hash(&i.to_le_bytes()))
                .collect(),
        )
        .unwrap();
        bencher.bench(|| black_box(&f).root(alg));
    }
}

static DIR: OnceLock<PathBuf> = OnceLock::new();

/// The shared ledger of the proof benchmarks, built on first use.
fn ledger() -> &'static Ledger {
    static LEDGER: OnceLock<Ledger> = OnceLock::new();
    LEDGER.get_or_init(|| {
        let size: u64 = std::env::var("TRAILSEAL_BENCH_SIZE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        let dir = DIR.get_or_init(|| {
            let d = std::env::temp_dir().join(format!("trailseal-divan-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            d
        });
        let mut opts = CreateOptions::new("bench.example/audit");
        opts.durability = Durability::NotDurableUntilSync;
        let ledger = Ledger::create(dir.join("proofs.redb"), &opts).unwrap();
        let mut done = 0;
        while done < size {
            let n = (size - done).min(tb::BATCH as u64) as usize;
            ledger.append_batch(&tb::entries(done, n)).unwrap();
            done += n as u64;
        }
        ledger.sync().unwrap();
        ledger
    })
}

mod proofs {
    use super::*;

    /// `Ledger::prove_inclusion` of a random leaf against the current size.
    #[divan::bench]
    fn prove_inclusion(bencher: Bencher) {
        let l = ledger();
        let size = l.size().unwrap();
        let mut rng = tb::Rng::new(1);
        bencher.bench_local(|| l.prove_inclusion(rng.below(size), None).unwrap());
    }

    /// `Ledger::prove_consistency` from a random older size to the current size.
    #[divan::bench]
    fn prove_consistency(bencher: Bencher) {
        let l = ledger();
        let size = l.size().unwrap();
        let mut rng = tb::Rng::new(2);
        bencher.bench_local(|| l.prove_consistency(1 + rng.below(size), None).unwrap());
    }

    fn some_inclusion_proofs() -> Vec<InclusionProof> {
        let l = ledger();
        let size = l.size().unwrap();
        let mut rng = tb::Rng::new(3);
        (0..256)
            .map(|_| l.prove_inclusion(rng.below(size), None).unwrap())
            .collect()
    }

    fn some_consistency_proofs() -> Vec<ConsistencyProof> {
        let l = ledger();
        let size = l.size().unwrap();
        let mut rng = tb::Rng::new(4);
        (0..256)
            .map(|_| l.prove_consistency(1 + rng.below(size), None).unwrap())
            .collect()
    }

    /// `InclusionProof::verify` (pure computation: fold the path to the root).
    #[divan::bench]
    fn verify_inclusion(bencher: Bencher) {
        let proofs = some_inclusion_proofs();
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 1) % proofs.len();
            black_box(&proofs[i]).verify().unwrap()
        });
    }

    /// `ConsistencyProof::verify`.
    #[divan::bench]
    fn verify_consistency(bencher: Bencher) {
        let proofs = some_consistency_proofs();
        let mut i = 0;
        bencher.bench_local(|| {
            i = (i + 1) % proofs.len();
            black_box(&proofs[i]).verify().unwrap()
        });
    }
}
