//! OCSF events as entries; API Activity and Account Change get the fullest mapping. The
//! mapping table is in `docs/CAPTURE.md`.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{actor, s, text, Builder};
use crate::capture::{action_of, action_segment, canonical_digest};
use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// OCSF class names (schema 1.0 to 1.3) by `class_uid`, for events that carry no
/// `class_name`. 3005 is API Activity in 1.0.0-rc (6003 since).
fn ocsf_class(uid: u64) -> Option<&'static str> {
    Some(match uid {
        1001 => "file_system_activity",
        1002 => "kernel_extension_activity",
        1003 => "kernel_activity",
        1004 => "memory_activity",
        1005 => "module_activity",
        1006 => "scheduled_job_activity",
        1007 => "process_activity",
        2001 => "security_finding",
        2002 => "vulnerability_finding",
        2003 => "compliance_finding",
        2004 => "detection_finding",
        2005 => "incident_finding",
        2006 => "data_security_finding",
        3001 => "account_change",
        3002 => "authentication",
        3003 => "authorize_session",
        3004 => "entity_management",
        3005 | 6003 => "api_activity",
        3006 => "group_management",
        4001 => "network_activity",
        4002 => "http_activity",
        4003 => "dns_activity",
        4004 => "dhcp_activity",
        4005 => "rdp_activity",
        4006 => "smb_activity",
        4007 => "ssh_activity",
        4008 => "ftp_activity",
        4009 => "email_activity",
        4010 => "network_file_activity",
        4011 => "email_file_activity",
        4012 => "email_url_activity",
        4013 => "ntp_activity",
        4014 => "tunnel_activity",
        5001 => "device_inventory_info",
        5002 => "device_config_state",
        5003 => "user_inventory_info",
        5004 => "operating_system_patch_state",
        6001 => "web_resources_activity",
        6002 => "application_lifecycle",
        6004 => "web_resource_access_activity",
        6005 => "datastore_activity",
        6006 => "file_hosting_activity",
        _ => return None,
    })
}

/// Activity names of the classes whose events most often come without `activity_name`
/// (Windows process events): `(class_uid, activity_id)`.
fn ocsf_activity(class_uid: u64, activity_id: u64) -> Option<&'static str> {
    Some(match (class_uid, activity_id) {
        (_, 0) => "unknown",
        (_, 99) => "other",
        (1007, 1) => "launch",
        (1007, 2) => "terminate",
        (1007, 3) => "open",
        (1007, 4) => "inject",
        (1007, 5) => "set_user_id",
        (3002, 1) => "logon",
        (3002, 2) => "logoff",
        (3001 | 3005 | 6003 | 3004, 1) => "create",
        (3005 | 6003 | 3004, 2) => "read",
        (3005 | 6003 | 3004, 3) => "update",
        (3005 | 6003 | 3004, 4) => "delete",
        _ => return None,
    })
}

/// `time` as RFC 3339 UTC, and a note when it was not plain epoch milliseconds. OCSF says
/// milliseconds; producers also write seconds (integer, or with a fraction as Zeek does),
/// microseconds, an RFC 3339 string, or 0 for "unknown". The unit is told by magnitude:
/// below 10^11 is seconds (10^11 ms is 1973, 10^11 s is the year 5138), below 10^14
/// milliseconds, below 10^17 microseconds, else nanoseconds.
fn ocsf_time(t: &Value) -> (Option<String>, Option<&'static str>) {
    let at = |nanos: i128| -> Option<String> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
        let s = t.format(&Rfc3339).ok()?;
        Timestamp::parse(&s).ok().map(|_| s)
    };
    match t {
        Value::String(s) => match Timestamp::parse(s.trim()) {
            Ok(_) => (
                Some(s.trim().to_owned()),
                Some("time given as RFC 3339 text"),
            ),
            Err(_) => (None, Some("time is text that is not RFC 3339: left out")),
        },
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let i = i128::from(i);
                match i.abs() {
                    0 => (None, Some("time is 0 (unknown): left out")),
                    x if x < 100_000_000_000 => {
                        (at(i * 1_000_000_000), Some("time read as seconds"))
                    }
                    x if x < 100_000_000_000_000 => (at(i * 1_000_000), None),
                    x if x < 100_000_000_000_000_000 => {
                        (at(i * 1_000), Some("time read as microseconds"))
                    }
                    _ => (at(i), Some("time read as nanoseconds")),
                }
            } else if let Some(nanos) = decimal_seconds(&n.to_string()) {
                // Fractional seconds (Zeek), read from the number's decimal text: through
                // f64 the microseconds would gain digits that were never written.
                (at(nanos), Some("time read as seconds"))
            } else {
                (None, Some("time is out of range: left out"))
            }
        }
        _ => (None, Some("time is not a number: left out")),
    }
}

