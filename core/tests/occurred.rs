//! Queries by `occurred_at` (issue 24, finding 8): the `occurred` index against a scan, over
//! single appends and batches, paging, ledgers written before the index, and a doctored index.

mod common;
use common::{all_pages, Rng};
use serde_json::{json, Value};
use trailseal::query::{Order, Query};
use trailseal::storage::tamper;
use trailseal::{CreateOptions, ErrorCode, Ledger, OpenOptions, Timestamp, VerifyOptions};

/// Entry `i`: one in five has no `occurred_at`; the others are spread over 2024 in no order,
/// some with an offset (stored as written, compared as instants).
fn entry(r: &mut Rng, i: u64) -> Value {
    let actor = ["alice", "bob", "carol"][(r.next() % 3) as usize];
    let mut e = json!({"actor": {"id": actor}, "action": "git.commit",
                       "subject": {"type": "commit", "id": format!("c{i}")}});
    if r.next() % 5 != 0 {
        let day = r.next() % 365;
        let secs = 1_704_067_200 + day * 86_400 + r.next() % 86_400;
        let t = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
        let text = if i % 7 == 0 {
            t.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap())
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        } else {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        e["occurred_at"] = json!(text);
    }
    e
}

fn build(l: &Ledger, n: u64, seed: u64) -> Vec<Value> {
    let mut r = Rng(seed);
    let mut all = Vec::new();
    let mut i = 0;
    while i < n {
        // Single appends (the unindexed tail of the posting runs) and batches, mixed.
        let k = if r.next() % 3 == 0 {
            1
        } else {
            1 + r.next() % 90
        };
        let batch: Vec<Value> = (i..(i + k).min(n)).map(|j| entry(&mut r, j)).collect();
        l.append_batch(&batch).unwrap();
        i += batch.len() as u64;
        all.extend(batch);
    }
    all
}

fn occurred(e: &Value) -> Option<Timestamp> {
    e.get("occurred_at")
        .and_then(Value::as_str)
        .map(|s| Timestamp::parse(s).unwrap())
}

/// The answer by reading every entry.
fn scan(all: &[Value], q: &Query) -> Vec<u64> {
    let mut out: Vec<u64> = (0..all.len() as u64)
        .filter(|&i| {
            let e = &all[i as usize];
            let Some(t) = occurred(e) else { return false };
            q.occurred_since.is_none_or(|s| t >= s)
                && q.occurred_until.is_none_or(|u| t < u)
                && q.actor.as_deref().is_none_or(|a| e["actor"]["id"] == a)
        })
        .collect();
    if q.order == Order::NewestFirst {
        out.reverse();
    }
    out
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn windows() -> Vec<Query> {
    let mut qs = Vec::new();
    for (since, until) in [
        (Some("2024-03-01T00:00:00Z"), Some("2024-04-01T00:00:00Z")),
        (Some("2024-11-15T00:00:00+01:00"), None),
        (None, Some("2024-01-20T00:00:00Z")),
        (Some("2024-06-01T00:00:00Z"), Some("2024-06-01T00:00:00Z")),
        (Some("2025-01-01T00:00:00Z"), None),
    ] {
        for order in [Order::NewestFirst, Order::OldestFirst] {
            for actor in [None, Some("bob")] {
                qs.push(Query {
                    occurred_since: since.map(ts),
                    occurred_until: until.map(ts),
                    actor: actor.map(str::to_owned),
                    order,
                    limit: 17,
                    ..Query::default()
                });
            }
        }
    }
    qs
}

#[test]
fn occurred_windows_agree_with_a_scan_and_verify_checks_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.redb");
    let l = Ledger::create(&path, &CreateOptions::new("ex/occurred")).unwrap();
    let all = build(&l, 700, 0x5eed);
    for q in windows() {
        assert_eq!(all_pages(&l, q.clone()), scan(&all, &q), "{q:?}");
    }
    // Time bounds on the ledger's clock and occurred_at bounds together: `time` is the
    // append's, so `until` now keeps everything and `since` in the future keeps nothing.
    let q = Query {
        occurred_since: Some(ts("2024-03-01T00:00:00Z")),
        since: Some(Timestamp::from_unix_nanos(
            Timestamp::now().unix_nanos() + 3_600_000_000_000,
        )),
        ..Query::default()
    };
    assert!(all_pages(&l, q).is_empty());
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    drop(l);
    let with_time = all.iter().filter(|e| occurred(e).is_some()).count();
    let rows = read_rows(&path);
    assert_eq!(
        rows.len(),
        with_time,
        "one row per entry with occurred_at, none else"
    );
}

