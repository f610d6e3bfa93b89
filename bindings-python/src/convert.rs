//! Python arguments into the core's values, and the core's results back into Python objects.
//!
//! JSON documents (entries, proofs, policies) go in as JSON text written by Python's own
//! `json.dumps` and are read by the core's strict parser, so Python refuses what every other
//! front end refuses; results come back as plain Python objects built from the core's JSON
//! forms.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyMapping, PyString};
use serde_json::Value;
use trailseal::{Durability, Error, Verifier};

use crate::error::to_py_err;

static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Python object -> JSON text, with Python's own `json.dumps` (non-finite floats come out as
/// `NaN`/`Infinity`, which the core's strict parser then refuses as malformed JSON).
pub(crate) fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let f = JSON_DUMPS.import(py, "json", "dumps")?;
    f.call1((obj,))?.extract()
}

/// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
pub(crate) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, item) in map {
                dict.set_item(k, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A proof's SPEC JSON text (from the core's `to_json`) as a dict.
pub(crate) fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| to_py_err(py, Error::Internal(format!("proof JSON: {e}"))))?;
    value_to_py(py, &value)
}

/// The durability of a `durable=` argument.
pub(crate) fn durability(durable: bool) -> Durability {
    if durable {
        Durability::Immediate
    } else {
        Durability::NotDurableUntilSync
    }
}

/// The verifier of a verifier key string `<name>+<hash>+<data>`.
pub(crate) fn verifier(key: &str) -> trailseal::Result<Verifier> {
    Verifier::from_key_string(key)
}

/// A proof argument: a dict (as returned by `prove_*`) or its JSON text.
pub(crate) fn proof_text(py: Python<'_>, proof: &Bound<'_, PyAny>) -> PyResult<String> {
    if proof.is_instance_of::<PyString>() {
        return proof.extract();
    }
    dumps(py, proof)
}

/// A JSON document argument (a gate policy, a gate result, a query): a mapping, or its JSON
/// text. Anything else (a path, a list) is a TypeError naming `what`.
pub(crate) fn json_arg(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if obj.is_instance_of::<PyString>() {
        return obj.extract();
    }
    if obj.cast::<PyMapping>().is_ok() {
        return dumps(py, obj);
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be a dict or its JSON text, not {}",
        obj.get_type().name()?
    )))
}

/// `(str, str)` pairs from a mapping (its items) or from a sequence of 2-item pairs; a str or
/// anything else is a TypeError naming `what`.
pub(crate) fn str_pairs(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, String)>> {
    let bad = || {
        Ok::<_, PyErr>(PyTypeError::new_err(format!(
            "{what} must be a mapping of str to str, or a sequence of (str, str) pairs, not {}",
            obj.get_type().name()?
        )))
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad()?);
    }
    let items = if let Ok(m) = obj.cast::<PyMapping>() {
        m.items()?.into_any()
    } else {
        obj.clone()
    };
    let Ok(iter) = items.try_iter() else {
        return Err(bad()?);
    };
    let mut out = Vec::new();
    for item in iter {
        let item = item?;
        match item.extract::<(String, String)>() {
            Ok(pair) => out.push(pair),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what}: every key and value must be a str, not {}",
                    item.repr()?
                )))
            }
        }
    }
    Ok(out)
}

/// The bytes of a str (its UTF-8) or bytes-like argument; `None` for anything else, which
/// each caller refuses in its own words.
pub(crate) fn text_or_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    if obj.is_instance_of::<PyString>() {
        return Ok(Some(obj.extract::<String>()?.into_bytes()));
    }
    Ok(obj.extract::<PyBackedBytes>().ok().map(|b| b.to_vec()))
}
