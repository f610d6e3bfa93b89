//! An Ed25519 key on a PKCS#11 token (an HSM, a smart card, SoftHSM2), through `cryptoki`,
//! named by an RFC 7512 URI:
//!
//! `pkcs11:token=<label>;object=<key label>[;id=<%xx bytes>]?module-path=<.so>&pin-value=<PIN>`
//!
//! `module-path` may instead come from `TRAILSEAL_PKCS11_MODULE`, and the PIN from
//! `pin-source=<file>` or `TRAILSEAL_PKCS11_PIN` (a PIN in a URI lands in shell histories).
//! The token signs with `CKM_EDDSA`; the key never leaves it. A session is opened, logged in
//! and closed per signature, so a token removed and put back is picked up, and a removed one
//! is an error at the next checkpoint rather than a hang.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::{checked, HeldKey};
use crate::error::{Error, Result};

/// The URI's attributes that choose the token and the key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Uri {
    token: Option<String>,
    serial: Option<String>,
    slot_id: Option<u64>,
    object: Option<String>,
    id: Option<Vec<u8>>,
    module: Option<PathBuf>,
    pin_value: Option<String>,
    pin_source: Option<PathBuf>,
}

fn bad_uri(reason: impl Into<String>) -> Error {
    Error::malformed("PKCS#11 URI", reason.into())
}

/// RFC 7512 percent-decoding of one attribute value.
fn unescape(v: &str) -> Result<Vec<u8>> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad_uri("a % not followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn text(v: &str, what: &str) -> Result<String> {
    String::from_utf8(unescape(v)?).map_err(|_| bad_uri(format!("{what} is not UTF-8")))
}

impl Uri {
    /// Parses `pkcs11:<path attributes>[?<query attributes>]`. Unknown attributes are refused,
    /// so a misspelt one never silently matches another key.
    fn parse(spec: &str) -> Result<Uri> {
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad_uri("it does not start with pkcs11:"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut uri = Uri::default();
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| bad_uri(format!("path attribute {k:?} has no value", k = attr)))?;
            match k {
                "token" => uri.token = Some(text(v, "token")?),
                "serial" => uri.serial = Some(text(v, "serial")?),
                "slot-id" => {
                    uri.slot_id = Some(
                        text(v, "slot-id")?
                            .parse()
                            .map_err(|_| bad_uri("slot-id is not a number"))?,
                    )
                }
                "object" => uri.object = Some(text(v, "object")?),
                "id" => uri.id = Some(unescape(v)?),
                // The URI may say what it names; only a private key can sign.
                "type" if v == "private" => {}
                "type" => return Err(bad_uri("type must be private: only a private key signs")),
                "manufacturer"
                | "model"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-description"
                | "slot-manufacturer" => {}
                other => return Err(bad_uri(format!("unknown path attribute {other:?}"))),
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (k, v) = attr
                .split_once('=')
                .ok_or_else(|| bad_uri(format!("query attribute {attr:?} has no value")))?;
            match k {
                "module-path" => uri.module = Some(PathBuf::from(text(v, "module-path")?)),
                // The PIN is never quoted in a message.
                "pin-value" => uri.pin_value = Some(text(v, "pin-value")?),
                "pin-source" => {
                    let s = text(v, "pin-source")?;
                    uri.pin_source = Some(PathBuf::from(s.strip_prefix("file:").unwrap_or(&s)));
                }
                other => return Err(bad_uri(format!("unknown query attribute {other:?}"))),
            }
        }
        if uri.object.is_none() && uri.id.is_none() {
            return Err(bad_uri("name the key with object=<label> or id=<bytes>"));
        }
        Ok(uri)
    }

    fn module(&self) -> Result<PathBuf> {
        self.module
            .clone()
            .or_else(|| std::env::var_os("TRAILSEAL_PKCS11_MODULE").map(PathBuf::from))
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "no PKCS#11 module: give module-path= in the URI or set TRAILSEAL_PKCS11_MODULE"
                        .into(),
                )
            })
    }

    fn pin(&self) -> Result<Option<String>> {
        if let Some(p) = &self.pin_value {
            return Ok(Some(p.clone()));
        }
        if let Some(file) = &self.pin_source {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("the PIN file {}: {e}", file.display()),
                ))
            })?;
            return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
        }
        Ok(std::env::var("TRAILSEAL_PKCS11_PIN").ok())
    }

    /// The template that finds the key's objects of `class`.
    fn template(&self, class: ObjectClass) -> Vec<Attribute> {
        let mut t = vec![
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC_EDWARDS),
        ];
        if let Some(label) = &self.object {
            t.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            t.push(Attribute::Id(id.clone()));
        }
        t
    }
}

/// One initialised context per module for the whole process: PKCS#11 allows a module to be
/// initialised once, and finalising it under another signer would pull the token from under it.
fn context(module: &Path) -> Result<Pkcs11> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .map_err(|_| Error::Internal("the PKCS#11 context table was poisoned".into()))?;
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let c = Pkcs11::new(module).map_err(|e| {
        // A statically linked build (the release archive's command) cannot dlopen at all.
        let hint = if cfg!(target_feature = "crt-static") {
            " (this build is statically linked and cannot load modules: use a dynamically linked build, or a key in ssh-agent)"
        } else {
            ""
        };
        Error::InvalidArgument(format!(
            "cannot load the PKCS#11 module {}: {e}{hint}",
            module.display()
        ))
    })?;
    match c.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(p11(&format!("initialising {}", module.display()), e)),
    }
    map.insert(module.to_owned(), c.clone());
    Ok(c)
}

