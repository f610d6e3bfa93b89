//! The delivery measures teams ask of an audit trail under rules (docs/RULES.md, "Reports"):
//! mean time to decision, change requests per week, approval concentration, break-glass per
//! class and the AI intervention rate.
//!
//! One pass over the leaves in order (a bundle in memory at a time), keeping only what later
//! entries can refer back to: the time of each `*.requested` entry and the indexes of entries
//! of AI-output classes. Definitions:
//!
//! - An entry's time is its `occurred_at` if valid, else its `time` (as in [`crate::report`]).
//! - A *request* is an entry whose action ends in `.requested`; a *decision* one whose action
//!   ends in `.approved`, `.rejected`, `.granted` or `.denied`. A decision linking (by index)
//!   to a request decides it; the first decision of each request counts, and its time to
//!   decision is the decision's time minus the request's (never below 0).
//! - Approval concentration: the approvals (decisions ending in `.approved` or `.granted`) per
//!   actor as a share of all; an actor above the threshold (default 0.5) is flagged.
//! - Break-glass per class: entries with `authz.decision = "break_glass"`, by the class the
//!   rules in force at their index put them in (`(no class)`, or `(no rules)` before any).
//! - AI intervention rate: of the entries whose class is marked `ai_output`, the share that a
//!   later entry overrode or rejected: a decision ending in `.rejected` or `.denied`, or any
//!   entry with `authz.decision = "override"`, linking to it.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};

use crate::error::Result;
use crate::ledger::Ledger;
use crate::report::{effective_time, iso_week};

/// The delivery report (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryReport {
    /// Requests decided, and the mean time to their first decision in seconds.
    pub decided: u64,
    /// Mean seconds from request to first decision (`None` with no decided request).
    pub mean_decision_seconds: Option<f64>,
    /// Requests per ISO week.
    pub requests_per_week: BTreeMap<String, u64>,
    /// Approvals per approver, most first.
    pub approvals: Vec<(String, u64)>,
    /// The share above which an approver is flagged.
    pub threshold: f64,
    /// Break-glass entries per class.
    pub break_glass: BTreeMap<String, u64>,
    /// Entries of AI-output classes, and how many a human overrode or rejected.
    pub ai_outputs: u64,
    /// Of `ai_outputs`.
    pub ai_intervened: u64,
}

fn ends(action: &str, suffixes: &[&str]) -> bool {
    suffixes.iter().any(|s| action.ends_with(s))
}

impl DeliveryReport {
    /// `{"mean_time_to_decision": {"decided", "mean_seconds"}, "requests_per_week":
    /// [{"week", "requests"}], "approval_concentration": {"threshold", "approvers": [{"approver",
    /// "approvals", "share", "flagged"}]}, "break_glass_by_class": [{"class", "count"}],
    /// "ai_intervention": {"ai_outputs", "intervened", "rate"}}`.
    pub fn to_json(&self) -> Value {
        let total: u64 = self.approvals.iter().map(|(_, n)| n).sum();
        json!({
            "mean_time_to_decision": {"decided": self.decided, "mean_seconds": self.mean_decision_seconds},
            "requests_per_week": self.requests_per_week.iter()
                .map(|(w, n)| json!({"week": w, "requests": n})).collect::<Vec<_>>(),
            "approval_concentration": {
                "threshold": self.threshold,
                "approvers": self.approvals.iter().map(|(a, n)| {
                    let share = *n as f64 / total.max(1) as f64;
                    json!({"approver": a, "approvals": n, "share": share, "flagged": share > self.threshold})
                }).collect::<Vec<_>>(),
            },
            "break_glass_by_class": self.break_glass.iter()
                .map(|(c, n)| json!({"class": c, "count": n})).collect::<Vec<_>>(),
            "ai_intervention": {
                "ai_outputs": self.ai_outputs,
                "intervened": self.ai_intervened,
                "rate": (self.ai_outputs > 0).then(|| self.ai_intervened as f64 / self.ai_outputs as f64),
            },
        })
    }
}

