//! A repository's commits as audit entries, read from the `git` command.
//!
//! [`import`] records each commit reachable from `HEAD` (or [`ImportOptions::rev`]) as one
//! `git.commit` entry, oldest first (parents before children), with `id` = `git:<sha>`:
//!
//! | entry field | from |
//! | --- | --- |
//! | `id` | `git:<sha>` |
//! | `actor.id` | author email (`%ae`), else author name |
//! | `actor.via` | `[committer email]` when someone else committed it (a rebase, a web UI) |
//! | `action` | `git.commit` |
//! | `subject` | `{"type": "commit", "id": <sha>}` |
//! | `links` | one `{"rel": "parent", "ref": "git:<parent sha>"}` per parent |
//! | `occurred_at` | committer date (`%cI`) |
//! | `attrs` | `git.repository`, `git.author`, `git.author_email`, `git.authored_at`, `git.committer`, `git.committer_email`, `git.parents`, `git.tree`, `git.paths_changed`, `git.insertions`, `git.deletions`, `git.signature`, `git.signer`, `git.signing_key`, `git.signed_by_author`, `git.shallow`, `git.change_counts` |
//! | `payload` | `{"summary": <subject line>}` |
//!
//! - **Incremental.** The `id` rule alone makes a second run add nothing, but the import also
//!   skips the work: it finds the newest commit already imported for the repository and, if
//!   that commit is an ancestor of the tip and its history was imported too (its root
//!   commits are recorded, or with `--since X`, `X` is its ancestor), walks only what came
//!   after it. Otherwise (an earlier import from a shallow clone, or of another branch) it
//!   walks everything and the `id` rule skips what is already recorded.
//! - **Bounded memory.** `git rev-list --reverse --date-order` is read as a stream; each
//!   batch of commit ids (default 1,000) is described by its own `git log --no-walk` and
//!   appended as one atomic [`Ledger::append_batch`]. Nothing of the history is held here,
//!   and each `git log` sees one batch only.
//! - **Merges** carry every parent as a link; their change counts are against the first
//!   parent (what the merge brought in), as `git log --diff-merges=first-parent` reports.
//! - **Signatures.** `git.signature` is what `%G?` reports on the importing machine (`good`,
//!   `bad`, `good-unknown-validity`, `expired-signature`, `expired-key`, `revoked-key`,
//!   `unverifiable` (no key to check it with), or `none`). It depends on that machine's
//!   keyring; [`ImportOptions::signatures`] `false` skips it (and the gpg calls).
//! - **Shallow clones.** A commit at the shallow boundary is recorded with its true parents
//!   (read from the commit object) and `git.shallow` = `true`, without change counts, which
//!   cannot be known without its parent. If the clone is deepened and the same commit is
//!   imported again with full details, the stored entry stands and the new one is counted
//!   in [`ImportReport::conflicts`].
//! - **Empty repositories** import nothing and succeed.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};

use crate::entry::Timestamp;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::query::{Order, Query};

use super::refs;

/// How [`import_with`] runs.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Only commits after this revision (`REV..HEAD`).
    pub since: Option<String>,
    /// The tip to import up to (default `HEAD`).
    pub rev: Option<String>,
    /// The repository's name in `attrs["git.repository"]` (default: the `origin` remote's URL
    /// as `host/path`, else the directory name).
    pub repository: Option<String>,
    /// Entries per atomic batch (default 1,000).
    pub batch: usize,
    /// Record `%G?` signature status (default true; needs gpg for signed commits).
    pub signatures: bool,
    /// Go on when git cannot read a commit's changes (a partial clone, a mirror without
    /// large files): that commit is recorded without change counts, marked
    /// `git.change_counts: "unreadable"`, and listed in [`ImportReport::unreadable`].
    /// Default `false`: git's failure ends the import ([`Error::Io`], with git's message).
    pub skip_unreadable: bool,
    /// Concurrent `git log` runs per batch (0: automatic, the default). Checking signatures
    /// costs one gpg or ssh-keygen process per signed commit inside git, nearly all of an
    /// import's time and mostly spent starting processes, so with signatures on a batch is
    /// described by up to 4 runs at once (at least 2); without, by one.
    pub jobs: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            since: None,
            rev: None,
            repository: None,
            batch: 1000,
            signatures: true,
            skip_unreadable: false,
            jobs: 0,
        }
    }
}

