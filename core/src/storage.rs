//! Storage: the only module that knows redb.
//!
//! # Layout
//!
//! | table         | key                         | value                                  |
//! |---------------|-----------------------------|----------------------------------------|
//! | `meta`        | `"meta"`, `"state"`         | postcard [`Meta`], [`State`]           |
//! | `leaves`      | index of a bundle's first leaf | a bundle: leaves framed by u32 lengths, LZ4-compressed unless last |
//! | `nodes`       | `level << 58 \| index / 127` | a tile: up to 127 hashes of one level  |
//! | `ids`         | entry `id`                  | leaf index                             |
//! | `checkpoints` | sequence number             | postcard [`StoredCheckpoint`]          |
//! | `posting_runs` | first leaf index of the run | postcard [`RunInfo`]                   |
//! | `posting_blocks` | (run id, term hash, index) of the block's first posting | a block of postings |
//!
//! The secondary indexes (actor, action, subject, attrs, refs, link targets, decision) are
//! posting lists kept as sorted runs that are merged as they accumulate: each commit writes
//! its postings as one new run at the right edge of `posting_blocks`, and whenever the last
//! [`MERGE_WIDTH`] runs have the same level they are merged into one run of the next level.
//! Runs cover disjoint, ascending ranges of leaves, so a query walks them in leaf order and
//! never merges them on the fly. [`crate::postings`] says why, and how blocks are encoded.
//!
//! The last few leaves (fewer than [`INDEX_TAIL_LEAVES`]) may be in no run yet: a commit that
//! leaves the unindexed tail that short writes no postings at all, and the first commit that
//! would make it longer indexes the whole tail with its own leaves. Single durable appends
//! thus touch the two index tables once every 64 commits rather than in every commit (two
//! fewer B-trees copied and written per fsync); queries read the tail's entries instead
//! ([`Reader::tail_postings`]). The index is derived data, outside the tree, so this moves no
//! durability guarantee.
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
//!   hashes. Every level is stored, so any node, and so any proof or historical root, is read
//!   with no hashing beyond the proof's own folds, and a proof of a million-entry tree reads
//!   four tiles, one per six levels (the upper ones cached, see [`TileCache`]), where tiles
//!   of one level each would take twenty. (Strips of 127 hashes of a single level, the layout
//!   before storage format 4, cost a proof one page read per level below the cached ones.)
//! - A bundle holds up to 128 consecutive leaves and at most about 32 KiB, so a
//!   single append rewrites at most one partial bundle of bounded size even when entries are
//!   large; bundles filled by small commits close at one page (4 KiB), since each such commit
//!   rewrites the open bundle whole. Bundles are keyed by their first index and found with one range seek.
//!   ([`BUNDLE_CLOSE_BYTES`] says why the byte limit sits just under 32 KiB.)
//! - Every bundle but the last is stored LZ4-compressed (block format) when that is smaller.
//!   The entries of one bundle share keys, actors, actions and link shapes, so audit entries
//!   take about a third of their bytes; a batch's commit spends on compressing about what it
//!   saves in writing, and `verify` decompresses at several GB/s. A batch closes each bundle
//!   at the size that should compress to two pages ([`PACKED_BUNDLE_BYTES`], going by the
//!   ratio of the bundle before), since a value just over that takes four. The open last bundle stays plain, so a single append
//!   extends it without decompressing. Decoding is LZ4's safe decoder, and a stored length the
//!   compressed bytes cannot produce is refused before anything is allocated, since `verify`
//!   reads files that may have been altered.
//!
//! Only complete tiles are stored. The nodes of the partial tile at the right edge of each level
//! (fewer than 127 per level) are hashed from the leaves or the level below when read
//! (`Edge`), and a tile is written once, by the commit that completes it. A single durable
//! append then touches the node store once every 127 commits instead of rewriting about two
//! partial tiles (and their B-tree paths) in each, and a batch writes no partial tiles at all.
//! The append frontier (one hash per set bit of the size) lives in the ledger's memory and is
//! rebuilt on open.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use redb::{
    Database, DatabaseError, Durability, ReadOnlyTable, ReadTransaction, ReadableDatabase,
    ReadableTable, ReadableTableMetadata, TableDefinition, TableError, WriteTransaction,
};
use serde::{Deserialize, Serialize};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::merkle::{Hash, HashAlg, NodeId};
use crate::postings::{decode_block, term_hash, BlockBuilder, Posting, MERGE_WIDTH};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("trailseal.meta");
const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.leaves");
const NODES: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.nodes");
const IDS: TableDefinition<&str, u64> = TableDefinition::new("trailseal.ids");
const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.checkpoints");
const RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.posting_runs");
/// Posting block key: (run id, term hash, index) of the block's first posting.
type BlockKey = (u64, u64, u64);
const BLOCKS: TableDefinition<BlockKey, &[u8]> = TableDefinition::new("trailseal.posting_blocks");

/// Version of this storage layout, recorded in [`Meta`]; a file with another one is refused.
/// 3: the query indexes may leave a short tail unindexed (an older reader would call it
/// damaged). 4: node tiles hold six-level subtrees, and only complete ones are stored.
/// 5: closed leaf bundles are compressed, and every bundle starts with a tag byte.
pub const STORAGE_FORMAT: u32 = 5;
/// Tree levels per tile (see the module docs).
pub const TILE_HEIGHT: u8 = 6;
/// Nodes of a tile's bottom level.
const TILE_SPAN: u64 = 1 << TILE_HEIGHT;
/// Hashes in a tile: 64 + 32 + 16 + 8 + 4 + 2. A tile fills one 4 KiB page.
pub const TILE_HASHES: usize = 2 * TILE_SPAN as usize - 2;
/// redb's page cache. Its default (1 GiB) lets memory grow with the ledger; an append touches
/// a few pages at the right edge and a proof O(log n) tiles, so a bounded cache keeps memory
/// flat at no cost to either.
const CACHE_BYTES: usize = 64 << 20;
/// Leaves per bundle at most.
pub const BUNDLE_MAX_LEAVES: usize = 128;
/// A batch's bundle takes no leaf that would make it longer than this (unless it is its
/// first); typical entries close it earlier, at [`BUNDLE_MAX_LEAVES`] or
/// [`PACKED_BUNDLE_BYTES`]. Just under a power of two, less the page header and key.
pub const BUNDLE_CLOSE_BYTES: usize = 32 * 1024 - 96;
/// What a closed, compressed bundle should take at most: two 4 KiB pages with their header
/// and key. redb gives a value that outgrows one page a run of pages rounded up to a power of
/// two (a bundle of 8.5 KiB would take 16 KiB), so a batch closes a bundle at the size that the
/// compression ratio of the bundle before it says will compress to this, with a twentieth to
/// spare (between [`SMALL_BUNDLE_CLOSE_BYTES`] and [`BUNDLE_CLOSE_BYTES`]). Two pages rather
/// than one: every value read through redb costs a buffer, a cache insertion and a system call,
/// and `verify` measured 10% faster with half as many (a read of one entry then decompresses
/// up to 32 KiB, a few microseconds).
pub const PACKED_BUNDLE_BYTES: usize = 8192 - 64;
/// Commits of fewer leaves than this (single appends, small group commits) close bundles at
/// [`SMALL_BUNDLE_CLOSE_BYTES`]: each such commit rewrites the open bundle, and a bundle that
/// fits one page costs one page write.
pub const SMALL_COMMIT_LEAVES: usize = 16;
/// What fits one 4 KiB redb leaf page with its header, key and length.
pub const SMALL_BUNDLE_CLOSE_BYTES: usize = 4096 - 16;

/// The unindexed tail of an entries ledger (the leaves after the last posting run) is always
/// shorter than this; see the module docs.
pub const INDEX_TAIL_LEAVES: u64 = 64;

/// The term hashes of stored entry `index` (for indexing leaves of earlier commits, which the
/// writer holds only as bytes): appends to `out`, using `buf` as scratch. Storage knows no
/// entries; the ledger passes `query::leaf_term_hashes`.
pub type LeafTerms = fn(u64, &[u8], &mut Vec<u8>, &mut Vec<u64>) -> Result<()>;

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
}

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

impl StoredCheckpoint {
    /// `{"size", "note", "verifier_key"}`
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"size": self.size, "note": self.note, "verifier_key": self.verifier_key})
    }
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

fn storage_err(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

fn decode<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T> {
    postcard::from_bytes(bytes)
        .map_err(|e| Error::NotALedger(format!("unreadable {what} record: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| Error::Internal(format!("encoding a record: {e}")))
}

fn tile_key(tier: u8, tile: u64) -> u64 {
    (u64::from(tier) << 58) | tile
}

/// The key of the tile holding node `id`, and the node's position in it: a tile lists its
/// levels bottom up, each left to right.
pub fn tile_of(id: NodeId) -> (u64, usize) {
    let k = id.level % TILE_HEIGHT;
    let width = TILE_SPAN >> k;
    let offset = 2 * TILE_SPAN - ((2 * TILE_SPAN) >> k);
    (
        tile_key(id.level / TILE_HEIGHT, id.index / width),
        (offset + id.index % width) as usize,
    )
}

/// True if node `id` is stored in a tree of `size` leaves: its tile is complete, i.e. the
/// tile's subtree spans only leaves below `size`. (The node itself is then complete too.)
pub fn is_stored(id: NodeId, size: u64) -> bool {
    let shift = u32::from(id.level / TILE_HEIGHT + 1) * u32::from(TILE_HEIGHT);
    let tile = id.index >> (TILE_HEIGHT - id.level % TILE_HEIGHT);
    shift < 64 && tile < size >> shift
}

/// Iterate the leaves framed in a bundle.
fn bundle_leaves(bundle: &[u8]) -> impl Iterator<Item = Result<&[u8]>> + '_ {
    let mut rest = bundle;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let item = rest
            .get(..4)
            .map(|n| u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize)
            .and_then(|n| rest.get(4..4 + n).map(|leaf| (leaf, 4 + n)));
        match item {
            Some((leaf, used)) => {
                rest = &rest[used..];
                Some(Ok(leaf))
            }
            None => {
                rest = &[];
                Some(Err(Error::Tampered {
                    location: "leaf bundle".into(),
                    detail: "framing is cut short".into(),
                }))
            }
        }
    })
}

fn push_framed(bundle: &mut Vec<u8>, leaf: &[u8]) {
    bundle.extend_from_slice(&(leaf.len() as u32).to_le_bytes());
    bundle.extend_from_slice(leaf);
}

/// First byte of a stored bundle: the framed leaves follow as they are.
const BUNDLE_PLAIN: u8 = 0;
/// First byte of a stored bundle: the framed leaves follow LZ4-compressed (block format),
/// after their length as a little-endian u32.
const BUNDLE_LZ4: u8 = 1;
/// LZ4 expands at most about 255 times; a stored length beyond that is not one this library
/// wrote, and is refused before anything is allocated for it.
const LZ4_MAX_RATIO: usize = 255;

/// The stored form of a bundle that is open (the last one): framed leaves behind a tag byte,
/// so the next small commit can extend it without decompressing.
fn stored_plain(framed: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + framed.len());
    v.push(BUNDLE_PLAIN);
    v.extend_from_slice(framed);
    v
}

