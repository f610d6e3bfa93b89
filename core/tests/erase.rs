//! Personal fields and their erasure (issue 19 item 4, SPEC section 10): values sealed as
//! salted commitments in the leaves and kept beside them, read back as given, erased with an
//! `erasure.performed` record while every proof still verifies, and gone from the file.

mod common;

use common::retention::{authz, by};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trailseal::entry::check_opening;
use trailseal::query::Query;
use trailseal::storage::tamper;
use trailseal::{CreateOptions, EraseOptions, EraseSelect, ErrorCode, Ledger, VerifyOptions};

const ALICE: &str = "alice.personal@example.com";
const SECRET: &str = "alice-home-address-42";

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/erase").personal_fields(&[
            "actor.id",
            "change.before",
            "payload.user.email",
        ]),
    )
    .unwrap()
}

fn by_alice(i: usize) -> Value {
    json!({"actor": {"id": ALICE}, "action": "access.role_granted",
           "subject": {"type": "role", "id": format!("admin-{i}")}, "id": format!("a-{i}"),
           "change": {"before": {"address": SECRET}, "after": "granted"},
           "payload": {"user": {"email": ALICE, "team": "payments"}}})
}

fn by_bob(i: usize) -> Value {
    json!({"actor": {"id": "bob"}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": "api"}, "id": format!("b-{i}")})
}

fn erase(l: &Ledger, select: EraseSelect) -> trailseal::Result<trailseal::EraseReport> {
    let a = authz();
    l.erase(&EraseOptions {
        select,
        reason: "data subject request DSR-114",
        legal_basis: Some("GDPR Art. 17(1)(a)"),
        request: Some("DSR-114"),
        dry_run: false,
        by: by(&a),
    })
}

fn actor_hits(l: &Ledger, actor: &str) -> Vec<u64> {
    let q = Query {
        actor: Some(actor.into()),
        limit: 1000,
        ..Query::default()
    };
    l.query(&q)
        .unwrap()
        .entries
        .iter()
        .map(|f| f.index)
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn values_are_sealed_read_back_and_erased_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = ledger(&dir);
    // Enough entries that the query indexes write runs (64 leaves), and some in the tail.
    for i in 0..3 {
        l.append(&by_alice(i)).unwrap();
    }
    let bulk: Vec<Value> = (0..100).map(by_bob).collect();
    l.append_batch(&bulk).unwrap();
    l.append(&by_alice(3)).unwrap();
    let alice_at = vec![0, 1, 2, 103];

    // The leaf holds commitments; reads give the values as recorded.
    let raw = String::from_utf8(l.get_raw(0).unwrap()).unwrap();
    assert!(!raw.contains(ALICE) && !raw.contains(SECRET), "{raw}");
    assert!(raw.contains("\"sealed\":[\"actor.id\",\"change.before\",\"payload.user.email\"]"));
    let e = l.get(0).unwrap();
    assert_eq!(e["actor"]["id"], ALICE);
    assert_eq!(e["change"]["before"]["address"], SECRET);
    assert_eq!(e["payload"]["user"]["team"], "payments");
    assert_eq!(l.get(5).unwrap()["sealed"], json!(["actor.id"]));
    // Bob's actor.id is personal too: sealed, read back as given.
    assert_eq!(l.get(5).unwrap()["actor"]["id"], "bob");
    assert_eq!(actor_hits(&l, ALICE), {
        let mut v = alice_at.clone();
        v.reverse();
        v
    });
    // A retried event is recognised by its values, not its (fresh) commitments.
    let again = l.append(&by_alice(1)).unwrap();
    assert_eq!(again.index, 1);
    let mut changed = by_alice(1);
    changed["change"]["after"] = json!("revoked");
    assert_eq!(
        l.append(&changed).unwrap_err().code(),
        ErrorCode::IdConflict
    );

    // Someone keeps the openings of entry 0 before the erasure.
    let kept = l.openings(0).unwrap().unwrap();
    let commitment = raw_json(&l, 0)["actor"]["id"].as_str().unwrap().to_owned();
    let size = l.size().unwrap();
    let leaf_hash = l.leaf_hash(0).unwrap();
    let proof_before = l.prove_inclusion(0, Some(size)).unwrap();

    let report = erase(&l, EraseSelect::Actor(ALICE.into())).unwrap();
    assert_eq!(report.erased, alice_at);
    assert_eq!(report.records.len(), 1);
    let record = report.records[0];
    let r = l.get(record).unwrap();
    assert_eq!(r["action"], "erasure.performed");
    assert_eq!(r["payload"]["count"], 4);
    assert_eq!(r["payload"]["selected_by"], "actor");
    assert_eq!(r["payload"]["legal_basis"], "GDPR Art. 17(1)(a)");
    assert!(
        !r.to_string().contains(ALICE),
        "the record never names the value"
    );

    // The entries still verify, read as erased, and match no query on their values.
    let e = l.get(0).unwrap();
    assert_eq!(e["erased"], json!({"by": record}));
    assert!(e.to_string().contains(&commitment));
    assert!(!e.to_string().contains(ALICE));
    assert!(actor_hits(&l, ALICE).is_empty());
    assert_eq!(actor_hits(&l, "bob").len(), 100);
    assert_eq!(l.openings(0).unwrap(), None);
    let proof_after = l.prove_inclusion(0, Some(size)).unwrap();
    assert_eq!(proof_before, proof_after);
    assert_eq!(l.leaf_hash(0).unwrap(), leaf_hash);
    l.verify_with(VerifyOptions::default()).unwrap();
    // Whoever kept the value and its salt still shows what was recorded.
    let o = &kept["actor.id"];
    check_opening(&commitment, o["salt"].as_str().unwrap(), &o["value"]).unwrap();
    assert!(check_opening(&commitment, o["salt"].as_str().unwrap(), &json!("mallory")).is_err());
    // Erasing again finds nothing.
    assert_eq!(
        erase(&l, EraseSelect::Actor(ALICE.into()))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    drop(l);

    // Nothing in the file reveals the values: not them, not their unsalted hashes, not the
    // query index's hash of the actor term.
    let bytes = std::fs::read(&path).unwrap();
    for v in [ALICE, SECRET] {
        assert!(!contains(&bytes, v.as_bytes()), "{v} is still in the file");
        let h = Sha256::digest(v.as_bytes());
        assert!(!contains(&bytes, &h), "SHA-256({v}) is in the file");
        assert!(!contains(&bytes, hex::encode(h).as_bytes()));
        let quoted = Sha256::digest(format!("\"{v}\"").as_bytes());
        assert!(!contains(&bytes, &quoted));
    }
    let mut key = vec![b'a'];
    key.extend_from_slice(&(ALICE.len() as u32).to_be_bytes());
    key.extend_from_slice(ALICE.as_bytes());
    let th = trailseal::postings::term_hash(&key);
    assert!(!contains(&bytes, &th.to_be_bytes()) && !contains(&bytes, &th.to_le_bytes()));
    // Bob's values were not erased: they are there.
    assert!(contains(&bytes, b"bob"));
}

fn raw_json(l: &Ledger, i: u64) -> Value {
    serde_json::from_slice(&l.get_raw(i).unwrap()).unwrap()
}

#[test]
fn refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    for i in 0..3 {
        l.append(&by_alice(i)).unwrap();
    }
    let a = authz();
    l.place_hold("case-7", &json!({"subject": "role:admin-1"}), &by(&a))
        .unwrap();
    let size = l.size().unwrap();
    let refused = erase(&l, EraseSelect::Actor(ALICE.into())).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidArgument);
    assert!(refused.to_string().contains("case-7"), "{refused}");
    assert_eq!(l.size().unwrap(), size);
    assert_eq!(l.get(1).unwrap()["actor"]["id"], ALICE);
    // The hold record itself is protected; an index past the end is out of range.
    let hold = size - 1;
    assert_eq!(
        erase(&l, EraseSelect::Indexes(vec![hold]))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        erase(&l, EraseSelect::Indexes(vec![size]))
            .unwrap_err()
            .code(),
        ErrorCode::OutOfRange
    );
    // Entry 0 is not under the hold: it alone goes.
    let r = erase(&l, EraseSelect::Indexes(vec![0])).unwrap();
    assert_eq!(r.erased, vec![0]);
    // An erasure record by hand is refused.
    let forged = json!({"actor": {"id": "x"}, "action": "erasure.performed",
        "subject": {"type": "erasure", "id": "e"}, "payload": {"ranges": [], "count": 0}});
    assert_eq!(
        l.append(&forged).unwrap_err().code(),
        ErrorCode::InvalidEntry
    );
    l.verify_with(VerifyOptions::default()).unwrap();

    // Without personal fields there is nothing apart from the leaves to erase.
    let plain = Ledger::create(dir.path().join("p.redb"), &CreateOptions::new("p")).unwrap();
    plain.append(&by_bob(0)).unwrap();
    assert_eq!(
        erase(&plain, EraseSelect::Indexes(vec![0]))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidArgument
    );
    // Personal fields and committed indexes do not mix; a bad path is refused.
    let both = CreateOptions::new("x")
        .personal_fields(&["actor.id"])
        .committed_indexes(true);
    assert!(Ledger::create(dir.path().join("b.redb"), &both).is_err());
    let bad = CreateOptions::new("x").personal_fields(&["actor"]);
    assert!(Ledger::create(dir.path().join("c.redb"), &bad).is_err());
}

#[test]
fn values_dropped_without_an_erasure_or_forged_are_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = ledger(&dir);
    for i in 0..3 {
        l.append(&by_alice(i)).unwrap();
    }
    let forged = {
        let o = l.openings(2).unwrap().unwrap();
        let mut f = o.clone();
        f["actor.id"]["value"] = json!("mallory");
        trailseal::entry::canonical_json(&f)
    };
    drop(l);
    tamper::edit(&path, |t| t.set_openings(1, None)).unwrap();
    let l = Ledger::open(&path).unwrap();
    let e = l.verify_with(VerifyOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert_eq!(l.get(1).unwrap_err().code(), ErrorCode::Tampered);
    drop(l);
    tamper::edit(&path, |t| t.set_openings(2, Some(&forged))).unwrap();
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.get(2).unwrap_err().code(), ErrorCode::Tampered);
}

