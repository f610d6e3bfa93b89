//! Personal fields sealed as salted commitments (SPEC section 10), pure: no storage.
//!
//! A ledger may declare fields personal (`actor.id`, `change.before`, payload paths, ...). An
//! entry's leaf then holds, at each of them, the commitment
//! `"commitment:" + hex(SHA-256("trailseal-personal-v1" || 0x00 || salt || JCS(value)))`
//! instead of the value, and names the sealed paths in its `sealed` member; the value and
//! its 32-byte salt (the *opening*) are kept beside the leaf, outside the tree. Erasing deletes
//! the opening: the leaf, its hash and every proof stay as they were, and nothing the log
//! holds reveals the value, not even to whoever guesses it (the salt is gone). Whoever kept the
//! value and the salt can still show what was recorded ([`check_opening`]).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

use super::canonical::canonical_json;

/// The prefix of a commitment string.
pub const COMMITMENT_PREFIX: &str = "commitment:";

/// The domain separator hashed before the salt.
const DOMAIN: &[u8] = b"trailseal-personal-v1\0";

/// The paths a ledger may declare personal, besides `attrs.<key>` and `payload.<path>`.
const FIXED_PATHS: &[&str] = &[
    "actor.id",
    "actor.tenant",
    "subject.id",
    "authz.reason",
    "change.before",
    "change.after",
    "payload",
];

/// The fields a ledger declares personal, checked and sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonalFields {
    paths: Vec<String>,
}

impl PersonalFields {
    /// `paths` checked: each one of `actor.id`, `actor.tenant`, `subject.id`, `authz.reason`,
    /// `change.before`, `change.after`, `attrs.<key>`, `payload` or `payload.<key>[.<key>...]`
    /// (object keys, none empty). Sorted and deduplicated.
    pub fn new<S: AsRef<str>>(paths: &[S]) -> Result<PersonalFields> {
        let mut out: Vec<String> = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            check_path(p)?;
            out.push(p.to_owned());
        }
        out.sort();
        out.dedup();
        Ok(PersonalFields { paths: out })
    }

    /// From a JSON array of paths, as the bindings pass it (checked as [`PersonalFields::new`]
    /// checks them).
    pub fn from_json(v: &Value) -> Result<PersonalFields> {
        let list = v.as_array().ok_or_else(|| {
            Error::InvalidArgument("personal fields: a JSON array of field paths".into())
        })?;
        let paths = list
            .iter()
            .map(|p| {
                p.as_str().ok_or_else(|| {
                    Error::InvalidArgument(format!("personal fields: {p} is not a string"))
                })
            })
            .collect::<Result<Vec<&str>>>()?;
        PersonalFields::new(&paths)
    }

    /// The declared paths, sorted.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// True when no field is declared personal.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

fn check_path(p: &str) -> Result<()> {
    let ok = FIXED_PATHS.contains(&p)
        || p.strip_prefix("attrs.").is_some_and(|k| !k.is_empty())
        || p.strip_prefix("payload.")
            .is_some_and(|rest| rest.split('.').all(|k| !k.is_empty()));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "personal field {p:?}: expected one of {}, attrs.<key> or payload.<key>[.<key>...]",
            FIXED_PATHS.join(", ")
        )))
    }
}

/// The member of `entry` at `path` (a checked personal path), if present.
fn at_path<'v>(entry: &'v Value, path: &str) -> Option<&'v Value> {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let top = entry.get(head)?;
    match head {
        "attrs" => top.get(rest),
        "payload" if !rest.is_empty() => rest.split('.').try_fold(top, |v, k| v.get(k)),
        "payload" => Some(top),
        _ => top.get(rest),
    }
}

fn at_path_mut<'v>(entry: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let top = entry.get_mut(head)?;
    match head {
        "attrs" => top.get_mut(rest),
        "payload" if !rest.is_empty() => rest.split('.').try_fold(top, |v, k| v.get_mut(k)),
        "payload" => Some(top),
        _ => top.get_mut(rest),
    }
}