/// What [`import`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The repository name recorded in `git.repository`.
    pub repository: String,
    /// The tip imported up to (none for an empty repository).
    pub head: Option<String>,
    /// The already imported commit the walk started after, if any.
    pub resumed_after: Option<String>,
    /// Commits read from git.
    pub examined: u64,
    /// Entries written.
    pub recorded: u64,
    /// Commits already in the ledger with the same details (not written again).
    pub already_recorded: u64,
    /// Commits already in the ledger with different details `(sha, index)`: the stored entry
    /// stands (e.g. imported from a shallow clone, or on a machine that checked signatures
    /// differently).
    pub conflicts: Vec<(String, u64)>,
    /// How many commits conflicted (`conflicts` lists the first 100).
    pub conflicts_total: u64,
    /// Whether the repository is a shallow clone.
    pub shallow: bool,
    /// Ledger index of the first and last entry written.
    pub indexes: Option<(u64, u64)>,
    /// With [`ImportOptions::skip_unreadable`]: commits recorded without change counts
    /// because git could not read their changes (the first 100).
    pub unreadable: Vec<String>,
    /// How many commits were recorded without change counts.
    pub unreadable_total: u64,
    /// What git said about the first unreadable commit.
    pub unreadable_reason: Option<String>,
}

impl ImportReport {
    /// The report as JSON (what the CLI prints); `unreadable_total`, `unreadable` and
    /// `unreadable_reason` only when some commit was recorded without change counts.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "repository": self.repository,
            "head": self.head,
            "resumed_after": self.resumed_after,
            "examined": self.examined,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "conflicts_total": self.conflicts_total,
            "conflicts": self.conflicts.iter().map(|(s, i)| json!({"commit": s, "index": i})).collect::<Vec<_>>(),
            "shallow": self.shallow,
            "first_index": self.indexes.map(|i| i.0),
            "last_index": self.indexes.map(|i| i.1),
        });
        if self.unreadable_total > 0 {
            v["unreadable_total"] = self.unreadable_total.into();
            v["unreadable"] = json!(self.unreadable);
            v["unreadable_reason"] = json!(self.unreadable_reason);
        }
        v
    }
}

/// Import the commits of the repository at `repo` (a work tree or bare repository) up to
/// `HEAD`, after `since` if given. `progress` is called with `(done, total)` commits.
pub fn import(
    ledger: &Ledger,
    repo: &Path,
    since: Option<&str>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    let opts = ImportOptions {
        since: since.map(str::to_owned),
        ..ImportOptions::default()
    };
    import_with(ledger, repo, &opts, progress)
}

fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(repo)
        .args(["-c", "log.showSignature=false", "-c", "core.quotePath=true"])
        .env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null());
    c
}

fn spawn_error(e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Io(std::io::Error::new(
            e.kind(),
            "the `git` command was not found; install git to import a repository",
        ))
    } else {
        Error::Io(e)
    }
}

/// Run git to completion: `Ok(Some(stdout))` on success, `Ok(None)` on a non-zero exit.
fn run(repo: &Path, args: &[&str]) -> Result<std::result::Result<String, String>> {
    let out = git(repo).args(args).output().map_err(spawn_error)?;
    if out.status.success() {
        Ok(Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    } else {
        Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
    }
}

fn resolve(repo: &Path, rev: &str) -> Result<Option<String>> {
    Ok(run(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?
    .ok())
}

/// The repository's name: `origin`'s URL as `host/path`, else the directory name.
pub fn default_repository_name(repo: &Path) -> Result<String> {
    if let Ok(url) = run(repo, &["config", "--get", "remote.origin.url"])? {
        if !url.is_empty() {
            return Ok(refs::repository_canonical(&url, None));
        }
    }
    let top = run(repo, &["rev-parse", "--show-toplevel"])?
        .ok()
        .filter(|t| !t.is_empty());
    let dir = match top {
        Some(t) => std::path::PathBuf::from(t),
        None => std::fs::canonicalize(repo)?,
    };
    Ok(dir
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".git").to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| dir.display().to_string()))
}

