//! Witness cosignatures: the independent vectors, and `Ledger::witness` against a small
//! in-process tlog-witness (the real one, litewitness, is in tests/witness/check.sh).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use trailseal::note::{Note, Signer};
use trailseal::witness::{verify_cosigned, Cosigner, TlogPolicy, WitnessPolicy, WitnessSpec};
use trailseal::{CreateOptions, ErrorCode, HashAlg, Ledger, Verifier, VerifyOptions};

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/cosignature.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn independent_cosignature_vectors() {
    let v = vectors();
    let log: Verifier = v["log_vkey"].as_str().unwrap().parse().unwrap();
    let keys: Vec<&str> = v["witness_vkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for case in v["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let quorum = case["quorum"].as_u64().unwrap() as usize;
        let policy = WitnessPolicy::from_keys(&keys, Some(quorum)).unwrap();
        let got = verify_cosigned(case["note"].as_str().unwrap(), &log, &policy);
        if case["ok"].as_bool().unwrap() {
            let c = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(c.cosignatures.len() >= quorum, "{name}");
        } else {
            let e = got.expect_err(name);
            assert_eq!(e.code(), ErrorCode::VerificationFailed, "{name}: {e}");
        }
    }
}

/// A tlog-witness that keeps its state in memory and checks only the old size (the proof is
/// the real witness's business): enough to drive the client through 200 and 409.
struct FakeWitness {
    url: String,
    cosigner: Arc<Cosigner>,
    size: Arc<Mutex<u64>>,
}

