//! Entries as OCSF events: the mapping of `import --format ocsf` (`capture::formats`) run
//! backwards, for a follower that feeds a SIEM or a security data lake.
//!
//! An entry imported from OCSF keeps the original event whole in `payload`, so its event is
//! that payload, unchanged but for `unmapped.trailseal` (where the entry sits in which ledger).
//! Any other entry becomes an API Activity event (class 6003) whose fields are the import's
//! mapping reversed: `actor.id` → `actor.user.uid`, `role` → `actor.session.issuer`, `tenant` →
//! `actor.user.account.uid`, `via` → `actor.invoked_by`, `subject` → `resources[0]`, `authz` →
//! `actor.authorizations[0]`, `occurred_at` → `time` / `time_dt`; the ledger's own `time` is
//! `metadata.logged_time`. Importing such an event again gives back the actor, subject,
//! authorization and time. What OCSF has no place for (links, change, attrs, payload) is in
//! `unmapped.trailseal.entry`, the entry as recorded. The table is in `docs/EXPORT.md`.
//!
//! ```
//! use serde_json::json;
//! use trailseal::export::ocsf::{to_ocsf, Provenance};
//! use trailseal::HashAlg;
//! let entry = json!({"v": 1, "time": "2026-11-22T15:43:54.123456789Z",
//!     "actor": {"id": "alice", "role": "deployer"}, "action": "deploy.succeeded",
//!     "subject": {"type": "service", "id": "payments-api"}});
//! let at = Provenance { origin: "example.com/audit", hash: HashAlg::Sha256, index: 7,
//!     leaf_hash: [0; 32] };
//! let ev = to_ocsf(&entry, &at).unwrap();
//! assert_eq!(ev["class_uid"], 6003);
//! assert_eq!(ev["actor"]["user"]["uid"], "alice");
//! assert_eq!(ev["resources"][0]["uid"], "payments-api");
//! assert_eq!(ev["time"], 1_795_362_234_123_i64);
//! ```

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::merkle::{to_hex, Hash, HashAlg};

/// The OCSF schema version the events written here follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// API Activity: an actor did something to a resource through an application. The class
/// whose required fields an audit entry fills best.
const API_ACTIVITY: u64 = 6003;

/// Where an entry sits: the ledger it is in and its place there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Provenance<'a> {
    /// The ledger's origin (its log name).
    pub origin: &'a str,
    /// The ledger's tree hash.
    pub hash: HashAlg,
    /// The entry's index.
    pub index: u64,
    /// The entry's leaf hash.
    pub leaf_hash: Hash,
}

