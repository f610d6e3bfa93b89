//! The canonical encoding (RFC 8785, JCS) entries are stored in, and the strict parser that
//! refuses what JCS cannot represent (duplicate keys, numbers beyond what a double holds).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Largest integer a JSON number may hold and still mean the same thing to every JCS
/// implementation: RFC 8785 numbers are IEEE 754 doubles, and integers above 2^53 would
/// silently change value when another language re-encodes them. Beyond it, an integer is
/// accepted only in the form RFC 8785 itself writes a double in (see `is_jcs_exact`).
pub(super) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// RFC 8785 (JCS) canonical JSON of `value`.
///
/// Keys are sorted by UTF-16 code units, strings use the minimal JSON escapes, and numbers
/// are written as ECMAScript writes them (`ryu-js`). Written here rather than with a generic
/// canonicalizer because it runs once per append and has to be cheap; the test suite checks it
/// against the `serde_json_canonicalizer` crate.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

pub(super) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(o) if sorted_ascii_keys(o) => {
            write_members(out, o.iter().map(|(k, v)| (k.as_str(), v)))
        }
        Value::Object(o) => write_object(out, o.iter()),
    }
}

/// The member `key` of `v` if it is an object, found by a scan: for the few members of a
/// link that is cheaper than hashing the key.
pub(super) fn member<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find_map(|(k, x)| (k == key).then_some(x))
}

/// Whether the keys of `o` are ASCII and already in RFC 8785 order (as they often are), so
/// that it can be written as it stands.
fn sorted_ascii_keys(o: &Map<String, Value>) -> bool {
    let mut keys = o.keys();
    let Some(mut prev) = keys.next() else {
        return true;
    };
    if !prev.is_ascii() {
        return false;
    }
    for k in keys {
        if !k.is_ascii() || k <= prev {
            return false;
        }
        prev = k;
    }
    true
}

/// Members held on the stack when sorting an object; larger objects sort in a `Vec`.
const INLINE_MEMBERS: usize = 8;

static NULL: Value = Value::Null;

pub(super) fn write_object<'v>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'v String, &'v Value)>,
) {
    let mut inline: [(&str, &Value); INLINE_MEMBERS] = [("", &NULL); INLINE_MEMBERS];
    let mut spilled: Vec<(&str, &Value)> = Vec::new();
    let mut n = 0;
    for (k, v) in members {
        if n < INLINE_MEMBERS {
            inline[n] = (k, v);
        } else {
            if spilled.is_empty() {
                spilled.extend_from_slice(&inline);
            }
            spilled.push((k, v));
        }
        n += 1;
    }
    let members = if n <= INLINE_MEMBERS {
        &mut inline[..n]
    } else {
        &mut spilled[..]
    };
    // Byte order equals UTF-16 order unless a key holds characters above U+FFFF.
    if members.iter().all(|(k, _)| k.is_ascii()) {
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    } else {
        members.sort_unstable_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    }
    write_members(out, members.iter().copied());
}

/// `{"key":value,...}`, the members in the order given.
fn write_members<'v>(out: &mut Vec<u8>, members: impl Iterator<Item = (&'v str, &'v Value)>) {
    out.push(b'{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

/// RFC 8785 numbers are IEEE 754 doubles written as ECMAScript writes them. An integer within
/// 2^53 is its own ECMAScript form (plain digits), so it is written with `itoa`; any other
/// number, an integer beyond 2^53 included, goes through `ryu-js` as the double nearest to it.
/// (An integer that `validate` accepts beyond 2^53 is already in that form, so both ways give
/// the same digits for it.)
fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    if let Some(u) = n.as_u64().filter(|&u| u <= MAX_SAFE_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        out.extend_from_slice(ryu_js::Buffer::new().format(number_as_f64(n)).as_bytes());
    }
}

/// The double nearest to `n` (round to nearest, ties to even, as `as` casts do).
fn number_as_f64(n: &serde_json::Number) -> f64 {
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => u as f64,
        (None, Some(i)) => i as f64,
        // serde_json never holds a non-finite float, so this is always a JSON number.
        _ => n.as_f64().unwrap_or(0.0),
    }
}

/// Whether an integer beyond 2^53 may stand in an entry: exactly when its decimal text is the
/// ECMAScript form of the double nearest to it. That is the text RFC 8785 writes for that
/// double, so such an integer is what a float like `1e17` is stored as, and every JCS
/// implementation reads and writes it back unchanged; any other integer beyond 2^53 (like
/// `9007199254740993`, which a double cannot hold) would change value and is refused.
pub(super) fn is_jcs_exact(n: &serde_json::Number, text: &str) -> bool {
    ryu_js::Buffer::new().format(number_as_f64(n)) == text
}

/// For each byte: 0 if it stands as itself in a JSON string, else the letter of its short
/// escape (`n` for `\n`), or `u` for `\u00XX`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Runs without escapes are copied whole.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[b as usize];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if esc == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Parse JSON text strictly: like `serde_json::from_slice`, but an object with a repeated key
/// is refused instead of silently keeping the last value (RFC 8785 input must be I-JSON, and
/// an auditor must not see `"actor"` twice with only one of them recorded).
///
/// ```
/// assert!(trailseal::entry::parse_json(br#"{"a": 1, "a": 2}"#).is_err());
/// assert_eq!(trailseal::entry::parse_json(b"[1]").unwrap(), serde_json::json!([1]));
/// ```
pub fn parse_json(text: &[u8]) -> Result<Value> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v))
        .map_err(|e| Error::malformed("JSON", e.to_string()))?;
    Ok(value)
}

struct StrictValue;

impl<'de> serde::de::DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(StrictValue)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