/// Whether the ledger records `sha` as a commit of `repository`.
fn recorded(ledger: &Ledger, repository: &str, sha: &str) -> Result<bool> {
    let page = ledger.query(&Query {
        action: Some("git.commit".into()),
        subject: Some(("commit".into(), sha.into())),
        attrs: vec![("git.repository".into(), repository.into())],
        limit: 1,
        ..Query::default()
    })?;
    Ok(!page.entries.is_empty())
}

/// The commit of `repository` to resume after: the tip itself if it is recorded, else the
/// newest commit recorded.
fn newest_imported(ledger: &Ledger, repository: &str, head: &str) -> Result<Option<String>> {
    if recorded(ledger, repository, head)? {
        return Ok(Some(head.to_owned()));
    }
    let page = ledger.query(&Query {
        action: Some("git.commit".into()),
        attrs: vec![("git.repository".into(), repository.into())],
        order: Order::NewestFirst,
        limit: 1,
        ..Query::default()
    })?;
    Ok(page.entries.first().and_then(|f| {
        f.entry
            .pointer("/subject/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
}

/// Whether the walk may start after `last`, the newest commit already imported: `last` is
/// an ancestor of the tip, and its own history was imported too, as far as this import
/// reaches. Without `--since` that means the roots of `last`'s history are recorded (an
/// earlier import from a shallow clone, or one limited by `--since`, did not cover it, and
/// then the full walk fills the gap); with `--since X`, that `X` is an ancestor of `last`.
fn resumable(
    ledger: &Ledger,
    repo: &Path,
    repository: &str,
    last: &str,
    head: &str,
    since: Option<&str>,
) -> Result<bool> {
    let is_ancestor = |a: &str, b: &str| -> Result<bool> {
        Ok(git(repo)
            .args(["merge-base", "--is-ancestor", a, b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(spawn_error)?
            .success())
    };
    if !is_ancestor(last, head)? {
        return Ok(false);
    }
    if let Some(x) = since {
        return is_ancestor(x, last);
    }
    let Ok(roots) = run(repo, &["rev-list", "--max-parents=0", last])? else {
        return Ok(false);
    };
    for root in roots.lines().map(str::trim).filter(|r| !r.is_empty()) {
        if !recorded(ledger, repository, root)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn shallow_commits(repo: &Path) -> Result<HashSet<String>> {
    let Ok(path) = run(repo, &["rev-parse", "--git-path", "shallow"])? else {
        return Ok(HashSet::new());
    };
    let path = Path::new(&path);
    let path = if path.is_relative() {
        repo.join(path)
    } else {
        path.to_path_buf()
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().map(|l| l.trim().to_owned()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(e.into()),
    }
}

/// True parents of a commit, from the object itself (a shallow clone's graft hides them).
fn object_parents(repo: &Path, sha: &str) -> Result<Vec<String>> {
    match run(repo, &["cat-file", "commit", sha])? {
        Ok(text) => Ok(text
            .lines()
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.strip_prefix("parent "))
            .map(str::to_owned)
            .collect()),
        Err(e) => Err(Error::InvalidArgument(format!(
            "git cat-file {sha} failed: {e}"
        ))),
    }
}

const MARK: &[u8] = b"\x00\x00";
// Fields: 0 %H, 1 %P, 2 %an, 3 %ae, 4 %aI, 5 %cn, 6 %ce, 7 %cI, 8 %G?, 9 %T, 10 %GS (signer),
// 11 %GF (key fingerprint), 12 %GK (key id), 13 %s (last: the only free text).
const FORMAT: &str = "--format=%x00%x00%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%G?%x00%T%x00%GS%x00%GF%x00%GK%x00%s";
const FORMAT_NO_SIG: &str = "--format=%x00%x00%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%x00%T%x00%x00%x00%x00%s";

/// One commit as `git log` printed it.
#[derive(Default)]
struct Commit {
    fields: Vec<String>,
    stat: Option<(u64, u64, u64)>,
    /// git could not read the changes: no counts, `git.change_counts: "unreadable"`.
    unreadable: bool,
}

fn signature_word(g: &str) -> Option<&'static str> {
    Some(match g {
        "G" => "good",
        "B" => "bad",
        "U" => "good-unknown-validity",
        "X" => "expired-signature",
        "Y" => "expired-key",
        "R" => "revoked-key",
        "E" => "unverifiable",
        "N" => "none",
        _ => return None,
    })
}

/// ` 3 files changed, 10 insertions(+), 2 deletions(-)`
fn parse_shortstat(line: &str) -> Option<(u64, u64, u64)> {
    if !line.contains("changed") {
        return None;
    }
    let (mut files, mut ins, mut del) = (0, 0, 0);
    for part in line.split(',') {
        let part = part.trim();
        let n: u64 = part.split(' ').next()?.parse().ok()?;
        if part.contains("changed") {
            files = n;
        } else if part.contains("insertion") {
            ins = n;
        } else if part.contains("deletion") {
            del = n;
        }
    }
    Some((files, ins, del))
}

struct Mapper<'a> {
    repo: &'a Path,
    repository: &'a str,
    shallow: &'a HashSet<String>,
    signatures: bool,
}

impl Mapper<'_> {
    fn entry(&self, c: &Commit) -> Result<Value> {
        let f = |i: usize| c.fields.get(i).map(String::as_str).unwrap_or("");
        let sha = f(0);
        if sha.len() < 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::malformed(
                "git log output",
                format!("expected a commit id, got {sha:?}"),
            ));
        }
        let boundary = self.shallow.contains(sha);
        let parents: Vec<String> = if boundary {
            object_parents(self.repo, sha)?
        } else {
            f(1).split_whitespace().map(str::to_owned).collect()
        };
        let (author, author_email, authored_at) = (f(2), f(3), f(4));
        let (committer, committer_email, committed_at) = (f(5), f(6), f(7));
        let who = |email: &str, name: &str| -> String {
            [email, name]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_owned()
        };
        let actor_id = who(author_email, author);
        let committer_id = who(committer_email, committer);
        let mut actor = Map::new();
        actor.insert("id".into(), actor_id.clone().into());
        if committer_id != actor_id {
            actor.insert("via".into(), json!([committer_id]));
        }
        let mut attrs = Map::new();
        let mut put = |k: &str, v: &str| {
            if !v.is_empty() {
                attrs.insert(format!("git.{k}"), v.into());
            }
        };
        put("repository", self.repository);
        put("author", author);
        put("author_email", author_email);
        put("authored_at", authored_at);
        put("committer", committer);
        put("committer_email", committer_email);
        put("parents", &parents.len().to_string());
        put("tree", f(9));
        if self.signatures {
            let status = signature_word(f(8)).unwrap_or("");
            put("signature", status);
            // Who signed, by which key: a good signature by someone else's key must not
            // read as the author's.
            if !matches!(status, "" | "none") {
                let signer = f(10);
                put("signer", signer);
                put("signing_key", if f(11).is_empty() { f(12) } else { f(11) });
                if !signer.is_empty() && !author_email.is_empty() {
                    let by_author = signer
                        .to_ascii_lowercase()
                        .contains(&author_email.to_ascii_lowercase());
                    put("signed_by_author", if by_author { "true" } else { "false" });
                }
            }
        }
        if boundary {
            put("shallow", "true");
        } else if c.unreadable {
            put("change_counts", "unreadable");
        } else {
            let (files, ins, del) = c.stat.unwrap_or((0, 0, 0));
            put("paths_changed", &files.to_string());
            put("insertions", &ins.to_string());
            put("deletions", &del.to_string());
        }
        let links: Vec<Value> = parents
            .iter()
            .map(|p| json!({"rel": "parent", "ref": refs::commit(p)}))
            .collect();
        let mut e = Map::new();
        e.insert("id".into(), format!("git:{sha}").into());
        e.insert("actor".into(), Value::Object(actor));
        e.insert("action".into(), "git.commit".into());
        e.insert("subject".into(), json!({"type": "commit", "id": sha}));
        if !links.is_empty() {
            e.insert("links".into(), links.into());
        }
        // Dates git cannot express in RFC 3339 (years beyond 9999) stay in attrs only.
        if Timestamp::parse(committed_at).is_ok() {
            e.insert("occurred_at".into(), committed_at.into());
        } else {
            attrs.insert("git.committed_at".into(), committed_at.into());
        }
        e.insert("attrs".into(), Value::Object(attrs));
        e.insert("payload".into(), json!({"summary": f(13)}));
        Ok(Value::Object(e))
    }
}

struct Batcher<'a> {
    ledger: &'a Ledger,
    pending: Vec<Value>,
    report: &'a mut ImportReport,
}

/// Most conflicts listed in a report (all are counted).
const MAX_LISTED_CONFLICTS: usize = 100;

impl Batcher<'_> {
    fn conflict(&mut self, id: &str, index: u64) {
        let sha = id.strip_prefix("git:").unwrap_or(id).to_owned();
        self.report.conflicts_total += 1;
        if self.report.conflicts.len() < MAX_LISTED_CONFLICTS {
            self.report.conflicts.push((sha, index));
        }
    }

    /// Drop every pending entry whose commit is already recorded with other details, looking
    /// each up once: linear, where retrying the batch per conflict would be quadratic.
    fn drop_conflicts(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        for e in pending {
            let sha = e
                .pointer("/subject/id")
                .and_then(Value::as_str)
                .unwrap_or("");
            let page = self.ledger.query(&Query {
                action: Some("git.commit".into()),
                subject: Some(("commit".into(), sha.into())),
                limit: 8,
                ..Query::default()
            })?;
            let stored = page.entries.into_iter().find(|f| f.entry["id"] == e["id"]);
            match stored {
                Some(f) if !same_caller_fields(&f.entry, &e) => {
                    let id = e["id"].as_str().unwrap_or_default().to_owned();
                    self.conflict(&id, f.index);
                }
                _ => self.pending.push(e),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let mut checked = false;
        while !self.pending.is_empty() {
            let size = self.ledger.size()?;
            match self.ledger.append_batch(&self.pending) {
                Ok(receipts) => {
                    for r in &receipts {
                        if r.index >= size {
                            self.report.recorded += 1;
                            let first = self.report.indexes.map_or(r.index, |i| i.0);
                            self.report.indexes = Some((first, r.index));
                        } else {
                            self.report.already_recorded += 1;
                        }
                    }
                    self.pending.clear();
                }
                // Recorded before with other details: keep the stored entry, drop ours (and
                // any other such entry of the batch).
                Err(Error::IdConflict { id, index }) => {
                    let pos = self
                        .pending
                        .iter()
                        .position(|e| e["id"] == id.as_str())
                        .ok_or(Error::IdConflict {
                            id: id.clone(),
                            index,
                        })?;
                    self.pending.remove(pos);
                    self.conflict(&id, index);
                    if !checked {
                        self.drop_conflicts()?;
                        checked = true;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Whether a stored entry (with `v` and `time`) holds the same caller fields as `ours`.
fn same_caller_fields(stored: &Value, ours: &Value) -> bool {
    let mut s = stored.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("v");
        o.remove("time");
    }
    crate::entry::canonical_json(&s) == crate::entry::canonical_json(ours)
}

/// [`import`] with options.
pub fn import_with(
    ledger: &Ledger,
    repo: &Path,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ImportReport> {
    if let Err(e) = run(repo, &["rev-parse", "--git-dir"])? {
        return Err(Error::InvalidArgument(format!(
            "{} is not a git repository: {e}",
            repo.display()
        )));
    }
    let repository = match &opts.repository {
        Some(r) if !r.is_empty() => r.clone(),
        _ => default_repository_name(repo)?,
    };
    let shallow = shallow_commits(repo)?;
    let mut report = ImportReport {
        repository: repository.clone(),
        shallow: !shallow.is_empty(),
        ..ImportReport::default()
    };
    let tip_rev = opts.rev.as_deref().unwrap_or("HEAD");
    let Some(head) = resolve(repo, tip_rev)? else {
        if opts.rev.is_none()
            && run(repo, &["rev-list", "-n", "1", "--all"])?.is_ok_and(|s| s.is_empty())
        {
            // No commit at all: an empty repository imports nothing.
            progress(0, 0);
            return Ok(report);
        }
        return Err(Error::InvalidArgument(format!(
            "{tip_rev} is not a commit in {}",
            repo.display()
        )));
    };
    report.head = Some(head.clone());
    let mut range = vec![head.clone()];
    let mut since_sha = None;
    if let Some(since) = &opts.since {
        let s = resolve(repo, since)?.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "--since {since}: not a commit in {}",
                repo.display()
            ))
        })?;
        range.push(format!("^{s}"));
        since_sha = Some(s);
    }
    if let Some(last) = newest_imported(ledger, &repository, &head)? {
        if resumable(
            ledger,
            repo,
            &repository,
            &last,
            &head,
            since_sha.as_deref(),
        )? {
            range.push(format!("^{last}"));
            report.resumed_after = Some(last);
        }
    }
    let total: u64 = match run(
        repo,
        &[
            &["rev-list", "--count"][..],
            &range.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    )? {
        Ok(n) => n.parse().unwrap_or(0),
        Err(e) => {
            return Err(Error::Io(std::io::Error::other(format!(
                "git rev-list failed: {e}"
            ))))
        }
    };
    progress(0, total);
    if total == 0 {
        return Ok(report);
    }
    let mapper = Mapper {
        repo,
        repository: &repository,
        shallow: &shallow,
        signatures: opts.signatures,
    };
    let batch = opts.batch.max(1);
    // The commit ids, oldest first (parents before children), streamed; each batch of ids
    // is then described by its own `git log --no-walk`, so git's memory is bounded too.
    let mut revs = git(repo)
        .args(["rev-list", "--reverse", "--date-order"])
        .args(&range)
        .arg("--")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let errs = drain(revs.stderr.take());
    let stdout = revs
        .stdout
        .take()
        .ok_or_else(|| Error::Internal("git stdout was not captured".into()))?;
    let outcome = (|| -> Result<()> {
        let mut batcher = Batcher {
            ledger,
            pending: Vec::with_capacity(batch.min(4096)),
            report: &mut report,
        };
        let mut examined = 0u64;
        let mut chunk: Vec<String> = Vec::with_capacity(batch.min(4096));
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let next = lines.next().transpose()?;
            if let Some(sha) = &next {
                let sha = sha.trim();
                if !sha.is_empty() {
                    chunk.push(sha.to_owned());
                }
            }
            if chunk.len() >= batch || (next.is_none() && !chunk.is_empty()) {
                for c in describe_parallel(repo, &chunk, opts, batcher.report)? {
                    batcher.pending.push(mapper.entry(&c)?);
                }
                examined += chunk.len() as u64;
                chunk.clear();
                batcher.flush()?;
                progress(examined, total.max(examined));
            }
            if next.is_none() {
                break;
            }
        }
        batcher.report.examined = examined;
        Ok(())
    })();
    finish(revs, errs, "git rev-list", outcome)?;
    Ok(report)
}

/// Drain a child's stderr on the side (gpg can be chatty), keeping its tail for errors.
fn drain(stderr: Option<std::process::ChildStderr>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut tail = Vec::new();
        let mut buf = [0u8; 8192];
        if let Some(mut s) = stderr {
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 16_384 {
                    tail.drain(..tail.len() - 4096);
                }
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

/// git's own failure, with its message: an I/O failure of the import (exit 3), never a
/// refused input or a bug of ours.
fn git_failed(what: &str, status: std::process::ExitStatus, stderr: &str) -> Error {
    let msg = stderr.trim();
    let msg = if msg.is_empty() { "no message" } else { msg };
    Error::Io(std::io::Error::other(format!(
        "{what} failed ({status}): {msg}"
    )))
}

/// Wait for a git child. Its failure is the result (git's message explains ours, e.g. a
/// stream cut short); else ours.
fn finish(
    mut child: std::process::Child,
    errs: std::thread::JoinHandle<String>,
    what: &str,
    outcome: Result<()>,
) -> Result<()> {
    if outcome.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let err_text = errs.join().unwrap_or_default();
    if failed_by_itself(&status, outcome.is_err()) {
        return Err(git_failed(what, status, &err_text));
    }
    outcome
}

/// git exited unsuccessfully, and not because we killed it after failing ourselves.
fn failed_by_itself(status: &std::process::ExitStatus, we_failed: bool) -> bool {
    !(status.success() || we_failed && was_killed(status))
}

#[cfg(unix)]
fn was_killed(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal().is_some()
}

#[cfg(not(unix))]
fn was_killed(_: &std::process::ExitStatus) -> bool {
    false
}

/// What `git log` is asked for.
#[derive(Clone, Copy)]
struct Describe {
    signatures: bool,
    /// Change counts (`--shortstat`): they need the commit's and its parent's trees and blobs.
    stats: bool,
}

/// How one `git log` run ended.
enum Described {
    /// Every commit described.
    All,
    /// git failed after describing the first `complete` commits completely.
    GitFailed {
        complete: usize,
        status: std::process::ExitStatus,
        message: String,
    },
}

/// Describe `shas` in the given order with one `git log --no-walk`, calling `each` per commit
/// described completely. A commit git was describing when it failed is not passed on.
fn describe(
    repo: &Path,
    shas: &[String],
    how: Describe,
    each: &mut dyn FnMut(Commit) -> Result<()>,
) -> Result<Described> {
    let mut cmd = git(repo);
    cmd.args([
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "--no-color",
        "--no-mailmap",
    ]);
    if how.stats {
        // git show --stat's own default (diff.renames): renames found, whatever the
        // importing user's config says.
        cmd.args([
            "--find-renames",
            "--diff-merges=first-parent",
            "--shortstat",
        ]);
    }
    let mut child = cmd
        .arg(if how.signatures {
            FORMAT
        } else {
            FORMAT_NO_SIG
        })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let errs = drain(child.stderr.take());
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| Error::Internal("git stdin was not captured".into()))?;
    let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        stdin.write_all(input.as_bytes())
    });
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Internal("git stdout was not captured".into()))?;
    // The last commit read is held back until git's exit status says it is complete.
    let mut last: Option<Commit> = None;
    let mut complete = 0usize;
    let outcome = (|| -> Result<()> {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if line.starts_with(MARK) {
                if let Some(c) = last.take() {
                    complete += 1;
                    each(c)?;
                }
                last = Some(Commit {
                    fields: text[MARK.len()..].split('\0').map(str::to_owned).collect(),
                    ..Commit::default()
                });
            } else if let (Some(c), Some(s)) = (last.as_mut(), parse_shortstat(text)) {
                c.stat = Some(s);
            }
        }
    })();
    let written = writer.join();
    if outcome.is_err() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    let err_text = errs.join().unwrap_or_default();
    if failed_by_itself(&status, outcome.is_err()) {
        return Ok(Described::GitFailed {
            complete,
            status,
            message: err_text.trim().to_owned(),
        });
    }
    outcome?;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(Error::Internal("writing to git failed".into())),
    }
    if let Some(c) = last.take() {
        complete += 1;
        each(c)?;
    }
    if complete != shas.len() {
        return Err(Error::Internal(format!(
            "git log described {complete} of {} commits and exited successfully",
            shas.len()
        )));
    }
    Ok(Described::All)
}

/// Describe `chunk` in order with up to [`ImportOptions::jobs`] concurrent `git log` runs,
/// each over a contiguous part of it.
fn describe_parallel(
    repo: &Path,
    chunk: &[String],
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Vec<Commit>> {
    let auto = if opts.signatures {
        std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
    } else {
        1
    };
    let jobs = if opts.jobs == 0 { auto } else { opts.jobs };
    // Parts below 32 commits cost more in process starts than they save.
    let jobs = jobs.min(chunk.len() / 32).max(1);
    let mut out = Vec::with_capacity(chunk.len());
    if jobs == 1 {
        describe_batch(repo, chunk, opts, report, &mut |c| {
            out.push(c);
            Ok(())
        })?;
        return Ok(out);
    }
    let size = chunk.len().div_ceil(jobs);
    let parts: Vec<Result<(Vec<Commit>, ImportReport)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(size)
            .map(|part| {
                scope.spawn(move || {
                    let mut r = ImportReport::default();
                    let mut got = Vec::with_capacity(part.len());
                    describe_batch(repo, part, opts, &mut r, &mut |c| {
                        got.push(c);
                        Ok(())
                    })?;
                    Ok((got, r))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("a git reader thread panicked".into())))
            })
            .collect()
    });
    for part in parts {
        let (got, r) = part?;
        out.extend(got);
        report.unreadable_total += r.unreadable_total;
        for sha in r.unreadable {
            if report.unreadable.len() < MAX_LISTED_CONFLICTS {
                report.unreadable.push(sha);
            }
        }
        if report.unreadable_reason.is_none() {
            report.unreadable_reason = r.unreadable_reason;
        }
    }
    Ok(out)
}

