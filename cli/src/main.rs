//! `trailseal`: record, prove and verify a tamper-evident audit ledger from a shell.
//!
//! Exit status: 0 success; 1 a verification failed (bad proof, bad signature, tampered or
//! inconsistent ledger, a bundle that does not verify) or a release gate did not pass; 2 bad usage or refused input (nothing written); 3 I/O or storage
//! error. Machine output is JSON on stdout (checkpoints and keys in their own text forms);
//! messages go to stderr.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use trailseal::OpenOptions;

use crate::cli::{Cli, Command};
use crate::error::{storage_failed, usage, Res};
use crate::io::{ledger_signer, open_ledger};

mod append;
mod capture;
mod cli;
mod erase;
mod error;
#[cfg(feature = "parquet")]
mod export;
mod follow;
mod init;
mod io;
mod key;
mod monitor;
mod proofs;
mod prune;
mod publish;
mod questions;
mod render;
mod retention;
mod rules;
mod show;
mod timestamp;
mod verify;
mod witness;

/// Parse the command line, run the command, and turn its failure into a message and status.
fn main() -> ExitCode {
    let cli = Cli::parse();
    // A corrupt file can make the storage engine panic; report it as a storage failure with
    // exit status 3 rather than Rust's 101.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)))
        .unwrap_or_else(|_| {
            Err(storage_failed(
                "internal error: the ledger file may be corrupt (see the message above)",
            ))
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.exit(),
    }
}

/// Hand the command to the module of its group, opening the ledger for those that need it
/// as it is (the others open it themselves, later or not at all).
fn run(cli: Cli) -> Res {
    crate::io::INSECURE_KEY_FILE.store(cli.insecure_key_file, std::sync::atomic::Ordering::Relaxed);
    let open = OpenOptions {
        wait: cli
            .wait
            .map(|s| Duration::try_from_secs_f64(s).map_err(|e| usage(format!("--wait: {e}"))))
            .transpose()?,
        sharing: cli.share.as_deref().map(str::parse).transpose()?,
        ..OpenOptions::default()
    };
    // Commands that only read open the file read-only: they never change a byte of it, work
    // with read permission alone, and run beside a process that is appending.
    let read = OpenOptions {
        read_only: true,
        ..open.clone()
    };
    match cli.command {
        Command::Init {
            ledger,
            origin,
            hash,
            raw,
            key,
            group_readable,
            committed_indexes,
            personal,
        } => init::init(
            &ledger,
            origin,
            hash,
            (raw, committed_indexes, &personal),
            key,
            group_readable,
        ),
        Command::Append(args) => append::append(open_ledger(&args.ledger, &open)?, &args),
        #[cfg(feature = "parquet")]
        Command::Export { which } => export::export(open_ledger(which.ledger(), &read)?, &which),
        Command::Follow(args) => follow::follow(open_ledger(&args.ledger, &read)?, &args),
        Command::Show { ledger, index, raw } => {
            show::show(open_ledger(&ledger, &read)?, index, raw)
        }
        Command::Checkpoint { ledger, key, size } => {
            proofs::checkpoint(open_ledger(&ledger, &open)?, &ledger, key, size)
        }
        Command::Timestamp(args) => timestamp::timestamp(open_ledger(&args.ledger, &open)?, &args),
        Command::Prove { which } => proofs::prove(which, &read),
        Command::Verify {
            ledger,
            checkpoint,
            vkey,
            indexes,
            witnesses,
        } => verify::verify(
            open_ledger(&ledger, &read)?,
            checkpoint,
            vkey,
            indexes,
            witnesses.policy()?,
        ),
        Command::VerifyProof {
            inclusion,
            leaf,
            consistency,
            checkpoint,
            vkey,
            witnesses,
        } => proofs::verify_proof(
            inclusion,
            leaf,
            consistency,
            checkpoint,
            vkey,
            witnesses.policy()?,
        ),
        Command::Record(a) => capture::record(&a, &open),
        Command::Import(a) => capture::import(&a, &open),
        // A proof signs a checkpoint, which the ledger keeps: the file is opened for writing.
        Command::Query(q) if q.prove => questions::query(open_ledger(&q.ledger, &open)?, &q),
        Command::Query(q) => questions::query(open_ledger(&q.ledger, &read)?, &q),
        Command::Trace {
            ledger,
            index,
            forward,
            limits,
            json,
        } => questions::trace(open_ledger(&ledger, &read)?, index, forward, limits, json),
        Command::Why {
            ledger,
            index,
            json,
        } => questions::why(open_ledger(&ledger, &read)?, index, json),
        Command::Gate {
            ledger,
            subject,
            policy,
            record,
            actor,
            sign,
            key,
            json,
        } => {
            let writes = record || sign || key.is_some();
            let l = open_ledger(&ledger, if writes { &open } else { &read })?;
            // The key is found (and checked) before the verdict is recorded, so a missing or
            // wrong key leaves the ledger as it was.
            let signer = (sign || key.is_some())
                .then(|| ledger_signer(&l, &ledger, key.as_deref()))
                .transpose()?;
            questions::gate(
                l,
                &subject,
                &policy,
                record.then(|| actor.unwrap_or_else(|| "trailseal-gate".into())),
                signer,
                json,
            )
        }
        Command::Bundle(args) => {
            if let Some(src) = proofs::published(&args.ledger)? {
                return questions::bundle_published(src.as_ref(), &args);
            }
            // Signing a fresh checkpoint keeps it in the ledger; proving against one given
            // only reads.
            let how = if args.checkpoint.is_some() {
                &read
            } else {
                &open
            };
            questions::bundle(open_ledger(&args.ledger, how)?, &args)
        }
        Command::VerifyCompleteness { file, vkey, json } => {
            verify::verify_completeness(&file, &vkey, json)
        }
        Command::VerifyBundle {
            file,
            vkey,
            tsa_ca,
            json,
            witnesses,
        } => verify::verify_bundle(&file, &vkey, tsa_ca.as_deref(), json, witnesses.policy()?),
        Command::Monitor(args) => monitor::monitor(&args),
        Command::Publish(args) => publish::publish(open_ledger(&args.ledger, &open)?, &args),
        Command::Witness(args) => {
            witness::witness(open_ledger(&args.ledger, &open)?, &args.ledger, &args)
        }
        Command::Report {
            ledger,
            since,
            change_actions,
            json,
        } => questions::report(open_ledger(&ledger, &read)?, since, change_actions, json),
        Command::Vkey { ledger, key } => proofs::vkey(ledger, key, &read),
        Command::Key(cmd) => key::run(cmd, &open),
        Command::Retention(cmd) => retention::run(cmd, &open, &read),
        Command::Hold(cmd) => retention::run_hold(cmd, &open, &read),
        Command::Rules(cmd) => rules::run(cmd, &open, &read),
        Command::Prune(args) => prune::prune(&args, &open, &read),
        Command::Compact { ledger } => prune::compact(&ledger),
        Command::Erase(args) => erase::erase(&args, &open, &read),
        Command::Scrub { ledger } => erase::scrub(&ledger, &open),
        Command::Openings { ledger, index } => erase::openings(&ledger, index, &read),
        Command::VerifyOpening {
            commitment,
            salt,
            value,
        } => erase::verify_opening(&commitment, &salt, &value),
    }
}
