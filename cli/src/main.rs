//! `trailseal`: record, prove and verify a tamper-evident audit ledger from a shell.
//!
//! Exit status: 0 success; 1 a verification failed (bad proof, bad signature, tampered or
//! inconsistent ledger, a bundle that does not verify) or a release gate did not pass; 2 bad usage or refused input (nothing written); 3 I/O or storage
//! error. Machine output is JSON on stdout (checkpoints and keys in their own text forms);
//! messages go to stderr.

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser};
use serde_json::{json, Map, Value};
use trailseal::merkle;
use trailseal::query::{split_subject, Order, Query};
use trailseal::report::ReportOptions;
use trailseal::{
    Checkpoint, ConsistencyProof, CreateOptions, Error, GatePolicy, InclusionProof, Ledger,
    OpenOptions, Selection, Signer, Timestamp, VerifyOptions,
};

mod capture;
mod cli;
mod error;
mod io;

use crate::cli::{split_pair, Cli, Command, Filters, HashName, ProveCmd};
use crate::error::{check_failed, io_fail, storage_failed, usage, Failure, Res};
use crate::io::{
    emit, emit_line, emit_lines, key_path, print_receipts, progress_bar, read_bytes, read_signer,
    read_text, read_verifier, stdout_fail, write_secret,
};

#[derive(Args)]
struct QueryArgs {
    ledger: PathBuf,
    #[command(flatten)]
    filters: Filters,
    /// Oldest first (default: newest first).
    #[arg(long)]
    oldest: bool,
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// Continue after the previous page (its cursor is printed on stderr).
    #[arg(long, value_name = "C")]
    cursor: Option<String>,
    /// JSON Lines `{"index": N, "entry": {...}}` instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct BundleArgs {
    ledger: PathBuf,
    /// The entries of the trace from INDEX (what it rests on; with --forward, what rests on
    /// it) instead of a query.
    #[arg(long, value_name = "INDEX")]
    index: Option<u64>,
    /// With --index: follow links forward (what did this lead to).
    #[arg(long, requires = "index")]
    forward: bool,
    #[command(flatten)]
    filters: Filters,
    /// At most N entries of the query (default: every match, up to 10,000).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// The bundle file to write ('-' for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Sign a fresh checkpoint with this key (default LEDGER.key).
    #[arg(long, value_name = "KEYFILE")]
    key: Option<PathBuf>,
    /// Prove against this signed checkpoint instead of signing a fresh one.
    #[arg(long, value_name = "FILE", requires = "vkey", conflicts_with = "key")]
    checkpoint: Option<PathBuf>,
    /// The verifier key of --checkpoint (string or file).
    #[arg(long, value_name = "VKEY", requires = "checkpoint")]
    vkey: Option<String>,
    /// Print a JSON summary instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AppendArgs {
    ledger: PathBuf,
    /// JSON Lines file ('-' or absent: stdin); with --raw, files whose bytes are each one leaf.
    inputs: Vec<PathBuf>,
    /// Commit as soon as each N lines have arrived (default: the whole input is one batch).
    #[arg(long, value_name = "N")]
    batch: Option<usize>,
    /// Raw ledger: each FILE's bytes are one leaf.
    #[arg(long)]
    raw: bool,
    #[arg(long, value_name = "ID")]
    actor: Option<String>,
    #[arg(long, value_name = "A", requires = "actor")]
    action: Option<String>,
    /// TYPE:ID
    #[arg(long, value_name = "TYPE:ID", requires = "actor")]
    subject: Option<String>,
    #[arg(long, requires = "actor")]
    role: Option<String>,
    #[arg(long, requires = "actor")]
    tenant: Option<String>,
    #[arg(long, value_name = "ID", requires = "actor")]
    via: Vec<String>,
    #[arg(long, value_name = "D", requires = "policy")]
    decision: Option<String>,
    #[arg(long, value_name = "P", requires = "decision")]
    policy: Option<String>,
    #[arg(long, value_name = "V", requires = "policy")]
    policy_version: Option<String>,
    #[arg(long, value_name = "R", requires = "decision")]
    reason: Option<String>,
    #[arg(long, value_name = "ID", requires = "actor")]
    id: Option<String>,
    /// REL=INDEX
    #[arg(long, value_name = "REL=INDEX", requires = "actor")]
    link: Vec<String>,
    /// REL=EXTERNAL_ID
    #[arg(long = "ref", value_name = "REL=EXTERNAL_ID", requires = "actor")]
    refs: Vec<String>,
    /// K=V
    #[arg(long, value_name = "K=V", requires = "actor")]
    attr: Vec<String>,
    /// A JSON file to carry as the entry's payload.
    #[arg(long, value_name = "FILE", requires = "actor")]
    payload: Option<PathBuf>,
    /// The source's own time of the event (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "actor")]
    occurred_at: Option<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A corrupt file can make the storage engine panic; report it as a storage failure with
    // exit status 3 rather than Rust's 101.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)))
        .unwrap_or_else(|_| {
            Err(storage_failed(
                "internal error: the ledger file may be corrupt (see the message above)",
            ))
        });
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}

