//! Traceability: the secondary indexes, queries over them, `trace` and `why`.
//!
//! Every audit entry is indexed, in the same write transaction that stores it, under its
//! actor, delegation chain (`via`), action, subject, `attrs` pairs, external `ref`s, link
//! targets, authorization decision and policy. A [`Query`] ANDs any of these with a time
//! range; it walks the posting lists of its terms together (a leapfrog join: each list jumps
//! to the largest candidate seen so far) and reads only the entries it returns, never the
//! whole ledger. `time` needs no index of its own: the ledger's times never decrease, so a
//! time bound becomes an index bound by binary search over O(log n) entries. `occurred_at`
//! (when the source says it happened) is in no such order, so it has an index of its own (the
//! storage's `occurred` table): an `occurred_since` / `occurred_until` window is a range scan of
//! it, whose hits, sorted by index, join the posting lists as one more list. Entries without
//! `occurred_at` are in no window.
//!
//! ```
//! use trailseal::{CreateOptions, Ledger, query::Query};
//! use serde_json::json;
//! let dir = tempfile::tempdir().unwrap();
//! let l = Ledger::create(dir.path().join("q.redb"), &CreateOptions::new("example.com/q")).unwrap();
//! for who in ["alice", "bob", "alice"] {
//!     l.append(&json!({"actor": {"id": who}, "action": "deploy.succeeded",
//!                      "subject": {"type": "service", "id": "api"}})).unwrap();
//! }
//! let page = l.query(&Query { actor: Some("alice".into()), ..Query::default() }).unwrap();
//! assert_eq!(page.entries.iter().map(|f| f.index).collect::<Vec<_>>(), vec![2, 0]);
//! ```

use serde_json::{json, Value};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::storage::Reader;

/// One index term: what an entry is filed under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Term {
    /// `actor.id`
    Actor(String),
    /// One member of `actor.via`.
    Via(String),
    /// `action`
    Action(String),
    /// `subject.type`, `subject.id`
    Subject(String, String),
    /// One `attrs` pair.
    Attr(String, String),
    /// One external `ref` of `links`.
    Ref(String),
    /// One `index` target of `links`.
    LinksTo(u64),
    /// `authz.decision`
    Decision(String),
    /// `authz.policy`
    Policy(String),
}

impl Term {
    /// The storage key: a kind byte, then each part length-prefixed. Each kind has a fixed
    /// number of parts, so no key is a prefix of another's.
    pub fn key(&self) -> Vec<u8> {
        let mut k = Vec::new();
        self.as_ref().write_key(&mut k);
        k
    }

