//! Target `keys`: arbitrary text as a signer key string and as a verifier key string, and
//! arbitrary bytes as a seed and key name.
//!
//! Nothing panics; refusals are `malformed`; a key that parses re-encodes to an equivalent
//! string that parses to the same key, signs and verifies; errors about a signer key never
//! quote its secret part.

use trailseal::note::{Signer, Verifier};
use trailseal::ErrorCode;

/// Equal, but for the case of the 8 hex digits of the key hash (Go parses either case).
fn same_key_string(ours: &str, given: &str, hash_field: usize) {
    let a: Vec<&str> = ours.split('+').collect();
    let b: Vec<&str> = given.split('+').collect();
    let same = a.len() == b.len()
        && a.iter().zip(&b).enumerate().all(|(i, (x, y))| {
            if i == hash_field {
                x.eq_ignore_ascii_case(y)
            } else {
                x == y
            }
        });
    assert!(
        same,
        "key string re-encodes as {ours:?}, was given {given:?}"
    );
}

fn check_signer(s: &Signer) {
    let skey = s.to_key_string().expect("a key from a key string has one");
    let again = Signer::from_key_string(&skey).expect("own signer key parses");
    assert_eq!(again.to_key_string().expect("a parsed key has one"), skey);
    assert_eq!((again.name(), again.key_hash()), (s.name(), s.key_hash()));
    let v = s.verifier();
    let parsed = Verifier::from_key_string(&v.to_key_string()).expect("own verifier key parses");
    assert_eq!(parsed, v);
    let sig = s.sign(b"message").expect("an in-memory key signs");
    assert!(v.verify(b"message", &sig));
    assert!(!v.verify(b"messagf", &sig));
}

/// The target.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let trimmed = text.trim();

    match Signer::from_key_string(&text) {
        Ok(s) => {
            check_signer(&s);
            let skey = s.to_key_string().expect("a parsed key has one");
            same_key_string(&skey, trimmed, 3);
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::Malformed, "{e}");
            // The key data (the secret seed) must never appear in a message. It may appear by
            // chance in the message's own words ("PRIVATE+KEY+"), so it counts only if the
            // message for the same string with other key data does not contain it too.
            if let Some(secret) = trimmed.splitn(5, '+').nth(4) {
                let message = e.to_string();
                if secret.len() >= 8 && message.contains(secret) {
                    let start = trimmed.len() - secret.len();
                    let other = format!("{}{}", &trimmed[..start], "!".repeat(secret.len()));
                    let baseline = Signer::from_key_string(&other)
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    assert!(baseline.contains(secret), "error quotes the secret: {e}");
                }
            }
        }
    }

    match Verifier::from_key_string(&text) {
        Ok(v) => {
            let s = v.to_key_string();
            same_key_string(&s, trimmed, 1);
            assert_eq!(Verifier::from_key_string(&s).expect("own key parses"), v);
            assert_eq!(s.parse::<Verifier>().expect("FromStr"), v);
        }
        Err(e) => assert_eq!(e.code(), ErrorCode::Malformed, "{e}"),
    }

    if data.len() >= 32 {
        let seed: [u8; 32] = data[..32].try_into().expect("32 bytes");
        let name = String::from_utf8_lossy(&data[32..]);
        match Signer::from_seed(&name, seed) {
            Ok(s) => check_signer(&s),
            Err(e) => assert_eq!(e.code(), ErrorCode::Malformed, "{e}"),
        }
    }
}