/// The stored form of a closed bundle: compressed when that is smaller. Audit entries of one
/// bundle repeat their keys, actors and actions, so this typically stores a third of the bytes.
fn stored_closed(framed: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(framed.len())];
    match lz4_flex::block::compress_into(framed, &mut v[5..]) {
        Ok(n) if 5 + n < 1 + framed.len() => {
            v[0] = BUNDLE_LZ4;
            v[1..5].copy_from_slice(&(framed.len() as u32).to_le_bytes());
            v.truncate(5 + n);
            v
        }
        _ => stored_plain(framed),
    }
}

/// How many times smaller than its framed leaves stored bundle `value` is (1 if plain).
fn stored_ratio(value: &[u8]) -> f64 {
    match value {
        [BUNDLE_LZ4, a, b, c, d, ..] => {
            u32::from_le_bytes([*a, *b, *c, *d]) as f64 / value.len() as f64
        }
        _ => 1.0,
    }
}

/// The framed leaves of stored bundle `value`, whose first leaf is `start`: borrowed when it
/// is plain, else decompressed into `buf`.
fn unpack_bundle<'a>(start: u64, value: &'a [u8], buf: &'a mut Vec<u8>) -> Result<&'a [u8]> {
    let bad = |detail: String| Error::Tampered {
        location: format!("leaf {start}"),
        detail: format!("its bundle {detail}"),
    };
    match value.split_first() {
        Some((&BUNDLE_PLAIN, framed)) => Ok(framed),
        Some((&BUNDLE_LZ4, rest)) if rest.len() >= 4 => {
            let (len, packed) = rest.split_at(4);
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > packed.len().saturating_mul(LZ4_MAX_RATIO) {
                return Err(bad(format!(
                    "claims {len} bytes from {} compressed ones",
                    packed.len()
                )));
            }
            // Only new capacity is zeroed: a successful decompression writes every byte.
            buf.resize(len, 0);
            match lz4_flex::block::decompress_into(packed, buf) {
                Ok(n) if n == len => Ok(buf.as_slice()),
                Ok(n) => Err(bad(format!("decompresses to {n} bytes, not {len}"))),
                Err(e) => Err(bad(format!("does not decompress: {e}"))),
            }
        }
        Some((tag, _)) => Err(bad(format!("has an unknown encoding ({tag})"))),
        None => Err(bad("is empty".into())),
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

/// Open the redb file, retrying while another process holds it for up to `wait`.
fn open_db(path: &Path, create: bool, wait: Option<Duration>) -> Result<Database> {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut pause = Duration::from_millis(5);
    loop {
        let mut builder = Database::builder();
        builder.set_cache_size(CACHE_BYTES);
        let res = if create {
            builder.create(path)
        } else {
            builder.open(path)
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

/// A ledger file.
pub struct Store {
    // Dropped by hand in `Drop`, where a panic from a corrupt file is contained.
    db: std::mem::ManuallyDrop<Database>,
    path: PathBuf,
    file: bool,
    tiles: Arc<TileCache>,
    tail: Arc<Mutex<TailPostings>>,
}

/// The postings of the unindexed tail as this process's commits computed them, so the commit
/// that indexes the tail need not parse those entries again. Only a cache: it is used when it
/// covers exactly the leaves to index, and otherwise they are read back from the file.
#[derive(Default)]
struct TailPostings {
    first: u64,
    end: u64,
    postings: Vec<Posting>,
}

/// Tiers whose tiles are kept in memory once read: from tier 1 up (levels 6 and above) a tile
/// covers 4,096 leaves, so at 1 million entries these tiers hold about 250 tiles (1 MiB), at
/// 10 million about 2,500, and a proof reads just its tier-0 tile from the B-tree. Beyond
/// `CACHED_TILES_MAX` tiles (about 16 million entries) the tiles read first stay cached;
/// the upper tiers, which every proof reads, are among them.
pub const CACHED_TILE_TIER: u8 = 1;
/// At most this many tiles (4 KiB each: 16 MiB) are cached; beyond, tiles are read as usual.
const CACHED_TILES_MAX: usize = 4096;

/// Complete node tiles of the upper tree levels, shared by every snapshot of one open store.
/// A complete tile never changes in a valid ledger, so a copy read once stays right; only
/// partial tiles (the right edge, still growing) are always read from the snapshot. `verify`
/// bypasses the cache and reads every tile from the file.
///
/// It also keeps the nodes of the partial tiles (never stored): those each commit adds, and
/// those a reader had to derive. A node's hash never changes once the node is complete, so
/// these too stay right for every later snapshot, and proofs near the right edge (most of
/// them: every proof against the current size ends there) do not re-hash leaves.
#[derive(Default)]
pub struct TileCache {
    tiles: RwLock<HashMap<u64, Arc<[u8]>>>,
    edge: RwLock<HashMap<NodeId, Hash>>,
}

/// Edge nodes kept at most; past it, those now under a stored tile are dropped (the partial
/// tiles of a tree hold under 127 nodes per level, so what remains is small).
const EDGE_NODES_MAX: usize = 16 * 1024;

impl TileCache {
    fn edge_node(&self, id: NodeId) -> Option<Hash> {
        self.edge
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .copied()
    }

    /// Remember nodes of partial tiles of a tree of `size` leaves.
    fn remember_edge(&self, nodes: impl IntoIterator<Item = (NodeId, Hash)>, size: u64) {
        let mut map = self.edge.write().unwrap_or_else(|p| p.into_inner());
        map.extend(nodes);
        if map.len() > EDGE_NODES_MAX {
            map.retain(|id, _| !is_stored(*id, size));
        }
    }

    fn get(&self, key: u64) -> Option<Arc<[u8]>> {
        self.tiles
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }

    fn offer(&self, key: u64, tile: &[u8]) {
        if ((key >> 58) as u8) < CACHED_TILE_TIER || tile.len() != TILE_HASHES * 32 {
            return;
        }
        let mut map = self.tiles.write().unwrap_or_else(|p| p.into_inner());
        if map.len() < CACHED_TILES_MAX {
            map.insert(key, Arc::from(tile));
        }
    }
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
    pub fn create(path: &Path, meta: &Meta, state: &State) -> Result<Store> {
        // create_new makes "refuse if it exists" atomic against a racing creator.
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(path.to_path_buf()))
            }
            Err(e) => return Err(Error::Io(e)),
        }
        let result = open_db(path, true, None).and_then(|db| {
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
                db: std::mem::ManuallyDrop::new(db),
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
            db: std::mem::ManuallyDrop::new(db),
            path: PathBuf::from("(backend)"),
            file: false,
            tiles: Arc::default(),
            tail: Arc::default(),
        })
    }

    fn init(store: Store, meta: &Meta, state: &State) -> Result<Store> {
        let txn = store.db.begin_write().map_err(storage_err)?;
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
    pub fn open(path: &Path, wait: Option<Duration>) -> Result<(Store, Meta)> {
        if !path.exists() {
            return Err(Error::NotFound(path.to_path_buf()));
        }
        let db = open_db(path, false, wait)?;
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
        let txn = self.db.begin_read().map_err(storage_err)?;
        Ok(Reader::new(txn, self.tiles.clone()))
    }

    /// Start a write. With `durable` false the commit is not fsync'd (see [`Store::sync`]).
    pub fn writer(&self, durable: bool) -> Result<Writer> {
        let mut txn = self.db.begin_write().map_err(storage_err)?;
        if !durable {
            txn.set_durability(Durability::None).map_err(storage_err)?;
        }
        Ok(Writer {
            txn,
            leaves: Vec::new(),
            first_new_leaf: 0,
            nodes: Vec::new(),
            ids: Vec::new(),
            checkpoints: Vec::new(),
            postings: Vec::new(),
            terms_of: None,
            state: None,
            tiles: self.tiles.clone(),
            tail: self.tail.clone(),
            tail_after: None,
        })
    }

    /// Make every earlier non-durable commit durable (one fsync'd empty commit).
    pub fn sync(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(storage_err)?;
        txn.commit().map_err(storage_err)
    }
}

fn open_ro<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<ReadOnlyTable<K, V>> {
    txn.open_table(def).map_err(|e| match e {
        TableError::TableDoesNotExist(name) => Error::NotALedger(format!(
            "no table {name}: this redb file was not written by trailseal"
        )),
        TableError::TableTypeMismatch { .. } => {
            Error::NotALedger(format!("a table has unexpected types: {e}"))
        }
        other => storage_err(other),
    })
}

fn missing_leaf(index: u64) -> Error {
    Error::Tampered {
        location: format!("leaf {index}"),
        detail: "no stored leaf bytes".into(),
    }
}

/// The bundle holding leaf `index`, decompressed.
fn bundle_of(table: &impl ReadableTable<u64, &'static [u8]>, index: u64) -> Result<Unpacked> {
    let mut range = table.range(..=index).map_err(storage_err)?;
    let (start, bundle) = range
        .next_back()
        .ok_or_else(|| missing_leaf(index))?
        .map_err(storage_err)?;
    let (first, value) = (start.value(), bundle.value());
    // A compressed bundle is decompressed into `buf`, which is then the bundle; a plain one
    // is copied out of the table.
    let mut buf = Vec::new();
    let framed = if value.first() == Some(&BUNDLE_PLAIN) {
        unpack_bundle(first, value, &mut buf)?.to_vec()
    } else {
        unpack_bundle(first, value, &mut buf)?;
        buf
    };
    let count = bundle_leaves(&framed).count() as u64;
    Ok(Unpacked {
        first,
        end: first + count,
        framed,
    })
}

fn read_leaf(table: &impl ReadableTable<u64, &'static [u8]>, index: u64) -> Result<Vec<u8>> {
    bundle_of(table, index)?.leaf_bytes(index)
}

/// What reading nodes needs to know of the tree, to tell stored nodes from those of a partial
/// tile (never stored) and derive the latter.
#[derive(Clone, Copy, Debug)]
struct Edge {
    alg: HashAlg,
    size: u64,
}

/// Fetch node hashes: stored ones reading each tile once, those of partial tiles derived.
fn read_nodes(
    table: &impl ReadableTable<u64, &'static [u8]>,
    leaves: &impl ReadableTable<u64, &'static [u8]>,
    edge: Edge,
    ids: &[NodeId],
    shared: Option<&TileCache>,
) -> Result<Vec<Hash>> {
    let mut out = vec![[0u8; 32]; ids.len()];
    // Visit the ids tile by tile, so each tile is looked up once and only the hashes needed
    // are copied out of it (a proof needs one or two hashes of each 4 KiB tile it reads).
    let mut order: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .filter(|(_, &id)| is_stored(id, edge.size))
        .map(|(n, &id)| (tile_of(id).0, n))
        .collect();
    order.sort_unstable();
    let mut take = |bytes: &[u8], group: &[(u64, usize)]| -> Result<()> {
        for &(_, n) in group {
            let id = ids[n];
            let pos = tile_of(id).1;
            out[n] = bytes
                .get(pos * 32..pos * 32 + 32)
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or_else(|| Error::Tampered {
                    location: format!("node level {} index {}", id.level, id.index),
                    detail: "not stored".into(),
                })?;
        }
        Ok(())
    };
    for group in order.chunk_by(|a, b| a.0 == b.0) {
        let key = group[0].0;
        if let Some(tile) = shared.and_then(|c| c.get(key)) {
            take(&tile, group)?;
            continue;
        }
        let guard = table.get(key).map_err(storage_err)?;
        let bytes = guard.as_ref().map(|g| g.value()).unwrap_or_default();
        if let Some(c) = shared {
            c.offer(key, bytes);
        }
        take(bytes, group)?;
    }
    let mut derived = HashMap::new();
    for (n, &id) in ids.iter().enumerate() {
        if !is_stored(id, edge.size) {
            out[n] = match shared.and_then(|c| c.edge_node(id)) {
                Some(h) => h,
                None => derive_node(table, leaves, edge, id, &mut derived)?,
            };
        }
    }
    if let Some(c) = shared {
        if !derived.is_empty() {
            c.remember_edge(derived, edge.size);
        }
    }
    Ok(out)
}

/// The hash of `id`, from its tile if stored, else from its children (a leaf from its bytes).
/// Only nodes of partial tiles are derived, so the work is bounded by what those tiles cover:
/// under 127 leaves hashed and under 127 node hashes per level.
fn derive_node(
    table: &impl ReadableTable<u64, &'static [u8]>,
    leaves: &impl ReadableTable<u64, &'static [u8]>,
    edge: Edge,
    id: NodeId,
    memo: &mut HashMap<NodeId, Hash>,
) -> Result<Hash> {
    if is_stored(id, edge.size) {
        return Ok(read_nodes(table, leaves, edge, &[id], None)?[0]);
    }
    if let Some(h) = memo.get(&id) {
        return Ok(*h);
    }
    let h = match id.level {
        0 => {
            // The partial tile's leaves, hashed in one walk over their bundles (each
            // decompressed once) rather than a bundle read per leaf: its other nodes need
            // them too.
            let first = id.index / TILE_SPAN * TILE_SPAN;
            leaf_range(leaves, first, edge.size, |index, leaf| {
                memo.insert(NodeId { level: 0, index }, edge.alg.leaf_hash(leaf));
                Ok(())
            })?;
            *memo.get(&id).ok_or_else(|| missing_leaf(id.index))?
        }
        level => {
            let child = |index| NodeId {
                level: level - 1,
                index,
            };
            let left = derive_node(table, leaves, edge, child(2 * id.index), memo)?;
            let right = derive_node(table, leaves, edge, child(2 * id.index + 1), memo)?;
            edge.alg.node_hash(&left, &right)
        }
    };
    memo.insert(id, h);
    Ok(h)
}

/// A read snapshot. Tables are opened on first use: a proof needs two of the seven.
pub struct Reader {
    txn: ReadTransaction,
    meta: OnceLock<ReadOnlyTable<&'static str, &'static [u8]>>,
    leaves: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    nodes: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    ids: OnceLock<ReadOnlyTable<&'static str, u64>>,
    checkpoints: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    runs: OnceLock<ReadOnlyTable<u64, &'static [u8]>>,
    blocks: OnceLock<ReadOnlyTable<BlockKey, &'static [u8]>>,
    tiles: Arc<TileCache>,
    /// See [`Reader::tail_postings`].
    tail: OnceLock<Vec<Posting>>,
    edge: OnceLock<Edge>,
    /// The state record, read once per snapshot (proofs and the edge both need it).
    state: OnceLock<State>,
    /// The bundle [`Reader::leaf`] read last, decompressed: queries load their hits in leaf
    /// order, often several from one bundle.
    last_bundle: Mutex<Option<Unpacked>>,
}

/// A bundle's framed leaves, `first..end`.
struct Unpacked {
    first: u64,
    end: u64,
    framed: Vec<u8>,
}

impl Unpacked {
    fn leaf(&self, index: u64) -> Option<Result<&[u8]>> {
        let skip = index.checked_sub(self.first).filter(|_| index < self.end)?;
        bundle_leaves(&self.framed).nth(skip as usize)
    }

    fn leaf_bytes(&self, index: u64) -> Result<Vec<u8>> {
        let leaf = self.leaf(index).ok_or_else(|| missing_leaf(index))??;
        Ok(leaf.to_vec())
    }
}

/// Open `def` in `txn` once, into `cell`.
fn lazy<'c, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    cell: &'c OnceLock<ReadOnlyTable<K, V>>,
    def: TableDefinition<K, V>,
) -> Result<&'c ReadOnlyTable<K, V>> {
    if let Some(t) = cell.get() {
        return Ok(t);
    }
    let t = open_ro(txn, def)?;
    Ok(cell.get_or_init(|| t))
}

impl Reader {
    fn new(txn: ReadTransaction, tiles: Arc<TileCache>) -> Reader {
        Reader {
            txn,
            meta: OnceLock::new(),
            leaves: OnceLock::new(),
            nodes: OnceLock::new(),
            ids: OnceLock::new(),
            checkpoints: OnceLock::new(),
            runs: OnceLock::new(),
            blocks: OnceLock::new(),
            tiles,
            tail: OnceLock::new(),
            edge: OnceLock::new(),
            state: OnceLock::new(),
            last_bundle: Mutex::new(None),
        }
    }

    /// Open every table now: a file lacking one is refused at open, not at first use.
    fn open_all(&self) -> Result<()> {
        self.meta_t()?;
        self.leaves_t()?;
        self.nodes_t()?;
        self.ids_t()?;
        self.checkpoints_t()?;
        self.runs_t()?;
        self.blocks_t()?;
        Ok(())
    }

    fn meta_t(&self) -> Result<&ReadOnlyTable<&'static str, &'static [u8]>> {
        lazy(&self.txn, &self.meta, META)
    }
    fn leaves_t(&self) -> Result<&ReadOnlyTable<u64, &'static [u8]>> {
        lazy(&self.txn, &self.leaves, LEAVES)
    }
    fn nodes_t(&self) -> Result<&ReadOnlyTable<u64, &'static [u8]>> {
        lazy(&self.txn, &self.nodes, NODES)
    }
    fn ids_t(&self) -> Result<&ReadOnlyTable<&'static str, u64>> {
        lazy(&self.txn, &self.ids, IDS)
    }
    fn checkpoints_t(&self) -> Result<&ReadOnlyTable<u64, &'static [u8]>> {
        lazy(&self.txn, &self.checkpoints, CHECKPOINTS)
    }
    fn runs_t(&self) -> Result<&ReadOnlyTable<u64, &'static [u8]>> {
        lazy(&self.txn, &self.runs, RUNS)
    }
    fn blocks_t(&self) -> Result<&ReadOnlyTable<BlockKey, &'static [u8]>> {
        lazy(&self.txn, &self.blocks, BLOCKS)
    }

    fn record<T: for<'a> Deserialize<'a>>(&self, key: &str) -> Result<T> {
        let guard = self
            .meta_t()?
            .get(key)
            .map_err(storage_err)?
            .ok_or_else(|| Error::NotALedger(format!("no {key} record")))?;
        decode(key, guard.value())
    }

    /// The ledger's fixed parameters.
    pub fn meta(&self) -> Result<Meta> {
        let mut meta: Meta = self.record("meta")?;
        if let Some(v) = self.meta_t()?.get("verifier_key").map_err(storage_err)? {
            let key = std::str::from_utf8(v.value()).map_err(|_| Error::Tampered {
                location: "verifier key record".into(),
                detail: "not UTF-8".into(),
            })?;
            meta.verifier_key = Some(key.to_owned());
        }
        Ok(meta)
    }

    /// Size, root and last time at this snapshot.
    pub fn state(&self) -> Result<State> {
        if let Some(state) = self.state.get() {
            return Ok(*state);
        }
        let state: State = self.record("state").map_err(|e| Error::Tampered {
            location: "state record".into(),
            detail: e.to_string(),
        })?;
        Ok(*self.state.get_or_init(|| state))
    }

    /// The bytes of leaf `index`.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>> {
        let mut last = self.last_bundle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(leaf) = last.as_ref().and_then(|b| b.leaf(index)) {
            return Ok(leaf?.to_vec());
        }
        last.insert(bundle_of(self.leaves_t()?, index)?)
            .leaf_bytes(index)
    }

    /// Hashes of the given nodes (complete subtrees of this snapshot's tree), in order.
    pub fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        read_nodes(
            self.nodes_t()?,
            self.leaves_t()?,
            self.edge()?,
            ids,
            Some(&self.tiles),
        )
    }

    fn edge(&self) -> Result<Edge> {
        if let Some(e) = self.edge.get() {
            return Ok(*e);
        }
        let e = Edge {
            alg: self.meta()?.hash,
            size: self.state()?.size,
        };
        Ok(*self.edge.get_or_init(|| e))
    }

    /// The raw tile with key `key` (see [`tile_of`]), if stored.
    pub fn tile(&self, key: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .nodes_t()?
            .get(key)
            .map_err(storage_err)?
            .map(|g| g.value().to_vec()))
    }

    /// A piece of `term`'s posting list near `from`, ascending: forward, postings `>= from`;
    /// with `back`, postings `<= from`. Every posting of the term between the first and the
    /// last returned is in it (so a caller may answer later seeks inside that span from it);
    /// empty when there is none in that direction. `term` is a `query::Term::key`; entries
    /// whose term only shares its hash may be included (callers re-check entries).
    pub fn posting_chunk(&self, term: &[u8], from: u64, back: bool) -> Result<Vec<u64>> {
        let h = term_hash(term);
        // The run holding `from`, or the next one in the direction of travel.
        let mut run = match self
            .runs_t()?
            .range(..=from)
            .map_err(storage_err)?
            .next_back()
        {
            Some(item) => {
                let (k, v) = item.map_err(storage_err)?;
                let info = RunInfo::decode(k.value(), v.value())?;
                (back || info.end > from).then_some(info)
            }
            None => None,
        };
        if run.is_none() && !back {
            run = self.next_run(from)?;
        }
        while let Some(info) = run {
            let found = self.run_postings(&info, h, from, back)?;
            if !found.is_empty() {
                return Ok(found);
            }
            run = if back {
                self.prev_run(info.first)?
            } else {
                self.next_run(info.end.saturating_sub(1).max(info.first))?
            };
        }
        Ok(Vec::new())
    }

    /// The first run starting after leaf `after`.
    fn next_run(&self, after: u64) -> Result<Option<RunInfo>> {
        let Some(start) = after.checked_add(1) else {
            return Ok(None);
        };
        match self.runs_t()?.range(start..).map_err(storage_err)?.next() {
            Some(item) => {
                let (k, v) = item.map_err(storage_err)?;
                Ok(Some(RunInfo::decode(k.value(), v.value())?))
            }
            None => Ok(None),
        }
    }

    /// The last run starting before leaf `before`.
    fn prev_run(&self, before: u64) -> Result<Option<RunInfo>> {
        match self
            .runs_t()?
            .range(..before)
            .map_err(storage_err)?
            .next_back()
        {
            Some(item) => {
                let (k, v) = item.map_err(storage_err)?;
                Ok(Some(RunInfo::decode(k.value(), v.value())?))
            }
            None => Ok(None),
        }
    }

    /// Postings of hash `h` in one run, from one or two of its blocks (see `posting_chunk`).
    fn run_postings(&self, run: &RunInfo, h: u64, from: u64, back: bool) -> Result<Vec<u64>> {
        let id = run.id;
        let at = (id, h, from);
        let of = |k: (u64, u64, u64), v: &[u8]| -> Result<Vec<u64>> {
            let ps = decode_block((k.1, k.2), v).map_err(|e| run.damaged(&k, &e))?;
            Ok(ps
                .into_iter()
                .filter(|&(ph, i)| ph == h && if back { i <= from } else { i >= from })
                .map(|(_, i)| i)
                .collect())
        };
        // The block whose first posting is the last one <= (h, from) holds every posting of
        // h up to `from`, and, going forward, the first ones after it unless h continues in
        // the next block.
        if let Some(item) = self
            .blocks_t()?
            .range((id, 0, 0)..=at)
            .map_err(storage_err)?
            .next_back()
        {
            let (k, v) = item.map_err(storage_err)?;
            let found = of(k.value(), v.value())?;
            if back || !found.is_empty() {
                return Ok(found);
            }
        } else if back {
            return Ok(Vec::new());
        }
        match self
            .blocks_t()?
            .range(at..=(id, u64::MAX, u64::MAX))
            .map_err(storage_err)?
            .next()
        {
            Some(item) => {
                let (k, v) = item.map_err(storage_err)?;
                let k = k.value();
                if k.1 == h {
                    of(k, v.value())
                } else {
                    Ok(Vec::new())
                }
            }
            None => Ok(Vec::new()),
        }
    }

    /// Check the query indexes' structure: runs disjoint, ascending and inside `[0, size)`,
    /// every block of a listed run, decodable and in order, each posting inside its run's
    /// leaves, the counts as listed. Returns the number of postings. (Whether each posting
    /// belongs to its entry is a separate, slower check; see `Ledger::verify_with`.)
    ///
    /// With `dense` (an entries ledger: every entry has terms), the runs must also cover every
    /// leaf.
    pub fn check_postings(&self, size: u64, dense: bool) -> Result<u64> {
        let mut runs = Vec::new();
        let mut end = 0u64;
        for item in self.runs_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            let info = RunInfo::decode(k.value(), v.value())?;
            let gap = dense && info.first != end;
            if gap || info.first < end || info.end <= info.first || info.end > size {
                return Err(Error::Tampered {
                    location: format!("posting run {}", info.id),
                    detail: format!(
                        "covers leaves {}..{} (previous run ends at {end}, tree size {size})",
                        info.first, info.end
                    ),
                });
            }
            end = info.end;
            runs.push(info);
        }
        if dense && size - end >= INDEX_TAIL_LEAVES {
            return Err(unindexed_tail(end, size));
        }
        runs.sort_by_key(|r| r.id);
        let mut total = 0u64;
        let mut cur: Option<(usize, u64, Posting)> = None; // (run position, postings, last)
        let finish = |cur: &Option<(usize, u64, Posting)>, runs: &[RunInfo]| -> Result<()> {
            if let Some((pos, n, _)) = cur {
                let r = &runs[*pos];
                if *n != r.postings {
                    return Err(Error::Tampered {
                        location: format!("posting run {}", r.id),
                        detail: format!("holds {n} postings, listed as {}", r.postings),
                    });
                }
            }
            Ok(())
        };
        let mut seen = 0usize;
        for item in self.blocks_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            let key = k.value();
            let pos = match cur {
                Some((pos, _, _)) if runs[pos].id == key.0 => pos,
                _ => {
                    finish(&cur, &runs)?;
                    let pos = runs.binary_search_by_key(&key.0, |r| r.id).map_err(|_| {
                        Error::Tampered {
                            location: format!("posting block {key:?}"),
                            detail: "belongs to no listed run".into(),
                        }
                    })?;
                    seen += 1;
                    cur = Some((pos, 0, (0, 0)));
                    pos
                }
            };
            let run = &runs[pos];
            let ps = decode_block((key.1, key.2), v.value()).map_err(|e| run.damaged(&key, &e))?;
            let Some((_, n, last)) = cur.as_mut() else {
                continue;
            };
            if *n > 0 && ps[0] <= *last {
                return Err(run.damaged(&key, "out of order with the block before"));
            }
            if let Some(&(_, i)) = ps.iter().find(|(_, i)| *i < run.first || *i >= run.end) {
                return Err(run.damaged(&key, &format!("posting for leaf {i} outside the run")));
            }
            *n += ps.len() as u64;
            *last = ps[ps.len() - 1];
            total += ps.len() as u64;
        }
        finish(&cur, &runs)?;
        if seen != runs.len() {
            return Err(Error::Tampered {
                location: "posting runs".into(),
                detail: format!("{} runs listed, {seen} have blocks", runs.len()),
            });
        }
        Ok(total)
    }

    /// The leaf index carrying entry id `id`.
    pub fn id_index(&self, id: &str) -> Result<Option<u64>> {
        Ok(self
            .ids_t()?
            .get(id)
            .map_err(storage_err)?
            .map(|g| g.value()))
    }

    /// Every stored checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let mut out = Vec::new();
        for item in self.checkpoints_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            let cp = decode("checkpoint", v.value()).map_err(|e| Error::Tampered {
                location: format!("checkpoint {}", k.value()),
                detail: e.to_string(),
            })?;
            out.push(cp);
        }
        Ok(out)
    }

    /// Leaves `first..end` as `(index, bytes)`, in order.
    pub fn scan_leaf_range(
        &self,
        first: u64,
        end: u64,
        f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        leaf_range(self.leaves_t()?, first, end, f)
    }

    /// Leaves `first..end` in order, a stored bundle's worth at a time: `f` gets the index of
    /// the first leaf it is given and the leaves.
    pub fn scan_leaf_batches(
        &self,
        first: u64,
        end: u64,
        f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
    ) -> Result<()> {
        leaf_batches(self.leaves_t()?, first, end, f)
    }

    /// How many leaves the stored bundles hold (the last bundle's first index plus its
    /// leaves): the tree size in a sound file.
    pub fn stored_leaves(&self) -> Result<u64> {
        match self.leaves_t()?.last().map_err(storage_err)? {
            Some((k, v)) => {
                let mut n = 0u64;
                let mut buf = Vec::new();
                for leaf in bundle_leaves(unpack_bundle(k.value(), v.value(), &mut buf)?) {
                    leaf?;
                    n += 1;
                }
                Ok(k.value() + n)
            }
            None => Ok(0),
        }
    }

    /// Where the query indexes end: leaves from here on are the unindexed tail.
    pub fn indexed_end(&self) -> Result<u64> {
        runs_end(self.runs_t()?)
    }

    /// The postings of the unindexed tail of an entries ledger, `(term hash, index)` sorted,
    /// computed with `terms_of` once per reader; with where the tail starts.
    pub fn tail_postings(&self, terms_of: LeafTerms) -> Result<(u64, &[Posting])> {
        let first = self.indexed_end()?;
        if let Some(t) = self.tail.get() {
            return Ok((first, t));
        }
        let size = self.state()?.size;
        if size.saturating_sub(first) >= INDEX_TAIL_LEAVES {
            return Err(unindexed_tail(first, size));
        }
        let mut ps = Vec::new();
        index_leaves(self.leaves_t()?, first, size, terms_of, &mut ps)?;
        ps.sort_unstable();
        ps.dedup();
        Ok((first, self.tail.get_or_init(|| ps)))
    }

    /// The runs of the query indexes, in leaf order.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
        let mut out = Vec::new();
        for item in self.runs_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            out.push(RunInfo::decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The postings of `run` whose term hash is in `lo..=hi`, ascending.
    pub fn run_slice(
        &self,
        run: &RunInfo,
        lo: u64,
        hi: u64,
        mut f: impl FnMut(Posting) -> Result<()>,
    ) -> Result<()> {
        let id = run.id;
        // The block before (id, lo, 0) may hold postings of `lo` onwards.
        let start = match self
            .blocks_t()?
            .range((id, 0, 0)..=(id, lo, 0))
            .map_err(storage_err)?
            .next_back()
        {
            Some(item) => item.map_err(storage_err)?.0.value(),
            None => (id, lo, 0),
        };
        for item in self
            .blocks_t()?
            .range(start..=(id, hi, u64::MAX))
            .map_err(storage_err)?
        {
            let (k, v) = item.map_err(storage_err)?;
            let key = k.value();
            for p in decode_block((key.1, key.2), v.value()).map_err(|e| run.damaged(&key, &e))? {
                if p.0 > hi {
                    return Ok(());
                }
                if p.0 >= lo {
                    f(p)?;
                }
            }
        }
        Ok(())
    }

    /// Every tile of the node store as `(tier, tile index, bytes)`, in key order.
    pub fn scan_tiles(&self, mut f: impl FnMut(u8, u64, &[u8]) -> Result<()>) -> Result<()> {
        for item in self.nodes_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            let key = k.value();
            f((key >> 58) as u8, key & ((1 << 58) - 1), v.value())?;
        }
        Ok(())
    }

    /// How many ids the id index holds.
    pub fn id_count(&self) -> Result<u64> {
        self.ids_t()?.len().map_err(storage_err)
    }
}

