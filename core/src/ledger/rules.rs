//! The rules of a ledger (docs/RULES.md): the versions it published, loaded from the `rules`
//! table and the leaves it points at; publishing one; the version in force at an index; and
//! judging an entry inside a group commit by exactly the version in force where it lands.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::append::Group;
use super::{Ledger, LedgerKind, Receipt};
use crate::entry::canonical_json;
use crate::error::{guarded, Error, Result};
use crate::rules::{self, Linked, Rules, RulesBook, Verdict, AUDIT_REFUSED, RULES_PUBLISHED};
use crate::storage::{Reader, Writer};

/// A rules version as the ledger holds it: the leaf that published it and the document.
#[derive(Clone, Debug)]
pub struct RulesVersion {
    /// The index of its `rules.published` entry; it governs the entries after it.
    pub index: u64,
    /// The compiled document.
    pub rules: Arc<Rules>,
    /// Who published it (the entry's `actor.id`).
    pub published_by: String,
    /// Its `authz`, if any: why publishing it was allowed.
    pub authz: Option<Value>,
    /// Its `links` (for example `approved_by` an approval entry).
    pub links: Option<Value>,
}

impl RulesVersion {
    /// `{"index", "version", "digest", "published_by", "authz", "links", "document"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "index": self.index,
            "version": self.rules.version,
            "digest": self.rules.digest,
            "published_by": self.published_by,
            "authz": self.authz,
            "links": self.links,
            "document": self.rules.document,
        })
    }
}

/// The action and actor of a stored entry, all a link requirement reads of it.
#[derive(Deserialize)]
struct Head {
    action: String,
    actor: HeadActor,
}

#[derive(Deserialize)]
struct HeadActor {
    id: String,
}

/// The linked entry at `index` of snapshot `reader`, its sealed values opened (an erased
/// one reads with its commitments, so an actor rule on it is judged on them).
fn head_at(reader: &Reader, index: u64) -> Result<Option<Linked>> {
    let leaf = reader.leaf(index)?;
    if !super::personal::has_sealed_member(&leaf) {
        return Ok(head(&leaf));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&leaf) else {
        return Ok(None);
    };
    let v = super::personal::read_opened(reader, index, v)?;
    Ok(head(&canonical_json(&v)))
}

fn head(leaf: &[u8]) -> Option<Linked> {
    let h: Head = serde_json::from_slice(leaf).ok()?;
    Some(Linked {
        action: h.action,
        actor: h.actor.id,
    })
}

/// The rules published at leaf `index` (whose `rules` row says `digest`), read back from the
/// leaf: tampering if the leaf is not a `rules.published` entry of that digest.
fn version_from_leaf(index: u64, digest: &str, leaf: &[u8]) -> Result<(Arc<Rules>, Value)> {
    let tampered = |detail: String| Error::Tampered {
        location: format!("rules version at leaf {index}"),
        detail,
    };
    let entry: Value =
        serde_json::from_slice(leaf).map_err(|e| tampered(format!("the leaf is not JSON: {e}")))?;
    if entry.get("action").and_then(Value::as_str) != Some(RULES_PUBLISHED) {
        return Err(tampered(format!(
            "the leaf is not a {RULES_PUBLISHED} entry"
        )));
    }
    let rules = rules::rules_of_entry(&entry).map_err(|e| tampered(e.to_string()))?;
    if rules.digest != digest {
        return Err(tampered(format!(
            "the rules table says {digest}, the entry publishes {}",
            rules.digest
        )));
    }
    Ok((Arc::new(rules), entry))
}

/// Adds to `book` the versions recorded at leaf `from` or later, read through `rows` and
/// `leaf` (a snapshot's or a write transaction's).
pub(super) fn extend_book(
    book: &mut RulesBook,
    rows: Vec<(u64, String)>,
    leaf: impl Fn(u64) -> Result<Vec<u8>>,
) -> Result<()> {
    for (index, digest) in rows {
        if book.last_leaf().is_some_and(|l| l >= index) {
            continue;
        }
        let (rules, _) = version_from_leaf(index, &digest, &leaf(index)?)?;
        book.push(index, rules);
    }
    Ok(())
}

/// The book of a committed ledger, read from a snapshot.
pub(super) fn load_book(reader: &Reader) -> Result<RulesBook> {
    let mut book = RulesBook::default();
    extend_book(&mut book, reader.rules_versions(0)?, |i| reader.leaf(i))?;
    Ok(book)
}

/// Brings `book` up to the rows another handle committed since (see `Ledger::follow`).
pub(super) fn follow_book(book: &mut RulesBook, w: &Writer) -> Result<()> {
    let from = book.last_leaf().map_or(0, |l| l + 1);
    extend_book(book, w.rules_versions(from)?, |i| w.leaf(i))
}

