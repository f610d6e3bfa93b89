//! Decisions as code (docs/RULES.md): `Ledger.publish_rules`, `rules_versions`, `rules_at`,
//! `record_refusals`, `delivery_report`, and the ledger-free dry run `check_rules`. The rules
//! themselves, their parsing and judging, are the core's.

use pyo3::prelude::*;
use pyo3::types::PyList;
use trailseal::entry;
use trailseal::rules::Rules;

use crate::convert::{dumps, json_arg, value_to_py};
use crate::error::{core, guarded};
use crate::ledger::PyLedger;
use crate::receipt::PyReceipt;

/// An optional JSON argument (dict, list or JSON text) as a value, parsed by the core.
fn optional_json(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<serde_json::Value>> {
    let Some(obj) = obj else { return Ok(None) };
    // A list (links) is as welcome as a dict (authz); json_arg takes dicts and JSON text.
    let text = if obj.cast::<PyList>().is_ok() {
        dumps(py, obj)?
    } else {
        json_arg(py, obj, what)?
    };
    core(py, entry::parse_json(text.as_bytes()).map(Some))
}

/// `Ledger.publish_rules`.
pub(crate) fn publish(
    ledger: &PyLedger,
    py: Python<'_>,
    document: &Bound<'_, PyAny>,
    actor: String,
    authz: Option<&Bound<'_, PyAny>>,
    links: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyReceipt> {
    let document = json_arg(py, document, "document")?;
    let authz = optional_json(py, authz, "authz")?;
    let links = optional_json(py, links, "links")?;
    let r = ledger.run(py, move |l| {
        let rules = Rules::parse(&document)?;
        l.publish_rules(&rules, &actor, authz.as_ref(), links.as_ref())
    })?;
    Ok(r.into())
}

/// `Ledger.rules_versions`.
pub(crate) fn versions<'py>(ledger: &PyLedger, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| {
        Ok(serde_json::Value::Array(
            l.rules_versions()?.iter().map(|v| v.to_json()).collect(),
        ))
    })?;
    value_to_py(py, &v)
}

/// `Ledger.rules_at`.
pub(crate) fn at<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| {
        Ok(l.rules_at(index)?
            .map_or(serde_json::Value::Null, |v| v.to_json()))
    })?;
    value_to_py(py, &v)
}

/// `Ledger.delivery_report`.
pub(crate) fn delivery_report<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    threshold: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| Ok(l.delivery_report(threshold)?.to_json()))?;
    value_to_py(py, &v)
}

/// Judge `entry` (a dict or JSON text) against the rules `document` (a dict or JSON text)
/// without a ledger, as `trailseal rules check` does: returns `{"version", "class",
/// "break_glass", "retention", "ai_output"}`, or raises `RuleViolationError` naming the class,
/// the requirement and the version (`MalformedError` for a document that is not rules,
/// `InvalidEntryError` for an entry that is not valid). Link requirements that name the linked
/// entry's action or role cannot be met without a ledger.
#[pyfunction]
pub(crate) fn check_rules<'py>(
    py: Python<'py>,
    document: &Bound<'py, PyAny>,
    entry: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let document = json_arg(py, document, "document")?;
    let entry_text = json_arg(py, entry, "entry")?;
    let r = py.detach(|| {
        guarded(|| {
            let rules = Rules::parse(&document)?;
            let e = entry::parse_json(entry_text.as_bytes())?;
            Ok(rules.check(&e)?.to_json(&rules))
        })
    });
    let v = core(py, r)?;
    value_to_py(py, &v)
}
