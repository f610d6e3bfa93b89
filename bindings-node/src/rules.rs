//! Decisions as code (docs/RULES.md): `publishRules`, `rulesVersions`, `rulesAt`,
//! `recordRefusals`, `deliveryReport` on `Ledger`, and the ledger-free dry run `checkRules`.
//!
//! | JS | core |
//! | --- | --- |
//! | `publishRules(document, actor, {authz, links})` | `Rules::from_value`, `Ledger::publish_rules` |
//! | `rulesVersions()` | `Ledger::rules_versions`, `RulesVersion::to_json` |
//! | `rulesAt(index?)` | `Ledger::rules_at` |
//! | `recordRefusals` (get/set) | `Ledger::records_refusals`, `Ledger::set_record_refusals` |
//! | `deliveryReport({threshold})` | `Ledger::delivery_report`, `DeliveryReport::to_json` |
//! | `checkRules(document, entry)` | `Rules::check`, `Verdict::to_json` |

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use trailseal::rules::Rules;
use trailseal::Error;

use crate::convert::{self, json_arg, number, opt_u64, string};
use crate::error::{guard, js_error};
use crate::ledger::Ledger;
use crate::task::Job;
use crate::types::Json;

/// A rules document: an object or its JSON text, compiled by the core.
fn rules_arg(env: &Env, v: &Unknown<'_>) -> Result<Rules, Error> {
    Rules::from_value(&json_arg(env, v, "document")?)
}

#[napi]
impl Ledger {
    /// Publish a rules document (an object or its JSON text) as a `rules.published` entry by
    /// `actor`, with `options.authz` (why it was allowed) and `options.links` (for example
    /// `[{rel: 'approved_by', index: 12}]`). It is judged by the rules in force before it and
    /// governs every entry after it. Resolves to its receipt; rejects `malformed` for a
    /// document that is not rules (refused whole).
    #[napi(
        js_name = "publishRules",
        ts_args_type = "document: Record<string, unknown> | string, actor: string, options?: { authz?: Record<string, unknown>, links?: Array<Record<string, unknown>> }",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn publish_rules(
        &self,
        env: Env,
        document: Unknown<'_>,
        actor: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<_, Error> {
            let rules = rules_arg(&env, &document)?;
            let actor = string(&actor, "actor")?;
            let (mut authz, mut links) = (None, None);
            for (k, v) in convert::options(options, "options", &["authz", "links"])? {
                let value = json_arg(&env, &v, &format!("options.{k}"))?;
                if k == "authz" {
                    authz = Some(value);
                } else {
                    links = Some(value);
                }
            }
            Ok((rules, actor, authz, links))
        })();
        self.job(args, |l, (rules, actor, authz, links)| {
            let r = l.publish_rules(&rules, &actor, authz.as_ref(), links.as_ref())?;
            Ok(Json::of(&r.to_json()))
        })
    }

    /// Every rules version published, oldest first: `[{index, version, digest,
    /// published_by, authz, links, document}]`.
    #[napi(
        js_name = "rulesVersions",
        ts_return_type = "Promise<Array<Record<string, unknown>>>"
    )]
    pub fn rules_versions(&self) -> AsyncTask<Job<Json>> {
        self.job(Ok(()), |l, ()| {
            Ok(Json::list(&l.rules_versions()?, |v| v.to_json()))
        })
    }

    /// The rules version in force for the entry at `index` (default: the next append), as
    /// `rulesVersions` gives it, or `null` before any was published.
    #[napi(
        js_name = "rulesAt",
        ts_args_type = "index?: number | bigint",
        ts_return_type = "Promise<Record<string, unknown> | null>"
    )]
    pub fn rules_at(&self, index: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        self.job(opt_u64(index, "index"), |l, index| {
            Ok(Json::of(
                &l.rules_at(index)?.map_or(Value::Null, |v| v.to_json()),
            ))
        })
    }

    /// Whether appends through this handle that break the rules are recorded as
    /// `audit.refused` entries (the append still rejects `rule_violation`): off by default.
    #[napi(getter, js_name = "recordRefusals")]
    pub fn get_record_refusals(&self, env: Env) -> napi::Result<bool> {
        self.now(&env, |l| Ok(l.records_refusals()))
    }

    /// Turn recording of refusals on or off for this handle.
    #[napi(setter, js_name = "recordRefusals")]
    pub fn set_record_refusals(&self, env: Env, yes: bool) -> napi::Result<()> {
        self.now(&env, |l| {
            l.set_record_refusals(yes);
            Ok(())
        })
    }

    /// The delivery measures (docs/RULES.md, "Reports"): mean time to decision, change
    /// requests per week, approval concentration (approvers above `options.threshold`,
    /// default 0.5, flagged), break-glass per class and the AI intervention rate. Rejects
    /// `invalid_argument` for a threshold outside 0..1.
    #[napi(
        js_name = "deliveryReport",
        ts_args_type = "options?: { threshold?: number }",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn delivery_report(&self, options: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<_, Error> {
            let mut threshold = None;
            for (_, v) in convert::options(options, "options", &["threshold"])? {
                threshold = Some(number(&v, "options.threshold")?);
            }
            Ok(threshold)
        })();
        self.job(args, |l, threshold| {
            Ok(Json::of(&l.delivery_report(threshold)?.to_json()))
        })
    }
}

/// Judge `entry` (an object or its JSON text) against the rules `document` without a ledger,
/// as `trailseal rules check` does: returns `{version, class, break_glass, retention,
/// ai_output}`, or throws `rule_violation` naming the class, the requirement and the version
/// (`malformed` for a document that is not rules, `invalid_entry` for an invalid entry).
/// Link requirements that name the linked entry's action or role cannot be met here.
#[napi(
    js_name = "checkRules",
    ts_args_type = "document: Record<string, unknown> | string, entry: Record<string, unknown> | string",
    ts_return_type = "Record<string, unknown>"
)]
pub fn check_rules(env: Env, document: Unknown<'_>, entry: Unknown<'_>) -> napi::Result<Json> {
    let run = || -> trailseal::Result<Json> {
        let rules = rules_arg(&env, &document)?;
        let entry = json_arg(&env, &entry, "entry")?;
        Ok(Json::of(&rules.check(&entry)?.to_json(&rules)))
    };
    guard(run).map_err(|e| js_error(&env, &e))
}
