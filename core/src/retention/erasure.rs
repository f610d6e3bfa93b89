//! The `erasure.performed` record (SPEC section 10.2): which entries' personal values were
//! erased, why, and on what legal basis, written in the transaction that deletes them. Pure:
//! built and parsed here, acted on by `ledger/erase.rs`.

use std::ops::Range;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The action of an erasure record.
pub const ERASURE_PERFORMED: &str = "erasure.performed";

/// How the erased entries were chosen (recorded by kind only: the value chosen by, an actor
/// id say, is itself personal and never written into the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EraseSelect {
    /// These entries.
    Indexes(Vec<u64>),
    /// Every entry whose `actor.id` is this.
    Actor(String),
    /// Every entry whose subject is `(type, id)`.
    Subject(String, String),
}

impl EraseSelect {
    /// From its JSON form, as the bindings pass it: exactly one of `{"actor": "<id>"}`,
    /// `{"subject": "<type>:<id>"}` or `{"indexes": [<index>, ...]}` (non-empty).
    pub fn from_json(v: &Value) -> Result<EraseSelect> {
        let bad = |m: &str| Error::InvalidArgument(format!("erasure selection: {m}"));
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| bad("one of {\"actor\"}, {\"subject\"} or {\"indexes\"}"))?;
        let (k, val) = obj.iter().next().ok_or_else(|| bad("empty"))?;
        match k.as_str() {
            "actor" => val
                .as_str()
                .filter(|a| !a.is_empty())
                .map(|a| EraseSelect::Actor(a.to_owned()))
                .ok_or_else(|| bad("actor must be a non-empty string")),
            "subject" => val
                .as_str()
                .and_then(|s| s.split_once(':'))
                .map(|(t, i)| EraseSelect::Subject(t.to_owned(), i.to_owned()))
                .ok_or_else(|| bad("subject must be \"<type>:<id>\"")),
            "indexes" => {
                let list = val
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| bad("indexes must be a non-empty array"))?;
                list.iter()
                    .map(|i| i.as_u64().ok_or_else(|| bad("an index is not an integer")))
                    .collect::<Result<Vec<u64>>>()
                    .map(EraseSelect::Indexes)
            }
            other => Err(bad(&format!("unknown key {other:?}"))),
        }
    }

    /// The kind recorded: `index`, `actor` or `subject`.
    pub fn kind(&self) -> &'static str {
        match self {
            EraseSelect::Indexes(_) => "index",
            EraseSelect::Actor(_) => "actor",
            EraseSelect::Subject(..) => "subject",
        }
    }
}

/// The ranges of `sorted` (ascending, distinct) indexes.
pub(crate) fn ranges_of(sorted: &[u64]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for &i in sorted {
        match out.last_mut() {
            Some(r) if r.end == i => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// The payload of an erasure record.
pub(crate) fn payload(
    reason: &str,
    legal_basis: Option<&str>,
    select: &EraseSelect,
    erased: &[u64],
) -> Value {
    let ranges: Vec<Value> = ranges_of(erased)
        .iter()
        .map(|r| json!({"start": r.start, "end": r.end}))
        .collect();
    let mut p = json!({
        "reason": reason,
        "selected_by": select.kind(),
        "count": erased.len(),
        "ranges": ranges,
    });
    if let Some(b) = legal_basis {
        p["legal_basis"] = json!(b);
    }
    p
}

/// The ranges an erasure record (entry `index`, stored JSON `e`) names, checked: ascending,
/// disjoint, non-empty, each before the record, their sizes adding up to `count`.
pub(crate) fn recorded_ranges(index: u64, e: &Value) -> Result<Vec<Range<u64>>> {
    let bad = |detail: String| Error::Tampered {
        location: format!("erasure record {index}"),
        detail,
    };
    let p = &e["payload"];
    let list = p["ranges"]
        .as_array()
        .ok_or_else(|| bad("no ranges".into()))?;
    let mut out: Vec<Range<u64>> = Vec::with_capacity(list.len());
    for r in list {
        let (Some(start), Some(end)) = (r["start"].as_u64(), r["end"].as_u64()) else {
            return Err(bad("a range without start and end".into()));
        };
        if start >= end || end > index || out.last().is_some_and(|l| l.end >= start) {
            return Err(bad(format!(
                "range {start}..{end} is out of order or place"
            )));
        }
        out.push(start..end);
    }
    let count: u64 = out.iter().map(|r| r.end - r.start).sum();
    if p["count"].as_u64() != Some(count) {
        return Err(bad(format!(
            "count says {}, ranges hold {count}",
            p["count"]
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_strictly() {
        assert_eq!(
            EraseSelect::from_json(&json!({"actor": "a"})).unwrap(),
            EraseSelect::Actor("a".into())
        );
        assert_eq!(
            EraseSelect::from_json(&json!({"subject": "user:u:1"})).unwrap(),
            EraseSelect::Subject("user".into(), "u:1".into())
        );
        assert_eq!(
            EraseSelect::from_json(&json!({"indexes": [3, 1]})).unwrap(),
            EraseSelect::Indexes(vec![3, 1])
        );
        for bad in [
            json!({}),
            json!({"actor": "a", "indexes": [1]}),
            json!({"actor": ""}),
            json!({"subject": "nocolon"}),
            json!({"indexes": []}),
            json!({"indexes": [-1]}),
            json!({"who": "a"}),
            json!("a"),
        ] {
            assert!(EraseSelect::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_round_trip_and_are_checked() {
        let p = payload(
            "gdpr",
            Some("Art. 17"),
            &EraseSelect::Indexes(vec![]),
            &[1, 2, 3, 7],
        );
        let e = json!({"payload": p});
        assert_eq!(recorded_ranges(9, &e).unwrap(), vec![1..4, 7..8]);
        assert!(recorded_ranges(7, &e).is_err(), "a range past the record");
        let mut forged = e.clone();
        forged["payload"]["count"] = json!(5);
        assert!(recorded_ranges(9, &forged).is_err());
        assert!(!p.to_string().contains("alice"));
    }
}
