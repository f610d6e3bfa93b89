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

mod append;
mod auto_share;
mod background_publish;
mod checkpoint_timestamp;
mod commit_index;
mod erase;
mod group_commit;
mod personal;
mod prune;
mod publish;
mod relay;
mod retention;
mod rotation;
pub(crate) mod rules;
mod scan;
mod verify;
mod witness;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::entry::{self, Entry, Timestamp};
use crate::error::{guarded, Error, Result};
use crate::merkle::prove;
use crate::merkle::{self, Frontier, Hash, HashAlg, NodeId};
use crate::note::{Signer, Verifier};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::query::{self, Page, Query};
pub use crate::storage::Sharing;
use crate::storage::{
    self, Backend, Meta, Reader, State, Store, StoredCheckpoint, Writer, STORAGE_FORMAT,
};
use crate::trace::{self, Trace, TraceOptions};
use crate::why::{self, Why};

use self::append::Work;
use self::group_commit::Pending;
#[cfg(all(target_os = "linux", feature = "testing"))]
pub use self::relay::die_on_next_request;
use self::relay::Relay;
pub use self::relay::RelayRole;

#[cfg(feature = "testing")]
pub use self::append::PARALLEL_BATCHES;
pub use self::background_publish::{PublishStatus, Publisher};
pub use self::checkpoint_timestamp::TimestampedCheckpoint;
pub use self::erase::{EraseOptions, EraseReport, ERASE_STEP_ENTRIES};
pub(crate) use self::personal::read_opened;
pub use self::prune::{PruneOptions, PruneReport, PRUNE_STEP_LEAVES};
pub use self::retention::RecordedBy;
#[cfg(feature = "testing")]
pub use self::rotation::INTERRUPT_ROTATION;
pub use self::rotation::{KeyRotation, RotatedKey, KEY_ROTATED};
pub use self::rules::RulesVersion;
pub use self::verify::{Progress, VerifyOptions, VerifyReport};

pub use crate::storage::LedgerKind;

/// The refusal of an entry (at `pos` of a request of `len`) whose action only the ledger
/// itself writes: `rule` says who does.
fn reserved_action(pos: usize, len: usize, rule: String) -> Error {
    Error::InvalidEntry {
        field: if len > 1 {
            format!("[{pos}].action")
        } else {
            "action".into()
        },
        rule,
    }
}

/// How a ledger is created. Hash, kind, origin and entry limit never change afterwards.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// The log's origin, e.g. `example.com/payments/audit`: the first line of its checkpoints.
    pub origin: String,
    /// Tree hash (default SHA-256).
    pub hash: HashAlg,
    /// Leaf kind (default audit entries).
    pub kind: LedgerKind,
    /// Limit on one leaf's bytes (default 1 MiB).
    pub max_entry_bytes: u64,
    /// Durability of appends through the returned handle.
    pub durability: Durability,
    /// How the returned handle shares the file with other processes (see
    /// [`OpenOptions::sharing`]).
    pub sharing: Option<Sharing>,
    /// The verifier key of the key that will sign this ledger's checkpoints, recorded in the
    /// ledger so that anyone can read it without the secret ([`Ledger::verifier_key`]) and
    /// so that a checkpoint signed by another key is refused.
    pub verifier_key: Option<String>,
    /// Whether the file's group may read it (mode 0640) as well as its owner (0600, the
    /// default). A ledger records who did what, often personal data, so no one else reads it
    /// unless asked: an auditors' group is the usual case.
    pub group_readable: bool,
    /// Committed indexes (SPEC section 9): record an `index.committed` entry once this many
    /// leaves follow the last one, so that query answers can be proven complete
    /// ([`Ledger::prove_complete`]). Off (`None`) by default: the map costs appends time
    /// (`benches/`), and a ledger that never answers auditors' completeness questions
    /// should not pay it. Entry ledgers only; fixed at creation.
    pub commit_index_every: Option<u64>,
    /// The fields sealed as salted commitments, their values kept beside the leaves so that
    /// [`Ledger::erase`] can delete them (SPEC section 10): `actor.id`, `actor.tenant`,
    /// `subject.id`, `authz.reason`, `change.before`, `change.after`, `attrs.<key>`,
    /// `payload` or `payload.<key>[.<key>...]`. None by default; fixed at creation. Entry
    /// ledgers without committed indexes only.
    pub personal: Vec<String>,
}

