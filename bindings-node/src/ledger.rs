//! `Ledger`: one open ledger file, shared by every Promise in flight.
//!
//! The core handle lives in an `Arc<Shared>`; each pool task holds a clone and a read lock on
//! it while it runs, so any number of calls run at once (the core serializes appends).
//! `close()` marks the handle closed at once (later calls reject), then waits on the pool for
//! the calls in flight and drops the core handle, which releases the file lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer, ToNapiValue, TypeName, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use trailseal::{
    CreateOptions, Durability, Error, HashAlg, OpenOptions, Outside, Sharing, VerifyOptions,
    WitnessSpec,
};

use crate::convert::{self, bytes, entry_text, opt_u64, parse_entry, string, u64_arg};
use crate::error::{bad_arg, closed, guard, js_error};
use crate::signer::signer_arg;
use crate::task::Job;
use crate::types::Json;

pub(crate) struct Shared {
    ledger: RwLock<Option<trailseal::Ledger>>,
    closed: AtomicBool,
}

impl Shared {
    /// Run `f` on the open core handle, or fail with the "closed" error.
    fn with<T>(&self, f: impl FnOnce(&trailseal::Ledger) -> Result<T, Error>) -> Result<T, Error> {
        let guard = self.ledger.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(l) => f(l),
            None => Err(closed()),
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// An open ledger: an append-only, tamper-evident audit log in one file.
///
/// Get one with `await Ledger.create(path, options)` or `await Ledger.open(path)`; share it
/// freely between concurrent calls; `await ledger.close()` when done (this releases the file
/// for other processes). Calls that wait on the disk or read more than a few entries
/// (appends, checkpoints, `verify`, `sync`, `close`, the auditor's questions: `query`,
/// `trace`, `why`, `gate`, `recordGate`, `bundle`, `report`, and capture: `recordCi`,
/// `importGit`, `importEvents`) return Promises and run on
/// libuv's thread pool; reads (`get`, `size`, `root`, proofs, `checkpoints`) return at once.
#[napi]
pub struct Ledger {
    pub(crate) shared: Arc<Shared>,
    origin: String,
    hash: &'static str,
    kind: &'static str,
    path: String,
    max_entry_bytes: u64,
    sharing: &'static str,
    read_only: bool,
}

impl Ledger {
    fn wrap(inner: trailseal::Ledger) -> Ledger {
        Ledger {
            origin: inner.origin().to_owned(),
            hash: inner.hash().name(),
            kind: inner.kind().name(),
            path: inner.path().to_string_lossy().into_owned(),
            max_entry_bytes: inner.max_entry_bytes(),
            sharing: inner.sharing().name(),
            read_only: inner.read_only(),
            shared: Arc::new(Shared {
                ledger: RwLock::new(Some(inner)),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// A Promise of `f(ledger)` run on the pool, once the arguments were read.
    pub(crate) fn job<A: Send + 'static, T: ToNapiValue + TypeName + Send + 'static>(
        &self,
        args: Result<A, Error>,
        f: impl FnOnce(&trailseal::Ledger, A) -> Result<T, Error> + Send + 'static,
    ) -> AsyncTask<Job<T>> {
        if self.shared.is_closed() {
            return Job::fail(closed());
        }
        let shared = self.shared.clone();
        Job::try_spawn(args, move |a| shared.with(|l| f(l, a)))
    }

    /// `f(ledger)` now, on the JS thread (reads that do not wait on the disk).
    pub(crate) fn now<T>(
        &self,
        env: &Env,
        f: impl FnOnce(&trailseal::Ledger) -> Result<T, Error>,
    ) -> napi::Result<T> {
        if self.shared.is_closed() {
            return Err(js_error(env, &closed()));
        }
        guard(|| self.shared.with(f)).map_err(|e| js_error(env, &e))
    }
}

fn durability(durable: bool) -> Durability {
    if durable {
        Durability::Immediate
    } else {
        Durability::NotDurableUntilSync
    }
}

fn create_options(opts: Option<Unknown<'_>>) -> Result<CreateOptions, Error> {
    let mut origin = None;
    let mut out = CreateOptions::new("");
    for (key, v) in convert::options(
        opts,
        "options",
        &[
            "origin",
            "hash",
            "raw",
            "durable",
            "maxEntryBytes",
            "share",
            "personal",
        ],
    )? {
        match key.as_str() {
            "origin" => origin = Some(string(&v, "options.origin")?),
            "hash" => out.hash = string(&v, "options.hash")?.parse::<HashAlg>()?,
            "raw" => {
                if convert::boolean(&v, "options.raw")? {
                    out = out.raw();
                }
            }
            "durable" => out.durability = durability(convert::boolean(&v, "options.durable")?),
            "maxEntryBytes" => out.max_entry_bytes = u64_arg(&v, "options.maxEntryBytes")?,
            "share" => out.sharing = Some(sharing(&v)?),
            "personal" => out.personal = convert::strings(&v, "options.personal")?,
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    out.origin = origin.ok_or_else(|| bad_arg("options.origin is required"))?;
    Ok(out)
}

fn open_options(opts: Option<Unknown<'_>>) -> Result<OpenOptions, Error> {
    let mut out = OpenOptions::default();
    for (key, v) in convert::options(opts, "options", &["wait", "durable", "share", "readOnly"])? {
        match key.as_str() {
            "wait" => {
                let ms = convert::number(&v, "options.wait")?;
                if !(ms.is_finite() && ms >= 0.0) {
                    return Err(bad_arg(
                        "options.wait must be a non-negative number of milliseconds",
                    ));
                }
                out.wait = Some(Duration::from_secs_f64(ms / 1000.0));
            }
            "durable" => out.durability = durability(convert::boolean(&v, "options.durable")?),
            "share" => out.sharing = Some(sharing(&v)?),
            "readOnly" => out.read_only = convert::boolean(&v, "options.readOnly")?,
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    Ok(out)
}

/// `options.share`: a mode name, parsed by the core as in every binding.
fn sharing(v: &Unknown<'_>) -> Result<Sharing, Error> {
    string(v, "options.share")?.parse()
}

/// The `{checkpoint, verifierKey}` options of `verifyInclusion`, `verifyConsistency` and
/// `ledger.verify()`, as given: the core's `Outside::pair` decides what a half pair means.
pub(crate) type CheckpointPair = (Option<String>, Option<String>);

/// The `{checkpoint, verifierKey}` of `verifyInclusion` and `verifyConsistency`.
pub(crate) fn verify_options(opts: Option<Unknown<'_>>) -> Result<CheckpointPair, Error> {
    Ok(checkpoint_options(opts, &["checkpoint", "verifierKey"])?.0)
}

/// The options of `ledger.verify()`: `{checkpoint, verifierKey}` as for `verify_options`, and
/// `indexes` (default false).
fn ledger_verify_options(opts: Option<Unknown<'_>>) -> Result<(CheckpointPair, bool), Error> {
    checkpoint_options(opts, &["checkpoint", "verifierKey", "indexes"])
}

/// The options named in `allowed`, out of `checkpoint`, `verifierKey` and `indexes` (default
/// false).
fn checkpoint_options(
    opts: Option<Unknown<'_>>,
    allowed: &[&str],
) -> Result<(CheckpointPair, bool), Error> {
    let (mut note, mut vkey, mut indexes) = (None, None, false);
    for (key, v) in convert::options(opts, "options", allowed)? {
        match key.as_str() {
            "checkpoint" => note = Some(string(&v, "options.checkpoint")?),
            "verifierKey" => vkey = Some(string(&v, "options.verifierKey")?),
            "indexes" => indexes = convert::boolean(&v, "options.indexes")?,
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    Ok(((note, vkey), indexes))
}

fn receipt(r: trailseal::Receipt) -> Json {
    Json::of(&r.to_json())
}

fn receipts(r: Vec<trailseal::Receipt>) -> Json {
    Json::list(&r, trailseal::Receipt::to_json)
}

#[napi]
impl Ledger {
    /// Create a new ledger file at `path` (refused with `already_exists` if it exists).
    #[napi(
        ts_args_type = "path: string, options: CreateOptions",
        ts_return_type = "Promise<Ledger>"
    )]
    pub fn create(path: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Job<Ledger>> {
        let args = string(&path, "path").and_then(|p| Ok((p, create_options(options)?)));
        Job::try_spawn(args, |(path, opts)| {
            trailseal::Ledger::create(path, &opts).map(Ledger::wrap)
        })
    }

    /// Open an existing ledger file. `options.share` says how this handle shares the file with
    /// others (default `'auto'`: alone until another handle opens it, then `'multi-writer'`;
    /// `'exclusive'` when not durable); when the mode
    /// keeps this handle out it rejects with `locked` at once, or after `options.wait`
    /// milliseconds. `options.readOnly` opens a handle that never writes to the file.
    #[napi(
        ts_args_type = "path: string, options?: OpenOptions",
        ts_return_type = "Promise<Ledger>"
    )]
    pub fn open(path: Unknown<'_>, options: Option<Unknown<'_>>) -> AsyncTask<Job<Ledger>> {
        let args = string(&path, "path").and_then(|p| Ok((p, open_options(options)?)));
        Job::try_spawn(args, |(path, opts)| {
            trailseal::Ledger::open_with(path, &opts).map(Ledger::wrap)
        })
    }

    /// The log's origin line (the first line of its checkpoints).
    #[napi(getter)]
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The tree hash: `'blake3'` or `'sha256'`.
    #[napi(getter, ts_return_type = "HashName")]
    pub fn hash(&self) -> &'static str {
        self.hash
    }

    /// The leaf kind: `'entries'` (audit entries) or `'raw'` (opaque bytes).
    #[napi(getter, ts_return_type = "LedgerKind")]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The ledger file.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// The most bytes one leaf (one canonical entry) may have.
    #[napi(getter, js_name = "maxEntryBytes")]
    pub fn max_entry_bytes(&self) -> f64 {
        self.max_entry_bytes as f64
    }

    /// What `util.inspect` and `console.log` show.
    #[napi(symbol_for = "nodejs.util.inspect.custom", ts_return_type = "string")]
    pub fn inspect(&self) -> String {
        format!(
            "Ledger {{ path: {:?}, origin: {:?}, hash: {:?}, kind: {:?}, closed: {} }}",
            self.path,
            self.origin,
            self.hash,
            self.kind,
            self.shared.is_closed()
        )
    }

    /// How this handle shares the file: the mode asked for, or the default chosen for its
    /// durability.
    #[napi(getter, ts_return_type = "Sharing")]
    pub fn sharing(&self) -> &'static str {
        self.sharing
    }

    /// The mode the file is open in at the moment: for `'auto'`, `'exclusive'` until another
    /// handle or process asked to share it, `'multi-writer'` from then on; otherwise as asked.
    #[napi(getter, js_name = "sharingNow", ts_return_type = "Sharing")]
    pub fn sharing_now(&self, env: Env) -> napi::Result<&'static str> {
        self.now(&env, |l| Ok(l.sharing_now().name()))
    }

    /// Whether this handle was opened with `readOnly: true` (every write through it rejects
    /// with `invalid_argument`).
    #[napi(getter, js_name = "readOnly")]
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The number of leaves.
    #[napi(getter)]
    pub fn size(&self, env: Env) -> napi::Result<f64> {
        self.now(&env, |l| l.size()).map(|n| n as f64)
    }

    /// The root (lowercase hex) of the current tree, or of the tree of `size` leaves.
    #[napi(ts_args_type = "size?: number | bigint")]
    pub fn root(&self, env: Env, size: Option<Unknown<'_>>) -> napi::Result<String> {
        self.now(&env, |l| {
            let root = match opt_u64(size, "size")? {
                Some(s) => l.root_at(s)?,
                None => l.root()?,
            };
            Ok(trailseal::merkle::to_hex(&root))
        })
    }

    /// Append one audit entry (an object in SPEC form, or its JSON text). Resolves with its
    /// receipt once it is durable.
    #[napi(
        ts_args_type = "entry: EntryInput | string",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn append(&self, env: Env, entry: Unknown<'_>) -> AsyncTask<Job<Json>> {
        let args = entry_text(&env, &entry, "entry");
        self.job(args, |l, text| {
            let value = parse_entry(&text, None)?;
            l.append(&value).map(receipt)
        })
    }

    /// Append entries atomically: all are written in one commit, or none is.
    #[napi(
        js_name = "appendBatch",
        ts_args_type = "entries: Array<EntryInput | string>",
        ts_return_type = "Promise<Receipt[]>"
    )]
    pub fn append_batch(&self, env: Env, entries: Unknown<'_>) -> AsyncTask<Job<Json>> {
        let args = convert::array(&entries, "entries", |i, e| {
            entry_text(&env, e, &format!("entries[{i}]"))
        });
        self.job(args, |l, texts| {
            let values = texts
                .iter()
                .enumerate()
                .map(|(i, t)| parse_entry(t, Some(i)))
                .collect::<Result<Vec<Value>, Error>>()?;
            l.append_batch(&values).map(receipts)
        })
    }

    /// Append one raw leaf (raw ledgers): a Buffer or Uint8Array, or a string (its UTF-8).
    #[napi(
        js_name = "appendRaw",
        ts_args_type = "leaf: Uint8Array | string",
        ts_return_type = "Promise<Receipt>"
    )]
    pub fn append_raw(&self, leaf: Unknown<'_>) -> AsyncTask<Job<Json>> {
        let args = bytes(&leaf, "leaf");
        self.job(args, |l, leaf| l.append_raw(&leaf).map(receipt))
    }

    /// Append raw leaves atomically (raw ledgers).
    #[napi(
        js_name = "appendRawBatch",
        ts_args_type = "leaves: Array<Uint8Array | string>",
        ts_return_type = "Promise<Receipt[]>"
    )]
    pub fn append_raw_batch(&self, leaves: Unknown<'_>) -> AsyncTask<Job<Json>> {
        let args = convert::array(&leaves, "leaves", |i, e| bytes(e, &format!("leaves[{i}]")));
        self.job(args, |l, leaves| {
            let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            l.append_raw_batch(&refs).map(receipts)
        })
    }

