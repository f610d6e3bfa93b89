//! Decisions as code from C (docs/RULES.md): publishing a rules document, the version in force
//! at an index, recording refusals, the delivery report, and the ledger-free dry run. The rules
//! themselves are the core's (`trailseal::rules`).

use std::ffi::c_char;

use serde_json::Value;
use trailseal::rules::Rules;

use crate::ledger::{with_ledger, with_ledger_string};
use crate::{arg_json, arg_str, guard, put_json, trailseal_ledger, trailseal_status, Out};

/// An optional JSON text argument: NULL means absent.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn opt_json(p: *const c_char, name: &str) -> crate::Res<Option<Value>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { arg_json(p, name) }.map(Some)
}

/// Publishes the rules document `document_json` (docs/RULES.md) as a `rules.published` entry by
/// `actor`, with `authz_json` (why it was allowed, a JSON object) and `links_json` (a JSON
/// array, e.g. `[{"rel":"approved_by","index":12}]`), each NULL when absent. It is judged by
/// the rules in force before it and governs every entry after it. Writes the entry's receipt to
/// `*receipt_json_out` (free it with `trailseal_string_free`). A document that is not rules is
/// `TRAILSEAL_STATUS_MALFORMED` (refused whole, nothing written).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `document_json`, `actor`, `authz_json` and `links_json`
/// are NULL or NUL-terminated strings; `receipt_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_publish_rules(
    ledger: *const trailseal_ledger,
    document_json: *const c_char,
    actor: *const c_char,
    authz_json: *const c_char,
    links_json: *const c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, receipt_json_out, "receipt_json_out", |l| {
            let rules = Rules::from_value(&arg_json(document_json, "document_json")?)?;
            let actor = arg_str(actor, "actor")?;
            let authz = opt_json(authz_json, "authz_json")?;
            let links = opt_json(links_json, "links_json")?;
            Ok(
                l.publish_rules(&rules, actor, authz.as_ref(), links.as_ref())?
                    .to_json(),
            )
        })
    }
}

/// Writes every rules version published, oldest first, to `*versions_json_out`: a JSON array
/// of `{"index", "version", "digest", "published_by", "authz", "links", "document"}` (free it
/// with `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `versions_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_rules_versions(
    ledger: *const trailseal_ledger,
    versions_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, versions_json_out, "versions_json_out", |l| {
            let all: Vec<Value> = l.rules_versions()?.iter().map(|v| v.to_json()).collect();
            Ok(Value::Array(all))
        })
    }
}

/// Writes the rules version in force for the entry at `index` (`TRAILSEAL_SIZE_CURRENT`: the
/// next append) to `*version_json_out`, in the form `trailseal_ledger_rules_versions` gives,
/// or the JSON text `null` before any was published (free it with `trailseal_string_free`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `version_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_rules_at(
    ledger: *const trailseal_ledger,
    index: u64,
    version_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, version_json_out, "version_json_out", |l| {
            Ok(l.rules_at(crate::opt_size(index))?
                .map_or(Value::Null, |v| v.to_json()))
        })
    }
}

/// Records (`record` true) or stops recording appends through this handle that break the
/// rules as `audit.refused` entries (SPEC section 3.1); the append still fails with
/// `TRAILSEAL_STATUS_RULE_VIOLATION`. Off by default.
///
/// # Safety
///
/// `ledger` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_set_record_refusals(
    ledger: *const trailseal_ledger,
    record: bool,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            l.set_record_refusals(record);
            Ok(())
        })
    }
}

/// Writes the delivery report (docs/RULES.md, "Reports") to `*report_json_out`: mean time to
/// decision, change requests per week, approval concentration (approvers whose share is above
/// `*threshold`, or 0.5 when `threshold` is NULL, flagged), break-glass per class and the AI
/// intervention rate (free it with `trailseal_string_free`). A threshold outside 0..1 is
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `threshold` is NULL or valid for reading a double;
/// `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_delivery_report(
    ledger: *const trailseal_ledger,
    threshold: *const f64,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            let threshold = threshold.as_ref().copied();
            Ok(l.delivery_report(threshold)?.to_json())
        })
    }
}

/// Judges the entry `entry_json` against the rules document `document_json` without a ledger,
/// as `trailseal rules check` does, and writes the verdict to `*verdict_json_out`:
/// `{"version", "class", "break_glass", "retention", "ai_output"}` (free it with
/// `trailseal_string_free`). An entry that breaks the rules is
/// `TRAILSEAL_STATUS_RULE_VIOLATION` (the message names the class, the requirement and the
/// version); a document that is not rules `TRAILSEAL_STATUS_MALFORMED`; an invalid entry
/// `TRAILSEAL_STATUS_INVALID_ENTRY`. Link requirements naming a linked entry's action or role
/// cannot be met without a ledger.
///
/// # Safety
///
/// `document_json` and `entry_json` are NULL or NUL-terminated strings; `verdict_json_out` is
/// NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_rules_check(
    document_json: *const c_char,
    entry_json: *const c_char,
    verdict_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(verdict_json_out, "verdict_json_out")?;
        // SAFETY: per this function's contract.
        unsafe {
            let rules = Rules::from_value(&arg_json(document_json, "document_json")?)?;
            let entry = arg_json(entry_json, "entry_json")?;
            put_json(out, &rules.check(&entry)?.to_json(&rules))
        }
    })
}
