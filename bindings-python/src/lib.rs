//! `trailseal._trailseal`: the native half of the `trailseal` Python package.
//!
//! A thin layer over the `trailseal` crate with no logic of its own: it converts arguments and
//! results, maps each core [`ErrorCode`] to one exception class, and releases the GIL around
//! every call that touches the disk or hashes (`Python::detach`), so other Python threads keep
//! running while a ledger appends, proves or verifies.
//!
//! Entries cross the boundary as JSON text: Python's `json.dumps` writes the dict, and the
//! core's strict parser (`entry::parse_json`) reads it, exactly as it reads the command line's
//! JSON Lines, so every front end refuses the same inputs the same way.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyList, PyMapping, PyString, PyType};
use serde_json::Value;
use trailseal::merkle::{self, HashAlg};
use trailseal::query::Query;
use trailseal::{
    entry, Checkpoint, ConsistencyProof, CreateOptions, Durability, Error, ErrorCode,
    InclusionProof, Ledger, OpenOptions, Receipt, Signer, Verifier, VerifyOptions,
};

// ---------------------------------------------------------------------------------------------
// Errors: one class per core code, under TrailsealError.
// ---------------------------------------------------------------------------------------------

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
    "Another process has the ledger open."
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

/// The exception class of a core error code: the one table of the mapping.
fn error_class(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
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
        // ErrorCode is #[non_exhaustive]: a code added to the core lands here until it gets a
        // class, and tests/test_errors.py fails because two codes then share one class.
        _ => py.get_type::<TrailsealError>(),
    }
}

/// A core error as the Python exception of its code, with the variant's fields as attributes.
fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
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
        _ => Ok(()),
    };
    err
}

/// Error of a closed ledger, like Python's "I/O operation on closed file".
fn closed_err() -> PyErr {
    PyValueError::new_err("the ledger is closed")
}

/// Result of work done without the GIL: a core error, or the handle was closed.
enum Failure {
    Core(Error),
    Closed,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

fn lift<T>(py: Python<'_>, r: Result<T, Failure>) -> PyResult<T> {
    r.map_err(|f| match f {
        Failure::Core(e) => to_py_err(py, e),
        Failure::Closed => closed_err(),
    })
}

fn core<T>(py: Python<'_>, r: trailseal::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py_err(py, e))
}

/// Run `f`, turning a panic into [`Error::Internal`] ("a bug: a caught panic", as the core
/// defines it) instead of letting PyO3 raise `PanicException`, which derives from
/// BaseException and so escapes `except Exception` and `except TrailsealError`.
// TODO(core): redb panics ("entered unreachable code", btree_cursor.rs) on some corrupted
// pages of a ledger file, in open, verify and get_raw; the core should catch those and report
// the file as tampered/storage/not_a_ledger itself, for every binding. Remove this then.
fn guarded<T, E: From<Error>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(Error::Internal(format!("panic: {msg}")).into())
    })
}

// ---------------------------------------------------------------------------------------------
// Conversions.
// ---------------------------------------------------------------------------------------------

static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Python object -> JSON text, with Python's own `json.dumps` (non-finite floats come out as
/// `NaN`/`Infinity`, which the core's strict parser then refuses as malformed JSON).
fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let f = JSON_DUMPS.import(py, "json", "dumps")?;
    f.call1((obj,))?.extract()
}

/// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
fn value_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
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
fn json_to_py<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| to_py_err(py, Error::Internal(format!("proof JSON: {e}"))))?;
    value_to_py(py, &value)
}

fn hash_alg(name: &str) -> trailseal::Result<HashAlg> {
    match name {
        "blake3" => Ok(HashAlg::Blake3),
        "sha256" => Ok(HashAlg::Sha256),
        other => Err(Error::InvalidArgument(format!(
            "unknown hash {other:?}: expected \"blake3\" or \"sha256\""
        ))),
    }
}

fn durability(durable: bool) -> Durability {
    if durable {
        Durability::Immediate
    } else {
        Durability::NotDurableUntilSync
    }
}

fn verifier(key: &str) -> trailseal::Result<Verifier> {
    Verifier::from_key_string(key)
}

