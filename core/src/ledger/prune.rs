//! `Ledger::prune`: removing the leaf bytes retention allows to go, with the
//! `retention.pruned` entry that records it in the same write transaction; reading a pruned
//! entry back as pruned; and compacting the file afterwards.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ops::Range;

use serde_json::{json, Value};

use super::append::{Group, Work};
use super::retention::RecordedBy;
use super::{check_index, Ledger, LedgerKind};
use crate::entry::Timestamp;
use crate::error::{guarded, Error, Result};
use crate::merkle::NodeId;
use crate::query;
use crate::retention::plan::{self, RetentionPlan};
use crate::retention::{
    PruneRecord, PrunedLeaf, PrunedRange, HOLD_PLACED, HOLD_RELEASED, RETENTION_PRUNED,
    RETENTION_PUBLISHED,
};
use crate::storage::Reader;

/// Most leaves one pruning transaction removes: a larger prune is several transactions, each
/// with its own `retention.pruned` entry, so a write transaction's dirty pages stay bounded
/// whatever the ledger's size (and a crash loses at most one whole step, never half of one).
pub const PRUNE_STEP_LEAVES: u64 = 1 << 16;
/// Most ranges one `retention.pruned` entry names (about 100 bytes each).
const PRUNE_STEP_RANGES: usize = 512;
/// Most distinct actions one range of a record lists; a range is cut where a new one would
/// pass it, so a record stays small whatever the entries held.
const RANGE_ACTIONS: usize = 32;
/// How many times a prune plans again when an append made meanwhile could change the plan
/// (a hold, a rules version, another prune, a link into what would go).
const PLAN_ATTEMPTS: usize = 8;

/// Options of [`Ledger::prune`].
#[derive(Clone, Debug)]
pub struct PruneOptions<'a> {
    /// Judge retention at this time: entries whose retention ended by then may go.
    pub before: Timestamp,
    /// Only say what would go.
    pub dry_run: bool,
    /// Who prunes, and why that was allowed: the `retention.pruned` entries' actor and authz.
    pub by: RecordedBy<'a>,
}

/// What a prune did (or, dry, would do).
#[derive(Clone, Debug)]
pub struct PruneReport {
    /// True when nothing was changed.
    pub dry_run: bool,
    /// The plan it acted on (the last one, when appends made it plan again).
    pub plan: RetentionPlan,
    /// The ranges removed (or that would be), ascending.
    pub pruned: Vec<Range<u64>>,
    /// How many entries they hold.
    pub count: u64,
    /// Eligible entries kept because they are not under a stored tile or in the indexes yet
    /// (the newest few dozen; see `Writer::prunable_end`).
    pub at_edge: u64,
    /// The indexes of the `retention.pruned` entries appended.
    pub records: Vec<u64>,
}

impl PruneReport {
    /// `{"dry_run", "before", "rules", "pruned": [[start, end], ...], "count", "records",
    /// "kept": {"protected", "no_rule", "in_retention", "held", "linked", "at_edge"},
    /// "already_pruned", "size"}`
    pub fn to_json(&self) -> Value {
        let p = self.plan.to_json();
        let mut kept = p["counts"].clone();
        if let Some(k) = kept.as_object_mut() {
            k.remove("eligible");
            k.insert("at_edge".into(), json!(self.at_edge));
        }
        json!({
            "dry_run": self.dry_run,
            "before": self.plan.at.to_string(),
            "size": self.plan.size,
            "rules": p["rules"],
            "pruned": self.pruned.iter().map(|r| json!([r.start, r.end])).collect::<Vec<_>>(),
            "count": self.count,
            "records": self.records,
            "kept": kept,
            "already_pruned": self.plan.pruned,
        })
    }
}

/// The conflict that makes a prune plan again.
struct Replan;

