//! Pruning (SPEC section 8.1) on `Ledger`, and `compact`. What may go, and every refusal, is
//! the core's.
//!
//! | JS | core |
//! | --- | --- |
//! | `prune(before, actor, authz, dryRun?)` | `Ledger::prune`, `PruneReport::to_json` |
//! | `pruned(index)` | `Ledger::pruned`, `PrunedLeaf::to_json` |
//! | `compact(path)` | `Ledger::compact` |

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use trailseal::PruneOptions;

use crate::convert::{boolean, is_nullish, string, time_arg, u64_arg};
use crate::ledger::Ledger;
use crate::retention::By;
use crate::task::Job;
use crate::types::Json;

#[napi]
impl Ledger {
    /// Remove the content of every entry whose retention ended by `before` and that no hold
    /// covers, recording each step as a `retention.pruned` entry by `actor` with `authz`
    /// (`{decision, policy, reason?}`); with `dryRun`, only say what would go. Every proof and
    /// checkpoint still verifies. Resolves to `{dry_run, before, size, rules, pruned: [[start,
    /// end], ...], count, records, kept: {protected, no_rule, in_retention, held, linked,
    /// at_edge}, already_pruned}`. Rejects `invalid_argument` for a ledger with committed
    /// indexes; reading a pruned entry rejects `out_of_range`.
    #[napi(
        ts_args_type = "before: string | Date, actor: string, authz: Record<string, unknown>, dryRun?: boolean",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn prune(
        &self,
        env: Env,
        before: Unknown<'_>,
        actor: Unknown<'_>,
        authz: Unknown<'_>,
        dry_run: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| {
            let before = time_arg(&env, &before, "before")?;
            let dry_run = match dry_run {
                Some(v) if !is_nullish(&v)? => boolean(&v, "dryRun")?,
                _ => false,
            };
            Ok((before, dry_run, By::read(&env, &actor, &authz)?))
        })();
        self.job(args, |l, (before, dry_run, by)| {
            let opts = PruneOptions {
                before,
                dry_run,
                by: by.recorded(),
            };
            Ok(Json::of(&l.prune(&opts)?.to_json()))
        })
    }

    /// Where entry `index` went, if it was pruned: `{index, leaf_hash, pruned: {by, at,
    /// rules_version}}`; `null` when its content is there.
    #[napi(
        ts_args_type = "index: number | bigint",
        ts_return_type = "Promise<Record<string, unknown> | null>"
    )]
    pub fn pruned(&self, index: Unknown<'_>) -> AsyncTask<Job<Json>> {
        self.job(u64_arg(&index, "index"), |l, index| {
            Ok(Json::of(
                &l.pruned(index)?.map_or(Value::Null, |p| p.to_json()),
            ))
        })
    }
}

/// Rewrite the ledger file at `path` so the pages pruning freed go back to the file system;
/// resolves to whether anything moved. Needs the file to itself: with any handle open on it,
/// in this process or another, rejects `locked`.
#[napi(ts_args_type = "path: string", ts_return_type = "Promise<boolean>")]
pub fn compact(path: Unknown<'_>) -> AsyncTask<Job<bool>> {
    Job::try_spawn(string(&path, "path"), trailseal::Ledger::compact)
}
