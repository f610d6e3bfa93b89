//! Pruning (issue 19 item 3): leaf bytes removed where retention allows, with the
//! `retention.pruned` entry recording it; everything else still verifies, reads say "pruned",
//! and every way of pruning too much is refused or skipped. Retention is judged at times years
//! ahead of the entries (the ledger stamps them now).

mod common;

use common::retention::{ahead, authz, by, rules};
use serde_json::{json, Value};
use trailseal::query::Query;
use trailseal::retention::RetentionRules;
use trailseal::storage::tamper;
use trailseal::{CreateOptions, ErrorCode, Ledger, PruneOptions, Signer, Timestamp, VerifyOptions};

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/prune"),
    )
    .unwrap()
}

fn entry(action: &str, subject: &str, i: usize) -> Value {
    let (t, s) = subject.split_once(':').unwrap();
    json!({"actor": {"id": format!("ci-{}", i % 3)}, "action": action,
           "subject": {"type": t, "id": s}, "id": format!("{action}-{subject}-{i}"),
           "occurred_at": "2026-01-02T03:04:05Z"})
}

fn prune(l: &Ledger, at: Timestamp, dry_run: bool) -> Value {
    let a = authz();
    l.prune(&PruneOptions {
        before: at,
        dry_run,
        by: by(&a),
    })
    .unwrap()
    .to_json()
}

fn v1() -> RetentionRules {
    rules(
        json!({"version": "v1", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}),
    )
}

/// Rules v1, then `n` builds (one batch) and a few deploys.
fn filled(dir: &tempfile::TempDir, n: usize) -> Ledger {
    let l = ledger(dir);
    let a = authz();
    l.publish_retention_rules(&v1(), &by(&a)).unwrap();
    let builds: Vec<Value> = (0..n)
        .map(|i| entry("build.finished", &format!("build:{}", i % 7), i))
        .collect();
    l.append_batch(&builds).unwrap();
    let deploys: Vec<Value> = (0..5)
        .map(|i| entry("deploy.succeeded", "service:api", i))
        .collect();
    l.append_batch(&deploys).unwrap();
    l
}

fn verify(l: &Ledger) -> Value {
    l.verify(&VerifyOptions::default().indexes(true))
        .unwrap()
        .to_json()
}

fn actions(l: &Ledger, action: &str) -> Vec<u64> {
    let q = Query {
        action: Some(action.into()),
        limit: 1000,
        ..Query::default()
    };
    l.query(&q)
        .unwrap()
        .entries
        .iter()
        .map(|f| f.index)
        .rev()
        .collect()
}

