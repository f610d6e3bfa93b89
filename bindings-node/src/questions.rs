//! The auditor's questions (issue 6): each is one call on `Ledger`, over one core call.
//!
//! | JS | core |
//! | --- | --- |
//! | `query(filters)` | `Query::from_json`, `Ledger::query` |
//! | `trace(index, {forward})` | `Ledger::trace`, `Trace::to_json` |
//! | `why(index)` | `Ledger::why`, `Why::to_json` |
//! | `gate(subject, policy)` | `GatePolicy::from_json`, `Ledger::gate`, `GateResult::to_json` |
//! | `recordGate(policy, result, actor)` | `Ledger::record_gate_result` |
//! | `bundle(selection, {signer} or {checkpoint, verifierKey})` | `Ledger::bundle`, `Ledger::bundle_with_checkpoint`, `Bundle::to_text` |
//! | `report({since, changeActions})` | `Ledger::report_with`, `Report::to_json` |
//!
//! Every one reads the ledger (through its indexes) or writes to it, so every one returns a
//! Promise and runs on libuv's pool; arguments are read on the JS thread, and a bad one
//! rejects the Promise. Results are the core's JSON forms (`types.rs`).

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, JsObjectValue, Object, Unknown, ValueType};
use napi::Env;
use napi_derive::napi;
use serde_json::{json, Value};
use trailseal::evidence::Selection;
use trailseal::query::Query;
use trailseal::report::ReportOptions;
use trailseal::{Error, GatePolicy, GateResult};

use crate::convert::{self, boolean, json_arg, string, type_of, u64_arg};
use crate::error::bad_arg;
use crate::ledger::{Ledger, Shared};
use crate::signer::signer_arg;
use crate::task::Job;
use crate::types::{GateKept, GateOutcome, Json};

/// The filters argument: an object (or its JSON text); left out, every entry.
fn query_arg(env: &Env, v: Option<Unknown<'_>>, what: &str) -> Result<Query, Error> {
    match v {
        Some(v) if !convert::is_nullish(&v)? => Query::from_json(&json_arg(env, &v, what)?),
        _ => Ok(Query::default()),
    }
}

/// A gate policy: an object in the policy file's form, or the file's JSON text.
fn policy_arg(env: &Env, v: &Unknown<'_>) -> Result<GatePolicy, Error> {
    match type_of(v)? {
        ValueType::String | ValueType::Object => {
            GatePolicy::from_json(&convert::entry_text(env, v, "policy")?)
        }
        _ => Err(bad_arg("policy must be an object or its JSON text")),
    }
}

/// The evaluation `ledger.gate()` left on its result object.
fn kept_arg(v: &Unknown<'_>) -> Result<(GateResult, GatePolicy, std::sync::Weak<Shared>), Error> {
    let not_a_result = || {
        bad_arg(
            "result must be the object ledger.gate() resolved with (a copy of it does not \
             carry the evaluation)",
        )
    };
    if type_of(v)? != ValueType::Object {
        return Err(not_a_result());
    }
    // SAFETY: the value was just checked to be an object.
    let obj: Object = unsafe { v.cast() }.map_err(|_| not_a_result())?;
    // `unwrap` checks that the object carries a `GateKept` (napi-rs tags what it wraps).
    let kept = obj.unwrap::<GateKept>().map_err(|_| not_a_result())?;
    Ok((
        kept.result.clone(),
        kept.policy.clone(),
        kept.ledger.clone(),
    ))
}

/// The `{signer}` or `{checkpoint, verifierKey}` options of `bundle()`, as given: the core's
/// `Anchor::choose` decides which (exactly one) is meant.
struct AnchorArgs {
    signer: Option<trailseal::Signer>,
    checkpoint: Option<String>,
    verifier_key: Option<String>,
}

