//! Judging one entry against a rules document: the class governing its action, the approval
//! matrix, break-glass, required fields and links.

use serde_json::Value;

use super::document::{Default, Rules};
use super::{AUDIT_REFUSED, RULES_PUBLISHED};
use crate::error::{Error, Result};

/// What a link requirement needs to know of a linked earlier entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    /// Its action.
    pub action: String,
    /// Its actor's id.
    pub actor: String,
}

/// An accepted entry: which class governed it, and whether it passed under break-glass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Index into [`Rules::classes`]; `None` for an action no class names.
    pub class: Option<usize>,
    /// Its `authz.decision` was `break_glass` and the class allowed it.
    pub break_glass: bool,
}

/// Where the judged rules stand in the ledger, for the error: the leaf of their
/// `rules.published` entry (`None` for a document not yet published, as `rules check` uses).
#[derive(Clone, Copy, Debug)]
pub struct Version<'a> {
    /// The rules.
    pub rules: &'a Rules,
    /// The leaf that published them.
    pub leaf: Option<u64>,
}

impl Version<'_> {
    /// `v1 (leaf 4)`, or `v1 (unpublished)`.
    pub fn label(&self) -> String {
        match self.leaf {
            Some(i) => format!("{} (leaf {i})", self.rules.version),
            None => format!("{} (unpublished)", self.rules.version),
        }
    }

    fn violation(&self, class: &str, requirement: String) -> Error {
        Error::RuleViolation {
            class: class.to_owned(),
            requirement,
            version: self.label(),
        }
    }

    /// Judges `entry` (a valid entry object, SPEC section 3). `linked` reads an earlier entry
    /// by index, for link requirements that name the linked entry's action or actor's role;
    /// `Ok(None)` if there is no such entry. An entry that breaks the rules is
    /// [`Error::RuleViolation`] naming its class, the requirement and this version.
    pub fn judge(
        &self,
        entry: &Value,
        linked: &mut dyn FnMut(u64) -> Result<Option<Linked>>,
    ) -> Result<Verdict> {
        let rules = self.rules;
        let action = entry.get("action").and_then(Value::as_str).unwrap_or("");
        let Some(ci) = rules.class_of(action) else {
            if rules.default == Default::Refuse
                && action != RULES_PUBLISHED
                && action != AUDIT_REFUSED
            {
                return Err(self.violation(
                    "(no class)",
                    format!("strict rules: no class names action {action:?}"),
                ));
            }
            return Ok(Verdict {
                class: None,
                break_glass: false,
            });
        };
        let class = &rules.classes[ci];
        let actor = entry
            .pointer("/actor/id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let break_glass =
            entry.pointer("/authz/decision").and_then(Value::as_str) == Some("break_glass");
        if class.roles.is_some() || break_glass {
            let held = rules.roles_of(actor);
            if break_glass {
                if class.break_glass.is_empty() {
                    return Err(self.violation(
                        &class.name,
                        "break-glass is not allowed for this class".into(),
                    ));
                }
                if !held.iter().any(|r| class.break_glass.contains(r)) {
                    return Err(self.violation(
                        &class.name,
                        format!(
                            "break-glass by actor {actor:?} (roles: {}): only {} may break glass",
                            names(rules, &held),
                            names(rules, &class.break_glass)
                        ),
                    ));
                }
            } else if let Some(allowed) = &class.roles {
                if !held.iter().any(|r| allowed.contains(r)) {
                    return Err(self.violation(
                        &class.name,
                        format!(
                            "actor {actor:?} (roles: {}) may not take it: allowed roles are {}",
                            names(rules, &held),
                            names(rules, allowed)
                        ),
                    ));
                }
            }
        }
        for f in &class.fields {
            if !f.present_in(entry) {
                return Err(self.violation(&class.name, format!("requires field {}", f.path)));
            }
        }
        let links = entry.get("links").and_then(Value::as_array);
        for req in &class.links {
            // Break-glass stands in for the approval it could not wait for.
            if break_glass && req.role.is_some() {
                continue;
            }
            let mut found = false;
            for l in links.into_iter().flatten() {
                if l.get("rel").and_then(Value::as_str) != Some(req.rel.as_str()) {
                    continue;
                }
                if !req.names_entry() {
                    found = true;
                    break;
                }
                let Some(index) = l.get("index").and_then(Value::as_u64) else {
                    continue;
                };
                let Some(other) = linked(index)? else {
                    continue;
                };
                let action_ok = req.action.as_ref().is_none_or(|p| p.matches(&other.action));
                let role_ok = req
                    .role
                    .is_none_or(|r| rules.roles_of(&other.actor).contains(&r));
                let distinct_ok = !req.distinct_actor || other.actor != actor;
                if action_ok && role_ok && distinct_ok {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(self.violation(&class.name, describe_link(rules, req)));
            }
        }
        Ok(Verdict {
            class: Some(ci),
            break_glass,
        })
    }
}

impl Verdict {
    /// What `rules check` prints: `{"version", "class", "break_glass", "retention",
    /// "ai_output"}`, the class named as `rules` (the document judged) names it.
    pub fn to_json(&self, rules: &Rules) -> Value {
        let class = self.class.and_then(|c| rules.classes.get(c));
        serde_json::json!({
            "version": rules.version,
            "class": class.map(|c| c.name.clone()),
            "break_glass": self.break_glass,
            "retention": class.and_then(|c| c.retention.clone()),
            "ai_output": class.is_some_and(|c| c.ai_output),
        })
    }
}

impl Rules {
    /// A dry run (`rules check`): `entry` validated as SPEC section 3 requires, then judged by
    /// these rules as an unpublished version. Without a ledger no linked entry can be read,
    /// so link requirements naming an entry's action or role are unmet.
    pub fn check(&self, entry: &Value) -> Result<Verdict> {
        let max_link = link_indexes(entry).max();
        // Links must name earlier entries: judge it as if it came right after them.
        let at = max_link.map_or(0, |m| m.saturating_add(1));
        crate::entry::validate(entry, at)?;
        Version {
            rules: self,
            leaf: None,
        }
        .judge(entry, &mut |_| Ok(None))
    }
}

/// The indexes of earlier entries `entry` links to (links by `ref` have none).
pub(crate) fn link_indexes(entry: &Value) -> impl Iterator<Item = u64> + '_ {
    entry
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("index").and_then(Value::as_u64))
}

