//! Reading JavaScript arguments into core values, and writing core values back.
//!
//! Arguments arrive as `Unknown` and are checked here, so that a value of the wrong type is
//! refused with the core's `invalid_argument` code (not napi's own error codes).
//!
//! Entries are JSON documents: an object is turned into JSON text by the engine's own
//! `JSON.stringify` (so `toJSON`, `Date` and `undefined` behave as everywhere in JS) and then
//! parsed by the core's strict parser (`entry::parse_json`); a string is taken as JSON text
//! as it is. Entries read back are handed to `JSON.parse`. Proofs carry 64-bit integers, so
//! they are read field by field instead, accepting `number` and `bigint`.

use napi::bindgen_prelude::{
    BigInt, Buffer, Function, JsObjectValue, JsValue, Object, Uint8Array, Unknown, ValueType,
};
use napi::{Env, JsString};
use serde_json::Value;
use trailseal::Error;

use crate::error::bad_arg;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// How deeply nested a proof object may be before it is refused (it guards against cycles).
const MAX_DEPTH: usize = 64;

/// A napi failure while reading an argument: a JS exception thrown by user code (a getter,
/// `toJSON`) or a failing engine call.
pub(crate) fn napi_failure(what: &str, e: napi::Error) -> Error {
    Error::InvalidArgument(format!("{what}: {}", e.reason))
}

pub(crate) fn type_of(v: &Unknown<'_>) -> Result<ValueType, Error> {
    v.get_type().map_err(|e| napi_failure("argument", e))
}

/// `undefined` or `null`: an optional argument left out.
pub(crate) fn is_nullish(v: &Unknown<'_>) -> Result<bool, Error> {
    Ok(matches!(
        type_of(v)?,
        ValueType::Undefined | ValueType::Null
    ))
}

pub(crate) fn string(v: &Unknown<'_>, what: &str) -> Result<String, Error> {
    if type_of(v)? != ValueType::String {
        return Err(bad_arg(format!("{what} must be a string")));
    }
    // SAFETY: the value was just checked to be a string.
    let s: JsString = unsafe { v.cast() }.map_err(|e| napi_failure(what, e))?;
    s.into_utf8()
        .and_then(|u| u.into_owned())
        .map_err(|e| napi_failure(what, e))
}

pub(crate) fn boolean(v: &Unknown<'_>, what: &str) -> Result<bool, Error> {
    if type_of(v)? != ValueType::Boolean {
        return Err(bad_arg(format!("{what} must be a boolean")));
    }
    // SAFETY: the value was just checked to be a boolean.
    unsafe { v.cast::<bool>() }.map_err(|e| napi_failure(what, e))
}

/// A number as a JS number, for options such as a wait in milliseconds.
pub(crate) fn number(v: &Unknown<'_>, what: &str) -> Result<f64, Error> {
    if type_of(v)? != ValueType::Number {
        return Err(bad_arg(format!("{what} must be a number")));
    }
    // SAFETY: the value was just checked to be a number.
    unsafe { v.cast::<f64>() }.map_err(|e| napi_failure(what, e))
}

/// A leaf index or tree size: a non-negative integer `number` (exact, so at most
/// `Number.MAX_SAFE_INTEGER`) or a `bigint` that fits in 64 bits.
pub(crate) fn u64_arg(v: &Unknown<'_>, what: &str) -> Result<u64, Error> {
    match type_of(v)? {
        ValueType::Number => {
            // SAFETY: the value was just checked to be a number.
            let n = unsafe { v.cast::<f64>() }.map_err(|e| napi_failure(what, e))?;
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER {
                Ok(n as u64)
            } else {
                Err(bad_arg(format!(
                    "{what} must be a non-negative integer (at most 2^53 - 1 as a number, or a bigint), got {n}"
                )))
            }
        }
        ValueType::BigInt => {
            // SAFETY: the value was just checked to be a bigint.
            let b = unsafe { v.cast::<BigInt>() }.map_err(|e| napi_failure(what, e))?;
            match b.get_u64() {
                (false, n, true) => Ok(n),
                _ => Err(bad_arg(format!(
                    "{what} must be a bigint from 0 to 2^64 - 1"
                ))),
            }
        }
        _ => Err(bad_arg(format!("{what} must be a number or a bigint"))),
    }
}

/// An optional index or size: `undefined`/`null` is `None`.
pub(crate) fn opt_u64(v: Option<Unknown<'_>>, what: &str) -> Result<Option<u64>, Error> {
    match v {
        Some(v) if !is_nullish(&v)? => u64_arg(&v, what).map(Some),
        _ => Ok(None),
    }
}

/// A plain object (options): anything but an array, a function or a primitive.
pub(crate) fn object<'env>(v: &Unknown<'env>, what: &str) -> Result<Object<'env>, Error> {
    if type_of(v)? != ValueType::Object || v.is_array().unwrap_or(false) {
        return Err(bad_arg(format!("{what} must be an object")));
    }
    // SAFETY: the value was just checked to be an object.
    unsafe { v.cast::<Object>() }.map_err(|e| napi_failure(what, e))
}