/// A PKCS#11 failure as our error: a wrong PIN is the caller's input; anything else is the
/// token's or the module's fault.
fn p11(doing: &str, e: P11Error) -> Error {
    match e {
        P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid, _) => {
            Error::InvalidArgument(format!("PKCS#11 {doing}: the PIN is wrong"))
        }
        P11Error::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _) => Error::Io(
            std::io::Error::other(format!("PKCS#11 {doing}: the token is not present")),
        ),
        e => Error::Io(std::io::Error::other(format!("PKCS#11 {doing}: {e}"))),
    }
}

/// A key on a token.
pub(crate) struct TokenKey {
    uri: Uri,
    ctx: Pkcs11,
    public: [u8; 32],
    label: String,
}

impl TokenKey {
    /// Finds the token and the key the URI names, logs in to read the public key, and keeps
    /// where they are; nothing is signed yet.
    pub(crate) fn open(spec: &str) -> Result<TokenKey> {
        let uri = Uri::parse(spec)?;
        let ctx = context(&uri.module()?)?;
        let (session, slot, label) = session(&ctx, &uri)?;
        let public_objects = session
            .find_objects(&uri.template(ObjectClass::PUBLIC_KEY))
            .map_err(|e| p11("finding the public key", e))?;
        let [public_obj] = public_objects.as_slice() else {
            return Err(Error::InvalidArgument(format!(
                "token {label:?} has {} Ed25519 public keys matching the URI, not one",
                public_objects.len()
            )));
        };
        let public = ec_point(&session, *public_obj)?;
        // The private half must be there too, or the first checkpoint would fail.
        private_key(&session, &uri, &label)?;
        drop(session);
        let _ = slot;
        Ok(TokenKey {
            uri,
            ctx,
            public,
            label,
        })
    }
}

/// A logged-in session on the token the URI names, its slot and the token's label.
fn session(ctx: &Pkcs11, uri: &Uri) -> Result<(Session, Slot, String)> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| p11("listing slots", e))?;
    let mut found = None;
    for slot in slots {
        if uri.slot_id.is_some_and(|id| id != slot.id()) {
            continue;
        }
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| p11("reading token info", e))?;
        let label = info.label().trim_end().to_owned();
        if uri.token.as_ref().is_some_and(|t| *t != label)
            || uri
                .serial
                .as_ref()
                .is_some_and(|s| s != info.serial_number().trim_end())
        {
            continue;
        }
        found = Some((slot, label));
        break;
    }
    let (slot, label) = found.ok_or_else(|| {
        Error::Io(std::io::Error::other(format!(
            "no PKCS#11 token matching the URI{} is present",
            uri.token
                .as_ref()
                .map(|t| format!(" (token={t})"))
                .unwrap_or_default()
        )))
    })?;
    let session = ctx
        .open_ro_session(slot)
        .map_err(|e| p11("opening a session", e))?;
    let pin = uri.pin()?.map(AuthPin::from);
    match session.login(UserType::User, pin.as_ref()) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(p11("logging in", e)),
    }
    Ok((session, slot, label))
}

fn private_key(session: &Session, uri: &Uri, label: &str) -> Result<ObjectHandle> {
    let found = session
        .find_objects(&uri.template(ObjectClass::PRIVATE_KEY))
        .map_err(|e| p11("finding the private key", e))?;
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(Error::InvalidArgument(format!(
            "token {label:?} has {} Ed25519 private keys matching the URI, not one",
            found.len()
        ))),
    }
}

/// The 32 key bytes of an Ed25519 public key object's `CKA_EC_POINT`: a DER OCTET STRING
/// (what PKCS#11 3.0 asks and SoftHSM2 writes), or the raw bytes some tokens write.
fn ec_point(session: &Session, obj: ObjectHandle) -> Result<[u8; 32]> {
    let attrs = session
        .get_attributes(obj, &[AttributeType::EcPoint])
        .map_err(|e| p11("reading the public key", e))?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| Error::Io(std::io::Error::other("the public key has no CKA_EC_POINT")))?;
    let raw = match point.as_slice() {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        raw => raw,
    };
    raw.try_into().map_err(|_| {
        Error::Io(std::io::Error::other(format!(
            "the public key's CKA_EC_POINT is {} bytes, not an Ed25519 key",
            point.len()
        )))
    })
}

impl HeldKey for TokenKey {
    fn public_key(&self) -> [u8; 32] {
        self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        let (session, _, label) = session(&self.ctx, &self.uri)?;
        let key = private_key(&session, &self.uri, &label)?;
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let sig = session
            .sign(&mechanism, key, msg)
            .map_err(|e| p11("signing", e))?;
        checked(&self.public, msg, &sig, &self.describe())
    }

    fn describe(&self) -> String {
        format!(
            "PKCS#11 key {} on token {:?}",
            self.uri.object.as_deref().unwrap_or("(by id)"),
            self.label
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_parsed_and_misspellings_refused() {
        let u = Uri::parse(
            "pkcs11:token=trail%20seal;object=checkpoint;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("trail seal"));
        assert_eq!(u.object.as_deref(), Some("checkpoint"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.pin_value.as_deref(), Some("1234"));
        for bad in [
            "pkcs11:token=t",
            "pkcs11:objekt=k",
            "pkcs11:object=k;type=public",
            "pkcs11:object=k?pin=1",
            "pkcs11:object=%zz",
            "pkcs11:object",
        ] {
            let e = Uri::parse(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Malformed, "{bad}: {e}");
            assert!(!e.to_string().contains("1234"));
        }
    }
}
