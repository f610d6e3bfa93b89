//! Entries as OCSF events (`export::ocsf`): the import mapping run backwards.
//!
//! An OCSF event imported and followed back is the same event; every other kind of entry
//! (native, from CDEvents, from in-toto) becomes an event with what OCSF requires, which the
//! importer reads back to the same actor, subject, authorization and time; and every event
//! says where its entry sits, with the entry itself hashing to the leaf hash it names.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trailseal::capture::formats::{self, Format};
use trailseal::entry::canonical_json;
use trailseal::export::ocsf::{to_ocsf, Provenance, OCSF_VERSION};
use trailseal::merkle::to_hex;
use trailseal::{CreateOptions, Ledger, Timestamp};

const ORIGIN: &str = "example.com/ocsf-export";

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/capture")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::create(dir.path().join("l.redb"), &CreateOptions::new(ORIGIN)).unwrap()
}

fn event_of(l: &Ledger, index: u64) -> Value {
    let at = Provenance {
        origin: l.origin(),
        hash: l.hash(),
        index,
        leaf_hash: l.leaf_hash(index).unwrap(),
    };
    to_ocsf(&l.get(index).unwrap(), &at).unwrap()
}

fn ms(rfc3339: &str) -> i64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// `unmapped.trailseal` names this ledger and index, and its `entry` (with the payload put
/// back for an imported event, whose payload the event is) hashes to the leaf hash it names.
fn check_provenance(l: &Ledger, index: u64, ev: &Value) {
    let p = &ev["unmapped"]["trailseal"];
    assert_eq!(p["origin"], ORIGIN);
    assert_eq!(p["hash"], "sha256");
    assert_eq!(p["index"], index);
    assert_eq!(p["leaf_hash"], to_hex(&l.leaf_hash(index).unwrap()));
    let mut entry = p["entry"].clone();
    if entry.get("payload").is_none() {
        if let Some(payload) = l.get(index).unwrap().get("payload") {
            entry["payload"] = payload.clone();
        }
    }
    let leaf = canonical_json(&entry);
    assert_eq!(
        to_hex(&l.hash().leaf_hash(&leaf)),
        p["leaf_hash"].as_str().unwrap()
    );
}

#[test]
fn an_imported_ocsf_event_follows_back_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let files = fixtures("ocsf");
    assert!(files.len() >= 4);
    for (index, file) in files.iter().enumerate() {
        let original: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        formats::import(&l, Format::Ocsf, &std::fs::read(file).unwrap()).unwrap();
        let index = index as u64;
        let mut ev = event_of(&l, index);
        check_provenance(&l, index, &ev);
        for k in [
            "class_uid",
            "activity_id",
            "time",
            "actor",
            "metadata",
            "type_uid",
        ] {
            assert_eq!(ev[k], original[k], "{}: {k}", file.display());
        }
        // The rest of the event is untouched too: only unmapped.trailseal was added.
        let u = ev["unmapped"].as_object_mut().unwrap();
        u.remove("trailseal");
        if u.is_empty() && original.get("unmapped").is_none() {
            ev.as_object_mut().unwrap().remove("unmapped");
        }
        assert_eq!(ev, original, "{}", file.display());
        // And importing it again records the same entry fields.
        let again = formats::to_entries(Format::Ocsf, ev.to_string().as_bytes()).unwrap();
        let stored = l.get(index).unwrap();
        for k in [
            "actor",
            "action",
            "subject",
            "occurred_at",
            "authz",
            "change",
        ] {
            assert_eq!(again[0].get(k), stored.get(k), "{}: {k}", file.display());
        }
    }
}

