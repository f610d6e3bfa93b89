//! The ledger: the facade that composes entries, the Merkle math, storage and checkpoints.
//!
//! ```
//! use trailseal::{Ledger, CreateOptions, Signer, entry::Entry};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("audit.redb");
//! let ledger = Ledger::create(&path, &CreateOptions::new("example.com/audit")).unwrap();
//! let r = ledger
//!     .append_entry(&Entry::new("alice", "deploy.succeeded", "service", "payments-api"))
//!     .unwrap();
//! assert_eq!((r.index, r.tree_size), (0, 1));
//! let proof = ledger.prove_inclusion(0, None).unwrap();
//! proof.verify().unwrap();
//! let signer = Signer::generate("example.com/audit").unwrap();
//! let note = ledger.checkpoint(&signer, None).unwrap();
//! ledger.verify(&trailseal::VerifyOptions::default().against(&note, &signer.verifier())).unwrap();
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::entry::{self, Entry, Timestamp, ValidEntry};
use crate::error::{guarded, join_scoped, noted, Error, Result};
use crate::merkle::{self, Frontier, Hash, HashAlg, NodeId};
use crate::note::{Signer, Verifier};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::query::{self, Page, Query, Term, Trace, Why};
use crate::storage::{
    Backend, Meta, Reader, State, Store, StoredCheckpoint, Writer, STORAGE_FORMAT,
};

pub use crate::storage::LedgerKind;

/// How a ledger is created. Hash, kind, origin and entry limit never change afterwards.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// The log's origin, e.g. `example.com/payments/audit`: the first line of its checkpoints.
    pub origin: String,
    /// Tree hash (default BLAKE3).
    pub hash: HashAlg,
    /// Leaf kind (default audit entries).
    pub kind: LedgerKind,
    /// Limit on one leaf's bytes (default 1 MiB).
    pub max_entry_bytes: u64,
    /// Durability of appends through the returned handle.
    pub durability: Durability,
    /// The verifier key of the key that will sign this ledger's checkpoints, recorded in the
    /// ledger so that anyone can read it without the secret ([`Ledger::verifier_key`]) and
    /// so that a checkpoint signed by another key is refused.
    pub verifier_key: Option<String>,
}

impl CreateOptions {
    /// Defaults for `origin`: BLAKE3, audit entries, 1 MiB, durable appends.
    pub fn new(origin: impl Into<String>) -> Self {
        CreateOptions {
            origin: origin.into(),
            hash: HashAlg::Blake3,
            kind: LedgerKind::Entries,
            max_entry_bytes: entry::DEFAULT_MAX_ENTRY_BYTES,
            durability: Durability::Immediate,
            verifier_key: None,
        }
    }

    /// Record `verifier` as the key that signs this ledger's checkpoints.
    pub fn verifier(mut self, verifier: &Verifier) -> Self {
        self.verifier_key = Some(verifier.to_key_string());
        self
    }

    /// Use this tree hash.
    pub fn hash(mut self, hash: HashAlg) -> Self {
        self.hash = hash;
        self
    }

    /// Hold raw leaves instead of audit entries.
    pub fn raw(mut self) -> Self {
        self.kind = LedgerKind::Raw;
        self
    }
}

/// How an existing ledger is opened.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// If another process holds the ledger, wait up to this long for it (default: fail at once
    /// with [`Error::Locked`]).
    pub wait: Option<Duration>,
    /// Durability of appends through this handle.
    pub durability: Durability,
}

/// When an append's data reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every append is fsync'd before it returns (the default).
    #[default]
    Immediate,
    /// Appends return before their data is fsync'd: a crash may lose them (never corrupt the
    /// ledger) until [`Ledger::sync`] returns. An explicit opt-in for bulk imports.
    NotDurableUntilSync,
}

/// What an append returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Leaf index.
    pub index: u64,
    /// Leaf hash.
    pub leaf_hash: Hash,
    /// Tree size right after this leaf (`index + 1`).
    pub tree_size: u64,
    /// Root at `tree_size`.
    pub root: Hash,
    /// The entry's `time` (absent for raw leaves).
    pub time: Option<Timestamp>,
}

impl Receipt {
    /// `{"index", "leaf_hash", "tree_size", "root", "time"}` with hex hashes.
    pub fn to_json(&self) -> Value {
        let mut obj = serde_json::Map::new();
        obj.insert("index".into(), self.index.into());
        obj.insert("leaf_hash".into(), merkle::to_hex(&self.leaf_hash).into());
        obj.insert("tree_size".into(), self.tree_size.into());
        obj.insert("root".into(), merkle::to_hex(&self.root).into());
        if let Some(t) = self.time {
            obj.insert("time".into(), t.to_string().into());
        }
        Value::Object(obj)
    }
}

/// Progress callback: `(done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Options of [`Ledger::verify`].
#[derive(Default)]
pub struct VerifyOptions<'a> {
    checkpoint: Option<(&'a str, &'a Verifier)>,
    progress: Option<Progress<'a>>,
    indexes: bool,
}

impl<'a> VerifyOptions<'a> {
    /// Also check the ledger against a signed checkpoint held elsewhere: the ledger must
    /// contain its tree and agree with its root (catches rollback and forks).
    pub fn against(mut self, note: &'a str, verifier: &'a Verifier) -> Self {
        self.checkpoint = Some((note, verifier));
        self
    }

    /// Also check the query indexes against the entries: every entry filed under exactly its
    /// terms. The indexes are not part of the tree, so a doctored index cannot change the
    /// record, but it could hide entries from `query`; this finds that. It parses every entry
    /// again (several times over for runs of more than 8 million postings), so it is much
    /// slower than the default check, which only checks the indexes' structure.
    pub fn indexes(mut self, yes: bool) -> Self {
        self.indexes = yes;
        self
    }

    /// Report progress while scanning.
    pub fn progress(mut self, f: Progress<'a>) -> Self {
        self.progress = Some(f);
        self
    }
}

/// What a successful [`Ledger::verify`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Leaves re-hashed.
    pub size: u64,
    /// The root they hash to.
    pub root: Hash,
    /// Stored nodes recomputed.
    pub nodes: u64,
    /// Stored checkpoints re-verified.
    pub checkpoints: u64,
    /// Size of the external checkpoint the ledger was found consistent with.
    pub external_checkpoint: Option<u64>,
    /// Postings of the query indexes checked (their structure; with
    /// [`VerifyOptions::indexes`], also against the entries).
    pub postings: u64,
    /// True if the postings were checked against the entries ([`VerifyOptions::indexes`]).
    pub indexes_checked: bool,
}

impl VerifyReport {
    /// `{"ok": true, "size", "root", "nodes_checked", "checkpoints_checked",
    /// "consistent_with_checkpoint", "postings_checked", "indexes_checked"}`: the shape the CLI prints and every binding returns.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "ok": true,
            "size": self.size,
            "root": merkle::to_hex(&self.root),
            "nodes_checked": self.nodes,
            "checkpoints_checked": self.checkpoints,
            "consistent_with_checkpoint": self.external_checkpoint,
            "postings_checked": self.postings,
            "indexes_checked": self.indexes_checked,
        })
    }
}

struct WriterState {
    frontier: Frontier,
    last_time: Timestamp,
}

/// What one append call asks for.
enum Work<'a> {
    Entries(Cow<'a, [Value]>),
    /// Entries made ready by the caller's own thread while it waited to queue them.
    Prepared(Vec<PreparedEntry>),
    Raw(Vec<Cow<'a, [u8]>>),
}

impl Work<'_> {
    /// The request as a queued caller hands it to a leader on another thread. Entries are
    /// prepared here, on the caller's thread ([`prepare`]), rather than copied: the leader of
    /// a group processes every request in it one after another, so what the callers can do
    /// on their own threads is off the group's critical path.
    fn into_owned(self, size_floor: u64) -> Work<'static> {
        match self {
            Work::Entries(e) => match prepare(&e, size_floor) {
                Some(prepared) => Work::Prepared(prepared),
                None => Work::Entries(Cow::Owned(e.into_owned())),
            },
            Work::Prepared(p) => Work::Prepared(p),
            Work::Raw(l) => Work::Raw(l.into_iter().map(|c| Cow::Owned(c.into_owned())).collect()),
        }
    }
}