/// The linked entry at `index` as a group sees it: queued in this commit or committed.
fn linked_in(w: &Writer, index: u64) -> Result<Option<Linked>> {
    let leaf = match w.queued_leaf(index) {
        Some(leaf) => leaf.to_vec(),
        None => match w.leaf(index) {
            Ok(leaf) => leaf,
            Err(Error::OutOfRange(_)) => return Ok(None),
            Err(e) => return Err(e),
        },
    };
    if super::personal::has_sealed_member(&leaf) {
        let openings = match w.queued_openings(index) {
            Some(o) => Some(o.to_vec()),
            None => w.openings(index)?,
        };
        if let (Some(o), Ok(mut v)) = (openings, serde_json::from_slice::<Value>(&leaf)) {
            crate::entry::open(&mut v, &o, index)?;
            return Ok(head(&canonical_json(&v)));
        }
    }
    Ok(head(&leaf))
}

/// Judges `entry`, which will take index `index` in group `g`, by the version in force
/// there; an entry past the group's writer (an earlier entry of the same parallel batch) is
/// looked up in `pending`, the batch's new entries from `pending_from` on.
pub(super) fn judge_in_group(
    g: &Group,
    entry: &Value,
    index: u64,
    pending: (&[&Value], u64),
) -> Result<Option<Verdict>> {
    let Some(version) = g.rules.at(index) else {
        return Ok(None);
    };
    let (batch, from) = pending;
    let mut linked = |i: u64| -> Result<Option<Linked>> {
        if i >= from {
            return Ok(batch.get((i - from) as usize).and_then(|v| {
                Some(Linked {
                    action: v.get("action")?.as_str()?.to_owned(),
                    actor: v.pointer("/actor/id")?.as_str()?.to_owned(),
                })
            }));
        }
        linked_in(&g.w, i)
    };
    version.judge(entry, &mut linked).map(Some)
}

/// The rules an entry publishes, if it is a `rules.published` entry (refused if its document
/// is not one, or its digest or version does not match).
pub(super) fn published_by(entry: &Value) -> Result<Option<Arc<Rules>>> {
    if entry.get("action").and_then(Value::as_str) != Some(RULES_PUBLISHED) {
        return Ok(None);
    }
    rules::rules_of_entry(entry).map(|r| Some(Arc::new(r)))
}

/// The `audit.refused` entry recording that `refused` was refused with `error`.
pub(super) fn refusal_entry(refused: &Value, error: &Error) -> Value {
    let digest = format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical_json(refused)))
    );
    let actor = refused
        .pointer("/actor/id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown");
    let (class, version) = match error {
        Error::RuleViolation { class, version, .. } => (class.clone(), version.clone()),
        _ => (String::new(), String::new()),
    };
    json!({
        "actor": {"id": actor},
        "action": AUDIT_REFUSED,
        "subject": {"type": "entry", "id": digest},
        "attrs": {"class": class, "rules_version": version, "reason": error.to_string()},
    })
}

impl Ledger {
    /// Publishes `rules` (a rules document) as a `rules.published` entry by `actor`, with
    /// `authz` and `links` saying why that was allowed. It is itself judged by the rules in
    /// force before it, and governs every entry after it.
    pub fn publish_rules(
        &self,
        rules: &Rules,
        actor: &str,
        authz: Option<&Value>,
        links: Option<&Value>,
    ) -> Result<Receipt> {
        guarded(|| self.append(&rules::published_entry(rules, actor, authz, links)))
    }

