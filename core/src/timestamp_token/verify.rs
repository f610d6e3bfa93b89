//! Checking a time-stamp token (RFC 3161 section 2.4.2: a CMS SignedData over a TSTInfo)
//! offline, against the bytes it should time-stamp and a CA the caller trusts.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::OctetString;
use der::{Decode, Encode, Tag, Tagged};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

use super::chain::{check_tsa_cert, parse_ca};
use super::ess::{SigningCertificate, SigningCertificateV2};
use super::oids;
use super::signature::verify_sha256;
use super::tst_info::TstInfo;
use super::AttestedTime;
use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// Check `token_der` (a DER TimeStampToken: a CMS ContentInfo) as a time-stamp of
/// `note_bytes` (its message imprint is their SHA-256) by a TSA whose certificate chains to
/// the CA in `ca_pem`, and return the time it attests. Every check of
/// [`crate::timestamp_token`] but the nonce, which only the requester knows.
pub fn verify_timestamp_token(
    token_der: &[u8],
    note_bytes: &[u8],
    ca_pem: &[u8],
) -> Result<AttestedTime> {
    let ca = parse_ca(ca_pem)?;
    let digest: [u8; 32] = Sha256::digest(note_bytes).into();
    check_token(token_der, &digest, &ca, None)
}

fn malformed(reason: impl std::fmt::Display) -> Error {
    Error::malformed("time-stamp token", reason.to_string())
}

/// The SignedData of a token, its encapsulated TSTInfo's DER, and that TSTInfo decoded.
fn open_token(token_der: &[u8]) -> Result<(SignedData, Vec<u8>, TstInfo)> {
    let info = ContentInfo::from_der(token_der).map_err(malformed)?;
    if info.content_type != oids::SIGNED_DATA {
        return Err(malformed(format!(
            "content type {} is not CMS SignedData",
            info.content_type
        )));
    }
    let sd: SignedData = info.content.decode_as().map_err(malformed)?;
    let encap = &sd.encap_content_info;
    if encap.econtent_type != oids::CT_TST_INFO {
        return Err(malformed(format!(
            "encapsulated content type {} is not TSTInfo",
            encap.econtent_type
        )));
    }
    let tst_der = encap
        .econtent
        .as_ref()
        .filter(|e| e.tag() == Tag::OctetString)
        .ok_or_else(|| malformed("no encapsulated TSTInfo"))?
        .value()
        .to_vec();
    let tst = TstInfo::from_der(&tst_der).map_err(malformed)?;
    Ok((sd, tst_der, tst))
}

/// Whether `token_der` parses as a time-stamp token whose message imprint is the SHA-256 of
/// `note_bytes`. No signature or certificate is checked (that needs the CA): this is what a
/// ledger can check of its stored tokens on its own, and it catches a token moved to
/// another checkpoint.
pub(crate) fn imprint_matches(token_der: &[u8], note_bytes: &[u8]) -> Result<bool> {
    let (_, _, tst) = open_token(token_der)?;
    Ok(tst.message_imprint.hash_algorithm.oid == oids::SHA256
        && tst.message_imprint.hashed_message.as_bytes() == Sha256::digest(note_bytes).as_slice())
}

/// The checks, with the request's nonce when the caller has one.
pub(super) fn check_token(
    token_der: &[u8],
    digest: &[u8; 32],
    ca: &Certificate,
    nonce: Option<&[u8]>,
) -> Result<AttestedTime> {
    let (sd, tst_der, tst) = open_token(token_der)?;
    let tst_der = tst_der.as_slice();

    let signer = match sd.signer_infos.0.as_slice() {
        [one] => one,
        other => {
            return Err(malformed(format!(
                "{} signer infos; a time-stamp token has exactly one",
                other.len()
            )))
        }
    };
    let cert = signer_cert(&sd, signer)?;
    let signed_attrs = check_signed_attrs(signer, cert, tst_der)?;
    verify_sha256(
        "the TSA's signature on the token",
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm.oid,
        &Sha256::digest(&signed_attrs).into(),
        signer.signature.as_bytes(),
    )?;

    let gen_time = tst.gen_time.unix_nanos;
    check_tsa_cert(cert, ca, gen_time.div_euclid(1_000_000_000))?;
    if tst.message_imprint.hash_algorithm.oid != oids::SHA256 {
        return Err(Error::verification(format!(
            "the token's message imprint uses hash {}, not SHA-256",
            tst.message_imprint.hash_algorithm.oid
        )));
    }
    if tst.message_imprint.hashed_message.as_bytes() != digest {
        return Err(Error::verification(
            "the token time-stamps other bytes than this checkpoint note",
        ));
    }
    if let Some(ours) = nonce {
        if tst.nonce.as_ref().map(|n| n.as_bytes()) != Some(ours) {
            return Err(Error::verification(
                "the token's nonce is not the one we sent (a replayed or mixed-up answer)",
            ));
        }
    }
    Ok(AttestedTime {
        time: Timestamp::from_unix_nanos(gen_time),
        tsa: cert.tbs_certificate.subject.to_string(),
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
    })
}

