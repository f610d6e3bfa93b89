//! Storage: the only module that knows redb.
//!
//! # Layout
//!
//! | table            | key                                   | value                                    |
//! |------------------|---------------------------------------|------------------------------------------|
//! | `meta`           | `"meta"`, `"state"`, `"verifier_key"` | postcard [`Meta`], [`State`]; the key's text ([`Meta::verifier_key`]) |
//! | `leaves`         | index of a bundle's first leaf        | a bundle: a tag byte, then leaves framed by u32 lengths, LZ4-compressed once closed (when that is smaller) |
//! | `nodes`          | `tier << 58 \| tile` ([`tile_of`])     | a complete tile: the [`TILE_HASHES`] (126) hashes of a six-level subtree |
//! | `ids`            | entry `id`                            | leaf index                               |
//! | `checkpoints`    | sequence number                       | postcard [`StoredCheckpoint`]            |
//! | `posting_runs`   | first leaf index of the run           | postcard [`RunInfo`]                     |
//! | `posting_blocks` | (run id, term hash, index) of the block's first posting | a block of postings |
//! | `cosignatures`   | checkpoint sequence number            | postcard `Vec<`[`StoredCosignature`]`>`: witness cosignature lines of that checkpoint, each with its witness key |
//! | `witnesses`      | witness vkey string                   | postcard [`WitnessState`]: the size and root it last cosigned |
//! | `relayed`        | 16-byte id of a handle that relayed through another process | postcard [`RelayedRecord`]: its last committed request |
//! | `checkpoint_timestamps` | sequence number of a checkpoint in `checkpoints` | its RFC 3161 time-stamp token, DER (absent in files written before it) |
//! | `rules`          | leaf index of a `rules.published` entry | the digest (`sha256:<hex>`) of the rules document it publishes (absent until rules are published) |
//! | `published`      | a destination's name ([`crate::publish::Destination::name`]) | postcard [`PublishedState`]: the tree size last published there (absent until a first publish) |
//! | `index_tiles` | see `map_tiles.rs` | the committed indexes' map and lists (SPEC section 9), only in ledgers created with them |
//! | `occurred`       | (`occurred_at` in Unix nanoseconds, leaf index) of each entry that has one | none; `meta` `"occurred_end"` (u64 LE) is the leaf count it covers (absent in files written before it; see `occurred.rs`) |
//!
//! The secondary indexes (actor, via, action, subject, attrs, refs, link targets, decision and
//! policy: see [`crate::query::Term`]) are posting lists kept as sorted runs that are merged as
//! they accumulate: each commit that indexes writes its postings as one new run at the right edge
//! of `posting_blocks` (or, with few postings, rewrites the last run while that is small), and
//! whenever the last [`MERGE_WIDTH`](crate::postings::MERGE_WIDTH) runs have the same level they
//! are merged into one run of the next level, unless the merged run would pass a size cap (past it,
//! runs stay side by side, so no append waits for a merge of everything before it). Runs cover
//! disjoint, ascending ranges of leaves, so a query walks them in leaf order and never merges them
//! on the fly. [`crate::postings`] says why, and how blocks are encoded.
//!
//! The last few leaves (fewer than [`INDEX_TAIL_LEAVES`]) may be in no run yet: a commit that
//! leaves the unindexed tail that short writes no postings at all, and the first commit that
//! would make it longer indexes the whole tail with its own leaves. Single durable appends
//! thus touch the two index tables once every 64 commits rather than in every commit (two
//! fewer B-trees copied and written per fsync); queries read the tail's entries instead
//! ([`Reader::tail_postings`]). The index is derived data, outside the tree, so this moves no
//! durability guarantee.
//!
//! # Crashes
//!
//! A commit is one redb write transaction: its leaves, tiles, ids, postings, `occurred_at`
//! rows (with those of leaves an older file left without: see `occurred.rs`), checkpoints and
//! state record reach the file together or not at all, so after a crash the tables agree with
//! the `state` record and with each other. A durable commit is fsync'd before
//! [`Writer::commit`] returns; a non-durable one is not, and a crash loses it, with every
//! commit after the last durable one, whole (redb reopens the file in its last durable state;
//! [`Store::sync`] makes the commits before it durable). Nothing in memory outlives what it
//! describes: the tile cache and the unindexed tail's postings are updated only once a commit
//! has returned, and the append frontier (one hash per set bit of the size) lives in the
//! ledger's memory and is rebuilt on open.
//!
//! # Why bundles and tiles
//!
//! Every B-tree insert costs a descent, a page copy and later a page write; with one key per
//! leaf and one per node a batch of 1,000 entries would make about 3,000 inserts, and no amount
//! of tuning makes that twice as fast as SQLite. So leaves are grouped into *bundles* and node
//! hashes into *tiles*, the way C2SP tlog-tiles groups 256 hashes:
//!
//! - A tile holds a subtree [`TILE_HEIGHT`] (6) levels deep: 64 consecutive nodes of one level
//!   and the 62 nodes above them within the tile ([`TILE_HASHES`], 4,032 bytes, one 4 KiB redb
//!   page with its header). Tier `t` tiles hold levels `6t` to `6t + 5`; level 0 holds the leaf
//!   hashes. A complete tile stores every level, so any node under one, and so any proof or
//!   historical root, is read with no hashing beyond the proof's own folds, and a proof of a
//!   million-entry tree reads four tiles, one per six levels (the upper ones cached, see
//!   [`TileCache`]), where tiles of one level each would take twenty. (Strips of 127 hashes of
//!   a single level, the layout before storage format 4, cost a proof one page read per level
//!   below the cached ones.)
//! - A bundle holds up to [`BUNDLE_MAX_LEAVES`] (128) consecutive leaves and at most about
//!   32 KiB, so a single append rewrites at most one partial bundle of bounded size even when
//!   entries are large; bundles filled by small commits close at one page (4 KiB), since each
//!   such commit rewrites the open bundle whole. Bundles are keyed by their first index and
//!   found with one range seek. ([`BUNDLE_CLOSE_BYTES`] says why the byte limit sits just
//!   under 32 KiB.)
//! - Every bundle but the last is stored LZ4-compressed (block format) when that is smaller.
//!   The entries of one bundle share keys, actors, actions and link shapes, so audit entries
//!   take about a third of their bytes; a batch's commit spends on compressing about what it
//!   saves in writing, and `verify` decompresses at several GB/s. A batch closes each bundle
//!   at the size that should compress to two pages ([`PACKED_BUNDLE_BYTES`], going by the
//!   ratio of the bundle before), since a value just over that takes four. The open last
//!   bundle stays plain, so a single append extends it without decompressing. Decoding is
//!   LZ4's safe decoder, and a stored length the compressed bytes cannot produce is refused
//!   before anything is allocated, since `verify` reads files that may have been altered.
//!
//! Only complete tiles are stored. The nodes of the partial tile at the right edge of each tier
//! (fewer than 64 per level) are hashed from the leaves or the level below when read, and kept
//! in memory once known ([`TileCache`]); a tile is written once, by the commit that completes
//! it. A single durable append then touches the node store once every 64 commits instead of
//! rewriting the partial tiles it changes (and their B-tree paths) in each, and a batch writes
//! no partial tiles at all.

