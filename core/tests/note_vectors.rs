//! Signed-note and checkpoint conformance against `tests/vectors/signed-note.json`, which Go's
//! `golang.org/x/mod/sumdb/note` produced. Ed25519 is deterministic, so a correct signer must
//! reproduce every note byte for byte.
//!
//! `go_interop` additionally runs the Go program in `tests/go-interop` (Go's real `note` and
//! `tlog` packages) when `TRAILSEAL_GO_INTEROP=1`; without it, that test returns at once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trailseal::checkpoint::Checkpoint;
use trailseal::note::{open_note, sign_note, Note, Signer, Verifier};
use trailseal::ErrorCode;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/signed-note.json"
));

struct Vector {
    signer_key: String,
    verifier_key: String,
    body: String,
    signed_note: String,
}

fn load() -> Vec<Vector> {
    let doc: Value = serde_json::from_str(VECTORS).expect("signed-note.json is JSON");
    let top: BTreeSet<&str> = doc
        .as_object()
        .expect("top level is an object")
        .keys()
        .map(String::as_str)
        .collect();
    // Fail loudly if the file grows a field this test does not check yet.
    assert_eq!(
        top,
        BTreeSet::from(["source", "vectors"]),
        "top-level fields"
    );
    assert!(doc["source"]
        .as_str()
        .expect("source is a string")
        .contains("golang.org/x/mod/sumdb/note"));

    let vectors = doc["vectors"].as_array().expect("vectors is an array");
    assert!(!vectors.is_empty());
    vectors
        .iter()
        .map(|v| {
            let fields: BTreeSet<&str> = v
                .as_object()
                .expect("vector is an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                fields,
                BTreeSet::from(["body", "signed_note", "signer_key", "verifier_key"]),
                "vector fields"
            );
            let s = |k: &str| v[k].as_str().expect("string field").to_owned();
            Vector {
                signer_key: s("signer_key"),
                verifier_key: s("verifier_key"),
                body: s("body"),
                signed_note: s("signed_note"),
            }
        })
        .collect()
}

#[test]
fn keys_parse_and_round_trip() {
    for v in load() {
        let signer = Signer::from_key_string(&v.signer_key).expect("signer key");
        assert_eq!(signer.to_key_string().unwrap(), v.signer_key);
        assert_eq!(signer.verifier().to_key_string(), v.verifier_key);

        let verifier = Verifier::from_key_string(&v.verifier_key).expect("verifier key");
        assert_eq!(verifier, signer.verifier());
        assert_eq!(verifier.to_string(), v.verifier_key);
        assert_eq!(verifier.name(), signer.name());
        assert_eq!(verifier.key_hash(), signer.key_hash());
        // The key string carries the hash as 8 lowercase hex digits after the name.
        assert!(v.verifier_key.starts_with(&format!(
            "{}+{:08x}+",
            signer.name(),
            signer.key_hash()
        )));
        assert_eq!(
            v.verifier_key.parse::<Verifier>().unwrap().public_key(),
            verifier.public_key()
        );
    }
}

#[test]
fn signing_reproduces_go_byte_for_byte() {
    for v in load() {
        let signer = Signer::from_key_string(&v.signer_key).unwrap();
        assert_eq!(sign_note(&v.body, &[&signer]).unwrap(), v.signed_note);
        assert_eq!(
            format!("{}\n", v.signed_note.rsplit_once("\n\n").unwrap().0),
            v.body
        );
    }
}

#[test]
fn open_accepts_every_vector() {
    for v in load() {
        let verifier: Verifier = v.verifier_key.parse().unwrap();
        let note = open_note(&v.signed_note, std::slice::from_ref(&verifier)).unwrap();
        assert_eq!(note.body, v.body);
        assert_eq!(note.signatures.len(), 1);
        assert_eq!(note.signatures[0].name, verifier.name());
        assert_eq!(note.signatures[0].key_hash, verifier.key_hash());
        assert_eq!(note.signatures[0].signature.len(), 64);

        let parsed = Note::parse(&v.signed_note).unwrap();
        assert_eq!(parsed, note);
    }
}

