//! Terms as the committed indexes name them (SPEC section 9.1): the term id a term is filed
//! under in the map, and a term's JSON form in proofs.

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::merkle::{Hash, HashAlg};
use crate::query::Term;

/// Domain byte of a term id: `H(0x10 || term key)`.
pub const TERM_ID: u8 = 0x10;

/// The map key of `term`: `H(0x10 || key)`, with the ledger's hash and the query index's
/// term key ([`Term::key`]: a kind byte, then each part behind a u32 BE length).
pub fn term_id(alg: HashAlg, term: &Term) -> Hash {
    id_of_key(alg, &term.key())
}

/// The term id of the term whose key ([`Term::key`]) is `key`.
pub fn id_of_key(alg: HashAlg, key: &[u8]) -> Hash {
    alg.hash_parts(&[&[TERM_ID], key])
}

/// `{"kind": "actor", "value": "alice"}`; `subject` has `type` and `id`, `attr` has `key`
/// and `value`, `links_to` has `index`.
pub fn term_to_json(term: &Term) -> Value {
    match term {
        Term::Actor(v) => json!({"kind": "actor", "value": v}),
        Term::Via(v) => json!({"kind": "via", "value": v}),
        Term::Action(v) => json!({"kind": "action", "value": v}),
        Term::Subject(t, i) => json!({"kind": "subject", "type": t, "id": i}),
        Term::Attr(k, v) => json!({"kind": "attr", "key": k, "value": v}),
        Term::Ref(v) => json!({"kind": "ref", "value": v}),
        Term::LinksTo(i) => json!({"kind": "links_to", "index": i}),
        Term::Decision(v) => json!({"kind": "decision", "value": v}),
        Term::Policy(v) => json!({"kind": "policy", "value": v}),
    }
}

/// The term a [`term_to_json`] object names; any other member, or a missing one, is refused.
pub fn term_from_json(v: &Value) -> Result<Term> {
    let bad = |why: String| Error::malformed("term", why);
    let obj = v
        .as_object()
        .ok_or_else(|| bad("a term must be an object".into()))?;
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a term needs a string `kind`".into()))?;
    let want: &[&str] = match kind {
        "subject" => &["kind", "type", "id"],
        "attr" => &["kind", "key", "value"],
        "links_to" => &["kind", "index"],
        _ => &["kind", "value"],
    };
    exact(obj, want).map_err(bad)?;
    let s = |k: &str| -> Result<String> {
        obj.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("`{k}` must be a string")))
    };
    Ok(match kind {
        "actor" => Term::Actor(s("value")?),
        "via" => Term::Via(s("value")?),
        "action" => Term::Action(s("value")?),
        "subject" => Term::Subject(s("type")?, s("id")?),
        "attr" => Term::Attr(s("key")?, s("value")?),
        "ref" => Term::Ref(s("value")?),
        "links_to" => Term::LinksTo(
            obj.get("index")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("`index` must be a leaf index".into()))?,
        ),
        "decision" => Term::Decision(s("value")?),
        "policy" => Term::Policy(s("value")?),
        other => return Err(bad(format!("unknown term kind {other:?}"))),
    })
}

/// Exactly the members `want`, no more.
pub(crate) fn exact(obj: &Map<String, Value>, want: &[&str]) -> std::result::Result<(), String> {
    if let Some(k) = obj.keys().find(|k| !want.contains(&k.as_str())) {
        return Err(format!("unknown member `{k}`"));
    }
    if let Some(k) = want.iter().find(|k| !obj.contains_key(**k)) {
        return Err(format!("missing member `{k}`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_round_trip_through_json() {
        for t in [
            Term::Actor("alice".into()),
            Term::Via("bot".into()),
            Term::Action("deploy.succeeded".into()),
            Term::Subject("service".into(), "api".into()),
            Term::Attr("env".into(), "prod".into()),
            Term::Ref("git:abc".into()),
            Term::LinksTo(7),
            Term::Decision("allow".into()),
            Term::Policy("p1".into()),
        ] {
            assert_eq!(term_from_json(&term_to_json(&t)).unwrap(), t);
        }
        assert!(term_from_json(&json!({"kind": "actor"})).is_err());
        assert!(term_from_json(&json!({"kind": "actor", "value": "a", "x": 1})).is_err());
        assert!(term_from_json(&json!({"kind": "nope", "value": "a"})).is_err());
    }
}