/// Describe one batch. When git fails on a commit and `skip_unreadable` is set, the commits
/// before it are kept, that commit is described alone (with its counts if that works: git
/// may have failed on the next one), else without counts and marked unreadable; then the
/// rest of the batch goes on.
fn describe_batch(
    repo: &Path,
    shas: &[String],
    opts: &ImportOptions,
    report: &mut ImportReport,
    each: &mut dyn FnMut(Commit) -> Result<()>,
) -> Result<()> {
    let how = Describe {
        signatures: opts.signatures,
        stats: true,
    };
    let mut rest = shas;
    while !rest.is_empty() {
        let (complete, status, message) = match describe(repo, rest, how, each)? {
            Described::All => return Ok(()),
            Described::GitFailed {
                complete,
                status,
                message,
            } => (complete, status, message),
        };
        if !opts.skip_unreadable {
            return Err(git_failed(
                "git log",
                status,
                &format!(
                    "{message}\n(to record such commits without change counts and go on, \
                     rerun with --skip-unreadable)"
                ),
            ));
        }
        rest = &rest[complete.min(rest.len())..];
        let Some((suspect, after)) = rest.split_first() else {
            break;
        };
        let one = std::slice::from_ref(suspect);
        if let Described::GitFailed { message, .. } = describe(repo, one, how, each)? {
            let bare = Describe {
                stats: false,
                ..how
            };
            let mut mark = |mut c: Commit| {
                c.unreadable = true;
                each(c)
            };
            match describe(repo, one, bare, &mut mark)? {
                Described::All => {
                    report.unreadable_total += 1;
                    if report.unreadable.len() < MAX_LISTED_CONFLICTS {
                        report.unreadable.push(suspect.clone());
                    }
                    report.unreadable_reason.get_or_insert(message);
                }
                Described::GitFailed {
                    status, message, ..
                } => return Err(git_failed("git log", status, &message)),
            }
        }
        rest = after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortstat_lines() {
        assert_eq!(
            parse_shortstat(" 3 files changed, 10 insertions(+), 2 deletions(-)"),
            Some((3, 10, 2))
        );
        assert_eq!(
            parse_shortstat(" 1 file changed, 1 deletion(-)"),
            Some((1, 0, 1))
        );
        assert_eq!(parse_shortstat(""), None);
    }
}
