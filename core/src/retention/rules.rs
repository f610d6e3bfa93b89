//! The retention rules document: how long entries of each action must be kept.
//!
//! ```json
//! {"version": "2026-12", "default": "P1Y",
//!  "rules": [{"action": "deploy.*", "keep": "P7Y"}, {"action": "access.*", "keep": "P6Y"}]}
//! ```
//!
//! `action` is an action, or a prefix ending in `*` (`deploy.*`, or `*` for every action). An
//! entry is kept for the longest `keep` among the rules naming its action, else for `default`;
//! with neither, it is kept for ever. A document that does not parse, or holds an unknown
//! key, a bad pattern or a bad period, is refused whole.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::period::Period;
use crate::entry::canonical_json;
use crate::error::{Error, Result};

/// One rule: entries whose action matches `pattern` are kept at least `keep`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    /// An action, or a prefix ending in `*`.
    pub pattern: String,
    /// The minimum retention.
    pub keep: Period,
}

impl RetentionRule {
    fn matches(&self, action: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => action == self.pattern,
        }
    }
}

/// A parsed retention rules document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionRules {
    /// The version name its author gave (shown in pruning records).
    pub version: String,
    /// Retention of actions no rule names; `None`: kept for ever.
    pub default: Option<Period>,
    /// The rules, in the document's order.
    pub rules: Vec<RetentionRule>,
    /// The document as given, canonical (RFC 8785).
    document: Value,
}

impl RetentionRules {
    /// Parses and checks a document (module docs); [`Error::Malformed`] naming what is wrong.
    pub fn from_json(v: &Value) -> Result<RetentionRules> {
        let bad = |why: String| Error::malformed("retention rules", why);
        let obj = v
            .as_object()
            .ok_or_else(|| bad("must be a JSON object".into()))?;
        only(obj, &["version", "default", "rules"], "", &bad)?;
        let version = obj
            .get("version")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or_else(|| bad("version must be a string of 1 to 128 characters".into()))?
            .to_owned();
        let default = match obj.get("default") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Period::parse(s)?),
            Some(_) => return Err(bad("default must be a period such as \"P1Y\"".into())),
        };
        let list = match obj.get("rules") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(bad("rules must be a list".into())),
        };
        let mut rules = Vec::with_capacity(list.len());
        for (n, r) in list.iter().enumerate() {
            let at = format!("rules[{n}]");
            let o = r
                .as_object()
                .ok_or_else(|| bad(format!("{at} must be an object")))?;
            only(o, &["action", "keep"], &at, &bad)?;
            let pattern = o
                .get("action")
                .and_then(Value::as_str)
                .filter(|p| valid_pattern(p))
                .ok_or_else(|| {
                    bad(format!(
                        "{at}.action must be an action or a prefix ending in `*` (e.g. \"deploy.*\")"
                    ))
                })?
                .to_owned();
            let keep = o
                .get("keep")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("{at}.keep must be a period such as \"P7Y\"")))
                .and_then(Period::parse)?;
            rules.push(RetentionRule { pattern, keep });
        }
        Ok(RetentionRules {
            version,
            default,
            rules,
            document: v.clone(),
        })
    }

    /// The minimum retention of an entry of `action`: the longest among the rules naming
    /// it, else the default; `None` when it is kept for ever.
    pub fn keep_for(&self, action: &str) -> Option<Period> {
        let named = self
            .rules
            .iter()
            .filter(|r| r.matches(action))
            .map(|r| r.keep)
            .max_by_key(|p| (p.years * 12 + p.months, p.days));
        named.or(self.default)
    }

    /// The document as given.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Hex SHA-256 of the document's canonical JSON: what its entry records as `digest`.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(canonical_json(&self.document)))
    }
}

/// Refuses a key outside `known`.
fn only(
    o: &Map<String, Value>,
    known: &[&str],
    at: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<()> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) if at.is_empty() => Err(bad(format!("unknown key {k:?}"))),
        Some(k) => Err(bad(format!("{at}: unknown key {k:?}"))),
        None => Ok(()),
    }
}

/// An action (SPEC 3's charset), or such a prefix followed by `*` (or `*` alone).
fn valid_pattern(p: &str) -> bool {
    let body = p.strip_suffix('*').unwrap_or(p);
    if body.is_empty() {
        return p == "*";
    }
    body.len() <= 128
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_longest_matching_rule_wins_then_the_default() {
        let r = RetentionRules::from_json(&json!({"version": "v1", "default": "P1Y", "rules": [
            {"action": "deploy.*", "keep": "P7Y"},
            {"action": "deploy.succeeded", "keep": "P3Y"},
            {"action": "access.*", "keep": "P6Y"},
        ]}))
        .unwrap();
        let keep = |a| r.keep_for(a).map(|p| p.to_string());
        assert_eq!(keep("deploy.succeeded").as_deref(), Some("P7Y"));
        assert_eq!(keep("access.role_granted").as_deref(), Some("P6Y"));
        assert_eq!(keep("build.finished").as_deref(), Some("P1Y"));
        let forever = RetentionRules::from_json(
            &json!({"version": "v2", "rules": [{"action": "*", "keep": "P30D"}]}),
        )
        .unwrap();
        assert_eq!(
            forever
                .keep_for("anything")
                .map(|p| p.to_string())
                .as_deref(),
            Some("P30D")
        );
        let none = RetentionRules::from_json(&json!({"version": "v3"})).unwrap();
        assert_eq!(none.keep_for("deploy.succeeded"), None);
        assert_eq!(r.digest().len(), 64);
    }

    #[test]
    fn a_bad_document_is_refused_whole() {
        for bad in [
            json!([]),
            json!({"rules": []}),
            json!({"version": ""}),
            json!({"version": "v", "extra": 1}),
            json!({"version": "v", "default": 7}),
            json!({"version": "v", "default": "7 years"}),
            json!({"version": "v", "rules": {}}),
            json!({"version": "v", "rules": [{"action": "Deploy.*", "keep": "P1Y"}]}),
            json!({"version": "v", "rules": [{"action": "de*ploy", "keep": "P1Y"}]}),
            json!({"version": "v", "rules": [{"action": "deploy.*"}]}),
            json!({"version": "v", "rules": [{"action": "deploy.*", "keep": "P1Y", "why": "x"}]}),
        ] {
            let e = RetentionRules::from_json(&bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::Malformed, "{bad}");
        }
    }
}
