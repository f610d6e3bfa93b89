//! `witness`: ask C2SP witnesses to cosign the ledger's latest checkpoint; and the witness
//! policy flags (`--witness-key`, `--quorum`) the verifying commands share.

use std::path::Path;
use std::time::Duration;

use clap::Args;
use trailseal::witness::{CosignedCheckpoint, TlogPolicy, WitnessPolicy, WitnessSpec};
use trailseal::{Ledger, Verifier};

use crate::error::{check_failed, usage, Res};
use crate::io::{emit_line, ledger_signer, read_text, verifier_text};

/// `--witness-key VKEY` (repeatable) and `--quorum K`: which witnesses a verifier trusts and
/// how many of them must have cosigned.
#[derive(Args, Default)]
pub struct PolicyArgs {
    /// A witness's verifier key (`name+id+base64(0x04 || key)`), or a file holding it;
    /// repeatable. The checkpoint must carry valid cosignatures of --quorum of them.
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
    /// How many distinct witnesses must have cosigned (default: every --witness-key given).
    #[arg(long, value_name = "K", requires = "witness_keys")]
    pub quorum: Option<usize>,
    /// A C2SP tlog-policy file (log, witness, group and quorum lines) instead of
    /// --witness-key and --quorum; its log lines are ignored where --vkey names the log key.
    #[arg(long, value_name = "FILE", conflicts_with = "witness_keys")]
    pub witness_policy: Option<std::path::PathBuf>,
}

/// A witness policy as given on the command line.
pub enum Policy {
    /// `--witness-key` and `--quorum`.
    Keys(WitnessPolicy),
    /// `--witness-policy FILE`.
    File(TlogPolicy),
}

impl Policy {
    /// Opens a cosigned checkpoint note under the policy, its log signature checked by `log`.
    pub fn verify(&self, note: &str, log: &Verifier) -> Res<CosignedCheckpoint> {
        Ok(match self {
            Policy::Keys(p) => trailseal::witness::verify_cosigned(note, log, p)?,
            Policy::File(p) => p.verify(note, Some(log))?,
        })
    }
}

impl PolicyArgs {
    /// The policy, or `None` when none was given.
    pub fn policy(&self) -> Res<Option<Policy>> {
        if let Some(path) = &self.witness_policy {
            return Ok(Some(Policy::File(TlogPolicy::parse(&read_text(path)?)?)));
        }
        if self.witness_keys.is_empty() {
            return Ok(None);
        }
        let keys = self
            .witness_keys
            .iter()
            .map(|k| verifier_text(k).map(|t| t.trim().to_owned()))
            .collect::<Res<Vec<String>>>()?;
        let quorum = self.quorum.unwrap_or(keys.len());
        Ok(Some(Policy::Keys(WitnessPolicy::from_keys(&keys, quorum)?)))
    }
}

impl PolicyArgs {
    /// The policy of --witness-key and --quorum, for a command (`what`) that takes no policy
    /// file.
    pub fn keys_only(&self, what: &str) -> Res<Option<WitnessPolicy>> {
        match self.policy()? {
            Some(Policy::Keys(p)) => Ok(Some(p)),
            Some(Policy::File(_)) => Err(usage(format!(
                "{what} takes --witness-key and --quorum, not a policy file"
            ))),
            None => Ok(None),
        }
    }
}

/// The arguments of `witness`.
#[derive(Args)]
pub struct WitnessArgs {
    pub ledger: std::path::PathBuf,
    /// A witness's submission URL prefix (`add-checkpoint` is appended); repeatable, paired in
    /// order with --witness-key.
    #[arg(long = "witness", value_name = "URL", required = true)]
    pub urls: Vec<String>,
    /// The verifier key of the witness at the same position, or a file holding it.
    #[arg(long = "witness-key", value_name = "VKEY", required = true)]
    pub keys: Vec<String>,
    /// How many witnesses must cosign for success (default: all of them).
    #[arg(long, value_name = "K")]
    pub quorum: Option<usize>,
    /// Seconds each witness request may take, connection included.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Signer key file (default: $TRAILSEAL_KEY_FILE, else LEDGER.key); its verifier key
    /// must be the one the ledger recorded.
    #[arg(long, value_name = "KEYFILE")]
    pub key: Option<std::path::PathBuf>,
}

/// Sign (or reuse) the latest checkpoint, ask every witness to cosign it, keep what they
/// cosigned and print the report (the cosigned note included). Exit 1 when fewer than the
/// quorum cosigned, after saying why each one did not.
pub fn witness(l: Ledger, ledger: &Path, args: &WitnessArgs) -> Res {
    if args.urls.len() != args.keys.len() {
        return Err(usage(format!(
            "{} --witness URL(s) but {} --witness-key(s): give one key per witness, in the same order",
            args.urls.len(),
            args.keys.len()
        )));
    }
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| usage("--timeout must be a positive number of seconds"))?;
    let specs = args
        .urls
        .iter()
        .zip(&args.keys)
        .map(|(url, key)| Ok(WitnessSpec::new(url.clone(), verifier_text(key)?.trim())?))
        .collect::<Res<Vec<WitnessSpec>>>()?;
    let quorum = args.quorum.unwrap_or(specs.len());
    let signer = ledger_signer(&l, ledger, args.key.as_deref())?;
    let report = l.witness(&signer, &specs, quorum, timeout)?;
    for o in &report.outcomes {
        if let Some(e) = &o.error {
            eprintln!("trailseal: {e}");
        }
    }
    emit_line(&report.to_json())?;
    if !report.quorum_met() {
        return Err(check_failed(format!(
            "{} of {} witness(es) cosigned size {}, fewer than the quorum of {}",
            report.cosigned(),
            report.outcomes.len(),
            report.size,
            quorum
        )));
    }
    Ok(())
}
