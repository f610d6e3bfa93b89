//! `trailseal timestamp` and `verify-bundle --tsa-ca` against a real time-stamp authority:
//! `openssl ts -reply` behind a small HTTP wrapper (tests/tsa/server.py) on 127.0.0.1, with a
//! CA and TSA certificates made by tests/tsa/make_pki.sh. Tokens must also pass
//! `openssl ts -verify`. Needs `openssl` and `python3`; tests/run.sh makes sure of both and
//! sets TRAILSEAL_TSA_TESTS=1, without which a machine lacking them skips these tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use trailseal::{verify_timestamp_token, ErrorCode, Ledger, OpenOptions};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");
const ORIGIN: &str = "example.com/trailseal/tsa-test";

/// The test TSA: its PKI and the HTTP wrapper, killed when dropped.
struct Tsa {
    dir: TempDir,
    server: Child,
    port: u16,
}

impl Tsa {
    /// Make the PKI and start the server, or `None` when the tools are missing and the run
    /// did not ask for these tests.
    fn start() -> Option<Tsa> {
        let have = |tool: &str, arg: &str| {
            Command::new(tool)
                .arg(arg)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !(have("openssl", "version") && have("python3", "--version")) {
            assert!(
                std::env::var_os("TRAILSEAL_TSA_TESTS").is_none(),
                "TRAILSEAL_TSA_TESTS is set but openssl or python3 is missing"
            );
            eprintln!("skipped: openssl or python3 missing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("pki");
        let made = Command::new("bash")
            .arg(repo().join("tests/tsa/make_pki.sh"))
            .arg(&pki)
            .status()
            .unwrap();
        assert!(made.success(), "make_pki.sh failed");
        let port_file = dir.path().join("port");
        let mut server = Command::new("python3")
            .arg(repo().join("tests/tsa/server.py"))
            .arg(&pki)
            .arg(&port_file)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let port = loop {
            if let Some(p) = fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.parse().ok())
            {
                break p;
            }
            if let Ok(Some(status)) = server.try_wait() {
                panic!("the TSA server exited at startup: {status}");
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = server.kill();
                panic!("the TSA server did not start within 20 s");
            }
            sleep(Duration::from_millis(50));
        };
        Some(Tsa { dir, server, port })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    fn pki(&self, file: &str) -> PathBuf {
        self.dir.path().join("pki").join(file)
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn expect(self, status: i32) -> Self {
        assert_eq!(
            self.status, status,
            "expected exit {status}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap()
    }
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("TRAILSEAL_KEY_FILE")
        .output()
        .unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A ledger with two entries on one subject; returns its path and verifier key.
fn ledger(dir: &Path) -> (String, String) {
    let path = dir.join("audit.redb").to_str().unwrap().to_owned();
    let init = run(&["init", &path, "--origin", ORIGIN]).expect(0).json();
    let vkey = init["verifier_key"].as_str().unwrap().to_owned();
    for n in 0..2 {
        let entry = format!(
            r#"{{"actor":{{"id":"alice"}},"action":"deploy.succeeded","subject":{{"type":"service","id":"api"}},"attrs":{{"n":"{n}"}}}}"#
        );
        let file = dir.join(format!("e{n}.json"));
        fs::write(&file, entry).unwrap();
        run(&["append", &path, file.to_str().unwrap()]).expect(0);
    }
    (path, vkey)
}

/// `trailseal timestamp LEDGER --tsa URL --tsa-ca CA [EXTRA...]`.
fn stamp(path: &str, url: &str, ca: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "timestamp",
        path,
        "--tsa",
        url,
        "--tsa-ca",
        ca.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn stored_token(path: &str, seq: u64) -> Option<Vec<u8>> {
    let opts = OpenOptions {
        read_only: true,
        ..OpenOptions::default()
    };
    Ledger::open_with(path, &opts)
        .unwrap()
        .checkpoint_timestamp(seq)
        .unwrap()
}

fn openssl_verify(tsa: &Tsa, note: &Path, token: &Path, ca: &str, cert: &str) -> bool {
    Command::new("openssl")
        .args(["ts", "-verify", "-token_in", "-in"])
        .arg(token)
        .arg("-data")
        .arg(note)
        .arg("-CAfile")
        .arg(tsa.pki(ca))
        .arg("-untrusted")
        .arg(tsa.pki(cert))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// One TSA key type end to end: a token obtained, stored and checked by us and by openssl,
/// carried by a bundle and checked offline; refused against another CA or another note.
fn end_to_end(kind: &str) {
    let Some(tsa) = Tsa::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (path, vkey) = ledger(dir.path());
    let ca = format!("ca-{kind}.pem");
    let ca_path = tsa.pki(&ca);
    let token_file = dir.path().join("token.der");
    // No checkpoint is kept yet: one is signed with the ledger's key, then stamped.
    let out = stamp(
        &path,
        &tsa.url(kind),
        &ca_path,
        &["--token-out", token_file.to_str().unwrap()],
    )
    .expect(0)
    .json();
    assert_eq!(out["checkpoint"], 0);
    assert_eq!(out["size"], 2);
    assert!(out["attested"]["time"].as_str().unwrap().ends_with('Z'));
    assert!(out["attested"]["tsa"]
        .as_str()
        .unwrap()
        .contains(&format!("tsa-{kind}")));
    let note = out["note"].as_str().unwrap().to_owned();
    let token = fs::read(&token_file).unwrap();
    assert_eq!(stored_token(&path, 0).as_deref(), Some(token.as_slice()));
    assert_eq!(out["requested"], true);
    // Asked again, the checkpoint keeps the token it has (the earlier time): no request.
    let again = stamp(&path, &tsa.url(kind), &ca_path, &[]).expect(0).json();
    assert_eq!(again["requested"], false);
    assert_eq!(again["token"], out["token"]);

    // Checked by the library and by openssl.
    let ca_pem = fs::read(&ca_path).unwrap();
    let attested = verify_timestamp_token(&token, note.as_bytes(), &ca_pem).unwrap();
    assert_eq!(
        attested.time.to_string(),
        out["attested"]["time"].as_str().unwrap()
    );
    let note_file = dir.path().join("note.txt");
    fs::write(&note_file, &note).unwrap();
    let cert = format!("tsa-{kind}.pem");
    assert!(openssl_verify(&tsa, &note_file, &token_file, &ca, &cert));
    if kind == "rsa" {
        // This TSA writes genTime with milliseconds (make_pki.sh), which RFC 5280-style
        // GeneralizedTime decoders refuse; the attested time keeps them.
        let text = Command::new("openssl")
            .args(["ts", "-reply", "-token_in", "-text", "-in"])
            .arg(&token_file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        let line = text.lines().find(|l| l.starts_with("Time stamp:")).unwrap();
        assert!(line.contains('.'), "no fractional seconds: {line}");
    }

    // Refused: another CA, a changed note.
    let other = fs::read(tsa.pki("ca-other.pem")).unwrap();
    let e = verify_timestamp_token(&token, note.as_bytes(), &other).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    let changed = note.replacen('2', "3", 1);
    let e = verify_timestamp_token(&token, changed.as_bytes(), &ca_pem).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    fs::write(&note_file, &changed).unwrap();
    assert!(!openssl_verify(&tsa, &note_file, &token_file, &ca, &cert));

    // A bundle of the current size carries the token (the checkpoint signed for it is the
    // stamped one: same size, same key, same note), and verify-bundle checks it offline.
    let bundle = dir.path().join("bundle.json");
    let b = run(&[
        "bundle",
        &path,
        "--subject",
        "service:api",
        "--output",
        bundle.to_str().unwrap(),
    ]);
    b.expect(0);
    let text = fs::read_to_string(&bundle).unwrap();
    assert!(text.contains("\"checkpoint_timestamp\""), "{text}");
    let ok = run(&[
        "verify-bundle",
        bundle.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--tsa-ca",
        ca_path.to_str().unwrap(),
        "--json",
    ])
    .expect(0)
    .json();
    assert_eq!(ok["attested"]["time"], out["attested"]["time"]);
    let other_path = tsa.pki("ca-other.pem");
    let refused = run(&[
        "verify-bundle",
        bundle.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--tsa-ca",
        other_path.to_str().unwrap(),
    ])
    .expect(1);
    assert!(
        refused.stderr.contains("time-stamp token"),
        "{}",
        refused.stderr
    );
    // Without --tsa-ca the token is carried but not asked about.
    run(&["verify-bundle", bundle.to_str().unwrap(), "--vkey", &vkey]).expect(0);
}

#[test]
fn ecdsa_tsa_end_to_end() {
    end_to_end("ec");
}

#[test]
fn rsa_tsa_end_to_end() {
    end_to_end("rsa");
}

/// A token is for one checkpoint: the token of checkpoint 1 does not time-stamp checkpoint 0,
/// and `--checkpoint N` picks which one is stamped.
#[test]
fn a_token_is_for_its_checkpoint_only() {
    let Some(tsa) = Tsa::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = ledger(dir.path());
    let first = run(&["checkpoint", &path, "--size", "1"]).expect(0).stdout;
    let second = run(&["checkpoint", &path]).expect(0).stdout;
    let ca = tsa.pki("ca-ec.pem");
    let out = stamp(&path, &tsa.url("ec"), &ca, &["--checkpoint", "1"])
        .expect(0)
        .json();
    assert_eq!(out["note"].as_str().unwrap(), second);
    assert_eq!(stored_token(&path, 0), None);
    let token = stored_token(&path, 1).unwrap();
    let ca_pem = fs::read(&ca).unwrap();
    verify_timestamp_token(&token, second.as_bytes(), &ca_pem).unwrap();
    let e = verify_timestamp_token(&token, first.as_bytes(), &ca_pem).unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    // `verify` checks each kept token against its checkpoint's note: one moved to another
    // checkpoint, or kept for none, is found.
    run(&["verify", &path]).expect(0);
    let tamper = |seq: u64, token: &[u8]| {
        trailseal::storage::tamper::edit(Path::new(&path), |t| {
            t.set_checkpoint_timestamp(seq, token)
        })
        .unwrap()
    };
    tamper(0, &token);
    let moved = run(&["verify", &path]).expect(1);
    assert!(
        moved.stderr.contains("time-stamp token of checkpoint 0"),
        "{}",
        moved.stderr
    );
    tamper(0, b"not a token");
    run(&["verify", &path]).expect(1);
    // A checkpoint number the ledger does not keep is refused before any request.
    stamp(&path, &tsa.url("ec"), &ca, &["--checkpoint", "7"]).expect(2);
    // So is a timeout that bounds nothing.
    let zero = stamp(&path, &tsa.url("ec"), &ca, &["--timeout", "0"]).expect(2);
    assert!(
        zero.stderr.contains("[invalid_argument]"),
        "{}",
        zero.stderr
    );
}

/// A TSA that answers garbage, never answers, or is not there gets a clear error (exit 3)
/// and nothing is stored.
#[test]
fn a_failing_tsa_stores_nothing() {
    let Some(tsa) = Tsa::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = ledger(dir.path());
    run(&["checkpoint", &path]).expect(0);
    let ca = tsa.pki("ca-ec.pem");
    let garbage = stamp(&path, &tsa.url("garbage"), &ca, &[]).expect(3);
    assert!(
        garbage.stderr.contains("not a TimeStampResp"),
        "{}",
        garbage.stderr
    );
    let started = Instant::now();
    let slow = stamp(&path, &tsa.url("slow"), &ca, &["--timeout", "1"]).expect(3);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        slow.stderr.to_lowercase().contains("timeout") || slow.stderr.contains("timed out"),
        "{}",
        slow.stderr
    );
    // While a request waits on the TSA, the ledger is not locked: another process appends.
    let mut waiting = Command::new(BIN)
        .args(["timestamp", &path, "--tsa", &tsa.url("slow"), "--tsa-ca"])
        .arg(&ca)
        .args(["--timeout", "5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sleep(Duration::from_millis(500));
    let entry = dir.path().join("during.json");
    fs::write(
        &entry,
        r#"{"actor":{"id":"bob"},"action":"deploy.started","subject":{"type":"service","id":"api"}}"#,
    )
    .unwrap();
    let appended = Instant::now();
    run(&["append", &path, entry.to_str().unwrap()]).expect(0);
    assert!(appended.elapsed() < Duration::from_secs(3));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "the request should still be waiting on the TSA"
    );
    assert_eq!(waiting.wait().unwrap().code(), Some(3));
    // A port nothing listens on: bind one, note it, and free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = stamp(&path, &format!("http://127.0.0.1:{port}/"), &ca, &[]).expect(3);
    assert!(
        refused.stderr.contains("time-stamp authority"),
        "{}",
        refused.stderr
    );
    // A TSA whose token does not chain to the CA given: exit 1, nothing kept.
    stamp(&path, &tsa.url("ec"), &tsa.pki("ca-other.pem"), &[]).expect(1);
    assert_eq!(stored_token(&path, 0), None);
}
