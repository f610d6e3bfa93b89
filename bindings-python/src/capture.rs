//! Capture: evidence from the CI environment (`detect_ci`, `Ledger.record_ci`), a git
//! repository (`Ledger.import_git`) and the standard event formats (`Ledger.import_events`).

use std::collections::HashMap;

use pyo3::prelude::*;
use trailseal::capture::ci::{self, CiContext};

use crate::convert::{str_pairs, value_to_py};
use crate::error::{core, guarded};

/// The CI environment `env` names: a mapping of variable names to values, or (None) this
/// process's `os.environ` as Python sees it.
pub(crate) fn ci_context(py: Python<'_>, env: Option<&Bound<'_, PyAny>>) -> PyResult<CiContext> {
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
