//! [`Reader`]: one read snapshot of a ledger file.

use std::sync::{Arc, Mutex, OnceLock};

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableError,
};
use serde::Deserialize;

use super::bundles::{bundle_of, leaf_batches, leaf_range, stored_leaves, Unpacked};
use super::runs::{self, index_leaves, runs_end, unindexed_tail, RunInfo, RunTables};
use super::runs::{LeafTerms, INDEX_TAIL_LEAVES};
use super::tables::{
    decode, storage_err, BlockKey, BLOCKS, CHECKPOINTS, IDS, LEAVES, META, NODES, RUNS,
};
use super::tiles::{read_nodes, split_tile_key, Edge, TileCache};
use super::{LeafOccurred, Meta, State, StoredCheckpoint};
use crate::error::{Error, Result};
use crate::merkle::{Hash, NodeId};
use crate::postings::Posting;

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

/// A read snapshot. Tables are opened on first use: a proof needs three of the seven (meta,
/// nodes and leaves).
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
    pub(super) fn new(txn: ReadTransaction, tiles: Arc<TileCache>) -> Reader {
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
    pub(super) fn open_all(&self) -> Result<()> {
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
    fn run_tables(&self) -> Result<RunTables<'_>> {
        Ok(RunTables {
            runs: self.runs_t()?,
            blocks: self.blocks_t()?,
        })
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
        meta.commit_index_every = super::commit_index::every(self.meta_t()?)?;
        if let Some(v) = self
            .meta_t()?
            .get(super::PERSONAL_KEY)
            .map_err(storage_err)?
        {
            let paths: Vec<String> =
                serde_json::from_slice(v.value()).map_err(|e| Error::Tampered {
                    location: "personal fields record".into(),
                    detail: e.to_string(),
                })?;
            meta.personal =
                crate::entry::PersonalFields::new(&paths).map_err(|e| Error::Tampered {
                    location: "personal fields record".into(),
                    detail: e.to_string(),
                })?;
        }
        Ok(meta)
    }

    /// The last index commitment at this snapshot (SPEC section 9).
    pub fn index_state(&self) -> Result<super::IndexState> {
        super::commit_index::state(self.meta_t()?)
    }

    /// Term `id`'s committed list (count and list-tree frontier), if the map holds it.
    pub fn index_term(&self, id: &Hash) -> Result<Option<super::TermList>> {
        super::commit_index::term_list(&self.txn, id)
    }

    /// The committed map's proof for term `id` at this snapshot's last commitment.
    pub fn index_map_proof(
        &self,
        alg: crate::merkle::HashAlg,
        id: &Hash,
    ) -> Result<crate::commit_index::map::MapProof> {
        super::commit_index::map_proof(&self.txn, alg, id)
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

    /// The raw tile with key `key` (see [`tile_of`](super::tile_of)), if stored.
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
        self.run_tables()?.posting_chunk(term, from, back)
    }

    /// Check the query indexes' structure: runs disjoint, ascending and inside `[0, size)`,
    /// every block of a listed run, decodable and in order, each posting inside its run's
    /// leaves, the counts as listed. Returns the number of postings. (Whether each posting
    /// belongs to its entry is a separate, slower check; see `Ledger::verify_with`.)
    ///
    /// With `dense` (an entries ledger: every entry has terms), the runs must also cover every
    /// leaf.
    pub fn check_postings(&self, size: u64, dense: bool) -> Result<u64> {
        self.run_tables()?.check(size, dense)
    }

    /// Entry `index`'s openings (its personal values and salts), if it has them.
    pub fn openings(&self, index: u64) -> Result<Option<Vec<u8>>> {
        super::personal::openings(&self.txn, index)
    }

    /// The `erasure.performed` entry that erased entry `index`'s personal values, if one did.
    pub fn erased_by(&self, index: u64) -> Result<Option<u64>> {
        super::personal::erased_by(&self.txn, index)
    }

    /// The leaves filed under term hash `h` through their personal values, ascending.
    pub fn personal_postings(&self, h: u64) -> Result<Vec<u64>> {
        super::personal::postings(&self.txn, h)
    }

    /// Whether leaf `index` is filed under term hash `h` through its personal values.
    pub fn has_personal_posting(&self, h: u64, index: u64) -> Result<bool> {
        super::personal::has_posting(&self.txn, h, index)
    }

    /// Walk every openings row, personal posting `(term hash, index)` and erased row
    /// `(index, by)`, for `verify`.
    pub fn visit_personal(
        &self,
        opening: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
        posting: &mut dyn FnMut(u64, u64) -> Result<()>,
        erased: &mut dyn FnMut(u64, u64) -> Result<()>,
    ) -> Result<()> {
        super::personal::visit(
            &self.txn,
            super::personal::Visit {
                opening,
                posting,
                erased,
            },
        )
    }

    /// The leaf index carrying entry id `id`.
    pub fn id_index(&self, id: &str) -> Result<Option<u64>> {
        Ok(self
            .ids_t()?
            .get(id)
            .map_err(storage_err)?
            .map(|g| g.value()))
    }

    /// Every kept witness cosignature, by the sequence number of its checkpoint (its
    /// position in [`Reader::checkpoints`]).
    pub fn cosignatures(&self) -> Result<Vec<(u64, Vec<super::StoredCosignature>)>> {
        super::cosigned::all(&self.txn)
    }

    /// What witness `key` (its vkey string) last cosigned of this ledger, if anything.
    pub fn witness_state(&self, key: &str) -> Result<Option<super::WitnessState>> {
        super::cosigned::state(&self.txn, key)
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

    /// The RFC 3161 time-stamp token (DER) kept for checkpoint number `seq`, if any.
    pub fn checkpoint_timestamp(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        super::timestamps::get(&self.txn, seq)
    }

    /// What was last published to destination `dest` (see [`super::PublishedState`]).
    pub fn published(&self, dest: &str) -> Result<Option<super::PublishedState>> {
        super::published::get(&self.txn, dest)
    }

    /// The rules versions recorded at leaf `from` or later: (leaf index, digest), in order.
    pub fn rules_versions(&self, from: u64) -> Result<Vec<(u64, String)>> {
        super::rules::read_committed(&self.txn, from)
    }

    /// Every stored time-stamp token with its checkpoint's sequence number, in order.
    pub fn checkpoint_timestamps(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        super::timestamps::all(&self.txn)
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
        stored_leaves(self.leaves_t()?)
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

    /// The indexes in `lo..hi` of the entries whose `occurred_at` (Unix nanoseconds) is in
    /// `since..until` (either end open), ascending: a range scan of the `occurred` table,
    /// plus the leaves it does not cover yet read with `occurred_of` (see `occurred.rs`).
    pub fn occurred_window(
        &self,
        window: (Option<i128>, Option<i128>),
        (lo, hi): (u64, u64),
        occurred_of: LeafOccurred,
    ) -> Result<Vec<u64>> {
        let size = self.state()?.size;
        super::occurred::window(&self.txn, window, (lo, hi.min(size)), size, occurred_of)
    }

    /// Where the `occurred` table's coverage ends: leaves from here on have no rows yet.
    pub fn occurred_end(&self) -> Result<u64> {
        super::occurred::end(&self.txn)
    }

    /// Check the `occurred` table against the entries it covers (each entry with an
    /// `occurred_at` has its row, and no other row is there); the rows checked.
    pub fn check_occurred(&self, occurred_of: LeafOccurred) -> Result<u64> {
        super::occurred::check(&self.txn, self.state()?.size, occurred_of)
    }

    /// The runs of the query indexes, in leaf order.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
        runs::list(self.runs_t()?)
    }

    /// The postings of `run` whose term hash is in `lo..=hi`, ascending.
    pub fn run_slice(
        &self,
        run: &RunInfo,
        lo: u64,
        hi: u64,
        f: impl FnMut(Posting) -> Result<()>,
    ) -> Result<()> {
        self.run_tables()?.run_slice(run, lo, hi, f)
    }

    /// Every tile of the node store as `(tier, tile index, bytes)`, in key order.
    pub fn scan_tiles(&self, mut f: impl FnMut(u8, u64, &[u8]) -> Result<()>) -> Result<()> {
        for item in self.nodes_t()?.iter().map_err(storage_err)? {
            let (k, v) = item.map_err(storage_err)?;
            let (tier, tile) = split_tile_key(k.value());
            f(tier, tile, v.value())?;
        }
        Ok(())
    }

    /// How many ids the id index holds.
    pub fn id_count(&self) -> Result<u64> {
        self.ids_t()?.len().map_err(storage_err)
    }
}