    fn as_ref(&self) -> TermRef<'_> {
        match self {
            Term::Actor(a) => TermRef::Actor(a),
            Term::Via(a) => TermRef::Via(a),
            Term::Action(a) => TermRef::Action(a),
            Term::Subject(t, i) => TermRef::Subject(t, i),
            Term::Attr(k, v) => TermRef::Attr(k, v),
            Term::Ref(r) => TermRef::Ref(r),
            Term::LinksTo(i) => TermRef::LinksTo(*i),
            Term::Decision(d) => TermRef::Decision(d),
            Term::Policy(p) => TermRef::Policy(p),
        }
    }

    /// Every term a (valid) entry is filed under, sorted, without repeats.
    pub fn of_entry(e: &Value) -> Vec<Term> {
        let mut out: Vec<Term> = TermRef::of_entry(e)
            .into_iter()
            .map(|t| t.to_owned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The term hashes ([`crate::postings::term_hash`]) of every term of `e`, appended to
    /// `out` (possibly repeated: the index dedups), without building owned terms; `buf` is
    /// scratch space reused between calls.
    pub fn hashes_of_entry(e: &Value, buf: &mut Vec<u8>, out: &mut Vec<u64>) {
        Term::keys_of_entry(e, buf, |key| out.push(crate::postings::term_hash(key)));
    }

    /// Calls `f` with the key ([`Term::key`]) of every term of `e` (possibly repeated),
    /// without building owned terms; `buf` is scratch space reused between calls.
    pub fn keys_of_entry(e: &Value, buf: &mut Vec<u8>, mut f: impl FnMut(&[u8])) {
        for t in TermRef::of_entry(e) {
            buf.clear();
            t.write_key(buf);
            f(buf);
        }
    }
}

/// A [`Term`] borrowing from the entry: indexing files every entry under ~8 terms, and
/// cloning each string only to hash it costs more than the hashing.
#[derive(Clone, Copy, Debug)]
enum TermRef<'a> {
    Actor(&'a str),
    Via(&'a str),
    Action(&'a str),
    Subject(&'a str, &'a str),
    Attr(&'a str, &'a str),
    Ref(&'a str),
    LinksTo(u64),
    Decision(&'a str),
    Policy(&'a str),
}

impl TermRef<'_> {
    fn write_key(&self, k: &mut Vec<u8>) {
        let (kind, parts): (u8, [&str; 2]) = match *self {
            TermRef::Actor(a) => (b'a', [a, ""]),
            TermRef::Via(a) => (b'v', [a, ""]),
            TermRef::Action(a) => (b'c', [a, ""]),
            TermRef::Subject(t, i) => (b's', [t, i]),
            TermRef::Attr(key, v) => (b't', [key, v]),
            TermRef::Ref(r) => (b'r', [r, ""]),
            TermRef::LinksTo(i) => {
                k.push(b'l');
                k.extend_from_slice(&i.to_be_bytes());
                return;
            }
            TermRef::Decision(d) => (b'd', [d, ""]),
            TermRef::Policy(p) => (b'p', [p, ""]),
        };
        let n = if matches!(kind, b's' | b't') { 2 } else { 1 };
        k.push(kind);
        for part in &parts[..n] {
            k.extend_from_slice(&(part.len() as u32).to_be_bytes());
            k.extend_from_slice(part.as_bytes());
        }
    }

    fn to_owned(self) -> Term {
        match self {
            TermRef::Actor(a) => Term::Actor(a.into()),
            TermRef::Via(a) => Term::Via(a.into()),
            TermRef::Action(a) => Term::Action(a.into()),
            TermRef::Subject(t, i) => Term::Subject(t.into(), i.into()),
            TermRef::Attr(k, v) => Term::Attr(k.into(), v.into()),
            TermRef::Ref(r) => Term::Ref(r.into()),
            TermRef::LinksTo(i) => Term::LinksTo(i),
            TermRef::Decision(d) => Term::Decision(d.into()),
            TermRef::Policy(p) => Term::Policy(p.into()),
        }
    }

    fn of_entry(e: &Value) -> Vec<TermRef<'_>> {
        fn members(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
            v.as_object().into_iter().flatten()
        }
        let mut out = Vec::with_capacity(12);
        let Some(obj) = e.as_object() else {
            return out;
        };
        // One pass over each object's members: a lookup by name hashes the name (SipHash in
        // serde_json's ordered map), which costs more than walking a handful of members.
        for (name, v) in obj {
            match name.as_str() {
                "actor" => {
                    for (k, v) in members(v) {
                        match k.as_str() {
                            "id" => out.extend(v.as_str().map(TermRef::Actor)),
                            "via" => {
                                for via in v.as_array().into_iter().flatten() {
                                    out.extend(via.as_str().map(TermRef::Via));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                "action" => out.extend(v.as_str().map(TermRef::Action)),
                "subject" => {
                    let (mut t, mut i) = (None, None);
                    for (k, v) in members(v) {
                        match k.as_str() {
                            "type" => t = v.as_str(),
                            "id" => i = v.as_str(),
                            _ => {}
                        }
                    }
                    if let (Some(t), Some(i)) = (t, i) {
                        out.push(TermRef::Subject(t, i));
                    }
                }
                "attrs" => {
                    for (k, v) in members(v) {
                        out.extend(v.as_str().map(|v| TermRef::Attr(k, v)));
                    }
                }
                "links" => {
                    for l in v.as_array().into_iter().flatten() {
                        for (k, v) in members(l) {
                            match k.as_str() {
                                "ref" => out.extend(v.as_str().map(TermRef::Ref)),
                                "index" => out.extend(v.as_u64().map(TermRef::LinksTo)),
                                _ => {}
                            }
                        }
                    }
                }
                "authz" => {
                    for (k, v) in members(v) {
                        match k.as_str() {
                            "decision" => out.extend(v.as_str().map(TermRef::Decision)),
                            "policy" => out.extend(v.as_str().map(TermRef::Policy)),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Which end a query starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Highest index first (the default: "what happened lately").
    #[default]
    NewestFirst,
    /// Lowest index first.
    OldestFirst,
}

/// A search: every given filter must hold (AND).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `actor.id` equals.
    pub actor: Option<String>,
    /// `actor.via` contains.
    pub via: Option<String>,
    /// `action` equals.
    pub action: Option<String>,
    /// `subject` equals `(type, id)`.
    pub subject: Option<(String, String)>,
    /// Each `attrs` pair is present.
    pub attrs: Vec<(String, String)>,
    /// Each external ref is among `links`.
    pub refs: Vec<String>,
    /// `authz.decision` equals (e.g. `break_glass`).
    pub decision: Option<String>,
    /// `authz.policy` equals.
    pub policy: Option<String>,
    /// Links to this earlier entry.
    pub links_to: Option<u64>,
    /// `time >= since`.
    pub since: Option<Timestamp>,
    /// `time < until`.
    pub until: Option<Timestamp>,
    /// `occurred_at >= occurred_since`: when the source says it happened, not the ledger's
    /// `time`. Entries without `occurred_at` never match a query with either bound.
    pub occurred_since: Option<Timestamp>,
    /// `occurred_at < occurred_until`.
    pub occurred_until: Option<Timestamp>,
    /// Which end to start from.
    pub order: Order,
    /// Most entries per page (0 means the default, 100).
    pub limit: usize,
    /// The `next_cursor` of the previous page, to continue from.
    pub cursor: Option<String>,
}

impl Query {
    /// The index terms this query ANDs.
    pub fn terms(&self) -> Vec<Term> {
        let mut t = Vec::new();
        t.extend(self.actor.clone().map(Term::Actor));
        t.extend(self.via.clone().map(Term::Via));
        t.extend(self.action.clone().map(Term::Action));
        t.extend(self.subject.clone().map(|(a, b)| Term::Subject(a, b)));
        t.extend(
            self.attrs
                .iter()
                .map(|(k, v)| Term::Attr(k.clone(), v.clone())),
        );
        t.extend(self.refs.iter().cloned().map(Term::Ref));
        t.extend(self.decision.clone().map(Term::Decision));
        t.extend(self.policy.clone().map(Term::Policy));
        t.extend(self.links_to.map(Term::LinksTo));
        t
    }

    /// A query from its JSON form, as the bindings pass it: `{"actor": "alice", "subject":
    /// "release:2026.11.3", "attrs": {"env": "prod"}, "refs": ["git:abc"], "since": "<RFC
    /// 3339>", "order": "oldest", "limit": 50, "cursor": "..."}` (every field optional;
    /// also `via`, `decision`, `policy`, `links_to`, `until`, and `occurred_since` /
    /// `occurred_until` (RFC 3339, on `occurred_at`); any other key is refused).
    pub fn from_json(v: &Value) -> Result<Query> {
        let bad = |field: &str, why: &str| Error::malformed("query", format!("`{field}`: {why}"));
        let obj = v
            .as_object()
            .ok_or_else(|| bad("(query)", "must be an object"))?;
        const FIELDS: &[&str] = &[
            "actor",
            "via",
            "action",
            "subject",
            "attrs",
            "refs",
            "decision",
            "policy",
            "links_to",
            "since",
            "until",
            "occurred_since",
            "occurred_until",
            "order",
            "limit",
            "cursor",
        ];
        // A misspelt filter must not silently widen the query to everything.
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(bad(
                k,
                &format!("unknown filter; known: {}", FIELDS.join(", ")),
            ));
        }
        let text = |k: &str| -> Result<Option<String>> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(k, "must be a string")),
            }
        };
        let mut q = Query {
            actor: text("actor")?,
            via: text("via")?,
            action: text("action")?,
            decision: text("decision")?,
            policy: text("policy")?,
            cursor: text("cursor")?,
            ..Query::default()
        };
        if let Some(s) = text("subject")? {
            q.subject = Some(split_subject(&s)?);
        }
        match obj.get("attrs") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .ok_or_else(|| bad("attrs", "values must be strings"))?;
                    q.attrs.push((k.clone(), v.to_owned()));
                }
            }
            Some(_) => return Err(bad("attrs", "must be an object")),
        }
        match obj.get("refs") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) => {
                for r in a {
                    q.refs.push(
                        r.as_str()
                            .ok_or_else(|| bad("refs", "must be strings"))?
                            .into(),
                    );
                }
            }
            Some(Value::String(r)) => q.refs.push(r.clone()),
            Some(_) => return Err(bad("refs", "must be a list of strings")),
        }
        if let Some(v) = obj.get("links_to").filter(|v| !v.is_null()) {
            q.links_to = Some(
                v.as_u64()
                    .ok_or_else(|| bad("links_to", "must be an index"))?,
            );
        }
        if let Some(s) = text("since")? {
            q.since = Some(Timestamp::parse(&s)?);
        }
        if let Some(s) = text("until")? {
            q.until = Some(Timestamp::parse(&s)?);
        }
        if let Some(s) = text("occurred_since")? {
            q.occurred_since = Some(Timestamp::parse(&s)?);
        }
        if let Some(s) = text("occurred_until")? {
            q.occurred_until = Some(Timestamp::parse(&s)?);
        }
        q.order = match text("order")?.as_deref() {
            None | Some("newest") => Order::NewestFirst,
            Some("oldest") => Order::OldestFirst,
            Some(_) => return Err(bad("order", "must be \"newest\" or \"oldest\"")),
        };
        if let Some(v) = obj.get("limit").filter(|v| !v.is_null()) {
            q.limit = v.as_u64().ok_or_else(|| bad("limit", "must be a number"))? as usize;
        }
        Ok(q)
    }
}

/// `TYPE:ID` split at the first colon (ids may hold colons: `oci:sha256:...`).
pub fn split_subject(s: &str) -> Result<(String, String)> {
    match s.split_once(':') {
        Some((t, i)) if !t.is_empty() && !i.is_empty() => Ok((t.to_owned(), i.to_owned())),
        _ => Err(Error::malformed("subject", format!("{s:?} is not TYPE:ID"))),
    }
}

/// One entry a query or trace found.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Its index.
    pub index: u64,
    /// The entry as recorded.
    pub entry: Value,
}

impl Found {
    /// `{"index": N, "entry": {...}}`
    pub fn to_json(&self) -> Value {
        json!({"index": self.index, "entry": self.entry})
    }
}

/// One page of query results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Matching entries in the query's order.
    pub entries: Vec<Found>,
    /// Pass as `Query::cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl Page {
    /// `{"entries": [{"index", "entry"}], "next_cursor": "..." | null}`
    pub fn to_json(&self) -> Value {
        json!({
            "entries": self.entries.iter().map(Found::to_json).collect::<Vec<_>>(),
            "next_cursor": self.next_cursor,
        })
    }
}

/// The term hashes of stored entry `index` (see [`crate::storage::LeafTerms`]).
pub(crate) fn leaf_term_hashes(
    index: u64,
    leaf: &[u8],
    buf: &mut Vec<u8>,
    out: &mut Vec<u64>,
) -> Result<()> {
    // Pruned: it has no terms any more (its postings are masked, see `check_indexes`).
    if leaf.is_empty() {
        return Ok(());
    }
    let entry: Value = serde_json::from_slice(leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not JSON: {e}"),
    })?;
    Term::hashes_of_entry(&entry, buf, out);
    Ok(())
}

/// The `occurred_at` of stored entry `index` in Unix nanoseconds, if it has one (see
/// [`crate::storage::LeafOccurred`]).
pub(crate) fn leaf_occurred(index: u64, leaf: &[u8]) -> Result<Option<i128>> {
    // Pruned: its row went with its bytes.
    if leaf.is_empty() {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Occurred<'a> {
        #[serde(borrow)]
        occurred_at: Option<std::borrow::Cow<'a, str>>,
    }
    let e: Occurred<'_> = serde_json::from_slice(leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not a JSON object: {e}"),
    })?;
    e.occurred_at
        .map(|s| Timestamp::parse(&s).map(Timestamp::unix_nanos))
        .transpose()
        .map_err(|e| Error::Tampered {
            location: format!("leaf {index}"),
            detail: format!("stored occurred_at: {e}"),
        })
}

