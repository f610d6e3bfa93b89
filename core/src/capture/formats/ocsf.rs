//! OCSF events as entries; API Activity and Account Change get the fullest mapping. The
//! mapping table is in `docs/CAPTURE.md`.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{actor, s, text, Builder};
use crate::capture::{action_of, action_segment, canonical_digest};
use crate::entry::Timestamp;
use crate::error::{Error, Result};

fn ocsf_class(uid: u64) -> Option<&'static str> {
    Some(match uid {
        3001 => "account_change",
        3002 => "authentication",
        3003 => "authorize_session",
        3004 => "entity_management",
        3005 | 6003 => "api_activity",
        3006 => "group_management",
        6001 => "web_resources_activity",
        6002 => "application_lifecycle",
        6004 => "web_resource_access_activity",
        6005 => "datastore_activity",
        _ => return None,
    })
}

fn ocsf_time(ms: i128) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms.checked_mul(1_000_000)?).ok()?;
    let s = t.format(&Rfc3339).ok()?;
    Timestamp::parse(&s).ok().map(|_| s)
}

/// One OCSF event's entry.
pub(super) fn map(obj: &Map<String, Value>) -> Result<Value> {
    let bad = |reason: String| Error::malformed("OCSF event", reason);
    let ev = Value::Object(obj.clone());
    let class_uid = ev
        .get("class_uid")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("`class_uid` is missing or not a number".into()))?;
    let activity_id = ev
        .get("activity_id")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("`activity_id` is missing or not a number".into()))?;
    let time_ms = ev
        .get("time")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("`time` is missing or not a number".into()))?;
    if !ev.get("metadata").is_some_and(Value::is_object) {
        return Err(bad("`metadata` is missing".into()));
    }
    let class = s(&ev, "/class_name")
        .map(action_segment)
        .or_else(|| ocsf_class(class_uid).map(str::to_owned))
        .unwrap_or_else(|| format!("class_{class_uid}"));
    let activity = s(&ev, "/activity_name")
        .map(action_segment)
        .unwrap_or_else(|| format!("activity_{activity_id}"));
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
    b.occurred_at(
        s(&ev, "/time_dt")
            .map(str::to_owned)
            .or_else(|| ocsf_time(i128::from(time_ms))),
    );
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
    fn ocsf_times_are_milliseconds() {
        assert_eq!(
            ocsf_time(1_679_072_879_000).as_deref(),
            Some("2023-03-17T17:07:59Z")
        );
        assert_eq!(ocsf_time(1_631_047_050_642_854_000), None);
    }
}
