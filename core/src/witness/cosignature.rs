//! C2SP tlog-cosignature v1 with Ed25519: a witness's timestamped signature over a checkpoint
//! body, carried as one more signature line of the checkpoint's signed note.
//!
//! A line is `— <witness name> base64(key id || timestamp || signature)` with a 4-byte key id
//! (`SHA-256(name || "\n" || 0x04 || public key)[:4]`), an 8-byte big-endian POSIX timestamp
//! and a 64-byte Ed25519 signature of
//!
//! ```text
//! cosignature/v1
//! time <timestamp>
//! <the whole checkpoint body, extension lines included>
//! ```
//!
//! The type byte 0x04 (a log key is 0x01) keeps a witness key and a log key apart: the same
//! bytes under another type give another key id, so neither signature reads as the other.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signer as _;

use crate::error::{Error, Result};
use crate::note::{check_name, key_hash_for, parse_vkey, SIG_BASE64, SIG_PREFIX};

/// The signature type byte of Ed25519 cosignatures (tlog-cosignature v1).
pub const COSIGNATURE_V1: u8 = 0x04;

/// Key id, timestamp, signature.
const LINE_BYTES: usize = 4 + 8 + 64;

/// The spec caps timestamps at 2^63 - 1, so that they fit a signed 64-bit time everywhere.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The public key of a witness: `<name>+<key id, 8 hex>+<base64(0x04 || 32-byte key)>`, the
/// C2SP vkey form with signature type 0x04 (what Go's `note.NewVerifierForCosignatureV1` and
/// litewitness print).
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    hash: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignerKey {
    /// Parses a witness vkey. Refused ([`Error::Malformed`]): a name Go's note package would
    /// refuse, a key id that is not 8 hex digits or does not match, key data that is not
    /// base64 of the type byte and 32 bytes, a key that is not an Ed25519 point.
    ///
    /// A plain Ed25519 vkey (type 0x01) is taken as the witness's key, as Go's
    /// `NewVerifierForCosignatureV1` takes it: its cosignatures are then matched under the
    /// type-0x04 key id. (A log's own key given by mistake matches no cosignature line.)
    pub fn from_key_string(vkey: &str) -> Result<Self> {
        match parse_vkey(vkey, "witness key", COSIGNATURE_V1) {
            Ok((name, hash, key)) => Ok(CosignerKey { name, hash, key }),
            Err(e) => match parse_vkey(vkey, "witness key", 1) {
                Ok((name, _, key)) => CosignerKey::from_public_key(&name, key.to_bytes()),
                Err(_) => Err(e),
            },
        }
    }

    /// A witness key from its name and raw 32-byte Ed25519 public key.
    pub fn from_public_key(name: &str, public: [u8; 32]) -> Result<Self> {
        check_name(name).map_err(|r| Error::malformed("witness key", r.to_owned()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| {
            Error::malformed("witness key", "the public key is not a valid Ed25519 point")
        })?;
        Ok(CosignerKey {
            name: name.to_owned(),
            hash: key_hash_for(name, COSIGNATURE_V1, &public),
            key,
        })
    }

    /// Whether `cosig` is this witness's and verifies over `body` (a checkpoint note body,
    /// final newline included). A line of another key is `false`, never an error.
    pub fn verifies(&self, cosig: &Cosignature, body: &str) -> bool {
        if cosig.name != self.name || cosig.key_hash != self.hash {
            return false;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&cosig.signature);
        self.key
            .verify_strict(&signed_message(cosig.timestamp, body), &sig)
            .is_ok()
    }
}

crate::note::key_string_traits!(CosignerKey, COSIGNATURE_V1);

/// One cosignature, parsed but not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The witness's name.
    pub name: String,
    /// The key id the line names.
    pub key_hash: u32,
    /// When the witness signed, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// The Ed25519 signature over [`signed_message`].
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Parses one note signature line (with or without its final newline) as a cosignature.
    ///
    /// Refused ([`Error::Malformed`]): a line not starting with `— `, an invalid name,
    /// a signature that is not base64 of exactly 76 bytes (key id, timestamp, Ed25519
    /// signature), a timestamp above 2^63 - 1.
    pub fn parse_line(line: &str) -> Result<Self> {
        let bad = |reason: &str| Error::malformed("cosignature", reason.to_owned());
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("the line does not start with \"— \""))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("expected \"— <name> <base64>\""))?;
        check_name(name).map_err(bad)?;
        let raw = SIG_BASE64
            .decode(b64)
            .map_err(|_| bad("the signature is not standard padded base64"))?;
        if raw.len() != LINE_BYTES {
            return Err(bad(
                "not an Ed25519 cosignature/v1: expected 76 bytes (key id, timestamp, signature)",
            ));
        }
        let mut id = [0u8; 4];
        let mut time = [0u8; 8];
        let mut signature = [0u8; 64];
        id.copy_from_slice(&raw[..4]);
        time.copy_from_slice(&raw[4..12]);
        signature.copy_from_slice(&raw[12..]);
        let timestamp = u64::from_be_bytes(time);
        if timestamp > MAX_TIMESTAMP {
            return Err(bad("the timestamp is above 2^63 - 1"));
        }
        Ok(Cosignature {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes(id),
            timestamp,
            signature,
        })
    }

    /// The note signature line, without its newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(LINE_BYTES);
        raw.extend_from_slice(&self.key_hash.to_be_bytes());
        raw.extend_from_slice(&self.timestamp.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}", self.name, STANDARD.encode(raw))
    }

    /// `{"witness", "key_hash", "timestamp", "line"}`: the shape every front end prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "witness": self.name,
            "key_hash": format!("{:08x}", self.key_hash),
            "timestamp": self.timestamp,
            "line": self.to_line(),
        })
    }
}

