//! Committed indexes and completeness proofs (SPEC section 9): proven answers equal a full
//! scan's over random histories, every way of cheating a proof is refused, and `verify`
//! recomputes every commitment.

mod common;

use common::Rng;
use serde_json::{json, Value};
use trailseal::commit_index::proof::CompletenessProof;
use trailseal::commit_index::INDEX_COMMITTED;
use trailseal::merkle::{range, Hash};
use trailseal::query::Term;
use trailseal::{CreateOptions, ErrorCode, Ledger, Signer, VerifyOptions};

const ORIGIN: &str = "example.com/complete";

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, [7; 32]).unwrap()
}

fn ledger(dir: &std::path::Path, name: &str, origin: &str, every: u64) -> Ledger {
    let mut opts = CreateOptions::new(origin);
    opts.commit_index_every = Some(every);
    Ledger::create(dir.join(name), &opts).unwrap()
}

/// A random entry over small vocabularies, so terms repeat and some collide in a query.
fn entry(rng: &mut Rng, at: u64) -> Value {
    let actors = ["alice", "bob", "carol"];
    let actions = [
        "deploy.succeeded",
        "approval.granted",
        "access.role_granted",
    ];
    let mut e = json!({
        "actor": {"id": actors[rng.below(3) as usize]},
        "action": actions[rng.below(3) as usize],
        "subject": {"type": "service", "id": format!("svc-{}", rng.below(4))},
    });
    if rng.below(2) == 0 {
        let env = ["prod", "dev"][rng.below(2) as usize];
        e["attrs"] = json!({ "env": env });
    }
    if rng.below(3) == 0 && at > 0 {
        e["links"] = json!([{"rel": "rests_on", "index": rng.below(at)}, {"rel": "commit", "ref": format!("git:{}", rng.below(5))}]);
    }
    e
}

fn random_term(rng: &mut Rng) -> Term {
    match rng.below(6) {
        0 => Term::Actor(["alice", "bob", "carol", "dave"][rng.below(4) as usize].into()),
        1 => Term::Action(
            ["deploy.succeeded", "approval.granted", INDEX_COMMITTED][rng.below(3) as usize].into(),
        ),
        2 => Term::Subject("service".into(), format!("svc-{}", rng.below(5))),
        3 => Term::Attr("env".into(), "prod".into()),
        4 => Term::Ref(format!("git:{}", rng.below(6))),
        _ => Term::LinksTo(rng.below(20)),
    }
}

/// The naive answer: every entry in `[lo, hi)` holding every term, by a full scan.
fn scan(l: &Ledger, terms: &[Term], lo: u64, hi: u64) -> Vec<u64> {
    (lo..hi)
        .filter(|&i| {
            let e: Value = serde_json::from_slice(&l.get_raw(i).unwrap()).unwrap();
            let own = Term::of_entry(&e);
            terms.iter().all(|t| own.contains(t))
        })
        .collect()
}

fn indices(p: &CompletenessProof) -> Vec<u64> {
    p.verify(&signer().verifier())
        .unwrap()
        .entries
        .iter()
        .map(|f| f.index)
        .collect()
}

fn refused(p: &CompletenessProof, why: &str) {
    // Through the JSON form, as an auditor's copy arrives.
    let back = CompletenessProof::from_json(&p.to_json()).unwrap();
    let err = back.verify(&signer().verifier()).expect_err(why);
    assert_eq!(err.code(), ErrorCode::VerificationFailed, "{why}: {err}");
}

#[test]
fn proven_answers_equal_a_full_scan() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let every = 3 + rng.below(6);
        let l = ledger(dir.path(), &format!("p{seed}.redb"), ORIGIN, every);
        let mut commitments = 0;
        for _ in 0..(4 + rng.below(6)) {
            let size = l.size().unwrap();
            let batch: Vec<Value> = (0..1 + rng.below(7))
                .map(|k| entry(&mut rng, size + k))
                .collect();
            l.append_batch(&batch).unwrap();
            for _ in 0..3 {
                let n = l.size().unwrap();
                let terms: Vec<Term> = (0..1 + rng.below(2))
                    .map(|_| random_term(&mut rng))
                    .collect();
                let lo = rng.below(n + 2);
                let hi = if rng.below(3) == 0 {
                    None
                } else {
                    Some(lo + rng.below(n + 2))
                };
                let p = l.prove_complete(&terms, (lo, hi), &signer()).unwrap();
                let n = p.tree_size;
                let want = scan(&l, &terms, lo.min(n), hi.unwrap_or(n).min(n));
                assert_eq!(
                    indices(&p),
                    want,
                    "seed {seed}, terms {terms:?}, [{lo}, {hi:?})"
                );
                let back = CompletenessProof::from_json(&p.to_json()).unwrap();
                assert_eq!(back, p, "the JSON form round-trips");
                commitments = commitments.max(p.log_first);
            }
        }
        assert!(
            commitments > 0,
            "seed {seed}: the history reached a commitment"
        );
        l.verify(&VerifyOptions::default()).unwrap();
    }
}

