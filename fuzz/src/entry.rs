//! Target `entry`: arbitrary bytes as an audit entry.
//!
//! - `entry::parse_json` never panics; `entry::canonical_json` is a fixed point (the canonical
//!   text parses back to a value with the same canonical text).
//! - Anything `entry::validate` accepts encodes to bytes that are their own canonical JSON,
//!   carry `v` and the given `time`, and re-encode to the same bytes: parse them back, drop
//!   `time` (the ledger assigns it, so validation refuses it), validate again, encode with the
//!   same time. The id rule compares the same caller fields before and after.
//! - Indexing an entry (`query::Term::of_entry`) never panics.
//! - `entry::stored_id` (how `verify` reads ids) never panics on any bytes, and on canonical
//!   JSON agrees with a full parse: the top-level `id` if it is a string, an error if it is
//!   something else, none if there is none; on a stored entry, the id it was given.

use serde_json::Value;
use trailseal::entry::{self, Timestamp, DEFAULT_MAX_ENTRY_BYTES};
use trailseal::ErrorCode;

/// Times the entry is stamped with: the epoch, a present-day one, the last nanosecond of 9999.
fn times() -> [Timestamp; 3] {
    [
        Timestamp::EPOCH,
        Timestamp::from_unix_nanos(1_795_000_000_123_456_789),
        Timestamp::from_unix_nanos(253_402_300_799_999_999_999),
    ]
}

/// The target.
pub fn run(data: &[u8]) {
    let _ = entry::stored_id(data);
    let value = match entry::parse_json(data) {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::Malformed, "{e}");
            return;
        }
    };
    let canonical = entry::canonical_json(&value);
    let back = entry::parse_json(&canonical).expect("canonical JSON parses");
    assert_eq!(
        entry::canonical_json(&back),
        canonical,
        "canonical_json is not a fixed point"
    );

    let _ = trailseal::query::Term::of_entry(&value);
    let scanned = entry::stored_id(&canonical);
    match value.as_object().map(|o| o.get("id")) {
        None => assert!(scanned.is_err(), "not an object, yet {scanned:?}"),
        Some(None) => assert_eq!(scanned, Ok(None)),
        Some(Some(Value::String(id))) => {
            assert_eq!(
                scanned.as_ref().map(|s| s.as_deref()),
                Ok(Some(id.as_str()))
            )
        }
        Some(Some(_)) => assert!(scanned.is_err(), "id not a string, yet {scanned:?}"),
    }

    // The index the entry would get decides which links are earlier entries.
    for index in [0, 7, u64::MAX] {
        let valid = match entry::validate(&value, index) {
            Ok(v) => v,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidEntry, "{e}");
                continue;
            }
        };
        for time in times() {
            assert_eq!(Timestamp::parse(&time.to_string()).unwrap(), time);
            let bytes = match valid.encode(&time, DEFAULT_MAX_ENTRY_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::InvalidEntry, "{e}");
                    continue;
                }
            };
            let len = bytes.len() as u64;
            assert!(valid.encode(&time, len).is_ok(), "refused at its own size");
            let e = valid
                .encode(&time, len - 1)
                .expect_err("one byte over the limit");
            assert_eq!(e.code(), ErrorCode::InvalidEntry, "{e}");
            let stored = entry::parse_json(&bytes).expect("leaf bytes are JSON");
            assert_eq!(
                entry::canonical_json(&stored),
                bytes,
                "leaf bytes not canonical"
            );
            assert_eq!(stored["v"], Value::from(entry::FORMAT_VERSION));
            assert_eq!(
                entry::stored_id(&bytes).expect("a stored entry").as_deref(),
                valid.id()
            );
            assert_eq!(stored["time"], Value::from(time.to_string()));
            // The id rule: a retry is recognised by its caller fields.
            assert_eq!(
                entry::stored_caller_fields_canonical(&bytes).expect("stored entry"),
                valid.caller_fields_canonical(),
                "caller fields differ once stored"
            );
            let mut again = stored.clone();
            again.as_object_mut().expect("an object").remove("time");
            let revalid = entry::validate(&again, index).unwrap_or_else(|e| {
                panic!(
                    "the stored form of an accepted entry is refused: {e}\n{}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            assert_eq!(revalid.id(), valid.id());
            assert_eq!(
                revalid.linked_indexes().collect::<Vec<_>>(),
                valid.linked_indexes().collect::<Vec<_>>()
            );
            let rebytes = revalid
                .encode(&time, DEFAULT_MAX_ENTRY_BYTES)
                .expect("same size as before");
            assert_eq!(rebytes, bytes, "re-encoding changed the leaf bytes");
            assert_eq!(
                revalid.caller_fields_canonical(),
                valid.caller_fields_canonical()
            );
        }
    }
}