fn run(cli: Cli) -> Res {
    let open = OpenOptions {
        wait: cli
            .wait
            .map(|s| Duration::try_from_secs_f64(s).map_err(|e| usage(format!("--wait: {e}"))))
            .transpose()?,
        ..OpenOptions::default()
    };
    let open_ledger = |p: &Path| Ledger::open_with(p, &open).map_err(Failure::from);
    match cli.command {
        Command::Init {
            ledger,
            origin,
            hash,
            raw,
            key,
        } => init(&ledger, origin, hash, raw, key),
        Command::Append(args) => append(open_ledger(&args.ledger)?, &args),
        Command::Show { ledger, index, raw } => {
            let l = open_ledger(&ledger)?;
            let bytes = l.get_raw(index)?;
            let mut out = std::io::stdout().lock();
            if raw {
                out.write_all(&bytes)
            } else if l.kind() == trailseal::LedgerKind::Raw {
                return Err(usage(
                    "this is a raw ledger: use --raw to print the leaf bytes",
                ));
            } else {
                out.write_all(&bytes).and_then(|_| out.write_all(b"\n"))
            }
            .map_err(stdout_fail)
        }
        Command::Checkpoint { ledger, key, size } => {
            let l = open_ledger(&ledger)?;
            let signer = read_signer(&key.unwrap_or_else(|| key_path(&ledger)))?;
            emit(&l.checkpoint(&signer, size)?)
        }
        Command::Prove { which } => {
            let json = match which {
                ProveCmd::Inclusion {
                    ledger,
                    index,
                    size,
                } => open_ledger(&ledger)?
                    .prove_inclusion(index, size)?
                    .to_json(),
                ProveCmd::Consistency { ledger, old, size } => open_ledger(&ledger)?
                    .prove_consistency(old, size)?
                    .to_json(),
            };
            emit_line(&json)
        }
        Command::Verify {
            ledger,
            checkpoint,
            vkey,
            indexes,
        } => verify(open_ledger(&ledger)?, checkpoint, vkey, indexes),
        Command::VerifyProof {
            inclusion,
            leaf,
            consistency,
            checkpoint,
            vkey,
        } => verify_proof(inclusion, leaf, consistency, checkpoint, vkey),
        Command::Record(a) => capture::record(&a, &open),
        Command::Import(a) => capture::import(&a, &open),
        Command::Query(q) => query(open_ledger(&q.ledger)?, &q),
        Command::Trace {
            ledger,
            index,
            forward,
            json,
        } => {
            let t = open_ledger(&ledger)?.trace(index, forward)?;
            if json {
                emit_line(&t.to_json())
            } else {
                emit(&draw_trace(&t, forward))
            }
        }
        Command::Why {
            ledger,
            index,
            json,
        } => {
            let w = open_ledger(&ledger)?.why(index)?;
            if json {
                emit_line(&w.to_json())
            } else {
                emit(&describe_why(&w))
            }
        }
        Command::Gate {
            ledger,
            subject,
            policy,
            record,
            actor,
            key,
            json,
        } => gate(
            open_ledger(&ledger)?,
            &subject,
            &policy,
            record.then(|| actor.unwrap_or_else(|| "trailseal-gate".into())),
            key,
            json,
        ),
        Command::Bundle(args) => bundle(open_ledger(&args.ledger)?, &args),
        Command::VerifyBundle { file, vkey, json } => verify_bundle(&file, &vkey, json),
        Command::Report {
            ledger,
            since,
            change_actions,
            json,
        } => report(open_ledger(&ledger)?, since, change_actions, json),
        Command::Vkey { ledger, key } => {
            let path = match (key, ledger) {
                (Some(k), _) => k,
                (None, Some(l)) => key_path(&l),
                (None, None) => return Err(usage("give LEDGER or --key KEYFILE")),
            };
            emit_line(&read_signer(&path)?.verifier())
        }
    }
}

