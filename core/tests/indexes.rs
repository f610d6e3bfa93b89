//! The query indexes as sorted runs merged as they accumulate: queries over many commits of
//! every size (so runs of several merge levels exist) agree with a plain scan of the entries,
//! survive reopening, and doctored postings are caught by `verify` or filtered by `query`.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::{json, Value};
use trailseal::query::{Order, Query};
use trailseal::{CreateOptions, ErrorCode, Ledger, VerifyOptions};

mod common;
use common::{all_pages, Rng};

const BLOCKS: TableDefinition<(u64, u64, u64), &[u8]> =
    TableDefinition::new("trailseal.posting_blocks");
const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.posting_runs");

fn entry(r: &mut Rng, i: u64) -> Value {
    let action = ["deploy.succeeded", "build.succeeded", "approval.granted"][r.below(3) as usize];
    let env = ["prod", "staging"][r.below(2) as usize];
    let mut e = json!({
        "actor": {"id": format!("user-{}", r.below(5))},
        "action": action,
        "subject": {"type": "service", "id": format!("svc-{}", r.below(4))},
        "attrs": {"env": env, "seq": format!("s{i}")},
        "links": [{"rel": "built_from", "ref": format!("git:{:x}", r.below(40))}],
    });
    if i > 0 && r.below(2) == 0 {
        e["links"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rel": "after", "index": r.below(i)}));
    }
    e
}

/// Appends `n` entries in commits of 1 to 12 entries (most of them singles): small commits
/// join the last small run, and 8-way merges combine the runs they fill.
fn build(path: &Path, n: u64, seed: u64) -> Vec<Value> {
    build_in(path, n, seed, |r| {
        if r.below(3) == 0 {
            1 + r.below(12)
        } else {
            1
        }
    })
}

fn build_in(path: &Path, n: u64, seed: u64, batch: impl Fn(&mut Rng) -> u64) -> Vec<Value> {
    let l = Ledger::create(path, &CreateOptions::new("ex/indexes")).unwrap();
    let mut r = Rng(seed);
    let mut all = Vec::new();
    while (all.len() as u64) < n {
        let k = batch(&mut r);
        let k = k.min(n - all.len() as u64);
        let batch: Vec<Value> = (0..k)
            .map(|j| entry(&mut r, all.len() as u64 + j))
            .collect();
        l.append_batch(&batch).unwrap();
        all.extend(batch);
    }
    all
}

fn matches(e: &Value, q: &Query) -> bool {
    let s = |p: &str| e.pointer(p).and_then(Value::as_str);
    q.actor.as_deref().is_none_or(|a| s("/actor/id") == Some(a))
        && q.action.as_deref().is_none_or(|a| s("/action") == Some(a))
        && q.subject
            .as_ref()
            .is_none_or(|(t, i)| s("/subject/type") == Some(t) && s("/subject/id") == Some(i))
        && q.attrs
            .iter()
            .all(|(k, v)| e["attrs"].get(k).and_then(Value::as_str) == Some(v))
        && q.refs.iter().all(|r| {
            e["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["ref"].as_str() == Some(r))
        })
        && q.links_to.is_none_or(|t| {
            e["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["index"].as_u64() == Some(t))
        })
}

fn queries(r: &mut Rng, n: u64) -> Vec<Query> {
    let mut qs = Vec::new();
    for _ in 0..60 {
        let mut q = Query {
            limit: 1 + r.below(40) as usize,
            order: if r.below(2) == 0 {
                Order::OldestFirst
            } else {
                Order::NewestFirst
            },
            ..Query::default()
        };
        if r.below(2) == 0 {
            q.actor = Some(format!("user-{}", r.below(6)));
        }
        if r.below(3) == 0 {
            q.action = Some("deploy.succeeded".into());
        }
        if r.below(3) == 0 {
            q.subject = Some(("service".into(), format!("svc-{}", r.below(4))));
        }
        if r.below(3) == 0 {
            q.attrs.push(("env".into(), "prod".into()));
        }
        if r.below(4) == 0 {
            q.attrs.push(("seq".into(), format!("s{}", r.below(n + 2))));
        }
        if r.below(3) == 0 {
            q.refs.push(format!("git:{:x}", r.below(41)));
        }
        if r.below(5) == 0 {
            q.links_to = Some(r.below(n));
        }
        qs.push(q);
    }
    qs
}

#[test]
fn queries_over_merged_runs_agree_with_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let n = 700;
    let all = build(&path, n, 0x5eed);
    // Several merge levels exist: more than one run, fewer than one per commit.
    let runs = {
        let db = Database::open(&path).unwrap();
        let r = db.begin_read().unwrap();
        r.open_table(RUNS).unwrap().len().unwrap()
    };
    assert!((2..60).contains(&runs), "{runs} runs");
    for reopened in [false, true] {
        let l = Ledger::open(&path).unwrap();
        let mut r = Rng(if reopened { 77 } else { 78 });
        for q in queries(&mut r, n) {
            let mut want: Vec<u64> = (0..n).filter(|&i| matches(&all[i as usize], &q)).collect();
            if q.order == Order::NewestFirst {
                want.reverse();
            }
            assert_eq!(all_pages(&l, q.clone()), want, "{q:?}");
        }
        let report = l.verify(&VerifyOptions::default().indexes(true)).unwrap();
        assert!(report.indexes_checked);
        assert!(report.postings >= 6 * n, "{} postings", report.postings);
    }
}

/// Commits of 70 to 90 entries (each its own run): 75 of them merge up to level 2.
#[test]
fn deep_merges_agree_with_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let n = 6000;
    let all = build_in(&path, n, 0xdee9, |r| 70 + r.below(21));
    let levels: Vec<u8> = trailseal::storage::tamper::runs(&path)
        .unwrap()
        .iter()
        .map(|r| r.level)
        .collect();
    assert!(levels.contains(&2), "a level-2 run exists: {levels:?}");
    let l = Ledger::open(&path).unwrap();
    let mut r = Rng(99);
    for q in queries(&mut r, n).into_iter().take(25) {
        let mut want: Vec<u64> = (0..n).filter(|&i| matches(&all[i as usize], &q)).collect();
        if q.order == Order::NewestFirst {
            want.reverse();
        }
        assert_eq!(all_pages(&l, q.clone()), want, "{q:?}");
    }
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
}

#[test]
fn appends_after_reopen_keep_merging() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let mut all = build(&path, 90, 1);
    let l = Ledger::open(&path).unwrap();
    let mut r = Rng(2);
    for i in 90..200 {
        let e = entry(&mut r, i);
        l.append(&e).unwrap();
        all.push(e);
    }
    let q = Query {
        actor: Some("user-1".into()),
        order: Order::OldestFirst,
        limit: 7,
        ..Query::default()
    };
    let want: Vec<u64> = (0..200)
        .filter(|&i| matches(&all[i as usize], &q))
        .collect();
    assert_eq!(all_pages(&l, q), want);
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
}

