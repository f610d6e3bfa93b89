//! End-to-end tests of the `trailseal` command: every subcommand and every exit status.
//!
//! Exit status contract: 0 success; 1 a verification failed; 2 bad usage or refused input
//! (nothing written); 3 I/O or storage error. Everything runs in temporary directories.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;
use trailseal::merkle::{self, HashAlg, NodeId};
use trailseal::{Ledger, VerifyOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const ORIGIN: &str = "example.com/trailseal/cli-test";
/// The environment variable a signing command reads its key file from when `--key` is not given.
const KEY_ENV: &str = "TRAILSEAL_KEY_FILE";
/// How long a test waits for one line from a streaming child before calling it stuck.
const LINE_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// helpers

/// The outcome of one run of the command.
struct Run {
    args: Vec<String>,
    status: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "{:?}: stdout is not one JSON value ({e}): {}",
                self.args,
                self.out()
            )
        })
    }

    /// Every stdout line as JSON.
    fn json_lines(&self) -> Vec<Value> {
        self.out()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    #[track_caller]
    fn expect(self, status: i32) -> Self {
        assert_eq!(
            self.status,
            status,
            "trailseal {:?}: expected exit {status}, got {}\nstdout: {}\nstderr: {}",
            self.args,
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        if status == 0 {
            assert!(
                !self.stderr.contains("panicked"),
                "{:?} printed a panic: {}",
                self.args,
                self.stderr
            );
        } else {
            assert!(
                self.stderr.starts_with("trailseal: ") || self.stderr.starts_with("error: "),
                "{:?}: a failure must explain itself on stderr, got {:?}",
                self.args,
                self.stderr
            );
        }
        self
    }

    #[track_caller]
    fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "trailseal {:?}: stderr should mention {needle:?}, got: {}",
            self.args,
            self.stderr
        );
        self
    }
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    // Keep the environment from changing output (colors, progress bars) or the key a
    // command signs with.
    c.env("NO_COLOR", "1");
    c.env_remove(KEY_ENV);
    c
}

/// Run with `stdin` as the whole standard input.
fn run_in(args: &[&str], stdin: &[u8]) -> Run {
    run_command(command(args), args, stdin)
}

/// Run with an empty standard input and these environment variables set.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = command(args);
    c.envs(env.iter().copied());
    run_command(c, args, b"")
}

/// Run `c` (made by [`command`] from `args`) with `stdin` as the whole standard input.
fn run_command(mut c: Command, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trailseal");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Write from a thread so a child that fails early cannot deadlock us on a full pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for trailseal");
    writer.join().unwrap();
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        status: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run with an empty standard input.
fn run(args: &[&str]) -> Run {
    run_in(args, b"")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A valid audit entry, as one JSON line, distinguished by `n`.
fn entry(n: u64) -> String {
    json!({
        "actor": {"id": format!("user-{n}")},
        "action": "deploy.succeeded",
        "subject": {"type": "service", "id": format!("svc-{n}")},
    })
    .to_string()
}

fn lines(entries: &[String]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in entries {
        v.extend_from_slice(e.as_bytes());
        v.push(b'\n');
    }
    v
}

/// A temporary directory holding one ledger created by `trailseal init`.
struct Fx {
    dir: TempDir,
    ledger: PathBuf,
    init: Value,
}

impl Fx {
    fn new(extra: &[&str]) -> Fx {
        Fx::with_origin(ORIGIN, extra)
    }

    fn with_origin(origin: &str, extra: &[&str]) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("audit.redb");
        let mut args = vec!["init", s(&ledger), "--origin", origin];
        args.extend_from_slice(extra);
        let init = run(&args).expect(0).json();
        Fx { dir, ledger, init }
    }

    /// A ledger with `n` entries appended in one batch.
    fn with_entries(n: u64) -> Fx {
        let fx = Fx::new(&[]);
        if n > 0 {
            let input = lines(&(0..n).map(entry).collect::<Vec<_>>());
            run_in(&["append", fx.l(), "-"], &input).expect(0);
        }
        fx
    }

    fn l(&self) -> &str {
        s(&self.ledger)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn key(&self) -> PathBuf {
        PathBuf::from(format!("{}.key", self.l()))
    }

    /// A file only its owner can read, as a signer key file must be.
    fn write_private(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.write(name, bytes);
        set_mode(&p, 0o600);
        p
    }

    fn vkey(&self) -> String {
        self.init["verifier_key"].as_str().unwrap().to_owned()
    }

    /// The ledger's size, asked of the command itself.
    fn size(&self) -> u64 {
        run(&["prove", "consistency", self.l(), "0"])
            .expect(0)
            .json()["new_size"]
            .as_u64()
            .unwrap()
    }

    fn show(&self, index: u64) -> Value {
        run(&["show", self.l(), &index.to_string()])
            .expect(0)
            .json()
    }

    fn show_raw(&self, index: u64) -> Vec<u8> {
        run(&["show", self.l(), &index.to_string(), "--raw"])
            .expect(0)
            .stdout
    }

    fn append(&self, entries: &[String]) -> Vec<Value> {
        run_in(&["append", self.l()], &lines(entries))
            .expect(0)
            .json_lines()
    }

    /// Write a checkpoint of the current (or given) size to a file.
    fn checkpoint(&self, name: &str, size: Option<u64>) -> PathBuf {
        let size_s = size.map(|n| n.to_string());
        let mut args = vec!["checkpoint", self.l()];
        if let Some(n) = &size_s {
            args.extend_from_slice(&["--size", n]);
        }
        let note = run(&args).expect(0).out();
        self.write(name, note)
    }
}

fn hex(h: &merkle::Hash) -> String {
    merkle::to_hex(h)
}

#[track_caller]
fn check_receipt(r: &Value, index: u64) {
    assert_eq!(r["index"], index, "{r}");
    assert_eq!(r["tree_size"], index + 1, "{r}");
    for k in ["leaf_hash", "root"] {
        let h = r[k]
            .as_str()
            .unwrap_or_else(|| panic!("receipt without {k}: {r}"));
        assert_eq!(h.len(), 64, "{r}");
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{r}"
        );
    }
}