/// An entry validated and encoded up to its `time` by the thread appending it, with its
/// query index terms; the leader only stamps, hashes and stores it.
struct PreparedEntry {
    id: Option<String>,
    /// [`ValidEntry::encoding_before_time`].
    before_time: Vec<u8>,
    terms: Vec<u64>,
}

impl PreparedEntry {
    /// `value` validated as the entry at `index` (refused as [`entry::validate`] refuses it),
    /// encoded up to its `time`, with its index terms; `key_buf` is scratch space.
    fn new(value: &Value, index: u64, key_buf: &mut Vec<u8>) -> Result<PreparedEntry> {
        let valid = entry::validate(value, index)?;
        let mut terms = Vec::with_capacity(12);
        Term::hashes_of_entry(value, key_buf, &mut terms);
        Ok(PreparedEntry {
            id: valid.id().map(str::to_owned),
            before_time: valid.encoding_before_time(),
            terms,
        })
    }
}

/// `entries` prepared for a leader, or `None` if one is refused. Validation depends on the
/// index an entry gets only through its links (each must name an earlier entry), and that
/// index is at least `size_floor`, the size of the ledger when the caller queues: an entry
/// valid at the floor is valid where it lands. Any refusal, or an entry linking at or past
/// the floor, leaves the whole request to the leader's usual path, so that what is refused
/// is reported exactly as it always has been.
fn prepare(entries: &[Value], size_floor: u64) -> Option<Vec<PreparedEntry>> {
    let mut key_buf = Vec::new();
    entries
        .iter()
        .map(|value| PreparedEntry::new(value, size_floor, &mut key_buf).ok())
        .collect()
}

/// Where a waiting caller finds the outcome of its queued request, or is told to lead the
/// next group. Each caller sleeps on its own slot, so the end of a group wakes exactly the
/// callers it answered (and one to lead), not every waiter at once.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Result<Vec<Receipt>>>,
    answered: bool,
    lead: bool,
}

/// What a queued caller wakes up to.
enum Woken {
    Done(Result<Vec<Receipt>>),
    Lead,
}

impl Slot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Give the caller its outcome (only the first answer counts).
    fn answer(&self, outcome: Result<Vec<Receipt>>) {
        let mut s = self.state();
        if !s.answered {
            s.answered = true;
            s.outcome = Some(outcome);
            self.ready.notify_one();
        }
    }

    /// Make the caller lead the next group.
    fn hand_lead(&self) {
        self.state().lead = true;
        self.ready.notify_one();
    }

    fn wait(&self) -> Woken {
        let mut s = self.state();
        loop {
            if let Some(outcome) = s.outcome.take() {
                return Woken::Done(outcome);
            }
            if std::mem::take(&mut s.lead) {
                return Woken::Lead;
            }
            s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn take(&self) -> Option<Result<Vec<Receipt>>> {
        self.state().outcome.take()
    }
}

struct Queued {
    work: Work<'static>,
    slot: Arc<Slot>,
}

/// The state of one group commit being assembled.
struct Group {
    w: Writer,
    frontier: Frontier,
    last_time: Timestamp,
    /// id -> (canonical caller fields, receipt) of entries new in this group
    ids: HashMap<String, (Vec<u8>, Receipt)>,
}

/// The same failure again, for each caller that shared a failed commit.
fn duplicate(e: &Error) -> Error {
    match e {
        Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        Error::Storage(m) => Error::Storage(m.clone()),
        other => Error::Storage(other.to_string()),
    }
}

/// An open ledger. Share one handle across threads (`Ledger` is `Send + Sync`): appends are
/// serialized, and readers see consistent snapshots while a writer appends.
pub struct Ledger {
    /// `None` only if reopening after a failed write failed too (see `recover`).
    store: RwLock<Option<Arc<Store>>>,
    path: PathBuf,
    /// Opened from a path (not a caller's backend), so it can be reopened.
    file_backed: bool,
    /// A commit failed below the library (disk full, I/O error): redb refuses further
    /// writes on that handle, so the next write reopens the file first.
    broken: AtomicBool,
    meta: Meta,
    durable: bool,
    writer: Mutex<WriterState>,
    /// The tree size as of the last commit: a floor for the index of any entry appended
    /// after it is read, which queued callers prepare their entries against.
    committed_size: AtomicU64,
    pending: Mutex<Pending>,
    /// Signalled when a request joins the queue while a new leader gathers its group.
    arrived: Condvar,
}

/// Appends waiting for the next group commit, and whether one is running.
#[derive(Default)]
struct Pending {
    queue: Vec<Queued>,
    committing: bool,
    /// A new leader is waiting for the callers it expects (see [`Gather`]).
    gathering: bool,
    /// How many callers were appending when the last group ended: those it answered, who
    /// usually append again at once, and those already queued for the next one.
    active: usize,
    /// How long the last group's commit took.
    last_commit: Duration,
}

/// The longest a new leader waits for the callers it expects, whatever the last commit took.
const MAX_GATHER: Duration = Duration::from_millis(2);

/// How a new leader gathers its group: it waits briefly for the callers that were appending
/// when the last group ended (as PostgreSQL's `commit_delay` does when other transactions
/// are active), processing each request as it arrives.
///
/// Without the wait, concurrent callers split into two halves that take turns: the callers
/// a commit answers come back while the next group (the callers that queued during that
/// commit) is already committing, so each fsync carries half of them. The wait lasts at most
/// half the last commit's duration (capped at [`MAX_GATHER`]) and ends as soon as the
/// expected callers are in, so a lone appender never waits and callers that stop appending
/// cost one short wait before the estimate follows.
struct Gather {
    /// Requests expected in the group, the leader's own included.
    expected: usize,
    deadline: Instant,
}

impl Gather {
    fn plan(pending: &Pending) -> Gather {
        Gather {
            expected: pending.active,
            deadline: Instant::now() + (pending.last_commit / 2).min(MAX_GATHER),
        }
    }
}

/// Ends a leader's turn even if it unwinds: followers must never wait for a leader that is
/// gone, and a request taken into a group always gets an answer.
struct LeaderTurn<'a> {
    ledger: &'a Ledger,
    slots: Vec<Arc<Slot>>,
    /// The queued callers' outcomes, given once the turn has ended: a caller answered
    /// earlier would find the group still committing and queue behind it.
    answers: Vec<(Arc<Slot>, Result<Vec<Receipt>>)>,
    /// Requests in this group, the leader's own included.
    requests: usize,
    started: Instant,
}

impl Drop for LeaderTurn<'_> {
    fn drop(&mut self) {
        let mut p = self
            .ledger
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        p.active = self.requests + p.queue.len();
        p.last_commit = self.started.elapsed();
        // The turn passes to the oldest queued caller (still `committing`, so nobody else
        // takes it), or ends.
        match p.queue.first() {
            Some(next) => next.slot.hand_lead(),
            None => p.committing = false,
        }
        drop(p);
        for (slot, outcome) in self.answers.drain(..) {
            slot.answer(outcome);
        }
        for slot in &self.slots {
            slot.answer(Err(Error::Internal(
                "the group commit holding this append failed".into(),
            )));
        }
    }
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("origin", &self.meta.origin)
            .field("hash", &self.meta.hash)
            .field("kind", &self.meta.kind)
            .finish()
    }
}

/// Hash the leaf range `[lo, hi)` given its perfect subtrees' hashes from storage.
fn range_ids(lo: u64, hi: u64) -> Vec<NodeId> {
    merkle::subtrees(lo, hi)
}

fn root_from(
    alg: HashAlg,
    fetch: impl Fn(&[NodeId]) -> Result<Vec<Hash>>,
    size: u64,
) -> Result<Hash> {
    let ids = range_ids(0, size);
    Ok(merkle::fold_subtrees(alg, &fetch(&ids)?))
}

/// Fetch the hashes of several leaf ranges with one pass over storage.
fn hash_ranges(
    alg: HashAlg,
    fetch: impl Fn(&[NodeId]) -> Result<Vec<Hash>>,
    ranges: &[std::ops::Range<u64>],
) -> Result<Vec<Hash>> {
    let groups: Vec<Vec<NodeId>> = ranges.iter().map(|r| range_ids(r.start, r.end)).collect();
    let all: Vec<NodeId> = groups.iter().flatten().copied().collect();
    let hashes = fetch(&all)?;
    let mut out = Vec::with_capacity(groups.len());
    let mut at = 0;
    for g in &groups {
        out.push(merkle::fold_subtrees(alg, &hashes[at..at + g.len()]));
        at += g.len();
    }
    Ok(out)
}

