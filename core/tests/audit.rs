//! The auditor's questions of issue 6, asked of the example delivery history
//! (`examples/history.sh`), with exact expected answers: search, trace, why, release gates,
//! evidence bundles (any single changed byte is caught) and the approvals report.

use serde_json::{json, Value};
use tempfile::TempDir;
use trailseal::evidence::{verify_bundle, verify_bundle_bytes, Bundle, Selection};
use trailseal::gate::GatePolicy;
use trailseal::query::{Order, Query};
use trailseal::report::ReportOptions;
use trailseal::{CreateOptions, ErrorCode, HashAlg, Ledger, Signer, Timestamp};

const ORIGIN: &str = "example.com/payments/audit";

/// The entries `examples/history.sh` records: every line of it that starts with `{`.
fn history() -> Vec<Value> {
    include_str!("../../examples/history.sh")
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn ledger(hash: HashAlg) -> (TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(
        dir.path().join("audit.redb"),
        &CreateOptions::new(ORIGIN).hash(hash),
    )
    .unwrap();
    let receipts = l.append_batch(&history()).unwrap();
    assert_eq!(receipts.len(), 27);
    (dir, l)
}

fn signer() -> Signer {
    Signer::from_seed(ORIGIN, [7; 32]).unwrap()
}

fn the_policy() -> GatePolicy {
    GatePolicy::from_json(include_str!("../../examples/release-gate.json")).unwrap()
}

fn indexes(l: &Ledger, q: Query) -> Vec<u64> {
    l.query(&q)
        .unwrap()
        .entries
        .iter()
        .map(|f| f.index)
        .collect()
}

#[test]
fn the_history_is_the_script_and_the_policy_it_publishes() {
    let h = history();
    assert_eq!(h.len(), 27);
    let actions: Vec<&str> = h.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "policy.published");
    assert_eq!(actions[19], "deploy.rolled_back");
    assert_eq!(h[22]["authz"]["decision"], "break_glass");
    // The gate file of the example is the one the published policy carries.
    assert_eq!(
        GatePolicy::from_value(&h[0]["payload"]["gate"]).unwrap(),
        the_policy()
    );
}

#[test]
fn q1_every_change_everything_alice_did_every_break_glass_action() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let subject = |t: &str, i: &str| Some((t.to_owned(), i.to_owned()));
    assert_eq!(
        indexes(
            &l,
            Query {
                subject: subject("service", "payments-api"),
                ..Query::default()
            }
        ),
        vec![22, 19, 18, 9]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                actor: Some("alice".into()),
                ..Query::default()
            }
        ),
        vec![25, 24, 20, 14, 10]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                via: Some("alice".into()),
                ..Query::default()
            }
        ),
        vec![21, 11]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                decision: Some("break_glass".into()),
                ..Query::default()
            }
        ),
        vec![22]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                refs: vec!["git:4f2a9c1".into()],
                order: Order::OldestFirst,
                ..Query::default()
            }
        ),
        vec![11, 14]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                action: Some("deploy.succeeded".into()),
                attrs: vec![("env".into(), "prod".into())],
                order: Order::OldestFirst,
                ..Query::default()
            }
        ),
        vec![9, 18, 22]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                action: Some("approval.granted".into()),
                subject: subject("release", "2026.11.3"),
                order: Order::OldestFirst,
                ..Query::default()
            }
        ),
        vec![15, 16, 17]
    );
    // "in Q3": everything was recorded now, so a window in the past holds nothing.
    assert!(indexes(
        &l,
        Query {
            decision: Some("break_glass".into()),
            until: Some(Timestamp::parse("2026-10-01T00:00:00Z").unwrap()),
            ..Query::default()
        }
    )
    .is_empty());
}