/// Lines of a child's stdout, read by a thread so a test can wait with a timeout.
fn line_reader(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

fn spawn_piped(args: &[&str]) -> (Child, ChildStdin, Receiver<String>) {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn trailseal");
    let stdin = child.stdin.take().unwrap();
    let rx = line_reader(child.stdout.take().unwrap());
    (child, stdin, rx)
}

fn flip_hex(h: &str) -> String {
    let mut b = h.as_bytes().to_vec();
    let last = b.len() - 1;
    b[last] = if b[last] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

// ---------------------------------------------------------------------------------------------
// init

#[test]
fn init_defaults_to_sha256_prints_verifier_key_and_creates_private_key() {
    let fx = Fx::new(&[]);
    let v = &fx.init;
    assert_eq!(v["origin"], ORIGIN);
    assert_eq!(v["hash"], "sha256");
    assert_eq!(v["kind"], "entries");
    assert_eq!(v["key_created"], true);
    assert_eq!(v["key_file"], s(&fx.key()));
    let vkey = fx.vkey();
    assert!(vkey.starts_with(&format!("{ORIGIN}+")), "{vkey}");
    trailseal::Verifier::from_key_string(&vkey).expect("init prints a valid verifier key");
    let key_text = std::fs::read_to_string(fx.key()).unwrap();
    assert!(key_text.starts_with(&format!("PRIVATE+KEY+{ORIGIN}+")));
    // vkey agrees with init, from the ledger and from the key file.
    assert_eq!(run(&["vkey", fx.l()]).expect(0).out().trim(), vkey);
    assert_eq!(
        run(&["vkey", "--key", s(&fx.key())]).expect(0).out().trim(),
        vkey
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(fx.key()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
    assert_eq!(fx.size(), 0);
    let report = run(&["verify", fx.l()]).expect(0).json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["size"], 0);
    assert_eq!(report["root"], hex(&HashAlg::Sha256.empty_root()));
}

#[test]
fn init_sha256_ledger_hashes_leaves_as_rfc6962() {
    let fx = Fx::new(&["--hash", "sha256"]);
    assert_eq!(fx.init["hash"], "sha256");
    let receipts = fx.append(&[entry(0), entry(1), entry(2)]);
    for (i, r) in receipts.iter().enumerate() {
        check_receipt(r, i as u64);
        let bytes = fx.show_raw(i as u64);
        assert_eq!(r["leaf_hash"], hex(&HashAlg::Sha256.leaf_hash(&bytes)));
    }
    let p = run(&["prove", "inclusion", fx.l(), "1"]).expect(0).json();
    assert_eq!(p["hash"], "sha256");
    assert_eq!(p["root"], receipts[2]["root"]);
    let empty = run(&["prove", "consistency", fx.l(), "0"]).expect(0).json();
    assert_eq!(empty["old_root"], hex(&HashAlg::Sha256.empty_root()));
    // A blake3 ledger, asked for, hashes the same kind of bytes differently.
    let b = Fx::new(&["--hash", "blake3"]);
    b.append(&[entry(0)]);
    let bytes = b.show_raw(0);
    assert_eq!(
        run(&["prove", "inclusion", b.l(), "0"]).expect(0).json()["leaf_hash"],
        hex(&HashAlg::Blake3.leaf_hash(&bytes))
    );
}

#[test]
fn init_raw_ledger_append_raw_and_show_raw_exact_bytes() {
    let fx = Fx::new(&["--raw", "--hash", "sha256"]);
    assert_eq!(fx.init["kind"], "raw");
    let a = fx.write("a.bin", b"\x00\x01binary\xff\nnot json");
    let b = fx.write("b.bin", b"");
    let c = fx.write("c.bin", "second leaf \u{2014} utf-8\n");
    let r = run(&["append", fx.l(), "--raw", s(&a), s(&b)])
        .expect(0)
        .json_lines();
    assert_eq!(r.len(), 2);
    check_receipt(&r[0], 0);
    check_receipt(&r[1], 1);
    assert!(
        r[0].get("time").is_none(),
        "raw leaves carry no time: {}",
        r[0]
    );
    let r2 = run(&["append", fx.l(), "--raw", s(&c)])
        .expect(0)
        .json_lines();
    check_receipt(&r2[0], 2);
    for (i, f) in [&a, &b, &c].iter().enumerate() {
        let want = std::fs::read(f).unwrap();
        let got = fx.show_raw(i as u64);
        assert_eq!(got, want, "leaf {i} bytes");
        let lh = if i < 2 {
            &r[i]["leaf_hash"]
        } else {
            &r2[0]["leaf_hash"]
        };
        assert_eq!(*lh, hex(&HashAlg::Sha256.leaf_hash(&want)));
    }
    // A raw ledger holds no entries: show without --raw, JSON lines and flags are refused.
    run(&["show", fx.l(), "0"]).expect(2).stderr_has("--raw");
    run_in(&["append", fx.l(), "-"], &lines(&[entry(0)]))
        .expect(2)
        .stderr_has("wrong_kind");
    run(&[
        "append",
        fx.l(),
        "--actor",
        "a",
        "--action",
        "x",
        "--subject",
        "s:1",
    ])
    .expect(2)
    .stderr_has("wrong_kind");
    // --raw needs files; a missing one is refused input.
    run(&["append", fx.l(), "--raw"]).expect(2);
    run(&["append", fx.l(), "--raw", s(&fx.path("missing.bin"))]).expect(2);
    assert_eq!(fx.size(), 3);
    run(&["verify", fx.l()]).expect(0);
    // And an entry ledger refuses raw leaves.
    let e = Fx::new(&[]);
    run(&["append", e.l(), "--raw", s(&a)])
        .expect(2)
        .stderr_has("wrong_kind");
    assert_eq!(e.size(), 0);
}

#[test]
fn init_reuses_an_existing_key_file() {
    let first = Fx::new(&[]);
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("second.redb");
    let key_before = std::fs::read(first.key()).unwrap();
    let v = run(&[
        "init",
        s(&ledger),
        "--origin",
        ORIGIN,
        "--key",
        s(&first.key()),
    ])
    .expect(0)
    .json();
    assert_eq!(v["key_created"], false);
    assert_eq!(v["key_file"], s(&first.key()));
    assert_eq!(v["verifier_key"], first.vkey());
    assert_eq!(
        std::fs::read(first.key()).unwrap(),
        key_before,
        "an existing key is not rewritten"
    );
    assert!(!dir.path().join("second.redb.key").exists());
    // The default key path is reused too when it already exists.
    let third = dir.path().join("third.redb");
    std::fs::copy(first.key(), dir.path().join("third.redb.key")).unwrap();
    let v = run(&["init", s(&third), "--origin", ORIGIN])
        .expect(0)
        .json();
    assert_eq!(v["key_created"], false);
    assert_eq!(v["verifier_key"], first.vkey());
    // A custom --key that does not exist is created there.
    let fourth = dir.path().join("fourth.redb");
    let custom = dir.path().join("custom.key");
    let v = run(&[
        "init",
        s(&fourth),
        "--origin",
        "other.example/log",
        "--key",
        s(&custom),
    ])
    .expect(0)
    .json();
    assert_eq!(v["key_created"], true);
    assert!(custom.exists());
    assert_ne!(v["verifier_key"], first.vkey());
    assert_eq!(
        run(&["vkey", "--key", s(&custom)]).expect(0).out().trim(),
        v["verifier_key"]
    );
}

#[test]
fn init_refuses_an_existing_ledger_with_2_and_changes_nothing() {
    let fx = Fx::with_entries(2);
    let key_before = std::fs::read(fx.key()).unwrap();
    run(&["init", fx.l(), "--origin", ORIGIN])
        .expect(2)
        .stderr_has("already exists");
    run(&[
        "init",
        fx.l(),
        "--origin",
        "another.example",
        "--hash",
        "sha256",
        "--raw",
    ])
    .expect(2);
    assert_eq!(std::fs::read(fx.key()).unwrap(), key_before);
    assert_eq!(fx.size(), 2);
    run(&["verify", fx.l()]).expect(0);
    // Any existing file is refused, not only ledgers.
    let other = fx.write("notes.txt", b"precious");
    run(&["init", s(&other), "--origin", ORIGIN]).expect(2);
    assert_eq!(std::fs::read(&other).unwrap(), b"precious");
}

#[test]
fn init_refuses_bad_arguments_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.redb");
    let garbage = dir.path().join("garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    set_mode(&garbage, 0o600);
    run(&["init", s(&ledger), "--origin", ORIGIN, "--key", s(&garbage)])
        .expect(2)
        .stderr_has("malformed");
    run(&["init", s(&ledger), "--origin", ""]).expect(2);
    run(&["init", s(&ledger), "--origin", ORIGIN, "--hash", "md5"]).expect(2);
    run(&["init", s(&ledger)]).expect(2).stderr_has("--origin");
    assert!(!ledger.exists());
    assert!(!dir.path().join("l.redb.key").exists());
}

#[test]

fn init_with_unwritable_key_path_leaves_no_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l.redb");
    let key = dir.path().join("no-such-dir").join("l.key");
    let r = run(&["init", s(&ledger), "--origin", ORIGIN, "--key", s(&key)]);
    assert_ne!(r.status, 0);
    assert!(
        !ledger.exists(),
        "init failed (exit {}) yet left {} behind, so a retry fails with `already exists`",
        r.status,
        ledger.display()
    );
}

// ---------------------------------------------------------------------------------------------
// append

#[test]
fn append_from_a_json_lines_file_is_one_batch() {
    let fx = Fx::new(&[]);
    let mut entries: Vec<String> = (0..4).map(entry).collect();
    // An entry may link to an earlier entry of the same batch.
    entries.push(
        json!({"actor": {"id": "ci"}, "action": "approval.granted",
               "subject": {"type": "change", "id": "42"},
               "links": [{"rel": "approves", "index": 3}]})
        .to_string(),
    );
    let mut text = lines(&entries);
    text.extend_from_slice(b"\n   \n"); // blank lines are skipped
    let file = fx.write("in.jsonl", &text);
    let receipts = run(&["append", fx.l(), s(&file)]).expect(0).json_lines();
    assert_eq!(receipts.len(), 5);
    let mut last_time = String::new();
    for (i, r) in receipts.iter().enumerate() {
        check_receipt(r, i as u64);
        let t = r["time"].as_str().unwrap().to_owned();
        assert!(
            t.ends_with('Z') && t.len() == "2026-11-22T15:43:54.123456789Z".len(),
            "{t}"
        );
        assert!(t >= last_time, "time goes backwards: {last_time} then {t}");
        last_time = t;
        let stored = fx.show(i as u64);
        assert_eq!(stored["time"], r["time"]);
        assert_eq!(stored["v"], 1);
        let bytes = fx.show_raw(i as u64);
        assert_eq!(r["leaf_hash"], hex(&HashAlg::Sha256.leaf_hash(&bytes)));
    }
    assert_eq!(
        fx.show(4)["links"],
        json!([{"rel": "approves", "index": 3}])
    );
    let proof = run(&["prove", "inclusion", fx.l(), "0"]).expect(0).json();
    assert_eq!(proof["root"], receipts[4]["root"]);
    // A second file appends after the first.
    let file2 = fx.write("in2.jsonl", lines(&[entry(9)]));
    let r = run(&["append", fx.l(), s(&file2)]).expect(0).json_lines();
    check_receipt(&r[0], 5);
    assert_eq!(fx.size(), 6);
    // A missing input file is refused before anything is written; so are two files.
    run(&["append", fx.l(), s(&fx.path("missing.jsonl"))]).expect(2);
    run(&["append", fx.l(), s(&file), s(&file2)]).expect(2);
    assert_eq!(fx.size(), 6);
    // An empty input appends nothing and succeeds.
    let empty = fx.write("empty.jsonl", b"");
    assert_eq!(run(&["append", fx.l(), s(&empty)]).expect(0).out(), "");
    run(&["verify", fx.l()]).expect(0);
}

#[test]
fn append_from_stdin_dash_and_absent() {
    let fx = Fx::new(&[]);
    let r = run_in(&["append", fx.l(), "-"], &lines(&[entry(0), entry(1)]))
        .expect(0)
        .json_lines();
    assert_eq!(r.len(), 2);
    check_receipt(&r[1], 1);
    let r = run_in(&["append", fx.l()], &lines(&[entry(2)]))
        .expect(0)
        .json_lines();
    assert_eq!(r.len(), 1);
    check_receipt(&r[0], 2);
    // Without a trailing newline the last line still counts.
    let r = run_in(&["append", fx.l()], entry(3).as_bytes())
        .expect(0)
        .json_lines();
    check_receipt(&r[0], 3);
    assert_eq!(fx.show(2)["actor"]["id"], "user-2");
    assert_eq!(fx.size(), 4);
}

#[test]
fn append_batch_streams_and_flushes_each_receipt() {
    let fx = Fx::with_entries(1);
    let (mut child, mut stdin, rx) = spawn_piped(&["append", fx.l(), "-", "--batch", "1"]);
    for i in 0..6u64 {
        // Nothing more is written until the previous receipt came back: a child that
        // buffered its input or its output would stall here.
        writeln!(stdin, "{}", entry(100 + i)).unwrap();
        stdin.flush().unwrap();
        let line = rx.recv_timeout(LINE_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("no receipt for line {i} within {LINE_TIMEOUT:?}: append does not stream")
        });
        let r: Value = serde_json::from_str(&line).unwrap();
        check_receipt(&r, 1 + i);
        assert!(child.try_wait().unwrap().is_none(), "append exited early");
    }
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        rx.recv_timeout(LINE_TIMEOUT).is_err(),
        "no extra output after EOF"
    );
    assert_eq!(fx.size(), 7);
    assert_eq!(fx.show(6)["actor"]["id"], "user-105");

    // With --batch 3, receipts come as soon as each group of three lines arrived.
    let (mut child, mut stdin, rx) = spawn_piped(&["append", fx.l(), "--batch", "3"]);
    for i in 0..3u64 {
        writeln!(stdin, "{}", entry(200 + i)).unwrap();
        stdin.flush().unwrap();
    }
    for i in 0..3u64 {
        let line = rx
            .recv_timeout(LINE_TIMEOUT)
            .expect("receipt of a full batch");
        check_receipt(&serde_json::from_str(&line).unwrap(), 7 + i);
    }
    writeln!(stdin, "{}", entry(203)).unwrap();
    stdin.flush().unwrap();
    // The fourth line is pending in an unfilled batch: no receipt yet.
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "a partial batch was committed early"
    );
    drop(stdin); // EOF commits the rest.
    let line = rx
        .recv_timeout(LINE_TIMEOUT)
        .expect("receipt of the last partial batch");
    check_receipt(&serde_json::from_str(&line).unwrap(), 10);
    assert!(child.wait().unwrap().success());
    run(&["verify", fx.l()]).expect(0);
}

#[test]
fn append_batch_commits_earlier_batches_before_a_refused_line() {
    let fx = Fx::new(&[]);
    let mut entries: Vec<String> = (0..5).map(entry).collect();
    entries[3] =
        json!({"actor": {"id": "a"}, "action": "Bad", "subject": {"type": "s", "id": "1"}})
            .to_string();
    let r = run_in(&["append", fx.l(), "--batch", "2"], &lines(&entries))
        .expect(2)
        .stderr_has("action")
        .stderr_has("input line 4");
    // The first batch (lines 1-2) was committed and its receipts printed; lines 3-4 were not.
    let receipts = r.json_lines();
    assert_eq!(receipts.len(), 2);
    check_receipt(&receipts[1], 1);
    assert_eq!(fx.size(), 2);
    run(&["append", fx.l(), "--batch", "0"]).expect(2);
    assert_eq!(fx.size(), 2);
}

