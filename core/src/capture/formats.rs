//! Standard event formats as audit entries: CDEvents, in-toto and OCSF.
//!
//! [`import`] parses the input (one JSON document, a JSON array of events, or JSON Lines),
//! maps every event onto the entry fields (who → `actor`, what → `action`, to what →
//! `subject`, why it was allowed → `authz` where the format says, what changed → `change`),
//! keeps the original event whole in `payload`, and appends them all in one atomic batch: an
//! input with one event that does not parse or map is refused with the reason and nothing of
//! it is written. The mapping tables are in `docs/CAPTURE.md`.
//!
//! ```
//! use trailseal::capture::formats::{to_entries, Format};
//! let event = br#"{"context": {"version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
//!   "source": "/tekton", "type": "dev.cdevents.pipelinerun.finished.0.2.0",
//!   "timestamp": "2023-03-20T14:27:05.315384Z"},
//!   "subject": {"id": "run-42", "content": {"pipelineName": "build", "outcome": "success"}}}"#;
//! let e = &to_entries(Format::CDEvents, event).unwrap()[0];
//! assert_eq!(e["action"], "cdevents.pipelinerun.finished");
//! assert_eq!(e["id"], "cdevents:271069a8-fc18-44f1-b38f-9d70a1695819");
//! assert_eq!(e["attrs"]["cdevents.outcome"], "success");
//! ```

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::entry::{parse_json, Timestamp};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, Receipt};

use super::{action_of, action_segment, canonical_digest};

/// Most `links` one event contributes (the rest stay in its `payload`).
const MAX_LINKS: usize = 64;

/// An event format [`import`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// CDEvents (CD Foundation), any spec version with `context.type` `dev.cdevents.*`.
    CDEvents,
    /// in-toto Statements v0.1 / v1, bare or inside DSSE envelopes (also Sigstore bundles'
    /// `dsseEnvelope`), and classic in-toto link metadata in DSSE.
    InToto,
    /// OCSF events; API Activity and Account Change get the fullest mapping.
    Ocsf,
}

impl Format {
    /// `cdevents`, `intoto` or `ocsf`.
    pub fn name(self) -> &'static str {
        match self {
            Format::CDEvents => "cdevents",
            Format::InToto => "intoto",
            Format::Ocsf => "ocsf",
        }
    }

    /// The format named `s` (`cdevents`, `intoto` / `in-toto`, `ocsf`).
    pub fn from_name(s: &str) -> Result<Format> {
        match s.to_ascii_lowercase().as_str() {
            "cdevents" => Ok(Format::CDEvents),
            "intoto" | "in-toto" => Ok(Format::InToto),
            "ocsf" => Ok(Format::Ocsf),
            _ => Err(Error::InvalidArgument(format!(
                "unknown format {s:?}: expected cdevents, intoto or ocsf"
            ))),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Format::CDEvents => "CDEvents event",
            Format::InToto => "in-toto attestation",
            Format::Ocsf => "OCSF event",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        Format::from_name(s)
    }
}

/// The events of an input: one JSON document (an array is a list of events), or JSON Lines.
/// Objects with a repeated key are refused (see [`parse_json`]). The error names the line.
pub fn parse_events(input: &[u8]) -> Result<Vec<Value>> {
    let text = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::malformed("input", "holds no event"));
    }
    match parse_json(text) {
        Ok(Value::Array(events)) => Ok(events),
        Ok(v) => Ok(vec![v]),
        Err(whole) => {
            // Not one document: JSON Lines, if every non-blank line is a document.
            let mut events = Vec::new();
            for (n, line) in text.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match parse_json(line) {
                    Ok(v) => events.push(v),
                    // A document spanning lines that is broken: report it as a whole.
                    Err(_) if n == 0 => return Err(whole),
                    Err(Error::Malformed { reason, .. }) => {
                        return Err(Error::malformed(
                            "input",
                            format!("line {}: {reason}", n + 1),
                        ))
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(events)
        }
    }
}

/// The entries for an input, without appending them: what [`import`] would write.
pub fn to_entries(format: Format, input: &[u8]) -> Result<Vec<Value>> {
    let events = parse_events(input)?;
    let many = events.len() > 1;
    events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            map_event(format, ev).map_err(|e| match e {
                Error::Malformed { what, reason } if many => Error::Malformed {
                    what,
                    reason: format!("event {} of {}: {reason}", i + 1, events.len()),
                },
                other => other,
            })
        })
        .collect()
}

