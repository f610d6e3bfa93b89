//! Capture: evidence from the CI environment (`detect_ci`, `Ledger.record_ci`), a git
//! repository (`Ledger.import_git`) and the standard event formats (`Ledger.import_events`),
//! each one call over one core call.
//!
//! The `Ledger` methods' Python signatures and docstrings are in `ledger.rs` (it explains
//! why); these are what those methods call. The CI environment is read with the GIL held
//! (`os.environ` as Python sees it), the writing done without it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use trailseal::capture::ci::{self, CiContext, Step};
use trailseal::capture::formats::{self, Format};
use trailseal::capture::git::{self, ImportOptions};
use trailseal::{entry, Error};

use crate::convert::{dumps, str_pairs, text_or_bytes, value_to_py};
use crate::error::{core, guarded, to_py_err};
use crate::ledger::PyLedger;
use crate::receipt::{receipts, PyReceipt};

/// The CI environment `env` names: a mapping of variable names to values, or (None) this
/// process's `os.environ` as Python sees it.
fn ci_context(py: Python<'_>, env: Option<&Bound<'_, PyAny>>) -> PyResult<CiContext> {
    let vars: HashMap<String, String> = match env {
        Some(e) if !e.is_none() => str_pairs(e, "env")?.into_iter().collect(),
        _ => {
            let environ = py.import("os")?.getattr("environ")?;
            str_pairs(&environ, "os.environ")?.into_iter().collect()
        }
    };
    core(py, guarded(|| ci::detect(&|k: &str| vars.get(k).cloned())))
}

/// Detect the CI system this job runs in from its environment (`env`: a mapping of variable
/// names to values; default `os.environ`) and return what it says: `{"system", "actor",
/// "via", "repository", "commit", "ref", "workflow", "job", "step", "shard", "run_id",
/// "run_number", "run_url", "extra"}`. Outside a known CI system (GitHub Actions, GitLab CI,
/// Azure Pipelines, Jenkins, Buildkite, CircleCI), or when a variable the run id needs is
/// missing, raises InvalidArgumentError naming the variables it looked for.
#[pyfunction]
#[pyo3(signature = (env = None))]
pub(crate) fn detect_ci<'py>(
    py: Python<'py>,
    env: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let ctx = ci_context(py, env)?;
    value_to_py(py, &ctx.to_json())
}

/// `Ledger.record_ci`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_ci<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    action: String,
    subject: Option<String>,
    attrs: Option<&Bound<'py, PyAny>>,
    refs: Option<&Bound<'py, PyAny>>,
    payload: Option<&Bound<'py, PyAny>>,
    env: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let ctx = ci_context(py, env)?;
    let mut attr_map = BTreeMap::new();
    if let Some(a) = attrs {
        for (k, v) in str_pairs(a, "attrs")? {
            attr_map.insert(k, v);
        }
    }
    let refs = match refs {
        Some(r) => str_pairs(r, "refs")?,
        None => Vec::new(),
    };
    let payload = match payload {
        Some(p) if !p.is_none() => Some(dumps(py, p)?),
        _ => None,
    };
    let v = ledger.run(py, move |l| {
        let step = Step {
            attrs: attr_map,
            refs,
            payload: payload
                .map(|text| entry::parse_json(text.as_bytes()))
                .transpose()?,
        };
        let subject = subject
            .as_deref()
            .map(trailseal::query::split_subject)
            .transpose()?;
        Ok(ctx
            .record(
                l,
                &action,
                subject.as_ref().map(|(t, i)| (t.as_str(), i.as_str())),
                &step,
            )?
            .to_json())
    })?;
    value_to_py(py, &v)
}

/// `Ledger.import_git`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn import_git<'py>(
    ledger: &PyLedger,
    py: Python<'py>,
    repo: PathBuf,
    since: Option<String>,
    progress: Option<Py<PyAny>>,
    rev: Option<String>,
    name: Option<String>,
    signatures: bool,
    batch: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if batch == 0 {
        return Err(to_py_err(
            py,
            Error::InvalidArgument("batch must be at least 1".into()),
        ));
    }
    let opts = ImportOptions {
        since,
        rev,
        repository: name,
        batch,
        signatures,
        ..ImportOptions::default()
    };
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let report = ledger.run(py, |l| {
        let mut tick = |done: u64, total: u64| {
            let Some(cb) = &progress else { return };
            let mut slot = raised.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_some() {
                return;
            }
            if let Err(e) = Python::attach(|py| cb.call1(py, (done, total)).map(drop)) {
                *slot = Some(e);
            }
        };
        Ok(git::import_with(l, &repo, &opts, &mut tick)?.to_json())
    })?;
    if let Some(e) = raised.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    value_to_py(py, &report)
}

/// `Ledger.import_events`.
pub(crate) fn import_events(
    ledger: &PyLedger,
    py: Python<'_>,
    format: &str,
    data: &Bound<'_, PyAny>,
) -> PyResult<Vec<Py<PyReceipt>>> {
    let format = core(py, Format::from_name(format))?;
    let Some(bytes) = text_or_bytes(data)? else {
        return Err(PyTypeError::new_err(format!(
            "data must be bytes or str, not {}",
            data.get_type().name()?
        )));
    };
    let rs = ledger.run(py, move |l| formats::import(l, format, &bytes))?;
    receipts(py, rs)
}