    /// Every rules version published, oldest first.
    pub fn rules_versions(&self) -> Result<Vec<RulesVersion>> {
        guarded(|| {
            if self.meta.kind != LedgerKind::Entries {
                return Ok(Vec::new());
            }
            let (reader, _) = self.snapshot()?;
            let mut out = Vec::new();
            for (index, digest) in reader.rules_versions(0)? {
                let (rules, entry) = version_from_leaf(index, &digest, &reader.leaf(index)?)?;
                out.push(RulesVersion {
                    index,
                    rules,
                    published_by: entry
                        .pointer("/actor/id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    authz: entry.get("authz").cloned(),
                    links: entry.get("links").cloned(),
                });
            }
            Ok(out)
        })
    }

    /// The rules version in force for the entry at `index` (the newest published before
    /// it); `None` if no rules were published before it. `index` may be the current size
    /// (the next append), which no index (`None`) means.
    pub fn rules_at(&self, index: Option<u64>) -> Result<Option<RulesVersion>> {
        guarded(|| {
            let size = self.size()?;
            let index = index.unwrap_or(size);
            if index > size {
                return Err(Error::OutOfRange(format!(
                    "index {index} is beyond the next append, {size}"
                )));
            }
            Ok(self
                .rules_versions()?
                .into_iter()
                .rev()
                .find(|v| v.index < index))
        })
    }

    /// Record refused appends (rule violations) as `audit.refused` entries (SPEC 3.1) through
    /// this handle: off by default.
    pub fn set_record_refusals(&self, yes: bool) {
        self.record_refusals
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this handle records refusals ([`Ledger::set_record_refusals`]).
    pub fn records_refusals(&self) -> bool {
        self.record_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Every stored entry re-judged by the version in force at its index, and the `rules` table
/// held to the `rules.published` leaves: what `verify` adds for rules. Failures are
/// [`Error::Tampered`].
pub(super) fn verify_rules(reader: &Reader, size: u64) -> Result<()> {
    let book = load_book(reader)?;
    let recorded: Vec<u64> = book.versions().map(|(i, _)| i).collect();
    let mut q = crate::query::Query {
        action: Some(RULES_PUBLISHED.to_owned()),
        order: crate::query::Order::OldestFirst,
        limit: 1000,
        ..crate::query::Query::default()
    };
    let mut found = Vec::new();
    loop {
        let page = crate::query::run(reader, size, &q)?;
        found.extend(page.entries.iter().map(|f| f.index));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    if let Some(i) = found.iter().find(|i| !recorded.contains(i)) {
        return Err(Error::Tampered {
            location: format!("leaf {i}"),
            detail: format!("a {RULES_PUBLISHED} entry the rules table does not record"),
        });
    }
    let Some(&first) = recorded.first() else {
        return Ok(());
    };
    let mut failure = None;
    reader.scan_leaf_batches(first + 1, size, |at, leaves| {
        for (index, leaf) in (at..).zip(leaves) {
            if failure.is_some() {
                return Ok(());
            }
            let Some(version) = book.at(index) else {
                continue;
            };
            // Pruned: judged when it was written; what it was is gone (`verify` holds the
            // pruning itself to the retention rules).
            if leaf.is_empty() {
                continue;
            }
            let entry: Value = match serde_json::from_slice(leaf) {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(Error::Tampered {
                        location: format!("leaf {index}"),
                        detail: format!("stored entry is not JSON: {e}"),
                    });
                    continue;
                }
            };
            let entry = match super::personal::read_opened(reader, index, entry) {
                // Erased: judged when it was written; its values are gone.
                Ok(e) if e.get("erased").is_some() => continue,
                Ok(e) => e,
                Err(e) => {
                    failure = Some(e);
                    continue;
                }
            };
            let mut linked = |i: u64| -> Result<Option<Linked>> {
                if i >= index {
                    return Ok(None);
                }
                head_at(reader, i)
            };
            if let Err(e) = version.judge(&entry, &mut linked) {
                failure = Some(Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: format!("the entry breaks the rules in force when it was written: {e}"),
                });
            }
        }
        Ok(())
    })?;
    failure.map_or(Ok(()), Err)
}

/// The rules in force for the stored entry at `index` and what they made of it, for `why`
/// and `trace` (the auditor's "action -> rule -> rule version -> its author and approver"):
/// `{"version", "digest", "published_at", "class", "break_glass", "retention",
/// "ai_output", "published_by", "authz", "approvals": [{"index", "entry"}]}`, where
/// `approvals` are the entries the `rules.published` entry links to. `None` when no rules
/// were in force at `index`.
pub(crate) fn in_force_for(reader: &Reader, index: u64, entry: &Value) -> Result<Option<Value>> {
    let book = load_book(reader)?;
    let Some(version) = book.at(index) else {
        return Ok(None);
    };
    let published_at = version.leaf.unwrap_or_default();
    let mut linked = |i: u64| -> Result<Option<Linked>> {
        if i >= index {
            return Ok(None);
        }
        head_at(reader, i)
    };
    let (class, break_glass) = match version.judge(entry, &mut linked) {
        Ok(v) => (v.class.map(|c| &version.rules.classes[c]), v.break_glass),
        // A stored entry that breaks them is `verify`'s to report; here it is named as such.
        Err(e) => {
            return Ok(Some(json!({
                "version": version.rules.version,
                "digest": version.rules.digest,
                "published_at": published_at,
                "violation": e.to_string(),
            })))
        }
    };
    let publishing = crate::query::load(reader, published_at)?;
    let approvals = rules::link_indexes(&publishing.entry)
        .map(|i| crate::query::load(reader, i).map(|f| f.to_json()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(json!({
        "version": version.rules.version,
        "digest": version.rules.digest,
        "published_at": published_at,
        "class": class.map(|c| c.name.clone()),
        "break_glass": break_glass,
        "retention": class.and_then(|c| c.retention.clone()),
        "ai_output": class.is_some_and(|c| c.ai_output),
        "published_by": publishing.entry.pointer("/actor/id"),
        "authz": publishing.entry.get("authz"),
        "approvals": approvals,
    })))
}
