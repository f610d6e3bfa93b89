//! Retention and legal hold (SPEC section 8): `Ledger.publish_retention_rules`, `place_hold`,
//! `release_hold`, `retention_rules_at`, `legal_holds` and `retention_plan`. What retention
//! allows, and every refusal, is the core's.

use pyo3::prelude::*;
use serde_json::Value;
use trailseal::retention::RetentionRules;
use trailseal::{entry, RecordedBy, Timestamp};

use crate::convert::{json_arg, value_to_py};
use crate::error::core;
use crate::ledger::PyLedger;
use crate::receipt::PyReceipt;

/// A JSON argument (a dict or its JSON text), parsed by the core.
fn json_value(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    let text = json_arg(py, obj, what)?;
    core(py, entry::parse_json(text.as_bytes()))
}

/// `Ledger.publish_retention_rules`.
pub(crate) fn publish(
    ledger: &PyLedger,
    py: Python<'_>,
    document: &Bound<'_, PyAny>,
    actor: String,
    authz: &Bound<'_, PyAny>,
) -> PyResult<PyReceipt> {
    let document = json_value(py, document, "document")?;
    let authz = json_value(py, authz, "authz")?;
    let r = ledger.run(py, move |l| {
        let rules = RetentionRules::from_json(&document)?;
        l.publish_retention_rules(
            &rules,
            &RecordedBy {
                actor: &actor,
                authz: &authz,
            },
        )
    })?;
    Ok(r.into())
}

/// `Ledger.place_hold`.
pub(crate) fn place_hold(
    ledger: &PyLedger,
    py: Python<'_>,
    id: String,
    covers: &Bound<'_, PyAny>,
    actor: String,
    authz: &Bound<'_, PyAny>,
) -> PyResult<PyReceipt> {
    let covers = json_value(py, covers, "covers")?;
    let authz = json_value(py, authz, "authz")?;
    let r = ledger.run(py, move |l| {
        l.place_hold(
            &id,
            &covers,
            &RecordedBy {
                actor: &actor,
                authz: &authz,
            },
        )
    })?;
    Ok(r.into())
}

/// `Ledger.release_hold`.
pub(crate) fn release_hold(
    ledger: &PyLedger,
    py: Python<'_>,
    id: String,
    actor: String,
    authz: &Bound<'_, PyAny>,
) -> PyResult<PyReceipt> {
    let authz = json_value(py, authz, "authz")?;
    let r = ledger.run(py, move |l| {
        l.release_hold(
            &id,
            &RecordedBy {
                actor: &actor,
                authz: &authz,
            },
        )
    })?;
    Ok(r.into())
}

/// `Ledger.retention_rules_at`.
pub(crate) fn rules_at<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| {
        Ok(l.retention_rules_at(index)?
            .map_or(Value::Null, |v| v.to_json()))
    })?;
    value_to_py(py, &v)
}

/// `Ledger.legal_holds`.
pub(crate) fn holds<'py>(ledger: &PyLedger, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| {
        Ok(Value::Array(
            l.legal_holds()?.iter().map(|h| h.to_json()).collect(),
        ))
    })?;
    value_to_py(py, &v)
}

/// `Ledger.retention_plan`.
pub(crate) fn plan<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    at: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, move |l| {
        let at = at.as_deref().map(Timestamp::parse).transpose()?;
        Ok(l.retention_plan(at)?.to_json())
    })?;
    value_to_py(py, &v)
}
