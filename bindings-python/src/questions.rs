//! The auditor's questions, each one method of `Ledger` over one core call: `query`,
//! `trace`, `why`, `gate`, `record_gate`, `bundle` and `report`.

use trailseal::entry;
use trailseal::query::Query;

/// A query from its JSON text (`Query::from_json`, which refuses a field it does not know).
pub(crate) fn parse_query(text: &str) -> trailseal::Result<Query> {
    Query::from_json(&entry::parse_json(text.as_bytes())?)
}