// One concept a file. The concept modules work on redb tables handed to them; `Reader` and
// `Writer` own a snapshot or a transaction, open the tables and hand them over.
mod bundles;
mod commit_index;
mod cosigned;
mod map_tiles;
mod occurred;
mod personal;
mod published;
mod reader;
mod relayed;
mod rules;
mod runs;
mod tables;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod tamper;
mod tiles;
mod timestamps;
mod writer;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redb::{
    ConcurrencyMode, Database, DatabaseError, Durability, ReadOnlyDatabase, ReadTransaction,
    ReadableDatabase, ReadableTable, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::merkle::{Hash, HashAlg};
use tables::{encode, storage_err, BLOCKS, CHECKPOINTS, IDS, LEAVES, META, NODES, RUNS};
use writer::TailPostings;

pub use bundles::{
    BUNDLE_CLOSE_BYTES, BUNDLE_MAX_LEAVES, PACKED_BUNDLE_BYTES, SMALL_BUNDLE_CLOSE_BYTES,
    SMALL_COMMIT_LEAVES,
};
pub use commit_index::{IndexState, ScratchIndex, TermAppend, TermList};
pub use cosigned::{StoredCosignature, WitnessState};
pub use occurred::LeafOccurred;
pub use personal::PersonalTerms;
pub use reader::Reader;
pub use relayed::RelayedRecord;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub use runs::MAX_MERGED_POSTINGS;
pub use runs::{LeafTerms, RunInfo, INDEX_TAIL_LEAVES};
pub use tiles::{is_stored, tile_of, TileCache, CACHED_TILE_TIER, TILE_HASHES, TILE_HEIGHT};
pub use writer::{Mark, Writer};

/// Version of this storage layout, recorded in [`Meta`]; a file with another one is refused.
/// 3: the query indexes may leave a short tail unindexed (an older reader would call it
/// damaged). 4: node tiles hold six-level subtrees, and only complete ones are stored.
/// 5: closed leaf bundles are compressed, and every bundle starts with a tag byte.
pub const STORAGE_FORMAT: u32 = 5;
/// redb's page cache. Its default (1 GiB) lets memory grow with the ledger; an append touches
/// a few pages at the right edge and a proof O(log n) tiles, so a bounded cache keeps memory
/// flat at no cost to either.
const CACHE_BYTES: usize = 64 << 20;

/// The kind of leaf a ledger holds, fixed at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerKind {
    /// Audit entries (SPEC section 3), validated and canonically encoded.
    Entries,
    /// Opaque bytes given by the caller.
    Raw,
}

