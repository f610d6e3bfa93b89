//! `trailseal init`: a new ledger and the key that signs its checkpoints.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use trailseal::{CreateOptions, HashAlg, Ledger, Signer};

use crate::cli::HashName;
use crate::error::Res;
use crate::io::{emit_line, key_path, read_signer, write_secret, KEY_ENV};

/// Create the ledger, reusing the key file if it exists, and record the key's verifier in
/// it, so that `vkey LEDGER` needs no secret and no other key can sign its checkpoints;
/// prints where everything went and the verifier key, which is what others need to check
/// this ledger.
pub fn init(
    ledger: &Path,
    origin: String,
    hash: Option<HashName>,
    (raw, committed_indexes, personal): (bool, bool, &[String]),
    key: Option<PathBuf>,
    group_readable: bool,
) -> Res {
    let default_key = key_path(ledger);
    let key = key.unwrap_or_else(|| default_key.clone());
    // A key held by ssh-agent or a token: no key file is read or written.
    let held = key
        .to_str()
        .filter(|k| trailseal::keystore::is_held_key_spec(k))
        .map(|spec| Signer::open(spec, &origin))
        .transpose()?;
    let signer = match held {
        Some(s) => s,
        None if key.exists() => read_signer(&key)?,
        None => Signer::generate(&origin)?,
    };
    let mut opts = CreateOptions::new(origin)
        .hash(hash.map(HashAlg::from).unwrap_or_default())
        .group_readable(group_readable)
        .committed_indexes(committed_indexes)
        .personal_fields(personal)
        .verifier(&signer.verifier());
    if raw {
        opts = opts.raw();
    }
    // Write the new key first, so a key path that cannot be written leaves no ledger behind.
    let created_key = signer.held_by().is_none() && !key.exists();
    if created_key {
        write_secret(&key, &signer.to_key_string()?)?;
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
    let shown = trailseal::keystore::redacted(&key.display().to_string());
    if key != default_key {
        eprintln!(
            "the signer key is {shown}, not {}: give it to the commands that sign with --key or {KEY_ENV}",
            default_key.display()
        );
    }
    emit_line(&json!({
        "ledger": ledger.display().to_string(),
        "origin": l.origin(),
        "hash": l.hash().name(),
        "kind": l.kind().name(),
        "key_file": shown,
        "key_created": created_key,
        "verifier_key": signer.verifier().to_key_string(),
        "personal": l.personal_fields(),
    }))
}
