//! Validation of an entry against the rules of SPEC section 3, naming the offending field by
//! its JSON path.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

use super::canonical::{is_jcs_exact, MAX_SAFE_INTEGER};
use super::{Fields, ValidEntry, FORMAT_VERSION};

const TOP_LEVEL_FIELDS: &[&str] = &[
    "v",
    "id",
    "time",
    "actor",
    "action",
    "subject",
    "authz",
    "change",
    "links",
    "occurred_at",
    "attrs",
    "payload",
    "sealed",
];

/// Validate an entry against SPEC section 3.
///
/// `index` is the index the entry would get: `links[].index` must be smaller. The size limit
/// is checked by [`ValidEntry::encode`], once the entry has its `time`.
pub fn validate(entry: &Value, index: u64) -> Result<ValidEntry<'_>> {
    let obj = entry
        .as_object()
        .ok_or_else(|| Error::invalid_entry("(entry)", "must be a JSON object"))?;
    // One pass over the members; an unknown field is reported before any other rule.
    let mut fields = Fields::default();
    for (key, value) in obj {
        let slot = match key.as_str() {
            "v" => &mut fields.v,
            "id" => &mut fields.id,
            "time" => &mut fields.time,
            "actor" => &mut fields.actor,
            "action" => &mut fields.action,
            "subject" => &mut fields.subject,
            "authz" => &mut fields.authz,
            "change" => &mut fields.change,
            "links" => &mut fields.links,
            "occurred_at" => &mut fields.occurred_at,
            "attrs" => &mut fields.attrs,
            "payload" => &mut fields.payload,
            "sealed" => &mut fields.sealed,
            _ => {
                return Err(Error::invalid_entry(
                    key,
                    format!("unknown field; allowed: {}", TOP_LEVEL_FIELDS.join(", ")),
                ))
            }
        };
        *slot = Some(value);
    }
    match fields.v {
        None => {}
        Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {}
        Some(_) => {
            return Err(Error::invalid_entry(
                "v",
                format!("must be {FORMAT_VERSION} (or absent: the ledger sets it)"),
            ))
        }
    }
    if fields.time.is_some() {
        return Err(Error::invalid_entry(
            "time",
            "is assigned by the ledger; put the source's own time in `occurred_at`",
        ));
    }
    if let Some(id) = fields.id {
        let id = id
            .as_str()
            .ok_or_else(|| Error::invalid_entry("id", "must be a string"))?;
        // At most 256 bytes is at most 256 characters: count them only when it matters.
        if id.is_empty() || id.len() > 256 {
            let n = id.chars().count();
            if !(1..=256).contains(&n) {
                return Err(Error::invalid_entry(
                    "id",
                    format!("must be 1 to 256 characters, got {n}"),
                ));
            }
        }
    }
    if let Some(s) = fields.sealed {
        super::seal::check_sealed_member(entry, s)?;
    }
    validate_actor(fields.actor)?;
    validate_action(fields.action)?;
    validate_subject(fields.subject)?;
    if let Some(a) = fields.authz {
        validate_authz(a)?;
    }
    if let Some(c) = fields.change {
        validate_change(c)?;
    }
    if let Some(l) = fields.links {
        validate_links(l, index)?;
    }
    if let Some(t) = fields.occurred_at {
        let s = t
            .as_str()
            .ok_or_else(|| Error::invalid_entry("occurred_at", "must be an RFC 3339 string"))?;
        OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            Error::invalid_entry("occurred_at", format!("must be RFC 3339 date-time: {e}"))
        })?;
    }
    if let Some(a) = fields.attrs {
        let map = a
            .as_object()
            .ok_or_else(|| Error::invalid_entry("attrs", "must be an object"))?;
        for (k, v) in map {
            if k.is_empty() {
                return Err(Error::invalid_entry("attrs", "keys must be non-empty"));
            }
            if !v.is_string() {
                return Err(Error::invalid_entry(
                    format!("attrs.{k}"),
                    "values must be strings",
                ));
            }
        }
    }
    if let Some(p) = fields.payload {
        check_numbers(p, Field::Name("payload"))?;
    }
    Ok(ValidEntry { fields })
}

