//! Crash test with several processes: while two `trailseal append` processes stream entries
//! into one ledger (the default sharing, which shares it as multi-writer once several have it open) and readers verify it, a third appender
//! is killed with SIGKILL at random moments, again and again. The survivors must go on without
//! reopening; afterwards every entry whose receipt any process printed is in the ledger with
//! exactly that leaf hash and root, no entry is stored twice, and the ledger verifies. The
//! second test kills the process serving as the ledger's relay (see `trailseal::ledger`'s
//! relay) while its clients have requests in it.

#![cfg(unix)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::{merkle, Ledger, VerifyOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

fn entry(who: &str, n: u64) -> String {
    json!({"id": format!("{who}-{n}"), "actor": {"id": who}, "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("svc-{}", n % 13)}})
    .to_string()
}

/// `trailseal append LEDGER - --batch B`, its stdin, and its stdout lines as they come.
fn spawn_appender(ledger: &Path, batch: u64) -> (Child, ChildStdin, Receiver<String>) {
    let mut child = Command::new(BIN)
        .args([
            "append",
            ledger.to_str().unwrap(),
            "-",
            "--batch",
            &batch.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, stdin, rx)
}

/// A survivor: appends one entry and waits for its receipt.
struct Survivor {
    name: String,
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<String>,
    next: u64,
    receipts: Vec<Value>,
}

impl Survivor {
    fn new(ledger: &Path, name: &str) -> Survivor {
        let (child, stdin, rx) = spawn_appender(ledger, 1);
        Survivor {
            name: name.into(),
            child,
            stdin,
            rx,
            next: 0,
            receipts: Vec::new(),
        }
    }

    fn append_one(&mut self) {
        writeln!(self.stdin, "{}", entry(&self.name, self.next)).unwrap();
        self.stdin.flush().unwrap();
        self.next += 1;
        let line = self
            .rx
            .recv_timeout(LINE_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: no receipt ({e})", self.name));
        self.receipts.push(serde_json::from_str(&line).unwrap());
    }

    /// Close its input, check it exited cleanly, and hand over its receipts.
    fn finish(self) -> Vec<Value> {
        drop(self.stdin);
        let out = self.child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        self.receipts
    }
}

/// An appender fed as fast as it takes entries, to be killed at some moment.
struct Victim {
    child: Child,
    feeder: std::thread::JoinHandle<()>,
    rx: Receiver<String>,
}

impl Victim {
    fn spawn(ledger: &Path, name: &str, batch: u64) -> Victim {
        let (child, mut stdin, rx) = spawn_appender(ledger, batch);
        let name = name.to_owned();
        let feeder = std::thread::spawn(move || {
            for n in 0..100_000u64 {
                if writeln!(stdin, "{}", entry(&name, n)).is_err() {
                    break;
                }
            }
        });
        Victim { child, feeder, rx }
    }

    /// SIGKILL it; the receipts it printed. A receipt is printed only once its commit is
    /// durable; a line the kill cut short does not parse and counts as unacknowledged.
    fn kill(mut self) -> Vec<Value> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let _ = self.feeder.join();
        self.rx
            .try_iter()
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .collect()
    }
}

/// A small deterministic generator of numbers below `n` (xorshift64).
fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

#[test]
fn killed_writers_cost_the_survivors_nothing() {
    let kills: u64 = std::env::var("TRAILSEAL_SHARED_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.redb");
    init(&ledger);
    let mut survivors = [Survivor::new(&ledger, "s0"), Survivor::new(&ledger, "s1")];
    let mut acked: Vec<Value> = Vec::new();
    let mut rand = xorshift(0x5eed);
    for k in 0..kills {
        let batch = 1 + rand(20);
        let victim = Victim::spawn(&ledger, &format!("v{k}"), batch);
        let until = Instant::now() + Duration::from_millis(20 + rand(250));
        while Instant::now() < until {
            for s in survivors.iter_mut() {
                s.append_one();
            }
        }
        acked.extend(victim.kill());
        // The survivors go on at once, and a reader verifies beside them.
        for s in survivors.iter_mut() {
            s.append_one();
        }
        let out = Command::new(BIN)
            .args(["verify", ledger.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify after kill {k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for s in survivors.iter_mut() {
        for _ in 0..5 {
            s.append_one();
        }
    }
    for s in survivors {
        acked.extend(s.finish());
    }

    let size = check_acked(&ledger, &acked);
    println!(
        "{kills} writers killed; {} receipts printed, {} entries stored, verify passes",
        acked.len(),
        size
    );
}

/// Every acknowledged receipt holds in the verified ledger, no two name one index, and no
/// entry is stored twice. Returns the ledger's size.
fn check_acked(ledger: &Path, acked: &[Value]) -> u64 {
    let l = Ledger::open(ledger).unwrap();
    let report = l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    let mut indexes = HashSet::new();
    for r in acked {
        let index = r["index"].as_u64().unwrap();
        assert!(indexes.insert(index), "two receipts name index {index}");
        assert_eq!(
            merkle::to_hex(&l.leaf_hash(index).unwrap()),
            r["leaf_hash"].as_str().unwrap(),
            "leaf {index}"
        );
        assert_eq!(
            merkle::to_hex(&l.root_at(index + 1).unwrap()),
            r["root"].as_str().unwrap(),
            "root at {}",
            index + 1
        );
    }
    let mut ids = HashSet::new();
    for i in 0..report.size {
        let id = l.get(i).unwrap()["id"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{id} stored twice");
    }
    report.size
}

fn init(ledger: &Path) {
    let out = Command::new(BIN)
        .args([
            "init",
            ledger.to_str().unwrap(),
            "--origin",
            "example.com/crash-relay",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn a_killed_relay_costs_its_clients_nothing() {
    let kills: u64 = std::env::var("TRAILSEAL_RELAY_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.redb");
    init(&ledger);
    let mut acked: Vec<Value> = Vec::new();
    let mut rand = xorshift(0xbee5);
    for k in 0..kills {
        // Nothing else has the ledger open: the victim's first append makes it the relay.
        let victim = Victim::spawn(&ledger, &format!("v{k}"), 1 + rand(4));
        let first = victim
            .rx
            .recv_timeout(LINE_TIMEOUT)
            .expect("the relay's first receipt");
        acked.push(serde_json::from_str(&first).unwrap());
        // Its clients append all along, so requests are in the relay when it dies.
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..2)
            .map(|c| {
                let mut s = Survivor::new(&ledger, &format!("c{k}-{c}"));
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        s.append_one();
                    }
                    s
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rand(300)));
        acked.extend(victim.kill());
        // The clients go on: each appends after the kill without an error.
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Release);
        for t in clients {
            let mut s = t
                .join()
                .expect("a client failed to append after the relay died");
            s.append_one();
            acked.extend(s.finish());
        }
    }
    let size = check_acked(&ledger, &acked);
    println!(
        "{kills} relays killed; {} receipts printed, {} entries stored, verify passes",
        acked.len(),
        size
    );
}