/// One write transaction. Leaves and nodes are buffered and written tile by tile at commit.
pub struct Writer {
    txn: WriteTransaction,
    leaves: Vec<Vec<u8>>,
    first_new_leaf: u64,
    nodes: Vec<(NodeId, Hash)>,
    ids: Vec<(String, u64)>,
    checkpoints: Vec<StoredCheckpoint>,
    postings: Vec<Posting>,
    /// Set for an entries ledger: how to index the tail's leaves.
    terms_of: Option<LeafTerms>,
    state: Option<State>,
    /// The store's cache, told the new edge nodes once they are committed.
    tiles: Arc<TileCache>,
    tail: Arc<Mutex<TailPostings>>,
    /// What the tail cache holds once this commit is durable.
    tail_after: Option<TailPostings>,
}

/// A point in a [`Writer`]'s queue to roll back to (see [`Writer::mark`]).
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    leaves: usize,
    nodes: usize,
    ids: usize,
    postings: usize,
}

impl Writer {
    /// Remember how much is queued, so one request of a group commit can be undone alone.
    pub fn mark(&self) -> Mark {
        Mark {
            leaves: self.leaves.len(),
            nodes: self.nodes.len(),
            ids: self.ids.len(),
            postings: self.postings.len(),
        }
    }

    /// Drop everything queued since `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.leaves.truncate(mark.leaves);
        self.nodes.truncate(mark.nodes);
        self.ids.truncate(mark.ids);
        self.postings.truncate(mark.postings);
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty() && self.checkpoints.is_empty()
    }

    /// Queue leaf `index` (leaves must be queued in order, starting at the current size).
    pub fn push_leaf(&mut self, index: u64, bytes: Vec<u8>) {
        if self.leaves.is_empty() {
            self.first_new_leaf = index;
        }
        self.leaves.push(bytes);
    }

    /// Queue a newly complete node.
    pub fn push_node(&mut self, id: NodeId, hash: Hash) {
        self.nodes.push((id, hash));
    }

    /// Keep the query indexes (an entries ledger): postings are written when the unindexed
    /// tail reaches [`INDEX_TAIL_LEAVES`], the tail's own read back and indexed with `f`.
    pub fn index_with(&mut self, f: LeafTerms) {
        self.terms_of = Some(f);
    }

    /// Add leaf `index` (one of the leaves queued in this writer) to the posting lists of
    /// the terms with these hashes (`postings::term_hash`; repeats are fine).
    pub fn put_postings(&mut self, term_hashes: &[u64], index: u64) {
        self.postings
            .extend(term_hashes.iter().map(|&h| (h, index)));
    }

    /// Record that entry `id` is at `index`.
    pub fn put_id(&mut self, id: &str, index: u64) {
        self.ids.push((id.to_owned(), index));
    }

    /// Keep a signed checkpoint.
    pub fn put_checkpoint(&mut self, cp: StoredCheckpoint) {
        self.checkpoints.push(cp);
    }

    /// Set the state written at commit.
    pub fn set_state(&mut self, state: State) {
        self.state = Some(state);
    }

    /// The committed leaf index carrying entry id `id`.
    pub fn id_index(&self, id: &str) -> Result<Option<u64>> {
        let t = self.txn.open_table(IDS).map_err(storage_err)?;
        let found = t.get(id).map_err(storage_err)?.map(|g| g.value());
        Ok(found)
    }

    /// The committed bytes of leaf `index`.
    pub fn leaf(&self, index: u64) -> Result<Vec<u8>> {
        let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
        read_leaf(&t, index)
    }

    /// Committed node hashes (complete subtrees of the committed tree).
    pub fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        let edge = self.committed_edge()?;
        let t = self.txn.open_table(NODES).map_err(storage_err)?;
        let leaves = self.txn.open_table(LEAVES).map_err(storage_err)?;
        read_nodes(&t, &leaves, edge, ids, None)
    }

    /// The hash and size of the tree as last committed.
    fn committed_edge(&self) -> Result<Edge> {
        let t = self.txn.open_table(META).map_err(storage_err)?;
        let record = |key: &str| -> Result<Vec<u8>> {
            Ok(t.get(key)
                .map_err(storage_err)?
                .ok_or_else(|| Error::NotALedger(format!("no {key} record")))?
                .value()
                .to_vec())
        };
        let meta: Meta = decode("meta", &record("meta")?)?;
        let state: State = decode("state", &record("state")?)?;
        Ok(Edge {
            alg: meta.hash,
            size: state.size,
        })
    }

    /// Write this commit's leaves into bundles: the open last bundle continued while it has
    /// room, closed ones stored compressed (including the previously open one, if this commit
    /// closes it), the one left open stored plain.
    fn flush_leaves(&mut self) -> Result<()> {
        if self.leaves.is_empty() {
            return Ok(());
        }
        let mut table = self.txn.open_table(LEAVES).map_err(storage_err)?;
        // A small commit rewrites the open bundle whole; keeping the bundles such commits
        // fill to one page makes that a 4 KiB write instead of up to 32 KiB. A larger one
        // closes bundles at what will compress to two pages (see `PACKED_BUNDLE_BYTES`).
        let small = self.leaves.len() < SMALL_COMMIT_LEAVES;
        let close_at = |ratio: f64| {
            if small {
                SMALL_BUNDLE_CLOSE_BYTES
            } else {
                ((PACKED_BUNDLE_BYTES as f64 * ratio * 0.95) as usize)
                    .clamp(SMALL_BUNDLE_CLOSE_BYTES, BUNDLE_CLOSE_BYTES)
            }
        };
        // The open last bundle (stored plain), and how well the one before it compressed.
        let (open, ratio) = {
            let mut newest = table.range::<u64>(..).map_err(storage_err)?.rev();
            let open = match newest.next().transpose().map_err(storage_err)? {
                Some((k, v)) => match v.value().split_first() {
                    Some((&BUNDLE_PLAIN, framed)) => Some((k.value(), framed.to_vec())),
                    // Compressed already: closed.
                    _ => None,
                },
                None => None,
            };
            let before = newest.next().transpose().map_err(storage_err)?;
            (open, before.map_or(1.0, |(_, v)| stored_ratio(v.value())))
        };
        let mut close = close_at(ratio);
        let (mut start, mut bundle) = open.unwrap_or((self.first_new_leaf, Vec::new()));
        let mut count = bundle_leaves(&bundle).count();
        for (index, leaf) in (self.first_new_leaf..).zip(&self.leaves) {
            let full = count >= BUNDLE_MAX_LEAVES
                || (count > 0 && 1 + bundle.len() + 4 + leaf.len() > close);
            if full {
                // Compressing here costs a batch about what the smaller write-out saves; on a
                // thread of its own, beside the tile and index writes, it measured slower (the
                // ledger computes the receipts' roots on the other core meanwhile).
                let stored = stored_closed(&bundle);
                table
                    .insert(start, stored.as_slice())
                    .map_err(storage_err)?;
                close = close_at(bundle.len() as f64 / stored.len() as f64);
                start = index;
                bundle.clear();
                count = 0;
            }
            push_framed(&mut bundle, leaf);
            count += 1;
        }
        table
            .insert(start, stored_plain(&bundle).as_slice())
            .map_err(storage_err)?;
        Ok(())
    }

    /// Unless the unindexed tail stays short (see the module docs), write the postings of the
    /// tail and of this commit as a new run, then merge runs while the last [`MERGE_WIDTH`]
    /// have the same level.
    fn flush_postings(&mut self) -> Result<()> {
        let mut ps = std::mem::take(&mut self.postings);
        let Some(terms_of) = self.terms_of else {
            return Ok(());
        };
        if self.leaves.is_empty() {
            return Ok(());
        }
        let end = self.first_new_leaf + self.leaves.len() as u64;
        let mut runs = self.txn.open_table(RUNS).map_err(storage_err)?;
        let first = runs_end(&runs)?;
        let cached = {
            let t = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            (t.first == first && t.end == self.first_new_leaf).then(|| t.postings.clone())
        };
        if end.saturating_sub(first) < INDEX_TAIL_LEAVES {
            // Without a usable cache, start caching from this commit's leaves.
            let (first_cached, mut postings) = match cached {
                Some(c) => (first, c),
                None => (self.first_new_leaf, Vec::new()),
            };
            postings.extend(ps);
            self.tail_after = Some(TailPostings {
                first: first_cached,
                end,
                postings,
            });
            return Ok(());
        }
        self.tail_after = Some(TailPostings {
            first: end,
            end,
            postings: Vec::new(),
        });
        if first < self.first_new_leaf {
            match cached {
                Some(c) => ps.extend(c),
                None => {
                    let leaves = self.txn.open_table(LEAVES).map_err(storage_err)?;
                    index_leaves(&leaves, first, self.first_new_leaf, terms_of, &mut ps)?;
                }
            }
        }
        ps.sort_unstable();
        ps.dedup();
        if let Some(&(_, i)) = ps.iter().find(|(_, i)| *i < first || *i >= end) {
            return Err(Error::Internal(format!(
                "posting for leaf {i} outside the leaves to index {first}..{end}"
            )));
        }
        let mut blocks = self.txn.open_table(BLOCKS).map_err(storage_err)?;
        if ps.len() < SMALL_RUN {
            let last = match runs.last().map_err(storage_err)? {
                Some((k, v)) => Some(RunInfo::decode(k.value(), v.value())?),
                None => None,
            };
            if let Some(last) = last.filter(|r| {
                r.level == 0 && r.end == first && r.postings + ps.len() as u64 <= SMALL_RUN as u64
            }) {
                return extend_run(&mut runs, &mut blocks, last, ps, end);
            }
        }
        let id = next_run_id(&blocks)?;
        let count = ps.len() as u64;
        write_run(&mut blocks, id, ps.into_iter().map(Ok))?;
        let info = RunInfo {
            first,
            id,
            level: 0,
            end,
            postings: count,
        };
        runs.insert(first, info.encode()?.as_slice())
            .map_err(storage_err)?;
        loop {
            let mut tail = Vec::with_capacity(MERGE_WIDTH);
            for item in runs.iter().map_err(storage_err)?.rev().take(MERGE_WIDTH) {
                let (k, v) = item.map_err(storage_err)?;
                tail.push(RunInfo::decode(k.value(), v.value())?);
            }
            if tail.len() < MERGE_WIDTH || tail.iter().any(|r| r.level != tail[0].level) {
                return Ok(());
            }
            // A merge runs inside this commit: past the cap, runs stay as they are, so no
            // append ever waits for more than one bounded merge.
            let merged: u64 = tail.iter().map(|r| r.postings).sum();
            if merged > MAX_MERGED_POSTINGS.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(());
            }
            tail.reverse();
            merge_runs(&mut runs, &mut blocks, &tail)?;
        }
    }

    /// Write the tiles this commit completes. Their nodes from earlier commits (a partial
    /// tile is never stored) are derived: a tier-0 tile's bottom level from the leaves, a
    /// higher tile's from the complete tiles below it (stored by now: tiers are written in
    /// order), and the levels above from the level below.
    fn flush_nodes(&mut self) -> Result<()> {
        let end = self.first_new_leaf + self.leaves.len() as u64;
        // This commit's nodes of the tiles it completes, by tile and position.
        let mut new: Vec<(u64, usize, Hash)> = self
            .nodes
            .iter()
            .filter(|(id, _)| is_stored(*id, end))
            .map(|&(id, h)| {
                let (key, pos) = tile_of(id);
                (key, pos, h)
            })
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        new.sort_unstable_by_key(|&(key, pos, _)| (key, pos));
        let alg = self.committed_edge()?.alg;
        let edge = Edge { alg, size: end };
        let mut table = self.txn.open_table(NODES).map_err(storage_err)?;
        let leaves = self.txn.open_table(LEAVES).map_err(storage_err)?;
        for group in new.chunk_by(|a, b| a.0 == b.0) {
            let key = group[0].0;
            let (tier, tile) = ((key >> 58) as u8, key & ((1 << 58) - 1));
            let bottom = tier * TILE_HEIGHT;
            let first = tile * TILE_SPAN;
            let mut slots = [None; TILE_HASHES];
            for &(_, pos, h) in group {
                slots[pos] = Some(h);
            }
            let mut hashes: Vec<Hash> = Vec::with_capacity(TILE_HASHES);
            // This commit added the bottom level's last nodes; the ones before are older.
            let older = slots[..TILE_SPAN as usize]
                .iter()
                .take_while(|s| s.is_none())
                .count() as u64;
            if older > 0 && tier == 0 {
                leaf_range(&leaves, first, first + older, |_, leaf| {
                    hashes.push(alg.leaf_hash(leaf));
                    Ok(())
                })?;
            } else if older > 0 {
                let below: Vec<NodeId> = (2 * first..2 * (first + older))
                    .map(|index| NodeId {
                        level: bottom - 1,
                        index,
                    })
                    .collect();
                let children = read_nodes(&table, &leaves, edge, &below, None)?;
                hashes.extend(
                    children
                        .chunks_exact(2)
                        .map(|c| alg.node_hash(&c[0], &c[1])),
                );
            }
            for (pos, slot) in slots
                .iter()
                .enumerate()
                .take(TILE_SPAN as usize)
                .skip(older as usize)
            {
                hashes.push(slot.ok_or_else(|| {
                    Error::Internal(format!("completing tile {key:#x}: position {pos} missing"))
                })?);
            }
            // The levels above: this commit's nodes, or (under older nodes) their children's.
            let mut start = 0;
            for k in 1..TILE_HEIGHT {
                let width = (TILE_SPAN >> k) as usize;
                for q in 0..width {
                    let h = match slots[start + 2 * width + q] {
                        Some(h) => h,
                        None => alg.node_hash(&hashes[start + 2 * q], &hashes[start + 2 * q + 1]),
                    };
                    hashes.push(h);
                }
                start += 2 * width;
            }
            table
                .insert(key, hashes.concat().as_slice())
                .map_err(storage_err)?;
        }
        Ok(())
    }

    /// Write everything queued and commit.
    pub fn commit(mut self) -> Result<()> {
        self.flush_leaves()?;
        self.flush_nodes()?;
        self.flush_postings()?;
        {
            let mut t = self.txn.open_table(IDS).map_err(storage_err)?;
            for (id, index) in &self.ids {
                t.insert(id.as_str(), *index).map_err(storage_err)?;
            }
        }
        if !self.checkpoints.is_empty() {
            let mut t = self.txn.open_table(CHECKPOINTS).map_err(storage_err)?;
            let next = t
                .last()
                .map_err(storage_err)?
                .map(|(k, _)| k.value() + 1)
                .unwrap_or(0);
            for (seq, cp) in (next..).zip(&self.checkpoints) {
                t.insert(seq, encode(cp)?.as_slice()).map_err(storage_err)?;
            }
        }
        if let Some(state) = &self.state {
            let mut t = self.txn.open_table(META).map_err(storage_err)?;
            t.insert("state", encode(state)?.as_slice())
                .map_err(storage_err)?;
        }
        let nodes = std::mem::take(&mut self.nodes);
        let end = self.first_new_leaf + self.leaves.len() as u64;
        let tiles = self.tiles.clone();
        let (tail, tail_after) = (self.tail.clone(), self.tail_after.take());
        self.txn.commit().map_err(storage_err)?;
        if let Some(t) = tail_after {
            *tail.lock().unwrap_or_else(|p| p.into_inner()) = t;
        }
        tiles.remember_edge(
            nodes.into_iter().filter(|(id, _)| !is_stored(*id, end)),
            end,
        );
        Ok(())
    }
}