#[test]
fn erasure_beside_concurrent_appends() {
    let dir = tempfile::tempdir().unwrap();
    let l = std::sync::Arc::new(ledger(&dir));
    for i in 0..20 {
        l.append(&by_alice(i)).unwrap();
    }
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    l.append(&by_bob(t * 1000 + i)).unwrap();
                }
            })
        })
        .collect();
    let r = erase(&l, EraseSelect::Actor(ALICE.into())).unwrap();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(r.erased, (0..20).collect::<Vec<u64>>());
    assert_eq!(actor_hits(&l, "bob").len(), 120);
    l.verify_with(VerifyOptions::default()).unwrap();
}

#[test]
fn pruning_removes_the_values_with_the_bytes() {
    use common::retention::{ahead, rules};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = ledger(&dir);
    let a = authz();
    let doc = rules(json!({"version": "v1", "default": "P1Y"}));
    l.publish_retention_rules(&doc, &by(&a)).unwrap();
    let batch: Vec<Value> = (0..200).map(by_alice).collect();
    l.append_batch(&batch).unwrap();
    let report = l
        .prune(&trailseal::PruneOptions {
            before: ahead(2, 0),
            dry_run: false,
            by: by(&a),
        })
        .unwrap();
    assert!(report.count >= 128, "{}", report.count);
    assert_eq!(l.openings(1).unwrap(), None);
    assert!(actor_hits(&l, ALICE).len() < 200 - 127);
    l.verify_with(VerifyOptions::default().indexes(true))
        .unwrap();
    drop(l);
    // The kept tail still holds its values (twice in each opening: actor.id and the payload
    // email); nothing of the pruned ones is left in the file.
    let bytes = std::fs::read(&path).unwrap();
    let n = bytes
        .windows(ALICE.len())
        .filter(|w| *w == ALICE.as_bytes())
        .count();
    assert_eq!(n, 2 * (200 - report.count as usize), "copies of the value");
}

