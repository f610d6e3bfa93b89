//! Whole-ledger verification: every leaf, node, tile, id, kept checkpoint and kept witness
//! cosignature re-checked (and each kept time-stamp token against its checkpoint's note).

use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::entry::{self};
use crate::error::{guarded, join_scoped, noted, Error, Result};
use crate::merkle::prove;
use crate::merkle::{self, Frontier, Hash, HashAlg, NodeId};
use crate::note::Verifier;
use crate::storage::{Reader, State};
use crate::witness::{Cosignature, CosignerKey, WitnessRule};

use super::prune::Gaps;
use super::{Ledger, LedgerKind};

/// Progress callback: `(done, total)`.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Options of [`Ledger::verify`].
#[derive(Default)]
pub struct VerifyOptions<'a> {
    checkpoint: Option<(&'a str, &'a Verifier)>,
    witnesses: Option<&'a dyn WitnessRule>,
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

    /// Also require witnesses: the external checkpoint (see [`VerifyOptions::against`]), when
    /// given, must meet `policy` (a flat quorum, [`crate::WitnessPolicy`], or a C2SP
    /// tlog-policy file, [`crate::witness::TlogPolicy`]); without one, some kept checkpoint
    /// must. The report names the largest size so witnessed.
    pub fn witnessed(mut self, policy: &'a dyn WitnessRule) -> Self {
        self.witnesses = Some(policy);
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
    /// Kept witness cosignatures re-verified.
    pub cosignatures: u64,
    /// The largest checkpoint size that met the witness policy, when one was given.
    pub witnessed_size: Option<u64>,
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
    /// "consistent_with_checkpoint", "postings_checked", "indexes_checked", "cosignatures_checked",
    /// "witnessed_size"}`: the shape the CLI prints and every binding returns.
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
            "cosignatures_checked": self.cosignatures,
            "witnessed_size": self.witnessed_size,
        })
    }
}

