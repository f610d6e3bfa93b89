//! Our RFC 8785 writer against the `serde_json_canonicalizer` crate and the RFC's examples.

use proptest::prelude::*;
use serde_json::{json, Value};
use trailseal::entry::canonical_json;

fn reference(v: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(v).unwrap()
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('"'),
                Just('\\'),
                Just('\u{2028}'),
                Just('\u{e000}'),
                Just('\u{ffff}'),
                Just('\u{10000}'),
                Just('\u{1f600}'),
                Just('é'),
                any::<char>(),
            ],
            0..6
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    const SAFE: i64 = (1 << 53) - 1;
    prop_oneof![
        (-SAFE..=SAFE).prop_map(Value::from),
        // Beyond 2^53 too: RFC 8785 writes every number as the double nearest to it.
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(0.0f64),
            Just(-0.0),
            Just(1e21),
            Just(1e-7),
            Just(1e-6),
            Just(123e20),
            Just(5e-324),
            Just(f64::MAX),
            Just(0.1 + 0.2),
            Just(1e17),
            Just(9007199254740993.0),
            Just(-1.2e19),
            Just(1.8446744073709552e19),
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just((1u64 << 53) + 1),
            Just(1 << 60),
            Just(100_000_000_000_000_000),
            Just(u64::MAX),
        ]
        .prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_string(), inner.clone(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            // Members in any order, and more of them than the writer sorts on the stack.
            prop::collection::vec((arb_string(), inner), 0..24)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn matches_the_reference_canonicalizer(v in arb_json()) {
        let ours = canonical_json(&v);
        let theirs = reference(&v);
        prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        // canonical output is a fixed point
        let back: Value = serde_json::from_slice(&ours).unwrap();
        prop_assert_eq!(canonical_json(&back), ours);
    }
}

// The RFC's own literal, digits beyond f64 precision included.
#[allow(clippy::excessive_precision)]
#[test]
fn rfc8785_examples() {
    // RFC 8785 section 3.2.3 (sorting) and appendix B (numbers)
    let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
                   "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
    let got = String::from_utf8(canonical_json(&v)).unwrap();
    let keys: Vec<&str> = vec![
        "\r",
        "1",
        "\u{80}",
        "\u{f6}",
        "\u{20ac}",
        "\u{1f600}",
        "\u{fb33}",
    ];
    let mut at = 0;
    for k in keys {
        let pos = got[at..]
            .find(&serde_json::to_string(k).unwrap())
            .unwrap_or_else(|| panic!("{k:?} out of order in {got}"));
        at += pos;
    }
    for (f, want) in [
        (0.0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1e-6, "0.000001"),
        (333333333.33333329, "333333333.3333333"),
        (9007199254740992.0, "9007199254740992"),
        (-1.5e-300, "-1.5e-300"),
        (4.5, "4.5"),
    ] {
        assert_eq!(
            String::from_utf8(canonical_json(&json!(f))).unwrap(),
            want,
            "{f:e}"
        );
    }
    assert_eq!(
        canonical_json(&json!("\u{7}\u{1f}é\"\\/")),
        "\"\\u0007\\u001fé\\\"\\\\/\"".as_bytes().to_vec()
    );
}
