//! Signer and verifier keys and C2SP signed notes, compatible with Go's
//! `golang.org/x/mod/sumdb/note`.
//!
//! A signed note is a UTF-8 text ending in a newline, then an empty line, then one line per
//! signature: `— <key name> <base64(4-byte key hash || Ed25519 signature)>` (the dash is
//! U+2014). Key strings are Go's: a key made by `note.GenerateKey` loads here unchanged, and a
//! note signed here opens with `note.Open`.
//!
//! Parsing follows Go's rules wherever they decide what a verifier accepts (separator,
//! signature-line syntax, lenient base64 of signature lines, the 100-signature limit, only
//! the first line per known key checked, unknown keys ignored), so for honestly made keys a
//! note opens here exactly when it opens in Go. The deliberate differences all refuse more:
//! key names with ASCII control characters (no note signed under one could be opened),
//! verifier keys that are not a valid Ed25519 point (Go accepts the key but no signature can
//! verify), small-order keys and signature nonces (strict Ed25519 verification), and
//! bodies with control characters in [`sign_note`] (Go would sign a note it cannot open).
//! Two more are conveniences: key strings may carry surrounding white space, and the same
//! verifier listed twice is not reported as ambiguous (two *different* keys with one name
//! and hash still are).

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The only algorithm byte Go's note package defines.
const ALG_ED25519: u8 = 1;

/// Go caps signatures per note so that a hostile note cannot make a verifier spin.
const MAX_SIGNATURES: usize = 100;

/// Separates the body from the signature block; the body keeps the first of the two newlines.
const SIG_SPLIT: &str = "\n\n";

/// Every signature line starts with an em dash (U+2014) and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Go decodes signature lines with `base64.StdEncoding`, which requires padding but ignores
/// non-zero bits in the last symbol; a stricter decoder would refuse notes Go accepts.
pub(crate) const SIG_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// `SHA-256(name || "\n" || alg || key)`, first four bytes big-endian: Go's key hash, which
/// binds the name to the key so that a signature line cannot be relabelled.
fn key_hash(name: &str, public_key: &[u8; 32]) -> u32 {
    key_hash_for(name, ALG_ED25519, public_key)
}

/// [`key_hash`] under another signature type byte: C2SP gives each kind of signature its own
/// byte (0x04 for tlog-cosignature v1), so one key cannot be read as another kind.
pub(crate) fn key_hash_for(name: &str, alg: u8, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let sum = h.finalize();
    u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]])
}

/// Go's `isValidName` (non-empty, no Unicode white space, no `+`), plus no ASCII control
/// characters, because a note carrying such a name can never be opened.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        Err("the name is empty")
    } else if name.contains('+') {
        Err("the name contains '+'")
    } else if name.chars().any(char::is_whitespace) {
        Err("the name contains white space")
    } else if name.chars().any(|c| c < ' ') {
        Err("the name contains a control character")
    } else {
        Ok(())
    }
}

/// Go parses the hash with `strconv.ParseUint(s, 16, 32)` after checking the length is 8, so
/// upper-case digits are accepted too (we always write lower case).
pub(crate) fn parse_hash(hex8: &str) -> Option<u32> {
    if hex8.len() != 8 || !hex8.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex8, 16).ok()
}

/// Decodes `base64(0x01 || 32 bytes)`, the key data of both key strings.
///
/// Errors are plain text without the input: the input may be a private key.
fn decode_key_data(b64: &str) -> std::result::Result<[u8; 32], &'static str> {
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| "the key data is not standard padded base64")?;
    match raw.split_first() {
        None => Err("the key data is empty"),
        Some((&ALG_ED25519, key)) => key
            .try_into()
            .map_err(|_| "an Ed25519 key must be 32 bytes"),
        Some(_) => Err("unknown key algorithm (only 1, Ed25519, is defined)"),
    }
}

/// Parses `<name>+<hash>+<base64(alg || 32-byte Ed25519 key)>`, the vkey form of C2SP
/// signed-note, for signature type `alg`: the name as Go's note package takes it, the hash
/// matching name, type and key, the key a valid Ed25519 point (Go defers that to signature
/// checks, which would all fail; refusing early gives a clearer error). Surrounding white
/// space is ignored. Errors are [`Error::Malformed`] naming `what`.
pub(crate) fn parse_vkey(
    vkey: &str,
    what: &'static str,
    alg: u8,
) -> Result<(String, u32, ed25519_dalek::VerifyingKey)> {
    let bad = |reason: &str| Error::malformed(what, reason.to_owned());
    let mut parts = vkey.trim().splitn(3, '+');
    let (Some(name), Some(hash), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected <name>+<hash>+<key data>"));
    };
    check_name(name).map_err(bad)?;
    let hash = parse_hash(hash).ok_or_else(|| bad("the key hash is not 8 hex digits"))?;
    let raw = STANDARD
        .decode(data)
        .map_err(|_| bad("the key data is not standard padded base64"))?;
    let public: [u8; 32] = match raw.split_first() {
        None => return Err(bad("the key data is empty")),
        Some((&t, key)) if t == alg => key
            .try_into()
            .map_err(|_| bad("an Ed25519 key must be 32 bytes"))?,
        Some((&t, _)) => {
            return Err(bad(&format!(
                "the key type is {t:#04x}, not {alg:#04x}{}",
                match (t, alg) {
                    (ALG_ED25519, _) => " (this is a log's signed-note key)",
                    (0x04, _) => " (this is a witness's cosignature/v1 key)",
                    _ => "",
                }
            )))
        }
    };
    if key_hash_for(name, alg, &public) != hash {
        return Err(bad("the key hash does not match the name and key"));
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| bad("the public key is not a valid Ed25519 point"))?;
    Ok((name.to_owned(), hash, key))
}