    /// The audit entry at `index`, as recorded (with `v` and `time`): its leaf bytes, parsed;
    /// with sealed personal fields, their values put back (or `erased: {by}`).
    #[napi(ts_args_type = "index: number | bigint", ts_return_type = "Entry")]
    pub fn get(&self, env: Env, index: Unknown<'_>) -> napi::Result<Json> {
        self.now(&env, |l| l.entry_json(u64_arg(&index, "index")?))
            .map(Json)
    }

    /// The exact leaf bytes at `index` (the canonical JSON of an entry, or a raw leaf).
    #[napi(js_name = "getRaw", ts_args_type = "index: number | bigint")]
    pub fn get_raw(&self, env: Env, index: Unknown<'_>) -> napi::Result<Buffer> {
        self.now(&env, |l| l.get_raw(u64_arg(&index, "index")?))
            .map(convert::buffer)
    }

    /// The leaf hash (lowercase hex) at `index`.
    #[napi(js_name = "leafHash", ts_args_type = "index: number | bigint")]
    pub fn leaf_hash(&self, env: Env, index: Unknown<'_>) -> napi::Result<String> {
        self.now(&env, |l| l.leaf_hash(u64_arg(&index, "index")?))
            .map(|h| trailseal::merkle::to_hex(&h))
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves (default: current), in
    /// SPEC form.
    #[napi(
        js_name = "proveInclusion",
        ts_args_type = "index: number | bigint, size?: number | bigint",
        ts_return_type = "InclusionProof"
    )]
    pub fn prove_inclusion(
        &self,
        env: Env,
        index: Unknown<'_>,
        size: Option<Unknown<'_>>,
    ) -> napi::Result<Json> {
        self.now(&env, |l| {
            let index = u64_arg(&index, "index")?;
            l.prove_inclusion(index, opt_u64(size, "size")?)
        })
        .map(|p| Json(p.to_json()))
    }

    /// Consistency proof from the tree of `old` leaves to the tree of `size` (default:
    /// current), in SPEC form.
    #[napi(
        js_name = "proveConsistency",
        ts_args_type = "old: number | bigint, size?: number | bigint",
        ts_return_type = "ConsistencyProof"
    )]
    pub fn prove_consistency(
        &self,
        env: Env,
        old: Unknown<'_>,
        size: Option<Unknown<'_>>,
    ) -> napi::Result<Json> {
        self.now(&env, |l| {
            let old = u64_arg(&old, "old")?;
            l.prove_consistency(old, opt_u64(size, "size")?)
        })
        .map(|p| Json(p.to_json()))
    }

    /// Sign a checkpoint of the tree of `size` leaves (default: current), keep it in the
    /// ledger, and resolve with the signed note text (C2SP tlog-checkpoint).
    #[napi(
        ts_args_type = "signer: Signer, size?: number | bigint",
        ts_return_type = "Promise<string>"
    )]
    pub fn checkpoint(
        &self,
        env: Env,
        signer: Unknown<'_>,
        size: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<String>> {
        let args = signer_arg(&env, &signer).and_then(|s| Ok((s, opt_u64(size, "size")?)));
        self.job(args, |l, (signer, size)| l.checkpoint(&signer, size))
    }

    /// Rotate the checkpoint key from `oldSigner` (the key in force) to `newSigner`: a
    /// `key.rotated` entry by `options.actor` (default `trailseal`) names both verifier keys,
    /// and a checkpoint over it is kept signed by both (SPEC 4.1). Resolves to `{index,
    /// old_key, new_key, note}`; rejects `invalid_argument` when `oldSigner` is not the key in
    /// force or `newSigner` is the same key.
    #[napi(
        js_name = "rotateKey",
        ts_args_type = "oldSigner: Signer, newSigner: Signer, options?: { actor?: string }",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn rotate_key(
        &self,
        env: Env,
        old_signer: Unknown<'_>,
        new_signer: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<_, Error> {
            let old = signer_arg(&env, &old_signer)?;
            let new = signer_arg(&env, &new_signer)?;
            let mut actor = "trailseal".to_owned();
            for (_, v) in convert::options(options, "options", &["actor"])? {
                actor = string(&v, "options.actor")?;
            }
            Ok((old, new, actor))
        })();
        self.job(args, |l, (old, new, actor)| {
            Ok(Json::of(&l.rotate_key(&old, &new, &actor)?.to_json()))
        })
    }

    /// The verifier key that signs this ledger's checkpoints now: the one recorded at
    /// creation followed through every rotation that holds (`null` when none is recorded).
    #[napi(js_name = "verifierKeyInForce")]
    pub fn verifier_key_in_force(&self, env: Env) -> napi::Result<Option<String>> {
        self.now(&env, |l| l.verifier_key_in_force())
    }

    /// Ask C2SP witnesses (tlog-witness) to cosign this ledger's checkpoint at its current size
    /// (signed by `signer`, or the newest kept one of that size) and keep their
    /// cosignatures. `witnesses` is an array of `[url, witnessVkey]` pairs; `quorum` defaults to
    /// all of them, `timeoutSeconds` (per request) to 10. Resolves to the report even when
    /// fewer than `quorum` cosigned: check `quorum_met`. Rejects `invalid_argument` for a
    /// ledger whose tree is not SHA-256.
    #[napi(
        ts_args_type = "signer: Signer, witnesses: Array<[string, string]>, options?: { quorum?: number; timeoutSeconds?: number }",
        ts_return_type = "Promise<Record<string, unknown>>"
    )]
    pub fn witness(
        &self,
        env: Env,
        signer: Unknown<'_>,
        witnesses: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<_, Error> {
            let signer = signer_arg(&env, &signer)?;
            let specs = convert::array(&witnesses, "witnesses", |i, e| {
                let pair = convert::strings(e, &format!("witnesses[{i}]"))?;
                let [url, key] = <[String; 2]>::try_from(pair)
                    .map_err(|_| bad_arg(format!("witnesses[{i}] must be [url, witnessVkey]")))?;
                WitnessSpec::new(url, &key)
            })?;
            let mut quorum = None;
            let mut timeout = trailseal::witness::DEFAULT_WITNESS_TIMEOUT;
            for (key, v) in convert::options(options, "options", &["quorum", "timeoutSeconds"])? {
                match key.as_str() {
                    "quorum" => {
                        quorum = Some(
                            usize::try_from(u64_arg(&v, "options.quorum")?)
                                .map_err(|_| bad_arg("options.quorum is too large"))?,
                        )
                    }
                    _ => {
                        timeout = trailseal::request_timeout(convert::number(
                            &v,
                            "options.timeoutSeconds",
                        )?)?
                    }
                }
            }
            Ok((signer, specs, quorum, timeout))
        })();
        self.job(args, |l, (signer, specs, quorum, timeout)| {
            Ok(Json::of(
                &l.witness(&signer, &specs, quorum, timeout)?.to_json(),
            ))
        })
    }

    /// Have the RFC 3161 time-stamp authority at `tsaUrl` time-stamp a kept checkpoint
    /// (`options.checkpoint`, else the latest kept, else one signed now by `options.signer`),
    /// check the token against the CA certificate `tsaCa` (PEM) and keep it beside the
    /// checkpoint. Runs off the JS thread; the ledger is not locked while the TSA answers (at
    /// most `options.timeoutSeconds`, default 30). Resolves with `{checkpoint, size, attested:
    /// {time, tsa, serial, policy}, requested, token}` (token in base64); a checkpoint that
    /// already has a token valid under the CA keeps it (`requested` false). A TSA that fails
    /// rejects with `io`; a token that does not check out, `verification_failed`.
    #[napi(
        js_name = "timestampCheckpoint",
        ts_args_type = "tsaUrl: string, tsaCa: string | Uint8Array, options?: TimestampOptions",
        ts_return_type = "Promise<TimestampedCheckpoint>"
    )]
    pub fn timestamp_checkpoint(
        &self,
        env: Env,
        tsa_url: Unknown<'_>,
        tsa_ca: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<_, Error> {
            let url = string(&tsa_url, "tsaUrl")?;
            let ca = bytes(&tsa_ca, "tsaCa")?;
            let (mut seq, mut signer) = (None, None);
            let mut timeout = trailseal::timestamp_token::DEFAULT_TSA_TIMEOUT;
            let allowed = ["checkpoint", "signer", "timeoutSeconds"];
            for (key, v) in convert::options(options, "options", &allowed)? {
                match key.as_str() {
                    "checkpoint" => seq = Some(u64_arg(&v, "options.checkpoint")?),
                    "signer" => signer = Some(signer_arg(&env, &v)?),
                    "timeoutSeconds" => {
                        timeout = trailseal::request_timeout(convert::number(
                            &v,
                            "options.timeoutSeconds",
                        )?)?;
                    }
                    _ => unreachable!("options() only returns allowed keys"),
                }
            }
            Ok((url, ca, seq, signer, timeout))
        })();
        self.job(args, |l, (url, ca, seq, signer, timeout)| {
            let done = l.timestamp_checkpoint(&url, &ca, seq, signer.as_ref(), timeout)?;
            Ok(Json::of(&done.to_json()))
        })
    }

    /// The time-stamp token (DER) kept for checkpoint number `seq`, or null.
    #[napi(js_name = "checkpointTimestamp", ts_args_type = "seq: number | bigint")]
    pub fn checkpoint_timestamp(&self, env: Env, seq: Unknown<'_>) -> napi::Result<Option<Buffer>> {
        self.now(&env, |l| l.checkpoint_timestamp(u64_arg(&seq, "seq")?))
            .map(|t| t.map(convert::buffer))
    }

    /// Every checkpoint this ledger signed, oldest first: `{size, note, verifier_key}`.
    #[napi(ts_return_type = "StoredCheckpoint[]")]
    pub fn checkpoints(&self, env: Env) -> napi::Result<Json> {
        self.now(&env, |l| l.checkpoints())
            .map(|v| Json::list(&v, trailseal::storage::StoredCheckpoint::to_json))
    }

    /// Check the whole ledger: re-hash every leaf and node, re-verify every kept checkpoint,
    /// and, given a checkpoint held elsewhere and its verifier key, check that the ledger
    /// still contains that tree (no rollback, no fork). `indexes: true` also checks every
    /// query-index posting against its entry (much slower).
    #[napi(
        ts_args_type = "options?: LedgerVerifyOptions",
        ts_return_type = "Promise<VerifyReport>"
    )]
    pub fn verify(&self, options: Option<Unknown<'_>>) -> AsyncTask<Job<Json>> {
        self.job(
            ledger_verify_options(options),
            |l, ((note, vkey), indexes)| {
                let opts = VerifyOptions::default().indexes(indexes);
                let report = match Outside::pair(note.as_deref(), vkey.as_deref())? {
                    Some(outside) => l.verify(&opts.against(outside.note, &outside.verifier()?))?,
                    None => l.verify(&opts)?,
                };
                Ok(Json::of(&report.to_json()))
            },
        )
    }

    /// Make every append durable (for ledgers opened with `durable: false`).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn sync(&self) -> AsyncTask<Job<()>> {
        self.job(Ok(()), |l, ()| l.sync())
    }

    /// Close the ledger: later calls reject; resolves once the calls already running have
    /// finished and the file is released. Closing twice is harmless.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        self.shared.closed.store(true, Ordering::SeqCst);
        let shared = self.shared.clone();
        Job::spawn(move || {
            let taken = shared
                .ledger
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            drop(taken);
            Ok(())
        })
    }
}