impl CreateOptions {
    /// Defaults for `origin`: the default tree hash (SHA-256, [`HashAlg::default`]), audit
    /// entries, 1 MiB, durable appends.
    pub fn new(origin: impl Into<String>) -> Self {
        CreateOptions {
            origin: origin.into(),
            hash: HashAlg::default(),
            kind: LedgerKind::Entries,
            max_entry_bytes: entry::DEFAULT_MAX_ENTRY_BYTES,
            durability: Durability::Immediate,
            sharing: None,
            verifier_key: None,
            group_readable: false,
            commit_index_every: None,
            personal: Vec::new(),
        }
    }

    /// Seal these fields as commitments, their values erasable (see
    /// [`CreateOptions::personal`]).
    pub fn personal_fields<S: AsRef<str>>(mut self, paths: &[S]) -> Self {
        self.personal = paths.iter().map(|p| p.as_ref().to_owned()).collect();
        self
    }

    /// Keep committed indexes, with a commitment every
    /// [`DEFAULT_EVERY`](crate::commit_index::DEFAULT_EVERY) leaves (`true`), or not.
    pub fn committed_indexes(mut self, yes: bool) -> Self {
        self.commit_index_every = yes.then_some(crate::commit_index::DEFAULT_EVERY);
        self
    }

    /// Let the file's group read it (mode 0640 instead of 0600).
    pub fn group_readable(mut self, yes: bool) -> Self {
        self.group_readable = yes;
        self
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
    /// How this process shares the file with others (default: [`Sharing::MultiWriter`] for
    /// durable handles; a [`Durability::NotDurableUntilSync`] handle holds the file alone,
    /// since its commits exist only in this process's memory until `sync`). Every process
    /// that has the file open at once must use the same mode.
    pub sharing: Option<Sharing>,
    /// Open for reading only: the handle never writes a byte of the file (no repair, no
    /// state flushed on close) and needs only read permission; appends and checkpoints are
    /// refused with [`Error::InvalidArgument`].
    pub read_only: bool,
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

struct WriterState {
    frontier: Frontier,
    /// The frontier's root, kept rather than folded again for each check against the file.
    root: Hash,
    last_time: Timestamp,
    /// The rules versions committed, each compiled once (see `rules`).
    rules: crate::rules::RulesBook,
    /// The committed index term ids gathered since the last commitment (see
    /// `commit_index::Uncommitted`).
    uncommitted: Option<commit_index::Uncommitted>,
}

/// An open ledger. Share one handle across threads (`Ledger` is `Send + Sync`): appends are
/// serialized, and readers see consistent snapshots while a writer appends.
pub struct Ledger {
    /// Answers handles that ask to share the file while this one holds it alone
    /// ([`Sharing::Auto`]); dropped first, so the name is free once the handle is closed.
    _share_listener: Option<auto_share::Listener>,
    /// `None` only if reopening after a failed write failed too (see `recover`). Shared with
    /// the share listener's thread, which swaps in a shared store when asked.
    store: Arc<auto_share::StoreSlot>,
    path: PathBuf,
    /// Opened from a path (not a caller's backend), so it can be reopened.
    file_backed: bool,
    /// A commit failed below the library (disk full, I/O error): redb refuses further
    /// writes on that handle, so the next write reopens the file first.
    broken: AtomicBool,
    meta: Meta,
    durable: bool,
    /// How the file is shared with other processes, as asked; kept to reopen it the same way.
    sharing: Sharing,
    /// For [`Sharing::Auto`]: the handle has the file open shared (it was asked, or found the
    /// file held), not alone.
    shared_now: Arc<AtomicBool>,
    /// Opened read-only: every write is refused before it starts.
    read_only: bool,
    writer: Arc<Mutex<WriterState>>,
    /// The tree size as of the last commit: a floor for the index of any entry appended
    /// after it is read, which queued callers prepare their entries against.
    committed_size: AtomicU64,
    pending: Mutex<Pending>,
    /// Signalled when a request joins the queue while a new leader gathers its group.
    arrived: Condvar,
    /// This handle's part in the cross-process group commit (see `relay`).
    relay: Relay,
    /// Called after each commit of this handle: wakes a background publisher, if any.
    commit_hook: RwLock<Option<background_publish::CommitHook>>,
    /// Rules were published (as of the last commit this handle saw): queued callers keep
    /// their entries' JSON for the leader to judge.
    rules_seen: AtomicBool,
    /// Record refused appends as `audit.refused` entries ([`Ledger::set_record_refusals`]).
    record_refusals: AtomicBool,
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

impl Ledger {
    /// Create a ledger at `path`; refuses an existing file.
    pub fn create(path: impl AsRef<Path>, opts: &CreateOptions) -> Result<Ledger> {
        guarded(|| {
            let (meta, state) = Self::new_records(opts)?;
            let sharing = sharing_for(opts.sharing, opts.durability)?;
            let opened = match sharing {
                Sharing::Auto => Sharing::Exclusive,
                s => s,
            };
            let mode = if opts.group_readable { 0o640 } else { 0o600 };
            let store = Store::create(path.as_ref(), &meta, &state, opened, mode)?;
            // Bound once the file exists (its name is the file's identity): a handle opening
            // the new file in between finds it held and no one to ask, as before this mode.
            let listener = (sharing == Sharing::Auto)
                .then(|| auto_share::Listener::bind(path.as_ref()))
                .flatten();
            Self::from_store(
                store,
                meta,
                opts.durability,
                (sharing, opened),
                false,
                true,
                listener,
            )
        })
    }

    /// Create a ledger on a storage backend of the caller's instead of a file: an in-memory
    /// store, or in tests one that injects faults. The backend must be empty.
    pub fn create_on(backend: Box<dyn Backend>, opts: &CreateOptions) -> Result<Ledger> {
        guarded(|| {
            let (meta, state) = Self::new_records(opts)?;
            let store = Store::create_on(backend, &meta, &state)?;
            let exclusive = (Sharing::Exclusive, Sharing::Exclusive);
            Self::from_store(store, meta, opts.durability, exclusive, false, false, None)
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
            commit_index_every: opts.commit_index_every,
            personal: entry::PersonalFields::new(&opts.personal)?,
        };
        if !meta.personal.is_empty()
            && (opts.kind != LedgerKind::Entries || opts.commit_index_every.is_some())
        {
            return Err(Error::InvalidArgument(
                "personal fields need an entries ledger without committed indexes (a \
                 commitment to who did what could not be erased)"
                    .into(),
            ));
        }
        if let Some(every) = opts.commit_index_every {
            if every == 0 || opts.kind != LedgerKind::Entries {
                return Err(Error::InvalidArgument(
                    "committed indexes need an entries ledger and an interval of at least 1".into(),
                ));
            }
        }
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
            let sharing = sharing_for(opts.sharing, opts.durability)?;
            let (store, meta, listener, opened) =
                auto_share::open(path.as_ref(), opts.wait, sharing, opts.read_only)?;
            Self::from_store(
                store,
                meta,
                opts.durability,
                (sharing, opened),
                opts.read_only,
                true,
                listener,
            )
        })
    }

    /// The relay's own handle on a ledger (see `relay`), which never relays itself.
    fn open_relay(path: &Path, opts: &OpenOptions) -> Result<Ledger> {
        let sharing = sharing_for(opts.sharing, opts.durability)?;
        let (store, meta, listener, opened) =
            auto_share::open(path, opts.wait, sharing, opts.read_only)?;
        Self::from_store(
            store,
            meta,
            opts.durability,
            (sharing, opened),
            opts.read_only,
            false,
            listener,
        )
    }

    /// Open a ledger kept on a storage backend of the caller's (see [`Ledger::create_on`]).
    pub fn open_on(backend: Box<dyn Backend>, durability: Durability) -> Result<Ledger> {
        guarded(|| {
            let (store, meta) = Store::open_on(backend)?;
            let exclusive = (Sharing::Exclusive, Sharing::Exclusive);
            Self::from_store(store, meta, durability, exclusive, false, false, None)
        })
    }

    /// A caller's backend has no file locks, so only [`Sharing::Exclusive`] works on one.
    /// `sharing`: the mode asked for and the one the file was opened in. `relays`: whether
    /// the handle may take part in the relay (see `relay`), if its mode allows. `listener`:
    /// the name of an `Auto` handle holding the file alone.
    fn from_store(
        store: Store,
        meta: Meta,
        durability: Durability,
        (sharing, opened): (Sharing, Sharing),
        read_only: bool,
        relays: bool,
        listener: Option<auto_share::Listener>,
    ) -> Result<Ledger> {
        let (frontier, state) = load_frontier(&store)?;
        let book = if meta.kind == LedgerKind::Entries {
            rules::load_book(&store.reader()?)?
        } else {
            crate::rules::RulesBook::default()
        };
        let rules_seen = AtomicBool::new(!book.is_empty());
        let committed = frontier.size();
        let path = store.path().to_path_buf();
        let store_is_file = store.is_file();
        let store = Arc::new(RwLock::new(Some(Arc::new(store))));
        let writer = Arc::new(Mutex::new(WriterState {
            frontier,
            root: state.root,
            last_time: state.last_time,
            rules: book,
            uncommitted: None,
        }));
        let shared_now = Arc::new(AtomicBool::new(opened == Sharing::MultiWriter));
        let share_listener = listener.map(|l| {
            l.serve(auto_share::Holder {
                path: path.clone(),
                store: store.clone(),
                writer: writer.clone(),
                shared_now: shared_now.clone(),
            })
        });
        Ok(Ledger {
            _share_listener: share_listener,
            sharing,
            shared_now,
            read_only,
            file_backed: store_is_file,
            store,
            path,
            broken: AtomicBool::new(false),
            meta,
            durable: durability == Durability::Immediate,
            committed_size: AtomicU64::new(committed),
            writer,
            pending: Mutex::new(Pending::default()),
            arrived: Condvar::new(),
            relay: Relay::new(
                relays
                    && store_is_file
                    && matches!(sharing, Sharing::MultiWriter | Sharing::Auto)
                    && durability == Durability::Immediate
                    && !read_only,
            ),
            commit_hook: RwLock::new(None),
            rules_seen,
            record_refusals: AtomicBool::new(false),
        })
    }

    /// The origin line of this log.
    pub fn origin(&self) -> &str {
        &self.meta.origin
    }

    /// The verifier key recorded at creation ([`CreateOptions::verifier`]): the ledger's first
    /// key. After a rotation another signs; [`Ledger::verifier_key_in_force`] says which.
    pub fn verifier_key(&self) -> Option<&str> {
        self.meta.verifier_key.as_deref()
    }

    /// Refuses ([`Error::InvalidArgument`], naming both keys) a signer whose verifier key is
    /// not the one recorded for this ledger: a checkpoint signed by another key would not
    /// verify for anyone who trusts the ledger's. Every call that signs checks this; a front
    /// end may check earlier, before work that must not happen with the wrong key.
    pub fn check_signer(&self, signer: &Signer) -> Result<()> {
        self.check_verifier(&signer.verifier())
    }

    /// As [`Ledger::check_signer`], for a verifier key a checkpoint is said to be signed by.
    pub fn check_verifier(&self, verifier: &Verifier) -> Result<()> {
        // The key in force: the first key, or the one the latest rotation put in its place.
        let Some(want) = self.verifier_key_in_force()? else {
            return Ok(());
        };
        let got = verifier.to_key_string();
        if got != want {
            return Err(Error::InvalidArgument(format!(
                "the key is not this ledger's signer key: its verifier key is {got}, the ledger's is {want}"
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

    /// How this handle shares the file with other processes: the mode asked for at open, or
    /// the default chosen for its durability ([`OpenOptions::sharing`]); always
    /// [`Sharing::Exclusive`] on a caller's backend.
    pub fn sharing(&self) -> Sharing {
        self.sharing
    }

    /// This handle's part in the cross-process group commit: whether its durable appends
    /// share fsyncs with other processes' through the ledger's relay (see the README,
    /// "Several processes").
    pub fn relay_role(&self) -> RelayRole {
        self.relay.role()
    }

    /// The mode the file is open in at the moment: for [`Sharing::Auto`], exclusive until
    /// another handle asked to share it, multi-writer from then on; otherwise as asked.
    pub fn sharing_now(&self) -> Sharing {
        match self.sharing {
            Sharing::Auto if self.shared_now.load(Ordering::Acquire) => Sharing::MultiWriter,
            Sharing::Auto => Sharing::Exclusive,
            s => s,
        }
    }

    /// Whether this handle was opened read-only ([`OpenOptions::read_only`]).
    pub fn read_only(&self) -> bool {
        self.read_only
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
        let (store, meta) = Store::open(
            &self.path,
            Some(Duration::from_secs(10)),
            self.sharing_now(),
            self.read_only,
        )?;
        if meta.origin != self.meta.origin || meta.hash != self.meta.hash {
            return Err(Error::Storage(format!(
                "{} changed while reopening it after a failed write",
                self.path.display()
            )));
        }
        let (frontier, state) = load_frontier(&store)?;
        if meta.kind == LedgerKind::Entries {
            guard.rules = rules::load_book(&store.reader()?)?;
        }
        guard.frontier = frontier;
        guard.root = state.root;
        guard.last_time = state.last_time;
        *slot = Some(Arc::new(store));
        self.broken.store(false, Ordering::Release);
        Ok(())
    }

    /// Brings this handle's idea of the tree (append frontier, last `time`) up to what is
    /// committed, which another process or handle may have extended since this one last
    /// wrote. Read through `w`, the write transaction about to be used, so nothing can commit
    /// in between; a no-op (one record read) when nothing changed.
    fn follow(&self, guard: &mut WriterState, w: &Writer) -> Result<()> {
        let state = w.committed_state()?;
        let ours = guard.frontier.size();
        if state.size == ours && state.root == guard.root {
            return Ok(());
        }
        if state.size < ours {
            // Appends never remove leaves: a shorter tree is a file replaced or rolled back
            // behind this handle's back.
            return Err(Error::Inconsistent(format!(
                "{} holds {} entries, fewer than the {ours} this handle saw: the file was replaced or rolled back",
                self.path.display(),
                state.size
            )));
        }
        let ids = merkle::subtrees(0, state.size);
        guard.frontier = Frontier::from_subtrees(state.size, w.nodes(&ids)?)?;
        guard.root = state.root;
        guard.last_time = state.last_time;
        if self.meta.kind == LedgerKind::Entries {
            rules::follow_book(&mut guard.rules, w)?;
            self.rules_seen
                .store(!guard.rules.is_empty(), Ordering::Release);
        }
        self.committed_size.fetch_max(state.size, Ordering::AcqRel);
        Ok(())
    }

    /// Refuses a write through a read-only handle before anything starts.
    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(storage::read_only_refusal(&self.path));
        }
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
        let read = || -> Result<(Reader, State)> {
            let reader = self.store()?.reader()?;
            let state = reader.state()?;
            Ok((reader, state))
        };
        match read() {
            // In a shared mode redb refuses reads too once a write on the handle failed, so a
            // file-backed handle reopens the file, as its next write would, and reads again.
            Err(_) if self.file_backed && self.broken.load(Ordering::Acquire) => {
                let mut guard = self.lock()?;
                self.recover(&mut guard)?;
                drop(guard);
                read()
            }
            r => r,
        }
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
            prove::root(self.meta.hash, &|ids: &[NodeId]| reader.nodes(ids), size)
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
    ///
    /// A `key.rotated` entry is refused ([`Error::InvalidEntry`]): only
    /// [`Ledger::rotate_key`] writes one, with the checkpoint that makes it hold.
    pub fn append_batch(&self, entries: &[Value]) -> Result<Vec<Receipt>> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            // The actions the ledger gives a meaning beyond the schema: one pass, one lookup
            // of the action per entry (this runs on every batch).
            for (pos, e) in entries.iter().enumerate() {
                if let Some(action) = e.get("action").and_then(Value::as_str) {
                    rotation::refuse_rotation_entry(pos, entries.len(), action)?;
                    commit_index::refuse_commitment_entry(pos, entries.len(), action)?;
                    crate::retention::check_entry(pos, entries.len(), e, action)?;
                }
            }
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

    /// Make every append made with [`Durability::NotDurableUntilSync`] durable.
    pub fn sync(&self) -> Result<()> {
        guarded(|| {
            self.writable()?;
            let mut guard = self.lock()?;
            self.recover(&mut guard)?;
            self.failed(self.store()?.sync())
        })
    }

    /// The exact leaf bytes at `index`.
    pub fn get_raw(&self, index: u64) -> Result<Vec<u8>> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            self.raw_at(&reader, state.size, index)
        })
    }

    /// [`Ledger::get_raw`] in snapshot `reader` of `size` leaves.
    fn raw_at(&self, reader: &crate::storage::Reader, size: u64, index: u64) -> Result<Vec<u8>> {
        check_index(index, size)?;
        let leaf = reader.leaf(index)?;
        // In an entries ledger an empty leaf is a pruned entry: say where it went rather
        // than hand out nothing as if it were its content.
        if leaf.is_empty() && self.meta.kind == LedgerKind::Entries {
            prune::refuse_pruned(reader, size, index)?;
        }
        Ok(leaf)
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
            let (reader, state) = self.snapshot()?;
            let bytes = self.raw_at(&reader, state.size, index)?;
            let stored = serde_json::from_slice(&bytes).map_err(|e| Error::Tampered {
                location: format!("leaf {index}"),
                detail: format!("stored entry is not JSON: {e}"),
            })?;
            personal::read_opened(&reader, index, stored)
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
            // The current root is in the state record; an older one is folded from its
            // subtrees (popcount(size) more tile reads).
            let root = (size == state.size).then_some(state.root);
            prove::inclusion(
                self.meta.hash,
                &|ids: &[NodeId]| reader.nodes(ids),
                index,
                size,
                root,
            )
        })
    }

    /// Consistency proof from the tree of `old` leaves to the tree of `size` (default: current).
    pub fn prove_consistency(&self, old: u64, size: Option<u64>) -> Result<ConsistencyProof> {
        guarded(|| {
            let (reader, state) = self.snapshot()?;
            let size = size.unwrap_or(state.size);
            check_size(size, state.size)?;
            let root = (size == state.size).then_some(state.root);
            prove::consistency(
                self.meta.hash,
                &|ids: &[NodeId]| reader.nodes(ids),
                old,
                size,
                root,
            )
        })
    }

    /// Sign a checkpoint for `size` (default: current) and keep it in the ledger. Returns the
    /// signed note text (C2SP tlog-checkpoint).
    pub fn checkpoint(&self, signer: &Signer, size: Option<u64>) -> Result<String> {
        guarded(|| {
            self.check_signer(signer)?;
            self.writable()?;
            let mut guard = self.lock()?;
            self.recover(&mut guard)?;
            let mut w = self.failed(self.store()?.writer(self.durable))?;
            self.failed(self.follow(&mut guard, &w))?;
            let current = guard.frontier.size();
            let size = size.unwrap_or(current);
            check_size(size, current)?;
            let root = if size == current {
                guard.root
            } else {
                self.root_at(size)?
            };
            let note = Checkpoint::new(self.meta.origin.clone(), size, root).sign(signer)?;
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

    /// Keeps an already signed checkpoint (of a size the ledger has), in a write of its own.
    pub(super) fn keep_checkpoint(&self, cp: StoredCheckpoint) -> Result<()> {
        let mut guard = self.lock()?;
        self.recover(&mut guard)?;
        let mut w = self.failed(self.store()?.writer(self.durable))?;
        self.failed(self.follow(&mut guard, &w))?;
        check_size(cp.size, guard.frontier.size())?;
        w.put_checkpoint(cp);
        self.failed(w.commit())?;
        Ok(())
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
    /// `forward`, the entries that rest on it: [`Ledger::trace_with`] with the default
    /// [`TraceOptions`] (at most 10,000 entries, no depth limit, git history not followed).
    /// A trace that is not whole says why in [`Trace::cut`].
    pub fn trace(&self, index: u64, forward: bool) -> Result<Trace> {
        self.trace_with(index, forward, &TraceOptions::default())
    }

    /// [`Ledger::trace`] with a limit of entries or hops, and git history on or off.
    pub fn trace_with(&self, index: u64, forward: bool, opts: &TraceOptions) -> Result<Trace> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            if index < state.size {
                prune::refuse_pruned(&reader, state.size, index)?;
            }
            trace::trace(&reader, state.size, index, forward, opts)
        })
    }

    /// Which rule allowed entry `index`, what that rule said then, and who approved it.
    pub fn why(&self, index: u64) -> Result<Why> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            let (reader, state) = self.snapshot()?;
            if index < state.size {
                prune::refuse_pruned(&reader, state.size, index)?;
            }
            why::why(&reader, state.size, index)
        })
    }

    /// Every checkpoint this ledger signed, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        guarded(|| self.snapshot()?.0.checkpoints())
    }
}

/// The sharing mode a handle opens with: the one asked for, else [`Sharing::Auto`],
/// except that a non-durable handle must hold the file alone (redb keeps a non-durable commit
/// in this process's memory, where no other process could follow it).
fn sharing_for(asked: Option<Sharing>, durability: Durability) -> Result<Sharing> {
    match (asked, durability) {
        (Some(s), Durability::NotDurableUntilSync) if s != Sharing::Exclusive => {
            Err(Error::InvalidArgument(format!(
                "non-durable appends need the file to themselves: sharing {s} cannot be used with them"
            )))
        }
        (Some(s), _) => Ok(s),
        (None, Durability::Immediate) => Ok(Sharing::Auto),
        (None, Durability::NotDurableUntilSync) => Ok(Sharing::Exclusive),
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
