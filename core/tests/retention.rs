//! Retention rules and legal holds recorded in the ledger, and the plan of what retention
//! allows: judged at times years ahead of the entries (the ledger stamps them now).

mod common;

use common::retention::{ahead, authz, by, rules};
use serde_json::{json, Value};
use trailseal::retention::Period;
use trailseal::{CreateOptions, ErrorCode, Ledger, Timestamp};

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::create(
        dir.path().join("l.redb"),
        &CreateOptions::new("example.com/ret"),
    )
    .unwrap()
}

fn entry(action: &str, subject: &str) -> Value {
    let (t, i) = subject.split_once(':').unwrap();
    json!({"actor": {"id": "ci"}, "action": action, "subject": {"type": t, "id": i}})
}

fn counts(l: &Ledger, at: Timestamp) -> Value {
    l.retention_plan(Some(at)).unwrap().to_json()["counts"].clone()
}

#[test]
fn entries_go_when_their_retention_passes_and_nothing_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let a = authz();
    let old = l.append(&entry("build.finished", "build:0")).unwrap().index; // before any rules
    l.publish_retention_rules(
        &rules(json!({"version": "v1", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]})),
        &by(&a),
    )
    .unwrap();
    let build = l.append(&entry("build.finished", "build:1")).unwrap().index;
    let mut linked = entry("deploy.succeeded", "service:api");
    linked["links"] = json!([{"rel": "built_by", "index": build}]);
    let deploy = l.append(&linked).unwrap().index;
    let lone = l.append(&entry("build.finished", "build:2")).unwrap().index;

    // Two years on: the builds' year has passed, the deploy's seven have not, and the deploy
    // links to build 1, so it stays as the deploy's evidence.
    let plan = l.retention_plan(Some(ahead(2, 0))).unwrap();
    let j = plan.to_json();
    assert_eq!(
        j["eligible"],
        json!([[old, old + 1], [lone, lone + 1]]),
        "{j}"
    );
    assert_eq!(j["counts"]["linked"], 1);
    assert_eq!(j["counts"]["in_retention"], 1);
    assert_eq!(j["counts"]["protected"], 1, "the rules entry itself");
    assert_eq!(j["rules"]["version"], "v1");
    // Half a year on, nothing has passed.
    assert_eq!(
        counts(&l, Period::parse("P6M").unwrap().after(Timestamp::now()))["eligible"],
        0
    );
    // Eight years on, all but the rules entry.
    let plan = l.retention_plan(Some(ahead(8, 0))).unwrap();
    assert_eq!(plan.eligible, vec![0..1, 2..deploy + 2]);
}

#[test]
fn a_rules_change_never_shortens_retention_of_what_was_written_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let a = authz();
    l.publish_retention_rules(
        &rules(json!({"version": "v1", "rules": [{"action": "deploy.*", "keep": "P7Y"}]})),
        &by(&a),
    )
    .unwrap();
    let before = l
        .append(&entry("deploy.succeeded", "service:api"))
        .unwrap()
        .index;
    l.publish_retention_rules(
        &rules(json!({"version": "v2", "rules": [{"action": "deploy.*", "keep": "P1Y"}]})),
        &by(&a),
    )
    .unwrap();
    let after = l
        .append(&entry("deploy.succeeded", "service:api"))
        .unwrap()
        .index;
    let plan = l.retention_plan(Some(ahead(2, 0))).unwrap();
    assert_eq!(plan.eligible, vec![after..after + 1], "{}", plan.to_json());
    assert_eq!(plan.to_json()["counts"]["in_retention"], 1);
    assert!(plan.eligible.iter().all(|r| !r.contains(&before)));
    // A longer rule extends what was written before it.
    l.publish_retention_rules(
        &rules(json!({"version": "v3", "rules": [{"action": "deploy.*", "keep": "P10Y"}]})),
        &by(&a),
    )
    .unwrap();
    assert_eq!(counts(&l, ahead(8, 0))["eligible"], 0);
    let versions = l.retention_versions().unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.rules.version.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2", "v3"]
    );
    assert_eq!(
        l.retention_rules_at(Some(after))
            .unwrap()
            .unwrap()
            .rules
            .version,
        "v2"
    );
    assert_eq!(
        l.retention_rules_at(Some(0)).unwrap().map(|v| v.index),
        None
    );
    // A version with neither a rule nor a default for an action keeps it for ever: the new
    // entry, and (being the longest retention) the two written before it.
    l.publish_retention_rules(&rules(json!({"version": "v4"})), &by(&a))
        .unwrap();
    l.append(&entry("build.finished", "build:1")).unwrap();
    assert_eq!(counts(&l, ahead(50, 0))["no_rule"], 3);
}

