//! `monitor`: check a published log against what was seen last, and remember what is seen
//! now.

use std::path::PathBuf;

use clap::Args;
use trailseal::publish::monitor::{monitor as check, MonitorState};
use trailseal::publish::open_source;

use crate::error::{io_fail, usage, Res};
use crate::io::{emit_line, read_text, read_verifier};
use crate::witness::PolicyArgs;

/// The arguments of `monitor`.
#[derive(Args)]
pub struct MonitorArgs {
    /// The published log: a directory, an https:// URL prefix or s3://bucket/prefix.
    pub source: String,
    /// The log's verifier key, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    pub vkey: String,
    /// The checkpoint must also carry cosignatures of --quorum of these witnesses.
    #[command(flatten)]
    pub witnesses: PolicyArgs,
    /// What was seen last (JSON, written by the previous run; created on the first).
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Re-hash the whole log, not just the entries added since the state's checkpoint.
    #[arg(long)]
    pub full: bool,
}

/// Runs `monitor`; prints the report, and updates the state file only when every check
/// held. Exit 1 on a fork, a rollback or a mismatch, with what was found.
pub fn monitor(args: &MonitorArgs) -> Res {
    let log = read_verifier(&args.vkey)?;
    let policy = args.witnesses.policy()?;
    let last = if args.state.exists() {
        let text = read_text(&args.state)?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            usage(format!(
                "{}: not a monitor state: {e}",
                args.state.display()
            ))
        })?;
        Some(MonitorState::from_json(&v)?)
    } else {
        None
    };
    let source = open_source(&args.source)?;
    let (report, state) = check(
        source.as_ref(),
        &log,
        policy.as_deref(),
        last.as_ref(),
        args.full,
    )?;
    let tmp = args.state.with_extension("tmp");
    let text = format!("{}\n", state.to_json());
    std::fs::write(&tmp, text).map_err(|e| io_fail(&tmp, e))?;
    std::fs::rename(&tmp, &args.state).map_err(|e| io_fail(&args.state, e))?;
    emit_line(&report.to_json())
}