impl Ledger {
    /// Removes the leaf bytes of every entry retention allows to go at `opts.before`
    /// ([`crate::retention`]'s rules: retention passed under every rules version in force since
    /// it was written, no hold covers it, no kept entry links to it, not a protected record),
    /// keeping its leaf hash and every node, so every proof and checkpoint still verifies.
    /// Each step (at most [`PRUNE_STEP_LEAVES`] leaves) is one write transaction that also
    /// appends a `retention.pruned` entry naming the ranges removed, what they held and the
    /// rules version: both reach the file or neither does. Appends go on meanwhile; one that
    /// could change the plan (a hold, a rules version, a link into what would go) makes it
    /// plan again. Entry ledgers only; memory does not grow with the ledger's size beyond one
    /// bit per entry (the plan's links).
    pub fn prune(&self, opts: &PruneOptions<'_>) -> Result<PruneReport> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            if !opts.dry_run {
                self.writable()?;
            }
            // A commitment holds the terms of the entries it covers, and `verify` recomputes
            // it from their content: pruning that content would make an honest ledger read as
            // tampered. Until committed indexes keep what verify needs, the two do not mix.
            if self.meta.commit_index_every.is_some() {
                return Err(Error::InvalidArgument(
                    "this ledger keeps committed indexes (SPEC 9), which are recomputed from \
                     the entries' content: pruning it is not supported"
                        .into(),
                ));
            }
            let mut done: Vec<Range<u64>> = Vec::new();
            let mut records = Vec::new();
            for _ in 0..PLAN_ATTEMPTS {
                let (reader, state) = self.snapshot()?;
                let plan = plan::plan(&reader, state.size, opts.before)?;
                let end = prunable_end(&reader, state.size)?;
                let (eligible, at_edge) = clip(&plan.eligible, end);
                if opts.dry_run || eligible.is_empty() {
                    let count = eligible.iter().map(|r| r.end - r.start).sum::<u64>()
                        + done.iter().map(|r| r.end - r.start).sum::<u64>();
                    done.extend(eligible);
                    if !opts.dry_run {
                        self.scrub_pruned_values(&done)?;
                    }
                    return Ok(PruneReport {
                        dry_run: opts.dry_run,
                        plan,
                        pruned: merged(done),
                        count,
                        at_edge,
                        records,
                    });
                }
                let Some((rules_index, _)) = plan.rules.clone() else {
                    return Err(Error::Internal("entries eligible with no rules".into()));
                };
                let version = plan::versions(&reader, state.size)?
                    .into_iter()
                    .find(|v| v.index == rules_index)
                    .ok_or_else(|| Error::Internal("the rules in force vanished".into()))?;
                let holds: Vec<String> = plan::holds(&reader, state.size)?
                    .into_iter()
                    .filter(|h| h.released.is_none())
                    .map(|h| h.id)
                    .collect();
                drop(reader);
                let mut checked = state.size;
                let mut outcome = Ok(());
                for (n, step) in steps(&eligible).iter().enumerate() {
                    let later: Vec<Range<u64>> =
                        steps(&eligible)[n..].iter().flatten().cloned().collect();
                    let template = PruneRecord {
                        before: opts.before,
                        rules_index,
                        rules_version: version.rules.version.clone(),
                        rules_digest: version.rules.digest(),
                        holds: holds.clone(),
                        ranges: Vec::new(),
                    };
                    match self.write_alone(|l, g| {
                        l.prune_step(g, checked, &later, step, template, &opts.by)
                    }) {
                        Ok(Ok(index)) => {
                            records.push(index);
                            done.extend(step.iter().cloned());
                            checked = index + 1;
                        }
                        Ok(Err(Replan)) => {
                            outcome = Err(Replan);
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                if outcome.is_ok() {
                    self.scrub_pruned_values(&done)?;
                    let count = done.iter().map(|r| r.end - r.start).sum();
                    return Ok(PruneReport {
                        dry_run: false,
                        plan,
                        pruned: merged(done),
                        count,
                        at_edge,
                        records,
                    });
                }
            }
            Err(Error::Storage(format!(
                "appends kept changing what retention allows (holds, rules, links) while \
                 pruning; {} step(s) were done; run prune again",
                records.len()
            )))
        })
    }

