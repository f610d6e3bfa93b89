//! Entries as text for a person: the shared lines and phrases of the commands' readable
//! (not `--json`) output.

use serde_json::Value;

/// The string at `pointer`, or nothing: an entry may lack an optional field, and a blank
/// column reads better in a table than an error.
pub fn str_at<'a>(e: &'a Value, pointer: &str) -> &'a str {
    e.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Who acted, with whoever they acted through.
pub fn actor_of(e: &Value) -> String {
    let mut s = str_at(e, "/actor/id").to_owned();
    if let Some(via) = e.pointer("/actor/via").and_then(Value::as_array) {
        let via: Vec<&str> = via.iter().filter_map(Value::as_str).collect();
        s.push_str(&format!(" (via {})", via.join(", ")));
    }
    s
}

/// `TYPE:ID`, the form `--subject` takes, so what is printed can be pasted back.
pub fn subject_of(e: &Value) -> String {
    format!(
        "{}:{}",
        str_at(e, "/subject/type"),
        str_at(e, "/subject/id")
    )
}

/// `DECISION by POLICY vNN: REASON`, or nothing for an entry without authorization.
pub fn authz_of(e: &Value) -> String {
    if e.get("authz").is_none() {
        return String::new();
    }
    let mut s = format!(
        "{} by {}",
        str_at(e, "/authz/decision"),
        str_at(e, "/authz/policy")
    );
    let v = str_at(e, "/authz/policy_version");
    if !v.is_empty() {
        s.push_str(&format!(" v{v}"));
    }
    let r = str_at(e, "/authz/reason");
    if !r.is_empty() {
        s.push_str(&format!(": {r}"));
    }
    s
}

/// One entry on one line, as trace, why and the bundle listings draw it: `#N ACTION SUBJECT
/// by ACTOR at TIME (occurred OCCURRED_AT) [AUTHZ]`.
pub fn node_line(index: u64, e: &Value) -> String {
    let mut s = format!(
        "#{index} {} {} by {} at {}",
        str_at(e, "/action"),
        subject_of(e),
        actor_of(e),
        str_at(e, "/time")
    );
    // The ledger's `time` is when it was recorded; what the source says happened when is
    // shown beside it, labelled, never in its place (an imported history was all recorded
    // at once).
    let occurred = str_at(e, "/occurred_at");
    if !occurred.is_empty() {
        s.push_str(&format!(" (occurred {occurred})"));
    }
    let a = authz_of(e);
    if !a.is_empty() {
        s.push_str(&format!(" [{a}]"));
    }
    s
}

/// `s` cut to `width` characters, its end replaced by `…` when cut, so a long actor id (an
/// email, an ARN, a builder URL) does not push the table's columns out of line. The full
/// value is in `--json`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// "1 entry", "N entries".
pub fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}
