//! The command line itself: the clap definitions of every command and the argument types
//! more than one command shares. The commands' own argument structs live with the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use trailseal::merkle::HashAlg;
use trailseal::query::{split_subject, Query};
use trailseal::Timestamp;

use crate::append::AppendArgs;
use crate::capture;
use crate::error::{usage, Res};
#[cfg(feature = "parquet")]
use crate::export::ExportCmd;
use crate::follow::FollowArgs;
use crate::monitor::MonitorArgs;
use crate::publish::PublishArgs;
use crate::questions::{BundleArgs, QueryArgs};
use crate::timestamp::TimestampArgs;
use crate::witness::{PolicyArgs, WitnessArgs};

/// The whole command line: the global flags and one command.
#[derive(Parser)]
#[command(
    name = "trailseal",
    version,
    about = "A tamper-evident audit ledger for software delivery"
)]
pub struct Cli {
    /// If another process holds the ledger, wait up to this many seconds instead of failing.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub wait: Option<f64>,
    /// How this process shares the ledger file with others. auto (the default): hold it alone
    /// (one fsync per commit) until another process opens it, then share it as multi-writer.
    /// multi-writer: any number of processes read and append (two fsyncs per commit).
    /// single-writer: one appends, any number read. exclusive: one process has the file,
    /// readers included, and cannot be asked to share. Processes that have the file open at
    /// once must use compatible modes (auto with auto and multi-writer, else the same).
    // Parsed by the core (`Sharing::from_str`), as every binding parses it, so every front end
    // accepts the same names and refuses an unknown one with the same code (`malformed`).
    #[arg(long, global = true, value_name = "MODE")]
    pub share: Option<String>,
    /// Sign with a key file that its group or other users can read (refused otherwise: such a
    /// key may already be held by someone else). Said loudly on stderr each time.
    #[arg(long, global = true)]
    pub insecure_key_file: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `--hash` values: the core's `HashAlg` cannot derive clap's `ValueEnum`, so it is mirrored.
#[derive(Clone, Copy, ValueEnum)]
pub enum HashName {
    Blake3,
    Sha256,
}

impl From<HashName> for HashAlg {
    fn from(h: HashName) -> HashAlg {
        match h {
            HashName::Blake3 => HashAlg::Blake3,
            HashName::Sha256 => HashAlg::Sha256,
        }
    }
}

/// The commands; their doc comments are the help text, so each says what the command does.
// Parsed once per run, so the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Create a ledger (refuses an existing file) and its signer key; prints the verifier key.
    Init {
        ledger: PathBuf,
        /// The log's origin, e.g. example.com/payments/audit.
        #[arg(long)]
        origin: String,
        /// The tree hash; default sha256 (what C2SP witnesses verify).
        #[arg(long, value_enum)]
        hash: Option<HashName>,
        /// Hold raw leaves (opaque bytes) instead of audit entries.
        #[arg(long)]
        raw: bool,
        /// Signer key file: used if it exists, else created (mode 0600). Default LEDGER.key.
        /// The ledger records its verifier key; only this key signs its checkpoints.
        /// `ssh-agent:<comment or SHA256 fingerprint>` or `pkcs11:<RFC 7512 URI>` names a key
        /// held outside the process instead (no key file is read or written).
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        /// Create the ledger file readable by its group (0640, for an auditors' group)
        /// instead of its owner alone (0600).
        #[arg(long)]
        group_readable: bool,
        /// Keep committed indexes (SPEC section 9): an `index.committed` entry every 1,024
        /// entries, so that `query --prove` answers can be proven complete. Off by default:
        /// it costs appends time.
        #[arg(long)]
        committed_indexes: bool,
        /// Seal this field as a salted commitment, its value kept beside the leaf so that
        /// `erase` can delete it (SPEC section 10); repeat for each: actor.id, actor.tenant,
        /// subject.id, authz.reason, change.before, change.after, attrs.<key>, payload,
        /// payload.<key>[.<key>...].
        #[arg(long = "personal", value_name = "PATH")]
        personal: Vec<String>,
    },
    /// Append entries (JSON Lines from FILE or stdin, or one entry from flags) or raw leaves.
    Append(AppendArgs),
    /// Print each entry as it is committed, by this or any other process.
    ///
    /// JSON Lines {"index", "entry"} (a raw ledger's {"index", "leaf"}, the leaf bytes in hex;
    /// with --format ocsf, OCSF events), in index order, from --from N (default: only new
    /// ones; 0 replays the whole ledger first), flushed as each commit arrives. Opens the ledger read-only: read permission is
    /// enough and the file is never changed. Stops after --count N entries, at --until-size N,
    /// when stdout is closed (exit 0), or on SIGINT / SIGTERM.
    Follow(FollowArgs),
    /// Write the ledger's entries in a form analytics engines read (Parquet).
    #[cfg(feature = "parquet")]
    Export {
        #[command(subcommand)]
        which: ExportCmd,
    },
    /// Print the entry at INDEX as JSON, or with --raw its exact leaf bytes.
    Show {
        ledger: PathBuf,
        index: u64,
        #[arg(long)]
        raw: bool,
    },
    /// Print a signed checkpoint note for the current (or an earlier) size, and keep it.
    Checkpoint {
        ledger: PathBuf,
        /// Signer key file (default: $TRAILSEAL_KEY_FILE, else LEDGER.key); its verifier key
        /// must be the one the ledger recorded.
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Have a time-stamp authority (RFC 3161) attest the time of a kept checkpoint (the
    /// latest, or --checkpoint N; one is signed if none is kept), check its token against
    /// --tsa-ca, and keep the token beside the checkpoint. Prints what it attests.
    Timestamp(TimestampArgs),
    /// Print an inclusion or consistency proof (SPEC JSON).
    Prove {
        #[command(subcommand)]
        which: ProveCmd,
    },
    /// Check the whole ledger, optionally against a checkpoint held elsewhere (with
    /// --indexes, also every query-index posting against its entry).
    Verify {
        ledger: PathBuf,
        #[arg(long, value_name = "FILE", requires = "vkey")]
        checkpoint: Option<PathBuf>,
        /// Verifier key string, or a file holding it.
        #[arg(long, value_name = "VKEY", requires = "checkpoint")]
        vkey: Option<String>,
        /// Also check every query-index posting against its entry (much slower; by default
        /// only the indexes' structure is checked).
        #[arg(long)]
        indexes: bool,
        /// With --witness-key: the checkpoint (or, without one, some kept checkpoint) must
        /// carry cosignatures of --quorum of those witnesses.
        #[command(flatten)]
        witnesses: PolicyArgs,
    },
    /// Check a proof offline (no ledger needed), optionally against a signed checkpoint.
    VerifyProof {
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "consistency",
            required_unless_present = "consistency"
        )]
        inclusion: Option<PathBuf>,
        /// The leaf bytes: must hash to the proof's leaf hash.
        #[arg(long, value_name = "FILE", requires = "inclusion")]
        leaf: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        consistency: Option<PathBuf>,
        #[arg(long, value_name = "FILE", requires = "vkey")]
        checkpoint: Option<PathBuf>,
        #[arg(long, value_name = "VKEY", requires = "checkpoint")]
        vkey: Option<String>,
        /// With --witness-key (needs --checkpoint): the checkpoint must carry cosignatures of
        /// --quorum of those witnesses.
        #[command(flatten)]
        witnesses: PolicyArgs,
    },
    /// Find entries: every filter must hold; newest first unless --oldest.
    Query(QueryArgs),
    /// Draw what an entry rests on (or with --forward, what rests on it) as a tree.
    Trace {
        ledger: PathBuf,
        index: u64,
        /// Follow links forward: what did this lead to.
        #[arg(long)]
        forward: bool,
        #[command(flatten)]
        limits: crate::questions::TraceLimits,
        /// Print JSON instead of the tree.
        #[arg(long)]
        json: bool,
    },
    /// Which rule allowed an entry, what that rule said then, and who approved it.
    Why {
        ledger: PathBuf,
        index: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a release gate policy for a subject: exit 0 if it passes, 1 if not.
    Gate {
        ledger: PathBuf,
        #[arg(long, value_name = "TYPE:ID")]
        subject: String,
        /// The gate policy: a JSON file such as {"min_approvals": 2, "approver_roles":
        /// ["release-manager", "sre"], "forbid_self_approval": true, "require": ["test.passed"]}.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Record the outcome as a gate.passed / gate.failed entry linking the evidence.
        #[arg(long)]
        record: bool,
        /// Actor of the recorded entry (default trailseal-gate).
        #[arg(long, value_name = "ID", requires = "record")]
        actor: Option<String>,
        /// With --record, also sign (and keep) a checkpoint covering the recorded entry, with
        /// the ledger's signer key (--key, else $TRAILSEAL_KEY_FILE, else LEDGER.key).
        #[arg(long, requires = "record")]
        sign: bool,
        /// The signer key file for --sign; giving it implies --sign.
        #[arg(long, value_name = "KEYFILE", requires = "record")]
        key: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write an evidence bundle: the selected entries, each with its inclusion proof against
    /// one signed checkpoint, checkable offline with `verify-bundle` (format: docs/BUNDLE.md).
    /// Select with --subject TYPE:ID alone (every entry on it), --index N [--forward] (a
    /// trace), or query filters (every match, or --limit N of them).
    Bundle(BundleArgs),
    /// Check a completeness proof (`query --prove`) with the log's verifier key alone, and
    /// print the answer it proves: every matching entry in its range, none missing.
    VerifyCompleteness {
        file: PathBuf,
        /// Verifier key string, or a file holding it.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        /// JSON Lines `{"index", "entry"}` instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Check an evidence bundle with nothing but the verifier key: exit 0 if every check holds.
    VerifyBundle {
        file: PathBuf,
        /// Verifier key string, or a file holding it.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        /// Also check the bundle's time-stamp token against this CA certificate (PEM) and
        /// print the time it attests; a bundle without a token then fails.
        #[arg(long = "tsa-ca", value_name = "PEM")]
        tsa_ca: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// With --witness-key: the bundle's checkpoint must carry cosignatures of --quorum
        /// of those witnesses.
        #[command(flatten)]
        witnesses: PolicyArgs,
    },
    /// Where approvals wait: request-to-grant latency, approvals per approver, changes and
    /// break-glass actions per ISO week.
    Report {
        ledger: PathBuf,
        /// Only entries that happened at or after this time (RFC 3339; `occurred_at`, else
        /// the recorded time).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Actions counted as changes (repeatable; default deploy.succeeded).
        #[arg(long = "change-action", value_name = "A")]
        change_actions: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record one CI step from the CI system's environment (GitHub Actions, GitLab CI, Azure
    /// Pipelines, Jenkins, Buildkite, CircleCI); prints the receipt.
    Record(capture::RecordArgs),
    /// Import evidence: `import git LEDGER [REPO]` (commits), or
    /// `import LEDGER --format cdevents|intoto|ocsf FILE|-`.
    Import(capture::ImportArgs),
    /// Publish the ledger as a static C2SP tlog-tiles log (checkpoint, hash tiles, entry
    /// bundles) to a directory or s3://bucket/prefix: only what changed since the last publish
    /// there, the checkpoint last. SHA-256 ledgers only. Prints {"from", "size", "objects",
    /// "bytes"}.
    Publish(PublishArgs),
    /// Check a published log (directory, https:// or s3://): the checkpoint's signature (and
    /// cosignatures), that it extends the one in --state, and the new entries' hashes
    /// against the tiles and the root; then record it in --state. Exit 1 on a fork, a
    /// rollback or a mismatch, saying what was found. --full re-hashes the whole log.
    Monitor(MonitorArgs),
    /// Ask C2SP witnesses (tlog-witness) to cosign the latest checkpoint (signed now, or the
    /// newest kept one if it is of the current size) and keep their cosignatures; prints the
    /// report and the cosigned note. Exit 1 if fewer than --quorum cosign. SHA-256 ledgers
    /// only (see docs/WITNESS.md).
    Witness(WitnessArgs),
    /// Checkpoint key management: `key rotate`.
    #[command(subcommand)]
    Key(crate::key::KeyCmd),
    /// Retention rules recorded in the ledger: `retention publish|show|plan`.
    #[command(subcommand)]
    Retention(crate::retention::RetentionCmd),
    /// Legal holds recorded in the ledger: `hold place|release|list`.
    #[command(subcommand)]
    Hold(crate::retention::HoldCmd),
    /// Remove the leaf bytes of the entries retention allows to go at --before (default:
    /// now), keeping their leaf hashes and every tree node, so every proof and checkpoint
    /// still verifies; each step (up to 65,536 entries) appends a retention.pruned entry
    /// naming the ranges removed and the rules version, in the same transaction. Never
    /// pruned: protected records (retention.*, legal_hold.*, erasure.*, key.rotated,
    /// rules.published), entries inside the retention of any rules version in force since
    /// they were written (a later, shorter rule does not shorten it), entries a legal hold
    /// covers, and entries a kept entry links to. --dry-run only reports. Prints
    /// {"dry_run", "before", "pruned", "count", "records", "kept", ...}. Run `compact` after to
    /// return the space to the file system.
    Prune(crate::prune::PruneArgs),
    /// Rewrite the ledger file so the pages pruning freed go back to the file system (needs
    /// the file to itself). Prints {"compacted", "bytes_before", "bytes_after"}.
    Compact { ledger: PathBuf },
    /// Erase the personal values (fields declared with `init --personal`) of the entries by an
    /// actor, about a subject, or at given indexes, with an `erasure.performed` entry saying
    /// who, why and on what legal basis; the entries keep their leaves and every proof still
    /// verifies. Refused with nothing changed for entries under a legal hold. Ends by
    /// overwriting the file's free pages. Prints {"dry_run", "erased", "count", "skipped",
    /// "records"}.
    Erase(crate::erase::EraseArgs),
    /// Overwrite the file's free pages with zeros (what `erase` ends with; run it after an
    /// erasure that was interrupted). Prints {"scrubbed": true}.
    Scrub { ledger: PathBuf },
    /// Print an entry's openings, {"<field>": {"salt", "value"}}, for whoever must be able to
    /// show later what it recorded (null once erased or without sealed fields).
    Openings { ledger: PathBuf, index: u64 },
    /// Check that VALUE (JSON) and SALT (hex) give COMMITMENT (a sealed field as a leaf holds
    /// it): how whoever kept an entry's openings shows, after its erasure too, what it
    /// recorded. Needs no ledger. Prints {"opens": true}; exit 1 when they do not.
    VerifyOpening {
        commitment: String,
        salt: String,
        value: String,
    },
    /// Decisions as code: publish a rules document into the ledger, show the version in force
    /// at an index, or check an entry against a document (docs/RULES.md).
    #[command(subcommand)]
    Rules(crate::rules::RulesCmd),
    /// Print the verifier key that signs a ledger's checkpoints now (the one recorded when it
    /// was created, or the one its latest `key rotate` put in force; no secret is read), or
    /// that of KEYFILE. For a ledger created before ledgers recorded it, that of LEDGER.key.
    Vkey {
        #[arg(required_unless_present = "key")]
        ledger: Option<PathBuf>,
        /// A signer key file: print its verifier key instead (LEDGER is not opened).
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
    },
}

/// `prove inclusion` and `prove consistency`.
#[derive(Subcommand)]
pub enum ProveCmd {
    /// Inclusion of the leaf at INDEX in the tree of --size (default: current). LEDGER may
    /// be a published log (a directory, https:// or s3://), read from its tiles.
    Inclusion {
        ledger: PathBuf,
        index: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Consistency of the tree of OLD leaves with the tree of --size (default: current).
    Consistency {
        ledger: PathBuf,
        old: u64,
        #[arg(long)]
        size: Option<u64>,
    },
}

/// Query filters, shared by `query` and `bundle`: every given filter must hold.
#[derive(Args)]
pub struct Filters {
    #[arg(long, value_name = "ID")]
    pub actor: Option<String>,
    /// An actor in the delegation chain (`actor.via`).
    #[arg(long, value_name = "ID")]
    pub via: Option<String>,
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    #[arg(long, value_name = "TYPE:ID")]
    pub subject: Option<String>,
    #[arg(long, value_name = "K=V")]
    pub attr: Vec<String>,
    #[arg(long = "ref", value_name = "R")]
    pub refs: Vec<String>,
    /// allow, break_glass or override.
    #[arg(long, value_name = "D")]
    pub decision: Option<String>,
    #[arg(long, value_name = "P")]
    pub policy: Option<String>,
    /// Entries that link to this index.
    #[arg(long, value_name = "INDEX")]
    pub links_to: Option<u64>,
    /// Entries recorded at or after this time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Entries recorded before this time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Entries whose `occurred_at` (when the source says it happened, not when it was
    /// recorded) is at or after this time (RFC 3339). Entries without one never match.
    #[arg(long, value_name = "T")]
    pub occurred_since: Option<String>,
    /// Entries whose `occurred_at` is before this time (RFC 3339).
    #[arg(long, value_name = "T")]
    pub occurred_until: Option<String>,
}

impl Filters {
    /// Whether any filter besides `--subject` is given: `bundle` reads a lone `--subject` as
    /// "every entry on it" rather than as a query.
    pub fn has_more_than_subject(&self) -> bool {
        self.actor.is_some()
            || self.via.is_some()
            || self.action.is_some()
            || !self.attr.is_empty()
            || !self.refs.is_empty()
            || self.decision.is_some()
            || self.policy.is_some()
            || self.links_to.is_some()
            || self.since.is_some()
            || self.until.is_some()
            || self.occurred_since.is_some()
            || self.occurred_until.is_some()
    }

    /// The core query the filters ask for; the caller sets order, limit and cursor.
    pub fn to_query(&self) -> Res<Query> {
        let mut q = Query {
            actor: self.actor.clone(),
            via: self.via.clone(),
            action: self.action.clone(),
            decision: self.decision.clone(),
            policy: self.policy.clone(),
            links_to: self.links_to,
            refs: self.refs.clone(),
            ..Query::default()
        };
        if let Some(s) = &self.subject {
            q.subject = Some(split_subject(s)?);
        }
        for kv in &self.attr {
            let (k, v) = split_pair("attr", kv, '=')?;
            q.attrs.push((k.into(), v.into()));
        }
        q.since = self.since.as_deref().map(Timestamp::parse).transpose()?;
        q.until = self.until.as_deref().map(Timestamp::parse).transpose()?;
        q.occurred_since = (self.occurred_since.as_deref())
            .map(Timestamp::parse)
            .transpose()?;
        q.occurred_until = (self.occurred_until.as_deref())
            .map(Timestamp::parse)
            .transpose()?;
        Ok(q)
    }
}

/// A flag value of the form `A<sep>B` with both sides given, such as `--attr K=V`.
pub fn split_pair<'a>(flag: &str, s: &'a str, sep: char) -> Res<(&'a str, &'a str)> {
    s.split_once(sep)
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| usage(format!("--{flag} {s:?}: expected the form A{sep}B")))
}
