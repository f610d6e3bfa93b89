//! Legal holds: what a `legal_hold.placed` entry covers, and whether an entry is under it.
//!
//! A hold covers the entries a query would return (the [`Query::from_json`] form: `subject`,
//! `actor`, `action`, `attrs`, `refs`, ..., `since`/`until` on the ledger's `time`, and
//! `occurred_since`/`occurred_until` on `occurred_at`, which an entry without one never
//! matches, as in a query), held
//! in the entry's `payload.covers`. Paging keys (`order`, `limit`, `cursor`) mean nothing for a
//! hold and are refused, as is a hold that names nothing (use `since` for "everything since").

use serde_json::Value;

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::query::{Query, Term};

/// What one hold covers.
#[derive(Clone, Debug)]
pub struct HoldScope {
    query: Query,
    terms: Vec<Term>,
}

impl HoldScope {
    /// Parses a hold's `covers` object (module docs); [`Error::Malformed`] if it is not one.
    pub fn from_json(v: &Value) -> Result<HoldScope> {
        let bad = |why: &str| Error::malformed("legal hold", why.to_owned());
        let obj = v.as_object().ok_or_else(|| {
            bad("covers must be a query object, e.g. {\"subject\": \"service:payments-api\"}")
        })?;
        if let Some(k) = ["order", "limit", "cursor"]
            .into_iter()
            .find(|k| obj.contains_key(*k))
        {
            return Err(bad(&format!(
                "covers: `{k}` pages a query; a hold covers every match"
            )));
        }
        let query = Query::from_json(v)?;
        let mut terms = query.terms();
        terms.sort();
        let bounded = query.since.is_some()
            || query.until.is_some()
            || query.occurred_since.is_some()
            || query.occurred_until.is_some();
        if terms.is_empty() && !bounded {
            return Err(bad(
                "covers names nothing: give a subject, actor, ... or since/until",
            ));
        }
        Ok(HoldScope { query, terms })
    }

    /// Whether the entry `e` (stored form) is covered.
    pub fn covers(&self, e: &Value) -> bool {
        let time = e["time"].as_str().and_then(|t| Timestamp::parse(t).ok());
        let in_window = |t: Timestamp| {
            self.query.since.is_none_or(|s| t >= s) && self.query.until.is_none_or(|u| t < u)
        };
        // An entry whose time cannot be read is treated as covered: a hold errs on keeping.
        if !time.is_none_or(in_window) {
            return false;
        }
        let (o_since, o_until) = (self.query.occurred_since, self.query.occurred_until);
        if o_since.is_some() || o_until.is_some() {
            let occurred = e["occurred_at"]
                .as_str()
                .and_then(|t| Timestamp::parse(t).ok());
            let inside =
                |t: Timestamp| o_since.is_none_or(|s| t >= s) && o_until.is_none_or(|u| t < u);
            if !occurred.is_some_and(inside) {
                return false;
            }
        }
        let have = Term::of_entry(e);
        self.terms.iter().all(|t| have.binary_search(t).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(actor: &str, subject: &str, time: &str) -> Value {
        let (t, i) = subject.split_once(':').unwrap();
        json!({"v": 1, "time": time, "actor": {"id": actor}, "action": "deploy.succeeded",
               "subject": {"type": t, "id": i}})
    }

    #[test]
    fn a_hold_covers_what_its_query_matches() {
        let h = HoldScope::from_json(
            &json!({"subject": "service:api", "until": "2026-06-01T00:00:00Z"}),
        )
        .unwrap();
        assert!(h.covers(&entry(
            "alice",
            "service:api",
            "2026-05-01T00:00:00.000000000Z"
        )));
        assert!(!h.covers(&entry(
            "alice",
            "service:web",
            "2026-05-01T00:00:00.000000000Z"
        )));
        assert!(!h.covers(&entry(
            "alice",
            "service:api",
            "2026-07-01T00:00:00.000000000Z"
        )));
        let a = HoldScope::from_json(&json!({"actor": "bob"})).unwrap();
        assert!(a.covers(&entry("bob", "service:x", "2020-01-01T00:00:00.000000000Z")));
        assert!(!a.covers(&entry(
            "alice",
            "service:x",
            "2020-01-01T00:00:00.000000000Z"
        )));
    }

    #[test]
    fn a_hold_by_occurred_at_covers_what_happened_in_its_window() {
        let h = HoldScope::from_json(&json!({"occurred_since": "2024-03-01T00:00:00Z",
                                             "occurred_until": "2024-04-01T00:00:00Z"}))
        .unwrap();
        let mut e = entry("alice", "service:api", "2026-12-01T00:00:00Z");
        assert!(!h.covers(&e), "no occurred_at: in no window, as in a query");
        e["occurred_at"] = json!("2024-03-15T12:00:00+01:00");
        assert!(h.covers(&e));
        e["occurred_at"] = json!("2024-04-01T00:00:00Z");
        assert!(!h.covers(&e));
    }

    #[test]
    fn a_hold_that_names_nothing_or_pages_is_refused() {
        for bad in [
            json!({}),
            json!({"limit": 5, "actor": "a"}),
            json!("alice"),
            json!({"actr": "a"}),
        ] {
            assert!(HoldScope::from_json(&bad).is_err(), "{bad}");
        }
    }
}
