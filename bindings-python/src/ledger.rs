//! `Ledger`: one open ledger file, shared by every Python thread.
//!
//! PyO3 takes one `#[pymethods]` block per class (more need its `multiple-pymethods` feature,
//! and with it the `inventory` crate), so every Python method of `Ledger` is declared here,
//! with its signature and docstring. The auditor's questions and capture are one-line calls
//! into `questions.rs` and `capture.rs`, which hold their conversions.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyString};
use serde_json::Value;
use trailseal::merkle::{self, HashAlg};
use trailseal::{
    entry, CreateOptions, Error, Ledger, OpenOptions, Outside, Sharing, VerifyOptions,
    WitnessPolicy, WitnessSpec,
};

use crate::capture;
use crate::convert::{dumps, durability, json_to_py, value_to_py};
use crate::erase;
use crate::error::{core, guarded, to_py_err};
use crate::prune;
use crate::questions;
use crate::receipt::{receipts, PyReceipt};
use crate::retention;
use crate::rules;
use crate::signer::PySigner;

/// An open ledger file. Share one handle across threads; appends are serialized, readers see
/// consistent snapshots, and the GIL is released while the ledger works.
#[pyclass(frozen, module = "trailseal", name = "Ledger")]
pub(crate) struct PyLedger {
    /// `None` once closed. Calls hold the read side while they run (without the GIL); `close`
    /// takes the write side, so it returns only once the file is really released.
    inner: RwLock<Option<Ledger>>,
    origin: String,
    hash: &'static str,
    kind: &'static str,
    path: PathBuf,
    max_entry_bytes: u64,
    verifier_key: Option<String>,
    sharing: &'static str,
    read_only: bool,
}

impl PyLedger {
    fn wrap(l: Ledger) -> Self {
        PyLedger {
            origin: l.origin().to_owned(),
            hash: l.hash().name(),
            kind: l.kind().name(),
            path: l.path().to_owned(),
            max_entry_bytes: l.max_entry_bytes(),
            verifier_key: l.verifier_key().map(str::to_owned),
            sharing: l.sharing().name(),
            read_only: l.read_only(),
            inner: RwLock::new(Some(l)),
        }
    }

    /// Run `f` on the open ledger without the GIL.
    pub(crate) fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Ledger) -> trailseal::Result<T> + Send,
    ) -> PyResult<T> {
        let r = py.detach(|| {
            let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(l) => guarded(|| f(l)),
                None => Err(Error::closed("ledger")),
            }
        });
        core(py, r)
    }
}