/// The own enumerable properties of an options object that are not `undefined`, each checked
/// against the names the option accepts, so a misspelt option is refused, not ignored.
pub(crate) fn options<'env>(
    v: Option<Unknown<'env>>,
    what: &str,
    allowed: &[&str],
) -> Result<Vec<(String, Unknown<'env>)>, Error> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    if is_nullish(&v)? {
        return Ok(Vec::new());
    }
    let obj = object(&v, what)?;
    let mut out = Vec::new();
    for key in keys(&obj, what)? {
        let value: Unknown = obj
            .get_named_property(&key)
            .map_err(|e| napi_failure(what, e))?;
        if type_of(&value)? == ValueType::Undefined {
            continue;
        }
        if !allowed.contains(&key.as_str()) {
            return Err(bad_arg(format!(
                "{what}: unknown option {key:?} (expected one of {})",
                allowed.join(", ")
            )));
        }
        out.push((key, value));
    }
    Ok(out)
}

pub(crate) fn keys(obj: &Object<'_>, what: &str) -> Result<Vec<String>, Error> {
    let names = obj
        .get_property_names()
        .map_err(|e| napi_failure(what, e))?;
    let len = names
        .get_array_length()
        .map_err(|e| napi_failure(what, e))?;
    let mut out = Vec::with_capacity(len as usize);
    for i in 0..len {
        let k: Unknown = names.get_element(i).map_err(|e| napi_failure(what, e))?;
        // Property names come back as strings (integer-like keys included).
        out.push(string(&k, what)?);
    }
    Ok(out)
}

fn elements<'env>(v: &Unknown<'env>, what: &str) -> Result<Vec<Unknown<'env>>, Error> {
    if !v.is_array().map_err(|e| napi_failure(what, e))? {
        return Err(bad_arg(format!("{what} must be an array")));
    }
    // SAFETY: the value was just checked to be an array (an object).
    let obj: Object = unsafe { v.cast() }.map_err(|e| napi_failure(what, e))?;
    let len = obj.get_array_length().map_err(|e| napi_failure(what, e))?;
    (0..len)
        .map(|i| obj.get_element(i).map_err(|e| napi_failure(what, e)))
        .collect()
}

/// An array argument, each element read by `f` (given its position).
pub(crate) fn array<T>(
    v: &Unknown<'_>,
    what: &str,
    mut f: impl FnMut(usize, &Unknown<'_>) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    elements(v, what)?
        .iter()
        .enumerate()
        .map(|(i, e)| f(i, e))
        .collect()
}

/// Raw leaf bytes: a `Buffer` or any `Uint8Array` (copied), or a string (its UTF-8 bytes).
pub(crate) fn bytes(v: &Unknown<'_>, what: &str) -> Result<Vec<u8>, Error> {
    match type_of(v)? {
        ValueType::String => Ok(string(v, what)?.into_bytes()),
        ValueType::Object if v.is_buffer().unwrap_or(false) => {
            // SAFETY: the value was just checked to be a Buffer.
            let b = unsafe { v.cast::<Buffer>() }.map_err(|e| napi_failure(what, e))?;
            Ok(b.to_vec())
        }
        ValueType::Object if v.is_typedarray().unwrap_or(false) => {
            // SAFETY: a typed array; `Uint8Array::from_napi_value` checks its element type.
            let a = unsafe { v.cast::<Uint8Array>() }.map_err(|_| {
                bad_arg(format!(
                    "{what} must be a Uint8Array, not another typed array"
                ))
            })?;
            Ok(a.to_vec())
        }
        _ => Err(bad_arg(format!(
            "{what} must be a Buffer, a Uint8Array or a string"
        ))),
    }
}

fn json_global<'env>(env: &'env Env) -> Result<Object<'env>, Error> {
    env.get_global()
        .and_then(|g| g.get_named_property::<Object>("JSON"))
        .map_err(|e| napi_failure("JSON", e))
}

/// The JSON text of an entry: a string is taken as JSON text; anything else goes through
/// `JSON.stringify`. The core parses it strictly later (off the JS thread).
pub(crate) fn entry_text(env: &Env, v: &Unknown<'_>, what: &str) -> Result<String, Error> {
    if type_of(v)? == ValueType::String {
        return string(v, what);
    }
    let stringify: Function<Unknown, Unknown> = json_global(env)?
        .get_named_property("stringify")
        .map_err(|e| napi_failure("JSON.stringify", e))?;
    let out = stringify.call(*v).map_err(|e| Error::Malformed {
        what: "JSON",
        reason: format!("{what} cannot be written as JSON: {}", e.reason),
    })?;
    if type_of(&out)? != ValueType::String {
        // `JSON.stringify(undefined)` and functions: no JSON at all. `null` lets the core
        // refuse it with its own "must be an object" message.
        return Ok("null".into());
    }
    string(&out, what)
}

/// Parse JSON text strictly (repeated keys refused) into a value.
pub(crate) fn parse_entry(text: &str, pos: Option<usize>) -> Result<Value, Error> {
    trailseal::entry::parse_json(text.as_bytes()).map_err(|e| match (e, pos) {
        (Error::Malformed { what, reason }, Some(pos)) => Error::Malformed {
            what,
            reason: format!("entry {pos} of the batch: {reason}"),
        },
        (e, _) => e,
    })
}