impl Ledger {
    /// Check the whole ledger: re-hash every leaf, recompute every stored node, re-verify
    /// every stored checkpoint, and optionally check consistency with a checkpoint held
    /// elsewhere. Fails with the first index or node that does not match.
    pub fn verify(&self, opts: &VerifyOptions<'_>) -> Result<VerifyReport> {
        guarded(|| {
            self.verify_with(VerifyOptions {
                checkpoint: opts.checkpoint,
                witnesses: opts.witnesses,
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
                            (entries, check_ids),
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
                    (entries, check_ids),
                    folded,
                    progress.as_deref_mut(),
                );
                (left, right.map(join_scoped))
            });
            let (right, (tiles, postings)) = match right {
                Some((leaves, checked)) => (Some(leaves), checked),
                None => (None, structure(&reader)),
            };
            let (left_frontier, mut nodes_checked, mut ids, mut gaps) = left?;
            let frontier = match right {
                Some(r) => {
                    let (f, n, right_ids, right_gaps) = r?;
                    nodes_checked += n;
                    ids.then(right_ids);
                    gaps.0.extend(right_gaps.0);
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
            // Only entry ledgers record rotations (a raw ledger's leaves are opaque).
            let rotations = if entries {
                super::rotation::rotations(&reader, state.size)?
            } else {
                Vec::new()
            };
            super::rotation::verify_chain(self.verifier_key(), &rotations, &reader.checkpoints()?)?;
            if entries {
                // Leaf bytes may be missing only where a pruning record allowed by the rules
                // it names covers them (`ledger/prune.rs`).
                gaps.check(&reader, state.size)?;
                super::rules::verify_rules(&reader, state.size)?;
                if !self.meta.personal.is_empty() {
                    self.check_personal(&reader, state.size)?;
                }
            }
            if entries && self.meta.commit_index_every.is_some() {
                super::commit_index::verify_commitments(&reader, alg, state.size)?;
            }
            self.verify_stored_timestamps(&reader)?;
            let (cosignatures, mut witnessed_size) =
                self.verify_cosignatures(&reader, opts.witnesses)?;
            ids.outcome(ids_held)?;
            let mut postings = postings?;
            if opts.indexes && entries {
                postings = crate::query::check_indexes(&reader)?;
            }
            let external_checkpoint = match opts.checkpoint {
                Some((note, verifier)) => {
                    let size = self.check_external(&reader, &state, note, verifier)?;
                    if let Some(policy) = opts.witnesses {
                        policy.verify_note(note, verifier)?;
                        witnessed_size = Some(size);
                    }
                    Some(size)
                }
                None => None,
            };
            if let Some(policy) = opts.witnesses {
                if witnessed_size.is_none() && !policy.is_empty() {
                    return Err(Error::verification(format!(
                        "no checkpoint of this ledger carries valid cosignatures from {}: nothing outside this machine vouches for its history (run `trailseal witness`)",
                        policy.describe()
                    )));
                }
            }
            Ok(VerifyReport {
                size: state.size,
                root,
                nodes: nodes_checked,
                checkpoints,
                cosignatures,
                witnessed_size,
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
            let root = prove::root(
                self.meta.hash,
                &|ids: &[NodeId]| reader.nodes(ids),
                parsed.size,
            )?;
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

    /// Re-checks every kept cosignature against the key kept with it, and finds the largest
    /// checkpoint that meets `policy`.
    fn verify_cosignatures(
        &self,
        reader: &Reader,
        policy: Option<&dyn WitnessRule>,
    ) -> Result<(u64, Option<u64>)> {
        let stored = reader.checkpoints()?;
        let mut checked = 0;
        let mut witnessed: Option<u64> = None;
        for (seq, cosigs) in reader.cosignatures()? {
            let location = format!("cosignatures of checkpoint {seq}");
            let tampered = |detail: String| Error::Tampered {
                location: location.clone(),
                detail,
            };
            let cp = usize::try_from(seq)
                .ok()
                .and_then(|i| stored.get(i))
                .ok_or_else(|| tampered("no such checkpoint is kept".into()))?;
            let body = crate::note::Note::parse(&cp.note)
                .map_err(|e| tampered(e.to_string()))?
                .body;
            for c in &cosigs {
                let key = CosignerKey::from_key_string(&c.witness_key)
                    .map_err(|e| tampered(format!("stored witness key: {e}")))?;
                let cosig =
                    Cosignature::parse_line(&c.line).map_err(|e| tampered(e.to_string()))?;
                if !key.verifies(&cosig, &body) {
                    return Err(tampered(format!(
                        "the cosignature of witness {} does not verify",
                        key.name()
                    )));
                }
                checked += 1;
            }
            if let Some(policy) = policy {
                let lines: Vec<String> = cosigs.iter().map(|c| c.line.clone()).collect();
                let valid = policy.valid_cosignatures(&body, &lines)?;
                if !policy.is_empty() && policy.holds(&valid) {
                    witnessed = witnessed.max(Some(cp.size));
                }
            }
        }
        Ok((checked, witnessed))
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
        let root = prove::root(self.meta.hash, &|ids: &[NodeId]| reader.nodes(ids), cp.size)?;
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
    (entries, check_ids): (bool, bool),
    folded: &std::sync::atomic::AtomicU64,
    mut progress: Option<&mut (dyn FnMut(u64, u64) + 'p)>,
) -> Result<(Frontier, u64, IdTally, Gaps)> {
    let mut frontier = if first == 0 {
        Frontier::new()
    } else {
        Frontier::from_subtrees(first, reader.nodes(&merkle::subtrees(0, first))?)?
    };
    let mut checker = NodeChecker::new(reader, size);
    let mut ids = IdTally::default();
    let mut gaps = Gaps::default();
    let mut since = 0u64;
    let mut hashes = Vec::with_capacity(crate::storage::BUNDLE_MAX_LEAVES);
    // A bundle's leaves are hashed together (side by side in SIMD lanes, for BLAKE3).
    reader.scan_leaf_batches(first, end, |at, leaves| {
        hashes.clear();
        alg.leaf_hashes(leaves, &mut hashes);
        for ((index, leaf), hash) in (at..).zip(leaves).zip(&hashes) {
            // An entry is never empty: in an entries ledger an empty leaf was pruned, its
            // hash is the stored one (the nodes above are still checked), and the gap must
            // be one a pruning record covers (`Gaps::check`).
            if entries && leaf.is_empty() {
                let stored = checker.stored_leaf_hash(index)?;
                gaps.add(index);
                frontier.push(alg, stored, |id, h| checker.check(id, h));
                checker.take_error()?;
                continue;
            }
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
    Ok((frontier, checker.checked, ids, gaps))
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

    /// The stored hash of leaf `index` (of a pruned leaf: its bytes are gone). A leaf not
    /// under a stored tile cannot have been pruned.
    fn stored_leaf_hash(&mut self, index: u64) -> Result<Hash> {
        let id = NodeId { level: 0, index };
        let gone = || Error::Tampered {
            location: format!("leaf {index}"),
            detail: "its bytes are gone and no stored tile holds its hash".into(),
        };
        if !crate::storage::is_stored(id, self.size) {
            return Err(gone());
        }
        let (key, pos) = crate::storage::tile_of(id);
        let slot = &mut self.tiles[0];
        if slot.0 != key {
            *slot = (key, self.reader.tile(key)?.unwrap_or_default());
        }
        let stored = slot.1.get(pos * 32..pos * 32 + 32).ok_or_else(gone)?;
        let mut h = [0u8; 32];
        h.copy_from_slice(stored);
        Ok(h)
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