impl LedgerKind {
    /// `"entries"` or `"raw"`.
    pub fn name(self) -> &'static str {
        match self {
            LedgerKind::Entries => "entries",
            LedgerKind::Raw => "raw",
        }
    }
}

/// What never changes about a ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// [`STORAGE_FORMAT`] when written.
    pub format: u32,
    /// The log's origin line.
    pub origin: String,
    /// Tree hash.
    pub hash: HashAlg,
    /// Leaf kind.
    pub kind: LedgerKind,
    /// Limit on one leaf's bytes.
    pub max_entry_bytes: u64,
    /// The verifier key (Go `sumdb/note` form) of the key that signs this ledger's
    /// checkpoints, when it was named at creation. Kept in its own record beside `meta`, so
    /// ledgers written before it was recorded still decode (they have none).
    #[serde(skip)]
    pub verifier_key: Option<String>,
    /// With committed indexes (SPEC section 9): record an `index.committed` entry once this
    /// many leaves follow the last one. Kept in its own `meta` record (`"commit_index"`), so
    /// the `meta` encoding and older files are unchanged; absent: no committed indexes.
    #[serde(skip)]
    pub commit_index_every: Option<u64>,
    /// The fields sealed as commitments (SPEC section 10). Kept in its own `meta` record
    /// (`"personal"`, a JSON array), so older files decode with none.
    #[serde(skip)]
    pub personal: crate::entry::PersonalFields,
}

/// The `meta` key of the personal fields record.
pub(super) const PERSONAL_KEY: &str = "personal";

/// What every commit updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Number of leaves.
    pub size: u64,
    /// Root at `size`.
    pub root: Hash,
    /// The `time` of the last entry (the floor for the next one).
    pub last_time: Timestamp,
}

/// What a publish last wrote to one destination ([`crate::publish`]): the size and root of
/// the checkpoint written there, after every tile and bundle it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedState {
    /// Tree size of the published checkpoint.
    pub size: u64,
    /// Its root hash.
    pub root: crate::merkle::Hash,
}

/// A checkpoint the ledger signed, kept so `verify` can re-check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// The signed note text.
    pub note: String,
    /// The verifier key string of its signer.
    pub verifier_key: String,
}

impl StoredCheckpoint {
    /// `{"size", "note", "verifier_key"}`
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"size": self.size, "note": self.note, "verifier_key": self.verifier_key})
    }
}

fn map_open_error(path: &Path, e: DatabaseError) -> Error {
    match e {
        DatabaseError::DatabaseAlreadyOpen => Error::Locked(path.to_path_buf()),
        // redb reports "not a redb file" (bad magic, empty file) as InvalidData.
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            Error::NotALedger(io.to_string())
        }
        // A file cut short inside redb's header or page tables: not something to retry.
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            Error::NotALedger(format!("the file ends early (truncated?): {io}"))
        }
        DatabaseError::Storage(redb::StorageError::Io(io)) => Error::Io(io),
        DatabaseError::Storage(redb::StorageError::Corrupted(msg)) => Error::NotALedger(msg),
        DatabaseError::UpgradeRequired(v) => {
            Error::NotALedger(format!("redb file format {v} is not supported"))
        }
        other => Error::NotALedger(other.to_string()),
    }
}

