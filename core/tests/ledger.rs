//! The ledger facade end to end: appends, ids, proofs, checkpoints, reopen, concurrency.

mod common;

use serde_json::{json, Value};
use trailseal::merkle::{self, HashAlg};
use trailseal::{
    CreateOptions, Durability, Entry, ErrorCode, Ledger, OpenOptions, Signer, VerifyOptions,
};

fn entry(n: u64) -> Value {
    json!({"actor": {"id": format!("user{}", n % 7)}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("svc-{n}")}, "attrs": {"n": n.to_string()}})
}

fn new_ledger(dir: &tempfile::TempDir, hash: HashAlg) -> Ledger {
    Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/test").hash(hash),
    )
    .unwrap()
}

#[test]
fn appends_prove_and_reopen_for_both_hashes() {
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.redb");
        let mut leaves = Vec::new();
        {
            let l = new_ledger(&dir, alg);
            for n in 0..5 {
                let r = l.append(&entry(n)).unwrap();
                assert_eq!((r.index, r.tree_size), (n, n + 1));
                leaves.push(l.get_raw(n).unwrap());
                assert_eq!(r.leaf_hash, alg.leaf_hash(&leaves[n as usize]));
            }
            let batch: Vec<Value> = (5..300).map(entry).collect();
            let rs = l.append_batch(&batch).unwrap();
            assert_eq!(rs.len(), 295);
            for r in &rs {
                leaves.push(l.get_raw(r.index).unwrap());
            }
            let last = rs.last().unwrap();
            assert_eq!(last.root, l.root().unwrap());
            // each receipt's root is the root at its own size
            for r in &rs {
                assert_eq!(r.root, l.root_at(r.tree_size).unwrap());
            }
        }
        let l = Ledger::open(&path).unwrap();
        assert_eq!(l.size().unwrap(), 300);
        assert_eq!(l.hash(), alg);
        // roots of every size against a naive fold of the leaf hashes
        let hashes: Vec<_> = leaves.iter().map(|b| alg.leaf_hash(b)).collect();
        for size in [0u64, 1, 2, 3, 63, 64, 65, 127, 128, 129, 255, 256, 299, 300] {
            let mut f = merkle::Frontier::new();
            for h in &hashes[..size as usize] {
                f.push(alg, *h, |_, _| {});
            }
            assert_eq!(l.root_at(size).unwrap(), f.root(alg), "size {size}");
        }
        for (i, size) in [
            (0u64, 1u64),
            (0, 300),
            (299, 300),
            (64, 65),
            (100, 257),
            (5, 6),
        ] {
            let p = l.prove_inclusion(i, Some(size)).unwrap();
            p.verify_leaf(&leaves[i as usize]).unwrap();
            assert_eq!(p.root, l.root_at(size).unwrap());
        }
        for (old, new) in [
            (0u64, 300u64),
            (1, 300),
            (64, 128),
            (65, 300),
            (300, 300),
            (7, 8),
        ] {
            let p = l.prove_consistency(old, Some(new)).unwrap();
            p.verify().unwrap();
        }
        // appends continue after reopen
        let r = l.append(&entry(300)).unwrap();
        assert_eq!(r.index, 300);
        l.verify(&VerifyOptions::default()).unwrap();
    }
}

#[test]
fn times_are_monotonic_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Blake3);
    let rs = l
        .append_batch(&(0..50).map(entry).collect::<Vec<_>>())
        .unwrap();
    let mut prev = String::new();
    for r in rs {
        let t = r.time.unwrap().to_string();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t >= prev);
        let stored = l.get(r.index).unwrap();
        assert_eq!(stored["time"], t);
        assert_eq!(stored["v"], 1);
        prev = t;
    }
}

#[test]
fn id_rule_returns_the_stored_receipt_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Sha256);
    let mut e = entry(1);
    e["id"] = json!("run-42");
    let first = l.append(&e).unwrap();
    l.append(&entry(2)).unwrap();
    let again = l.append(&e).unwrap();
    assert_eq!(again, first);
    assert_eq!(l.size().unwrap(), 2);
    // the same id within one batch, twice, plus a new entry
    let mut e2 = entry(3);
    e2["id"] = json!("run-43");
    let rs = l
        .append_batch(&[e2.clone(), e2.clone(), e.clone()])
        .unwrap();
    assert_eq!(rs[0], rs[1]);
    assert_eq!(rs[2], first);
    assert_eq!(l.size().unwrap(), 3);
    // different content under a known id: refused, nothing of the batch written
    let mut changed = e.clone();
    changed["action"] = json!("deploy.failed");
    let err = l.append_batch(&[entry(9), changed]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::IdConflict);
    assert_eq!(l.size().unwrap(), 3);
}