/// `<name>+<hash>+<base64(alg || key)>`.
pub(crate) fn vkey_string(name: &str, hash: u32, alg: u8, key: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = alg;
    raw[1..].copy_from_slice(key);
    format!("{name}+{hash:08x}+{}", STANDARD.encode(raw))
}

fn encode_key_data(key: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = ALG_ED25519;
    raw[1..].copy_from_slice(key);
    STANDARD.encode(raw)
}

/// An Ed25519 key that signs notes, under a name (typically the log's origin).
///
/// `Debug` and `Display` show only the name and key hash; the seed leaves this type only
/// through [`Signer::to_key_string`].
///
/// # Example
///
/// ```
/// use trailseal::note::{open_note, sign_note, Signer, Verifier};
///
/// let signer = Signer::generate("example.com/audit")?;
/// // The verifier key is what auditors are given; it is safe to publish.
/// let vkey = signer.verifier().to_key_string();
/// let verifier: Verifier = vkey.parse()?;
///
/// let signed = sign_note("hello\n", &[&signer])?;
/// let note = open_note(&signed, &[verifier])?;
/// assert_eq!(note.body, "hello\n");
/// # Ok::<(), trailseal::Error>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    name: String,
    hash: u32,
    key: SignerKey,
}

/// Where a signer's secret is: in our memory (a key file, a generated key), or held outside
/// the process (`crate::keystore`), asked for each signature.
#[derive(Clone)]
enum SignerKey {
    Seed(ed25519_dalek::SigningKey),
    /// The key where it is held, and its public half, decoded once when it was opened.
    Held(
        std::sync::Arc<dyn crate::keystore::HeldKey>,
        ed25519_dalek::VerifyingKey,
    ),
}

