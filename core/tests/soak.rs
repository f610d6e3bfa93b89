//! A bounded soak: one writer thread appending (single entries and batches, some retried ids,
//! checkpoints), several reader threads (sizes, roots, proofs, entries, queries, full verify
//! against the latest checkpoint), and the writer periodically dropping the handle and
//! reopening the file, with every thread checking invariants throughout:
//!
//! - the size seen by a thread never shrinks;
//! - the root at a size never changes (whoever saw it first, receipt or reader);
//! - every proof verifies and leads to that root; every entry is the one written at its index;
//! - `verify` passes against the latest checkpoint, and at the end every receipt holds.
//!
//! Runs for `TRAILSEAL_SOAK_SECS` seconds (default 3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::merkle::Hash;
use trailseal::query::Query;
use trailseal::{
    Checkpoint, CreateOptions, ErrorCode, Ledger, OpenOptions, Receipt, Signer, VerifyOptions,
};

mod common;
use common::Rng;

const ORIGIN: &str = "example.com/soak";
const READERS: usize = 4;

/// What every thread agrees on.
#[derive(Default)]
struct Shared {
    /// The root at each size, as first seen.
    roots: Mutex<HashMap<u64, Hash>>,
    /// The latest checkpoint note.
    checkpoint: Mutex<Option<String>>,
    /// Number of reads of each kind, for the summary.
    reads: AtomicU64,
    verifies: AtomicU64,
    reopens: AtomicU64,
}

impl Shared {
    fn root_is(&self, size: u64, root: Hash, who: &str) {
        let mut roots = self.roots.lock().unwrap();
        let first = *roots.entry(size).or_insert(root);
        assert_eq!(first, root, "{who}: the root at size {size} changed");
    }
}

/// The entry the writer puts at `index` (its content is a function of the index, so any
/// reader can check what it reads).
fn entry_for(index: u64) -> Value {
    let mut e = json!({"actor": {"id": format!("writer-{}", index % 3)}, "action": "build.succeeded",
        "subject": {"type": "artifact", "id": format!("n-{index}")},
        "attrs": {"parity": if index % 2 == 0 { "even" } else { "odd" }}});
    if index % 4 == 0 {
        e["id"] = format!("soak-{index}").into();
    }
    if index > 0 && index % 5 == 0 {
        e["links"] = json!([{"rel": "after", "index": index - 1}]);
    }
    e
}

type Handle = RwLock<Option<Ledger>>;

fn with_ledger<T>(h: &Handle, f: impl FnOnce(&Ledger) -> T) -> T {
    let guard = h.read().unwrap_or_else(|p| p.into_inner());
    f(guard
        .as_ref()
        .expect("a handle is always open outside a reopen"))
}

fn writer(
    h: &Handle,
    path: &std::path::Path,
    shared: &Shared,
    signer: &Signer,
    stop: &AtomicBool,
) -> Vec<Receipt> {
    let mut rng = Rng(0x50a1_c0de_1234_5678);
    let mut receipts: Vec<Receipt> = Vec::new();
    let mut last_reopen = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let next = receipts.len() as u64;
        let n = 1 + rng.below(8);
        let batch: Vec<Value> = (next..next + n).map(entry_for).collect();
        let got = with_ledger(h, |l| {
            if n == 1 {
                l.append(&batch[0]).map(|r| vec![r])
            } else {
                l.append_batch(&batch)
            }
        })
        .expect("append");
        for (k, r) in got.iter().enumerate() {
            assert_eq!(r.index, next + k as u64, "receipts are consecutive");
            shared.root_is(r.tree_size, r.root, "writer");
        }
        receipts.extend(got);
        // A retried id gets its old receipt and writes nothing.
        if let Some(i) = (0..next)
            .rev()
            .find(|i| i % 4 == 0)
            .filter(|_| rng.below(4) == 0)
        {
            let again = with_ledger(h, |l| l.append(&entry_for(i))).expect("retry");
            assert_eq!(again, receipts[i as usize], "retried id {i}");
        }
        // Now and then a refused entry: nothing of it is written.
        if rng.below(10) == 0 {
            let mut bad = entry_for(receipts.len() as u64);
            bad["action"] = "Not Valid".into();
            let e = with_ledger(h, |l| l.append_batch(&[entry_for(0), bad])).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidEntry);
            assert_eq!(with_ledger(h, |l| l.size()).unwrap(), receipts.len() as u64);
        }
        if rng.below(6) == 0 {
            let note = with_ledger(h, |l| l.checkpoint(signer, None)).expect("checkpoint");
            *shared.checkpoint.lock().unwrap() = Some(note);
        }
        if last_reopen.elapsed() > Duration::from_millis(250) {
            // Drop the handle while readers wait, then open the file again.
            let mut slot = h.write().unwrap_or_else(|p| p.into_inner());
            drop(slot.take());
            let opts = OpenOptions {
                wait: Some(Duration::from_secs(10)),
                ..OpenOptions::default()
            };
            let l = Ledger::open_with(path, &opts).expect("reopen");
            assert_eq!(
                l.size().unwrap(),
                receipts.len() as u64,
                "size after reopen"
            );
            assert_eq!(l.root().unwrap(), receipts.last().unwrap().root);
            *slot = Some(l);
            shared.reopens.fetch_add(1, Ordering::Relaxed);
            last_reopen = Instant::now();
        }
    }
    receipts
}