/// A ledger with two commitments, and a proof for `actor alice` over all of it.
fn two_commitments(dir: &std::path::Path) -> (Ledger, CompletenessProof, CompletenessProof) {
    let l = ledger(dir, "c.redb", ORIGIN, 8);
    let mut rng = Rng(42);
    let batch: Vec<Value> = (0..10).map(|k| entry(&mut rng, k)).collect();
    l.append_batch(&batch).unwrap();
    let alice = [Term::Actor("alice".into())];
    let old = l.prove_complete(&alice, (0, None), &signer()).unwrap();
    let batch: Vec<Value> = (10..20).map(|k| entry(&mut rng, k)).collect();
    l.append_batch(&batch).unwrap();
    let new = l.prove_complete(&alice, (0, None), &signer()).unwrap();
    assert!(old.log_first > 0 && new.log_first > old.log_first);
    assert!(!new.entries.is_empty(), "alice has committed hits");
    (l, old, new)
}

#[test]
fn a_dropped_an_added_or_a_swapped_hit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _, p) = two_commitments(dir.path());
    let mut dropped = p.clone();
    dropped.entries.pop();
    refused(&dropped, "a dropped hit");

    let mut added = p.clone();
    let other = (0..p.log_first)
        .find(|i| !p.entries.iter().any(|e| e.index == *i))
        .unwrap();
    let proof = l.prove_inclusion(other, Some(p.tree_size)).unwrap();
    added
        .entries
        .push(trailseal::commit_index::proof::ProvenEntry {
            index: other,
            leaf: String::from_utf8(l.get_raw(other).unwrap()).unwrap(),
            path: proof.path,
        });
    added.entries.sort_by_key(|e| e.index);
    refused(&added, "an added entry");

    let mut swapped = p.clone();
    let last = swapped.entries.len() - 1;
    swapped.entries[last] = added
        .entries
        .iter()
        .find(|e| e.index == other)
        .unwrap()
        .clone();
    swapped.entries.sort_by_key(|e| e.index);
    refused(&swapped, "a swapped entry");

    // A committed list that drops the hit: the run no longer leads to the commitment.
    let mut list_dropped = p.clone();
    let run = list_dropped.terms[0].list.as_mut().unwrap();
    run.values.retain(|v| *v != p.entries[0].index);
    list_dropped.entries.remove(0);
    refused(&list_dropped, "a list run without one hit");

    // The tail cut short.
    let mut cut = p.clone();
    cut.log_leaves.pop();
    refused(&cut, "a tail without its last entry");

    // The term said absent.
    let mut absent = p.clone();
    absent.terms[0].list = None;
    absent.entries.clear();
    refused(&absent, "a present term said absent");
}

/// The hash of leaves `[lo, hi)` of `l`, from the leaves themselves.
fn range_hash(l: &Ledger, lo: u64, hi: u64) -> Hash {
    let hashes: Vec<Hash> = (lo..hi)
        .map(|i| l.hash().leaf_hash(&l.get_raw(i).unwrap()))
        .collect();
    range::root_of(l.hash(), &hashes)
}