impl Signer {
    /// Makes a new key from the operating system's random number generator.
    ///
    /// Fails with [`Error::Malformed`] for an invalid name (empty, or containing white space,
    /// `+` or a control character), and with [`Error::Io`] if no randomness is available.
    pub fn generate(name: &str) -> Result<Self> {
        // Validate first so that a bad name does not consume randomness or hide behind an
        // RNG failure.
        check_name(name).map_err(|r| Error::malformed("key name", r))?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            Error::Io(std::io::Error::other(format!(
                "the system random number generator failed: {e}"
            )))
        })?;
        Self::from_seed(name, seed)
    }

    /// Makes the key whose Ed25519 seed (RFC 8032 private key) is `seed`.
    ///
    /// The same name and seed always give the same key, key hash and signatures.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self> {
        check_name(name).map_err(|r| Error::malformed("key name", r))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let hash = key_hash(name, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            hash,
            key: SignerKey::Seed(key),
        })
    }

    /// The key named by `spec`, held outside the process: `ssh-agent:<key comment or SHA256
    /// fingerprint>` (the agent at `SSH_AUTH_SOCK`) or `pkcs11:<RFC 7512 URI>` (see
    /// `keystore/pkcs11.rs` for the attributes read), signing as `name`. The secret never
    /// enters the process: each signature is asked of the agent or token, and checked
    /// against the key's public half before it is used.
    ///
    /// Refused: a bad name ([`Error::Malformed`]); a spec of neither form, no such key, a key
    /// that is not Ed25519, a wrong PIN ([`Error::InvalidArgument`]); an agent or token that
    /// cannot be reached ([`Error::Io`]).
    pub fn open(spec: &str, name: &str) -> Result<Self> {
        check_name(name).map_err(|r| Error::malformed("key name", r))?;
        let held = crate::keystore::open(spec)?;
        let public = ed25519_dalek::VerifyingKey::from_bytes(&held.public_key()).map_err(|_| {
            Error::InvalidArgument(format!(
                "the {} is not a valid Ed25519 public key",
                held.describe()
            ))
        })?;
        let hash = key_hash(name, public.as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            hash,
            key: SignerKey::Held(held, public),
        })
    }

    /// Parses a signer key string, `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, as
    /// written by Go's `note.GenerateKey` or [`Signer::to_key_string`].
    ///
    /// Surrounding white space is ignored, since key files usually end in a newline. The key
    /// hash must match the name and the public key derived from the seed. Errors never quote
    /// the input.
    pub fn from_key_string(skey: &str) -> Result<Self> {
        let bad = |reason: &str| Error::malformed("signer key", reason.to_owned());
        let mut parts = skey.trim().splitn(5, '+');
        let (Some("PRIVATE"), Some("KEY")) = (parts.next(), parts.next()) else {
            return Err(bad("it does not start with PRIVATE+KEY+"));
        };
        let (Some(name), Some(hash), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected PRIVATE+KEY+<name>+<hash>+<key data>"));
        };
        check_name(name).map_err(bad)?;
        let hash = parse_hash(hash).ok_or_else(|| bad("the key hash is not 8 hex digits"))?;
        let seed = decode_key_data(data).map_err(bad)?;
        let signer = Signer::from_seed(name, seed)?;
        if signer.hash != hash {
            return Err(bad("the key hash does not match the name and key"));
        }
        Ok(signer)
    }

    /// The signer key string, `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    ///
    /// This string is the secret: anyone holding it can sign as this key. A key held outside
    /// the process has none ([`Error::InvalidArgument`]): its secret stays where it is.
    pub fn to_key_string(&self) -> Result<String> {
        match &self.key {
            SignerKey::Seed(key) => Ok(format!(
                "PRIVATE+KEY+{}+{:08x}+{}",
                self.name,
                self.hash,
                encode_key_data(key.as_bytes())
            )),
            SignerKey::Held(held, _) => Err(Error::InvalidArgument(format!(
                "the {} has no key string: its secret never leaves it",
                held.describe()
            ))),
        }
    }

    /// Where the secret is held, when outside the process (`None` for an in-memory key).
    pub fn held_by(&self) -> Option<String> {
        match &self.key {
            SignerKey::Seed(_) => None,
            SignerKey::Held(held, _) => Some(held.describe()),
        }
    }

    /// The key's name, as written in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash: the first four bytes, big-endian, of
    /// `SHA-256(name || "\n" || 0x01 || public key)`.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The matching public verifier.
    pub fn verifier(&self) -> Verifier {
        let key = match &self.key {
            SignerKey::Seed(key) => key.verifying_key(),
            SignerKey::Held(_, public) => *public,
        };
        Verifier {
            name: self.name.clone(),
            hash: self.hash,
            key,
        }
    }

    /// Signs `msg` with plain Ed25519 (RFC 8032, deterministic). A key held outside the
    /// process can fail to sign (an agent or token gone: [`Error::Io`]).
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        match &self.key {
            SignerKey::Seed(key) => Ok(key.sign(msg).to_bytes()),
            SignerKey::Held(held, _) => held.sign(msg),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

/// `<name>+<key hash>`: enough to tell keys apart, nothing secret.
impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:08x}", self.name, self.hash)
    }
}

/// A named Ed25519 public key that checks note signatures.
///
/// Its string form (`Display`, [`FromStr`](std::str::FromStr)) is the verifier key string
/// `<name>+<key hash>+<base64(0x01 || public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier {
    /// Parses a verifier key string, `<name>+<hash>+<base64(0x01 || public key)>`, as written
    /// by Go's `note.GenerateKey` or [`Verifier::to_key_string`].
    ///
    /// Surrounding white space is ignored. The key hash must match the name and key, and the
    /// key must be a valid Ed25519 point (Go defers that to signature checks, which would all
    /// fail; refusing early gives a clearer error).
    pub fn from_key_string(vkey: &str) -> Result<Self> {
        let (name, hash, key) = parse_vkey(vkey, "verifier key", ALG_ED25519)?;
        Ok(Verifier { name, hash, key })
    }

    /// Whether `sig` is a valid Ed25519 signature of `msg` by this key.
    ///
    /// Uses strict verification: non-canonical scalars and small-order keys or nonces are
    /// refused, so a signature cannot be mauled into another that also verifies.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// The accessors of a public key type (fields `name`, `hash`, `key`) of signature type `$alg`,
/// and its `Debug`, `Display` and `FromStr` through its key string: the derived `Debug` would
/// dump the curve point, and the key string says everything at a glance.
macro_rules! key_string_traits {
    ($t:ident, $alg:expr) => {
        impl $t {
            /// The vkey string, `<name>+<key hash>+<base64(type || public key)>`, byte for byte
            /// what Go's note packages write.
            pub fn to_key_string(&self) -> String {
                $crate::note::vkey_string(&self.name, self.hash, $alg, self.key.as_bytes())
            }

            /// The key's name, as written in signature lines.
            pub fn name(&self) -> &str {
                &self.name
            }

            /// The key hash (key id): the first four bytes of
            /// `SHA-256(name || "\n" || type || public key)`.
            pub fn key_hash(&self) -> u32 {
                self.hash
            }

            /// The 32-byte Ed25519 public key.
            pub fn public_key(&self) -> [u8; 32] {
                self.key.to_bytes()
            }
        }

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($t))
                    .field(&self.to_key_string())
                    .finish()
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_key_string())
            }
        }

        impl std::str::FromStr for $t {
            type Err = $crate::error::Error;

            fn from_str(s: &str) -> $crate::error::Result<Self> {
                $t::from_key_string(s)
            }
        }
    };
}
pub(crate) use key_string_traits;

