//! The auditor's questions, each one method of `Ledger` over one core call: `query`,
//! `trace`, `why`, `gate`, `record_gate`, `bundle` and `report`.
//!
//! Their Python signatures and docstrings are in `ledger.rs`, with the other methods of the
//! class (it explains why); these are what those methods call.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};
use trailseal::entry;
use trailseal::query::Query;
use trailseal::report::ReportOptions;
use trailseal::{Anchor, GatePolicy, Selection, Timestamp};

use crate::convert::{dumps, json_arg, value_to_py};
use crate::ledger::PyLedger;
use crate::receipt::PyReceipt;
use crate::signer::PySigner;

/// A query from its JSON text (`Query::from_json`, which refuses a field it does not know).
fn parse_query(text: &str) -> trailseal::Result<Query> {
    Query::from_json(&entry::parse_json(text.as_bytes())?)
}

/// `Ledger.query`, given its keyword arguments by name.
pub(crate) fn query<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    filters: impl IntoIterator<Item = (&'static str, Option<Bound<'py, PyAny>>)>,
) -> PyResult<Bound<'py, PyAny>> {
    // The core reads a query from its JSON form (`Query::from_json`, "as the bindings pass
    // it"), so the keyword arguments only become that object.
    let dict = PyDict::new(py);
    for (key, value) in filters {
        if let Some(v) = value {
            dict.set_item(key, v)?;
        }
    }
    let text = dumps(py, dict.as_any())?;
    let page = ledger.run(py, move |l| {
        let page = l.query(&parse_query(&text)?)?;
        let entries: Vec<Value> = page.entries.iter().map(|f| f.to_json()).collect();
        Ok(serde_json::json!({"entries": entries, "next_cursor": page.next_cursor}))
    })?;
    value_to_py(py, &page)
}

/// `Ledger.trace`.
pub(crate) fn trace<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: u64,
    forward: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| Ok(l.trace(index, forward)?.to_json()))?;
    value_to_py(py, &v)
}

/// `Ledger.why`.
pub(crate) fn why<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| Ok(l.why(index)?.to_json()))?;
    value_to_py(py, &v)
}

/// `Ledger.gate`.
pub(crate) fn gate<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    subject: String,
    policy: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let policy = json_arg(py, policy, "policy")?;
    let v = ledger.run(py, move |l| {
        let p = GatePolicy::from_json(&policy)?;
        Ok(l.gate(&subject, &p)?.to_json())
    })?;
    value_to_py(py, &v)
}

/// `Ledger.record_gate`.
pub(crate) fn record_gate(
    ledger: &PyLedger,
    py: Python<'_>,
    subject: String,
    policy: &Bound<'_, PyAny>,
    result: &Bound<'_, PyAny>,
    actor: String,
) -> PyResult<PyReceipt> {
    let policy = json_arg(py, policy, "policy")?;
    let result = json_arg(py, result, "result")?;
    let r = ledger.run(py, move |l| {
        let p = GatePolicy::from_json(&policy)?;
        let given = entry::parse_json(result.as_bytes())?;
        l.record_gate_result(&subject, &p, &given, &actor)
    })?;
    Ok(r.into())
}

/// `Ledger.bundle`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn bundle(
    ledger: &PyLedger,
    py: Python<'_>,
    subject: Option<String>,
    index: Option<u64>,
    (forward, depth, ancestry): (bool, Option<u64>, bool),
    query: Option<&Bound<'_, PyAny>>,
    indexes: Option<Vec<u64>>,
    signer: Option<&Bound<'_, PySigner>>,
    checkpoint: Option<String>,
    verifier_key: Option<String>,
) -> PyResult<String> {
    let query = query.map(|q| json_arg(py, q, "query")).transpose()?;
    let signer = signer.map(|s| &s.get().inner);
    ledger.run(py, move |l| {
        // The core reads a selection from its JSON form (`Selection::from_json`), which holds
        // the rules on which keywords go together, so the keyword arguments only become that
        // object.
        let mut given = Map::new();
        if let Some(s) = subject {
            given.insert("subject".into(), s.into());
        }
        if let Some(i) = index {
            given.insert("index".into(), i.into());
        }
        // `forward=False` is the keyword's default and so says nothing; passing it on would
        // make the core refuse every selection other than a trace.
        if forward {
            given.insert("forward".into(), true.into());
        }
        if let Some(d) = depth {
            given.insert("depth".into(), d.into());
        }
        if ancestry {
            given.insert("ancestry".into(), true.into());
        }
        if let Some(text) = &query {
            given.insert("query".into(), entry::parse_json(text.as_bytes())?);
        }
        if let Some(ix) = indexes {
            given.insert("indexes".into(), ix.into());
        }
        let selection = Selection::from_json(&Value::Object(given))?;
        let anchor = Anchor::choose(signer, checkpoint.as_deref(), verifier_key.as_deref())?;
        let b = l.bundle_anchored(&selection, &anchor)?;
        Ok(b.to_text())
    })
}

/// `Ledger.report`.
pub(crate) fn report<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    since: Option<String>,
    change_actions: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, move |l| {
        let mut opts = ReportOptions {
            since: since.as_deref().map(Timestamp::parse).transpose()?,
            ..ReportOptions::default()
        };
        if let Some(actions) = change_actions {
            opts.change_actions = actions;
        }
        Ok(l.report_with(&opts)?.to_json())
    })?;
    value_to_py(py, &v)
}
