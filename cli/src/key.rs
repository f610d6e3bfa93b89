//! `key rotate`: put a new checkpoint key in force, recorded in the ledger and signed over by
//! the key it replaces (see the core's `ledger/rotation.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use trailseal::{keystore, OpenOptions, Signer};

use crate::error::{Failure, Res};
use crate::io::{emit_line, ledger_signer, open_ledger, read_signer};

/// `key` subcommands.
#[derive(Subcommand)]
pub enum KeyCmd {
    /// Rotate the checkpoint key: append a key.rotated entry naming the new verifier key and
    /// keep a checkpoint over it signed by the old key and then the new one; later checkpoints
    /// are signed by the new key, and `verify` follows the chain from the ledger's first key.
    /// Prints {"index", "old_key", "new_key", "note"}.
    Rotate(RotateArgs),
}

/// The arguments of `key rotate`.
#[derive(Args)]
pub struct RotateArgs {
    pub ledger: PathBuf,
    /// The new key: a key file (`trailseal init` or Go's note.GenerateKey writes one), or
    /// ssh-agent:<comment or fingerprint> / pkcs11:<URI>, signing under the old key's name.
    #[arg(long, value_name = "KEY")]
    pub new_key: PathBuf,
    /// The key in force (default: $TRAILSEAL_KEY_FILE, else LEDGER.key).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Who rotates, recorded as the entry's actor.
    #[arg(long, value_name = "ID", default_value = "trailseal")]
    pub actor: String,
}

/// Runs a `key` subcommand.
pub fn run(cmd: KeyCmd, open: &OpenOptions) -> Res {
    match cmd {
        KeyCmd::Rotate(a) => {
            let l = open_ledger(&a.ledger, open)?;
            let old = ledger_signer(&l, &a.ledger, a.key.as_deref())?;
            let new = match a.new_key.to_str().filter(|k| keystore::is_held_key_spec(k)) {
                Some(spec) => Signer::open(spec, old.name())
                    .map_err(|e| Failure::from(e).prefixed("--new-key"))?,
                None => read_signer(&a.new_key)?,
            };
            emit_line(&l.rotate_key(&old, &new, &a.actor)?.to_json())
        }
    }
}