#[test]
fn checkpoint_bodies_round_trip() {
    for v in load() {
        let cp = Checkpoint::parse_body(&v.body).unwrap();
        assert_eq!(cp.to_body(), v.body);

        let signer = Signer::from_key_string(&v.signer_key).unwrap();
        assert_eq!(cp.sign(&signer).unwrap(), v.signed_note);
        let verifier: Verifier = v.verifier_key.parse().unwrap();
        assert_eq!(Checkpoint::verify(&v.signed_note, &verifier).unwrap(), cp);
    }
}

#[test]
fn checkpoint_fields_of_the_vectors() {
    // Spot-check the parsed fields, so a body that parses to the wrong values cannot pass
    // by round-tripping alone.
    let bodies: BTreeSet<String> = load().into_iter().map(|v| v.body).collect();
    let mut seen_extension = false;
    for body in bodies {
        let cp = Checkpoint::parse_body(&body).unwrap();
        let lines: Vec<&str> = body.trim_end_matches('\n').split('\n').collect();
        assert_eq!(cp.origin, lines[0]);
        assert_eq!(cp.size.to_string(), lines[1]);
        assert_eq!(cp.extensions, lines[3..]);
        seen_extension |= !cp.extensions.is_empty();
        if cp.size == 0 {
            // The empty tree's root is SHA-256 of nothing.
            assert_eq!(
                hex::encode(cp.root),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            );
        }
    }
    assert!(seen_extension, "the vectors include an extension line");
}

#[test]
fn other_keys_do_not_open_a_vector() {
    let vectors = load();
    for v in &vectors {
        for w in &vectors {
            if w.verifier_key == v.verifier_key {
                continue;
            }
            let other: Verifier = w.verifier_key.parse().unwrap();
            let e = open_note(&v.signed_note, &[other]).unwrap_err();
            assert_eq!(e.code(), ErrorCode::VerificationFailed, "{e}");
        }
        let e = open_note(&v.signed_note, &[]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
    }
}

#[test]
fn cosigned_vectors_open_with_either_key() {
    let vectors = load();
    let signers: Vec<Signer> = vectors
        .iter()
        .map(|v| Signer::from_key_string(&v.signer_key).unwrap())
        .collect();
    let mut distinct: Vec<&Signer> = Vec::new();
    for s in &signers {
        if !distinct.iter().any(|d| d.verifier() == s.verifier()) {
            distinct.push(s);
        }
    }
    for v in &vectors {
        let cosigned = sign_note(&v.body, &distinct).unwrap();
        // The first signature line is the vector's own when its signer comes first.
        for s in &distinct {
            let note = open_note(&cosigned, &[s.verifier()]).unwrap();
            assert_eq!(note.body, v.body);
            let line = sign_note(&v.body, &[s]).unwrap();
            let line = line.rsplit_once("\n\n").unwrap().1;
            assert!(cosigned.contains(line));
        }
        // An unknown witness's signature appended to a vector changes nothing.
        let witness = Signer::from_seed("witness.example", [0x42; 32]).unwrap();
        let extra = sign_note(&v.body, &[&witness]).unwrap();
        let with_witness = format!("{}{}", v.signed_note, extra.rsplit_once("\n\n").unwrap().1);
        let verifier: Verifier = v.verifier_key.parse().unwrap();
        let note = open_note(&with_witness, &[verifier]).unwrap();
        assert_eq!(note.body, v.body);
        assert_eq!(note.signatures.len(), 1);
    }
}

/// Where in a signed note a byte sits, to say which bytes may be flipped without effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    Body,
    Separator,
    SignaturePrefix,
    SignatureBase64,
    FinalNewline,
}

