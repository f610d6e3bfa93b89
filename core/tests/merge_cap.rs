//! Index merges stop at a size cap, so no append waits for a merge of everything before it:
//! with the cap lowered, runs stop growing at the cap and pile up side by side, and queries,
//! `verify --indexes` and later appends are unaffected. Its own test binary: it lowers a
//! process-wide cap.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use trailseal::query::{Order, Query};
use trailseal::storage::{RunInfo, MAX_MERGED_POSTINGS};
use trailseal::{CreateOptions, Ledger, VerifyOptions};

fn entry(n: u64) -> Value {
    json!({"actor": {"id": format!("user-{}", n % 5)}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("svc-{}", n % 11)},
           "attrs": {"n": n.to_string()}})
}

#[test]
fn merges_stop_at_the_cap_and_queries_still_agree() {
    MAX_MERGED_POSTINGS.store(5000, Ordering::Relaxed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let n = 12_000;
    {
        let l = Ledger::create(&path, &CreateOptions::new("ex/cap")).unwrap();
        for start in (0..n).step_by(150) {
            let batch: Vec<Value> = (start..start + 150).map(entry).collect();
            l.append_batch(&batch).unwrap();
        }
    }
    let rs: Vec<RunInfo> = trailseal::storage::tamper::runs(&path).unwrap();
    // 150 entries make a run of 600 postings; 8 of them merge (4,800 <= 5,000), 8 of those
    // would make 38,400 > 5,000, so level-1 runs pile up: 80 commits, 10 of them.
    assert!(rs.iter().all(|r| r.postings <= 5000), "{rs:?}");
    let level1 = rs.iter().filter(|r| r.level == 1).count();
    assert!(level1 > 8, "capped runs side by side: {level1} at level 1");
    let l = Ledger::open(&path).unwrap();
    for k in 0..5 {
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let mut q = Query {
                actor: Some(format!("user-{k}")),
                subject: Some(("service".into(), format!("svc-{}", k + 3))),
                order,
                limit: 7,
                ..Query::default()
            };
            let mut got = Vec::new();
            loop {
                let page = l.query(&q).unwrap();
                got.extend(page.entries.iter().map(|f| f.index));
                match page.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
            let mut want: Vec<u64> = (0..n).filter(|i| i % 5 == k && i % 11 == k + 3).collect();
            if order == Order::NewestFirst {
                want.reverse();
            }
            assert_eq!(got, want, "user-{k}");
        }
    }
    l.append_batch(&(n..n + 200).map(entry).collect::<Vec<_>>())
        .unwrap();
    let report = l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    assert_eq!(report.postings, (n + 200) * 4);
}
