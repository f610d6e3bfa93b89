//! The questions asked of a ledger: `query`, `trace`, `why`, `gate`, `bundle` and `report`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use trailseal::merkle;
use trailseal::query::{split_subject, Order, Query};
use trailseal::report::{ReportOptions, Wait};
use trailseal::trace::{Trace, TraceNode, TraceOptions};
use trailseal::why::Why;
use trailseal::{Anchor, GatePolicy, Ledger, Selection, Signer, Timestamp};

use crate::cli::Filters;
use crate::error::{check_failed, io_fail, usage, Res};
use crate::io::{emit, emit_line, emit_lines, ledger_signer, outside_texts, read_text};
use crate::render::{actor_of, authz_of, entries, fit, node_line, str_at, subject_of};

/// `query`: the filters and how to page through the matches.
#[derive(Args)]
pub struct QueryArgs {
    pub ledger: PathBuf,
    #[command(flatten)]
    pub filters: Filters,
    /// Oldest first (default: newest first).
    #[arg(long)]
    pub oldest: bool,
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    /// Continue after the previous page (its cursor is printed on stderr).
    #[arg(long, value_name = "C")]
    pub cursor: Option<String>,
    /// JSON Lines `{"index": N, "entry": {...}}` instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print a completeness proof (SPEC section 9) instead: every entry holding all the
    /// filters' terms in the index range, proven against a checkpoint signed now, none
    /// missing; check it with `verify-completeness`. Needs a ledger made with
    /// `init --committed-indexes` (else the whole ledger is the proof's tail).
    #[arg(long)]
    pub prove: bool,
    /// With --prove: the first index of the range (default 0).
    #[arg(long, value_name = "N", requires = "prove")]
    pub from: Option<u64>,
    /// With --prove: the index the range ends before (default: the ledger's size).
    #[arg(long, value_name = "N", requires = "prove")]
    pub to: Option<u64>,
    /// With --prove: the signer key (default as for `checkpoint`).
    #[arg(long, value_name = "KEYFILE", requires = "prove")]
    pub key: Option<PathBuf>,
}

/// What a trace follows (`trace`, `bundle --index`).
#[derive(Args, Debug, Clone, Copy)]
pub struct TraceLimits {
    /// Follow links at most N hops from the entry (the trace says what it left out).
    #[arg(long, value_name = "N")]
    pub depth: Option<u64>,
    /// Follow git history too: the parent links between imported commits (off, a trace
    /// reaches the commit something was built from, not its every ancestor).
    #[arg(long)]
    pub ancestry: bool,
}

impl TraceLimits {
    fn options(self) -> TraceOptions {
        TraceOptions {
            depth: self.depth,
            ancestry: self.ancestry,
            ..TraceOptions::default()
        }
    }
}

