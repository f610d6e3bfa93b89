//! The checks that need no ledger, only a proof, note or bundle and the log's public key:
//! `verify_inclusion`, `verify_consistency`, `verify_checkpoint` and `verify_bundle`. Each
//! releases the GIL while it hashes and checks signatures.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyMapping, PyString};
use trailseal::evidence::verify_bundle_bytes;
use trailseal::{check_consistency, check_inclusion, entry, Checkpoint, Outside};

use crate::checkpoint::PyCheckpoint;
use crate::convert::{dumps, proof_text, text_or_bytes, value_to_py, verifier};
use crate::error::{core, guarded};

/// Check an inclusion proof (dict or JSON text). With `leaf`, also check that it hashes to the
/// proof's leaf hash: the exact leaf as text (`Ledger.get_json`) or bytes (`Ledger.get_raw`),
/// or an entry dict (`Ledger.get`; canonicalized again, so prefer the exact text). With
/// `checkpoint` and `verifier_key` (both or neither), also check the note's signature and that
/// the proof is against the tree it commits to (as `trailseal verify-proof --checkpoint`).
#[pyfunction]
#[pyo3(signature = (proof, leaf = None, checkpoint = None, verifier_key = None))]
pub(crate) fn verify_inclusion(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    leaf: Option<&Bound<'_, PyAny>>,
    checkpoint: Option<String>,
    verifier_key: Option<String>,
) -> PyResult<()> {
    enum Leaf {
        Bytes(PyBackedBytes),
        Text(String),
        Entry(String),
    }
    let text = proof_text(py, proof)?;
    let leaf = match leaf {
        None => None,
        Some(obj) if obj.is_instance_of::<PyString>() => Some(Leaf::Text(obj.extract()?)),
        Some(obj) if obj.cast::<PyMapping>().is_ok() => Some(Leaf::Entry(dumps(py, obj)?)),
        Some(obj) => match obj.extract::<PyBackedBytes>() {
            Ok(b) => Some(Leaf::Bytes(b)),
            Err(_) => {
                return Err(PyTypeError::new_err(
                    "leaf must be the leaf text or bytes, or an entry dict",
                ))
            }
        },
    };
    let r = py.detach(move || {
        guarded(|| -> trailseal::Result<()> {
            let outside = Outside::pair(checkpoint.as_deref(), verifier_key.as_deref())?;
            // An entry dict is hashed as its canonical JSON, the form the ledger recorded.
            let canonical;
            let leaf: Option<&[u8]> = match &leaf {
                None => None,
                Some(Leaf::Bytes(b)) => Some(b),
                Some(Leaf::Text(t)) => Some(t.as_bytes()),
                Some(Leaf::Entry(json)) => {
                    canonical = entry::canonical_json(&entry::parse_json(json.as_bytes())?);
                    Some(&canonical)
                }
            };
            check_inclusion(&text, leaf, outside).map(drop)
        })
    });
    core(py, r)
}

/// Check a consistency proof (dict or JSON text). With `checkpoint` and `verifier_key` (both
/// or neither), also check the note's signature and that one end of the proof (old or new)
/// is the tree it commits to.
#[pyfunction]
#[pyo3(signature = (proof, checkpoint = None, verifier_key = None))]
pub(crate) fn verify_consistency(
    py: Python<'_>,
    proof: &Bound<'_, PyAny>,
    checkpoint: Option<String>,
    verifier_key: Option<String>,
) -> PyResult<()> {
    let text = proof_text(py, proof)?;
    let r = py.detach(move || {
        guarded(|| -> trailseal::Result<()> {
            let outside = Outside::pair(checkpoint.as_deref(), verifier_key.as_deref())?;
            check_consistency(&text, outside).map(drop)
        })
    });
    core(py, r)
}

/// Check a signed checkpoint note against a verifier key string; returns what it says.
#[pyfunction]
pub(crate) fn verify_checkpoint(
    py: Python<'_>,
    note: &str,
    verifier_key: &str,
) -> PyResult<PyCheckpoint> {
    let inner = core(
        py,
        py.detach(|| guarded(|| Checkpoint::verify(note, &verifier(verifier_key)?))),
    )?;
    Ok(PyCheckpoint { inner })
}

/// Check an evidence bundle (the file's text, or its bytes) with nothing but the verifier
/// key: every signature and proof, every leaf hash recomputed from the JSON shown, and the one
/// canonical spelling (a changed character anywhere is caught). Raises MalformedError or
/// VerificationError; returns what `trailseal verify-bundle --json` prints: `{"ok": True,
/// "origin", "hash", "tree_size", "root", "key_name", "entries": [{"index", "entry"}]}`.
#[pyfunction]
pub(crate) fn verify_bundle<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyAny>,
    verifier_key: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(bytes) = text_or_bytes(text)? else {
        return Err(PyTypeError::new_err(
            "a bundle is the file's text (str) or its bytes",
        ));
    };
    let r = py.detach(move || {
        guarded(|| Ok(verify_bundle_bytes(&bytes, &verifier(verifier_key)?)?.to_json()))
    });
    value_to_py(py, &core(py, r)?)
}

/// Open a cosigned checkpoint note: the log's signature by `verifier_key`, and valid
/// cosignatures (C2SP tlog-cosignature v1) of `quorum` distinct witnesses among `witness_keys`
/// (default: all of them). Returns `{"checkpoint": {...}, "cosignatures": [{"witness",
/// "key_hash", "timestamp", "line"}]}`; raises VerificationFailedError when the quorum is not
/// met or a listed witness's cosignature does not verify.
#[pyfunction]
#[pyo3(signature = (note, verifier_key, witness_keys, quorum = None))]
pub(crate) fn verify_cosigned<'py>(
    py: Python<'py>,
    note: String,
    verifier_key: String,
    witness_keys: Vec<String>,
    quorum: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let r = py.detach(move || {
        guarded(|| -> trailseal::Result<serde_json::Value> {
            let log = trailseal::Verifier::from_key_string(&verifier_key)?;
            let policy = trailseal::WitnessPolicy::from_keys(&witness_keys, quorum)?;
            Ok(trailseal::witness::verify_cosigned(&note, &log, &policy)?.to_json())
        })
    });
    let v = core(py, r)?;
    value_to_py(py, &v)
}