/// Move one posting of the biggest block to another leaf of the same run, re-encoded validly
/// (so only a check against the entries can tell). Returns (leaf hidden, leaf misfiled).
fn doctor(path: &Path) -> (u64, u64) {
    let db = Database::open(path).unwrap();
    let w = db.begin_write().unwrap();
    let moved;
    {
        let mut t = w.open_table(BLOCKS).unwrap();
        let mut blocks = Vec::new();
        for item in t.iter().unwrap() {
            let (k, v) = item.unwrap();
            let k = k.value();
            blocks.push((
                k,
                trailseal::postings::decode_block((k.1, k.2), v.value()).unwrap(),
            ));
        }
        let (key, mut ps) = blocks
            .iter()
            .max_by_key(|(_, ps)| ps.len())
            .cloned()
            .unwrap();
        let leaves: std::collections::BTreeSet<u64> = blocks
            .iter()
            .filter(|(k, _)| k.0 == key.0)
            .flat_map(|(_, ps)| ps.iter().map(|p| p.1))
            .collect();
        let at = ps.len() / 2;
        let (h, i) = ps[at];
        let other = *leaves
            .iter()
            .rev()
            .find(|j| **j != i && !ps.contains(&(h, **j)))
            .unwrap();
        ps[at] = (h, other);
        ps.sort();
        moved = (i, other);
        let mut b = trailseal::postings::BlockBuilder::default();
        for p in ps {
            b.push(p);
        }
        let (first, bytes, _) = b.take().unwrap();
        t.remove(key).unwrap();
        t.insert((key.0, first.0, first.1), bytes.as_slice())
            .unwrap();
    }
    w.commit().unwrap();
    moved
}

