//! "Where do approvals wait?": approval latency, approvals per approver, and changes and
//! break-glass actions per ISO week.
//!
//! Read through the indexes only: every `approval.granted` entry, the entries on each approved
//! subject (to find the request before each approval), every entry of the change actions and
//! every `break_glass` decision; never the whole ledger.
//!
//! Definitions:
//!
//! - An entry's *time* here is its `occurred_at` (when the source says it happened) if it has
//!   one, else the ledger's `time`: a history imported after the fact reports on when things
//!   happened, not on when they were recorded.
//! - `since` keeps entries whose time is at or after it (for latency: the approval's time).
//! - A *wait* is one `approval.granted` and the latest entry before it (by index) on the same
//!   subject whose action ends in `.requested`; its length is the approval's time minus the
//!   request's (never below 0). Approvals with no such request (a policy approval, say) have
//!   no wait.
//! - Median: the middle wait, or the mean of the two middle ones. p90: the nearest-rank 90th
//!   percentile (the smallest wait with at least 90% of waits at or below it).
//! - Changes: entries whose action is one of the change actions (default
//!   `deploy.succeeded`). Break-glass actions: entries whose `authz.decision` is
//!   `break_glass`. Weeks are ISO 8601 weeks in UTC, e.g. `2026-W46`; only weeks with some
//!   change, break-glass action or approval are listed.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::entry::Timestamp;
use crate::error::Result;
use crate::gate::all_matches;
use crate::ledger::Ledger;
use crate::query::{Found, Order, Query};

/// How a report is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Actions counted as changes (default `["deploy.succeeded"]`).
    pub change_actions: Vec<String>,
}

impl ReportOptions {
    /// The JSON form every binding accepts: `{"since": "<RFC 3339>", "change_actions":
    /// ["deploy.succeeded", ...]}`, both optional.
    pub fn from_json(v: &serde_json::Value) -> Result<ReportOptions> {
        let bad = |why: &str| crate::Error::Malformed {
            what: "report options",
            reason: why.to_owned(),
        };
        let obj = v.as_object().ok_or_else(|| bad("must be an object"))?;
        if let Some(k) = obj.keys().find(|k| *k != "since" && *k != "change_actions") {
            return Err(bad(&format!("unknown key {k:?}")));
        }
        let mut o = ReportOptions::default();
        if let Some(s) = obj.get("since").filter(|v| !v.is_null()) {
            o.since = Some(Timestamp::parse(
                s.as_str().ok_or_else(|| bad("since must be a string"))?,
            )?);
        }
        if let Some(a) = obj.get("change_actions").filter(|v| !v.is_null()) {
            o.change_actions = a
                .as_array()
                .ok_or_else(|| bad("change_actions must be a list"))?
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("change_actions must be strings"))
                })
                .collect::<Result<_>>()?;
            if o.change_actions.is_empty() || o.change_actions.iter().any(String::is_empty) {
                return Err(bad("change_actions must name at least one action"));
            }
        }
        Ok(o)
    }
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            since: None,
            change_actions: vec!["deploy.succeeded".into()],
        }
    }
}

/// One approval and the request it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    /// `TYPE:ID` of the subject.
    pub subject: String,
    /// Index of the `*.requested` entry.
    pub request: u64,
    /// Index of the `approval.granted` entry.
    pub approval: u64,
    /// Who approved.
    pub approver: String,
    /// Approval time minus request time, in nanoseconds (at least 0).
    pub nanos: i128,
}

/// One ISO week's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Week {
    /// `YYYY-Www`.
    pub week: String,
    /// Change entries.
    pub changes: u64,
    /// Break-glass entries.
    pub break_glass: u64,
    /// `approval.granted` entries.
    pub approvals: u64,
}

/// The report (see the [module documentation](self) for each figure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The `since` it was made with.
    pub since: Option<Timestamp>,
    /// Every wait, in approval order.
    pub waits: Vec<Wait>,
    /// Median wait in nanoseconds (`None` without waits).
    pub median_nanos: Option<i128>,
    /// 90th percentile wait in nanoseconds (`None` without waits).
    pub p90_nanos: Option<i128>,
    /// `(approver, approvals)`, most approvals first, then by name.
    pub approvals_by_approver: Vec<(String, u64)>,
    /// Weeks in order.
    pub weeks: Vec<Week>,
}

/// Seconds as a JSON number: an integer when whole.
fn seconds(nanos: i128) -> Value {
    if nanos % 1_000_000_000 == 0 {
        json!((nanos / 1_000_000_000) as i64)
    } else {
        json!(nanos as f64 / 1e9)
    }
}