/// One run of the query indexes: the postings of leaves `first..end`, stored as blocks keyed
/// `(id, hash, index)` (see [`crate::postings`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's first leaf (its key in the run table, not stored in the value).
    #[serde(skip)]
    pub first: u64,
    /// Block key prefix; a merged run gets a new id, above every earlier one.
    pub id: u64,
    /// 0 for a commit's own run; a merge of [`MERGE_WIDTH`] runs of level `l` has `l + 1`.
    pub level: u8,
    /// One past the run's last leaf.
    pub end: u64,
    /// How many postings its blocks hold.
    pub postings: u64,
}

impl RunInfo {
    fn decode(first: u64, bytes: &[u8]) -> Result<RunInfo> {
        let mut info: RunInfo = postcard::from_bytes(bytes).map_err(|e| Error::Tampered {
            location: format!("posting run at leaf {first}"),
            detail: format!("unreadable run record: {e}"),
        })?;
        info.first = first;
        Ok(info)
    }

    fn encode(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    fn damaged(&self, key: &(u64, u64, u64), detail: &str) -> Error {
        Error::Tampered {
            location: format!("posting run {} block {:x}:{}", self.id, key.1, key.2),
            detail: detail.to_owned(),
        }
    }
}

type BlockTable<'t> = redb::Table<'t, BlockKey, &'static [u8]>;

fn next_run_id(blocks: &BlockTable<'_>) -> Result<u64> {
    Ok(match blocks.last().map_err(storage_err)? {
        Some((k, _)) => k.value().0 + 1,
        None => 0,
    })
}

/// Write ascending postings as the blocks of run `id`.
fn write_run(
    blocks: &mut BlockTable<'_>,
    id: u64,
    postings: impl Iterator<Item = Result<Posting>>,
) -> Result<()> {
    let mut b = BlockBuilder::default();
    for p in postings {
        b.push(p?);
        if b.is_full() {
            put_block(blocks, id, &mut b)?;
        }
    }
    put_block(blocks, id, &mut b)
}

/// Store the block `b` holds (if any) as a block of run `id`.
/// Where the query indexes' runs end (the first leaf of the unindexed tail).
fn runs_end(runs: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    match runs.last().map_err(storage_err)? {
        Some((k, v)) => Ok(RunInfo::decode(k.value(), v.value())?.end),
        None => Ok(0),
    }
}

/// A tail longer than any writer leaves: the index runs were cut short.
fn unindexed_tail(first: u64, size: u64) -> Error {
    Error::Tampered {
        location: "posting runs".into(),
        detail: format!(
            "cover leaves up to {first}, tree size {size}: at most {} leaves are left unindexed",
            INDEX_TAIL_LEAVES - 1
        ),
    }
}

/// Append the postings of stored leaves `first..end` to `out` (unsorted).
fn index_leaves<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    first: u64,
    end: u64,
    terms_of: LeafTerms,
    out: &mut Vec<Posting>,
) -> Result<()> {
    let (mut buf, mut hashes) = (Vec::new(), Vec::new());
    leaf_range(table, first, end, |index, leaf| {
        hashes.clear();
        terms_of(index, leaf, &mut buf, &mut hashes)?;
        out.extend(hashes.iter().map(|&h| (h, index)));
        Ok(())
    })
}