/// `1591367999.305988` as nanoseconds since the epoch, exactly (below 10^11 seconds, at most
/// 9 fraction digits; no exponent).
fn decimal_seconds(text: &str) -> Option<i128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let neg = int.starts_with('-');
    let secs: i128 = int.trim_start_matches('-').parse().ok()?;
    if secs >= 100_000_000_000 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_nanos: i128 = format!("{frac:0<9}").parse().ok()?;
    let nanos = secs * 1_000_000_000 + frac_nanos;
    Some(if neg { -nanos } else { nanos })
}

/// One OCSF event's entry.
pub(super) fn map(obj: &Map<String, Value>) -> Result<Value> {
    let bad = |reason: String| Error::malformed("OCSF event", reason);
    let ev = Value::Object(obj.clone());
    let class_uid = ev
        .get("class_uid")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("`class_uid` is missing or not a number".into()))?;
    // Required by OCSF, yet some producers write it as `false` or null, or leave it out (Zeek's
    // conn log): the activity is then unknown, said so. The other required fields say whether
    // this is an OCSF event at all; a refusal names every one missing.
    let activity_id = ev.get("activity_id").and_then(Value::as_u64);
    let time = ev.get("time").filter(|t| t.is_number() || t.is_string());
    let metadata = ev.get("metadata").is_some_and(Value::is_object);
    if time.is_none() || !metadata {
        let mut missing = Vec::new();
        if time.is_none() {
            missing.push("`time` is missing or not a number");
        }
        if !metadata {
            missing.push("`metadata` is missing");
        }
        if ev.get("activity_id").is_none() {
            missing.push("nor is there an `activity_id`");
        }
        return Err(bad(missing.join("; ")));
    }
    let time = time.unwrap_or(&Value::Null);
    // `type_name` ("Process Activity: Launch") names both when the two names are absent.
    let (type_class, type_activity) = match s(&ev, "/type_name").and_then(|t| t.split_once(':')) {
        Some((c, a)) => (Some(c.trim()), Some(a.trim())),
        None => (None, None),
    };
    let mut notes: Vec<&str> = Vec::new();
    let class = match s(&ev, "/class_name").or(type_class).map(action_segment) {
        Some(c) => c,
        None => match ocsf_class(class_uid) {
            Some(c) => c.to_owned(),
            None => {
                notes.push("class not named and not known here: class_<uid>");
                format!("class_{class_uid}")
            }
        },
    };
    let activity = match s(&ev, "/activity_name")
        .or(type_activity)
        .map(action_segment)
    {
        Some(a) => a,
        None => match activity_id.map(|id| (id, ocsf_activity(class_uid, id))) {
            Some((_, Some(a))) => a.to_owned(),
            Some((id, None)) => {
                notes.push("activity not named and not known here: activity_<id>");
                format!("activity_{id}")
            }
            None => {
                notes.push("no activity_id: activity unknown");
                "unknown".to_owned()
            }
        },
    };
    let mut action = vec!["ocsf", class.as_str(), activity.as_str()];
    if ev.get("status_id").and_then(Value::as_u64) == Some(2) {
        action.push("failed");
    }
    let action = action_of(&action);

    // Who.
    let user = ev.pointer("/actor/user").cloned().unwrap_or(Value::Null);
    let who = text(&user, "/uid")
        .or_else(|| text(&user, "/name"))
        .or_else(|| text(&user, "/email_addr"))
        .or_else(|| text(&ev, "/actor/app_name"))
        .or_else(|| text(&ev, "/actor/process/name"))
        .unwrap_or_else(|| "unknown".into());
    let role = s(&ev, "/actor/session/issuer");
    let tenant = s(&user, "/account/uid")
        .or_else(|| s(&user, "/account_uid"))
        .or_else(|| s(&ev, "/cloud/account/uid"))
        .or_else(|| s(&ev, "/cloud/account_uid"));
    let invoked_by = s(&ev, "/actor/invoked_by");
    let actor_v = actor(
        &who,
        &invoked_by.into_iter().collect::<Vec<_>>(),
        role,
        tenant,
    );

    // To what.
    let target_user = ev.get("user").filter(|u| u.is_object());
    let subject = if let (3001, Some(u)) = (class_uid, target_user) {
        (
            "user".to_owned(),
            text(u, "/uid").or_else(|| text(u, "/name")),
        )
    } else if let Some(r) = ev.pointer("/resources/0") {
        (
            s(r, "/type").unwrap_or("resource").to_owned(),
            text(r, "/uid").or_else(|| text(r, "/name")),
        )
    } else if let Some(e) = ev.get("entity").filter(|e| e.is_object()) {
        (
            s(e, "/type").unwrap_or("entity").to_owned(),
            text(e, "/uid").or_else(|| text(e, "/name")),
        )
    } else if let Some(u) = target_user {
        (
            "user".to_owned(),
            text(u, "/uid").or_else(|| text(u, "/name")),
        )
    } else {
        ("service".to_owned(), None)
    };
    let subject = match subject {
        (t, Some(id)) => (t, id),
        (_, None) => (
            "service".to_owned(),
            s(&ev, "/api/service/name")
                .or_else(|| s(&ev, "/metadata/product/name"))
                .unwrap_or("unknown")
                .to_owned(),
        ),
    };

    let id = format!("ocsf:sha256:{}", canonical_digest(&ev));
    let mut b = Builder::new(id, actor_v, action, subject);
    match s(&ev, "/time_dt").filter(|t| Timestamp::parse(t).is_ok()) {
        Some(t) => b.occurred_at(Some(t.to_owned())),
        None => {
            let (at, note) = ocsf_time(time);
            b.occurred_at(at);
            notes.extend(note);
        }
    }
    if !notes.is_empty() {
        b.attr("ocsf.note", Some(notes.join("; ")));
    }
    b.attr("ocsf.class_uid", Some(class_uid.to_string()));
    b.attr("ocsf.type_uid", text(&ev, "/type_uid"));
    b.attr("ocsf.status", text(&ev, "/status"));
    b.attr("ocsf.version", text(&ev, "/metadata/version"));
    b.attr("ocsf.uid", text(&ev, "/metadata/uid"));
    b.attr("ocsf.product", text(&ev, "/metadata/product/name"));
    b.attr("ocsf.vendor", text(&ev, "/metadata/product/vendor_name"));
    b.attr("ocsf.api_operation", text(&ev, "/api/operation"));
    b.attr("ocsf.api_service", text(&ev, "/api/service/name"));
    b.attr("ocsf.request_uid", text(&ev, "/api/request/uid"));
    b.attr("ocsf.cloud_provider", text(&ev, "/cloud/provider"));
    b.attr("ocsf.region", text(&ev, "/cloud/region"));
    b.attr("ocsf.src_ip", text(&ev, "/src_endpoint/ip"));
    b.attr("ocsf.user_type", text(&user, "/type"));
    b.attr("ocsf.user_name", text(&user, "/name"));
    for r in ev
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(uid) = text(r, "/uid") {
            b.link("resource", uid);
        }
    }

    // Why it was allowed: the first authorization the actor holds whose decision allows it.
    for a in ev
        .pointer("/actor/authorizations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let decision = s(a, "/decision").unwrap_or("").to_ascii_lowercase();
        let policy = text(a, "/policy/uid").or_else(|| text(a, "/policy/name"));
        if matches!(
            decision.as_str(),
            "allow" | "allowed" | "granted" | "permit"
        ) {
            if let Some(p) = policy {
                let mut authz = json!({"decision": "allow", "policy": p});
                if let Some(v) = text(a, "/policy/version") {
                    authz["policy_version"] = v.into();
                }
                b.e.insert("authz".into(), authz);
                break;
            }
        } else if !decision.is_empty() {
            b.attr("ocsf.authz_decision", Some(decision));
        }
    }

    // What changed: OCSF's `<thing>` / `<thing>_result` pairs.
    for (before, after) in [("user", "user_result"), ("entity", "entity_result")] {
        if let Some(a) = ev.get(after).filter(|v| !v.is_null()) {
            let mut change = json!({"after": a});
            if let Some(bv) = ev.get(before).filter(|v| !v.is_null()) {
                change["before"] = bv.clone();
            }
            b.e.insert("change".into(), change);
            break;
        }
    }
    Ok(b.finish(&ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocsf_times_by_magnitude() {
        let t = |v: Value| ocsf_time(&v);
        let want = Some("2023-03-17T17:07:59Z".to_owned());
        assert_eq!(t(json!(1_679_072_879_000i64)), (want.clone(), None));
        assert_eq!(
            t(json!(1_679_072_879i64)),
            (want.clone(), Some("time read as seconds"))
        );
        assert_eq!(
            t(json!(1_679_072_879_000_000i64)),
            (want, Some("time read as microseconds"))
        );
        let (zeek, note) = t(json!(1591367999.305988));
        assert_eq!(zeek.as_deref(), Some("2020-06-05T14:39:59.305988Z"));
        assert_eq!(note, Some("time read as seconds"));
        assert_eq!(t(json!(0)), (None, Some("time is 0 (unknown): left out")));
        assert_eq!(t(json!("x")).0, None);
    }
}