impl Ledger {
    /// Create a ledger at `path`; refuses an existing file.
    pub fn create(path: impl AsRef<Path>, opts: &CreateOptions) -> Result<Ledger> {
        guarded(|| {
            let (meta, state) = Self::new_records(opts)?;
            let store = Store::create(path.as_ref(), &meta, &state)?;
            Self::from_store(store, meta, opts.durability)
        })
    }

    /// Create a ledger on a storage backend of the caller's instead of a file: an in-memory
    /// store, or in tests one that injects faults. The backend must be empty.
    pub fn create_on(backend: Box<dyn Backend>, opts: &CreateOptions) -> Result<Ledger> {
        guarded(|| {
            let (meta, state) = Self::new_records(opts)?;
            let store = Store::create_on(backend, &meta, &state)?;
            Self::from_store(store, meta, opts.durability)
        })
    }

    fn new_records(opts: &CreateOptions) -> Result<(Meta, State)> {
        if opts.origin.is_empty() || opts.origin.contains('\n') {
            return Err(Error::InvalidArgument(
                "origin must be one non-empty line".into(),
            ));
        }
        let meta = Meta {
            format: STORAGE_FORMAT,
            origin: opts.origin.clone(),
            hash: opts.hash,
            kind: opts.kind,
            max_entry_bytes: opts.max_entry_bytes,
            verifier_key: opts
                .verifier_key
                .as_deref()
                .map(|k| Verifier::from_key_string(k).map(|v| v.to_key_string()))
                .transpose()?,
        };
        let state = State {
            size: 0,
            root: opts.hash.empty_root(),
            last_time: Timestamp::EPOCH,
        };
        Ok((meta, state))
    }

    /// Open an existing ledger; fails at once with [`Error::Locked`] if another process has it.
    pub fn open(path: impl AsRef<Path>) -> Result<Ledger> {
        guarded(|| Self::open_with(path, &OpenOptions::default()))
    }

    /// Open an existing ledger with options.
    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Ledger> {
        guarded(|| {
            let (store, meta) = Store::open(path.as_ref(), opts.wait)?;
            Self::from_store(store, meta, opts.durability)
        })
    }

    /// Open a ledger kept on a storage backend of the caller's (see [`Ledger::create_on`]).
    pub fn open_on(backend: Box<dyn Backend>, durability: Durability) -> Result<Ledger> {
        guarded(|| {
            let (store, meta) = Store::open_on(backend)?;
            Self::from_store(store, meta, durability)
        })
    }

    fn from_store(store: Store, meta: Meta, durability: Durability) -> Result<Ledger> {
        let (frontier, state) = load_frontier(&store)?;
        let path = store.path().to_path_buf();
        Ok(Ledger {
            file_backed: store.is_file(),
            store: RwLock::new(Some(Arc::new(store))),
            path,
            broken: AtomicBool::new(false),
            meta,
            durable: durability == Durability::Immediate,
            committed_size: AtomicU64::new(frontier.size()),
            writer: Mutex::new(WriterState {
                frontier,
                last_time: state.last_time,
            }),
            pending: Mutex::new(Pending::default()),
            arrived: Condvar::new(),
        })
    }

    /// The origin line of this log.
    pub fn origin(&self) -> &str {
        &self.meta.origin
    }

    /// The verifier key of the key that signs this ledger's checkpoints, when one was
    /// recorded at creation ([`CreateOptions::verifier`]).
    pub fn verifier_key(&self) -> Option<&str> {
        self.meta.verifier_key.as_deref()
    }

    /// Refuses a signer whose verifier key is not the one recorded for this ledger: a
    /// checkpoint signed by another key would not verify for anyone who trusts the ledger's.
    fn check_signer(&self, signer: &Signer) -> Result<()> {
        let Some(want) = self.verifier_key() else {
            return Ok(());
        };
        let got = signer.verifier().to_key_string();
        if got != want {
            return Err(Error::InvalidArgument(format!(
                "the signer key is not this ledger's: its verifier key is {got}, the ledger's is {want}"
            )));
        }
        Ok(())
    }

    /// The tree hash.
    pub fn hash(&self) -> HashAlg {
        self.meta.hash
    }

    /// The leaf kind.
    pub fn kind(&self) -> LedgerKind {
        self.meta.kind
    }