/// `bundle`: what to select, where to write it and what to prove it against.
#[derive(Args)]
pub struct BundleArgs {
    pub ledger: PathBuf,
    /// The entries of the trace from INDEX (what it rests on; with --forward, what rests on
    /// it) instead of a query.
    #[arg(long, value_name = "INDEX")]
    pub index: Option<u64>,
    /// With --index: follow links forward (what did this lead to).
    #[arg(long, requires = "index")]
    pub forward: bool,
    /// These entries, by index (comma-separated), instead of a trace or a query; a pruned one
    /// is carried as its leaf hash and where it went, without content.
    #[arg(long, value_name = "N,...", value_delimiter = ',', conflicts_with_all = ["index", "limit"])]
    pub indexes: Option<Vec<u64>>,
    #[command(flatten)]
    pub limits: TraceLimits,
    #[command(flatten)]
    pub filters: Filters,
    /// At most N entries of the query (default: every match, up to 10,000).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The bundle file to write ('-' for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Sign a fresh checkpoint with this key (default: $TRAILSEAL_KEY_FILE, else LEDGER.key).
    #[arg(long, value_name = "KEYFILE")]
    pub key: Option<PathBuf>,
    /// Prove against this signed checkpoint instead of signing a fresh one.
    #[arg(long, value_name = "FILE", requires = "vkey", conflicts_with = "key")]
    pub checkpoint: Option<PathBuf>,
    /// The verifier key of --checkpoint (string or file); with a published log as the
    /// source, the key its checkpoint must be signed by.
    #[arg(long, value_name = "VKEY")]
    pub vkey: Option<String>,
    /// Print a JSON summary instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

/// `bundle SOURCE --index N --vkey VKEY`, SOURCE a published log (directory, `https://`,
/// `s3://`): the entry at N with its proof against the published checkpoint, which must be
/// signed by VKEY. A published log has no query indexes, so only --index selects, and the
/// entry alone (a trace needs the ledger's links index).
pub fn bundle_published(source: &dyn trailseal::publish::Source, a: &BundleArgs) -> Res {
    let (Some(index), Some(vkey)) = (a.index, a.vkey.as_deref()) else {
        return Err(usage(
            "from a published log, bundle takes --index N and --vkey VKEY (the key its checkpoint is signed by)",
        ));
    };
    if a.forward
        || a.checkpoint.is_some()
        || a.key.is_some()
        || a.limit.is_some()
        || a.filters.subject.is_some()
        || a.filters.has_more_than_subject()
    {
        return Err(usage(
            "a published log has no query indexes and keeps its own checkpoint: bundle --index N --vkey VKEY only",
        ));
    }
    let verifier = crate::io::read_verifier(vkey)?;
    let b = trailseal::publish::bundle::bundle_published(source, &[index], &verifier)?;
    let text = b.to_text();
    if a.output.as_os_str() == "-" {
        return emit(&text);
    }
    fs::write(&a.output, &text).map_err(|e| io_fail(&a.output, e))?;
    let summary = json!({"output": a.output.display().to_string(), "tree_size": b.tree_size, "indexes": [index]});
    if a.json {
        emit_line(&summary)
    } else {
        emit_line(&format!(
            "wrote {}: entry {index}, proven against the published checkpoint of size {}",
            a.output.display(),
            b.tree_size
        ))
    }
}

/// Print one page of the entries matching the filters, as a table or JSON Lines; the cursor
/// of the next page goes to stderr, so piping stdout still gives clean rows.
pub fn query(l: Ledger, a: &QueryArgs) -> Res {
    if a.prove {
        return prove(l, a);
    }
    let q = Query {
        limit: a.limit,
        cursor: a.cursor.clone(),
        order: if a.oldest {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        },
        ..a.filters.to_query()?
    };
    let page = l.query(&q)?;
    if a.json {
        emit_lines(page.entries.iter().map(|f| f.to_json()))?;
    } else {
        let mut text = format!(
            "{:>7}  {:<30}  {:<20}  {:<24}  {:<28}  {}\n",
            "INDEX", "TIME", "ACTOR", "ACTION", "SUBJECT", "AUTHZ"
        );
        for f in &page.entries {
            let e = &f.entry;
            text.push_str(&format!(
                "{:>7}  {:<30}  {:<20}  {:<24}  {:<28}  {}\n",
                f.index,
                str_at(e, "/time"),
                fit(&actor_of(e), 20),
                fit(str_at(e, "/action"), 24),
                fit(&subject_of(e), 28),
                authz_of(e)
            ));
        }
        emit(&text)?;
    }
    if let Some(c) = &page.next_cursor {
        eprintln!("more entries: continue with --cursor {c}");
    }
    Ok(())
}

/// `query --prove`: the proof JSON on stdout.
fn prove(l: Ledger, a: &QueryArgs) -> Res {
    let q = a.filters.to_query()?;
    if q.since.is_some()
        || q.until.is_some()
        || q.occurred_since.is_some()
        || q.occurred_until.is_some()
    {
        return Err(usage(
            "--prove takes an index range (--from, --to), not a time window",
        ));
    }
    let signer = ledger_signer(&l, &a.ledger, a.key.as_deref())?;
    let proof = l.prove_complete(&q.terms(), (a.from.unwrap_or(0), a.to), &signer)?;
    emit_line(&proof.to_json())
}

/// Print what the entry at `index` rests on (with `forward`, what rests on it).
pub fn trace(l: Ledger, index: u64, forward: bool, limits: TraceLimits, json: bool) -> Res {
    let t = l.trace_with(index, forward, &limits.options())?;
    if json {
        emit_line(&t.to_json())
    } else {
        emit(&draw_trace(&t, forward))
    }
}

/// The trace as an indented tree; an entry reached twice is drawn once and referred to after.
fn draw_trace(t: &Trace, forward: bool) -> String {
    let by_index: BTreeMap<u64, &TraceNode> = t.nodes.iter().map(|n| (n.found.index, n)).collect();
    let mut out = String::new();
    let mut drawn = BTreeSet::new();
    /// Draw node `i` below `prefix`, then its links; recursion keeps each branch's prefix
    /// with its own call, which the box-drawing lines need.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        i: u64,
        prefix: &str,
        last: bool,
        top: bool,
        forward: bool,
        nodes: &BTreeMap<u64, &TraceNode>,
        drawn: &mut BTreeSet<u64>,
        out: &mut String,
    ) {
        let Some(n) = nodes.get(&i) else { return };
        let branch = if top {
            ""
        } else if last {
            "└── "
        } else {
            "├── "
        };
        if !drawn.insert(i) {
            out.push_str(&format!("{prefix}{branch}#{i} (shown above)\n"));
            return;
        }
        out.push_str(&format!(
            "{prefix}{branch}{}\n",
            node_line(i, &n.found.entry)
        ));
        let child_prefix = if top {
            String::new()
        } else {
            format!("{prefix}{}", if last { "    " } else { "│   " })
        };
        // Newest evidence first reads naturally backward; oldest first forward.
        let mut kids: Vec<u64> = n.links.clone();
        if !forward {
            kids.reverse();
        }
        for (k, c) in kids.iter().enumerate() {
            let last = k + 1 == kids.len();
            walk(*c, &child_prefix, last, false, forward, nodes, drawn, out);
        }
    }
    walk(
        t.root, "", true, true, forward, &by_index, &mut drawn, &mut out,
    );
    for r in &t.unresolved {
        out.push_str(&format!("unresolved reference: {r}\n"));
    }
    if t.ancestry_skipped > 0 {
        out.push_str(&format!(
            "git history not followed: {} parent links between commits (--ancestry follows them)\n",
            t.ancestry_skipped
        ));
    }
    if let Some(cut) = &t.cut {
        out.push_str(&format!("cut: {cut}\n"));
    }
    out
}

