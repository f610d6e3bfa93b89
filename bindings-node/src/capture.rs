//! Capture (issue 9): evidence from the CI environment, a git repository and the standard
//! event formats, each one call over one core call.
//!
//! | JS | core |
//! | --- | --- |
//! | `detectCi(env?)` | `capture::ci::detect`, `CiContext::to_json` |
//! | `ledger.recordCi(action, {subject, attrs, refs, payload, env})` | `capture::ci::detect`, `CiContext::record` |
//! | `ledger.importGit(repo, {since, rev, name, signatures, batch})` | `capture::git::import_with`, `ImportReport::to_json` |
//! | `ledger.importEvents(format, data)` | `capture::formats::Format::from_name`, `capture::formats::import` |
//!
//! The environment is read on the JS thread (`process.env` unless one is given, so a worker
//! thread's own copy counts), the CI system detected there, and the writing done on libuv's
//! pool. A git import runs the `git` command on the pool thread; it holds the ledger's read
//! lock (not its write lock) for the whole import, so other calls go on meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use napi::bindgen_prelude::{AsyncTask, JsObjectValue, Object, Unknown, ValueType};
use napi::Env;
use napi_derive::napi;
use trailseal::capture::ci::{self, CiContext, Step};
use trailseal::capture::formats::{self, Format};
use trailseal::capture::git::{self, ImportOptions};
use trailseal::query::split_subject;
use trailseal::Error;

use crate::convert::{self, boolean, bytes, is_nullish, json_arg, string, type_of, u64_arg};
use crate::error::{bad_arg, guard, js_error};
use crate::ledger::Ledger;
use crate::task::Job;
use crate::types::Json;

/// The own enumerable string-valued properties of an object, as a map; `undefined` and
/// `null` values count as unset, any other non-string is refused.
fn string_map(v: &Unknown<'_>, what: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    let obj = convert::object(v, what)?;
    for key in convert::keys(&obj, what)? {
        let value: Unknown = obj
            .get_named_property(&key)
            .map_err(|e| convert::napi_failure(what, e))?;
        if is_nullish(&value)? {
            continue;
        }
        let s = string(&value, &format!("{what}.{key}"))?;
        out.insert(key, s);
    }
    Ok(out)
}

/// `process.env` of the calling thread, as a map.
fn process_env(env: &Env) -> Result<BTreeMap<String, String>, Error> {
    let process_env: Unknown = env
        .get_global()
        .and_then(|g| g.get_named_property::<Object>("process"))
        .and_then(|p| p.get_named_property::<Unknown>("env"))
        .map_err(|e| convert::napi_failure("process.env", e))?;
    string_map(&process_env, "process.env")
}

/// The CI context of an `env` argument (an object of variables), or of `process.env`.
fn detect_from(env: &Env, vars: Option<Unknown<'_>>, what: &str) -> Result<CiContext, Error> {
    let map: HashMap<String, String> = match vars {
        Some(v) if !is_nullish(&v)? => string_map(&v, what)?,
        _ => process_env(env)?,
    }
    .into_iter()
    .collect();
    ci::detect(&|k: &str| map.get(k).cloned())
}

/// Detect the CI system this process runs in (or the one the variables of `env` describe)
/// and read who, where and in which run a step runs: the core's `CiContext` JSON form
/// (`system`, `actor`, `via`, `repository`, `commit`, `ref`, `workflow`, `job`, `step`,
/// `shard`, `run_id`, `run_number`, `run_url`, `extra`). Outside a known CI system throws
/// `invalid_argument`, naming the variables it looked for.
#[napi(
    js_name = "detectCi",
    ts_args_type = "env?: Record<string, string | undefined> | null",
    ts_return_type = "CiContext"
)]
pub fn detect_ci(env: Env, vars: Option<Unknown<'_>>) -> napi::Result<Json> {
    guard(|| detect_from(&env, vars, "env").map(|c| Json::of(&c.to_json())))
        .map_err(|e| js_error(&env, &e))
}

/// `recordCi`'s subject: `'TYPE:ID'` or `{type, id}`.
fn subject_arg(v: &Unknown<'_>) -> Result<(String, String), Error> {
    match type_of(v)? {
        ValueType::String => split_subject(&string(v, "options.subject")?),
        ValueType::Object => {
            let (mut t, mut id) = (None, None);
            for (key, v) in convert::options(Some(*v), "options.subject", &["type", "id"])? {
                match key.as_str() {
                    "type" => t = Some(string(&v, "options.subject.type")?),
                    "id" => id = Some(string(&v, "options.subject.id")?),
                    _ => unreachable!("options() only returns allowed keys"),
                }
            }
            match (t, id) {
                (Some(t), Some(id)) => Ok((t, id)),
                _ => Err(bad_arg("options.subject needs both type and id")),
            }
        }
        _ => Err(bad_arg("options.subject must be 'TYPE:ID' or {type, id}")),
    }
}

/// `recordCi`'s refs: `[{rel, ref}]`.
fn refs_arg(v: &Unknown<'_>) -> Result<Vec<(String, String)>, Error> {
    convert::array(v, "options.refs", |i, e| {
        let what = format!("options.refs[{i}]");
        let (mut rel, mut r) = (None, None);
        for (key, v) in convert::options(Some(*e), &what, &["rel", "ref"])? {
            match key.as_str() {
                "rel" => rel = Some(string(&v, &format!("{what}.rel"))?),
                "ref" => r = Some(string(&v, &format!("{what}.ref"))?),
                _ => unreachable!("options() only returns allowed keys"),
            }
        }
        match (rel, r) {
            (Some(rel), Some(r)) => Ok((rel, r)),
            _ => Err(bad_arg(format!("{what} must be {{rel, ref}}"))),
        }
    })
}

