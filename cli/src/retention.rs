//! `retention publish|show|plan` and `hold place|release|list`: retention rules and legal
//! holds recorded in the ledger, and what retention allows to go (the core's `retention`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use trailseal::retention::RetentionRules;
use trailseal::{OpenOptions, RecordedBy, Timestamp};

use crate::error::{Failure, Res};
use crate::io::{emit_line, open_ledger, read_text};

/// Who records a retention or hold entry, and why it was allowed (its `authz`).
#[derive(Args)]
pub struct Authority {
    /// Who records it (the entry's actor.id).
    #[arg(long, value_name = "ID")]
    pub actor: String,
    /// The rule that allows it (authz.policy).
    #[arg(long, value_name = "RULE")]
    pub policy: String,
    /// Why (authz.reason), e.g. the legal basis.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

impl Authority {
    /// The `authz` object: `{"decision": "allow", "policy", "reason"?}`.
    pub fn authz(&self) -> Value {
        let mut a = json!({"decision": "allow", "policy": self.policy});
        if let Some(r) = &self.reason {
            a["reason"] = r.clone().into();
        }
        a
    }
}

/// `retention` subcommands.
#[derive(Subcommand)]
pub enum RetentionCmd {
    /// Record a retention rules document (JSON: {"version", "default"?, "rules": [{"action",
    /// "keep"}]}, periods such as P7Y): a retention.published entry, in force for every entry
    /// after it. Prints its receipt.
    Publish {
        ledger: PathBuf,
        /// The rules document.
        file: PathBuf,
        #[command(flatten)]
        by: Authority,
    },
    /// The rules version in force for the entry at --at INDEX (default: the next entry), as
    /// {"index", "version", "digest", "rules"}; null when none is.
    Show {
        ledger: PathBuf,
        #[arg(long, value_name = "INDEX")]
        at: Option<u64>,
    },
    /// Which entries retention allows to go at --at TIME (default: now), and why each other one
    /// stays: {"at", "size", "rules", "eligible": [[start, end], ...], "counts"}.
    Plan {
        ledger: PathBuf,
        /// RFC 3339.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
}

/// `hold` subcommands.
#[derive(Subcommand)]
pub enum HoldCmd {
    /// Place legal hold ID over what a query matches (--subject, --actor, or --covers with
    /// the query JSON form): covered entries are never pruned or erased until it is released.
    Place {
        ledger: PathBuf,
        #[arg(long)]
        id: String,
        /// Cover the entries about TYPE:ID.
        #[arg(long, value_name = "TYPE:ID")]
        subject: Option<String>,
        /// Cover the entries by this actor.
        #[arg(long = "of-actor", value_name = "ID")]
        of_actor: Option<String>,
        /// Cover what this query (JSON, as `query --json` filters) matches.
        #[arg(long, value_name = "JSON")]
        covers: Option<String>,
        #[command(flatten)]
        by: Authority,
    },
    /// Release legal hold ID.
    Release {
        ledger: PathBuf,
        #[arg(long)]
        id: String,
        #[command(flatten)]
        by: Authority,
    },
    /// Every legal hold recorded, one JSON line each: {"id", "placed", "released", "covers"}.
    List { ledger: PathBuf },
}

/// Runs a `retention` subcommand.
pub fn run(cmd: RetentionCmd, open: &OpenOptions, read: &OpenOptions) -> Res {
    match cmd {
        RetentionCmd::Publish { ledger, file, by } => {
            let doc = trailseal::entry::parse_json(read_text(&file)?.as_bytes())
                .map_err(|e| Failure::from(e).prefixed(file.display()))?;
            let rules = RetentionRules::from_json(&doc)
                .map_err(|e| Failure::from(e).prefixed(file.display()))?;
            let authz = by.authz();
            let l = open_ledger(&ledger, open)?;
            let r = l.publish_retention_rules(
                &rules,
                &RecordedBy {
                    actor: &by.actor,
                    authz: &authz,
                },
            )?;
            emit_line(&r.to_json())
        }
        RetentionCmd::Show { ledger, at } => {
            let l = open_ledger(&ledger, read)?;
            let v = l.retention_rules_at(at)?.map(|v| v.to_json());
            emit_line(&v.unwrap_or(Value::Null))
        }
        RetentionCmd::Plan { ledger, at } => {
            let at = at
                .map(|t| Timestamp::parse(&t).map_err(|e| Failure::from(e).prefixed("--at")))
                .transpose()?;
            emit_line(&open_ledger(&ledger, read)?.retention_plan(at)?.to_json())
        }
    }
}

/// Runs a `hold` subcommand.
pub fn run_hold(cmd: HoldCmd, open: &OpenOptions, read: &OpenOptions) -> Res {
    match cmd {
        HoldCmd::Place {
            ledger,
            id,
            subject,
            of_actor,
            covers,
            by,
        } => {
            let covers = match (subject, of_actor, covers) {
                (Some(s), None, None) => json!({"subject": s}),
                (None, Some(a), None) => json!({"actor": a}),
                (None, None, Some(q)) => trailseal::entry::parse_json(q.as_bytes())
                    .map_err(|e| Failure::from(e).prefixed("--covers"))?,
                _ => {
                    return Err(crate::error::usage(
                        "give exactly one of --subject, --of-actor, --covers",
                    ))
                }
            };
            let authz = by.authz();
            let l = open_ledger(&ledger, open)?;
            let r = l.place_hold(
                &id,
                &covers,
                &RecordedBy {
                    actor: &by.actor,
                    authz: &authz,
                },
            )?;
            emit_line(&r.to_json())
        }
        HoldCmd::Release { ledger, id, by } => {
            let authz = by.authz();
            let l = open_ledger(&ledger, open)?;
            emit_line(
                &l.release_hold(
                    &id,
                    &RecordedBy {
                        actor: &by.actor,
                        authz: &authz,
                    },
                )?
                .to_json(),
            )
        }
        HoldCmd::List { ledger } => {
            for h in open_ledger(&ledger, read)?.legal_holds()? {
                emit_line(&h.to_json())?;
            }
            Ok(())
        }
    }
}
