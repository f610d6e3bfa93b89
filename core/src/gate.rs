//! Release gates: "was this release allowed to ship?"
//!
//! A [`GatePolicy`] is a small declarative file:
//!
//! ```json
//! {"min_approvals": 2, "approver_roles": ["release-manager", "sre"],
//!  "forbid_self_approval": true, "require": ["test.passed", "scan.passed"]}
//! ```
//!
//! [`Ledger::gate`] evaluates it for one subject (`release:2026.11.3`) through the query
//! indexes alone (entries on the subject, by action), never scanning the ledger, and names
//! every requirement met or missed with the entries that show it. [`Ledger::record_gate`]
//! records the outcome as a `gate.passed` / `gate.failed` entry on the subject that links that
//! evidence and carries the policy's digest.
//!
//! ## The requirements, exactly
//!
//! Approvals are the `approval.granted` entries whose subject is the gated subject.
//!
//! - `min_approvals` (when above 0): at least that many *distinct approvers* (`actor.id`)
//!   have an approval that counts. An approval counts when its `actor.role` is one of
//!   `approver_roles` (any role, or none, when that list is empty) and, with
//!   `forbid_self_approval`, it is not a self-approval. Evidence: the first counted approval
//!   of each approver.
//! - `forbid_self_approval` (default `true`): no approval on the subject is a self-approval.
//!   Evidence when met: the entries that name the requesters and authors checked against;
//!   when missed: each self-approval and the entries that make its approver a requester or
//!   author.
//! - each action of `require` (named by the action itself, e.g. `test.passed`): at least one
//!   entry with that action is recorded on the subject. Evidence: all of them.
//!
//! The gate passes when every requirement is met. A policy that requires nothing is refused.
//!
//! ## Self-approval: the reading implemented
//!
//! The issue: "a self-approval is one by the actor who requested the subject (`*.requested`
//! on it) or authored an entry it links to". The subject itself has no links; its entries do.
//! So the *requesters and authors* of a subject are the actors of
//!
//! 1. every entry on the subject whose action ends in `.requested`, and
//! 2. every entry that an entry on the subject links to, one hop: a `links[].index`, or a
//!    `links[].ref` resolved as `trace` resolves it (the entry whose `id` is the ref, else the
//!    earliest entry carrying it), but not the policy `trace` adds for an `authz`.
//!
//! Judgments about the change are not part of it: entries whose action starts with
//! `approval.` or `gate.` (other than a `*.requested` one, such as `approval.requested`) are
//! neither sources (1, 2) nor targets (2) of this rule. Otherwise a
//! recorded `gate.passed` linking its approvals, or a deployment on the subject linking them,
//! would turn every approver into an "author" and fail the next evaluation.
//!
//! (A `ref` resolves through the `id` index, which the public API reaches only through
//! [`Ledger::trace`]; so an entry with `ref` links costs one backward trace of it. A direct
//! `Ledger` lookup by `id` would make that one read.)
//!
//! ## Separation of duties through delegation chains
//!
//! An entry's *principal* is its `actor.id`: the person or service the act is attributed to.
//! The members of `actor.via` are its *carriers*: the identities it passed through on the
//! way (SPEC: "a bot acting for a person"). `trailseal record` writes the person the CI run
//! acts for as `actor.id` and the CI identity as `via` (`github-actions[bot]`, `gitlab-ci`),
//! `import git` the committer of someone else's commit, CDEvents the event's source.
//!
//! Two entries are by the same actor when the principal of one is the principal **or a
//! carrier** of the other. Two carriers alone are not: a carrier is shared by everyone whose
//! steps it runs, so a request by alice and an approval by bob, both recorded from CI through
//! `github-actions[bot]`, are by different actors. Hence an approval is a self-approval when
//!
//! - its principal is the principal or a carrier of a requester's or author's entry (alice
//!   approves her own request; the bot approves in its own name what it carried), or
//! - one of its carriers is the principal of such an entry (an approval attributed to a bot
//!   that acted through alice, `{"id": "bot", "via": ["alice"]}`, on alice's request).
//!
//! Distinct approvers are counted by principal.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::entry::canonical_json;
use crate::error::{Error, Result};
use crate::ledger::{Ledger, Receipt};
use crate::query::{split_subject, Found, Order, Query};

