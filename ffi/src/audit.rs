//! The auditor's questions: query, trace, why, release gates, evidence bundles and the
//! approvals report. JSON in, JSON out, in the shapes `trailseal ... --json` prints.

use std::ffi::c_char;

use trailseal::evidence::{verify_bundle_bytes, Selection};
use trailseal::gate::GatePolicy;
use trailseal::query::Query;
use trailseal::report::ReportOptions;
use trailseal::{entry, Verifier};

use crate::ledger::{with_ledger, with_ledger_string};
use crate::{
    arg_bytes, arg_handle, arg_json, arg_str, c_string, guard, opt_str, put_json, trailseal_ledger,
    trailseal_signer, trailseal_status, Out,
};

// JSON arguments are parsed strictly (`arg_json`: a repeated key is
// `TRAILSEAL_STATUS_MALFORMED`); the core's `from_json` forms then refuse unknown fields and
// wrong types.

// ---- the entry points --------------------------------------------------------------------

/// Finds entries: every filter of the query must hold (AND), one page at a time, newest first
/// unless `"order": "oldest"`. Reads only the indexes of its filters and the entries it
/// returns, never the whole ledger. Entry ledgers only (`TRAILSEAL_STATUS_WRONG_KIND`).
///
/// `query_json` is the core's query form (`Query::from_json`, the same in every binding),
/// every field optional (`"{}"` matches every entry):
/// `{"actor": "alice", "via": "alice", "action": "deploy.succeeded", "subject":
/// "release:2026.11.3", "attrs": {"env": "prod"}, "refs": ["git:4f2a9c1"], "decision":
/// "break_glass", "policy": "two-person", "links_to": 14, "since": "<RFC 3339>", "until":
/// "<RFC 3339>", "order": "newest" | "oldest", "limit": 100, "cursor": "<next_cursor>"}`
/// (`since` inclusive, `until` exclusive, on the recorded `time`; `limit` 0 or absent means
/// 100). An unknown field, a repeated key or a value of the wrong type is
/// `TRAILSEAL_STATUS_MALFORMED`.
///
/// Writes the page to `*page_json_out` (free it with `trailseal_string_free`):
/// `{"entries": [{"index": N, "entry": {...}}], "next_cursor": "..." | null}` (the core's
/// `Page::to_json`); each element
/// of `entries` is a line of `trailseal query --json`. Pass `next_cursor` back as `cursor`
/// (with the same filters) for the next page; it is null on the last page.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `query_json` is NULL or a NUL-terminated string;
/// `page_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_query(
    ledger: *const trailseal_ledger,
    query_json: *const c_char,
    page_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, page_json_out, "page_json_out", |l| {
            let q = Query::from_json(&arg_json(query_json, "query_json")?)?;
            Ok(l.query(&q)?.to_json())
        })
    }
}

/// Traces entry `index`: with `forward` false, what it rests on, transitively (its `links`,
/// external refs resolved to the entry whose `id` is the ref or the earliest entry carrying
/// it, and the `policy.published` version that allowed each entry); with `forward` true, what
/// rests on it. Writes `{"root": N, "nodes": [{"index": N, "entry": {...}, "links": [N, ...]}],
/// "unresolved": ["ref", ...]}` to `*trace_json_out` (nodes in index order, root included;
/// free it with `trailseal_string_free`), as `trailseal trace --json` prints it.
/// `TRAILSEAL_STATUS_OUT_OF_RANGE` past the end, `TRAILSEAL_STATUS_WRONG_KIND` on a raw
/// ledger.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `trace_json_out` is NULL or valid for writing a
/// pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_trace(
    ledger: *const trailseal_ledger,
    index: u64,
    forward: bool,
    trace_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, trace_json_out, "trace_json_out", |l| {
            Ok(l.trace(index, forward)?.to_json())
        })
    }
}

