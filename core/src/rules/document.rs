//! The rules document (docs/RULES.md): parsed strictly, checked for consistency as a whole,
//! and compiled (patterns, role table, class lookup) once, so judging an entry is cheap.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::pattern::Pattern;
use crate::entry::{canonical_json, parse_json};
use crate::error::{Error, Result};

/// What happens to an action no class names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// Accepted (the default).
    Allow,
    /// Refused: strict mode.
    Refuse,
}

/// A field an entry of a class must carry: `first` a top-level member, `rest` (if any) one
/// member of it, e.g. `change.before` or `attrs.ticket` (an `attrs` key may hold dots).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// As written in the document.
    pub path: String,
    first: String,
    rest: Option<String>,
}

impl FieldRequirement {
    fn parse(path: &str) -> Result<FieldRequirement> {
        let (first, rest) = match path.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (path, None),
        };
        let members: &[&str] = match first {
            "actor" => &["role", "tenant", "via"],
            "authz" => &["policy", "policy_version", "reason"],
            "change" => &["before", "after"],
            "attrs" | "payload" => &[],
            "id" | "occurred_at" | "links" => &[],
            _ => {
                return Err(bad(format!(
                    "required field {path:?}: {first:?} is not an entry field that may be missing"
                )))
            }
        };
        match rest {
            Some("") => return Err(bad(format!("required field {path:?} ends with a dot"))),
            Some(r) if !members.is_empty() && !members.contains(&r) => {
                return Err(bad(format!(
                    "required field {path:?}: {first} has no member {r:?} (one of {})",
                    members.join(", ")
                )))
            }
            Some(_) if matches!(first, "id" | "occurred_at" | "links") => {
                return Err(bad(format!(
                    "required field {path:?}: {first} has no members"
                )))
            }
            _ => {}
        }
        Ok(FieldRequirement {
            path: path.to_owned(),
            first: first.to_owned(),
            rest: rest.map(str::to_owned),
        })
    }

    /// Whether `entry` carries the field (present and not `null`).
    pub fn present_in(&self, entry: &Value) -> bool {
        let Some(v) = entry.get(&self.first) else {
            return false;
        };
        match &self.rest {
            None => !v.is_null(),
            Some(r) => v.get(r).is_some_and(|m| !m.is_null()),
        }
    }
}

/// A link an entry of a class must carry: by `rel`, and optionally to an earlier entry whose
/// action matches `action`, taken by an actor holding `role` (human-in-the-loop approval),
/// who is not the entry's own actor when `distinct_actor` is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRequirement {
    /// The link relation, e.g. `approved_by`.
    pub rel: String,
    /// The linked entry's action.
    pub action: Option<Pattern>,
    /// The role the linked entry's actor must hold (index into [`Rules::roles`]).
    pub role: Option<usize>,
    /// The linked entry's actor must not be this entry's actor.
    pub distinct_actor: bool,
}

impl LinkRequirement {
    /// True if satisfying it needs the linked entry itself, not just a link with the `rel`.
    pub fn names_entry(&self) -> bool {
        self.action.is_some() || self.role.is_some() || self.distinct_actor
    }
}

/// One class of entries: which actions, what they must carry, who may take them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    /// Its name, unique in the document; errors and `why` name it.
    pub name: String,
    /// The actions it governs.
    pub action: Pattern,
    /// Fields its entries must carry.
    pub fields: Vec<FieldRequirement>,
    /// Links its entries must carry.
    pub links: Vec<LinkRequirement>,
    /// Roles allowed to take it (indexes into [`Rules::roles`]); `None`: any actor.
    pub roles: Option<Vec<usize>>,
    /// Roles that may take it under `authz.decision = break_glass` (none: not allowed).
    pub break_glass: Vec<usize>,
    /// Retention class, for retention policies.
    pub retention: Option<String>,
    /// Its entries are AI output (reports count the human interventions on them).
    pub ai_output: bool,
}

/// A role of the approval matrix and the actor ids (patterns) holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// Actor-id patterns of its members.
    pub members: Vec<Pattern>,
}

