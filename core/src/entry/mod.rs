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

mod canonical;
mod seal;
mod stored;
mod timestamp;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

pub use self::canonical::{canonical_json, parse_json};
use self::canonical::{member, write_value};
pub use self::seal::{
    check_opening, commitment, open, seal, sealed_paths, PersonalFields, Sealed, COMMITMENT_PREFIX,
};
pub use self::stored::{stored_caller_fields_canonical, stored_id};
pub use self::timestamp::Timestamp;
pub use self::validate::validate;

/// The entry format version this library writes (`v`).
pub const FORMAT_VERSION: u64 = 1;

/// Default limit on the canonical encoding of one entry (SPEC: 1 MiB).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 1 << 20;

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
    sealed: Option<&'a Value>,
    subject: Option<&'a Value>,
    time: Option<&'a Value>,
    v: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    /// The caller-given members (all but `v` and `time`) with their quoted keys, in RFC 8785
    /// order.
    fn caller_members(&self) -> [(&'static [u8], Option<&'a Value>); 11] {
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
            (b"\"sealed\":", self.sealed),
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

    /// `occurred_at` in Unix nanoseconds, if the entry has one (validated RFC 3339).
    pub fn occurred_at_nanos(&self) -> Option<i128> {
        self.fields
            .occurred_at
            .and_then(Value::as_str)
            .and_then(|s| Timestamp::parse(s).ok())
            .map(Timestamp::unix_nanos)
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
