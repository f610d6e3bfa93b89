//! The two ways a batch is processed (large batches encode on two threads; others one entry
//! at a time) give the same results for any batch: the same receipts (indexes, sizes), the
//! same entries, the same refusals with the same messages, and nothing written by a refused
//! batch. Random batches of 64 to 130 entries from a small alphabet, with repeated and
//! conflicting ids and flawed entries. Its own test binary: it flips a process-wide switch.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use trailseal::ledger::PARALLEL_BATCHES;
use trailseal::{CreateOptions, Ledger, VerifyOptions};

mod common;
use common::Rng;

fn plain(r: &mut Rng) -> Value {
    json!({
        "actor": {"id": format!("user-{}", r.below(4))},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": format!("svc-{}", r.below(5))},
        "attrs": {"env": if r.below(2) == 0 { "prod" } else { "dev" }},
    })
}

/// The entry for id `k`: always the same fields, so a repeat is a retry, not a conflict.
fn with_id(k: u64) -> Value {
    json!({"id": format!("id-{k}"), "actor": {"id": "ci"}, "action": "build.succeeded",
           "subject": {"type": "artifact", "id": format!("a-{k}")}})
}

/// A batch of 64 to 130 entries: most plain, some with ids from a small set (retries of
/// earlier batches and repeats within the batch); half the batches carry one flaw.
fn batch(r: &mut Rng, size: u64) -> Vec<Value> {
    let n = 64 + r.below(67);
    // No ids, a few (mostly distinct: the two-thread path), or many (repeats within the
    // batch: the one-at-a-time path).
    let id_every = [0, 40, 8][r.below(3) as usize];
    let mut b: Vec<Value> = (0..n)
        .map(|_| {
            if id_every > 0 && r.below(id_every) == 0 {
                with_id(r.below(12))
            } else {
                plain(r)
            }
        })
        .collect();
    if r.below(2) == 0 {
        let at = r.below(n) as usize;
        match r.below(4) {
            0 => b[at]["action"] = json!(""),
            1 => b[at]["links"] = json!([{"rel": "after", "index": size + 500}]),
            2 => b[at]["payload"] = json!("x".repeat(70_000)),
            _ => {
                // An id reused with other fields: a conflict if it is recorded or repeated.
                b[at] = with_id(r.below(12));
                b[at]["attrs"] = json!({"changed": "yes"});
            }
        }
    }
    b
}

fn strip(v: Value) -> Value {
    let mut v = v;
    v.as_object_mut().unwrap().remove("time");
    v
}

#[test]
fn parallel_and_sequential_batches_agree() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CreateOptions::new("ex/paths");
    let par = Ledger::create(dir.path().join("par.redb"), &opts).unwrap();
    let seq = Ledger::create(dir.path().join("seq.redb"), &opts).unwrap();
    let mut r = Rng(0x00ba_7c11);
    let (mut ok, mut refused) = (0, 0);
    for round in 0..40 {
        let size = par.size().unwrap();
        let batch = batch(&mut r, size);
        PARALLEL_BATCHES.store(true, Ordering::Relaxed);
        let a = par.append_batch(&batch);
        PARALLEL_BATCHES.store(false, Ordering::Relaxed);
        let b = seq.append_batch(&batch);
        PARALLEL_BATCHES.store(true, Ordering::Relaxed);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                ok += 1;
                let shape = |rs: &[trailseal::Receipt]| -> Vec<(u64, u64)> {
                    rs.iter().map(|x| (x.index, x.tree_size)).collect()
                };
                assert_eq!(shape(&a), shape(&b), "round {round}");
                for x in &a {
                    assert_eq!(x.leaf_hash, par.leaf_hash(x.index).unwrap());
                    assert_eq!(x.root, par.root_at(x.tree_size).unwrap());
                }
            }
            (Err(a), Err(b)) => {
                refused += 1;
                assert_eq!(a.to_string(), b.to_string(), "round {round}");
            }
            (a, b) => panic!("round {round}: parallel {a:?}, sequential {b:?}"),
        }
        assert_eq!(par.size().unwrap(), seq.size().unwrap(), "round {round}");
    }
    assert!(
        ok >= 3 && refused >= 3,
        "both outcomes exercised: {ok} ok, {refused} refused"
    );
    for i in 0..par.size().unwrap() {
        assert_eq!(
            strip(par.get(i).unwrap()),
            strip(seq.get(i).unwrap()),
            "entry {i}"
        );
    }
    par.verify(&VerifyOptions::default().indexes(true)).unwrap();
    seq.verify(&VerifyOptions::default().indexes(true)).unwrap();
}