/// A parsed, consistent, compiled rules document.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// The document's own `version` label.
    pub version: String,
    /// `sha256:<hex>` of the document's RFC 8785 canonical JSON.
    pub digest: String,
    /// What happens to actions no class names.
    pub default: Default,
    /// The role table, in name order.
    pub roles: Vec<Role>,
    /// The classes, in document order (the first whose pattern matches governs an action).
    pub classes: Vec<Class>,
    /// The document as given.
    pub document: Value,
    /// Exact action -> first class naming it; glob classes are checked in `globs`.
    exact: HashMap<String, usize>,
    globs: Vec<usize>,
    /// Exact actor id -> its roles; actors matched by wildcard members in `role_globs`.
    members: HashMap<String, Vec<usize>>,
    role_globs: Vec<(Pattern, usize)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    version: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
    classes: Vec<RawClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: String,
    action: String,
    #[serde(default)]
    require: Vec<String>,
    #[serde(default)]
    links: Vec<RawLink>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    break_glass: Vec<String>,
    #[serde(default)]
    retention: Option<String>,
    #[serde(default)]
    ai_output: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    rel: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    distinct_actor: bool,
}

fn bad(reason: impl Into<String>) -> Error {
    Error::malformed("rules document", reason)
}

impl Rules {
    /// Parses a rules document from its JSON text (strictly: duplicate keys refused).
    pub fn parse(text: &str) -> Result<Rules> {
        let value = parse_json(text.as_bytes())
            .map_err(|e| bad(format!("not JSON a rules document can be: {e}")))?;
        Rules::from_value(&value)
    }

    /// Parses and checks a rules document given as JSON. Refused whole
    /// ([`Error::Malformed`], `rules document`) if any part does not parse or is
    /// inconsistent: an unknown member, a role or class named twice, a class naming a role
    /// the table lacks, a bad pattern or required field.
    pub fn from_value(value: &Value) -> Result<Rules> {
        let raw: RawDocument =
            serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
        if raw.version.trim().is_empty() {
            return Err(bad("`version` is empty"));
        }
        let default = match raw.default.as_deref() {
            None | Some("allow") => Default::Allow,
            Some("refuse") => Default::Refuse,
            Some(other) => {
                return Err(bad(format!(
                    "`default` is {other:?}; it must be \"allow\" or \"refuse\""
                )))
            }
        };
        let mut roles = Vec::with_capacity(raw.roles.len());
        let mut members: HashMap<String, Vec<usize>> = HashMap::new();
        let mut role_globs = Vec::new();
        for (i, (name, ids)) in raw.roles.into_iter().enumerate() {
            if name.is_empty() {
                return Err(bad("a role with an empty name"));
            }
            let mut pats = Vec::with_capacity(ids.len());
            for id in &ids {
                let p = Pattern::actor(id)
                    .map_err(|_| bad(format!("role {name:?}: an empty actor id")))?;
                if p.is_exact() {
                    let of = members.entry(id.clone()).or_default();
                    if !of.contains(&i) {
                        of.push(i);
                    }
                } else {
                    role_globs.push((p.clone(), i));
                }
                pats.push(p);
            }
            roles.push(Role {
                name,
                members: pats,
            });
        }
        let role_index = |class: &str, name: &str| -> Result<usize> {
            roles.iter().position(|r| r.name == name).ok_or_else(|| {
                bad(format!(
                    "class {class:?} names role {name:?}, which the role table lacks"
                ))
            })
        };
        let mut classes = Vec::with_capacity(raw.classes.len());
        for c in raw.classes {
            if c.name.is_empty() {
                return Err(bad("a class with an empty name"));
            }
            if classes.iter().any(|k: &Class| k.name == c.name) {
                return Err(bad(format!("class {:?} is defined twice", c.name)));
            }
            let in_class = |e: Error| match e {
                Error::Malformed { reason, .. } => bad(format!("class {:?}: {reason}", c.name)),
                other => other,
            };
            let action = Pattern::action(&c.action).map_err(in_class)?;
            let fields = c
                .require
                .iter()
                .map(|f| FieldRequirement::parse(f))
                .collect::<Result<Vec<_>>>()
                .map_err(in_class)?;
            let mut links = Vec::with_capacity(c.links.len());
            for l in &c.links {
                if l.rel.is_empty() {
                    return Err(bad(format!(
                        "class {:?}: a link requirement without rel",
                        c.name
                    )));
                }
                links.push(LinkRequirement {
                    rel: l.rel.clone(),
                    action: l
                        .action
                        .as_deref()
                        .map(Pattern::action)
                        .transpose()
                        .map_err(in_class)?,
                    role: l
                        .role
                        .as_deref()
                        .map(|r| role_index(&c.name, r))
                        .transpose()?,
                    distinct_actor: l.distinct_actor,
                });
            }
            let allowed = c
                .roles
                .as_ref()
                .map(|rs| {
                    rs.iter()
                        .map(|r| role_index(&c.name, r))
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?;
            let break_glass = c
                .break_glass
                .iter()
                .map(|r| role_index(&c.name, r))
                .collect::<Result<Vec<_>>>()?;
            classes.push(Class {
                name: c.name,
                action,
                fields,
                links,
                roles: allowed,
                break_glass,
                retention: c.retention,
                ai_output: c.ai_output,
            });
        }
        let mut exact = HashMap::new();
        let mut globs = Vec::new();
        for (i, c) in classes.iter().enumerate() {
            if c.action.is_exact() {
                exact.entry(c.action.as_str().to_owned()).or_insert(i);
            } else {
                globs.push(i);
            }
        }
        let digest = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(canonical_json(value)))
        );
        Ok(Rules {
            version: raw.version,
            digest,
            default,
            roles,
            classes,
            document: value.clone(),
            exact,
            globs,
            members,
            role_globs,
        })
    }