#[test]
fn refused_entries_write_nothing_of_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Blake3);
    l.append(&entry(0)).unwrap();
    let root = l.root().unwrap();
    let mut bad = entry(1);
    bad["links"] = json!([{"rel": "after", "index": 5}]);
    let err = l.append_batch(&[entry(1), entry(2), bad]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidEntry);
    assert!(err.to_string().contains("[2].links[0].index"), "{err}");
    assert_eq!(l.size().unwrap(), 1);
    assert_eq!(l.root().unwrap(), root);
    // a link to an earlier entry of the same batch is fine
    let mut linked = entry(3);
    linked["links"] = json!([{"rel": "after", "index": 1}]);
    l.append_batch(&[entry(2), linked]).unwrap();
    assert_eq!(l.size().unwrap(), 3);
}

#[test]
fn kinds_are_enforced_and_raw_leaves_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let raw = Ledger::create(
        dir.path().join("raw.redb"),
        &CreateOptions::new("example.com/raw").raw(),
    )
    .unwrap();
    let r = raw.append_raw(b"\x00\x01 any bytes").unwrap();
    assert_eq!(r.time, None);
    assert_eq!(raw.get_raw(0).unwrap(), b"\x00\x01 any bytes");
    assert_eq!(
        raw.append(&entry(0)).unwrap_err().code(),
        ErrorCode::WrongKind
    );
    assert_eq!(raw.get(0).unwrap_err().code(), ErrorCode::WrongKind);
    let rs = raw.append_raw_batch(&[b"a", b"", b"c"]).unwrap();
    assert_eq!(rs[2].tree_size, 4);
    let entries = new_ledger(&dir, HashAlg::Blake3);
    assert_eq!(
        entries.append_raw(b"x").unwrap_err().code(),
        ErrorCode::WrongKind
    );
}

#[test]
fn create_refuses_existing_and_open_refuses_missing_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Blake3);
    drop(l);
    let err = Ledger::create(dir.path().join("l.redb"), &CreateOptions::new("x")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AlreadyExists);
    let err = Ledger::open(dir.path().join("nope.redb")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, vec![0x5a; 10_000]).unwrap();
    assert_eq!(
        Ledger::open(&junk).unwrap_err().code(),
        ErrorCode::NotALedger
    );
    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        Ledger::open(&empty).unwrap_err().code(),
        ErrorCode::NotALedger
    );
    // a redb file written by another program
    let foreign = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&foreign).unwrap();
        let t = db.begin_write().unwrap();
        t.open_table(redb::TableDefinition::<u64, u64>::new("other"))
            .unwrap()
            .insert(1, 2)
            .unwrap();
        t.commit().unwrap();
    }
    assert_eq!(
        Ledger::open(&foreign).unwrap_err().code(),
        ErrorCode::NotALedger
    );
}

#[test]
fn out_of_range_requests_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Blake3);
    l.append_batch(&(0..3).map(entry).collect::<Vec<_>>())
        .unwrap();
    for err in [
        l.get(3).unwrap_err(),
        l.prove_inclusion(3, None).unwrap_err(),
        l.prove_inclusion(1, Some(1)).unwrap_err(),
        l.prove_inclusion(0, Some(4)).unwrap_err(),
        l.prove_consistency(2, Some(1)).unwrap_err(),
        l.prove_consistency(1, Some(4)).unwrap_err(),
        l.root_at(4).unwrap_err(),
    ] {
        assert_eq!(err.code(), ErrorCode::OutOfRange, "{err}");
    }
}

#[test]
fn checkpoints_are_kept_and_checked_against() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Sha256);
    let signer = Signer::generate("example.com/test").unwrap();
    l.append_batch(&(0..10).map(entry).collect::<Vec<_>>())
        .unwrap();
    let early = l.checkpoint(&signer, Some(4)).unwrap();
    let now = l.checkpoint(&signer, None).unwrap();
    assert!(now.starts_with("example.com/test\n10\n"), "{now}");
    assert_eq!(l.checkpoints().unwrap().len(), 2);
    l.append(&entry(10)).unwrap();
    let v = signer.verifier();
    let report = l
        .verify(&VerifyOptions::default().against(&early, &v))
        .unwrap();
    assert_eq!(report.external_checkpoint, Some(4));
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.size, 11);
    // a checkpoint of a longer (or different) log than this one is inconsistent
    let other_dir = tempfile::tempdir().unwrap();
    let other = new_ledger(&other_dir, HashAlg::Sha256);
    other
        .append_batch(&(0..12).map(entry).collect::<Vec<_>>())
        .unwrap();
    let ahead = other.checkpoint(&signer, None).unwrap();
    let err = l
        .verify(&VerifyOptions::default().against(&ahead, &v))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Inconsistent);
    let forked = other.checkpoint(&signer, Some(5)).unwrap();
    let err = l
        .verify(&VerifyOptions::default().against(&forked, &v))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Inconsistent, "{err}");
    // a wrong key is a verification failure, not an inconsistency
    let stranger = Signer::generate("example.com/test").unwrap().verifier();
    let err = l
        .verify(&VerifyOptions::default().against(&early, &stranger))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VerificationFailed);
}