/// A proof argument: a dict (as returned by `prove_*`) or its JSON text.
fn proof_text(py: Python<'_>, proof: &Bound<'_, PyAny>) -> PyResult<String> {
    if proof.is_instance_of::<PyString>() {
        return proof.extract();
    }
    dumps(py, proof)
}

// ---------------------------------------------------------------------------------------------
// Receipt
// ---------------------------------------------------------------------------------------------

/// What an append returns: where the entry went and the tree it made.
#[pyclass(frozen, eq, module = "trailseal", name = "Receipt")]
#[derive(PartialEq)]
struct PyReceipt {
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

fn receipts(py: Python<'_>, rs: Vec<Receipt>) -> PyResult<Vec<Py<PyReceipt>>> {
    rs.into_iter()
        .map(|r| Py::new(py, PyReceipt::from(r)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Signer
// ---------------------------------------------------------------------------------------------

/// An Ed25519 key that signs checkpoints, in Go's `sumdb/note` key format.
///
/// `str()` and `repr()` show only `<name>+<key hash>`; the secret leaves only through
/// `to_string_private()`.
#[pyclass(frozen, module = "trailseal", name = "Signer")]
struct PySigner {
    inner: Signer,
}

#[pymethods]
impl PySigner {
    /// A new random key named `name` (usually the log's origin).
    #[staticmethod]
    fn generate(py: Python<'_>, name: &str) -> PyResult<Self> {
        core(py, Signer::generate(name)).map(|inner| PySigner { inner })
    }

    /// Parse a signer key string `PRIVATE+KEY+<name>+<hash>+<data>` (Go `note.GenerateKey`).
    #[staticmethod]
    fn from_string(py: Python<'_>, skey: &str) -> PyResult<Self> {
        core(py, Signer::from_key_string(skey)).map(|inner| PySigner { inner })
    }

    /// The key whose Ed25519 seed is `seed` (32 bytes): same name and seed, same key.
    #[staticmethod]
    fn from_seed(py: Python<'_>, name: &str, seed: PyBackedBytes) -> PyResult<Self> {
        let seed: [u8; 32] = seed.as_ref().try_into().map_err(|_| {
            to_py_err(
                py,
                Error::InvalidArgument(format!("a seed is 32 bytes, not {}", seed.len())),
            )
        })?;
        core(py, Signer::from_seed(name, seed)).map(|inner| PySigner { inner })
    }

    /// The key's name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// The 32-bit key hash.
    #[getter]
    fn key_hash(&self) -> u32 {
        self.inner.key_hash()
    }

    /// The public verifier key string `<name>+<hash>+<data>`, safe to publish.
    #[getter]
    fn verifier_key(&self) -> String {
        self.inner.verifier().to_key_string()
    }

    /// The secret signer key string. Anyone holding it can sign as this key.
    fn to_string_private(&self) -> String {
        self.inner.to_key_string()
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<trailseal.Signer {}>", self.inner)
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint
// ---------------------------------------------------------------------------------------------

/// A tree head: the log's origin, the tree size and its root hash (hex), and extension lines.
#[pyclass(frozen, eq, module = "trailseal", name = "Checkpoint")]
#[derive(PartialEq)]
struct PyCheckpoint {
    inner: Checkpoint,
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

// ---------------------------------------------------------------------------------------------
// Ledger
// ---------------------------------------------------------------------------------------------

/// An open ledger file. Share one handle across threads; appends are serialized, readers see
/// consistent snapshots, and the GIL is released while the ledger works.
#[pyclass(frozen, module = "trailseal", name = "Ledger")]
struct PyLedger {
    /// `None` once closed. Calls hold the read side while they run (without the GIL); `close`
    /// takes the write side, so it returns only once the file is really released.
    inner: RwLock<Option<Ledger>>,
    origin: String,
    hash: &'static str,
    kind: &'static str,
    path: PathBuf,
    max_entry_bytes: u64,
}

impl PyLedger {
    fn wrap(l: Ledger) -> Self {
        PyLedger {
            origin: l.origin().to_owned(),
            hash: l.hash().name(),
            kind: l.kind().name(),
            path: l.path().to_owned(),
            max_entry_bytes: l.max_entry_bytes(),
            inner: RwLock::new(Some(l)),
        }
    }

    /// Run `f` on the open ledger without the GIL.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Ledger) -> Result<T, Failure> + Send,
    ) -> PyResult<T> {
        let r = py.detach(|| {
            let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(l) => guarded(|| f(l)),
                None => Err(Failure::Closed),
            }
        });
        lift(py, r)
    }
}

impl Drop for PyLedger {
    /// A ledger dropped without `close()` (garbage collected) is closed here; a panic while
    /// closing must not cross into the interpreter's deallocator.
    fn drop(&mut self) {
        let taken = self
            .inner
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let _ = guarded(move || {
            drop(taken);
            Ok::<(), Error>(())
        });
    }
}

#[pymethods]
impl PyLedger {
    /// Create a ledger file (refuses an existing one).
    ///
    /// `hash` is "blake3" (default) or "sha256" (bit-for-bit RFC 6962); `raw=True` holds opaque
    /// byte leaves instead of audit entries; `durable=False` lets appends return before their
    /// fsync until `sync()` (bulk imports).
    #[staticmethod]
    #[pyo3(signature = (
        path, origin, hash = "blake3", raw = false, durable = true, max_entry_bytes = None
    ))]
    fn create(
        py: Python<'_>,
        path: PathBuf,
        origin: String,
        hash: &str,
        raw: bool,
        durable: bool,
        max_entry_bytes: Option<u64>,
    ) -> PyResult<Self> {
        let mut opts = CreateOptions::new(origin).hash(core(py, hash_alg(hash))?);
        if raw {
            opts = opts.raw();
        }
        if let Some(max) = max_entry_bytes {
            opts.max_entry_bytes = max;
        }
        opts.durability = durability(durable);
        let l = core(py, py.detach(|| guarded(|| Ledger::create(&path, &opts))))?;
        Ok(Self::wrap(l))
    }

    /// Open a ledger file. If another process holds it, fail at once (LedgerLockedError), or
    /// wait up to `wait` seconds.
    #[staticmethod]
    #[pyo3(signature = (path, wait = None, durable = true))]
    fn open(py: Python<'_>, path: PathBuf, wait: Option<f64>, durable: bool) -> PyResult<Self> {
        let wait = wait
            .map(|s| {
                Duration::try_from_secs_f64(s)
                    .map_err(|e| Error::InvalidArgument(format!("wait={s}: {e}")))
            })
            .transpose();
        let opts = OpenOptions {
            wait: core(py, wait)?,
            durability: durability(durable),
        };
        let l = core(
            py,
            py.detach(|| guarded(|| Ledger::open_with(&path, &opts))),
        )?;
        Ok(Self::wrap(l))
    }

    /// The log's origin line.
    #[getter]
    fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree hash: "blake3" or "sha256".
    #[getter]
    fn hash(&self) -> &'static str {
        self.hash
    }

    /// The leaf kind: "entries" or "raw".
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// The ledger file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The most bytes one leaf may have.
    #[getter]
    fn max_entry_bytes(&self) -> u64 {
        self.max_entry_bytes
    }

    /// True once `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Append one audit entry (a dict, SPEC section 3); durable when it returns.
    fn append(&self, py: Python<'_>, entry: &Bound<'_, PyAny>) -> PyResult<PyReceipt> {
        let text = dumps(py, entry)?;
        let r = self.run(py, move |l| {
            let value = entry::parse_json(text.as_bytes())?;
            Ok(l.append(&value)?)
        })?;
        Ok(r.into())
    }

    /// Append a list of entries atomically: all are written, or none.
    fn append_batch(
        &self,
        py: Python<'_>,
        entries: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Py<PyReceipt>>> {
        if entries.is_instance_of::<PyDict>() || entries.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(
                "append_batch takes a list of entries; use append for one entry",
            ));
        }
        let text = dumps(py, entries)?;
        let rs = self.run(py, move |l| {
            let value = entry::parse_json(text.as_bytes())?;
            let Value::Array(items) = value else {
                return Err(Error::InvalidArgument("expected a list of entries".into()).into());
            };
            Ok(l.append_batch(&items)?)
        })?;
        receipts(py, rs)
    }