/// Leaves `first..end` of a leaf table as `(index, bytes)`, in order.
fn leaf_range<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    first: u64,
    end: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    leaf_batches(table, first, end, |at, leaves| {
        leaves
            .iter()
            .enumerate()
            .try_for_each(|(i, leaf)| f(at + i as u64, leaf))
    })
}

/// Leaves `first..end` of a leaf table, a bundle's worth at a time (see [`walk_bundles`]).
fn leaf_batches<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    first: u64,
    end: u64,
    f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
) -> Result<()> {
    let start = match table.range(..=first).map_err(storage_err)?.next_back() {
        Some(item) => item.map_err(storage_err)?.0.value(),
        None => 0,
    };
    let next = walk_bundles(table, start, first, end, f)?;
    if next < end {
        return Err(Error::Tampered {
            location: format!("leaf {next}"),
            detail: format!("missing: leaves up to {end} were expected"),
        });
    }
    Ok(())
}

/// Walk the bundles from the one keyed `start`, checking they are contiguous, and call `f`
/// with the leaves of each bundle that fall in `first..end` and the index of the first of
/// them. Returns the index after the last leaf walked.
fn walk_bundles<T: ReadableTable<u64, &'static [u8]>>(
    table: &T,
    start: u64,
    first: u64,
    end: u64,
    mut f: impl FnMut(u64, &[&[u8]]) -> Result<()>,
) -> Result<u64> {
    let mut next = start;
    let mut buf = Vec::new();
    for item in table.range(start..).map_err(storage_err)? {
        let (key, bundle) = item.map_err(storage_err)?;
        if key.value() != next {
            return Err(Error::Tampered {
                location: format!("leaf {next}"),
                detail: format!("leaf bundles jump from {next} to {}", key.value()),
            });
        }
        let at = next.max(first);
        let mut leaves = Vec::with_capacity(BUNDLE_MAX_LEAVES);
        let mut ended = false;
        for leaf in bundle_leaves(unpack_bundle(next, bundle.value(), &mut buf)?) {
            let leaf = leaf?;
            if next >= end {
                ended = true;
                break;
            }
            if next >= first {
                leaves.push(leaf);
            }
            next += 1;
        }
        if !leaves.is_empty() {
            f(at, &leaves)?;
        }
        if ended {
            return Ok(next);
        }
    }
    Ok(next)
}

