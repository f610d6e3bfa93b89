//! The `retention.pruned` record: what a prune removed, and the claims that let anyone
//! re-judge it once the leaf bytes are gone.
//!
//! A pruned entry's bytes are gone, but its leaf hash (and every node above it) stays, so every
//! proof and checkpoint still verifies. What it was cannot be read back; so the pruning entry
//! records, per range of pruned indexes, the actions of the entries in it and the latest
//! `time` among them. These claims are part of a leaf of the log (hashed into the tree and
//! under every later checkpoint), and they are enough to re-judge the pruning without the
//! leaves: for each action, the retention the rules gave it (the version in force at the
//! range's start and every later one up to the pruning, the longest) added to the latest time
//! must have passed at `before`, and no action may be a protected one. `verify` does exactly
//! that, and requires every missing leaf to be inside a range of such a record.
//!
//! ```json
//! {"before": "2033-01-01T00:00:00Z",
//!  "rules": {"index": 3, "version": "v1", "digest": "…"},
//!  "holds": ["case-7"],
//!  "count": 120,
//!  "ranges": [{"start": 10, "end": 130, "actions": ["deploy"], "latest": "2026-01-02T…Z"}]}
//! ```

use std::ops::Range;

use serde_json::{json, Value};

use super::is_protected;
use super::plan::{keep_until, RulesVersion};
use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// The action of an entry recording a prune.
pub const RETENTION_PRUNED: &str = "retention.pruned";

/// One range of pruned indexes, with what the entries in it were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedRange {
    /// The pruned indexes, `start..end`.
    pub range: Range<u64>,
    /// The actions of the entries in it, sorted, each once.
    pub actions: Vec<String>,
    /// The latest `time` among them.
    pub latest: Timestamp,
}

impl PrunedRange {
    /// `{"start", "end", "actions", "latest"}`
    pub fn to_json(&self) -> Value {
        json!({"start": self.range.start, "end": self.range.end,
               "actions": self.actions, "latest": self.latest.to_string()})
    }
}

/// A `retention.pruned` entry's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PruneRecord {
    /// The time retention was judged at: entries whose retention ended by then went.
    pub before: Timestamp,
    /// The index of the `retention.published` entry of the rules in force.
    pub rules_index: u64,
    /// That version's name.
    pub rules_version: String,
    /// That document's digest.
    pub rules_digest: String,
    /// The ids of the holds in force (what was kept because of them is not in any range).
    pub holds: Vec<String>,
    /// The ranges removed, ascending and disjoint.
    pub ranges: Vec<PrunedRange>,
}

impl PruneRecord {
    /// How many entries the ranges hold.
    pub fn count(&self) -> u64 {
        self.ranges
            .iter()
            .map(|r| r.range.end - r.range.start)
            .sum()
    }

    /// The payload (module docs).
    pub fn to_payload(&self) -> Value {
        json!({
            "before": self.before.to_string(),
            "rules": {"index": self.rules_index, "version": self.rules_version,
                      "digest": self.rules_digest},
            "holds": self.holds,
            "count": self.count(),
            "ranges": self.ranges.iter().map(PrunedRange::to_json).collect::<Vec<_>>(),
        })
    }