    /// The most bytes one leaf may have.
    pub fn max_entry_bytes(&self) -> u64 {
        self.meta.max_entry_bytes
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn store(&self) -> Result<Arc<Store>> {
        self.store
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                Error::Storage(format!(
                    "{}: a write failed and reopening the file failed too; open it again",
                    self.path.display()
                ))
            })
    }

    /// After a failed commit, reopen the file (with the writer lock held, so no write is in
    /// flight) and reload the append state from what is durable. redb refuses writes on a
    /// handle that saw an I/O error, since it cannot know what reached the disk; a fresh
    /// handle recovers from the last durable commit, like a restart but in place. Ledgers on
    /// a caller's backend cannot be reopened here: they keep the storage error.
    fn recover(&self, guard: &mut WriterState) -> Result<()> {
        if !self.file_backed || !self.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut slot = self.store.write().unwrap_or_else(|p| p.into_inner());
        // Release our handle first: the file is locked while any handle is open. A snapshot
        // still in use elsewhere holds it a moment longer, hence the wait.
        *slot = None;
        let (store, meta) = Store::open(&self.path, Some(Duration::from_secs(10)))?;
        if meta.origin != self.meta.origin || meta.hash != self.meta.hash {
            return Err(Error::Storage(format!(
                "{} changed while reopening it after a failed write",
                self.path.display()
            )));
        }
        let (frontier, state) = load_frontier(&store)?;
        guard.frontier = frontier;
        guard.last_time = state.last_time;
        *slot = Some(Arc::new(store));
        self.broken.store(false, Ordering::Release);
        Ok(())
    }

    /// Note a failed write: the next one reopens the file (see `recover`).
    fn failed<T>(&self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.broken.store(true, Ordering::Release);
        }
        r
    }

    fn lock(&self) -> Result<MutexGuard<'_, WriterState>> {
        // A panic while holding the lock cannot leave the state half-updated: it is only
        // replaced after a successful commit. So a poisoned lock is safe to reuse.
        Ok(self.writer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn snapshot(&self) -> Result<(Reader, State)> {
        let reader = self.store()?.reader()?;
        let state = reader.state()?;
        Ok((reader, state))
    }

    /// Number of leaves.
    pub fn size(&self) -> Result<u64> {
        guarded(|| Ok(self.snapshot()?.1.size))
    }

    /// Root of the current tree.
    pub fn root(&self) -> Result<Hash> {
        guarded(|| Ok(self.snapshot()?.1.root))
    }

    /// Root of the tree at an earlier `size` (O(log n) reads).
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            check_size(size, state.size)?;
            root_from(self.meta.hash, |ids| reader.nodes(ids), size)
        })
    }

    fn need_kind(&self, kind: LedgerKind) -> Result<()> {
        if self.meta.kind == kind {
            Ok(())
        } else {
            Err(Error::WrongKind {
                expected: kind.name(),
                actual: self.meta.kind.name(),
            })
        }
    }

    /// Append one audit entry (a JSON object, SPEC section 3).
    pub fn append(&self, entry: &Value) -> Result<Receipt> {
        guarded(|| {
            let mut r = self.append_batch(std::slice::from_ref(entry))?;
            r.pop()
                .ok_or_else(|| Error::Internal("empty receipt list".into()))
        })
    }

    /// Append one typed entry.
    pub fn append_entry(&self, entry: &Entry) -> Result<Receipt> {
        guarded(|| self.append(&entry.to_json()))
    }

    /// Append entries atomically: all are written in one commit, or none is.
    ///
    /// An entry whose `id` is already recorded with the same caller-given fields is not
    /// written again; its receipt is the stored entry's.
    pub fn append_batch(&self, entries: &[Value]) -> Result<Vec<Receipt>> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            self.submit(Work::Entries(Cow::Borrowed(entries)))
        })
    }

    /// Append one raw leaf (raw ledgers only).
    pub fn append_raw(&self, leaf: &[u8]) -> Result<Receipt> {
        guarded(|| {
            let mut r = self.append_raw_batch(&[leaf])?;
            r.pop()
                .ok_or_else(|| Error::Internal("empty receipt list".into()))
        })
    }

    /// Append raw leaves atomically (raw ledgers only).
    pub fn append_raw_batch(&self, leaves: &[&[u8]]) -> Result<Vec<Receipt>> {
        guarded(|| {
            self.need_kind(LedgerKind::Raw)?;
            for (pos, leaf) in leaves.iter().enumerate() {
                if leaf.len() as u64 > self.meta.max_entry_bytes {
                    return Err(Error::InvalidArgument(format!(
                        "leaf {pos} of the batch is {} bytes, the ledger's limit is {}",
                        leaf.len(),
                        self.meta.max_entry_bytes
                    )));
                }
            }
            self.submit(Work::Raw(
                leaves.iter().map(|l| Cow::Borrowed(*l)).collect(),
            ))
        })
    }

    /// Group commit: appends that arrive while another is committing share the next commit
    /// and its fsync. Each request is still all-or-nothing on its own, and each caller
    /// returns only once the commit holding its entries is durable.
    ///
    /// A caller that finds no commit running leads one, with its borrowed input and whatever
    /// is queued. A caller that finds one running queues an owned copy and sleeps on its own
    /// slot until either its request's group has committed (the slot holds the answer) or
    /// the ending leader hands it the next turn, when it leads everything queued by then.
    /// Followers never contend for the writer lock, so a finished caller returns as soon as
    /// its commit is durable.
    fn submit(&self, work: Work<'_>) -> Result<Vec<Receipt>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.committing {
            return self.lead_now(pending, work);
        }
        drop(pending);
        // A follower: its request is made its own (prepared, where entries can be) outside
        // the lock, so the leader gathering the group never waits for that work.
        let work = work.into_owned(self.committed_size.load(Ordering::Acquire));
        pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.committing {
            return self.lead_now(pending, work);
        }
        let slot: Arc<Slot> = Arc::default();
        pending.queue.push(Queued {
            work,
            slot: slot.clone(),
        });
        if pending.gathering {
            self.arrived.notify_one();
        }
        drop(pending);
        match slot.wait() {
            Woken::Done(outcome) => outcome,
            Woken::Lead => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                let gather = Gather::plan(&pending);
                let queued = std::mem::take(&mut pending.queue);
                drop(pending);
                self.lead(None, queued, gather)?;
                slot.take().unwrap_or_else(|| {
                    Err(Error::Internal("queued append was not processed".into()))
                })
            }
        }
    }

    /// Take the turn no one holds and lead a group with `work`.
    fn lead_now(
        &self,
        mut pending: MutexGuard<'_, Pending>,
        work: Work<'_>,
    ) -> Result<Vec<Receipt>> {
        pending.committing = true;
        let gather = Gather::plan(&pending);
        let queued = std::mem::take(&mut pending.queue);
        drop(pending);
        self.lead(Some(work), queued, gather)
    }

    /// More requests for the group being assembled (see [`Gather`]): whatever has been
    /// queued since the leader last looked, waiting for it while fewer than the expected
    /// callers are in and the deadline has not passed. `None` when the group is complete.
    fn gather_more(&self, gather: &Gather, have: usize) -> Option<Vec<Queued>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if !pending.queue.is_empty() {
                return Some(std::mem::take(&mut pending.queue));
            }
            if have >= gather.expected {
                return None;
            }
            let left = gather
                .deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())?;
            pending.gathering = true;
            pending = self
                .arrived
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            pending.gathering = false;
        }
    }

    /// One leader's turn: commit `own`, `queued` and what it gathers together, answer every
    /// queued caller, then let the next group start.
    fn lead(
        &self,
        own: Option<Work<'_>>,
        queued: Vec<Queued>,
        gather: Gather,
    ) -> Result<Vec<Receipt>> {
        let mut turn = LeaderTurn {
            ledger: self,
            slots: queued.iter().map(|q| q.slot.clone()).collect(),
            answers: Vec::new(),
            requests: queued.len() + usize::from(own.is_some()),
            started: Instant::now(),
        };
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        self.run_group(&mut guard, own, queued, &gather, &mut turn)
    }

    /// Process `own` (if any) and every queued request in one write transaction. Returns the
    /// result of `own`, or an empty list when there is none.
    fn run_group(
        &self,
        guard: &mut WriterState,
        own: Option<Work<'_>>,
        queued: Vec<Queued>,
        gather: &Gather,
        turn: &mut LeaderTurn<'_>,
    ) -> Result<Vec<Receipt>> {
        let mut w = self.failed(self.store()?.writer(self.durable))?;
        if self.meta.kind == LedgerKind::Entries {
            w.index_with(query::leaf_term_hashes);
        }
        let mut g = Group {
            w,
            frontier: guard.frontier.clone(),
            last_time: guard.last_time,
            ids: HashMap::new(),
        };
        let start = guard.frontier.size();
        let mut own_result = own.map(|work| self.process(&mut g, work));
        let mut results: Vec<(Arc<Slot>, Result<Vec<Receipt>>)> = Vec::new();
        // Process what is queued while the rest of the group arrives: the waiting overlaps
        // the work instead of adding to it.
        let mut batch = queued;
        loop {
            for q in batch.drain(..) {
                let r = self.process(&mut g, q.work);
                results.push((q.slot, r));
            }
            let have = results.len() + usize::from(own_result.is_some());
            match self.gather_more(gather, have) {
                Some(more) => {
                    turn.slots.extend(more.iter().map(|q| q.slot.clone()));
                    turn.requests += more.len();
                    batch = more;
                }
                None => break,
            }
        }
        // The leaf hash of every new leaf, by index, from the receipts that carry them.
        let mut leaf_hashes = vec![[0u8; 32]; (g.frontier.size() - start) as usize];
        let receipts = || {
            own_result
                .iter()
                .chain(results.iter().map(|(_, r)| r))
                .flat_map(|r| r.iter().flatten())
        };
        for r in receipts().filter(|r| r.index >= start) {
            leaf_hashes[(r.index - start) as usize] = r.leaf_hash;
        }
        let alg = self.meta.hash;
        let base = guard.frontier.clone();
        let (committed, roots) = if g.w.is_empty() {
            (Ok(()), Vec::new())
        } else if leaf_hashes.len() < PARALLEL_ROOTS_MIN {
            let roots = receipt_roots(alg, base, &leaf_hashes);
            (self.commit(g.w, g.frontier, g.last_time, guard), roots)
        } else {
            std::thread::scope(|s| {
                let roots = s.spawn(noted(|| receipt_roots(alg, base, &leaf_hashes)));
                let committed = self.commit(g.w, g.frontier, g.last_time, guard);
                (committed, join_scoped(roots))
            })
        };
        let fill = |r: &mut Result<Vec<Receipt>>| {
            for receipt in r.iter_mut().flatten().filter(|r| r.index >= start) {
                if let Some(root) = roots.get((receipt.index - start) as usize) {
                    receipt.root = *root;
                }
            }
        };
        own_result.iter_mut().for_each(fill);
        results.iter_mut().for_each(|(_, r)| fill(r));
        let own_result = match (own_result, &committed) {
            (Some(r), Ok(())) => r,
            (Some(Ok(_)), Err(e)) => Err(duplicate(e)),
            (Some(Err(e)), _) => Err(e),
            (None, _) => Ok(Vec::new()),
        };
        for (slot, r) in results.drain(..) {
            let r = match (&committed, r) {
                (Err(e), Ok(_)) => Err(duplicate(e)),
                (_, r) => r,
            };
            turn.answers.push((slot, r));
        }
        committed.map(|_| own_result)?
    }

    /// Queue one request into the group; on refusal, undo exactly what it queued.
    fn process(&self, g: &mut Group, work: Work<'_>) -> Result<Vec<Receipt>> {
        let mark = g.w.mark();
        let frontier = g.frontier.clone();
        let last_time = g.last_time;
        let mut new_ids = Vec::new();
        let result = match work {
            Work::Entries(entries) => self.process_entries(g, &entries, &mut new_ids),
            Work::Prepared(entries) => self.process_prepared(g, entries, &mut new_ids),
            Work::Raw(leaves) => Ok(leaves
                .iter()
                .map(|leaf| {
                    push_leaf(
                        self.meta.hash,
                        &mut g.frontier,
                        &mut g.w,
                        leaf.to_vec(),
                        None,
                    )
                })
                .collect()),
        };
        if result.is_err() {
            g.w.rollback(mark);
            g.frontier = frontier;
            g.last_time = last_time;
            for id in new_ids {
                g.ids.remove(&id);
            }
        }
        result
    }

    fn process_entries(
        &self,
        g: &mut Group,
        entries: &[Value],
        new_ids: &mut Vec<String>,
    ) -> Result<Vec<Receipt>> {
        if entries.len() >= PARALLEL_ENCODE_MIN
            && PARALLEL_BATCHES.load(Ordering::Relaxed)
            && !repeats_an_id(g, entries)
        {
            let last_time = g.last_time;
            if let Some(receipts) = self.process_entries_parallel(g, entries, new_ids)? {
                return Ok(receipts);
            }
            // A refusal: the sequential path below finds it and reports it exactly as it
            // always has (the first failing entry in order, whatever the failure).
            g.last_time = last_time;
        }
        let mut receipts = Vec::with_capacity(entries.len());
        let mut key_buf = Vec::new();
        for (pos, value) in entries.iter().enumerate() {
            let at = (pos, entries.len());
            let p = PreparedEntry::new(value, g.frontier.size(), &mut key_buf)
                .map_err(|e| in_batch(e, pos, entries.len()))?;
            receipts.push(self.queue_valid(g, at, p, new_ids)?);
        }
        Ok(receipts)
    }

    /// [`Ledger::process_entries`] for entries a queued caller prepared: the same steps in
    /// the same order from the id check on (validation passed on the caller's thread).
    fn process_prepared(
        &self,
        g: &mut Group,
        entries: Vec<PreparedEntry>,
        new_ids: &mut Vec<String>,
    ) -> Result<Vec<Receipt>> {
        let len = entries.len();
        let mut receipts = Vec::with_capacity(len);
        for (pos, p) in entries.into_iter().enumerate() {
            receipts.push(self.queue_valid(g, (pos, len), p, new_ids)?);
        }
        Ok(receipts)
    }

    /// One prepared entry of a request (at `(position, request length)`) into the group: the
    /// stored entry's receipt if its id is recorded with the same fields, else the entry
    /// stamped with its `time` (refused if then over the size limit), hashed and queued.
    fn queue_valid(
        &self,
        g: &mut Group,
        (pos, len): (usize, usize),
        p: PreparedEntry,
        new_ids: &mut Vec<String>,
    ) -> Result<Receipt> {
        let PreparedEntry {
            id,
            before_time,
            terms,
        } = p;
        let id = id
            .as_deref()
            .map(|id| (id, entry::caller_fields_canonical(&before_time)));
        if let Some((id, fields)) = &id {
            if let Some(r) = self.existing_receipt(g, id, fields)? {
                return Ok(r);
            }
        }
        let time = Timestamp::now().at_least(g.last_time);
        g.last_time = time;
        let bytes = entry::encode_with_time(before_time, &time, self.meta.max_entry_bytes)
            .map_err(|e| in_batch(e, pos, len))?;
        let alg = self.meta.hash;
        let leaf_hash = alg.leaf_hash(&bytes);
        Ok(queue_entry(
            g, alg, id, bytes, leaf_hash, time, &terms, new_ids,
        ))
    }

    /// [`Ledger::process_entries`] for a large batch, with the expensive part of each entry
    /// (canonical encoding, leaf hash, index terms) on two threads: validation, ids and times
    /// first, in order; then the encoding in two halves at once; then the tree and the writer,
    /// in order. Returns `None` (having queued nothing) if any entry is refused, so that the
    /// caller reports it the sequential way. The batch must not repeat an id, nor reuse one
    /// queued earlier in the group ([`repeats_an_id`]).
    fn process_entries_parallel(
        &self,
        g: &mut Group,
        entries: &[Value],
        new_ids: &mut Vec<String>,
    ) -> Result<Option<Vec<Receipt>>> {
        enum Planned<'v> {
            Existing(Receipt),
            New(u64, Timestamp, &'v Value),
        }
        let alg = self.meta.hash;
        let max = self.meta.max_entry_bytes;
        let mut next = g.frontier.size();
        let mut plan = Vec::with_capacity(entries.len());
        // Only an entry with an `id` may be one already stored (and then take no index), so
        // a batch without ids is validated on the two threads along with the encoding.
        let has_ids = entries.iter().any(|v| v.get("id").is_some());
        for value in entries {
            if has_ids {
                let Ok(valid) = entry::validate(value, next) else {
                    return Ok(None);
                };
                if let Some(id) = valid.id() {
                    match self.existing_receipt(g, id, &valid.caller_fields_canonical()) {
                        Ok(Some(r)) => {
                            plan.push(Planned::Existing(r));
                            continue;
                        }
                        Ok(None) => {}
                        Err(_) => return Ok(None),
                    }
                }
            }
            let time = Timestamp::now().at_least(g.last_time);
            g.last_time = time;
            plan.push(Planned::New(next, time, value));
            next += 1;
        }
        let new: Vec<(u64, Timestamp, &Value)> = plan
            .iter()
            .filter_map(|p| match p {
                Planned::New(i, t, value) => Some((*i, *t, *value)),
                Planned::Existing(_) => None,
            })
            .collect();
        type Encoded<'v> = Result<(ValidEntry<'v>, Vec<u8>, Hash, Vec<u64>)>;
        fn encode<'v>(
            alg: HashAlg,
            max: u64,
            part: &[(u64, Timestamp, &'v Value)],
        ) -> Vec<Encoded<'v>> {
            let mut buf = Vec::new();
            let mut done: Vec<Encoded<'v>> = part
                .iter()
                .map(|&(index, time, value)| {
                    let valid = entry::validate(value, index)?;
                    let bytes = valid.encode(&time, max)?;
                    let mut terms = Vec::with_capacity(12);
                    Term::hashes_of_entry(value, &mut buf, &mut terms);
                    Ok((valid, bytes, [0; 32], terms))
                })
                .collect();
            // The leaf hashes all at once (side by side in SIMD lanes, for BLAKE3).
            let leaves: Vec<&[u8]> = done.iter().flatten().map(|e| e.1.as_slice()).collect();
            let mut hashes = Vec::with_capacity(leaves.len());
            alg.leaf_hashes(&leaves, &mut hashes);
            for (e, h) in done.iter_mut().flatten().zip(hashes) {
                e.2 = h;
            }
            done
        }
        let (first, second) = new.split_at(new.len() / 2);
        let mut encoded = std::thread::scope(|s| {
            let other = s.spawn(noted(|| encode(alg, max, second)));
            let mut done = encode(alg, max, first);
            done.extend(join_scoped(other));
            done
        });
        if encoded.iter().any(|e| e.is_err()) {
            return Ok(None);
        }
        let mut receipts = Vec::with_capacity(entries.len());
        let mut encoded = encoded.drain(..);
        for p in plan {
            let time = match p {
                Planned::Existing(r) => {
                    receipts.push(r);
                    continue;
                }
                Planned::New(_, time, _) => time,
            };
            let Some(Ok((valid, bytes, leaf_hash, terms))) = encoded.next() else {
                return Err(Error::Internal("an encoded entry went missing".into()));
            };
            let id = valid.id().map(|id| (id, valid.caller_fields_canonical()));
            receipts.push(queue_entry(
                g, alg, id, bytes, leaf_hash, time, &terms, new_ids,
            ));
        }
        Ok(Some(receipts))
    }

    /// The receipt of an entry already carrying `id`, if its caller-given fields match:
    /// `ours`, as [`ValidEntry::caller_fields_canonical`] gives them.
    fn existing_receipt(&self, g: &Group, id: &str, ours: &[u8]) -> Result<Option<Receipt>> {
        if let Some((fields, receipt)) = g.ids.get(id) {
            if fields.as_slice() != ours {
                return Err(Error::IdConflict {
                    id: id.into(),
                    index: receipt.index,
                });
            }
            return Ok(Some(receipt.clone()));
        }
        let Some(index) = g.w.id_index(id)? else {
            return Ok(None);
        };
        let leaf = g.w.leaf(index)?;
        if entry::stored_caller_fields_canonical(&leaf)? != ours {
            return Err(Error::IdConflict {
                id: id.into(),
                index,
            });
        }
        let stored: Value = serde_json::from_slice(&leaf)
            .map_err(|e| Error::Internal(format!("stored entry {index}: {e}")))?;
        let time = stored
            .get("time")
            .and_then(Value::as_str)
            .map(Timestamp::parse)
            .transpose()?;
        let mut ids = vec![NodeId { level: 0, index }];
        ids.extend(range_ids(0, index + 1));
        let hashes = g.w.nodes(&ids)?;
        Ok(Some(Receipt {
            index,
            leaf_hash: hashes[0],
            tree_size: index + 1,
            root: merkle::fold_subtrees(self.meta.hash, &hashes[1..]),
            time,
        }))
    }

    fn commit(
        &self,
        mut w: Writer,
        frontier: Frontier,
        last_time: Timestamp,
        guard: &mut WriterState,
    ) -> Result<()> {
        w.set_state(State {
            size: frontier.size(),
            root: frontier.root(self.meta.hash),
            last_time,
        });
        self.failed(w.commit())?;
        self.committed_size
            .store(frontier.size(), Ordering::Release);
        guard.frontier = frontier;
        guard.last_time = last_time;
        Ok(())
    }

    /// Make every append made with [`Durability::NotDurableUntilSync`] durable.
    pub fn sync(&self) -> Result<()> {
        guarded(|| {
            let mut guard = self.lock()?;
            self.recover(&mut guard)?;
            self.failed(self.store()?.sync())
        })
    }

    /// The exact leaf bytes at `index`.
    pub fn get_raw(&self, index: u64) -> Result<Vec<u8>> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            check_index(index, state.size)?;
            reader.leaf(index)
        })
    }

    /// The audit entry at `index` as JSON text: exactly the recorded leaf bytes, so the text
    /// hashes to the leaf hash (re-serializing [`Ledger::get`]'s value need not: JSON number
    /// formats differ between serializers). Entry ledgers only.
    pub fn get_json(&self, index: u64) -> Result<String> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            String::from_utf8(self.get_raw(index)?).map_err(|e| Error::Tampered {
                location: format!("leaf {index}"),
                detail: format!("stored entry is not UTF-8: {e}"),
            })
        })
    }

    /// The audit entry at `index`, as recorded (entry ledgers only).
    pub fn get(&self, index: u64) -> Result<Value> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let bytes = self.get_raw(index)?;
            serde_json::from_slice(&bytes).map_err(|e| Error::Tampered {
                location: format!("leaf {index}"),
                detail: format!("stored entry is not JSON: {e}"),
            })
        })
    }

    /// The leaf hash at `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            check_index(index, state.size)?;
            Ok(reader.nodes(&[NodeId { level: 0, index }])?[0])
        })
    }

    /// Inclusion proof of leaf `index` in the tree of `size` (default: current).
    pub fn prove_inclusion(&self, index: u64, size: Option<u64>) -> Result<InclusionProof> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            let size = size.unwrap_or(state.size);
            check_size(size, state.size)?;
            check_index(index, size)?;
            let alg = self.meta.hash;
            let mut ranges = merkle::inclusion_ranges(index, size)?;
            ranges.push(index..index + 1);
            // As in `prove_consistency`: the current root is in the state record.
            let current = size == state.size;
            if !current {
                ranges.push(0..size);
            }
            let mut hashes = hash_ranges(alg, |ids| reader.nodes(ids), &ranges)?;
            let root = if current {
                state.root
            } else {
                hashes.pop().unwrap_or_default()
            };
            let leaf_hash = hashes.pop().unwrap_or_default();
            Ok(InclusionProof {
                hash: alg,
                index,
                tree_size: size,
                leaf_hash,
                root,
                path: hashes,
            })
        })
    }

    /// Consistency proof from the tree of `old` leaves to the tree of `size` (default: current).
    pub fn prove_consistency(&self, old: u64, size: Option<u64>) -> Result<ConsistencyProof> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            let size = size.unwrap_or(state.size);
            check_size(size, state.size)?;
            if old > size {
                return Err(Error::OutOfRange(format!(
                    "old size {old} is larger than the new size {size}"
                )));
            }
            let alg = self.meta.hash;
            let mut ranges = merkle::consistency_ranges(old, size)?;
            ranges.push(0..old);
            // The current root is in the state record; an older one is folded from its
            // subtrees (popcount(size) more tile reads).
            let current = size == state.size;
            if !current {
                ranges.push(0..size);
            }
            let mut hashes = hash_ranges(alg, |ids| reader.nodes(ids), &ranges)?;
            let new_root = if current {
                state.root
            } else {
                hashes.pop().unwrap_or_default()
            };
            let old_root = hashes.pop().unwrap_or_default();
            Ok(ConsistencyProof {
                hash: alg,
                old_size: old,
                new_size: size,
                old_root,
                new_root,
                path: hashes,
            })
        })
    }

    /// Sign a checkpoint for `size` (default: current) and keep it in the ledger. Returns the
    /// signed note text (C2SP tlog-checkpoint).
    pub fn checkpoint(&self, signer: &Signer, size: Option<u64>) -> Result<String> {
        guarded(|| {
            self.check_signer(signer)?;
            let mut guard = self.lock()?;
            self.recover(&mut guard)?;
            let current = guard.frontier.size();
            let size = size.unwrap_or(current);
            check_size(size, current)?;
            let root = if size == current {
                guard.frontier.root(self.meta.hash)
            } else {
                self.root_at(size)?
            };
            let note = Checkpoint::new(self.meta.origin.clone(), size, root).sign(signer)?;
            let mut w = self.failed(self.store()?.writer(self.durable))?;
            w.put_checkpoint(StoredCheckpoint {
                size,
                note: note.clone(),
                verifier_key: signer.verifier().to_key_string(),
            });
            self.failed(w.commit())?;
            drop(guard);
            Ok(note)
        })
    }

    /// Entries matching every filter of `q`, one page at a time (entry ledgers only). Reads
    /// only the posting lists of its filters and the entries it returns.
    pub fn query(&self, q: &Query) -> Result<Page> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            query::run(&reader, state.size, q)
        })
    }

    /// The entries `index` rests on, transitively (its `links`, refs resolved to the entries
    /// named by or first carrying them, and the policy version that allowed each), or with
    /// `forward`, the entries that rest on it.
    pub fn trace(&self, index: u64, forward: bool) -> Result<Trace> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            query::trace(&reader, state.size, index, forward)
        })
    }

    /// Which rule allowed entry `index`, what that rule said then, and who approved it.
    pub fn why(&self, index: u64) -> Result<Why> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            query::why(&reader, state.size, index)
        })
    }

    /// Every checkpoint this ledger signed, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        guarded(|| self.snapshot()?.0.checkpoints())
    }

    /// Check the whole ledger: re-hash every leaf, recompute every stored node, re-verify
    /// every stored checkpoint, and optionally check consistency with a checkpoint held
    /// elsewhere. Fails with the first index or node that does not match.
    pub fn verify(&self, opts: &VerifyOptions<'_>) -> Result<VerifyReport> {
        guarded(|| {
            self.verify_with(VerifyOptions {
                checkpoint: opts.checkpoint,
                progress: None,
                indexes: opts.indexes,
            })
        })
    }

    /// [`Ledger::verify`] taking the options by value, so a progress callback can be used.
    pub fn verify_with(&self, mut opts: VerifyOptions<'_>) -> Result<VerifyReport> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            let alg = self.meta.hash;
            let mut progress = opts.progress.take();
            // Two halves on two threads, each reading its leaves, hashing them, folding the
            // hashes into the tree and comparing every node with the stored one. The right
            // half starts from the left half's perfect subtrees as stored, which the left
            // half checks when it computes them; so the whole tree is checked with no
            // hand-over between the threads. (Hashing is most of the work: BLAKE3 of a
            // ~430-byte leaf takes longer than reading it.)
            // The structure of the tiles and the query indexes is checked by the right half's
            // thread once its leaves are done (so the left half is the larger,
            // VERIFY_LEFT_SHARE), and the outcomes are reported in a fixed order below: the
            // first failure named is the one a sequential check would name. The id index is
            // checked against the entries as they are read (see `IdTally`).
            let size = state.size;
            let entries = self.meta.kind == LedgerKind::Entries;
            let ids_held = if entries { reader.id_count()? } else { 0 };
            let check_ids = ids_held > 0;
            let split = if size >= VERIFY_SPLIT_MIN {
                size / 100 * VERIFY_LEFT_SHARE / VERIFY_SPLIT_ALIGN * VERIFY_SPLIT_ALIGN
            } else {
                size
            };
            let structure = |reader: &Reader| {
                let tiles =
                    reader.scan_tiles(|tier, tile, bytes| check_tile(tier, tile, bytes, size));
                (tiles, reader.check_postings(size, entries))
            };
            let folded = std::sync::atomic::AtomicU64::new(0);
            let (left, right) = std::thread::scope(|s| {
                let (reader, folded) = (&reader, &folded);
                let right = (split < size).then(|| {
                    s.spawn(noted(move || {
                        let leaves = verify_leaves(
                            reader,
                            alg,
                            (split, size, size),
                            check_ids,
                            folded,
                            None,
                        );
                        (leaves, structure(reader))
                    }))
                });
                let left = verify_leaves(
                    reader,
                    alg,
                    (0, split, size),
                    check_ids,
                    folded,
                    progress.as_deref_mut(),
                );
                (left, right.map(join_scoped))
            });
            let (right, (tiles, postings)) = match right {
                Some((leaves, checked)) => (Some(leaves), checked),
                None => (None, structure(&reader)),
            };
            let (left_frontier, mut nodes_checked, mut ids) = left?;
            let frontier = match right {
                Some(r) => {
                    let (f, n, right_ids) = r?;
                    nodes_checked += n;
                    ids.then(right_ids);
                    f
                }
                None => left_frontier,
            };
            if let Some(p) = progress.as_mut() {
                p(size, size);
            }
            let stored = reader.stored_leaves()?;
            if stored > size {
                return Err(Error::Tampered {
                    location: format!("leaf {size}"),
                    detail: format!("stored beyond the recorded size {size}"),
                });
            }
            tiles?;
            let root = frontier.root(alg);
            if root != state.root {
                // Every leaf and node under a stored tile matched: what differs is in the
                // partial tiles at the right edge, or the record itself.
                let unstored = state.size / 64 * 64;
                return Err(Error::Tampered {
                    location: "state record".into(),
                    detail: format!(
                        "stored root {} but the leaves hash to {} (one of leaves {unstored}.. \
                         or the record was changed)",
                        merkle::to_hex(&state.root),
                        merkle::to_hex(&root)
                    ),
                });
            }
            let checkpoints = self.verify_stored_checkpoints(&reader, state.size)?;
            ids.outcome(ids_held)?;
            let mut postings = postings?;
            if opts.indexes && entries {
                postings = crate::query::check_indexes(&reader)?;
            }
            let external_checkpoint = match opts.checkpoint {
                Some((note, verifier)) => {
                    Some(self.check_external(&reader, &state, note, verifier)?)
                }
                None => None,
            };
            Ok(VerifyReport {
                size: state.size,
                root,
                nodes: nodes_checked,
                checkpoints,
                external_checkpoint,
                postings,
                indexes_checked: opts.indexes && entries,
            })
        })
    }

    fn verify_stored_checkpoints(&self, reader: &Reader, size: u64) -> Result<u64> {
        let stored = reader.checkpoints()?;
        for (seq, cp) in stored.iter().enumerate() {
            let tampered = |detail: String| Error::Tampered {
                location: format!("checkpoint {seq} (size {})", cp.size),
                detail,
            };
            let verifier = Verifier::from_key_string(&cp.verifier_key)
                .map_err(|e| tampered(format!("stored verifier key: {e}")))?;
            let parsed = Checkpoint::verify(&cp.note, &verifier)
                .map_err(|e| tampered(format!("signature: {e}")))?;
            if parsed.origin != self.meta.origin || parsed.size != cp.size || parsed.size > size {
                return Err(tampered(format!(
                    "note says origin {:?} size {}, ledger is {:?} with {size} leaves",
                    parsed.origin, parsed.size, self.meta.origin
                )));
            }
            let root = root_from(self.meta.hash, |ids| reader.nodes(ids), parsed.size)?;
            if root != parsed.root {
                return Err(tampered(format!(
                    "signed root {} but the ledger's root at that size is {}",
                    merkle::to_hex(&parsed.root),
                    merkle::to_hex(&root)
                )));
            }
        }
        Ok(stored.len() as u64)
    }

    fn check_external(
        &self,
        reader: &Reader,
        state: &State,
        note: &str,
        verifier: &Verifier,
    ) -> Result<u64> {
        let cp = Checkpoint::verify(note, verifier)?;
        if cp.origin != self.meta.origin {
            return Err(Error::Inconsistent(format!(
                "the checkpoint is for origin {:?}, this ledger is {:?}",
                cp.origin, self.meta.origin
            )));
        }
        if cp.size > state.size {
            return Err(Error::Inconsistent(format!(
                "the checkpoint commits to {} entries but the ledger holds {}: it was rolled back or truncated",
                cp.size, state.size
            )));
        }
        let root = root_from(self.meta.hash, |ids| reader.nodes(ids), cp.size)?;
        if root != cp.root {
            return Err(Error::Inconsistent(format!(
                "at size {} the checkpoint's root is {} but the ledger's is {}: the ledger was forked or rewritten",
                cp.size,
                merkle::to_hex(&cp.root),
                merkle::to_hex(&root)
            )));
        }
        Ok(cp.size)
    }
}

