//! Queries, traces and `why` over a small delivery history with known answers.

use serde_json::{json, Value};
use trailseal::query::{Order, Query};
use trailseal::{CreateOptions, ErrorCode, Ledger, Timestamp};

fn history(l: &Ledger) -> Vec<u64> {
    let entries = vec![
        // 0
        json!({"id": "policy:release-two-person@7", "actor": {"id": "ciso"}, "action": "policy.published",
               "subject": {"type": "policy", "id": "release-two-person"}, "attrs": {"version": "7"},
               "payload": {"rule": "two approvals from release-manager or sre"}}),
        // 1
        json!({"actor": {"id": "dana"}, "action": "approval.granted", "subject": {"type": "policy", "id": "release-two-person"},
               "attrs": {"version": "7"}, "links": [{"rel": "approves", "index": 0}]}),
        // 2
        json!({"id": "git:4f2a9c1", "actor": {"id": "alice"}, "action": "commit.pushed", "subject": {"type": "commit", "id": "4f2a9c1"}}),
        // 3
        json!({"actor": {"id": "github-actions", "via": ["alice"]}, "action": "build.succeeded",
               "subject": {"type": "artifact", "id": "api:1.42.0"}, "links": [{"rel": "built_from", "ref": "git:4f2a9c1"}],
               "attrs": {"env": "ci"}}),
        // 4
        json!({"actor": {"id": "github-actions"}, "action": "test.passed", "subject": {"type": "release", "id": "2026.11.3"},
               "links": [{"rel": "tested", "index": 3}], "attrs": {"env": "ci"}}),
        // 5
        json!({"actor": {"id": "bob", "role": "release-manager"}, "action": "approval.granted",
               "subject": {"type": "release", "id": "2026.11.3"},
               "authz": {"decision": "allow", "policy": "release-two-person", "policy_version": "7"},
               "links": [{"rel": "evidence", "index": 4}]}),
        // 6
        json!({"actor": {"id": "deploy-bot", "via": ["carol"]}, "action": "deploy.succeeded",
               "subject": {"type": "service", "id": "payments-api"},
               "authz": {"decision": "break_glass", "policy": "prod-freeze", "reason": "INC-2291"},
               "links": [{"rel": "approved_by", "index": 5}, {"rel": "artifact", "index": 3}, {"rel": "ticket", "ref": "jira:INC-2291"}],
               "attrs": {"env": "prod"}}),
        // 7
        json!({"actor": {"id": "alice"}, "action": "deploy.succeeded", "subject": {"type": "service", "id": "payments-api"},
               "attrs": {"env": "prod"}, "links": [{"rel": "artifact", "index": 3}]}),
    ];
    l.append_batch(&entries)
        .unwrap()
        .iter()
        .map(|r| r.index)
        .collect()
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
fn filters_and_together_newest_first_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(dir.path().join("q.redb"), &CreateOptions::new("ex/q")).unwrap();
    history(&l);
    assert_eq!(
        indexes(
            &l,
            Query {
                actor: Some("alice".into()),
                ..Query::default()
            }
        ),
        vec![7, 2]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                via: Some("alice".into()),
                ..Query::default()
            }
        ),
        vec![3]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                action: Some("deploy.succeeded".into()),
                attrs: vec![("env".into(), "prod".into())],
                ..Query::default()
            }
        ),
        vec![7, 6]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                decision: Some("break_glass".into()),
                ..Query::default()
            }
        ),
        vec![6]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                refs: vec!["git:4f2a9c1".into()],
                ..Query::default()
            }
        ),
        vec![3]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                links_to: Some(3),
                order: Order::OldestFirst,
                ..Query::default()
            }
        ),
        vec![4, 6, 7]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                subject: Some(("release".into(), "2026.11.3".into())),
                order: Order::OldestFirst,
                ..Query::default()
            }
        ),
        vec![4, 5]
    );
    assert_eq!(
        indexes(
            &l,
            Query {
                actor: Some("alice".into()),
                action: Some("build.succeeded".into()),
                ..Query::default()
            }
        ),
        Vec::<u64>::new()
    );
    assert_eq!(indexes(&l, Query::default()).len(), 8);
}

