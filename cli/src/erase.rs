//! `erase`, `scrub` and `openings`: personal values (SPEC section 10) erased with the record
//! that says why, free pages overwritten, and the openings a data subject or auditor keeps.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;
use trailseal::{EraseOptions, EraseSelect, Ledger, OpenOptions, RecordedBy};

use crate::error::{usage, Res};
use crate::io::{emit_line, open_ledger};

/// `erase LEDGER (--actor ID | --subject TYPE:ID | INDEX...) --reason R --policy P --by ID
/// [--legal-basis B] [--request REF] [--dry-run]`.
#[derive(Args)]
pub struct EraseArgs {
    pub ledger: PathBuf,
    /// Erase these entries' personal values.
    #[arg(value_name = "INDEX")]
    pub indexes: Vec<u64>,
    /// Erase the personal values of every entry by this actor.
    #[arg(long, value_name = "ID", conflicts_with_all = ["subject", "indexes"])]
    pub actor: Option<String>,
    /// Erase the personal values of every entry about this subject.
    #[arg(long, value_name = "TYPE:ID", conflicts_with = "indexes")]
    pub subject: Option<String>,
    /// Why (recorded; must not itself hold the values).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The rule that allows the erasure (the record's authz.policy).
    #[arg(long, value_name = "RULE")]
    pub policy: String,
    /// Who erases (the record's actor.id).
    #[arg(long, value_name = "ID")]
    pub by: String,
    /// The legal basis, recorded (e.g. "GDPR Art. 17(1)(a)").
    #[arg(long, value_name = "TEXT")]
    pub legal_basis: Option<String>,
    /// The request's reference (the record's subject.id; default "erasure").
    #[arg(long, value_name = "REF")]
    pub request: Option<String>,
    /// Only say what would be erased; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `erase`: prints {"dry_run", "erased": [...], "count", "skipped", "records": [...],
/// "compacted"} (`compacted`: whether the file could be had alone to give back what the
/// overwrite of its free pages grew; absent for a dry run).
pub fn erase(args: &EraseArgs, open: &OpenOptions, read: &OpenOptions) -> Res {
    let select = match (&args.actor, &args.subject) {
        (Some(a), _) => EraseSelect::Actor(a.clone()),
        (None, Some(s)) => {
            let (t, i) = s
                .split_once(':')
                .ok_or_else(|| usage("--subject takes TYPE:ID"))?;
            EraseSelect::Subject(t.into(), i.into())
        }
        (None, None) if !args.indexes.is_empty() => EraseSelect::Indexes(args.indexes.clone()),
        (None, None) => return Err(usage("name what to erase: --actor, --subject or INDEX...")),
    };
    let authz = json!({"decision": "allow", "policy": args.policy, "reason": args.reason});
    let l = open_ledger(&args.ledger, if args.dry_run { read } else { open })?;
    let mut report = l
        .erase(&EraseOptions {
            select,
            reason: &args.reason,
            legal_basis: args.legal_basis.as_deref(),
            request: args.request.as_deref(),
            dry_run: args.dry_run,
            by: RecordedBy {
                actor: &args.by,
                authz: &authz,
            },
        })?
        .to_json();
    drop(l);
    // Overwriting the free pages grew the file by a step; with the file to itself, give it
    // back (another process holding it keeps it until a later `compact`).
    if !args.dry_run {
        report["compacted"] = match Ledger::compact(&args.ledger) {
            Ok(_) => true.into(),
            Err(trailseal::Error::Locked(_)) => false.into(),
            Err(e) => return Err(e.into()),
        };
    }
    emit_line(&report)
}

/// Runs `scrub`: overwrites the free pages; prints {"scrubbed": true}.
pub fn scrub(ledger: &Path, open: &OpenOptions) -> Res {
    open_ledger(ledger, open)?.scrub_free_pages()?;
    emit_line(&json!({"scrubbed": true}))
}

/// Runs `openings`: prints entry INDEX's openings ({"<path>": {"salt", "value"}}), or null
/// when it has none (no sealed fields, or erased).
pub fn openings(ledger: &Path, index: u64, read: &OpenOptions) -> Res {
    let o = open_ledger(ledger, read)?.openings(index)?;
    emit_line(&o.unwrap_or(serde_json::Value::Null))
}

/// Runs `verify-opening`: exit 0 and {"opens": true} when `value` (JSON) under `salt` gives
/// `commitment`; exit 1 (`verification_failed`) when not.
pub fn verify_opening(commitment: &str, salt: &str, value: &str) -> Res {
    let value = trailseal::entry::parse_json(value.as_bytes())
        .map_err(|e| crate::error::Failure::from(e).prefixed("VALUE"))?;
    trailseal::entry::check_opening(commitment, salt, &value)?;
    emit_line(&json!({"opens": true}))
}
