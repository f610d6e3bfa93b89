//! Personal fields and their erasure (SPEC section 10): `Ledger.erase`, `openings`,
//! `scrub_free_pages`, `personal_fields`, and the module's `check_opening`. What may be
//! erased, and every refusal, is the core's.

use crate::error::guarded;
use pyo3::prelude::*;
use serde_json::Value;
use trailseal::{entry, EraseOptions, EraseSelect, RecordedBy};

use crate::convert::{dumps, json_arg, value_to_py};
use crate::error::core;
use crate::ledger::PyLedger;

/// A JSON argument (a dict or its JSON text), parsed by the core.
fn json_value(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    let text = json_arg(py, obj, what)?;
    core(py, entry::parse_json(text.as_bytes()))
}

/// `Ledger.erase`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn erase<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    select: &Bound<'_, PyAny>,
    reason: String,
    actor: String,
    authz: &Bound<'_, PyAny>,
    legal_basis: Option<String>,
    request: Option<String>,
    dry_run: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let select = json_value(py, select, "select")?;
    let authz = json_value(py, authz, "authz")?;
    let v = ledger.run(py, move |l| {
        let report = l.erase(&EraseOptions {
            select: EraseSelect::from_json(&select)?,
            reason: &reason,
            legal_basis: legal_basis.as_deref(),
            request: request.as_deref(),
            dry_run,
            by: RecordedBy {
                actor: &actor,
                authz: &authz,
            },
        })?;
        Ok(report.to_json())
    })?;
    value_to_py(py, &v)
}

/// `Ledger.openings`.
pub(crate) fn openings<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, move |l| Ok(l.openings(index)?.unwrap_or(Value::Null)))?;
    value_to_py(py, &v)
}

/// Check that `value` (any value JSON holds: str, int, float, bool, None, list, dict) under `salt`
/// (64 hex digits) gives `commitment` (a sealed field as a leaf holds it, `commitment:<hex>`):
/// how whoever kept an entry's openings shows what it recorded, after its erasure too. Raises
/// `VerificationFailedError` when they do not, `InvalidArgumentError` for a salt that is not
/// 32 bytes of hex.
#[pyfunction]
pub(crate) fn check_opening(
    py: Python<'_>,
    commitment: String,
    salt: String,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let text = dumps(py, value)?;
    let value = core(py, entry::parse_json(text.as_bytes()))?;
    core(
        py,
        py.detach(|| guarded(|| entry::check_opening(&commitment, &salt, &value))),
    )
}
