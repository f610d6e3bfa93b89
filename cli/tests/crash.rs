//! Crash test: `trailseal append` is killed with SIGKILL at random moments while it streams
//! entries in. Afterwards the ledger must open, verify, and hold every entry whose receipt was
//! printed, with exactly the printed leaf hash and root, and stay consistent with the checkpoint
//! signed after the previous crash. A batch is all-or-nothing.
//!
//! The same ledger is reused across iterations, so later kills hit a bigger tree.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::{merkle, CreateOptions, Ledger, Signer, VerifyOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");

/// xorshift64*: enough randomness for delays and batch sizes, no extra dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero; spread small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A receipt as printed.
#[derive(Debug, Clone)]
struct Printed {
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    root: String,
}

fn parse_receipt(line: &str) -> Printed {
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("a complete receipt line is not JSON ({e}): {line:?}"));
    let num = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("receipt without {k}: {line}"))
    };
    let hex = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("receipt without {k}: {line}"))
            .to_owned()
    };
    Printed {
        index: num("index"),
        tree_size: num("tree_size"),
        leaf_hash: hex("leaf_hash"),
        root: hex("root"),
    }
}

/// One entry line: some with ids and links, so the id table and links get exercised too.
fn entry_line(iteration: u64, n: u64) -> String {
    let mut e = json!({
        "actor": {"id": format!("worker-{iteration}"), "via": ["crash-test"]},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": format!("svc-{n}")},
        "attrs": {"iteration": iteration.to_string(), "n": n.to_string()},
    });
    if n % 3 == 0 {
        e["id"] = format!("crash-{iteration}-{n}").into();
    }
    if n % 5 == 4 {
        e["links"] = json!([{"rel": "first", "index": 0}]);
    }
    let mut s = e.to_string();
    s.push('\n');
    s
}

/// Spawn `append LEDGER - --batch N`, feed it entries without pause, kill it after `delay`.
/// Returns the receipts it printed (complete lines only).
fn append_and_kill(ledger: &Path, iteration: u64, batch: u64, delay: Duration) -> Vec<Printed> {
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
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn trailseal append");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let writer = std::thread::spawn(move || {
        // Until the child dies (EPIPE); bounded so a stuck child cannot run us forever.
        for n in 0..1_000_000u64 {
            if stdin
                .write_all(entry_line(iteration, n).as_bytes())
                .is_err()
            {
                break;
            }
        }
    });
    let reader = std::thread::spawn(move || {
        let mut out = BufReader::new(stdout);
        let mut receipts = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            match out.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill was never fully printed: it promises nothing.
                Ok(_) if line.last() != Some(&b'\n') => break,
                Ok(_) => receipts.push(parse_receipt(std::str::from_utf8(&line).unwrap())),
            }
        }
        receipts
    });
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child");
    let status = child.wait().unwrap();
    let receipts = reader.join().unwrap();
    writer.join().unwrap();
    // Usually killed; a child that failed on its own would be a finding.
    assert!(
        status.code().is_none(),
        "iteration {iteration}: append exited by itself with {status} before the kill"
    );
    receipts
}

