//! The two signature algorithms a time-stamp token may use here, checked over a SHA-256
//! digest: ECDSA P-256 and RSA PKCS#1 v1.5, which between them cover the public TSAs.
//!
//! Both are verified over a digest we computed (prehash verification), so the SHA-256 of
//! these crates' `digest` version is never asked to hash anything: the workspace's sha2 0.11
//! does all hashing, and the older trait version stays inside `p256` and `rsa`.

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use spki::SubjectPublicKeyInfoOwned;

use super::oids;
use crate::error::{Error, Result};

/// Check `signature` by the key `spki` over `digest` (a SHA-256 digest), for the signature
/// algorithm `alg` as a CMS SignerInfo or a certificate names it. `what` names the signature
/// in errors.
pub(super) fn verify_sha256(
    what: &str,
    spki: &SubjectPublicKeyInfoOwned,
    alg: &ObjectIdentifier,
    digest: &[u8; 32],
    signature: &[u8],
) -> Result<()> {
    let key_alg = spki.algorithm.oid;
    let key_bytes = spki.subject_public_key.raw_bytes();
    if *alg == oids::ECDSA_WITH_SHA256 || (*alg == oids::EC_PUBLIC_KEY && key_alg == *alg) {
        if key_alg != oids::EC_PUBLIC_KEY || !is_p256(spki) {
            return Err(unsupported(
                what,
                "an ECDSA key on a curve other than P-256",
            ));
        }
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
            .map_err(|e| Error::malformed("time-stamp token", format!("{what}: key: {e}")))?;
        let sig = p256::ecdsa::Signature::from_der(signature)
            .map_err(|e| Error::verification(format!("{what}: not an ECDSA signature: {e}")))?;
        key.verify_prehash(digest, &sig).map_err(|_| {
            Error::verification(format!("{what}: the ECDSA signature does not verify"))
        })
    } else if *alg == oids::SHA256_WITH_RSA || *alg == oids::RSA_ENCRYPTION {
        if key_alg != oids::RSA_ENCRYPTION {
            return Err(unsupported(
                what,
                "an RSA signature by a key that is not RSA",
            ));
        }
        let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes)
            .map_err(|e| Error::malformed("time-stamp token", format!("{what}: key: {e}")))?;
        key.verify(
            rsa::Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
            digest,
            signature,
        )
        .map_err(|_| Error::verification(format!("{what}: the RSA signature does not verify")))
    } else {
        Err(unsupported(what, &format!("signature algorithm {alg}")))
    }
}

fn is_p256(spki: &SubjectPublicKeyInfoOwned) -> bool {
    let Some(params) = &spki.algorithm.parameters else {
        return false;
    };
    // The curve is named by an OID parameter; anything else (explicit curve parameters) is
    // not a key we check.
    params
        .to_der()
        .ok()
        .and_then(|der| ObjectIdentifier::from_der(&der).ok())
        .is_some_and(|oid| oid == oids::SECP256R1)
}

fn unsupported(what: &str, found: &str) -> Error {
    Error::verification(format!(
        "{what} uses {found}; trailseal checks ECDSA P-256 with SHA-256 and RSA PKCS#1 v1.5 with SHA-256 only"
    ))
}