/// The commitment string to `value` under `salt`.
pub fn commitment(salt: &[u8; 32], value: &Value) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(salt);
    h.update(canonical_json(value));
    format!("{COMMITMENT_PREFIX}{}", hex::encode(h.finalize()))
}

/// An entry sealed for its leaf: what the leaf holds, and the openings kept beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sealed {
    /// The entry with each personal value replaced by its commitment and a `sealed` member.
    pub entry: Value,
    /// The openings: canonical JSON `{"<path>": {"salt": "<hex>", "value": <value>}, ...}`.
    pub openings: Vec<u8>,
}

/// `entry` (validated, as the caller gave it) sealed under `fields`, with salts from `salt`;
/// `None` when it holds none of them (its leaf is then as without personal fields). A
/// nested payload path under a sealed `payload` is sealed with it, not apart.
pub fn seal(
    entry: &Value,
    fields: &PersonalFields,
    mut salt: impl FnMut() -> Result<[u8; 32]>,
) -> Result<Option<Sealed>> {
    let mut sealed_entry = entry.clone();
    let mut openings = Map::new();
    let mut names = Vec::new();
    let whole_payload = fields.paths.iter().any(|p| p == "payload");
    for path in &fields.paths {
        if whole_payload && path.starts_with("payload.") {
            continue;
        }
        let Some(slot) = at_path_mut(&mut sealed_entry, path) else {
            continue;
        };
        let s = salt()?;
        let value = std::mem::replace(slot, Value::Null);
        *slot = Value::String(commitment(&s, &value));
        let mut o = Map::new();
        o.insert("salt".into(), Value::String(hex::encode(s)));
        o.insert("value".into(), value);
        openings.insert(path.clone(), Value::Object(o));
        names.push(Value::String(path.clone()));
    }
    if names.is_empty() {
        return Ok(None);
    }
    if let Value::Object(o) = &mut sealed_entry {
        o.insert("sealed".into(), Value::Array(names));
    }
    Ok(Some(Sealed {
        entry: sealed_entry,
        openings: canonical_json(&Value::Object(openings)),
    }))
}

