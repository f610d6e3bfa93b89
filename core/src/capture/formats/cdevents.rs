//! CDEvents (CD Foundation) events as entries: the mapping table is in `docs/CAPTURE.md`.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{actor, bounded_id, s, text, Builder};
use crate::capture::{action_of, action_segment, refs};
use crate::error::{Error, Result};

/// One CDEvents event's entry.
pub(super) fn map(obj: &Map<String, Value>) -> Result<Value> {
    let bad = |reason: String| Error::malformed("CDEvents event", reason);
    let ev = Value::Object(obj.clone());
    if !obj.get("context").is_some_and(Value::is_object) {
        return Err(bad("`context` is missing or not an object".into()));
    }
    if !obj.get("subject").is_some_and(Value::is_object) {
        return Err(bad("`subject` is missing or not an object".into()));
    }
    let ty = s(&ev, "/context/type").ok_or_else(|| bad("`context.type` is missing".into()))?;
    let (family, rest) = if let Some(r) = ty.strip_prefix("dev.cdevents.") {
        ("cdevents", r)
    } else if let Some(r) = ty.strip_prefix("dev.cdeventsx.") {
        ("cdeventsx", r)
    } else {
        return Err(bad(format!(
            "`context.type` {ty:?} is not a CDEvents type (dev.cdevents.<subject>.<predicate>.<version>)"
        )));
    };
    let mut parts = rest.splitn(3, '.');
    let (subject_kind, predicate, version) = (parts.next(), parts.next(), parts.next());
    let (Some(subject_kind), Some(predicate), Some(version)) = (subject_kind, predicate, version)
    else {
        return Err(bad(format!(
            "`context.type` {ty:?} lacks <subject>.<predicate>.<version>"
        )));
    };
    let id = text(&ev, "/context/id").ok_or_else(|| bad("`context.id` is missing".into()))?;
    let source =
        s(&ev, "/context/source").ok_or_else(|| bad("`context.source` is missing".into()))?;
    let timestamp =
        s(&ev, "/context/timestamp").ok_or_else(|| bad("`context.timestamp` is missing".into()))?;
    OffsetDateTime::parse(timestamp, &Rfc3339).map_err(|e| {
        bad(format!(
            "`context.timestamp` {timestamp:?} is not RFC 3339: {e}"
        ))
    })?;
    let subject_id =
        text(&ev, "/subject/id").ok_or_else(|| bad("`subject.id` is missing".into()))?;
    let content = ev
        .pointer("/subject/content")
        .cloned()
        .unwrap_or(Value::Null);
    let c = |k: &str| s(&content, &format!("/{k}"));

    let subject_kind_l = subject_kind.to_ascii_lowercase();
    // CDEvents 0.6 approvals (`dev.cdevents.approval.*`) name who asked and who answered.
    let approval = (family == "cdevents" && subject_kind_l == "approval").then(|| Approval {
        predicate: predicate.to_ascii_lowercase(),
        status: c("status").map(str::to_ascii_lowercase),
        resource: c("resourceTargetUrl"),
    });
    // Who: the person the event names, reported by its source; else the source itself.
    let person = c("user")
        .or_else(|| c("responder"))
        .or_else(|| c("requestor"))
        .or_else(|| c("updatedBy"))
        .or_else(|| c("creator"))
        .or_else(|| c("author"));
    let actor_v = match person {
        Some(p) => actor(p, &[source], None, None),
        None => actor(source, &[], None, None),
    };
    // An outcome that is not a success is another fact: `cdevents.pipelinerun.finished.failed`.
    let outcome = c("outcome").map(str::to_ascii_lowercase);
    let suffix = match outcome.as_deref() {
        Some("failure" | "error" | "fail" | "failed") => Some("failed"),
        Some("cancel" | "canceled" | "cancelled" | "abort" | "aborted") => Some("cancelled"),
        Some("skip" | "skipped") => Some("skipped"),
        _ => None,
    };
    let action = match (suffix, approval.as_ref().and_then(Approval::action)) {
        (_, Some(a)) => a.to_owned(),
        (Some(x), None) => action_of(&[family, subject_kind, predicate, x]),
        (None, None) => action_of(&[family, subject_kind, predicate]),
    };
    // An approval is about the resource it gates, so that a gate on that resource counts it.
    let subject = match approval.as_ref().and_then(|a| a.resource) {
        Some(r) => ("resource".to_owned(), r.to_owned()),
        None => (subject_kind_l.clone(), subject_id.clone()),
    };
    let mut b = Builder::new(bounded_id("cdevents", &id, &ev), actor_v, action, subject);
    b.occurred_at(Some(timestamp.to_owned()));
    b.attr("cdevents.id", Some(id.clone()));
    b.attr("cdevents.source", Some(source));
    b.attr("cdevents.type", Some(ty));
    b.attr("cdevents.type_version", Some(version));
    b.attr(
        "cdevents.spec_version",
        s(&ev, "/context/specversion").or_else(|| s(&ev, "/context/version")),
    );
    b.attr("cdevents.chain_id", text(&ev, "/context/chainId"));
    if let Some(ss) = s(&ev, "/subject/source").filter(|ss| *ss != source) {
        b.attr("cdevents.subject_source", Some(ss));
    }
    b.attr("cdevents.outcome", c("outcome"));
    b.attr("cdevents.environment", text(&content, "/environment/id"));
    b.attr("cdevents.repository", text(&content, "/repository/id"));
    b.attr(
        "cdevents.pipeline",
        c("pipelineName").or_else(|| c("taskName")),
    );
    b.attr("cdevents.pipelinerun", text(&content, "/pipelineRun/id"));
    if approval.is_some() {
        b.attr("cdevents.approval", Some(subject_id.clone()));
        b.attr("cdevents.requestor", c("requestor"));
        b.attr("cdevents.responder", c("responder"));
        b.attr("cdevents.decision", c("decision"));
        b.attr("cdevents.status", c("status"));
        b.link("approval", format!("cdevents.approval:{subject_id}"));
        if let Some(u) = c("approvalDetailsUrl") {
            b.link("url", u);
        }
    }
    // Links the event declares (CDEvents links spec): other events by context id.
    for l in ev
        .pointer("/context/links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let target = s(l, "/target/contextId").or_else(|| s(l, "/from/contextId"));
        if let Some(t) = target {
            let rel = s(l, "/linkKind")
                .or_else(|| s(l, "/linkType"))
                .map(action_segment)
                .unwrap_or_else(|| "link".into());
            b.link(&rel, format!("cdevents:{t}"));
        }
    }
    if let Some(a) = c("artifactId") {
        b.link("artifact", a);
    }
    // A change (pull/merge request) is named `cdevents.change:<id>`: change events carry it,
    // artifact events link the change they were built from, so `trace` joins them.
    if subject_kind_l == "change" {
        b.link("subject", format!("cdevents.change:{subject_id}"));
    }
    if let Some(ch) = text(&content, "/change/id") {
        b.link("change", format!("cdevents.change:{ch}"));
    }
    if let Some(u) = c("uri").or_else(|| c("url")) {
        let run = matches!(
            subject_kind_l.as_str(),
            "pipelinerun" | "taskrun" | "build" | "testsuiterun" | "testcaserun"
        );
        if run {
            b.link("run", refs::run(u));
        } else {
            b.link("url", u);
        }
    }
    if let Some(sbom) = s(&content, "/sbom/uri") {
        b.link("sbom", sbom);
    }
    // What changed: a service now runs this artifact.
    if subject_kind_l == "service" {
        if let Some(a) = c("artifactId") {
            b.e.insert("change".into(), json!({"after": {"artifactId": a}}));
        }
    }
    Ok(b.finish(&ev))
}

/// What a CDEvents approval event (0.6: `approval.created`, `.updated`, `.closed`) says
/// beyond the common fields.
struct Approval<'a> {
    predicate: String,
    /// `approval.closed`'s terminal state: approved, rejected, cancelled or expired.
    status: Option<String>,
    /// `resourceTargetUrl`: what the approval gates.
    resource: Option<&'a str>,
}

impl Approval<'_> {
    /// The action gates and reports know: a request is `approval.requested`, a closed
    /// approval its outcome (`approval.granted` only for `approved`); `approval.updated`
    /// records a decision that does not resolve the approval, so it keeps its CDEvents name.
    fn action(&self) -> Option<&'static str> {
        match (self.predicate.as_str(), self.status.as_deref()) {
            ("created", _) => Some("approval.requested"),
            ("closed", Some("approved")) => Some("approval.granted"),
            ("closed", Some("rejected")) => Some("approval.rejected"),
            ("closed", Some("cancelled" | "canceled")) => Some("approval.cancelled"),
            ("closed", Some("expired")) => Some("approval.expired"),
            _ => None,
        }
    }
}