#[test]
fn eligible_entries_go_and_everything_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    let signer = Signer::generate("example.com/prune").unwrap();
    let note = l.checkpoint(&signer, None).unwrap();
    let size = l.size().unwrap();
    let root = l.root().unwrap();
    let hash_7 = l.leaf_hash(7).unwrap();

    let dry = prune(&l, ahead(2, 0), true);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(l.size().unwrap(), size, "a dry run changes nothing");
    assert_eq!(l.get(7).unwrap()["action"], "build.finished");

    let r = prune(&l, ahead(2, 0), false);
    assert_eq!(r["count"], dry["count"], "{r}");
    // Builds 1..=300 are eligible; those past the last complete tile of 64 (and the
    // indexes' tail) wait at the edge.
    assert_eq!(r["pruned"], json!([[1, 256]]), "{r}");
    assert_eq!(r["count"], 255);
    assert_eq!(r["kept"]["at_edge"], 45);
    assert_eq!(r["kept"]["in_retention"], 5, "the deploys");
    assert_eq!(r["kept"]["protected"], 1, "the rules entry");
    let record = r["records"][0].as_u64().unwrap();
    assert_eq!(record, size);
    let e = l.get(record).unwrap();
    assert_eq!(e["action"], "retention.pruned");
    assert_eq!(e["payload"]["rules"]["version"], "v1");
    assert_eq!(
        e["payload"]["ranges"][0]["actions"],
        json!(["build.finished"])
    );
    let latest = Timestamp::parse(e["payload"]["ranges"][0]["latest"].as_str().unwrap()).unwrap();
    let next = Timestamp::parse(l.get(256).unwrap()["time"].as_str().unwrap()).unwrap();
    assert!(latest <= next);
    assert_eq!(e["payload"]["ranges"][0]["start"], 1);
    assert_eq!(e["payload"]["ranges"][0]["end"], 256);
    assert_eq!(e["payload"]["count"], 255);

    // Reads say pruned, and never return the content.
    let err = l.get(7).unwrap_err();
    assert_eq!(err.code(), ErrorCode::OutOfRange);
    assert!(err.to_string().contains("pruned on"), "{err}");
    assert!(err.to_string().contains("rules v1"), "{err}");
    assert!(l.get_raw(7).is_err());
    let p = l.pruned(7).unwrap().unwrap();
    assert_eq!((p.by, p.leaf_hash), (record, hash_7));
    assert_eq!(p.rules_version, "v1");
    assert!(l.pruned(300).unwrap().is_none());
    assert_eq!(l.leaf_hash(7).unwrap(), hash_7, "the leaf hash stays");
    assert!(l.why(7).is_err() && l.trace(7, false).is_err());
    let builds = actions(&l, "build.finished");
    assert_eq!(
        builds,
        (256..301).collect::<Vec<u64>>(),
        "queries skip pruned"
    );
    let q = Query {
        subject: Some(("build".into(), "3".into())),
        limit: 1000,
        ..Query::default()
    };
    assert!(l.query(&q).unwrap().entries.iter().all(|f| f.index >= 256));

    // Proofs, checkpoints and consistency are untouched.
    assert_eq!(l.root_at(size).unwrap(), root);
    let proof = l.prove_inclusion(7, Some(size)).unwrap();
    assert_eq!(proof.leaf_hash, hash_7);
    proof.verify().unwrap();
    l.prove_consistency(size, None).unwrap().verify().unwrap();
    let report = l
        .verify(
            &VerifyOptions::default()
                .indexes(true)
                .against(&note, &signer.verifier()),
        )
        .unwrap()
        .to_json();
    assert_eq!(report["checkpoints_checked"], 1);
    assert_eq!(report["consistent_with_checkpoint"], size);

    // Pruning again finds nothing new; the plan counts what went.
    let again = prune(&l, ahead(2, 0), false);
    assert_eq!(again["count"], 0, "{again}");
    assert_eq!(again["records"], json!([]));
    assert_eq!(again["already_pruned"], 255);

    // Appends go on, and the rest can go once the edge has moved.
    let more: Vec<Value> = (0..100)
        .map(|i| entry("build.finished", "build:x", 1000 + i))
        .collect();
    l.append_batch(&more).unwrap();
    let r = prune(&l, ahead(2, 0), false);
    assert!(r["count"].as_u64().unwrap() >= 45, "{r}");
    verify(&l);
    drop(l);
    let l = Ledger::open(dir.path().join("l.redb")).unwrap();
    verify(&l);
    assert!(l.get(300).is_err());
}

#[test]
fn nothing_goes_inside_retention_under_hold_when_protected_or_linked() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let a = authz();
    l.publish_retention_rules(&v1(), &by(&a)).unwrap();
    let mut batch: Vec<Value> = (0..200)
        .map(|i| entry("build.finished", &format!("build:{}", i % 4), i))
        .collect();
    // Entry 1 + 150 (a deploy, kept seven years) links to build 12 (entry 13).
    batch[150] = entry("deploy.succeeded", "service:api", 150);
    batch[150]["links"] = json!([{"rel": "built_by", "index": 13}]);
    l.append_batch(&batch).unwrap();
    l.place_hold("case-1", &json!({"subject": "build:2"}), &by(&a))
        .unwrap();
    l.append_batch(&(0..64).map(|i| entry("x.y", "a:b", i)).collect::<Vec<_>>())
        .unwrap();
    let size = l.size().unwrap();
    let before: Vec<Vec<u8>> = (0..size).map(|i| l.get_raw(i).unwrap()).collect();

    // Inside retention: nothing.
    let r = prune(&l, ahead(0, 300), false);
    assert_eq!(r["count"], 0, "{r}");
    assert_eq!(l.size().unwrap(), size, "no record when nothing went");

    let r = prune(&l, ahead(2, 0), false);
    let pruned: Vec<(u64, u64)> = r["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_u64().unwrap()))
        .collect();
    let gone = |i: u64| pruned.iter().any(|(s, e)| (*s..*e).contains(&i));
    assert!(!gone(0), "the rules entry is protected");
    assert!(!gone(151), "the deploy is in retention");
    assert!(!gone(13), "a kept entry links to build 12");
    let held: Vec<u64> = (0..200u64).filter(|i| i % 4 == 2).map(|i| i + 1).collect();
    assert!(held.iter().all(|i| !gone(*i)), "held entries stay");
    assert!(!gone(201), "the hold record is protected");
    assert!(gone(2) && gone(14), "{r}");
    for i in 0..size {
        if !gone(i) {
            assert_eq!(l.get_raw(i).unwrap(), before[i as usize], "entry {i}");
        }
    }
    assert_eq!(
        r["kept"]["held"], 49,
        "build:2 but the one the deploy replaced"
    );
    assert_eq!(r["kept"]["linked"], 1);
    verify(&l);
    // Appends may not forge a pruning record.
    let mut forged = entry("retention.pruned", "retention_rules:v1", 0);
    forged["authz"] = authz();
    let err = l.append(&forged).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidEntry);
}