fn init(ledger: &Path, origin: String, hash: HashName, raw: bool, key: Option<PathBuf>) -> Res {
    let key = key.unwrap_or_else(|| key_path(ledger));
    let signer = if key.exists() {
        read_signer(&key)?
    } else {
        Signer::generate(&origin)?
    };
    let mut opts = CreateOptions::new(origin).hash(hash.into());
    if raw {
        opts = opts.raw();
    }
    // Write the new key first, so a key path that cannot be written leaves no ledger behind.
    let created_key = !key.exists();
    if created_key {
        write_secret(&key, &signer.to_key_string())?;
    }
    let l = match Ledger::create(ledger, &opts) {
        Ok(l) => l,
        Err(e) => {
            if created_key {
                let _ = fs::remove_file(&key);
            }
            return Err(e.into());
        }
    };
    emit_line(&json!({
        "ledger": ledger.display().to_string(),
        "origin": l.origin(),
        "hash": l.hash().name(),
        "kind": l.kind().name(),
        "key_file": key.display().to_string(),
        "key_created": created_key,
        "verifier_key": signer.verifier().to_key_string(),
    }))
}

fn append(l: Ledger, a: &AppendArgs) -> Res {
    if a.raw {
        if a.inputs.is_empty() {
            return Err(usage("--raw needs at least one FILE"));
        }
        let leaves = a
            .inputs
            .iter()
            .map(|p| read_bytes(p))
            .collect::<Res<Vec<_>>>()?;
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        return print_receipts(&l.append_raw_batch(&refs)?);
    }
    if a.actor.is_some() {
        if !a.inputs.is_empty() {
            return Err(usage("give either entry flags or input FILEs, not both"));
        }
        let entry = entry_from_flags(a)?;
        return print_receipts(&[l.append(&entry)?]);
    }
    if a.inputs.len() > 1 {
        return Err(usage("give one JSON Lines FILE (or - for stdin)"));
    }
    let input: Box<dyn BufRead> = match a.inputs.first() {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            fs::File::open(p).map_err(|e| io_fail(p, e))?,
        )),
    };
    if a.batch == Some(0) {
        return Err(usage("--batch must be at least 1"));
    }
    let pb = progress_bar(None, "appending");
    let mut pending: Vec<Value> = Vec::new();
    let mut line_of: Vec<usize> = Vec::new();
    let commit = |pending: &mut Vec<Value>, line_of: &mut Vec<usize>| -> Res {
        if pending.is_empty() {
            return Ok(());
        }
        let receipts = l
            .append_batch(pending)
            .map_err(|e| with_input_line(e, line_of))?;
        print_receipts(&receipts)?;
        pb.inc(receipts.len() as u64);
        pending.clear();
        line_of.clear();
        Ok(())
    };
    let mut input = input;
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        let read = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_fail(Path::new("input"), e))?;
        if read == 0 {
            break;
        }
        n += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value = trailseal::entry::parse_json(&buf)
            .map_err(|e| Failure::from(e).prefixed(format_args!("input line {n}")))?;
        pending.push(value);
        line_of.push(n);
        if a.batch.is_some_and(|b| pending.len() >= b) {
            commit(&mut pending, &mut line_of)?;
        }
    }
    commit(&mut pending, &mut line_of)?;
    pb.finish_and_clear();
    Ok(())
}

/// Name the input line of a refused entry: the core names its position in the batch.
fn with_input_line(e: Error, line_of: &[usize]) -> Failure {
    let line = match &e {
        _ if line_of.len() == 1 => line_of.first(),
        Error::InvalidEntry { field, .. } => field
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(pos, _)| pos.parse::<usize>().ok())
            .and_then(|pos| line_of.get(pos)),
        _ => None,
    };
    let f = Failure::from(e);
    match line {
        Some(line) => f.prefixed(format_args!("input line {line}")),
        None => f.prefixed(format_args!(
            "batch of input lines {}-{}",
            line_of.first().unwrap_or(&0),
            line_of.last().unwrap_or(&0),
        )),
    }
}

