//! `verify` and `verify-bundle`: whether a whole ledger, or an evidence bundle taken from one,
//! is intact.

use std::path::{Path, PathBuf};

use trailseal::merkle;
use trailseal::{Ledger, Outside, VerifyOptions};

use crate::error::Res;
use crate::io::{
    emit, emit_line, emit_lines, outside_texts, progress_bar, read_bytes, read_verifier,
};
use crate::render::{entries, node_line};
use crate::witness::Policy;

/// Check the whole ledger (and with `indexes` every index posting), and that it extends the
/// given checkpoint when one is held elsewhere; prints the report. A failed check is an
/// error, so the exit status alone answers "is this ledger intact".
pub fn verify(
    l: Ledger,
    checkpoint: Option<PathBuf>,
    vkey: Option<String>,
    indexes: bool,
    policy: Option<Policy>,
) -> Res {
    let size = l.size()?;
    let pb = progress_bar(Some(size), "verifying");
    let mut tick = |done: u64, _total: u64| pb.set_position(done);
    let (note, vkey) = outside_texts(checkpoint.as_deref(), vkey.as_deref())?;
    let outside = Outside::pair(note.as_deref(), vkey.as_deref())?;
    let verifier = outside.map(|o| o.verifier()).transpose()?;
    let mut opts = VerifyOptions::default()
        .indexes(indexes)
        .progress(&mut tick);
    if let (Some(o), Some(v)) = (outside, &verifier) {
        opts = opts.against(o.note, v);
    }
    if let Some(p) = &policy {
        opts = opts.witnessed(p.as_ref());
    }
    let report = l.verify_with(opts);
    pb.finish_and_clear();
    emit_line(&report?.to_json())
}

/// Check an evidence bundle with nothing but the verifier key (and, given `tsa_ca`, its
/// time-stamp token against that CA), and list what it proves.
/// `verify-completeness`: check a completeness proof with the verifier key alone; print the
/// answer.
pub fn verify_completeness(file: &Path, vkey: &str, json: bool) -> Res {
    let verifier = read_verifier(vkey)?;
    let text = String::from_utf8(read_bytes(file)?)
        .map_err(|_| trailseal::Error::malformed("completeness proof", "not UTF-8"))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| trailseal::Error::malformed("completeness proof", e.to_string()))?;
    let proof = trailseal::commit_index::proof::CompletenessProof::from_json(&value)?;
    let report = proof.verify(&verifier)?;
    if json {
        return emit_lines(report.entries.iter().map(|f| f.to_json()));
    }
    let indexes: Vec<String> = report.entries.iter().map(|f| f.index.to_string()).collect();
    emit(&format!(
        "OK: {} in [{}, {}) of {} (tree of {} entries), complete{}: {}\n",
        entries(report.entries.len()),
        proof.range.0,
        proof.range.1,
        proof.origin,
        report.tree_size,
        match report.commitment {
            Some(c) => format!(" (index committed at {c}, the rest read whole)"),
            None => " (no index commitment: every entry read whole)".into(),
        },
        indexes.join(" ")
    ))
}

pub fn verify_bundle(
    file: &Path,
    vkey: &str,
    tsa_ca: Option<&Path>,
    json: bool,
    policy: Option<Policy>,
) -> Res {
    let verifier = read_verifier(vkey)?;
    let bytes = read_bytes(file)?;
    let report = match tsa_ca {
        Some(ca) => {
            trailseal::evidence::verify_bundle_with_tsa(&bytes, &verifier, &read_bytes(ca)?)?
        }
        None => trailseal::evidence::verify_bundle_bytes(&bytes, &verifier)?,
    };
    // The bundle verified, so it is UTF-8 and parses; its checkpoint is then held to the
    // policy.
    let cosigned = match &policy {
        None => None,
        Some(p) => {
            let text = String::from_utf8_lossy(&bytes);
            let bundle = trailseal::Bundle::parse(&text)?;
            Some(p.verify_note(&bundle.checkpoint, &verifier)?)
        }
    };
    if json {
        let mut v = report.to_json();
        if let Some(c) = &cosigned {
            v["cosignatures"] = c.to_json()["cosignatures"].clone();
        }
        return emit_line(&v);
    }
    let mut text = format!(
        "OK: {} of {}, each proven in its tree of {} entries (root {}), checkpoint signed by {}\n",
        entries(report.entries.len()),
        report.origin,
        report.tree_size,
        merkle::to_hex(&report.root),
        report.key_name
    );
    if let Some(c) = &cosigned {
        let names: Vec<&str> = c.cosignatures.iter().map(|c| c.name.as_str()).collect();
        text.push_str(&format!("  cosigned by: {}\n", names.join(", ")));
    }
    if let Some(a) = &report.attested {
        text.push_str(&format!(
            "  checkpoint time-stamped at {} by {} (serial {})\n",
            a.time, a.tsa, a.serial
        ));
    }
    for f in &report.entries {
        text.push_str(&format!("  {}\n", node_line(f.index, &f.entry)));
    }
    // A pruned entry's leaf hash is proven, its content is gone: say so, never show it as
    // an entry.
    for p in &report.pruned {
        text.push_str(&format!("  #{} pruned: {p}\n", p.index));
    }
    emit(&text)
}