#[test]
fn a_rules_change_never_shortens_retention_retroactively() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let a = authz();
    l.publish_retention_rules(
        &rules(json!({"version": "long", "default": "P5Y"})),
        &by(&a),
    )
    .unwrap();
    l.append_batch(
        &(0..200)
            .map(|i| entry("build.finished", "b:1", i))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // A later version that keeps builds one year does not free those written under five.
    l.publish_retention_rules(
        &rules(json!({"version": "short", "default": "P1Y"})),
        &by(&a),
    )
    .unwrap();
    l.append_batch(
        &(0..200)
            .map(|i| entry("build.finished", "b:2", i))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let r = prune(&l, ahead(2, 0), false);
    assert_eq!(r["rules"]["version"], "short");
    assert!(
        r["pruned"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p[0].as_u64().unwrap() > 201),
        "{r}"
    );
    assert_eq!(r["kept"]["in_retention"], 200, "{r}");
    assert!(l.get(5).is_ok());
    verify(&l);
    let r = prune(&l, ahead(6, 0), false);
    assert!(r["pruned"][0][0].as_u64().unwrap() == 1, "{r}");
    verify(&l);
}

fn blank(path: &std::path::Path, index: u64) {
    tamper::edit(path, |t| t.set_leaf(index, b"")).unwrap();
}

#[test]
fn dropped_leaf_bytes_or_a_forged_record_are_tampered() {
    // Leaf bytes blanked with no pruning record.
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    drop(l);
    let path = dir.path().join("l.redb");
    blank(&path, 40);
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("leaf 40"), "{err}");
    assert!(err.to_string().contains("no pruning record"), "{err}");
    drop(l);

    // A pruned ledger whose record is widened: its leaf no longer hashes to the tree.
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    let r = prune(&l, ahead(2, 0), false);
    let record = r["records"][0].as_u64().unwrap();
    let leaf = l.get_json(record).unwrap();
    drop(l);
    let path = dir.path().join("l.redb");
    let widened = leaf.replace("\"end\":256", "\"end\":257");
    assert_ne!(widened, leaf);
    tamper::edit(&path, |t| t.set_leaf(record, widened.as_bytes())).unwrap();
    blank(&path, 256);
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    drop(l);

    // Leaves blanked beyond what the record names.
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    prune(&l, ahead(2, 0), false);
    drop(l);
    let path = dir.path().join("l.redb");
    blank(&path, 290);
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("leaf 290"), "{err}");
    drop(l);

    // A pruned leaf's bytes put back (stale content) where the record says it went.
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    let old = l.get_raw(9).unwrap();
    prune(&l, ahead(2, 0), false);
    drop(l);
    let path = dir.path().join("l.redb");
    tamper::edit(&path, |t| t.set_leaf(9, &old)).unwrap();
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("leaf 9"), "{err}");
}

#[test]
fn prune_under_concurrent_appends_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(filled(&dir, 3000));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    l.append(&entry("build.finished", "build:c", t * 1000 + i))
                        .unwrap();
                }
            })
        })
        .collect();
    let a = authz();
    let r = l
        .prune(&PruneOptions {
            before: ahead(2, 0),
            dry_run: false,
            by: by(&a),
        })
        .unwrap();
    for w in writers {
        w.join().unwrap();
    }
    assert!(r.count >= 2900, "{}", r.to_json());
    let size = l.size().unwrap();
    assert_eq!(size, 1 + 3000 + 5 + 450 + r.records.len() as u64);
    verify(&l);
    // Every append is there, readable.
    assert_eq!(
        actions(&l, "build.finished").len() as u64 + r.count,
        3000 + 450
    );
}