#[test]
fn an_old_commitment_or_another_logs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (l, old, new) = two_commitments(dir.path());
    assert!(indices(&old).len() <= indices(&new).len());
    // The old commitment's map and lists, with a log range from it to the new checkpoint.
    let mut reused = new.clone();
    reused.terms = old.terms.clone();
    reused.entries = old.entries.clone();
    for e in &mut reused.entries {
        e.path = l
            .prove_inclusion(e.index, Some(new.tree_size))
            .unwrap()
            .path;
    }
    reused.log_first = old.log_first;
    reused.log_leaves = (old.log_first..new.tree_size)
        .map(|i| String::from_utf8(l.get_raw(i).unwrap()).unwrap())
        .collect();
    reused.log_proof = range::prove_range(new.tree_size, old.log_first, new.tree_size, |a, b| {
        Ok(range_hash(&l, a, b))
    })
    .unwrap();
    refused(&reused, "an old commitment");

    // Another log with the same history and key: its proof under this log's checkpoint.
    let other = ledger(dir.path(), "other.redb", "example.com/other", 8);
    let mut rng = Rng(42);
    let batch: Vec<Value> = (0..20).map(|k| entry(&mut rng, k)).collect();
    other.append_batch(&batch).unwrap();
    let signer_b = Signer::from_seed("example.com/other", [7; 32]).unwrap();
    let theirs = other
        .prove_complete(&[Term::Actor("alice".into())], (0, None), &signer_b)
        .unwrap();
    let mut spliced = theirs.clone();
    spliced.origin = new.origin.clone();
    spliced.checkpoint = new.checkpoint.clone();
    spliced.root = new.root;
    spliced.tree_size = new.tree_size;
    refused(&spliced, "another log's commitment");
    // And theirs is refused by this log's key.
    assert!(theirs.verify(&signer().verifier()).is_err());
}

#[test]
fn plain_appends_cannot_write_a_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), "r.redb", ORIGIN, 4);
    let e = json!({"actor": {"id": "mallory"}, "action": INDEX_COMMITTED,
                   "subject": {"type": "index", "id": "sha256"}});
    assert_eq!(l.append(&e).unwrap_err().code(), ErrorCode::InvalidEntry);
}

#[test]
fn verify_recomputes_every_commitment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.redb");
    let mut opts = CreateOptions::new(ORIGIN);
    opts.commit_index_every = Some(4);
    let l = Ledger::create(&path, &opts).unwrap();
    let mut rng = Rng(7);
    for k in 0..5 {
        l.append(&entry(&mut rng, k)).unwrap();
    }
    l.verify(&VerifyOptions::default()).unwrap();
    drop(l);
    // The index forgets every list: the next commitment records a root the entries do not
    // give, and is signed into the log, so the lie is there for anyone to find.
    trailseal::storage::tamper::edit(&path, |t| t.clear_index_map()).unwrap();
    let l = Ledger::open(&path).unwrap();
    for k in 5..10 {
        l.append(&entry(&mut rng, k)).unwrap();
    }
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains(INDEX_COMMITTED), "{err}");
}

/// Each commitment's root is the SPEC's map (section 9.3) of the entries before it, however
/// the store keeps the map: enough terms (a ref of its own on every entry) that the map spans
/// several of the store's tiles and leaves move down as terms land beside them, the lists
/// and the root recomputed from a full scan at every commitment.
#[test]
fn commitment_roots_equal_the_map_of_a_full_scan() {
    use std::collections::BTreeMap;
    use trailseal::commit_index::{commitment_of, list, map, term::term_id};
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), "m.redb", ORIGIN, 256);
    let batch: Vec<Value> = (0..3000u64)
        .map(|k| {
            json!({"actor": {"id": format!("a{}", k % 7)}, "action": "deploy.succeeded",
                   "subject": {"type": "service", "id": format!("s{}", k % 301)},
                   "links": [{"rel": "built_from", "ref": format!("git:{k}")}]})
        })
        .collect();
    for chunk in batch.chunks(100) {
        l.append_batch(chunk).unwrap();
    }
    let alg = l.hash();
    let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
    let mut checked = 0;
    for i in 0..l.size().unwrap() {
        let v = l.get(i).unwrap();
        if let Some(c) = commitment_of(&v) {
            let (covered, root) = c.unwrap();
            assert_eq!(covered, i);
            let pairs: Vec<(Hash, Hash)> = lists
                .iter()
                .map(|(id, els)| {
                    (
                        *id,
                        list::term_value(alg, els.len() as u64, &list::root(alg, els)),
                    )
                })
                .collect();
            assert_eq!(map::root_of(alg, &pairs, 0), root, "the commitment at {i}");
            checked += 1;
        }
        for t in Term::of_entry(&v) {
            lists.entry(term_id(alg, &t)).or_default().push(i);
        }
    }
    assert!(checked >= 10, "{checked} commitments");
}

