//! Reading stored leaves without a full parse: the caller-given fields and the `id`.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

use super::canonical::write_object;

/// Canonical encoding of the caller-given fields of a stored entry (everything but `v` and
/// `time`), to compare with [`ValidEntry::caller_fields_canonical`].
pub fn stored_caller_fields_canonical(leaf: &[u8]) -> Result<Vec<u8>> {
    let obj: Map<String, Value> = serde_json::from_slice(leaf)
        .map_err(|e| Error::Internal(format!("stored entry is not JSON: {e}")))?;
    let mut out = Vec::new();
    write_object(
        &mut out,
        obj.iter().filter(|(k, _)| *k != "v" && *k != "time"),
    );
    Ok(out)
}

/// The `id` of a stored entry, read from its canonical JSON without parsing the rest.
///
/// `verify` reads every entry to check the id index against it; a full parse would cost more
/// than hashing the leaf. Canonical JSON lists the top-level keys sorted (all of them ASCII),
/// so the scan stops at the first key past `id`, and skips the values before it byte by
/// byte, jumping over strings. `Err` names what is wrong with bytes that are not one JSON
/// object; the caller names the leaf.
///
/// ```
/// use trailseal::entry::stored_id;
/// let leaf = br#"{"action":"deploy","actor":{"id":"alice"},"id":"req-7","v":1}"#;
/// assert_eq!(stored_id(leaf).unwrap().as_deref(), Some("req-7"));
/// assert_eq!(stored_id(br#"{"actor":{"id":"alice"},"v":1}"#).unwrap(), None);
/// assert!(stored_id(b"not json").is_err());
/// ```
pub fn stored_id(leaf: &[u8]) -> std::result::Result<Option<std::borrow::Cow<'_, str>>, String> {
    let ws = |mut i: usize| {
        while leaf.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    // The index of the quote closing the string that opens at `i`.
    let string_end = |i: usize| -> std::result::Result<usize, String> {
        let mut j = i + 1;
        loop {
            let rest = leaf.get(j..).unwrap_or_default();
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(k) if rest[k] == b'"' => return Ok(j + k),
                Some(k) => j += k + 2,
                None => return Err(format!("a string at byte {i} does not end")),
            }
        }
    };
    let mut i = ws(0);
    if leaf.get(i) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    i = ws(i + 1);
    if leaf.get(i) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        if leaf.get(i) != Some(&b'"') {
            return Err(format!("expected a key at byte {i}"));
        }
        let end = string_end(i)?;
        let key = &leaf[i + 1..end];
        i = ws(end + 1);
        if leaf.get(i) != Some(&b':') {
            return Err(format!("expected ':' at byte {i}"));
        }
        i = ws(i + 1);
        match key.cmp(b"id".as_slice()) {
            std::cmp::Ordering::Greater => return Ok(None),
            std::cmp::Ordering::Equal => {
                if leaf.get(i) != Some(&b'"') {
                    return Err("`id` is not a string".into());
                }
                let end = string_end(i)?;
                let raw = &leaf[i + 1..end];
                return if raw.contains(&b'\\') {
                    serde_json::from_slice::<String>(&leaf[i..=end])
                        .map(|s| Some(s.into()))
                        .map_err(|e| format!("`id`: {e}"))
                } else {
                    std::str::from_utf8(raw)
                        .map(|s| Some(s.into()))
                        .map_err(|e| format!("`id`: {e}"))
                };
            }
            std::cmp::Ordering::Less => {}
        }
        // Skip the value: a string, a nested object or array, or a number or literal.
        let mut depth = 0usize;
        loop {
            match leaf.get(i) {
                None => return Err("the object does not end".into()),
                Some(b'"') => i = string_end(i)? + 1,
                Some(b'{' | b'[') => {
                    depth += 1;
                    i += 1;
                }
                Some(b',' | b'}') if depth == 0 => break,
                Some(b'}' | b']') => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("unbalanced at byte {i}"))?;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        i = ws(i);
        match leaf.get(i) {
            Some(b',') => i = ws(i + 1),
            Some(b'}') => return Ok(None),
            _ => return Err(format!("expected ',' or '}}' at byte {i}")),
        }
    }
}
