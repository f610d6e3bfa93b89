//! Posting runs: the query indexes as stored, in the `posting_runs` and `posting_blocks`
//! tables (the parent module's docs say how runs are written and merged, and
//! [`crate::postings`] why, and how a block is encoded).

use redb::{ReadOnlyTable, ReadableTable};
use serde::{Deserialize, Serialize};

use super::bundles::leaf_range;
use super::tables::{encode, storage_err, BlockKey, BlockTable};
use crate::error::{Error, Result};
use crate::postings::{decode_block, term_hash, BlockBuilder, Posting, MERGE_WIDTH};

/// The unindexed tail of an entries ledger (the leaves after the last posting run) is always
/// shorter than this; see the [`storage`](crate::storage) module docs.
pub const INDEX_TAIL_LEAVES: u64 = 64;

/// The term hashes of stored entry `index` (for indexing leaves of earlier commits, which the
/// writer holds only as bytes): appends to `out`, using `buf` as scratch. Storage knows no
/// entries; the ledger passes `query::leaf_term_hashes`.
pub type LeafTerms = fn(u64, &[u8], &mut Vec<u8>, &mut Vec<u64>) -> Result<()>;

/// One run of the query indexes: the postings of leaves `first..end`, stored as blocks keyed
/// `(id, hash, index)` (see [`crate::postings`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The run's first leaf (its key in the run table, not stored in the value).
    #[serde(skip)]
    pub first: u64,
    /// Block key prefix; a merged run gets a new id, above every earlier one.
    pub id: u64,
    /// 0 for a run that commits wrote; a merge of [`MERGE_WIDTH`] runs of level `l` has `l + 1`.
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

/// The runs of the query indexes, in leaf order.
pub(super) fn list(runs: &impl ReadableTable<u64, &'static [u8]>) -> Result<Vec<RunInfo>> {
    let mut out = Vec::new();
    for item in runs.iter().map_err(storage_err)? {
        let (k, v) = item.map_err(storage_err)?;
        out.push(RunInfo::decode(k.value(), v.value())?);
    }
    Ok(out)
}

/// Where the query indexes' runs end (the first leaf of the unindexed tail).
pub(super) fn runs_end(runs: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    match runs.last().map_err(storage_err)? {
        Some((k, v)) => Ok(RunInfo::decode(k.value(), v.value())?.end),
        None => Ok(0),
    }
}

/// A tail longer than any writer leaves: the index runs were cut short.
pub(super) fn unindexed_tail(first: u64, size: u64) -> Error {
    Error::Tampered {
        location: "posting runs".into(),
        detail: format!(
            "cover leaves up to {first}, tree size {size}: at most {} leaves are left unindexed",
            INDEX_TAIL_LEAVES - 1
        ),
    }
}

/// Append the postings of stored leaves `first..end` to `out` (unsorted).
pub(super) fn index_leaves<T: ReadableTable<u64, &'static [u8]>>(
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

/// The two tables of the query indexes in one read snapshot.
pub(super) struct RunTables<'t> {
    pub(super) runs: &'t ReadOnlyTable<u64, &'static [u8]>,
    pub(super) blocks: &'t ReadOnlyTable<BlockKey, &'static [u8]>,
}

impl RunTables<'_> {
    /// See [`super::Reader::posting_chunk`].
    pub(super) fn posting_chunk(&self, term: &[u8], from: u64, back: bool) -> Result<Vec<u64>> {
        let h = term_hash(term);
        // The run holding `from`, or the next one in the direction of travel.
        let mut run = match self.runs.range(..=from).map_err(storage_err)?.next_back() {
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
        match self.runs.range(start..).map_err(storage_err)?.next() {
            Some(item) => {
                let (k, v) = item.map_err(storage_err)?;
                Ok(Some(RunInfo::decode(k.value(), v.value())?))
            }
            None => Ok(None),
        }
    }

    /// The last run starting before leaf `before`.
    fn prev_run(&self, before: u64) -> Result<Option<RunInfo>> {
        match self.runs.range(..before).map_err(storage_err)?.next_back() {
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
            .blocks
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
            .blocks
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

    /// See [`super::Reader::check_postings`].
    pub(super) fn check(&self, size: u64, dense: bool) -> Result<u64> {
        let mut runs = Vec::new();
        let mut end = 0u64;
        for item in self.runs.iter().map_err(storage_err)? {
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
        for item in self.blocks.iter().map_err(storage_err)? {
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

    /// See [`super::Reader::run_slice`].
    pub(super) fn run_slice(
        &self,
        run: &RunInfo,
        lo: u64,
        hi: u64,
        mut f: impl FnMut(Posting) -> Result<()>,
    ) -> Result<()> {
        let id = run.id;
        // The block before (id, lo, 0) may hold postings of `lo` onwards.
        let start = match self
            .blocks
            .range((id, 0, 0)..=(id, lo, 0))
            .map_err(storage_err)?
            .next_back()
        {
            Some(item) => item.map_err(storage_err)?.0.value(),
            None => (id, lo, 0),
        };
        for item in self
            .blocks
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
}

/// Write the postings `ps` of leaves `first..end` (the unindexed tail and a commit's own) as a
/// new run, or into the last run when both are small (see [`SMALL_RUN`]), then merge runs
/// while the last [`MERGE_WIDTH`] have the same level and the merged run stays under the cap
/// ([`MERGED_POSTINGS_CAP`]).
pub(super) fn add_run(
    runs: &mut redb::Table<'_, u64, &'static [u8]>,
    blocks: &mut BlockTable<'_>,
    first: u64,
    end: u64,
    mut ps: Vec<Posting>,
) -> Result<()> {
    ps.sort_unstable();
    ps.dedup();
    if let Some(&(_, i)) = ps.iter().find(|(_, i)| *i < first || *i >= end) {
        return Err(Error::Internal(format!(
            "posting for leaf {i} outside the leaves to index {first}..{end}"
        )));
    }
    if ps.len() < SMALL_RUN {
        let last = match runs.last().map_err(storage_err)? {
            Some((k, v)) => Some(RunInfo::decode(k.value(), v.value())?),
            None => None,
        };
        if let Some(last) = last.filter(|r| {
            r.level == 0 && r.end == first && r.postings + ps.len() as u64 <= SMALL_RUN as u64
        }) {
            return extend_run(runs, blocks, last, ps, end);
        }
    }
    let id = next_run_id(blocks)?;
    let count = ps.len() as u64;
    write_run(blocks, id, ps.into_iter().map(Ok))?;
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
        if merged > max_merged_postings() {
            return Ok(());
        }
        tail.reverse();
        merge_runs(runs, blocks, &tail)?;
    }
}

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
/// everything before it (some 25 s at 32 million entries).
const MERGED_POSTINGS_CAP: u64 = 4 << 20;

/// The merge cap in force, [`MERGED_POSTINGS_CAP`] unless a test lowers it: reaching the real
/// cap would take millions of entries. Only with the `testing` feature; not part of the API.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub static MAX_MERGED_POSTINGS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(MERGED_POSTINGS_CAP);

#[cfg(feature = "testing")]
fn max_merged_postings() -> u64 {
    MAX_MERGED_POSTINGS.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(not(feature = "testing"))]
fn max_merged_postings() -> u64 {
    MERGED_POSTINGS_CAP
}

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