/// What to bundle, in the core's selection form (`Selection::from_json`); `query` may also be
/// given as its JSON text, as `query()`'s filters may.
fn selection_arg(env: &Env, v: Unknown<'_>) -> Result<Selection, Error> {
    let mut value = convert::json_value(env, &v, "selection")?;
    if let Some(q) = value.get_mut("query") {
        if let Value::String(text) = q {
            *q = trailseal::entry::parse_json(text.as_bytes())?;
        }
    }
    Selection::from_json(&value)
}

/// How to prove a bundle: `{signer}`, or `{checkpoint, verifierKey}`.
fn anchor_arg(env: &Env, v: Option<Unknown<'_>>) -> Result<AnchorArgs, Error> {
    let mut a = AnchorArgs {
        signer: None,
        checkpoint: None,
        verifier_key: None,
    };
    for (key, v) in convert::options(v, "options", &["signer", "checkpoint", "verifierKey"])? {
        match key.as_str() {
            "signer" => a.signer = Some(signer_arg(env, &v)?),
            "checkpoint" => a.checkpoint = Some(string(&v, "options.checkpoint")?),
            "verifierKey" => a.verifier_key = Some(string(&v, "options.verifierKey")?),
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    Ok(a)
}

/// `report()`'s `{since, changeActions}`.
fn report_options(env: &Env, v: Option<Unknown<'_>>) -> Result<ReportOptions, Error> {
    let mut out = ReportOptions::default();
    for (key, v) in convert::options(v, "options", &["since", "changeActions"])? {
        match key.as_str() {
            "since" => out.since = Some(convert::time_arg(env, &v, "options.since")?),
            "changeActions" => out.change_actions = convert::strings(&v, "options.changeActions")?,
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    Ok(out)
}

#[napi]
impl Ledger {
    /// Entries matching every given filter (AND), one page: newest first unless `order:
    /// 'oldest'`, at most `limit` (default 100). Pass `nextCursor` back as `cursor` for the
    /// next page; it is `null` on the last. Reads only the indexes of the filters and the
    /// entries returned. Filters are the core's query form (`subject: 'TYPE:ID'`, `since` and
    /// `until` as RFC 3339 strings or Dates); an unknown one is refused.
    #[napi(
        ts_args_type = "filters?: QueryFilters | string",
        ts_return_type = "Promise<QueryPage>"
    )]
    pub fn query(&self, env: Env, filters: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        self.job(query_arg(&env, filters, "filters"), |l, q| {
            let page = l.query(&q)?;
            Ok(Json::of(&json!({
                "entries": page.entries.iter().map(|f| f.to_json()).collect::<Vec<_>>(),
                "nextCursor": page.next_cursor,
            })))
        })
    }

    /// The entries `index` rests on, transitively (its links, external refs resolved to the
    /// entries that carry them, and the policy version that allowed each), or with `forward:
    /// true` the entries that rest on it.
    #[napi(
        ts_args_type = "index: number | bigint, options?: TraceOptions",
        ts_return_type = "Promise<Trace>"
    )]
    pub fn trace(&self, index: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        let args = u64_arg(&index, "index").and_then(|i| {
            let mut forward = false;
            for (key, v) in convert::options(options, "options", &["forward"])? {
                match key.as_str() {
                    "forward" => forward = boolean(&v, "options.forward")?,
                    _ => unreachable!("options() only returns allowed keys"),
                }
            }
            Ok((i, forward))
        });
        self.job(args, |l, (index, forward)| {
            Ok(Json::of(&l.trace(index, forward)?.to_json()))
        })
    }

    /// Which rule allowed entry `index`, what that rule said then (the `policy.published`
    /// entry its `authz` resolves to), and who approved that version.
    #[napi(
        ts_args_type = "index: number | bigint",
        ts_return_type = "Promise<Why>"
    )]
    pub fn why(&self, index: Unknown<'_>) -> AsyncTask<Job<Json>> {
        self.job(u64_arg(&index, "index"), |l, index| {
            Ok(Json::of(&l.why(index)?.to_json()))
        })
    }

    /// Evaluate a release gate for `subject` (`'TYPE:ID'`): every requirement of `policy`
    /// (an object in the policy file's form, or its JSON text; unknown fields are refused),
    /// met or missed, with the entries that show it. Pass the result object as it is to
    /// `recordGate` to record it.
    #[napi(
        ts_args_type = "subject: string, policy: GatePolicy | string",
        ts_return_type = "Promise<GateResult>"
    )]
    pub fn gate(
        &self,
        env: Env,
        subject: Unknown<'_>,
        policy: Unknown<'_>,
    ) -> AsyncTask<Job<GateOutcome>> {
        let args = string(&subject, "subject").and_then(|s| Ok((s, policy_arg(&env, &policy)?)));
        let ledger = Arc::downgrade(&self.shared);
        self.job(args, move |l, (subject, policy)| {
            let result = l.gate(&subject, &policy)?;
            Ok(GateOutcome(GateKept {
                result,
                policy,
                ledger,
            }))
        })
    }

    /// Record what `gate()` resolved with as a `gate.passed` / `gate.failed` entry by
    /// `actor`, on the gated subject, linking every piece of evidence and carrying the
    /// policy's digest. `result` must be the object `gate()` resolved with, on this ledger,
    /// with this `policy`, and the ledger must still reach it (else `inconsistent`: an entry
    /// since changed the verdict; evaluate the gate again).
    #[napi(
        js_name = "recordGate",
        ts_args_type = "policy: GatePolicy | string, result: GateResult, actor: string",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn record_gate(
        &self,
        env: Env,
        policy: Unknown<'_>,
        result: Unknown<'_>,
        actor: Unknown<'_>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| {
            let policy = policy_arg(&env, &policy)?;
            let (result, evaluated_with, on) = kept_arg(&result)?;
            let actor = string(&actor, "actor")?;
            if !std::sync::Weak::ptr_eq(&on, &Arc::downgrade(&self.shared)) {
                return Err(bad_arg("result was evaluated on another ledger"));
            }
            if policy != evaluated_with {
                return Err(bad_arg(
                    "result was evaluated with another policy than the one given",
                ));
            }
            Ok((policy, result, actor))
        })();
        self.job(args, |l, (policy, result, actor)| {
            let receipt =
                l.record_gate_result(&result.subject, &policy, &result.to_json(), &actor)?;
            Ok(Json::of(&receipt.to_json()))
        })
    }

    /// An evidence bundle (`docs/BUNDLE.md`), as the file's text: the selected entries as
    /// recorded, each with its inclusion proof against one signed checkpoint, checkable with
    /// `verifyBundle` and the verifier key alone. `selection` is `{subject: 'TYPE:ID'}`,
    /// `{index, forward?}` (a trace), `{query: filters}` or `{indexes: [...]}`; `options` is
    /// `{signer}` (sign a checkpoint of the current tree now, and keep it in the ledger) or
    /// `{checkpoint, verifierKey}` (prove against one signed earlier).
    #[napi(
        ts_args_type = "selection: BundleSelection, options: BundleOptions",
        ts_return_type = "Promise<string>"
    )]
    pub fn bundle(
        &self,
        env: Env,
        selection: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<String>> {
        let args = selection_arg(&env, selection).and_then(|s| Ok((s, anchor_arg(&env, options)?)));
        self.job(args, |l, (selection, anchor)| {
            let anchor = trailseal::Anchor::choose(
                anchor.signer.as_ref(),
                anchor.checkpoint.as_deref(),
                anchor.verifier_key.as_deref(),
            )?;
            Ok(l.bundle_anchored(&selection, &anchor)?.to_text())
        })
    }

    /// Where approvals wait: approval latency (request to grant, median and p90), approvals
    /// per approver, and changes and break-glass actions per ISO week; from `since` on, with
    /// `changeActions` counted as changes (default `['deploy.succeeded']`).
    #[napi(
        ts_args_type = "options?: ReportOptions",
        ts_return_type = "Promise<Report>"
    )]
    pub fn report(&self, env: Env, options: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        self.job(report_options(&env, options), |l, opts| {
            Ok(Json::of(&l.report_with(&opts)?.to_json()))
        })
    }
}