/// The entry's `occurred_at` (nanoseconds), if it has a valid one.
fn occurred_of(entry: &Value) -> Option<i128> {
    entry
        .get("occurred_at")
        .and_then(Value::as_str)
        .and_then(|s| Timestamp::parse(s).ok())
        .map(Timestamp::unix_nanos)
}

/// Walks one posting list, forward or backward, jumping to a target: the indexed postings
/// from the runs, then those of the unindexed tail.
pub(crate) struct Postings<'r> {
    reader: &'r Reader,
    key: Vec<u8>,
    back: bool,
    chunk: Vec<u64>,
    /// Where the runs end and the tail starts.
    indexed: u64,
    /// This term's postings in the tail, ascending.
    tail: Vec<u64>,
    /// This term's personal postings (SPEC section 10: entries filed under it through a
    /// sealed value, kept apart from the runs so that erasing removes them), ascending.
    personal: Vec<u64>,
}

impl<'r> Postings<'r> {
    pub(crate) fn new(reader: &'r Reader, term: &Term, back: bool) -> Result<Postings<'r>> {
        let key = term.key();
        let h = crate::postings::term_hash(&key);
        let (indexed, tail) = reader.tail_postings(leaf_term_hashes)?;
        let from = tail.partition_point(|&(th, _)| th < h);
        let tail = tail[from..]
            .iter()
            .take_while(|&&(th, _)| th == h)
            .map(|&(_, i)| i)
            .collect();
        Ok(Postings {
            reader,
            key,
            back,
            chunk: Vec::new(),
            indexed,
            tail,
            personal: reader.personal_postings(h)?,
        })
    }

    /// A list given whole, ascending (the entries of an `occurred_at` window): all of it is
    /// "tail", none in runs.
    fn given(reader: &'r Reader, sorted: Vec<u64>, back: bool) -> Postings<'r> {
        Postings {
            reader,
            key: Vec::new(),
            back,
            chunk: Vec::new(),
            indexed: 0,
            tail: sorted,
            personal: Vec::new(),
        }
    }

    /// Forward: the smallest posting `>= target`; backward: the largest `<= target`.
    pub(crate) fn seek(&mut self, target: u64) -> Result<Option<u64>> {
        let shared = self.seek_shared(target)?;
        if self.personal.is_empty() {
            return Ok(shared);
        }
        let p = &self.personal;
        let own = if self.back {
            p.partition_point(|&x| x <= target)
                .checked_sub(1)
                .map(|i| p[i])
        } else {
            p.get(p.partition_point(|&x| x < target)).copied()
        };
        Ok(match (shared, own) {
            (Some(a), Some(b)) => Some(if self.back { a.max(b) } else { a.min(b) }),
            (a, b) => a.or(b),
        })
    }

    /// [`Postings::seek`] over the runs and the tail (the postings every entry has).
    fn seek_shared(&mut self, target: u64) -> Result<Option<u64>> {
        if self.back {
            if target >= self.indexed {
                let t = &self.tail;
                let n = t.partition_point(|&x| x <= target);
                if let Some(i) = n.checked_sub(1) {
                    return Ok(Some(t[i]));
                }
            }
            match self.indexed.checked_sub(1) {
                Some(last) => self.seek_runs(target.min(last)),
                None => Ok(None),
            }
        } else {
            if target < self.indexed {
                if let Some(y) = self.seek_runs(target)? {
                    return Ok(Some(y));
                }
            }
            let t = &self.tail;
            Ok(t.get(t.partition_point(|&x| x < target)).copied())
        }
    }

    /// [`Postings::seek`] over the runs alone.
    pub(crate) fn seek_runs(&mut self, target: u64) -> Result<Option<u64>> {
        // Inside the loaded chunk the answer is in it, whichever the direction.
        let covered = match (self.chunk.first(), self.chunk.last()) {
            (Some(&lo), Some(&hi)) => target >= lo && target <= hi,
            _ => false,
        };
        if !covered {
            self.chunk = self.reader.posting_chunk(&self.key, target, self.back)?;
        }
        let c = &self.chunk;
        Ok(if self.back {
            let n = c.partition_point(|&x| x <= target);
            n.checked_sub(1).map(|i| c[i])
        } else {
            let n = c.partition_point(|&x| x < target);
            c.get(n).copied()
        })
    }
}

/// Read the `time` of entry `index`; for a pruned entry, that of the next entry kept (times
/// never decrease, so the binary search stays sound), or `None` when none follows below `size`.
fn entry_time(reader: &Reader, index: u64, size: u64) -> Result<Option<Timestamp>> {
    let mut index = index;
    let mut leaf = reader.leaf(index)?;
    while leaf.is_empty() {
        index += 1;
        if index >= size {
            return Ok(None);
        }
        leaf = reader.leaf(index)?;
    }
    let v: Value = serde_json::from_slice(&leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not JSON: {e}"),
    })?;
    v.get("time")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Tampered {
            location: format!("leaf {index}"),
            detail: "stored entry has no time".into(),
        })
        .and_then(Timestamp::parse)
        .map(Some)
}

