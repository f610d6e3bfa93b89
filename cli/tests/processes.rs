//! Several processes appending to one ledger at once.
//!
//! With the default sharing (auto: shared as multi-writer once a second process opens the
//! file), processes append side by side while others read: every process succeeds, every
//! entry is recorded exactly once at the index its receipt names, retried ids are not
//! duplicated, readers only ever see committed entries, and the ledger
//! verifies. With `--share exclusive`, a process that finds the ledger held waits
//! (`--wait`) or fails at once with exit status 3 and a `locked` message, having written
//! nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::{Ledger, VerifyOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const ORIGIN: &str = "example.com/processes";
const EXCLUSIVE: Option<&str> = Some("exclusive");

fn init(dir: &Path) -> PathBuf {
    let ledger = dir.join("shared.redb");
    let out = Command::new(BIN)
        .args(["init", ledger.to_str().unwrap(), "--origin", ORIGIN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ledger
}

/// JSON Lines of `n` entries from process `p`, every entry with an id.
fn lines(p: usize, n: usize) -> String {
    (0..n)
        .map(|k| {
            json!({"id": format!("p{p}-{k}"), "actor": {"id": format!("proc-{p}")},
                   "action": "deploy.succeeded", "subject": {"type": "service", "id": format!("svc-{k}")},
                   "attrs": {"proc": p.to_string()}})
            .to_string()
                + "\n"
        })
        .collect()
}

/// `trailseal [--share S] [--wait W] append LEDGER - --batch B` with `input` on stdin.
fn spawn_append(
    ledger: &Path,
    share: Option<&str>,
    wait: Option<&str>,
    batch: usize,
    input: String,
) -> Child {
    let mut args: Vec<String> = Vec::new();
    if let Some(s) = share {
        args.extend(["--share".into(), s.into()]);
    }
    if let Some(w) = wait {
        args.extend(["--wait".into(), w.into()]);
    }
    args.extend([
        "append".into(),
        ledger.to_str().unwrap().into(),
        "-".into(),
        "--batch".into(),
        batch.to_string(),
    ]);
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    child
}

fn receipts(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("receipt not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn concurrent_appenders_with_wait_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = init(dir.path());
    const PROCS: usize = 5;
    const EACH: usize = 40;
    // Five writers with distinct entries, and one that repeats writer 0's input: its entries
    // carry the same ids, so they must come back with the same receipts and not be written
    // twice.
    let mut children: Vec<(usize, Child)> = (0..PROCS)
        .map(|p| {
            (
                p,
                spawn_append(&ledger, None, Some("30"), 1 + p * 3, lines(p, EACH)),
            )
        })
        .collect();
    children.push((
        0,
        spawn_append(&ledger, None, Some("30"), 7, lines(0, EACH)),
    ));
    let mut by_proc: Vec<Vec<Vec<Value>>> = vec![Vec::new(); PROCS];
    for (p, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {p} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let r = receipts(&out);
        assert_eq!(r.len(), EACH, "writer {p}: one receipt per entry");
        by_proc[p].push(r);
    }
    // The repeated input got exactly the first run's receipts.
    assert_eq!(
        by_proc[0][0], by_proc[0][1],
        "retried ids gave other receipts"
    );

    let l = Ledger::open(&ledger).unwrap();
    let report = l.verify(&VerifyOptions::default()).unwrap();
    assert_eq!(
        report.size,
        (PROCS * EACH) as u64,
        "nothing lost, nothing twice"
    );
    let mut seen = [false; PROCS * EACH];
    for (p, runs) in by_proc.iter().enumerate() {
        let mut last = None;
        for (k, r) in runs[0].iter().enumerate() {
            let index = r["index"].as_u64().unwrap();
            assert!(
                !std::mem::replace(&mut seen[index as usize], true),
                "index {index} twice"
            );
            // One process's entries keep their order.
            assert!(last.is_none_or(|l| index > l), "writer {p}: out of order");
            last = Some(index);
            let e = l.get(index).unwrap();
            assert_eq!(e["id"], format!("p{p}-{k}"), "entry at {index}");
            assert_eq!(
                trailseal::merkle::to_hex(&l.leaf_hash(index).unwrap()),
                r["leaf_hash"].as_str().unwrap()
            );
            assert_eq!(
                trailseal::merkle::to_hex(&l.root_at(index + 1).unwrap()),
                r["root"].as_str().unwrap()
            );
        }
    }
    assert!(seen.iter().all(|&s| s));
    drop(l);
    let out = Command::new(BIN)
        .args(["verify", ledger.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exclusive_without_wait_a_held_ledger_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = init(dir.path());
    let holder = Ledger::open_with(
        &ledger,
        &trailseal::OpenOptions {
            sharing: Some(trailseal::Sharing::Exclusive),
            ..Default::default()
        },
    )
    .unwrap();
    // Without --wait: exit 3, "locked", at once, nothing written.
    let started = Instant::now();
    let out = spawn_append(&ledger, EXCLUSIVE, None, 1, lines(9, 3))
        .wait_with_output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("locked"), "{stderr}");
    assert!(out.stdout.is_empty(), "no receipt");
    assert!(
        took < Duration::from_secs(5),
        "refused after {took:?}, not at once"
    );
    // With a short --wait: the same refusal, once the wait is over.
    let started = Instant::now();
    let out = spawn_append(&ledger, EXCLUSIVE, Some("0.5"), 1, lines(9, 3))
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked"));
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited");
    assert_eq!(holder.size().unwrap(), 0, "nothing was written");
    // With a long --wait: it gets the ledger once the holder lets go.
    let waiter = spawn_append(&ledger, EXCLUSIVE, Some("30"), 1, lines(9, 3));
    std::thread::sleep(Duration::from_millis(300));
    drop(holder);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(receipts(&out).len(), 3);
}

#[test]
fn exclusive_racing_appenders_without_wait_either_succeed_whole_or_fail_locked() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = init(dir.path());
    let children: Vec<Child> = (0..4)
        .map(|p| spawn_append(&ledger, EXCLUSIVE, None, 5, lines(p, 20)))
        .collect();
    let mut written = 0;
    for (p, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                assert_eq!(receipts(&out).len(), 20, "writer {p}");
                written += 20;
            }
            Some(3) => {
                assert!(stderr.contains("locked"), "writer {p}: {stderr}");
                assert!(
                    out.stdout.is_empty(),
                    "writer {p} printed receipts, then failed"
                );
            }
            other => panic!("writer {p}: exit {other:?}: {stderr}"),
        }
    }
    assert!(written > 0, "at least one racer got the ledger");
    let l = Ledger::open(&ledger).unwrap();
    assert_eq!(l.verify(&VerifyOptions::default()).unwrap().size, written);
}

/// Runs the command to its end; its exit status and stdout.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn four_writers_and_a_reader_at_once() {
    // Four processes append 10,000 entries each (TRAILSEAL_PROCESS_ENTRIES to change it) in
    // batches while a fifth runs `verify` and `query` in a loop.
    let each: usize = std::env::var("TRAILSEAL_PROCESS_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    const PROCS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let ledger = init(dir.path());
    let l = ledger.to_str().unwrap().to_owned();
    let writers: Vec<Child> = (0..PROCS)
        .map(|p| spawn_append(&ledger, None, None, 100, lines(p, each)))
        .collect();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (l, done) = (l.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut verified, mut last_size, mut last_hits) = (0, 0u64, 0usize);
            let deadline = Instant::now() + Duration::from_secs(600);
            while !done.load(std::sync::atomic::Ordering::Acquire) && Instant::now() < deadline {
                let (code, out, err) = run(&["verify", &l]);
                assert_eq!(code, Some(0), "verify during the run: {err}");
                let size = serde_json::from_str::<Value>(&out).unwrap()["size"]
                    .as_u64()
                    .unwrap();
                assert!(size >= last_size, "the ledger shrank: {size} < {last_size}");
                last_size = size;
                verified += 1;
                let (code, out, err) = run(&["query", &l, "--actor", "proc-1", "--json"]);
                assert_eq!(code, Some(0), "query during the run: {err}");
                let hits: Vec<Value> = out
                    .lines()
                    .map(|x| serde_json::from_str(x).unwrap())
                    .collect();
                for h in &hits {
                    assert_eq!(h["entry"]["actor"]["id"], "proc-1", "{h}");
                    assert!(h["index"].as_u64().unwrap() < (PROCS * each) as u64);
                }
                assert!(
                    hits.len() >= last_hits,
                    "a committed entry vanished from a query"
                );
                last_hits = hits.len();
            }
            verified
        })
    };
    let mut indexes = Vec::new();
    for (p, w) in writers.into_iter().enumerate() {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer {p}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = receipts(&out);
        assert_eq!(r.len(), each, "writer {p}: one receipt per entry");
        indexes.extend(r.iter().map(|r| r["index"].as_u64().unwrap()));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let verified = reader.join().unwrap();
    assert!(verified > 0, "the reader never ran");
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..(PROCS * each) as u64).collect::<Vec<_>>(),
        "{} receipts, every index once",
        PROCS * each
    );
    let l = Ledger::open(&ledger).unwrap();
    let report = l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    assert_eq!(
        report.size,
        (PROCS * each) as u64,
        "every entry stored once"
    );
    println!(
        "{} entries from {PROCS} processes; the reader verified {verified} times during the run",
        PROCS * each
    );
}