#[test]
fn append_from_flags_with_every_flag() {
    let fx = Fx::with_entries(2);
    let payload = fx.write(
        "payload.json",
        r#"{"specversion": "1.0", "type": "dev.cdevents.service.deployed", "n": [1, 2.5, null]}"#,
    );
    let args = [
        "append",
        fx.l(),
        "--actor",
        "bot@ci",
        "--action",
        "access.role_granted",
        "--subject",
        "service:payments-api:v2",
        "--role",
        "deployer",
        "--tenant",
        "acme",
        "--via",
        "alice@example.com",
        "--via",
        "ops-bot",
        "--decision",
        "break_glass",
        "--policy",
        "policy/prod-deploy",
        "--policy-version",
        "7",
        "--reason",
        "incident INC-1",
        "--id",
        "evt-0001",
        "--link",
        "approval=0",
        "--link",
        "ticket=1",
        "--ref",
        "commit=git:0123abcd",
        "--attr",
        "env=prod",
        "--attr",
        "region=eu=west",
        "--payload",
        s(&payload),
        "--occurred-at",
        "2026-01-02T03:04:05Z",
    ];
    let r = run(&args).expect(0).json_lines();
    assert_eq!(r.len(), 1);
    check_receipt(&r[0], 2);
    let stored = fx.show(2);
    let expected = json!({
        "v": 1,
        "id": "evt-0001",
        "time": r[0]["time"],
        "actor": {"id": "bot@ci", "role": "deployer", "tenant": "acme",
                  "via": ["alice@example.com", "ops-bot"]},
        "action": "access.role_granted",
        "subject": {"type": "service", "id": "payments-api:v2"},
        "authz": {"decision": "break_glass", "policy": "policy/prod-deploy",
                  "policy_version": "7", "reason": "incident INC-1"},
        "links": [{"rel": "approval", "index": 0}, {"rel": "ticket", "index": 1},
                  {"rel": "commit", "ref": "git:0123abcd"}],
        "attrs": {"env": "prod", "region": "eu=west"},
        "payload": {"specversion": "1.0", "type": "dev.cdevents.service.deployed",
                    "n": [1, 2.5, null]},
        "occurred_at": "2026-01-02T03:04:05Z",
    });
    assert_eq!(stored, expected);
    // Stored bytes are the canonical (sorted-key, no-space) JSON of the entry.
    let raw = fx.show_raw(2);
    assert!(
        String::from_utf8_lossy(&raw).starts_with(r#"{"action":"access.role_granted","actor":"#)
    );
    // The same id with the same flags is recorded once: the stored receipt comes back.
    let again = run(&args).expect(0).json_lines();
    assert_eq!(again, r);
    assert_eq!(fx.size(), 3);
    // The same id with other content is a conflict.
    let changed: Vec<&str> = args
        .iter()
        .map(|a| if *a == "env=prod" { "env=staging" } else { a })
        .collect();
    run(&changed)
        .expect(2)
        .stderr_has("evt-0001")
        .stderr_has("id_conflict");
    // The minimum: actor, action, subject.
    let r = run(&[
        "append",
        fx.l(),
        "--actor",
        "alice",
        "--action",
        "login",
        "--subject",
        "user:alice",
    ])
    .expect(0)
    .json_lines();
    check_receipt(&r[0], 3);
    assert_eq!(
        fx.show(3),
        json!({"v": 1, "time": r[0]["time"], "actor": {"id": "alice"}, "action": "login",
               "subject": {"type": "user", "id": "alice"}})
    );
    run(&["verify", fx.l()]).expect(0);
}

#[test]
fn append_from_flags_refuses_bad_flags_and_writes_nothing() {
    let fx = Fx::with_entries(1);
    let not_json = fx.write("bad.json", "{nope");
    let input = fx.write("in.jsonl", lines(&[entry(5)]));
    let base = ["append", fx.l(), "--actor", "a"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--subject", "s:1"], "--action"),
        (vec!["--action", "x"], "--subject"),
        (vec!["--action", "x", "--subject", "nocolon"], "--subject"),
        (vec!["--action", "x", "--subject", ":id"], "--subject"),
        (vec!["--action", "Not Valid", "--subject", "s:1"], "action"),
        (
            vec!["--action", "x", "--subject", "s:1", "--link", "rel=abc"],
            "--link",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", "--link", "rel=5"],
            "links[0].index",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", "--ref", "noequals"],
            "--ref",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", "--attr", "k"],
            "--attr",
        ),
        (
            vec![
                "--action",
                "x",
                "--subject",
                "s:1",
                "--payload",
                s(&not_json),
            ],
            "--payload",
        ),
        (
            vec![
                "--action",
                "x",
                "--subject",
                "s:1",
                "--payload",
                "/no/such/file.json",
            ],
            "file.json",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", "--decision", "allow"],
            "--policy",
        ),
        (
            vec![
                "--action",
                "x",
                "--subject",
                "s:1",
                "--decision",
                "maybe",
                "--policy",
                "p",
            ],
            "authz.decision",
        ),
        (
            vec![
                "--action",
                "x",
                "--subject",
                "s:1",
                "--decision",
                "override",
                "--policy",
                "p",
            ],
            "authz.reason",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", "--occurred-at", "noon"],
            "occurred_at",
        ),
        (
            vec!["--action", "x", "--subject", "s:1", s(&input)],
            "not both",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = base.to_vec();
        args.extend(extra);
        run(&args).expect(2).stderr_has(needle);
    }
    // Entry flags need --actor.
    run(&["append", fx.l(), "--action", "x", "--subject", "s:1"])
        .expect(2)
        .stderr_has("--actor");
    assert_eq!(fx.size(), 1);
}

// ---------------------------------------------------------------------------------------------
// refused input: one case per SPEC section 3 rule

enum Want {
    /// An entry rule: stderr names the field (prefixed `[pos].` inside a batch).
    Field(&'static str),
    /// Some other refusal: stderr mentions this text, alone and as the third line of a batch.
    Text(&'static str, &'static str),
}

#[rustfmt::skip]
fn refused_cases() -> Vec<(&'static str, String, Want)> {
    let base = || json!({"actor": {"id": "a"}, "action": "x.y", "subject": {"type": "s", "id": "1"}});
    let ok = |extra: Value| {
        let mut e = base();
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e.to_string()
    };
    let without = |field: &str, inner: Option<&str>| {
        let mut e = base();
        match inner {
            Some(i) => e[field].as_object_mut().unwrap().remove(i),
            None => e.as_object_mut().unwrap().remove(field),
        };
        e.to_string()
    };
    vec![
        ("unknown field", ok(json!({"severity": "high"})), Want::Field("severity")),
        ("unknown actor field", ok(json!({"actor": {"id": "a", "email": "a@x"}})), Want::Field("actor.email")),
        ("bad action", ok(json!({"action": "Deploy Succeeded"})), Want::Field("action")),
        ("missing action", without("action", None), Want::Field("action")),
        ("missing actor.id", without("actor", Some("id")), Want::Field("actor.id")),
        ("missing subject.type", without("subject", Some("type")), Want::Field("subject.type")),
        ("bad authz decision", ok(json!({"authz": {"decision": "maybe", "policy": "p"}})), Want::Field("authz.decision")),
        ("authz without policy", ok(json!({"authz": {"decision": "allow"}})), Want::Field("authz.policy")),
        ("break_glass without reason", ok(json!({"authz": {"decision": "break_glass", "policy": "p"}})), Want::Field("authz.reason")),
        ("override without reason", ok(json!({"authz": {"decision": "override", "policy": "p"}})), Want::Field("authz.reason")),
        ("link to a future index", ok(json!({"links": [{"rel": "after", "index": 1000}]})), Want::Field("links[0].index")),
        ("link with index and ref", ok(json!({"links": [{"rel": "r", "index": 0, "ref": "git:1"}]})), Want::Field("links[0]")),
        ("bad occurred_at", ok(json!({"occurred_at": "yesterday"})), Want::Field("occurred_at")),
        ("non-string attr", ok(json!({"attrs": {"build": 17}})), Want::Field("attrs.build")),
        ("oversized id", ok(json!({"id": "x".repeat(257)})), Want::Field("id")),
        ("empty id", ok(json!({"id": ""})), Want::Field("id")),
        ("caller-given time", ok(json!({"time": "2026-01-01T00:00:00.000000000Z"})), Want::Field("time")),
        ("wrong version", ok(json!({"v": 2})), Want::Field("v")),
        ("empty change", ok(json!({"change": {}})), Want::Field("change")),
        ("unsafe integer", ok(json!({"payload": {"n": 9007199254740993u64}})), Want::Field("payload.n")),
        ("oversized entry", ok(json!({"payload": "y".repeat(1 << 20)})), Want::Field("(entry)")),
        ("not an object", "[1, 2, 3]".to_owned(), Want::Field("(entry)")),
        ("JSON that does not parse", r#"{"actor": {"id": "a"}, "action": "x""#.to_owned(), Want::Text("input line 1", "input line 3")),
        ("id conflict", ok(json!({"id": "dup-1", "action": "other.action"})), Want::Text("dup-1", "dup-1")),
    ]
}

#[test]
fn refused_input_table_exits_2_names_the_field_and_writes_nothing() {
    let fx = Fx::new(&[]);
    // Two entries already there, one carrying the id the conflict case reuses.
    let first = json!({"id": "dup-1", "actor": {"id": "a"}, "action": "x.y",
                       "subject": {"type": "s", "id": "1"}})
    .to_string();
    fx.append(&[first.clone(), entry(1)]);
    let root_before = run(&["prove", "inclusion", fx.l(), "0"]).expect(0).json()["root"].clone();
    let check_unchanged = |name: &str| {
        assert_eq!(fx.size(), 2, "case {name:?} wrote something");
        let root = run(&["prove", "inclusion", fx.l(), "0"]).expect(0).json()["root"].clone();
        assert_eq!(root, root_before, "case {name:?} changed the tree");
    };
    for (name, bad, want) in refused_cases() {
        // Alone.
        let r = run_in(&["append", fx.l()], &lines(std::slice::from_ref(&bad)));
        assert_eq!(
            r.status, 2,
            "case {name:?} alone: exit {}, stderr {}",
            r.status, r.stderr
        );
        assert!(
            r.stdout.is_empty(),
            "case {name:?} printed a receipt: {}",
            r.out()
        );
        match &want {
            Want::Field(f) => assert!(
                r.stderr.contains(&format!("`{f}`")),
                "case {name:?}: stderr {}",
                r.stderr
            ),
            Want::Text(t, _) => assert!(r.stderr.contains(t), "case {name:?}: stderr {}", r.stderr),
        }
        check_unchanged(name);
        // As the third line of one batch after two good entries: nothing of the batch lands.
        let batch = lines(&[entry(10), entry(11), bad.clone(), entry(12)]);
        let r = run_in(&["append", fx.l(), "-"], &batch);
        assert_eq!(
            r.status, 2,
            "case {name:?} in a batch: exit {}, stderr {}",
            r.status, r.stderr
        );
        assert!(
            r.stdout.is_empty(),
            "case {name:?} in a batch printed receipts: {}",
            r.out()
        );
        match &want {
            Want::Field(f) => {
                assert!(
                    r.stderr.contains(&format!("`[2].{f}`")),
                    "case {name:?} in a batch: stderr {}",
                    r.stderr
                )
            }
            Want::Text(_, t) => assert!(
                r.stderr.contains(t),
                "case {name:?} in a batch: stderr {}",
                r.stderr
            ),
        }
        check_unchanged(name);
    }
    // An id conflict inside one batch is refused too.
    let a = json!({"id": "new-1", "actor": {"id": "a"}, "action": "x.y", "subject": {"type": "s", "id": "1"}});
    let mut b = a.clone();
    b["action"] = "x.z".into();
    run_in(
        &["append", fx.l()],
        &lines(&[a.to_string(), entry(3), b.to_string()]),
    )
    .expect(2)
    .stderr_has("new-1");
    check_unchanged("id conflict within a batch");
    // A replay of the stored id with equal content is not a conflict: its receipt comes back.
    let replay = run_in(&["append", fx.l()], &lines(&[first]))
        .expect(0)
        .json_lines();
    check_receipt(&replay[0], 0);
    check_unchanged("replay");
    run(&["verify", fx.l()]).expect(0);
}

// ---------------------------------------------------------------------------------------------
// show

#[test]
fn show_prints_the_entry_and_exact_leaf_bytes() {
    let fx = Fx::new(&[]);
    let e = json!({"actor": {"id": "zoë", "via": ["b"]}, "action": "a.b",
                   "subject": {"type": "t", "id": "i"}, "payload": {"z": 1, "a": "\u{1F600}", "m": 1.5e300}});
    let r = fx.append(&[e.to_string()]);
    let raw = fx.show_raw(0);
    assert_eq!(r[0]["leaf_hash"], hex(&HashAlg::Sha256.leaf_hash(&raw)));
    assert!(
        !raw.ends_with(b"\n"),
        "--raw adds nothing to the leaf bytes"
    );
    let shown = run(&["show", fx.l(), "0"]).expect(0);
    // Without --raw: the same bytes and one newline.
    let mut want = raw.clone();
    want.push(b'\n');
    assert_eq!(shown.stdout, want);
    let v = shown.json();
    assert_eq!(v["payload"], e["payload"]);
    assert_eq!(v["actor"], e["actor"]);
    // Out of range is refused input.
    run(&["show", fx.l(), "1"])
        .expect(2)
        .stderr_has("out_of_range");
    run(&["show", fx.l(), "18446744073709551615"]).expect(2);
    run(&["show", fx.l(), "-1"]).expect(2);
    run(&["show", fx.l(), "abc"]).expect(2);
}

// ---------------------------------------------------------------------------------------------
// checkpoint and verify

#[test]
fn checkpoint_and_verify_against_it_with_vkey_string_and_file() {
    let fx = Fx::with_entries(5);
    let note_path = fx.checkpoint("cp.txt", None);
    let note = std::fs::read_to_string(&note_path).unwrap();
    let mut body = note.lines();
    assert_eq!(body.next(), Some(ORIGIN));
    assert_eq!(body.next(), Some("5"));
    let verifier = trailseal::Verifier::from_key_string(&fx.vkey()).unwrap();
    let cp = trailseal::Checkpoint::verify(&note, &verifier)
        .expect("the note verifies with the library");
    assert_eq!(cp.size, 5);
    assert_eq!(
        hex(&cp.root),
        run(&["verify", fx.l()]).expect(0).json()["root"]
    );
    // As a string.
    let v = run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&note_path),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0)
    .json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["consistent_with_checkpoint"], 5);
    assert_eq!(v["checkpoints_checked"], 1);
    // As a file (with its trailing newline).
    let vk_file = fx.write("vkey.txt", format!("{}\n", fx.vkey()));
    run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&note_path),
        "--vkey",
        s(&vk_file),
    ])
    .expect(0);
    // A later ledger is still consistent with the old checkpoint.
    fx.append(&[entry(5), entry(6)]);
    let v = run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&note_path),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0)
    .json();
    assert_eq!(v["size"], 7);
    assert_eq!(v["consistent_with_checkpoint"], 5);
    // An earlier size; and a size beyond the ledger is refused.
    let old = fx.checkpoint("cp3.txt", Some(3));
    let old_note = std::fs::read_to_string(&old).unwrap();
    assert_eq!(old_note.lines().nth(1), Some("3"));
    let v = run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&old),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0)
    .json();
    assert_eq!(v["consistent_with_checkpoint"], 3);
    assert_eq!(v["checkpoints_checked"], 2);
    run(&["checkpoint", fx.l(), "--size", "8"])
        .expect(2)
        .stderr_has("out_of_range");
    // --checkpoint and --vkey go together.
    run(&["verify", fx.l(), "--checkpoint", s(&note_path)]).expect(2);
    run(&["verify", fx.l(), "--vkey", &fx.vkey()]).expect(2);
    // Another key is refused: the ledger recorded its signer's verifier key at init.
    let other = Fx::new(&[]);
    run(&["checkpoint", fx.l(), "--key", s(&other.key())])
        .expect(2)
        .stderr_has("is not this ledger's signer key");
    // A missing key file is refused input; so is a garbage one.
    run(&["checkpoint", fx.l(), "--key", s(&fx.path("none.key"))]).expect(2);
    let garbage = fx.write_private("garbage.key", "PRIVATE+KEY+nope\n");
    run(&["checkpoint", fx.l(), "--key", s(&garbage)])
        .expect(2)
        .stderr_has("malformed");
    run(&["verify", fx.l()]).expect(0);
}

#[test]
fn verify_indexes_also_checks_every_posting_against_its_entry() {
    // 70 entries: the query indexes cover all but a short unindexed tail (under 64).
    let fx = Fx::with_entries(70);
    // The library's report for the same ledger and options, key for key.
    let library = |opts: VerifyOptions<'_>| {
        let l = Ledger::open(&fx.ledger).unwrap();
        l.verify(&opts).unwrap().to_json()
    };
    let plain = run(&["verify", fx.l()]).expect(0).json();
    assert_eq!(plain["indexes_checked"], false);
    let postings = plain["postings_checked"].as_u64().unwrap();
    // Every entry files at least its actor, action and subject.
    assert!(postings >= 3 * 64, "{plain}");
    assert_eq!(plain, library(VerifyOptions::default()));
    let deep = run(&["verify", fx.l(), "--indexes"]).expect(0).json();
    assert_eq!(deep["indexes_checked"], true);
    assert!(
        deep["postings_checked"].as_u64().unwrap() >= 3 * 64,
        "{deep}"
    );
    assert_eq!(deep["size"], 70);
    assert_eq!(deep, library(VerifyOptions::default().indexes(true)));
    // With an outside checkpoint too.
    let note = fx.checkpoint("cp.txt", None);
    let both = run(&[
        "verify",
        fx.l(),
        "--indexes",
        "--checkpoint",
        s(&note),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0)
    .json();
    assert_eq!(both["indexes_checked"], true);
    assert_eq!(both["consistent_with_checkpoint"], 70);
    assert_eq!(both["postings_checked"], deep["postings_checked"]);
    run(&["verify", fx.l(), "--indexes=yes"]).expect(2);

    // A raw ledger has no query indexes: nothing to check against entries.
    let raw = Fx::new(&["--raw"]);
    let leaf = raw.write("leaf.bin", b"opaque");
    run(&["append", raw.l(), "--raw", s(&leaf)]).expect(0);
    let r = run(&["verify", raw.l(), "--indexes"]).expect(0).json();
    assert_eq!(r["indexes_checked"], false);
    assert_eq!(r["postings_checked"], 0);
}

