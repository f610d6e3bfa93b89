//! `trace`: the graph of entries one entry rests on (links, refs resolved, the policy version
//! in force), or that rest on it, read from the query indexes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::storage::Reader;

use crate::query::{has_terms, load, run, Found, Postings, Query, Term};

/// One node of a [`Trace`].
#[derive(Clone, Debug, PartialEq)]
pub struct TraceNode {
    /// The entry.
    pub found: Found,
    /// Indexes this node leads to in the trace's direction (what it rests on, backward; what
    /// rests on it, forward).
    pub links: Vec<u64>,
}

/// The graph of entries reachable from one entry through `links`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Where the trace started.
    pub root: u64,
    /// Every entry reached, in index order, root included.
    pub nodes: Vec<TraceNode>,
    /// External refs no entry of the ledger carries or is named by.
    pub unresolved: Vec<String>,
}

impl Trace {
    /// `{"root": N, "nodes": [{"index": N, "entry": {...}, "links": [N, ...]}], "unresolved": [...]}`
    pub fn to_json(&self) -> Value {
        json!({
            "root": self.root,
            "nodes": self.nodes.iter().map(|n| json!({
                "index": n.found.index, "entry": n.found.entry, "links": n.links,
            })).collect::<Vec<_>>(),
            "unresolved": self.unresolved,
        })
    }
}

/// Most entries one trace visits; a trace is a question about one change, not a scan.
pub(crate) const TRACE_LIMIT: usize = 10_000;

/// Entries filed under `term` from `from` on (ascending), at most `max`, each re-checked (see
/// `run`).
fn postings(reader: &Reader, term: &Term, from: u64, max: usize) -> Result<Vec<u64>> {
    let mut p = Postings::new(reader, term, false)?;
    let mut out = Vec::new();
    let mut x = from;
    while out.len() < max {
        match p.seek(x)? {
            Some(y) => {
                if has_terms(&load(reader, y)?.entry, std::slice::from_ref(term)) {
                    out.push(y);
                }
                match y.checked_add(1) {
                    Some(n) => x = n,
                    None => break,
                }
            }
            None => break,
        }
    }
    Ok(out)
}

/// The entry an external ref names: the entry whose `id` is the ref, else the earliest entry
/// that carries it, if that is not `from` itself.
fn resolve_ref(reader: &Reader, r: &str, from: u64) -> Result<Option<u64>> {
    if let Some(i) = reader.id_index(r)? {
        if i != from {
            return Ok(Some(i));
        }
    }
    Ok(postings(reader, &Term::Ref(r.to_owned()), 0, 1)?
        .first()
        .copied()
        .filter(|&i| i < from))
}

/// The `policy.published` entry for `authz.policy` (and `policy_version`, when given) in
/// force at entry `before`: the latest one recorded before it.
pub(crate) fn resolve_policy(reader: &Reader, e: &Value, before: u64) -> Result<Option<u64>> {
    let Some(authz) = e.get("authz") else {
        return Ok(None);
    };
    let Some(policy) = authz.get("policy").and_then(Value::as_str) else {
        return Ok(None);
    };
    let version = authz.get("policy_version").and_then(Value::as_str);
    let q = Query {
        action: Some("policy.published".into()),
        subject: Some(("policy".into(), policy.into())),
        attrs: version
            .map(|v| vec![("version".to_owned(), v.to_owned())])
            .unwrap_or_default(),
        cursor: Some(before.to_string()),
        limit: 1,
        ..Query::default()
    };
    Ok(run(reader, before, &q)?.entries.first().map(|f| f.index))
}

/// Follow links from `root`: backward (what it rests on, transitively, with refs resolved and
/// the policy that allowed each entry) or forward (what rests on it).
pub(crate) fn trace(reader: &Reader, size: u64, root: u64, forward: bool) -> Result<Trace> {
    if root >= size {
        return Err(Error::OutOfRange(format!(
            "index {root} is not below the tree size {size}"
        )));
    }
    let mut nodes: BTreeMap<u64, TraceNode> = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    let mut todo = VecDeque::from([root]);
    while let Some(i) = todo.pop_front() {
        if nodes.contains_key(&i) || nodes.len() >= TRACE_LIMIT {
            continue;
        }
        let found = load(reader, i)?;
        let mut links = BTreeSet::new();
        if forward {
            links.extend(postings(reader, &Term::LinksTo(i), i + 1, TRACE_LIMIT)?);
            if let Some(id) = found.entry.get("id").and_then(Value::as_str) {
                links.extend(postings(
                    reader,
                    &Term::Ref(id.to_owned()),
                    i + 1,
                    TRACE_LIMIT,
                )?);
            }
            if found.entry.get("action").and_then(Value::as_str) == Some("policy.published") {
                if let Some(p) = found.entry.pointer("/subject/id").and_then(Value::as_str) {
                    for j in postings(reader, &Term::Policy(p.to_owned()), i + 1, TRACE_LIMIT)? {
                        if resolve_policy(reader, &load(reader, j)?.entry, j)? == Some(i) {
                            links.insert(j);
                        }
                    }
                }
            }
        } else {
            for l in found
                .entry
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(ix) = l.get("index").and_then(Value::as_u64) {
                    links.insert(ix);
                } else if let Some(r) = l.get("ref").and_then(Value::as_str) {
                    match resolve_ref(reader, r, i)? {
                        Some(ix) => {
                            links.insert(ix);
                        }
                        None => {
                            unresolved.insert(r.to_owned());
                        }
                    }
                }
            }
            links.extend(resolve_policy(reader, &found.entry, i)?);
        }
        links.retain(|&l| l < size && l != i);
        todo.extend(links.iter().copied());
        nodes.insert(
            i,
            TraceNode {
                found,
                links: links.into_iter().collect(),
            },
        );
    }
    Ok(Trace {
        root,
        nodes: nodes.into_values().collect(),
        unresolved: unresolved.into_iter().collect(),
    })
}