#[test]
fn doctored_postings_are_found_by_verify_and_filtered_by_query() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let n = 120;
    let all = build(&path, n, 9);
    Ledger::open(&path)
        .unwrap()
        .verify(&VerifyOptions::default().indexes(true))
        .unwrap();
    let (_hidden, misfiled) = doctor(&path);
    let l = Ledger::open(&path).unwrap();
    // The structure is intact, so the default verify passes; the deep check does not.
    l.verify(&VerifyOptions::default()).unwrap();
    let err = l
        .verify(&VerifyOptions::default().indexes(true))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("query index"), "{err}");
    // Whatever term the moved posting was for, no query returns an entry that lacks it.
    let e = &all[misfiled as usize];
    let mut qs = vec![Query {
        actor: e["actor"]["id"].as_str().map(str::to_owned),
        ..Query::default()
    }];
    for a in ["deploy.succeeded", "build.succeeded", "approval.granted"] {
        qs.push(Query {
            action: Some(a.into()),
            ..Query::default()
        });
    }
    for k in 0..6 {
        qs.push(Query {
            actor: Some(format!("user-{k}")),
            ..Query::default()
        });
    }
    for mut q in qs {
        q.limit = 1000;
        for f in l.query(&q).unwrap().entries {
            assert!(
                matches(&all[f.index as usize], &q),
                "{} misattributed",
                f.index
            );
        }
    }
}

#[test]
fn damaged_blocks_are_tampered_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    build(&path, 200, 3);
    {
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(BLOCKS).unwrap();
            let key = t.first().unwrap().unwrap().0.value();
            t.insert(key, [0x80u8, 0x80].as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("posting run"), "{err}");
}

/// Commits that leave the unindexed tail under 64 leaves write no postings; the commit that
/// would make it longer indexes the whole tail. Queries see the tail's entries at every size,
/// oldest and newest first.
#[test]
fn single_appends_index_every_64th_commit_and_queries_cover_the_tail() {
    use trailseal::storage::{tamper, INDEX_TAIL_LEAVES};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let mut l = Ledger::create(&path, &CreateOptions::new("ex/indexes")).unwrap();
    let mut r = Rng(0x7a11);
    let mut all: Vec<Value> = Vec::new();
    let mut flushes = 0;
    let mut indexed_before = 0;
    for i in 0..300u64 {
        let e = entry(&mut r, i);
        l.append(&e).unwrap();
        all.push(e);
        let size = i + 1;
        // The file is locked while open; reopening also shows the tail lives in the file.
        drop(l);
        let indexed = tamper::runs(&path).unwrap().last().map_or(0, |r| r.end);
        l = Ledger::open(&path).unwrap();
        assert!(
            size - indexed < INDEX_TAIL_LEAVES,
            "size {size}, indexed {indexed}"
        );
        if indexed != indexed_before {
            assert_eq!(
                indexed, size,
                "a flush indexes everything up to its own leaves"
            );
            flushes += 1;
            indexed_before = indexed;
        }
        if size % 10 == 3 || size - indexed == 1 {
            for q in queries(&mut r, size).into_iter().take(6) {
                let mut want: Vec<u64> = (0..size)
                    .filter(|&j| matches(&all[j as usize], &q))
                    .collect();
                if q.order == Order::NewestFirst {
                    want.reverse();
                }
                assert_eq!(all_pages(&l, q.clone()), want, "size {size}: {q:?}");
            }
        }
    }
    assert_eq!(flushes, 300 / INDEX_TAIL_LEAVES);
    let report = l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    assert!(report.indexes_checked);
}

/// Runs cut short (the last one deleted) leave a tail no writer leaves: `verify` says the
/// indexes were tampered with, and queries refuse rather than scan an unbounded tail.
#[test]
fn an_index_cut_short_is_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    build_in(&path, 400, 5, |_| 100);
    {
        let db = Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut runs = w.open_table(RUNS).unwrap();
            let last = runs.last().unwrap().unwrap().0.value();
            runs.remove(last).unwrap();
        }
        w.commit().unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("unindexed"), "{err}");
    let q = Query {
        actor: Some("user-1".into()),
        ..Query::default()
    };
    assert_eq!(l.query(&q).unwrap_err().code(), ErrorCode::Tampered);
}