#[test]
fn a_legal_hold_keeps_what_it_covers_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let a = authz();
    l.publish_retention_rules(&rules(json!({"version": "v1", "default": "P30D"})), &by(&a))
        .unwrap();
    for s in ["service:api", "service:web", "service:api"] {
        l.append(&entry("deploy.succeeded", s)).unwrap();
    }
    l.place_hold("case-42", &json!({"subject": "service:api"}), &by(&a))
        .unwrap();
    let e = l
        .place_hold("case-42", &json!({"actor": "x"}), &by(&a))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let c = counts(&l, ahead(1, 0));
    assert_eq!(
        (c["held"].as_u64(), c["eligible"].as_u64()),
        (Some(2), Some(1)),
        "{c}"
    );
    let holds = l.legal_holds().unwrap();
    assert_eq!((holds.len(), holds[0].released), (1, None));
    l.release_hold("case-42", &by(&a)).unwrap();
    assert_eq!(l.legal_holds().unwrap()[0].released, Some(5));
    assert_eq!(counts(&l, ahead(1, 0))["eligible"], 3);
    let e = l.release_hold("case-42", &by(&a)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

#[test]
fn retention_records_that_do_not_hold_are_refused_with_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let doc = json!({"version": "v1", "default": "P1Y"});
    let good = rules(doc.clone());
    let record = |payload: Value, attrs: Value, authz: Option<Value>| {
        let mut e = json!({"actor": {"id": "x"}, "action": "retention.published",
                           "subject": {"type": "retention_rules", "id": "v1"},
                           "payload": payload, "attrs": attrs});
        if let Some(a) = authz {
            e["authz"] = a;
        }
        e
    };
    let attrs = json!({"version": "v1", "digest": good.digest()});
    let cases = [
        (record(doc.clone(), attrs.clone(), None), "authz"),
        (
            record(
                json!({"version": "v1", "default": "1 year"}),
                attrs.clone(),
                Some(authz()),
            ),
            "payload",
        ),
        (
            record(
                doc.clone(),
                json!({"version": "v1", "digest": "00"}),
                Some(authz()),
            ),
            "attrs",
        ),
        (
            json!({"actor": {"id": "x"}, "action": "legal_hold.placed", "subject": {"type": "legal_hold", "id": "h"},
                   "authz": authz(), "payload": {"covers": {}}}),
            "payload.covers",
        ),
        (
            json!({"actor": {"id": "x"}, "action": "legal_hold.released", "subject": {"type": "case", "id": "h"},
                   "authz": authz()}),
            "subject",
        ),
    ];
    for (bad, field) in cases {
        let e = l
            .append_batch(&[entry("build.finished", "build:1"), bad.clone()])
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidEntry, "{bad}");
        assert!(e.to_string().contains(&format!("[1].{field}")), "{e}");
    }
    assert_eq!(l.size().unwrap(), 0, "nothing of any batch was written");
    // Written by hand, a record that holds is accepted like any entry.
    l.append(&record(doc, attrs, Some(authz()))).unwrap();
    assert_eq!(l.retention_versions().unwrap().len(), 1);
}