fn regions(text: &str) -> Vec<Region> {
    let split = text.rfind("\n\n").unwrap();
    let line_start = split + 2;
    let b64_start = line_start + text[line_start..].find(' ').unwrap() + 1;
    let b64_start = b64_start + text[b64_start..].find(' ').unwrap() + 1;
    (0..text.len())
        .map(|i| match i {
            _ if i <= split => Region::Body,
            _ if i == split + 1 => Region::Separator,
            _ if i < b64_start => Region::SignaturePrefix,
            _ if i == text.len() - 1 => Region::FinalNewline,
            _ => Region::SignatureBase64,
        })
        .collect()
}

#[test]
fn every_single_byte_flip_is_caught() {
    // Each accepted-looking flip costs an Ed25519 verification, slow in debug builds, so
    // the vectors run on parallel threads.
    let vectors = load();
    std::thread::scope(|scope| {
        for v in &vectors {
            scope.spawn(move || flip_every_byte(v));
        }
    });
}

fn flip_every_byte(v: &Vector) {
    let verifier: Verifier = v.verifier_key.parse().unwrap();
    let original = open_note(&v.signed_note, std::slice::from_ref(&verifier)).unwrap();
    let regions = regions(&v.signed_note);
    let bytes = v.signed_note.as_bytes();
    let mut harmless = Vec::new();
    let mut tried = 0;
    for (i, region) in regions.iter().enumerate() {
        // Any change to a body byte reaches the same signature check, so one flip per body
        // byte is enough. The signature line gets a case flip too (a loose name or base64
        // comparison would let it through) and a high-bit flip (the em dash is multi-byte).
        let masks: &[u8] = match region {
            Region::Body => &[0x01],
            _ => &[0x01, 0x20, 0x80],
        };
        for &mask in masks {
            let mut b = bytes.to_vec();
            b[i] ^= mask;
            // Invalid UTF-8 cannot reach the API at all (Go rejects it as malformed).
            let Ok(text) = String::from_utf8(b) else {
                continue;
            };
            tried += 1;
            // Checkpoint::verify is open_note then a parse, so it can only fail more.
            if let Ok(note) = open_note(&text, std::slice::from_ref(&verifier)) {
                // Accepted only if nothing that is signed or verified changed.
                assert_eq!(note, original, "byte {i} ^ {mask:#04x} ({region:?})");
                assert!(Checkpoint::verify(&text, &verifier).is_ok());
                harmless.push((i, *region));
            }
        }
    }
    assert!(tried > bytes.len(), "too few flips tried: {tried}");
    for (i, region) in &harmless {
        // Only the unused low bits of the last base64 symbol (before the '=') may be
        // flipped: Go's decoder ignores them too.
        assert_eq!(*region, Region::SignatureBase64, "byte {i}");
        assert_eq!(bytes[*i + 1], b'=', "byte {i}");
    }
}

#[test]
fn truncations_and_additions_fail() {
    for v in load() {
        let verifier: Verifier = v.verifier_key.parse().unwrap();
        let text = &v.signed_note;
        for end in 0..text.len() {
            if text.is_char_boundary(end) {
                assert!(
                    open_note(&text[..end], std::slice::from_ref(&verifier)).is_err(),
                    "prefix of {end} bytes"
                );
            }
        }
        for suffix in ["x", "\n", " ", "x\n"] {
            let t = format!("{text}{suffix}");
            assert!(
                open_note(&t, std::slice::from_ref(&verifier)).is_err(),
                "{suffix:?}"
            );
        }
        // Without its final newline the body is no longer what was signed.
        let body_trimmed = text.replacen(&v.body, v.body.trim_end_matches('\n'), 1);
        assert!(open_note(&body_trimmed, std::slice::from_ref(&verifier)).is_err());
        // A hyphen instead of the em dash is not a signature line.
        let hyphen = text.replace('\u{2014}', "-");
        let e = open_note(&hyphen, std::slice::from_ref(&verifier)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed);
    }
}

// ---------------------------------------------------------------------------------------
// Go interop: only with TRAILSEAL_GO_INTEROP=1 (needs Go and the module proxy or a warm
// module cache).