/// The append frontier and state of the last durable commit.
fn load_frontier(store: &Store) -> Result<(Frontier, State)> {
    let reader = store.reader()?;
    let state = reader.state()?;
    let ids = merkle::subtrees(0, state.size);
    let frontier = Frontier::from_subtrees(state.size, reader.nodes(&ids)?)?;
    Ok((frontier, state))
}

fn in_batch(e: Error, pos: usize, len: usize) -> Error {
    match e {
        Error::InvalidEntry { field, rule } if len > 1 => Error::InvalidEntry {
            field: format!("[{pos}].{field}"),
            rule,
        },
        other => other,
    }
}

/// Test hook: `false` sends every batch down the one-entry-at-a-time path, so a test can hold
/// the two paths to the same results. Not part of the API.
#[doc(hidden)]
pub static PARALLEL_BATCHES: AtomicBool = AtomicBool::new(true);

/// Batches of at least this many entries encode on two threads (see
/// `Ledger::process_entries_parallel`); below, a thread costs more than it saves.
const PARALLEL_ENCODE_MIN: usize = 64;

/// True if a batch names one `id` twice, or one already queued in this group: the second
/// must get the first's receipt, which the parallel path cannot know before the first is
/// encoded.
fn repeats_an_id(g: &Group, entries: &[Value]) -> bool {
    let mut seen = std::collections::HashSet::new();
    entries
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .any(|id| g.ids.contains_key(id) || !seen.insert(id))
}