/// What OCSF requires of every event, and of API Activity in particular, as far as an entry
/// can fill it.
fn check_valid(ev: &Value, what: &str) {
    let class = ev["class_uid"].as_u64().unwrap();
    let activity = ev["activity_id"].as_u64().unwrap();
    assert_eq!(class, 6003, "{what}");
    assert_eq!(ev["category_uid"], class / 1000, "{what}");
    assert_eq!(ev["type_uid"], class * 100 + activity, "{what}");
    assert!(
        matches!(activity, 1..=4 | 99),
        "{what}: activity {activity}"
    );
    assert!(ev["activity_name"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        matches!(ev["severity_id"].as_u64(), Some(0..=6 | 99)),
        "{what}"
    );
    assert!(matches!(ev["status_id"].as_u64(), Some(1 | 2)), "{what}");
    assert!(ev["time"].is_i64(), "{what}: time must be integer ms");
    assert_eq!(ev["metadata"]["version"], OCSF_VERSION, "{what}");
    assert_eq!(ev["metadata"]["product"]["name"], "trailseal", "{what}");
    assert!(ev["metadata"]["product"]["vendor_name"].is_string());
    assert!(ev["metadata"]["logged_time"].is_i64(), "{what}");
    assert!(ev["actor"]["user"]["uid"].is_string(), "{what}");
    assert!(ev["api"]["operation"].is_string(), "{what}");
    assert!(
        ev["src_endpoint"].is_object(),
        "{what}: src_endpoint is required"
    );
    assert!(ev["resources"][0]["uid"].is_string(), "{what}");
}

#[test]
fn every_kind_of_entry_is_a_valid_ocsf_event_that_imports_back() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    // Native entries, from the fewest fields to all of them.
    l.append(
        &json!({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                     "subject": {"type": "service", "id": "api"}}),
    )
    .unwrap();
    l.append(&json!({
        "id": "change-7", "actor": {"id": "bob", "role": "admin", "tenant": "acme",
        "via": ["ci-bot", "scheduler"]}, "action": "config.update.failed",
        "subject": {"type": "config", "id": "flags"},
        "authz": {"decision": "break_glass", "policy": "p-9", "policy_version": "3",
                  "reason": "incident 12"},
        "change": {"before": {"x": 1}, "after": {"x": 2}}, "links": [{"rel": "after", "index": 0}],
        "occurred_at": "2026-03-01T10:00:00.5+01:00", "attrs": {"env": "prod"},
        "payload": {"anything": [1, 2.5, null]}}))
        .unwrap();
    l.append(&json!({"actor": {"id": "carol"}, "action": "user.created",
                     "subject": {"type": "user", "id": "dave"},
                     "authz": {"decision": "allow", "policy": "onboarding"}}))
        .unwrap();
    let natives = l.size().unwrap();
    for kind in ["cdevents", "intoto"] {
        for file in fixtures(kind) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".pem") {
                continue;
            }
            let format = if kind == "cdevents" {
                Format::CDEvents
            } else {
                Format::InToto
            };
            // Some fixtures are the same event in two spec versions, with one id: the ids are
            // dropped so that every one is recorded.
            let mut entries = formats::to_entries(format, &std::fs::read(&file).unwrap()).unwrap();
            for e in &mut entries {
                e.as_object_mut().unwrap().remove("id");
            }
            l.append_batch(&entries).unwrap();
        }
    }
    let size = l.size().unwrap();
    assert!(size > natives + 9, "the fixtures were imported");

    for index in 0..size {
        let ev = event_of(&l, index);
        let e = l.get(index).unwrap();
        let what = format!("entry {index} ({})", e["action"]);
        check_valid(&ev, &what);
        check_provenance(&l, index, &ev);
        let logged = ms(e["time"].as_str().unwrap());
        assert_eq!(ev["metadata"]["logged_time"], logged, "{what}");
        assert_eq!(ev["metadata"]["sequence"], index, "{what}");
        assert_eq!(ev["metadata"]["log_name"], ORIGIN, "{what}");
        // `time` is when it happened: the source's time if the entry has one, else the ledger's.
        let when = e["occurred_at"].as_str().map(ms).unwrap_or(logged);
        assert_eq!(ev["time"], when, "{what}");
        assert_eq!(ev["api"]["operation"], e["action"], "{what}");

        // Importing the event gives back who, to what, why and when.
        let back = &formats::to_entries(Format::Ocsf, ev.to_string().as_bytes()).unwrap()[0];
        assert_eq!(back["actor"]["id"], e["actor"]["id"], "{what}");
        assert_eq!(back["actor"].get("role"), e["actor"].get("role"), "{what}");
        assert_eq!(
            back["actor"].get("tenant"),
            e["actor"].get("tenant"),
            "{what}"
        );
        assert_eq!(back["subject"], e["subject"], "{what}");
        match e["occurred_at"].as_str() {
            Some(o) => assert_eq!(back["occurred_at"], o, "{what}"),
            None => assert_eq!(
                Timestamp::parse(back["occurred_at"].as_str().unwrap())
                    .unwrap()
                    .unix_nanos()
                    / 1_000_000,
                i128::from(logged),
                "{what}"
            ),
        }
        if e["authz"]["decision"] == "allow" {
            assert_eq!(back["authz"]["policy"], e["authz"]["policy"], "{what}");
        }
        let failed = e["action"].as_str().unwrap().ends_with(".failed");
        assert_eq!(ev["status_id"], if failed { 2 } else { 1 }, "{what}");
    }

    // The CRUD verbs an action names are OCSF's activities; others are Other, named by it.
    assert_eq!(event_of(&l, 0)["activity_id"], 99);
    assert_eq!(event_of(&l, 0)["activity_name"], "deploy.succeeded");
    assert_eq!(event_of(&l, 1)["activity_id"], 3);
    assert_eq!(event_of(&l, 2)["activity_id"], 1);
    // Delegation, break-glass reasons and everything else OCSF has no place for are kept.
    let ev = event_of(&l, 1);
    assert_eq!(ev["actor"]["invoked_by"], "ci-bot");
    assert_eq!(ev["actor"]["authorizations"][0]["decision"], "break_glass");
    assert_eq!(
        ev["actor"]["authorizations"][0]["policy"]["desc"],
        "incident 12"
    );
    assert_eq!(ev["metadata"]["uid"], "change-7");
    assert_eq!(ev["time_dt"], "2026-03-01T10:00:00.5+01:00");
    assert_eq!(
        ev["unmapped"]["trailseal"]["entry"]["actor"]["via"],
        json!(["ci-bot", "scheduler"])
    );
}

#[test]
fn a_non_entry_is_refused_not_guessed() {
    let at = Provenance {
        origin: ORIGIN,
        hash: trailseal::HashAlg::Sha256,
        index: 0,
        leaf_hash: [0; 32],
    };
    assert!(to_ocsf(&json!([1]), &at).is_err());
    assert!(to_ocsf(&json!({"actor": {"id": "a"}}), &at).is_err());
    let no_actor = json!({"time": "2026-01-01T00:00:00.000000000Z", "action": "a",
                          "subject": {"type": "t", "id": "i"}});
    assert!(to_ocsf(&no_actor, &at).is_err());
}
