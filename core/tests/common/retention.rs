//! Retention helpers of the retention and prune tests: who records, rules, times ahead.

use serde_json::{json, Value};
use trailseal::retention::{Period, RetentionRules};
use trailseal::{RecordedBy, Timestamp};

/// The `authz` of a records officer's entries.
pub fn authz() -> Value {
    json!({"decision": "allow", "policy": "records-management", "reason": "SOX retention schedule"})
}

/// A records officer recording with `authz`.
pub fn by(authz: &Value) -> RecordedBy<'_> {
    RecordedBy {
        actor: "records-officer",
        authz,
    }
}

/// A rules document that parses.
pub fn rules(v: Value) -> RetentionRules {
    RetentionRules::from_json(&v).unwrap()
}

/// `years` (and `days`) after now (entries are stamped now, retention is judged ahead).
pub fn ahead(years: u32, days: u32) -> Timestamp {
    Period {
        years,
        months: 0,
        days,
    }
    .after(Timestamp::now())
}
