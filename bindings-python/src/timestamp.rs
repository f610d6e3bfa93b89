//! Trusted time without a ledger: `verify_timestamp_token` and `verify_bundle_with_tsa` (the
//! ledger's own calls, `Ledger.timestamp_checkpoint` and `Ledger.checkpoint_timestamp`, are
//! with the class). Each releases the GIL while it checks signatures.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use trailseal::evidence::verify_bundle_with_tsa as core_verify_bundle_with_tsa;

use crate::convert::{text_or_bytes, value_to_py, verifier};
use crate::error::{core, guarded};

/// The bytes of an argument given as text (UTF-8) or bytes; `what` names it in the error.
pub(crate) fn pem_or_bytes(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    text_or_bytes(obj)?.ok_or_else(|| PyTypeError::new_err(format!("{what} is str or bytes")))
}

/// Check an RFC 3161 time-stamp token (DER bytes) as a time-stamp of `note` (the checkpoint
/// note, text or bytes) by a TSA under the CA certificate `tsa_ca` (PEM, text or bytes).
/// Returns what it attests: `{"time", "tsa", "serial", "policy"}`; raises VerificationError
/// or MalformedError.
#[pyfunction]
pub(crate) fn verify_timestamp_token<'py>(
    py: Python<'py>,
    token: &Bound<'py, PyAny>,
    note: &Bound<'py, PyAny>,
    tsa_ca: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let token = pem_or_bytes(token, "token")?;
    let note = pem_or_bytes(note, "note")?;
    let ca = pem_or_bytes(tsa_ca, "tsa_ca")?;
    let r = py.detach(move || {
        guarded(|| Ok(trailseal::verify_timestamp_token(&token, &note, &ca)?.to_json()))
    });
    value_to_py(py, &core(py, r)?)
}

/// `verify_bundle`, and the bundle's time-stamp token checked against the CA certificate
/// `tsa_ca` (PEM): the report also carries `"attested"`. A bundle without a token fails.
#[pyfunction]
pub(crate) fn verify_bundle_with_tsa<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyAny>,
    verifier_key: &str,
    tsa_ca: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let bytes = pem_or_bytes(text, "a bundle")?;
    let ca = pem_or_bytes(tsa_ca, "tsa_ca")?;
    let r = py.detach(move || {
        guarded(|| {
            Ok(core_verify_bundle_with_tsa(&bytes, &verifier(verifier_key)?, &ca)?.to_json())
        })
    });
    value_to_py(py, &core(py, r)?)
}
