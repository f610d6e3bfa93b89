//! Audit entries: the schema of SPEC section 3, its validation, and the canonical encoding.
//!
//! An entry's leaf bytes are the RFC 8785 (JCS) canonical JSON of the entry object, so anyone
//! holding the JSON can recompute its leaf hash in any language. The ledger assigns `v` and
//! `time`; the caller gives the rest.
//!
//! Validation works on a JSON value rather than on a Rust struct so that every caller (Rust,
//! the command line, Python, Node, C) goes through exactly the same rules and gets an error that
//! names the offending field by its JSON path.
//!
//! ```
//! use trailseal::entry::Entry;
//! let e = Entry::new("alice", "deploy.succeeded", "service", "payments-api")
//!     .with_attr("env", "prod");
//! let json = e.to_json();
//! assert_eq!(json["actor"]["id"], "alice");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The entry format version this library writes (`v`).
pub const FORMAT_VERSION: u64 = 1;

/// Default limit on the canonical encoding of one entry (SPEC: 1 MiB).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 1 << 20;

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
];

/// Largest integer a JSON number may hold and still mean the same thing to every JCS
/// implementation: RFC 8785 numbers are IEEE 754 doubles, and integers above 2^53 would
/// silently change value when another language re-encodes them. Beyond it, an integer is
/// accepted only in the form RFC 8785 itself writes a double in (see `is_jcs_exact`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Who did it: SPEC `actor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Stable identifier of the person, bot or service.
    pub id: String,
    /// Role they acted in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Tenant or organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Delegation or impersonation chain, outermost first (a bot acting for a person).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// What it was done to: SPEC `subject`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// Kind of thing, e.g. `service`, `release`, `repository`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its identifier.
    pub id: String,
}

/// Why it was allowed: SPEC `authz`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authz {
    /// `allow`, `break_glass` or `override`.
    pub decision: String,
    /// Stable id of the rule that allowed it.
    pub policy: String,
    /// Version of that rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// Free-text justification; required for `break_glass` and `override`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What changed: SPEC `change`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The value (or its digest) before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value (or its digest) after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// Evidence an entry rests on: an earlier entry or an external id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Link {
    /// An earlier entry of this ledger.
    Index {
        /// Relation, e.g. `approved_by`, `built_from`.
        rel: String,
        /// Index of the earlier entry.
        index: u64,
    },
    /// Something outside the ledger: `git:<sha>`, `oci:sha256:<digest>`, `ci:<run url>`.
    Ref {
        /// Relation.
        rel: String,
        /// External identifier.
        #[serde(rename = "ref")]
        reference: String,
    },
}

/// An audit entry as the caller gives it (without `v` and `time`, which the ledger assigns).
///
/// This struct is a convenience for Rust callers; the ledger validates the JSON it
/// serializes to with the same rules as JSON from any other source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Caller's unique event id (idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who.
    pub actor: Actor,
    /// What, e.g. `deploy.succeeded`.
    pub action: String,
    /// To what.
    pub subject: Subject,
    /// Why it was allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authz: Option<Authz>,
    /// What changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// Evidence this entry rests on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// When the source says it happened (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// Flat labels for search.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, String>,
    /// Any JSON the event carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

impl Entry {
    /// An entry with the required fields.
    pub fn new(
        actor_id: impl Into<String>,
        action: impl Into<String>,
        subject_type: impl Into<String>,
        subject_id: impl Into<String>,
    ) -> Self {
        Entry {
            actor: Actor {
                id: actor_id.into(),
                ..Actor::default()
            },
            action: action.into(),
            subject: Subject {
                kind: subject_type.into(),
                id: subject_id.into(),
            },
            ..Entry::default()
        }
    }

