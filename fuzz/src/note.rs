//! Target `note`: arbitrary text as a signed note, a checkpoint note and a checkpoint body.
//!
//! Nothing panics; refusals are `malformed` or `verification_failed`; whatever opens was
//! really signed by a known key; a checkpoint body that parses is canonical (it re-encodes to
//! the same text) and survives signing and verifying; a body that `sign_note` accepts opens
//! again with the same bytes.

use std::sync::LazyLock;

use trailseal::note::{open_note, sign_note, Note, Signer, Verifier};
use trailseal::{Checkpoint, ErrorCode};

/// The signer of `tests/vectors/signed-note.json` (seed 00 01 .. 1f), so its notes verify;
/// and the verifiers known to the target: that key's and a witness's.
static KEYS: LazyLock<(Signer, Vec<Verifier>)> = LazyLock::new(|| {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let signer = Signer::from_seed("example.com/audit/payments", seed).expect("valid name");
    let witness = Signer::from_seed("witness.example", [42; 32]).expect("valid name");
    let verifiers = vec![signer.verifier(), witness.verifier()];
    (signer, verifiers)
});

fn refused(e: &trailseal::Error, allowed: &[ErrorCode]) {
    assert!(allowed.contains(&e.code()), "unexpected error code: {e}");
}

/// The target.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (signer, verifiers) = &*KEYS;

    let parsed = Note::parse(text);
    match &parsed {
        Ok(n) => {
            assert!(n.body.ends_with('\n'), "body without its newline");
            assert!(
                text.starts_with(&n.body),
                "body is not a prefix of the text"
            );
            assert!(!n.signatures.is_empty() && n.signatures.len() <= 100);
        }
        Err(e) => refused(e, &[ErrorCode::Malformed]),
    }

    match open_note(text, verifiers) {
        Ok(n) => {
            let p = parsed.as_ref().expect("a note that opens also parses");
            assert_eq!(n.body, p.body);
            assert!(!n.signatures.is_empty(), "opened without a signature");
            for s in &n.signatures {
                let v = verifiers
                    .iter()
                    .find(|v| v.name() == s.name && v.key_hash() == s.key_hash)
                    .expect("a verified signature names a known key");
                let sig: &[u8; 64] = s.signature.as_slice().try_into().expect("64 bytes");
                assert!(
                    v.verify(n.body.as_bytes(), sig),
                    "verified signature does not verify"
                );
            }
        }
        Err(e) => refused(&e, &[ErrorCode::Malformed, ErrorCode::VerificationFailed]),
    }

    match Checkpoint::verify(text, &verifiers[0]) {
        Ok(cp) => {
            let body = &parsed.as_ref().expect("opened, so parsed").body;
            assert_eq!(&cp.to_body(), body, "checkpoint body is not canonical");
        }
        Err(e) => refused(&e, &[ErrorCode::Malformed, ErrorCode::VerificationFailed]),
    }

    match Checkpoint::parse_body(text) {
        Ok(cp) => {
            assert_eq!(
                cp.to_body(),
                text,
                "a parsed checkpoint body re-encodes differently"
            );
            let signed = cp.sign(signer).expect("a parsed checkpoint can be signed");
            let back = Checkpoint::verify(&signed, &verifiers[0]).expect("own note verifies");
            assert_eq!(back, cp);
        }
        Err(e) => refused(&e, &[ErrorCode::Malformed]),
    }

    match sign_note(text, &[signer]) {
        Ok(signed) => {
            let n = open_note(&signed, verifiers).expect("own note opens");
            assert_eq!(n.body, text, "signed body changed");
            assert_eq!(n.signatures.len(), 1);
        }
        Err(e) => refused(&e, &[ErrorCode::Malformed]),
    }
}
