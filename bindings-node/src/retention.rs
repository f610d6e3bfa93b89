//! Retention and legal hold (SPEC section 8) on `Ledger`. What retention allows, and every
//! refusal, is the core's.
//!
//! | JS | core |
//! | --- | --- |
//! | `publishRetentionRules(document, actor, authz)` | `RetentionRules::from_json`, `Ledger::publish_retention_rules` |
//! | `placeHold(id, covers, actor, authz)` | `Ledger::place_hold` |
//! | `releaseHold(id, actor, authz)` | `Ledger::release_hold` |
//! | `retentionRulesAt(index?)` | `Ledger::retention_rules_at`, `RulesVersion::to_json` |
//! | `legalHolds()` | `Ledger::legal_holds`, `Hold::to_json` |
//! | `retentionPlan(at?)` | `Ledger::retention_plan`, `RetentionPlan::to_json` |

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use trailseal::retention::RetentionRules;
use trailseal::{Error, RecordedBy};

use crate::convert::{is_nullish, json_arg, opt_u64, string, time_arg};
use crate::ledger::Ledger;
use crate::task::Job;
use crate::types::Json;

/// Who records the entry, and why that was allowed.
pub(crate) struct By {
    actor: String,
    authz: Value,
}

impl By {
    pub(crate) fn read(env: &Env, actor: &Unknown<'_>, authz: &Unknown<'_>) -> Result<By, Error> {
        Ok(By {
            actor: string(actor, "actor")?,
            authz: json_arg(env, authz, "authz")?,
        })
    }

    pub(crate) fn recorded(&self) -> RecordedBy<'_> {
        RecordedBy {
            actor: &self.actor,
            authz: &self.authz,
        }
    }
}

#[napi]
impl Ledger {
    /// Record retention rules (SPEC 8; an object or its JSON text such as `{version:
    /// 'sox-2026', default: 'P1Y', rules: [{action: 'deploy.*', keep: 'P7Y'}]}`) as a
    /// `retention.published` entry by `actor`, `authz` saying why it was allowed (`{decision,
    /// policy, reason?}`); in force for every entry after it. Rejects `malformed` for rules that
    /// do not parse.
    #[napi(
        js_name = "publishRetentionRules",
        ts_args_type = "document: Record<string, unknown> | string, actor: string, authz: Record<string, unknown>",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn publish_retention_rules(
        &self,
        env: Env,
        document: Unknown<'_>,
        actor: Unknown<'_>,
        authz: Unknown<'_>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| {
            let rules = RetentionRules::from_json(&json_arg(&env, &document, "document")?)?;
            Ok((rules, By::read(&env, &actor, &authz)?))
        })();
        self.job(args, |l, (rules, by)| {
            Ok(Json::of(
                &l.publish_retention_rules(&rules, &by.recorded())?.to_json(),
            ))
        })
    }

    /// Place legal hold `id` over what `covers` matches (a query object such as `{subject:
    /// 'service:payments'}` or `{actor: 'bob'}`): what it covers is never pruned or erased
    /// until it is released. Rejects `invalid_argument` while a hold of that id is in force,
    /// `malformed` for a `covers` that names nothing.
    #[napi(
        js_name = "placeHold",
        ts_args_type = "id: string, covers: Record<string, unknown>, actor: string, authz: Record<string, unknown>",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn place_hold(
        &self,
        env: Env,
        id: Unknown<'_>,
        covers: Unknown<'_>,
        actor: Unknown<'_>,
        authz: Unknown<'_>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| {
            Ok((
                string(&id, "id")?,
                json_arg(&env, &covers, "covers")?,
                By::read(&env, &actor, &authz)?,
            ))
        })();
        self.job(args, |l, (id, covers, by)| {
            Ok(Json::of(
                &l.place_hold(&id, &covers, &by.recorded())?.to_json(),
            ))
        })
    }

    /// Release legal hold `id`. Rejects `invalid_argument` when no hold of that id is in force.
    #[napi(
        js_name = "releaseHold",
        ts_args_type = "id: string, actor: string, authz: Record<string, unknown>",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn release_hold(
        &self,
        env: Env,
        id: Unknown<'_>,
        actor: Unknown<'_>,
        authz: Unknown<'_>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| Ok((string(&id, "id")?, By::read(&env, &actor, &authz)?)))();
        self.job(args, |l, (id, by)| {
            Ok(Json::of(&l.release_hold(&id, &by.recorded())?.to_json()))
        })
    }

    /// The retention rules in force for the entry at `index` (default: the next append):
    /// `{index, version, digest, rules}`, or `null` before any were recorded.
    #[napi(
        js_name = "retentionRulesAt",
        ts_args_type = "index?: number | bigint",
        ts_return_type = "Promise<Record<string, unknown> | null>"
    )]
    pub fn retention_rules_at(&self, index: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        self.job(opt_u64(index, "index"), |l, index| {
            Ok(Json::of(
                &l.retention_rules_at(index)?
                    .map_or(Value::Null, |v| v.to_json()),
            ))
        })
    }

    /// Every legal hold recorded, in force or released: `[{id, placed, released, covers}]`.
    #[napi(
        js_name = "legalHolds",
        ts_return_type = "Promise<Array<Record<string, unknown>>>"
    )]
    pub fn legal_holds(&self) -> AsyncTask<Job<Json>> {
        self.job(Ok(()), |l, ()| {
            Ok(Json::list(&l.legal_holds()?, |h| h.to_json()))
        })
    }

    /// What retention allows at time `at` (an RFC 3339 string or a Date; default now): `{at,
    /// size, rules, eligible: [[start, end], ...], counts: {eligible, protected, no_rule,
    /// in_retention, held, linked}, pruned}` (`pruned`: entries already pruned).
    #[napi(
        js_name = "retentionPlan",
        ts_args_type = "at?: string | Date",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn retention_plan(&self, env: Env, at: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        let at = (|| match at {
            Some(v) if !is_nullish(&v)? => time_arg(&env, &v, "at").map(Some),
            _ => Ok(None),
        })();
        self.job(at, |l, at| Ok(Json::of(&l.retention_plan(at)?.to_json())))
    }
}
