//! The ledger's `time`: `Timestamp`'s RFC 3339 text (written by hand on the append path) is
//! what the `time` crate writes, for every instant it can hold, and parses back unchanged
//! (years 0000 to 9999).

use proptest::prelude::*;
use serde_json::json;
use time::macros::format_description;
use time::OffsetDateTime;
use trailseal::entry::{self, Timestamp};

const NANOS: i128 = 1_000_000_000;
/// -9999-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z: the `time` crate's range.
const MIN: i128 = -377_705_116_800 * NANOS;
const MAX: i128 = 253_402_300_800 * NANOS - 1;
/// 0000-01-01T00:00:00Z.
const YEAR0: i128 = -62_167_219_200 * NANOS;

/// The `time` crate's rendering of the same instant in the years 0000 to 9999 (the epoch
/// beyond its range); `None` before year 0, where `Timestamp` uses the `time` crate itself.
fn reference(nanos: i128) -> Option<String> {
    let Ok(t) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return Some("1970-01-01T00:00:00.000000000Z".into());
    };
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    (nanos >= YEAR0).then(|| t.format(&format).unwrap())
}

fn check(nanos: i128) {
    let t = Timestamp::from_unix_nanos(nanos);
    let text = t.to_string();
    match reference(nanos) {
        Some(want) => assert_eq!(text, want, "{nanos}"),
        None => assert!(text.starts_with('-') && text.ends_with('Z'), "{text}"),
    }
    // RFC 3339 has four-digit years only, so an instant before year 0 has no RFC 3339 form.
    if (YEAR0..=MAX).contains(&nanos) {
        assert_eq!(Timestamp::parse(&text).unwrap(), t, "{text}");
    }
}

#[test]
fn edges() {
    let (year0, year10000) = (YEAR0, MAX + 1);
    for n in [
        0,
        -1,
        1,
        year0,
        year0 - 1,
        year0 + 1,
        year10000 - 1,
        year10000,
        MIN,
        MIN - 1,
        MAX,
        MAX + 1,
        i128::from(i64::MAX),
        i128::from(i64::MAX) + 1,
        i128::from(i64::MIN),
        i128::from(i64::MIN) - 1,
        951_782_400 * NANOS,     // 2000-02-29
        951_868_800 * NANOS - 1, // 2000-02-29T23:59:59.999999999
        4_107_542_400 * NANOS,   // 2100-03-01
        i128::MAX,
        i128::MIN,
    ] {
        check(n);
    }
}

#[test]
fn every_day_of_four_centuries_and_around_the_epoch() {
    // 1600-01-01 .. 2000-01-01 covers every leap-year rule; each day at a varying time.
    let start = -11_676_096_000i128;
    for day in 0..146_097 + 2 {
        let secs = start + day * 86_400 + (day * 7_919) % 86_400;
        check(secs * NANOS + (day * 104_729) % NANOS);
    }
    for n in -100_000..100_000 {
        check(n * 999_999_937);
    }
}

#[test]
fn encode_writes_the_same_time() {
    let e = json!({"actor": {"id": "a"}, "action": "x", "subject": {"type": "t", "id": "i"}});
    let v = entry::validate(&e, 0).unwrap();
    for n in [0, -1, MIN, MAX, YEAR0 - 1, i128::MAX] {
        let t = Timestamp::from_unix_nanos(n);
        let bytes = v.encode(&t, entry::DEFAULT_MAX_ENTRY_BYTES).unwrap();
        let stored: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(stored["time"], json!(t.to_string()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    #[test]
    fn matches_the_time_crate(n in prop_oneof![
        MIN - NANOS..=MAX + NANOS,
        YEAR0 - 86_400 * NANOS..YEAR0 + 86_400 * NANOS,
        0i128..4_102_444_800 * NANOS,
        any::<i128>(),
    ]) {
        check(n);
    }
}