fn reader(
    id: usize,
    h: &Handle,
    shared: &Shared,
    verifier: &trailseal::Verifier,
    stop: &AtomicBool,
) {
    let who = format!("reader {id}");
    let mut rng = Rng(0x1234_5678_9abc_def1 ^ (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut seen = 0u64;
    while !stop.load(Ordering::Relaxed) {
        with_ledger(h, |l| {
            let size = l.size().unwrap();
            assert!(size >= seen, "{who}: size went from {seen} back to {size}");
            seen = size;
            if size == 0 {
                return;
            }
            match rng.below(6) {
                0 => {
                    let s = 1 + rng.below(size);
                    shared.root_is(s, l.root_at(s).unwrap(), &who);
                }
                1 => {
                    let s = 1 + rng.below(size);
                    let i = rng.below(s);
                    let p = l.prove_inclusion(i, Some(s)).unwrap();
                    p.verify().unwrap();
                    p.verify_leaf(&l.get_raw(i).unwrap()).unwrap();
                    shared.root_is(s, p.root, &who);
                }
                2 => {
                    let s = 1 + rng.below(size);
                    let old = rng.below(s + 1);
                    let p = l.prove_consistency(old, Some(s)).unwrap();
                    p.verify().unwrap();
                    shared.root_is(s, p.new_root, &who);
                    if old > 0 {
                        shared.root_is(old, p.old_root, &who);
                    }
                }
                3 => {
                    let i = rng.below(size);
                    let e = l.get(i).unwrap();
                    assert_eq!(e["subject"]["id"], format!("n-{i}"), "{who}: entry {i}");
                }
                4 => {
                    let actor = format!("writer-{}", rng.below(3));
                    let page = l
                        .query(&Query {
                            actor: Some(actor.clone()),
                            limit: 20,
                            ..Query::default()
                        })
                        .unwrap();
                    let mut last = u64::MAX;
                    for f in &page.entries {
                        assert!(f.index < last, "{who}: newest first");
                        last = f.index;
                        assert_eq!(f.entry["actor"]["id"], actor.as_str());
                        assert_eq!(f.entry["subject"]["id"], format!("n-{}", f.index));
                    }
                }
                _ => {
                    let note = shared.checkpoint.lock().unwrap().clone();
                    let mut opts = VerifyOptions::default();
                    if let Some(n) = &note {
                        opts = opts.against(n, verifier);
                    }
                    let r = l
                        .verify(&opts)
                        .unwrap_or_else(|e| panic!("{who}: verify: {e}"));
                    assert!(r.size >= seen);
                    if let Some(n) = &note {
                        let cp = Checkpoint::verify(n, verifier).unwrap();
                        assert_eq!(r.external_checkpoint, Some(cp.size));
                        shared.root_is(cp.size, cp.root, &who);
                    }
                    shared.verifies.fetch_add(1, Ordering::Relaxed);
                }
            }
            shared.reads.fetch_add(1, Ordering::Relaxed);
        });
    }
}

#[test]
fn writer_readers_and_reopens_keep_every_invariant() {
    let secs: f64 = std::env::var("TRAILSEAL_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("soak.redb");
    let h: Handle = RwLock::new(Some(
        Ledger::create(&path, &CreateOptions::new(ORIGIN)).unwrap(),
    ));
    let shared = Shared::default();
    let signer = Signer::from_seed(ORIGIN, [21; 32]).unwrap();
    let verifier = signer.verifier();
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let receipts = std::thread::scope(|s| {
        let w = s.spawn(|| writer(&h, &path, &shared, &signer, &stop));
        let readers: Vec<_> = (0..READERS)
            .map(|id| {
                let (h, shared, verifier, stop) = (&h, &shared, &verifier, &stop);
                s.spawn(move || reader(id, h, shared, verifier, stop))
            })
            .collect();
        while started.elapsed() < Duration::from_secs_f64(secs)
            && !w.is_finished()
            && !readers.iter().any(|r| r.is_finished())
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().expect("a reader failed");
        }
        w.join().expect("the writer failed")
    });

    // Every receipt holds on a fresh handle, and the whole ledger verifies.
    let l = h.into_inner().unwrap().expect("open handle");
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.size().unwrap(), receipts.len() as u64);
    for r in &receipts {
        assert_eq!(l.leaf_hash(r.index).unwrap(), r.leaf_hash);
        assert_eq!(l.root_at(r.tree_size).unwrap(), r.root);
    }
    let note = shared.checkpoint.lock().unwrap().clone();
    let mut opts = VerifyOptions::default();
    if let Some(n) = &note {
        opts = opts.against(n, &verifier);
    }
    let report = l.verify(&opts).unwrap();
    eprintln!(
        "soak: {:.1} s, {} entries, {} reads, {} verifies, {} reopens, {} checkpoints",
        started.elapsed().as_secs_f64(),
        report.size,
        shared.reads.load(Ordering::Relaxed),
        shared.verifies.load(Ordering::Relaxed),
        shared.reopens.load(Ordering::Relaxed),
        report.checkpoints,
    );
    assert!(receipts.len() > 10, "the writer made progress");
    assert!(shared.reopens.load(Ordering::Relaxed) > 0 || secs < 0.5);
}
