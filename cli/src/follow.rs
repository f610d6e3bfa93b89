//! `trailseal follow`: print entries as they are committed, by this or any other process.
//!
//! The ledger is opened read-only, so a follower never changes a byte of the file, needs only
//! read permission, and runs beside the processes appending to it. It polls the size: a read
//! snapshot per poll is cheap, and redb offers no notification of another process's commit.

use std::io::{self, Write};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use trailseal::export::ocsf::{to_ocsf, Provenance};
use trailseal::query::Found;
use trailseal::{Ledger, LedgerKind};

use crate::error::{usage, Res};
use crate::io::stdout_fail;

/// How often the size is read while nothing new has been committed: short enough that a
/// person watching sees an entry at once, long enough to cost nothing measurable.
const POLL: Duration = Duration::from_millis(100);

/// The most entries printed in one batch before stdout is flushed and limits are checked
/// again, so a follower replaying a long ledger streams rather than holding it all back.
const BATCH: u64 = 1024;

/// `follow`: where to start and when to stop.
#[derive(Args)]
pub struct FollowArgs {
    pub ledger: PathBuf,
    /// The first index to print (default: the current size, so only entries committed from now
    /// on; 0 replays the whole ledger first).
    #[arg(long, value_name = "N")]
    pub from: Option<u64>,
    /// Stop after printing N entries.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop once the ledger has N entries and every one up to there is printed.
    #[arg(long, value_name = "N")]
    pub until_size: Option<u64>,
    /// json: {"index", "entry"} per line. ocsf: each entry as an OCSF event (the mapping of
    /// `import --format ocsf` reversed; entry ledgers only), for a SIEM's log shipper.
    #[arg(long, value_enum, default_value = "json")]
    pub format: LineFormat,
}

/// What each line of `follow` holds.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineFormat {
    Json,
    Ocsf,
}

/// Print each committed entry from `--from` on, in index order, then wait for more; stop at
/// `--count` or `--until-size`, or when the reader of stdout goes away (exit 0: a follower
/// piped into `head` has done its job). SIGINT and SIGTERM end it as they end any command:
/// every batch printed was flushed, and a read-only handle leaves nothing to clean up.
pub fn follow(l: Ledger, a: &FollowArgs) -> Res {
    if a.format == LineFormat::Ocsf && l.kind() != LedgerKind::Entries {
        return Err(usage(
            "--format ocsf needs a ledger of audit entries; this one holds raw leaves",
        ));
    }
    let mut next = match a.from {
        Some(n) => n,
        None => l.size()?,
    };
    let mut left = a.count;
    loop {
        let stop_at = a.until_size.unwrap_or(u64::MAX);
        if left == Some(0) || next >= stop_at {
            return Ok(());
        }
        let size = l.size()?;
        if size <= next {
            thread::sleep(POLL);
            continue;
        }
        let mut end = size.min(stop_at).min(next.saturating_add(BATCH));
        if let Some(n) = left {
            end = end.min(next.saturating_add(n));
        }
        let text = match a.format {
            LineFormat::Json => {
                let mut text = String::new();
                for index in next..end {
                    text.push_str(&line(&l, index)?.to_string());
                    text.push('\n');
                }
                text
            }
            LineFormat::Ocsf => ocsf_lines(&l, next, end)?,
        };
        if !print(&text)? {
            return Ok(());
        }
        left = left.map(|n| n - (end - next));
        next = end;
    }
}

/// One entry as `query --json` prints it, `{"index", "entry"}`; a raw ledger's leaf as
/// `{"index", "leaf"}` with the leaf bytes in hex, since they need not be text and a line
/// cannot hold them as `show --raw` prints them.
fn line(l: &Ledger, index: u64) -> Res<Value> {
    Ok(match l.kind() {
        // The entry as its leaf holds it: sealed personal values stay commitments, so a copy
        // followed into a SIEM never holds one (SPEC section 10; docs/EXPORT.md).
        LedgerKind::Entries => match l.get_raw(index) {
            Ok(bytes) => Found {
                index,
                entry: serde_json::from_slice(&bytes).map_err(|e| trailseal::Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: format!("stored entry is not JSON: {e}"),
                })?,
            }
            .to_json(),
            // A pruned entry reads as pruned: where it went, its leaf hash, no content.
            Err(e) => match l.pruned(index)? {
                Some(p) => p.to_json(),
                None => return Err(e.into()),
            },
        },
        LedgerKind::Raw => json!({
            "index": index,
            "leaf": hex::encode(l.get_raw(index)?),
        }),
    })
}

/// Entries `first..end` as OCSF events, one per line, read in stored bundles.
fn ocsf_lines(l: &Ledger, first: u64, end: u64) -> Res<String> {
    let mut text = String::new();
    l.scan_raw(first, end, |at, leaves| {
        for (k, leaf) in leaves.iter().enumerate() {
            let index = at + k as u64;
            // Pruned: nothing to export.
            if leaf.is_empty() {
                continue;
            }
            let entry: Value =
                serde_json::from_slice(leaf).map_err(|e| trailseal::Error::Tampered {
                    location: format!("leaf {index}"),
                    detail: format!("stored entry is not JSON: {e}"),
                })?;
            let at = Provenance {
                origin: l.origin(),
                hash: l.hash(),
                index,
                leaf_hash: l.hash().leaf_hash(leaf),
            };
            text.push_str(&to_ocsf(&entry, &at)?.to_string());
            text.push('\n');
        }
        Ok(())
    })?;
    Ok(text)
}

/// Write and flush one batch; `false` when stdout's reader has gone (a broken pipe).
fn print(text: &str) -> Res<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(stdout_fail(e)),
    }
}