fn go_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/go-interop")
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run the Go interop program");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn go_interop() {
    if std::env::var("TRAILSEAL_GO_INTEROP").as_deref() != Ok("1") {
        eprintln!("go_interop: skipped (set TRAILSEAL_GO_INTEROP=1 to run it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("interop");
    let (ok, _, err) = run(Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(go_dir()));
    assert!(ok, "go build failed: {err}");

    // A key made by Go's note.GenerateKey loads here, and round-trips byte for byte.
    let (ok, out, err) = run(Command::new(&bin).args(["-genkey", "interop.example/log"]));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (skey, vkey) = (lines[0], lines[1]);
    let signer = Signer::from_key_string(skey).unwrap();
    assert_eq!(signer.to_key_string().unwrap(), skey);
    assert_eq!(signer.verifier().to_key_string(), vkey);
    assert_eq!(vkey.parse::<Verifier>().unwrap(), signer.verifier());
    assert_eq!(signer.name(), "interop.example/log");

    // Go's note.Open verifies checkpoints signed here with that key.
    let mut cp = Checkpoint::new("interop.example/log", 1234, [0x17; 32]);
    let note_path = tmp.path().join("checkpoint.note");
    std::fs::write(&note_path, cp.sign(&signer).unwrap()).unwrap();
    let (ok, out, err) = run(Command::new(&bin)
        .args(["-vkey", vkey, "-note"])
        .arg(&note_path));
    assert!(ok, "{err}");
    assert!(out.contains("size=1234"), "{out}");

    cp.extensions = vec!["ext one".into(), "ext two".into()];
    cp.origin = "another.example/origin".into();
    std::fs::write(&note_path, cp.sign(&signer).unwrap()).unwrap();
    let (ok, _, err) = run(Command::new(&bin)
        .args(["-vkey", vkey, "-note"])
        .arg(&note_path));
    assert!(ok, "{err}");

    // And refuses a tampered one.
    let tampered = cp.sign(&signer).unwrap().replacen("1234", "1235", 1);
    std::fs::write(&note_path, tampered).unwrap();
    let (ok, _, _) = run(Command::new(&bin)
        .args(["-vkey", vkey, "-note"])
        .arg(&note_path));
    assert!(!ok, "Go accepted a tampered note");

    // Every vector opens in Go too.
    for v in load() {
        std::fs::write(&note_path, &v.signed_note).unwrap();
        let (ok, _, err) = run(Command::new(&bin)
            .args(["-vkey", &v.verifier_key, "-note"])
            .arg(&note_path));
        assert!(ok, "{err}");
    }

    // The proof checks: SPEC JSON from the sha256 vectors, good and tampered.
    let merkle: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/merkle-sha256.json"
    )))
    .unwrap();
    let proof_path = tmp.path().join("proof.json");
    for (kind, flag) in [("inclusion", "-inclusion"), ("consistency", "-consistency")] {
        let all = merkle[kind].as_array().unwrap();
        for p in all.iter().step_by(37).chain(all.last()) {
            std::fs::write(&proof_path, p.to_string()).unwrap();
            let (ok, _, err) = run(Command::new(&bin).arg(flag).arg(&proof_path));
            assert!(ok, "{kind} {p}: {err}");

            let mut bad = p.clone();
            let root = if kind == "inclusion" {
                "root"
            } else {
                "new_root"
            };
            let mut r = bad[root].as_str().unwrap().to_owned();
            r.replace_range(0..1, if r.starts_with('0') { "1" } else { "0" });
            bad[root] = Value::from(r);
            std::fs::write(&proof_path, bad.to_string()).unwrap();
            let (ok, _, _) = run(Command::new(&bin).arg(flag).arg(&proof_path));
            assert!(!ok, "Go accepted a tampered {kind} proof");
        }
    }
    let empty = merkle["empty_root"].as_str().unwrap();
    let from_zero = serde_json::json!({"hash": "sha256", "old_size": 0, "new_size": 5,
        "old_root": empty, "new_root": merkle["roots"][4], "path": []});
    std::fs::write(&proof_path, from_zero.to_string()).unwrap();
    let (ok, _, err) = run(Command::new(&bin).arg("-consistency").arg(&proof_path));
    assert!(ok, "{err}");
}