/// Print which rule allowed the entry at `index`, that rule as it was then, and who approved
/// it.
pub fn why(l: Ledger, index: u64, json: bool) -> Res {
    let w = l.why(index)?;
    if json {
        emit_line(&w.to_json())
    } else {
        emit(&describe_why(&w))
    }
}

/// The answer of `why` as sentences, saying so where the ledger holds no rule or approval.
fn describe_why(w: &Why) -> String {
    let mut out = format!("{}\n", node_line(w.entry.index, &w.entry.entry));
    match &w.authz {
        None => out.push_str("no authorization recorded on this entry\n"),
        Some(_) => out.push_str(&format!("allowed: {}\n", authz_of(&w.entry.entry))),
    }
    match &w.policy {
        None if w.authz.is_some() => {
            out.push_str("no policy.published entry for this policy and version in the ledger\n")
        }
        None => {}
        Some(p) => {
            out.push_str(&format!(
                "policy in force: {}\n",
                node_line(p.index, &p.entry)
            ));
            if let Some(payload) = p.entry.get("payload") {
                out.push_str(&format!("  rule: {payload}\n"));
            }
            if w.approvals.is_empty() {
                out.push_str("  no recorded approval of this policy version\n");
            }
            for a in &w.approvals {
                out.push_str(&format!("  approved: {}\n", node_line(a.index, &a.entry)));
            }
        }
    }
    out
}