/// Which rule allowed entry `index`, what that rule said then, and who approved that
/// version. Writes `{"index": N, "entry": {...}, "authz": {...} | null, "policy": {"index": N,
/// "entry": {...}} | null, "approvals": [{"index": N, "entry": {...}}]}` to `*why_json_out`
/// (free it with `trailseal_string_free`), as `trailseal why --json` prints it: `policy` is
/// the `policy.published` entry its `authz.policy` / `policy_version` resolve to, `approvals`
/// the `approval.granted` entries of that version. `TRAILSEAL_STATUS_OUT_OF_RANGE` past the
/// end, `TRAILSEAL_STATUS_WRONG_KIND` on a raw ledger.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `why_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_why(
    ledger: *const trailseal_ledger,
    index: u64,
    why_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, why_json_out, "why_json_out", |l| {
            Ok(l.why(index)?.to_json())
        })
    }
}

/// Evaluates a release gate for `subject` (`"TYPE:ID"`, e.g. `"release:2026.11.3"`, split at
/// the first colon) and writes the result to `*result_json_out` (free it with
/// `trailseal_string_free`): `{"passed": bool, "requirements": [{"name": "...", "met": bool,
/// "evidence": [N, ...]}]}`, as `trailseal gate --json` prints it. Requirements come in
/// policy order: `min_approvals`, `forbid_self_approval`, then each action of `require`;
/// evidence indexes ascend. A gate that does not pass is still `TRAILSEAL_STATUS_OK`: read
/// `passed`.
///
/// `policy_json` is the policy file's text, e.g. `{"min_approvals": 2, "approver_roles":
/// ["release-manager", "sre"], "forbid_self_approval": true, "require": ["test.passed",
/// "scan.passed"]}` (`forbid_self_approval` defaults to true). An unknown field, a repeated
/// key, a policy that requires nothing, or a subject that is not `TYPE:ID` is
/// `TRAILSEAL_STATUS_MALFORMED`. The rules are the core's (`trailseal::gate`).
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `subject` and `policy_json` are NULL or NUL-terminated
/// strings; `result_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_gate(
    ledger: *const trailseal_ledger,
    subject: *const c_char,
    policy_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, result_json_out, "result_json_out", |l| {
            let subject = arg_str(subject, "subject")?;
            let policy = GatePolicy::from_json(arg_str(policy_json, "policy_json")?)?;
            Ok(l.gate(subject, &policy)?.to_json())
        })
    }
}

/// Evaluates the release gate for `subject` (as `trailseal_ledger_gate`) and records the
/// outcome as a `gate.passed` / `gate.failed` entry by `actor` on the subject, as
/// `trailseal gate --record` does: it links every piece of evidence (`rel` = the
/// requirement's name) and carries `attrs.policy_digest` and `payload: {"policy": <normalized
/// policy>, "result": <the result>}`.
///
/// The gate is evaluated inside this call (the core's `Ledger::gate_and_record`), not taken
/// from the caller, so the recorded verdict is always the ledger's own. Writes the result (the `trailseal_ledger_gate` JSON, exactly
/// the recorded `payload.result`) to `*result_json_out` and the append receipt to
/// `*receipt_json_out` (free both with `trailseal_string_free`); both are written on success
/// only. A gate that does not pass is recorded too (`gate.failed`) and is
/// `TRAILSEAL_STATUS_OK`. An `actor` the entry rules refuse (e.g. `""`) is
/// `TRAILSEAL_STATUS_INVALID_ENTRY`; otherwise statuses as `trailseal_ledger_gate` and
/// `trailseal_ledger_append`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `subject`, `policy_json` and `actor` are NULL or
/// NUL-terminated strings; `result_json_out` and `receipt_json_out` are NULL or valid for
/// writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_record_gate(
    ledger: *const trailseal_ledger,
    subject: *const c_char,
    policy_json: *const c_char,
    actor: *const c_char,
    result_json_out: *mut *mut c_char,
    receipt_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger(ledger, |l| {
            let result_out = Out::new(result_json_out, "result_json_out")?;
            let receipt_out = Out::new(receipt_json_out, "receipt_json_out")?;
            let subject = arg_str(subject, "subject")?;
            let policy = GatePolicy::from_json(arg_str(policy_json, "policy_json")?)?;
            let actor = arg_str(actor, "actor")?;
            let (result, receipt) = l.gate_and_record(subject, &policy, actor)?;
            // Both strings exist before either out-parameter is written.
            let result = c_string(result.to_json().to_string())?;
            let receipt = match c_string(receipt.to_json().to_string()) {
                Ok(p) => p,
                Err(f) => {
                    crate::trailseal_string_free(result);
                    return Err(f);
                }
            };
            result_out.write(result);
            receipt_out.write(receipt);
            Ok(())
        })
    }
}