/// How processes share one ledger file: redb's concurrency modes, and [`Sharing::Auto`],
/// which moves between two of them. Processes that have a file open at the same time must use
/// compatible modes: `Auto` with `Auto` and `MultiWriter`, otherwise the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// The default: hold the file alone, as [`Sharing::Exclusive`] (one fsync per commit),
    /// until another handle or process asks to open it, then share it as
    /// [`Sharing::MultiWriter`] from that moment on. A reader or writer that finds the file
    /// held asks the holder over a local socket named after the file and is let in within
    /// milliseconds (see `ledger::auto_share`), so readers are never refused because a
    /// service is appending, and a process appending alone pays no sharing cost.
    #[default]
    Auto,
    /// The process that opens the file for writing excludes every other, readers included;
    /// read-only handles share the file with each other only. A commit is fsync'd once.
    Exclusive,
    /// One process writes; any number of processes read beside it and follow its commits.
    SingleWriter,
    /// Any number of processes write, one commit at a time, and any number read beside them:
    /// a reader is never refused because a service is appending, and a script can record
    /// into the ledger a running service holds. A commit is fsync'd twice (redb's two-phase
    /// commit, so that a reader in another process never follows a half-written one).
    MultiWriter,
}

impl Sharing {
    /// `"auto"`, `"exclusive"`, `"single-writer"` or `"multi-writer"`.
    pub fn name(self) -> &'static str {
        match self {
            Sharing::Auto => "auto",
            Sharing::Exclusive => "exclusive",
            Sharing::SingleWriter => "single-writer",
            Sharing::MultiWriter => "multi-writer",
        }
    }

    /// redb's mode for a handle opened this way. `Auto` handles open the file in one of the
    /// other modes (`ledger::auto_share`); a read-only one reads as a multi-writer reader.
    fn mode(self) -> ConcurrencyMode {
        match self {
            Sharing::Auto => ConcurrencyMode::MultiWriter,
            Sharing::Exclusive => ConcurrencyMode::ExclusiveWriter,
            Sharing::SingleWriter => ConcurrencyMode::SingleWriter,
            Sharing::MultiWriter => ConcurrencyMode::MultiWriter,
        }
    }
}

impl std::str::FromStr for Sharing {
    type Err = Error;

    /// The [`Sharing::name`] forms; `_` may stand for `-`.
    fn from_str(s: &str) -> Result<Self> {
        match s.replace('_', "-").as_str() {
            "auto" => Ok(Sharing::Auto),
            "exclusive" => Ok(Sharing::Exclusive),
            "single-writer" => Ok(Sharing::SingleWriter),
            "multi-writer" => Ok(Sharing::MultiWriter),
            _ => Err(Error::malformed(
                "sharing mode",
                format!("{s:?} is not auto, exclusive, single-writer or multi-writer"),
            )),
        }
    }
}

impl std::fmt::Display for Sharing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The redb handle: read-write, or read-only (which never writes a byte of the file and needs
/// only read permission).
enum Db {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<ReadTransaction> {
        match self {
            Db::Writable(db) => db.begin_read(),
            Db::ReadOnly(db) => db.begin_read(),
        }
        .map_err(storage_err)
    }

    fn begin_write(&self, path: &Path) -> Result<WriteTransaction> {
        match self {
            Db::Writable(db) => db.begin_write().map_err(storage_err),
            Db::ReadOnly(_) => Err(read_only_refusal(path)),
        }
    }
}

/// Why a write through a read-only handle is refused: the ledger refuses it before anything
/// starts, and the store again should anything reach it.
pub fn read_only_refusal(path: &Path) -> Error {
    Error::InvalidArgument(format!(
        "{} was opened read-only: nothing can be written through this handle",
        path.display()
    ))
}

/// Open the redb file, retrying while another process holds it for up to `wait`.
fn open_db(
    path: &Path,
    create: bool,
    wait: Option<Duration>,
    sharing: Sharing,
    read_only: bool,
) -> Result<Db> {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut pause = Duration::from_millis(5);
    loop {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        builder.set_concurrency_mode(sharing.mode());
        let res = if read_only {
            builder.open_read_only(path).map(Db::ReadOnly)
        } else if create {
            builder.create(path).map(Db::Writable)
        } else {
            builder.open(path).map(Db::Writable)
        };
        match res {
            Ok(db) => return Ok(db),
            Err(DatabaseError::DatabaseAlreadyOpen)
                if deadline.is_some_and(|d| Instant::now() < d) =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) => return Err(map_open_error(path, e)),
        }
    }
}