#[test]
fn q2_trace_a_deployment_back_to_its_commit_and_a_commit_forward() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let t = l.trace(18, false).unwrap();
    let nodes: Vec<(u64, Vec<u64>)> = t
        .nodes
        .iter()
        .map(|n| (n.found.index, n.links.clone()))
        .collect();
    assert_eq!(
        nodes,
        vec![
            (0, vec![]),
            (10, vec![]),
            (11, vec![10]),
            (14, vec![10, 11]),
            (16, vec![0, 14]),
            (17, vec![0, 14]),
            (18, vec![0, 11, 14, 16, 17]),
        ]
    );
    assert_eq!(t.unresolved, vec!["ci:https://ci.example.com/runs/981"]);
    let fwd = l.trace(10, true).unwrap();
    let reached: Vec<u64> = fwd.nodes.iter().map(|n| n.found.index).collect();
    assert_eq!(
        reached,
        vec![10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 24, 25, 26]
    );
}

#[test]
fn q3_which_rule_allowed_it_and_who_approved_that_version() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let w = l.why(18).unwrap();
    assert_eq!(w.policy.as_ref().map(|p| p.index), Some(0));
    assert_eq!(
        w.policy.as_ref().unwrap().entry["payload"]["gate"]["min_approvals"],
        2
    );
    assert_eq!(
        w.approvals.iter().map(|a| a.index).collect::<Vec<_>>(),
        vec![1]
    );
    let bg = l.why(22).unwrap();
    assert_eq!(bg.authz.as_ref().unwrap()["decision"], "break_glass");
    assert!(bg.policy.is_none(), "prod-freeze has no published version");
}

#[test]
fn q4_gate_the_three_releases_with_the_example_policy() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let p = the_policy();
    assert_eq!(
        l.gate("release:2026.11.2", &p).unwrap().to_json(),
        json!({"passed": true, "requirements": [
            {"name": "min_approvals", "met": true, "evidence": [7, 8]},
            {"name": "forbid_self_approval", "met": true, "evidence": [2, 3, 6]},
            {"name": "test.passed", "met": true, "evidence": [4]},
            {"name": "scan.passed", "met": true, "evidence": [5]},
        ]})
    );
    // dave (a developer) approved too: his approval does not count, and is no violation.
    let r3 = l.gate("release:2026.11.3", &p).unwrap();
    assert_eq!(
        r3.to_json(),
        json!({"passed": true, "requirements": [
            {"name": "min_approvals", "met": true, "evidence": [16, 17]},
            {"name": "forbid_self_approval", "met": true, "evidence": [10, 11, 14]},
            {"name": "test.passed", "met": true, "evidence": [12]},
            {"name": "scan.passed", "met": true, "evidence": [13]},
        ]})
    );
    assert!(
        r3.requirements[0]
            .detail
            .contains("#15 dave: role developer not allowed"),
        "{}",
        r3.requirements[0].detail
    );
    // alice requested 2026.11.4 and approved it herself; nobody scanned it.
    let r4 = l.gate("release:2026.11.4", &p).unwrap();
    assert_eq!(
        r4.to_json(),
        json!({"passed": false, "requirements": [
            {"name": "min_approvals", "met": false, "evidence": [26]},
            {"name": "forbid_self_approval", "met": false, "evidence": [20, 21, 24, 25]},
            {"name": "test.passed", "met": true, "evidence": [23]},
            {"name": "scan.passed", "met": false, "evidence": []},
        ]})
    );
}

fn policy(v: Value) -> GatePolicy {
    GatePolicy::from_value(&v).unwrap()
}

fn met(l: &Ledger, subject: &str, p: &GatePolicy) -> Vec<(String, bool, Vec<u64>)> {
    l.gate(subject, p)
        .unwrap()
        .requirements
        .into_iter()
        .map(|r| (r.name, r.met, r.evidence))
        .collect()
}