#[test]
fn second_process_handle_is_locked_out_or_waits() {
    // Exclusive sharing: redb refuses a second open of the same file even within a process.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let exclusive = OpenOptions {
        sharing: Some(trailseal::Sharing::Exclusive),
        ..OpenOptions::default()
    };
    drop(new_ledger(&dir, HashAlg::Blake3));
    let l = Ledger::open_with(&path, &exclusive).unwrap();
    assert_eq!(
        Ledger::open_with(&path, &exclusive).unwrap_err().code(),
        ErrorCode::Locked
    );
    let waiter = std::thread::spawn({
        let path = path.clone();
        move || {
            Ledger::open_with(
                &path,
                &OpenOptions {
                    wait: Some(std::time::Duration::from_secs(20)),
                    ..exclusive
                },
            )
            .map(|l| l.size().unwrap())
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    l.append(&entry(0)).unwrap();
    drop(l);
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
}

#[test]
fn one_handle_shared_by_threads() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(new_ledger(&dir, HashAlg::Blake3));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|n| l.append(&entry(t * 100 + n)).unwrap().index)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let reader = {
        let l = l.clone();
        std::thread::spawn(move || {
            for _ in 0..50 {
                let size = l.size().unwrap();
                if size > 0 {
                    let p = l.prove_inclusion(size - 1, Some(size)).unwrap();
                    p.verify().unwrap();
                }
            }
        })
    };
    let mut all: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    reader.join().unwrap();
    all.sort();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    l.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn deferred_durability_then_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let mut opts = CreateOptions::new("example.com/fast");
    opts.durability = Durability::NotDurableUntilSync;
    let l = Ledger::create(&path, &opts).unwrap();
    for n in 0..20 {
        l.append(&entry(n)).unwrap();
    }
    l.sync().unwrap();
    drop(l);
    assert_eq!(Ledger::open(&path).unwrap().size().unwrap(), 20);
}

#[test]
fn typed_entries_and_large_entries() {
    let dir = tempfile::tempdir().unwrap();
    let l = new_ledger(&dir, HashAlg::Blake3);
    let r = l
        .append_entry(&Entry::new(
            "alice",
            "approval.granted",
            "release",
            "2026.11.3",
        ))
        .unwrap();
    assert_eq!(r.index, 0);
    // entries far bigger than a bundle still round-trip and verify
    let big = json!({"actor": {"id": "a"}, "action": "x", "subject": {"type": "t", "id": "i"},
                     "payload": {"blob": "z".repeat(200_000)}});
    for _ in 0..3 {
        l.append(&big).unwrap();
    }
    l.append(&entry(5)).unwrap();
    assert_eq!(
        l.get(2).unwrap()["payload"]["blob"].as_str().unwrap().len(),
        200_000
    );
    l.verify(&VerifyOptions::default()).unwrap();
    let mut too_big = big.clone();
    too_big["payload"]["blob"] = json!("z".repeat(1 << 20));
    assert_eq!(
        l.append(&too_big).unwrap_err().code(),
        ErrorCode::InvalidEntry
    );
}

#[test]
fn concurrent_appends_group_commit_and_refusals_stay_separate() {
    // Many threads append at once: good requests all land (sharing commits), a refused one
    // fails alone, and ids stay consistent across requests of one group.
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(new_ledger(&dir, HashAlg::Sha256));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                let mut ok = Vec::new();
                for n in 0..40u64 {
                    let mut e = entry(t * 1000 + n);
                    if n % 10 == 3 {
                        e["action"] = json!("Not Valid");
                        assert_eq!(l.append(&e).unwrap_err().code(), ErrorCode::InvalidEntry);
                        continue;
                    }
                    if n % 10 == 5 {
                        // every thread records the same retried event: one entry in the end
                        e = entry(424242);
                        e["id"] = json!("shared-run");
                    }
                    ok.push(l.append(&e).unwrap());
                }
                ok
            })
        })
        .collect();
    let receipts: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let shared: std::collections::HashSet<u64> = receipts
        .iter()
        .filter(|r| l.get(r.index).unwrap().get("id").is_some())
        .map(|r| r.index)
        .collect();
    assert_eq!(shared.len(), 1, "the shared id was written once");
    let size = l.size().unwrap();
    assert_eq!(size, 8 * (40 - 4 - 4) + 1);
    for r in &receipts {
        assert_eq!(r.leaf_hash, l.leaf_hash(r.index).unwrap());
        assert_eq!(r.root, l.root_at(r.tree_size).unwrap());
    }
    l.verify(&VerifyOptions::default()).unwrap();
}