/// Evaluate the gate policy in `policy_file` for `subject`, record the verdict as an entry
/// when `record_as` names its actor (and sign a checkpoint over it with `signer`), and print
/// each requirement. A failed gate is a failed check (exit 1), so a pipeline can stop on it.
pub fn gate(
    l: Ledger,
    subject: &str,
    policy_file: &Path,
    record_as: Option<String>,
    signer: Option<Signer>,
    json: bool,
) -> Res {
    let policy = GatePolicy::from_json(&read_text(policy_file)?)?;
    let result = l.gate(subject, &policy)?;
    if let Some(actor) = &record_as {
        let receipt = l.record_gate(&policy, &result, actor)?;
        let action = if result.passed {
            "gate.passed"
        } else {
            "gate.failed"
        };
        eprintln!("recorded {action} at index {}", receipt.index);
        if let Some(signer) = &signer {
            let note = l.checkpoint(signer, Some(receipt.tree_size))?;
            let size = note.lines().nth(1).unwrap_or("?");
            eprintln!("signed a checkpoint at size {size} (kept in the ledger)");
        }
    }
    if json {
        emit_line(&result.to_json())?;
    } else {
        let mut text = format!(
            "{}: {} (policy {})\n",
            result.subject,
            if result.passed { "PASSED" } else { "FAILED" },
            policy.digest()
        );
        for r in &result.requirements {
            let evidence: Vec<String> = r.evidence.iter().map(|i| format!("#{i}")).collect();
            text.push_str(&format!(
                "  {} {:<22} {}\n",
                if r.met { "✓" } else { "✗" },
                r.name,
                r.detail
            ));
            if !evidence.is_empty() {
                text.push_str(&format!("      evidence: {}\n", evidence.join(" ")));
            }
        }
        emit(&text)?;
    }
    if result.passed {
        Ok(())
    } else {
        let missed: Vec<&str> = result
            .requirements
            .iter()
            .filter(|r| !r.met)
            .map(|r| r.name.as_str())
            .collect();
        Err(check_failed(format!(
            "{} did not pass the gate: {} missed",
            result.subject,
            missed.join(", ")
        )))
    }
}

/// Write an evidence bundle of the selected entries, each proven against one signed
/// checkpoint (a fresh one, or `--checkpoint`), and say what went into it.
pub fn bundle(l: Ledger, a: &BundleArgs) -> Res {
    let selection = match (a.index, a.filters.subject.as_deref()) {
        _ if a.indexes.is_some() => {
            if a.filters.subject.is_some() || a.filters.has_more_than_subject() {
                return Err(usage("give either --indexes or query filters, not both"));
            }
            Selection::Indexes(a.indexes.clone().unwrap_or_default())
        }
        (Some(_), _) if a.filters.subject.is_some() || a.filters.has_more_than_subject() => {
            return Err(usage("give either --index or query filters, not both"))
        }
        (Some(index), _) => Selection::Trace {
            index,
            forward: a.forward,
            options: a.limits.options(),
        },
        (None, Some(s)) if !a.filters.has_more_than_subject() && a.limit.is_none() => {
            let (t, id) = split_subject(s)?;
            Selection::Subject(t, id)
        }
        (None, _) if a.filters.subject.is_none() && !a.filters.has_more_than_subject() => {
            return Err(usage(
                "say what to bundle: --subject TYPE:ID, --index N, or query filters",
            ))
        }
        (None, _) => Selection::Query(Query {
            limit: a.limit.unwrap_or(0),
            ..a.filters.to_query()?
        }),
    };
    if a.limit == Some(0) {
        return Err(usage("--limit must be at least 1"));
    }
    if a.vkey.is_some() && a.checkpoint.is_none() {
        return Err(usage(
            "--vkey goes with --checkpoint FILE (or with a published log as the source)",
        ));
    }
    let (note, vkey) = outside_texts(a.checkpoint.as_deref(), a.vkey.as_deref())?;
    // The ledger's signer key is looked for only when no checkpoint is given to prove against.
    let signer = match (&note, &vkey) {
        (None, None) => Some(ledger_signer(&l, &a.ledger, a.key.as_deref())?),
        _ => None,
    };
    let anchor = Anchor::choose(signer.as_ref(), note.as_deref(), vkey.as_deref())?;
    let b = l.bundle_anchored(&selection, &anchor)?;
    let text = b.to_text();
    if a.output.as_os_str() == "-" {
        return emit(&text);
    }
    fs::write(&a.output, &text).map_err(|e| io_fail(&a.output, e))?;
    let indexes: Vec<u64> = b.entries.iter().map(|e| e.index).collect();
    if a.json {
        emit_line(&json!({
            "file": a.output.display().to_string(),
            "entries": indexes,
            "tree_size": b.tree_size,
            "root": merkle::to_hex(&b.root),
            "key_name": b.key_name,
        }))
    } else {
        emit(&format!(
            "wrote {}: {} ({}), each proven against the checkpoint of {} at size {} signed by {}\n",
            a.output.display(),
            entries(indexes.len()),
            indexes
                .iter()
                .map(|i| format!("#{i}"))
                .collect::<Vec<_>>()
                .join(" "),
            b.origin,
            b.tree_size,
            b.key_name
        ))
    }
}

