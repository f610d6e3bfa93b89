//! The one place where a core error becomes a Python exception.
//!
//! Every core [`ErrorCode`] has one exception class, all under `TrailsealError`; the module's
//! init puts the code's string and number on each class (`.code`, `.status`), and
//! [`to_py_err`] puts the error variant's fields on the raised instance. A panic becomes
//! `InternalError` here too ([`guarded`]), never a BaseException.

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use trailseal::{Error, ErrorCode};

pyo3::create_exception!(
    trailseal,
    TrailsealError,
    PyException,
    "Base class of every trailseal error: `.code` is the core's code, `.status` its number."
);
pyo3::create_exception!(
    trailseal,
    InvalidEntryError,
    TrailsealError,
    "An entry broke a SPEC section 3 rule (`.field` names it); nothing was written."
);
pyo3::create_exception!(
    trailseal,
    IdConflictError,
    TrailsealError,
    "An entry `id` is already recorded with different content (`.id`, `.index`)."
);
pyo3::create_exception!(
    trailseal,
    MalformedError,
    TrailsealError,
    "A proof, key, note, hash or JSON document that does not parse."
);
pyo3::create_exception!(
    trailseal,
    VerificationError,
    TrailsealError,
    "A well-formed proof, signature or checkpoint that does not verify."
);
pyo3::create_exception!(
    trailseal,
    TamperedError,
    TrailsealError,
    "verify() found stored data that does not hash right (`.location` names it)."
);
pyo3::create_exception!(
    trailseal,
    InconsistentError,
    TrailsealError,
    "The ledger disagrees with an outside checkpoint: rolled back or forked."
);
pyo3::create_exception!(
    trailseal,
    OutOfRangeError,
    TrailsealError,
    "An index or tree size beyond the tree."
);
pyo3::create_exception!(
    trailseal,
    InvalidArgumentError,
    TrailsealError,
    "An impossible argument."
);
pyo3::create_exception!(
    trailseal,
    WrongKindError,
    TrailsealError,
    "An entry call on a raw ledger, or the reverse."
);
pyo3::create_exception!(
    trailseal,
    AlreadyExistsError,
    TrailsealError,
    "create() over an existing file."
);
pyo3::create_exception!(
    trailseal,
    NotFoundError,
    TrailsealError,
    "No such ledger file."
);
pyo3::create_exception!(
    trailseal,
    NotALedgerError,
    TrailsealError,
    "Another program's file, random bytes, or an unknown format."
);
pyo3::create_exception!(
    trailseal,
    LedgerLockedError,
    TrailsealError,
    "The ledger is held in a way this open's sharing mode does not allow."
);
pyo3::create_exception!(
    trailseal,
    StorageError,
    TrailsealError,
    "The storage engine failed."
);
pyo3::create_exception!(
    trailseal,
    IoError,
    TrailsealError,
    "An operating-system I/O error."
);
pyo3::create_exception!(
    trailseal,
    InternalError,
    TrailsealError,
    "A bug in trailseal (please report it)."
);
pyo3::create_exception!(
    trailseal,
    RuleViolationError,
    TrailsealError,
    "An entry broke the rules in force (`.rule_class`, `.requirement`, `.rules_version`); nothing was written."
);

/// `ClosedError`: a call on a closed ledger. It derives from `ValueError` as well as
/// `TrailsealError`, as Python's own "I/O operation on closed file" is a `ValueError` and the
/// class replaced the plain `ValueError` this package raised before; `create_exception!` takes
/// one base only, so the module's init makes it (`closed_error_class`).
static CLOSED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const CLOSED_ERROR_DOC: &str =
    "A call on a closed ledger; also a ValueError, as for a closed Python file.";

/// The `ClosedError` class, made once.
pub(crate) fn closed_error_class(py: Python<'_>) -> PyResult<&Py<PyType>> {
    CLOSED_ERROR.get_or_try_init(py, || {
        let bases = PyTuple::new(
            py,
            [
                py.get_type::<TrailsealError>(),
                py.get_type::<PyValueError>(),
            ],
        )?;
        let namespace = PyDict::new(py);
        namespace.set_item("__module__", "trailseal")?;
        namespace.set_item("__doc__", CLOSED_ERROR_DOC)?;
        let class = py
            .get_type::<PyType>()
            .call1(("ClosedError", bases, namespace))?;
        Ok(class.cast_into::<PyType>()?.unbind())
    })
}

