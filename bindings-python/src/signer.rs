//! `Signer`: an Ed25519 checkpoint key in Go's `sumdb/note` key format.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use trailseal::{Error, Signer};

use crate::error::{core, to_py_err};

/// An Ed25519 key that signs checkpoints, in Go's `sumdb/note` key format.
///
/// `str()` and `repr()` show only `<name>+<key hash>`; the secret leaves only through
/// `to_string_private()`.
#[pyclass(frozen, module = "trailseal", name = "Signer")]
pub(crate) struct PySigner {
    pub(crate) inner: Signer,
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

    /// A key held outside the process, named `name`: `spec` is `ssh-agent:<key comment or
    /// SHA256 fingerprint>` (the agent at `SSH_AUTH_SOCK`) or `pkcs11:<RFC 7512 URI>`. The
    /// secret never enters the process; each signature is asked of the agent or token.
    #[staticmethod]
    fn open(py: Python<'_>, spec: &str, name: &str) -> PyResult<Self> {
        let r = py.detach(|| Signer::open(spec, name));
        core(py, r).map(|inner| PySigner { inner })
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

    /// The secret signer key string. Anyone holding it can sign as this key. A key held
    /// by ssh-agent or a PKCS#11 token has none (`InvalidArgumentError`).
    fn to_string_private(&self) -> PyResult<String> {
        self.inner
            .to_key_string()
            .map_err(|e| Python::attach(|py| to_py_err(py, e)))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("<trailseal.Signer {}>", self.inner)
    }
}
