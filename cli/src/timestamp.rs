//! `timestamp`: have a time-stamp authority (RFC 3161) attest when a kept checkpoint
//! existed, and keep its token in the ledger.

use std::fs;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use trailseal::Ledger;

use crate::error::{io_fail, Res};
use crate::io::{emit_line, ledger_signer, read_bytes};

/// `timestamp`: which checkpoint, which TSA, which CA.
#[derive(Args)]
pub struct TimestampArgs {
    pub ledger: PathBuf,
    /// The TSA's URL (RFC 3161 over HTTP), e.g. https://freetsa.org/tsr.
    #[arg(long, value_name = "URL")]
    pub tsa: String,
    /// The CA certificate (PEM) the TSA's certificate must chain to.
    #[arg(long = "tsa-ca", value_name = "PEM")]
    pub tsa_ca: PathBuf,
    /// The kept checkpoint's sequence number (0 is the first signed; default the latest).
    #[arg(long, value_name = "N")]
    pub checkpoint: Option<u64>,
    /// Signer key file, used only when no checkpoint is kept (default: $TRAILSEAL_KEY_FILE,
    /// else LEDGER.key).
    #[arg(long, value_name = "KEYFILE")]
    pub key: Option<PathBuf>,
    /// Seconds to wait for the TSA, connection included.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Also write the token (DER) here, e.g. for `openssl ts -verify -token_in`.
    #[arg(long, value_name = "FILE")]
    pub token_out: Option<PathBuf>,
}

/// Time-stamp checkpoint number `--checkpoint` (else the latest kept, else one signed now
/// with the ledger's signer key, found as the other signing commands find it), store the
/// checked token, and print what it attests.
pub fn timestamp(l: Ledger, a: &TimestampArgs) -> Res {
    let timeout = trailseal::request_timeout(a.timeout)?;
    let ca = read_bytes(&a.tsa_ca)?;
    // A key is needed, and looked for, only when there is no kept checkpoint to time-stamp.
    let signer = (a.checkpoint.is_none() && l.checkpoints()?.is_empty())
        .then(|| ledger_signer(&l, &a.ledger, a.key.as_deref()))
        .transpose()?;
    let done = l.timestamp_checkpoint(&a.tsa, &ca, a.checkpoint, signer.as_ref(), timeout)?;
    if let Some(out) = &a.token_out {
        fs::write(out, &done.token).map_err(|e| io_fail(out, e))?;
    }
    let mut out = done.to_json();
    out["note"] = json!(done.checkpoint.note);
    emit_line(&out)
}