/// What `recordCi` reads on the JS thread.
struct RecordArgs {
    ctx: CiContext,
    action: String,
    subject: Option<(String, String)>,
    step: Step,
}

fn record_args(
    env: &Env,
    action: &Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> Result<RecordArgs, Error> {
    let action = string(action, "action")?;
    let mut step = Step::default();
    let mut subject = None;
    let mut vars = None;
    for (key, v) in convert::options(
        options,
        "options",
        &["subject", "attrs", "refs", "payload", "env"],
    )? {
        match key.as_str() {
            "subject" => {
                if !is_nullish(&v)? {
                    subject = Some(subject_arg(&v)?);
                }
            }
            "attrs" => step.attrs = string_map(&v, "options.attrs")?,
            "refs" => step.refs = refs_arg(&v)?,
            "payload" => step.payload = Some(json_arg(env, &v, "options.payload")?),
            "env" => vars = Some(v),
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    let ctx = detect_from(env, vars, "options.env")?;
    Ok(RecordArgs {
        ctx,
        action,
        subject,
        step,
    })
}

/// `importGit`'s options.
fn git_options(v: Option<Unknown<'_>>) -> Result<ImportOptions, Error> {
    let mut out = ImportOptions::default();
    for (key, v) in convert::options(
        v,
        "options",
        &["since", "rev", "name", "signatures", "batch"],
    )? {
        match key.as_str() {
            "since" => out.since = Some(string(&v, "options.since")?),
            "rev" => out.rev = Some(string(&v, "options.rev")?),
            "name" => out.repository = Some(string(&v, "options.name")?),
            "signatures" => out.signatures = boolean(&v, "options.signatures")?,
            "batch" => {
                let n = u64_arg(&v, "options.batch")?;
                if n == 0 {
                    return Err(bad_arg("options.batch must be at least 1"));
                }
                out.batch = usize::try_from(n).unwrap_or(usize::MAX);
            }
            _ => unreachable!("options() only returns allowed keys"),
        }
    }
    Ok(out)
}

#[napi]
impl Ledger {
    /// Record one CI step: `action` on `subject` (default: the commit being built), with who,
    /// where and in which run filled in from the CI environment (`options.env`, default
    /// `process.env`), plus the step's own `attrs`, `refs` (`[{rel, ref}]`) and `payload`.
    /// The entry `id` is derived from the run and the step, so a retried step is recorded
    /// once: the second time nothing is written and the stored entry's receipt comes back
    /// with `already_recorded: true`. Rejects with `invalid_argument` outside a known CI
    /// system or for an attr key starting `ci.`.
    #[napi(
        js_name = "recordCi",
        ts_args_type = "action: string, options?: RecordCiOptions",
        ts_return_type = "Promise<CiRecorded>"
    )]
    pub fn record_ci(
        &self,
        env: Env,
        action: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = record_args(&env, &action, options);
        self.job(args, |l, a| {
            let subject = a.subject.as_ref().map(|(t, i)| (t.as_str(), i.as_str()));
            let r = a.ctx.record(l, &a.action, subject, &a.step)?;
            Ok(Json::of(&r.to_json()))
        })
    }

    /// Import the commits of the git repository at `repo` (default: the current directory),
    /// oldest first, one `git.commit` entry each (`id` = `git:<sha>`); run again, only new
    /// commits are added. Needs the `git` command. Resolves with the import report.
    #[napi(
        js_name = "importGit",
        ts_args_type = "repo?: string | null, options?: ImportGitOptions",
        ts_return_type = "Promise<GitImportReport>"
    )]
    pub fn import_git(
        &self,
        repo: Option<Unknown<'_>>,
        options: Option<Unknown<'_>>,
    ) -> AsyncTask<Job<Json>> {
        let args = (|| -> Result<(PathBuf, ImportOptions), Error> {
            let repo = match repo {
                Some(r) if !is_nullish(&r)? => PathBuf::from(string(&r, "repo")?),
                _ => PathBuf::from("."),
            };
            Ok((repo, git_options(options)?))
        })();
        self.job(args, |l, (repo, opts)| {
            let report = git::import_with(l, &repo, &opts, &mut |_, _| {})?;
            Ok(Json::of(&report.to_json()))
        })
    }

    /// Import CDEvents, in-toto (bare or DSSE) or OCSF events: `data` is one JSON document,
    /// a JSON array of events, or JSON Lines (a Buffer, a Uint8Array, or a string). All
    /// events are written in one atomic batch, the original event kept whole in `payload`;
    /// anything that does not parse or map is refused with the reason and nothing is written.
    #[napi(
        js_name = "importEvents",
        ts_args_type = "format: EventFormat, data: Uint8Array | string",
        ts_return_type = "Promise<Receipt[]>"
    )]
    pub fn import_events(&self, format: Unknown<'_>, data: Unknown<'_>) -> AsyncTask<Job<Json>> {
        let args = string(&format, "format")
            .and_then(|f| Format::from_name(&f))
            .and_then(|f| Ok((f, bytes(&data, "data")?)));
        self.job(args, |l, (format, data)| {
            formats::import(l, format, &data).map(|r| Json::list(&r, trailseal::Receipt::to_json))
        })
    }
}