#[test]
fn bundles_carry_the_values_with_what_proves_them() {
    use trailseal::{verify_bundle, Selection, Signer};
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    for i in 0..3 {
        l.append(&by_alice(i)).unwrap();
    }
    l.append(&by_bob(0)).unwrap();
    let signer = Signer::generate("example.com/erase").unwrap();
    let b = l
        .bundle(&Selection::Indexes(vec![0, 3]), &signer)
        .unwrap()
        .to_text();
    assert!(b.contains("\"openings\""));
    let report = verify_bundle(&b, &signer.verifier()).unwrap();
    assert_eq!(report.entries[0].entry["actor"]["id"], ALICE);
    assert_eq!(
        report.entries[0].entry["change"]["before"]["address"],
        SECRET
    );
    assert_eq!(report.entries[1].entry["actor"]["id"], "bob");
    // An opening changed in the bundle no longer opens its commitment.
    let forged = b.replacen(ALICE, "mallory@example.com", 1);
    assert_eq!(
        verify_bundle(&forged, &signer.verifier())
            .unwrap_err()
            .code(),
        ErrorCode::VerificationFailed
    );
    // After the erasure a bundle proves the same leaf, with commitments and no openings.
    erase(&l, EraseSelect::Actor(ALICE.into())).unwrap();
    let after = l
        .bundle(&Selection::Indexes(vec![0]), &signer)
        .unwrap()
        .to_text();
    assert!(!after.contains("\"openings\"") && !after.contains(ALICE));
    let report = verify_bundle(&after, &signer.verifier()).unwrap();
    assert!(report.entries[0].entry["actor"]["id"]
        .as_str()
        .unwrap()
        .starts_with("commitment:"));
}
