//! `Ledger::erase`: deleting the personal values of chosen entries (their openings and
//! personal postings) with the `erasure.performed` entry that records it, in one write
//! transaction per step; then overwriting the file's free pages, where redb leaves the old
//! copies of what was deleted.

use std::borrow::Cow;
use std::ops::Range;

use serde_json::{json, Value};

use super::append::Work;
use super::personal::stored_personal_terms;
use super::retention::RecordedBy;
use super::{check_index, Ledger, LedgerKind};
use crate::error::{guarded, Error, Result};
use crate::query::{self, Query};
use crate::retention::erasure::{self, EraseSelect, ERASURE_PERFORMED};
use crate::retention::plan;
use crate::storage::Reader;

/// Most entries one erasure transaction (and its record) covers: a larger erasure is several
/// steps, each its own transaction and record, so a transaction's dirty pages stay bounded.
pub const ERASE_STEP_ENTRIES: usize = 1 << 16;

/// Options of [`Ledger::erase`].
#[derive(Clone, Debug)]
pub struct EraseOptions<'a> {
    /// Which entries.
    pub select: EraseSelect,
    /// Why (the data subject's request, say); recorded. Must not itself hold the values.
    pub reason: &'a str,
    /// The legal basis (`GDPR Art. 17(1)(a)`), recorded when given.
    pub legal_basis: Option<&'a str>,
    /// The request's reference, the record's `subject.id` (default `erasure`).
    pub request: Option<&'a str>,
    /// Only say what would be erased.
    pub dry_run: bool,
    /// Who erases, and why that was allowed: the record's actor and authz.
    pub by: RecordedBy<'a>,
}

/// What an erasure did (or, dry, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EraseReport {
    /// True when nothing was changed.
    pub dry_run: bool,
    /// The entries whose personal values were (or would be) erased, ascending.
    pub erased: Vec<u64>,
    /// Chosen entries with nothing to erase: pruned, already erased, or without personal
    /// values.
    pub skipped: u64,
    /// The indexes of the `erasure.performed` entries appended.
    pub records: Vec<u64>,
}

impl EraseReport {
    /// `{"dry_run", "erased": [...], "count", "skipped", "records": [...]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "dry_run": self.dry_run,
            "erased": self.erased,
            "count": self.erased.len(),
            "skipped": self.skipped,
            "records": self.records,
        })
    }
}

/// The erasure records up to a size: for each, the ranges it names.
pub(crate) struct Erasures(Vec<(u64, Vec<Range<u64>>)>);

impl Erasures {
    /// Whether record `by` names entry `index`.
    pub(crate) fn covers(&self, by: u64, index: u64) -> bool {
        self.0
            .binary_search_by_key(&by, |(i, _)| *i)
            .is_ok_and(|at| self.0[at].1.iter().any(|r| r.contains(&index)))
    }
}

/// Every `erasure.performed` record among the first `size` entries, checked.
pub(crate) fn recorded_erasures(reader: &Reader, size: u64) -> Result<Erasures> {
    let mut out = Vec::new();
    for f in query::all_with_action(reader, size, ERASURE_PERFORMED)? {
        out.push((f.index, erasure::recorded_ranges(f.index, &f.entry)?));
    }
    Ok(Erasures(out))
}

