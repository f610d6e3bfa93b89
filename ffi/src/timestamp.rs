//! Trusted time from C: have an RFC 3161 time-stamp authority time-stamp a kept checkpoint,
//! read the token kept for one, and check a bundle's token offline. The checks are the core's
//! (`trailseal::timestamp_token`); this file only converts.

use std::ffi::c_char;

use trailseal::evidence::verify_bundle_with_tsa;

use crate::audit::bundle_args;
use crate::ledger::{with_ledger, with_ledger_string};
use crate::{
    arg_str, guard, opt_size, put_bytes, put_json, trailseal_ledger, trailseal_signer,
    trailseal_status, Out,
};

/// Has the time-stamp authority at `tsa_url` (an RFC 3161 HTTP endpoint) time-stamp the kept
/// checkpoint number `checkpoint` (0 is the first signed; `TRAILSEAL_SIZE_CURRENT` for the
/// newest kept one, or, when none is kept, one signed now by `signer`, which may otherwise be
/// NULL), checks the token against the trusted CA certificate `ca_pem` (PEM text), and keeps
/// it beside the checkpoint. A checkpoint whose kept token already checks out under `ca_pem`
/// keeps it and no request is made. The request runs with no lock held.
///
/// Writes `{"checkpoint": N, "size", "attested": {"time", "tsa", "serial", "policy"},
/// "requested": bool, "token": "<base64 DER>"}` to `*result_json_out` (free it with
/// `trailseal_string_free`). Failures store nothing: `TRAILSEAL_STATUS_IO` for a TSA that
/// cannot be reached, does not answer within `timeout_seconds` or answers with something that
/// is not a TimeStampResp; `TRAILSEAL_STATUS_VERIFICATION_FAILED` for a token that does not
/// check out; `TRAILSEAL_STATUS_OUT_OF_RANGE` for a checkpoint number the ledger does not
/// keep; `TRAILSEAL_STATUS_INVALID_ARGUMENT` for no kept checkpoint and no signer, or a
/// timeout that is not a positive number.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `signer` is NULL or a live handle; `tsa_url` and `ca_pem`
/// are NULL or NUL-terminated strings; `result_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_timestamp_checkpoint(
    ledger: *const trailseal_ledger,
    tsa_url: *const c_char,
    ca_pem: *const c_char,
    checkpoint: u64,
    signer: *const trailseal_signer,
    timeout_seconds: f64,
    result_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, result_json_out, "result_json_out", |l| {
            let url = arg_str(tsa_url, "tsa_url")?;
            let ca = arg_str(ca_pem, "ca_pem")?;
            // SAFETY: NULL or a live handle, per this function's contract.
            let signer = signer.as_ref().map(|s| &s.signer);
            let timeout = trailseal::request_timeout(timeout_seconds)?;
            let done =
                l.timestamp_checkpoint(url, ca.as_bytes(), opt_size(checkpoint), signer, timeout)?;
            Ok(done.to_json())
        })
    }
}

/// Writes the RFC 3161 time-stamp token (DER) kept for checkpoint number `checkpoint` to
/// `*token_out` and its length to `*token_len_out` (free it with `trailseal_bytes_free`); when
/// none is kept, writes NULL and 0 and returns `TRAILSEAL_STATUS_OK`. Check the token with
/// `trailseal_verify_timestamp_token` over that checkpoint's note.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `token_out` and `token_len_out` are NULL or valid for
/// writing.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_checkpoint_timestamp(
    ledger: *const trailseal_ledger,
    checkpoint: u64,
    token_out: *mut *mut u8,
    token_len_out: *mut usize,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            let out = Out::new(token_out, "token_out")?;
            let out_len = Out::new(token_len_out, "token_len_out")?;
            match l.checkpoint_timestamp(checkpoint)? {
                Some(token) => put_bytes(out, out_len, token),
                None => {
                    out.write(std::ptr::null_mut());
                    out_len.write(0);
                }
            }
            Ok(())
        })
    }
}

/// `trailseal_verify_bundle`, and the bundle's time-stamp token checked against the trusted
/// CA certificate `ca_pem` (PEM text): the report adds `"attested": {"time", "tsa", "serial",
/// "policy"}`. A bundle without a token, or one that does not check out, is
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED`.
///
/// # Safety
///
/// `bundle` is NULL or points to `bundle_len` readable bytes; `verifier_key` and `ca_pem` are
/// NULL or NUL-terminated strings; `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_bundle_with_tsa(
    bundle: *const u8,
    bundle_len: usize,
    verifier_key: *const c_char,
    ca_pem: *const c_char,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(report_json_out, "report_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let (bytes, verifier) = bundle_args(bundle, bundle_len, verifier_key)?;
            let ca = arg_str(ca_pem, "ca_pem")?;
            let report = verify_bundle_with_tsa(bytes, &verifier, ca.as_bytes())?;
            put_json(out, &report.to_json())
        }
    })
}
