//! The ledger's side of retention and legal hold ([`crate::retention`]): recording rules and
//! holds as entries, reading them back, and the plan of what retention allows.

use serde_json::{json, Value};

use super::{Ledger, LedgerKind, Receipt};
use crate::entry::Timestamp;
use crate::error::{guarded, Error, Result};
use crate::retention::plan::{self, Hold, RetentionPlan, RulesVersion};
use crate::retention::{
    HoldScope, RetentionRules, HOLD_PLACED, HOLD_RELEASED, HOLD_SUBJECT, RETENTION_PUBLISHED,
};

/// Who records a retention or hold entry, and why that was allowed: the entry's `actor` and
/// `authz` (SPEC 3: `{"decision", "policy", "policy_version"?, "reason"?}`).
#[derive(Clone, Debug)]
pub struct RecordedBy<'a> {
    /// `actor.id`.
    pub actor: &'a str,
    /// `authz`.
    pub authz: &'a Value,
}

impl Ledger {
    /// Appends a `retention.published` entry: `rules` are in force for every entry after it.
    pub fn publish_retention_rules(
        &self,
        rules: &RetentionRules,
        by: &RecordedBy<'_>,
    ) -> Result<Receipt> {
        guarded(|| {
            self.append(&json!({
                "actor": {"id": by.actor},
                "action": RETENTION_PUBLISHED,
                "subject": {"type": "retention_rules", "id": rules.version},
                "authz": by.authz,
                "attrs": {"version": rules.version, "digest": rules.digest()},
                "payload": rules.document(),
            }))
        })
    }

    /// Appends a `legal_hold.placed` entry: hold `id` covers what `covers` (a query object)
    /// matches until it is released. Refused ([`Error::InvalidArgument`]) while a hold of the
    /// same id is in force.
    pub fn place_hold(&self, id: &str, covers: &Value, by: &RecordedBy<'_>) -> Result<Receipt> {
        guarded(|| {
            HoldScope::from_json(covers)?;
            if self
                .legal_holds()?
                .iter()
                .any(|h| h.id == id && h.released.is_none())
            {
                return Err(Error::InvalidArgument(format!(
                    "legal hold {id:?} is already in force"
                )));
            }
            self.append(&json!({
                "actor": {"id": by.actor},
                "action": HOLD_PLACED,
                "subject": {"type": HOLD_SUBJECT, "id": id},
                "authz": by.authz,
                "payload": {"covers": covers},
            }))
        })
    }

    /// Appends a `legal_hold.released` entry ending hold `id`. Refused
    /// ([`Error::InvalidArgument`]) when no hold of that id is in force.
    pub fn release_hold(&self, id: &str, by: &RecordedBy<'_>) -> Result<Receipt> {
        guarded(|| {
            if !self
                .legal_holds()?
                .iter()
                .any(|h| h.id == id && h.released.is_none())
            {
                return Err(Error::InvalidArgument(format!(
                    "no legal hold {id:?} is in force"
                )));
            }
            self.append(&json!({
                "actor": {"id": by.actor},
                "action": HOLD_RELEASED,
                "subject": {"type": HOLD_SUBJECT, "id": id},
                "authz": by.authz,
            }))
        })
    }

    /// Every rules version recorded, oldest first.
    pub fn retention_versions(&self) -> Result<Vec<RulesVersion>> {
        guarded(|| {
            if self.meta.kind != LedgerKind::Entries {
                return Ok(Vec::new());
            }
            let (reader, state) = self.snapshot()?;
            plan::versions(&reader, state.size)
        })
    }

    /// The rules version in force for the entry at `index` (the last published before it),
    /// or for the next entry when `index` is `None`.
    pub fn retention_rules_at(&self, index: Option<u64>) -> Result<Option<RulesVersion>> {
        guarded(|| {
            let at = match index {
                Some(i) => i,
                None => self.size()?,
            };
            Ok(self
                .retention_versions()?
                .into_iter()
                .rev()
                .find(|v| v.index < at))
        })
    }

    /// Every legal hold recorded, in force or released, in the order placed.
    pub fn legal_holds(&self) -> Result<Vec<Hold>> {
        guarded(|| {
            if self.meta.kind != LedgerKind::Entries {
                return Ok(Vec::new());
            }
            let (reader, state) = self.snapshot()?;
            plan::holds(&reader, state.size)
        })
    }

    /// Which entries retention allows to go at time `at`, and why each other one stays
    /// ([`crate::retention`]'s rules), judged at `at` (`None`: now). Reads a snapshot:
    /// appends go on meanwhile.
    pub fn retention_plan(&self, at: Option<Timestamp>) -> Result<RetentionPlan> {
        guarded(|| {
            let at = at.unwrap_or_else(Timestamp::now);
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            plan::plan(&reader, state.size, at)
        })
    }
}
