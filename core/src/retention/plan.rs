//! Which entries retention allows to go at a given time, and why each other one stays: the
//! decision `prune` acts on, computed from the record alone (retention rules and legal holds
//! are entries of the same log), so anyone holding the file reaches the same answer.
//!
//! The walk goes from the newest entry to the oldest, a chunk of entries at a time, keeping one
//! bit per entry for "some kept entry links here" (an eighth of a byte per entry: 1.25 MB for
//! ten million), so memory does not grow with the entries' size.

use std::ops::Range;

use serde_json::{json, Value};

use super::hold::HoldScope;
use super::rules::RetentionRules;
use super::{is_protected, HOLD_PLACED, HOLD_RELEASED, RETENTION_PUBLISHED};
use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::query;
use crate::storage::Reader;

/// Why an entry stays (or that it may go).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Retention passed, no hold covers it, no kept entry links to it.
    Eligible,
    /// A record of the retention system itself (rules, holds, pruning, erasure) or of key
    /// rotation: kept for ever.
    Protected,
    /// No rules version in force since it was written gives it a retention: kept for ever.
    NoRule,
    /// Its retention has not passed.
    InRetention,
    /// A legal hold covers it.
    Held,
    /// A kept entry links to it as evidence.
    Linked,
}

impl Verdict {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Eligible => "eligible",
            Verdict::Protected => "protected",
            Verdict::NoRule => "no_rule",
            Verdict::InRetention => "in_retention",
            Verdict::Held => "held",
            Verdict::Linked => "linked",
        }
    }
}

/// A recorded rules version.
#[derive(Clone, Debug)]
pub struct RulesVersion {
    /// The index of its `retention.published` entry: in force for entries after it.
    pub index: u64,
    /// The rules.
    pub rules: RetentionRules,
}

impl RulesVersion {
    /// `{"index", "version", "digest", "rules"}`: where it was recorded and the document.
    pub fn to_json(&self) -> Value {
        json!({"index": self.index, "version": self.rules.version, "digest": self.rules.digest(),
               "rules": self.rules.document()})
    }
}

/// A recorded legal hold.
#[derive(Clone, Debug)]
pub struct Hold {
    /// The hold's id (its entry's `subject.id`).
    pub id: String,
    /// The index of its `legal_hold.placed` entry.
    pub placed: u64,
    /// The index of the `legal_hold.released` entry that ended it, if one did.
    pub released: Option<u64>,
    /// What it covers.
    pub scope: HoldScope,
    /// Its `covers` object as recorded.
    pub covers: Value,
}

impl Hold {
    /// `{"id", "placed", "released", "covers"}`
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "placed": self.placed, "released": self.released, "covers": self.covers})
    }
}

/// What retention allows at one time.
#[derive(Clone, Debug)]
pub struct RetentionPlan {
    /// The time it was judged at.
    pub at: Timestamp,
    /// The tree size it covers.
    pub size: u64,
    /// The newest rules version, if any.
    pub rules: Option<(u64, String)>,
    /// The entries that may go, as ascending ranges of indexes.
    pub eligible: Vec<Range<u64>>,
    /// How many entries got each verdict, in [`Verdict`] order.
    pub counts: [u64; 6],
    /// How many entries were pruned already (and got no verdict).
    pub pruned: u64,
}

impl RetentionPlan {
    /// `{"at", "size", "rules": {"index", "version"} | null, "eligible": [[start, end], ...],
    /// "counts": {"eligible", "protected", ...}}`
    pub fn to_json(&self) -> Value {
        let verdicts = [
            Verdict::Eligible,
            Verdict::Protected,
            Verdict::NoRule,
            Verdict::InRetention,
            Verdict::Held,
            Verdict::Linked,
        ];
        let counts: serde_json::Map<String, Value> = verdicts
            .iter()
            .map(|v| (v.name().to_owned(), json!(self.counts[*v as usize])))
            .collect();
        json!({
            "at": self.at.to_string(),
            "size": self.size,
            "rules": self.rules.as_ref().map(|(i, v)| json!({"index": i, "version": v})),
            "eligible": self.eligible.iter().map(|r| json!([r.start, r.end])).collect::<Vec<_>>(),
            "counts": counts,
            "pruned": self.pruned,
        })
    }
}

/// Every entry of `action` up to `size`, oldest first.
fn recorded(reader: &Reader, size: u64, action: &str) -> Result<Vec<(u64, Value)>> {
    Ok(query::all_with_action(reader, size, action)?
        .into_iter()
        .map(|f| (f.index, f.entry))
        .collect())
}

fn tampered(index: u64, detail: String) -> Error {
    Error::Tampered {
        location: format!("leaf {index}"),
        detail,
    }
}

