//! SPEC section 3 refusals, exactly: the field each names and the rule in words, including
//! which one is reported when an entry breaks several (an unknown field first, then `v`,
//! `time`, `id`, `actor`, `action`, `subject`, `authz`, `change`, `links`, `occurred_at`,
//! `attrs`, `payload`; inside an object, an unknown member first). Callers and bindings show
//! these texts, so they are pinned here.

use serde_json::{json, Value};
use trailseal::entry;
use trailseal::Error;

fn base() -> serde_json::Map<String, Value> {
    json!({"actor": {"id": "a"}, "action": "x", "subject": {"type": "t", "id": "i"}})
        .as_object()
        .unwrap()
        .clone()
}

/// `base()` with `changes` applied (`null` removes a field), refused at `field` with `rule`.
fn refused(changes: Value, field: &str, rule: &str) {
    let mut e = base();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            e.shift_remove(k);
        } else {
            e.insert(k.clone(), v.clone());
        }
    }
    let e = Value::Object(e);
    match entry::validate(&e, 5) {
        Err(Error::InvalidEntry { field: f, rule: r }) => {
            assert_eq!((f.as_str(), r.as_str()), (field, rule), "{e}")
        }
        other => panic!("{e}: {other:?}"),
    }
}

const TOP: &str = "unknown field; allowed: v, id, time, actor, action, subject, authz, change, links, occurred_at, attrs, payload, sealed";

#[test]
fn each_rule_names_its_field() {
    refused(json!({"extra": 1}), "extra", TOP);
    refused(
        json!({"v": 2}),
        "v",
        "must be 1 (or absent: the ledger sets it)",
    );
    refused(
        json!({"v": "1"}),
        "v",
        "must be 1 (or absent: the ledger sets it)",
    );
    refused(
        json!({"time": "2026-01-01T00:00:00Z"}),
        "time",
        "is assigned by the ledger; put the source's own time in `occurred_at`",
    );
    refused(json!({"id": 5}), "id", "must be a string");
    refused(
        json!({"id": ""}),
        "id",
        "must be 1 to 256 characters, got 0",
    );
    refused(
        json!({"id": "é".repeat(257)}),
        "id",
        "must be 1 to 256 characters, got 257",
    );
    refused(json!({"actor": null}), "actor", "is required");
    refused(json!({"actor": "a"}), "actor", "must be an object");
    refused(json!({"actor": {}}), "actor.id", "is required");
    refused(
        json!({"actor": {"id": ""}}),
        "actor.id",
        "must not be empty",
    );
    refused(json!({"actor": {"id": 1}}), "actor.id", "must be a string");
    refused(
        json!({"actor": {"id": "a", "x": 1}}),
        "actor.x",
        "unknown field; allowed: id, role, tenant, via",
    );
    refused(
        json!({"actor": {"id": "a", "role": ""}}),
        "actor.role",
        "must not be empty",
    );
    refused(
        json!({"actor": {"id": "a", "tenant": 2}}),
        "actor.tenant",
        "must be a string",
    );
    refused(
        json!({"actor": {"id": "a", "via": "b"}}),
        "actor.via",
        "must be an array of strings",
    );
    refused(
        json!({"actor": {"id": "a", "via": ["b", ""]}}),
        "actor.via[1]",
        "must be a non-empty string",
    );
    refused(json!({"action": null}), "action", "is required");
    refused(
        json!({"action": "Deploy"}),
        "action",
        "\"Deploy\" must match ^[a-z0-9][a-z0-9._:-]{0,127}$",
    );
    refused(
        json!({"subject": {"type": "t"}}),
        "subject.id",
        "is required",
    );
    refused(
        json!({"subject": {"type": "t", "id": "i", "z": 0}}),
        "subject.z",
        "unknown field; allowed: type, id",
    );
    refused(
        json!({"authz": {"decision": "maybe", "policy": "p"}}),
        "authz.decision",
        "\"maybe\" must be one of allow, break_glass, override",
    );
    refused(
        json!({"authz": {"decision": "allow"}}),
        "authz.policy",
        "is required",
    );
    refused(
        json!({"authz": {"decision": "override", "policy": "p"}}),
        "authz.reason",
        "is required when the decision is override",
    );
    refused(
        json!({"authz": {"decision": "allow", "policy": "p", "why": ""}}),
        "authz.why",
        "unknown field; allowed: decision, policy, policy_version, reason",
    );
    refused(
        json!({"change": {}}),
        "change",
        "must hold `before`, `after` or both",
    );
    refused(
        json!({"change": {"during": 1}}),
        "change.during",
        "unknown field; allowed: before, after",
    );
    refused(
        json!({"change": {"after": [1, {"n": 9007199254740993u64}]}}),
        "change.after[1].n",
        "integer 9007199254740993 is beyond 2^53: RFC 8785 numbers are IEEE doubles; write it as a string",
    );
    refused(json!({"links": {}}), "links", "must be an array");
    refused(json!({"links": ["x"]}), "links[0]", "must be an object");
    refused(
        json!({"links": [{"rel": "r", "ref": "g"}, {"rel": "r", "x": 1}]}),
        "links[1].x",
        "unknown field; allowed: rel, index, ref",
    );
    refused(
        json!({"links": [{"index": 1}]}),
        "links[0].rel",
        "is required",
    );
    refused(
        json!({"links": [{"rel": "r"}]}),
        "links[0]",
        "must have exactly one of `index` or `ref`",
    );
    refused(
        json!({"links": [{"rel": "r", "index": -1}]}),
        "links[0].index",
        "must be a non-negative integer",
    );
    refused(
        json!({"links": [{"rel": "r", "index": 4}, {"rel": "r", "index": 5}]}),
        "links[1].index",
        "5 must name an earlier entry (this entry would be 5)",
    );
    refused(
        json!({"links": [{"rel": "r", "ref": ""}]}),
        "links[0].ref",
        "must not be empty",
    );
    refused(
        json!({"occurred_at": 5}),
        "occurred_at",
        "must be an RFC 3339 string",
    );
    refused(json!({"attrs": []}), "attrs", "must be an object");
    refused(
        json!({"attrs": {"": "x"}}),
        "attrs",
        "keys must be non-empty",
    );
    refused(
        json!({"attrs": {"a": "x", "k": 1}}),
        "attrs.k",
        "values must be strings",
    );
    refused(
        json!({"payload": {"a": [0, -9007199254740993i64]}}),
        "payload.a[1]",
        "integer -9007199254740993 is beyond 2^53: RFC 8785 numbers are IEEE doubles; write it as a string",
    );
}