/// `None` leaves the default to the core; a name is parsed by the core, as in every binding.
fn sharing(name: Option<&str>) -> trailseal::Result<Option<Sharing>> {
    name.map(Sharing::from_str).transpose()
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
    /// `hash` is "sha256" (bit-for-bit RFC 6962; the core's default when omitted) or "blake3"; `raw=True` holds opaque
    /// byte leaves instead of audit entries; `durable=False` lets appends return before their
    /// fsync until `sync()` (bulk imports). `verifier_key` (a `Signer.verifier_key`) is
    /// recorded as the key that signs this ledger's checkpoints: `checkpoint` (and `bundle`
    /// with a signer) then refuses any other signer with InvalidArgumentError. `share` is the
    /// sharing mode of the returned handle, as for `open`. `personal` names the fields sealed
    /// as salted commitments, their values kept beside the leaves so that `erase` can delete
    /// them (SPEC section 10: "actor.id", "change.before", "payload.user.email", ...).
    #[staticmethod]
    #[pyo3(signature = (
        path, origin, hash = None, raw = false, durable = true, max_entry_bytes = None,
        verifier_key = None, share = None, personal = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        path: PathBuf,
        origin: String,
        hash: Option<&str>,
        raw: bool,
        durable: bool,
        max_entry_bytes: Option<u64>,
        verifier_key: Option<String>,
        share: Option<&str>,
        personal: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let mut opts = CreateOptions::new(origin);
        if let Some(p) = personal {
            opts = opts.personal_fields(&p);
        }
        if let Some(hash) = hash {
            opts = opts.hash(core(py, HashAlg::from_str(hash))?);
        }
        if raw {
            opts = opts.raw();
        }
        if let Some(max) = max_entry_bytes {
            opts.max_entry_bytes = max;
        }
        opts.durability = durability(durable);
        opts.verifier_key = verifier_key;
        opts.sharing = core(py, sharing(share))?;
        let l = core(py, py.detach(|| guarded(|| Ledger::create(&path, &opts))))?;
        Ok(Self::wrap(l))
    }

    /// Open a ledger file.
    ///
    /// `share` says how this handle shares the file with other handles and processes:
    /// "auto" (the default for durable handles: hold the file alone until another handle or
    /// process opens it, then share it as "multi-writer"), "multi-writer" (any number read
    /// and append at once, each following the others' commits), "single-writer" (one writes,
    /// any number read) or "exclusive" (the default, and only mode, for `durable=False`: a
    /// writing handle holds the file alone). Handles open on a file at once must use
    /// compatible modes ("auto" with "auto" and "multi-writer", otherwise the same). When the
    /// mode keeps this handle out, fail at once (LedgerLockedError), or wait up to `wait`
    /// seconds. `read_only=True` never writes a byte of the file (read permission is
    /// enough); appends, checkpoints and `sync` through it raise InvalidArgumentError.
    #[staticmethod]
    #[pyo3(signature = (path, wait = None, durable = true, share = None, read_only = false))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        wait: Option<f64>,
        durable: bool,
        share: Option<&str>,
        read_only: bool,
    ) -> PyResult<Self> {
        let wait = wait
            .map(|s| {
                Duration::try_from_secs_f64(s)
                    .map_err(|e| Error::InvalidArgument(format!("wait={s}: {e}")))
            })
            .transpose();
        let opts = OpenOptions {
            wait: core(py, wait)?,
            durability: durability(durable),
            sharing: core(py, sharing(share))?,
            read_only,
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

    /// The verifier key recorded at creation as the one that signs this ledger's checkpoints
    /// (as the core spells it), or None when none was recorded.
    #[getter]
    fn verifier_key(&self) -> Option<&str> {
        self.verifier_key.as_deref()
    }

    /// How this handle shares the file: "auto", "multi-writer", "single-writer" or
    /// "exclusive" (the mode asked for, or the default chosen for its durability).
    #[getter]
    fn sharing(&self) -> &'static str {
        self.sharing
    }

    /// The mode the file is open in at the moment: for "auto", "exclusive" until another
    /// handle or process asked to share it, "multi-writer" from then on; otherwise as asked.
    #[getter]
    fn sharing_now(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.run(py, |l| Ok(l.sharing_now().name()))
    }

    /// True when this handle was opened with `read_only=True`.
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
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
            l.append(&value)
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
                return Err(Error::InvalidArgument("expected a list of entries".into()));
            };
            l.append_batch(&items)
        })?;
        receipts(py, rs)
    }

    /// Append one raw leaf (bytes; raw ledgers only).
    fn append_raw(&self, py: Python<'_>, leaf: PyBackedBytes) -> PyResult<PyReceipt> {
        let r = self.run(py, |l| l.append_raw(&leaf))?;
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
            l.append_raw_batch(&refs)
        })?;
        receipts(py, rs)
    }

    /// Make every append made with `durable=False` durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |l| l.sync())
    }

    /// The audit entry at `index`, as recorded (with `v` and `time`).
    fn get<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.run(py, |l| l.get(index))?;
        value_to_py(py, &v)
    }

    /// The audit entry at `index` as JSON text: exactly the recorded leaf (its canonical JSON),
    /// so it hashes to the leaf hash; pass it as `leaf=` to `verify_inclusion`.
    fn get_json(&self, py: Python<'_>, index: u64) -> PyResult<String> {
        self.run(py, |l| l.get_json(index))
    }

    /// The exact leaf bytes at `index`.
    fn get_raw<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.run(py, |l| l.get_raw(index))?;
        Ok(PyBytes::new(py, &b))
    }

    /// The leaf hash at `index`, lowercase hex.
    fn leaf_hash(&self, py: Python<'_>, index: u64) -> PyResult<String> {
        let h = self.run(py, |l| l.leaf_hash(index))?;
        Ok(merkle::to_hex(&h))
    }

    /// Number of leaves.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let n = self.run(py, |l| l.size())?;
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
        self.run(py, |l| l.checkpoint(s, size))
    }

    /// Rotate the checkpoint key from `old` (the key in force) to `new`: a `key.rotated` entry
    /// by `actor` names both verifier keys, and a checkpoint over it is kept signed by `old`
    /// then `new` (SPEC 4.1). Returns `{"index", "old_key", "new_key", "note"}`. Raises
    /// `InvalidArgumentError` when `old` is not the key in force or `new` is the same key.
    #[pyo3(signature = (old, new, actor = "trailseal"))]
    fn rotate_key<'py>(
        &self,
        py: Python<'py>,
        old: &Bound<'py, PySigner>,
        new: &Bound<'py, PySigner>,
        actor: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (o, n) = (&old.get().inner, &new.get().inner);
        let r = self.run(py, |l| Ok(l.rotate_key(o, n, actor)?.to_json()))?;
        value_to_py(py, &r)
    }

    /// Publish a rules document (docs/RULES.md; a dict or JSON text) as a `rules.published`
    /// entry by `actor`, with `authz` (why it was allowed, a dict) and `links` (e.g.
    /// `[{"rel": "approved_by", "index": 12}]`). It is itself judged by the rules in force
    /// before it, and governs every entry after it. Returns the entry's receipt. Raises
    /// `MalformedError` for a document that is not rules (it is refused whole).
    #[pyo3(signature = (document, actor, authz = None, links = None))]
    fn publish_rules(
        &self,
        py: Python<'_>,
        document: &Bound<'_, PyAny>,
        actor: String,
        authz: Option<&Bound<'_, PyAny>>,
        links: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyReceipt> {
        rules::publish(self, py, document, actor, authz, links)
    }

    /// Every rules version published, oldest first: `[{"index", "version", "digest",
    /// "published_by", "authz", "links", "document"}]`.
    fn rules_versions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        rules::versions(self, py)
    }

    /// The rules version in force for the entry at `index` (default: the next append), as
    /// `rules_versions` gives it, or `None` before any was published.
    #[pyo3(signature = (index = None))]
    fn rules_at<'py>(&self, py: Python<'py>, index: Option<u64>) -> PyResult<Bound<'py, PyAny>> {
        rules::at(self, py, index)
    }

    /// Whether appends through this handle that break the rules are recorded as
    /// `audit.refused` entries (the refusal is still raised): off by default.
    #[getter]
    fn get_record_refusals(&self, py: Python<'_>) -> PyResult<bool> {
        self.run(py, |l| Ok(l.records_refusals()))
    }

    #[setter]
    fn set_record_refusals(&self, py: Python<'_>, yes: bool) -> PyResult<()> {
        self.run(py, |l| {
            l.set_record_refusals(yes);
            Ok(())
        })
    }

    /// The delivery measures (docs/RULES.md, "Reports"): mean time to decision, change
    /// requests per week, approval concentration (approvers whose share is above `threshold`,
    /// default 0.5, flagged), break-glass per class and the AI intervention rate. Raises
    /// `InvalidArgumentError` for a threshold outside 0..1.
    #[pyo3(signature = (threshold = None))]
    fn delivery_report<'py>(
        &self,
        py: Python<'py>,
        threshold: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        rules::delivery_report(self, py, threshold)
    }

    /// Record retention rules (SPEC 8; a dict or JSON text such as `{"version": "sox-2026",
    /// "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}`) as a
    /// `retention.published` entry by `actor`, `authz` saying why it was allowed (`{"decision",
    /// "policy", "reason"?}`); in force for every entry after it. Raises `MalformedError` for
    /// rules that do not parse.
    fn publish_retention_rules(
        &self,
        py: Python<'_>,
        document: &Bound<'_, PyAny>,
        actor: String,
        authz: &Bound<'_, PyAny>,
    ) -> PyResult<PyReceipt> {
        retention::publish(self, py, document, actor, authz)
    }

    /// Place legal hold `id` over what `covers` matches (a query dict such as `{"subject":
    /// "service:payments"}` or `{"actor": "bob"}`) as a `legal_hold.placed` entry: what it
    /// covers is never pruned or erased until it is released. Raises `InvalidArgumentError`
    /// while a hold of that id is in force, `MalformedError` for a `covers` that names nothing.
    fn place_hold(
        &self,
        py: Python<'_>,
        id: String,
        covers: &Bound<'_, PyAny>,
        actor: String,
        authz: &Bound<'_, PyAny>,
    ) -> PyResult<PyReceipt> {
        retention::place_hold(self, py, id, covers, actor, authz)
    }

    /// Release legal hold `id` (a `legal_hold.released` entry). Raises `InvalidArgumentError`
    /// when no hold of that id is in force.
    fn release_hold(
        &self,
        py: Python<'_>,
        id: String,
        actor: String,
        authz: &Bound<'_, PyAny>,
    ) -> PyResult<PyReceipt> {
        retention::release_hold(self, py, id, actor, authz)
    }

    /// The retention rules in force for the entry at `index` (default: the next append):
    /// `{"index", "version", "digest", "rules"}`, or `None` before any were recorded.
    #[pyo3(signature = (index = None))]
    fn retention_rules_at<'py>(
        &self,
        py: Python<'py>,
        index: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        retention::rules_at(self, py, index)
    }

    /// Every legal hold recorded, in force or released: `[{"id", "placed", "released",
    /// "covers"}]`.
    fn legal_holds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        retention::holds(self, py)
    }

    /// What retention allows at time `at` (RFC 3339; default now): `{"at", "size", "rules",
    /// "eligible": [[start, end], ...], "counts": {"eligible", "protected", "no_rule",
    /// "in_retention", "held", "linked"}, "pruned"}` (`pruned`: entries already pruned).
    #[pyo3(signature = (at = None))]
    fn retention_plan<'py>(
        &self,
        py: Python<'py>,
        at: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        retention::plan(self, py, at)
    }

    /// Erase the personal values of the entries `select` names (`{"actor": id}`, `{"subject":
    /// "type:id"}` or `{"indexes": [...]}`), recording an `erasure.performed` entry by `actor`
    /// with `authz` (why it was allowed), `reason` and `legal_basis`; their leaves and every
    /// proof stay, they read with `"erased": {"by": <record>}`, and the file keeps nothing of
    /// the values. Returns `{"dry_run", "erased", "count", "skipped", "records"}`. Raises
    /// `InvalidArgumentError` (nothing changed) for an entry under a legal hold, a protected
    /// record, nothing to erase, or a ledger without personal fields.
    #[pyo3(signature = (
        select, reason, actor, authz, legal_basis = None, request = None, dry_run = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn erase<'py>(
        &self,
        py: Python<'py>,
        select: &Bound<'_, PyAny>,
        reason: String,
        actor: String,
        authz: &Bound<'_, PyAny>,
        legal_basis: Option<String>,
        request: Option<String>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        erase::erase(
            self,
            py,
            select,
            reason,
            actor,
            authz,
            legal_basis,
            request,
            dry_run,
        )
    }

    /// Entry `index`'s openings, `{"<field>": {"salt", "value"}}`, for whoever must show later
    /// what it recorded (`check_opening`); `None` without sealed fields or once erased.
    fn openings<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        erase::openings(self, py, index)
    }

    /// Overwrite the file's free pages with zeros (what `erase` ends with).
    fn scrub_free_pages(&self, py: Python<'_>) -> PyResult<()> {
        self.run(py, |l| l.scrub_free_pages())
    }

    /// The fields this ledger seals as commitments (empty when none).
    #[getter]
    fn personal_fields(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.run(py, |l| Ok(l.personal_fields().to_vec()))
    }

    /// Remove the content of every entry whose retention ended by `before` (RFC 3339) and
    /// that no hold covers, recording each step as a `retention.pruned` entry by `actor` with
    /// `authz`; with `dry_run`, only say what would go. Every proof and checkpoint still
    /// verifies. Returns `{"dry_run", "before", "size", "rules", "pruned": [[start, end],
    /// ...], "count", "records", "kept": {"protected", "no_rule", "in_retention", "held",
    /// "linked", "at_edge"}, "already_pruned"}`. A ledger with committed indexes raises
    /// `InvalidArgumentError`; reading a pruned entry raises `OutOfRangeError`.
    #[pyo3(signature = (before, actor, authz, dry_run = false))]
    fn prune<'py>(
        &self,
        py: Python<'py>,
        before: String,
        actor: String,
        authz: &Bound<'_, PyAny>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        prune::prune(self, py, before, actor, authz, dry_run)
    }

    /// Where entry `index` went, if it was pruned: `{"index", "leaf_hash", "pruned": {"by",
    /// "at", "rules_version"}}`; `None` when its content is there.
    fn pruned<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        prune::pruned(self, py, index)
    }

    /// The verifier key that signs this ledger's checkpoints now: the one recorded at
    /// creation followed through every rotation that holds (`None` when none is recorded).
    fn verifier_key_in_force(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.run(py, |l| l.verifier_key_in_force())
    }

    /// Ask C2SP witnesses (tlog-witness) to cosign this ledger's checkpoint at its current size
    /// (signed by `signer`, or the newest kept one of that size) and keep their cosignatures.
    /// `witnesses` is a list of `(url, witness_vkey)` pairs; `quorum` defaults to all of them;
    /// `timeout` is seconds per request. Returns the report (`{"size", "quorum", "cosigned",
    /// "quorum_met", "note", "witnesses": [...]}`) even when fewer than `quorum` cosigned:
    /// check `quorum_met`. Raises InvalidArgumentError for a non-SHA-256 ledger.
    #[pyo3(signature = (signer, witnesses, quorum = None, timeout = 10.0))]
    fn witness<'py>(
        &self,
        py: Python<'py>,
        signer: &Bound<'_, PySigner>,
        witnesses: Vec<(String, String)>,
        quorum: Option<usize>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = &signer.get().inner;
        let report = self.run(py, |l| {
            let timeout = trailseal::request_timeout(timeout)?;
            let specs = witnesses
                .iter()
                .map(|(url, key)| WitnessSpec::new(url.clone(), key))
                .collect::<trailseal::Result<Vec<_>>>()?;
            Ok(l.witness(s, &specs, quorum, timeout)?.to_json())
        })?;
        value_to_py(py, &report)
    }

    /// Have the RFC 3161 time-stamp authority at `tsa_url` time-stamp a kept checkpoint
    /// (number `checkpoint`, else the latest kept, else one signed now by `signer`), check the
    /// token against the CA certificate `tsa_ca` (PEM, str or bytes) and keep it beside the
    /// checkpoint. The GIL and the ledger's lock are released while the TSA answers (at most
    /// `timeout` seconds). Returns `{"checkpoint", "size", "attested": {"time", "tsa",
    /// "serial", "policy"}, "requested", "token"}` (token in base64); a checkpoint that
    /// already has a token valid under the CA keeps it (`requested` False). A TSA that fails
    /// raises IoError; a token that does not check out, VerificationError.
    #[pyo3(signature = (tsa_url, tsa_ca, checkpoint = None, signer = None, timeout = 30.0))]
    fn timestamp_checkpoint<'py>(
        &self,
        py: Python<'py>,
        tsa_url: &str,
        tsa_ca: &Bound<'py, PyAny>,
        checkpoint: Option<u64>,
        signer: Option<&Bound<'py, PySigner>>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ca = crate::timestamp::pem_or_bytes(tsa_ca, "tsa_ca")?;
        let s = signer.map(|s| &s.get().inner);
        let r = self.run(py, |l| {
            let timeout = trailseal::request_timeout(timeout)?;
            Ok(
                l.timestamp_checkpoint(tsa_url, &ca, checkpoint, s, timeout)?
                    .to_json(),
            )
        })?;
        value_to_py(py, &r)
    }

    /// The time-stamp token (DER) kept for checkpoint number `seq`, or None.
    fn checkpoint_timestamp<'py>(
        &self,
        py: Python<'py>,
        seq: u64,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let t = self.run(py, |l| l.checkpoint_timestamp(seq))?;
        Ok(t.map(|t| PyBytes::new(py, &t)))
    }

    /// Entries matching every given filter (AND), one page, newest first by default:
    /// `{"entries": [{"index", "entry"}], "next_cursor"}`. Pass `next_cursor` back as `cursor`
    /// for the next page (None on the last). `subject` is `"TYPE:ID"`; `since`/`until` are
    /// RFC 3339 times on the ledger's `time` (when recorded), `occurred_since`/
    /// `occurred_until` on `occurred_at` (when it happened, as the source says); `order` is
    /// "newest" or "oldest".
    #[pyo3(signature = (
        *, actor = None, via = None, action = None, subject = None, attrs = None, refs = None,
        decision = None, policy = None, links_to = None, since = None, until = None,
        occurred_since = None, occurred_until = None, order = None, limit = None, cursor = None
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
        occurred_since: Option<Bound<'py, PyAny>>,
        occurred_until: Option<Bound<'py, PyAny>>,
        order: Option<Bound<'py, PyAny>>,
        limit: Option<Bound<'py, PyAny>>,
        cursor: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        questions::query(
            self,
            py,
            [
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
                ("occurred_since", occurred_since),
                ("occurred_until", occurred_until),
                ("order", order),
                ("limit", limit),
                ("cursor", cursor),
            ],
        )
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
        questions::trace(self, py, index, forward)
    }

    /// Which rule allowed entry `index`, what it said then, and who approved that version:
    /// `{"index", "entry", "authz", "policy": {"index", "entry"} | None, "approvals": [...]}`.
    fn why<'py>(&self, py: Python<'py>, index: u64) -> PyResult<Bound<'py, PyAny>> {
        questions::why(self, py, index)
    }

    /// Every checkpoint this ledger signed, oldest first: `{"size", "note", "verifier_key"}`.
    fn checkpoints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cps = self.run(py, |l| {
            let cps = l.checkpoints()?;
            Ok(Value::Array(cps.iter().map(|c| c.to_json()).collect()))
        })?;
        value_to_py(py, &cps)
    }

    /// Check the whole ledger: every leaf, node and kept checkpoint, and with `checkpoint` and
    /// `verifier_key` (both or neither) that it contains that outside tree. `indexes=True` also
    /// checks every query-index posting against its entry (much slower). Raises on the first
    /// mismatch; returns what the command's `verify` prints: `{"ok": True, "size", "root",
    /// "nodes_checked", "checkpoints_checked", "consistent_with_checkpoint",
    /// "postings_checked", "indexes_checked", "cosignatures_checked", "witnessed_size"}`.
    /// With `witness_keys` (witness vkeys), the outside checkpoint, or without one some kept
    /// checkpoint, must carry valid cosignatures of `quorum` of them (default: all).
    #[pyo3(signature = (
        checkpoint = None, verifier_key = None, indexes = false, witness_keys = None, quorum = None
    ))]
    fn verify<'py>(
        &self,
        py: Python<'py>,
        checkpoint: Option<String>,
        verifier_key: Option<String>,
        indexes: bool,
        witness_keys: Option<Vec<String>>,
        quorum: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let report = self.run(py, |l| {
            let outside = Outside::pair(checkpoint.as_deref(), verifier_key.as_deref())?;
            // `VerifyOptions` borrows the parsed verifier, so it must outlive the options.
            let verifier = outside.map(|o| o.verifier()).transpose()?;
            let policy = witness_keys
                .as_ref()
                .map(|k| WitnessPolicy::from_keys(k, quorum))
                .transpose()?;
            let mut opts = VerifyOptions::default().indexes(indexes);
            if let (Some(o), Some(v)) = (&outside, &verifier) {
                opts = opts.against(o.note, v);
            }
            if let Some(p) = &policy {
                opts = opts.witnessed(p);
            }
            Ok(l.verify(&opts)?.to_json())
        })?;
        value_to_py(py, &report)
    }

    /// Evaluate a release gate for `subject` (`"TYPE:ID"`). `policy` is a dict or its JSON
    /// text, e.g. `{"min_approvals": 2, "approver_roles": ["release-manager", "sre"],
    /// "forbid_self_approval": True, "require": ["test.passed", "scan.passed"]}` (unknown
    /// fields are refused). Returns what `trailseal gate --json` prints: `{"passed": bool,
    /// "requirements": [{"name", "met", "evidence": [index, ...]}]}`.
    fn gate<'py>(
        &self,
        py: Python<'py>,
        subject: String,
        policy: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        questions::gate(self, py, subject, policy)
    }

    /// Record a gate's outcome as a `gate.passed` / `gate.failed` entry by `actor` on
    /// `subject`, linking its evidence and carrying the policy's digest. `result` is what
    /// `gate(subject, policy)` returned (a dict or its JSON text): the gate is evaluated
    /// again, and a result that is not its outcome now (the ledger changed since, or the
    /// result was edited) is refused with InconsistentError, so a recorded verdict is always
    /// the ledger's own.
    fn record_gate(
        &self,
        py: Python<'_>,
        subject: String,
        policy: &Bound<'_, PyAny>,
        result: &Bound<'_, PyAny>,
        actor: String,
    ) -> PyResult<PyReceipt> {
        questions::record_gate(self, py, subject, policy, result, actor)
    }

    /// An evidence bundle (docs/BUNDLE.md): the selected entries, each with its inclusion
    /// proof against one signed checkpoint, as the file's text (write it unchanged, e.g.
    /// `Path.write_bytes(text.encode())`: one changed byte, such as a newline translated to
    /// CRLF, fails verification).
    ///
    /// Select with exactly one of `subject="TYPE:ID"` (every entry on it), `index=N` (the
    /// trace from N; with `forward=True`, what N led to), `query={...}` (a dict or JSON text
    /// with `Ledger.query`'s keywords: every match, or one page when it has a `limit`) or
    /// `indexes=[...]` (those entries); the core reads them as every front end does, so any
    /// other combination is a MalformedError, and a query with no filter (it would hold every
    /// entry) an InvalidArgumentError. Prove against a fresh checkpoint signed by `signer`
    /// (and kept in the ledger), or against `checkpoint`, a note signed earlier, with its
    /// `verifier_key`.
    #[pyo3(signature = (
        *, subject = None, index = None, forward = false, depth = None, ancestry = false,
        query = None, indexes = None, signer = None, checkpoint = None, verifier_key = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn bundle(
        &self,
        py: Python<'_>,
        subject: Option<String>,
        index: Option<u64>,
        forward: bool,
        depth: Option<u64>,
        ancestry: bool,
        query: Option<&Bound<'_, PyAny>>,
        indexes: Option<Vec<u64>>,
        signer: Option<&Bound<'_, PySigner>>,
        checkpoint: Option<String>,
        verifier_key: Option<String>,
    ) -> PyResult<String> {
        questions::bundle(
            self,
            py,
            subject,
            index,
            (forward, depth, ancestry),
            query,
            indexes,
            signer,
            checkpoint,
            verifier_key,
        )
    }

    /// Where approvals wait: request-to-grant latency (median, p90), approvals per approver,
    /// and changes and break-glass actions per ISO week, as `trailseal report --json` prints
    /// it. `since` (RFC 3339) keeps what happened at or after it; `change_actions` are the
    /// actions counted as changes (default `["deploy.succeeded"]`).
    #[pyo3(signature = (since = None, change_actions = None))]
    fn report<'py>(
        &self,
        py: Python<'py>,
        since: Option<String>,
        change_actions: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        questions::report(self, py, since, change_actions)
    }

    /// Record one CI step as an entry: who, where and what come from the CI system's
    /// environment (`env`, a mapping; default `os.environ`), as `trailseal record` does.
    /// `subject` is `"TYPE:ID"` (default: the commit being built); `attrs` the step's own
    /// labels (keys starting `ci.` are reserved); `refs` external evidence as `{rel: ref}` or
    /// `[(rel, ref), ...]` (e.g. `{"artifact": "oci:sha256:..."}`); `payload` any JSON value.
    ///
    /// The entry `id` is derived from the run and step, so a retried step is recorded once.
    /// Returns `{"index", "leaf_hash", "tree_size", "root", "time", "already_recorded"}`:
    /// the receipt of the new entry, or with `already_recorded=True` that of the stored one
    /// (nothing was written).
    #[pyo3(signature = (action, subject = None, attrs = None, refs = None, payload = None, env = None))]
    #[allow(clippy::too_many_arguments)]
    fn record_ci<'py>(
        &self,
        py: Python<'py>,
        action: String,
        subject: Option<String>,
        attrs: Option<&Bound<'py, PyAny>>,
        refs: Option<&Bound<'py, PyAny>>,
        payload: Option<&Bound<'py, PyAny>>,
        env: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        capture::record_ci(self, py, action, subject, attrs, refs, payload, env)
    }

    /// Record the commits of the git repository at `repo` (a work tree or bare repository),
    /// oldest first, one `git.commit` entry each (`id` = `git:<sha>`), after revision `since`
    /// if given, up to `rev` (default HEAD), as `trailseal import git` does. Incremental:
    /// run again, only new commits are added. `name` is the repository's name in the entries
    /// (default: origin's URL as host/path, else the directory name); `signatures=False`
    /// skips signature checks; `batch` commits are written per atomic batch.
    ///
    /// Runs without the GIL. `progress`, if given, is called as `progress(done, total)` after
    /// each batch (the GIL is taken only for that call). If it raises, it is not called
    /// again; the import still completes (what it wrote is consistent, and a later run
    /// resumes after it) and then the exception is raised. Returns the report: `{"repository",
    /// "head", "resumed_after", "examined", "recorded", "already_recorded",
    /// "conflicts_total", "conflicts": [{"commit", "index"}], "shallow", "first_index",
    /// "last_index"}`.
    #[pyo3(signature = (
        repo = PathBuf::from("."), since = None, progress = None, *, rev = None, name = None,
        signatures = true, batch = 1000
    ))]
    // PyO3 shows a default that is not a literal (`PathBuf::from(".")`) as `...`.
    #[pyo3(
        text_signature = "($self, /, repo='.', since=None, progress=None, *, rev=None, \
                             name=None, signatures=True, batch=1000)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn import_git<'py>(
        &self,
        py: Python<'py>,
        repo: PathBuf,
        since: Option<String>,
        progress: Option<Py<PyAny>>,
        rev: Option<String>,
        name: Option<String>,
        signatures: bool,
        batch: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        capture::import_git(
            self, py, repo, since, progress, rev, name, signatures, batch,
        )
    }

    /// Import events of a standard format (`"cdevents"`, `"intoto"` / `"in-toto"` or
    /// `"ocsf"`) from `data` (bytes or str: one JSON document, a JSON array of events, or JSON
    /// Lines), as `trailseal import --format` does: each event becomes one entry with the
    /// original event whole in `payload`, all in one atomic batch. Input that does not parse
    /// or map is refused with the reason (MalformedError, InvalidEntryError, ...) and nothing
    /// of it is written. Returns the receipts, in input order.
    fn import_events(
        &self,
        py: Python<'_>,
        format: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Py<PyReceipt>>> {
        capture::import_events(self, py, format, data)
    }

    /// Close the file (releasing it for other processes). Later calls raise ClosedError (a
    /// ValueError too).
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
