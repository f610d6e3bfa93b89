//! `why`: which rule allowed an entry, what that rule said then, and who approved that version.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::storage::Reader;

use crate::query::{load, run, Found, Order, Query};
use crate::trace::{resolve_policy, TRACE_LIMIT};

/// Why an entry was allowed: its authorization, the policy version in force, and who
/// approved that version.
#[derive(Clone, Debug, PartialEq)]
pub struct Why {
    /// The entry asked about.
    pub entry: Found,
    /// Its `authz`, if any.
    pub authz: Option<Value>,
    /// The `policy.published` entry its `authz.policy` / `policy_version` resolve to.
    pub policy: Option<Found>,
    /// `approval.granted` entries for that policy version: linking to it, or on subject
    /// `policy:<id>` with the same `attrs.version`.
    pub approvals: Vec<Found>,
    /// The rules version in force for the entry (docs/RULES.md): its class, break-glass,
    /// and who published that version under which approval; `None` before any rules.
    pub rules: Option<Value>,
}

impl Why {
    /// `{"index", "entry", "authz", "policy": {"index", "entry"} | null, "approvals": [...]}`,
    /// and `"rules"` when a rules version was in force (see
    /// [`Ledger::rules_at`](crate::Ledger::rules_at)).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "index": self.entry.index,
            "entry": self.entry.entry,
            "authz": self.authz,
            "policy": self.policy.as_ref().map(Found::to_json),
            "approvals": self.approvals.iter().map(Found::to_json).collect::<Vec<_>>(),
        });
        if let Some(r) = &self.rules {
            v["rules"] = r.clone();
        }
        v
    }
}

pub(crate) fn why(reader: &Reader, size: u64, index: u64) -> Result<Why> {
    if index >= size {
        return Err(Error::OutOfRange(format!(
            "index {index} is not below the tree size {size}"
        )));
    }
    let entry = load(reader, index)?;
    let authz = entry.entry.get("authz").cloned();
    let policy = resolve_policy(reader, &entry.entry, index)?
        .map(|i| load(reader, i))
        .transpose()?;
    let mut approvals = BTreeSet::new();
    if let Some(p) = &policy {
        let approved = Query {
            action: Some("approval.granted".into()),
            links_to: Some(p.index),
            order: Order::OldestFirst,
            limit: TRACE_LIMIT,
            ..Query::default()
        };
        approvals.extend(
            run(reader, size, &approved)?
                .entries
                .iter()
                .map(|f| f.index),
        );
        if let Some(pid) = p.entry.pointer("/subject/id").and_then(Value::as_str) {
            let on_subject = Query {
                action: Some("approval.granted".into()),
                subject: Some(("policy".into(), pid.into())),
                attrs: p
                    .entry
                    .pointer("/attrs/version")
                    .and_then(Value::as_str)
                    .map(|v| vec![("version".to_owned(), v.to_owned())])
                    .unwrap_or_default(),
                order: Order::OldestFirst,
                limit: TRACE_LIMIT,
                ..Query::default()
            };
            approvals.extend(
                run(reader, size, &on_subject)?
                    .entries
                    .iter()
                    .map(|f| f.index),
            );
        }
    }
    let rules = crate::ledger::rules::in_force_for(reader, index, &entry.entry)?;
    Ok(Why {
        rules,
        entry,
        authz,
        policy,
        approvals: approvals
            .into_iter()
            .map(|i| load(reader, i))
            .collect::<Result<_>>()?,
    })
}