/// Where a rule was broken, turned into its JSON path (`links[2].rel`) only when it was: the
/// path of a valid entry is never built.
#[derive(Clone, Copy)]
enum Field<'a> {
    /// A field by its whole path: `actor.id`.
    Name(&'a str),
    /// `links[i]`, or its member `links[i].rel`.
    Link(usize, Option<&'a str>),
    /// `change.before` or `change.after`.
    Change(&'a str),
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Name(name) => f.write_str(name),
            Field::Link(i, None) => write!(f, "links[{i}]"),
            Field::Link(i, Some(member)) => write!(f, "links[{i}].{member}"),
            Field::Change(member) => write!(f, "change.{member}"),
        }
    }
}

impl Field<'_> {
    fn error(self, rule: impl Into<String>) -> Error {
        Error::invalid_entry(self.to_string(), rule)
    }
}

fn non_empty_str<'a>(
    v: Option<&'a Value>,
    field: Field<'_>,
    required: bool,
) -> Result<Option<&'a str>> {
    match v {
        None if required => Err(field.error("is required")),
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(Value::String(_)) => Err(field.error("must not be empty")),
        Some(_) => Err(field.error("must be a string")),
    }
}

/// The members of the object at `field`, one slot per name in `allowed` (in that order),
/// found in one pass; an unknown member is refused, naming the first one.
fn object<'a, const N: usize>(
    v: Option<&'a Value>,
    field: Field<'_>,
    allowed: &[&str; N],
) -> Result<[Option<&'a Value>; N]> {
    let obj = match v {
        None => return Err(field.error("is required")),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(field.error("must be an object")),
    };
    let mut slots = [None; N];
    for (key, value) in obj {
        match allowed.iter().position(|a| a == key) {
            Some(i) => slots[i] = Some(value),
            None => {
                return Err(Error::invalid_entry(
                    format!("{field}.{key}"),
                    format!("unknown field; allowed: {}", allowed.join(", ")),
                ))
            }
        }
    }
    Ok(slots)
}

fn validate_actor(v: Option<&Value>) -> Result<()> {
    let [id, role, tenant, via] =
        object(v, Field::Name("actor"), &["id", "role", "tenant", "via"])?;
    non_empty_str(id, Field::Name("actor.id"), true)?;
    non_empty_str(role, Field::Name("actor.role"), false)?;
    non_empty_str(tenant, Field::Name("actor.tenant"), false)?;
    if let Some(via) = via {
        let list = via
            .as_array()
            .ok_or_else(|| Error::invalid_entry("actor.via", "must be an array of strings"))?;
        for (i, item) in list.iter().enumerate() {
            if item.as_str().is_none_or(str::is_empty) {
                return Err(Error::invalid_entry(
                    format!("actor.via[{i}]"),
                    "must be a non-empty string",
                ));
            }
        }
    }
    Ok(())
}

/// `^[a-z0-9][a-z0-9._:-]{0,127}$`
fn validate_action(v: Option<&Value>) -> Result<()> {
    let s = non_empty_str(v, Field::Name("action"), true)?.unwrap_or_default();
    let bytes = s.as_bytes();
    let first_ok = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes[1..]
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(b));
    if !first_ok || !rest_ok || bytes.len() > 128 {
        return Err(Error::invalid_entry(
            "action",
            format!("{s:?} must match ^[a-z0-9][a-z0-9._:-]{{0,127}}$"),
        ));
    }
    Ok(())
}

fn validate_subject(v: Option<&Value>) -> Result<()> {
    let [kind, id] = object(v, Field::Name("subject"), &["type", "id"])?;
    non_empty_str(kind, Field::Name("subject.type"), true)?;
    non_empty_str(id, Field::Name("subject.id"), true)?;
    Ok(())
}