    /// Set the idempotency id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Add an `attrs` label.
    pub fn with_attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.insert(key.into(), value.into());
        self
    }

    /// Link to an earlier entry of the ledger.
    pub fn with_link(mut self, rel: impl Into<String>, index: u64) -> Self {
        self.links.push(Link::Index {
            rel: rel.into(),
            index,
        });
        self
    }

    /// Link to an external id (`git:<sha>` and the like).
    pub fn with_ref(mut self, rel: impl Into<String>, reference: impl Into<String>) -> Self {
        self.links.push(Link::Ref {
            rel: rel.into(),
            reference: reference.into(),
        });
        self
    }

    /// Set why it was allowed.
    pub fn with_authz(mut self, authz: Authz) -> Self {
        self.authz = Some(authz);
        self
    }

    /// Set the payload.
    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// The entry as a JSON object (what the ledger validates).
    pub fn to_json(&self) -> Value {
        // Serializing these plain structs cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// An entry that passed validation: the caller's fields, ready to be stamped and encoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidEntry<'a> {
    fields: Fields<'a>,
}

/// The top-level members of an entry object, found in one pass over it (no hashing of field
/// names), in the order RFC 8785 sorts them (`action` < `actor` < ... < `time` < `v`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Fields<'a> {
    action: Option<&'a Value>,
    actor: Option<&'a Value>,
    attrs: Option<&'a Value>,
    authz: Option<&'a Value>,
    change: Option<&'a Value>,
    id: Option<&'a Value>,
    links: Option<&'a Value>,
    occurred_at: Option<&'a Value>,
    payload: Option<&'a Value>,
    subject: Option<&'a Value>,
    time: Option<&'a Value>,
    v: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    /// The caller-given members (all but `v` and `time`) with their quoted keys, in RFC 8785
    /// order.
    fn caller_members(&self) -> [(&'static [u8], Option<&'a Value>); 10] {
        [
            (b"\"action\":", self.action),
            (b"\"actor\":", self.actor),
            (b"\"attrs\":", self.attrs),
            (b"\"authz\":", self.authz),
            (b"\"change\":", self.change),
            (b"\"id\":", self.id),
            (b"\"links\":", self.links),
            (b"\"occurred_at\":", self.occurred_at),
            (b"\"payload\":", self.payload),
            (b"\"subject\":", self.subject),
        ]
    }

    /// Writes `{` and the caller-given members, leaving the object open.
    fn write_caller_members(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for (key, value) in self.caller_members() {
            if let Some(value) = value {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(key);
                write_value(out, value);
            }
        }
    }
}

impl<'a> ValidEntry<'a> {
    /// The caller's `id`, if any.
    pub fn id(&self) -> Option<&'a str> {
        self.fields.id.and_then(Value::as_str)
    }

    /// Indexes of earlier entries this one links to.
    pub fn linked_indexes(&self) -> impl Iterator<Item = u64> + 'a {
        self.fields
            .links
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| member(l, "index").and_then(Value::as_u64))
    }

    /// Canonical encoding of the caller-given fields alone, used to compare a retried entry
    /// with the stored one under the `id` rule.
    pub fn caller_fields_canonical(&self) -> Vec<u8> {
        caller_fields_canonical(&self.encoding_before_time())
    }

    /// The leaf bytes: the canonical JSON of the entry with `v` and `time` set, refused if
    /// longer than `max_bytes`.
    pub fn encode(&self, time: &Timestamp, max_bytes: u64) -> Result<Vec<u8>> {
        encode_with_time(self.encoding_before_time(), time, max_bytes)
    }

    /// The leaf bytes up to where `time` goes: `{` and the caller-given members, which is
    /// all of the encoding that does not depend on when the entry is appended. Finished by
    /// [`encode_with_time`]; with `}` added, [`ValidEntry::caller_fields_canonical`].
    pub fn encoding_before_time(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.fields.write_caller_members(&mut out);
        out
    }
}

/// [`ValidEntry::caller_fields_canonical`] from [`ValidEntry::encoding_before_time`].
pub fn caller_fields_canonical(before_time: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(before_time.len() + 1);
    out.extend_from_slice(before_time);
    out.push(b'}');
    out
}

