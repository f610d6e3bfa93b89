//! The JSON forms the bindings share: bundle selections and report options.

use serde_json::json;
use trailseal::evidence::Selection;
use trailseal::report::ReportOptions;

#[test]
fn selections_parse_exactly_one_form() {
    assert_eq!(
        Selection::from_json(&json!({"subject": "release:2026.11.3"})).unwrap(),
        Selection::Subject("release".into(), "2026.11.3".into())
    );
    assert_eq!(
        Selection::from_json(&json!({"index": 4, "forward": true})).unwrap(),
        Selection::Trace {
            index: 4,
            forward: true,
            options: Default::default(),
        }
    );
    assert_eq!(
        Selection::from_json(&json!({"indexes": [1, 2]})).unwrap(),
        Selection::Indexes(vec![1, 2])
    );
    assert!(matches!(
        Selection::from_json(&json!({"query": {"actor": "alice"}})).unwrap(),
        Selection::Query(q) if q.actor.as_deref() == Some("alice")
    ));
    for bad in [
        json!({}),
        json!({"subject": "a:b", "index": 1}),
        json!({"subjct": "a:b"}),
        json!({"subject": "nocolon"}),
        json!({"query": {"actr": "x"}}),
        json!({"indexes": ["1"]}),
        json!({"index": 10, "forward": "yes"}),
        json!({"subject": "a:b", "forward": true}),
        json!([]),
    ] {
        let e = Selection::from_json(&bad).unwrap_err();
        assert_eq!(e.code(), trailseal::ErrorCode::Malformed, "{bad}: {e}");
    }
}

#[test]
fn report_options_parse() {
    let o = ReportOptions::from_json(&json!({"since": "2026-11-01T00:00:00Z", "change_actions": ["deploy.succeeded", "rollback.done"]})).unwrap();
    assert!(o.since.is_some());
    assert_eq!(o.change_actions.len(), 2);
    let d = ReportOptions::from_json(&json!({})).unwrap();
    assert_eq!(d, ReportOptions::default());
    for bad in [
        json!({"sinse": "x"}),
        json!({"since": 5}),
        json!({"change_actions": "a"}),
        json!({"change_actions": []}),
        json!({"change_actions": [""]}),
    ] {
        assert!(ReportOptions::from_json(&bad).is_err(), "{bad}");
    }
}

/// A ledger whose release `r1` has one `test.passed` entry and nothing else.
fn release_with_a_test_pass(dir: &tempfile::TempDir) -> trailseal::Ledger {
    let l = trailseal::Ledger::create(
        dir.path().join("g.redb"),
        &trailseal::CreateOptions::new("ex/g"),
    )
    .unwrap();
    l.append(&json!({"actor": {"id": "ci"}, "action": "test.passed", "subject": {"type": "release", "id": "r1"}}))
        .unwrap();
    l
}

#[test]
fn gate_and_record_records_the_ledgers_own_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let l = release_with_a_test_pass(&dir);
    let policy = trailseal::gate::GatePolicy::from_json(
        r#"{"min_approvals": 1, "require": ["test.passed"]}"#,
    )
    .unwrap();
    let (result, receipt) = l
        .gate_and_record("release:r1", &policy, "gatekeeper")
        .unwrap();
    assert!(!result.passed, "no approval yet");
    let recorded = l.get(receipt.index).unwrap();
    assert_eq!(recorded["action"], "gate.failed");
    assert_eq!(recorded["subject"], json!({"type": "release", "id": "r1"}));
}

#[test]
fn a_gate_result_held_as_json_is_recorded_only_if_it_is_the_ledgers_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let l = release_with_a_test_pass(&dir);
    let policy = trailseal::gate::GatePolicy::from_json(r#"{"require": ["test.passed"]}"#).unwrap();
    let held = l.gate("release:r1", &policy).unwrap().to_json();
    assert_eq!(held["passed"], true);
    // Edited: refused, nothing recorded.
    let mut forged = held.clone();
    forged["subject"] = json!("release:r2");
    let err = l
        .record_gate_result("release:r1", &policy, &forged, "mallory")
        .unwrap_err();
    assert_eq!(err.code(), trailseal::ErrorCode::Inconsistent, "{err}");
    assert_eq!(l.size().unwrap(), 1);
    // Another policy than the one evaluated: its verdict differs, so refused too.
    let stricter = trailseal::gate::GatePolicy::from_json(
        r#"{"min_approvals": 1, "require": ["test.passed"]}"#,
    )
    .unwrap();
    let err = l
        .record_gate_result("release:r1", &stricter, &held, "mallory")
        .unwrap_err();
    assert_eq!(err.code(), trailseal::ErrorCode::Inconsistent, "{err}");
    // As given: recorded.
    let receipt = l
        .record_gate_result("release:r1", &policy, &held, "gatekeeper")
        .unwrap();
    assert_eq!(l.get(receipt.index).unwrap()["action"], "gate.passed");
}
