//! Signed checkpoints and the proofs against them: `checkpoint`, `prove`, `verify-proof` and
//! `vkey`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use trailseal::{Checkpoint, ConsistencyProof, InclusionProof, Ledger, OpenOptions};

use crate::cli::ProveCmd;
use crate::error::{usage, Res};
use crate::io::{
    emit, emit_line, key_path, open_ledger, read_bytes, read_signer, read_text, read_verifier,
};

/// Sign a checkpoint of the ledger at `size` (default: now) with `key` (default:
/// `LEDGER.key`) and print its note, for whoever must later check this ledger against it.
pub fn checkpoint(l: Ledger, ledger: &Path, key: Option<PathBuf>, size: Option<u64>) -> Res {
    let signer = read_signer(&key.unwrap_or_else(|| key_path(ledger)))?;
    emit(&l.checkpoint(&signer, size)?)
}

/// Print the asked proof as SPEC JSON, for `verify-proof` or any other implementation.
pub fn prove(which: ProveCmd, open: &OpenOptions) -> Res {
    let json = match which {
        ProveCmd::Inclusion {
            ledger,
            index,
            size,
        } => open_ledger(&ledger, open)?
            .prove_inclusion(index, size)?
            .to_json(),
        ProveCmd::Consistency { ledger, old, size } => open_ledger(&ledger, open)?
            .prove_consistency(old, size)?
            .to_json(),
    };
    emit_line(&json)
}

/// Check an inclusion or a consistency proof on its own, and against a signed checkpoint
/// when one is given; prints what was checked. No ledger is opened: this is what someone
/// without a copy of the ledger runs.
pub fn verify_proof(
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

/// Print the verifier key of `key`, or of the ledger's default key file: the string to hand
/// to whoever checks the checkpoints.
pub fn vkey(ledger: Option<PathBuf>, key: Option<PathBuf>) -> Res {
    let path = match (key, ledger) {
        (Some(k), _) => k,
        (None, Some(l)) => key_path(&l),
        (None, None) => return Err(usage("give LEDGER or --key KEYFILE")),
    };
    emit_line(&read_signer(&path)?.verifier())
}