/// The leaf bytes of an entry from [`ValidEntry::encoding_before_time`] (completed in
/// place) and its `time`, refused if longer than `max_bytes` (what [`ValidEntry::encode`]
/// returns).
pub fn encode_with_time(before_time: Vec<u8>, time: &Timestamp, max_bytes: u64) -> Result<Vec<u8>> {
    let mut out = before_time;
    // `actor`, `action` and `subject` are always there, so `time` follows a member.
    out.extend_from_slice(b",\"time\":\"");
    time.write_rfc3339(&mut out);
    out.extend_from_slice(b"\",\"v\":");
    out.extend_from_slice(itoa::Buffer::new().format(FORMAT_VERSION).as_bytes());
    out.push(b'}');
    if out.len() as u64 > max_bytes {
        return Err(Error::invalid_entry(
            "(entry)",
            format!(
                "canonical encoding is {} bytes, the ledger's limit is {max_bytes}",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// RFC 8785 (JCS) canonical JSON of `value`.
///
/// Keys are sorted by UTF-16 code units, strings use the minimal JSON escapes, and numbers
/// are written as ECMAScript writes them (`ryu-js`). Written here rather than with a generic
/// canonicalizer because it runs once per append and has to be cheap; the test suite checks it
/// against the `serde_json_canonicalizer` crate.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(o) if sorted_ascii_keys(o) => {
            write_members(out, o.iter().map(|(k, v)| (k.as_str(), v)))
        }
        Value::Object(o) => write_object(out, o.iter()),
    }
}

/// The member `key` of `v` if it is an object, found by a scan: for the few members of a
/// link that is cheaper than hashing the key.
fn member<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find_map(|(k, x)| (k == key).then_some(x))
}

/// Whether the keys of `o` are ASCII and already in RFC 8785 order (as they often are), so
/// that it can be written as it stands.
fn sorted_ascii_keys(o: &Map<String, Value>) -> bool {
    let mut keys = o.keys();
    let Some(mut prev) = keys.next() else {
        return true;
    };
    if !prev.is_ascii() {
        return false;
    }
    for k in keys {
        if !k.is_ascii() || k <= prev {
            return false;
        }
        prev = k;
    }
    true
}

/// Members held on the stack when sorting an object; larger objects sort in a `Vec`.
const INLINE_MEMBERS: usize = 8;

static NULL: Value = Value::Null;

fn write_object<'v>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'v String, &'v Value)>) {
    let mut inline: [(&str, &Value); INLINE_MEMBERS] = [("", &NULL); INLINE_MEMBERS];
    let mut spilled: Vec<(&str, &Value)> = Vec::new();
    let mut n = 0;
    for (k, v) in members {
        if n < INLINE_MEMBERS {
            inline[n] = (k, v);
        } else {
            if spilled.is_empty() {
                spilled.extend_from_slice(&inline);
            }
            spilled.push((k, v));
        }
        n += 1;
    }
    let members = if n <= INLINE_MEMBERS {
        &mut inline[..n]
    } else {
        &mut spilled[..]
    };
    // Byte order equals UTF-16 order unless a key holds characters above U+FFFF.
    if members.iter().all(|(k, _)| k.is_ascii()) {
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    } else {
        members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    write_members(out, members.iter().copied());
}

/// `{"key":value,...}`, the members in the order given.
fn write_members<'v>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'v str, &'v Value)>) {
    out.push(b'{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

/// RFC 8785 numbers are IEEE 754 doubles written as ECMAScript writes them. An integer within
/// 2^53 is its own ECMAScript form (plain digits), so it is written with `itoa`; any other
/// number, an integer beyond 2^53 included, goes through `ryu-js` as the double nearest to it.
/// (An integer that `validate` accepts beyond 2^53 is already in that form, so both ways give
/// the same digits for it.)
fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    if let Some(u) = n.as_u64().filter(|&u| u <= MAX_SAFE_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        out.extend_from_slice(ryu_js::Buffer::new().format(number_as_f64(n)).as_bytes());
    }
}

/// The double nearest to `n` (round to nearest, ties to even, as `as` casts do).
fn number_as_f64(n: &serde_json::Number) -> f64 {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u as f64,
        (None, Some(i)) => i as f64,
        // serde_json never holds a non-finite float, so this is always a JSON number.
        _ => n.as_f64().unwrap_or(0.0),
    }
}