/// Queue a new entry's leaf, its index terms and its `id` (with its canonical caller
/// fields) into the group; its receipt.
#[allow(clippy::too_many_arguments)]
fn queue_entry(
    g: &mut Group,
    alg: HashAlg,
    id: Option<(&str, Vec<u8>)>,
    bytes: Vec<u8>,
    leaf_hash: Hash,
    time: Timestamp,
    term_hashes: &[u64],
    new_ids: &mut Vec<String>,
) -> Receipt {
    let index = g.frontier.size();
    let receipt = push_hashed_leaf(alg, &mut g.frontier, &mut g.w, bytes, leaf_hash, Some(time));
    g.w.put_postings(term_hashes, index);
    if let Some((id, fields)) = id {
        g.w.put_id(id, index);
        g.ids.insert(id.to_owned(), (fields, receipt.clone()));
        new_ids.push(id.to_owned());
    }
    receipt
}

fn push_leaf(
    alg: HashAlg,
    frontier: &mut Frontier,
    w: &mut Writer,
    bytes: Vec<u8>,
    time: Option<Timestamp>,
) -> Receipt {
    let leaf_hash = alg.leaf_hash(&bytes);
    push_hashed_leaf(alg, frontier, w, bytes, leaf_hash, time)
}

fn push_hashed_leaf(
    alg: HashAlg,
    frontier: &mut Frontier,
    w: &mut Writer,
    bytes: Vec<u8>,
    leaf_hash: Hash,
    time: Option<Timestamp>,
) -> Receipt {
    let index = frontier.size();
    frontier.push(alg, leaf_hash, |id, h| w.push_node(id, *h));
    w.push_leaf(index, bytes);
    Receipt {
        index,
        leaf_hash,
        tree_size: index + 1,
        // Filled in by `Ledger::run_group` (see `receipt_roots`), off the commit's path.
        root: [0; 32],
        time,
    }
}

