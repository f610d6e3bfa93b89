//! Pruning (SPEC section 8.1): `Ledger.prune`, `Ledger.pruned` and the module's `compact`.
//! What may go, and every refusal, is the core's (`Ledger::prune`).

use std::path::PathBuf;

use pyo3::prelude::*;
use serde_json::Value;
use trailseal::{entry, Ledger, PruneOptions, RecordedBy, Timestamp};

use crate::convert::{json_arg, value_to_py};
use crate::error::{core, guarded};
use crate::ledger::PyLedger;

/// `Ledger.prune`.
pub(crate) fn prune<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    before: String,
    actor: String,
    authz: &Bound<'_, PyAny>,
    dry_run: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let authz = json_arg(py, authz, "authz")?;
    let v = ledger.run(py, move |l| {
        let opts = PruneOptions {
            before: Timestamp::parse(&before)?,
            dry_run,
            by: RecordedBy {
                actor: &actor,
                authz: &entry::parse_json(authz.as_bytes())?,
            },
        };
        Ok(l.prune(&opts)?.to_json())
    })?;
    value_to_py(py, &v)
}

/// `Ledger.pruned`.
pub(crate) fn pruned<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    index: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let v = ledger.run(py, |l| {
        Ok(l.pruned(index)?.map_or(Value::Null, |p| p.to_json()))
    })?;
    value_to_py(py, &v)
}

/// Rewrite the ledger file at `path` so the pages pruning freed go back to the file system;
/// whether anything moved. Needs the file to itself: with any handle open on it, in this
/// process or another, raises `LedgerLockedError`.
#[pyfunction]
pub(crate) fn compact(py: Python<'_>, path: PathBuf) -> PyResult<bool> {
    core(py, py.detach(|| guarded(|| Ledger::compact(&path))))
}