fn put_block(blocks: &mut BlockTable<'_>, id: u64, b: &mut BlockBuilder) -> Result<()> {
    if let Some((first, value, _)) = b.take() {
        blocks
            .insert((id, first.0, first.1), value.as_slice())
            .map_err(storage_err)?;
    }
    Ok(())
}

/// A commit with fewer postings than this joins the last run when that is a level-0 run of
/// at most this many (one or two blocks): single appends would otherwise each make a run of
/// a few postings, and every eighth commit a merge. Rewriting a small run is about the cost
/// of rewriting the partial leaf bundle, which such a commit does anyway.
const SMALL_RUN: usize = 512;

/// Rewrite the small level-0 run `last` with `postings` (of the leaves right after it) added.
fn extend_run(
    runs: &mut redb::Table<'_, u64, &'static [u8]>,
    blocks: &mut BlockTable<'_>,
    last: RunInfo,
    postings: Vec<Posting>,
    end: u64,
) -> Result<()> {
    let id = last.id;
    let mut all = Vec::with_capacity(last.postings as usize + postings.len());
    for item in blocks
        .range((id, 0, 0)..=(id, u64::MAX, u64::MAX))
        .map_err(storage_err)?
    {
        let (k, v) = item.map_err(storage_err)?;
        let k = k.value();
        all.extend(decode_block((k.1, k.2), v.value()).map_err(|e| last.damaged(&k, &e))?);
    }
    all.extend(postings);
    all.sort_unstable();
    all.dedup();
    blocks
        .retain_in((id, 0, 0)..=(id, u64::MAX, u64::MAX), |_, _| false)
        .map_err(storage_err)?;
    let count = all.len() as u64;
    write_run(blocks, id, all.into_iter().map(Ok))?;
    let info = RunInfo {
        end,
        postings: count,
        ..last
    };
    runs.insert(info.first, info.encode()?.as_slice())
        .map_err(storage_err)?;
    Ok(())
}

