//! Whether the certificate that signed a token belongs to a time-stamp authority the caller
//! trusts: issued and signed by the given CA, valid when the token says it was made, and
//! for time-stamping only (RFC 3161 section 2.3).

use der::{Decode, DecodePem, Encode};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::ExtendedKeyUsage;
use x509_cert::Certificate;

use super::oids;
use super::signature::verify_sha256;
use crate::error::{Error, Result};

/// The trusted CA certificate from its PEM text (the first certificate in it).
pub(super) fn parse_ca(ca_pem: &[u8]) -> Result<Certificate> {
    Certificate::from_pem(ca_pem)
        .map_err(|e| Error::malformed("CA certificate (PEM)", e.to_string()))
}

/// Check `tsa` against `ca` at `at` (seconds since the Unix epoch, the token's genTime).
pub(super) fn check_tsa_cert(tsa: &Certificate, ca: &Certificate, at: i128) -> Result<()> {
    let tbs = &tsa.tbs_certificate;
    if tbs.issuer != ca.tbs_certificate.subject {
        return Err(Error::verification(format!(
            "the TSA certificate was issued by {}, not by the given CA ({})",
            tbs.issuer, ca.tbs_certificate.subject
        )));
    }
    let signed = tbs
        .to_der()
        .map_err(|e| Error::malformed("time-stamp token", format!("TSA certificate: {e}")))?;
    let signature = tsa.signature.as_bytes().ok_or_else(|| {
        Error::malformed(
            "time-stamp token",
            "TSA certificate signature is not whole bytes",
        )
    })?;
    verify_sha256(
        "the CA's signature on the TSA certificate",
        &ca.tbs_certificate.subject_public_key_info,
        &tsa.signature_algorithm.oid,
        &Sha256::digest(&signed).into(),
        signature,
    )?;
    valid_at("TSA", tsa, at)?;
    valid_at("CA", ca, at)?;
    time_stamping_only(tsa)
}

fn valid_at(who: &str, cert: &Certificate, at: i128) -> Result<()> {
    let v = &cert.tbs_certificate.validity;
    let (from, to) = (
        i128::from(v.not_before.to_unix_duration().as_secs()),
        i128::from(v.not_after.to_unix_duration().as_secs()),
    );
    if at < from || at > to {
        return Err(Error::verification(format!(
            "the {who} certificate is valid from {} to {}, not at the token's time",
            v.not_before, v.not_after
        )));
    }
    Ok(())
}

/// RFC 3161 section 2.3: the TSA's certificate has exactly one extended key usage,
/// id-kp-timeStamping, in an extension marked critical.
fn time_stamping_only(tsa: &Certificate) -> Result<()> {
    let eku = tsa
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oids::EXT_KEY_USAGE)
        .ok_or_else(|| {
            Error::verification("the TSA certificate has no extended key usage (timeStamping)")
        })?;
    if !eku.critical {
        return Err(Error::verification(
            "the TSA certificate's extended key usage is not marked critical",
        ));
    }
    let usages = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).map_err(|e| {
        Error::malformed("time-stamp token", format!("TSA extended key usage: {e}"))
    })?;
    if usages.0 != [oids::KP_TIME_STAMPING] {
        return Err(Error::verification(
            "the TSA certificate's extended key usage is not timeStamping alone",
        ));
    }
    Ok(())
}
