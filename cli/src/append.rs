//! `trailseal append`: entries from JSON Lines or flags, or raw leaves from files.

use std::fs;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Map, Value};
use trailseal::{Error, Ledger};

use crate::cli::split_pair;
use crate::error::{io_fail, usage, Failure, Res};
use crate::io::{print_receipts, progress_bar, read_bytes, read_text};

/// `append`: the input files, or the flags of one entry.
#[derive(Args)]
pub struct AppendArgs {
    pub ledger: PathBuf,
    /// JSON Lines file ('-' or absent: stdin); with --raw, files whose bytes are each one leaf.
    pub inputs: Vec<PathBuf>,
    /// Commit as soon as each N lines have arrived (default: the whole input is one batch).
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Raw ledger: each FILE's bytes are one leaf.
    #[arg(long)]
    pub raw: bool,
    #[arg(long, value_name = "ID")]
    pub actor: Option<String>,
    #[arg(long, value_name = "A", requires = "actor")]
    pub action: Option<String>,
    /// TYPE:ID
    #[arg(long, value_name = "TYPE:ID", requires = "actor")]
    pub subject: Option<String>,
    #[arg(long, requires = "actor")]
    pub role: Option<String>,
    #[arg(long, requires = "actor")]
    pub tenant: Option<String>,
    #[arg(long, value_name = "ID", requires = "actor")]
    pub via: Vec<String>,
    #[arg(long, value_name = "D", requires = "policy")]
    pub decision: Option<String>,
    #[arg(long, value_name = "P", requires = "decision")]
    pub policy: Option<String>,
    #[arg(long, value_name = "V", requires = "policy")]
    pub policy_version: Option<String>,
    #[arg(long, value_name = "R", requires = "decision")]
    pub reason: Option<String>,
    #[arg(long, value_name = "ID", requires = "actor")]
    pub id: Option<String>,
    /// REL=INDEX
    #[arg(long, value_name = "REL=INDEX", requires = "actor")]
    pub link: Vec<String>,
    /// REL=EXTERNAL_ID
    #[arg(long = "ref", value_name = "REL=EXTERNAL_ID", requires = "actor")]
    pub refs: Vec<String>,
    /// K=V
    #[arg(long, value_name = "K=V", requires = "actor")]
    pub attr: Vec<String>,
    /// A JSON file to carry as the entry's payload.
    #[arg(long, value_name = "FILE", requires = "actor")]
    pub payload: Option<PathBuf>,
    /// The source's own time of the event (RFC 3339).
    #[arg(long, value_name = "TIME", requires = "actor")]
    pub occurred_at: Option<String>,
    /// Record an entry refused by the rules in force as an audit.refused entry (its digest
    /// and the reason), so the attempt is visible to auditors.
    #[arg(long)]
    pub record_refusals: bool,
}

/// Append what `a` gives: raw leaves (one per file), one entry from flags, or JSON Lines
/// committed as one batch or every `--batch` lines. Receipts are printed as each batch
/// commits, so a caller that is cut off knows exactly what was written.
pub fn append(l: Ledger, a: &AppendArgs) -> Res {
    l.set_record_refusals(a.record_refusals);
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
        None => Box::new(io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(p) => Box::new(io::BufReader::new(
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

/// The one entry the flags describe, in the JSON shape an input line would have, so the
/// core validates it exactly as it would a line.
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