fn names(rules: &Rules, ids: &[usize]) -> String {
    let n = rules.role_names(ids);
    if n.is_empty() {
        "none".into()
    } else {
        n.join(", ")
    }
}

fn describe_link(rules: &Rules, req: &super::document::LinkRequirement) -> String {
    let mut s = format!("requires a link with rel {:?}", req.rel);
    if req.names_entry() {
        s.push_str(" to an earlier entry");
        if let Some(a) = &req.action {
            s.push_str(&format!(" of action {}", a.as_str()));
        }
        if let Some(r) = req.role {
            s.push_str(&format!(" by an actor of role {}", names(rules, &[r])));
        }
        if req.distinct_actor {
            s.push_str(" other than this entry's actor");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        Rules::from_value(&json!({
            "version": "v1",
            "default": "refuse",
            "roles": {"dev": ["alice"], "rm": ["carol"], "sre": ["sam"]},
            "classes": [
                {"name": "deploys", "action": "deploy.*", "roles": ["rm"],
                 "require": ["authz.policy_version"], "break_glass": ["sre"],
                 "links": [{"rel": "approved_by", "action": "change.approved", "role": "rm",
                            "distinct_actor": true}]},
                {"name": "approvals", "action": "change.approved", "roles": ["rm"]}
            ]
        }))
        .unwrap()
    }

    fn judge(r: &Rules, e: Value) -> Result<Verdict> {
        let v = Version {
            rules: r,
            leaf: Some(4),
        };
        v.judge(&e, &mut |i| {
            Ok((i == 1).then(|| Linked {
                action: "change.approved".into(),
                actor: "carol".into(),
            }))
        })
    }

    fn deploy(actor: &str, decision: &str, links: Value) -> Value {
        json!({"actor": {"id": actor}, "action": "deploy.succeeded",
               "subject": {"type": "service", "id": "api"},
               "authz": {"decision": decision, "policy": "p", "policy_version": "3",
                         "reason": "r"},
               "links": links})
    }

    fn requirement(e: Error) -> String {
        match e {
            Error::RuleViolation {
                class,
                requirement,
                version,
            } => {
                assert_eq!(version, "v1 (leaf 4)");
                format!("{class}: {requirement}")
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn each_rule_is_named_when_broken() {
        let r = rules();
        let approved = json!([{"rel": "approved_by", "index": 1}]);
        // By someone else, with carol's approval: accepted.
        let mut e = deploy("carol2", "allow", approved.clone());
        assert!(judge(&r, e.clone()).is_err());
        e["actor"]["id"] = "carol".into();
        // Carol approving her own deploy: not distinct.
        assert!(requirement(judge(&r, e).unwrap_err()).contains("other than"));
        let r2 = Rules::from_value(&json!({"version": "v1", "roles": {"rm": ["carol", "rita"]},
            "classes": [{"name": "deploys", "action": "deploy.*", "roles": ["rm"],
              "links": [{"rel": "approved_by", "role": "rm", "distinct_actor": true}]}]}))
        .unwrap();
        let ok = judge(&r2, deploy("rita", "allow", approved.clone())).unwrap();
        assert_eq!(
            ok,
            Verdict {
                class: Some(0),
                break_glass: false
            }
        );
        assert!(
            requirement(judge(&r, deploy("alice", "allow", approved.clone())).unwrap_err())
                .contains("allowed roles are rm")
        );
        assert!(
            requirement(judge(&r2, deploy("rita", "allow", json!([]))).unwrap_err())
                .contains("rel \"approved_by\"")
        );
        // Break-glass: only sre, and it stands in for the approval.
        let bg = judge(&r, deploy("sam", "break_glass", json!([]))).unwrap();
        assert!(bg.break_glass);
        assert!(
            requirement(judge(&r, deploy("alice", "break_glass", json!([]))).unwrap_err())
                .contains("only sre may break glass")
        );
        // Strict: unnamed actions refused, but rules.published is always admitted.
        let other =
            json!({"actor": {"id": "x"}, "action": "other", "subject": {"type": "t", "id": "i"}});
        assert!(requirement(judge(&r, other.clone()).unwrap_err()).starts_with("(no class)"));
        let mut publish = other;
        publish["action"] = RULES_PUBLISHED.into();
        assert_eq!(judge(&r, publish).unwrap().class, None);
        // A required field.
        let mut e = deploy("sam", "break_glass", json!([]));
        e["authz"].as_object_mut().unwrap().remove("policy_version");
        assert!(
            requirement(judge(&r, e).unwrap_err()).contains("requires field authz.policy_version")
        );
    }
}