/// Parse, map and append every event of `input` in one atomic batch.
pub fn import(ledger: &Ledger, format: Format, input: &[u8]) -> Result<Vec<Receipt>> {
    let entries = to_entries(format, input)?;
    ledger.append_batch(&entries)
}

/// One event's entry.
pub fn map_event(format: Format, event: &Value) -> Result<Value> {
    let obj = event
        .as_object()
        .ok_or_else(|| Error::malformed(format.what(), "must be a JSON object"))?;
    match format {
        Format::CDEvents => cdevents(obj),
        Format::InToto => intoto(event),
        Format::Ocsf => ocsf(obj),
    }
}

// ---- helpers -------------------------------------------------------------------------

fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A scalar as text (OCSF and CDEvents ids are sometimes numbers).
fn text(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Builder {
    e: Map<String, Value>,
    attrs: Map<String, Value>,
    links: Vec<Value>,
}

impl Builder {
    fn new(id: String, actor: Value, action: String, subject: (String, String)) -> Builder {
        let mut e = Map::new();
        e.insert("id".into(), id.into());
        e.insert("actor".into(), actor);
        e.insert("action".into(), action.into());
        e.insert(
            "subject".into(),
            json!({"type": subject.0, "id": subject.1}),
        );
        Builder {
            e,
            attrs: Map::new(),
            links: Vec::new(),
        }
    }

    fn attr(&mut self, k: &str, v: Option<impl Into<String>>) {
        if let Some(v) = v {
            let v: String = v.into();
            if !v.is_empty() {
                self.attrs.insert(k.into(), v.into());
            }
        }
    }

    fn link(&mut self, rel: &str, r: impl Into<String>) {
        let r: String = r.into();
        let l = json!({"rel": rel, "ref": r});
        if !r.is_empty() && self.links.len() < MAX_LINKS && !self.links.contains(&l) {
            self.links.push(l);
        }
    }

    fn occurred_at(&mut self, t: Option<String>) {
        if let Some(t) = t.filter(|t| Timestamp::parse(t).is_ok()) {
            self.e.insert("occurred_at".into(), t.into());
        }
    }

    fn finish(mut self, payload: &Value) -> Value {
        if !self.links.is_empty() {
            self.e.insert("links".into(), self.links.into());
        }
        if !self.attrs.is_empty() {
            self.e.insert("attrs".into(), self.attrs.into());
        }
        self.e.insert("payload".into(), payload.clone());
        Value::Object(self.e)
    }
}

fn actor(id: &str, via: &[&str], role: Option<&str>, tenant: Option<&str>) -> Value {
    let mut a = Map::new();
    a.insert("id".into(), id.into());
    if let Some(r) = role {
        a.insert("role".into(), r.into());
    }
    if let Some(t) = tenant {
        a.insert("tenant".into(), t.into());
    }
    let via: Vec<&str> = via
        .iter()
        .copied()
        .filter(|v| !v.is_empty() && *v != id)
        .collect();
    if !via.is_empty() {
        a.insert("via".into(), via.into());
    }
    Value::Object(a)
}

/// Bound an id to SPEC's 256 characters.
fn bounded_id(prefix: &str, native: &str, event: &Value) -> String {
    let id = format!("{prefix}:{native}");
    if id.chars().count() <= 256 {
        id
    } else {
        format!("{prefix}:sha256:{}", canonical_digest(event))
    }
}

// ---- CDEvents ------------------------------------------------------------------------

fn cdevents(obj: &Map<String, Value>) -> Result<Value> {
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

    // Who: the person the event names, reported by its source; else the source itself.
    let person = c("user")
        .or_else(|| c("updatedBy"))
        .or_else(|| c("creator"))
        .or_else(|| c("author"));
    let actor_v = match person {
        Some(p) => actor(p, &[source], None, None),
        None => actor(source, &[], None, None),
    };
    let subject_kind_l = subject_kind.to_ascii_lowercase();
    let action = action_of(&[family, subject_kind, predicate]);
    let mut b = Builder::new(
        bounded_id("cdevents", &id, &ev),
        actor_v,
        action,
        (subject_kind_l.clone(), subject_id.clone()),
    );
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
    if let Some(u) = c("uri").or_else(|| c("url")) {
        let run = matches!(
            subject_kind_l.as_str(),
            "pipelinerun" | "taskrun" | "build" | "testsuiterun" | "testcaserun"
        );
        if run {
            b.link("run", format!("ci:{u}"));
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

// ---- in-toto -------------------------------------------------------------------------

const STATEMENT_TYPES: &[&str] = &[
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];

/// What was inside an attestation document.
struct Unwrapped {
    statement: Value,
    payload_type: Option<String>,
    keyids: Vec<String>,
    signatures: usize,
}

fn unwrap_intoto(doc: &Value) -> Result<Unwrapped> {
    let bad = |reason: String| Error::malformed("in-toto attestation", reason);
    // A Sigstore bundle carries the DSSE envelope as `dsseEnvelope`.
    let env = doc.get("dsseEnvelope").unwrap_or(doc);
    if env.get("payload").is_none() {
        if doc.get("_type").is_none() {
            return Err(bad(
                "neither an in-toto Statement (`_type`) nor a DSSE envelope (`payload`)".into(),
            ));
        }
        return Ok(Unwrapped {
            statement: doc.clone(),
            payload_type: None,
            keyids: Vec::new(),
            signatures: 0,
        });
    }
    let payload_type =
        s(env, "/payloadType").ok_or_else(|| bad("DSSE envelope without `payloadType`".into()))?;
    if !(payload_type == "application/vnd.in-toto+json"
        || (payload_type.starts_with("application/vnd.in-toto.")
            && payload_type.ends_with("+json")))
    {
        return Err(bad(format!(
            "DSSE payloadType {payload_type:?} is not an in-toto type (application/vnd.in-toto+json)"
        )));
    }
    let b64 = s(env, "/payload").ok_or_else(|| bad("DSSE `payload` is not a string".into()))?;
    let bytes = STANDARD
        .decode(b64)
        .or_else(|_| URL_SAFE.decode(b64))
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64))
        .map_err(|e| bad(format!("DSSE `payload` is not base64: {e}")))?;
    let statement =
        parse_json(&bytes).map_err(|e| bad(format!("DSSE payload is not JSON: {e}")))?;
    let sigs = env
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("DSSE envelope without a `signatures` array".into()))?;
    Ok(Unwrapped {
        statement,
        payload_type: Some(payload_type.to_owned()),
        keyids: sigs
            .iter()
            .filter_map(|g| s(g, "/keyid").map(str::to_owned))
            .collect(),
        signatures: sigs.len(),
    })
}

/// `git:<sha>` for a git commit digest, else `<alg>:<hex>` with the strongest algorithm.
fn digest_ref(digest: &Value) -> Option<(String, String)> {
    let d = digest.as_object()?;
    if let Some(c) = d.get("gitCommit").and_then(Value::as_str) {
        return Some(("commit".into(), c.to_owned()));
    }
    for alg in ["sha256", "sha512", "sha384", "sha3_256", "sha1"] {
        if let Some(h) = d.get(alg).and_then(Value::as_str) {
            return Some(("artifact".into(), format!("{alg}:{h}")));
        }
    }
    let (alg, h) = d.iter().find_map(|(k, v)| v.as_str().map(|h| (k, h)))?;
    Some(("artifact".into(), format!("{alg}:{h}")))
}

fn ref_of((kind, id): &(String, String)) -> String {
    if kind == "commit" {
        format!("git:{id}")
    } else {
        id.clone()
    }
}

/// The predicate's short name from its type URI: the last path segment that is not a
/// version (`https://slsa.dev/provenance/v1` → `provenance`).
fn predicate_name(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let path = path.split_once("://").map_or(path, |(_, p)| p);
    let is_version = |seg: &str| {
        let seg = seg.strip_prefix('v').unwrap_or(seg);
        !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit() || c == '.')
    };
    path.split('/')
        .rev()
        .find(|seg| !seg.is_empty() && !is_version(seg) && !seg.contains('@'))
        .map(|seg| seg.split('@').next().unwrap_or(seg))
        .map(action_segment)
        .unwrap_or_else(|| "statement".into())
}