    /// Append one raw leaf (bytes; raw ledgers only).
    fn append_raw(&self, py: Python<'_>, leaf: PyBackedBytes) -> PyResult<PyReceipt> {
        let r = self.run(py, |l| Ok(l.append_raw(&leaf)?))?;
        Ok(r.into())
    }

    /// Append raw leaves atomically (raw ledgers only).
    fn append_raw_batch(
        &self,
        py: Python<'_>,
        leaves: Vec<PyBackedBytes>,
    ) -> PyResult<Vec<Py<PyReceipt>>> {
        let rs = self.run(py, |l| {
            let refs: Vec<&[u8]> = leaves.iter().map(|b| b.as_ref()).collect();
            Ok(l.append_raw_batch(&refs)?)
        })?;
        receipts(py, rs)
    }

    /// Make every append made with `durable=False` durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |l| Ok(l.sync()?))
    }

    /// The audit entry at `index`, as recorded (with `v` and `time`).
    fn get<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.run(py, |l| Ok(l.get(index)?))?;
        value_to_py(py, &v)
    }

    /// The exact leaf bytes at `index`.
    fn get_raw<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.run(py, |l| Ok(l.get_raw(index)?))?;
        Ok(PyBytes::new(py, &b))
    }

    /// The leaf hash at `index`, lowercase hex.
    fn leaf_hash(&self, py: Python<'_>, index: u64) -> PyResult<String> {
        let h = self.run(py, |l| Ok(l.leaf_hash(index)?))?;
        Ok(merkle::to_hex(&h))
    }

    /// Number of leaves.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let n = self.run(py, |l| Ok(l.size()?))?;
        usize::try_from(n).map_err(|_| to_py_err(py, Error::OutOfRange(format!("{n} leaves"))))
    }

    /// A ledger is always true, even when empty (it is a handle, not only a container).
    fn __bool__(&self) -> bool {
        true
    }

    /// The root of the tree at `size` (default: the current tree), lowercase hex.
    #[pyo3(signature = (size = None))]
    fn root(&self, py: Python<'_>, size: Option<u64>) -> PyResult<String> {
        let h = self.run(py, |l| {
            Ok(match size {
                Some(s) => l.root_at(s)?,
                None => l.root()?,
            })
        })?;
        Ok(merkle::to_hex(&h))
    }

    /// Inclusion proof of leaf `index` in the tree of `size` (default: current), as a dict in
    /// SPEC JSON form.
    #[pyo3(signature = (index, size = None))]
    fn prove_inclusion<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        size: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = self.run(py, |l| Ok(l.prove_inclusion(index, size)?.to_json()))?;
        json_to_py(py, &p)
    }

    /// Consistency proof from the tree of `old` leaves to the tree of `size` (default: current).
    #[pyo3(signature = (old, size = None))]
    fn prove_consistency<'py>(
        &self,
        py: Python<'py>,
        old: u64,
        size: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = self.run(py, |l| Ok(l.prove_consistency(old, size)?.to_json()))?;
        json_to_py(py, &p)
    }

    /// Sign a checkpoint for `size` (default: current), keep it in the ledger, return the note.
    #[pyo3(signature = (signer, size = None))]
    fn checkpoint(
        &self,
        py: Python<'_>,
        signer: &Bound<'_, PySigner>,
        size: Option<u64>,
    ) -> PyResult<String> {
        let s = &signer.get().inner;
        self.run(py, |l| Ok(l.checkpoint(s, size)?))
    }

    /// Entries matching every given filter (AND), one page, newest first by default:
    /// `{"entries": [{"index", "entry"}], "next_cursor"}`. Pass `next_cursor` back as `cursor`
    /// for the next page (None on the last). `subject` is `"TYPE:ID"`; `since`/`until` are
    /// RFC 3339 times; `order` is "newest" or "oldest".
    #[pyo3(signature = (
        *, actor = None, via = None, action = None, subject = None, attrs = None, refs = None,
        decision = None, policy = None, links_to = None, since = None, until = None,
        order = None, limit = None, cursor = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn query<'py>(
        &self,
        py: Python<'py>,
        actor: Option<Bound<'py, PyAny>>,
        via: Option<Bound<'py, PyAny>>,
        action: Option<Bound<'py, PyAny>>,
        subject: Option<Bound<'py, PyAny>>,
        attrs: Option<Bound<'py, PyAny>>,
        refs: Option<Bound<'py, PyAny>>,
        decision: Option<Bound<'py, PyAny>>,
        policy: Option<Bound<'py, PyAny>>,
        links_to: Option<Bound<'py, PyAny>>,
        since: Option<Bound<'py, PyAny>>,
        until: Option<Bound<'py, PyAny>>,
        order: Option<Bound<'py, PyAny>>,
        limit: Option<Bound<'py, PyAny>>,
        cursor: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // The core reads a query from its JSON form (`Query::from_json`, "as the bindings pass
        // it"), so the keyword arguments only become that object.
        let filters = PyDict::new(py);
        for (key, value) in [
            ("actor", actor),
            ("via", via),
            ("action", action),
            ("subject", subject),
            ("attrs", attrs),
            ("refs", refs),
            ("decision", decision),
            ("policy", policy),
            ("links_to", links_to),
            ("since", since),
            ("until", until),
            ("order", order),
            ("limit", limit),
            ("cursor", cursor),
        ] {
            if let Some(v) = value {
                filters.set_item(key, v)?;
            }
        }
        let text = dumps(py, filters.as_any())?;
        let page = self.run(py, move |l| {
            let q = Query::from_json(&entry::parse_json(text.as_bytes())?)?;
            let page = l.query(&q)?;
            let entries: Vec<Value> = page.entries.iter().map(|f| f.to_json()).collect();
            Ok(serde_json::json!({"entries": entries, "next_cursor": page.next_cursor}))
        })?;
        value_to_py(py, &page)
    }

    /// The entries `index` rests on, transitively (links, refs resolved, the policy version
    /// that allowed each), or with `forward=True` the entries that rest on it:
    /// `{"root", "nodes": [{"index", "entry", "links"}], "unresolved": [ref, ...]}`.
    #[pyo3(signature = (index, forward = false))]
    fn trace<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        forward: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let v = self.run(py, |l| Ok(l.trace(index, forward)?.to_json()))?;
        value_to_py(py, &v)
    }

    /// Which rule allowed entry `index`, what it said then, and who approved that version:
    /// `{"index", "entry", "authz", "policy": {"index", "entry"} | None, "approvals": [...]}`.
    fn why<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.run(py, |l| Ok(l.why(index)?.to_json()))?;
        value_to_py(py, &v)
    }

    /// Every checkpoint this ledger signed, oldest first: `{"size", "note", "verifier_key"}`.
    fn checkpoints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let cps = self.run(py, |l| Ok(l.checkpoints()?))?;
        let list = PyList::empty(py);
        for cp in cps {
            let d = PyDict::new(py);
            d.set_item("size", cp.size)?;
            d.set_item("note", cp.note)?;
            d.set_item("verifier_key", cp.verifier_key)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Check the whole ledger: every leaf, node and kept checkpoint, and with `checkpoint` and
    /// `verifier_key` (both or neither) that it contains that outside tree. Raises on the first
    /// mismatch; returns `{"size", "root", "nodes", "checkpoints", "external_checkpoint"}`.
    #[pyo3(signature = (checkpoint = None, verifier_key = None))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        checkpoint: Option<String>,
        verifier_key: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let report = self.run(py, |l| {
            let external = match (&checkpoint, &verifier_key) {
                (Some(note), Some(key)) => Some((note.as_str(), verifier(key)?)),
                (None, None) => None,
                _ => {
                    return Err(Error::InvalidArgument(
                        "give both checkpoint and verifier_key, or neither".into(),
                    )
                    .into())
                }
            };
            let opts = match &external {
                Some((note, v)) => VerifyOptions::default().against(note, v),
                None => VerifyOptions::default(),
            };
            Ok(l.verify(&opts)?)
        })?;
        let d = PyDict::new(py);
        d.set_item("size", report.size)?;
        d.set_item("root", merkle::to_hex(&report.root))?;
        d.set_item("nodes", report.nodes)?;
        d.set_item("checkpoints", report.checkpoints)?;
        d.set_item("external_checkpoint", report.external_checkpoint)?;
        Ok(d)
    }

    /// Close the file (releasing it for other processes). Later calls raise ValueError.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let r = py.detach(|| {
            let taken = self.inner.write().unwrap_or_else(|p| p.into_inner()).take();
            guarded(move || {
                drop(taken);
                Ok::<(), Error>(())
            })
        });
        core(py, r)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (exc_type = None, exc_value = None, traceback = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = (exc_type, exc_value, traceback);
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<trailseal.Ledger {:?} origin={:?} hash={} kind={}{}>",
            self.path.display().to_string(),
            self.origin,
            self.hash,
            self.kind,
            if self.closed() { " closed" } else { "" }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Ledger-free verification
// ---------------------------------------------------------------------------------------------

/// Check an inclusion proof (dict or JSON text). With `leaf` (the leaf bytes, or an entry dict
/// as `Ledger.get` returns it), also check that it hashes to the proof's leaf hash.
#[pyfunction]
#[pyo3(signature = (proof, leaf = None))]
fn verify_inclusion(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaf: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    enum Leaf {
        Bytes(PyBackedBytes),
        Entry(String),
    }
    let text = proof_text(py, proof)?;
    let leaf = match leaf {
        None => None,
        Some(obj) if obj.cast::<PyMapping>().is_ok() => Some(Leaf::Entry(dumps(py, obj)?)),
        Some(obj) => match obj.extract::<PyBackedBytes>() {
            Ok(b) => Some(Leaf::Bytes(b)),
            Err(_) => {
                return Err(PyTypeError::new_err(
                    "leaf must be the leaf bytes or an entry dict",
                ))
            }
        },
    };
    let r = py.detach(move || -> trailseal::Result<()> {
        let p = InclusionProof::from_json(&text)?;
        match leaf {
            None => p.verify(),
            Some(Leaf::Bytes(b)) => p.verify_leaf(&b),
            Some(Leaf::Entry(json)) => {
                p.verify_leaf(&entry::canonical_json(&entry::parse_json(json.as_bytes())?))
            }
        }
    });
    core(py, r)
}

/// Check a consistency proof (dict or JSON text).
#[pyfunction]
fn verify_consistency(py: Python<'_>, proof: &Bound<'_, PyAny>) -> PyResult<()> {
    let text = proof_text(py, proof)?;
    core(
        py,
        py.detach(move || ConsistencyProof::from_json(&text)?.verify()),
    )
}

/// Check a signed checkpoint note against a verifier key string; returns what it says.
#[pyfunction]
fn verify_checkpoint(py: Python<'_>, note: &str, verifier_key: &str) -> PyResult<PyCheckpoint> {
    let inner = core(
        py,
        py.detach(|| Checkpoint::verify(note, &verifier(verifier_key)?)),
    )?;
    Ok(PyCheckpoint { inner })
}

/// `[(code, status, class), ...]` for every core error code, in numeric order.
#[pyfunction]
#[pyo3(name = "_error_codes")]
fn error_codes(py: Python<'_>) -> Vec<(&'static str, u32, Bound<'_, PyType>)> {
    ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.as_u32(), error_class(py, *c)))
        .collect()
}

#[pymodule]
mod _trailseal {
    use super::*;

    #[pymodule_export]
    use super::{
        AlreadyExistsError, IdConflictError, InconsistentError, InternalError,
        InvalidArgumentError, InvalidEntryError, IoError, LedgerLockedError, MalformedError,
        NotALedgerError, NotFoundError, OutOfRangeError, StorageError, TamperedError,
        TrailsealError, VerificationError, WrongKindError,
    };

    #[pymodule_export]
    use super::{
        error_codes, verify_checkpoint, verify_consistency, verify_inclusion, PyCheckpoint,
        PyLedger, PyReceipt, PySigner,
    };

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        let py = m.py();
        for code in ErrorCode::ALL {
            let class = error_class(py, code);
            class.setattr("code", code.as_str())?;
            class.setattr("status", code.as_u32())?;
        }
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        Ok(())
    }
}
