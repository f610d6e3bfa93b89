//! Retention and legal hold, recorded in the log itself (issue 19's first half: the decision;
//! removing leaf bytes acts on it).
//!
//! - **Rules** ([`rules`]): a `retention.published` entry carries a rules document (minimum
//!   retention per action pattern) as its `payload`, with `attrs.version` and `attrs.digest`;
//!   it is in force for every entry after it. Who published it, and why that was allowed
//!   (`authz`, required), is the entry's own record.
//! - **Holds** ([`hold`]): a `legal_hold.placed` entry (subject `legal_hold:<id>`) covers what
//!   its `payload.covers` query matches, until a `legal_hold.released` entry of the same id.
//! - **The plan** ([`plan`]): at a time `T`, an entry may go when all of these hold:
//!   1. it is not a record of retention, holds, pruning, erasure, key rotation or the audit
//!      rules (`rules.published`): those are kept for ever ([`is_protected`]);
//!   2. `T` is past its retention: its `time` plus the longest retention for its action among
//!      the rules version in force when it was written and every later version. A rules change
//!      therefore never shortens the retention of entries already written (the retroactive
//!      shortening a regulator forbids), while a longer rule extends it. An entry is kept for
//!      ever when no version was ever in force, or when one of those versions has neither a
//!      rule nor a default for its action (for ever being the longest retention);
//!   3. no hold in force covers it;
//!   4. no entry that stays links to it (`links[].index`): a kept entry's evidence stays with it.
//!
//! Pruning ([`pruned`], `Ledger::prune`) acts on the plan: it removes the leaf bytes of the
//! eligible entries and appends, in the same write transaction, a `retention.pruned` entry
//! naming the ranges removed, what they held (actions, latest time) and the rules version
//! they went under, so `verify` can re-judge the removal without the leaves.
//!
//! Appends check these entries: a rules document or hold that does not parse, or a record
//! without `authz`, is refused with the batch ([`check_entry`]).

pub mod erasure;
pub mod hold;
pub mod period;
pub mod plan;
pub mod pruned;
pub mod rules;

use serde_json::Value;

use crate::error::{Error, Result};

pub use self::erasure::{EraseSelect, ERASURE_PERFORMED};
pub use self::hold::HoldScope;
pub use self::period::Period;
pub use self::plan::{Hold, RetentionPlan, RulesVersion, Verdict};
pub use self::pruned::{PruneRecord, PrunedLeaf, PrunedRange, RETENTION_PRUNED};
pub use self::rules::{RetentionRule, RetentionRules};

/// The action of an entry publishing retention rules.
pub const RETENTION_PUBLISHED: &str = "retention.published";
/// The action of an entry placing a legal hold.
pub const HOLD_PLACED: &str = "legal_hold.placed";
/// The action of an entry releasing a legal hold.
pub const HOLD_RELEASED: &str = "legal_hold.released";
/// The subject type of hold entries.
pub const HOLD_SUBJECT: &str = "legal_hold";

/// Whether entries of `action` are kept for ever: the records of retention itself (rules,
/// holds, pruning and erasure), of key rotation and of the audit rules in force, without which
/// the rest cannot be judged or verified.
pub fn is_protected(action: &str) -> bool {
    action.starts_with("retention.")
        || action.starts_with("legal_hold.")
        || action.starts_with("erasure.")
        || action == crate::ledger::KEY_ROTATED
        || action == crate::rules::RULES_PUBLISHED
}

/// Refuses entry `pos` of a batch of `len` about to be appended (its action `action`) if it is
/// a retention or hold record that does not hold:
/// a rules document that does not parse, a hold whose `covers` is not a query, a hold record
/// whose subject is not `legal_hold:<id>`, or any of them without `authz` (who allowed it is
/// what an auditor asks first).
pub(crate) fn check_entry(pos: usize, len: usize, e: &Value, action: &str) -> Result<()> {
    // A pruning or erasure record says leaf bytes or values are gone; one appended by hand
    // would make `verify` expect a removal that never happened, or pass one not allowed.
    let written_only_by = match action {
        RETENTION_PRUNED => Some("pruning (`trailseal prune`)"),
        ERASURE_PERFORMED => Some("erasure (`trailseal erase`)"),
        _ => None,
    };
    if let Some(by) = written_only_by {
        return Err(Error::InvalidEntry {
            field: if len > 1 {
                format!("[{pos}].action")
            } else {
                "action".into()
            },
            rule: format!("{action} entries are written only by {by}"),
        });
    }
    if ![RETENTION_PUBLISHED, HOLD_PLACED, HOLD_RELEASED].contains(&action) {
        return Ok(());
    }
    let field = |f: &str| {
        if len > 1 {
            format!("[{pos}].{f}")
        } else {
            f.to_owned()
        }
    };
    let refuse = |f: &str, rule: String| Error::InvalidEntry {
        field: field(f),
        rule,
    };
    if !e["authz"].is_object() {
        return Err(refuse(
            "authz",
            format!("a {action} entry must say why it was allowed"),
        ));
    }
    match action {
        RETENTION_PUBLISHED => {
            let rules = RetentionRules::from_json(&e["payload"])
                .map_err(|err| refuse("payload", err.to_string()))?;
            if e["attrs"]["digest"].as_str() != Some(rules.digest().as_str())
                || e["attrs"]["version"].as_str() != Some(rules.version.as_str())
            {
                return Err(refuse(
                    "attrs",
                    "must carry the document's version and digest (hex SHA-256 of its canonical JSON)".into(),
                ));
            }
        }
        _ => {
            if e["subject"]["type"] != HOLD_SUBJECT {
                return Err(refuse(
                    "subject",
                    format!("a {action} entry's subject is {HOLD_SUBJECT}:<hold id>"),
                ));
            }
            if action == HOLD_PLACED {
                HoldScope::from_json(&e["payload"]["covers"])
                    .map_err(|err| refuse("payload.covers", err.to_string()))?;
            }
        }
    }
    Ok(())
}