/// The message a cosignature signs: `cosignature/v1\ntime <t>\n` and the checkpoint body.
pub fn signed_message(timestamp: u64, body: &str) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(body.as_bytes());
    msg
}

/// A witness's signing key, for tests and for running a witness of one's own: trailseal's
/// client never holds one.
pub struct Cosigner {
    key: CosignerKey,
    signing: ed25519_dalek::SigningKey,
}

impl Cosigner {
    /// A cosigner named `name` with the Ed25519 key of `seed`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self> {
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let key = CosignerKey::from_public_key(name, signing.verifying_key().to_bytes())?;
        Ok(Cosigner { key, signing })
    }

    /// Its public key.
    pub fn key(&self) -> &CosignerKey {
        &self.key
    }

    /// Cosigns a checkpoint `body` at `timestamp`.
    pub fn cosign(&self, body: &str, timestamp: u64) -> Result<Cosignature> {
        if timestamp > MAX_TIMESTAMP {
            return Err(Error::InvalidArgument(
                "a cosignature timestamp must not exceed 2^63 - 1".into(),
            ));
        }
        let sig = self.signing.sign(&signed_message(timestamp, body));
        Ok(Cosignature {
            name: self.key.name.clone(),
            key_hash: self.key.hash,
            timestamp,
            signature: sig.to_bytes(),
        })
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cosigner").field(&self.key.name).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const BODY: &str = "example.com/log\n3\nKgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    #[test]
    fn round_trip_and_verify() {
        let w = Cosigner::from_seed("witness.example/w1", [9; 32]).unwrap();
        let key: CosignerKey = w.key().to_key_string().parse().unwrap();
        assert_eq!(&key, w.key());
        let c = w.cosign(BODY, 1_679_315_147).unwrap();
        let parsed = Cosignature::parse_line(&c.to_line()).unwrap();
        assert_eq!(parsed, c);
        assert!(key.verifies(&parsed, BODY));
        assert!(!key.verifies(&parsed, "example.com/log\n4\n"));
        let mut later = parsed.clone();
        later.timestamp += 1;
        assert!(!key.verifies(&later, BODY));
        let other = Cosigner::from_seed("witness.example/w2", [9; 32]).unwrap();
        assert!(!other.key().verifies(&parsed, BODY));
    }

    #[test]
    fn message_is_the_spec_one() {
        assert_eq!(
            signed_message(1_679_315_147, BODY),
            format!("cosignature/v1\ntime 1679315147\n{BODY}").into_bytes()
        );
    }

    #[test]
    fn refuses_bad_keys_and_lines() {
        // A type-0x01 vkey is the same Ed25519 key, matched under its 0x04 id (as in Go).
        let plain = crate::note::Signer::from_seed("w.example", [1; 32]).unwrap();
        let as_witness = CosignerKey::from_key_string(&plain.verifier().to_key_string()).unwrap();
        assert_eq!(
            as_witness,
            Cosigner::from_seed("w.example", [1; 32])
                .unwrap()
                .key()
                .clone()
        );
        for bad in ["", "w+00000000", "w+zz+AA==", "w+00000000+BAAA"] {
            assert!(CosignerKey::from_key_string(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "— w",
            "- w AAAA",
            "— w AAAA",
            "— w !!!!",
            "— w\tAAAA",
            // A log signature (4 + 64 bytes) is not a cosignature.
            &format!("— w {}", STANDARD.encode([0u8; 68])),
        ] {
            assert_eq!(
                Cosignature::parse_line(bad).unwrap_err().code(),
                ErrorCode::Malformed,
                "{bad:?}"
            );
        }
        let mut raw = [0u8; LINE_BYTES];
        raw[4] = 0x80;
        let line = format!("— w {}", STANDARD.encode(raw));
        assert!(Cosignature::parse_line(&line).is_err());
    }
}
