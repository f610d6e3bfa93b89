//! `trailseal record` and `trailseal import`: evidence captured from the CI environment, from
//! a git repository's history, and from CDEvents, in-toto and OCSF events.
//!
//! ```text
//! trailseal record LEDGER --action A [--subject TYPE:ID] [--attr K=V]... [--ref REL=ID]...
//! trailseal import git LEDGER [REPO] [--since REV]
//! trailseal import LEDGER --format cdevents|intoto|ocsf FILE|-
//! ```
//!
//! The work is done by `trailseal::capture`; this module parses arguments, opens the ledger,
//! shows progress on a terminal and prints JSON. Exit status as the rest of the command: 2
//! refused input or usage (nothing written), 3 I/O or storage failure.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use trailseal::capture::ci::{self, Step};
use trailseal::capture::formats::{self, Format};
use trailseal::capture::git::{self, ImportOptions};
use trailseal::OpenOptions;

use crate::cli::split_pair;
use crate::error::{io_fail, usage, Res};
use crate::io::{emit_line, open_ledger, print_receipts, progress_bar, read_bytes};

/// Record one CI step: who, where and what come from the CI system's environment.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The ledger file.
    pub ledger: PathBuf,
    /// What happened, e.g. build.succeeded, test.passed, scan.passed, deploy.succeeded.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// What it was done to (default: the commit being built).
    #[arg(long, value_name = "TYPE:ID")]
    pub subject: Option<String>,
    /// A label of the step (repeatable); keys starting `ci.` are filled in from the CI.
    #[arg(long, value_name = "K=V")]
    pub attr: Vec<String>,
    /// External evidence, e.g. artifact=oci:sha256:... (repeatable).
    #[arg(long = "ref", value_name = "REL=EXTERNAL_ID")]
    pub refs: Vec<String>,
    /// A JSON file to carry as the entry's payload.
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// Print the entry instead of recording it (no ledger is opened).
    #[arg(long)]
    pub dry_run: bool,
}

/// Import evidence: `import git LEDGER [REPO]`, or `import LEDGER --format F FILE|-`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Option<ImportSource>,
    /// The ledger file.
    #[arg(required = true)]
    pub ledger: Option<PathBuf>,
    /// The event format of FILE.
    #[arg(long, value_enum, required = true)]
    pub format: Option<FormatName>,
    /// One JSON document, a JSON array of events, or JSON Lines ('-' for stdin).
    #[arg(value_name = "FILE|-", required = true)]
    pub input: Option<PathBuf>,
}

/// Where `import` reads from besides an event file.
#[derive(Subcommand, Debug)]
pub enum ImportSource {
    /// A git repository's commits, oldest first; run again, only new commits are added.
    Git(GitArgs),
}

/// `import git`.
#[derive(Args, Debug)]
pub struct GitArgs {
    /// The ledger file.
    pub ledger: PathBuf,
    /// The repository (default: the current directory).
    #[arg(default_value = ".")]
    pub repo: PathBuf,
    /// Only commits after this revision.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Import up to this revision instead of HEAD.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// The repository's name in the entries (default: origin's URL as host/path, else the
    /// directory name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Do not record signature status (skips gpg/ssh verification of signed commits).
    #[arg(long)]
    pub no_signatures: bool,
    /// Commits per atomic batch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub batch: usize,
    /// Go on where git cannot read a commit's changes (a partial clone, a mirror without
    /// large files): record it without change counts, marked git.change_counts=unreadable.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Concurrent git runs describing a batch (default: up to 4 with signature checks, 1
    /// without).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
}

/// `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatName {
    /// CDEvents (CD Foundation).
    Cdevents,
    /// in-toto Statements, bare or in DSSE envelopes (SLSA provenance and others).
    #[value(alias = "in-toto")]
    Intoto,
    /// OCSF events (API Activity, Account Change, ...).
    Ocsf,
}

impl From<FormatName> for Format {
    fn from(f: FormatName) -> Format {
        match f {
            FormatName::Cdevents => Format::CDEvents,
            FormatName::Intoto => Format::InToto,
            FormatName::Ocsf => Format::Ocsf,
        }
    }
}