/// The rules versions recorded up to `size`, oldest first. Appends check each document, so
/// one that does not parse here was not written by trailseal: [`Error::Tampered`].
pub(crate) fn versions(reader: &Reader, size: u64) -> Result<Vec<RulesVersion>> {
    recorded(reader, size, RETENTION_PUBLISHED)?
        .into_iter()
        .map(|(index, e)| {
            RetentionRules::from_json(&e["payload"])
                .map(|rules| RulesVersion { index, rules })
                .map_err(|err| tampered(index, format!("its retention rules: {err}")))
        })
        .collect()
}

/// The legal holds recorded up to `size`, in the order they were placed.
pub(crate) fn holds(reader: &Reader, size: u64) -> Result<Vec<Hold>> {
    let mut holds: Vec<Hold> = Vec::new();
    for (index, e) in recorded(reader, size, HOLD_PLACED)? {
        let covers = e["payload"]["covers"].clone();
        let scope = HoldScope::from_json(&covers)
            .map_err(|err| tampered(index, format!("its legal hold: {err}")))?;
        holds.push(Hold {
            id: e["subject"]["id"].as_str().unwrap_or_default().to_owned(),
            placed: index,
            released: None,
            scope,
            covers,
        });
    }
    for (index, e) in recorded(reader, size, HOLD_RELEASED)? {
        let id = e["subject"]["id"].as_str().unwrap_or_default();
        if let Some(h) = holds
            .iter_mut()
            .find(|h| h.id == id && h.placed < index && h.released.is_none())
        {
            h.released = Some(index);
        }
    }
    Ok(holds)
}

/// When the entry of `action` written at `time`, at `index`, may go: the latest end among
/// the retentions of the rules version in force when it was written and of every later one
/// (a rules change never shortens the retention of entries already written, and a longer
/// one extends it); `None` when some version keeps it for ever or none was ever in force.
pub(crate) fn keep_until(
    versions: &[RulesVersion],
    index: u64,
    action: &str,
    time: Timestamp,
) -> Option<Timestamp> {
    let first = versions.iter().rposition(|v| v.index < index).unwrap_or(0);
    let applicable = versions.get(first..).filter(|a| !a.is_empty())?;
    let mut until = Timestamp::EPOCH;
    for v in applicable {
        until = until.max(v.rules.keep_for(action)?.after(time));
    }
    Some(until)
}

/// The plan for the first `size` entries of `reader` at time `at`.
pub(crate) fn plan(reader: &Reader, size: u64, at: Timestamp) -> Result<RetentionPlan> {
    let versions = versions(reader, size)?;
    let active: Vec<Hold> = holds(reader, size)?
        .into_iter()
        .filter(|h| h.released.is_none())
        .collect();
    let mut linked = vec![0u64; size.div_ceil(64) as usize];
    let mut counts = [0u64; 6];
    let mut pruned = 0u64;
    let mut eligible: Vec<Range<u64>> = Vec::new();
    const CHUNK: u64 = 4096;
    let mut end = size;
    let mut chunk: Vec<(u64, Value)> = Vec::with_capacity(CHUNK as usize);
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        chunk.clear();
        reader.scan_leaf_range(start, end, |i, leaf| {
            // Pruned already: gone, and what it linked to no longer kept for it.
            if leaf.is_empty() {
                pruned += 1;
                return Ok(());
            }
            let v: Value = serde_json::from_slice(leaf)
                .map_err(|e| tampered(i, format!("not an entry: {e}")))?;
            chunk.push((i, v));
            Ok(())
        })?;
        for (i, e) in chunk.iter().rev() {
            let verdict = judge(*i, e, &versions, &active, &linked, at);
            counts[verdict as usize] += 1;
            if verdict == Verdict::Eligible {
                match eligible.last_mut() {
                    Some(r) if r.start == i + 1 => r.start = *i,
                    _ => eligible.push(*i..i + 1),
                }
            } else {
                for t in e["links"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l["index"].as_u64())
                    .filter(|t| *t < *i)
                {
                    linked[(t / 64) as usize] |= 1 << (t % 64);
                }
            }
        }
        end = start;
    }
    eligible.reverse();
    Ok(RetentionPlan {
        at,
        size,
        rules: versions.last().map(|v| (v.index, v.rules.version.clone())),
        eligible,
        counts,
        pruned,
    })
}

fn judge(
    i: u64,
    e: &Value,
    versions: &[RulesVersion],
    holds: &[Hold],
    linked: &[u64],
    at: Timestamp,
) -> Verdict {
    let action = e["action"].as_str().unwrap_or_default();
    if is_protected(action) {
        return Verdict::Protected;
    }
    let Some(time) = e["time"].as_str().and_then(|t| Timestamp::parse(t).ok()) else {
        return Verdict::NoRule;
    };
    match keep_until(versions, i, action, time) {
        None => Verdict::NoRule,
        Some(until) if until > at => Verdict::InRetention,
        Some(_) if holds.iter().any(|h| h.scope.covers(e)) => Verdict::Held,
        Some(_) if linked[(i / 64) as usize] & (1 << (i % 64)) != 0 => Verdict::Linked,
        Some(_) => Verdict::Eligible,
    }
}