/// JSON text as a JS value, through `JSON.parse`.
pub(crate) fn parse_js(env: &Env, text: String) -> napi::Result<Unknown<'_>> {
    let parse: Function<String, Unknown> = env
        .get_global()?
        .get_named_property::<Object>("JSON")?
        .get_named_property("parse")?;
    parse.call(text)
}

/// The JSON value of an argument given as an object (through `JSON.stringify`, so a `Date`
/// becomes its RFC 3339 text) or as JSON text, parsed strictly (a repeated key is refused).
pub(crate) fn json_arg(env: &Env, v: &Unknown<'_>, what: &str) -> Result<Value, Error> {
    trailseal::entry::parse_json(entry_text(env, v, what)?.as_bytes())
}

/// A time: an RFC 3339 string or a `Date`.
pub(crate) fn time_arg(
    env: &Env,
    v: &Unknown<'_>,
    what: &str,
) -> Result<trailseal::Timestamp, Error> {
    let bad = || bad_arg(format!("{what} must be an RFC 3339 string or a Date"));
    match type_of(v)? {
        ValueType::String => trailseal::Timestamp::parse(&string(v, what)?),
        ValueType::Object if v.is_date().unwrap_or(false) => match json_arg(env, v, what)? {
            // `JSON.stringify` of an invalid Date is `null`.
            Value::String(s) => trailseal::Timestamp::parse(&s),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// An array of strings.
pub(crate) fn strings(v: &Unknown<'_>, what: &str) -> Result<Vec<String>, Error> {
    array(v, what, |i, e| string(e, &format!("{what}[{i}]")))
}

/// A proof given as an object (fields read exactly, `number` or `bigint` for integers) or
/// as its SPEC JSON text, as the JSON text the core's proof parser reads.
pub(crate) fn proof_text(env: &Env, v: &Unknown<'_>, what: &'static str) -> Result<String, Error> {
    match type_of(v)? {
        ValueType::String => string(v, what),
        ValueType::Object => Ok(to_json(env, v, what, 0)?.to_string()),
        _ => Err(bad_arg(format!(
            "{what} must be an object or its JSON text"
        ))),
    }
}

/// A JS value as JSON for a core parser, with integers exact (`bigint` too, which
/// `JSON.stringify` refuses) and a `Date` as its RFC 3339 text.
pub(crate) fn json_value(env: &Env, v: &Unknown<'_>, what: &'static str) -> Result<Value, Error> {
    to_json(env, v, what, 0)
}

/// A JS value as JSON, with integers exact (`bigint` too). `undefined`, functions and
/// symbols are left out of objects and are `null` in arrays, as `JSON.stringify` does; a
/// `Date` is what `JSON.stringify` makes of it.
fn to_json(env: &Env, v: &Unknown<'_>, what: &'static str, depth: usize) -> Result<Value, Error> {
    let malformed = |reason: String| Error::Malformed { what, reason };
    if depth > MAX_DEPTH {
        return Err(malformed("nested too deeply (or cyclic)".into()));
    }
    Ok(match type_of(v)? {
        ValueType::Null | ValueType::Undefined | ValueType::Function | ValueType::Symbol => {
            Value::Null
        }
        ValueType::Boolean => Value::Bool(boolean(v, what)?),
        ValueType::String => Value::String(string(v, what)?),
        ValueType::Number => {
            let n = number(v, what)?;
            if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
                Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| malformed(format!("{n} is not a JSON number")))?
            }
        }
        ValueType::BigInt => {
            // SAFETY: the value was just checked to be a bigint.
            let b = unsafe { v.cast::<BigInt>() }.map_err(|e| napi_failure(what, e))?;
            match (b.get_u64(), b.get_i64()) {
                ((false, n, true), _) => Value::from(n),
                (_, (n, true)) => Value::from(n),
                _ => return Err(malformed("a bigint does not fit in 64 bits".into())),
            }
        }
        ValueType::Object if v.is_date().unwrap_or(false) => json_arg(env, v, what)?,
        ValueType::Object if v.is_array().unwrap_or(false) => Value::Array(
            elements(v, what)?
                .iter()
                .map(|e| to_json(env, e, what, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        ValueType::Object => {
            // SAFETY: the value was just checked to be an object.
            let obj: Object = unsafe { v.cast() }.map_err(|e| napi_failure(what, e))?;
            let mut map = serde_json::Map::new();
            for key in keys(&obj, what)? {
                let value: Unknown = obj
                    .get_named_property(&key)
                    .map_err(|e| napi_failure(what, e))?;
                if matches!(
                    type_of(&value)?,
                    ValueType::Undefined | ValueType::Function | ValueType::Symbol
                ) {
                    continue;
                }
                map.insert(key, to_json(env, &value, what, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => return Err(malformed("unsupported value".into())),
    })
}

/// Bytes as a new `Buffer`.
pub(crate) fn buffer(bytes: Vec<u8>) -> Buffer {
    Buffer::from(bytes)
}
