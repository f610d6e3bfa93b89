//! Signing keys held outside the process: an Ed25519 key in ssh-agent (`ssh_agent.rs`) or on
//! a PKCS#11 token (`pkcs11.rs`). The secret never enters our memory: we hold where the key
//! is and its public half, and ask for each signature. A [`crate::Signer`] made from one
//! signs exactly as one made from a key file, so verifiers notice nothing.
//!
//! A key is named by a spec string, the form `--key` and every binding take:
//! `ssh-agent:<key comment or SHA256 fingerprint>` or `pkcs11:<RFC 7512 URI>`.

mod pkcs11;
mod ssh_agent;

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// An Ed25519 key whose secret is held elsewhere.
pub(crate) trait HeldKey: Send + Sync {
    /// The Ed25519 public key.
    fn public_key(&self) -> [u8; 32];

    /// An Ed25519 signature of `msg` (RFC 8032, pure), made where the key is held.
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64]>;

    /// Where the key is, for messages (no secret: a socket path, a token label).
    fn describe(&self) -> String;
}

impl fmt::Debug for dyn HeldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Whether `spec` names a key held outside the process rather than a key file.
pub fn is_held_key_spec(spec: &str) -> bool {
    spec.starts_with("ssh-agent:") || spec.starts_with("pkcs11:")
}

/// `spec` fit to print: a PKCS#11 URI's `pin-value` is replaced by `(redacted)`, so a spec
/// echoed in output, a log or a message never carries the PIN.
pub fn redacted(spec: &str) -> String {
    if !spec.starts_with("pkcs11:") {
        return spec.to_owned();
    }
    let Some((path, query)) = spec.split_once('?') else {
        return spec.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|a| match a.split_once('=') {
            Some(("pin-value", _)) => "pin-value=(redacted)".to_owned(),
            _ => a.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// The key `spec` names. Refused ([`Error::InvalidArgument`]): a spec of neither form, or one
/// naming no key where it points.
pub(crate) fn open(spec: &str) -> Result<Arc<dyn HeldKey>> {
    if let Some(which) = spec.strip_prefix("ssh-agent:") {
        Ok(Arc::new(ssh_agent::AgentKey::find(which)?))
    } else if spec.starts_with("pkcs11:") {
        Ok(Arc::new(pkcs11::TokenKey::open(spec)?))
    } else {
        Err(Error::InvalidArgument(format!(
            "{spec:?} names no held key: expected ssh-agent:<comment or fingerprint> or pkcs11:<URI>"
        )))
    }
}

/// Checks a signature made elsewhere before it goes into a note: a holder that signs with
/// another key, or returns garbage, is caught here rather than by a verifier later.
fn checked(public: &[u8; 32], msg: &[u8], sig: &[u8], holder: &str) -> Result<[u8; 64]> {
    let bad = || {
        Error::Io(std::io::Error::other(format!(
            "{holder} returned a signature that does not verify under its public key"
        )))
    };
    let sig: [u8; 64] = sig.try_into().map_err(|_| bad())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| bad())?;
    key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| bad())?;
    Ok(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_spec_never_carries_the_pin() {
        let spec = "pkcs11:token=t;object=k?module-path=/m.so&pin-value=12%3434&x=y";
        let shown = redacted(spec);
        assert_eq!(
            shown,
            "pkcs11:token=t;object=k?module-path=/m.so&pin-value=(redacted)&x=y"
        );
        assert_eq!(redacted("ssh-agent:ci key"), "ssh-agent:ci key");
        assert!(!is_held_key_spec("/path/to/l.redb.key"));
        let e = open("file:/k").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
    }
}
