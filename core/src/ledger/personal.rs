//! A ledger's personal fields (SPEC section 10): sealing an entry as it is appended, opening
//! a stored one as it is read, and `verify`'s check of the values kept beside the leaves.
//! Erasing them is `erase.rs`.

use std::collections::HashSet;

use serde_json::Value;

use crate::entry::{self, PersonalFields};
use crate::error::{Error, Result};
use crate::query::Term;
use crate::storage::Reader;

use super::Ledger;

/// What sealing an entry gives the append path.
pub(super) struct SealedEntry {
    /// The entry as its leaf holds it (commitments and the `sealed` member).
    pub(super) leaf_form: Value,
    /// The openings, kept beside the leaf.
    pub(super) openings: Vec<u8>,
    /// The query terms the entry has only through its personal values.
    pub(super) terms: Vec<u64>,
}

/// A fresh 32-byte salt from the operating system.
fn salt() -> Result<[u8; 32]> {
    let mut s = [0u8; 32];
    getrandom::fill(&mut s)
        .map_err(|e| Error::Internal(format!("no randomness for a salt: {e}")))?;
    Ok(s)
}

/// The term hashes of `clear` that its `leaf_form` lacks: those it has only through its
/// personal values, filed apart so that erasing removes them.
fn personal_terms(clear: &Value, leaf_form: &Value) -> Vec<u64> {
    let mut buf = Vec::new();
    let (mut all, mut sealed) = (Vec::new(), Vec::new());
    Term::hashes_of_entry(clear, &mut buf, &mut all);
    Term::hashes_of_entry(leaf_form, &mut buf, &mut sealed);
    let sealed: HashSet<u64> = sealed.into_iter().collect();
    let mut out: Vec<u64> = all.into_iter().filter(|h| !sealed.contains(h)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// `value` (validated) sealed under `fields`, or `None` when it holds none of them.
pub(super) fn seal_entry(value: &Value, fields: &PersonalFields) -> Result<Option<SealedEntry>> {
    let Some(sealed) = entry::seal(value, fields, salt)? else {
        return Ok(None);
    };
    let terms = personal_terms(value, &sealed.entry);
    Ok(Some(SealedEntry {
        leaf_form: sealed.entry,
        openings: sealed.openings,
        terms,
    }))
}

/// A stored entry's personal terms from its leaf and openings ([`crate::storage::PersonalTerms`]).
pub(super) fn stored_personal_terms(index: u64, leaf: &[u8], openings: &[u8]) -> Result<Vec<u64>> {
    let leaf_form = parse_leaf(index, leaf)?;
    let mut clear = leaf_form.clone();
    entry::open(&mut clear, openings, index)?;
    Ok(personal_terms(&clear, &leaf_form))
}

fn parse_leaf(index: u64, leaf: &[u8]) -> Result<Value> {
    serde_json::from_slice(leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not JSON: {e}"),
    })
}

/// How a stored entry reads: its personal values put back from `openings`; without them (an
/// erased entry) its commitments stay and an `erased` member names the erasure record `by`.
pub(crate) fn opened(
    mut stored: Value,
    index: u64,
    openings: Option<&[u8]>,
    erased_by: Option<u64>,
) -> Result<Value> {
    if stored.get("sealed").is_none() {
        return Ok(stored);
    }
    match (openings, erased_by) {
        (Some(o), _) => entry::open(&mut stored, o, index)?,
        (None, Some(by)) => {
            if let Value::Object(m) = &mut stored {
                m.insert("erased".into(), serde_json::json!({ "by": by }));
            }
        }
        (None, None) => {
            return Err(Error::Tampered {
                location: format!("personal values of entry {index}"),
                detail: "the entry has sealed fields but neither their values nor an erasure \
                         record"
                    .into(),
            })
        }
    }
    Ok(stored)
}

/// Stored entry `index` (its leaf parsed) as it reads, from snapshot `reader`.
pub(crate) fn read_opened(reader: &Reader, index: u64, stored: Value) -> Result<Value> {
    if stored.get("sealed").is_none() {
        return Ok(stored);
    }
    let openings = reader.openings(index)?;
    let by = match openings {
        Some(_) => None,
        None => reader.erased_by(index)?,
    };
    opened(stored, index, openings.as_deref(), by)
}

/// The canonical caller-given fields of a stored entry as its caller gave them (personal
/// values put back, without `sealed`), for the `id` rule; `None` once erased.
pub(super) fn stored_clear_fields(
    index: u64,
    leaf: &[u8],
    openings: Option<&[u8]>,
) -> Result<Option<Vec<u8>>> {
    let mut v = parse_leaf(index, leaf)?;
    if v.get("sealed").is_some() {
        let Some(o) = openings else {
            return Ok(None);
        };
        entry::open(&mut v, o, index)?;
    }
    if let Value::Object(m) = &mut v {
        m.remove("sealed");
        m.remove("v");
        m.remove("time");
    }
    Ok(Some(entry::canonical_json(&v)))
}

impl Ledger {
    /// The fields this ledger seals as commitments (SPEC section 10); empty when none.
    pub fn personal_fields(&self) -> &[String] {
        self.meta.personal.paths()
    }

    /// The entry at `index` as JSON text, as it reads (entry ledgers only): its leaf bytes
    /// ([`Ledger::get_json`], which hash to its leaf hash), or for an entry with sealed fields
    /// the canonical JSON of [`Ledger::get`]'s value, its values put back (or marked erased).
    /// What the bindings hand out as an entry.
    pub fn entry_json(&self, index: u64) -> Result<String> {
        crate::error::guarded(|| {
            let leaf = self.get_json(index)?;
            if !has_sealed_member(leaf.as_bytes()) {
                return Ok(leaf);
            }
            String::from_utf8(entry::canonical_json(&self.get(index)?))
                .map_err(|e| Error::Internal(format!("canonical JSON is not UTF-8: {e}")))
        })
    }

    /// The openings of entry `index` (SPEC section 10): `{"<path>": {"salt", "value"}}` for
    /// each sealed field, what the data subject or an auditor keeps to show later, with
    /// [`crate::entry::check_opening`], what the entry recorded; `None` for an entry without
    /// sealed fields or once erased.
    pub fn openings(&self, index: u64) -> Result<Option<Value>> {
        crate::error::guarded(|| {
            let (reader, state) = self.snapshot()?;
            super::check_index(index, state.size)?;
            reader
                .openings(index)?
                .map(|o| {
                    serde_json::from_slice(&o).map_err(|e| Error::Tampered {
                        location: format!("personal values of entry {index}"),
                        detail: e.to_string(),
                    })
                })
                .transpose()
        })
    }

    /// `verify`'s check of the personal values kept beside the leaves at snapshot `reader`,
    /// in one pass over the leaves: every sealed entry has its openings, which match its
    /// commitments, and a personal posting for each term of its values, or else an erasure row
    /// naming an `erasure.performed` record that covers it; and the tables hold no other rows
    /// (their live rows are counted first and held to what the pass found).
    pub(super) fn check_personal(&self, reader: &Reader, size: u64) -> Result<()> {
        let tampered = |location: String, detail: String| Error::Tampered { location, detail };
        let (mut opening_rows, mut posting_rows) = (0u64, 0u64);
        let mut erased_rows: Vec<(u64, u64)> = Vec::new();
        reader.visit_personal(
            &mut |index, _| {
                if index >= size {
                    return Err(tampered(
                        format!("personal values of entry {index}"),
                        format!("past the ledger's size {size}"),
                    ));
                }
                opening_rows += 1;
                Ok(())
            },
            &mut |_, _| {
                posting_rows += 1;
                Ok(())
            },
            &mut |index, by| {
                erased_rows.push((index, by));
                Ok(())
            },
        )?;
        let covered = super::erase::recorded_erasures(reader, size)?;
        for &(index, by) in &erased_rows {
            if !covered.covers(by, index) {
                return Err(tampered(
                    format!("personal values of entry {index}"),
                    format!("erased, but erasure record {by} does not name it"),
                ));
            }
        }
        let erased: HashSet<u64> = erased_rows.iter().map(|&(i, _)| i).collect();
        let (mut opened, mut postings) = (0u64, 0u64);
        reader.scan_leaf_batches(0, size, |at, leaves| {
            for (index, leaf) in (at..).zip(leaves) {
                if leaf.is_empty() || !leaf.windows(10).any(|w| w == b"\"sealed\":[") {
                    continue;
                }
                let leaf_form = parse_leaf(index, leaf)?;
                if leaf_form.get("sealed").is_none() {
                    continue;
                }
                let Some(o) = reader.openings(index)? else {
                    if erased.contains(&index) {
                        continue;
                    }
                    return Err(tampered(
                        format!("personal values of entry {index}"),
                        "missing, and no erasure record covers the entry".into(),
                    ));
                };
                let mut clear = leaf_form.clone();
                entry::open(&mut clear, &o, index)?;
                opened += 1;
                for h in personal_terms(&clear, &leaf_form) {
                    if !reader.has_personal_posting(h, index)? {
                        return Err(tampered(
                            format!("personal postings of entry {index}"),
                            format!("term {h:016x} of its values is not filed"),
                        ));
                    }
                    postings += 1;
                }
            }
            Ok(())
        })?;
        if opened != opening_rows {
            return Err(tampered(
                "personal values".into(),
                format!("{opening_rows} openings rows for {opened} sealed entries holding values"),
            ));
        }
        if postings != posting_rows {
            return Err(tampered(
                "personal postings".into(),
                format!("{posting_rows} rows for {postings} terms of the entries' values"),
            ));
        }
        Ok(())
    }
}

/// Whether a canonical leaf has a `sealed` member, without parsing it (the member's key
/// cannot appear as a key elsewhere at the top level, and inside a string it is escaped).
pub(crate) fn has_sealed_member(leaf: &[u8]) -> bool {
    leaf.windows(10).any(|w| w == b"\"sealed\":[")
        && parse_leaf(0, leaf).is_ok_and(|v| v.get("sealed").is_some())
}