/// The root after each leaf of a group: `roots[i]` is the root at size `start + i + 1`,
/// replaying `leaf_hashes` onto the frontier the group started from. Each root folds the
/// frontier (popcount(size) - 1 node hashes), which for a batch costs more than hashing the
/// leaves themselves, so it runs beside the commit.
fn receipt_roots(alg: HashAlg, mut frontier: Frontier, leaf_hashes: &[Hash]) -> Vec<Hash> {
    leaf_hashes
        .iter()
        .map(|h| {
            frontier.push(alg, *h, |_, _| {});
            frontier.root(alg)
        })
        .collect()
}

/// Below this many new leaves a group computes receipt roots inline: a thread costs more.
const PARALLEL_ROOTS_MIN: usize = 64;

fn check_size(size: u64, current: u64) -> Result<()> {
    if size > current {
        return Err(Error::OutOfRange(format!(
            "tree size {size} is beyond the ledger's {current} entries"
        )));
    }
    Ok(())
}

fn check_index(index: u64, size: u64) -> Result<()> {
    if index >= size {
        return Err(Error::OutOfRange(format!(
            "index {index} is not below the tree size {size}"
        )));
    }
    Ok(())
}

/// Ledgers from this size on are verified in two halves on two threads.
const VERIFY_SPLIT_MIN: u64 = 1 << 16;
/// Where the halves meet: a multiple of the leaves a tier-1 tile spans, so the right half
/// starts from a few large stored subtrees.
const VERIFY_SPLIT_ALIGN: u64 = 1 << 12;
/// The left half's share of the leaves, in percent: the right half's thread also checks the
/// structure of tiles, ids and query indexes, about a tenth of the leaves' work.
const VERIFY_LEFT_SHARE: u64 = 55;