#[test]
fn q4_gate_fails_for_each_missing_requirement() {
    let (_d, l) = ledger(HashAlg::Blake3);
    // missing approval: three needed, two given
    let three = policy(json!({"min_approvals": 3, "approver_roles": ["release-manager", "sre"]}));
    let r = l.gate("release:2026.11.2", &three).unwrap();
    assert!(!r.passed);
    assert_eq!(r.requirements[0].evidence, vec![7, 8]);
    assert_eq!(
        r.requirements[0].detail,
        "2 of 3 distinct approvers by release-manager or sre"
    );
    // wrong role: only release managers count, so carol (sre) and dave (developer) do not
    let rm = policy(json!({"min_approvals": 2, "approver_roles": ["release-manager"]}));
    let r = l.gate("release:2026.11.3", &rm).unwrap();
    assert!(!r.passed);
    assert_eq!(
        met(&l, "release:2026.11.3", &rm),
        vec![
            ("min_approvals".into(), false, vec![16]),
            ("forbid_self_approval".into(), true, vec![10, 11, 14]),
        ]
    );
    assert!(r.requirements[0]
        .detail
        .contains("#17 carol: role sre not allowed"));
    // self-approval alone fails the gate even with enough other approvals
    let one = policy(json!({"min_approvals": 1, "approver_roles": ["release-manager"]}));
    assert_eq!(
        met(&l, "release:2026.11.4", &one),
        vec![
            ("min_approvals".into(), true, vec![26]),
            ("forbid_self_approval".into(), false, vec![20, 21, 24, 25]),
        ]
    );
    // ... and counts when self-approval is allowed
    let lax = policy(
        json!({"min_approvals": 2, "approver_roles": ["release-manager"],
                            "forbid_self_approval": false, "require": ["test.passed"]}),
    );
    let r = l.gate("release:2026.11.4", &lax).unwrap();
    assert!(r.passed, "{:?}", r);
    assert_eq!(r.requirements[0].evidence, vec![25, 26]);
    // missing scan
    let scan = policy(json!({"forbid_self_approval": false, "require": ["scan.passed"]}));
    assert_eq!(
        met(&l, "release:2026.11.4", &scan),
        vec![("scan.passed".into(), false, vec![])]
    );
    // a subject with no entries fails every requirement
    let r = l.gate("release:1999.1.1", &the_policy()).unwrap();
    assert!(!r.passed);
    assert!(r
        .requirements
        .iter()
        .all(|q| q.evidence.is_empty() && (q.name == "forbid_self_approval") == q.met));
    assert_eq!(
        l.gate("no-colon", &the_policy()).unwrap_err().code(),
        ErrorCode::Malformed
    );
}

#[test]
fn q4_an_approval_request_makes_its_requester_a_self_approver() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(dir.path().join("a.redb"), &CreateOptions::new(ORIGIN)).unwrap();
    let on = json!({"type": "change", "id": "CHG-7"});
    l.append_batch(&[
        json!({"actor": {"id": "bot", "via": ["mallory"]}, "action": "approval.requested", "subject": on}),
        json!({"actor": {"id": "mallory", "role": "sre"}, "action": "approval.granted", "subject": on}),
        json!({"actor": {"id": "trent", "role": "sre"}, "action": "approval.granted", "subject": on}),
    ])
    .unwrap();
    let p = policy(json!({"min_approvals": 1}));
    assert_eq!(
        met(&l, "change:CHG-7", &p),
        vec![
            ("min_approvals".into(), true, vec![2]),
            ("forbid_self_approval".into(), false, vec![0, 1]),
        ]
    );
}