key_string_traits!(Verifier, ALG_ED25519);

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name the line claims.
    pub name: String,
    /// The key hash: the first four bytes of the decoded signature, big-endian.
    pub key_hash: u32,
    /// The signature proper: the decoded bytes after the key hash (64 for Ed25519, but a
    /// line for an unknown algorithm may carry any non-zero length).
    pub signature: Vec<u8>,
}

/// A signed note, parsed but not necessarily verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, up to and including the final newline of the body (not the empty
    /// separator line). These are the exact bytes the signatures cover.
    pub body: String,
    /// The signature lines in order. From [`Note::parse`], all of them; from [`open_note`],
    /// only those that verified.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note without checking any signature.
    ///
    /// Refused with [`Error::Malformed`], as Go's `note.Open` refuses them: a control
    /// character other than newline anywhere, no empty line before the signatures, a
    /// signature block that is empty or not newline-terminated, a line that does not start
    /// with `— ` (em dash, space), an invalid key name, a signature that is not standard
    /// padded base64 or is shorter than 5 bytes, and more than 100 signatures.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| Error::malformed("signed note", reason);
        if let Some(at) = text.find(|c: char| c < ' ' && c != '\n') {
            return Err(bad(format!("control character at byte {at}")));
        }
        // The last empty line is the separator, so a body may itself contain empty lines.
        let split = text
            .rfind(SIG_SPLIT)
            .ok_or_else(|| bad("no empty line before the signatures".into()))?;
        let body = &text[..split + 1];
        let block = &text[split + SIG_SPLIT.len()..];
        let Some(block) = block.strip_suffix('\n') else {
            return Err(bad(if block.is_empty() {
                "no signature lines".into()
            } else {
                "the last signature line is not newline-terminated".into()
            }));
        };

        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            let n = i + 1;
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| bad(format!("signature line {n} does not start with \"— \"")))?;
            let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
            if check_name(name).is_err() {
                return Err(bad(format!("signature line {n} has an invalid key name")));
            }
            let raw = SIG_BASE64
                .decode(b64)
                .ok()
                .filter(|raw| !b64.is_empty() && raw.len() >= 5)
                .ok_or_else(|| {
                    bad(format!(
                        "signature line {n}: the signature is not base64 of at least 5 bytes"
                    ))
                })?;
            if n > MAX_SIGNATURES {
                return Err(bad(format!("more than {MAX_SIGNATURES} signatures")));
            }
            let (hash, sig) = raw.split_at(4);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_hash: u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]),
                signature: sig.to_vec(),
            });
        }
        Ok(Note {
            body: body.to_owned(),
            signatures,
        })
    }
}

/// Signs `body` with each signer, in order, and returns the signed note text:
/// `body + "\n" + one signature line per signer`.
///
/// The body must end in a newline and contain no control character other than newline
/// ([`Error::Malformed`]), because a note breaking those rules can never be opened. At least
/// one signer is required ([`Error::InvalidArgument`]).
pub fn sign_note(body: &str, signers: &[&Signer]) -> Result<String> {
    if !body.ends_with('\n') {
        return Err(Error::malformed(
            "note body",
            "it does not end with a newline",
        ));
    }
    if let Some(at) = body.find(|c: char| c < ' ' && c != '\n') {
        return Err(Error::malformed(
            "note body",
            format!("control character at byte {at}"),
        ));
    }
    if signers.is_empty() {
        return Err(Error::InvalidArgument(
            "a note needs at least one signer".into(),
        ));
    }
    let mut out = String::with_capacity(body.len() + 1 + signers.len() * 128);
    out.push_str(body);
    out.push('\n');
    for signer in signers {
        let mut raw = Vec::with_capacity(68);
        raw.extend_from_slice(&signer.hash.to_be_bytes());
        raw.extend_from_slice(&signer.sign(body.as_bytes())?);
        out.push_str(SIG_PREFIX);
        out.push_str(&signer.name);
        out.push(' ');
        out.push_str(&STANDARD.encode(raw));
        out.push('\n');
    }
    Ok(out)
}

