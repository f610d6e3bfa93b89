//! The relay (cross-process group commit), with its handles in one process: the first handle
//! to append serves, the others send their groups to it; a client whose relay is gone commits
//! directly, and one whose relay died holding its request learns from the file what was
//! stored. `cli/tests/processes.rs` and `cli/tests/crash_shared.rs` run it across processes.

#![cfg(target_os = "linux")]

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::ledger::die_on_next_request;
use trailseal::{CreateOptions, Ledger, OpenOptions, RelayRole, Sharing, VerifyOptions};

/// The die hook is one per process: relay tests take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn entry(who: &str, n: u64) -> Value {
    json!({"actor": {"id": who}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("svc-{n}")}})
}

fn create(path: &Path) -> Ledger {
    Ledger::create(path, &CreateOptions::new("example.com/relay")).unwrap()
}

/// Each stored entry's actor and subject, in index order.
fn stored(l: &Ledger) -> Vec<(String, String)> {
    (0..l.size().unwrap())
        .map(|i| {
            let e = l.get(i).unwrap();
            (
                e["actor"]["id"].as_str().unwrap().to_owned(),
                e["subject"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_first_appender_serves_and_the_others_relay_through_it() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let a = Arc::new(create(&path));
    let b = Arc::new(Ledger::open(&path).unwrap());
    assert_eq!(a.relay_role(), RelayRole::Undecided);
    a.append(&entry("a", 0)).unwrap();
    assert_eq!(a.relay_role(), RelayRole::Serving);
    b.append(&entry("b", 0)).unwrap();
    assert_eq!(b.relay_role(), RelayRole::Client);

    // Threads on both handles at once: single appends and batches.
    let mut threads = Vec::new();
    for t in 0..6u64 {
        let l = if t % 2 == 0 { a.clone() } else { b.clone() };
        threads.push(std::thread::spawn(move || {
            let who = format!("t{t}");
            let mut receipts = Vec::new();
            for n in 0..40 {
                if n % 10 == 9 {
                    let batch: Vec<Value> =
                        (0..5).map(|k| entry(&who, 1000 + n * 10 + k)).collect();
                    receipts.extend(l.append_batch(&batch).unwrap());
                } else {
                    receipts.push(l.append(&entry(&who, n)).unwrap());
                }
            }
            receipts
        }));
    }
    let receipts: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(receipts.len(), 6 * (36 + 4 * 5));
    let size = a.size().unwrap();
    assert_eq!(size, 2 + receipts.len() as u64);
    let indexes: HashSet<u64> = receipts.iter().map(|r| r.index).collect();
    assert_eq!(indexes.len(), receipts.len(), "an index given twice");
    for r in &receipts {
        assert_eq!(r.tree_size, r.index + 1);
        assert_eq!(b.leaf_hash(r.index).unwrap(), r.leaf_hash);
        assert_eq!(a.root_at(r.tree_size).unwrap(), r.root);
    }
    let distinct: HashSet<_> = stored(&a).into_iter().collect();
    assert_eq!(distinct.len() as u64, size, "an entry stored twice");
    b.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn without_its_relay_a_handle_commits_directly_then_serves() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let a = create(&path);
    let b = Ledger::open(&path).unwrap();
    a.append(&entry("a", 0)).unwrap();
    b.append(&entry("b", 0)).unwrap();
    assert_eq!(b.relay_role(), RelayRole::Client);
    drop(a);
    // The relay refuses unserved what reaches it after its handle is gone, and its name is
    // free again once its thread sees that.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 1;
    while b.relay_role() != RelayRole::Serving {
        assert!(Instant::now() < deadline, "never took over the relay");
        b.append(&entry("b", n)).unwrap();
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(b.size().unwrap(), 1 + n);
    let distinct: HashSet<_> = stored(&b).into_iter().collect();
    assert_eq!(distinct.len() as u64, 1 + n);
    b.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn a_request_whose_relay_died_is_answered_from_the_file_and_never_stored_twice() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let a = create(&path);
    let b = Ledger::open(&path).unwrap();
    a.append(&entry("a", 0)).unwrap();

    // Committed, then the relay "dies" before answering: the receipt comes from the file.
    b.append(&entry("b", 0)).unwrap();
    die_on_next_request(false);
    let r = b.append(&entry("b", 1)).unwrap();
    assert_eq!(b.relay_role(), RelayRole::Undecided);
    assert_eq!(r.index, 2);
    assert_eq!(a.root_at(3).unwrap(), r.root);
    assert_eq!(a.leaf_hash(2).unwrap(), r.leaf_hash);
    assert_eq!(
        a.get(2).unwrap()["time"].as_str().unwrap(),
        r.time.unwrap().to_string()
    );

    // The same for a batch.
    b.append(&entry("b", 2)).unwrap();
    assert_eq!(b.relay_role(), RelayRole::Client);
    die_on_next_request(false);
    let batch: Vec<Value> = (10..15).map(|n| entry("b", n)).collect();
    let rs = b.append_batch(&batch).unwrap();
    assert_eq!(
        rs.iter().map(|r| r.index).collect::<Vec<_>>(),
        (4..9).collect::<Vec<_>>()
    );
    assert_eq!(a.root_at(9).unwrap(), rs[4].root);

    // Taken and dropped before any commit: the file shows nothing stored, and the handle
    // commits the request itself, once.
    b.append(&entry("b", 3)).unwrap();
    assert_eq!(b.relay_role(), RelayRole::Client);
    die_on_next_request(true);
    let r = b.append(&entry("b", 4)).unwrap();
    assert_eq!(r.index, 10);
    assert_eq!(a.size().unwrap(), 11);
    let all = stored(&a);
    let distinct: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(distinct.len(), all.len(), "an entry stored twice");
    a.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn only_durable_multi_writer_handles_relay() {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    drop(create(&path));
    for (sharing, read_only) in [
        (Sharing::Exclusive, false),
        (Sharing::SingleWriter, false),
        (Sharing::MultiWriter, true),
    ] {
        let l = Ledger::open_with(
            &path,
            &OpenOptions {
                sharing: Some(sharing),
                read_only,
                ..OpenOptions::default()
            },
        )
        .unwrap();
        assert_eq!(l.relay_role(), RelayRole::Off, "{sharing:?} {read_only}");
    }
}