/// A release gate policy (the JSON file form; unknown fields are refused, so a typo cannot
/// silently weaken a gate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePolicy {
    /// Distinct approvers needed (0: no approval requirement).
    #[serde(default)]
    pub min_approvals: u64,
    /// Roles (`actor.role`) whose approvals count; empty means any.
    #[serde(default)]
    pub approver_roles: Vec<String>,
    /// Refuse approvals by the subject's requester or by the author of an entry it links to
    /// (default `true`).
    #[serde(default = "default_true")]
    pub forbid_self_approval: bool,
    /// Actions that must be recorded on the subject, e.g. `test.passed`.
    #[serde(default)]
    pub require: Vec<String>,
}

fn default_true() -> bool {
    true
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            min_approvals: 0,
            approver_roles: Vec::new(),
            forbid_self_approval: true,
            require: Vec::new(),
        }
    }
}

impl GatePolicy {
    /// Parse the JSON file form (strictly: a repeated key or an unknown field is refused).
    pub fn from_json(text: &str) -> Result<GatePolicy> {
        let v = crate::entry::parse_json(text.as_bytes())
            .map_err(|e| Error::malformed("gate policy", e.to_string()))?;
        Self::from_value(&v)
    }

    /// From an already parsed JSON value.
    pub fn from_value(v: &Value) -> Result<GatePolicy> {
        if !v.is_object() {
            return Err(Error::malformed("gate policy", "it must be a JSON object"));
        }
        let p: GatePolicy = serde_json::from_value(v.clone())
            .map_err(|e| Error::malformed("gate policy", e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Refuse a policy that requires nothing or names an empty role or action.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::malformed("gate policy", why.to_owned()));
        if self.min_approvals == 0 && !self.forbid_self_approval && self.require.is_empty() {
            return bad(
                "it requires nothing (give min_approvals, forbid_self_approval or require)",
            );
        }
        if self.approver_roles.iter().any(String::is_empty) {
            return bad("`approver_roles`: a role must not be empty");
        }
        if self.require.iter().any(String::is_empty) {
            return bad("`require`: an action must not be empty");
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = self.require.iter().find(|a| !seen.insert(a.as_str())) {
            return Err(Error::malformed(
                "gate policy",
                format!("`require`: {dup:?} is listed twice"),
            ));
        }
        Ok(())
    }

    /// The normalized JSON form (every field present, in this order).
    pub fn to_json(&self) -> Value {
        json!({
            "min_approvals": self.min_approvals,
            "approver_roles": self.approver_roles,
            "forbid_self_approval": self.forbid_self_approval,
            "require": self.require,
        })
    }

    /// `sha256:<hex>` of the RFC 8785 canonical JSON of [`GatePolicy::to_json`]: the same for
    /// any spelling of the same policy file.
    pub fn digest(&self) -> String {
        let d = Sha256::digest(canonical_json(&self.to_json()));
        format!("sha256:{}", hex::encode(d))
    }
}

/// One requirement of a gate and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateRequirement {
    /// `min_approvals`, `forbid_self_approval`, or a required action such as `test.passed`.
    pub name: String,
    /// Whether it holds.
    pub met: bool,
    /// The entries that show it (ascending indexes).
    pub evidence: Vec<u64>,
    /// One line for people, e.g. `2 of 2 distinct approvers (not counted: #15 dave: role
    /// developer not allowed)`. Not part of the JSON form.
    pub detail: String,
}

/// The outcome of [`Ledger::gate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateResult {
    /// The gated subject, `TYPE:ID`.
    pub subject: String,
    /// Every requirement met.
    pub passed: bool,
    /// Each requirement, in policy order: `min_approvals`, `forbid_self_approval`, then
    /// `require`.
    pub requirements: Vec<GateRequirement>,
}