/// Parses `text` and checks its signatures against `verifiers`, as Go's `note.Open` does.
///
/// A signature line is checked when a verifier has the same name and key hash; lines from
/// other keys are ignored (a note may carry witness cosignatures the caller does not know),
/// and a repeated line for an already-checked key is skipped. Fails with
/// [`Error::VerificationFailed`] when a known key's signature does not verify, when two
/// different verifiers share the name and key hash, or when no known key signed at all.
/// Syntax errors are [`Error::Malformed`], as from [`Note::parse`].
///
/// The returned note carries only the signatures that verified.
pub fn open_note(text: &str, verifiers: &[Verifier]) -> Result<Note> {
    let parsed = Note::parse(text)?;
    let mut verified: Vec<NoteSignature> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for sig in parsed.signatures {
        let mut matching = verifiers
            .iter()
            .filter(|v| v.name == sig.name && v.hash == sig.key_hash);
        let Some(verifier) = matching.next() else {
            unknown.push(format!("{}+{:08x}", sig.name, sig.key_hash));
            continue;
        };
        // A 32-bit hash can be made to collide; refusing beats guessing which key was meant.
        if matching.any(|other| other.key != verifier.key) {
            return Err(Error::verification(format!(
                "ambiguous key {}+{:08x}: two different verifier keys share that name and hash",
                sig.name, sig.key_hash
            )));
        }
        // Go checks only the first line per key; later copies cannot add or remove trust.
        if verified
            .iter()
            .any(|s| s.name == sig.name && s.key_hash == sig.key_hash)
        {
            continue;
        }
        let ok = <&[u8; 64]>::try_from(sig.signature.as_slice())
            .map(|s| verifier.verify(parsed.body.as_bytes(), s))
            .unwrap_or(false);
        if !ok {
            return Err(Error::verification(format!(
                "invalid signature for key {}+{:08x}",
                sig.name, sig.key_hash
            )));
        }
        verified.push(sig);
    }
    if verified.is_empty() {
        let known: Vec<String> = verifiers
            .iter()
            .map(|v| format!("{}+{:08x}", v.name, v.hash))
            .collect();
        return Err(Error::verification(format!(
            "no signature from a known key (signed by: {}; known keys: {})",
            list_or_none(&unknown),
            list_or_none(&known)
        )));
    }
    Ok(Note {
        body: parsed.body,
        signatures: verified,
    })
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    // Published examples from Go's sumdb/note documentation and tests: a known-answer check
    // independent of the vectors in tests/vectors.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> Verifier {
        PETER_VKEY.parse().unwrap()
    }
    fn enoch() -> Verifier {
        ENOCH_VKEY.parse().unwrap()
    }
    fn code(r: Result<impl fmt::Debug>) -> ErrorCode {
        r.unwrap_err().code()
    }
    fn msg(sigs: &[&str]) -> String {
        format!("{TEXT}\n{}", sigs.concat())
    }

    #[test]
    fn go_known_answer_sign() {
        let s = Signer::from_key_string(PETER_SKEY).unwrap();
        assert_eq!(s.name(), "PeterNeumann");
        assert_eq!(s.key_hash(), 0xc74f20a3);
        assert_eq!(s.to_key_string().unwrap(), PETER_SKEY);
        assert_eq!(s.verifier().to_key_string(), PETER_VKEY);
        assert_eq!(s.verifier(), peter());
        assert_eq!(sign_note(TEXT, &[&s]).unwrap(), msg(&[PETER_SIG]));
    }

    #[test]
    fn go_known_answer_open() {
        let n = open_note(&msg(&[PETER_SIG, ENOCH_SIG]), &[peter()]).unwrap();
        assert_eq!(n.body, TEXT);
        assert_eq!(n.signatures.len(), 1);
        assert_eq!(n.signatures[0].name, "PeterNeumann");
        assert_eq!(n.signatures[0].key_hash, 0xc74f20a3);
        assert_eq!(n.signatures[0].signature.len(), 64);

        let n = open_note(&msg(&[PETER_SIG, ENOCH_SIG]), &[peter(), enoch()]).unwrap();
        let names: Vec<_> = n.signatures.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["PeterNeumann", "EnochRoot"]);

        let e = open_note(&msg(&[PETER_SIG, ENOCH_SIG]), &[]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
        assert!(
            e.to_string().contains("no signature from a known key"),
            "{e}"
        );
        assert!(e.to_string().contains("EnochRoot+af0cfe78"), "{e}");
    }

    #[test]
    fn parse_keeps_every_signature() {
        let n = Note::parse(&msg(&[PETER_SIG, ENOCH_SIG, PETER_SIG])).unwrap();
        assert_eq!(n.body, TEXT);
        assert_eq!(n.signatures.len(), 3);
        assert_eq!(n.signatures[1].key_hash, 0xaf0cfe78);
    }

    #[test]
    fn verifier_key_manglings_are_refused() {
        // As Go's own test: every proper substring and every single-byte increment fails.
        let b = PETER_VKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(Verifier::from_key_string(s).is_err(), "{s:?}");
                }
            }
        }
        let mut b = b.to_vec();
        for i in 0..b.len() {
            b[i] += 1;
            let s = std::str::from_utf8(&b).unwrap();
            assert_eq!(
                code(Verifier::from_key_string(s)),
                ErrorCode::Malformed,
                "{s:?}"
            );
            b[i] -= 1;
        }
    }

    #[test]
    fn signer_key_manglings_are_refused() {
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let s = std::str::from_utf8(&b[i..j]).unwrap();
                    assert!(Signer::from_key_string(s).is_err(), "{s:?}");
                }
            }
        }
        let mut b = b.to_vec();
        for i in 0..b.len() {
            b[i] += 1;
            let s = std::str::from_utf8(&b).unwrap();
            assert_eq!(
                code(Signer::from_key_string(s)),
                ErrorCode::Malformed,
                "{s:?}"
            );
            b[i] -= 1;
        }
    }

    #[test]
    fn go_odd_keys_are_refused() {
        // From Go's tests: wrong key length and unknown algorithm, each with a matching hash.
        for k in [
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert_eq!(
                code(Verifier::from_key_string(k)),
                ErrorCode::Malformed,
                "{k}"
            );
        }
    }

    #[test]
    fn key_strings_trim_and_accept_upper_case_hash() {
        assert_eq!(
            Verifier::from_key_string(&format!("  {PETER_VKEY}\n")).unwrap(),
            peter()
        );
        assert!(Signer::from_key_string(&format!("{PETER_SKEY}\r\n")).is_ok());
        let upper = PETER_VKEY.replace("c74f20a3", "C74F20A3");
        assert_eq!(
            upper.parse::<Verifier>().unwrap().to_key_string(),
            PETER_VKEY
        );
    }

    #[test]
    fn bad_key_strings() {
        let s = Signer::from_seed("n", [7; 32]).unwrap();
        let v = s.verifier().to_key_string();
        let (name_hash, data) = v.rsplit_once('+').unwrap();
        let cases = [
            String::new(),
            "n".into(),
            "n+".into(),
            format!("{name_hash}+"),
            format!("{name_hash}+!!!!"),
            // truncated key data
            format!("{name_hash}+{}", &data[..data.len() - 1]),
            format!("{name_hash}+{}", &data[..data.len() - 4]),
            // algorithm byte 2 with the same key bytes
            format!("{name_hash}+{}", {
                let mut raw = STANDARD.decode(data).unwrap();
                raw[0] = 2;
                STANDARD.encode(raw)
            }),
            // wrong hash
            v.replacen(&format!("{:08x}", s.key_hash()), "00000000", 1),
            // short hash, sign, 0x prefix
            v.replacen(&format!("+{:08x}+", s.key_hash()), "+1234567+", 1),
            v.replacen(&format!("+{:08x}+", s.key_hash()), "+-1234567+", 1),
            v.replacen(&format!("+{:08x}+", s.key_hash()), "+0x123456+", 1),
            // a private key is never a verifier key
            s.to_key_string().unwrap(),
        ];
        for c in &cases {
            assert_eq!(
                code(Verifier::from_key_string(c)),
                ErrorCode::Malformed,
                "{c:?}"
            );
        }
        // A public key string is never a signer key.
        assert_eq!(code(Signer::from_key_string(&v)), ErrorCode::Malformed);
        // The seed must not appear in any error message.
        let skey = s.to_key_string().unwrap();
        let data = skey.rsplit_once('+').unwrap().1;
        let e = Signer::from_key_string(&skey.replacen("+n+", "+m+", 1)).unwrap_err();
        assert!(!e.to_string().contains(data), "{e}");
    }

    #[test]
    fn invalid_point_is_refused() {
        // y = 2 is not on the curve; give it a matching hash so only the point check fails.
        let mut key = [0u8; 32];
        key[0] = 2;
        assert!(ed25519_dalek::VerifyingKey::from_bytes(&key).is_err());
        let k = format!("x+{:08x}+{}", key_hash("x", &key), encode_key_data(&key));
        let e = Verifier::from_key_string(&k).unwrap_err();
        assert!(e.to_string().contains("point"), "{e}");
    }

    #[test]
    fn names() {
        for bad in [
            "",
            "a b",
            "a+b",
            "a\tb",
            "a\nb",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\u{85}b",
            "a\u{1}b",
        ] {
            assert_eq!(
                code(Signer::from_seed(bad, [1; 32])),
                ErrorCode::Malformed,
                "{bad:?}"
            );
            assert_eq!(code(Signer::generate(bad)), ErrorCode::Malformed, "{bad:?}");
        }
        for good in [
            "a",
            "example.com/audit/payments",
            "PeterNeumann",
            "ünïcödé",
            "a\u{7f}",
        ] {
            let s = Signer::from_seed(good, [1; 32]).unwrap();
            let back = Signer::from_key_string(&s.to_key_string().unwrap()).unwrap();
            assert_eq!(back.verifier(), s.verifier());
        }
    }

    #[test]
    fn generate_round_trips() {
        let s = Signer::generate("gen.example").unwrap();
        let t = Signer::generate("gen.example").unwrap();
        assert_ne!(s.verifier(), t.verifier());
        let back = Signer::from_key_string(&s.to_key_string().unwrap()).unwrap();
        assert_eq!(back.to_key_string().unwrap(), s.to_key_string().unwrap());
        let v = s.verifier();
        assert_eq!(v.to_string().parse::<Verifier>().unwrap(), v);
        let sig = s.sign(b"hi").unwrap();
        assert!(v.verify(b"hi", &sig));
        assert!(!v.verify(b"hj", &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!v.verify(b"hi", &bad));
        assert!(!t.verifier().verify(b"hi", &sig));
    }

    #[test]
    fn debug_and_display_hide_the_seed() {
        let s = Signer::from_key_string(PETER_SKEY).unwrap();
        let seed_b64 = PETER_SKEY.rsplit_once('+').unwrap().1;
        for shown in [format!("{s:?}"), format!("{s}"), format!("{s:#?}")] {
            assert!(shown.contains("PeterNeumann"), "{shown}");
            assert!(shown.contains("c74f20a3"), "{shown}");
            assert!(!shown.contains(seed_b64), "{shown}");
            assert!(!shown.contains("PRIVATE"), "{shown}");
        }
        assert_eq!(format!("{}", peter()), PETER_VKEY);
        assert!(format!("{:?}", peter()).contains(PETER_VKEY));
    }

    #[test]
    fn sign_note_rules() {
        let s = Signer::from_key_string(PETER_SKEY).unwrap();
        assert_eq!(code(sign_note("abc", &[&s])), ErrorCode::Malformed);
        assert_eq!(code(sign_note("", &[&s])), ErrorCode::Malformed);
        assert_eq!(code(sign_note("a\tb\n", &[&s])), ErrorCode::Malformed);
        assert_eq!(code(sign_note("a\n", &[])), ErrorCode::InvalidArgument);
        // Bodies with empty lines, or only a newline, survive because the LAST empty line
        // is the separator.
        for body in ["\n", "a\n\nb\n", "a\n\n", "a\n\n\n"] {
            let n = open_note(&sign_note(body, &[&s]).unwrap(), &[peter()]).unwrap();
            assert_eq!(n.body, body);
        }
    }

    #[test]
    fn multiple_signers() {
        let a = Signer::from_seed("a.example", [1; 32]).unwrap();
        let b = Signer::from_seed("b.example", [2; 32]).unwrap();
        let text = sign_note("body\n", &[&a, &b]).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with('\u{2014}')).count(),
            2
        );
        for v in [a.verifier(), b.verifier()] {
            let n = open_note(&text, std::slice::from_ref(&v)).unwrap();
            assert_eq!(n.signatures.len(), 1);
            assert_eq!(n.signatures[0].name, v.name());
        }
        let n = open_note(&text, &[a.verifier(), b.verifier()]).unwrap();
        assert_eq!(n.signatures.len(), 2);
    }

    #[test]
    fn malformed_notes() {
        let bad_notes = [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", PETER_SIG.trim_end_matches('\n')),
            format!("\u{1}{TEXT}\n{PETER_SIG}"),
            format!("{TEXT}\r\n{PETER_SIG}"),
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            // hyphen and en dash instead of the em dash
            format!("{TEXT}\n{}", PETER_SIG.replace('\u{2014}', "-")),
            format!("{TEXT}\n{}", PETER_SIG.replace('\u{2014}', "\u{2013}")),
            // no space after the dash, two spaces before the signature
            format!("{TEXT}\n{}", PETER_SIG.replace("\u{2014} ", "\u{2014}")),
            format!("{TEXT}\n{}", PETER_SIG.replace(" x08go", "  x08go")),
            // no signature, empty signature, too short, not base64, missing padding
            format!("{TEXT}\n\u{2014} PeterNeumann\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann \n"),
            format!("{TEXT}\n\u{2014} PeterNeumann AAAAAA==\n"),
            format!("{TEXT}\n\u{2014} PeterNeumann x08go/ZJ!!!\n"),
            format!("{TEXT}\n{}", PETER_SIG.replace("nAM=", "nAM")),
            // plus in the name, empty name
            format!("{TEXT}\n{}", PETER_SIG.replace("PeterNeumann", "Peter+Neumann")),
            format!("{TEXT}\n{}", PETER_SIG.replace("PeterNeumann", "")),
            // a trailing empty line makes the signature block empty
            format!("{TEXT}\n{PETER_SIG}\n"),
            String::new(),
            "\n\n".into(),
        ];
        for m in &bad_notes {
            assert_eq!(code(Note::parse(m)), ErrorCode::Malformed, "{m:?}");
            assert_eq!(
                code(open_note(m, &[peter()])),
                ErrorCode::Malformed,
                "{m:?}"
            );
        }
    }

    #[test]
    fn signature_limit() {
        let m = msg(&[PETER_SIG; 100]);
        assert_eq!(open_note(&m, &[peter()]).unwrap().signatures.len(), 1);
        let m = msg(&[PETER_SIG; 101]);
        assert_eq!(code(open_note(&m, &[peter()])), ErrorCode::Malformed);
        assert_eq!(code(open_note(&m, &[])), ErrorCode::Malformed);
    }

    #[test]
    fn invalid_signature_from_known_key() {
        let corrupt = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let e = open_note(&msg(&[&corrupt]), &[peter()]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
        assert!(e.to_string().contains("PeterNeumann+c74f20a3"), "{e}");
        // Even when another known key signed correctly.
        let e = open_note(&msg(&[ENOCH_SIG, &corrupt]), &[peter(), enoch()]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::VerificationFailed);
        // A key's signature of the wrong length is a bad signature, not a parse error.
        let short = format!(
            "\u{2014} PeterNeumann {}\n",
            STANDARD.encode([0xc7, 0x4f, 0x20, 0xa3, 1, 2, 3])
        );
        assert!(Note::parse(&msg(&[&short])).is_ok());
        assert_eq!(
            code(open_note(&msg(&[&short]), &[peter()])),
            ErrorCode::VerificationFailed
        );
    }

    #[test]
    fn duplicates_follow_go() {
        // Go verifies only the first line per known key, so a valid signature followed by a
        // corrupt copy opens, and the reverse does not.
        let corrupt = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let enoch_corrupt = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let n = open_note(
            &msg(&[PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, &enoch_corrupt]),
            &[peter()],
        )
        .unwrap();
        assert_eq!(n.signatures.len(), 1);
        assert!(open_note(&msg(&[PETER_SIG, &corrupt]), &[peter()]).is_ok());
        assert!(open_note(&msg(&[&corrupt, PETER_SIG]), &[peter()]).is_err());
    }

    #[test]
    fn ambiguous_and_duplicate_verifiers() {
        // The same key listed twice is harmless.
        assert!(open_note(&msg(&[PETER_SIG]), &[peter(), enoch(), peter()]).is_ok());
        // Two different keys under one name and hash cannot be told apart. Real hash
        // collisions need work, so forge the second verifier's fields directly.
        let mut twin = enoch();
        twin.name = "PeterNeumann".into();
        twin.hash = 0xc74f20a3;
        let e = open_note(&msg(&[PETER_SIG]), &[peter(), twin.clone()]).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        // Unused ambiguity does not matter, as in Go.
        assert!(open_note(&msg(&[ENOCH_SIG]), &[enoch(), peter(), twin]).is_ok());
    }

    #[test]
    fn name_and_hash_must_both_match() {
        // Right name, wrong hash: treated as an unknown key, so nothing verifies.
        let other = Signer::from_seed("PeterNeumann", [9; 32]).unwrap();
        let by_other = sign_note(TEXT, &[&other]).unwrap();
        let e = open_note(&by_other, &[peter()]).unwrap_err();
        assert!(
            e.to_string().contains("no signature from a known key"),
            "{e}"
        );
        // ...and ignored beside a good signature.
        let both = format!("{by_other}{PETER_SIG}");
        assert_eq!(open_note(&both, &[peter()]).unwrap().signatures.len(), 1);
        // Right hash, wrong name: also unknown.
        let renamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego");
        assert_eq!(
            code(open_note(&msg(&[&renamed]), &[peter()])),
            ErrorCode::VerificationFailed
        );
        // Unknown keys beside a good signature are ignored.
        let unknown = Signer::from_seed("witness.example", [3; 32]).unwrap();
        let extra = sign_note(TEXT, &[&unknown]).unwrap();
        let extra_line = extra.rsplit_once("\n\n").unwrap().1;
        let n = open_note(&msg(&[extra_line, PETER_SIG, extra_line]), &[peter()]).unwrap();
        assert_eq!(n.signatures.len(), 1);
    }

    #[test]
    fn tampered_body_fails() {
        let tampered = msg(&[PETER_SIG]).replace("cryptography", "cryptographY");
        assert_eq!(
            code(open_note(&tampered, &[peter()])),
            ErrorCode::VerificationFailed
        );
        let appended = format!("extra\n{}", msg(&[PETER_SIG]));
        assert_eq!(
            code(open_note(&appended, &[peter()])),
            ErrorCode::VerificationFailed
        );
    }

    #[test]
    fn non_canonical_signature_padding_bits_are_accepted_like_go() {
        // The signature's last base64 symbol ('M' before '=') carries 2 unused bits; Go's
        // decoder ignores them, so flipping them changes no signature byte.
        let tweaked = PETER_SIG.replace("nAM=", "nAN=");
        assert_ne!(tweaked, PETER_SIG);
        let n = open_note(&msg(&[&tweaked]), &[peter()]).unwrap();
        assert_eq!(n.signatures.len(), 1);
    }
}