    /// One pruning transaction: check what was appended since `checked` (a hold, rules, a
    /// prune or a link into `later` makes the plan stale), remove `step`'s leaf bytes, and
    /// append the `retention.pruned` entry built from what they held. The entry's index.
    fn prune_step(
        &self,
        g: &mut Group,
        checked: u64,
        later: &[Range<u64>],
        step: &[Range<u64>],
        mut record: PruneRecord,
        by: &RecordedBy<'_>,
    ) -> Result<std::result::Result<u64, Replan>> {
        let size = g.frontier.size();
        for i in checked..size {
            let leaf = g.w.leaf(i)?;
            if leaf.is_empty() {
                continue;
            }
            let e: Value = serde_json::from_slice(&leaf).map_err(|e| Error::Tampered {
                location: format!("leaf {i}"),
                detail: format!("stored entry is not JSON: {e}"),
            })?;
            let action = e["action"].as_str().unwrap_or_default();
            let links_in = e["links"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["index"].as_u64())
                .any(|t| later.iter().any(|r| r.contains(&t)));
            if links_in
                || [
                    RETENTION_PUBLISHED,
                    RETENTION_PRUNED,
                    HOLD_PLACED,
                    HOLD_RELEASED,
                ]
                .contains(&action)
            {
                return Ok(Err(Replan));
            }
        }
        let end = g.w.prunable_end()?;
        if step.last().is_some_and(|r| r.end > end) {
            return Ok(Err(Replan));
        }
        for r in step {
            let ranges = &mut record.ranges;
            g.w.prune_leaves(r.clone(), |index, leaf| {
                let head = claims(index, leaf)?;
                match ranges.last_mut() {
                    Some(last)
                        if last.range.end == index
                            && (last.actions.contains(&head.0)
                                || last.actions.len() < RANGE_ACTIONS) =>
                    {
                        last.range.end = index + 1;
                        last.latest = last.latest.max(head.1);
                        if let Err(at) = last.actions.binary_search(&head.0) {
                            last.actions.insert(at, head.0);
                        }
                    }
                    _ => ranges.push(PrunedRange {
                        range: index..index + 1,
                        actions: vec![head.0],
                        latest: head.1,
                    }),
                }
                Ok(())
            })?;
        }
        let entry = json!({
            "actor": {"id": by.actor},
            "action": RETENTION_PRUNED,
            "subject": {"type": "retention_rules", "id": record.rules_version},
            "authz": by.authz,
            "attrs": {"count": record.count().to_string()},
            "payload": record.to_payload(),
        });
        let receipts = self.process(g, Work::Entries(Cow::Owned(vec![entry])))?;
        let index = receipts
            .first()
            .map(|r| r.index)
            .ok_or_else(|| Error::Internal("the pruning entry was not appended".into()))?;
        Ok(Ok(index))
    }

    /// In a ledger with personal fields (SPEC section 10), what pruning `done` removed of
    /// their values is overwritten in the file, as an erasure's is.
    fn scrub_pruned_values(&self, done: &[Range<u64>]) -> Result<()> {
        if self.meta.personal.is_empty() || done.is_empty() {
            return Ok(());
        }
        self.scrub_after(true)
    }

    /// Where entry `index` went, if it was pruned; `None` if its bytes are there. A missing
    /// entry that no pruning record covers is [`Error::Tampered`].
    pub fn pruned(&self, index: u64) -> Result<Option<PrunedLeaf>> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            check_index(index, state.size)?;
            pruned_leaf(&reader, state.size, index)
        })
    }

    /// Rewrites the ledger file at `path` so the pages pruning freed go back to the file
    /// system (redb's `compact`). Needs the file to itself: with any handle open on it, in
    /// this process or another, it is [`Error::Locked`]. Whether anything moved.
    pub fn compact(path: impl AsRef<std::path::Path>) -> Result<bool> {
        guarded(|| crate::storage::compact_file(path.as_ref()))
    }
}

/// Where pruning stops in the snapshot `reader` (see `Writer::prunable_end`).
fn prunable_end(reader: &Reader, size: u64) -> Result<u64> {
    Ok((size / 64 * 64)
        .min(reader.indexed_end()?)
        .min(reader.occurred_end()?))
}

/// The ranges cut at `end`, and how many eligible entries lie past it.
fn clip(ranges: &[Range<u64>], end: u64) -> (Vec<Range<u64>>, u64) {
    let mut inside = Vec::new();
    let mut past = 0;
    for r in ranges {
        if r.end <= end {
            inside.push(r.clone());
        } else {
            if r.start < end {
                inside.push(r.start..end);
            }
            past += r.end - r.start.max(end);
        }
    }
    (inside, past)
}

