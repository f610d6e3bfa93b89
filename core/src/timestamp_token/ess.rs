//! The ESS signing-certificate attributes (RFC 2634 section 5.4, RFC 5035 section 3), which
//! no RustCrypto crate defines: a TSA names the certificate it signed with by its hash, so
//! a token cannot be passed off as signed by another certificate of the same key.
//! Only the fields read here are typed; the rest are kept opaque.

use der::asn1::OctetString;
use der::{Any, Sequence};
use spki::AlgorithmIdentifierOwned;

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID, policies ... OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
pub(super) struct SigningCertificate {
    pub certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
pub(super) struct EssCertId {
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<Any>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies ... OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
pub(super) struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    pub policies: Option<Any>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
pub(super) struct EssCertIdV2 {
    #[asn1(optional = "true")]
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    pub cert_hash: OctetString,
    #[asn1(optional = "true")]
    pub issuer_serial: Option<Any>,
}