/// `trailseal record`: one entry for this CI step; prints its receipt with
/// `already_recorded`. A retried step (same run, job, step and content) is recorded once:
/// the stored receipt is printed, marked `"already_recorded": true`.
pub fn record(a: &RecordArgs, opts: &OpenOptions) -> Res {
    let ctx = ci::detect_env()?;
    let mut step = Step::default();
    for kv in &a.attr {
        let (k, v) = split_pair("attr", kv, '=')?;
        step.attrs.insert(k.into(), v.into());
    }
    for r in &a.refs {
        let (rel, ext) = split_pair("ref", r, '=')?;
        step.refs.push((rel.into(), ext.into()));
    }
    if let Some(p) = &a.payload {
        let v = trailseal::entry::parse_json(&read_bytes(p)?)
            .map_err(|e| usage(format!("--payload {}: {e}", p.display())))?;
        step.payload = Some(v);
    }
    let subject = match &a.subject {
        Some(s) => Some(split_pair("subject", s, ':')?),
        None => None,
    };
    if a.dry_run {
        let e = ctx.entry(&a.action, subject, &step)?;
        return emit_line(&e);
    }
    let l = open_ledger(&a.ledger, opts)?;
    let r = ctx.record(&l, &a.action, subject, &step)?;
    if r.already_recorded {
        eprintln!(
            "already recorded at index {} (a retry of this step): nothing written",
            r.receipt.index
        );
    }
    emit_line(&r.to_json())
}

/// `trailseal import ...`: a git repository's commits, or events of a standard format.
pub fn import(a: &ImportArgs, opts: &OpenOptions) -> Res {
    match &a.source {
        Some(ImportSource::Git(g)) => import_git(g, opts),
        None => {
            let (Some(ledger), Some(format), Some(input)) = (&a.ledger, a.format, &a.input) else {
                return Err(usage(
                    "usage: trailseal import LEDGER --format cdevents|intoto|ocsf FILE|-, or trailseal import git LEDGER [REPO]",
                ));
            };
            import_events(ledger, format.into(), input, opts)
        }
    }
}

/// `import git`: the commits not yet imported, in atomic batches; conflicts with what is
/// already recorded are reported, never overwritten.
fn import_git(g: &GitArgs, opts: &OpenOptions) -> Res {
    if g.batch == 0 {
        return Err(usage("--batch must be at least 1"));
    }
    let l = open_ledger(&g.ledger, opts)?;
    let options = ImportOptions {
        since: g.since.clone(),
        rev: g.rev.clone(),
        repository: g.name.clone(),
        batch: g.batch,
        signatures: !g.no_signatures,
        skip_unreadable: g.skip_unreadable,
        jobs: g.jobs,
    };
    // The length is learned from the first tick, when the commits to import are known.
    let pb = progress_bar(Some(0), "importing commits");
    let mut tick = |done: u64, total: u64| {
        pb.set_length(total);
        pb.set_position(done);
    };
    let report = git::import_with(&l, &g.repo, &options, &mut tick);
    pb.finish_and_clear();
    let report = report?;
    for (sha, index) in report.conflicts.iter().take(5) {
        eprintln!(
            "commit {sha} is already recorded at index {index} with other details (kept as recorded)"
        );
    }
    if report.conflicts_total > 5 {
        eprintln!(
            "... and {} more: was the repository imported before under another --name?",
            report.conflicts_total - 5
        );
    }
    if report.unreadable_total > 0 {
        eprintln!(
            "warning: {} commits recorded without change counts (git.change_counts=unreadable), first {}: {}",
            report.unreadable_total,
            report.unreadable.first().map_or("", String::as_str),
            report.unreadable_reason.as_deref().unwrap_or("git gave no reason")
        );
    }
    eprintln!(
        "{}: {} commits examined, {} recorded{}",
        report.repository,
        report.examined,
        report.recorded,
        match &report.resumed_after {
            Some(s) => format!(" (after {s}, the newest already imported)"),
            None => String::new(),
        }
    );
    emit_line(&report.to_json())
}

/// `import --format`: every event of the input as one batch, so a file is imported whole or
/// not at all.
fn import_events(ledger: &Path, format: Format, input: &Path, opts: &OpenOptions) -> Res {
    let bytes = if input.as_os_str() == "-" {
        let mut buf = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| io_fail(Path::new("stdin"), e))?;
        buf
    } else {
        read_bytes(input)?
    };
    // Map everything before opening the ledger: a refused input leaves it untouched.
    let entries = formats::to_entries(format, &bytes)?;
    let l = open_ledger(ledger, opts)?;
    print_receipts(&l.append_batch(&entries)?)
}