/// The OCSF event for a recorded entry (a JSON object as [`Ledger::get`](crate::Ledger::get)
/// returns it). Refused only when `entry` lacks what every recorded entry has.
pub fn to_ocsf(entry: &Value, at: &Provenance) -> Result<Value> {
    let bad = |reason: &str| Error::malformed("entry", reason.to_owned());
    let obj = entry.as_object().ok_or_else(|| bad("is not an object"))?;
    let time = obj
        .get("time")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no `time`"))?;
    // Milliseconds of any time a ledger accepts fit an i64 (nanoseconds might not).
    let logged_ms = i64::try_from(Timestamp::parse(time)?.unix_nanos().div_euclid(1_000_000))
        .map_err(|_| bad("has a `time` out of range"))?;
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no `action`"))?;
    if let Some(event) = imported_event(obj, action) {
        let mut rest = obj.clone();
        // The payload is the event itself: not repeated inside it.
        rest.remove("payload");
        return Ok(with_provenance(event.clone(), at, Value::Object(rest)));
    }

    let actor = obj.get("actor").ok_or_else(|| bad("has no `actor`"))?;
    let actor_id = str_at(actor, "/id").ok_or_else(|| bad("has no `actor.id`"))?;
    let subject = obj.get("subject").ok_or_else(|| bad("has no `subject`"))?;

    let (activity_id, activity_name) = activity(action);
    let failed = action
        .rsplit(['.', '_', '-', ':'])
        .next()
        .is_some_and(|last| FAILED.contains(&last));
    let occurred = obj.get("occurred_at").and_then(Value::as_str);
    let occurred_ms = occurred.and_then(rfc3339_ms);

    let mut user = Map::new();
    user.insert("uid".into(), actor_id.into());
    if let Some(t) = str_at(actor, "/tenant") {
        user.insert("account".into(), json!({ "uid": t }));
    }
    let mut ev_actor = Map::new();
    ev_actor.insert("user".into(), Value::Object(user));
    if let Some(r) = str_at(actor, "/role") {
        ev_actor.insert("session".into(), json!({ "issuer": r }));
    }
    if let Some(v) = actor.pointer("/via/0").and_then(Value::as_str) {
        ev_actor.insert("invoked_by".into(), v.into());
    }
    if let Some(a) = obj.get("authz").filter(|a| a.is_object()) {
        let mut policy = Map::new();
        if let Some(p) = str_at(a, "/policy") {
            policy.insert("uid".into(), p.into());
        }
        if let Some(v) = str_at(a, "/policy_version") {
            policy.insert("version".into(), v.into());
        }
        if let Some(r) = str_at(a, "/reason") {
            policy.insert("desc".into(), r.into());
        }
        let mut authz = Map::new();
        if let Some(d) = str_at(a, "/decision") {
            authz.insert("decision".into(), d.into());
        }
        authz.insert("policy".into(), Value::Object(policy));
        ev_actor.insert("authorizations".into(), json!([authz]));
    }

    let mut metadata = Map::new();
    metadata.insert("version".into(), OCSF_VERSION.into());
    metadata.insert(
        "product".into(),
        json!({"name": "trailseal", "vendor_name": "trailseal",
               "version": env!("CARGO_PKG_VERSION")}),
    );
    metadata.insert("log_name".into(), at.origin.into());
    metadata.insert("sequence".into(), at.index.into());
    metadata.insert("logged_time".into(), logged_ms.into());
    if let Some(id) = obj.get("id").and_then(Value::as_str) {
        metadata.insert("uid".into(), id.into());
    }
    if let Some(o) = occurred {
        metadata.insert("original_time".into(), o.into());
    }
    if let Some(t) = str_at(actor, "/tenant") {
        metadata.insert("tenant_uid".into(), t.into());
    }

    let mut ev = Map::new();
    ev.insert("class_uid".into(), API_ACTIVITY.into());
    ev.insert("class_name".into(), "API Activity".into());
    ev.insert("category_uid".into(), 6.into());
    ev.insert("category_name".into(), "Application Activity".into());
    ev.insert("activity_id".into(), activity_id.into());
    ev.insert("activity_name".into(), activity_name.into());
    ev.insert("type_uid".into(), (API_ACTIVITY * 100 + activity_id).into());
    ev.insert("severity_id".into(), 1.into());
    ev.insert("severity".into(), "Informational".into());
    ev.insert("status_id".into(), if failed { 2 } else { 1 }.into());
    ev.insert(
        "status".into(),
        if failed { "Failure" } else { "Success" }.into(),
    );
    ev.insert("time".into(), occurred_ms.unwrap_or(logged_ms).into());
    if let (Some(o), Some(_)) = (occurred, occurred_ms) {
        ev.insert("time_dt".into(), o.into());
    }
    ev.insert("metadata".into(), Value::Object(metadata));
    ev.insert("actor".into(), Value::Object(ev_actor));
    ev.insert("api".into(), json!({ "operation": action }));
    // Required by API Activity, and an endpoint must name itself somehow; an entry does not
    // record where the call came from, so the event says so rather than guess.
    let src = match entry.pointer("/attrs/ocsf.src_ip").and_then(Value::as_str) {
        Some(ip) => json!({ "ip": ip }),
        None => json!({ "name": "unknown" }),
    };
    ev.insert("src_endpoint".into(), src);
    ev.insert(
        "resources".into(),
        json!([{
            "type": str_at(subject, "/type").unwrap_or("unknown"),
            "uid": str_at(subject, "/id").unwrap_or("unknown"),
        }]),
    );
    Ok(with_provenance(Value::Object(ev), at, entry.clone()))
}