/// Whether an integer beyond 2^53 may stand in an entry: exactly when its decimal text is the
/// ECMAScript form of the double nearest to it. That is the text RFC 8785 writes for that
/// double, so such an integer is what a float like `1e17` is stored as, and every JCS
/// implementation reads and writes it back unchanged; any other integer beyond 2^53 (like
/// `9007199254740993`, which a double cannot hold) would change value and is refused.
fn is_jcs_exact(n: &serde_json::Number, text: &str) -> bool {
    ryu_js::Buffer::new().format(number_as_f64(n)) == text
}

/// For each byte: 0 if it stands as itself in a JSON string, else the letter of its short
/// escape (`n` for `\n`), or `u` for `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Runs without escapes are copied whole.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Parse JSON text strictly: like `serde_json::from_slice`, but an object with a repeated key
/// is refused instead of silently keeping the last value (RFC 8785 input must be I-JSON, and
/// an auditor must not see `"actor"` twice with only one of them recorded).
///
/// ```
/// assert!(trailseal::entry::parse_json(br#"{"a": 1, "a": 2}"#).is_err());
/// assert_eq!(trailseal::entry::parse_json(b"[1]").unwrap(), serde_json::json!([1]));
/// ```
pub fn parse_json(text: &[u8]) -> Result<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| Error::malformed("JSON", e.to_string()))?;
    Ok(value)
}

struct StrictValue;

impl<'de> serde::de::DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(StrictValue)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Canonical encoding of the caller-given fields of a stored entry (everything but `v` and
/// `time`), to compare with [`ValidEntry::caller_fields_canonical`].
pub fn stored_caller_fields_canonical(leaf: &[u8]) -> Result<Vec<u8>> {
    let obj: Map<String, Value> = serde_json::from_slice(leaf)
        .map_err(|e| Error::Internal(format!("stored entry is not JSON: {e}")))?;
    let mut out = Vec::new();
    write_object(
        &mut out,
        obj.iter().filter(|(k, _)| *k != "v" && *k != "time"),
    );
    Ok(out)
}

/// The `id` of a stored entry, read from its canonical JSON without parsing the rest.
///
/// `verify` reads every entry to check the id index against it; a full parse would cost more
/// than hashing the leaf. Canonical JSON lists the top-level keys sorted (all of them ASCII),
/// so the scan stops at the first key past `id`, and skips the values before it byte by
/// byte, jumping over strings. `Err` names what is wrong with bytes that are not one JSON
/// object; the caller names the leaf.
///
/// ```
/// use trailseal::entry::stored_id;
/// let leaf = br#"{"action":"deploy","actor":{"id":"alice"},"id":"req-7","v":1}"#;
/// assert_eq!(stored_id(leaf).unwrap().as_deref(), Some("req-7"));
/// assert_eq!(stored_id(br#"{"actor":{"id":"alice"},"v":1}"#).unwrap(), None);
/// assert!(stored_id(b"not json").is_err());
/// ```
pub fn stored_id(leaf: &[u8]) -> std::result::Result<Option<std::borrow::Cow<'_, str>>, String> {
    let ws = |mut i: usize| {
        while leaf.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    // The index of the quote closing the string that opens at `i`.
    let string_end = |i: usize| -> std::result::Result<usize, String> {
        let mut j = i + 1;
        loop {
            let rest = leaf.get(j..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(k) if rest[k] == b'"' => return Ok(j + k),
                Some(k) => j += k + 2,
                None => return Err(format!("a string at byte {i} does not end")),
            }
        }
    };
    let mut i = ws(0);
    if leaf.get(i) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    i = ws(i + 1);
    if leaf.get(i) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        if leaf.get(i) != Some(&b'"') {
            return Err(format!("expected a key at byte {i}"));
        }
        let end = string_end(i)?;
        let key = &leaf[i + 1..end];
        i = ws(end + 1);
        if leaf.get(i) != Some(&b':') {
            return Err(format!("expected ':' at byte {i}"));
        }
        i = ws(i + 1);
        match key.cmp(b"id".as_slice()) {
            std::cmp::Ordering::Greater => return Ok(None),
            std::cmp::Ordering::Equal => {
                if leaf.get(i) != Some(&b'"') {
                    return Err("`id` is not a string".into());
                }
                let end = string_end(i)?;
                let raw = &leaf[i + 1..end];
                return if raw.contains(&b'\\') {
                    serde_json::from_slice::<String>(&leaf[i..=end])
                        .map(|s| Some(s.into()))
                        .map_err(|e| format!("`id`: {e}"))
                } else {
                    std::str::from_utf8(raw)
                        .map(|s| Some(s.into()))
                        .map_err(|e| format!("`id`: {e}"))
                };
            }
            std::cmp::Ordering::Less => {}
        }
        // Skip the value: a string, a nested object or array, or a number or literal.
        let mut depth = 0usize;
        loop {
            match leaf.get(i) {
                None => return Err("the object does not end".into()),
                Some(b'"') => i = string_end(i)? + 1,
                Some(b'{' | b'[') => {
                    depth += 1;
                    i += 1;
                }
                Some(b',' | b'}') if depth == 0 => break,
                Some(b'}' | b']') => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("unbalanced at byte {i}"))?;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        i = ws(i);
        match leaf.get(i) {
            Some(b',') => i = ws(i + 1),
            Some(b'}') => return Ok(None),
            _ => return Err(format!("expected ',' or '}}' at byte {i}")),
        }
    }
}

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

