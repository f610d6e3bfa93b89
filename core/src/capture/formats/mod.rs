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

use serde_json::{json, Map, Value};

use crate::entry::{parse_json, Timestamp};
use crate::error::{Error, Result};
use crate::ledger::{Ledger, Receipt};

use super::canonical_digest;

mod cdevents;
mod intoto;
mod ocsf;

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
    let mut events = parse_events(input)?;
    if format == Format::InToto {
        events = events.into_iter().flat_map(intoto::expand).collect();
    }
    let many = events.len() > 1;
    let entries = events
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
        .collect::<Result<Vec<_>>>()?;
    // Two events of one input under one id: the same event delivered twice is recorded once,
    // two different ones are refused here, naming both, before the ledger sees them (its own
    // refusal would name an index the refused batch never wrote).
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(id) = e.get("id").and_then(Value::as_str) else {
            continue;
        };
        match seen.get(id) {
            Some(&j) if entries[j] != *e => {
                return Err(Error::malformed(
                    format.what(),
                    format!(
                        "event {} of {}: its id {id:?} is also event {}'s, which is another \
                         event (an id names one event); nothing written",
                        i + 1,
                        entries.len(),
                        j + 1
                    ),
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(id, i);
            }
        }
    }
    Ok(entries)
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
        Format::CDEvents => cdevents::map(obj),
        Format::InToto => intoto::map(event),
        Format::Ocsf => ocsf::map(obj),
    }
}

pub(super) fn s<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A scalar as text (OCSF and CDEvents ids are sometimes numbers).
pub(super) fn text(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) struct Builder {
    pub(super) e: Map<String, Value>,
    attrs: Map<String, Value>,
    links: Vec<Value>,
}

impl Builder {
    pub(super) fn new(
        id: String,
        actor: Value,
        action: String,
        subject: (String, String),
    ) -> Builder {
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

    pub(super) fn attr(&mut self, k: &str, v: Option<impl Into<String>>) {
        if let Some(v) = v {
            let v: String = v.into();
            if !v.is_empty() {
                self.attrs.insert(k.into(), v.into());
            }
        }
    }

    pub(super) fn link(&mut self, rel: &str, r: impl Into<String>) {
        let r: String = r.into();
        let l = json!({"rel": rel, "ref": r});
        if !r.is_empty() && self.links.len() < MAX_LINKS && !self.links.contains(&l) {
            self.links.push(l);
        }
    }

    pub(super) fn occurred_at(&mut self, t: Option<String>) {
        if let Some(t) = t.filter(|t| Timestamp::parse(t).is_ok()) {
            self.e.insert("occurred_at".into(), t.into());
        }
    }

    pub(super) fn finish(mut self, payload: &Value) -> Value {
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

pub(super) fn actor(id: &str, via: &[&str], role: Option<&str>, tenant: Option<&str>) -> Value {
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
pub(super) fn bounded_id(prefix: &str, native: &str, event: &Value) -> String {
    let id = format!("{prefix}:{native}");
    if id.chars().count() <= 256 {
        id
    } else {
        format!("{prefix}:sha256:{}", canonical_digest(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
