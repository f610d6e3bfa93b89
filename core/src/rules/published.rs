//! The `rules.published` entry (SPEC section 3.1): who published which document, its digest,
//! and (in `authz`, `links`) why they were allowed to.

use serde_json::{json, Value};

use super::document::Rules;
use super::RULES_PUBLISHED;
use crate::error::{Error, Result};

/// The entry publishing `rules`, by `actor`, with the caller's `authz` and `links` (why the
/// change was allowed, e.g. `approved_by` an approval entry), if any.
pub fn published_entry(
    rules: &Rules,
    actor: &str,
    authz: Option<&Value>,
    links: Option<&Value>,
) -> Value {
    let mut e = json!({
        "actor": {"id": actor},
        "action": RULES_PUBLISHED,
        "subject": {"type": "rules", "id": rules.version},
        "attrs": {"digest": rules.digest, "version": rules.version},
        "payload": rules.document,
    });
    if let Some(a) = authz {
        e["authz"] = a.clone();
    }
    if let Some(l) = links {
        e["links"] = l.clone();
    }
    e
}

/// The rules a `rules.published` entry puts in force: its `payload` as a rules document
/// (refused whole if it is not one), whose digest must be its `attrs.digest` and whose
/// version its `attrs.version` ([`Error::InvalidEntry`] otherwise).
pub fn rules_of_entry(entry: &Value) -> Result<Rules> {
    let payload = entry.get("payload").ok_or_else(|| {
        Error::invalid_entry(
            "payload",
            "a rules.published entry carries the rules document as its payload",
        )
    })?;
    let rules = Rules::from_value(payload)?;
    let attr = |k: &str| {
        entry
            .pointer(&format!("/attrs/{k}"))
            .and_then(Value::as_str)
    };
    if attr("digest") != Some(rules.digest.as_str()) {
        return Err(Error::invalid_entry(
            "attrs.digest",
            format!("must be the document's digest, {}", rules.digest),
        ));
    }
    if attr("version") != Some(rules.version.as_str()) {
        return Err(Error::invalid_entry(
            "attrs.version",
            format!("must be the document's version, {:?}", rules.version),
        ));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_carries_the_document_and_its_digest() {
        let r = Rules::from_value(&json!({"version": "v9", "classes": []})).unwrap();
        let mut e = published_entry(&r, "carol", None, None);
        assert_eq!(rules_of_entry(&e).unwrap(), r);
        e["attrs"]["digest"] = "sha256:00".into();
        assert_eq!(
            rules_of_entry(&e).unwrap_err().code(),
            crate::ErrorCode::InvalidEntry
        );
        e["payload"] = json!({"version": "v9"});
        assert_eq!(
            rules_of_entry(&e).unwrap_err().code(),
            crate::ErrorCode::Malformed
        );
    }
}
