//! Completeness proofs (SPEC section 9.5): the answer to a query over an index range, and
//! proof that it holds every entry of the log that matches, no more, against one signed
//! checkpoint.
//!
//! A proof carries, for each term, the map proof at the last commitment and the revealed run
//! of the term's committed list (with one neighbour on each side); the entries the committed
//! lists name in the range, each with its inclusion proof; and the commitment entry with every
//! entry after it (the tail), as one range of leaves proven against the checkpoint. Whoever
//! checks it recomputes the answer: the intersection of the terms' committed hits, plus the
//! tail's entries that hold every term.

use serde_json::{json, Map, Value};

use super::map::{hashes, hex_at, MapProof, Terminal};
use super::term::{exact, term_from_json, term_id, term_to_json};
use super::{commitment_of, list, INDEX_COMMITTED};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::merkle::{range, to_hex, Hash, HashAlg};
use crate::note::Verifier;
use crate::proof::InclusionProof;
use crate::query::{has_terms, Found, Term};

/// The `format` of this version.
pub const FORMAT: &str = "trailseal-completeness/1";

/// Most terms in one proven query (a conjunction is proven per term, so each term adds a map
/// proof and a list run).
pub const MAX_TERMS: usize = 16;

/// A revealed run of a term's committed list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRun {
    /// Elements in the whole list.
    pub count: u64,
    /// Position of the first revealed element.
    pub first: u64,
    /// The revealed elements, ascending.
    pub values: Vec<u64>,
    /// The range proof of the run in the list tree.
    pub proof: Vec<Hash>,
}

/// One term's part of a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermProof {
    /// The term.
    pub term: Term,
    /// Its map proof at the commitment.
    pub map: MapProof,
    /// Its list run, exactly when the map holds it.
    pub list: Option<ListRun>,
}

/// An entry the committed lists name, with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenEntry {
    /// Its index.
    pub index: u64,
    /// The leaf bytes (the entry's canonical JSON), verbatim.
    pub leaf: String,
    /// Its audit path to the checkpoint's root.
    pub path: Vec<Hash>,
}

/// A completeness proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletenessProof {
    /// The log's origin.
    pub origin: String,
    /// Tree hash.
    pub hash: HashAlg,
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// The signed checkpoint note.
    pub checkpoint: String,
    /// The asked index range `[lo, hi)` (`hi` at most `tree_size`).
    pub range: (u64, u64),
    /// Per term.
    pub terms: Vec<TermProof>,
    /// Index of the first leaf of `log_leaves`: the commitment entry's, or 0 without one.
    pub log_first: u64,
    /// Leaves `log_first..tree_size`, verbatim.
    pub log_leaves: Vec<String>,
    /// Their range proof against `root`.
    pub log_proof: Vec<Hash>,
    /// The committed hits.
    pub entries: Vec<ProvenEntry>,
}

/// What a checked proof says.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletenessReport {
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The commitment's leaf index, if the log had one.
    pub commitment: Option<u64>,
    /// Every matching entry in the range, ascending.
    pub entries: Vec<Found>,
}

fn hexes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(to_hex).collect()
}

impl CompletenessProof {
    /// The JSON form (SPEC section 9.5).
    pub fn to_json(&self) -> Value {
        json!({
            "format": FORMAT,
            "origin": self.origin,
            "hash": self.hash.name(),
            "tree_size": self.tree_size,
            "root": to_hex(&self.root),
            "checkpoint": self.checkpoint,
            "range": [self.range.0, self.range.1],
            "terms": self.terms.iter().map(|t| json!({
                "term": term_to_json(&t.term),
                "map": t.map.to_json(),
                "list": t.list.as_ref().map(|l| json!({
                    "count": l.count, "first": l.first, "values": l.values, "proof": hexes(&l.proof),
                })),
            })).collect::<Vec<_>>(),
            "log": {"first": self.log_first, "leaves": self.log_leaves, "proof": hexes(&self.log_proof)},
            "entries": self.entries.iter().map(|e| json!({
                "index": e.index, "leaf": e.leaf, "path": hexes(&e.path),
            })).collect::<Vec<_>>(),
        })
    }