/// Writes an evidence bundle (docs/BUNDLE.md) to `*bundle_out` (free it with
/// `trailseal_string_free`): the selected entries as recorded, each with its inclusion proof
/// against one checkpoint of the current tree, which this call signs with `signer` and keeps
/// in the ledger (as `trailseal_ledger_checkpoint`). Anyone can check the text with
/// `trailseal_verify_bundle` (or `trailseal verify-bundle`) and the signer's verifier key
/// alone. The text is the bundle file, byte for byte (it ends in a newline).
///
/// `selection_json` names the entries in the core's selection form (`Selection::from_json`,
/// the same in every binding), exactly one of:
///
/// - `{"subject": "TYPE:ID"}`: every entry on the subject;
/// - `{"query": {...}}`: every entry the query (`trailseal_ledger_query`'s form) matches, its
///   pages followed; or, when it has a `limit` above 0, that one page;
/// - `{"index": N, "forward": false}`: the entries of the trace from `index` (`forward`
///   optional, default false);
/// - `{"indexes": [N, ...]}`: these entries.
///
/// A selection of no entry is `TRAILSEAL_STATUS_INVALID_ARGUMENT` (as is one of more than
/// 10,000); an index past the end `TRAILSEAL_STATUS_OUT_OF_RANGE`; a selection that is not
/// one of the forms above `TRAILSEAL_STATUS_MALFORMED`; a raw ledger
/// `TRAILSEAL_STATUS_WRONG_KIND`.
///
/// # Safety
///
/// `ledger` and `signer` are NULL or live handles; `selection_json` is NULL or a
/// NUL-terminated string; `bundle_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_bundle(
    ledger: *const trailseal_ledger,
    selection_json: *const c_char,
    signer: *const trailseal_signer,
    bundle_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, bundle_out, "bundle_out", |l| {
            let selection = Selection::from_json(&arg_json(selection_json, "selection_json")?)?;
            let signer = &arg_handle(signer, "signer")?.signer;
            Ok(l.bundle(&selection, signer)?.to_text())
        })
    }
}

/// `trailseal_ledger_bundle`, proven against a checkpoint signed earlier instead of a fresh
/// one (for example one a witness cosigned: the bundle keeps only the signature of
/// `verifier_key`). Both arguments are required. The checkpoint must verify with
/// `verifier_key` (`TRAILSEAL_STATUS_VERIFICATION_FAILED` / `TRAILSEAL_STATUS_MALFORMED`),
/// be one of this ledger's trees (`TRAILSEAL_STATUS_INCONSISTENT`: another origin, or a root
/// the ledger does not have) and cover every selected entry
/// (`TRAILSEAL_STATUS_OUT_OF_RANGE`). Nothing is written to the ledger.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `selection_json`, `checkpoint_note` and `verifier_key`
/// are NULL or NUL-terminated strings; `bundle_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_bundle_with_checkpoint(
    ledger: *const trailseal_ledger,
    selection_json: *const c_char,
    checkpoint_note: *const c_char,
    verifier_key: *const c_char,
    bundle_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, bundle_out, "bundle_out", |l| {
            let selection = Selection::from_json(&arg_json(selection_json, "selection_json")?)?;
            let note = arg_str(checkpoint_note, "checkpoint_note")?;
            let verifier = Verifier::from_key_string(arg_str(verifier_key, "verifier_key")?)?;
            Ok(l.bundle_with_checkpoint(&selection, note, &verifier)?
                .to_text())
        })
    }
}