/// The last action segments that mean the action failed (OCSF `status_id` 2).
const FAILED: &[&str] = &[
    "failed", "failure", "denied", "rejected", "error", "errored",
];

/// API Activity's activity for an action: Create, Read, Update or Delete when a segment of the
/// action (the last such) says so, else Other (99) named by the action itself, as OCSF asks
/// for activities its enumeration lacks.
fn activity(action: &str) -> (u64, String) {
    for word in action.rsplit(['.', '_', '-', ':']) {
        let found = match word {
            "create" | "created" | "add" | "added" | "insert" | "inserted" => (1, "Create"),
            "read" | "get" | "list" | "view" | "viewed" | "fetch" | "fetched" | "accessed" => {
                (2, "Read")
            }
            "update" | "updated" | "modify" | "modified" | "change" | "changed" | "edit"
            | "edited" | "patch" | "patched" | "set" => (3, "Update"),
            "delete" | "deleted" | "remove" | "removed" | "destroy" | "destroyed" | "revoke"
            | "revoked" => (4, "Delete"),
            _ => continue,
        };
        return (found.0, found.1.to_owned());
    }
    (99, action.to_owned())
}

/// The original event of an entry `import --format ocsf` wrote: an `ocsf.` action over a
/// payload that holds what the import requires of an OCSF event.
fn imported_event<'a>(obj: &'a Map<String, Value>, action: &str) -> Option<&'a Value> {
    let p = obj.get("payload")?;
    let ok = action.starts_with("ocsf.")
        && p.get("class_uid").is_some_and(Value::is_u64)
        && p.get("activity_id").is_some_and(Value::is_u64)
        && p.get("time").is_some_and(Value::is_i64)
        && p.get("metadata").is_some_and(Value::is_object);
    ok.then_some(p)
}

/// `event` with `unmapped.trailseal` set to where the entry sits (replacing one an earlier
/// ledger left there) and `entry`, the recorded fields.
fn with_provenance(mut event: Value, at: &Provenance, entry: Value) -> Value {
    let prov = json!({
        "origin": at.origin,
        "hash": at.hash.name(),
        "index": at.index,
        "leaf_hash": to_hex(&at.leaf_hash),
        "entry": entry,
    });
    if let Some(ev) = event.as_object_mut() {
        match ev.get_mut("unmapped").and_then(Value::as_object_mut) {
            Some(u) => {
                u.insert("trailseal".into(), prov);
            }
            None => {
                ev.insert("unmapped".into(), json!({ "trailseal": prov }));
            }
        }
    }
    event
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

/// An RFC 3339 time as epoch milliseconds (OCSF's `time`), rounded down.
fn rfc3339_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activities_come_from_the_last_verb() {
        assert_eq!(
            activity("access.role_granted"),
            (99, "access.role_granted".into())
        );
        assert_eq!(activity("user.created"), (1, "Create".into()));
        assert_eq!(activity("config.update.failed"), (3, "Update".into()));
        assert_eq!(activity("secret.read"), (2, "Read".into()));
        assert_eq!(activity("key.revoked"), (4, "Delete".into()));
    }

    #[test]
    fn times_are_milliseconds_rounded_down() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.9999Z"), Some(1999));
        assert_eq!(rfc3339_ms("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(
            rfc3339_ms("2023-03-17T19:07:59+02:00"),
            Some(1_679_072_879_000)
        );
        assert_eq!(rfc3339_ms("yesterday"), None);
    }
}