impl Ledger {
    /// Erase the personal values (SPEC section 10) of the entries `opts.select` names: their
    /// values and salts, and the query postings they alone gave, are deleted, and an
    /// `erasure.performed` entry records who erased how many entries, why and on what legal
    /// basis (never the values, nor what they were chosen by). Each step (at most
    /// [`ERASE_STEP_ENTRIES`] entries) is one write transaction with its record. The entries
    /// keep their leaves: every proof and checkpoint still verifies, and they read with their
    /// commitments and `"erased": {"by": <record>}`. Then the file's free pages are
    /// overwritten, so the deleted bytes are not left in them.
    ///
    /// Refused, with nothing changed: a ledger without personal fields; an empty reason; an
    /// entry under a legal hold in force; a record of retention, erasure, rules or key
    /// rotation; an index past the end; nothing to erase.
    pub fn erase(&self, opts: &EraseOptions<'_>) -> Result<EraseReport> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            if self.meta.personal.is_empty() {
                return Err(Error::InvalidArgument(
                    "this ledger declares no personal fields (`init --personal`): its entries \
                     hold their values in their leaves, which cannot be erased"
                        .into(),
                ));
            }
            if opts.reason.trim().is_empty() {
                return Err(Error::InvalidArgument("an erasure needs a reason".into()));
            }
            if !opts.dry_run {
                self.writable()?;
            }
            let (reader, state) = self.snapshot()?;
            let chosen = self.chosen(&reader, state.size, &opts.select)?;
            let (candidates, skipped) = erasable(&reader, state.size, &chosen, &opts.select)?;
            if candidates.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "nothing to erase: {} chosen entr{} hold no personal values (pruned, \
                     already erased, or none recorded)",
                    chosen.len(),
                    if chosen.len() == 1 { "y" } else { "ies" }
                )));
            }
            drop(reader);
            if opts.dry_run {
                return Ok(EraseReport {
                    dry_run: true,
                    erased: candidates,
                    skipped,
                    records: Vec::new(),
                });
            }
            let mut records = Vec::new();
            let mut erased = Vec::new();
            for step in candidates.chunks(ERASE_STEP_ENTRIES) {
                let (done, record) = self.write_alone(|l, g| {
                    // Judged again inside the transaction: an append since the snapshot may
                    // have placed a hold, erased or pruned some of them.
                    let (reader, state) = l.snapshot()?;
                    let (now, _) = erasable(&reader, state.size, step, &opts.select)?;
                    if now.is_empty() {
                        return Ok((now, None));
                    }
                    let record_index = g.frontier.size();
                    for &i in &now {
                        let leaf = reader.leaf(i)?;
                        let Some(o) = reader.openings(i)? else {
                            continue;
                        };
                        let terms = stored_personal_terms(i, &leaf, &o)?;
                        g.w.erase_personal(i, &terms, record_index)?;
                    }
                    let entry = json!({
                        "actor": {"id": opts.by.actor},
                        "action": ERASURE_PERFORMED,
                        "subject": {"type": "erasure", "id": opts.request.unwrap_or("erasure")},
                        "authz": opts.by.authz,
                        "attrs": {"count": now.len().to_string()},
                        "payload": erasure::payload(opts.reason, opts.legal_basis, &opts.select, &now),
                    });
                    let receipts = l.process(g, Work::Entries(Cow::Owned(vec![entry])))?;
                    match receipts.first() {
                        Some(r) if r.index == record_index => Ok((now, Some(r.index))),
                        _ => Err(Error::Internal(
                            "the erasure record did not take the index its rows name".into(),
                        )),
                    }
                })?;
                erased.extend(done);
                records.extend(record);
            }
            self.scrub_after(true)?;
            Ok(EraseReport {
                dry_run: false,
                erased,
                skipped,
                records,
            })
        })
    }

    /// Overwrite the file's free pages with zeros, so that nothing deleted (an erasure's
    /// values, a pruned entry's bytes) stays readable in them. [`Ledger::erase`] ends with it;
    /// run it again after an erasure that was interrupted between its commit and its end.
    /// A page another handle's open read snapshot still holds is not free and is not reached.
    pub fn scrub_free_pages(&self) -> Result<()> {
        guarded(|| self.scrub_after(false))
    }

    /// Overwrite the free pages, after rebuilding the personal postings when rows went from
    /// them (see `storage::personal`).
    pub(super) fn scrub_after(&self, rebuild_postings: bool) -> Result<()> {
        self.writable()?;
        let _guard = self.lock()?;
        self.store()?.scrub_free_pages(rebuild_postings)
    }

    /// The indexes `select` names at a snapshot of `size`, ascending.
    fn chosen(&self, reader: &Reader, size: u64, select: &EraseSelect) -> Result<Vec<u64>> {
        let mut q = match select {
            EraseSelect::Indexes(ix) => {
                let mut ix = ix.clone();
                for &i in &ix {
                    check_index(i, size)?;
                }
                ix.sort_unstable();
                ix.dedup();
                return Ok(ix);
            }
            EraseSelect::Actor(a) => Query {
                actor: Some(a.clone()),
                ..Query::default()
            },
            EraseSelect::Subject(t, i) => Query {
                subject: Some((t.clone(), i.clone())),
                ..Query::default()
            },
        };
        q.order = query::Order::OldestFirst;
        q.limit = 1000;
        let mut out = Vec::new();
        loop {
            let page = query::run(reader, size, &q)?;
            out.extend(page.entries.iter().map(|f| f.index));
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }
}

/// Of `chosen`, those with personal values to erase, and how many have none. An entry
/// under a hold in force, or a protected record, refuses the whole erasure. Entries named by
/// index must each have values.
fn erasable(
    reader: &Reader,
    size: u64,
    chosen: &[u64],
    select: &EraseSelect,
) -> Result<(Vec<u64>, u64)> {
    let holds: Vec<plan::Hold> = plan::holds(reader, size)?
        .into_iter()
        .filter(|h| h.released.is_none())
        .collect();
    let by_index = matches!(select, EraseSelect::Indexes(_));
    let mut out = Vec::with_capacity(chosen.len());
    let mut skipped = 0;
    for &i in chosen {
        let found = query::load(reader, i)?;
        let e = &found.entry;
        let has_values = !e.is_null() && e.get("sealed").is_some() && e.get("erased").is_none();
        if !has_values {
            if by_index {
                return Err(Error::InvalidArgument(format!(
                    "entry {i} holds no personal values to erase (pruned, already erased, or \
                     none recorded)"
                )));
            }
            skipped += 1;
            continue;
        }
        let action = e["action"].as_str().unwrap_or_default();
        if crate::retention::is_protected(action) {
            return Err(Error::InvalidArgument(format!(
                "entry {i} is a {action} record, kept whole for ever: its fields are not erased"
            )));
        }
        if let Some(h) = holds.iter().find(|h| h.scope.covers(e)) {
            return Err(Error::InvalidArgument(format!(
                "entry {i} is under legal hold {} (entry {}): nothing was erased",
                h.id, h.placed
            )));
        }
        out.push(i);
    }
    Ok((out, skipped))
}
