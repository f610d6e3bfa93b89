//! What the package returns: the core's own JSON forms, unchanged.
//!
//! Every result that has a JSON form in the core (a receipt, a proof, a checkpoint, a verify
//! report, a query match, a trace, a gate result, a report, a bundle report) is made by that
//! form's `to_json` and handed to the engine's `JSON.parse`, so it is field for field what
//! `trailseal ... --json` prints and what every other binding returns: snake_case names such
//! as `leaf_hash` or `nodes_checked` included. The TypeScript shapes are in
//! `types-header.d.ts`. Integers are JS numbers (exact up to 2^53 - 1).
//!
//! The JSON text is written where the work is done (on libuv's pool, for Promises), so the JS
//! thread only parses it.

use std::sync::Weak;

use napi::bindgen_prelude::{
    sys, JsObjectValue, JsValue, Object, ToNapiValue, TypeName, ValueType,
};
use napi::Env;
use serde_json::Value;

/// A result as JSON text, `JSON.parse`d when it reaches JavaScript.
pub struct Json(pub String);

impl Json {
    /// A core JSON form.
    pub fn of(v: &Value) -> Json {
        Json(v.to_string())
    }

    /// Several core JSON forms, as an array.
    pub fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Json {
        Json::of(&Value::Array(items.iter().map(f).collect()))
    }
}

impl TypeName for Json {
    fn type_name() -> &'static str {
        "Json"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        Ok(crate::convert::parse_js(&env, val.0)?.raw())
    }
}

/// What `ledger.gate()` evaluated, kept (invisibly, by `napi_wrap`) on the plain result object
/// it resolves with, so that `ledger.recordGate()` records exactly that evaluation.
///
/// The core's `GateResult::to_json` leaves out the gated subject and there is no way back from
/// JSON to a `GateResult`, so the result object cannot be rebuilt from its fields.
pub(crate) struct GateKept {
    /// The evaluation.
    pub(crate) result: trailseal::GateResult,
    /// The policy it was evaluated with.
    pub(crate) policy: trailseal::GatePolicy,
    /// The ledger handle it was evaluated on.
    pub(crate) ledger: Weak<crate::ledger::Shared>,
}

/// A gate result: its JSON form, and what `recordGate` needs of it.
pub struct GateOutcome(pub(crate) GateKept);

impl TypeName for GateOutcome {
    fn type_name() -> &'static str {
        "GateResult"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for GateOutcome {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let text = val.0.result.to_json().to_string();
        let parsed = crate::convert::parse_js(&env, text)?;
        // SAFETY: `JSON.parse` of a JSON object's text is an object.
        let mut obj: Object = unsafe { parsed.cast() }?;
        obj.wrap(val.0, None)?;
        Ok(obj.raw())
    }
}