fn entry_from_flags(a: &AppendArgs) -> Res<Value> {
    let mut e = Map::new();
    let mut actor = Map::new();
    actor.insert("id".into(), a.actor.clone().into());
    if let Some(r) = &a.role {
        actor.insert("role".into(), r.clone().into());
    }
    if let Some(t) = &a.tenant {
        actor.insert("tenant".into(), t.clone().into());
    }
    if !a.via.is_empty() {
        actor.insert("via".into(), a.via.clone().into());
    }
    e.insert("actor".into(), actor.into());
    let action = a
        .action
        .clone()
        .ok_or_else(|| usage("--action is required"))?;
    e.insert("action".into(), action.into());
    let subject = a
        .subject
        .as_deref()
        .ok_or_else(|| usage("--subject is required"))?;
    let (t, id) = split_pair("subject", subject, ':')?;
    e.insert("subject".into(), json!({"type": t, "id": id}));
    if let (Some(d), Some(p)) = (&a.decision, &a.policy) {
        let mut authz = json!({"decision": d, "policy": p});
        if let Some(v) = &a.policy_version {
            authz["policy_version"] = v.clone().into();
        }
        if let Some(r) = &a.reason {
            authz["reason"] = r.clone().into();
        }
        e.insert("authz".into(), authz);
    }
    if let Some(id) = &a.id {
        e.insert("id".into(), id.clone().into());
    }
    let mut links = Vec::new();
    for l in &a.link {
        let (rel, ix) = split_pair("link", l, '=')?;
        let ix: u64 = ix
            .parse()
            .map_err(|_| usage(format!("--link {l:?}: INDEX must be a number")))?;
        links.push(json!({"rel": rel, "index": ix}));
    }
    for r in &a.refs {
        let (rel, ext) = split_pair("ref", r, '=')?;
        links.push(json!({"rel": rel, "ref": ext}));
    }
    if !links.is_empty() {
        e.insert("links".into(), links.into());
    }
    if !a.attr.is_empty() {
        let mut attrs = Map::new();
        for kv in &a.attr {
            let (k, v) = split_pair("attr", kv, '=')?;
            attrs.insert(k.into(), v.into());
        }
        e.insert("attrs".into(), attrs.into());
    }
    if let Some(p) = &a.payload {
        let text = read_text(p)?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| usage(format!("--payload {}: not JSON: {e}", p.display())))?;
        e.insert("payload".into(), v);
    }
    if let Some(t) = &a.occurred_at {
        e.insert("occurred_at".into(), t.clone().into());
    }
    Ok(Value::Object(e))
}

fn verify(l: Ledger, checkpoint: Option<PathBuf>, vkey: Option<String>, indexes: bool) -> Res {
    let size = l.size()?;
    let pb = progress_bar(Some(size), "verifying");
    let mut tick = |done: u64, _total: u64| pb.set_position(done);
    let external = match (&checkpoint, &vkey) {
        (Some(c), Some(k)) => Some((read_text(c)?, read_verifier(k)?)),
        _ => None,
    };
    let mut opts = VerifyOptions::default()
        .indexes(indexes)
        .progress(&mut tick);
    if let Some((note, v)) = &external {
        opts = opts.against(note, v);
    }
    let report = l.verify_with(opts);
    pb.finish_and_clear();
    emit_line(&report?.to_json())
}

fn verify_proof(
    inclusion: Option<PathBuf>,
    leaf: Option<PathBuf>,
    consistency: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    vkey: Option<String>,
) -> Res {
    let cp = match (&checkpoint, &vkey) {
        (Some(c), Some(k)) => Some(Checkpoint::verify(&read_text(c)?, &read_verifier(k)?)?),
        _ => None,
    };
    let mut report = Map::new();
    if let Some(p) = inclusion {
        let proof = InclusionProof::from_json(&read_text(&p)?)?;
        match &leaf {
            Some(lp) => {
                proof.verify_leaf(&read_bytes(lp)?)?;
            }
            None => proof.verify()?,
        }
        if let Some(c) = &cp {
            proof.matches_checkpoint(c)?;
        }
        report.insert("index".into(), proof.index.into());
        report.insert("tree_size".into(), proof.tree_size.into());
        report.insert("leaf_checked".into(), leaf.is_some().into());
    } else if let Some(p) = consistency {
        let proof = ConsistencyProof::from_json(&read_text(&p)?)?;
        proof.verify()?;
        if let Some(c) = &cp {
            proof.matches_checkpoint(c)?;
        }
        report.insert("old_size".into(), proof.old_size.into());
        report.insert("new_size".into(), proof.new_size.into());
    }
    report.insert("ok".into(), true.into());
    if let Some(c) = &cp {
        report.insert("checkpoint_size".into(), c.size.into());
    }
    emit_line(&Value::Object(report))
}

