//! RFC 3161 trusted timestamps of checkpoints: a time-stamp authority (TSA) signs the SHA-256
//! of a signed checkpoint note's bytes with the time it saw them, so a third party attests
//! that this tree existed no later than then.
//!
//! - [`request_timestamp`] (`request.rs`): ask a TSA over HTTP and check the answer.
//! - [`verify_timestamp_token`] (`verify.rs`): check a kept token offline: the CMS signature
//!   by the certificate it names (`signature.rs`: ECDSA P-256 or RSA PKCS#1 v1.5, SHA-256),
//!   the signed attributes (content type, message digest of the TSTInfo, ESSCertID or
//!   ESSCertIDv2 naming the signer, `ess.rs`), the certificate's chain to the caller's CA, its
//!   validity at the token's time and its critical timeStamping-only key usage (`chain.rs`),
//!   and the message imprint (`tst_info.rs`: TSTInfo with genTime's fractional seconds).
//!
//! Tokens are DER bytes in and out and the attested time a [`Timestamp`], so bindings need
//! no ASN.1 of their own. Tokens are kept per checkpoint by
//! [`Ledger::timestamp_checkpoint`](crate::Ledger::timestamp_checkpoint).

mod chain;
mod ess;
mod request;
mod signature;
mod tst_info;
mod verify;

use serde_json::{json, Value};

use crate::entry::Timestamp;

pub use request::{
    request_timestamp, verify_timestamp_response, GrantedToken, DEFAULT_TSA_TIMEOUT,
};
pub(crate) use verify::imprint_matches;
pub use verify::verify_timestamp_token;

/// What a valid token attests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestedTime {
    /// The TSA's genTime: the note existed no later than this.
    pub time: Timestamp,
    /// The subject of the TSA certificate that signed the token.
    pub tsa: String,
    /// The token's serial number, lowercase hex.
    pub serial: String,
    /// The TSA policy it was issued under (an OID).
    pub policy: String,
}

impl AttestedTime {
    /// `{"time", "tsa", "serial", "policy"}`
    pub fn to_json(&self) -> Value {
        json!({
            "time": self.time.to_string(),
            "tsa": self.tsa,
            "serial": self.serial,
            "policy": self.policy,
        })
    }
}

/// The object identifiers read here, spelled once.
mod oids {
    use der::asn1::ObjectIdentifier as Oid;

    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    pub const SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
}
