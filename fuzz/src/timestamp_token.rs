//! Target `timestamp_token`: arbitrary bytes as an RFC 3161 time-stamp token (first byte even)
//! or a whole TimeStampResp (first byte odd), checked against a fixed note and two CAs (the
//! ECDSA and RSA test CAs of `data/timestamp_token/`, which issued the seeds' TSAs).
//!
//! Nothing panics; a token is refused as `malformed` or `verification_failed` (a response
//! also as `io`: a TSA answering garbage or refusing); a token accepted for the note is
//! refused for any other note, and under at most one of the two CAs.

use trailseal::timestamp_token::{verify_timestamp_response, verify_timestamp_token};
use trailseal::ErrorCode;

const NOTE: &[u8] = include_bytes!("../data/timestamp_token/note.txt");
const CAS: [&[u8]; 2] = [
    include_bytes!("../data/timestamp_token/ca-ec.pem"),
    include_bytes!("../data/timestamp_token/ca-rsa.pem"),
];

fn refused(e: &trailseal::Error, allowed: &[ErrorCode]) {
    assert!(allowed.contains(&e.code()), "unexpected error code: {e}");
}

/// The target.
pub fn run(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let mut accepted = 0;
    for ca in CAS {
        let ok = if mode % 2 == 0 {
            let r = verify_timestamp_token(bytes, NOTE, ca);
            if let Err(e) = &r {
                refused(e, &[ErrorCode::Malformed, ErrorCode::VerificationFailed]);
            }
            r.is_ok()
        } else {
            let r = verify_timestamp_response(bytes, NOTE, ca);
            match &r {
                Err(e) => refused(
                    e,
                    &[
                        ErrorCode::Malformed,
                        ErrorCode::VerificationFailed,
                        ErrorCode::Io,
                    ],
                ),
                Ok(granted) => {
                    // The token kept from a response is a token in its own right.
                    verify_timestamp_token(&granted.token, NOTE, ca)
                        .expect("the token of an accepted response verifies alone");
                }
            }
            r.is_ok()
        };
        if ok {
            accepted += 1;
            if mode % 2 == 0 {
                let e = verify_timestamp_token(bytes, b"another note\n", ca)
                    .expect_err("a token accepted for two notes");
                refused(&e, &[ErrorCode::VerificationFailed]);
            }
        }
    }
    assert!(accepted <= 1, "a token accepted under two unrelated CAs");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The valid seeds keep the accepting path in the corpus: each is a token or response of
    /// the seeds' TSAs for `NOTE`, accepted under its own CA and no other.
    #[test]
    fn valid_seeds_are_accepted_under_their_ca() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/timestamp_token");
        for (file, ca) in [
            ("token-ec.bin", 0),
            ("token-rsa.bin", 1),
            ("response-ec.bin", 0),
            ("response-rsa.bin", 1),
        ] {
            let data = std::fs::read(dir.join(file)).unwrap();
            let (mode, bytes) = data.split_first().unwrap();
            for (i, pem) in CAS.iter().enumerate() {
                let ok = if mode % 2 == 0 {
                    verify_timestamp_token(bytes, NOTE, pem).is_ok()
                } else {
                    verify_timestamp_response(bytes, NOTE, pem).is_ok()
                };
                assert_eq!(ok, i == ca, "{file} under CA {i}");
            }
        }
    }
}
