//! Shared by the case table runners of the core and the command (`cli/tests/cases.rs`
//! includes this file by path).

use serde_json::{json, Value};

/// What an `erase` row reads of an entry (tests/vectors/README.md): `{"actor", "erased",
/// "sealed"}`, null when absent; an erased entry's actor is null, its commitment being
/// salted afresh in each run.
pub fn erase_read(e: &Value) -> Value {
    let erased = e
        .get("erased")
        .map(|x| x["by"].clone())
        .unwrap_or(Value::Null);
    let actor = if erased.is_null() {
        e["actor"]["id"].clone()
    } else {
        Value::Null
    };
    json!({"actor": actor, "erased": erased,
           "sealed": e.get("sealed").cloned().unwrap_or(Value::Null)})
}