#[test]
fn q4_record_the_gate_and_evaluate_again_unchanged() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let p = the_policy();
    for subject in ["release:2026.11.3", "release:2026.11.4"] {
        let before = l.gate(subject, &p).unwrap();
        let receipt = l.record_gate(&p, &before, "release-gate-bot").unwrap();
        let e = l.get(receipt.index).unwrap();
        assert_eq!(
            e["action"],
            if before.passed {
                "gate.passed"
            } else {
                "gate.failed"
            }
        );
        assert_eq!(e["subject"]["id"], subject.split_once(':').unwrap().1);
        assert_eq!(e["actor"]["id"], "release-gate-bot");
        assert_eq!(e["attrs"]["policy_digest"], p.digest());
        assert_eq!(e["payload"]["result"], before.to_json());
        assert_eq!(e["payload"]["policy"], p.to_json());
        let linked: Vec<(String, u64)> = e["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["rel"].as_str().unwrap().to_owned(),
                    l["index"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = before
            .requirements
            .iter()
            .flat_map(|r| r.evidence.iter().map(|&i| (r.name.clone(), i)))
            .collect();
        assert_eq!(linked, want);
        // The gate entry links the approvals, but judges the change rather than being part
        // of it: the approvers do not become authors.
        assert_eq!(l.gate(subject, &p).unwrap(), before);
    }
    // The recorded verdicts are found like any entry.
    let q = Query {
        attrs: vec![("policy_digest".into(), p.digest())],
        order: Order::OldestFirst,
        ..Query::default()
    };
    assert_eq!(indexes(&l, q), vec![27, 28]);
}

#[test]
fn q5_bundle_of_a_subject_verifies_without_the_ledger() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let s = signer();
    let b = l
        .bundle(
            &Selection::Subject("release".into(), "2026.11.3".into()),
            &s,
        )
        .unwrap();
    let text = b.to_text();
    drop(l);
    let report = verify_bundle(&text, &s.verifier()).unwrap();
    assert_eq!(
        report.entries.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![12, 13, 14, 15, 16, 17]
    );
    assert_eq!((report.tree_size, report.origin.as_str()), (27, ORIGIN));
    assert_eq!(report.key_name, ORIGIN);
    assert_eq!(report.entries[2].entry["action"], "release.requested");
    assert_eq!(report.to_json()["entries"][2]["index"], 14);
    // Each entry's line holds its exact leaf bytes.
    for e in &b.entries {
        assert!(text.contains(&format!("      \"entry\": {}\n", e.leaf().unwrap())));
    }
    // Another key does not verify it; parse + to_text is the identity.
    let other = Signer::from_seed(ORIGIN, [8; 32]).unwrap();
    assert_eq!(
        verify_bundle(&text, &other.verifier()).unwrap_err().code(),
        ErrorCode::VerificationFailed
    );
    assert_eq!(Bundle::parse(&text).unwrap(), b);
}