impl Report {
    /// ```text
    /// {"since": "<RFC 3339>" | null,
    ///  "approval_latency": {"waits": N, "median_seconds": S | null, "p90_seconds": S | null},
    ///  "waits": [{"subject", "request", "approval", "approver", "seconds"}],
    ///  "approvals_by_approver": [{"approver": "bob", "approvals": 3}],
    ///  "weeks": [{"week": "2026-W46", "changes": 2, "break_glass": 1, "approvals": 3}]}
    /// ```
    pub fn to_json(&self) -> Value {
        json!({
            "since": self.since.map(|t| t.to_string()),
            "approval_latency": {
                "waits": self.waits.len(),
                "median_seconds": self.median_nanos.map(seconds),
                "p90_seconds": self.p90_nanos.map(seconds),
            },
            "waits": self.waits.iter().map(|w| json!({
                "subject": w.subject, "request": w.request, "approval": w.approval,
                "approver": w.approver, "seconds": seconds(w.nanos),
            })).collect::<Vec<_>>(),
            "approvals_by_approver": self.approvals_by_approver.iter()
                .map(|(a, n)| json!({"approver": a, "approvals": n}))
                .collect::<Vec<_>>(),
            "weeks": self.weeks.iter().map(|w| json!({
                "week": w.week, "changes": w.changes, "break_glass": w.break_glass,
                "approvals": w.approvals,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The entry's `occurred_at` if it has a valid one, else its `time`.
pub fn effective_time(e: &Value) -> Option<Timestamp> {
    e.get("occurred_at")
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
        .or_else(|| {
            e.get("time")
                .and_then(Value::as_str)
                .and_then(|s| Timestamp::parse(s).ok())
        })
}

/// `YYYY-Www`, the ISO 8601 week of `t` in UTC.
pub fn iso_week(t: Timestamp) -> String {
    let d = OffsetDateTime::from_unix_timestamp_nanos(t.unix_nanos())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (year, week, _) = d.to_iso_week_date();
    format!("{year:04}-W{week:02}")
}

fn str_at<'a>(e: &'a Value, p: &str) -> &'a str {
    e.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// No cap on what a report reads: it is meant to read every entry of its actions.
const NO_CAP: usize = usize::MAX;

impl Ledger {
    /// The approvals report (default change actions), optionally from `since` on.
    pub fn report(&self, since: Option<Timestamp>) -> Result<Report> {
        self.report_with(&ReportOptions {
            since,
            ..ReportOptions::default()
        })
    }

    /// The approvals report with options.
    pub fn report_with(&self, opts: &ReportOptions) -> Result<Report> {
        let keep = |f: &Found| -> Option<Timestamp> {
            effective_time(&f.entry).filter(|t| opts.since.is_none_or(|s| *t >= s))
        };
        let by_action = |action: &str| Query {
            action: Some(action.to_owned()),
            order: Order::OldestFirst,
            ..Query::default()
        };
        let mut weeks: BTreeMap<String, Week> = BTreeMap::new();
        fn week(weeks: &mut BTreeMap<String, Week>, t: Timestamp) -> &mut Week {
            let w = iso_week(t);
            weeks.entry(w.clone()).or_insert(Week {
                week: w,
                changes: 0,
                break_glass: 0,
                approvals: 0,
            })
        }

        let approvals = all_matches(self, by_action("approval.granted"), NO_CAP, "")?;
        // subject -> its `*.requested` entries (index, time), oldest first
        let mut requests: HashMap<(String, String), Vec<(u64, Timestamp)>> = HashMap::new();
        let mut per_approver: BTreeMap<String, u64> = BTreeMap::new();
        let mut waits = Vec::new();
        for a in &approvals {
            let Some(t) = keep(a) else { continue };
            week(&mut weeks, t).approvals += 1;
            let approver = str_at(&a.entry, "/actor/id").to_owned();
            *per_approver.entry(approver.clone()).or_default() += 1;
            let subject = (
                str_at(&a.entry, "/subject/type").to_owned(),
                str_at(&a.entry, "/subject/id").to_owned(),
            );
            if !requests.contains_key(&subject) {
                let on = all_matches(
                    self,
                    Query {
                        subject: Some(subject.clone()),
                        order: Order::OldestFirst,
                        ..Query::default()
                    },
                    NO_CAP,
                    "",
                )?;
                let reqs = on
                    .iter()
                    .filter(|f| str_at(&f.entry, "/action").ends_with(".requested"))
                    .filter_map(|f| effective_time(&f.entry).map(|t| (f.index, t)))
                    .collect();
                requests.insert(subject.clone(), reqs);
            }
            let latest = requests[&subject]
                .iter()
                .rev()
                .find(|(i, _)| *i < a.index)
                .copied();
            if let Some((request, rt)) = latest {
                waits.push(Wait {
                    subject: format!("{}:{}", subject.0, subject.1),
                    request,
                    approval: a.index,
                    approver,
                    nanos: (t.unix_nanos() - rt.unix_nanos()).max(0),
                });
            }
        }

        for action in &opts.change_actions {
            for f in all_matches(self, by_action(action), NO_CAP, "")? {
                if let Some(t) = keep(&f) {
                    week(&mut weeks, t).changes += 1;
                }
            }
        }
        let bg = Query {
            decision: Some("break_glass".into()),
            order: Order::OldestFirst,
            ..Query::default()
        };
        for f in all_matches(self, bg, NO_CAP, "")? {
            if let Some(t) = keep(&f) {
                week(&mut weeks, t).break_glass += 1;
            }
        }

        let mut sorted: Vec<i128> = waits.iter().map(|w| w.nanos).collect();
        sorted.sort_unstable();
        let n = sorted.len();
        let median = (n > 0).then(|| {
            if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2
            }
        });
        // nearest rank: ceil(0.9 n), counted from 1
        let p90 = (n > 0).then(|| sorted[(n * 9).div_ceil(10) - 1]);
        let mut approvals_by_approver: Vec<(String, u64)> = per_approver.into_iter().collect();
        approvals_by_approver.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Report {
            since: opts.since,
            waits,
            median_nanos: median,
            p90_nanos: p90,
            approvals_by_approver,
            weeks: weeks.into_values().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_cross_year_boundaries() {
        let w = |s: &str| iso_week(Timestamp::parse(s).unwrap());
        assert_eq!(w("2026-11-09T00:00:00Z"), "2026-W46");
        assert_eq!(w("2026-11-08T23:59:59Z"), "2026-W45");
        assert_eq!(w("2025-12-29T00:00:00Z"), "2026-W01");
        assert_eq!(w("2027-01-01T12:00:00Z"), "2026-W53");
    }

    #[test]
    fn seconds_are_integers_when_whole() {
        assert_eq!(seconds(5_400_000_000_000), json!(5400));
        assert_eq!(seconds(1_500_000_000), json!(1.5));
    }
}
