//! `Receipt`: what an append returns.

use pyo3::prelude::*;
use serde_json::Value;
use trailseal::{merkle, Receipt};

use crate::convert::value_to_py;

/// What an append returns: where the entry went and the tree it made.
#[pyclass(frozen, eq, module = "trailseal", name = "Receipt")]
#[derive(PartialEq)]
pub(crate) struct PyReceipt {
    /// Leaf index, from 0.
    #[pyo3(get)]
    index: u64,
    /// Leaf hash, lowercase hex.
    #[pyo3(get)]
    leaf_hash: String,
    /// Tree size right after this leaf (index + 1).
    #[pyo3(get)]
    tree_size: u64,
    /// Root at tree_size, lowercase hex.
    #[pyo3(get)]
    root: String,
    /// The entry's `time` (RFC 3339, nine fractional digits); None for raw leaves.
    #[pyo3(get)]
    time: Option<String>,
    json: Value,
}

impl From<Receipt> for PyReceipt {
    fn from(r: Receipt) -> Self {
        PyReceipt {
            index: r.index,
            leaf_hash: merkle::to_hex(&r.leaf_hash),
            tree_size: r.tree_size,
            root: merkle::to_hex(&r.root),
            time: r.time.map(|t| t.to_string()),
            json: r.to_json(),
        }
    }
}

#[pymethods]
impl PyReceipt {
    /// `{"index", "leaf_hash", "tree_size", "root", "time"}`, as the command line prints it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        value_to_py(py, &self.json)
    }

    fn __repr__(&self) -> String {
        format!(
            "Receipt(index={}, leaf_hash='{}', tree_size={}, root='{}', time={})",
            self.index,
            self.leaf_hash,
            self.tree_size,
            self.root,
            self.time
                .as_ref()
                .map_or_else(|| "None".to_owned(), |t| format!("'{t}'"))
        )
    }
}

/// A batch's receipts as Python `Receipt` objects.
pub(crate) fn receipts(py: Python<'_>, rs: Vec<Receipt>) -> PyResult<Vec<Py<PyReceipt>>> {
    rs.into_iter()
        .map(|r| Py::new(py, PyReceipt::from(r)))
        .collect()
}
