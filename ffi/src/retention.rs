//! Retention and legal hold from C (SPEC section 8): recording retention rules and holds as
//! entries, reading them back, and the plan of what retention allows. The rules are the core's
//! (`trailseal::retention`).

use std::ffi::c_char;

use serde_json::Value;
use trailseal::retention::RetentionRules;
use trailseal::{RecordedBy, Timestamp};

use crate::ledger::with_ledger_string;
use crate::{arg_json, arg_str, opt_size, opt_str, trailseal_ledger, trailseal_status, Res};

/// Runs `body` with who records an entry and why that was allowed: `actor` and `authz_json`
/// (`{"decision", "policy", "reason"?}`) read from their C strings.
///
/// # Safety
/// `actor` and `authz_json` are NULL or NUL-terminated strings.
pub(crate) unsafe fn with_recorded_by<T>(
    actor: *const c_char,
    authz_json: *const c_char,
    body: impl FnOnce(&RecordedBy<'_>) -> Res<T>,
) -> Res<T> {
    // SAFETY: per this function's contract.
    let authz = unsafe { arg_json(authz_json, "authz_json")? };
    let by = RecordedBy {
        // SAFETY: per this function's contract.
        actor: unsafe { arg_str(actor, "actor")? },
        authz: &authz,
    };
    body(&by)
}

/// Publishes the retention rules `document_json` (SPEC section 8, e.g. `{"version":
/// "sox-2026", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}`) as a
/// `retention.published` entry by `actor`, `authz_json` saying why it was allowed
/// (`{"decision", "policy", "reason"?}`); in force for every entry after it. Writes the
/// receipt to `*receipt_json_out` (free it with `trailseal_string_free`). Rules that do not
/// parse are `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `document_json`, `actor` and `authz_json` are NULL or
/// NUL-terminated strings; `receipt_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_publish_retention_rules(
    ledger: *const trailseal_ledger,
    document_json: *const c_char,
    actor: *const c_char,
    authz_json: *const c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            let rules = RetentionRules::from_json(&arg_json(document_json, "document_json")?)?;
            with_recorded_by(actor, authz_json, |by| {
                Ok(l.publish_retention_rules(&rules, by)?.to_json())
            })
        })
    }
}

/// Places legal hold `id` over what `covers_json` matches (a query object such as
/// `{"subject": "service:payments"}` or `{"actor": "bob"}`) as a `legal_hold.placed` entry by
/// `actor` with `authz_json`: what it covers is never pruned or erased until it is released.
/// Writes the receipt to `*receipt_json_out`. `TRAILSEAL_STATUS_INVALID_ARGUMENT` while a hold
/// of that id is in force; `TRAILSEAL_STATUS_MALFORMED` for a `covers` that names nothing.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `id`, `covers_json`, `actor` and `authz_json` are NULL
/// or NUL-terminated strings; `receipt_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_place_hold(
    ledger: *const trailseal_ledger,
    id: *const c_char,
    covers_json: *const c_char,
    actor: *const c_char,
    authz_json: *const c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            let id = arg_str(id, "id")?;
            let covers = arg_json(covers_json, "covers_json")?;
            with_recorded_by(actor, authz_json, |by| {
                Ok(l.place_hold(id, &covers, by)?.to_json())
            })
        })
    }
}

/// Releases legal hold `id` (a `legal_hold.released` entry by `actor` with `authz_json`) and
/// writes the receipt to `*receipt_json_out`. `TRAILSEAL_STATUS_INVALID_ARGUMENT` when no hold
/// of that id is in force.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `id`, `actor` and `authz_json` are NULL or NUL-terminated
/// strings; `receipt_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_release_hold(
    ledger: *const trailseal_ledger,
    id: *const c_char,
    actor: *const c_char,
    authz_json: *const c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            let id = arg_str(id, "id")?;
            with_recorded_by(actor, authz_json, |by| {
                Ok(l.release_hold(id, by)?.to_json())
            })
        })
    }
}

/// Writes the retention rules in force for the entry at `index` (`TRAILSEAL_SIZE_CURRENT`: the
/// next append) to `*version_json_out`: `{"index", "version", "digest", "rules"}`, or the JSON
/// text `null` before any were recorded (free it with `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `version_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_retention_rules_at(
    ledger: *const trailseal_ledger,
    index: u64,
    version_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, version_json_out, "version_json_out", |l| {
            Ok(l.retention_rules_at(opt_size(index))?
                .map_or(Value::Null, |v| v.to_json()))
        })
    }
}

/// Writes every legal hold recorded, in force or released, to `*holds_json_out`: a JSON array
/// of `{"id", "placed", "released", "covers"}` (free it with `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `holds_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_legal_holds(
    ledger: *const trailseal_ledger,
    holds_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, holds_json_out, "holds_json_out", |l| {
            Ok(Value::Array(
                l.legal_holds()?.iter().map(|h| h.to_json()).collect(),
            ))
        })
    }
}

/// Writes what retention allows at time `at` (RFC 3339; NULL: now) to `*plan_json_out`:
/// `{"at", "size", "rules", "eligible": [[start, end], ...], "counts": {"eligible",
/// "protected", "no_rule", "in_retention", "held", "linked"}, "pruned"}` (free it with
/// `trailseal_string_free`). A time that does not parse is `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `at` is NULL or a NUL-terminated string;
/// `plan_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_retention_plan(
    ledger: *const trailseal_ledger,
    at: *const c_char,
    plan_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, plan_json_out, "plan_json_out", |l| {
            let at = opt_str(at, "at")?.map(Timestamp::parse).transpose()?;
            Ok(l.retention_plan(at)?.to_json())
        })
    }
}