/// Rewrites the ledger file at `path` so the pages freed (by pruning) go back to the file
/// system: redb's `compact`, on the file opened alone ([`Error::Locked`] while any other
/// handle has it). Refuses a redb file that is not a ledger. Whether anything moved.
pub fn compact_file(path: &Path) -> Result<bool> {
    let Db::Writable(mut db) = open_db(path, false, None, Sharing::Exclusive, false)? else {
        return Err(read_only_refusal(path));
    };
    {
        let txn = db.begin_read().map_err(storage_err)?;
        let meta = txn.open_table(META).map_err(|e| {
            Error::NotALedger(format!("{}: not a trailseal ledger: {e}", path.display()))
        })?;
        if meta.get("meta").map_err(storage_err)?.is_none() {
            return Err(Error::NotALedger(format!(
                "{}: no meta record",
                path.display()
            )));
        }
    }
    db.compact().map_err(storage_err)
}

/// A storage backend for redb: where a ledger's bytes live when not in a plain file (an
/// in-memory store, or a fault-injecting one in tests). This is redb's own trait.
pub use redb::StorageBackend as Backend;

/// Lets a boxed backend be handed to redb, which wants a sized type.
#[derive(Debug)]
struct BoxedBackend(Box<dyn Backend>);

impl Backend for BoxedBackend {
    fn len(&self) -> std::result::Result<u64, std::io::Error> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::result::Result<(), std::io::Error> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> std::result::Result<(), std::io::Error> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> std::result::Result<(), std::io::Error> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::result::Result<(), std::io::Error> {
        self.0.write(offset, data)
    }
    fn close(&self) -> std::result::Result<(), std::io::Error> {
        self.0.close()
    }
}

/// A ledger file, or a ledger on a caller's storage backend.
pub struct Store {
    // Dropped by hand in `Drop`, where a panic from a corrupt file is contained.
    db: std::mem::ManuallyDrop<Db>,
    path: PathBuf,
    file: bool,
    tiles: Arc<TileCache>,
    tail: Arc<Mutex<TailPostings>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: `db` is never used again: this is the last use of `self`.
        let db = unsafe { std::mem::ManuallyDrop::take(&mut self.db) };
        // Closing flushes redb's state; on a file changed behind its back that can panic, and
        // a destructor must not take the embedding process down with it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(db)));
    }
}