    /// The record of the `retention.pruned` entry `e` at `index`. Only `Ledger::prune` writes
    /// them, so one that does not read is [`Error::Tampered`].
    pub fn from_entry(index: u64, e: &Value) -> Result<PruneRecord> {
        let bad = |what: &str| Error::Tampered {
            location: format!("leaf {index}"),
            detail: format!("its {RETENTION_PRUNED} record: {what}"),
        };
        let p = &e["payload"];
        let time = |v: &Value, what: &str| {
            v.as_str()
                .and_then(|t| Timestamp::parse(t).ok())
                .ok_or_else(|| bad(what))
        };
        let mut ranges: Vec<PrunedRange> = Vec::new();
        for r in p["ranges"].as_array().ok_or_else(|| bad("no ranges"))? {
            let (Some(start), Some(end)) = (r["start"].as_u64(), r["end"].as_u64()) else {
                return Err(bad("a range without start and end"));
            };
            if start >= end || end > index || ranges.last().is_some_and(|l| l.range.end > start) {
                return Err(bad(
                    "ranges must be ascending, disjoint and before the record",
                ));
            }
            let actions = r["actions"]
                .as_array()
                .ok_or_else(|| bad("a range without actions"))?
                .iter()
                .map(|a| {
                    a.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("an action"))
                })
                .collect::<Result<Vec<_>>>()?;
            ranges.push(PrunedRange {
                range: start..end,
                actions,
                latest: time(&r["latest"], "a range without its latest time")?,
            });
        }
        let record = PruneRecord {
            before: time(&p["before"], "no before")?,
            rules_index: p["rules"]["index"]
                .as_u64()
                .ok_or_else(|| bad("no rules index"))?,
            rules_version: p["rules"]["version"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            rules_digest: p["rules"]["digest"].as_str().unwrap_or_default().to_owned(),
            holds: p["holds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect(),
            ranges,
        };
        if p["count"].as_u64() != Some(record.count()) {
            return Err(bad("its count is not the ranges' size"));
        }
        Ok(record)
    }

    /// Re-judges the record at `index` against the rules versions recorded before it
    /// (module docs): the rules it names must be the version in force, and every range
    /// allowed by them. The first reason it was not allowed, else `None`.
    pub fn disallowed(&self, index: u64, versions: &[RulesVersion]) -> Option<String> {
        let in_force = versions.iter().rev().find(|v| v.index < index);
        match in_force {
            Some(v)
                if v.index == self.rules_index
                    && v.rules.version == self.rules_version
                    && v.rules.digest() == self.rules_digest => {}
            _ => {
                return Some(format!(
                    "it names rules version {:?} (entry {}), not the version in force",
                    self.rules_version, self.rules_index
                ))
            }
        }
        let upto: Vec<RulesVersion> = versions
            .iter()
            .filter(|v| v.index < index)
            .cloned()
            .collect();
        for r in &self.ranges {
            for action in &r.actions {
                if is_protected(action) {
                    return Some(format!(
                        "entries {}..{} include {action:?}, which is never pruned",
                        r.range.start, r.range.end
                    ));
                }
                // The versions in force from the range's start on include those of every
                // entry in it: the longest retention of any of them, from the latest time,
                // bounds each entry's own.
                match keep_until(&upto, r.range.start, action, r.latest) {
                    Some(until) if until <= self.before => {}
                    _ => {
                        return Some(format!(
                            "entries {}..{} ({action:?}, up to {}) were still in retention at {}",
                            r.range.start, r.range.end, r.latest, self.before
                        ))
                    }
                }
            }
        }
        None
    }
}

/// Where a pruned entry went: the pruning entry and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrunedLeaf {
    /// The pruned entry's index.
    pub index: u64,
    /// Its leaf hash (kept).
    pub leaf_hash: crate::merkle::Hash,
    /// The index of the `retention.pruned` entry that removed it.
    pub by: u64,
    /// That entry's `time`: when it was pruned.
    pub pruned_at: Timestamp,
    /// The rules version it was pruned under.
    pub rules_version: String,
}

impl PrunedLeaf {
    /// `{"index", "leaf_hash", "pruned": {"by", "at", "rules_version"}}`: what `show` prints
    /// in place of the entry.
    pub fn to_json(&self) -> Value {
        json!({
            "index": self.index,
            "leaf_hash": crate::merkle::to_hex(&self.leaf_hash),
            "pruned": {"by": self.by, "at": self.pruned_at.to_string(),
                       "rules_version": self.rules_version},
        })
    }
}

impl std::fmt::Display for PrunedLeaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entry {} was pruned on {} under retention rules {} (entry {}; leaf hash {})",
            self.index,
            self.pruned_at,
            self.rules_version,
            self.by,
            crate::merkle::to_hex(&self.leaf_hash)
        )
    }
}