/// The certificate among the token's that its one signer info names.
fn signer_cert<'a>(sd: &'a SignedData, signer: &SignerInfo) -> Result<&'a Certificate> {
    let certs = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        });
    let mut found = None;
    for cert in certs {
        let tbs = &cert.tbs_certificate;
        let matches = match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                tbs.issuer == id.issuer && tbs.serial_number == id.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                .extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id == oids::SUBJECT_KEY_ID)
                .any(|e| {
                    SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                        .is_ok_and(|k| k.0 == ski.0)
                }),
        };
        if matches {
            found = Some(cert);
            break;
        }
    }
    found.ok_or_else(|| {
        Error::verification(
            "the token does not carry the TSA certificate that signed it (was certReq false?)",
        )
    })
}

/// Check the signer info's signed attributes (RFC 5652 section 5.4, RFC 3161 section 2.4.2)
/// and return their DER, the bytes the signature covers.
fn check_signed_attrs(signer: &SignerInfo, cert: &Certificate, tst_der: &[u8]) -> Result<Vec<u8>> {
    if signer.digest_alg.oid != oids::SHA256 {
        return Err(Error::verification(format!(
            "the token's signer digest is {}; trailseal checks SHA-256 only",
            signer.digest_alg.oid
        )));
    }
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("no signed attributes"))?;
    let single = |oid| {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(a), None) => match a.values.as_slice() {
                [v] => Ok(Some(v)),
                _ => Err(malformed(format!(
                    "attribute {oid} has not exactly one value"
                ))),
            },
            (None, _) => Ok(None),
            _ => Err(malformed(format!("attribute {oid} appears twice"))),
        }
    };
    let content_type =
        single(oids::CONTENT_TYPE)?.ok_or_else(|| malformed("no content-type attribute"))?;
    if content_type.decode_as::<der::asn1::ObjectIdentifier>().ok() != Some(oids::CT_TST_INFO) {
        return Err(Error::verification(
            "the signed content-type attribute is not TSTInfo",
        ));
    }
    let md = single(oids::MESSAGE_DIGEST)?
        .ok_or_else(|| malformed("no message-digest attribute"))?
        .decode_as::<OctetString>()
        .map_err(malformed)?;
    if md.as_bytes() != Sha256::digest(tst_der).as_slice() {
        return Err(Error::verification(
            "the signed message digest is not the digest of the token's TSTInfo",
        ));
    }
    let cert_der = cert.to_der().map_err(malformed)?;
    if let Some(v) = single(oids::SIGNING_CERTIFICATE_V2)? {
        let sc: SigningCertificateV2 = v.decode_as().map_err(malformed)?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| malformed("empty signing-certificate-v2 attribute"))?;
        let alg = first
            .hash_algorithm
            .as_ref()
            .map_or(oids::SHA256, |a| a.oid);
        if alg != oids::SHA256 {
            return Err(Error::verification(format!(
                "the ESSCertIDv2 hash is {alg}; trailseal checks SHA-256 only"
            )));
        }
        if first.cert_hash.as_bytes() != Sha256::digest(&cert_der).as_slice() {
            return Err(Error::verification(
                "the signed ESSCertIDv2 names another certificate than the signer's",
            ));
        }
    } else if let Some(v) = single(oids::SIGNING_CERTIFICATE)? {
        let sc: SigningCertificate = v.decode_as().map_err(malformed)?;
        let first = sc
            .certs
            .first()
            .ok_or_else(|| malformed("empty signing-certificate attribute"))?;
        // ESSCertID (v1) is fixed to SHA-1 by RFC 2634; it identifies, it does not secure.
        if first.cert_hash.as_bytes() != sha1::Sha1::digest(&cert_der).as_slice() {
            return Err(Error::verification(
                "the signed ESSCertID names another certificate than the signer's",
            ));
        }
    }
    attrs.to_der().map_err(malformed)
}
