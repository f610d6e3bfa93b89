//! `rules publish`, `rules show`, `rules check`: decisions as code (docs/RULES.md). The rules
//! themselves are the core's (`trailseal::rules`); this module reads files and prints.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{json, Value};
use trailseal::rules::Rules;
use trailseal::OpenOptions;

use crate::cli::split_pair;
use crate::error::{usage, Failure, Res};
use crate::io::{emit_line, open_ledger, read_text};

/// `rules` subcommands.
#[derive(Subcommand)]
pub enum RulesCmd {
    /// Publish the rules document FILE: append a rules.published entry carrying it and its
    /// digest, in force for every entry after it. Prints the receipt.
    Publish {
        ledger: PathBuf,
        file: PathBuf,
        /// Who publishes, recorded as the entry's actor.
        #[arg(long, value_name = "ID")]
        actor: String,
        /// Why publishing was allowed: the entry's `authz`, as a JSON object.
        #[arg(long, value_name = "JSON")]
        authz: Option<String>,
        /// REL=INDEX: a link to an earlier entry (e.g. approved_by=12).
        #[arg(long, value_name = "REL=INDEX")]
        link: Vec<String>,
    },
    /// Print the rules version in force at INDEX (default: for the next append), with who
    /// published it and why they were allowed: {"index", "version", "digest",
    /// "published_by", "authz", "links", "document"}, or null before any was published.
    Show {
        ledger: PathBuf,
        #[arg(long, value_name = "INDEX")]
        at: Option<u64>,
    },
    /// Judge ENTRY (a JSON file) against the rules document FILE without a ledger (a dry run):
    /// prints {"class", "break_glass", "retention", "ai_output"}, or fails with
    /// rule_violation (exit 2). Link requirements naming a linked entry cannot be met here.
    Check { file: PathBuf, entry: PathBuf },
    /// The delivery measures (JSON): mean time to decision, change requests per week,
    /// approval concentration (approvers above --threshold flagged), break-glass per class,
    /// AI intervention rate (docs/RULES.md, "Reports").
    Report {
        ledger: PathBuf,
        /// Flag approvers whose share of approvals is above this (default 0.5).
        #[arg(long, value_name = "SHARE")]
        threshold: Option<f64>,
    },
}

fn json_arg(what: &str, text: &str) -> Res<Value> {
    serde_json::from_str(text).map_err(|e| usage(format!("{what}: not JSON: {e}")))
}

/// Runs a `rules` subcommand.
pub fn run(cmd: RulesCmd, open: &OpenOptions, read: &OpenOptions) -> Res {
    match cmd {
        RulesCmd::Publish {
            ledger,
            file,
            actor,
            authz,
            link,
        } => {
            let rules = Rules::parse(&read_text(&file)?)
                .map_err(|e| Failure::from(e).prefixed(file.display()))?;
            let authz = authz.map(|a| json_arg("--authz", &a)).transpose()?;
            let links = link
                .iter()
                .map(|l| {
                    let (rel, index) = split_pair("link", l, '=')?;
                    let index: u64 = index
                        .parse()
                        .map_err(|_| usage(format!("--link {l}: INDEX is not a number")))?;
                    Ok(json!({"rel": rel, "index": index}))
                })
                .collect::<Res<Vec<_>>>()?;
            let links = (!links.is_empty()).then(|| Value::Array(links));
            let l = open_ledger(&ledger, open)?;
            let r = l.publish_rules(&rules, &actor, authz.as_ref(), links.as_ref())?;
            emit_line(&r.to_json())
        }
        RulesCmd::Show { ledger, at } => {
            let l = open_ledger(&ledger, read)?;
            let v = l.rules_at(at)?;
            emit_line(&v.map_or(Value::Null, |v| v.to_json()))
        }
        RulesCmd::Report { ledger, threshold } => {
            let l = open_ledger(&ledger, read)?;
            emit_line(&l.delivery_report(threshold)?.to_json())
        }
        RulesCmd::Check { file, entry } => {
            let rules = Rules::parse(&read_text(&file)?)
                .map_err(|e| Failure::from(e).prefixed(file.display()))?;
            let e = json_arg(&entry.display().to_string(), &read_text(&entry)?)?;
            emit_line(&rules.check(&e)?.to_json(&rules))
        }
    }
}