/// `1d 2h`, `3h 5m`, `20m`, `45s`: two units at most, as precise as a wait for an approval
/// needs to be read.
fn duration(nanos: i128) -> String {
    let s = nanos / 1_000_000_000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Print where approvals wait: request-to-grant latency, the longest waits, approvals per
/// approver, and changes, break-glass actions and approvals per ISO week.
pub fn report(l: Ledger, since: Option<String>, change_actions: Vec<String>, json: bool) -> Res {
    let mut opts = ReportOptions {
        since: since.as_deref().map(Timestamp::parse).transpose()?,
        ..ReportOptions::default()
    };
    if !change_actions.is_empty() {
        opts.change_actions = change_actions;
    }
    let r = l.report_with(&opts)?;
    if json {
        return emit_line(&r.to_json());
    }
    let mut text = match r.since {
        Some(t) => format!("approvals report since {t}\n"),
        None => "approvals report, all time\n".to_owned(),
    };
    match (r.median_nanos, r.p90_nanos) {
        (Some(m), Some(p)) => text.push_str(&format!(
            "\napproval latency, request to grant: {} waits, median {}, p90 {}\n",
            r.waits.len(),
            duration(m),
            duration(p)
        )),
        _ => text.push_str("\napproval latency: no approval answered a recorded request\n"),
    }
    let mut longest: Vec<&Wait> = r.waits.iter().collect();
    longest.sort_by(|a, b| b.nanos.cmp(&a.nanos).then(a.approval.cmp(&b.approval)));
    if !longest.is_empty() {
        text.push_str("longest waits:\n");
    }
    for w in longest.iter().take(5) {
        text.push_str(&format!(
            "  {:>8}  {:<28} request #{} -> approval #{} by {}\n",
            duration(w.nanos),
            w.subject,
            w.request,
            w.approval,
            w.approver
        ));
    }
    text.push_str("\napprovals per approver:\n");
    if r.approvals_by_approver.is_empty() {
        text.push_str("  none\n");
    }
    for (who, n) in &r.approvals_by_approver {
        text.push_str(&format!("  {who:<24} {n:>5}\n"));
    }
    text.push_str(&format!(
        "\n{:<10} {:>8} {:>12} {:>10}\n",
        "ISO week", "changes", "break-glass", "approvals"
    ));
    for w in &r.weeks {
        text.push_str(&format!(
            "{:<10} {:>8} {:>12} {:>10}\n",
            w.week, w.changes, w.break_glass, w.approvals
        ));
    }
    emit(&text)
}
