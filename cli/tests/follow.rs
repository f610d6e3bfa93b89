//! `trailseal follow`: a read-only process printing each entry as other processes commit it.
//!
//! A follower beside writers in other processes prints exactly the committed entries, in index
//! order, none twice; a bounded follow of a finished ledger prints what it was asked for and
//! exits 0; following never changes a byte of the file and needs only read permission; a
//! follower whose reader has gone exits 0.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trailseal::{CreateOptions, Ledger, OpenOptions, Sharing};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const ORIGIN: &str = "example.com/follow";
/// How long any one wait of these tests may take before the test calls the child stuck.
const PATIENCE: Duration = Duration::from_secs(30);

fn entry(n: u64) -> Value {
    json!({
        "actor": {"id": format!("user-{n}")},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": format!("svc-{n}")},
    })
}

/// A ledger of `n` entries, created through the library, in a directory of its own.
fn ledger_with(n: u64, raw: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("followed.redb");
    let mut opts = CreateOptions::new(ORIGIN);
    if raw {
        opts = opts.raw();
    }
    let l = Ledger::create(&path, &opts).unwrap();
    for i in 0..n {
        if raw {
            l.append_raw(format!("leaf {i}").as_bytes()).unwrap();
        } else {
            l.append(&entry(i)).unwrap();
        }
    }
    (dir, path)
}

fn follower(ledger: &Path, flags: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("follow").arg(ledger).args(flags);
    c
}

/// Wait for `child` to exit, killing it (and failing) if it has not within [`PATIENCE`].
fn exit_code(child: &mut Child) -> i32 {
    exit_code_while(child, || {})
}

/// [`exit_code`], calling `tick` between looks.
fn exit_code_while(child: &mut Child, mut tick: impl FnMut()) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not exit within {PATIENCE:?}");
        }
        tick();
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A follow that must stop by itself: its stdout as JSON lines and its exit code.
fn follow_to_end(ledger: &Path, flags: &[&str]) -> (Vec<Value>, i32) {
    let mut child = follower(ledger, flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    let code = exit_code(&mut child);
    let mut got = Vec::new();
    while let Ok(l) = lines.recv_timeout(PATIENCE) {
        got.push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")));
    }
    (got, code)
}

/// The child's stdout lines, read by a thread so the test can wait with a timeout.
fn lines_of(child: &mut Child) -> Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

/// The line `follow` prints for entry `index`: what `query --json` prints for it.
fn expected(l: &Ledger, index: u64) -> Value {
    json!({"index": index, "entry": l.get(index).unwrap()})
}

#[test]
fn a_follower_prints_each_commit_of_other_processes_once_and_in_order() {
    let (_dir, path) = ledger_with(3, false);
    // Two writers: this process through the library, and a streaming `append` process.
    let ours = Ledger::open_with(
        &path,
        &OpenOptions {
            sharing: Some(Sharing::MultiWriter),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let total = 12;
    let mut follow = follower(&path, &["--from", "3", "--count", &total.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = lines_of(&mut follow);
    let mut writer = Command::new(BIN)
        .args(["append", path.to_str().unwrap(), "-", "--batch", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let receipts = lines_of(&mut writer);
    let mut got = Vec::new();
    for n in 0..total / 2 {
        writeln!(stdin, "{}", entry(100 + n)).unwrap();
        stdin.flush().unwrap();
        receipts
            .recv_timeout(PATIENCE)
            .expect("a receipt from the writer");
        ours.append(&entry(200 + n)).unwrap();
        // Read as it goes: the follower prints each commit while the writers go on.
        while let Ok(l) = seen.recv_timeout(Duration::from_millis(50)) {
            got.push(serde_json::from_str::<Value>(&l).unwrap());
        }
    }
    drop(stdin);
    assert_eq!(exit_code(&mut writer), 0, "the writer failed");
    assert_eq!(exit_code(&mut follow), 0, "the follower failed");
    while let Ok(l) = seen.recv_timeout(PATIENCE) {
        got.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    let want: Vec<Value> = (3..3 + total).map(|i| expected(&ours, i)).collect();
    assert_eq!(got, want);
}

#[test]
fn following_a_finished_ledger_stops_where_asked_and_changes_no_byte() {
    let (_dir, path) = ledger_with(5, false);
    let before = std::fs::read(&path).unwrap();
    let l = Ledger::open_with(
        &path,
        &OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let all: Vec<Value> = (0..5).map(|i| expected(&l, i)).collect();
    drop(l);
    assert_eq!(
        follow_to_end(&path, &["--from", "0", "--count", "3"]),
        (all[..3].to_vec(), 0)
    );
    assert_eq!(
        follow_to_end(&path, &["--from", "1", "--until-size", "5"]),
        (all[1..].to_vec(), 0)
    );
    assert_eq!(
        follow_to_end(&path, &["--until-size", "5"]),
        (vec![], 0),
        "by default only entries committed from now on"
    );
    assert!(
        std::fs::read(&path).unwrap() == before,
        "following changed the file"
    );

    // With read permission alone. Root may write any file, so there this shows only that a
    // follower works on a 0444 file, not that it never asks to write it.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert_eq!(
        follow_to_end(&path, &["--from", "0", "--count", "5"]),
        (all, 0)
    );
    assert!(std::fs::read(&path).unwrap() == before);
}

#[test]
fn a_raw_ledger_prints_each_leaf_in_hex() {
    let (_dir, path) = ledger_with(2, true);
    let (got, code) = follow_to_end(&path, &["--from", "0", "--count", "2"]);
    assert_eq!(code, 0);
    assert_eq!(
        got,
        vec![
            json!({"index": 0, "leaf": hex::encode("leaf 0")}),
            json!({"index": 1, "leaf": hex::encode("leaf 1")}),
        ]
    );
}

#[test]
fn a_follower_whose_reader_has_gone_exits_0() {
    let (_dir, path) = ledger_with(1, false);
    let mut child = follower(&path, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let l = Ledger::open(&path).unwrap();
    // The follower finds out at its next write: keep committing until it has had one.
    let mut n = 0;
    let code = exit_code_while(&mut child, || {
        n += 1;
        l.append(&entry(n)).unwrap();
    });
    assert_eq!(code, 0);
}
