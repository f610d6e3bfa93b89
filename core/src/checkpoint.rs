//! C2SP tlog checkpoints: the signed statement "this log, at this size, has this root".
//!
//! A checkpoint body is
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, standard padded base64>
//! [extension lines]
//! ```
//!
//! and is signed as a C2SP signed note (see [`crate::note`]). Parsing is strict so that one
//! checkpoint has exactly one body: the size must be canonical decimal and the root canonical
//! base64, which is also what Go's `tlog.ParseTree` demands of the size line.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::{Error, Result};
use crate::merkle::Hash;
use crate::note::{open_note, sign_note, Signer, Verifier};

/// A tree head: the log's `origin`, the tree `size` and its `root` hash, plus any extension
/// lines.
///
/// # Example
///
/// ```
/// use trailseal::checkpoint::Checkpoint;
/// use trailseal::note::Signer;
///
/// let signer = Signer::from_seed("example.com/audit/payments", [7; 32])?;
/// let cp = Checkpoint::new("example.com/audit/payments", 8, [0x5d; 32]);
///
/// let note = cp.sign(&signer)?;
/// assert!(note.starts_with("example.com/audit/payments\n8\nXV1d"));
///
/// // An auditor holding only the public key:
/// let verified = Checkpoint::verify(&note, &signer.verifier())?;
/// assert_eq!(verified, cp);
/// # Ok::<(), trailseal::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log uniquely, e.g. `example.com/payments/audit`. Non-empty, one line.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// Root hash of the tree over those leaves.
    pub root: Hash,
    /// Extension lines after the root, in order, without their newlines. Each is non-empty.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// `{"origin", "size", "root" (hex), "extensions": [...]}`: the shape every binding returns
    /// for a verified checkpoint.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "origin": self.origin,
            "size": self.size,
            "root": crate::merkle::to_hex(&self.root),
            "extensions": self.extensions,
        })
    }

    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note body: `<origin>\n<size>\n<base64 root>\n` followed by each extension line
    /// and a newline.
    ///
    /// This does not validate the fields; [`Checkpoint::sign`] does, before signing.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for ext in &self.extensions {
            body.push_str(ext);
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body (the text of a signed note, without its signatures).
    ///
    /// Refused with [`Error::Malformed`]: a body that is not newline-terminated, has fewer
    /// than three lines, or contains a control character other than newline; an empty
    /// origin; a size that is not canonical decimal (digits only, no leading zero except
    /// `0` itself, at most `u64::MAX`); a root that is not canonical standard padded base64
    /// of exactly 32 bytes; an empty extension line.
    pub fn parse_body(body: &str) -> Result<Self> {
        let bad = |reason: String| Error::malformed("checkpoint", reason);
        let Some(text) = body.strip_suffix('\n') else {
            return Err(bad("the body is not newline-terminated".into()));
        };
        // A signed note cannot carry these, so a body holding one did not come from a note.
        if let Some(at) = text.find(|c: char| c < ' ' && c != '\n') {
            return Err(bad(format!("control character at byte {at}")));
        }
        let mut lines = text.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the origin line is empty".into()));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| bad("missing the tree size line".into()))?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad("missing the root hash line".into()))?;
        let size = parse_size(size_line).ok_or_else(|| {
            bad("the tree size is not a canonical decimal number that fits in 64 bits".into())
        })?;
        let root = STANDARD
            .decode(root_line)
            .ok()
            .and_then(|raw| Hash::try_from(raw.as_slice()).ok())
            .ok_or_else(|| bad("the root hash is not standard padded base64 of 32 bytes".into()))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(bad("empty extension line".into()));
            }
            extensions.push(line.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint and returns the signed note text.
    ///
    /// The fields are checked first, by parsing back the body, so that nothing is signed
    /// that a verifier would refuse or read differently (an empty origin, a newline in the
    /// origin or an extension, an empty extension): [`Error::Malformed`].
    pub fn sign(&self, signer: &Signer) -> Result<String> {
        let body = self.to_body();
        if Checkpoint::parse_body(&body)? != *self {
            return Err(Error::malformed(
                "checkpoint",
                "a newline in the origin or an extension line would change its meaning",
            ));
        }
        sign_note(&body, &[signer])
    }

    /// Opens a signed checkpoint: checks the note's signature by `verifier` (see
    /// [`open_note`]), then parses its body.
    ///
    /// Does not compare the origin with the key name: C2SP lets them differ, so checking
    /// that the origin is the expected log is the caller's job.
    pub fn verify(note: &str, verifier: &Verifier) -> Result<Checkpoint> {
        let opened = open_note(note, std::slice::from_ref(verifier))?;
        Checkpoint::parse_body(&opened.body)
    }
}