    /// The class governing `action`: the first in document order whose pattern matches.
    pub fn class_of(&self, action: &str) -> Option<usize> {
        let exact = self.exact.get(action).copied();
        let glob = self
            .globs
            .iter()
            .copied()
            .take_while(|&i| exact.is_none_or(|e| i < e))
            .find(|&i| self.classes[i].action.matches(action));
        glob.or(exact)
    }

    /// The roles `actor` holds in the role table (indexes into [`Rules::roles`]).
    pub fn roles_of(&self, actor: &str) -> Vec<usize> {
        let mut out = self.members.get(actor).cloned().unwrap_or_default();
        for (p, r) in &self.role_globs {
            if !out.contains(r) && p.matches(actor) {
                out.push(*r);
            }
        }
        out
    }

    /// The names of roles `ids`.
    pub fn role_names(&self, ids: &[usize]) -> Vec<&str> {
        ids.iter()
            .filter_map(|&i| self.roles.get(i).map(|r| r.name.as_str()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "version": "v1",
            "roles": {"dev": ["alice", "dev-*"], "rm": ["carol"]},
            "classes": [
                {"name": "deploys", "action": "deploy.*", "roles": ["rm"],
                 "require": ["authz.policy_version", "attrs.ticket"]},
                {"name": "exact", "action": "deploy.started"},
                {"name": "commits", "action": "code.committed", "roles": ["dev"]}
            ]
        })
    }

    #[test]
    fn a_document_compiles_and_looks_up_classes_and_roles() {
        let r = Rules::from_value(&doc()).unwrap();
        assert_eq!(r.class_of("deploy.started"), Some(0), "first in order wins");
        assert_eq!(r.class_of("code.committed"), Some(2));
        assert_eq!(r.class_of("other"), None);
        assert_eq!(r.role_names(&r.roles_of("dev-7")), ["dev"]);
        assert_eq!(r.role_names(&r.roles_of("carol")), ["rm"]);
        assert!(r.roles_of("mallory").is_empty());
        assert!(r.digest.starts_with("sha256:"));
        assert_eq!(r.default, Default::Allow);
    }

    #[test]
    fn an_inconsistent_document_is_refused_whole() {
        let cases = [
            json!({"version": "v", "classes": [{"name": "a", "action": "x", "roles": ["ghost"]}]}),
            json!({"version": "v", "classes": [{"name": "a", "action": "X!"}]}),
            json!({"version": "v", "classes": [{"name": "a", "action": "x", "require": ["color"]}]}),
            json!({"version": "v", "classes": [{"name": "a", "action": "x", "require": ["change.during"]}]}),
            json!({"version": "v", "classes": [{"name": "a", "action": "x"}, {"name": "a", "action": "y"}]}),
            json!({"version": "", "classes": []}),
            json!({"version": "v", "classes": [], "default": "maybe"}),
            json!({"version": "v", "classes": [], "extra": 1}),
            json!({"classes": []}),
        ];
        for c in cases {
            let e = Rules::from_value(&c).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Malformed, "{c}: {e}");
        }
        assert!(Rules::parse(r#"{"version":"v","version":"w","classes":[]}"#).is_err());
    }
}
