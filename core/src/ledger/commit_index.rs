//! The ledger's side of committed indexes (SPEC section 9): the commitment a group commit
//! records once enough leaves follow the last one, completeness proofs built from a snapshot,
//! and `verify`'s recomputation of every commitment.

use std::borrow::Cow;

use serde_json::Value;

use super::append::{Group, Work};
use super::{Ledger, LedgerKind};
use crate::commit_index::proof::{CompletenessProof, ListRun, ProvenEntry, TermProof, MAX_TERMS};
use crate::commit_index::{
    commitment_entry, commitment_of, group, list, map, postings_of, term::term_id, INDEX_COMMITTED,
};
use crate::error::{guarded, Error, Result};
use crate::merkle::{range, Hash, HashAlg, NodeId};
use crate::note::Signer;
use crate::query::{has_terms, Postings, Term};
use crate::storage::{IndexState, Reader, ScratchIndex, TermList};

fn not_json(index: u64, e: serde_json::Error) -> Error {
    Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not JSON: {e}"),
    }
}

/// Refuses an `index.committed` entry given to a plain append: only the ledger records one,
/// with the map it commits to, and `verify` would report any other as tampering.
pub(super) fn refuse_commitment_entry(pos: usize, len: usize, action: &str) -> Result<()> {
    if action != INDEX_COMMITTED {
        return Ok(());
    }
    Err(super::reserved_action(
        pos,
        len,
        format!("{INDEX_COMMITTED} entries are recorded only by the ledger's committed indexes"),
    ))
}

/// The committed index term ids of the leaves `[from, next)`, gathered as each is queued (on
/// the threads that encode it), so that a commitment reads no leaf back. Kept across groups
/// by the writer; anything that breaks the run of leaves (a leaf queued without its ids, a
/// failed commit, another process's append) drops it, and the commitment then reads the
/// leaves instead.
#[derive(Debug)]
pub(super) struct Uncommitted {
    from: u64,
    next: u64,
    postings: Vec<(Hash, u64)>,
    broken: bool,
}

impl Uncommitted {
    /// None gathered yet, from leaf `from` on.
    pub(super) fn new(from: u64) -> Uncommitted {
        Uncommitted {
            from,
            next: from,
            postings: Vec::new(),
            broken: false,
        }
    }

    /// Leaf `index`'s term ids.
    pub(super) fn push(&mut self, index: u64, ids: &[Hash]) {
        if index != self.next {
            self.broken = true;
            return;
        }
        self.postings.extend(ids.iter().map(|id| (*id, index)));
        self.next = index + 1;
    }

    /// Forget the leaves from `size` on (a request refused and rolled back).
    pub(super) fn truncate(&mut self, size: u64) {
        if size < self.from {
            self.broken = true;
            return;
        }
        let keep = self.postings.partition_point(|&(_, i)| i < size);
        self.postings.truncate(keep);
        self.next = self.next.min(size);
    }

    /// Whether the writer can keep it for a group starting at `size`.
    pub(super) fn continues_at(&self, size: u64) -> bool {
        !self.broken && self.next == size
    }

    /// The postings of exactly the leaves `[from, end)`, if that is what was gathered.
    fn take_for(self, from: u64, end: u64) -> Option<Vec<(Hash, u64)>> {
        (!self.broken && self.from == from && self.next == end).then_some(self.postings)
    }
}

impl Ledger {
    /// The hash of committed index term ids, when committed indexes are on.
    pub(super) fn term_ids_alg(&self) -> Option<HashAlg> {
        self.meta.commit_index_every.map(|_| self.meta.hash)
    }

    /// With committed indexes on and at least the interval of leaves since the last
    /// commitment (this group's included): add those leaves to the lists and the map and
    /// queue the `index.committed` entry recording the new root, as the group's last entry.
    pub(super) fn commit_index_in_group(&self, g: &mut Group) -> Result<()> {
        let Some(every) = self.meta.commit_index_every else {
            return Ok(());
        };
        let last = g.w.index_state()?;
        let size = g.frontier.size();
        if size.saturating_sub(last.covered) < every {
            return Ok(());
        }
        let alg = self.meta.hash;
        let gathered = g
            .uncommitted
            .take()
            .and_then(|u| u.take_for(last.covered, size));
        let postings = match gathered {
            Some(p) => p,
            None => {
                let mut postings = Vec::new();
                let mut buf = Vec::new();
                g.w.scan_leaves(last.covered, size, |i, leaf| {
                    let v: Value = serde_json::from_slice(leaf).map_err(|e| not_json(i, e))?;
                    postings_of(alg, i, &v, &mut buf, &mut postings);
                    Ok(())
                })?;
                postings
            }
        };
        let root = g.w.append_index(alg, &group(postings))?;
        // The commitment entry is the first leaf of the next commitment's run.
        g.uncommitted = Some(Uncommitted::new(size));
        let entry = [commitment_entry(alg, size, &root)];
        g.internal = true;
        let receipts = self.process(g, Work::Entries(Cow::Borrowed(&entry)));
        g.internal = false;
        g.recorded.extend(receipts?);
        g.w.put_index_state(IndexState {
            covered: size,
            root,
        })
    }

