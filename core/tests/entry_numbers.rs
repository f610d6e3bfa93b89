//! Numbers in entries (SPEC section 3, RFC 8785): whatever `validate` accepts is stored in a
//! form that, read back and validated again, is accepted and encodes to the same bytes; an
//! integer beyond 2^53 is accepted exactly when it is already in the form RFC 8785 writes
//! the nearest double in (so a float like `1e17`, stored as `100000000000000000`, comes back),
//! and refused otherwise.

use proptest::prelude::*;
use serde_json::{json, Value};
use trailseal::entry::{self, Timestamp, DEFAULT_MAX_ENTRY_BYTES};
use trailseal::{Error, ErrorCode};

const SAFE: u64 = (1 << 53) - 1;

fn entry_with(payload: Value) -> Value {
    json!({"actor": {"id": "a"}, "action": "x", "subject": {"type": "t", "id": "i"},
           "payload": payload, "change": {"after": [payload]}})
}

/// The leaf bytes of an accepted entry, after checking that they come back unchanged.
fn stored(e: &Value) -> Option<Vec<u8>> {
    let t = Timestamp::from_unix_nanos(1_795_000_000_123_456_789);
    let valid = match entry::validate(e, 0) {
        Ok(v) => v,
        Err(err) => {
            assert_eq!(err.code(), ErrorCode::InvalidEntry, "{err}");
            return None;
        }
    };
    let bytes = valid.encode(&t, DEFAULT_MAX_ENTRY_BYTES).unwrap();
    let mut back = entry::parse_json(&bytes).unwrap();
    back.as_object_mut().unwrap().remove("time");
    let again = entry::validate(&back, 0)
        .unwrap_or_else(|err| {
            panic!(
                "stored form refused: {err}\n{}",
                String::from_utf8_lossy(&bytes)
            )
        })
        .encode(&t, DEFAULT_MAX_ENTRY_BYTES)
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&bytes)
    );
    Some(bytes)
}

/// RFC 8785's form of an integer, from the reference canonicalizer.
fn jcs(n: impl serde::Serialize) -> String {
    serde_json_canonicalizer::to_string(&n).unwrap()
}

/// An accepted integer's own digits, wherever it stands.
fn accepted_as_itself(n: &str, bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.contains(&format!("\"payload\":{n},")) && text.contains(&format!("\"after\":[{n}]"))
}

#[test]
fn the_fuzzers_reproducers_round_trip() {
    for seed in [
        &br#"{"actor":{"id":"a"},"action":"x","subject":{"type":"t","id":"i"},"payload":1e17}"#[..],
        br#"{"actor":{"id":"a"},"action":"x","subject":{"type":"t","id":"i"},"payload":9007199254740993.0}"#,
    ] {
        let e = entry::parse_json(seed).unwrap();
        assert!(stored(&e).is_some(), "{}", String::from_utf8_lossy(seed));
    }
}

#[test]
fn integers_beyond_2_pow_53_refused_unless_in_jcs_form() {
    let refused = |n: Value| match entry::validate(&entry_with(n.clone()), 0) {
        // the existing rule, naming the first offending field
        Err(Error::InvalidEntry { field, rule }) => {
            assert_eq!(field, "change.after[0]");
            assert_eq!(
                rule,
                format!(
                    "integer {n} is beyond 2^53: RFC 8785 numbers are IEEE doubles; \
                     write it as a string"
                )
            );
        }
        other => panic!("{n}: {other:?}"),
    };
    refused(json!(SAFE + 2));
    refused(json!(1u64 << 60));
    refused(json!(u64::MAX));
    refused(json!(-(SAFE as i64) - 2));
    for n in [SAFE + 1, 100_000_000_000_000_000, 1_152_921_504_606_847_000] {
        let bytes = stored(&entry_with(json!(n))).expect("accepted");
        assert!(accepted_as_itself(&n.to_string(), &bytes));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn any_u64_is_accepted_exactly_when_jcs_keeps_it(n in prop_oneof![
        any::<u64>(),
        (SAFE - 4..SAFE + 4),
        // integers that are some double's shortest form
        any::<f64>().prop_filter("in range", |f| f.is_finite() && *f >= 0.0 && *f < 1.8e19)
            .prop_map(|f| f.trunc() as u64).prop_map(|u| jcs(u).parse::<u64>().unwrap_or(u)),
    ]) {
        let accepted = stored(&entry_with(json!(n)));
        let keeps = n <= SAFE || jcs(n) == n.to_string();
        prop_assert_eq!(accepted.is_some(), keeps, "{}", n);
        if let Some(bytes) = accepted {
            prop_assert!(accepted_as_itself(&n.to_string(), &bytes));
        }
    }

    #[test]
    fn any_i64_is_accepted_exactly_when_jcs_keeps_it(n in any::<i64>()) {
        let accepted = stored(&entry_with(json!(n)));
        let keeps = n.unsigned_abs() <= SAFE || jcs(n) == n.to_string();
        prop_assert_eq!(accepted.is_some(), keeps, "{}", n);
    }

    #[test]
    fn any_float_is_accepted_and_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let bytes = stored(&entry_with(json!(f))).expect("a float is always accepted");
        let want = jcs(f);
        prop_assert!(accepted_as_itself(&want, &bytes), "{} {}", f, String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn float_text_round_trips(mantissa in any::<i64>(), exp in 0i32..25) {
        // literals as a caller writes them: 123e17, -4.0e20 and the like
        let text = format!(
            r#"{{"actor":{{"id":"a"}},"action":"x","subject":{{"type":"t","id":"i"}},"payload":{mantissa}e{exp}}}"#
        );
        let e = entry::parse_json(text.as_bytes()).unwrap();
        prop_assert!(stored(&e).is_some(), "{}", text);
    }
}
