//! Processing one append request inside a group: validation, encoding, hashing, indexing.

use std::borrow::Cow;
use std::collections::HashMap;
#[cfg(feature = "testing")]
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use crate::entry::{self, PersonalFields, Timestamp, ValidEntry};
use crate::error::{join_scoped, noted, Error, Result};
use crate::merkle::{self, Frontier, Hash, HashAlg, NodeId};
use crate::query::Term;
use crate::rules::{Rules, RulesBook, AUDIT_REFUSED, RULES_PUBLISHED};
use crate::storage::Writer;

use super::{Ledger, Receipt};

/// What one append call asks for.
pub(super) enum Work<'a> {
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
    /// `keep_values`: rules are in force, so each prepared entry keeps its JSON for the
    /// leader to judge where it lands.
    /// `ids`: committed indexes are on, with this hash; each prepared entry carries its
    /// term ids for the next commitment.
    pub(super) fn into_owned(
        self,
        size_floor: u64,
        keep_values: bool,
        ids: Option<HashAlg>,
    ) -> Work<'static> {
        match self {
            Work::Entries(e) => match prepare(&e, size_floor, keep_values, ids) {
                Some(prepared) => Work::Prepared(prepared),
                None => Work::Entries(Cow::Owned(e.into_owned())),
            },
            Work::Prepared(p) => Work::Prepared(p),
            Work::Raw(l) => Work::Raw(l.into_iter().map(|c| Cow::Owned(c.into_owned())).collect()),
        }
    }

    /// The request made its own without preparing its entries, so that it can still be
    /// sent to another process (see `relay`).
    pub(super) fn into_plain(self) -> Work<'static> {
        match self {
            Work::Entries(e) => Work::Entries(Cow::Owned(e.into_owned())),
            Work::Prepared(p) => Work::Prepared(p),
            Work::Raw(l) => Work::Raw(l.into_iter().map(|c| Cow::Owned(c.into_owned())).collect()),
        }
    }
}

/// An entry validated and encoded up to its `time` by the thread appending it, with its
/// query index terms; the leader only stamps, hashes and stores it.
pub(super) struct PreparedEntry {
    id: Option<String>,
    /// [`ValidEntry::encoding_before_time`].
    before_time: Vec<u8>,
    terms: Vec<u64>,
    /// Its committed index term ids (empty with committed indexes off).
    ids: Vec<Hash>,
    /// `occurred_at` in Unix nanoseconds, for its index.
    occurred: Option<i128>,
    /// The entry's JSON, kept when rules were in force as it was prepared.
    value: Option<Value>,
    /// The rules it publishes, if it is a `rules.published` entry.
    publishes: Option<Arc<Rules>>,
    /// With personal fields sealed: the openings, the personal terms and the canonical
    /// caller fields as given (for the `id` rule, which compares values, not commitments).
    personal: Option<(Vec<u8>, Vec<u64>, Vec<u8>)>,
}

impl PreparedEntry {
    /// `value` validated as the entry at `index` (refused as [`entry::validate`] refuses it),
    /// encoded up to its `time`, with its index terms; `key_buf` is scratch space.
    /// A `rules.published` entry's document is parsed and checked here too. `ids`: committed
    /// indexes are on, with this hash.
    fn new(
        value: &Value,
        index: u64,
        key_buf: &mut Vec<u8>,
        ids: Option<HashAlg>,
    ) -> Result<PreparedEntry> {
        let valid = entry::validate(value, index)?;
        let publishes = super::rules::published_by(value)?;
        let mut terms = Vec::with_capacity(12);
        Term::hashes_of_entry(value, key_buf, &mut terms);
        Ok(PreparedEntry {
            id: valid.id().map(str::to_owned),
            before_time: valid.encoding_before_time(),
            terms,
            ids: term_ids(ids, value, key_buf),
            occurred: valid.occurred_at_nanos(),
            value: None,
            publishes,
            personal: None,
        })
    }

    /// [`PreparedEntry::new`] in a ledger with personal fields: validated as given, then
    /// sealed (SPEC section 10), so the leaf and its query terms are of the commitments and
    /// the values go beside it.
    fn sealed(
        value: &Value,
        index: u64,
        fields: &PersonalFields,
        key_buf: &mut Vec<u8>,
    ) -> Result<PreparedEntry> {
        let valid = entry::validate(value, index)?;
        let Some(sealed) = super::personal::seal_entry(value, fields)? else {
            return PreparedEntry::new(value, index, key_buf, None);
        };
        let clear_fields = valid.caller_fields_canonical();
        let mut p = PreparedEntry::new(&sealed.leaf_form, index, key_buf, None)?;
        p.personal = Some((sealed.openings, sealed.terms, clear_fields));
        Ok(p)
    }