/// Canonical decimal only, so that a size has one spelling (as Go's `tlog.ParseTree`
/// insists): `u64::from_str` alone would take `+5` and `007`.
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const EMPTY_ROOT_B64: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn signer() -> Signer {
        Signer::from_seed("example.com/log", [5; 32]).unwrap()
    }

    fn body(origin: &str, size: &str, root: &str, ext: &[&str]) -> String {
        let mut b = format!("{origin}\n{size}\n{root}\n");
        for e in ext {
            b.push_str(e);
            b.push('\n');
        }
        b
    }

    fn malformed(body: &str) {
        let e = Checkpoint::parse_body(body).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed, "{body:?}: {e}");
    }

    #[test]
    fn round_trip() {
        let mut cp = Checkpoint::new("example.com/log", 42, [0xab; 32]);
        assert_eq!(Checkpoint::parse_body(&cp.to_body()).unwrap(), cp);
        cp.extensions = vec!["one".into(), "two words \u{2014} and more".into()];
        let b = cp.to_body();
        assert!(b.ends_with("\none\ntwo words \u{2014} and more\n"), "{b:?}");
        assert_eq!(Checkpoint::parse_body(&b).unwrap(), cp);
        let max = Checkpoint::new("o", u64::MAX, [0; 32]);
        assert_eq!(Checkpoint::parse_body(&max.to_body()).unwrap(), max);
    }

    #[test]
    fn parses_known_body() {
        let cp = Checkpoint::parse_body(&body("o", "0", EMPTY_ROOT_B64, &[])).unwrap();
        assert_eq!(cp.size, 0);
        assert_eq!(
            hex::encode(cp.root),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(cp.extensions.is_empty());
    }

    #[test]
    fn bad_bodies() {
        let r = EMPTY_ROOT_B64;
        malformed("");
        malformed("\n");
        malformed(body("o", "1", r, &[]).trim_end_matches('\n'));
        malformed("o\n1\n");
        malformed("o\n");
        malformed(&body("", "1", r, &[]));
        for size in [
            "",
            "-1",
            "+1",
            "01",
            "00",
            " 1",
            "1 ",
            "0x10",
            "1_000",
            "1.0",
            "١",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            malformed(&body("o", size, r, &[]));
        }
        for root in [
            "",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", // no padding
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", // URL alphabet
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", // non-zero unused bits
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hS",    // 30 bytes
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA", // 33 bytes
            " 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            malformed(&body("o", "1", root, &[]));
        }
        malformed(&body("o", "1", r, &[""]));
        malformed(&body("o", "1", r, &["a", "", "b"]));
        malformed(&body("o", "1", r, &["a"]).replace("a\n", "a\n\n"));
        malformed(&body("o\r", "1", r, &[]));
        malformed(&body("o", "1", r, &["tab\there"]));
        // CRLF line endings are not a checkpoint.
        malformed(&body("o", "1", r, &[]).replace('\n', "\r\n"));
    }

    #[test]
    fn origin_may_hold_anything_printable() {
        // The origin is not a key name: '+' and spaces are allowed.
        let cp =
            Checkpoint::parse_body(&body("ci.example.org+release x", "5", EMPTY_ROOT_B64, &[]))
                .unwrap();
        assert_eq!(cp.origin, "ci.example.org+release x");
    }

    #[test]
    fn sign_and_verify() {
        let s = signer();
        let mut cp = Checkpoint::new("example.com/log", 3, [1; 32]);
        cp.extensions.push("ext".into());
        let note = cp.sign(&s).unwrap();
        assert!(note.starts_with(&cp.to_body()));
        assert_eq!(Checkpoint::verify(&note, &s.verifier()).unwrap(), cp);

        // Origin and key name may differ.
        let other_origin = Checkpoint::new("another.example/log", 3, [1; 32]);
        let note2 = other_origin.sign(&s).unwrap();
        assert_eq!(
            Checkpoint::verify(&note2, &s.verifier()).unwrap(),
            other_origin
        );
    }

    #[test]
    fn verify_rejects() {
        let s = signer();
        let cp = Checkpoint::new("example.com/log", 3, [1; 32]);
        let note = cp.sign(&s).unwrap();

        let other = Signer::from_seed("example.com/log", [6; 32]).unwrap();
        let e = Checkpoint::verify(&note, &other.verifier()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);

        let tampered = note.replacen("\n3\n", "\n4\n", 1);
        let e = Checkpoint::verify(&tampered, &s.verifier()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);

        let e = Checkpoint::verify(&cp.to_body(), &s.verifier()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed);

        // A validly signed note whose body is not a checkpoint.
        let not_cp = sign_note("hello\n", &[&s]).unwrap();
        let e = Checkpoint::verify(&not_cp, &s.verifier()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed);
        let bad_size = sign_note(&body("o", "007", EMPTY_ROOT_B64, &[]), &[&s]).unwrap();
        let e = Checkpoint::verify(&bad_size, &s.verifier()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Malformed);
    }

    #[test]
    fn sign_refuses_fields_that_do_not_survive_encoding() {
        let s = signer();
        let mut cases = vec![
            Checkpoint::new("", 1, [0; 32]),
            Checkpoint::new("a\nb", 1, [0; 32]),
            Checkpoint::new("a\tb", 1, [0; 32]),
        ];
        let mut ext_newline = Checkpoint::new("o", 1, [0; 32]);
        ext_newline.extensions.push("x\ny".into());
        cases.push(ext_newline);
        let mut ext_empty = Checkpoint::new("o", 1, [0; 32]);
        ext_empty.extensions.push(String::new());
        cases.push(ext_empty);
        for cp in cases {
            let e = cp.sign(&s).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Malformed, "{cp:?}");
        }
    }
}