/// The ledger's `time`: nanoseconds since the Unix epoch, UTC, written as RFC 3339 with
/// exactly nine fractional digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i128);

impl Timestamp {
    /// 1970-01-01T00:00:00.000000000Z
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The current time.
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp_nanos())
    }

    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i128) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i128 {
        self.0
    }

    /// The later of `self` and `floor`: the rule that a `time` is never earlier than the
    /// previous entry's, whatever the wall clock says.
    pub fn at_least(self, floor: Timestamp) -> Self {
        self.max(floor)
    }

    /// Parse an RFC 3339 time (any offset; stored as UTC).
    pub fn parse(s: &str) -> Result<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Timestamp(t.unix_timestamp_nanos()))
            .map_err(|e| Error::malformed("time", format!("{s:?}: {e}")))
    }
}

impl Timestamp {
    /// The RFC 3339 form of a time in the years 0000 to 9999, written by hand (the ledger
    /// writes one per entry): `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`. `None` for other years.
    fn rfc3339_digits(self) -> Option<[u8; 30]> {
        const NANOS: i128 = 1_000_000_000;
        const FIRST: i128 = -62_167_219_200 * NANOS; // 0000-01-01T00:00:00Z
        const END: i128 = 253_402_300_800 * NANOS; // 10000-01-01T00:00:00Z
        if !(FIRST..END).contains(&self.0) {
            return None;
        }
        // Seconds fit an i64 easily; dividing an i64 (years 1678 to 2261) is much cheaper
        // than dividing an i128.
        let (secs, nanos) = match i64::try_from(self.0) {
            Ok(n) => (
                n.div_euclid(1_000_000_000),
                n.rem_euclid(1_000_000_000) as u32,
            ),
            Err(_) => (
                self.0.div_euclid(NANOS) as i64,
                self.0.rem_euclid(NANOS) as u32,
            ),
        };
        let days = secs.div_euclid(86_400);
        let day_secs = secs.rem_euclid(86_400) as u32;
        // Days to the civil date (H. Hinnant's `civil_from_days`), eras of 400 years
        // starting on March 1st.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097) as u32;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = (i64::from(yoe) + era * 400 + i64::from(month <= 2)) as u32;

        let mut b = *b"0000-00-00T00:00:00.000000000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, day_secs / 3600);
        put(14, 2, day_secs / 60 % 60);
        put(17, 2, day_secs % 60);
        put(20, 9, nanos);
        Some(b)
    }