    /// Parse the JSON form strictly (unknown or missing members refused); nothing is checked
    /// but shape: [`CompletenessProof::verify`] checks.
    pub fn from_json(v: &Value) -> Result<CompletenessProof> {
        let bad = |why: String| Error::malformed("completeness proof", why);
        let obj = object(v, "proof")?;
        exact(
            obj,
            &[
                "format",
                "origin",
                "hash",
                "tree_size",
                "root",
                "checkpoint",
                "range",
                "terms",
                "log",
                "entries",
            ],
        )
        .map_err(bad)?;
        if obj["format"] != FORMAT {
            return Err(bad(format!("`format` must be {FORMAT:?}")));
        }
        let hash: HashAlg = text(&obj["hash"], "hash")?.parse()?;
        let range = obj["range"]
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((a[0].as_u64()?, a[1].as_u64()?)))
            .ok_or_else(|| bad("`range` must be [lo, hi]".into()))?;
        let terms = array(&obj["terms"], "terms")?;
        if terms.is_empty() || terms.len() > MAX_TERMS {
            return Err(bad(format!("1 to {MAX_TERMS} terms")));
        }
        let terms = terms
            .iter()
            .map(|t| {
                let o = object(t, "term proof")?;
                exact(o, &["term", "map", "list"]).map_err(bad)?;
                let list = match &o["list"] {
                    Value::Null => None,
                    l => {
                        let l = object(l, "list")?;
                        exact(l, &["count", "first", "values", "proof"]).map_err(bad)?;
                        Some(ListRun {
                            count: number(&l["count"], "list.count")?,
                            first: number(&l["first"], "list.first")?,
                            values: array(&l["values"], "list.values")?
                                .iter()
                                .map(|x| number(x, "list.values"))
                                .collect::<Result<_>>()?,
                            proof: hashes(&l["proof"], "list.proof")?,
                        })
                    }
                };
                Ok(TermProof {
                    term: term_from_json(&o["term"])?,
                    map: MapProof::from_json(&o["map"])?,
                    list,
                })
            })
            .collect::<Result<_>>()?;
        let log = object(&obj["log"], "log")?;
        exact(log, &["first", "leaves", "proof"]).map_err(bad)?;
        let entries = array(&obj["entries"], "entries")?
            .iter()
            .map(|e| {
                let o = object(e, "entry")?;
                exact(o, &["index", "leaf", "path"]).map_err(bad)?;
                Ok(ProvenEntry {
                    index: number(&o["index"], "entries.index")?,
                    leaf: text(&o["leaf"], "entries.leaf")?,
                    path: hashes(&o["path"], "entries.path")?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CompletenessProof {
            origin: text(&obj["origin"], "origin")?,
            hash,
            tree_size: number(&obj["tree_size"], "tree_size")?,
            root: hex_at(&obj["root"], "root")?,
            checkpoint: text(&obj["checkpoint"], "checkpoint")?,
            range,
            terms,
            log_first: number(&log["first"], "log.first")?,
            log_leaves: array(&log["leaves"], "log.leaves")?
                .iter()
                .map(|l| text(l, "log.leaves"))
                .collect::<Result<_>>()?,
            log_proof: hashes(&log["proof"], "log.proof")?,
            entries,
        })
    }

    /// Check the proof with the log's key alone; the answer it proves.
    pub fn verify(&self, verifier: &Verifier) -> Result<CompletenessReport> {
        let fail = |why: String| Error::verification(why);
        let alg = self.hash;
        let cp = Checkpoint::verify(&self.checkpoint, verifier)
            .map_err(|e| fail(format!("the checkpoint: {e}")))?;
        if cp.origin != self.origin || cp.size != self.tree_size || cp.root != self.root {
            return Err(fail(
                "the proof's origin, size or root is not its checkpoint's".into(),
            ));
        }
        let n = self.tree_size;
        let (lo, hi) = self.range;
        if lo > hi || hi > n {
            return Err(fail(format!(
                "the range [{lo}, {hi}) is not in a tree of {n}"
            )));
        }
        // The commitment and the tail: every leaf from the commitment to the checkpoint.
        let tail: Vec<(u64, Value)> = self
            .log_leaves
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let v: Value = serde_json::from_str(l).map_err(|e| {
                    fail(format!(
                        "log leaf {}: not JSON: {e}",
                        self.log_first + i as u64
                    ))
                })?;
                Ok((self.log_first + i as u64, v))
            })
            .collect::<Result<_>>()?;
        if self.log_first.checked_add(tail.len() as u64) != Some(n) {
            return Err(fail("the log range does not end at the checkpoint".into()));
        }
        let (covered, map_root) = if n == 0 {
            (0, None)
        } else {
            let leaf_hashes: Vec<Hash> = self
                .log_leaves
                .iter()
                .map(|l| alg.leaf_hash(l.as_bytes()))
                .collect();
            let root =
                range::root_from_range(alg, n, self.log_first, &leaf_hashes, &self.log_proof)?;
            if root != self.root {
                return Err(fail(
                    "the commitment and tail do not lead to the checkpoint's root".into(),
                ));
            }
            match commitment_of(&tail[0].1) {
                Some(c) => {
                    let (size, root) = c.map_err(|e| fail(format!("the commitment entry: {e}")))?;
                    if size != self.log_first {
                        return Err(fail(format!(
                            "the commitment at {} says it covers {size} leaves",
                            self.log_first
                        )));
                    }
                    (size, Some(root))
                }
                None if self.log_first == 0 => (0, None),
                None => return Err(fail(format!("leaf {} is not a commitment", self.log_first))),
            }
        };
        if let Some((i, _)) = tail
            .iter()
            .skip(usize::from(map_root.is_some()))
            .find(|(_, v)| v.get("action").and_then(Value::as_str) == Some(INDEX_COMMITTED))
        {
            return Err(fail(format!(
                "leaf {i} is a later commitment: the proof uses an old one"
            )));
        }
        // Each term's committed hits in [lo, min(hi, covered)).
        let chi = hi.min(covered);
        let mut committed: Option<Vec<u64>> = None;
        let terms: Vec<Term> = self.terms.iter().map(|t| t.term.clone()).collect();
        for t in &self.terms {
            let id = term_id(alg, &t.term);
            let what = serde_json::to_string(&term_to_json(&t.term)).unwrap_or_default();
            let hits = match (&t.list, map_root) {
                (None, None) => Vec::new(),
                (Some(_), None) => {
                    return Err(fail(format!("term {what}: a list without a commitment")))
                }
                (None, Some(root)) => {
                    if t.map.terminal == Terminal::Member || t.map.root(alg, &id, None)? != root {
                        return Err(fail(format!(
                            "term {what}: the map proof does not show it absent"
                        )));
                    }
                    Vec::new()
                }
                (Some(l), Some(root)) => {
                    let end = l.first.checked_add(l.values.len() as u64);
                    if l.values.is_empty()
                        || end.is_none_or(|e| e > l.count)
                        || l.values.windows(2).any(|w| w[0] >= w[1])
                        || l.values.last().is_some_and(|&x| x >= covered)
                    {
                        return Err(fail(format!("term {what}: a malformed list run")));
                    }
                    let els: Vec<Hash> = l
                        .values
                        .iter()
                        .map(|&x| list::element_hash(alg, x))
                        .collect();
                    let lroot = range::root_from_range(alg, l.count, l.first, &els, &l.proof)
                        .map_err(|e| fail(format!("term {what}: {e}")))?;
                    let value = list::term_value(alg, l.count, &lroot);
                    if t.map.root(alg, &id, Some(&value))? != root {
                        return Err(fail(format!(
                            "term {what}: the map proof does not lead to the commitment"
                        )));
                    }
                    let left_ok = l.first == 0 || l.values[0] < lo;
                    let right_ok =
                        end == Some(l.count) || l.values.last().is_some_and(|&x| x >= chi);
                    if !left_ok || !right_ok {
                        return Err(fail(format!(
                            "term {what}: the list run does not span the range"
                        )));
                    }
                    l.values
                        .iter()
                        .copied()
                        .filter(|x| (lo..chi).contains(x))
                        .collect()
                }
            };
            committed = Some(match committed {
                None => hits,
                Some(prev) => prev
                    .into_iter()
                    .filter(|x| hits.binary_search(x).is_ok())
                    .collect(),
            });
        }
        let committed = committed.unwrap_or_default();
        let given: Vec<u64> = self.entries.iter().map(|e| e.index).collect();
        if given != committed {
            return Err(fail(format!(
                "the proof's entries {given:?} are not the committed hits {committed:?}"
            )));
        }
        let mut out = Vec::with_capacity(committed.len());
        for e in &self.entries {
            let proof = InclusionProof {
                hash: alg,
                index: e.index,
                tree_size: n,
                leaf_hash: alg.leaf_hash(e.leaf.as_bytes()),
                root: self.root,
                path: e.path.clone(),
            };
            proof
                .verify_leaf(e.leaf.as_bytes())
                .map_err(|err| fail(format!("entry {}: {err}", e.index)))?;
            let entry: Value = serde_json::from_str(&e.leaf)
                .map_err(|err| fail(format!("entry {}: not JSON: {err}", e.index)))?;
            if !has_terms(&entry, &terms) {
                return Err(fail(format!(
                    "entry {} does not hold the terms its committed lists file it under",
                    e.index
                )));
            }
            out.push(Found {
                index: e.index,
                entry,
            });
        }
        for (index, entry) in tail {
            if (lo..hi).contains(&index) && has_terms(&entry, &terms) {
                out.push(Found { index, entry });
            }
        }
        Ok(CompletenessReport {
            tree_size: n,
            commitment: map_root.map(|_| covered),
            entries: out,
        })
    }
}

fn object<'a>(v: &'a Value, what: &'static str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::malformed(what, "must be an object"))
}

fn array<'a>(v: &'a Value, what: &'static str) -> Result<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| Error::malformed(what, "must be a list"))
}

fn number(v: &Value, what: &'static str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| Error::malformed(what, "must be a non-negative integer"))
}

fn text(v: &Value, what: &'static str) -> Result<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::malformed(what, "must be a string"))
}