#[test]
fn time_range_and_cursor_pages() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(dir.path().join("q.redb"), &CreateOptions::new("ex/q")).unwrap();
    let mut times = Vec::new();
    for n in 0..1200u64 {
        let r = l
            .append(
                &json!({"actor": {"id": format!("u{}", n % 3)}, "action": "a.b",
                            "subject": {"type": "t", "id": format!("s{}", n % 5)}}),
            )
            .unwrap();
        times.push(r.time.unwrap());
    }
    // every page of u1's entries, newest first, 100 at a time, with no gap or repeat
    let mut q = Query {
        actor: Some("u1".into()),
        limit: 100,
        ..Query::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = l.query(&q).unwrap();
        seen.extend(page.entries.iter().map(|f| f.index));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let want: Vec<u64> = (0..1200).rev().filter(|n| n % 3 == 1).collect();
    assert_eq!(seen, want);
    // oldest first with two terms crosses posting-chunk boundaries
    let q = Query {
        actor: Some("u2".into()),
        action: Some("a.b".into()),
        subject: Some(("t".into(), "s4".into())),
        order: Order::OldestFirst,
        limit: 1000,
        ..Query::default()
    };
    let want: Vec<u64> = (0..1200).filter(|n| n % 3 == 2 && n % 5 == 4).collect();
    assert_eq!(indexes(&l, q), want);
    let q = Query {
        action: Some("a.b".into()),
        subject: Some(("t".into(), "s4".into())),
        limit: 1000,
        ..Query::default()
    };
    let want: Vec<u64> = (0..1200).rev().filter(|n| n % 5 == 4).collect();
    assert_eq!(indexes(&l, q), want);
    // since is inclusive, until exclusive
    let q = Query {
        since: Some(times[100]),
        until: Some(times[200]),
        order: Order::OldestFirst,
        limit: 1000,
        ..Query::default()
    };
    let got = indexes(&l, q);
    assert!(
        got.first() <= Some(&100) && got.contains(&100) && !got.contains(&200),
        "{got:?}"
    );
    let q = Query {
        since: Some(Timestamp::from_unix_nanos(i128::MAX / 4)),
        ..Query::default()
    };
    assert!(indexes(&l, q).is_empty());
    assert_eq!(
        l.query(&Query {
            cursor: Some("x".into()),
            ..Query::default()
        })
        .unwrap_err()
        .code(),
        ErrorCode::Malformed
    );
}

#[test]
fn trace_backward_and_forward_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(dir.path().join("q.redb"), &CreateOptions::new("ex/q")).unwrap();
    history(&l);
    let t = l.trace(6, false).unwrap();
    let nodes: Vec<(u64, Vec<u64>)> = t
        .nodes
        .iter()
        .map(|n| (n.found.index, n.links.clone()))
        .collect();
    assert_eq!(
        nodes,
        vec![
            (0, vec![]),
            (2, vec![]),
            (3, vec![2]),
            (4, vec![3]),
            (5, vec![0, 4]),
            (6, vec![3, 5])
        ]
    );
    assert_eq!(t.unresolved, vec!["jira:INC-2291".to_string()]);
    let fwd = l.trace(2, true).unwrap();
    let reached: Vec<u64> = fwd.nodes.iter().map(|n| n.found.index).collect();
    assert_eq!(reached, vec![2, 3, 4, 5, 6, 7]);
    let pol = l.trace(0, true).unwrap();
    assert!(
        pol.nodes.iter().any(|n| n.found.index == 5),
        "policy leads to the approval it allowed"
    );
    let json = t.to_json();
    assert_eq!(json["root"], 6);
    assert_eq!(json["nodes"][0]["entry"]["action"], "policy.published");

    let why = l.why(5).unwrap();
    assert_eq!(why.policy.as_ref().map(|p| p.index), Some(0));
    assert_eq!(
        why.approvals.iter().map(|a| a.index).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(why.authz.as_ref().unwrap()["policy_version"], "7");
    let none = l.why(2).unwrap();
    assert!(none.policy.is_none() && none.approvals.is_empty());
    assert_eq!(
        l.trace(99, false).unwrap_err().code(),
        ErrorCode::OutOfRange
    );
}

#[test]
fn query_json_form() {
    let q = Query::from_json(
        &json!({"actor": "alice", "subject": "oci:sha256:abc", "attrs": {"env": "prod"},
        "refs": ["git:1"], "since": "2026-07-01T00:00:00Z", "order": "oldest", "limit": 5}),
    )
    .unwrap();
    assert_eq!(
        q.subject,
        Some(("oci".to_string(), "sha256:abc".to_string()))
    );
    assert_eq!(q.order, Order::OldestFirst);
    assert_eq!(q.limit, 5);
    for bad in [
        json!([]),
        json!({"actr": "alice"}),
        json!({"order": "sideways"}),
        json!({"subject": "nocolon"}),
        json!({"since": "yesterday"}),
        json!({"limit": "x"}),
    ] {
        assert!(Query::from_json(&bad).is_err(), "{bad}");
    }
    let _: Value = trailseal::query::Found {
        index: 1,
        entry: json!({}),
    }
    .to_json();
}