/// Large batches encode on two threads; everything a caller can see must be what the
/// one-entry-at-a-time path gives: indexes, leaf bytes (but `time`), ids returning their
/// stored receipts, and which entry a refusal names.
#[test]
fn large_batches_match_the_sequential_path() {
    let dir = tempfile::tempdir().unwrap();
    let big = Ledger::create(dir.path().join("big.redb"), &CreateOptions::new("ex/b")).unwrap();
    let small = Ledger::create(dir.path().join("small.redb"), &CreateOptions::new("ex/b")).unwrap();
    let with_id = |n: u64| {
        let mut e = entry(n);
        if n % 17 == 0 {
            e["id"] = json!(format!("ev-{n}"));
        }
        e
    };
    // Batch 2 retries ids of batch 1 (same fields: their stored receipts come back).
    let b1: Vec<Value> = (0..150).map(with_id).collect();
    let mut b2: Vec<Value> = (150..300).map(with_id).collect();
    b2[7] = with_id(17);
    b2[90] = with_id(34);
    let mut got_big = Vec::new();
    let mut got_small = Vec::new();
    for b in [&b1, &b2] {
        got_big.extend(big.append_batch(b).unwrap());
        for chunk in b.chunks(10) {
            got_small.extend(small.append_batch(chunk).unwrap());
        }
    }
    assert_eq!(got_big.len(), 300);
    let idx = |rs: &[trailseal::Receipt]| rs.iter().map(|r| r.index).collect::<Vec<_>>();
    assert_eq!(idx(&got_big), idx(&got_small));
    assert_eq!(
        got_big[157].index, 17,
        "a retried id gets its stored receipt"
    );
    assert_eq!(got_big[157], got_big[17]);
    assert_eq!(big.size().unwrap(), 298);
    let strip = |l: &Ledger, i: u64| {
        let mut v = l.get(i).unwrap();
        v.as_object_mut().unwrap().remove("time");
        v
    };
    for i in 0..298 {
        assert_eq!(strip(&big, i), strip(&small, i), "leaf {i}");
    }
    for r in &got_big {
        assert_eq!(r.leaf_hash, big.leaf_hash(r.index).unwrap());
        assert_eq!(r.root, big.root_at(r.tree_size).unwrap());
    }
    big.verify(&VerifyOptions::default().indexes(true)).unwrap();

    // Refusals name the same entry as the sequential path, and write nothing.
    let refuse = |mutate: &dyn Fn(&mut Vec<Value>)| {
        let mut b: Vec<Value> = (1000..1100).map(entry).collect();
        mutate(&mut b);
        let e = big.append_batch(&b).unwrap_err();
        assert_eq!(big.size().unwrap(), 298, "nothing written");
        e.to_string()
    };
    let msg = refuse(&|b| b[70]["action"] = json!(""));
    assert!(msg.contains("[70]"), "{msg}");
    let msg = refuse(&|b| b[5]["id"] = json!("ev-17"));
    assert_eq!(
        big.append_batch(&[]).unwrap().len(),
        0,
        "the ledger still works after: {msg}"
    );
    assert!(msg.contains("ev-17"), "an id conflict names the id: {msg}");
    // An id twice in one batch: the second gets the first's receipt.
    let mut b: Vec<Value> = (2000..2100).map(entry).collect();
    b[3]["id"] = json!("twice");
    b[60] = b[3].clone();
    let rs = big.append_batch(&b).unwrap();
    assert_eq!(rs[60], rs[3]);
    assert_eq!(big.size().unwrap(), 298 + 99);
    big.verify(&VerifyOptions::default().indexes(true)).unwrap();
}