/// The exception class of a core error code: the one table of the mapping.
pub(crate) fn error_class(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
    match code {
        ErrorCode::InvalidEntry => py.get_type::<InvalidEntryError>(),
        ErrorCode::IdConflict => py.get_type::<IdConflictError>(),
        ErrorCode::Malformed => py.get_type::<MalformedError>(),
        ErrorCode::VerificationFailed => py.get_type::<VerificationError>(),
        ErrorCode::Tampered => py.get_type::<TamperedError>(),
        ErrorCode::Inconsistent => py.get_type::<InconsistentError>(),
        ErrorCode::OutOfRange => py.get_type::<OutOfRangeError>(),
        ErrorCode::InvalidArgument => py.get_type::<InvalidArgumentError>(),
        ErrorCode::WrongKind => py.get_type::<WrongKindError>(),
        ErrorCode::AlreadyExists => py.get_type::<AlreadyExistsError>(),
        ErrorCode::NotFound => py.get_type::<NotFoundError>(),
        ErrorCode::NotALedger => py.get_type::<NotALedgerError>(),
        ErrorCode::Locked => py.get_type::<LedgerLockedError>(),
        ErrorCode::Storage => py.get_type::<StorageError>(),
        ErrorCode::Io => py.get_type::<IoError>(),
        ErrorCode::Internal => py.get_type::<InternalError>(),
        ErrorCode::RuleViolation => py.get_type::<RuleViolationError>(),
        // Made by the module's init, before any error can be raised.
        ErrorCode::Closed => match closed_error_class(py) {
            Ok(class) => class.bind(py).clone(),
            Err(_) => py.get_type::<TrailsealError>(),
        },
        // ErrorCode is #[non_exhaustive]: a code added to the core lands here until it gets a
        // class, and tests/test_errors.py fails because two codes then share one class.
        _ => py.get_type::<TrailsealError>(),
    }
}

/// A core error as the Python exception of its code, with the variant's fields as attributes.
pub(crate) fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    let class = error_class(py, e.code());
    let err = match class.call1((e.to_string(),)) {
        Ok(value) => PyErr::from_value(value),
        Err(failed) => return failed,
    };
    let value = err.value(py);
    // Setting an attribute on a fresh exception instance cannot fail in practice; if it did,
    // the message still carries everything, so the result is ignored.
    let _ = match &e {
        Error::InvalidEntry { field, rule } => value
            .setattr("field", field.as_str())
            .and_then(|_| value.setattr("rule", rule.as_str())),
        Error::IdConflict { id, index } => value
            .setattr("id", id.as_str())
            .and_then(|_| value.setattr("index", *index)),
        Error::Tampered { location, .. } => value.setattr("location", location.as_str()),
        Error::RuleViolation {
            class,
            requirement,
            version,
        } => value
            .setattr("rule_class", class.as_str())
            .and_then(|_| value.setattr("requirement", requirement.as_str()))
            .and_then(|_| value.setattr("rules_version", version.as_str())),
        _ => Ok(()),
    };
    err
}

/// A core result as a Python one: the error raised as the exception of its code.
pub(crate) fn core<T>(py: Python<'_>, r: trailseal::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py_err(py, e))
}

/// Run `f`, turning a panic into [`Error::Internal`] ("a bug: a caught panic", as the core
/// defines it) instead of letting PyO3 raise `PanicException`, which derives from
/// BaseException and so escapes `except Exception` and `except TrailsealError`.
///
/// The core now contains storage-engine panics itself (a corrupt file is
/// `Error::Tampered { location: "file" }` from every `Ledger` call and from drop), so this is
/// no longer the workaround for those. It stays as a last-resort net, kept because it still
/// adds safety: a panic anywhere else (a bug in this layer's closures, or in core code outside
/// the `Ledger` guard: proof, note and bundle parsing, which the ledger-free functions call)
/// still arrives as `InternalError`, a `TrailsealError`, never as a BaseException.
pub(crate) fn guarded<T, E: From<Error>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(Error::Internal(format!("panic: {msg}")).into())
    })
}

/// `[(code, status, class), ...]` for every core error code, in numeric order.
#[pyfunction]
#[pyo3(name = "_error_codes")]
pub(crate) fn error_codes(py: Python<'_>) -> Vec<(&'static str, u32, Bound<'_, PyType>)> {
    ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.as_u32(), error_class(py, *c)))
        .collect()
}