impl FakeWitness {
    fn start(name: &str, seed: u8) -> FakeWitness {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cosigner = Arc::new(Cosigner::from_seed(name, [seed; 32]).unwrap());
        let size = Arc::new(Mutex::new(0u64));
        let (c, s) = (cosigner.clone(), size.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8(body).unwrap();
                let (head, note) = body.split_once("\n\n").unwrap();
                let old: u64 = head.lines().next().unwrap()[4..].parse().unwrap();
                let cp_body = Note::parse(note).unwrap().body;
                let new: u64 = cp_body.lines().nth(1).unwrap().parse().unwrap();
                let mut held = s.lock().unwrap();
                let (status, reply) = if old != *held {
                    ("409 Conflict", format!("{}\n", *held))
                } else {
                    *held = new;
                    let line = c.cosign(&cp_body, 1_700_000_000).unwrap().to_line();
                    ("200 OK", format!("{line}\n"))
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        FakeWitness {
            url,
            cosigner,
            size,
        }
    }

    fn spec(&self) -> WitnessSpec {
        WitnessSpec::new(&self.url, &self.cosigner.key().to_key_string()).unwrap()
    }
}

fn ledger(dir: &tempfile::TempDir, hash: HashAlg) -> (Ledger, Signer) {
    let signer = Signer::from_seed("example.com/witnessed", [3; 32]).unwrap();
    let l = Ledger::create(
        dir.path().join("w.redb"),
        &CreateOptions::new("example.com/witnessed")
            .hash(hash)
            .verifier(&signer.verifier()),
    )
    .unwrap();
    for i in 0..5 {
        l.append(&serde_json::json!({"actor": {"id": "a"}, "action": "x.y",
                                     "subject": {"type": "t", "id": format!("s{i}")}}))
            .unwrap();
    }
    (l, signer)
}

const T: Duration = Duration::from_secs(5);

#[test]
fn cosignatures_are_kept_checked_and_required() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    let (w1, w2) = (
        FakeWitness::start("w1.test", 1),
        FakeWitness::start("w2.test", 2),
    );
    // w2 has cosigned size 3 before, which this ledger does not know: the first request is
    // answered 409 and the second starts from 3.
    *w2.size.lock().unwrap() = 3;
    let r = l
        .witness(&signer, &[w1.spec(), w2.spec()], None, T)
        .unwrap();
    assert_eq!(r.quorum, 2, "no quorum asks for every witness");
    assert!(r.quorum_met(), "{:?}", r.outcomes);
    assert_eq!(r.size, 5);
    let keys = [
        w1.cosigner.key().to_key_string(),
        w2.cosigner.key().to_key_string(),
    ];
    let policy = WitnessPolicy::from_keys(&keys, Some(2)).unwrap();
    let c = verify_cosigned(&r.note, &signer.verifier(), &policy).unwrap();
    assert_eq!(c.checkpoint.size, 5);

    let report = l
        .verify(&VerifyOptions::default().witnessed(&policy))
        .unwrap();
    assert_eq!(report.cosignatures, 2);
    assert_eq!(report.witnessed_size, Some(5));

    // Witnessing again at the same size reuses the checkpoint and keeps no line twice.
    let again = l.witness(&signer, &[w1.spec()], Some(1), T);
    // The fake witness holds 5, and the ledger now knows it: old 5, cosigned again.
    assert!(again.unwrap().quorum_met());
    let report = l.verify(&VerifyOptions::default()).unwrap();
    assert_eq!(
        report.cosignatures, 2,
        "one line per witness and checkpoint"
    );
    assert_eq!(l.checkpoints().unwrap().len(), 1);

    // A kept cosignature changed behind the library's back is found by verify.
    let line = c.cosignatures[0].to_line();
    let mut changed = c.cosignatures[0].clone();
    changed.timestamp += 1;
    drop(l);
    trailseal::storage::tamper::edit(&dir.path().join("w.redb"), |t| {
        t.set_cosignature_lines(0, &[&changed.to_line()])
    })
    .unwrap();
    let l = Ledger::open(dir.path().join("w.redb")).unwrap();
    let e = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert!(
        e.to_string().contains("cosignatures of checkpoint 0"),
        "{e}"
    );
    drop(l);
    trailseal::storage::tamper::edit(&dir.path().join("w.redb"), |t| {
        t.set_cosignature_lines(0, &[&line])
    })
    .unwrap();
    let l = Ledger::open(dir.path().join("w.redb")).unwrap();

    // A quorum the kept checkpoints do not meet is refused.
    let w3 = Cosigner::from_seed("w3.test", [9; 32]).unwrap();
    let three = [keys[0].clone(), keys[1].clone(), w3.key().to_key_string()];
    let strict = WitnessPolicy::from_keys(&three, None).unwrap();
    let e = l
        .verify(&VerifyOptions::default().witnessed(&strict))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");

    // The same requirements as C2SP tlog-policy files: the kept checkpoint meets "any two of
    // the three", not "w3 and one other".
    let file = |quorum: &str| {
        let text = format!(
            "witness one {}\nwitness two {}\nwitness three {}\n{quorum}",
            three[0], three[1], three[2]
        );
        TlogPolicy::parse(&text).unwrap()
    };
    let any_two = file("group g 2 one two three\nquorum g\n");
    let report = l
        .verify(&VerifyOptions::default().witnessed(&any_two))
        .unwrap();
    assert_eq!(report.witnessed_size, Some(5));
    let with_w3 = file("group g 2 one two\ngroup h all g three\nquorum h\n");
    let e = l
        .verify(&VerifyOptions::default().witnessed(&with_w3))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
    assert!(e.to_string().contains("the witness policy's quorum"), "{e}");
    // Against the cosigned note held outside, the file's rule is checked on that note.
    let report = l
        .verify(
            &VerifyOptions::default()
                .against(&r.note, &signer.verifier())
                .witnessed(&any_two),
        )
        .unwrap();
    assert_eq!(report.external_checkpoint, Some(5));
    let e = l
        .verify(
            &VerifyOptions::default()
                .against(&r.note, &signer.verifier())
                .witnessed(&with_w3),
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
}

#[test]
fn a_witness_that_is_down_is_reported_and_nothing_is_kept_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let key = Cosigner::from_seed("w.test", [1; 32]).unwrap();
    let spec = WitnessSpec::new(url, &key.key().to_key_string()).unwrap();
    let r = l.witness(&signer, &[spec], Some(1), T).unwrap();
    assert!(!r.quorum_met());
    let err = r.outcomes[0].error.as_deref().unwrap();
    assert!(err.contains("connection refused"), "{err}");
    assert_eq!(l.verify(&VerifyOptions::default()).unwrap().cosignatures, 0);
}

#[test]
fn blake3_ledgers_and_bad_arguments_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Blake3);
    let key = Cosigner::from_seed("w.test", [1; 32]).unwrap();
    let spec = WitnessSpec::new("http://127.0.0.1:9", &key.key().to_key_string()).unwrap();
    let e = l
        .witness(&signer, std::slice::from_ref(&spec), Some(1), T)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("SHA-256"), "{e}");
    assert!(l.checkpoints().unwrap().is_empty(), "nothing signed");

    let dir = tempfile::tempdir().unwrap();
    let (l, signer) = ledger(&dir, HashAlg::Sha256);
    for (specs, quorum) in [
        (vec![], 0),
        (vec![spec.clone()], 2),
        (vec![spec.clone(), spec], 1),
    ] {
        let e = l.witness(&signer, &specs, Some(quorum), T).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    }
}
