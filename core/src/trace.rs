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
    /// Why the trace is not whole, when it is not: it reached [`TraceOptions::max_entries`]
    /// or [`TraceOptions::depth`] with links left to follow. `None`: every link was followed
    /// (within the options' kind limit, see [`TraceOptions::ancestry`]).
    pub cut: Option<String>,
    /// `parent` links between `git.commit` entries left unfollowed because
    /// [`TraceOptions::ancestry`] was off.
    pub ancestry_skipped: u64,
    /// The rules version in force for the root entry, as [`crate::why::Why::rules`] has it.
    pub rules: Option<Value>,
}

/// What a trace follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceOptions {
    /// Most entries visited (default and at most [`TRACE_LIMIT`], 10,000).
    pub max_entries: usize,
    /// Most hops from the root (default: no limit).
    pub depth: Option<u64>,
    /// Follow git history: the `parent` links between `git.commit` entries (default
    /// `false`). Off, a deployment's trace reaches the commit it was built from, not that
    /// commit's every ancestor; on, a commit's trace is its history.
    pub ancestry: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            max_entries: TRACE_LIMIT,
            depth: None,
            ancestry: false,
        }
    }
}

impl TraceOptions {
    /// Every link, up to [`TRACE_LIMIT`] entries: what the gate's own lookups use.
    pub fn everything() -> Self {
        TraceOptions {
            ancestry: true,
            ..TraceOptions::default()
        }
    }
}

/// A `parent` link between two commits (git history), as `import git` writes it.
fn is_ancestry(from: &Value, rel: &str, to: &Value) -> bool {
    let commit = |e: &Value| e.get("action").and_then(Value::as_str) == Some("git.commit");
    rel == "parent" && commit(from) && commit(to)
}

impl Trace {
    /// `{"root": N, "nodes": [{"index": N, "entry": {...}, "links": [N, ...]}], "unresolved":
    /// [...]}`, plus `"cut": "<why>"` when the trace is not whole and `"ancestry_skipped": N`
    /// when git history was left unfollowed.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "root": self.root,
            "nodes": self.nodes.iter().map(|n| json!({
                "index": n.found.index, "entry": n.found.entry, "links": n.links,
            })).collect::<Vec<_>>(),
            "unresolved": self.unresolved,
        });
        if let Some(c) = &self.cut {
            v["cut"] = c.clone().into();
        }
        if self.ancestry_skipped > 0 {
            v["ancestry_skipped"] = self.ancestry_skipped.into();
        }
        if let Some(r) = &self.rules {
            v["rules"] = r.clone();
        }
        v
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
pub(crate) fn trace(
    reader: &Reader,
    size: u64,
    root: u64,
    forward: bool,
    opts: &TraceOptions,
) -> Result<Trace> {
    if root >= size {
        return Err(Error::OutOfRange(format!(
            "index {root} is not below the tree size {size}"
        )));
    }
    let max = opts.max_entries.clamp(1, TRACE_LIMIT);
    let mut nodes: BTreeMap<u64, TraceNode> = BTreeMap::new();
    let mut unresolved = BTreeSet::new();
    let mut todo = VecDeque::from([(root, 0u64)]);
    let mut queued = BTreeSet::from([root]);
    let (mut not_visited, mut beyond_depth, mut ancestry_skipped) = (0u64, 0u64, 0u64);
    while let Some((i, depth)) = todo.pop_front() {
        if nodes.contains_key(&i) {
            continue;
        }
        if nodes.len() >= max {
            not_visited += 1;
            continue;
        }
        let found = load(reader, i)?;
        let mut links = BTreeSet::new();
        // (target, rel) pairs; forward targets are read back to learn their rel
        let mut candidates: Vec<(u64, Option<String>)> = Vec::new();
        if forward {
            for j in postings(reader, &Term::LinksTo(i), i + 1, TRACE_LIMIT)? {
                candidates.push((j, None));
            }
            if let Some(id) = found.entry.get("id").and_then(Value::as_str) {
                for j in postings(reader, &Term::Ref(id.to_owned()), i + 1, TRACE_LIMIT)? {
                    candidates.push((j, None));
                }
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
                let rel = l.get("rel").and_then(Value::as_str).map(str::to_owned);
                if let Some(ix) = l.get("index").and_then(Value::as_u64) {
                    candidates.push((ix, rel));
                } else if let Some(r) = l.get("ref").and_then(Value::as_str) {
                    match resolve_ref(reader, r, i)? {
                        Some(ix) => candidates.push((ix, rel)),
                        None => {
                            unresolved.insert(r.to_owned());
                        }
                    }
                }
            }
            links.extend(resolve_policy(reader, &found.entry, i)?);
        }
        for (j, rel) in candidates {
            if j >= size || j == i {
                continue;
            }
            if !opts.ancestry
                && found.entry.get("action").and_then(Value::as_str) == Some("git.commit")
            {
                let other = load(reader, j)?.entry;
                let ancestry = if forward {
                    // j links to i: is it j's parent link?
                    other
                        .get("links")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|l| {
                            let rel = l.get("rel").and_then(Value::as_str).unwrap_or("");
                            let to_i = l.get("index").and_then(Value::as_u64) == Some(i)
                                || l.get("ref").and_then(Value::as_str)
                                    == found.entry.get("id").and_then(Value::as_str);
                            to_i && is_ancestry(&other, rel, &found.entry)
                        })
                } else {
                    is_ancestry(&found.entry, rel.as_deref().unwrap_or(""), &other)
                };
                if ancestry {
                    ancestry_skipped += 1;
                    continue;
                }
            }
            links.insert(j);
        }
        links.retain(|&l| l < size && l != i);
        if opts.depth.is_some_and(|d| depth >= d) {
            beyond_depth += links
                .iter()
                .filter(|l| !nodes.contains_key(l) && !queued.contains(l))
                .count() as u64;
            links.retain(|l| nodes.contains_key(l) || queued.contains(l));
        }
        for &l in &links {
            if queued.insert(l) {
                todo.push_back((l, depth + 1));
            }
        }
        nodes.insert(
            i,
            TraceNode {
                found,
                links: links.into_iter().collect(),
            },
        );
    }
    // A node's links name only entries the trace holds: the cut says what is left out.
    let kept: BTreeSet<u64> = nodes.keys().copied().collect();
    for n in nodes.values_mut() {
        n.links.retain(|l| kept.contains(l));
    }
    let mut why = Vec::new();
    if not_visited > 0 {
        why.push(format!(
            "stopped at {max} entries (the limit): {not_visited} linked entries not visited"
        ));
    }
    if beyond_depth > 0 {
        why.push(format!(
            "stopped at depth {}: {beyond_depth} linked entries beyond it",
            opts.depth.unwrap_or(0)
        ));
    }
    let rules = match nodes.get(&root) {
        Some(n) => crate::ledger::rules::in_force_for(reader, root, &n.found.entry)?,
        None => None,
    };
    Ok(Trace {
        rules,
        root,
        nodes: nodes.into_values().collect(),
        unresolved: unresolved.into_iter().collect(),
        cut: (!why.is_empty()).then(|| why.join("; ")),
        ancestry_skipped,
    })
}
