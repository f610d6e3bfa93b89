//! `Checkpoint`: a tree head, and the signed note it becomes.

use pyo3::prelude::*;
use trailseal::{merkle, Checkpoint};

use crate::convert::value_to_py;
use crate::error::core;
use crate::signer::PySigner;

/// A tree head: the log's origin, the tree size and its root hash (hex), and extension lines.
#[pyclass(frozen, eq, module = "trailseal", name = "Checkpoint")]
#[derive(PartialEq)]
pub(crate) struct PyCheckpoint {
    pub(crate) inner: Checkpoint,
}

#[pymethods]
impl PyCheckpoint {
    #[new]
    #[pyo3(signature = (origin, size, root, extensions = Vec::new()))]
    fn new(
        py: Python<'_>,
        origin: String,
        size: u64,
        root: &str,
        extensions: Vec<String>,
    ) -> PyResult<Self> {
        let root = core(py, merkle::from_hex("root", root))?;
        let mut inner = Checkpoint::new(origin, size, root);
        inner.extensions = extensions;
        Ok(PyCheckpoint { inner })
    }

    /// The log's origin line.
    #[getter]
    fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The tree size.
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size
    }

    /// The root hash, lowercase hex.
    #[getter]
    fn root(&self) -> String {
        merkle::to_hex(&self.inner.root)
    }

    /// Extension lines after the root, without their newlines.
    #[getter]
    fn extensions(&self) -> Vec<String> {
        self.inner.extensions.clone()
    }

    /// The note body: origin, size, base64 root and extension lines, each newline-terminated.
    fn to_body(&self) -> String {
        self.inner.to_body()
    }

    /// `{"origin", "size", "root", "extensions"}` (root in hex): the shape every binding
    /// returns for a checkpoint.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.inner.to_json())
    }

    /// Sign with `signer`; returns the signed note text (C2SP tlog-checkpoint).
    fn sign(&self, py: Python<'_>, signer: &Bound<'_, PySigner>) -> PyResult<String> {
        core(py, self.inner.sign(&signer.get().inner))
    }

    fn __repr__(&self) -> String {
        format!(
            "Checkpoint(origin={:?}, size={}, root='{}', extensions={:?})",
            self.inner.origin,
            self.inner.size,
            merkle::to_hex(&self.inner.root),
            self.inner.extensions
        )
    }
}
