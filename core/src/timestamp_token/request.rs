//! Asking a time-stamp authority for a token (RFC 3161 sections 2.4.1 and 3.4: a DER
//! TimeStampReq POSTed as `application/timestamp-query`), and checking its answer before
//! anyone keeps it.

use std::io;
use std::time::Duration;

use der::asn1::{Int, OctetString};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use super::chain::parse_ca;
use super::oids;
use super::verify::check_token;
use super::AttestedTime;
use crate::error::{Error, Result};

/// How long a TSA may take to answer, connection included, unless the caller says otherwise.
pub const DEFAULT_TSA_TIMEOUT: Duration = Duration::from_secs(30);

/// Time-stamp responses are a few kilobytes; this bounds what a misbehaving server can make
/// us read.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// A token the TSA granted and that passed every check, with what it attests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantedToken {
    /// The DER TimeStampToken (a CMS ContentInfo), as kept in the ledger and in bundles.
    pub token: Vec<u8>,
    /// What it attests.
    pub attested: AttestedTime,
}

/// Ask the TSA at `url` to time-stamp `note_bytes` (their SHA-256, with a random nonce and
/// certReq set), and check the token against the CA in `ca_pem` and the nonce. No ledger
/// is involved: the caller keeps the token.
pub fn request_timestamp(
    url: &str,
    ca_pem: &[u8],
    note_bytes: &[u8],
    timeout: Duration,
) -> Result<GrantedToken> {
    // The CA is read before the network is touched: a wrong path fails without a request.
    let ca = parse_ca(ca_pem)?;
    let digest: [u8; 32] = Sha256::digest(note_bytes).into();
    let nonce = nonce()?;
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: oids::SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.to_vec()).map_err(internal)?,
        },
        req_policy: None,
        nonce: Some(Int::new(&nonce).map_err(internal)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .map_err(internal)?;
    let body = post(url, &request, timeout)?;
    read_response(url, &body, &digest, &ca, Some(&nonce))
}

/// Check a TimeStampResp (DER) obtained some other way as an answer for `note_bytes`: as
/// [`request_timestamp`] does, less the nonce, which only the requester knows.
pub fn verify_timestamp_response(
    response_der: &[u8],
    note_bytes: &[u8],
    ca_pem: &[u8],
) -> Result<GrantedToken> {
    let ca = parse_ca(ca_pem)?;
    let digest: [u8; 32] = Sha256::digest(note_bytes).into();
    read_response("(given)", response_der, &digest, &ca, None)
}

/// The token of a TSA's answer, once the answer is a grant and the token passes every check.
fn read_response(
    url: &str,
    body: &[u8],
    digest: &[u8; 32],
    ca: &x509_cert::Certificate,
    nonce: Option<&[u8]>,
) -> Result<GrantedToken> {
    // A TSA that answers garbage or refuses is a remote service failing, like a timeout:
    // an I/O error, not a check of ours that failed.
    let response = TimeStampResp::from_der(body).map_err(|e| {
        Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "time-stamp authority {url} answered something that is not a TimeStampResp: {e}"
            ),
        ))
    })?;
    let status = &response.status;
    // 0 granted, 1 grantedWithMods (RFC 3161 section 2.4.2); everything else carries no token.
    if !matches!(status.status as u8, 0 | 1) {
        let text = status
            .status_string
            .as_ref()
            .map(|t| {
                t.iter()
                    .map(|s| s.as_str().to_owned())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        return Err(Error::Io(io::Error::other(format!(
            "time-stamp authority {url} refused the request: status {:?} {text} (failure info {:?})",
            status.status, status.fail_info
        ))));
    }
    let token = response
        .time_stamp_token
        .ok_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("time-stamp authority {url} granted the request but sent no token"),
            ))
        })?
        .to_der()
        .map_err(|e| Error::malformed("time-stamp response", e.to_string()))?;
    let attested = check_token(&token, digest, ca, nonce)?;
    Ok(GrantedToken { token, attested })
}

/// A positive 63-bit nonce with no leading zero byte, so its DER INTEGER is these 8 bytes
/// and the TSA's echo compares byte for byte.
fn nonce() -> Result<[u8; 8]> {
    let mut n = [0u8; 8];
    getrandom::fill(&mut n)
        .map_err(|e| Error::Io(io::Error::other(format!("no randomness for a nonce: {e}"))))?;
    n[0] = (n[0] & 0x7f) | 0x01;
    Ok(n)
}

fn internal(e: der::Error) -> Error {
    Error::Internal(format!("encoding a time-stamp request: {e}"))
}

/// POST the request and return the body of a 200 answer. Network failures are I/O errors
/// whose kind tells a timeout and a refused connection apart.
fn post(url: &str, request: &[u8], timeout: Duration) -> Result<Vec<u8>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let net = |e: ureq::Error| {
        let kind = match &e {
            ureq::Error::Timeout(_) => io::ErrorKind::TimedOut,
            ureq::Error::Io(io) => io.kind(),
            ureq::Error::HostNotFound => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        Error::Io(io::Error::new(
            kind,
            format!("time-stamp authority {url}: {e}"),
        ))
    };
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .send(request)
        .map_err(net)?;
    let status = response.status();
    if status != 200 {
        return Err(Error::Io(io::Error::other(format!(
            "time-stamp authority {url} answered HTTP {status}"
        ))));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(net)
}