/// The most postings one merge may write: about half a second of merging on this project's
/// machine (~130 ns a posting). With 1,000-entry commits the runs then stop growing at about
/// 512,000 entries each (3.3 million postings): a query seeks once per run, about 20 runs at
/// 10 million entries, instead of one append in every few million pausing for a merge of
/// everything before it (some 25 s at 32 million entries). A `static` only so that a test can
/// lower it; not part of the API.
#[doc(hidden)]
pub static MAX_MERGED_POSTINGS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(4 << 20);

/// Reads one run's postings block by block from a table that is being written to.
struct RunReader {
    info: RunInfo,
    buf: Vec<Posting>,
    pos: usize,
    last_key: Option<(u64, u64, u64)>,
}

impl RunReader {
    fn peek(&mut self, blocks: &BlockTable<'_>) -> Result<Option<Posting>> {
        if self.pos == self.buf.len() {
            let id = self.info.id;
            let lo = match self.last_key {
                Some(k) => std::ops::Bound::Excluded(k),
                None => std::ops::Bound::Included((id, 0, 0)),
            };
            let hi = std::ops::Bound::Included((id, u64::MAX, u64::MAX));
            let next = match blocks.range((lo, hi)).map_err(storage_err)?.next() {
                Some(item) => {
                    let (k, v) = item.map_err(storage_err)?;
                    let k = k.value();
                    let ps = decode_block((k.1, k.2), v.value())
                        .map_err(|e| self.info.damaged(&k, &e))?;
                    Some((k, ps))
                }
                None => None,
            };
            match next {
                Some((k, ps)) => {
                    self.last_key = Some(k);
                    self.buf = ps;
                    self.pos = 0;
                }
                None => return Ok(None),
            }
        }
        Ok(Some(self.buf[self.pos]))
    }
}

/// Merge consecutive runs (in leaf order) into one run of the next level.
fn merge_runs(
    runs: &mut redb::Table<'_, u64, &'static [u8]>,
    blocks: &mut BlockTable<'_>,
    tail: &[RunInfo],
) -> Result<()> {
    let id = next_run_id(blocks)?;
    let mut readers: Vec<RunReader> = tail
        .iter()
        .map(|info| RunReader {
            info: info.clone(),
            buf: Vec::new(),
            pos: 0,
            last_key: None,
        })
        .collect();
    let mut out = BlockBuilder::default();
    let mut count = 0u64;
    let mut last: Option<Posting> = None;
    let mut heads = Vec::with_capacity(readers.len());
    for r in readers.iter_mut() {
        heads.push(r.peek(blocks)?);
    }
    loop {
        // Runs are few (MERGE_WIDTH): a linear scan for the smallest head is enough.
        let mut best: Option<(usize, Posting)> = None;
        for (n, head) in heads.iter().enumerate() {
            if let Some(p) = *head {
                if best.is_none_or(|(_, b)| p < b) {
                    best = Some((n, p));
                }
            }
        }
        let Some((n, p)) = best else { break };
        readers[n].pos += 1;
        heads[n] = readers[n].peek(blocks)?;
        if last.is_some_and(|l| p <= l) {
            return Err(readers[n].info.damaged(
                &readers[n].last_key.unwrap_or_default(),
                "postings out of order",
            ));
        }
        last = Some(p);
        out.push(p);
        count += 1;
        if out.is_full() {
            put_block(blocks, id, &mut out)?;
        }
    }
    put_block(blocks, id, &mut out)?;
    for r in tail {
        blocks
            .retain_in((r.id, 0, 0)..=(r.id, u64::MAX, u64::MAX), |_, _| false)
            .map_err(storage_err)?;
        runs.remove(r.first).map_err(storage_err)?;
    }
    let merged = RunInfo {
        first: tail[0].first,
        id,
        level: tail[0].level.saturating_add(1),
        end: tail[tail.len() - 1].end,
        postings: count,
    };
    runs.insert(merged.first, merged.encode()?.as_slice())
        .map_err(storage_err)?;
    Ok(())
}

/// Raw access for tests that tamper with a ledger file behind the library's back.
///
/// Not part of the stable API: it exists so the test suite can prove `verify` catches edits.
#[doc(hidden)]
pub mod tamper {
    use super::*;

