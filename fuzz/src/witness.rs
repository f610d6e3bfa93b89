//! Target `witness`: arbitrary text as a cosignature line, a witness key, a witness's answer
//! (as 200, 409 and 403), a cosigned checkpoint under a quorum of two, and a C2SP tlog-policy
//! file (refused as `malformed` or parsed; a parsed one opens the seeds' note or refuses it).
//!
//! Nothing panics; a line or key that parses writes back to a form that parses to the same
//! value; a 409 answer that parses is the canonical spelling of its size; a 200 answer that
//! parses is signature lines only; a cosigned note that passes the policy really carries two
//! valid cosignatures of the policy's witnesses, and refusals are `malformed` or
//! `verification_failed`.

use std::sync::LazyLock;

use trailseal::note::{Note, Signer};
use trailseal::witness::client::{parse_answer, Answer};
use trailseal::witness::{
    verify_cosigned, Cosignature, Cosigner, CosignerKey, TlogPolicy, WitnessPolicy,
};
use trailseal::ErrorCode;

/// The log key of the `note` target and two witnesses, so the seeds' notes verify.
static KEYS: LazyLock<(Signer, Vec<Cosigner>, WitnessPolicy)> = LazyLock::new(|| {
    let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
    let log = Signer::from_seed("example.com/audit/payments", seed).expect("valid name");
    let w = vec![
        Cosigner::from_seed("w1.example", [1; 32]).expect("valid name"),
        Cosigner::from_seed("w2.example", [2; 32]).expect("valid name"),
    ];
    let keys: Vec<String> = w.iter().map(|c| c.key().to_key_string()).collect();
    let policy = WitnessPolicy::from_keys(&keys, Some(2)).expect("two distinct keys");
    (log, w, policy)
});

/// The target.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (log, witnesses, policy) = &*KEYS;

    if let Ok(c) = Cosignature::parse_line(text) {
        let again = Cosignature::parse_line(&c.to_line()).expect("a written line parses");
        assert_eq!(again, c);
        for w in witnesses {
            let _ = w.key().verifies(&c, text);
        }
    }

    if let Ok(k) = CosignerKey::from_key_string(text) {
        let again = CosignerKey::from_key_string(&k.to_key_string()).expect("round trip");
        assert_eq!(again, k);
    }

    match parse_answer(409, text) {
        Ok(Answer::Conflict(n)) => assert!(text == format!("{n}\n") || text == n.to_string()),
        Ok(other) => panic!("a 409 read as {other:?}"),
        Err(_) => {}
    }
    match parse_answer(200, text) {
        Ok(Answer::Cosigned(lines)) => {
            assert!(!lines.is_empty());
            assert!(lines
                .iter()
                .all(|l| l.starts_with("\u{2014} ") && !l.contains('\n')));
        }
        Ok(other) => panic!("a 200 read as {other:?}"),
        Err(_) => {}
    }
    assert!(matches!(
        parse_answer(403, text),
        Ok(Answer::Refused(403, _))
    ));

    match TlogPolicy::parse(text) {
        Ok(p) => {
            let note = include_str!("../seeds/witness/cosigned-two.note");
            if let Err(e) = p.verify(note, Some(&log.verifier())) {
                assert!(
                    matches!(
                        e.code(),
                        ErrorCode::Malformed | ErrorCode::VerificationFailed
                    ),
                    "unexpected error code: {e}"
                );
            }
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::Malformed, "{e}"),
    }

    match verify_cosigned(text, &log.verifier(), policy) {
        Ok(c) => {
            assert_eq!(c.cosignatures.len(), 2);
            let body = Note::parse(text).expect("it opened").body;
            for cs in &c.cosignatures {
                assert!(policy.witnesses.iter().any(|w| w.verifies(cs, &body)));
            }
        }
        Err(e) => assert!(
            matches!(
                e.code(),
                ErrorCode::Malformed | ErrorCode::VerificationFailed
            ),
            "unexpected error code: {e}"
        ),
    }
}