/// `ranges` in steps of at most [`PRUNE_STEP_LEAVES`] leaves and [`PRUNE_STEP_RANGES`] ranges.
fn steps(ranges: &[Range<u64>]) -> Vec<Vec<Range<u64>>> {
    let mut out: Vec<Vec<Range<u64>>> = Vec::new();
    let mut leaves = 0;
    let mut current: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        let mut start = r.start;
        while start < r.end {
            let room = PRUNE_STEP_LEAVES - leaves;
            let end = r.end.min(start + room);
            current.push(start..end);
            leaves += end - start;
            start = end;
            if leaves == PRUNE_STEP_LEAVES || current.len() == PRUNE_STEP_RANGES {
                out.push(std::mem::take(&mut current));
                leaves = 0;
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Adjacent ranges joined.
fn merged(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// What a pruning record says of a leaf: its action and `time`.
fn claims(index: u64, leaf: &[u8]) -> Result<(String, Timestamp)> {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        action: Cow<'a, str>,
        #[serde(borrow)]
        time: Cow<'a, str>,
    }
    let h: Head<'_> = serde_json::from_slice(leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry lacks its action or time: {e}"),
    })?;
    Ok((h.action.into_owned(), Timestamp::parse(&h.time)?))
}

/// Every pruning record up to `size`, oldest first, with its entry's index and `time`.
pub(super) fn records(reader: &Reader, size: u64) -> Result<Vec<(u64, Timestamp, PruneRecord)>> {
    query::all_with_action(reader, size, RETENTION_PRUNED)?
        .into_iter()
        .map(|f| {
            let time = f.entry["time"]
                .as_str()
                .and_then(|t| Timestamp::parse(t).ok())
                .unwrap_or(Timestamp::EPOCH);
            Ok((f.index, time, PruneRecord::from_entry(f.index, &f.entry)?))
        })
        .collect()
}

/// Entry `index` of `reader` as pruned, if its bytes are gone.
pub(super) fn pruned_leaf(reader: &Reader, size: u64, index: u64) -> Result<Option<PrunedLeaf>> {
    if !reader.leaf(index)?.is_empty() {
        return Ok(None);
    }
    for (by, at, record) in records(reader, size)? {
        if record.ranges.iter().any(|r| r.range.contains(&index)) {
            return Ok(Some(PrunedLeaf {
                index,
                leaf_hash: reader.nodes(&[NodeId { level: 0, index }])?[0],
                by,
                pruned_at: at,
                rules_version: record.rules_version,
            }));
        }
    }
    Err(Error::Tampered {
        location: format!("leaf {index}"),
        detail: "its bytes are gone and no pruning record covers it".into(),
    })
}

/// Refuses a question about entry `index` when it was pruned ([`Error::OutOfRange`] saying
/// where it went): its content is gone, and nothing stale may stand in for it.
pub(super) fn refuse_pruned(reader: &Reader, size: u64, index: u64) -> Result<()> {
    match pruned_leaf(reader, size, index)? {
        Some(p) => Err(Error::OutOfRange(p.to_string())),
        None => Ok(()),
    }
}

/// Pruned indexes as ranges, collected as `verify` meets them.
#[derive(Default)]
pub(super) struct Gaps(pub(super) Vec<Range<u64>>);

impl Gaps {
    pub(super) fn add(&mut self, index: u64) {
        match self.0.last_mut() {
            Some(r) if r.end == index => r.end += 1,
            _ => self.0.push(index..index + 1),
        }
    }

    /// Every missing leaf must be covered by a record, every record's ranges must be
    /// missing, and every record must be allowed by the rules it names.
    pub(super) fn check(self, reader: &Reader, size: u64) -> Result<()> {
        let records = records(reader, size)?;
        let versions = if records.is_empty() {
            Vec::new()
        } else {
            plan::versions(reader, size)?
        };
        let mut claimed: Vec<Range<u64>> = Vec::new();
        for (index, _, record) in &records {
            if let Some(why) = record.disallowed(*index, &versions) {
                return Err(Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: format!("a pruning that retention did not allow: {why}"),
                });
            }
            claimed.extend(record.ranges.iter().map(|r| r.range.clone()));
        }
        let claimed = merged(claimed);
        let gaps = merged(self.0);
        if claimed == gaps {
            return Ok(());
        }
        // Name the first index where they differ.
        let covered = |rs: &[Range<u64>], i: u64| rs.iter().any(|r| r.contains(&i));
        let edges: BTreeSet<u64> = claimed
            .iter()
            .chain(&gaps)
            .flat_map(|r| [r.start, r.end])
            .collect();
        for i in edges {
            match (covered(&gaps, i), covered(&claimed, i)) {
                (true, false) => {
                    return Err(Error::Tampered {
                        location: format!("leaf {i}"),
                        detail: "its bytes are gone and no pruning record covers it".into(),
                    })
                }
                (false, true) => {
                    return Err(Error::Tampered {
                        location: format!("leaf {i}"),
                        detail: "a pruning record says it was removed, but its bytes are there"
                            .into(),
                    })
                }
                _ => {}
            }
        }
        Err(Error::Tampered {
            location: "pruning records".into(),
            detail: "the ranges they name are not the leaves that are gone".into(),
        })
    }
}