#[test]
fn the_first_broken_rule_is_the_one_reported() {
    // An unknown field, wherever it stands, before everything else.
    refused(
        json!({"v": 2, "actor": null, "extra": 1, "more": 2}),
        "extra",
        TOP,
    );
    refused(
        json!({"v": 2, "time": "t", "id": ""}),
        "v",
        "must be 1 (or absent: the ledger sets it)",
    );
    refused(
        json!({"payload": 9007199254740993u64, "time": 1, "id": ""}),
        "time",
        "is assigned by the ledger; put the source's own time in `occurred_at`",
    );
    refused(
        json!({"action": "X", "id": "", "actor": {}}),
        "id",
        "must be 1 to 256 characters, got 0",
    );
    refused(
        json!({"subject": {}, "action": "X", "actor": {}}),
        "actor.id",
        "is required",
    );
    refused(
        json!({"subject": {}, "action": "X"}),
        "action",
        "\"X\" must match ^[a-z0-9][a-z0-9._:-]{0,127}$",
    );
    refused(
        json!({"links": [{"index": 9}], "authz": {}, "subject": {"id": ""}}),
        "subject.type",
        "is required",
    );
    refused(
        json!({"links": "x", "change": {}, "authz": {}}),
        "authz.decision",
        "is required",
    );
    refused(
        json!({"attrs": 1, "occurred_at": 1, "links": "x", "change": {}}),
        "change",
        "must hold `before`, `after` or both",
    );
    refused(
        json!({"payload": 9007199254740993u64, "attrs": 1, "occurred_at": 1, "links": "x"}),
        "links",
        "must be an array",
    );
    refused(
        json!({"payload": 9007199254740993u64, "attrs": 1, "occurred_at": 1}),
        "occurred_at",
        "must be an RFC 3339 string",
    );
    refused(
        json!({"payload": 9007199254740993u64, "attrs": 1}),
        "attrs",
        "must be an object",
    );
    // Inside an object: an unknown member first, then the members in their fixed order.
    refused(
        json!({"actor": {"via": [""], "id": "", "zz": 1}}),
        "actor.zz",
        "unknown field; allowed: id, role, tenant, via",
    );
    refused(
        json!({"actor": {"via": [""], "role": "", "id": ""}}),
        "actor.id",
        "must not be empty",
    );
    refused(
        json!({"authz": {"reason": "", "policy": "", "decision": "nope"}}),
        "authz.decision",
        "\"nope\" must be one of allow, break_glass, override",
    );
    refused(
        json!({"links": [{"ref": "", "index": 1, "rel": ""}]}),
        "links[0].rel",
        "must not be empty",
    );
    // change: its members in their own order.
    refused(
        json!({"change": {"after": 9007199254740993u64, "before": 9007199254740995u64}}),
        "change.after",
        "integer 9007199254740993 is beyond 2^53: RFC 8785 numbers are IEEE doubles; write it as a string",
    );
    refused(
        json!({"change": {"before": 9007199254740995u64, "after": 9007199254740993u64}}),
        "change.before",
        "integer 9007199254740995 is beyond 2^53: RFC 8785 numbers are IEEE doubles; write it as a string",
    );
}

#[test]
fn occurred_at_errors_come_from_the_rfc_3339_parser() {
    let mut e = base();
    e.insert("occurred_at".into(), json!("2026-02-30T00:00:00Z"));
    match entry::validate(&Value::Object(e), 0) {
        Err(Error::InvalidEntry { field, rule }) => {
            assert_eq!(field, "occurred_at");
            assert!(rule.starts_with("must be RFC 3339 date-time: "), "{rule}");
        }
        other => panic!("{other:?}"),
    }
}
