//! [`Writer`]: one write transaction, which queues a commit's leaves, nodes, ids, postings
//! and checkpoints and writes them at [`Writer::commit`].

use std::sync::{Arc, Mutex};

use redb::{ReadableTable, WriteTransaction};

use super::bundles::{append_leaves, blank_leaves, read_leaf};
use super::occurred::{self, LeafOccurred};
use super::personal::{self, PersonalRows, PersonalTerms};
use super::relayed::{self, RelayedRecord};
use super::runs::{add_run, index_leaves, runs_end, LeafTerms, INDEX_TAIL_LEAVES};
use super::tables::{
    decode, encode, storage_err, BLOCKS, CHECKPOINTS, IDS, LEAVES, META, NODES, OCCURRED, RUNS,
};
use super::tiles::{completed, is_stored, read_nodes, write_tiles, Edge, TileCache};
use super::{
    cosigned, published, timestamps, Meta, PublishedState, State, StoredCheckpoint,
    StoredCosignature, WitnessState,
};
use crate::error::{Error, Result};
use crate::merkle::{Hash, NodeId};
use crate::postings::Posting;

/// The postings of the unindexed tail as this process's commits computed them, so the commit
/// that indexes the tail need not parse those entries again. Only a cache: it is used when it
/// covers exactly the leaves to index, and otherwise they are read back from the file.
#[derive(Default)]
pub(super) struct TailPostings {
    first: u64,
    end: u64,
    postings: Vec<Posting>,
}

/// One write transaction. What a commit adds is queued, and written at [`Writer::commit`]:
/// leaves into bundles, nodes into the tiles they complete.
pub struct Writer {
    txn: WriteTransaction,
    leaves: Vec<Vec<u8>>,
    first_new_leaf: u64,
    nodes: Vec<(NodeId, Hash)>,
    ids: Vec<(String, u64)>,
    checkpoints: Vec<StoredCheckpoint>,
    cosignatures: Vec<(u64, Vec<StoredCosignature>)>,
    witness_states: Vec<(String, WitnessState)>,
    timestamps: Vec<(u64, Vec<u8>)>,
    published: Vec<(String, PublishedState)>,
    relayed: Vec<([u8; 16], RelayedRecord)>,
    rules: Vec<(u64, String)>,
    postings: Vec<Posting>,
    /// `(occurred_at nanos, index)` of this commit's entries that have one.
    occurred: Vec<(i128, u64)>,
    /// This commit's entries' personal values and personal postings.
    personal: Vec<PersonalRows>,
    /// Set for a ledger with personal fields: an entry's personal terms from its leaf and
    /// openings, to remove them when it is pruned.
    personal_terms_of: Option<PersonalTerms>,
    /// Set for an entries ledger: how to index the tail's leaves.
    terms_of: Option<LeafTerms>,
    /// Set for an entries ledger: how to read a leaf's `occurred_at` (see `occurred.rs`).
    occurred_of: Option<LeafOccurred>,
    state: Option<State>,
    /// The store's cache, told the new edge nodes once they are committed.
    tiles: Arc<TileCache>,
    tail: Arc<Mutex<TailPostings>>,
    /// What the tail cache holds once this commit succeeds.
    tail_after: Option<TailPostings>,
}

/// A point in a [`Writer`]'s queue to roll back to (see [`Writer::mark`]).
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    leaves: usize,
    nodes: usize,
    ids: usize,
    postings: usize,
    occurred: usize,
    rules: usize,
    personal: usize,
}

impl Writer {
    pub(super) fn new(
        txn: WriteTransaction,
        tiles: Arc<TileCache>,
        tail: Arc<Mutex<TailPostings>>,
    ) -> Writer {
        Writer {
            txn,
            leaves: Vec::new(),
            first_new_leaf: 0,
            nodes: Vec::new(),
            ids: Vec::new(),
            checkpoints: Vec::new(),
            cosignatures: Vec::new(),
            witness_states: Vec::new(),
            timestamps: Vec::new(),
            published: Vec::new(),
            relayed: Vec::new(),
            rules: Vec::new(),
            postings: Vec::new(),
            occurred: Vec::new(),
            personal: Vec::new(),
            personal_terms_of: None,
            terms_of: None,
            occurred_of: None,
            state: None,
            tiles,
            tail,
            tail_after: None,
        }
    }