#[test]
fn q5_bundles_of_a_trace_a_query_and_against_an_earlier_checkpoint() {
    let (_d, l) = ledger(HashAlg::Blake3);
    let s = signer();
    let v = s.verifier();
    let ix = |b: &Bundle| b.entries.iter().map(|e| e.index).collect::<Vec<_>>();
    let t = l
        .bundle(
            &Selection::Trace {
                index: 18,
                forward: false,
                options: Default::default(),
            },
            &s,
        )
        .unwrap();
    assert_eq!(ix(&t), vec![0, 10, 11, 14, 16, 17, 18]);
    verify_bundle(&t.to_text(), &v).unwrap();
    let q = l
        .bundle(
            &Selection::Query(Query {
                action: Some("deploy.succeeded".into()),
                ..Query::default()
            }),
            &s,
        )
        .unwrap();
    assert_eq!(ix(&q), vec![9, 18, 22]);
    let one = Selection::Query(Query {
        action: Some("deploy.succeeded".into()),
        limit: 1,
        ..Query::default()
    });
    assert_eq!(ix(&l.bundle(&one, &s).unwrap()), vec![22]);
    // Against a checkpoint signed earlier, at size 20: entries after it are refused.
    let note = l.checkpoint(&s, Some(20)).unwrap();
    let early = l
        .bundle_with_checkpoint(&Selection::Indexes(vec![3, 19]), &note, &v)
        .unwrap();
    assert_eq!((early.tree_size, ix(&early)), (20, vec![3, 19]));
    verify_bundle(&early.to_text(), &v).unwrap();
    let late = l.bundle_with_checkpoint(&Selection::Indexes(vec![22]), &note, &v);
    assert_eq!(late.unwrap_err().code(), ErrorCode::OutOfRange);
    // A checkpoint a witness cosigned: the bundle keeps only the signature of the key it
    // names, and a bundle whose note carries another line is refused.
    let witness = Signer::from_seed("witness.example", [9; 32]).unwrap();
    let body = trailseal::Checkpoint::verify(&note, &v).unwrap().to_body();
    let cosigned = trailseal::note::sign_note(&body, &[&s, &witness]).unwrap();
    let b = l
        .bundle_with_checkpoint(&Selection::Indexes(vec![3]), &cosigned, &v)
        .unwrap();
    assert_eq!(b.checkpoint, note);
    let text = b.to_text();
    verify_bundle(&text, &v).unwrap();
    let js = |s: &str| serde_json::to_string(s).unwrap();
    let with_witness = text.replace(&js(&note), &js(&cosigned));
    assert_ne!(with_witness, text);
    assert_eq!(
        verify_bundle(&with_witness, &v).unwrap_err().code(),
        ErrorCode::VerificationFailed
    );
    // A checkpoint of another log is refused.
    let other = trailseal::Checkpoint::new("other.example/log", 20, [0; 32])
        .sign(&s)
        .unwrap();
    assert_eq!(
        l.bundle_with_checkpoint(&Selection::Indexes(vec![3]), &other, &v)
            .unwrap_err()
            .code(),
        ErrorCode::Inconsistent
    );
    // Nothing to bundle, or beyond the log.
    let none = Selection::Subject("release".into(), "none".into());
    assert_eq!(
        l.bundle(&none, &s).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        l.bundle(&Selection::Indexes(vec![99]), &s)
            .unwrap_err()
            .code(),
        ErrorCode::OutOfRange
    );
}

#[test]
fn q5_any_single_changed_byte_of_a_bundle_fails_verification() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let s = signer();
    let v = s.verifier();
    // Two small entries: two kilobytes, every byte tried several ways.
    let b = l.bundle(&Selection::Indexes(vec![23, 26]), &s).unwrap();
    let text = b.to_text().into_bytes();
    verify_bundle_bytes(&text, &v).unwrap();
    let check = |bytes: &[u8], what: &str| match verify_bundle_bytes(bytes, &v) {
        Ok(_) => panic!("{what} was not caught"),
        Err(e) => assert!(
            matches!(
                e.code(),
                ErrorCode::Malformed | ErrorCode::VerificationFailed
            ),
            "{what}: {e}"
        ),
    };
    let mut tried = 0;
    for at in 0..text.len() {
        let orig = text[at];
        for new in [orig ^ 0x01, orig ^ 0x20, b' ', b'0'] {
            if new == orig {
                continue;
            }
            let mut m = text.clone();
            m[at] = new;
            check(&m, &format!("byte {at} {orig:#04x} -> {new:#04x}"));
            tried += 1;
        }
        let mut del = text.clone();
        del.remove(at);
        check(&del, &format!("deleting byte {at}"));
        let mut ins = text.clone();
        ins.insert(at, b' ');
        check(&ins, &format!("inserting a space at {at}"));
        tried += 2;
    }
    let mut end = text.clone();
    end.push(b'\n');
    check(&end, "an extra final newline");
    // The signature's last base64 digit carries two spare bits that a lenient decoder (like
    // Go's) ignores: every other digit there must still be refused.
    let at = String::from_utf8(text.clone())
        .unwrap()
        .find("=\\n\",\n  \"entries\"")
        .expect("the note ends the checkpoint string")
        - 1;
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/" {
        if *c != text[at] {
            let mut m = text.clone();
            m[at] = *c;
            check(
                &m,
                &format!("signature digit {} -> {}", text[at] as char, *c as char),
            );
        }
    }
    assert!(tried > 5 * 1500, "{tried}");
}

