//! Target `rules`: arbitrary bytes as a rules document and an entry (docs/RULES.md), split at
//! the first NUL byte (no NUL: the whole input is the document, judged against a few fixed
//! entries).
//!
//! - `Rules::parse` never panics: a document that does not parse or is inconsistent is an
//!   `Err` (`malformed`), refused whole.
//! - An accepted document's digest is that of its canonical JSON, so parsing that again
//!   gives the same rules; its `rules.published` entry reads back as the same rules.
//! - Judging any entry (`Rules::check`, `Version::judge` with linked entries of any action
//!   and actor) never panics; a refusal is `invalid_entry` or `rule_violation`.

use serde_json::{json, Value};
use trailseal::entry::{canonical_json, parse_json};
use trailseal::rules::{published_entry, rules_of_entry, Linked, Rules, Version};
use trailseal::ErrorCode;

pub fn run(data: &[u8]) {
    let (doc, entry) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(doc) else {
        return;
    };
    let rules = match Rules::parse(text) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::Malformed, "{e}");
            return;
        }
    };
    assert!(!rules.version.trim().is_empty());
    let again = Rules::parse(
        std::str::from_utf8(&canonical_json(&rules.document)).expect("canonical JSON is UTF-8"),
    )
    .expect("the canonical form of an accepted document is accepted");
    assert_eq!(again.digest, rules.digest);
    let published = published_entry(&rules, "fuzz", None, None);
    assert_eq!(rules_of_entry(&published).expect("reads back").digest, rules.digest);
    let entries: Vec<Value> = match entry.and_then(|e| parse_json(e).ok()) {
        Some(v) => vec![v],
        None => vec![
            json!({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                   "subject": {"type": "service", "id": "x"}}),
            json!({"actor": {"id": "bot:1"}, "action": "change.approved",
                   "subject": {"type": "t", "id": "i"},
                   "authz": {"decision": "break_glass", "policy": "p", "reason": "r"},
                   "links": [{"rel": "approved_by", "index": 0}], "attrs": {"a": "b"}}),
        ],
    };
    for e in &entries {
        if let Err(err) = rules.check(e) {
            assert!(
                matches!(err.code(), ErrorCode::InvalidEntry | ErrorCode::RuleViolation
                    | ErrorCode::Malformed),
                "{err}"
            );
        }
        let version = Version { rules: &rules, leaf: Some(0) };
        for (action, actor) in [("change.approved", "alice"), ("", ""), ("x.y", "bot:1")] {
            let _ = version.judge(e, &mut |i| {
                Ok((i % 2 == 0).then(|| Linked {
                    action: action.into(),
                    actor: actor.into(),
                }))
            });
        }
        for c in &rules.classes {
            let _ = rules.class_of(c.action.as_str());
        }
        if let Some(a) = e.pointer("/actor/id").and_then(Value::as_str) {
            let _ = rules.role_names(&rules.roles_of(a));
        }
    }
}
