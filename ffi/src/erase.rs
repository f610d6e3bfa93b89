//! Personal fields and their erasure from C (SPEC section 10): erasing their values with the
//! record that says why, reading an entry's openings, and checking one (a ledger that seals
//! fields is created with `trailseal_ledger_create_personal`, in `ledger.rs`). What may be
//! erased, and every refusal, is the core's.

use std::ffi::c_char;

use serde_json::Value;
use trailseal::{EraseOptions, EraseSelect, RecordedBy};

use crate::ledger::{with_ledger, with_ledger_string};
use crate::{arg_json, arg_str, guard, opt_str, trailseal_ledger, trailseal_status};

/// Erases the personal values of the entries `select_json` names (`{"actor": id}`,
/// `{"subject": "type:id"}` or `{"indexes": [...]}`), recording an `erasure.performed` entry by
/// `actor` with `authz_json` (why it was allowed), `reason` and `legal_basis` (NULL: none);
/// `request` (NULL: `erasure`) is the record's subject id; `dry_run` changes nothing. Writes
/// `{"dry_run", "erased", "count", "skipped", "records"}` to `*report_json_out`. An entry under
/// a legal hold, a protected record, nothing to erase or a ledger without personal fields is
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`, with nothing changed.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; the strings are NULL or NUL-terminated;
/// `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn trailseal_ledger_erase(
    ledger: *const trailseal_ledger,
    select_json: *const c_char,
    reason: *const c_char,
    actor: *const c_char,
    authz_json: *const c_char,
    legal_basis: *const c_char,
    request: *const c_char,
    dry_run: bool,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            let select = EraseSelect::from_json(&arg_json(select_json, "select_json")?)?;
            let authz = arg_json(authz_json, "authz_json")?;
            let report = l.erase(&EraseOptions {
                select,
                reason: arg_str(reason, "reason")?,
                legal_basis: opt_str(legal_basis, "legal_basis")?,
                request: opt_str(request, "request")?,
                dry_run,
                by: RecordedBy {
                    actor: arg_str(actor, "actor")?,
                    authz: &authz,
                },
            })?;
            Ok(report.to_json())
        })
    }
}

/// Writes entry `index`'s openings, `{"<field>": {"salt", "value"}}`, to `*openings_json_out`
/// (`null` without sealed fields or once erased): what whoever must show later what it
/// recorded keeps (`trailseal_check_opening`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `openings_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_openings(
    ledger: *const trailseal_ledger,
    index: u64,
    openings_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, openings_json_out, "openings_json_out", |l| {
            Ok(l.openings(index)?.unwrap_or(Value::Null))
        })
    }
}

/// Writes the fields this ledger seals as commitments, a JSON array (empty when none), to
/// `*fields_json_out`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `fields_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_personal_fields(
    ledger: *const trailseal_ledger,
    fields_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, fields_json_out, "fields_json_out", |l| {
            Ok(Value::from(l.personal_fields().to_vec()))
        })
    }
}

/// Overwrites the file's free pages with zeros (what `trailseal_ledger_erase` ends with).
///
/// # Safety
///
/// `ledger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_scrub_free_pages(
    ledger: *const trailseal_ledger,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe { with_ledger(ledger, |l| Ok(l.scrub_free_pages()?)) }
}

/// Checks that `value_json` (any JSON value) under `salt` (64 hex digits) gives `commitment` (a
/// sealed field as a leaf holds it): how whoever kept an entry's openings shows what it
/// recorded, after its erasure too. `TRAILSEAL_STATUS_VERIFICATION_FAILED` when they do not,
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT` for a salt that is not 32 bytes of hex.
///
/// # Safety
///
/// The three are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn trailseal_check_opening(
    commitment: *const c_char,
    salt: *const c_char,
    value_json: *const c_char,
) -> trailseal_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let (c, s, v) = unsafe {
            (
                arg_str(commitment, "commitment")?,
                arg_str(salt, "salt")?,
                arg_json(value_json, "value_json")?,
            )
        };
        Ok(trailseal::entry::check_opening(c, s, &v)?)
    })
}