fn query(l: Ledger, a: &QueryArgs) -> Res {
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
                actor_of(e),
                str_at(e, "/action"),
                subject_of(e),
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

fn str_at<'a>(e: &'a Value, pointer: &str) -> &'a str {
    e.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn actor_of(e: &Value) -> String {
    let mut s = str_at(e, "/actor/id").to_owned();
    if let Some(via) = e.pointer("/actor/via").and_then(Value::as_array) {
        let via: Vec<&str> = via.iter().filter_map(Value::as_str).collect();
        s.push_str(&format!(" (via {})", via.join(", ")));
    }
    s
}

fn subject_of(e: &Value) -> String {
    format!(
        "{}:{}",
        str_at(e, "/subject/type"),
        str_at(e, "/subject/id")
    )
}

fn authz_of(e: &Value) -> String {
    if e.get("authz").is_none() {
        return String::new();
    }
    let mut s = format!(
        "{} by {}",
        str_at(e, "/authz/decision"),
        str_at(e, "/authz/policy")
    );
    let v = str_at(e, "/authz/policy_version");
    if !v.is_empty() {
        s.push_str(&format!(" v{v}"));
    }
    let r = str_at(e, "/authz/reason");
    if !r.is_empty() {
        s.push_str(&format!(": {r}"));
    }
    s
}

fn node_line(index: u64, e: &Value) -> String {
    let mut s = format!(
        "#{index} {} {} by {} at {}",
        str_at(e, "/action"),
        subject_of(e),
        actor_of(e),
        str_at(e, "/time")
    );
    let a = authz_of(e);
    if !a.is_empty() {
        s.push_str(&format!(" [{a}]"));
    }
    s
}

/// The trace as an indented tree; an entry reached twice is drawn once and referred to after.
fn draw_trace(t: &trailseal::query::Trace, forward: bool) -> String {
    let by_index: std::collections::BTreeMap<u64, &trailseal::query::TraceNode> =
        t.nodes.iter().map(|n| (n.found.index, n)).collect();
    let mut out = String::new();
    let mut drawn = std::collections::BTreeSet::new();
    #[allow(clippy::too_many_arguments)]
    fn walk(
        i: u64,
        prefix: &str,
        last: bool,
        top: bool,
        forward: bool,
        nodes: &std::collections::BTreeMap<u64, &trailseal::query::TraceNode>,
        drawn: &mut std::collections::BTreeSet<u64>,
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
    out
}

fn describe_why(w: &trailseal::query::Why) -> String {
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

fn gate(
    l: Ledger,
    subject: &str,
    policy_file: &Path,
    record_as: Option<String>,
    key: Option<PathBuf>,
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
        if let Some(k) = &key {
            let note = l.checkpoint(&read_signer(k)?, Some(receipt.tree_size))?;
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

fn bundle(l: Ledger, a: &BundleArgs) -> Res {
    let selection = match (a.index, a.filters.subject.as_deref()) {
        (Some(_), _) if a.filters.subject.is_some() || a.filters.has_more_than_subject() => {
            return Err(usage("give either --index or query filters, not both"))
        }
        (Some(index), _) => Selection::Trace {
            index,
            forward: a.forward,
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
    let b = match (&a.checkpoint, &a.vkey) {
        (Some(c), Some(k)) => {
            l.bundle_with_checkpoint(&selection, &read_text(c)?, &read_verifier(k)?)?
        }
        _ => {
            let signer = read_signer(&a.key.clone().unwrap_or_else(|| key_path(&a.ledger)))?;
            l.bundle(&selection, &signer)?
        }
    };
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

fn verify_bundle(file: &Path, vkey: &str, json: bool) -> Res {
    let verifier = read_verifier(vkey)?;
    let report = trailseal::bundle::verify_bundle_bytes(&read_bytes(file)?, &verifier)?;
    if json {
        return emit_line(&report.to_json());
    }
    let mut text = format!(
        "OK: {} of {}, each proven in its tree of {} entries (root {}), checkpoint signed by {}\n",
        entries(report.entries.len()),
        report.origin,
        report.tree_size,
        merkle::to_hex(&report.root),
        report.key_name
    );
    for f in &report.entries {
        text.push_str(&format!("  {}\n", node_line(f.index, &f.entry)));
    }
    emit(&text)
}

fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}

/// `1d 2h`, `3h 5m`, `20m`, `45s`.
fn duration(nanos: i128) -> String {
    let s = nanos / 1_000_000_000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn report(l: Ledger, since: Option<String>, change_actions: Vec<String>, json: bool) -> Res {
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
    let mut longest: Vec<&trailseal::report::Wait> = r.waits.iter().collect();
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