/// The first index in `[0, size)` whose time is `>= t` (times never decrease).
fn first_at_or_after(reader: &Reader, size: u64, t: Timestamp) -> Result<u64> {
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if entry_time(reader, mid, size)?.is_some_and(|m| m < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// True if `entry` is filed under every one of `terms`.
pub(crate) fn has_terms(entry: &Value, terms: &[Term]) -> bool {
    if terms.is_empty() {
        return true;
    }
    let own = Term::of_entry(entry);
    terms.iter().all(|t| own.binary_search(t).is_ok())
}

/// Entry `index` as stored; a pruned entry (its bytes gone) has `Value::Null`, which no
/// query matches and every question skips.
pub(crate) fn load(reader: &Reader, index: u64) -> Result<Found> {
    let leaf = reader.leaf(index)?;
    if leaf.is_empty() {
        return Ok(Found {
            index,
            entry: Value::Null,
        });
    }
    let entry = serde_json::from_slice(&leaf).map_err(|e| Error::Tampered {
        location: format!("leaf {index}"),
        detail: format!("stored entry is not JSON: {e}"),
    })?;
    let entry = crate::ledger::read_opened(reader, index, entry)?;
    Ok(Found { index, entry })
}

/// Run `q` on a snapshot of `size` entries.
/// Every entry of `action` among the first `size`, oldest first, read page by page through
/// the action index: the configuration entries (key rotations, retention rules, holds) a
/// ledger derives what is in force from.
pub(crate) fn all_with_action(reader: &Reader, size: u64, action: &str) -> Result<Vec<Found>> {
    let mut q = Query {
        action: Some(action.to_owned()),
        order: Order::OldestFirst,
        limit: 1000,
        ..Query::default()
    };
    let mut out = Vec::new();
    loop {
        let page = run(reader, size, &q)?;
        out.extend(page.entries);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

pub(crate) fn run(reader: &Reader, size: u64, q: &Query) -> Result<Page> {
    let limit = if q.limit == 0 { 100 } else { q.limit };
    let mut lo = match q.since {
        Some(t) => first_at_or_after(reader, size, t)?,
        None => 0,
    };
    let mut hi = match q.until {
        Some(t) => first_at_or_after(reader, size, t)?,
        None => size,
    };
    let back = q.order == Order::NewestFirst;
    if let Some(c) = &q.cursor {
        let at: u64 = c
            .parse()
            .map_err(|_| Error::malformed("cursor", format!("{c:?} is not a cursor")))?;
        if back {
            hi = hi.min(at);
        } else {
            lo = lo.max(at.saturating_add(1));
        }
    }
    let terms = q.terms();
    let mut lists: Vec<Postings<'_>> = terms
        .iter()
        .map(|t| Postings::new(reader, t, back))
        .collect::<Result<_>>()?;
    // `occurred_at` is in no order along the ledger: its window is read from its own index
    // (a range scan), as one more sorted list for the join.
    let window = (
        q.occurred_since.map(Timestamp::unix_nanos),
        q.occurred_until.map(Timestamp::unix_nanos),
    );
    let by_occurred = window.0.is_some() || window.1.is_some();
    if by_occurred {
        let within = reader.occurred_window(window, (lo, hi), leaf_occurred)?;
        lists.push(Postings::given(reader, within, back));
    }
    // The index is not covered by the tree: a hit is re-checked on the entry itself.
    let occurred_ok = |e: &Value| {
        !by_occurred
            || occurred_of(e)
                .is_some_and(|t| window.0.is_none_or(|s| t >= s) && window.1.is_none_or(|u| t < u))
    };
    let mut hits = Vec::new();
    let mut more = false;
    if lo < hi {
        // Leapfrog: every list jumps to the current candidate; a list that lands further
        // away makes its landing point the new candidate, until all agree.
        let mut x = if back { hi - 1 } else { lo };
        'outer: loop {
            let mut agreed = true;
            for list in lists.iter_mut() {
                match list.seek(x)? {
                    None => break 'outer,
                    Some(y) if y == x => {}
                    Some(y) => {
                        x = y;
                        agreed = false;
                    }
                }
            }
            if back && x < lo || !back && x >= hi {
                break;
            }
            if agreed {
                // Every list has x: re-check the entry itself, since terms are filed by hash
                // (another term may share it) and the index is not covered by the tree.
                let found = load(reader, x)?;
                if !found.entry.is_null()
                    && has_terms(&found.entry, &terms)
                    && occurred_ok(&found.entry)
                {
                    if hits.len() == limit {
                        more = true;
                        break;
                    }
                    hits.push(found);
                }
                match (back, x) {
                    (true, 0) => break,
                    (true, _) => x -= 1,
                    (false, _) => x += 1,
                }
                if back && x < lo || !back && x >= hi {
                    break;
                }
            }
        }
    }
    let next_cursor = if more {
        hits.last().map(|f| f.index.to_string())
    } else {
        None
    };
    Ok(Page {
        entries: hits,
        next_cursor,
    })
}

/// Most postings one pass of [`check_indexes`] holds in memory (16 bytes each: 128 MiB).
const CHECK_BUDGET: u64 = 8 << 20;

/// Check every posting of the query indexes against the entries themselves: each entry is
/// filed under exactly its terms, no more, no fewer; and the `occurred_at` index likewise
/// (its rows are not counted in the result). Memory stays bounded: a run with more
/// postings than [`CHECK_BUDGET`] is checked in several passes over its leaves, each pass
/// taking one slice of the term-hash space. Returns the postings checked. The runs' structure
/// (tiling the ledger, blocks in order) is `Reader::check_postings`'s, which runs first.
pub(crate) fn check_indexes(reader: &Reader) -> Result<u64> {
    let mut checked = 0u64;
    for run in reader.runs()? {
        let passes = run.postings.div_ceil(CHECK_BUDGET).max(1);
        let width = u64::MAX / passes;
        for pass in 0..passes {
            let lo = pass * width;
            let hi = if pass + 1 == passes {
                u64::MAX
            } else {
                lo + width - 1
            };
            let mut expected = Vec::new();
            let (mut buf, mut hashes) = (Vec::new(), Vec::new());
            // Pruning leaves a pruned entry's postings in place (queries skip it when they
            // read it): they are checked against nothing. One bit per leaf of the run.
            let mut pruned = vec![0u64; (run.end - run.first).div_ceil(64) as usize];
            reader.scan_leaf_range(run.first, run.end, |index, leaf| {
                if leaf.is_empty() {
                    let at = index - run.first;
                    pruned[(at / 64) as usize] |= 1 << (at % 64);
                }
                hashes.clear();
                leaf_term_hashes(index, leaf, &mut buf, &mut hashes)?;
                expected.extend(
                    hashes
                        .iter()
                        .filter(|h| (lo..=hi).contains(*h))
                        .map(|&h| (h, index)),
                );
                Ok(())
            })?;
            expected.sort_unstable();
            expected.dedup();
            let mut want = expected.iter();
            let mismatch = |detail: String| Error::Tampered {
                location: format!("query index (posting run {})", run.id),
                detail,
            };
            let masked = |index: u64| {
                let at = index.wrapping_sub(run.first);
                index >= run.first
                    && pruned
                        .get((at / 64) as usize)
                        .is_some_and(|w| w & (1 << (at % 64)) != 0)
            };
            reader.run_slice(&run, lo, hi, |p| {
                if masked(p.1) {
                    return Ok(());
                }
                match want.next() {
                    Some(&w) if w == p => Ok(()),
                    Some(&w) if w < p => Err(mismatch(format!(
                        "leaf {} is missing from the posting list of one of its terms",
                        w.1
                    ))),
                    _ => Err(mismatch(format!(
                        "leaf {} is filed under a term it does not have",
                        p.1
                    ))),
                }
            })?;
            if let Some(&w) = want.next() {
                return Err(mismatch(format!(
                    "leaf {} is missing from the posting list of one of its terms",
                    w.1
                )));
            }
            checked += expected.len() as u64;
        }
    }
    reader.check_occurred(leaf_occurred)?;
    Ok(checked)
}