/// The SPEC section 9 vectors (`tests/vectors/commit-index.json`): computed here, and
/// recomputed from the SPEC's definitions alone by `tests/vectors/commit_index_check.py`
/// (Python's hashlib), which this test runs. `TRAILSEAL_BLESS_VECTORS=1` rewrites the file.
#[test]
fn vectors_agree_with_an_independent_computation() {
    use trailseal::commit_index::{list, map, term::term_id, term::term_to_json};
    use trailseal::merkle::to_hex;
    use trailseal::HashAlg;
    let alg = HashAlg::Sha256;
    let terms = [
        Term::Actor("alice".into()),
        Term::Subject("service".into(), "payments-api".into()),
        Term::Attr("env".into(), "prod".into()),
        Term::LinksTo(7),
    ];
    let lists: [&[u64]; 4] = [&[0, 2, 5], &[1], &[0, 1, 2, 3, 4], &[9]];
    let mut pairs = Vec::new();
    let mut rows = Vec::new();
    for (t, els) in terms.iter().zip(lists) {
        let id = term_id(alg, t);
        let root = list::root(alg, els);
        let value = list::term_value(alg, els.len() as u64, &root);
        pairs.push((id, value));
        rows.push(
            json!({"term": term_to_json(t), "key": hex(&t.key()), "term_id": to_hex(&id),
                         "list": els, "list_root": to_hex(&root), "value": to_hex(&value)}),
        );
    }
    pairs.sort();
    let root = map::root_of(alg, &pairs, 0);
    // A store built incrementally gives the same root, and its proofs check.
    let dir = tempfile::tempdir().unwrap();
    let mut scratch = trailseal::storage::ScratchIndex::new().unwrap();
    let appends: Vec<_> = terms
        .iter()
        .zip(lists)
        .map(|(t, els)| (term_id(alg, t), els.to_vec()))
        .collect();
    let (first, second): (Vec<_>, Vec<_>) =
        appends.iter().cloned().partition(|(id, _)| id[0] < 0x80);
    let grouped = |v: Vec<(Hash, Vec<u64>)>| {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|(id, elements)| trailseal::storage::TermAppend { id, elements })
            .collect();
        v.sort_by_key(|a| a.id);
        v
    };
    scratch.append(alg, &grouped(first)).unwrap();
    assert_eq!(scratch.append(alg, &grouped(second)).unwrap(), root);
    drop(dir);
    let vectors = json!({
        "source": "trailseal core/tests/commit_index.rs; checked by tests/vectors/commit_index_check.py",
        "hash": "sha256",
        "terms": rows,
        "map_root": to_hex(&root),
    });
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/commit-index.json");
    let text = serde_json::to_string_pretty(&vectors).unwrap() + "\n";
    if std::env::var_os("TRAILSEAL_BLESS_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "vectors changed (bless them?)"
    );
    let out = std::process::Command::new("python3")
        .arg(path.with_file_name("commit_index_check.py"))
        .arg(&path)
        .output()
        .expect("python3 runs the independent check");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Appends from several threads share group commits: a commitment still closes the group that
/// reaches the interval, covers exactly the leaves before it, and proofs still equal a scan.
#[test]
fn commitments_hold_under_concurrent_appends() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(ledger(dir.path(), "g.redb", ORIGIN, 5));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let l = l.clone();
            s.spawn(move || {
                let mut rng = Rng(0x5eed + t);
                for _ in 0..15 {
                    let size = l.size().unwrap();
                    l.append(&entry(&mut rng, size)).unwrap();
                }
            });
        }
    });
    l.verify(&VerifyOptions::default()).unwrap();
    let mut last = None;
    for i in 0..l.size().unwrap() {
        let e: Value = serde_json::from_slice(&l.get_raw(i).unwrap()).unwrap();
        if e["action"] == INDEX_COMMITTED {
            assert_eq!(
                e["attrs"]["size"],
                i.to_string(),
                "a commitment covers the leaves before it"
            );
            last = Some(i);
        }
    }
    let last = last.expect("60 appends at an interval of 5 reach commitments");
    for who in ["alice", "bob", "carol"] {
        let terms = [Term::Actor(who.into())];
        let p = l.prove_complete(&terms, (0, None), &signer()).unwrap();
        assert_eq!(p.log_first, last);
        assert_eq!(indices(&p), scan(&l, &terms, 0, p.tree_size));
    }
}