    /// Open the file directly and let `f` edit the raw tables in one committed transaction.
    pub fn edit(path: &Path, f: impl FnOnce(&mut Tables<'_>) -> Result<()>) -> Result<()> {
        let db = open_db(path, false, None)?;
        let txn = db.begin_write().map_err(storage_err)?;
        {
            let mut tables = Tables { txn: &txn };
            f(&mut tables)?;
        }
        txn.commit().map_err(storage_err)
    }

    /// The runs of a ledger's query indexes, in leaf order, read straight from the file.
    pub fn runs(path: &Path) -> Result<Vec<RunInfo>> {
        let db = open_db(path, false, None)?;
        let txn = db.begin_read().map_err(storage_err)?;
        Reader::new(txn, Arc::default()).runs()
    }

    /// Raw tables of a ledger.
    pub struct Tables<'a> {
        txn: &'a WriteTransaction,
    }

    impl Tables<'_> {
        /// Replace the bytes of one leaf inside its bundle.
        pub fn set_leaf(&mut self, index: u64, bytes: &[u8]) -> Result<()> {
            let (start, old) = self.stored_bundle(index)?;
            let mut buf = Vec::new();
            let mut new = Vec::new();
            for (i, leaf) in bundle_leaves(unpack_bundle(start, &old, &mut buf)?).enumerate() {
                let leaf = if start + i as u64 == index {
                    bytes
                } else {
                    leaf?
                };
                push_framed(&mut new, leaf);
            }
            // Keep the bundle's stored form, so the edit is all that changes.
            let new = match old.first() {
                Some(&BUNDLE_LZ4) => stored_closed(&new),
                _ => stored_plain(&new),
            };
            self.put_stored_bundle(start, &new)
        }

        /// The first leaf and stored bytes (tag byte first) of the bundle holding leaf `index`.
        pub fn stored_bundle(&self, index: u64) -> Result<(u64, Vec<u8>)> {
            let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
            let mut r = t.range(..=index).map_err(storage_err)?;
            let (k, v) = r
                .next_back()
                .ok_or_else(|| Error::OutOfRange(index.to_string()))?
                .map_err(storage_err)?;
            Ok((k.value(), v.value().to_vec()))
        }

        /// File id `id` under `index` in the id index, or (with `None`) remove it.
        pub fn set_id(&mut self, id: &str, index: Option<u64>) -> Result<()> {
            let mut t = self.txn.open_table(IDS).map_err(storage_err)?;
            match index {
                Some(i) => t.insert(id, i).map(drop),
                None => t.remove(id).map(drop),
            }
            .map_err(storage_err)
        }

        /// Every stored bundle in order: its first leaf, stored length and tag byte.
        pub fn stored_bundles(&self) -> Result<Vec<(u64, usize, u8)>> {
            let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
            let mut out = Vec::new();
            for item in t.iter().map_err(storage_err)? {
                let (k, v) = item.map_err(storage_err)?;
                out.push((
                    k.value(),
                    v.value().len(),
                    v.value().first().copied().unwrap_or(0),
                ));
            }
            Ok(out)
        }

        /// Store `bytes` as the bundle starting at leaf `start`, as they are.
        pub fn put_stored_bundle(&mut self, start: u64, bytes: &[u8]) -> Result<()> {
            let mut t = self.txn.open_table(LEAVES).map_err(storage_err)?;
            t.insert(start, bytes).map_err(storage_err)?;
            Ok(())
        }

        /// Overwrite one stored node hash.
        pub fn set_node(&mut self, id: NodeId, hash: Hash) -> Result<()> {
            let mut t = self.txn.open_table(NODES).map_err(storage_err)?;
            let (key, pos) = tile_of(id);
            let mut tile = t
                .get(key)
                .map_err(storage_err)?
                .map(|g| g.value().to_vec())
                .unwrap_or_default();
            tile.get_mut(pos * 32..pos * 32 + 32)
                .ok_or_else(|| Error::OutOfRange(format!("{id:?}")))?
                .copy_from_slice(&hash);
            t.insert(key, tile.as_slice()).map_err(storage_err)?;
            Ok(())
        }

        /// Replace the note of stored checkpoint number `seq`.
        pub fn set_checkpoint_note(&mut self, seq: u64, note: &str) -> Result<()> {
            let mut t = self.txn.open_table(CHECKPOINTS).map_err(storage_err)?;
            let mut cp: StoredCheckpoint = {
                let g = t
                    .get(seq)
                    .map_err(storage_err)?
                    .ok_or_else(|| Error::OutOfRange(seq.to_string()))?;
                decode("checkpoint", g.value())?
            };
            cp.note = note.to_owned();
            t.insert(seq, encode(&cp)?.as_slice())
                .map_err(storage_err)?;
            Ok(())
        }

        /// Overwrite the state record.
        pub fn set_state(&mut self, state: &State) -> Result<()> {
            let mut t = self.txn.open_table(META).map_err(storage_err)?;
            t.insert("state", encode(state)?.as_slice())
                .map_err(storage_err)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_framing_round_trips() {
        let mut b = Vec::new();
        push_framed(&mut b, b"one");
        push_framed(&mut b, b"");
        push_framed(&mut b, b"three");
        let got: Vec<&[u8]> = bundle_leaves(&b).map(|r| r.unwrap()).collect();
        assert_eq!(got, vec![&b"one"[..], b"", b"three"]);
        b.pop();
        assert!(bundle_leaves(&b).any(|r| r.is_err()));
    }

    fn framed<L: AsRef<[u8]>>(leaves: &[L]) -> Vec<u8> {
        let mut b = Vec::new();
        for leaf in leaves {
            push_framed(&mut b, leaf.as_ref());
        }
        b
    }

    #[test]
    fn closed_bundles_are_compressed_when_that_is_smaller() {
        let entry = br#"{"actor":{"id":"alice@example.com","role":"release"},"action":"deploy"}"#;
        let b = framed(&[entry; 40]);
        let stored = stored_closed(&b);
        assert_eq!(stored[0], BUNDLE_LZ4);
        assert!(
            stored.len() * 4 < b.len(),
            "{} of {}",
            stored.len(),
            b.len()
        );
        let mut buf = vec![9u8; 3];
        assert_eq!(unpack_bundle(0, &stored, &mut buf).unwrap(), b.as_slice());
        // Bytes that do not compress are stored plain, one tag byte longer.
        let mut noise = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..512 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        let b = framed(&[&noise]);
        let stored = stored_closed(&b);
        assert_eq!((stored[0], stored.len()), (BUNDLE_PLAIN, b.len() + 1));
        assert_eq!(unpack_bundle(0, &stored, &mut buf).unwrap(), b.as_slice());
        assert_eq!(
            unpack_bundle(0, &stored_plain(&b), &mut buf).unwrap(),
            b.as_slice()
        );
    }

    #[test]
    fn damaged_stored_bundles_are_tampered_not_panics() {
        let b = framed(&[b"{\"action\":\"deploy\"}"; 30]);
        let good = stored_closed(&b);
        assert_eq!(good[0], BUNDLE_LZ4);
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut short = good.clone();
        short[1..5].copy_from_slice(&((b.len() - 1) as u32).to_le_bytes());
        let cut = good[..good.len() - 3].to_vec();
        let mut unknown = good.clone();
        unknown[0] = 7;
        let cases: [(&[u8], &str); 6] = [
            (&huge, "claims 4294967295 bytes"),
            (&short, "not decompress"),
            (&cut, "not decompress"),
            (&unknown, "unknown encoding (7)"),
            (&[], "is empty"),
            (&[BUNDLE_LZ4, 1], "unknown encoding (1)"),
        ];
        let mut buf = Vec::new();
        for (value, want) in cases {
            let err = unpack_bundle(64, value, &mut buf).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Tampered, "{err}");
            assert!(err.to_string().contains("leaf 64"), "{err}");
            assert!(err.to_string().contains(want), "{want}: {err}");
        }
        // Every single-byte change either fails cleanly or decodes to some bytes (which the
        // leaf hashes then catch); none panics.
        for i in 0..good.len() {
            let mut v = good.clone();
            v[i] ^= 0x5a;
            let _ = unpack_bundle(0, &v, &mut buf);
        }
    }

    #[test]
    fn tiles_hold_six_level_subtrees() {
        let at = |level, index| tile_of(NodeId { level, index });
        // tier 0, tile 1: leaves 64..128 at 0..64, then 32 level-1 nodes, ..., 2 level-5 nodes
        assert_eq!(at(0, 64 + 5), (1, 5));
        assert_eq!(at(1, 32), (1, 64));
        assert_eq!(at(2, 16 + 3), (1, 96 + 3));
        assert_eq!(at(5, 3), (1, 124 + 1));
        // level 6 starts tier 1
        assert_eq!(at(6, 0), (1 << 58, 0));
        assert_eq!(at(11, 1), (1 << 58, 124 + 1));
        assert_eq!(at(63, 0).0 >> 58, 10);
        // every position of a tile is used exactly once
        let mut seen = [false; TILE_HASHES];
        for level in 0..TILE_HEIGHT {
            for index in 0..(TILE_SPAN >> level) {
                let (key, pos) = at(level, index);
                assert_eq!(key, 0);
                assert!(!std::mem::replace(&mut seen[pos], true));
            }
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn a_tile_is_stored_once_its_subtree_is_complete() {
        let id = |level, index| NodeId { level, index };
        assert!(!is_stored(id(0, 0), 63));
        assert!(is_stored(id(0, 0), 64));
        assert!(is_stored(id(5, 1), 64));
        assert!(!is_stored(id(0, 64), 127));
        assert!(is_stored(id(0, 64), 128));
        // tier 1 needs 4,096 leaves
        assert!(!is_stored(id(6, 0), 4095));
        assert!(is_stored(id(6, 0), 4096));
        assert!(is_stored(id(11, 1), 4096));
        // the top tier never completes
        assert!(!is_stored(id(63, 0), u64::MAX));
    }
}