fn intoto(doc: &Value) -> Result<Value> {
    let bad = |reason: String| Error::malformed("in-toto attestation", reason);
    let u = unwrap_intoto(doc)?;
    let st = &u.statement;
    let ty = s(st, "/_type").ok_or_else(|| bad("`_type` is missing".into()))?;
    // The document's digest: the same statement bare and enveloped are two documents.
    let id = format!("intoto:sha256:{}", canonical_digest(doc));
    let signer = u.keyids.first().map(|k| format!("key:{k}"));
    let mut b;
    if ty == "link" {
        // Classic in-toto link metadata (in-toto spec 1.0), as DSSE payload.
        let name = s(st, "/name").ok_or_else(|| bad("link without `name`".into()))?;
        let who = signer.clone().unwrap_or_else(|| "unknown".into());
        b = Builder::new(
            id,
            actor(&who, &[], None, None),
            "intoto.link".into(),
            ("step".into(), name.to_owned()),
        );
        for (rel, key) in [("material", "materials"), ("product", "products")] {
            if let Some(m) = st.get(key).and_then(Value::as_object) {
                for digest in m.values() {
                    if let Some(r) = digest_ref(digest) {
                        b.link(rel, ref_of(&r));
                    }
                }
            }
        }
        if let Some(cmd) = st.get("command").and_then(Value::as_array) {
            let words: Vec<&str> = cmd.iter().filter_map(Value::as_str).collect();
            b.attr("intoto.command", Some(words.join(" ")));
        }
        b.attr("intoto.type", Some("link"));
    } else {
        if !STATEMENT_TYPES.contains(&ty) {
            return Err(bad(format!(
                "`_type` {ty:?} is not an in-toto Statement ({})",
                STATEMENT_TYPES.join(", ")
            )));
        }
        let subjects = st
            .get("subject")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("`subject` must be a non-empty array".into()))?;
        let mut refs = Vec::new();
        for (i, sub) in subjects.iter().enumerate() {
            let r = sub
                .get("digest")
                .and_then(digest_ref)
                .ok_or_else(|| bad(format!("`subject[{i}].digest` is missing or empty")))?;
            refs.push(r);
        }
        let predicate_type =
            s(st, "/predicateType").ok_or_else(|| bad("`predicateType` is missing".into()))?;
        let pred = st.get("predicate").cloned().unwrap_or(Value::Null);
        let name = predicate_name(predicate_type);
        // Who attests: the builder of SLSA provenance, else the signing key.
        let builder = s(&pred, "/runDetails/builder/id").or_else(|| s(&pred, "/builder/id"));
        let verifier = s(&pred, "/verifier/id");
        let who = builder
            .or(verifier)
            .map(str::to_owned)
            .or_else(|| signer.clone())
            .unwrap_or_else(|| "unknown".into());
        let mut action = vec!["intoto".to_owned(), name.clone()];
        let result = s(&pred, "/result").or_else(|| s(&pred, "/verificationResult"));
        if let Some(r) = result {
            action.push(action_segment(r));
        }
        let action = action_of(&action.iter().map(String::as_str).collect::<Vec<_>>());
        // To what: the first subject by digest (`git:` commits as `commit`), its name as a label.
        b = Builder::new(id, actor(&who, &[], None, None), action, refs[0].clone());
        b.attr(
            "intoto.subject_name",
            s(&subjects[0], "/name").filter(|n| *n != "_"),
        );
        for r in &refs {
            b.link("subject", ref_of(r));
        }
        b.attr("intoto.predicate_type", Some(predicate_type));
        b.attr("intoto.subjects", Some(subjects.len().to_string()));
        b.attr("intoto.result", result);
        // SLSA provenance v1 / v0.2.
        b.attr(
            "slsa.build_type",
            s(&pred, "/buildDefinition/buildType").or_else(|| s(&pred, "/buildType")),
        );
        b.attr("slsa.builder", builder);
        let invocation = s(&pred, "/runDetails/metadata/invocationId")
            .or_else(|| s(&pred, "/metadata/buildInvocationId"));
        b.attr("slsa.invocation", invocation);
        if let Some(url) = invocation
            .or_else(|| s(&pred, "/url"))
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            b.link("run", format!("ci:{url}"));
        }
        let deps = pred
            .pointer("/buildDefinition/resolvedDependencies")
            .or_else(|| pred.get("materials"))
            .and_then(Value::as_array);
        for d in deps.into_iter().flatten() {
            match d.get("digest").and_then(digest_ref) {
                Some(r) => b.link("built_from", ref_of(&r)),
                None => {
                    if let Some(uri) = s(d, "/uri") {
                        b.link("built_from", uri);
                    }
                }
            }
        }
        let config = s(&pred, "/invocation/configSource/uri").or_else(|| {
            s(
                &pred,
                "/buildDefinition/externalParameters/workflow/repository",
            )
        });
        b.attr("slsa.source", config);
        // A verification summary says which policy allowed the subject.
        if name == "verification_summary" && result == Some("PASSED") {
            if let Some(policy) = s(&pred, "/policy/uri") {
                let mut authz = json!({"decision": "allow", "policy": policy});
                if let Some(d) = pred.pointer("/policy/digest").and_then(digest_ref) {
                    authz["policy_version"] = d.1.into();
                }
                b.e.insert("authz".into(), authz);
            }
        }
        b.occurred_at(
            s(&pred, "/runDetails/metadata/finishedOn")
                .or_else(|| s(&pred, "/metadata/buildFinishedOn"))
                .or_else(|| s(&pred, "/timeVerified"))
                .or_else(|| s(&pred, "/runDetails/metadata/startedOn"))
                .or_else(|| s(&pred, "/metadata/buildStartedOn"))
                .map(str::to_owned),
        );
    }
    if let Some(pt) = &u.payload_type {
        b.attr("dsse.payload_type", Some(pt.clone()));
        b.attr("dsse.signatures", Some(u.signatures.to_string()));
        b.attr("dsse.keyid", u.keyids.first().cloned());
    }
    Ok(b.finish(doc))
}