    /// Appends the RFC 3339 form (as [`Display`](std::fmt::Display) writes it) to `out`.
    fn write_rfc3339(self, out: &mut Vec<u8>) {
        match self.rfc3339_digits() {
            Some(b) => out.extend_from_slice(&b),
            None => out.extend_from_slice(self.to_string().as_bytes()),
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(b) = self.rfc3339_digits() {
            // ASCII digits and separators only.
            return f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?);
        }
        // Years before 0000 (and times beyond the `time` crate's range, shown as the epoch).
        let t =
            OffsetDateTime::from_unix_timestamp_nanos(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"actor": {"id": "alice"}, "action": "deploy.succeeded",
               "subject": {"type": "service", "id": "payments-api"}})
    }

    fn with(field: &str, v: Value) -> Value {
        let mut e = base();
        e[field] = v;
        e
    }

    fn refused(e: Value, field: &str) {
        match validate(&e, 5) {
            Err(Error::InvalidEntry { field: f, .. }) => assert_eq!(f, field, "{e}"),
            other => panic!("{e} should be refused at {field}, got {other:?}"),
        }
    }

    #[test]
    fn encodes_canonically_with_v_and_time() {
        let e = base();
        let v = validate(&e, 0).unwrap();
        let t = Timestamp::parse("2026-11-22T15:43:54.123456789Z").unwrap();
        assert_eq!(
            String::from_utf8(v.encode(&t, DEFAULT_MAX_ENTRY_BYTES).unwrap()).unwrap(),
            r#"{"action":"deploy.succeeded","actor":{"id":"alice"},"subject":{"id":"payments-api","type":"service"},"time":"2026-11-22T15:43:54.123456789Z","v":1}"#
        );
    }

    #[test]
    fn timestamp_has_nine_digits() {
        assert_eq!(
            Timestamp::from_unix_nanos(1_000_000_000).to_string(),
            "1970-01-01T00:00:01.000000000Z"
        );
        let t = Timestamp::parse("2026-11-22T16:43:54.5+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T15:43:54.500000000Z");
    }

    #[test]
    fn refusals_name_the_field() {
        refused(json!([]), "(entry)");
        refused(with("extra", json!(1)), "extra");
        refused(with("v", json!(2)), "v");
        refused(with("time", json!("2026-01-01T00:00:00Z")), "time");
        refused(with("id", json!("")), "id");
        refused(with("id", json!("x".repeat(257))), "id");
        refused(with("actor", json!({})), "actor.id");
        refused(with("actor", json!({"id": "a", "x": 1})), "actor.x");
        refused(
            with("actor", json!({"id": "a", "via": ["b", ""]})),
            "actor.via[1]",
        );
        refused(with("action", json!("Deploy")), "action");
        refused(with("action", json!("-x")), "action");
        refused(with("action", json!("a".repeat(129))), "action");
        refused(with("subject", json!({"type": "service"})), "subject.id");
        refused(
            with("authz", json!({"decision": "maybe", "policy": "p"})),
            "authz.decision",
        );
        refused(
            with("authz", json!({"decision": "break_glass", "policy": "p"})),
            "authz.reason",
        );
        refused(with("authz", json!({"decision": "allow"})), "authz.policy");
        refused(with("change", json!({})), "change");
        refused(with("change", json!({"during": 1})), "change.during");
        refused(
            with("links", json!([{"rel": "x", "index": 5}])),
            "links[0].index",
        );
        refused(
            with("links", json!([{"rel": "x", "index": 1, "ref": "git:1"}])),
            "links[0]",
        );
        refused(with("links", json!([{"index": 1}])), "links[0].rel");
        refused(with("occurred_at", json!("yesterday")), "occurred_at");
        refused(with("attrs", json!({"k": 1})), "attrs.k");
        refused(with("payload", json!({"n": [1u64 << 60]})), "payload.n[0]");
        refused(with("payload", json!((1u64 << 53) + 1)), "payload");
        refused(
            with("change", json!({"after": -(1i64 << 60)})),
            "change.after",
        );
        refused(with("payload", json!(u64::MAX)), "payload");
        refused(with("payload", json!(i64::MIN)), "payload");
        let big = json!({"blob": "x".repeat(2000)});
        let e = with("payload", big);
        match validate(&e, 0).unwrap().encode(&Timestamp::EPOCH, 1000) {
            Err(Error::InvalidEntry { field, .. }) => assert_eq!(field, "(entry)"),
            other => panic!("{other:?}"),
        }
    }

    /// Validate, encode, parse the leaf back, validate and encode again: the same bytes.
    fn round_trip(e: &Value) -> String {
        let t = Timestamp::EPOCH;
        let bytes = validate(e, 0)
            .unwrap()
            .encode(&t, DEFAULT_MAX_ENTRY_BYTES)
            .unwrap();
        let mut back = parse_json(&bytes).unwrap();
        back.as_object_mut().unwrap().remove("time");
        let again = validate(&back, 0)
            .unwrap_or_else(|err| panic!("stored form refused: {err}"))
            .encode(&t, DEFAULT_MAX_ENTRY_BYTES)
            .unwrap();
        assert_eq!(again, bytes);
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn integers_beyond_2_pow_53_only_in_their_jcs_form() {
        // Integers a double holds, written as ECMAScript writes that double: accepted.
        for n in [
            1u64 << 53,
            100_000_000_000_000_000,
            1_152_921_504_606_847_000, // 2^60's shortest form
            12_000_000_000_000_000_000,
        ] {
            let e = with("payload", json!(n));
            assert!(round_trip(&e).contains(&format!("\"payload\":{n},")), "{n}");
        }
        let e = with("payload", json!(-100_000_000_000_000_000i64));
        assert!(round_trip(&e).contains("\"payload\":-100000000000000000,"));
        // Ones that would change value, or that JCS writes with other digits: refused.
        for n in [(1u64 << 53) + 1, 1 << 60, u64::MAX, 9_999_999_999_999_999] {
            refused(with("payload", json!(n)), "payload");
        }
        refused(with("payload", json!(-(1i64 << 53) - 1)), "payload");
    }

    #[test]
    fn floats_beyond_2_pow_53_round_trip() {
        // The fuzzer's reproducers: a float whose canonical form is an integer beyond 2^53.
        for (text, stored) in [
            ("1e17", "100000000000000000"),
            ("9007199254740993.0", "9007199254740992"),
            ("-1e17", "-100000000000000000"),
            ("1.2e19", "12000000000000000000"),
            ("1.8446744073709552e19", "18446744073709552000"),
            ("1e20", "100000000000000000000"),
            ("1e21", "1e+21"),
            ("1152921504606846976.0", "1152921504606847000"),
            // Too large for 64 bits: serde_json reads it as a double, like a float literal.
            ("123456789012345678901234567890", "1.2345678901234568e+29"),
        ] {
            let e = parse_json(
                format!(r#"{{"actor":{{"id":"a"}},"action":"x","subject":{{"type":"t","id":"i"}},"payload":{text}}}"#)
                    .as_bytes(),
            )
            .unwrap();
            let got = round_trip(&e);
            assert!(
                got.contains(&format!("\"payload\":{stored},")),
                "{text}: {got}"
            );
        }
    }

    #[test]
    fn big_integers_are_written_as_jcs_writes_them() {
        // canonical_json is RFC 8785 for any value, validated or not: every number is a double.
        assert_eq!(
            canonical_json(&json!((1u64 << 53) + 1)),
            b"9007199254740992"
        );
        assert_eq!(canonical_json(&json!(1u64 << 60)), b"1152921504606847000");
        assert_eq!(canonical_json(&json!(u64::MAX)), b"18446744073709552000");
        assert_eq!(canonical_json(&json!(i64::MIN)), b"-9223372036854776000");
        assert_eq!(canonical_json(&json!(1u64 << 53)), b"9007199254740992");
        assert_eq!(canonical_json(&json!(-(1i64 << 53))), b"-9007199254740992");
    }

    #[test]
    fn accepts_every_optional_field() {
        let e = json!({"v": 1, "id": "run-1", "actor": {"id": "bot", "role": "deployer",
            "tenant": "acme", "via": ["alice"]}, "action": "access.role_granted",
            "subject": {"type": "role", "id": "admin"},
            "authz": {"decision": "break_glass", "policy": "p-1", "policy_version": "3", "reason": "incident 42"},
            "change": {"before": null, "after": {"n": 1.5}},
            "links": [{"rel": "approved_by", "index": 4}, {"rel": "built_from", "ref": "git:abc"}],
            "occurred_at": "2026-11-22T15:00:00+02:00", "attrs": {"env": "prod"},
            "payload": {"anything": [1, "two", false]}});
        let v = validate(&e, 5).unwrap();
        assert_eq!(v.id(), Some("run-1"));
        assert_eq!(v.linked_indexes().collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn stored_id_agrees_with_a_full_parse() {
        let t = Timestamp::parse("2026-11-22T15:43:54.123456789Z").unwrap();
        let full = json!({"id": "run-1", "actor": {"id": "bot", "via": ["a]\\\"}{"]},
            "action": "x", "subject": {"type": "role", "id": "admin"},
            "authz": {"decision": "allow", "policy": "p", "reason": "{\"id\": \"fake\"}"},
            "change": {"before": null, "after": {"id": [1.5e3, -2, true, {"id": "no"}]}},
            "attrs": {"env": "prod"}, "payload": {"id": "not this one"}});
        let ids = [
            "run-1",
            "with \"quotes\" and \\",
            "caf\u{e9} \u{1f600}",
            "\u{1}",
        ];
        let mut leaves = vec![base(), full.clone()];
        for id in ids {
            let mut e = full.clone();
            e["id"] = json!(id);
            leaves.push(e);
        }
        for e in &leaves {
            let leaf = validate(e, 5)
                .unwrap()
                .encode(&t, DEFAULT_MAX_ENTRY_BYTES)
                .unwrap();
            let want = e.get("id").and_then(Value::as_str);
            assert_eq!(stored_id(&leaf).unwrap().as_deref(), want, "{e}");
            // Whitespace, which canonical JSON never has, is no obstacle either.
            let spaced =
                serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&leaf).unwrap());
            assert_eq!(stored_id(&spaced.unwrap()).unwrap().as_deref(), want);
        }
    }

    #[test]
    fn stored_id_refuses_what_is_not_an_object_and_never_panics() {
        for bad in [
            &b""[..],
            b"[]",
            b"\"id\"",
            b"{\"id\":1}",
            b"{\"a\":1,",
            b"{\"a\" 1}",
            b"{\"a\":\"x",
        ] {
            assert!(stored_id(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(stored_id(b" {} ").unwrap(), None);
        let t = Timestamp::parse("2026-11-22T15:43:54.123456789Z").unwrap();
        let mut e = base();
        e["id"] = json!("r\"1");
        e["attrs"] = json!({"k": "v\\"});
        let leaf = validate(&e, 5)
            .unwrap()
            .encode(&t, DEFAULT_MAX_ENTRY_BYTES)
            .unwrap();
        for cut in 0..leaf.len() {
            let _ = stored_id(&leaf[..cut]);
            for flip in [b'"', b'\\', b'{', b'}', b']', b',', 0xff] {
                let mut v = leaf.clone();
                v[cut] = flip;
                let _ = stored_id(&v);
            }
        }
    }

    #[test]
    fn typed_entry_round_trips_through_validation() {
        let e = Entry::new("alice", "deploy.succeeded", "service", "api")
            .with_id("x")
            .with_link("after", 0)
            .with_ref("built_from", "git:abc")
            .with_attr("env", "prod");
        validate(&e.to_json(), 1).unwrap();
        let back: Entry = serde_json::from_value(e.to_json()).unwrap();
        assert_eq!(back, e);
    }
}
