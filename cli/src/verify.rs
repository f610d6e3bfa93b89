//! `verify` and `verify-bundle`: whether a whole ledger, or an evidence bundle taken from one,
//! is intact.

use std::path::{Path, PathBuf};

use trailseal::merkle;
use trailseal::{Ledger, VerifyOptions};

use crate::error::Res;
use crate::io::{emit, emit_line, progress_bar, read_bytes, read_text, read_verifier};
use crate::render::{entries, node_line};

/// Check the whole ledger (and with `indexes` every index posting), and that it extends the
/// given checkpoint when one is held elsewhere; prints the report. A failed check is an
/// error, so the exit status alone answers "is this ledger intact".
pub fn verify(l: Ledger, checkpoint: Option<PathBuf>, vkey: Option<String>, indexes: bool) -> Res {
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

/// Check an evidence bundle with nothing but the verifier key, and list what it proves.
pub fn verify_bundle(file: &Path, vkey: &str, json: bool) -> Res {
    let verifier = read_verifier(vkey)?;
    let report = trailseal::evidence::verify_bundle_bytes(&read_bytes(file)?, &verifier)?;
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