    /// The entry's JSON for judging: kept, or read back from its encoding.
    fn json(&self) -> Result<Value> {
        if let Some(v) = &self.value {
            return Ok(v.clone());
        }
        let mut text = self.before_time.clone();
        text.push(b'}');
        serde_json::from_slice(&text)
            .map_err(|e| Error::Internal(format!("a prepared entry does not parse: {e}")))
    }
}

/// `entries` prepared for a leader, or `None` if one is refused. Validation depends on the
/// index an entry gets only through its links (each must name an earlier entry), and that
/// index is at least `size_floor`, the size of the ledger when the caller queues: an entry
/// valid at the floor is valid where it lands. Any refusal, or an entry linking at or past
/// the floor, leaves the whole request to the leader's usual path, so that what is refused
/// is reported exactly as it always has been.
fn prepare(
    entries: &[Value],
    size_floor: u64,
    keep_values: bool,
    ids: Option<HashAlg>,
) -> Option<Vec<PreparedEntry>> {
    let mut key_buf = Vec::new();
    entries
        .iter()
        .map(|value| {
            let mut p = PreparedEntry::new(value, size_floor, &mut key_buf, ids).ok()?;
            if keep_values || p.publishes.is_some() {
                p.value = Some(value.clone());
            }
            Some(p)
        })
        .collect()
}

/// The committed index term ids of an entry (`ids`: committed indexes are on, with this
/// hash; else none).
fn term_ids(ids: Option<HashAlg>, value: &Value, buf: &mut Vec<u8>) -> Vec<Hash> {
    let mut out = Vec::new();
    if let Some(alg) = ids {
        crate::commit_index::term_ids_of_entry(alg, value, buf, &mut out);
    }
    out
}

/// The state of one group commit being assembled.
pub(super) struct Group {
    pub(super) w: Writer,
    pub(super) frontier: Frontier,
    pub(super) last_time: Timestamp,
    /// id -> (canonical caller fields, receipt) of entries new in this group
    pub(super) ids: HashMap<String, (Vec<u8>, Receipt)>,
    /// The rules versions, with those published earlier in this group.
    pub(super) rules: RulesBook,
    /// The entry the last rule violation refused, for recording the refusal.
    pub(super) refused: Option<Value>,
    /// Receipts of entries the ledger itself recorded in this group (`audit.refused`,
    /// `index.committed`): no caller gets them.
    pub(super) recorded: Vec<Receipt>,
    /// Set while the ledger queues an entry of its own that rules do not judge (an
    /// `index.committed` entry: the record of the index, not an act of anyone's).
    pub(super) internal: bool,
    /// The term ids of the leaves since the last commitment, when known (committed indexes
    /// on): kept here so that a commitment need not read its leaves back.
    pub(super) uncommitted: Option<super::commit_index::Uncommitted>,
}

impl Ledger {
    /// Queue one request into the group; on refusal, undo exactly what it queued.
    pub(super) fn process(&self, g: &mut Group, work: Work<'_>) -> Result<Vec<Receipt>> {
        let mark = g.w.mark();
        let frontier = g.frontier.clone();
        let last_time = g.last_time;
        let mut new_ids = Vec::new();
        g.refused = None;
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
        if let Err(e) = &result {
            g.w.rollback(mark);
            if let Some(p) = &mut g.uncommitted {
                p.truncate(frontier.size());
            }
            g.rules.truncate_from(frontier.size());
            g.frontier = frontier;
            g.last_time = last_time;
            for id in new_ids {
                g.ids.remove(&id);
            }
            self.record_refusal(g, e);
        }
        result
    }

    /// After a rule violation, queue the `audit.refused` entry recording it, when this
    /// handle records refusals (a refusal that is itself refused is not recorded again).
    fn record_refusal(&self, g: &mut Group, e: &Error) {
        let Some(refused) = g.refused.take() else {
            return;
        };
        if !self.records_refusals()
            || refused.get("action").and_then(Value::as_str) == Some(AUDIT_REFUSED)
        {
            return;
        }
        let record = [super::rules::refusal_entry(&refused, e)];
        if let Ok(receipts) = self.process(g, Work::Entries(Cow::Borrowed(&record))) {
            g.recorded.extend(receipts);
        }
    }

