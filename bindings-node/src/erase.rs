//! Personal fields and their erasure (SPEC section 10) on `Ledger`, and `checkOpening`. What
//! may be erased, and every refusal, is the core's.
//!
//! | JS | core |
//! | --- | --- |
//! | `erase(select, reason, actor, authz, options?)` | `EraseSelect::from_json`, `Ledger::erase`, `EraseReport::to_json` |
//! | `openings(index)` | `Ledger::openings` |
//! | `scrubFreePages()` | `Ledger::scrub_free_pages` |
//! | `personalFields` | `Ledger::personal_fields` |
//! | `checkOpening(commitment, salt, value)` | `entry::check_opening` |

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use trailseal::{EraseOptions, EraseSelect, Error, RecordedBy};

use crate::convert::{self, json_arg, string, u64_arg};
use crate::error::{guard, js_error};
use crate::ledger::Ledger;
use crate::task::Job;
use crate::types::Json;

/// What `erase` was asked, read on the calling thread.
struct EraseArgs {
    select: EraseSelect,
    reason: String,
    actor: String,
    authz: Value,
    legal_basis: Option<String>,
    request: Option<String>,
    dry_run: bool,
}

#[napi]
impl Ledger {
    /// Erase the personal values of the entries `select` names (`{actor}`, `{subject:
    /// 'type:id'}` or `{indexes: [...]}`), recording an `erasure.performed` entry by `actor`
    /// with `authz` (why it was allowed) and `reason`; options `{legalBasis, request, dryRun}`.
    /// Their leaves and every proof stay; they read with `erased: {by}`; the file keeps nothing
    /// of the values. Resolves `{dry_run, erased, count, skipped, records}`; rejects
    /// `invalid_argument` (nothing changed) for an entry under a legal hold, a protected
    /// record, nothing to erase, or a ledger without personal fields.
    #[napi(
        ts_args_type = "select: Record<string, unknown>, reason: string, actor: string, authz: Record<string, unknown>, options?: { legalBasis?: string, request?: string, dryRun?: boolean }",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn erase(
        &self,
        env: Env,
        select: Unknown<'_>,
        reason: Unknown<'_>,
        actor: Unknown<'_>,
        authz: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| {
            let mut a = EraseArgs {
                select: EraseSelect::from_json(&json_arg(&env, &select, "select")?)?,
                reason: string(&reason, "reason")?,
                actor: string(&actor, "actor")?,
                authz: json_arg(&env, &authz, "authz")?,
                legal_basis: None,
                request: None,
                dry_run: false,
            };
            for (key, v) in
                convert::options(options, "options", &["legalBasis", "request", "dryRun"])?
            {
                match key.as_str() {
                    "legalBasis" => a.legal_basis = Some(string(&v, "options.legalBasis")?),
                    "request" => a.request = Some(string(&v, "options.request")?),
                    "dryRun" => a.dry_run = convert::boolean(&v, "options.dryRun")?,
                    _ => unreachable!("options() only returns allowed keys"),
                }
            }
            Ok(a)
        })();
        self.job(args, |l, a| {
            let report = l.erase(&EraseOptions {
                select: a.select,
                reason: &a.reason,
                legal_basis: a.legal_basis.as_deref(),
                request: a.request.as_deref(),
                dry_run: a.dry_run,
                by: RecordedBy {
                    actor: &a.actor,
                    authz: &a.authz,
                },
            })?;
            Ok(Json::of(&report.to_json()))
        })
    }

    /// Entry `index`'s openings, `{'<field>': {salt, value}}`, for whoever must show later
    /// what it recorded (`checkOpening`); `null` without sealed fields or once erased.
    #[napi(
        ts_args_type = "index: number | bigint",
        ts_return_type = "Promise<Record<string, unknown> | null>"
    )]
    pub fn openings(&self, index: Unknown<'_>) -> AsyncTask<Job<Json>> {
        self.job(u64_arg(&index, "index"), |l, index| {
            Ok(Json::of(&l.openings(index)?.unwrap_or(Value::Null)))
        })
    }

    /// Overwrite the file's free pages with zeros (what `erase` ends with).
    #[napi(js_name = "scrubFreePages", ts_return_type = "Promise<null>")]
    pub fn scrub_free_pages(&self) -> AsyncTask<Job<Json>> {
        self.job(Ok(()), |l, ()| {
            l.scrub_free_pages()?;
            Ok(Json::of(&Value::Null))
        })
    }

    /// The fields this ledger seals as commitments (empty when none).
    #[napi(getter, js_name = "personalFields")]
    pub fn personal_fields(&self, env: Env) -> napi::Result<Vec<String>> {
        self.now(&env, |l| Ok(l.personal_fields().to_vec()))
    }
}

/// Check that `value` (any JSON value) under `salt` (64 hex digits) gives `commitment` (a
/// sealed field as a leaf holds it): how whoever kept an entry's openings shows what it
/// recorded, after its erasure too. Throws `verification_failed` when they do not,
/// `invalid_argument` for a salt that is not 32 bytes of hex.
#[napi(
    js_name = "checkOpening",
    ts_args_type = "commitment: string, salt: string, value: unknown"
)]
pub fn check_opening(
    env: Env,
    commitment: Unknown<'_>,
    salt: Unknown<'_>,
    value: Unknown<'_>,
) -> napi::Result<()> {
    let run = || -> Result<(), Error> {
        let value = convert::json_value(&env, &value, "value")?;
        trailseal::entry::check_opening(
            &string(&commitment, "commitment")?,
            &string(&salt, "salt")?,
            &value,
        )
    };
    guard(run).map_err(|e| js_error(&env, &e))
}