fn validate_authz(v: &Value) -> Result<()> {
    let [decision, policy, policy_version, reason] = object(
        Some(v),
        Field::Name("authz"),
        &["decision", "policy", "policy_version", "reason"],
    )?;
    let decision =
        non_empty_str(decision, Field::Name("authz.decision"), true)?.unwrap_or_default();
    if !matches!(decision, "allow" | "break_glass" | "override") {
        return Err(Error::invalid_entry(
            "authz.decision",
            format!("{decision:?} must be one of allow, break_glass, override"),
        ));
    }
    non_empty_str(policy, Field::Name("authz.policy"), true)?;
    non_empty_str(policy_version, Field::Name("authz.policy_version"), false)?;
    let reason = non_empty_str(reason, Field::Name("authz.reason"), false)?;
    if decision != "allow" && reason.is_none() {
        return Err(Error::invalid_entry(
            "authz.reason",
            format!("is required when the decision is {decision}"),
        ));
    }
    Ok(())
}

fn validate_change(v: &Value) -> Result<()> {
    let [before, after] = object(Some(v), Field::Name("change"), &["before", "after"])?;
    if before.is_none() && after.is_none() {
        return Err(Error::invalid_entry(
            "change",
            "must hold `before`, `after` or both",
        ));
    }
    // In the members' own order: the first offending one is named.
    for (k, val) in v.as_object().into_iter().flatten() {
        check_numbers(val, Field::Change(k))?;
    }
    Ok(())
}

fn validate_links(v: &Value, index: u64) -> Result<()> {
    let list = v
        .as_array()
        .ok_or_else(|| Error::invalid_entry("links", "must be an array"))?;
    for (i, link) in list.iter().enumerate() {
        let [rel, ix, reference] =
            object(Some(link), Field::Link(i, None), &["rel", "index", "ref"])?;
        non_empty_str(rel, Field::Link(i, Some("rel")), true)?;
        match (ix, reference) {
            (Some(ix), None) => {
                let ix = ix.as_u64().ok_or_else(|| {
                    Field::Link(i, Some("index")).error("must be a non-negative integer")
                })?;
                if ix >= index {
                    return Err(Field::Link(i, Some("index")).error(format!(
                        "{ix} must name an earlier entry (this entry would be {index})"
                    )));
                }
            }
            (None, Some(r)) => {
                non_empty_str(Some(r), Field::Link(i, Some("ref")), true)?;
            }
            _ => {
                return Err(Field::Link(i, None).error("must have exactly one of `index` or `ref`"))
            }
        }
    }
    Ok(())
}

fn check_numbers(v: &Value, field: Field<'_>) -> Result<()> {
    match unsafe_integer(v) {
        None => Ok(()),
        Some((path, n)) => Err(Error::invalid_entry(
            format!("{field}{path}"),
            format!(
                "integer {n} is beyond 2^53: RFC 8785 numbers are IEEE doubles; write it as a string"
            ),
        )),
    }
}

/// The path (relative to `v`) and text of the first integer beyond 2^53 that is not the
/// ECMAScript form of a double ([`is_jcs_exact`]), if any. The path is
/// built only on the way back from a failure, so valid payloads cost no allocation.
fn unsafe_integer(v: &Value) -> Option<(String, String)> {
    match v {
        Value::Number(n) => {
            let safe = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                // A float is stored in its ECMAScript form; when that form is an integer
                // beyond 2^53, it passes the test below when read back.
                _ => true,
            };
            if safe {
                return None;
            }
            let text = n.to_string();
            (!is_jcs_exact(n, &text)).then_some((String::new(), text))
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| unsafe_integer(x).map(|(p, n)| (format!("[{i}]{p}"), n))),
        Value::Object(o) => o
            .iter()
            .find_map(|(k, x)| unsafe_integer(x).map(|(p, n)| (format!(".{k}{p}"), n))),
        _ => None,
    }
}