    /// Remember how much is queued, so one request of a group commit can be undone alone.
    pub fn mark(&self) -> Mark {
        Mark {
            leaves: self.leaves.len(),
            nodes: self.nodes.len(),
            ids: self.ids.len(),
            postings: self.postings.len(),
            occurred: self.occurred.len(),
            rules: self.rules.len(),
            personal: self.personal.len(),
        }
    }

    /// Drop everything queued since `mark`.
    pub fn rollback(&mut self, mark: Mark) {
        self.leaves.truncate(mark.leaves);
        self.nodes.truncate(mark.nodes);
        self.ids.truncate(mark.ids);
        self.postings.truncate(mark.postings);
        self.occurred.truncate(mark.occurred);
        self.rules.truncate(mark.rules);
        self.personal.truncate(mark.personal);
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
            && self.checkpoints.is_empty()
            && self.cosignatures.is_empty()
            && self.witness_states.is_empty()
            && self.timestamps.is_empty()
            && self.published.is_empty()
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

    /// Queue the `rules` row of a `rules.published` entry at `index` (see `storage::rules`).
    pub fn put_rules_version(&mut self, index: u64, digest: String) {
        self.rules.push((index, digest));
    }

    /// The committed rules versions at leaf `from` or later (see `storage::rules`).
    pub fn rules_versions(&self, from: u64) -> Result<Vec<(u64, String)>> {
        super::rules::read_in_write(&self.txn, from)
    }

    /// The bytes of leaf `index` if this writer queued it (not yet committed).
    pub fn queued_leaf(&self, index: u64) -> Option<&[u8]> {
        let at = index.checked_sub(self.first_new_leaf)?;
        self.leaves
            .get(usize::try_from(at).ok()?)
            .map(Vec::as_slice)
    }

    /// Keep the query indexes (an entries ledger): postings are written when the unindexed
    /// tail reaches [`INDEX_TAIL_LEAVES`], the tail's own read back and indexed with `f`.
    pub fn index_with(&mut self, f: LeafTerms) {
        self.terms_of = Some(f);
    }

    /// Keep the `occurred_at` index (an entries ledger): this commit's rows, and those of
    /// leaves an earlier trailseal left unindexed, read back with `f` (see `occurred.rs`).
    pub fn index_occurred_with(&mut self, f: LeafOccurred) {
        self.occurred_of = Some(f);
    }

    /// Keep leaf `index`'s (one queued in this writer) personal values, `openings`, and file
    /// it under `terms`, the query terms it has only through them.
    pub fn put_personal(&mut self, index: u64, openings: Vec<u8>, terms: Vec<u64>) {
        self.personal.push(PersonalRows {
            index,
            openings,
            terms,
        });
    }

    /// How to find a stored entry's personal terms when pruning removes it.
    pub fn personal_terms_with(&mut self, f: PersonalTerms) {
        self.personal_terms_of = Some(f);
    }

    /// The openings queued in this writer for leaf `index`, if any.
    pub fn queued_openings(&self, index: u64) -> Option<&[u8]> {
        self.personal
            .iter()
            .rev()
            .find(|r| r.index == index)
            .map(|r| r.openings.as_slice())
    }

    /// Committed entry `index`'s openings, if it has them.
    pub fn openings(&self, index: u64) -> Result<Option<Vec<u8>>> {
        personal::openings_in_write(&self.txn, index)
    }

    /// Erase committed entry `index`'s personal values now, in this transaction: its openings
    /// and its personal postings `terms` go, and the row naming record `by` is written.
    pub fn erase_personal(&mut self, index: u64, terms: &[u64], by: u64) -> Result<bool> {
        personal::remove(&self.txn, index, terms, Some(by))
    }

    /// File leaf `index` (one of the leaves queued in this writer) under its `occurred_at`,
    /// in Unix nanoseconds.
    pub fn put_occurred(&mut self, occurred_at: i128, index: u64) {
        self.occurred.push((occurred_at, index));
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

    /// Keep witness cosignatures with checkpoint `seq` (its key in `checkpoints`).
    pub fn put_cosignatures(&mut self, seq: u64, cosigs: Vec<StoredCosignature>) {
        self.cosignatures.push((seq, cosigs));
    }

    /// Record what witness `key` (its vkey string) has now cosigned.
    pub fn put_witness_state(&mut self, key: String, state: WitnessState) {
        self.witness_states.push((key, state));
    }

    /// Keep a signed checkpoint.
    pub fn put_checkpoint(&mut self, cp: StoredCheckpoint) {
        self.checkpoints.push(cp);
    }

    /// Keep an RFC 3161 time-stamp token (DER) for the kept checkpoint number `seq`
    /// (replacing one kept before). The commit fails if there is no such checkpoint.
    pub fn put_checkpoint_timestamp(&mut self, seq: u64, token: Vec<u8>) {
        self.timestamps.push((seq, token));
    }

    /// Record that `state`'s checkpoint is now the one published at destination `dest`.
    pub fn put_published(&mut self, dest: String, state: PublishedState) {
        self.published.push((dest, state));
    }

    /// Record what this commit holds of a request relayed for handle `client` (written only
    /// with the rest of the commit).
    pub fn put_relayed(&mut self, client: [u8; 16], record: RelayedRecord) {
        self.relayed.push((client, record));
    }

    /// The last committed request relayed for handle `client`, as of this transaction.
    pub fn relayed(&self, client: &[u8; 16]) -> Result<Option<RelayedRecord>> {
        relayed::get(&self.txn, client)
    }

    /// The last index commitment as of this transaction (SPEC section 9).
    pub fn index_state(&self) -> Result<super::IndexState> {
        let t = self.txn.open_table(META).map_err(storage_err)?;
        super::commit_index::state(&t)
    }

    /// Append to the committed lists and the map, at once in this transaction (a commitment
    /// is recorded after every entry it covers is queued); the new map root.
    pub fn append_index(
        &mut self,
        alg: crate::merkle::HashAlg,
        appends: &[super::TermAppend],
    ) -> Result<Hash> {
        super::commit_index::append(&self.txn, alg, appends)
    }

    /// Record the last index commitment, at once in this transaction.
    pub fn put_index_state(&mut self, s: super::IndexState) -> Result<()> {
        super::commit_index::put_state(&self.txn, s)
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

    /// Leaves `first..end` as `(index, bytes)`, in order: the committed ones from the file,
    /// then those this writer queued.
    pub fn scan_leaves(
        &self,
        first: u64,
        end: u64,
        mut f: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let queued_from = if self.leaves.is_empty() {
            end
        } else {
            self.first_new_leaf
        };
        if first < queued_from.min(end) {
            let t = self.txn.open_table(LEAVES).map_err(storage_err)?;
            super::bundles::leaf_range(&t, first, queued_from.min(end), &mut f)?;
        }
        for i in first.max(queued_from)..end {
            let leaf = self
                .queued_leaf(i)
                .ok_or_else(|| Error::Internal(format!("leaf {i} is neither stored nor queued")))?;
            f(i, leaf)?;
        }
        Ok(())
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
    /// The state record as of the last commit, which may be another process's: a handle's
    /// own idea of the tree is checked against it before anything is queued.
    pub fn committed_state(&self) -> Result<State> {
        let t = self.txn.open_table(META).map_err(storage_err)?;
        let guard = t
            .get("state")
            .map_err(storage_err)?
            .ok_or_else(|| Error::NotALedger("no state record".into()))?;
        decode("state", guard.value())
    }

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

    /// The first leaf pruning may not reach in this transaction: leaves from there on are not
    /// yet under a stored tile (their hashes are computed from their bytes when read), or not
    /// yet in the query or `occurred_at` indexes (which read the unindexed tail's bytes).
    pub fn prunable_end(&self) -> Result<u64> {
        let size = self.committed_state()?.size;
        let runs = self.txn.open_table(RUNS).map_err(storage_err)?;
        let indexed = runs_end(&runs)?;
        let occurred = occurred::end_in_write(&self.txn)?;
        Ok((size / 64 * 64).min(indexed).min(occurred))
    }

    /// Remove the bytes of committed leaves `range` now, in this transaction (pruning; see
    /// `bundles::blank_leaves`), with their rows in the id index and the `occurred_at` index.
    /// `gone` sees each removed leaf's bytes. The query indexes keep their postings: queries
    /// read each hit's entry, and skip the pruned ones. Only below [`Writer::prunable_end`].
    pub fn prune_leaves(
        &mut self,
        range: std::ops::Range<u64>,
        mut gone: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let end = self.prunable_end()?;
        if range.end > end {
            return Err(Error::Internal(format!(
                "pruning leaves up to {} past {end}, where pruning stops",
                range.end
            )));
        }
        let occurred_of = self.occurred_of;
        let personal_terms_of = self.personal_terms_of;
        let txn = &self.txn;
        let mut leaves = self.txn.open_table(LEAVES).map_err(storage_err)?;
        let mut ids = self.txn.open_table(IDS).map_err(storage_err)?;
        let mut rows = self.txn.open_table(OCCURRED).map_err(storage_err)?;
        blank_leaves(&mut leaves, range, |index, leaf| {
            if let Ok(Some(id)) = crate::entry::stored_id(leaf) {
                ids.remove(id.as_ref()).map_err(storage_err)?;
            }
            if let Some(at) = occurred_of.map(|f| f(index, leaf)).transpose()?.flatten() {
                rows.remove((at, index)).map_err(storage_err)?;
            }
            if let Some(f) = personal_terms_of {
                if let Some(openings) = personal::openings_in_write(txn, index)? {
                    personal::remove(txn, index, &f(index, leaf, &openings)?, None)?;
                }
            }
            gone(index, leaf)
        })
    }

    /// Write this commit's leaves into bundles (see [`append_leaves`]).
    fn flush_leaves(&mut self) -> Result<()> {
        if self.leaves.is_empty() {
            return Ok(());
        }
        let mut table = self.txn.open_table(LEAVES).map_err(storage_err)?;
        append_leaves(&mut table, self.first_new_leaf, &self.leaves)
    }

    /// Unless the unindexed tail stays short (see [`crate::storage`]), add the postings of
    /// the tail and of this commit to the runs ([`add_run`]).
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
        let mut blocks = self.txn.open_table(BLOCKS).map_err(storage_err)?;
        add_run(&mut runs, &mut blocks, first, end, ps)
    }

    /// Write the tiles this commit completes (see [`write_tiles`]).
    fn flush_nodes(&mut self) -> Result<()> {
        let end = self.first_new_leaf + self.leaves.len() as u64;
        // This commit's nodes of the tiles it completes, by tile and position.
        let new = completed(&self.nodes, end);
        if new.is_empty() {
            return Ok(());
        }
        let alg = self.committed_edge()?.alg;
        let mut table = self.txn.open_table(NODES).map_err(storage_err)?;
        let leaves = self.txn.open_table(LEAVES).map_err(storage_err)?;
        write_tiles(&mut table, &leaves, alg, end, &new)
    }

    /// Write everything queued and commit.
    pub fn commit(mut self) -> Result<()> {
        self.flush_leaves()?;
        self.flush_nodes()?;
        self.flush_postings()?;
        if let (Some(f), false) = (self.occurred_of, self.leaves.is_empty()) {
            let end = self.first_new_leaf + self.leaves.len() as u64;
            occurred::put(&self.txn, &self.occurred, self.first_new_leaf, end, f)?;
        }
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
        cosigned::put(&self.txn, &self.cosignatures, &self.witness_states)?;
        timestamps::put(&self.txn, &self.timestamps)?;
        published::put(&self.txn, &self.published)?;
        relayed::put(&self.txn, &self.relayed)?;
        super::rules::put(&self.txn, &self.rules)?;
        personal::put(&self.txn, &self.personal)?;
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