/// The index's rows, read from the file (no ledger may hold it open).
fn read_rows(path: &std::path::Path) -> Vec<(i128, u64)> {
    let mut rows = Vec::new();
    tamper::edit(path, |t| {
        rows = t.occurred_rows()?;
        Ok(())
    })
    .unwrap();
    rows
}

#[test]
fn a_ledger_written_before_the_index_is_read_by_scan_and_indexed_by_its_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.redb");
    let all = {
        let l = Ledger::create(&path, &CreateOptions::new("ex/old")).unwrap();
        build(&l, 300, 0xface)
    };
    tamper::edit(&path, |t| t.drop_occurred_index()).unwrap();
    let q = windows().remove(0);
    {
        let ro = OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        };
        let r = Ledger::open_with(&path, &ro).unwrap();
        assert_eq!(all_pages(&r, q.clone()), scan(&all, &q), "read by scan");
        r.verify(&VerifyOptions::default().indexes(true)).unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    let mut all = all;
    let next = json!({"actor": {"id": "bob"}, "action": "git.commit",
                      "subject": {"type": "commit", "id": "new"},
                      "occurred_at": "2024-03-15T12:00:00Z"});
    l.append(&next).unwrap();
    all.push(next);
    assert_eq!(all_pages(&l, q.clone()), scan(&all, &q));
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    drop(l);
    let rows = read_rows(&path);
    let with_time = all.iter().filter(|e| occurred(e).is_some()).count();
    assert_eq!(
        rows.len(),
        with_time,
        "the old entries were indexed with the new one"
    );
}

#[test]
fn a_doctored_occurred_index_fails_verify_and_does_not_mislead_a_query() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.redb");
    let all = {
        let l = Ledger::create(&path, &CreateOptions::new("ex/doctored")).unwrap();
        build(&l, 200, 0xbad)
    };
    let march = windows().remove(0);
    let outside = all
        .iter()
        .position(|e| occurred(e).is_some_and(|t| t < ts("2024-03-01T00:00:00Z")))
        .unwrap() as u64;
    // A row filing an entry from outside the window inside it.
    tamper::edit(&path, |t| {
        t.set_occurred_row((ts("2024-03-10T00:00:00Z").unix_nanos(), outside), true)
    })
    .unwrap();
    let l = Ledger::open(&path).unwrap();
    assert_eq!(all_pages(&l, march.clone()), scan(&all, &march));
    let err = l
        .verify(&VerifyOptions::default().indexes(true))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("occurred_at index"), "{err}");
    drop(l);
    // A row taken out: the entry is missing from the index.
    tamper::edit(&path, |t| {
        t.set_occurred_row((ts("2024-03-10T00:00:00Z").unix_nanos(), outside), false)?;
        let first = t.occurred_rows()?[0];
        t.set_occurred_row(first, false)
    })
    .unwrap();
    let l = Ledger::open(&path).unwrap();
    let err = l
        .verify(&VerifyOptions::default().indexes(true))
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn the_json_form_takes_occurred_bounds_apart_from_since_and_until() {
    let q = Query::from_json(&json!({"occurred_since": "2024-03-01T00:00:00Z",
                                     "occurred_until": "2024-04-01T00:00:00+02:00"}))
    .unwrap();
    assert_eq!(q.occurred_since, Some(ts("2024-03-01T00:00:00Z")));
    assert_eq!(q.occurred_until, Some(ts("2024-03-31T22:00:00Z")));
    assert_eq!((q.since, q.until), (None, None));
    let err = Query::from_json(&json!({"occurred_since": "March"})).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Malformed, "{err}");
}