#[test]
fn a_record_is_re_judged_from_its_claims_alone() {
    use trailseal::retention::{PruneRecord, PrunedRange, RulesVersion};
    let long = rules(
        json!({"version": "long", "default": "P5Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}),
    );
    let short = rules(json!({"version": "short", "default": "P1Y"}));
    let versions = [
        RulesVersion {
            index: 0,
            rules: long,
        },
        RulesVersion {
            index: 50,
            rules: short.clone(),
        },
    ];
    let t = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let record = |start: u64, action: &str, before: &str| PruneRecord {
        before: Timestamp::parse(before).unwrap(),
        rules_index: 50,
        rules_version: "short".into(),
        rules_digest: short.digest(),
        holds: Vec::new(),
        ranges: vec![PrunedRange {
            range: start..start + 10,
            actions: vec![action.into()],
            latest: t,
        }],
    };
    // After the short rules: a year is enough.
    assert_eq!(
        record(60, "build", "2027-06-01T00:00:00Z").disallowed(100, &versions),
        None
    );
    // Written under the long rules: five years, whatever the short ones say.
    let why = record(10, "build", "2027-06-01T00:00:00Z")
        .disallowed(100, &versions)
        .unwrap();
    assert!(why.contains("still in retention"), "{why}");
    assert_eq!(
        record(10, "build", "2031-06-01T00:00:00Z").disallowed(100, &versions),
        None
    );
    // Protected actions never.
    let why = record(60, "legal_hold.placed", "2099-01-01T00:00:00Z")
        .disallowed(100, &versions)
        .unwrap();
    assert!(why.contains("never pruned"), "{why}");
    // The rules it names must be those in force.
    let mut stale = record(60, "build", "2027-06-01T00:00:00Z");
    stale.rules_index = 0;
    stale.rules_version = "long".into();
    assert!(stale
        .disallowed(100, &versions)
        .unwrap()
        .contains("not the version in force"));
    // A record's payload reads back as it was written.
    let r = record(60, "build", "2027-06-01T00:00:00Z");
    let e = json!({"payload": r.to_payload()});
    assert_eq!(PruneRecord::from_entry(100, &e).unwrap(), r);
    let mut bad = e.clone();
    bad["payload"]["count"] = json!(11);
    assert_eq!(
        PruneRecord::from_entry(100, &bad).unwrap_err().code(),
        ErrorCode::Tampered
    );
}

/// A ledger that keeps committed indexes (SPEC 9) recomputes each commitment from the entries'
/// content in `verify`, so pruning one is refused, with nothing changed.
#[test]
fn a_ledger_with_committed_indexes_is_not_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(
        dir.path().join("c.redb"),
        &CreateOptions::new("example.com/prune").committed_indexes(true),
    )
    .unwrap();
    let a = authz();
    l.publish_retention_rules(&v1(), &by(&a)).unwrap();
    let batch: Vec<Value> = (0..100)
        .map(|i| entry("test.passed", "build:b", i))
        .collect();
    l.append_batch(&batch).unwrap();
    let size = l.size().unwrap();
    let e = l
        .prune(&PruneOptions {
            before: ahead(2, 0),
            dry_run: false,
            by: by(&a),
        })
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    assert!(e.to_string().contains("committed indexes"), "{e}");
    assert_eq!(l.size().unwrap(), size, "nothing written");
    l.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn a_bundle_proves_a_pruned_entrys_hash_and_carries_no_content() {
    use trailseal::evidence::{verify_bundle, Selection};
    let dir = tempfile::tempdir().unwrap();
    let l = filled(&dir, 300);
    let signer = Signer::generate("example.com/prune").unwrap();
    let hash_7 = trailseal::merkle::to_hex(&l.leaf_hash(7).unwrap());
    let r = prune(&l, ahead(2, 0), false);
    let record = r["records"][0].as_u64().unwrap();

    let b = l
        .bundle(&Selection::Indexes(vec![7, 300]), &signer)
        .unwrap()
        .to_text();
    assert!(!b.contains("build.finished-build:0-7"), "no content: {b}");
    let report = verify_bundle(&b, &signer.verifier()).unwrap();
    assert_eq!(report.entries.len(), 1, "only the kept entry has content");
    assert_eq!(report.entries[0].index, 300);
    assert_eq!(report.pruned.len(), 1);
    let p = &report.pruned[0];
    assert_eq!((p.index, p.by), (7, record));
    assert_eq!(trailseal::merkle::to_hex(&p.leaf_hash), hash_7);
    assert_eq!(p.rules_version, "v1");
    let j = report.to_json();
    assert_eq!(j["pruned"][0]["pruned"]["by"], record, "{j}");
    assert!(j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["index"] != 7));

    // Another leaf hash in the pruned item's place is refused.
    let other = trailseal::merkle::to_hex(&l.leaf_hash(8).unwrap());
    let changed = b.replace(&hash_7, &other);
    assert_ne!(changed, b);
    let err = verify_bundle(&changed, &signer.verifier()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::VerificationFailed, "{err}");
    // A pruned item with content too, or with neither, is malformed.
    let both = b.replacen("\"pruned\": {", "\"entry\": {}, \"pruned\": {", 1);
    assert_eq!(
        verify_bundle(&both, &signer.verifier()).unwrap_err().code(),
        ErrorCode::Malformed
    );

    // With the pruning entry in the bundle, where the item went is checked against it.
    let b = l
        .bundle(&Selection::Indexes(vec![7, record]), &signer)
        .unwrap()
        .to_text();
    verify_bundle(&b, &signer.verifier()).unwrap();
    let wrong_version = b.replace("\"rules_version\":\"v1\"}", "\"rules_version\":\"v2\"}");
    assert_ne!(wrong_version, b);
    let err = verify_bundle(&wrong_version, &signer.verifier()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::VerificationFailed, "{err}");
    assert!(err.to_string().contains("another rules version"), "{err}");
}