impl GateResult {
    /// `{"passed": bool, "requirements": [{"name": "...", "met": bool, "evidence": [N, ...]}]}`
    pub fn to_json(&self) -> Value {
        json!({
            "passed": self.passed,
            "requirements": self.requirements.iter().map(|r| json!({
                "name": r.name, "met": r.met, "evidence": r.evidence,
            })).collect::<Vec<_>>(),
        })
    }

    /// The `gate.passed` / `gate.failed` entry recording this result: on the gated subject,
    /// by `actor`, linking every piece of evidence (`rel` = the requirement's name), with
    /// `attrs.policy_digest` and `payload: {"policy": ..., "result": ...}`.
    pub fn to_entry(&self, policy: &GatePolicy, actor: &str) -> Result<Value> {
        let (t, id) = split_subject(&self.subject)?;
        let mut links = Vec::new();
        let mut seen = BTreeSet::new();
        for r in &self.requirements {
            for &i in &r.evidence {
                if seen.insert((r.name.as_str(), i)) {
                    links.push(json!({"rel": r.name, "index": i}));
                }
            }
        }
        let mut e = json!({
            "actor": {"id": actor},
            "action": if self.passed { "gate.passed" } else { "gate.failed" },
            "subject": {"type": t, "id": id},
            "attrs": {"policy_digest": policy.digest()},
            "payload": {"policy": policy.to_json(), "result": self.to_json()},
        });
        if !links.is_empty() {
            e["links"] = Value::Array(links);
        }
        Ok(e)
    }
}

/// Entries per page when a gate, bundle or report reads every match of a query.
pub(crate) const PAGE: usize = 1000;