#[test]
fn q5_bundles_need_an_entry_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(
        dir.path().join("raw.redb"),
        &CreateOptions::new(ORIGIN).raw(),
    )
    .unwrap();
    l.append_raw(b"opaque").unwrap();
    assert_eq!(
        l.bundle(&Selection::Indexes(vec![0]), &signer())
            .unwrap_err()
            .code(),
        ErrorCode::WrongKind
    );
}

#[test]
fn q6_where_approvals_wait() {
    let (_d, l) = ledger(HashAlg::Sha256);
    let all = l.report(None).unwrap();
    assert_eq!(
        all.to_json(),
        json!({
            "since": null,
            "approval_latency": {"waits": 7, "median_seconds": 5400, "p90_seconds": 86400},
            "waits": [
                {"subject": "release:2026.11.2", "request": 6, "approval": 7, "approver": "bob", "seconds": 3600},
                {"subject": "release:2026.11.2", "request": 6, "approval": 8, "approver": "carol", "seconds": 10800},
                {"subject": "release:2026.11.3", "request": 14, "approval": 15, "approver": "dave", "seconds": 1200},
                {"subject": "release:2026.11.3", "request": 14, "approval": 16, "approver": "bob", "seconds": 5400},
                {"subject": "release:2026.11.3", "request": 14, "approval": 17, "approver": "carol", "seconds": 86400},
                {"subject": "release:2026.11.4", "request": 24, "approval": 25, "approver": "alice", "seconds": 1800},
                {"subject": "release:2026.11.4", "request": 24, "approval": 26, "approver": "bob", "seconds": 14400},
            ],
            "approvals_by_approver": [
                {"approver": "bob", "approvals": 3},
                {"approver": "carol", "approvals": 2},
                {"approver": "alice", "approvals": 1},
                {"approver": "dana", "approvals": 1},
                {"approver": "dave", "approvals": 1},
            ],
            "weeks": [
                {"week": "2026-W44", "changes": 0, "break_glass": 0, "approvals": 1},
                {"week": "2026-W45", "changes": 1, "break_glass": 0, "approvals": 2},
                {"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 3},
                {"week": "2026-W47", "changes": 0, "break_glass": 0, "approvals": 2},
            ],
        })
    );
    let since = Timestamp::parse("2026-11-10T00:00:00Z").unwrap();
    let recent = l.report(Some(since)).unwrap();
    assert_eq!(recent.median_nanos, Some(14_400 * 1_000_000_000));
    assert_eq!(recent.p90_nanos, Some(86_400 * 1_000_000_000));
    assert_eq!(
        recent.to_json()["approvals_by_approver"],
        json!([{"approver": "alice", "approvals": 1}, {"approver": "bob", "approvals": 1},
               {"approver": "carol", "approvals": 1}])
    );
    assert_eq!(
        recent.to_json()["weeks"],
        json!([{"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 1},
               {"week": "2026-W47", "changes": 0, "break_glass": 0, "approvals": 2}])
    );
    // Rollbacks counted as changes too.
    let with_rollbacks = l
        .report_with(&ReportOptions {
            since: None,
            change_actions: vec!["deploy.succeeded".into(), "deploy.rolled_back".into()],
        })
        .unwrap();
    assert_eq!(with_rollbacks.weeks[2].changes, 3);
    // An even number of waits: the median is the mean of the middle two.
    let late = l
        .report(Some(Timestamp::parse("2026-11-09T11:00:00Z").unwrap()))
        .unwrap();
    assert_eq!(late.waits.len(), 4);
    assert_eq!(
        late.median_nanos,
        Some((5_400 + 14_400) / 2 * 1_000_000_000)
    );
    assert!(l
        .report(Some(Timestamp::parse("2030-01-01T00:00:00Z").unwrap()))
        .unwrap()
        .median_nanos
        .is_none());
}
