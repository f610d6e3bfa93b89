//! The one place where a core error becomes a JavaScript `Error`.
//!
//! Every error the package throws or rejects with is an `Error` whose `code` is the core's
//! [`ErrorCode::as_str`] (`'invalid_entry'`, `'locked'`, ...), whose `message` is the core's
//! message, and whose `status` is the numeric code (the C status, 1 to 18). Argument problems
//! that only JavaScript can have (a number where a string belongs) are mapped onto the same
//! codes, so callers never see napi's own `GenericFailure`/`InvalidArg` codes.

use napi::bindgen_prelude::{JsObjectValue, JsValue, Status};
use napi::Env;
use trailseal::{Error, ErrorCode};

/// The JS `code` of a core error code: the table is the core's own, one to one.
pub(crate) fn code_str(code: ErrorCode) -> &'static str {
    code.as_str()
}

/// Turn a core error into the JS error object napi throws or rejects with.
pub(crate) fn js_error(env: &Env, e: &Error) -> napi::Error {
    let code = e.code();
    let build = || -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, e.to_string()))?;
        obj.set_named_property("code", code_str(code))?;
        obj.set_named_property("status", code.as_u32())?;
        Ok(napi::Error::from(obj.to_unknown()))
    };
    // Only a failing napi call (an environment being torn down) gets here; napi then throws a
    // plain error carrying the same text and code.
    build().unwrap_or_else(|_| napi::Error::new(Status::GenericFailure, e.to_string()))
}

/// The error of every call on a closed ledger: the core's `closed` code.
pub(crate) fn closed() -> Error {
    Error::closed("ledger")
}

/// An argument of the wrong JS type or value.
pub(crate) fn bad_arg(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

/// Turn a panic payload into the core's `internal` error.
pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Error {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    Error::Internal(format!("panic in trailseal: {msg}"))
}

/// Run `f`, turning a panic into the core's `internal` error (the JS thread must not unwind
/// into Node).
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(from_panic(p)))
}
