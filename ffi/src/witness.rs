//! Witnesses from C: ask C2SP witnesses to cosign the ledger's checkpoint, and verify the
//! ledger under a witness quorum. The rules (quorum default, refusals, timeouts) are the
//! core's; this file only converts.

use std::ffi::c_char;

use serde_json::Value;
use trailseal::{Error, WitnessPolicy, WitnessSpec};

use crate::ledger::with_ledger_string;
use crate::{arg_handle, arg_json, trailseal_ledger, trailseal_signer, trailseal_status, Res};

/// The strings of a JSON array argument, or `Malformed` naming `what` and the form expected.
fn strings(v: Value, what: &'static str, form: &str) -> Res<Vec<String>> {
    let bad = || Error::malformed(what, format!("expected {form}"));
    let Value::Array(items) = v else {
        return Err(bad().into());
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::String(s) => Ok(s),
            _ => Err(bad().into()),
        })
        .collect()
}

/// A quorum argument: a negative number asks for every witness given.
fn quorum(q: i64) -> Option<usize> {
    usize::try_from(q).ok()
}

/// The witness policy of a `witness_keys_json` array of vkey strings and a quorum, as
/// `trailseal_verify_cosigned` and `trailseal_ledger_verify_witnessed` take them.
///
/// # Safety
/// `witness_keys_json` is NULL or a NUL-terminated string.
pub(crate) unsafe fn witness_policy(
    witness_keys_json: *const c_char,
    q: i64,
) -> Res<WitnessPolicy> {
    // SAFETY: forwarded contract.
    let json = unsafe { arg_json(witness_keys_json, "witness_keys_json")? };
    let keys = strings(json, "witness keys", "a JSON array of witness vkey strings")?;
    Ok(WitnessPolicy::from_keys(&keys, quorum(q))?)
}

/// Asks C2SP witnesses (tlog-witness v1.0.0) to cosign this ledger's checkpoint at its current
/// size, signed by `signer` (the newest kept checkpoint is reused when it is of that size and by
/// that key), and keeps every valid cosignature with the checkpoint. `witnesses_json` is a JSON
/// array of `["<submission URL prefix>", "<witness vkey>"]` pairs; `quorum` is how many must
/// cosign (negative: all of them); each request may take `timeout_seconds`.
///
/// Writes the report to `*report_json_out` (free it with `trailseal_string_free`) even when
/// fewer than `quorum` cosigned: `{"size", "quorum", "cosigned", "quorum_met", "note" (the
/// checkpoint with every cosignature kept for it), "witnesses": [{"url", "witness",
/// "cosigned", "error"}]}`. `TRAILSEAL_STATUS_INVALID_ARGUMENT` before any request for a
/// ledger whose tree is not SHA-256, no witness, the same witness twice, a quorum above the
/// number of witnesses, or a timeout that is not a positive number of seconds;
/// `TRAILSEAL_STATUS_MALFORMED` for `witnesses_json` not of that form.
///
/// The requests run with no lock held, so other handles and processes append meanwhile.
///
/// # Safety
///
/// `ledger` and `signer` are NULL or live handles; `witnesses_json` is NULL or a
/// NUL-terminated string; `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_witness(
    ledger: *const trailseal_ledger,
    signer: *const trailseal_signer,
    witnesses_json: *const c_char,
    quorum: i64,
    timeout_seconds: f64,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            let signer = &arg_handle(signer, "signer")?.signer;
            let form = "a JSON array of [url, witness vkey] pairs";
            let Value::Array(pairs) = arg_json(witnesses_json, "witnesses_json")? else {
                return Err(Error::malformed("witnesses", format!("expected {form}")).into());
            };
            let specs = pairs
                .into_iter()
                .map(
                    |p| match <[String; 2]>::try_from(strings(p, "witnesses", form)?) {
                        Ok([url, key]) => Ok(WitnessSpec::new(url, &key)?),
                        Err(_) => {
                            Err(Error::malformed("witnesses", format!("expected {form}")).into())
                        }
                    },
                )
                .collect::<Res<Vec<WitnessSpec>>>()?;
            let timeout = trailseal::request_timeout(timeout_seconds)?;
            Ok(l.witness(signer, &specs, self::quorum(quorum), timeout)?
                .to_json())
        })
    }
}