/// Rules published by one process govern a handle another process already holds: a long-lived
/// `append` (one commit per line, as lines arrive) accepts an entry, another process publishes
/// strict rules that name no class for it, and the same entry sent again to the long-lived
/// process is refused by exactly that version (the handle follows the other's commit), exit 2,
/// nothing of it written.
#[test]
fn rules_published_by_another_process_govern_a_held_handle() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let ledger = init(dir.path());
    let lunch = json!({"actor": {"id": "alice"}, "action": "lunch.ordered",
                       "subject": {"type": "order", "id": "1"}})
    .to_string()
        + "\n";
    let mut holder = Command::new(BIN)
        .args(["append", ledger.to_str().unwrap(), "-", "--batch", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    let mut receipts = BufReader::new(holder.stdout.take().unwrap()).lines();
    stdin.write_all(lunch.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let first: Value = serde_json::from_str(&receipts.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["index"], 0, "accepted before any rules");

    let rules = dir.path().join("strict.json");
    std::fs::write(
        &rules,
        json!({"version": "strict-1", "default": "refuse", "roles": {},
               "classes": [{"name": "deploys", "action": "deploy.*"}]})
        .to_string(),
    )
    .unwrap();
    let (status, out, err) = run(&[
        "--wait",
        "30",
        "rules",
        "publish",
        ledger.to_str().unwrap(),
        rules.to_str().unwrap(),
        "--actor",
        "ciso",
    ]);
    assert_eq!(status, Some(0), "publish beside the holder: {err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["index"],
        1,
        "{out}"
    );

    stdin.write_all(lunch.as_bytes()).unwrap();
    drop(stdin);
    assert!(
        receipts.next().is_none(),
        "nothing accepted after the rules"
    );
    let out = holder.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("strict-1") && err.contains("rule_violation"),
        "the refusal names the version published by the other process: {err}"
    );
    let l = Ledger::open(&ledger).unwrap();
    assert_eq!(l.size().unwrap(), 2, "the refused entry was not written");
    l.verify(&VerifyOptions::default()).unwrap();
}