    fn process_entries(
        &self,
        g: &mut Group,
        entries: &[Value],
        new_ids: &mut Vec<String>,
    ) -> Result<Vec<Receipt>> {
        // Sealing draws a salt per personal field and keeps the values apart: the sequential
        // path does it, entry by entry.
        if entries.len() >= PARALLEL_ENCODE_MIN
            && parallel_batches()
            && self.meta.personal.is_empty()
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
        let personal = (!self.meta.personal.is_empty()).then_some(&self.meta.personal);
        for (pos, value) in entries.iter().enumerate() {
            let at = (pos, entries.len());
            // Personal fields and committed indexes do not mix (`Ledger::create`).
            let p = match personal {
                Some(fields) => {
                    PreparedEntry::sealed(value, g.frontier.size(), fields, &mut key_buf)
                }
                None => {
                    PreparedEntry::new(value, g.frontier.size(), &mut key_buf, self.term_ids_alg())
                }
            }
            .map_err(|e| in_batch(e, pos, entries.len()))?;
            receipts.push(self.queue_valid(g, at, p, Some(value), new_ids)?);
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
            receipts.push(self.queue_valid(g, (pos, len), p, None, new_ids)?);
        }
        Ok(receipts)
    }

    /// One prepared entry of a request (at `(position, request length)`) into the group: the
    /// stored entry's receipt if its id is recorded with the same fields, else the entry
    /// stamped with its `time` (refused if then over the size limit), hashed and queued.
    /// A new entry is first judged by the rules in force at the index it takes; a
    /// `rules.published` entry then puts its rules in force after it. `value`: the entry's
    /// JSON, when the caller has it.
    fn queue_valid(
        &self,
        g: &mut Group,
        (pos, len): (usize, usize),
        p: PreparedEntry,
        value: Option<&Value>,
        new_ids: &mut Vec<String>,
    ) -> Result<Receipt> {
        let index = g.frontier.size();
        let judged = if g.rules.at(index).is_some() && !g.internal {
            Some(match value {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(p.json()?),
            })
        } else {
            None
        };
        let PreparedEntry {
            id,
            before_time,
            terms,
            ids,
            occurred,
            value: _,
            publishes,
            personal,
        } = p;
        let (personal, clear_fields) = match personal {
            Some((openings, terms, fields)) => (Some((openings, terms)), Some(fields)),
            None => (None, None),
        };
        let id = id.as_deref().map(|id| {
            let fields =
                clear_fields.unwrap_or_else(|| entry::caller_fields_canonical(&before_time));
            (id, fields)
        });
        if let Some((id, fields)) = &id {
            if let Some(r) = self.existing_receipt(g, id, fields)? {
                return Ok(r);
            }
        }
        if let Some(v) = &judged {
            if let Err(e) = super::rules::judge_in_group(g, v, index, (&[], u64::MAX)) {
                g.refused = Some(v.clone().into_owned());
                return Err(in_batch(e, pos, len));
            }
        }
        let time = Timestamp::now().at_least(g.last_time);
        g.last_time = time;
        let bytes = entry::encode_with_time(before_time, &time, self.meta.max_entry_bytes)
            .map_err(|e| in_batch(e, pos, len))?;
        let alg = self.meta.hash;
        let leaf_hash = alg.leaf_hash(&bytes);
        let receipt = queue_entry(
            g,
            alg,
            id,
            (bytes, leaf_hash, time),
            (&terms, &ids, occurred),
            new_ids,
        );
        if let Some((openings, terms)) = personal {
            g.w.put_personal(index, openings, terms);
        }
        if let Some(rules) = publishes {
            g.w.put_rules_version(index, rules.digest.clone());
            g.rules.push(index, rules);
        }
        Ok(receipt)
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
        // A batch that publishes rules takes the sequential path, which puts them in force
        // entry by entry.
        if entries
            .iter()
            .any(|v| v.get("action").and_then(Value::as_str) == Some(RULES_PUBLISHED))
        {
            return Ok(None);
        }
        let base = g.frontier.size();
        let mut next = base;
        let mut plan = Vec::with_capacity(entries.len());
        let mut new_values: Vec<&Value> = Vec::new();
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
            // Judged here, in order, by the rules in force at its index (a refusal is
            // reported by the sequential path).
            if super::rules::judge_in_group(g, value, next, (&new_values, base)).is_err() {
                return Ok(None);
            }
            let time = Timestamp::now().at_least(g.last_time);
            g.last_time = time;
            plan.push(Planned::New(next, time, value));
            new_values.push(value);
            next += 1;
        }
        let new: Vec<(u64, Timestamp, &Value)> = plan
            .iter()
            .filter_map(|p| match p {
                Planned::New(i, t, value) => Some((*i, *t, *value)),
                Planned::Existing(_) => None,
            })
            .collect();
        type Encoded<'v> = Result<(ValidEntry<'v>, Vec<u8>, Hash, Vec<u64>, Vec<Hash>)>;
        fn encode<'v>(
            alg: HashAlg,
            max: u64,
            ids: Option<HashAlg>,
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
                    let ids = term_ids(ids, value, &mut buf);
                    Ok((valid, bytes, [0; 32], terms, ids))
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
        let ids = self.term_ids_alg();
        let mut encoded = std::thread::scope(|s| {
            let other = s.spawn(noted(|| encode(alg, max, ids, second)));
            let mut done = encode(alg, max, ids, first);
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
            let Some(Ok((valid, bytes, leaf_hash, terms, ids))) = encoded.next() else {
                return Err(Error::Internal("an encoded entry went missing".into()));
            };
            let id = valid.id().map(|id| (id, valid.caller_fields_canonical()));
            let occurred = valid.occurred_at_nanos();
            receipts.push(queue_entry(
                g,
                alg,
                id,
                (bytes, leaf_hash, time),
                (&terms, &ids, occurred),
                new_ids,
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
        // With sealed fields, what the caller gave is compared with the stored values (the
        // commitments differ with every salt); once erased, they cannot be compared.
        let stored_fields = if super::personal::has_sealed_member(&leaf) {
            super::personal::stored_clear_fields(index, &leaf, g.w.openings(index)?.as_deref())?
        } else {
            Some(entry::stored_caller_fields_canonical(&leaf)?)
        };
        if stored_fields.as_deref() != Some(ours) {
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
        ids.extend(merkle::subtrees(0, index + 1));
        let hashes = g.w.nodes(&ids)?;
        Ok(Some(Receipt {
            index,
            leaf_hash: hashes[0],
            tree_size: index + 1,
            root: merkle::fold_subtrees(self.meta.hash, &hashes[1..]),
            time,
        }))
    }
}

fn in_batch(e: Error, pos: usize, len: usize) -> Error {
    match e {
        Error::InvalidEntry { field, rule } if len > 1 => Error::InvalidEntry {
            field: format!("[{pos}].{field}"),
            rule,
        },
        Error::RuleViolation {
            class,
            requirement,
            version,
        } if len > 1 => Error::RuleViolation {
            class,
            requirement: format!("entry {pos} of the batch: {requirement}"),
            version,
        },
        other => other,
    }
}

/// Test hook (the `testing` feature): `false` sends every batch down the one-entry-at-a-time
/// path, so a test can hold the two paths to the same results. Not part of the API.
#[cfg(feature = "testing")]
pub static PARALLEL_BATCHES: AtomicBool = AtomicBool::new(true);

/// Whether a large batch may take the two-thread path (always, but under the test hook).
fn parallel_batches() -> bool {
    #[cfg(feature = "testing")]
    return PARALLEL_BATCHES.load(Ordering::Relaxed);
    #[cfg(not(feature = "testing"))]
    true
}

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

/// Queue a new entry's leaf (its bytes, leaf hash and `time`), its index terms, committed
/// index term ids and `occurred_at` (nanoseconds) and its `id` (with its canonical caller
/// fields) into the group; its receipt.
fn queue_entry(
    g: &mut Group,
    alg: HashAlg,
    id: Option<(&str, Vec<u8>)>,
    (bytes, leaf_hash, time): (Vec<u8>, Hash, Timestamp),
    (term_hashes, term_ids, occurred): (&[u64], &[Hash], Option<i128>),
    new_ids: &mut Vec<String>,
) -> Receipt {
    let index = g.frontier.size();
    let receipt = push_hashed_leaf(alg, &mut g.frontier, &mut g.w, bytes, leaf_hash, Some(time));
    g.w.put_postings(term_hashes, index);
    if let Some(p) = &mut g.uncommitted {
        p.push(index, term_ids);
    }
    if let Some(at) = occurred {
        g.w.put_occurred(at, index);
    }
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
pub(super) fn receipt_roots(
    alg: HashAlg,
    mut frontier: Frontier,
    leaf_hashes: &[Hash],
) -> Vec<Hash> {
    leaf_hashes
        .iter()
        .map(|h| {
            frontier.push(alg, *h, |_, _| {});
            frontier.root(alg)
        })
        .collect()
}

/// Below this many new leaves a group computes receipt roots inline: a thread costs more.
pub(super) const PARALLEL_ROOTS_MIN: usize = 64;
