//! `publish`: write the ledger as a static C2SP tlog-tiles log to a directory or object
//! storage, incrementally.

use std::path::PathBuf;

use clap::Args;
use trailseal::publish::{open_destination, DestinationOptions, PublishCheckpoint};
use trailseal::Ledger;

use crate::error::Res;
use crate::io::{emit_line, ledger_signer};
use crate::witness::PolicyArgs;

/// The arguments of `publish`.
#[derive(Args)]
pub struct PublishArgs {
    pub ledger: PathBuf,
    /// A directory, or `s3://bucket/prefix` (endpoint, region and credentials from the
    /// standard AWS environment variables: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, ...).
    pub dest: String,
    /// Signer key file for the checkpoint signed at the current size (default:
    /// $TRAILSEAL_KEY_FILE, else LEDGER.key).
    #[arg(long, value_name = "KEYFILE", conflicts_with_all = ["cosigned", "newest"])]
    pub key: Option<PathBuf>,
    /// Publish the newest kept checkpoint instead of signing one (no key needed).
    #[arg(long)]
    pub newest: bool,
    /// Publish the newest kept checkpoint carrying cosignatures of --quorum of the
    /// --witness-key witnesses (as `witness` kept them), with those cosignatures.
    #[arg(long, requires = "witness_keys", conflicts_with = "newest")]
    pub cosigned: bool,
    #[command(flatten)]
    pub witnesses: PolicyArgs,
    /// On object storage with object lock enabled: keep each object for N days
    /// (COMPLIANCE mode), so not even the writer's own credentials can alter it.
    #[arg(long, value_name = "N")]
    pub lock_days: Option<u32>,
}

/// Runs `publish`; prints `{"from", "size", "objects", "bytes"}`.
pub fn publish(l: Ledger, args: &PublishArgs) -> Res {
    let dest = open_destination(
        &args.dest,
        &DestinationOptions {
            lock_days: args.lock_days,
        },
    )?;
    let policy = args.witnesses.policy()?;
    let signer;
    let which = match (&policy, args.cosigned, args.newest) {
        (Some(p), true, _) => PublishCheckpoint::Cosigned(p.as_ref()),
        (_, _, true) => PublishCheckpoint::Newest,
        _ => {
            signer = ledger_signer(&l, &args.ledger, args.key.as_deref())?;
            PublishCheckpoint::Sign(&signer)
        }
    };
    let report = l.publish(dest.as_ref(), which)?;
    emit_line(&report.to_json())
}
