//! Signed checkpoints and the proofs against them: `checkpoint`, `prove`, `verify-proof` and
//! `vkey`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use trailseal::publish::proofs::{prove_consistency, prove_inclusion};
use trailseal::publish::{open_source, Source};
use trailseal::{check_consistency, check_inclusion, Ledger, OpenOptions, Outside};

use crate::witness::Policy;

use crate::cli::ProveCmd;
use crate::error::{usage, Res};
use crate::io::{
    emit, emit_line, key_path, ledger_signer, open_ledger, outside_texts, read_bytes, read_signer,
    read_text,
};

/// Sign a checkpoint of the ledger at `size` (default: now) with its signer key (found as
/// [`ledger_signer`] finds it) and print its note, for whoever must later check this ledger
/// against it.
pub fn checkpoint(l: Ledger, ledger: &Path, key: Option<PathBuf>, size: Option<u64>) -> Res {
    let signer = ledger_signer(&l, ledger, key.as_deref())?;
    emit(&l.checkpoint(&signer, size)?)
}

/// Print the asked proof as SPEC JSON, for `verify-proof` or any other implementation.
pub fn prove(which: ProveCmd, open: &OpenOptions) -> Res {
    let json = match which {
        ProveCmd::Inclusion {
            ledger,
            index,
            size,
        } => match published(&ledger)? {
            Some(src) => prove_inclusion(src.as_ref(), index, size)?.to_json(),
            None => open_ledger(&ledger, open)?
                .prove_inclusion(index, size)?
                .to_json(),
        },
        ProveCmd::Consistency { ledger, old, size } => match published(&ledger)? {
            Some(src) => prove_consistency(src.as_ref(), old, size)?.to_json(),
            None => open_ledger(&ledger, open)?
                .prove_consistency(old, size)?
                .to_json(),
        },
    };
    emit_line(&json)
}

/// A published log named where a ledger may be: an `s3://` or `http(s)://` URL, or a
/// directory (a ledger is a file).
pub fn published(arg: &Path) -> Res<Option<Box<dyn Source>>> {
    let text = arg.to_string_lossy();
    let url = ["s3://", "https://", "http://"]
        .iter()
        .any(|p| text.starts_with(p));
    if url || arg.is_dir() {
        return Ok(Some(open_source(&text)?));
    }
    Ok(None)
}

/// Check an inclusion or a consistency proof on its own, and against a signed checkpoint
/// when one is given; prints what was checked. No ledger is opened: this is what someone
/// without a copy of the ledger runs. The checks and their order are the core's
/// (`check_inclusion`, `check_consistency`), so a bad input fails here as in every binding.
pub fn verify_proof(
    inclusion: Option<PathBuf>,
    leaf: Option<PathBuf>,
    consistency: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    vkey: Option<String>,
    policy: Option<Policy>,
) -> Res {
    let (note, vkey) = outside_texts(checkpoint.as_deref(), vkey.as_deref())?;
    let outside = Outside::pair(note.as_deref(), vkey.as_deref())?;
    // The witnesses vouch for a checkpoint, so without one there is nothing to hold them to.
    let cosigned = match (&policy, outside) {
        (None, _) => None,
        (Some(_), None) => return Err(usage(
            "--witness-key needs --checkpoint FILE and --vkey VKEY: witnesses cosign a checkpoint",
        )),
        (Some(p), Some(o)) => Some(p.verify_note(o.note, &o.verifier()?)?),
    };
    let mut report = Map::new();
    let checkpoint = if let Some(p) = inclusion {
        let leaf_bytes = leaf.as_deref().map(read_bytes).transpose()?;
        let checked = check_inclusion(&read_text(&p)?, leaf_bytes.as_deref(), outside)?;
        report.insert("index".into(), checked.proof.index.into());
        report.insert("tree_size".into(), checked.proof.tree_size.into());
        report.insert("leaf_checked".into(), leaf.is_some().into());
        checked.checkpoint
    } else if let Some(p) = consistency {
        let (checked, _) = check_consistency(&read_text(&p)?, outside)?;
        report.insert("old_size".into(), checked.proof.old_size.into());
        report.insert("new_size".into(), checked.proof.new_size.into());
        checked.checkpoint
    } else {
        return Err(usage("give --inclusion FILE or --consistency FILE"));
    };
    report.insert("ok".into(), true.into());
    if let Some(c) = &cosigned {
        report.insert("cosignatures".into(), c.to_json()["cosignatures"].clone());
    }
    if let Some(c) = &checkpoint {
        report.insert("checkpoint_size".into(), c.size.into());
    }
    emit_line(&Value::Object(report))
}

/// Print the verifier key of `key`, or the one `ledger` recorded when it was created: the
/// string to hand to whoever checks the checkpoints. A ledger created before ledgers recorded
/// it has only its default key file, `LEDGER.key`, to ask.
pub fn vkey(ledger: Option<PathBuf>, key: Option<PathBuf>, open: &OpenOptions) -> Res {
    let ledger = match (key, ledger) {
        (Some(k), _) => return emit_line(&read_signer(&k)?.verifier()),
        (None, Some(l)) => l,
        (None, None) => return Err(usage("give LEDGER or --key KEYFILE")),
    };
    // The key in force: the first one, or the one the latest rotation put in its place.
    if let Some(vk) = open_ledger(&ledger, open)?.verifier_key_in_force()? {
        return emit_line(&vk);
    }
    let fallback = key_path(&ledger);
    if !fallback.exists() {
        return Err(usage(format!(
            "{} records no verifier key (it was created before ledgers recorded one) and {} does not exist: give its signer key with --key KEYFILE",
            ledger.display(),
            fallback.display()
        )));
    }
    emit_line(&read_signer(&fallback)?.verifier())
}