/// `verify`'s work on leaves `first..end` of a tree of `size`: hash each leaf, fold it into
/// the tree (starting from the stored perfect subtrees of `0..first`) and compare every
/// completed node with the stored one. Returns the frontier at `end` and the nodes compared;
/// adds to `folded` as it goes, and reports it to `progress`.
fn verify_leaves<'p>(
    reader: &Reader,
    alg: HashAlg,
    (first, end, size): (u64, u64, u64),
    check_ids: bool,
    folded: &std::sync::atomic::AtomicU64,
    mut progress: Option<&mut (dyn FnMut(u64, u64) + 'p)>,
) -> Result<(Frontier, u64, IdTally)> {
    let mut frontier = if first == 0 {
        Frontier::new()
    } else {
        Frontier::from_subtrees(first, reader.nodes(&merkle::subtrees(0, first))?)?
    };
    let mut checker = NodeChecker::new(reader, size);
    let mut ids = IdTally::default();
    let mut since = 0u64;
    let mut hashes = Vec::with_capacity(crate::storage::BUNDLE_MAX_LEAVES);
    // A bundle's leaves are hashed together (side by side in SIMD lanes, for BLAKE3).
    reader.scan_leaf_batches(first, end, |at, leaves| {
        hashes.clear();
        alg.leaf_hashes(leaves, &mut hashes);
        for ((index, leaf), hash) in (at..).zip(leaves).zip(&hashes) {
            frontier.push(alg, *hash, |id, h| checker.check(id, h));
            checker.take_error()?;
            if check_ids {
                ids.check(reader, index, leaf)?;
            }
        }
        since += leaves.len() as u64;
        if since >= 65_536 {
            let done = folded.fetch_add(since, Ordering::Relaxed) + since;
            since = 0;
            if let Some(p) = progress.as_mut() {
                p(done, size);
            }
        }
        Ok(())
    })?;
    folded.fetch_add(since, Ordering::Relaxed);
    Ok((frontier, checker.checked, ids))
}

/// The id index checked against the entries in leaf order: each entry's id must be filed
/// under its index, and the index must hold no more ids than the entries carry. (Walking the
/// index instead would read an entry per id in id order, i.e. a random bundle each, and
/// decompress it.) A failure is kept, to be reported after the leaves' and root's own.
#[derive(Default)]
struct IdTally {
    /// Entries carrying an id that the index files under them.
    carried: u64,
    error: Option<Error>,
}

impl IdTally {
    fn check(&mut self, reader: &Reader, index: u64, leaf: &[u8]) -> Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        let id = match entry::stored_id(leaf) {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.error = Some(Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: format!("stored entry is not JSON: {e}"),
                });
                return Ok(());
            }
        };
        let detail = match reader.id_index(&id)? {
            Some(i) if i == index => {
                self.carried += 1;
                return Ok(());
            }
            Some(i) => format!("points at {i}, but entry {index} carries this id"),
            None => format!("missing, but entry {index} carries this id"),
        };
        self.error = Some(Error::Tampered {
            location: format!("id index entry {id:?}"),
            detail,
        });
        Ok(())
    }

    /// Add the tally of the leaves after these.
    fn then(&mut self, later: IdTally) {
        self.carried += later.carried;
        if self.error.is_none() {
            self.error = later.error;
        }
    }

    fn outcome(self, held: u64) -> Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.carried != held {
            return Err(Error::Tampered {
                location: "id index".into(),
                detail: format!(
                    "holds {held} ids, but the entries carry {} of them",
                    self.carried
                ),
            });
        }
        Ok(())
    }
}

/// Compares recomputed nodes with stored ones, reading each tile once.
struct NodeChecker<'r> {
    reader: &'r Reader,
    /// The tree size: nodes of the partial tile of each level are not stored.
    size: u64,
    tiles: Vec<(u64, Vec<u8>)>,
    checked: u64,
    error: Option<Error>,
}

impl<'r> NodeChecker<'r> {
    fn new(reader: &'r Reader, size: u64) -> Self {
        NodeChecker {
            reader,
            size,
            tiles: vec![(u64::MAX, Vec::new()); 64],
            checked: 0,
            error: None,
        }
    }

    fn check(&mut self, id: NodeId, computed: &Hash) {
        if self.error.is_some() || !crate::storage::is_stored(id, self.size) {
            return;
        }
        let (key, pos) = crate::storage::tile_of(id);
        let slot = &mut self.tiles[usize::from(id.level / crate::storage::TILE_HEIGHT)];
        if slot.0 != key {
            match self.reader.tile(key) {
                Ok(t) => *slot = (key, t.unwrap_or_default()),
                Err(e) => {
                    self.error = Some(e);
                    return;
                }
            }
        }
        let stored = slot.1.get(pos * 32..pos * 32 + 32);
        self.checked += 1;
        if stored != Some(&computed[..]) {
            let (location, what) = if id.level == 0 {
                (format!("leaf {}", id.index), "its bytes hash to")
            } else {
                (
                    format!("node level {} index {}", id.level, id.index),
                    "its children hash to",
                )
            };
            let stored = stored.map(hex::encode).unwrap_or_else(|| "nothing".into());
            self.error = Some(Error::Tampered {
                location,
                detail: format!("{what} {} but {stored} is stored", merkle::to_hex(computed)),
            });
        }
    }

    fn take_error(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}

/// A stored tile must be a complete one of this tree (partial tiles are never stored).
fn check_tile(tier: u8, tile: u64, bytes: &[u8], size: u64) -> Result<()> {
    use crate::storage::{is_stored, TILE_HASHES, TILE_HEIGHT};
    let level = tier.saturating_mul(TILE_HEIGHT);
    let first = tile.saturating_mul(64);
    let id = NodeId {
        level,
        index: first,
    };
    if level >= 64 || !is_stored(id, size) || bytes.len() != TILE_HASHES * 32 {
        return Err(Error::Tampered {
            location: format!("node level {level} index {first}"),
            detail: format!(
                "a tile of {} bytes is stored there; a tree of {size} leaves has {} (only \
                 complete tiles of {TILE_HASHES} hashes are stored)",
                bytes.len(),
                if level < 64 && is_stored(id, size) {
                    "a complete tile"
                } else {
                    "no complete tile"
                }
            ),
        });
    }
    Ok(())
}