#[test]
fn verify_reports_a_tampered_leaf_with_1_and_names_it() {
    // 70 entries: leaf 3 is under the first complete (stored) tile of 64 leaves.
    let fx = Fx::with_entries(70);
    run(&["verify", fx.l()]).expect(0);
    let mut doctored = fx.show(3);
    doctored["actor"]["id"] = "mallory".into();
    let bytes = serde_json::to_vec(&doctored).unwrap();
    trailseal::storage::tamper::edit(&fx.ledger, |t| t.set_leaf(3, &bytes)).unwrap();
    run(&["verify", fx.l()])
        .expect(1)
        .stderr_has("tampered")
        .stderr_has("leaf 3");
    // The tampered entry is still readable: `show` is not `verify`.
    assert_eq!(fx.show(3)["actor"]["id"], "mallory");
}

#[test]
fn verify_reports_a_tampered_node_and_checkpoint_with_1() {
    let fx = Fx::with_entries(70);
    trailseal::storage::tamper::edit(&fx.ledger, |t| {
        t.set_node(NodeId { level: 1, index: 1 }, [7u8; 32])
    })
    .unwrap();
    run(&["verify", fx.l()])
        .expect(1)
        .stderr_has("node level 1 index 1");

    let fx = Fx::with_entries(4);
    let note = fx.checkpoint("cp.txt", None);
    let text = std::fs::read_to_string(&note).unwrap();
    // Rewrite the stored checkpoint's size line: its signature no longer matches.
    let forged = text.replacen("\n4\n", "\n3\n", 1);
    trailseal::storage::tamper::edit(&fx.ledger, |t| t.set_checkpoint_note(0, &forged)).unwrap();
    run(&["verify", fx.l()])
        .expect(1)
        .stderr_has("checkpoint 0");
}

