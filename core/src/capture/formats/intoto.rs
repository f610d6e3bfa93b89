//! in-toto attestations as entries: Statements (SLSA provenance, VSAs, test results, ...),
//! bare, in DSSE envelopes or Sigstore bundles, and classic in-toto link metadata. The
//! mapping table is in `docs/CAPTURE.md`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde_json::{json, Value};

use super::{actor, s, Builder};
use crate::capture::refs;
use crate::capture::{action_of, action_segment, canonical_digest};
use crate::entry::parse_json;
use crate::error::{Error, Result};

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
    // Classic in-toto metadata (`in-toto-run` writes links so): `{"signed": {...},
    // "signatures": [{"keyid", "sig"}]}`.
    if let Some(signed) = doc.get("signed").filter(|v| v.get("_type").is_some()) {
        let sigs = doc
            .get("signatures")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        return Ok(Unwrapped {
            statement: signed.clone(),
            payload_type: None,
            keyids: sigs
                .iter()
                .filter_map(|g| s(g, "/keyid").map(str::to_owned))
                .collect(),
            signatures: sigs.len(),
        });
    }
    // A Sigstore bundle carries the DSSE envelope as `dsseEnvelope`; npm's attestations
    // response wraps the bundle as `bundle`; Cloud Build's provenance names it `envelope`.
    let bundle = doc.get("bundle").unwrap_or(doc);
    let env = bundle
        .get("dsseEnvelope")
        .or_else(|| doc.get("envelope"))
        .unwrap_or(bundle);
    if env.get("payload").is_none() {
        let statement = doc.pointer("/build/intotoStatement").unwrap_or(doc).clone();
        if statement.get("_type").is_none() {
            return Err(bad(
                "neither an in-toto Statement (`_type`), a DSSE envelope (`payload`), a \
                 Sigstore bundle (`dsseEnvelope`), npm attestations (`attestations`), Cloud \
                 Build provenance (`provenance_summary`) nor classic in-toto metadata \
                 (`signed`)"
                    .into(),
            ));
        }
        return Ok(Unwrapped {
            statement,
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

/// The attestations a document holds: npm's attestations response (`{"attestations":
/// [{"predicateType", "bundle"}]}`) and Cloud Build's (`gcloud ... --show-provenance`:
/// `{"provenance_summary": {"provenance": [...]}}`) hold several; anything else is one.
pub(super) fn expand(doc: Value) -> Vec<Value> {
    let list = doc
        .get("attestations")
        .or_else(|| doc.pointer("/provenance_summary/provenance"))
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.iter().all(Value::is_object));
    match list {
        Some(items) if doc.get("_type").is_none() && doc.get("payload").is_none() => items.clone(),
        _ => vec![doc],
    }
}

/// When a Sigstore bundle's first transparency log entry was integrated
/// (`verificationMaterial.tlogEntries[0].integratedTime`, Unix seconds), as RFC 3339 UTC.
fn logged_at(doc: &Value) -> Option<String> {
    let bundle = doc.get("bundle").unwrap_or(doc);
    let t = bundle.pointer("/verificationMaterial/tlogEntries/0/integratedTime")?;
    let secs: i64 = match t {
        Value::String(x) => x.trim().parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let at = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    at.format(&time::format_description::well_known::Rfc3339)
        .ok()
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

/// The source repository of SLSA provenance as `host/path`: v0.2's `configSource`, v1's
/// workflow repository, else the first `git+` dependency.
fn source_repository(
    pred: &Value,
    config: Option<&str>,
    deps: Option<&Vec<Value>>,
) -> Option<String> {
    if let Some((repo, _)) = config.and_then(refs::git_source) {
        return Some(repo);
    }
    if let Some(c) = config.filter(|c| c.starts_with("https://")) {
        return Some(refs::repository_canonical(c, None));
    }
    if let Some(r) = s(
        pred,
        "/buildDefinition/internalParameters/GITHUB_REPOSITORY",
    ) {
        return Some(refs::repository_canonical(r, Some("https://github.com")));
    }
    deps.into_iter()
        .flatten()
        .find_map(|d| s(d, "/uri").and_then(refs::git_source))
        .map(|(repo, _)| repo)
}

/// The run URL of slsa-github-generator's `buildInvocationID` (`<run id>-<attempt>`) when
/// the builder is a GitHub Actions workflow and the source repository is on github.com.
fn github_run(builder: Option<&str>, repository: Option<&str>, id: Option<&str>) -> Option<String> {
    let builder = builder?;
    let repo = repository?.strip_prefix("github.com/")?;
    if !builder.starts_with("https://github.com/") {
        return None;
    }
    let (run, attempt) = id?.split_once('-')?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    (digits(run) && digits(attempt))
        .then(|| format!("https://github.com/{repo}/actions/runs/{run}"))
}

/// One in-toto document's entry.
pub(super) fn map(doc: &Value) -> Result<Value> {
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
                    if let Some(r) = refs::digest_object(digest, None) {
                        b.link(rel, refs::of(&r));
                    }
                }
            }
        }
        if let Some(cmd) = st.get("command").and_then(Value::as_array) {
            let words: Vec<&str> = cmd.iter().filter_map(Value::as_str).collect();
            b.attr("intoto.command", Some(words.join(" ")));
        }
        b.attr("intoto.type", Some("link"));
    } else if ty == "layout" {
        // A classic in-toto layout: the project owner's signed supply-chain policy (which
        // steps, by whose keys, checked how). Named by the digest of what was signed.
        let who = signer.clone().unwrap_or_else(|| "unknown".into());
        b = Builder::new(
            id,
            actor(&who, &[], None, None),
            "intoto.layout".into(),
            ("layout".into(), format!("sha256:{}", canonical_digest(st))),
        );
        b.attr("intoto.type", Some("layout"));
        b.attr("intoto.expires", s(st, "/expires"));
        let names = |key: &str| -> Vec<String> {
            st.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| s(x, "/name").map(str::to_owned))
                .collect()
        };
        b.attr("intoto.steps", Some(names("steps").join(",")));
        b.attr("intoto.inspections", Some(names("inspect").join(",")));
        let keys = st
            .get("keys")
            .and_then(Value::as_object)
            .map_or(0, |k| k.len());
        b.attr("intoto.keys", Some(keys.to_string()));
    } else {
        if !(STATEMENT_TYPES.contains(&ty) || ty.starts_with("https://in-toto.io/Statement/v")) {
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
                .and_then(|d| refs::digest_object(d, None))
                .ok_or_else(|| bad(format!("`subject[{i}].digest` is missing or empty")))?;
            refs.push(r);
        }
        let predicate_type =
            s(st, "/predicateType").ok_or_else(|| bad("`predicateType` is missing".into()))?;
        // Cloud Build's statements carry the predicate as `slsaProvenance`.
        let pred = st
            .get("predicate")
            .or_else(|| st.get("slsaProvenance"))
            .cloned()
            .unwrap_or(Value::Null);
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
            b.link("subject", refs::of(r));
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
        let deps = pred
            .pointer("/buildDefinition/resolvedDependencies")
            .or_else(|| pred.get("materials"))
            .and_then(Value::as_array);
        for d in deps.into_iter().flatten() {
            let uri = s(d, "/uri");
            match d.get("digest").and_then(|g| refs::digest_object(g, uri)) {
                Some(r) => b.link("built_from", refs::of(&r)),
                None => {
                    if let Some(uri) = uri {
                        b.link(
                            "built_from",
                            refs::commit_url(uri).unwrap_or(uri.to_owned()),
                        );
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
        // The source repository, as `import git` and `record` name it.
        let repository = source_repository(&pred, config, deps);
        b.attr("slsa.repository", repository.clone());
        // The run: SLSA v1 `invocationId` (a URL), v0.2 `buildInvocationId`, or
        // slsa-github-generator's `buildInvocationID` (`<run id>-<attempt>`) on GitHub.
        let invocation = s(&pred, "/runDetails/metadata/invocationId")
            .or_else(|| s(&pred, "/metadata/buildInvocationId"))
            .or_else(|| s(&pred, "/metadata/buildInvocationID"));
        b.attr("slsa.invocation", invocation);
        if let Some(url) = invocation
            .or_else(|| s(&pred, "/url"))
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        {
            b.link("run", refs::run(url));
        } else if let Some(url) = github_run(builder, repository.as_deref(), invocation) {
            b.link("run", refs::run(&url));
        }
        // A verification summary says which policy allowed the subject.
        if name == "verification_summary" && result == Some("PASSED") {
            if let Some(policy) = s(&pred, "/policy/uri") {
                let mut authz = json!({"decision": "allow", "policy": policy});
                if let Some(d) = pred
                    .pointer("/policy/digest")
                    .and_then(|d| refs::digest_object(d, None))
                {
                    authz["policy_version"] = d.1.into();
                }
                b.e.insert("authz".into(), authz);
            }
        }
        let stated = s(&pred, "/runDetails/metadata/finishedOn")
            .or_else(|| s(&pred, "/metadata/buildFinishedOn"))
            .or_else(|| s(&pred, "/timeVerified"))
            .or_else(|| s(&pred, "/runDetails/metadata/startedOn"))
            .or_else(|| s(&pred, "/metadata/buildStartedOn"))
            .map(str::to_owned);
        // Most provenance states no time; its Sigstore bundle says when the transparency log
        // (Rekor) took the signature in, which is when it was signed, within the log's slack.
        if stated.is_some() {
            b.occurred_at(stated);
        } else if let Some(t) = logged_at(doc) {
            b.occurred_at(Some(t));
            b.attr("intoto.time_source", Some("rekor.integrated_time"));
        }
    }
    if let Some(pt) = &u.payload_type {
        b.attr("dsse.payload_type", Some(pt.clone()));
        b.attr("dsse.signatures", Some(u.signatures.to_string()));
        b.attr("dsse.keyid", u.keyids.first().cloned());
    }
    Ok(b.finish(doc))
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
}