/// Open the ledger after a crash and check it against every receipt ever printed.
fn check_after_crash(
    ledger_path: &Path,
    iteration: u64,
    batch: u64,
    size_before: u64,
    new: &[Printed],
    all: &[Printed],
    witness: &mut Witness,
) -> u64 {
    let ledger = Ledger::open(ledger_path)
        .unwrap_or_else(|e| panic!("iteration {iteration}: the ledger does not open: {e}"));
    // Verified against the checkpoint signed after the previous crash: nothing that was
    // checkpointed may be rolled back or rewritten by a later crash.
    let verifier = witness.signer.verifier();
    let mut opts = VerifyOptions::default();
    if let Some(note) = &witness.note {
        opts = opts.against(note, &verifier);
    }
    let report = ledger
        .verify(&opts)
        .unwrap_or_else(|e| panic!("iteration {iteration}: verify failed after a crash: {e}"));
    assert_eq!(report.checkpoints, iteration, "stored checkpoints survive");
    let size = ledger.size().unwrap();
    assert_eq!(report.size, size);
    assert!(
        size >= size_before,
        "iteration {iteration}: the ledger shrank"
    );
    // Receipts of this run are consecutive from the old size on, and all were kept.
    for (k, r) in new.iter().enumerate() {
        assert_eq!(
            r.index,
            size_before + k as u64,
            "iteration {iteration}: receipts out of order"
        );
        assert_eq!(r.tree_size, r.index + 1);
    }
    assert!(
        size >= size_before + new.len() as u64,
        "iteration {iteration}: {} receipts printed but the ledger grew only from {size_before} to {size}",
        new.len()
    );
    // Batches are atomic: what the run added is whole batches.
    assert_eq!(
        (size - size_before) % batch,
        0,
        "iteration {iteration}: a partial batch of {batch} was written ({size_before} -> {size})"
    );
    // Every receipt of this run holds, and so do earlier ones (a sample of them: the witness
    // checkpoint already pins the whole earlier tree).
    let earlier = all.len() - new.len();
    let sample = all[..earlier].iter().step_by(17).chain(all.last());
    for r in new.iter().chain(sample) {
        let leaf = merkle::to_hex(&ledger.leaf_hash(r.index).unwrap());
        assert_eq!(
            leaf, r.leaf_hash,
            "iteration {iteration}: leaf {} changed",
            r.index
        );
        let root = merkle::to_hex(&ledger.root_at(r.tree_size).unwrap());
        assert_eq!(
            root, r.root,
            "iteration {iteration}: root at {} changed",
            r.tree_size
        );
    }
    witness.note = Some(ledger.checkpoint(&witness.signer, None).unwrap());
    drop(ledger);
    // And the command agrees.
    let out = Command::new(BIN)
        .args(["verify", ledger_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "iteration {iteration}: trailseal verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size"], size);
    size
}

/// A checkpoint held outside the ledger, as a witness would.
struct Witness {
    signer: Signer,
    note: Option<String>,
}

/// Run `iterations` kill cycles against one ledger; returns (final size, receipts seen).
fn crash_loop(
    seed: u64,
    iterations: u64,
    batch_of: impl Fn(&mut Rng) -> u64,
    delay_ms: (u64, u64),
) -> (u64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let first = Ledger::create(&path, &CreateOptions::new("example.com/crash-test")).unwrap();
    // Index 0 exists so that entries may link to it.
    first
        .append(
            &json!({"actor": {"id": "setup"}, "action": "ledger.created",
                        "subject": {"type": "ledger", "id": "crash"}}),
        )
        .unwrap();
    drop(first);
    let mut all: Vec<Printed> = Vec::new();
    let mut size = 1;
    let mut witness = Witness {
        signer: Signer::generate("example.com/crash-test").unwrap(),
        note: None,
    };
    for iteration in 0..iterations {
        let mut rng = Rng::new(seed * 1000 + iteration);
        let batch = batch_of(&mut rng);
        let delay = Duration::from_millis(delay_ms.0 + rng.below(delay_ms.1 - delay_ms.0));
        let new = append_and_kill(&path, iteration, batch, delay);
        all.extend(new.iter().cloned());
        size = check_after_crash(&path, iteration, batch, size, &new, &all, &mut witness);
    }
    (size, all.len())
}

#[test]
fn killed_append_keeps_every_receipt() {
    let start = Instant::now();
    // Mostly --batch 1, sometimes a small batch.
    let (size, receipts) = crash_loop(
        1,
        25,
        |rng| {
            if rng.below(2) == 0 {
                1
            } else {
                1 + rng.below(5)
            }
        },
        (20, 400),
    );
    assert!(
        receipts > 0,
        "no receipt was ever printed: the kills came too early"
    );
    assert!(
        size as usize > receipts,
        "index 0 plus at least every receipt"
    );
    eprintln!(
        "crash test: {size} leaves, {receipts} receipts seen in {:?}",
        start.elapsed()
    );
}

#[test]
fn killed_append_mid_batch_writes_whole_batches_only() {
    let start = Instant::now();
    // Large batches: most kills land while a batch is half read or being committed.
    let (size, receipts) = crash_loop(2, 10, |rng| 20 + rng.below(40), (50, 600));
    assert!(receipts > 0, "no batch was ever committed before a kill");
    eprintln!(
        "mid-batch crash test: {size} leaves, {receipts} receipts seen in {:?}",
        start.elapsed()
    );
}