#[test]
fn verify_against_a_checkpoint_from_a_longer_log_exits_1() {
    let fx = Fx::with_entries(3);
    let rolled_back = fx.path("rolled-back.redb");
    std::fs::copy(&fx.ledger, &rolled_back).unwrap();
    fx.append(&[entry(3), entry(4)]);
    let note = fx.checkpoint("cp5.txt", None);
    run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&note),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0);
    // The copy taken at size 3 is a rollback of the log the checkpoint signed.
    run(&["verify", s(&rolled_back)]).expect(0);
    run(&[
        "verify",
        s(&rolled_back),
        "--checkpoint",
        s(&note),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(1)
    .stderr_has("inconsistent")
    .stderr_has("rolled back");
}

#[test]
fn verify_against_a_checkpoint_of_a_fork_exits_1() {
    // Same origin and key, same size, different entries: a fork.
    let fx = Fx::with_entries(3);
    let dir = tempfile::tempdir().unwrap();
    let fork = dir.path().join("fork.redb");
    run(&["init", s(&fork), "--origin", ORIGIN, "--key", s(&fx.key())]).expect(0);
    run_in(
        &["append", s(&fork)],
        &lines(&[entry(0), entry(1), entry(7)]),
    )
    .expect(0);
    let note = fx.checkpoint("cp.txt", None);
    run(&[
        "verify",
        s(&fork),
        "--checkpoint",
        s(&note),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(1)
    .stderr_has("forked");
    // A checkpoint of another origin is inconsistent too.
    let other = Fx::with_origin("other.example/log", &[]);
    run_in(
        &["append", other.l()],
        &lines(&[entry(0), entry(1), entry(2)]),
    )
    .expect(0);
    let other_note = other.checkpoint("o.txt", None);
    run(&[
        "verify",
        fx.l(),
        "--checkpoint",
        s(&other_note),
        "--vkey",
        &other.vkey(),
    ])
    .expect(1)
    .stderr_has("origin");
}

#[test]
fn malformed_keys_and_notes() {
    let fx = Fx::with_entries(3);
    let note_path = fx.checkpoint("cp.txt", None);
    let note = std::fs::read_to_string(&note_path).unwrap();
    let proof = fx.write(
        "inc.json",
        run(&["prove", "inclusion", fx.l(), "1"]).expect(0).out(),
    );
    let vkey = fx.vkey();
    let verify =
        |cp: &Path, vk: &str| run(&["verify", fx.l(), "--checkpoint", s(cp), "--vkey", vk]);
    let verify_proof = |cp: &Path, vk: &str| {
        run(&[
            "verify-proof",
            "--inclusion",
            s(&proof),
            "--checkpoint",
            s(cp),
            "--vkey",
            vk,
        ])
    };

    // --vkey garbage, as a string and as a file.
    let garbage_file = fx.write("garbage.vkey", "this is not a key\n");
    for vk in ["garbage", "a+b+c", &format!("{vkey}x"), s(&garbage_file)] {
        verify(&note_path, vk).expect(2).stderr_has("malformed");
        verify_proof(&note_path, vk)
            .expect(2)
            .stderr_has("malformed");
    }
    // The signer key is not a verifier key.
    verify(&note_path, s(&fx.key())).expect(2);
    // A verifier key file that does not exist is taken as a key string, which is garbage.
    verify(&note_path, s(&fx.path("missing.vkey"))).expect(2);

    // A truncated checkpoint file: every cut is refused as malformed, never accepted.
    for cut in [
        0,
        5,
        note.find('\n').unwrap() + 1,
        note.len() / 2,
        note.len() - 10,
        note.len() - 1,
    ] {
        let t = fx.write("truncated.txt", &note.as_bytes()[..cut]);
        let r = verify(&t, &vkey);
        assert_eq!(
            r.status, 2,
            "cut at {cut}: exit {}, stderr {}",
            r.status, r.stderr
        );
        let r = verify_proof(&t, &vkey);
        assert_eq!(
            r.status, 2,
            "cut at {cut}: exit {}, stderr {}",
            r.status, r.stderr
        );
    }
    let empty = fx.write("empty.txt", "");
    verify(&empty, &vkey).expect(2);
    // A missing checkpoint file.
    verify(&fx.path("nope.txt"), &vkey).expect(2);

    // The same checkpoint signed by another key (the command refuses to sign with one, so
    // the library does): the signature does not verify -> 1.
    let other = Fx::new(&[]); // same origin, another key
    let other_key =
        trailseal::Signer::from_key_string(&std::fs::read_to_string(other.key()).unwrap()).unwrap();
    let ours = trailseal::Verifier::from_key_string(&vkey).unwrap();
    let forged = trailseal::Checkpoint::verify(&note, &ours)
        .unwrap()
        .sign(&other_key)
        .unwrap();
    let forged_path = fx.write("forged.txt", forged);
    verify(&forged_path, &vkey)
        .expect(1)
        .stderr_has("verification failed");
    verify_proof(&forged_path, &vkey)
        .expect(1)
        .stderr_has("verification failed");
    // A note whose body was edited after signing -> 1.
    let edited = note.replacen(&format!("\n{}\n", 3), "\n2\n", 1);
    assert_ne!(edited, note);
    let edited_path = fx.write("edited.txt", edited);
    verify(&edited_path, &vkey).expect(1);
    verify_proof(&edited_path, &vkey).expect(1);
    // vkey of a missing key file.
    run(&["vkey", "--key", s(&fx.path("nokey"))]).expect(2);
    run(&["vkey"]).expect(2);
}

// ---------------------------------------------------------------------------------------------
// signer keys: where the commands that sign find theirs, and which they accept

/// A ledger of 3 entries whose signer key `init` wrote elsewhere than `LEDGER.key`.
fn key_elsewhere_fx() -> (Fx, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let key = secrets.join("signer.key");
    let ledger = dir.path().join("audit.redb");
    let r = run(&["init", s(&ledger), "--origin", ORIGIN, "--key", s(&key)]).expect(0);
    assert!(
        r.stderr.contains(KEY_ENV),
        "init says how to find the key: {}",
        r.stderr
    );
    let fx = Fx {
        dir,
        ledger,
        init: r.json(),
    };
    fx.append(&[entry(0), entry(1), entry(2)]);
    assert!(!fx.key().exists());
    (fx, key)
}

/// `gate --record` on a subject of `key_elsewhere_fx`, with `extra` flags (the signing ones).
fn gate_record<'a>(fx: &'a Fx, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "gate",
        fx.l(),
        "--subject",
        "service:svc-1",
        "--policy",
        GATE_POLICY,
        "--record",
    ];
    args.extend_from_slice(extra);
    args
}

/// How many checkpoints the ledger keeps, as `verify` counts them.
fn kept_checkpoints(fx: &Fx) -> u64 {
    run(&["verify", fx.l()]).expect(0).json()["checkpoints_checked"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_key_kept_elsewhere_answers_vkey_and_signs_through_the_env_or_key() {
    let (fx, key) = key_elsewhere_fx();
    // The ledger recorded the verifier key: no secret needed to print it.
    assert_eq!(run(&["vkey", fx.l()]).expect(0).out().trim(), fx.vkey());
    let verifier = trailseal::Verifier::from_key_string(&fx.vkey()).unwrap();
    let signed = |r: Run| {
        let note = r.expect(0).out();
        trailseal::Checkpoint::verify(&note, &verifier).expect("signed by the ledger's key")
    };
    let cp = signed(run_env(&["checkpoint", fx.l()], &[(KEY_ENV, s(&key))]));
    assert_eq!(cp.size, 3);
    signed(run(&["checkpoint", fx.l(), "--key", s(&key)]));
    // --key comes before the environment.
    let missing = fx.path("missing.key");
    signed(run_env(
        &["checkpoint", fx.l(), "--key", s(&key)],
        &[(KEY_ENV, s(&missing))],
    ));
    assert_eq!(kept_checkpoints(&fx), 3);
    // bundle and gate --record --sign find it the same way.
    let b = fx.path("b.json");
    run_env(
        &["bundle", fx.l(), "--subject", "service:svc-1", "-o", s(&b)],
        &[(KEY_ENV, s(&key))],
    )
    .expect(0);
    run(&["verify-bundle", s(&b), "--vkey", &fx.vkey()]).expect(0);
    // (The gate fails, exit 1, after its notes: `expect` wants a failure's message first.)
    let r = run_env(&gate_record(&fx, &["--sign"]), &[(KEY_ENV, s(&key))]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    r.stderr_has("recorded gate.failed at index 3")
        .stderr_has("signed a checkpoint at size 4");
    assert_eq!(kept_checkpoints(&fx), 5);
}

#[test]
fn no_signer_key_anywhere_exits_2_naming_where_it_looked_and_the_verifier_key() {
    let (fx, key) = key_elsewhere_fx();
    let default_key = fx.key();
    for args in [
        vec!["checkpoint", fx.l()],
        vec!["bundle", fx.l(), "--subject", "service:svc-1", "-o", "-"],
        gate_record(&fx, &["--sign"]),
    ] {
        run(&args)
            .expect(2)
            .stderr_has("no signer key at")
            .stderr_has(s(&default_key))
            .stderr_has("--key")
            .stderr_has(KEY_ENV)
            .stderr_has(&fx.vkey());
    }
    // A place given with no file there is not passed over: that would sign with another key
    // than the one asked for.
    let missing = fx.path("missing.key");
    run_env(&["checkpoint", fx.l()], &[(KEY_ENV, s(&missing))])
        .expect(2)
        .stderr_has(s(&missing))
        .stderr_has(KEY_ENV)
        .stderr_has(&fx.vkey());
    run(&["checkpoint", fx.l(), "--key", s(&missing)])
        .expect(2)
        .stderr_has("(--key)")
        .stderr_has(&fx.vkey());
    // Nothing was signed or recorded; the key still works.
    assert_eq!(kept_checkpoints(&fx), 0);
    assert_eq!(fx.size(), 3);
    run(&["checkpoint", fx.l(), "--key", s(&key)]).expect(0);
}

#[test]
fn a_key_not_the_ledgers_is_refused_with_2_and_nothing_signed() {
    let (fx, key) = key_elsewhere_fx();
    let other = Fx::new(&[]); // same origin, another key
    let wrong = other.key();
    let refused = |r: Run| {
        r.expect(2)
            .stderr_has("is not this ledger's signer key")
            .stderr_has(&other.vkey())
            .stderr_has(&fx.vkey())
            .stderr_has("invalid_argument");
    };
    refused(run(&["checkpoint", fx.l(), "--key", s(&wrong)]));
    refused(run_env(&["checkpoint", fx.l()], &[(KEY_ENV, s(&wrong))]));
    // A wrong LEDGER.key too.
    std::fs::copy(&wrong, fx.key()).unwrap();
    refused(run(&["checkpoint", fx.l()]));
    refused(run(&[
        "bundle",
        fx.l(),
        "--subject",
        "service:svc-1",
        "-o",
        s(&fx.path("b.json")),
    ]));
    assert!(!fx.path("b.json").exists());
    // gate checks the key before it records its verdict.
    refused(run(&gate_record(&fx, &["--key", s(&wrong)])));
    assert_eq!(fx.size(), 3, "nothing recorded");
    assert_eq!(kept_checkpoints(&fx), 0, "nothing signed");
    // --key still comes first.
    run(&["checkpoint", fx.l(), "--key", s(&key)]).expect(0);
}

#[test]
fn ledger_key_is_still_the_default_and_vkey_reads_no_secret() {
    let fx = Fx::with_entries(2);
    run(&["checkpoint", fx.l()]).expect(0);
    // TRAILSEAL_KEY_FILE comes before LEDGER.key.
    let moved = fx.path("moved.key");
    std::fs::rename(fx.key(), &moved).unwrap();
    run(&["checkpoint", fx.l()]).expect(2);
    run_env(&["checkpoint", fx.l()], &[(KEY_ENV, s(&moved))]).expect(0);
    assert_eq!(run(&["vkey", fx.l()]).expect(0).out().trim(), fx.vkey());
    assert_eq!(kept_checkpoints(&fx), 2);
}

#[test]
fn a_ledger_created_without_a_verifier_key_falls_back_to_ledger_key() {
    // As every ledger made before ledgers recorded their verifier key.
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("old.redb");
    Ledger::create(&ledger, &trailseal::CreateOptions::new(ORIGIN)).unwrap();
    assert_eq!(
        Ledger::open(&ledger).unwrap().verifier_key(),
        None,
        "the fixture records no verifier key"
    );
    let l = s(&ledger);
    run(&["vkey", l])
        .expect(2)
        .stderr_has("records no verifier key")
        .stderr_has(&format!("{l}.key"));
    run(&["checkpoint", l])
        .expect(2)
        .stderr_has("its signer key");
    let signer = trailseal::Signer::generate(ORIGIN).unwrap();
    let key = dir.path().join("old.redb.key");
    std::fs::write(&key, signer.to_key_string().unwrap()).unwrap();
    set_mode(&key, 0o600);
    let vkey = signer.verifier().to_key_string();
    assert_eq!(run(&["vkey", l]).expect(0).out().trim(), vkey);
    let note = run(&["checkpoint", l]).expect(0).out();
    trailseal::Checkpoint::verify(&note, &signer.verifier()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// prove and verify-proof

#[test]
fn prove_inclusion_and_verify_proof_with_leaf_and_checkpoint() {
    let fx = Fx::with_entries(7);
    let note = fx.checkpoint("cp.txt", None);
    let vk_file = fx.write("vkey.txt", fx.vkey());
    for index in 0..7u64 {
        let proof = run(&["prove", "inclusion", fx.l(), &index.to_string()]).expect(0);
        let p = proof.json();
        assert_eq!(p["index"], index);
        assert_eq!(p["tree_size"], 7);
        assert_eq!(p["hash"], "sha256");
        let proof_path = fx.write("inc.json", &proof.stdout);
        let leaf = fx.write("leaf.bin", fx.show_raw(index));
        let v = run(&["verify-proof", "--inclusion", s(&proof_path)])
            .expect(0)
            .json();
        assert_eq!(v["ok"], true);
        assert_eq!(v["leaf_checked"], false);
        let v = run(&[
            "verify-proof",
            "--inclusion",
            s(&proof_path),
            "--leaf",
            s(&leaf),
        ])
        .expect(0)
        .json();
        assert_eq!(v["leaf_checked"], true);
        assert_eq!(v["index"], index);
        let v = run(&[
            "verify-proof",
            "--inclusion",
            s(&proof_path),
            "--leaf",
            s(&leaf),
            "--checkpoint",
            s(&note),
            "--vkey",
            &fx.vkey(),
        ])
        .expect(0)
        .json();
        assert_eq!(v["checkpoint_size"], 7);
        run(&[
            "verify-proof",
            "--inclusion",
            s(&proof_path),
            "--checkpoint",
            s(&note),
            "--vkey",
            s(&vk_file),
        ])
        .expect(0);
        // Another entry's bytes are not this leaf.
        let wrong = fx.write("wrong.bin", fx.show_raw((index + 1) % 7));
        run(&[
            "verify-proof",
            "--inclusion",
            s(&proof_path),
            "--leaf",
            s(&wrong),
        ])
        .expect(1);
    }
    // A proof in an earlier tree verifies alone but not against a checkpoint of another size.
    let proof = run(&["prove", "inclusion", fx.l(), "2", "--size", "4"]).expect(0);
    assert_eq!(proof.json()["tree_size"], 4);
    let proof_path = fx.write("inc4.json", &proof.stdout);
    run(&["verify-proof", "--inclusion", s(&proof_path)]).expect(0);
    run(&[
        "verify-proof",
        "--inclusion",
        s(&proof_path),
        "--checkpoint",
        s(&note),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(1)
    .stderr_has("checkpoint");
    let note4 = fx.checkpoint("cp4.txt", Some(4));
    run(&[
        "verify-proof",
        "--inclusion",
        s(&proof_path),
        "--checkpoint",
        s(&note4),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0);
    // Out of range.
    run(&["prove", "inclusion", fx.l(), "7"])
        .expect(2)
        .stderr_has("out_of_range");
    run(&["prove", "inclusion", fx.l(), "4", "--size", "4"]).expect(2);
    run(&["prove", "inclusion", fx.l(), "0", "--size", "8"]).expect(2);
    // --leaf needs --inclusion; one of --inclusion / --consistency is required.
    run(&[
        "verify-proof",
        "--leaf",
        s(&proof_path),
        "--consistency",
        s(&proof_path),
    ])
    .expect(2);
    run(&["verify-proof"]).expect(2);
    run(&[
        "verify-proof",
        "--inclusion",
        s(&proof_path),
        "--consistency",
        s(&proof_path),
    ])
    .expect(2);
    run(&["verify-proof", "--inclusion", s(&fx.path("missing.json"))]).expect(2);
    run(&[
        "verify-proof",
        "--inclusion",
        s(&proof_path),
        "--leaf",
        s(&fx.path("missing.bin")),
    ])
    .expect(2);
}

#[test]
fn prove_consistency_and_verify_proof() {
    let fx = Fx::with_entries(4);
    let note4 = fx.checkpoint("cp4.txt", None);
    fx.append(&(4..11).map(entry).collect::<Vec<_>>());
    let note11 = fx.checkpoint("cp11.txt", None);
    for old in 0..=11u64 {
        let proof = run(&["prove", "consistency", fx.l(), &old.to_string()]).expect(0);
        let p = proof.json();
        assert_eq!(
            (p["old_size"].as_u64(), p["new_size"].as_u64()),
            (Some(old), Some(11))
        );
        let path = fx.write("cons.json", &proof.stdout);
        let v = run(&["verify-proof", "--consistency", s(&path)])
            .expect(0)
            .json();
        assert_eq!(v, json!({"old_size": old, "new_size": 11, "ok": true}));
        run(&[
            "verify-proof",
            "--consistency",
            s(&path),
            "--checkpoint",
            s(&note11),
            "--vkey",
            &fx.vkey(),
        ])
        .expect(0);
    }
    // The checkpoint may sit at the old end of the proof.
    let proof = run(&["prove", "consistency", fx.l(), "4"]).expect(0);
    let path = fx.write("cons4.json", &proof.stdout);
    run(&[
        "verify-proof",
        "--consistency",
        s(&path),
        "--checkpoint",
        s(&note4),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(0);
    // With --size.
    let proof = run(&["prove", "consistency", fx.l(), "2", "--size", "6"]).expect(0);
    assert_eq!(proof.json()["new_size"], 6);
    let path6 = fx.write("cons6.json", &proof.stdout);
    run(&["verify-proof", "--consistency", s(&path6)]).expect(0);
    // Neither end is the checkpoint's tree.
    run(&[
        "verify-proof",
        "--consistency",
        s(&path6),
        "--checkpoint",
        s(&note4),
        "--vkey",
        &fx.vkey(),
    ])
    .expect(1);
    // Out of range.
    run(&["prove", "consistency", fx.l(), "12"])
        .expect(2)
        .stderr_has("out_of_range");
    run(&["prove", "consistency", fx.l(), "5", "--size", "4"]).expect(2);
    run(&["prove", "consistency", fx.l(), "0", "--size", "12"]).expect(2);
}

#[test]
fn verify_proof_rejects_a_doctored_proof_with_1() {
    let fx = Fx::with_entries(9);
    let inc = run(&["prove", "inclusion", fx.l(), "5"]).expect(0).json();
    let cons = run(&["prove", "consistency", fx.l(), "3"]).expect(0).json();
    let leaf = fx.write("leaf.bin", fx.show_raw(5));
    let mut doctored: Vec<(&str, &str, Value)> = Vec::new();
    for field in ["root", "leaf_hash"] {
        let mut p = inc.clone();
        p[field] = flip_hex(p[field].as_str().unwrap()).into();
        doctored.push(("inclusion", field, p));
    }
    let mut p = inc.clone();
    p["path"][0] = flip_hex(p["path"][0].as_str().unwrap()).into();
    doctored.push(("inclusion", "path[0]", p));
    let mut p = inc.clone();
    p["index"] = 4.into();
    doctored.push(("inclusion", "index", p));
    let mut p = inc.clone();
    let mut path = p["path"].as_array().unwrap().clone();
    path.swap(0, 1);
    p["path"] = path.into();
    doctored.push(("inclusion", "path order", p));
    for field in ["old_root", "new_root"] {
        let mut p = cons.clone();
        p[field] = flip_hex(p[field].as_str().unwrap()).into();
        doctored.push(("consistency", field, p));
    }
    let mut p = cons.clone();
    p["path"][0] = flip_hex(p["path"][0].as_str().unwrap()).into();
    doctored.push(("consistency", "path[0]", p));
    // The other hash than the ledger's (sha256 by default).
    let mut p = cons.clone();
    p["hash"] = "blake3".into();
    doctored.push(("consistency", "hash", p));
    for (kind, what, p) in doctored {
        let path = fx.write("doctored.json", p.to_string());
        let flag = format!("--{kind}");
        let r = run(&["verify-proof", &flag, s(&path)]);
        assert_eq!(
            r.status, 1,
            "{kind} proof with doctored {what}: exit {}, stderr {}",
            r.status, r.stderr
        );
        assert!(r.stdout.is_empty());
        if kind == "inclusion" {
            let r = run(&["verify-proof", &flag, s(&path), "--leaf", s(&leaf)]);
            assert_eq!(
                r.status, 1,
                "{what} with --leaf: exit {}, stderr {}",
                r.status, r.stderr
            );
        }
    }
    // Impossible indexes and sizes are errors (1 or 2), never a panic and never success.
    // (Paths of the wrong length: `verify_proof_paths_of_the_wrong_length_fail_with_1`.)
    let mut odd = Vec::new();
    let mut p = inc.clone();
    p["index"] = 9.into();
    odd.push(("inclusion", p));
    let mut p = inc.clone();
    p["tree_size"] = 0.into();
    odd.push(("inclusion", p));
    let mut p = cons.clone();
    p["old_size"] = 10.into();
    odd.push(("consistency", p));
    let mut p = cons.clone();
    p["path"] = json!([]);
    odd.push(("consistency", p));
    for (kind, p) in odd {
        let path = fx.write("odd.json", p.to_string());
        let r = run(&["verify-proof", &format!("--{kind}"), s(&path)]);
        assert!(
            matches!(r.status, 1 | 2),
            "{kind} {p}: exit {}, stderr {}",
            r.status,
            r.stderr
        );
    }
}

#[test]
fn verify_proof_paths_of_the_wrong_length_fail_with_1() {
    // A well-formed proof whose path does not fit its sizes parses; it just does not verify
    // (as Go's tlog.CheckRecord and CheckTree): 1, verification_failed, with or without an
    // outside checkpoint. Only text that does not parse is malformed (2).
    let fx = Fx::with_entries(9);
    let note = fx.checkpoint("cp.txt", None);
    let inc = run(&["prove", "inclusion", fx.l(), "5"]).expect(0).json();
    let cons = run(&["prove", "consistency", fx.l(), "3"]).expect(0).json();
    let mut cases: Vec<(&str, &str, Value)> = Vec::new();
    let mut p = inc.clone();
    p["path"].as_array_mut().unwrap().pop();
    cases.push(("inclusion", "path one hash short", p));
    let mut p = inc.clone();
    p["path"].as_array_mut().unwrap().push(inc["root"].clone());
    cases.push(("inclusion", "path one hash long", p));
    for old in [2, 4] {
        let mut p = cons.clone();
        p["old_size"] = old.into();
        cases.push(("consistency", "old_size off by one", p));
    }
    let vkey = fx.vkey();
    for (kind, what, p) in cases {
        let path = fx.write("wrong.json", p.to_string());
        let flag = format!("--{kind}");
        for outside in [false, true] {
            let mut args = vec!["verify-proof", &flag, s(&path)];
            if outside {
                args.extend_from_slice(&["--checkpoint", s(&note), "--vkey", &vkey]);
            }
            let r = run(&args);
            assert_eq!(
                (r.status, r.stdout.is_empty()),
                (1, true),
                "{kind} proof, {what} (outside checkpoint: {outside}): stderr {}",
                r.stderr
            );
            assert!(r.stderr.contains("[verification_failed]"), "{}", r.stderr);
        }
    }
    // The same proofs cut short no longer parse: malformed, 2.
    for (kind, p) in [("--inclusion", &inc), ("--consistency", &cons)] {
        let text = p.to_string();
        let path = fx.write("cut.json", &text[..text.len() - 1]);
        run(&["verify-proof", kind, s(&path)])
            .expect(2)
            .stderr_has("[malformed]");
    }
}

#[test]
fn verify_proof_rejects_malformed_json_with_2() {
    let fx = Fx::with_entries(4);
    let inc = run(&["prove", "inclusion", fx.l(), "1"]).expect(0).json();
    let cons = run(&["prove", "consistency", fx.l(), "2"]).expect(0).json();
    let text = inc.to_string();
    let mut cases: Vec<(&str, String)> = vec![
        ("inclusion", "".into()),
        ("inclusion", "not json".into()),
        ("inclusion", text[..text.len() / 2].to_owned()),
        ("inclusion", "[]".into()),
        ("inclusion", r#"{"hash": "blake3"}"#.into()),
        ("consistency", "{".into()),
        ("consistency", inc.to_string()), // an inclusion proof is not a consistency proof
    ];
    let mut p = inc.clone();
    p["root"] = "zz".into();
    cases.push(("inclusion", p.to_string()));
    let mut p = inc.clone();
    p["leaf_hash"] = "abcd".into();
    cases.push(("inclusion", p.to_string()));
    let mut p = inc.clone();
    p["hash"] = "md5".into();
    cases.push(("inclusion", p.to_string()));
    let mut p = inc.clone();
    p["index"] = "one".into();
    cases.push(("inclusion", p.to_string()));
    let mut p = cons.clone();
    p["path"] = json!(["nothex"]);
    cases.push(("consistency", p.to_string()));
    let mut p = cons.clone();
    p["new_size"] = json!(-1);
    cases.push(("consistency", p.to_string()));
    for (kind, text) in cases {
        let path = fx.write("bad.json", &text);
        let r = run(&["verify-proof", &format!("--{kind}"), s(&path)]);
        assert_eq!(
            r.status, 2,
            "{kind} {text:?}: exit {}, stderr {}",
            r.status, r.stderr
        );
        assert!(
            r.stderr.contains("malformed"),
            "{kind} {text:?}: stderr {}",
            r.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// missing ledgers, bad usage, locks

#[test]
fn a_missing_ledger_exits_3() {
    // NotFound is not "refused input" in the library's classification, so it maps to 3.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.redb");
    let m = s(&missing);
    let cp = dir.path().join("cp.txt");
    std::fs::write(&cp, "x").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["show", m, "0"],
        vec!["append", m],
        vec![
            "append",
            m,
            "--actor",
            "a",
            "--action",
            "x",
            "--subject",
            "s:1",
        ],
        vec!["checkpoint", m],
        vec!["prove", "inclusion", m, "0"],
        vec!["prove", "consistency", m, "0"],
        vec!["verify", m],
        vec!["verify", m, "--checkpoint", s(&cp), "--vkey", "k"],
    ];
    for args in cases {
        run_in(&args, lines(&[entry(0)]).as_slice())
            .expect(3)
            .stderr_has("does not exist")
            .stderr_has("not_found");
    }
    assert!(!missing.exists(), "nothing creates a missing ledger");
    // A file that is not a ledger is a storage problem too.
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, vec![0x5au8; 8192]).unwrap();
    run(&["verify", s(&junk)])
        .expect(3)
        .stderr_has("not a trailseal ledger");
    let empty = dir.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    run(&["show", s(&empty), "0"]).expect(3);
}

#[test]
fn bad_usage_exits_2() {
    let fx = Fx::with_entries(1);
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["show", fx.l()],
        vec!["show", fx.l(), "0", "--bogus"],
        vec!["prove", fx.l(), "0"],
        vec!["prove", "inclusion", fx.l()],
        vec!["--wait", "soon", "show", fx.l(), "0"],
        vec!["--wait=-1", "show", fx.l(), "0"],
        vec!["append", fx.l(), "--batch", "many"],
    ] {
        let r = run(&args);
        assert_eq!(
            r.status, 2,
            "{args:?}: exit {}, stderr {}",
            r.status, r.stderr
        );
    }
    run(&["--help"]).expect(0);
    run(&["--version"]).expect(0);
    assert_eq!(fx.size(), 1);
}

#[test]
fn a_held_ledger_is_locked_at_once_and_wait_waits_for_it() {
    // Exclusive sharing: the holder keeps every other process out, readers included.
    let fx = Fx::with_entries(1);
    // A long-lived writer: it holds the ledger open as long as its stdin is open.
    let (mut holder, mut stdin, rx) = spawn_piped(&[
        "--share",
        "exclusive",
        "--wait",
        "10",
        "append",
        fx.l(),
        "-",
    ]);
    writeln!(stdin, "{}", entry(1)).unwrap();
    stdin.flush().unwrap();
    // Without --batch the receipt only comes at EOF; so prove the ledger is open by waiting
    // until a second opener is refused. (The holder itself runs with --wait so that one of
    // these probes, holding the ledger for an instant, cannot make it fail to start.)
    let start = Instant::now();
    let locked = loop {
        let r = run(&["--share", "exclusive", "show", fx.l(), "0"]);
        if r.status != 0 {
            break r;
        }
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the holder exited early"
        );
        assert!(
            start.elapsed() < LINE_TIMEOUT,
            "the holder never opened the ledger"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    locked.expect(3).stderr_has("locked");
    // A refusal is immediate.
    let t = Instant::now();
    run(&["--share", "exclusive", "prove", "inclusion", fx.l(), "0"])
        .expect(3)
        .stderr_has("locked");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "refusing took {:?}",
        t.elapsed()
    );
    run(&["--share", "exclusive", "verify", fx.l()])
        .expect(3)
        .stderr_has("locked");
    // vkey reads the verifier key the ledger recorded, so it opens the ledger too.
    run(&["--share", "exclusive", "vkey", fx.l()])
        .expect(3)
        .stderr_has("locked");
    run_in(
        &["--share", "exclusive", "append", fx.l()],
        &lines(&[entry(9)]),
    )
    .expect(3)
    .stderr_has("locked");
    // --wait: the second reader waits until the holder lets go.
    let waiter = command(&["--share", "exclusive", "--wait", "10", "show", fx.l(), "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut waiter = waiter;
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "--wait gave up while the ledger was held"
    );
    let released = Instant::now();
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    let receipt: Value = serde_json::from_str(&rx.recv_timeout(LINE_TIMEOUT).unwrap()).unwrap();
    check_receipt(&receipt, 1);
    let out = waiter.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "--wait 10 show failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        released.elapsed() < Duration::from_secs(9),
        "--wait took {:?}",
        released.elapsed()
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["actor"]["id"], "user-1");
    // --wait also works after the subcommand, and a short --wait on a held ledger gives up.
    let (mut holder, stdin, _rx) = spawn_piped(&[
        "--share",
        "exclusive",
        "--wait",
        "10",
        "append",
        fx.l(),
        "-",
    ]);
    let start = Instant::now();
    loop {
        if run(&["--share", "exclusive", "show", fx.l(), "0"]).status == 3 {
            break;
        }
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the holder exited early"
        );
        assert!(
            start.elapsed() < LINE_TIMEOUT,
            "the holder never opened the ledger"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    run(&["show", fx.l(), "0", "--wait", "0.3", "--share", "exclusive"])
        .expect(3)
        .stderr_has("locked");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "gave up after {:?}",
        t.elapsed()
    );
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    run(&["show", fx.l(), "0", "--wait", "0.3", "--share", "exclusive"]).expect(0);
    assert_eq!(fx.size(), 2);
}

#[test]
fn beside_a_streaming_appender_every_reader_and_another_writer_works() {
    // The issue's scenario with the default sharing: a service holds the ledger open and
    // appends; an auditor reads, and a deploy script records, beside it.
    let fx = Fx::with_entries(2);
    let (mut holder, mut stdin, rx) = spawn_piped(&["append", fx.l(), "-", "--batch", "1"]);
    writeln!(stdin, "{}", entry(2)).unwrap();
    stdin.flush().unwrap();
    let first: Value = serde_json::from_str(&rx.recv_timeout(LINE_TIMEOUT).unwrap()).unwrap();
    check_receipt(&first, 2);
    // The holder has the file alone (the default, auto) until the first reader asks; then it
    // reopens it shared, which is the holder writing, not the reader. From then on no read
    // may change a byte.
    run(&["show", fx.l(), "0"]).expect(0);
    let before = std::fs::read(&fx.ledger).unwrap();
    for args in [
        vec!["show", fx.l(), "0"],
        vec!["prove", "inclusion", fx.l(), "1"],
        vec!["prove", "consistency", fx.l(), "1"],
        vec!["verify", fx.l()],
        vec!["verify", fx.l(), "--indexes"],
        vec!["query", fx.l(), "--actor", "user-1"],
        vec!["trace", fx.l(), "1"],
        vec!["why", fx.l(), "1"],
        vec!["report", fx.l()],
        vec!["vkey", fx.l()],
    ] {
        run(&args).expect(0);
    }
    assert!(
        std::fs::read(&fx.ledger).unwrap() == before,
        "a read-only command changed the file"
    );
    // Another process appends beside the holder, and the holder follows it.
    let other = run_in(&["append", fx.l()], &lines(&[entry(3)])).expect(0);
    let theirs: Value = serde_json::from_slice(&other.stdout).unwrap();
    check_receipt(&theirs, 3);
    writeln!(stdin, "{}", entry(4)).unwrap();
    stdin.flush().unwrap();
    let next: Value = serde_json::from_str(&rx.recv_timeout(LINE_TIMEOUT).unwrap()).unwrap();
    check_receipt(&next, 4);
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    run(&["verify", fx.l()]).expect(0);
    assert_eq!(fx.size(), 5);
}

#[test]

fn append_refuses_input_that_is_not_utf8_with_2() {
    let fx = Fx::with_entries(1);
    let mut input = lines(&[entry(1)]);
    input.extend_from_slice(b"{\"actor\": {\"id\": \"\xff\"}, \"action\": \"x\", \"subject\": {\"type\": \"s\", \"id\": \"1\"}}\n");
    let r = run_in(&["append", fx.l()], &input);
    assert!(r.stdout.is_empty());
    assert_eq!(fx.size(), 1, "nothing of the batch is written");
    r.expect(2).stderr_has("line 2");
}

#[cfg(target_os = "linux")]
#[test]

fn an_unwritable_stdout_exits_3_not_a_panic() {
    let fx = Fx::with_entries(2);
    let proof = fx.write(
        "inc.json",
        run(&["prove", "inclusion", fx.l(), "0"]).expect(0).out(),
    );
    let other = fx.path("other.redb");
    let cases: Vec<Vec<&str>> = vec![
        vec!["show", fx.l(), "0"],
        vec!["vkey", fx.l()],
        vec!["prove", "inclusion", fx.l(), "0"],
        vec!["prove", "consistency", fx.l(), "1"],
        vec!["verify", fx.l()],
        vec!["verify-proof", "--inclusion", s(&proof)],
        vec!["checkpoint", fx.l()],
        vec!["init", s(&other), "--origin", ORIGIN],
    ];
    let mut wrong = Vec::new();
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = command(&args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit 3 with a plain I/O message; a caught panic reported as "corrupt ledger" is
        // not the answer either.
        if code != 3 || stderr.contains("panicked") || !stderr.contains("stdout") {
            wrong.push(format!("{args:?}: exit {code}: {}", stderr.trim()));
        }
    }
    assert!(
        wrong.is_empty(),
        "stdout full (ENOSPC) should exit 3 naming stdout, without a panic:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn duplicate_keys_are_refused_not_silently_merged() {
    let fx = Fx::new(&[]);
    let line = r#"{"actor":{"id":"alice"},"actor":{"id":"mallory"},"action":"a.b","subject":{"type":"s","id":"1"}}"#;
    run_in(&["append", fx.l()], format!("{line}\n").as_bytes())
        .expect(2)
        .stderr_has("duplicate key")
        .stderr_has("input line 1");
    assert_eq!(fx.size(), 0);
}

#[test]
fn query_trace_and_why_from_the_shell() {
    let fx = Fx::new(&[]);
    let lines = [
        r#"{"id":"git:abc","actor":{"id":"alice"},"action":"commit.pushed","subject":{"type":"commit","id":"abc"}}"#,
        r#"{"actor":{"id":"ci","via":["alice"]},"action":"build.succeeded","subject":{"type":"artifact","id":"api:1"},"links":[{"rel":"built_from","ref":"git:abc"}]}"#,
        r#"{"actor":{"id":"bob"},"action":"approval.granted","subject":{"type":"release","id":"r1"},"links":[{"rel":"evidence","index":1}],"authz":{"decision":"allow","policy":"two-person"}}"#,
        r#"{"actor":{"id":"bot"},"action":"deploy.succeeded","subject":{"type":"service","id":"api"},"links":[{"rel":"approved_by","index":2}],"authz":{"decision":"break_glass","policy":"freeze","reason":"INC-1"},"attrs":{"env":"prod"}}"#,
    ];
    run_in(
        &["append", fx.l()],
        format!("{}\n", lines.join("\n")).as_bytes(),
    )
    .expect(0);
    let out = run(&["query", fx.l(), "--decision", "break_glass", "--json"]).expect(0);
    let found = out.json_lines();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["index"], 3);
    assert_eq!(found[0]["entry"]["attrs"]["env"], "prod");
    let out = run(&["query", fx.l(), "--oldest", "--limit", "2", "--json"]).expect(0);
    assert_eq!(out.json_lines().len(), 2);
    out.stderr_has("--cursor 1");
    let out = run(&["query", fx.l(), "--oldest", "--cursor", "1", "--json"]).expect(0);
    let idx: Vec<u64> = out
        .json_lines()
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![2, 3]);
    run(&["query", fx.l(), "--subject", "nocolon"]).expect(2);
    let out = run(&["trace", fx.l(), "3", "--json"]).expect(0);
    let t: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    let nodes: Vec<u64> = t["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["index"].as_u64().unwrap())
        .collect();
    assert_eq!(nodes, vec![0, 1, 2, 3]);
    let out = run(&["trace", fx.l(), "3"]).expect(0);
    assert!(
        out.out().contains("└── #2 approval.granted"),
        "{}",
        out.out()
    );
    assert!(out.out().contains("#0 commit.pushed"), "{}", out.out());
    let out = run(&["trace", fx.l(), "0", "--forward", "--json"]).expect(0);
    let t: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(t["nodes"].as_array().unwrap().len(), 4);
    let out = run(&["why", fx.l(), "3", "--json"]).expect(0);
    let w: serde_json::Value = serde_json::from_str(out.out().trim()).unwrap();
    assert_eq!(w["authz"]["decision"], "break_glass");
    assert!(w["policy"].is_null());
    run(&["why", fx.l(), "9"]).expect(2);
}

// ---------------------------------------------------------------------------------------------
// gate, bundle, verify-bundle, report: the example history of examples/history.sh

const HISTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/history.sh");
const GATE_POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/release-gate.json");

/// A SHA-256 ledger holding the example history, recorded by the script through the command.
fn history_fx() -> Fx {
    let fx = Fx::new(&["--hash", "sha256"]);
    let out = Command::new("bash")
        .args([HISTORY, BIN, fx.l()])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "history.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fx.size(), 27);
    fx
}

#[test]
fn history_script_needs_an_empty_ledger() {
    let fx = Fx::with_entries(1);
    let out = Command::new("bash")
        .args([HISTORY, BIN, fx.l()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an empty ledger"));
    assert_eq!(fx.size(), 1);
}

#[test]
fn gate_passes_with_0_fails_with_1_and_records_its_verdict() {
    let fx = history_fx();
    let out = run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:2026.11.3",
        "--policy",
        GATE_POLICY,
    ])
    .expect(0);
    assert!(
        out.out().starts_with("release:2026.11.3: PASSED"),
        "{}",
        out.out()
    );
    assert!(out.out().contains("#15 dave: role developer not allowed"));
    let out = run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:2026.11.4",
        "--policy",
        GATE_POLICY,
        "--json",
    ])
    .expect(1)
    .stderr_has("did not pass the gate: min_approvals, forbid_self_approval, scan.passed");
    assert_eq!(
        out.json(),
        json!({"passed": false, "requirements": [
            {"name": "min_approvals", "met": false, "evidence": [26]},
            {"name": "forbid_self_approval", "met": false, "evidence": [20, 21, 24, 25]},
            {"name": "test.passed", "met": true, "evidence": [23]},
            {"name": "scan.passed", "met": false, "evidence": []},
        ]})
    );
    // --record appends the verdict (and with --key seals it in a checkpoint)
    let key = fx.key();
    run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:2026.11.2",
        "--policy",
        GATE_POLICY,
        "--record",
        "--actor",
        "gate-bot",
        "--key",
        s(&key),
    ])
    .expect(0)
    .stderr_has("recorded gate.passed at index 27")
    .stderr_has("signed a checkpoint at size 28");
    let e = fx.show(27);
    assert_eq!(e["action"], "gate.passed");
    assert_eq!(e["actor"]["id"], "gate-bot");
    assert!(e["attrs"]["policy_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    run(&["verify", fx.l()]).expect(0);
    // refused input
    let bad = fx.write("bad-policy.json", r#"{"min_approval": 2}"#);
    run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:2026.11.2",
        "--policy",
        s(&bad),
    ])
    .expect(2)
    .stderr_has("gate policy");
    run(&[
        "gate",
        fx.l(),
        "--subject",
        "nocolon",
        "--policy",
        GATE_POLICY,
    ])
    .expect(2);
    run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:x",
        "--policy",
        s(&fx.path("none.json")),
    ])
    .expect(2);
    run(&[
        "gate",
        fx.l(),
        "--subject",
        "release:x",
        "--policy",
        GATE_POLICY,
        "--actor",
        "a",
    ])
    .expect(2);
    assert_eq!(fx.size(), 28, "refused gates record nothing");
}

#[test]
fn bundle_and_verify_bundle_from_the_shell() {
    let fx = history_fx();
    let vkey = fx.vkey();
    let entries = |r: &Run| -> Vec<u64> {
        r.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_u64().unwrap_or_else(|| e["index"].as_u64().unwrap()))
            .collect()
    };
    let b = fx.path("subject.json");
    let out = run(&[
        "bundle",
        fx.l(),
        "--subject",
        "release:2026.11.3",
        "-o",
        s(&b),
    ])
    .expect(0);
    assert!(out.out().starts_with("wrote "), "{}", out.out());
    let out = run(&["verify-bundle", s(&b), "--vkey", &vkey]).expect(0);
    assert!(out.out().starts_with("OK: 6 entries"), "{}", out.out());
    let out = run(&["verify-bundle", s(&b), "--vkey", &vkey, "--json"]).expect(0);
    assert_eq!(entries(&out), vec![12, 13, 14, 15, 16, 17]);
    assert_eq!(out.json()["tree_size"], 27);
    // a trace, forward and backward, and a query
    let t = fx.path("trace.json");
    let out = run(&["bundle", fx.l(), "--index", "18", "-o", s(&t), "--json"]).expect(0);
    assert_eq!(entries(&out), vec![0, 10, 11, 14, 16, 17, 18]);
    run(&["verify-bundle", s(&t), "--vkey", &vkey]).expect(0);
    let out = run(&[
        "bundle",
        fx.l(),
        "--index",
        "20",
        "--forward",
        "-o",
        s(&t),
        "--json",
    ])
    .expect(0);
    assert_eq!(entries(&out), vec![20, 21, 22, 23, 24, 25, 26]);
    let q = fx.path("query.json");
    let out = run(&[
        "bundle",
        fx.l(),
        "--action",
        "deploy.succeeded",
        "--attr",
        "env=prod",
        "--limit",
        "2",
        "-o",
        s(&q),
        "--json",
    ])
    .expect(0);
    assert_eq!(entries(&out), vec![18, 22]);
    // to stdout, byte for byte what verify-bundle reads
    let out = run(&["bundle", fx.l(), "--decision", "break_glass", "-o", "-"]).expect(0);
    let one = fx.write("one.json", &out.stdout);
    run(&["verify-bundle", s(&one), "--vkey", &vkey]).expect(0);
    // against a checkpoint signed earlier
    let cp = fx.checkpoint("cp.note", Some(20));
    let out = run(&[
        "bundle",
        fx.l(),
        "--subject",
        "release:2026.11.2",
        "--checkpoint",
        s(&cp),
        "--vkey",
        &vkey,
        "-o",
        s(&q),
        "--json",
    ])
    .expect(0);
    assert_eq!(out.json()["tree_size"], 20);
    run(&[
        "bundle",
        fx.l(),
        "--subject",
        "release:2026.11.4",
        "--checkpoint",
        s(&cp),
        "--vkey",
        &vkey,
        "-o",
        s(&q),
    ])
    .expect(2)
    .stderr_has("not in the checkpoint's tree");

    // tampering: a sample of single-byte changes across the file, a wrong key, not a bundle
    let text = std::fs::read(&b).unwrap();
    for k in 0..24 {
        let at = k * (text.len() - 1) / 23;
        let mut m = text.clone();
        m[at] ^= 0x01;
        let f = fx.write("edited.json", &m);
        let r = run(&["verify-bundle", s(&f), "--vkey", &vkey]);
        assert!(
            r.status == 1 || r.status == 2,
            "byte {at} changed: exit {} {}",
            r.status,
            r.stderr
        );
        let status = r.status;
        r.expect(status);
    }
    let edited = String::from_utf8(text.clone())
        .unwrap()
        .replace("\"id\":\"bob\"", "\"id\":\"bib\"");
    let f = fx.write("edited.json", edited);
    run(&["verify-bundle", s(&f), "--vkey", &vkey])
        .expect(1)
        .stderr_has("entry 16");
    let other = Fx::new(&[]);
    run(&["verify-bundle", s(&b), "--vkey", &other.vkey()]).expect(1);
    let f = fx.write("garbage.json", "not a bundle\n");
    run(&["verify-bundle", s(&f), "--vkey", &vkey])
        .expect(2)
        .stderr_has("malformed bundle");
    run(&[
        "verify-bundle",
        s(&fx.path("missing.json")),
        "--vkey",
        &vkey,
    ])
    .expect(2);

    // bad selections write nothing
    let none = fx.path("none.json");
    run(&["bundle", fx.l(), "-o", s(&none)]).expect(2);
    run(&[
        "bundle",
        fx.l(),
        "--index",
        "3",
        "--subject",
        "release:x",
        "-o",
        s(&none),
    ])
    .expect(2);
    run(&[
        "bundle",
        fx.l(),
        "--subject",
        "release:none",
        "-o",
        s(&none),
    ])
    .expect(2)
    .stderr_has("nothing to bundle");
    run(&["bundle", fx.l(), "--index", "99", "-o", s(&none)]).expect(2);
    assert!(!none.exists());
}

#[test]
fn report_where_approvals_wait() {
    let fx = history_fx();
    let out = run(&["report", fx.l()]).expect(0);
    let text = out.out();
    assert!(text.contains("7 waits, median 1h 30m, p90 1d 0h"), "{text}");
    assert!(
        text.contains("1d 0h  release:2026.11.3            request #14 -> approval #17 by carol")
    );
    assert!(
        text.contains("2026-W46          2            1          3"),
        "{text}"
    );
    let j = run(&[
        "report",
        fx.l(),
        "--since",
        "2026-11-10T00:00:00Z",
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(
        j["approval_latency"],
        json!({"waits": 3, "median_seconds": 14400, "p90_seconds": 86400})
    );
    assert_eq!(j["since"], "2026-11-10T00:00:00.000000000Z");
    let j = run(&[
        "report",
        fx.l(),
        "--change-action",
        "deploy.succeeded",
        "--change-action",
        "deploy.rolled_back",
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(
        j["weeks"][2],
        json!({"week": "2026-W46", "changes": 3, "break_glass": 1, "approvals": 3})
    );
    run(&["report", fx.l(), "--since", "last week"]).expect(2);
}

#[test]
fn record_and_import_from_the_shell() {
    let fx = Fx::new(&[]);
    // outside a CI system: refused, naming what was looked for
    let out = Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(["record", fx.l(), "--action", "build.succeeded"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("GITHUB_ACTIONS"));
    // inside GitHub Actions: recorded once, a retry returns the same receipt
    let gh = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_ACTOR", "alice"),
        ("GITHUB_REPOSITORY", "acme/api"),
        ("GITHUB_SHA", "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_WORKFLOW", "release"),
        ("GITHUB_JOB", "build"),
        ("GITHUB_RUN_ID", "981"),
        ("GITHUB_RUN_NUMBER", "12"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_SERVER_URL", "https://github.com"),
    ];
    let record = || {
        Command::new(env!("CARGO_BIN_EXE_trailseal"))
            .args([
                "record",
                fx.l(),
                "--action",
                "build.succeeded",
                "--subject",
                "artifact:api:1",
            ])
            .env_clear()
            .envs(gh)
            .output()
            .unwrap()
    };
    let first = record();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = record();
    assert_eq!(second.status.code(), Some(0));
    let receipt = |out: &std::process::Output| -> Value {
        serde_json::from_slice(&out.stdout).expect("one JSON receipt")
    };
    let (mut first_r, mut second_r) = (receipt(&first), receipt(&second));
    check_receipt(&first_r, 0);
    assert_eq!(first_r["already_recorded"], false, "{first_r}");
    assert_eq!(second_r["already_recorded"], true, "{second_r}");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already recorded at index 0"),
        "a retry says so on stderr"
    );
    for r in [&mut first_r, &mut second_r] {
        r.as_object_mut().unwrap().remove("already_recorded");
    }
    assert_eq!(first_r, second_r, "a retried step is recorded once");
    assert_eq!(fx.size(), 1);
    // a CDEvents file, and something that is not one
    let events = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/capture/cdevents");
    let file = std::fs::read_dir(events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    run(&[
        "import",
        fx.l(),
        "--format",
        "cdevents",
        file.to_str().unwrap(),
    ])
    .expect(0);
    let before = fx.size();
    run_in(
        &["import", fx.l(), "--format", "intoto", "-"],
        b"{\"not\": \"a statement\"}",
    )
    .expect(2);
    assert_eq!(fx.size(), before);
}

// ---------------------------------------------------------------------------------------------
// witness (the real witness is in tests/witness/check.sh; these need none)

#[test]
fn witness_refusals_need_no_witness() {
    let w = trailseal::witness::Cosigner::from_seed("w.test", [1; 32]).unwrap();
    let wkey = w.key().to_key_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);

    let b3 = Fx::new(&["--hash", "blake3"]);
    run(&[
        "witness",
        b3.l(),
        "--witness",
        &dead,
        "--witness-key",
        &wkey,
    ])
    .expect(2)
    .stderr_has("SHA-256");

    let fx = Fx::with_entries(3);
    run(&["witness", fx.l(), "--witness", &dead])
        .expect(2)
        .stderr_has("--witness-key");
    run(&[
        "witness",
        fx.l(),
        "--witness",
        &dead,
        "--witness",
        &dead,
        "--witness-key",
        &wkey,
    ])
    .expect(2)
    .stderr_has("one key per witness");
    run(&[
        "witness",
        fx.l(),
        "--witness",
        &dead,
        "--witness-key",
        &fx.vkey()[..10],
    ])
    .expect(2)
    .stderr_has("witness key");
    let r = run(&[
        "witness",
        fx.l(),
        "--witness",
        &dead,
        "--witness-key",
        &wkey,
    ])
    .expect(1)
    .stderr_has("connection refused");
    assert_eq!(r.json()["cosigned"], 0);

    // Verifying under a policy that nothing meets fails, and says why.
    run(&["verify", fx.l(), "--witness-key", &wkey])
        .expect(1)
        .stderr_has("cosignatures");
    run(&["verify", fx.l(), "--witness-key", &wkey, "--quorum", "2"])
        .expect(2)
        .stderr_has("quorum");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Ledger files are created 0600 (0640 on request) whatever the umask; a world-readable one
/// is warned about; a key file others can read is refused unless --insecure-key-file says so,
/// loudly.
#[test]
fn ledger_and_key_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("l.redb");
    run(&["init", s(&l), "--origin", ORIGIN]).expect(0);
    assert_eq!(mode(&l), 0o600);
    assert_eq!(mode(&dir.path().join("l.redb.key")), 0o600);
    let g = dir.path().join("g.redb");
    run(&["init", s(&g), "--origin", ORIGIN, "--group-readable"]).expect(0);
    assert_eq!(mode(&g), 0o640);

    let quiet = run(&["verify", s(&l)]).expect(0);
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
    set_mode(&l, 0o644);
    run(&["verify", s(&l)])
        .expect(0)
        .stderr_has("readable by every user");
    set_mode(&l, 0o600);

    let key = dir.path().join("l.redb.key");
    set_mode(&key, 0o640);
    run(&["checkpoint", s(&l)])
        .expect(2)
        .stderr_has("can be read by others (mode 0640)");
    run(&["checkpoint", s(&l), "--insecure-key-file"])
        .expect(0)
        .stderr_has("WARNING: signing with");
    let report = run(&["verify", s(&l)]).expect(0).out();
    assert!(report.contains("\"checkpoints_checked\":1"), "{report}");
}

/// `key rotate` twice: each rotation is an entry and a checkpoint signed by the old key and
/// the new one; later checkpoints are the new key's, `vkey` names the key in force, a retired
/// key is refused, and `verify` follows the chain from the first key. A rotation appended
/// without the old key's signature is tampering.
#[test]
fn key_rotation_is_recorded_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("l.redb");
    run(&["init", s(&l), "--origin", ORIGIN]).expect(0);
    run_in(&["append", s(&l)], format!("{}\n", entry(0)).as_bytes()).expect(0);
    run(&["checkpoint", s(&l)]).expect(0);
    let key = |n: &str| {
        let p = dir.path().join(n);
        let signer = trailseal::Signer::generate(ORIGIN).unwrap();
        std::fs::write(&p, signer.to_key_string().unwrap()).unwrap();
        set_mode(&p, 0o600);
        (p, signer.verifier().to_key_string())
    };
    let (k1, v1) = key("k1.key");
    let (k2, v2) = key("k2.key");
    let v0 = run(&["vkey", s(&l)]).expect(0).out().trim().to_owned();
    let r1: Value = serde_json::from_str(
        &run(&[
            "key",
            "rotate",
            s(&l),
            "--new-key",
            s(&k1),
            "--actor",
            "alice",
        ])
        .expect(0)
        .out(),
    )
    .unwrap();
    assert_eq!(
        (r1["index"].as_u64(), r1["old_key"].as_str()),
        (Some(1), Some(v0.as_str()))
    );
    let note = r1["note"].as_str().unwrap();
    for v in [&v0, &v1] {
        trailseal::Checkpoint::verify(note, &v.parse().unwrap()).unwrap();
    }
    assert_eq!(run(&["vkey", s(&l)]).expect(0).out().trim(), v1);
    run(&["checkpoint", s(&l)])
        .expect(2)
        .stderr_has("is not this ledger's signer key");
    run_in(&["append", s(&l)], format!("{}\n", entry(1)).as_bytes()).expect(0);
    run(&["checkpoint", s(&l), "--key", s(&k1)]).expect(0);
    // A bundle signed by the new key carries the chain from the first: an auditor who trusts
    // only the first key follows it; one who trusts another key does not.
    let b = dir.path().join("b.json");
    run(&[
        "bundle",
        s(&l),
        "--index",
        "2",
        "-o",
        s(&b),
        "--key",
        s(&k1),
    ])
    .expect(0);
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    assert_eq!(bundle["key_rotations"].as_array().map(Vec::len), Some(1));
    run(&["verify-bundle", s(&b), "--vkey", &v0]).expect(0);
    run(&["verify-bundle", s(&b), "--vkey", &v1]).expect(0);
    let (_, stranger) = key("stranger.key");
    run(&["verify-bundle", s(&b), "--vkey", &stranger]).expect(1);
    run(&["key", "rotate", s(&l), "--key", s(&k1), "--new-key", s(&k2)]).expect(0);
    run(&["key", "rotate", s(&l), "--key", s(&k1), "--new-key", s(&k2)])
        .expect(2)
        .stderr_has("is not this ledger's signer key");
    run(&["checkpoint", s(&l), "--key", s(&k2)]).expect(0);
    assert_eq!(run(&["vkey", s(&l)]).expect(0).out().trim(), v2);
    let report = run(&["verify", s(&l)]).expect(0).out();
    assert!(report.contains("\"checkpoints_checked\":6"), "{report}");
    let rotations = run(&["query", s(&l), "--action", "key.rotated", "--json"])
        .expect(0)
        .out();
    assert!(
        rotations.contains(&v1) && rotations.contains(&v2),
        "{rotations}"
    );

    // A rotation entry is the rotation's own: appended as a plain entry it is refused (it
    // would carry no signature of the key in force), and nothing is written. Interrupted and
    // forged rotations are tested in core/tests/rotation.rs, through its test hooks.
    let (k3, v3) = key("k3.key");
    let forged = json!({
        "actor": {"id": "mallory"}, "action": "key.rotated",
        "subject": {"type": "key", "id": v3},
        "attrs": {"old_key": v2, "new_key": v3},
    });
    let size = run(&["verify", s(&l)]).expect(0).out();
    run_in(&["append", s(&l)], format!("{forged}\n").as_bytes())
        .expect(2)
        .stderr_has("key rotate");
    assert_eq!(run(&["verify", s(&l)]).expect(0).out(), size);
    run(&["key", "rotate", s(&l), "--key", s(&k2), "--new-key", s(&k3)]).expect(0);
    run(&["verify", s(&l)]).expect(0);
    assert_eq!(run(&["vkey", s(&l)]).expect(0).out().trim(), v3);

    // Published, the log carries its rotation chain: a monitor that trusts only the first
    // key follows it to the key in force; a stranger's key is refused.
    let published = dir.path().join("pub");
    let state = dir.path().join("state.json");
    run(&["publish", s(&l), s(&published), "--key", s(&k3)]).expect(0);
    let m: Value = serde_json::from_str(
        &run(&[
            "monitor",
            s(&published),
            "--vkey",
            &v0,
            "--state",
            s(&state),
        ])
        .expect(0)
        .out(),
    )
    .unwrap();
    assert_eq!(m["key_rotations"], 3);
    let other = dir.path().join("other-state.json");
    run(&[
        "monitor",
        s(&published),
        "--vkey",
        &stranger,
        "--state",
        s(&other),
    ])
    .expect(1);
}

// ---------------------------------------------------------------------------------------------
// rules (docs/RULES.md)

#[test]
fn rules_publish_show_check_and_enforced_appends() {
    let fx = Fx::new(&[]);
    let request = |extra: &[&str]| {
        let mut args = vec!["append", fx.l()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--actor", "alice", "--action", "change.requested"]);
        args.extend_from_slice(&["--subject", "service:pay"]);
        run(&args)
    };
    let sox = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rules/sox.json");
    run(&["rules", "show", fx.l()])
        .expect(0)
        .json()
        .is_null()
        .then_some(())
        .unwrap();
    let published = run(&[
        "rules",
        "publish",
        fx.l(),
        s(&sox),
        "--actor",
        "ciso",
        "--authz",
        r#"{"decision":"allow","policy":"rules-change"}"#,
    ])
    .expect(0)
    .json();
    assert_eq!(published["index"], 0);
    let shown = run(&["rules", "show", fx.l()]).expect(0).json();
    assert_eq!(shown["version"], "sox-2026.1");
    assert_eq!(shown["published_by"], "ciso");
    assert_eq!(shown["authz"]["policy"], "rules-change");
    assert!(shown["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(run(&["rules", "show", fx.l(), "--at", "0"])
        .expect(0)
        .json()
        .is_null());
    // An append breaking the rules: exit 2, the class and requirement named, nothing written.
    request(&[])
        .expect(2)
        .stderr_has("change-request")
        .stderr_has("requires field attrs.ticket")
        .stderr_has("sox-2026.1 (leaf 0)")
        .stderr_has("[rule_violation]");
    // Recorded when asked.
    request(&["--record-refusals"]).expect(2);
    let ok = request(&["--attr", "ticket=CHG-1"]).expect(0).json();
    assert_eq!(ok["index"], 2, "the refusal took index 1");
    assert_eq!(
        run(&["show", fx.l(), "1"]).expect(0).json()["action"],
        "audit.refused"
    );
    // The dry run, against the file.
    let entry = fx.write("e.json", r#"{"actor":{"id":"bob"},"action":"change.requested","subject":{"type":"service","id":"pay"},"attrs":{"ticket":"T"}}"#);
    let verdict = run(&["rules", "check", s(&sox), s(&entry)])
        .expect(0)
        .json();
    assert_eq!(verdict["class"], "change-request");
    assert_eq!(verdict["retention"], "sox-7y");
    let bad = fx.write("bad.json", r#"{"actor":{"id":"mallory"},"action":"change.requested","subject":{"type":"service","id":"pay"},"attrs":{"ticket":"T"}}"#);
    run(&["rules", "check", s(&sox), s(&bad)])
        .expect(2)
        .stderr_has("[rule_violation]");
    let broken = fx.write(
        "broken.json",
        r#"{"version":"x","classes":[{"name":"a","action":"b","roles":["ghost"]}]}"#,
    );
    run(&["rules", "publish", fx.l(), s(&broken), "--actor", "ciso"])
        .expect(2)
        .stderr_has("ghost")
        .stderr_has("[malformed]");
    run(&["verify", fx.l()]).expect(0);
}

#[test]
fn query_prove_and_verify_completeness_answer_completely_or_fail_with_1() {
    let fx = Fx::new(&["--committed-indexes"]);
    let entry = |n: u64| {
        let who = ["alice", "bob", "carol"][(n % 3) as usize];
        json!({"actor": {"id": who}, "action": "deploy.succeeded",
               "subject": {"type": "service", "id": format!("svc-{}", n % 7)}})
        .to_string()
    };
    // 1,100 entries reach the first commitment (every 1,024), the next 20 are its tail.
    run_in(
        &["append", fx.l(), "-"],
        &lines(&(0..1100).map(entry).collect::<Vec<_>>()),
    )
    .expect(0);
    run_in(
        &["append", fx.l(), "-"],
        &lines(&(1100..1120).map(entry).collect::<Vec<_>>()),
    )
    .expect(0);
    let args = [
        "query",
        fx.l(),
        "--actor",
        "alice",
        "--subject",
        "service:svc-3",
        "--prove",
        "--from",
        "10",
        "--to",
        "1110",
    ];
    let proof = run(&args).expect(0).json();
    assert_eq!(proof["format"], "trailseal-completeness/1");
    assert_eq!(
        proof["log"]["first"], 1100,
        "the commitment closes the first append"
    );
    let file = fx.write("proof.json", proof.to_string());
    let vkey = fx.vkey();
    let found: Vec<u64> = run(&["verify-completeness", s(&file), "--vkey", &vkey, "--json"])
        .expect(0)
        .json_lines()
        .iter()
        .map(|f| f["index"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (10..1110).filter(|n| n % 3 == 0 && n % 7 == 3).collect();
    // The commitment entry took index 1100, so the second append's entries sit one later.
    let want: Vec<u64> = want
        .into_iter()
        .filter(|&n| n < 1100)
        .chain(
            (1100..1120)
                .filter(|n| n % 3 == 0 && n % 7 == 3)
                .map(|n| n + 1)
                .filter(|&i| i < 1110),
        )
        .collect();
    assert_eq!(found, want);
    let text = run(&["verify-completeness", s(&file), "--vkey", &vkey])
        .expect(0)
        .out();
    assert!(text.starts_with("OK: "), "{text}");
    // One hit left out: refused, exit 1.
    let mut cut = proof.clone();
    cut["entries"].as_array_mut().unwrap().pop();
    let cut_file = fx.write("cut.json", cut.to_string());
    let r = run(&["verify-completeness", s(&cut_file), "--vkey", &vkey]).expect(1);
    assert!(r.stderr.contains("committed hits"), "{}", r.stderr);
    // A time window cannot be proven (yet): bad usage, exit 2.
    run(&[
        "query",
        fx.l(),
        "--actor",
        "alice",
        "--since",
        "2020-01-01T00:00:00Z",
        "--prove",
    ])
    .expect(2);
    run(&["verify", fx.l()]).expect(0);
}
