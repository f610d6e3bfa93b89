//! Pruning from C (SPEC section 8.1): removing the leaf bytes retention allows to go, where a
//! pruned entry went, and compacting the file afterwards. What may go, and every refusal, is
//! the core's (`Ledger::prune`).

use std::ffi::c_char;

use serde_json::Value;
use trailseal::{Ledger, PruneOptions, Timestamp};

use crate::ledger::with_ledger_string;
use crate::retention::with_recorded_by;
use crate::{arg_path, arg_str, guard, trailseal_ledger, trailseal_status, Out};

/// Prunes every entry whose retention ended by `before` (RFC 3339) and that no hold covers
/// (with `dry_run`, only says what would go), recording each step as a `retention.pruned`
/// entry by `actor` with `authz_json`. Writes the report to `*report_json_out`: `{"dry_run",
/// "before", "size", "rules", "pruned": [[start, end], ...], "count", "records", "kept":
/// {"protected", "no_rule", "in_retention", "held", "linked", "at_edge"}, "already_pruned"}`
/// (free it with `trailseal_string_free`). A ledger with committed indexes is
/// `TRAILSEAL_STATUS_INVALID_ARGUMENT`; a time that does not parse `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `before`, `actor` and `authz_json` are NULL or
/// NUL-terminated strings; `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_prune(
    ledger: *const trailseal_ledger,
    before: *const c_char,
    dry_run: bool,
    actor: *const c_char,
    authz_json: *const c_char,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            let before = Timestamp::parse(arg_str(before, "before")?)?;
            with_recorded_by(actor, authz_json, |by| {
                let opts = PruneOptions {
                    before,
                    dry_run,
                    by: by.clone(),
                };
                Ok(l.prune(&opts)?.to_json())
            })
        })
    }
}

/// Writes where entry `index` went, if it was pruned, to `*pruned_json_out`: `{"index",
/// "leaf_hash", "pruned": {"by", "at", "rules_version"}}`, or the JSON text `null` when its
/// content is there (free it with `trailseal_string_free`). Reading a pruned entry
/// (`trailseal_ledger_get`) is `TRAILSEAL_STATUS_OUT_OF_RANGE` saying the same.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `pruned_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_pruned(
    ledger: *const trailseal_ledger,
    index: u64,
    pruned_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, pruned_json_out, "pruned_json_out", |l| {
            Ok(l.pruned(index)?.map_or(Value::Null, |p| p.to_json()))
        })
    }
}

/// Rewrites the ledger file at `path` so the pages pruning freed go back to the file system,
/// and writes whether anything moved to `*compacted_out`. Needs the file to itself: with any
/// handle open on it, in this process or another, it is `TRAILSEAL_STATUS_LOCKED`.
///
/// # Safety
///
/// `path` is NULL or a NUL-terminated string; `compacted_out` is NULL or valid for writing a
/// `bool`.
#[no_mangle]
pub unsafe extern "C" fn trailseal_compact(
    path: *const c_char,
    compacted_out: *mut bool,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(compacted_out, "compacted_out")?;
        // SAFETY: per this function's contract.
        let path = unsafe { arg_path(path, "path")? };
        let compacted = Ledger::compact(path)?;
        // SAFETY: `out` was checked non-NULL; the caller made it valid for writing.
        unsafe { out.write(compacted) };
        Ok(())
    })
}