// ---- OCSF ----------------------------------------------------------------------------

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

fn ocsf(obj: &Map<String, Value>) -> Result<Value> {
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
    fn predicate_names() {
        assert_eq!(
            predicate_name("https://slsa.dev/provenance/v1"),
            "provenance"
        );
        assert_eq!(
            predicate_name("https://slsa.dev/provenance/v0.2"),
            "provenance"
        );
        assert_eq!(
            predicate_name("https://in-toto.io/attestation/test-result/v0.1"),
            "test-result"
        );
        assert_eq!(
            predicate_name("https://slsa.dev/verification_summary/v1"),
            "verification_summary"
        );
        assert_eq!(predicate_name("https://spdx.dev/Document"), "document");
        assert_eq!(
            predicate_name("https://slsa.dev/provenance/v1?draft"),
            "provenance"
        );
    }

    #[test]
    fn inputs_are_documents_arrays_or_lines() {
        assert_eq!(parse_events(b"{\"a\": 1}").unwrap().len(), 1);
        assert_eq!(parse_events(b"[{\"a\": 1}, {\"b\": 2}]").unwrap().len(), 2);
        assert_eq!(
            parse_events(b"{\"a\": 1}\n\n{\"b\": 2}\n").unwrap().len(),
            2
        );
        let e = parse_events(b"{\"a\": 1}\n{\"b\": }\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_events(b"  \n").is_err());
        assert!(parse_events(b"{\"a\": 1, \"a\": 2}").is_err());
    }

    #[test]
    fn ocsf_times_are_milliseconds() {
        assert_eq!(
            ocsf_time(1_679_072_879_000).as_deref(),
            Some("2023-03-17T17:07:59Z")
        );
        assert_eq!(ocsf_time(1_631_047_050_642_854_000), None);
    }
}