/// Every entry matching `q`, following its pages (in `q`'s order), at most `cap` (more is an
/// error naming `what`).
pub(crate) fn all_matches(
    ledger: &Ledger,
    mut q: Query,
    cap: usize,
    what: &str,
) -> Result<Vec<Found>> {
    q.limit = PAGE;
    let mut out = Vec::new();
    loop {
        let page = ledger.query(&q)?;
        out.extend(page.entries);
        if out.len() > cap {
            return Err(Error::InvalidArgument(format!(
                "{what} matches more than {cap} entries; narrow it down"
            )));
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// Most entries one gate reads per question (approvals, required results, subject entries).
const GATE_CAP: usize = 100_000;

/// The principal (`actor.id`) of an entry.
fn principal_of(e: &Value) -> Option<&str> {
    e.pointer("/actor/id").and_then(Value::as_str)
}

/// The carriers (`actor.via` members) of an entry.
fn carriers_of(e: &Value) -> impl Iterator<Item = &str> {
    e.pointer("/actor/via")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn action_of(e: &Value) -> &str {
    e.get("action").and_then(Value::as_str).unwrap_or("")
}

/// Approvals and gate outcomes judge a change; they are not part of it (a request for
/// approval, `approval.requested`, is).
fn is_judgment(e: &Value) -> bool {
    let a = action_of(e);
    (a.starts_with("approval.") || a.starts_with("gate.")) && !a.ends_with(".requested")
}

/// Who requested or authored a subject, and the entries that say so.
#[derive(Default)]
struct Authorship {
    /// principal (`actor.id`) -> entries that make them a requester or author
    by_actor: BTreeMap<String, BTreeSet<u64>>,
    /// carrier (`actor.via` member) -> those entries: matched only against an approval's
    /// principal (see the module documentation)
    by_carrier: BTreeMap<String, BTreeSet<u64>>,
}

impl Authorship {
    fn add(&mut self, f: &Found) {
        if let Some(p) = principal_of(&f.entry) {
            self.by_actor
                .entry(p.to_owned())
                .or_default()
                .insert(f.index);
        }
        for c in carriers_of(&f.entry) {
            self.by_carrier
                .entry(c.to_owned())
                .or_default()
                .insert(f.index);
        }
    }

    fn entries(&self) -> BTreeSet<u64> {
        self.by_actor.values().flatten().copied().collect()
    }

    /// The identities of `approval` that make it a self-approval, each with the entries
    /// that make it a requester or author.
    fn matches(&self, approval: &Value) -> Vec<(String, BTreeSet<u64>)> {
        let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        if let Some(p) = principal_of(approval) {
            for map in [&self.by_actor, &self.by_carrier] {
                if let Some(ix) = map.get(p) {
                    out.entry(p.to_owned()).or_default().extend(ix);
                }
            }
        }
        for c in carriers_of(approval) {
            if let Some(ix) = self.by_actor.get(c) {
                out.entry(c.to_owned()).or_default().extend(ix);
            }
        }
        out.into_iter().collect()
    }
}

impl Ledger {
    /// Evaluate a release gate for `subject` (`TYPE:ID`, split at the first colon). Reads
    /// only entries on the subject (through the subject and action indexes) and the entries
    /// they link to. See the [module documentation](crate::gate) for each requirement.
    pub fn gate(&self, subject: &str, policy: &GatePolicy) -> Result<GateResult> {
        policy.validate()?;
        let (st, sid) = split_subject(subject)?;
        let on_subject = |action: Option<&str>| Query {
            subject: Some((st.clone(), sid.clone())),
            action: action.map(str::to_owned),
            order: Order::OldestFirst,
            ..Query::default()
        };
        let approvals = all_matches(
            self,
            on_subject(Some("approval.granted")),
            GATE_CAP,
            "the approvals",
        )?;
        let authors = if policy.forbid_self_approval {
            self.authorship(all_matches(
                self,
                on_subject(None),
                GATE_CAP,
                "the subject",
            )?)?
        } else {
            Authorship::default()
        };
        let mut requirements = Vec::new();

        if policy.min_approvals > 0 {
            let mut counted = Vec::new();
            let mut approvers = BTreeSet::new();
            let mut not_counted = Vec::new();
            for a in &approvals {
                let id = a
                    .entry
                    .pointer("/actor/id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let role = a.entry.pointer("/actor/role").and_then(Value::as_str);
                if !policy.approver_roles.is_empty()
                    && !role.is_some_and(|r| policy.approver_roles.iter().any(|x| x == r))
                {
                    not_counted.push(format!(
                        "#{} {id}: {}",
                        a.index,
                        match role {
                            Some(r) => format!("role {r} not allowed"),
                            None => "no role".into(),
                        }
                    ));
                } else if policy.forbid_self_approval && !authors.matches(&a.entry).is_empty() {
                    not_counted.push(format!("#{} {id}: self-approval", a.index));
                } else if approvers.insert(id.to_owned()) {
                    counted.push(a.index);
                }
            }
            let roles = if policy.approver_roles.is_empty() {
                String::new()
            } else {
                format!(" by {}", policy.approver_roles.join(" or "))
            };
            let mut detail = format!(
                "{} of {} distinct approvers{roles}",
                counted.len(),
                policy.min_approvals
            );
            if !not_counted.is_empty() {
                detail.push_str(&format!(" (not counted: {})", not_counted.join("; ")));
            }
            requirements.push(GateRequirement {
                name: "min_approvals".into(),
                met: counted.len() as u64 >= policy.min_approvals,
                evidence: counted,
                detail,
            });
        }

        if policy.forbid_self_approval {
            let mut offenders = Vec::new();
            let mut evidence = BTreeSet::new();
            for a in &approvals {
                let who = authors.matches(&a.entry);
                if who.is_empty() {
                    continue;
                }
                evidence.insert(a.index);
                let mut names = Vec::new();
                for (w, ix) in &who {
                    evidence.extend(ix.iter().copied());
                    names.push(w.as_str());
                }
                offenders.push(format!("#{} by {}", a.index, names.join(", ")));
            }
            let met = offenders.is_empty();
            let names: Vec<&str> = authors.by_actor.keys().map(String::as_str).collect();
            let detail = if met {
                format!(
                    "no approval by a requester or author ({})",
                    if names.is_empty() {
                        "none recorded".to_owned()
                    } else {
                        names.join(", ")
                    }
                )
            } else {
                format!(
                    "approved by its own requester or author: {}",
                    offenders.join("; ")
                )
            };
            requirements.push(GateRequirement {
                name: "forbid_self_approval".into(),
                met,
                evidence: if met {
                    authors.entries().into_iter().collect()
                } else {
                    evidence.into_iter().collect()
                },
                detail,
            });
        }

        for action in &policy.require {
            let found = all_matches(self, on_subject(Some(action)), GATE_CAP, action)?;
            let evidence: Vec<u64> = found.iter().map(|f| f.index).collect();
            requirements.push(GateRequirement {
                name: action.clone(),
                met: !evidence.is_empty(),
                detail: match evidence.len() {
                    0 => format!("no {action} recorded on {st}:{sid}"),
                    1 => "recorded once".into(),
                    n => format!("recorded {n} times"),
                },
                evidence,
            });
        }

        Ok(GateResult {
            subject: format!("{st}:{sid}"),
            passed: requirements.iter().all(|r| r.met),
            requirements,
        })
    }

    /// Record a gate's outcome as a `gate.passed` / `gate.failed` entry by `actor` (see
    /// [`GateResult::to_entry`]).
    pub fn record_gate(
        &self,
        policy: &GatePolicy,
        result: &GateResult,
        actor: &str,
    ) -> Result<Receipt> {
        self.append(&result.to_entry(policy, actor)?)
    }

    /// Record `given`, a gate result a caller holds as JSON (what [`GateResult::to_json`] gave
    /// it, e.g. through a binding), once it is checked to be the ledger's own verdict: the
    /// gate is evaluated again on `subject` and must give exactly `given`. Otherwise
    /// [`Error::Inconsistent`]: the ledger changed since, or the result was edited. So a
    /// recorded `gate.passed` is always one the ledger reached.
    pub fn record_gate_result(
        &self,
        subject: &str,
        policy: &GatePolicy,
        given: &Value,
        actor: &str,
    ) -> Result<Receipt> {
        let now = self.gate(subject, policy)?;
        if &now.to_json() != given {
            return Err(Error::Inconsistent(format!(
                "the result is not the outcome of this gate on {subject} now (the ledger \
                 changed since, or the result was edited): evaluate the gate again"
            )));
        }
        self.record_gate(policy, &now, actor)
    }

    /// Evaluate the gate and record its verdict in one call, so what is recorded is always
    /// the ledger's own verdict (bindings need not rebuild a result from JSON). Returns the
    /// result and the receipt of the `gate.passed` / `gate.failed` entry.
    pub fn gate_and_record(
        &self,
        subject: &str,
        policy: &GatePolicy,
        actor: &str,
    ) -> Result<(GateResult, Receipt)> {
        let result = self.gate(subject, policy)?;
        let receipt = self.record_gate(policy, &result, actor)?;
        Ok((result, receipt))
    }

    /// Requesters and authors of the subject whose entries are `on_subject`.
    fn authorship(&self, on_subject: Vec<Found>) -> Result<Authorship> {
        let mut out = Authorship::default();
        for f in on_subject.iter().filter(|f| !is_judgment(&f.entry)) {
            if action_of(&f.entry).ends_with(".requested") {
                out.add(f);
            }
            for target in self.links_one_hop(f)? {
                if !is_judgment(&target.entry) {
                    out.add(&target);
                }
            }
        }
        Ok(out)
    }

    /// The entries `f` links to directly: its `index` links, and its `ref` links resolved as
    /// `trace` resolves them. Not the policy `trace` adds for `authz`.
    fn links_one_hop(&self, f: &Found) -> Result<Vec<Found>> {
        let links: Vec<&Value> = f
            .entry
            .get("links")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let direct: BTreeSet<u64> = links
            .iter()
            .filter_map(|l| l.get("index").and_then(Value::as_u64))
            .collect();
        let refs: BTreeSet<&str> = links
            .iter()
            .filter_map(|l| l.get("ref").and_then(Value::as_str))
            .collect();
        let mut out: BTreeMap<u64, Found> = BTreeMap::new();
        if refs.is_empty() {
            for &i in &direct {
                out.insert(
                    i,
                    Found {
                        index: i,
                        entry: self.get(i)?,
                    },
                );
            }
            return Ok(out.into_values().collect());
        }
        // Refs resolve through the `id` index, which only `trace` reaches: take the first
        // hop of a backward trace, minus the policy it adds for `authz`.
        let one_hop = crate::trace::TraceOptions {
            depth: Some(1),
            ..crate::trace::TraceOptions::everything()
        };
        let t = self.trace_with(f.index, false, &one_hop)?;
        let nodes: BTreeMap<u64, &Found> =
            t.nodes.iter().map(|n| (n.found.index, &n.found)).collect();
        let first_hop = t
            .nodes
            .iter()
            .find(|n| n.found.index == f.index)
            .map(|n| n.links.clone())
            .unwrap_or_default();
        let policy = self.policy_in_force(f)?;
        for i in first_hop {
            let Some(found) = nodes.get(&i) else { continue };
            let named_by_ref = found
                .entry
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| refs.contains(id))
                || found
                    .entry
                    .get("links")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.get("ref").and_then(Value::as_str))
                    .any(|r| refs.contains(r));
            if Some(i) == policy && !direct.contains(&i) && !named_by_ref {
                continue;
            }
            out.insert(i, (*found).clone());
        }
        Ok(out.into_values().collect())
    }

    /// The `policy.published` entry `trace` resolves `f`'s `authz` to (the latest one before
    /// it for that policy and version).
    fn policy_in_force(&self, f: &Found) -> Result<Option<u64>> {
        let Some(policy) = f.entry.pointer("/authz/policy").and_then(Value::as_str) else {
            return Ok(None);
        };
        let q = Query {
            action: Some("policy.published".into()),
            subject: Some(("policy".into(), policy.into())),
            attrs: f
                .entry
                .pointer("/authz/policy_version")
                .and_then(Value::as_str)
                .map(|v| vec![("version".to_owned(), v.to_owned())])
                .unwrap_or_default(),
            cursor: Some(f.index.to_string()),
            limit: 1,
            ..Query::default()
        };
        Ok(self.query(&q)?.entries.first().map(|p| p.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_parsing_is_strict_and_normalized() {
        let p = GatePolicy::from_json(
            r#"{"min_approvals": 2, "approver_roles": ["release-manager", "sre"],
                "forbid_self_approval": true, "require": ["test.passed", "scan.passed"]}"#,
        )
        .unwrap();
        assert_eq!(p.min_approvals, 2);
        let same = GatePolicy::from_json(
            r#"{"require":["test.passed","scan.passed"],"approver_roles":["release-manager","sre"],"min_approvals":2}"#,
        )
        .unwrap();
        assert_eq!(p, same, "forbid_self_approval defaults to true");
        assert_eq!(p.digest(), same.digest());
        assert!(p.digest().starts_with("sha256:") && p.digest().len() == 7 + 64);
        for bad in [
            r#"{"min_approval": 2}"#,
            r#"{"min_approvals": -1}"#,
            r#"{"min_approvals": 1, "min_approvals": 2}"#,
            r#"{"forbid_self_approval": false}"#,
            r#"{"require": ["a", "a"]}"#,
            r#"{"require": [""]}"#,
            r#"{"approver_roles": [""], "min_approvals": 1}"#,
            r#"[]"#,
            "",
        ] {
            let e = GatePolicy::from_json(bad).expect_err(bad);
            assert_eq!(e.code(), crate::ErrorCode::Malformed, "{bad}");
        }
    }
}