impl Ledger {
    /// The delivery report over the whole ledger, flagging approvers whose share of approvals
    /// is above `threshold` (0.5 if `None`).
    /// A threshold outside 0..=1 is [`Error::InvalidArgument`](crate::Error::InvalidArgument).
    pub fn delivery_report(&self, threshold: Option<f64>) -> Result<DeliveryReport> {
        if threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
            return Err(crate::Error::InvalidArgument(
                "the approval concentration threshold must be a share between 0 and 1".into(),
            ));
        }
        let versions = self.rules_versions()?;
        let mut book = crate::rules::RulesBook::default();
        for v in &versions {
            book.push(v.index, v.rules.clone());
        }
        let mut requests: HashMap<u64, i128> = HashMap::new();
        let mut decided: HashSet<u64> = HashSet::new();
        let mut decision_nanos: Vec<i128> = Vec::new();
        let mut per_week: BTreeMap<String, u64> = BTreeMap::new();
        let mut approvals: HashMap<String, u64> = HashMap::new();
        let mut break_glass: BTreeMap<String, u64> = BTreeMap::new();
        let mut ai: HashSet<u64> = HashSet::new();
        let mut intervened: HashSet<u64> = HashSet::new();
        let size = self.size()?;
        self.scan_raw(0, size, |at, leaves| {
            for (index, leaf) in (at..).zip(leaves) {
                let Ok(mut e) = serde_json::from_slice::<Value>(leaf) else {
                    continue;
                };
                if e.get("sealed").is_some() {
                    // Sealed values (SPEC section 10) are read opened: an approver is counted
                    // by who they are, not by a commitment salted anew each time.
                    e = self.get(index)?;
                }
                let action = e.get("action").and_then(Value::as_str).unwrap_or("");
                let actor = e.pointer("/actor/id").and_then(Value::as_str).unwrap_or("");
                let time = effective_time(&e);
                let decision = e.pointer("/authz/decision").and_then(Value::as_str);
                let links: Vec<u64> = crate::rules::link_indexes(&e).collect();
                if action.ends_with(".requested") {
                    if let Some(t) = time {
                        requests.insert(index, t.unix_nanos());
                        *per_week.entry(iso_week(t)).or_default() += 1;
                    }
                }
                let is_decision = ends(action, &[".approved", ".rejected", ".granted", ".denied"]);
                if is_decision {
                    if ends(action, &[".approved", ".granted"]) {
                        *approvals.entry(actor.to_owned()).or_default() += 1;
                    }
                    for l in &links {
                        if let (Some(r), Some(t)) = (requests.get(l), time) {
                            if decided.insert(*l) {
                                decision_nanos.push((t.unix_nanos() - r).max(0));
                            }
                        }
                    }
                }
                let rejects =
                    ends(action, &[".rejected", ".denied"]) || decision == Some("override");
                if rejects {
                    intervened.extend(links.iter().filter(|l| ai.contains(l)));
                }
                let version = book.at(index);
                // Stored entries were judged on the way in; only the class is wanted.
                let class =
                    version.and_then(|v| v.rules.class_of(action).map(|c| &v.rules.classes[c]));
                if decision == Some("break_glass") {
                    let name = match (version, class) {
                        (None, _) => "(no rules)".to_owned(),
                        (Some(_), None) => "(no class)".to_owned(),
                        (Some(_), Some(c)) => c.name.clone(),
                    };
                    *break_glass.entry(name).or_default() += 1;
                }
                if class.is_some_and(|c| c.ai_output) {
                    ai.insert(index);
                }
            }
            Ok(())
        })?;
        let mut approvals: Vec<(String, u64)> = approvals.into_iter().collect();
        approvals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mean = (!decision_nanos.is_empty()).then(|| {
            decision_nanos.iter().map(|n| *n as f64).sum::<f64>()
                / decision_nanos.len() as f64
                / 1e9
        });
        Ok(DeliveryReport {
            decided: decision_nanos.len() as u64,
            mean_decision_seconds: mean,
            requests_per_week: per_week,
            approvals,
            threshold: threshold.unwrap_or(0.5),
            break_glass,
            ai_outputs: ai.len() as u64,
            ai_intervened: intervened.len() as u64,
        })
    }
}
