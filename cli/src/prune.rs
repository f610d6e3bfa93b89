//! `prune` and `compact`: removing the leaf bytes retention allows to go (the core's
//! `Ledger::prune`), and returning the freed pages to the file system.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trailseal::{Ledger, OpenOptions, PruneOptions, RecordedBy, Timestamp};

use crate::error::{Failure, Res};
use crate::io::{emit_line, open_ledger};
use crate::retention::Authority;

/// `prune LEDGER [--before TIME] [--dry-run] --actor ID --policy RULE [--reason TEXT]`.
#[derive(Args)]
pub struct PruneArgs {
    pub ledger: PathBuf,
    /// Judge retention at this time (RFC 3339; default: now): entries whose retention ended
    /// by then may go.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Only say what would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub by: Authority,
}

/// Runs `prune`: prints the report, {"dry_run", "before", "size", "rules", "pruned":
/// [[start, end], ...], "count", "records", "kept": {...}, "already_pruned"}.
pub fn prune(args: &PruneArgs, open: &OpenOptions, read: &OpenOptions) -> Res {
    let before = match &args.before {
        Some(t) => Timestamp::parse(t).map_err(|e| Failure::from(e).prefixed("--before"))?,
        None => Timestamp::now(),
    };
    let authz = args.by.authz();
    let l = open_ledger(&args.ledger, if args.dry_run { read } else { open })?;
    let report = l.prune(&PruneOptions {
        before,
        dry_run: args.dry_run,
        by: RecordedBy {
            actor: &args.by.actor,
            authz: &authz,
        },
    })?;
    emit_line(&report.to_json())
}

/// Runs `compact`: prints {"compacted", "bytes_before", "bytes_after"}.
pub fn compact(ledger: &PathBuf) -> Res {
    let size = |p: &PathBuf| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| crate::error::io_fail(p, e))
    };
    let before = size(ledger)?;
    let compacted = Ledger::compact(ledger)?;
    emit_line(
        &json!({"compacted": compacted, "bytes_before": before, "bytes_after": size(ledger)?}),
    )
}