/// Only complete tiles are stored; nodes of the partial tile at each level's right edge are
/// derived from the leaves or the level below. Commits of every size cross tile boundaries
/// of levels 0 to 3 (127 x 2^k leaves); at every step roots, inclusion and consistency proofs
/// agree with a naive fold of the leaf hashes, before and after reopening.
#[test]
fn derived_edge_nodes_agree_with_a_naive_tree() {
    let alg = HashAlg::Sha256;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.redb");
    let mut l = Ledger::create(
        &path,
        &CreateOptions::new("example.com/edge").hash(alg).raw(),
    )
    .unwrap();
    let naive_root = |hashes: &[merkle::Hash]| {
        let mut f = merkle::Frontier::new();
        for h in hashes {
            f.push(alg, *h, |_, _| {});
        }
        f.root(alg)
    };
    let mut hashes: Vec<merkle::Hash> = Vec::new();
    let mut seed = 0x5eedu64;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    let mut step = 0;
    while hashes.len() < 1100 {
        let k = match next(4) {
            0 => 1 + next(300),
            _ => 1 + next(3),
        };
        let leaves: Vec<Vec<u8>> = (0..k)
            .map(|j| format!("leaf {}", hashes.len() as u64 + j).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = leaves.iter().map(|v| v.as_slice()).collect();
        l.append_raw_batch(&refs).unwrap();
        hashes.extend(leaves.iter().map(|b| alg.leaf_hash(b)));
        let size = hashes.len() as u64;
        step += 1;
        if step % 9 == 0 {
            drop(l);
            l = Ledger::open(&path).unwrap();
        }
        assert_eq!(l.root().unwrap(), naive_root(&hashes), "size {size}");
        for _ in 0..3 {
            let at = 1 + next(size);
            let i = next(at);
            let p = l.prove_inclusion(i, Some(at)).unwrap();
            assert_eq!(p.root, naive_root(&hashes[..at as usize]), "root at {at}");
            assert_eq!(p.leaf_hash, hashes[i as usize]);
            p.verify().unwrap();
            let old = next(at + 1);
            let c = l.prove_consistency(old, Some(at)).unwrap();
            c.verify().unwrap();
        }
    }
    l.verify(&VerifyOptions::default()).unwrap();
}

/// Closed bundles are stored compressed and sized to what compresses to two pages: redb gives
/// a larger value a run of pages rounded up to a power of two.
#[test]
fn closed_bundles_are_compressed_to_about_two_pages() {
    use trailseal::storage::{tamper, BUNDLE_MAX_LEAVES, PACKED_BUNDLE_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pack.redb");
    let l = Ledger::create(&path, &CreateOptions::new("example.com/pack")).unwrap();
    let mut noise = common::Rng(0x2545_f491_4f6c_dd1d);
    for batch in 0..4u64 {
        let entries: Vec<Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|n| {
                let rng = noise.next();
                let action = ["deploy.succeeded", "deploy.started", "approve"][(rng % 3) as usize];
                json!({"actor": {"id": format!("user{}@example.com", rng % 40), "role": "release"},
                       "action": action,
                       "subject": {"type": "service", "id": format!("svc-{}", rng % 25)},
                       "attrs": {"ticket": format!("CHG-{n}"), "env": "prod",
                                 "commit": format!("{rng:016x}{:016x}", rng.rotate_left(17))}})
            })
            .collect();
        l.append_batch(&entries).unwrap();
    }
    drop(l);
    let mut bundles = Vec::new();
    tamper::edit(&path, |t| {
        bundles = t.stored_bundles()?;
        Ok(())
    })
    .unwrap();
    let (last, closed) = bundles.split_last().unwrap();
    assert_eq!(last.2, 0, "the open bundle is stored plain");
    assert!(closed.len() > 20, "{bundles:?}");
    assert!(
        closed.iter().all(|b| b.2 == 1),
        "closed bundles compressed: {bundles:?}"
    );
    // The first closed bundle has no ratio to go by; the rest fill their pages (rarely
    // overflowing) unless they hold as many leaves as a bundle may.
    let over = closed.iter().filter(|b| b.1 > PACKED_BUNDLE_BYTES).count();
    assert!(over * 20 <= closed.len(), "{over} too large: {bundles:?}");
    for (b, next) in bundles.iter().zip(&bundles[1..]).skip(1) {
        let leaves = (next.0 - b.0) as usize;
        assert!(
            leaves == BUNDLE_MAX_LEAVES || b.1 * 4 >= PACKED_BUNDLE_BYTES * 3,
            "{leaves} leaves in {} bytes: {bundles:?}",
            b.1
        );
    }
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.verify(&VerifyOptions::default()).unwrap().size, 4000);
    assert_eq!(l.get(1234).unwrap()["attrs"]["ticket"], "CHG-1234");
}