/// Verifies an evidence bundle with nothing but the verifier key of its checkpoint's signer:
/// the bundle's text must be its one canonical spelling, the checkpoint's signature must
/// verify, the bundle's origin, size, root and key name must be the checkpoint's, and every
/// entry's canonical JSON must hash to its leaf hash and its path lead from there to the
/// root. Needs no ledger.
///
/// The bundle is given as the file's bytes (`bundle_len` bytes at `bundle`, NULL only when
/// `bundle_len` is 0), not as a C string: a NUL byte in a file would end a string early and
/// hide what follows it; here every byte is checked. One changed byte anywhere is
/// `TRAILSEAL_STATUS_VERIFICATION_FAILED` or `TRAILSEAL_STATUS_MALFORMED` (text that does
/// not parse as a bundle, including bytes that are not UTF-8); a verifier key that does not
/// parse is `TRAILSEAL_STATUS_MALFORMED`.
///
/// On success writes what was proven to `*report_json_out` (free it with
/// `trailseal_string_free`), as `trailseal verify-bundle --json` prints it: `{"ok": true,
/// "origin", "hash", "tree_size", "root", "key_name", "entries": [{"index": N, "entry":
/// {...}}]}`. Checking that `origin` is the log the caller expects is the caller's job.
///
/// # Safety
///
/// `bundle` is NULL or points to `bundle_len` readable bytes; `verifier_key` is NULL or a
/// NUL-terminated string; `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_verify_bundle(
    bundle: *const u8,
    bundle_len: usize,
    verifier_key: *const c_char,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    guard(|| {
        let out = Out::new(report_json_out, "report_json_out")?;
        // SAFETY: per this function's contract.
        let (bytes, verifier) = unsafe { bundle_args(bundle, bundle_len, verifier_key)? };
        // SAFETY: per this function's contract.
        unsafe { put_json(out, &verify_bundle_bytes(bytes, &verifier)?.to_json()) }
    })
}

/// The bundle bytes and verifier key of the bundle-checking functions.
///
/// # Safety
/// `bundle` is NULL or points to `bundle_len` readable bytes; `verifier_key` is NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn bundle_args<'a>(
    bundle: *const u8,
    bundle_len: usize,
    verifier_key: *const c_char,
) -> crate::Res<(&'a [u8], Verifier)> {
    // SAFETY: forwarded contract.
    unsafe {
        let bytes = arg_bytes(bundle, bundle_len, "bundle")?;
        let verifier = Verifier::from_key_string(arg_str(verifier_key, "verifier_key")?)?;
        Ok((bytes, verifier))
    }
}

/// Where approvals wait: writes the approvals report to `*report_json_out` (free it with
/// `trailseal_string_free`), as `trailseal report --json` prints it:
/// `{"since": "<RFC 3339>" | null, "approval_latency": {"waits": N, "median_seconds": S |
/// null, "p90_seconds": S | null}, "waits": [{"subject", "request", "approval", "approver",
/// "seconds"}], "approvals_by_approver": [{"approver", "approvals"}], "weeks": [{"week":
/// "2026-W46", "changes", "break_glass", "approvals"}]}`. The figures are defined in the
/// core (`trailseal::report`): times are `occurred_at` when present, else the recorded
/// `time`; seconds are integers when whole.
///
/// `options_json` is NULL for the defaults, or the core's options form `{"since": "<RFC
/// 3339>", "change_actions": ["deploy.succeeded", ...]}` (both optional; `since` keeps
/// entries at or after it, `change_actions` are the actions counted as changes, default
/// `["deploy.succeeded"]`). An unknown field or a bad time is `TRAILSEAL_STATUS_MALFORMED`.
///
/// # Safety
///
/// `ledger` is NULL or a live handle; `options_json` is NULL or a NUL-terminated string;
/// `report_json_out` is NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn trailseal_ledger_report(
    ledger: *const trailseal_ledger,
    options_json: *const c_char,
    report_json_out: *mut *mut c_char,
) -> trailseal_status {
    // SAFETY: per this function's contract.
    unsafe {
        with_ledger_string(ledger, report_json_out, "report_json_out", |l| {
            let opts = match opt_str(options_json, "options_json")? {
                None => ReportOptions::default(),
                Some(text) => ReportOptions::from_json(&entry::parse_json(text.as_bytes())?)?,
            };
            Ok(l.report_with(&opts)?.to_json())
        })
    }
}