/// The paths a stored entry names in its `sealed` member (none for an entry without one).
pub fn sealed_paths(entry: &Value) -> Vec<&str> {
    entry
        .get("sealed")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Check one opening: `value` under `salt` gives `commitment`. What an auditor who kept the
/// value and its salt runs to show what the entry recorded after its erasure.
pub fn check_opening(commitment_str: &str, salt_hex: &str, value: &Value) -> Result<()> {
    let salt: [u8; 32] = hex::decode(salt_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::InvalidArgument("a salt is 64 hex digits".into()))?;
    if commitment(&salt, value) == commitment_str {
        Ok(())
    } else {
        Err(Error::VerificationFailed(
            "the value and salt do not give the commitment".into(),
        ))
    }
}

/// Put the opened values back into stored entry `entry` (leaf `index`) from its `openings`,
/// checking each against its commitment; the `sealed` member stays, so a reader knows the
/// leaf hash is over the commitments.
pub fn open(entry: &mut Value, openings: &[u8], index: u64) -> Result<()> {
    let tampered = |detail: String| Error::Tampered {
        location: format!("personal values of entry {index}"),
        detail,
    };
    let openings: Value =
        serde_json::from_slice(openings).map_err(|e| tampered(format!("not JSON: {e}")))?;
    let paths: Vec<String> = sealed_paths(entry).into_iter().map(str::to_owned).collect();
    let count = openings.as_object().map_or(0, Map::len);
    if count != paths.len() {
        return Err(tampered(format!(
            "{count} openings for {} sealed fields",
            paths.len()
        )));
    }
    for path in &paths {
        let o = openings
            .get(path)
            .ok_or_else(|| tampered(format!("no opening for {path}")))?;
        let (Some(salt), Some(value)) = (o.get("salt").and_then(Value::as_str), o.get("value"))
        else {
            return Err(tampered(format!("the opening of {path} is malformed")));
        };
        let slot = at_path_mut(entry, path)
            .ok_or_else(|| tampered(format!("the sealed field {path} is missing")))?;
        let c = slot.as_str().unwrap_or_default();
        check_opening(c, salt, value)
            .map_err(|_| tampered(format!("the value of {path} does not match its commitment")))?;
        *slot = value.clone();
    }
    Ok(())
}

/// Check the `sealed` member of an entry being validated: sorted distinct personal paths,
/// each holding a commitment string. (The writer adds it; a caller may give an entry read
/// back from a ledger, sealed, as another ledger's input.)
pub(super) fn check_sealed_member(entry: &Value, sealed: &Value) -> Result<()> {
    let bad = |rule: String| Error::invalid_entry("sealed", rule);
    let list = sealed
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("must be a non-empty array of field paths".into()))?;
    let mut prev: Option<&str> = None;
    for p in list {
        let p = p.as_str().ok_or_else(|| bad("must hold strings".into()))?;
        check_path(p).map_err(|_| bad(format!("{p:?} is not a personal field path")))?;
        if prev.is_some_and(|q| q >= p) {
            return Err(bad("must be sorted and without repeats".into()));
        }
        prev = Some(p);
        let ok = at_path(entry, p)
            .and_then(Value::as_str)
            .and_then(|c| c.strip_prefix(COMMITMENT_PREFIX))
            .is_some_and(|h| {
                h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            });
        if !ok {
            return Err(bad(format!("{p} must hold a commitment string")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn salts() -> impl FnMut() -> Result<[u8; 32]> {
        let mut n = 0u8;
        move || {
            n += 1;
            Ok([n; 32])
        }
    }

    #[test]
    fn seals_opens_and_checks() {
        let fields =
            PersonalFields::new(&["change.before", "actor.id", "payload.user.email"]).unwrap();
        let e = json!({"actor": {"id": "alice"}, "action": "x",
            "subject": {"type": "t", "id": "i"},
            "payload": {"user": {"email": "a@example.com", "n": 1}}});
        let s = seal(&e, &fields, salts()).unwrap().unwrap();
        assert_eq!(s.entry["sealed"], json!(["actor.id", "payload.user.email"]));
        let c = s.entry["actor"]["id"].as_str().unwrap().to_owned();
        assert_eq!(c, commitment(&[1; 32], &json!("alice")));
        assert!(!String::from_utf8_lossy(&s.openings).contains("commitment"));
        check_opening(&c, &hex::encode([1u8; 32]), &json!("alice")).unwrap();
        assert!(check_opening(&c, &hex::encode([2u8; 32]), &json!("alice")).is_err());
        let mut back = s.entry.clone();
        open(&mut back, &s.openings, 0).unwrap();
        let mut want = e.clone();
        want["sealed"] = s.entry["sealed"].clone();
        assert_eq!(back, want);
        // A changed opening is tampering.
        let forged = String::from_utf8(s.openings.clone())
            .unwrap()
            .replace("alice", "mallory");
        assert!(open(&mut s.entry.clone(), forged.as_bytes(), 0).is_err());
        super::check_sealed_member(&s.entry, &s.entry["sealed"]).unwrap();
    }

    #[test]
    fn commitments_match_the_spec_vectors() {
        assert_eq!(
            commitment(&[1; 32], &json!("alice")),
            "commitment:0c381f0aefe896d1f49a7a28439a43e2e877ac6bb0791effd37b0a1f68c93ad8"
        );
        let salt: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            commitment(&salt, &json!({"zip": "10115", "address": "1 Main St"})),
            "commitment:7bf048171b2f011fe8923506d0453dd4b46758559e7d6da2795669a4987043ac"
        );
    }

    #[test]
    fn nothing_personal_is_not_sealed_and_paths_are_checked() {
        let fields = PersonalFields::new(&["change.after"]).unwrap();
        let e = json!({"actor": {"id": "a"}, "action": "x", "subject": {"type": "t", "id": "i"}});
        assert!(seal(&e, &fields, salts()).unwrap().is_none());
        for bad in [
            "actor",
            "actor.via",
            "payload.",
            "payload..x",
            "attrs.",
            "time",
        ] {
            assert!(PersonalFields::new(&[bad]).is_err(), "{bad}");
        }
    }
}