impl Store {
    /// Create a new ledger file; refuses an existing one.
    pub fn create(
        path: &Path,
        meta: &Meta,
        state: &State,
        sharing: Sharing,
        mode: u32,
    ) -> Result<Store> {
        // create_new makes "refuse if it exists" atomic against a racing creator; the mode is
        // set at creation, so the file is never readable by others even for a moment (the
        // umask can only narrow it).
        let mut create = OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            create.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match create.open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(path.to_path_buf()))
            }
            Err(e) => return Err(Error::Io(e)),
        }
        let result = open_db(path, true, None, sharing, false).and_then(|db| {
            Store::init(
                Store {
                    db: std::mem::ManuallyDrop::new(db),
                    path: path.to_path_buf(),
                    file: true,
                    tiles: Arc::default(),
                    tail: Arc::default(),
                },
                meta,
                state,
            )
        });
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Create a new ledger on a storage backend of the caller's (an empty one).
    pub fn create_on(backend: Box<dyn Backend>, meta: &Meta, state: &State) -> Result<Store> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(BoxedBackend(backend))
            .map_err(|e| map_open_error(Path::new("(backend)"), e))?;
        Store::init(
            Store {
                db: std::mem::ManuallyDrop::new(Db::Writable(db)),
                path: PathBuf::from("(backend)"),
                file: false,
                tiles: Arc::default(),
                tail: Arc::default(),
            },
            meta,
            state,
        )
    }

    /// Open a ledger on a storage backend of the caller's.
    pub fn open_on(backend: Box<dyn Backend>) -> Result<(Store, Meta)> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(BoxedBackend(backend))
            .map_err(|e| map_open_error(Path::new("(backend)"), e))?;
        Store::checked(Store {
            db: std::mem::ManuallyDrop::new(Db::Writable(db)),
            path: PathBuf::from("(backend)"),
            file: false,
            tiles: Arc::default(),
            tail: Arc::default(),
        })
    }

    fn init(store: Store, meta: &Meta, state: &State) -> Result<Store> {
        let txn = store.db.begin_write(&store.path)?;
        {
            let mut t = txn.open_table(META).map_err(storage_err)?;
            if t.get("meta").map_err(storage_err)?.is_some() {
                return Err(Error::AlreadyExists(store.path.clone()));
            }
            t.insert("meta", encode(meta)?.as_slice())
                .map_err(storage_err)?;
            t.insert("state", encode(state)?.as_slice())
                .map_err(storage_err)?;
            if let Some(vkey) = &meta.verifier_key {
                t.insert("verifier_key", vkey.as_bytes())
                    .map_err(storage_err)?;
            }
            if let Some(every) = meta.commit_index_every {
                t.insert(commit_index::EVERY_KEY, every.to_le_bytes().as_slice())
                    .map_err(storage_err)?;
            }
            if !meta.personal.is_empty() {
                let paths = serde_json::to_vec(meta.personal.paths())
                    .map_err(|e| Error::Internal(e.to_string()))?;
                t.insert(PERSONAL_KEY, paths.as_slice())
                    .map_err(storage_err)?;
            }
            txn.open_table(LEAVES).map_err(storage_err)?;
            txn.open_table(NODES).map_err(storage_err)?;
            txn.open_table(IDS).map_err(storage_err)?;
            txn.open_table(CHECKPOINTS).map_err(storage_err)?;
            txn.open_table(RUNS).map_err(storage_err)?;
            txn.open_table(BLOCKS).map_err(storage_err)?;
        }
        txn.commit().map_err(storage_err)?;
        Ok(store)
    }

    fn checked(store: Store) -> Result<(Store, Meta)> {
        let reader = store.reader()?;
        let meta = reader.meta()?;
        reader.open_all()?;
        drop(reader);
        if meta.format != STORAGE_FORMAT {
            return Err(Error::NotALedger(format!(
                "storage format {} (this trailseal reads {STORAGE_FORMAT})",
                meta.format
            )));
        }
        Ok((store, meta))
    }

    /// Open an existing ledger file, waiting up to `wait` for another process to release it.
    /// A `read_only` store never writes a byte of the file, and needs only read permission.
    pub fn open(
        path: &Path,
        wait: Option<Duration>,
        sharing: Sharing,
        read_only: bool,
    ) -> Result<(Store, Meta)> {
        if !path.exists() {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        let db = open_db(path, false, wait, sharing, read_only)?;
        Store::checked(Store {
            db: std::mem::ManuallyDrop::new(db),
            path: path.to_path_buf(),
            file: true,
            tiles: Arc::default(),
            tail: Arc::default(),
        })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if opened from a file path (not a caller's backend): it can be reopened.
    pub fn is_file(&self) -> bool {
        self.file
    }

    /// A consistent snapshot for reading.
    pub fn reader(&self) -> Result<Reader> {
        let txn = self.db.begin_read()?;
        Ok(Reader::new(txn, self.tiles.clone()))
    }

    /// Start a write. With `durable` false the commit is not fsync'd (see [`Store::sync`]).
    pub fn writer(&self, durable: bool) -> Result<Writer> {
        let mut txn = self.db.begin_write(&self.path)?;
        if !durable {
            txn.set_durability(Durability::None).map_err(storage_err)?;
        }
        Ok(Writer::new(txn, self.tiles.clone(), self.tail.clone()))
    }

    /// Overwrite the file's free pages with zeros, after rebuilding the personal postings when
    /// rows were removed from them (see `personal::scrub_free_pages`). Nothing to do for a
    /// caller's storage backend.
    pub fn scrub_free_pages(&self, rebuild_postings: bool) -> Result<()> {
        match &*self.db {
            Db::Writable(db) if self.file => {
                personal::scrub_free_pages(db, &self.path, rebuild_postings)
            }
            Db::Writable(_) => Ok(()),
            Db::ReadOnly(_) => Err(read_only_refusal(&self.path)),
        }
    }

    /// Make every earlier non-durable commit durable (one fsync'd empty commit).
    pub fn sync(&self) -> Result<()> {
        let txn = self.db.begin_write(&self.path)?;
        txn.commit().map_err(storage_err)
    }
}