    /// Answer the conjunction of `terms` over the leaf indices `[lo, hi)` (`hi` `None`: to
    /// the end) with a completeness proof against a fresh checkpoint of the current size
    /// signed by `signer` (and kept, as [`Ledger::checkpoint`] keeps it). The proof is
    /// against the newest commitment; everything after it is in the proof's tail.
    pub fn prove_complete(
        &self,
        terms: &[Term],
        (lo, hi): (u64, Option<u64>),
        signer: &Signer,
    ) -> Result<CompletenessProof> {
        guarded(|| {
            self.need_kind(LedgerKind::Entries)?;
            if terms.is_empty() || terms.len() > MAX_TERMS {
                return Err(Error::InvalidArgument(format!(
                    "a completeness proof is for 1 to {MAX_TERMS} terms"
                )));
            }
            self.check_verifier(&signer.verifier())?;
            let (reader, state) = self.snapshot()?;
            let n = state.size;
            if hi.is_some_and(|hi| hi < lo) {
                return Err(Error::InvalidArgument(format!(
                    "the range [{lo}, {hi:?}) is reversed"
                )));
            }
            // The range within the tree: past its end there is nothing to prove.
            let (lo, hi) = (lo.min(n), hi.unwrap_or(n).min(n));
            let note = self.checkpoint(signer, Some(n))?;
            let alg = self.meta.hash;
            let st = reader.index_state()?;
            let chi = hi.min(st.covered);
            let mut proofs = Vec::with_capacity(terms.len());
            let mut hits: Option<Vec<u64>> = None;
            for t in terms {
                let (p, own) = term_proof(&reader, alg, st, t, (lo, chi))?;
                proofs.push(p);
                hits = Some(match hits {
                    None => own,
                    Some(prev) => prev
                        .into_iter()
                        .filter(|x| own.binary_search(x).is_ok())
                        .collect(),
                });
            }
            let mut entries = Vec::new();
            for index in hits.unwrap_or_default() {
                let leaf = String::from_utf8(reader.leaf(index)?).map_err(|_| Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: "not UTF-8".into(),
                })?;
                let proof = self.prove_inclusion(index, Some(n))?;
                entries.push(ProvenEntry {
                    index,
                    leaf,
                    path: proof.path,
                });
            }
            let mut log_leaves = Vec::new();
            reader.scan_leaf_range(st.covered, n, |i, leaf| {
                log_leaves.push(
                    String::from_utf8(leaf.to_vec()).map_err(|_| Error::Tampered {
                        location: format!("leaf {i}"),
                        detail: "not UTF-8".into(),
                    })?,
                );
                Ok(())
            })?;
            let log_proof = if n == 0 {
                Vec::new()
            } else {
                range::prove_range(n, st.covered, n, |l, h| perfect_node(&reader, l, h))?
            };
            let proof = CompletenessProof {
                origin: self.meta.origin.clone(),
                hash: alg,
                tree_size: n,
                root: state.root,
                checkpoint: note,
                range: (lo, hi),
                terms: proofs,
                log_first: st.covered,
                log_leaves,
                log_proof,
                entries,
            };
            // Never hand out a proof that would not verify.
            proof.verify(&signer.verifier())?;
            Ok(proof)
        })
    }
}

/// The hash of the subtree over leaves `[l, h)`: a range proof of a suffix of the log asks
/// only for perfect subtrees left of it.
fn perfect_node(reader: &Reader, l: u64, h: u64) -> Result<Hash> {
    let width = h - l;
    if !width.is_power_of_two() || l % width != 0 {
        return Err(Error::Internal(format!(
            "[{l}, {h}) is not a perfect subtree"
        )));
    }
    let level = width.trailing_zeros() as u8;
    let id = NodeId {
        level,
        index: l >> level,
    };
    reader
        .nodes(&[id])?
        .pop()
        .ok_or_else(|| Error::Internal("no node hash".into()))
}

/// One term's proof at commitment `st`, and its committed hits in `[lo, chi)`.
fn term_proof(
    reader: &Reader,
    alg: HashAlg,
    st: IndexState,
    term: &Term,
    (lo, chi): (u64, u64),
) -> Result<(TermProof, Vec<u64>)> {
    if st.covered == 0 {
        let empty = map::MapProof {
            siblings: Vec::new(),
            terminal: map::Terminal::Empty,
        };
        return Ok((
            TermProof {
                term: term.clone(),
                map: empty,
                list: None,
            },
            Vec::new(),
        ));
    }
    let id = term_id(alg, term);
    let proof = reader.index_map_proof(alg, &id)?;
    let Some(stored) = reader.index_term(&id)? else {
        return Ok((
            TermProof {
                term: term.clone(),
                map: proof,
                list: None,
            },
            Vec::new(),
        ));
    };
    let elements = committed_list(reader, alg, term, st.covered, &stored)?;
    let hashes: Vec<Hash> = elements
        .iter()
        .map(|&e| list::element_hash(alg, e))
        .collect();
    let (a, b) = list::revealed(&elements, lo, chi);
    let lproof = range::prove_range(stored.count, a as u64, b as u64, |l, h| {
        Ok(range::root_of(alg, &hashes[l as usize..h as usize]))
    })?;
    let own = elements[a..b]
        .iter()
        .copied()
        .filter(|x| (lo..chi).contains(x))
        .collect();
    let run = ListRun {
        count: stored.count,
        first: a as u64,
        values: elements[a..b].to_vec(),
        proof: lproof,
    };
    Ok((
        TermProof {
            term: term.clone(),
            map: proof,
            list: Some(run),
        },
        own,
    ))
}

/// The term's committed list, read from the query index (postings below `covered`) and held
/// to the stored count and root: postings are filed by a 64-bit hash, so another term may
/// share them, and then the entries are read to keep only the term's own.
fn committed_list(
    reader: &Reader,
    alg: HashAlg,
    term: &Term,
    covered: u64,
    stored: &TermList,
) -> Result<Vec<u64>> {
    let mut postings = Postings::new(reader, term, false)?;
    let mut out = Vec::new();
    let mut x = 0;
    while let Some(y) = postings.seek(x)? {
        if y >= covered {
            break;
        }
        out.push(y);
        x = y + 1;
    }
    let matches = |els: &[u64]| {
        els.len() as u64 == stored.count && list::root(alg, els) == stored.frontier.root(alg)
    };
    if matches(&out) {
        return Ok(out);
    }
    let terms = std::slice::from_ref(term);
    let mut own = Vec::with_capacity(out.len());
    for i in out {
        let leaf = reader.leaf(i)?;
        let v: Value = serde_json::from_slice(&leaf).map_err(|e| not_json(i, e))?;
        if has_terms(&v, terms) {
            own.push(i);
        }
    }
    if matches(&own) {
        return Ok(own);
    }
    Err(Error::Tampered {
        location: "committed index".into(),
        detail: format!(
            "the entries filed under a term give {} indices, its committed list holds {}",
            own.len(),
            stored.count
        ),
    })
}

/// `verify`'s check of the committed indexes: every `index.committed` entry's root
/// recomputed from the entries before it (in a scratch map, with the commit path's code), and
/// the stored state held to the last one. Returns the commitments checked.
pub(super) fn verify_commitments(reader: &Reader, alg: HashAlg, size: u64) -> Result<u64> {
    let mut scratch: Option<ScratchIndex> = None;
    let mut postings = Vec::new();
    let mut buf = Vec::new();
    let mut last = IndexState::NONE;
    let mut checked = 0u64;
    reader.scan_leaf_range(0, size, |i, leaf| {
        let v: Value = serde_json::from_slice(leaf).map_err(|e| not_json(i, e))?;
        if let Some(c) = commitment_of(&v) {
            let tampered = |detail: String| Error::Tampered {
                location: format!("leaf {i} ({INDEX_COMMITTED})"),
                detail,
            };
            let (covered, root) = c.map_err(|e| tampered(e.to_string()))?;
            if covered != i {
                return Err(tampered(format!(
                    "it says it covers {covered} leaves, not {i}"
                )));
            }
            let s = match &mut scratch {
                Some(s) => s,
                None => scratch.insert(ScratchIndex::new()?),
            };
            let recomputed = s.append(alg, &group(std::mem::take(&mut postings)))?;
            if recomputed != root {
                return Err(tampered(format!(
                    "it records the map root {}, the entries before it give {}",
                    crate::merkle::to_hex(&root),
                    crate::merkle::to_hex(&recomputed)
                )));
            }
            last = IndexState { covered, root };
            checked += 1;
        }
        postings_of(alg, i, &v, &mut buf, &mut postings);
        Ok(())
    })?;
    if reader.index_state()? != last {
        return Err(Error::Tampered {
            location: "committed index state".into(),
            detail: format!(
                "the stored state says the last commitment covers {} leaves, the log's last covers {}",
                reader.index_state()?.covered,
                last.covered
            ),
        });
    }
    Ok(checked)
}
