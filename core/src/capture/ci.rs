//! Capture inside a CI job: who, where and what, from the CI system's own environment.
//!
//! [`detect`] reads the variables GitHub Actions, GitLab CI, Azure Pipelines, Jenkins,
//! Buildkite and CircleCI set in every job and returns a [`CiContext`]: the person the run
//! acts for (`actor.id`), the bot it ran as (`actor.via`), the repository, commit, ref,
//! workflow or pipeline, job and step, and the run's id and URL. [`CiContext::entry`] turns one
//! step's action and subject into a SPEC section 3 entry; [`CiContext::record`] appends it.
//!
//! ```
//! use std::collections::HashMap;
//! use trailseal::capture::ci::{self, Step};
//! let env: HashMap<&str, &str> = HashMap::from([
//!     ("GITHUB_ACTIONS", "true"), ("GITHUB_ACTOR", "octocat"),
//!     ("GITHUB_REPOSITORY", "octo-org/api"), ("GITHUB_RUN_ID", "1658821493"),
//!     ("GITHUB_SHA", "ffac537e6cbbf934b08745a378932722df287a53"), ("GITHUB_JOB", "build"),
//! ]);
//! let ctx = ci::detect(&|k: &str| env.get(k).map(|v| v.to_string())).unwrap();
//! let e = ctx.entry("build.succeeded", None, &Step::default()).unwrap();
//! assert_eq!(e["actor"]["id"], "octocat");
//! assert_eq!(e["actor"]["via"][0], "github-actions[bot]");
//! assert_eq!(e["subject"]["type"], "commit");
//! assert!(e["id"].as_str().unwrap().starts_with("ci:github-actions:1658821493:"));
//! ```
//!
//! ## The entry `id`: one step, recorded once
//!
//! A CI system re-runs a failed job or workflow under the *same* run (GitHub's
//! `GITHUB_RUN_ID`, GitLab's `CI_PIPELINE_ID`, Azure's `BUILD_BUILDID`, Buildkite's
//! `BUILDKITE_BUILD_ID`, Jenkins' `JOB_NAME#BUILD_NUMBER`, CircleCI's workflow workspace id),
//! with a new attempt number, and often a new job id and job URL. So the id is
//!
//! `ci:<system>:<run id>:<24 hex digits>`
//!
//! where the digits are the start of the SHA-256 of the step's identity: the system, run id,
//! workflow, job, step and parallel shard (all stable across retries), plus everything the
//! caller recorded: action, subject, the caller's `attrs`, `refs` and payload. Attempt
//! numbers, job ids, job URLs and who pressed "re-run" are recorded in `attrs` but are not
//! part of the id.
//!
//! - The same step retried records the same id: the ledger's `id` rule returns the stored
//!   receipt when the content is identical, and when only attempt details differ
//!   (`ci.attempt` 2 instead of 1) the ledger refuses the duplicate as an id conflict, which
//!   [`CiContext::record`] reports as "already recorded" with the stored entry's receipt. The
//!   first attempt's record stands; the step is recorded once.
//! - A retry that records something different (`test.failed` on attempt 1, `test.passed` on
//!   attempt 2, or another `--attr`) is a different fact and gets its own entry.
//! - Two steps of one job recording the same action on the same subject are different steps
//!   where the CI system names its steps (GitHub `GITHUB_ACTION`, Buildkite
//!   `BUILDKITE_STEP_KEY`, Jenkins `STAGE_NAME`); elsewhere, and for GitHub matrix legs
//!   (which share the job name), add an `--attr` that tells them apart.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::ledger::{Ledger, Receipt};

use super::{canonical_digest, refs, strip_credentials};

/// The CI systems [`detect`] knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CiSystem {
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    GitHubActions,
    /// GitLab CI/CD (`GITLAB_CI=true`).
    GitLabCi,
    /// Azure Pipelines (`TF_BUILD=True`).
    AzurePipelines,
    /// Jenkins (`JENKINS_URL` and `BUILD_NUMBER`).
    Jenkins,
    /// Buildkite (`BUILDKITE=true`).
    Buildkite,
    /// CircleCI (`CIRCLECI=true`).
    CircleCi,
}

impl CiSystem {
    /// Every system, in the order [`detect`] tries them.
    pub const ALL: [CiSystem; 6] = [
        CiSystem::GitHubActions,
        CiSystem::GitLabCi,
        CiSystem::AzurePipelines,
        CiSystem::Buildkite,
        CiSystem::CircleCi,
        CiSystem::Jenkins,
    ];

    /// The name used in `attrs["ci.system"]` and in entry ids, e.g. `github-actions`.
    pub fn name(self) -> &'static str {
        match self {
            CiSystem::GitHubActions => "github-actions",
            CiSystem::GitLabCi => "gitlab-ci",
            CiSystem::AzurePipelines => "azure-pipelines",
            CiSystem::Jenkins => "jenkins",
            CiSystem::Buildkite => "buildkite",
            CiSystem::CircleCi => "circleci",
        }
    }

    /// The variables whose presence identifies the system, as said in error messages.
    pub fn marker(self) -> &'static str {
        match self {
            CiSystem::GitHubActions => "GITHUB_ACTIONS=true (GitHub Actions)",
            CiSystem::GitLabCi => "GITLAB_CI (GitLab CI)",
            CiSystem::AzurePipelines => "TF_BUILD (Azure Pipelines)",
            CiSystem::Jenkins => "JENKINS_URL and BUILD_NUMBER (Jenkins)",
            CiSystem::Buildkite => "BUILDKITE=true (Buildkite)",
            CiSystem::CircleCi => "CIRCLECI=true (CircleCI)",
        }
    }

    /// The identity the job itself runs as: the `via` of its entries.
    pub fn bot(self) -> &'static str {
        match self {
            // The identity of the job's GITHUB_TOKEN, as GitHub's audit log names it.
            CiSystem::GitHubActions => "github-actions[bot]",
            CiSystem::GitLabCi => "gitlab-ci",
            CiSystem::AzurePipelines => "azure-pipelines",
            CiSystem::Jenkins => "jenkins",
            CiSystem::Buildkite => "buildkite",
            CiSystem::CircleCi => "circleci",
        }
    }

    fn present(self, env: &Env<'_>) -> bool {
        let truthy = |k: &str| {
            env.get(k)
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
        };
        match self {
            CiSystem::GitHubActions => truthy("GITHUB_ACTIONS"),
            CiSystem::GitLabCi => env.get("GITLAB_CI").is_some(),
            CiSystem::AzurePipelines => truthy("TF_BUILD"),
            CiSystem::Jenkins => {
                env.get("JENKINS_URL").is_some() && env.get("BUILD_NUMBER").is_some()
            }
            CiSystem::Buildkite => truthy("BUILDKITE"),
            CiSystem::CircleCi => truthy("CIRCLECI"),
        }
    }
}

/// Where, by whom and in which run a CI step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiContext {
    /// The CI system.
    pub system: CiSystem,
    /// Who the run acts for: the person who pushed, merged or started it (`actor.id`).
    pub actor: String,
    /// The bot identity the job runs as (`actor.via`), outermost first.
    pub via: Vec<String>,
    /// The repository, as the CI system names it (`owner/name`, a project path, or a clone
    /// URL normalized to `host/path` without credentials).
    pub repository: Option<String>,
    /// The commit being built (full sha).
    pub commit: Option<String>,
    /// The ref, e.g. `refs/heads/main` or `refs/tags/v1.2.0`.
    pub git_ref: Option<String>,
    /// The workflow or pipeline name.
    pub workflow: Option<String>,
    /// The job name (stable across retries; not the per-attempt job id).
    pub job: Option<String>,
    /// The step within the job, where the system names steps.
    pub step: Option<String>,
    /// The parallel shard or matrix position, where the system numbers them.
    pub shard: Option<String>,
    /// The run id: the same across retries of the run's jobs.
    pub run_id: String,
    /// The run's human-facing number, if any.
    pub run_number: Option<String>,
    /// A URL of the run (without credentials).
    pub run_url: Option<String>,
    /// More labels from the environment, recorded as `attrs` (`ci.<name>`). These may
    /// differ between attempts (`ci.attempt`, `ci.job_id`) and are not part of the entry id.
    pub extra: BTreeMap<String, String>,
}

/// What one step records besides the CI context: its own labels, external refs and payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Step {
    /// `attrs` labels (keys starting `ci.` are reserved for the context).
    pub attrs: BTreeMap<String, String>,
    /// External evidence as `(rel, ref)`, e.g. `("artifact", "oci:sha256:...")`.
    pub refs: Vec<(String, String)>,
    /// JSON to carry as the entry's `payload`.
    pub payload: Option<Value>,
}

/// The outcome of [`CiContext::record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The receipt of the entry holding this step: the new one, or the stored one.
    pub receipt: Receipt,
    /// True when this step was already recorded (a retry) and nothing was written.
    pub already_recorded: bool,
}

impl Recorded {
    /// The receipt's JSON form ([`Receipt::to_json`]) with `already_recorded`, as every front
    /// end returns it.
    pub fn to_json(&self) -> Value {
        let mut v = self.receipt.to_json();
        if let Value::Object(o) = &mut v {
            o.insert("already_recorded".into(), self.already_recorded.into());
        }
        v
    }
}

/// Environment lookup with empty values treated as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, k: &str) -> Option<String> {
        (self.0)(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The first of `keys` that is set.
    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.get(k))
    }
}

/// Detect the CI system from `env` (a variable lookup such as `|k| std::env::var(k).ok()`) and
/// read its context. Outside a known CI system, or when a variable the run id needs is
/// missing, fails with [`Error::InvalidArgument`] naming the variables it looked for.
pub fn detect(env: &impl Fn(&str) -> Option<String>) -> Result<CiContext> {
    let env = Env(env);
    let Some(system) = CiSystem::ALL.into_iter().find(|s| s.present(&env)) else {
        let looked: Vec<&str> = CiSystem::ALL.iter().map(|s| s.marker()).collect();
        return Err(Error::InvalidArgument(format!(
            "not running in a known CI system: looked for {}",
            looked.join(", ")
        )));
    };
    let ctx = match system {
        CiSystem::GitHubActions => github(&env),
        CiSystem::GitLabCi => gitlab(&env),
        CiSystem::AzurePipelines => azure(&env),
        CiSystem::Jenkins => jenkins(&env),
        CiSystem::Buildkite => buildkite(&env),
        CiSystem::CircleCi => circleci(&env),
    }?;
    Ok(ctx)
}

/// [`detect`] on this process's environment.
pub fn detect_env() -> Result<CiContext> {
    detect(&|k: &str| std::env::var(k).ok())
}

fn require(env: &Env<'_>, system: CiSystem, keys: &[&str]) -> Result<String> {
    env.first(keys).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "running in {} but {} is not set: it identifies the run",
            system.name(),
            keys.join(" or ")
        ))
    })
}

fn base(system: CiSystem, actor: Option<String>, run_id: String) -> CiContext {
    let bot = system.bot().to_owned();
    let (actor, via) = match actor {
        Some(a) if a != bot => (a, vec![bot]),
        _ => (bot, Vec::new()),
    };
    CiContext {
        system,
        actor,
        via,
        repository: None,
        commit: None,
        git_ref: None,
        workflow: None,
        job: None,
        step: None,
        shard: None,
        run_id,
        run_number: None,
        run_url: None,
        extra: BTreeMap::new(),
    }
}

fn put(extra: &mut BTreeMap<String, String>, key: &str, value: Option<String>) {
    if let Some(v) = value {
        extra.insert(key.to_owned(), v);
    }
}

/// `refs/tags/<tag>` or `refs/heads/<branch>` from a tag and a branch variable.
fn git_ref(tag: Option<String>, branch: Option<String>) -> Option<String> {
    match (tag, branch) {
        (Some(t), _) => Some(format!("refs/tags/{t}")),
        (None, Some(b)) if b.starts_with("refs/") => Some(b),
        (None, Some(b)) => Some(format!("refs/heads/{b}")),
        (None, None) => None,
    }
}

fn github(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::GitHubActions;
    let run_id = require(env, s, &["GITHUB_RUN_ID"])?;
    let actor = env.get("GITHUB_ACTOR");
    let mut c = base(s, actor.clone(), run_id.clone());
    let server = env
        .get("GITHUB_SERVER_URL")
        .unwrap_or_else(|| "https://github.com".into());
    c.repository = env
        .get("GITHUB_REPOSITORY")
        .map(|r| refs::repository_canonical(&r, Some(&server)));
    c.commit = env.get("GITHUB_SHA");
    // A pull_request run builds GitHub's temporary merge commit (refs/pull/N/merge), which
    // never appears in the repository's history: the subject is the PR's head commit, read
    // from the event payload, and the merge commit is recorded as what it is.
    let merge_ref = env
        .get("GITHUB_REF")
        .is_some_and(|r| r.starts_with("refs/pull/") && r.ends_with("/merge"));
    if merge_ref && env.get("GITHUB_EVENT_NAME").as_deref() == Some("pull_request") {
        let head = env
            .get("GITHUB_EVENT_PATH")
            .and_then(|p| pull_request_head(&p));
        put(&mut c.extra, "merge_commit", c.commit.clone());
        if head.is_some() {
            c.commit = head;
        }
    }
    c.git_ref = env.get("GITHUB_REF");
    c.workflow = env.get("GITHUB_WORKFLOW");
    c.job = env.get("GITHUB_JOB");
    c.step = env.get("GITHUB_ACTION");
    c.run_number = env.get("GITHUB_RUN_NUMBER");
    c.run_url = env.get("GITHUB_REPOSITORY").map(|r| {
        format!(
            "{}/{r}/actions/runs/{run_id}",
            strip_credentials(server.trim_end_matches('/'))
        )
    });
    let x = &mut c.extra;
    put(x, "event", env.get("GITHUB_EVENT_NAME"));
    put(x, "workflow_ref", env.get("GITHUB_WORKFLOW_REF"));
    put(x, "actor_id", env.get("GITHUB_ACTOR_ID"));
    put(x, "attempt", env.get("GITHUB_RUN_ATTEMPT"));
    let triggered_by = env
        .get("GITHUB_TRIGGERING_ACTOR")
        .filter(|t| Some(t) != actor.as_ref());
    put(x, "triggered_by", triggered_by);
    put(x, "head_ref", env.get("GITHUB_HEAD_REF"));
    put(x, "base_ref", env.get("GITHUB_BASE_REF"));
    put(x, "runner", env.get("RUNNER_NAME"));
    Ok(c)
}

/// `pull_request.head.sha` of a GitHub event payload file (`GITHUB_EVENT_PATH`), if it can
/// be read (at most 25 MiB, GitHub's own limit on webhook payloads).
fn pull_request_head(path: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > 25 << 20 {
        return None;
    }
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v.pointer("/pull_request/head/sha")
        .and_then(Value::as_str)
        .filter(|s| s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

fn gitlab(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::GitLabCi;
    let run_id = require(env, s, &["CI_PIPELINE_ID"])?;
    let mut c = base(
        s,
        env.first(&["GITLAB_USER_LOGIN", "GITLAB_USER_EMAIL"]),
        run_id,
    );
    c.repository = match (env.get("CI_PROJECT_URL"), env.get("CI_PROJECT_PATH")) {
        (Some(url), _) => Some(refs::repository_canonical(&url, None)),
        (None, Some(path)) => Some(refs::repository_canonical(
            &path,
            env.first(&["CI_SERVER_URL", "CI_SERVER_HOST"]).as_deref(),
        )),
        (None, None) => None,
    };
    c.commit = env.get("CI_COMMIT_SHA");
    // A merged-results pipeline builds a temporary merge of the source branch into the
    // target: the subject is the source branch's head, the merge is recorded as what it is.
    if env.get("CI_MERGE_REQUEST_EVENT_TYPE").as_deref() == Some("merged_result") {
        if let Some(head) = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") {
            put(&mut c.extra, "merge_commit", c.commit.replace(head));
        }
    }
    c.git_ref = git_ref(env.get("CI_COMMIT_TAG"), env.get("CI_COMMIT_BRANCH"))
        .or_else(|| env.first(&["CI_MERGE_REQUEST_REF_PATH", "CI_COMMIT_REF_NAME"]));
    c.workflow = env.first(&["CI_PIPELINE_NAME", "CI_CONFIG_PATH"]);
    c.job = env.get("CI_JOB_NAME");
    c.shard = env
        .get("CI_NODE_INDEX")
        .filter(|_| env.get("CI_NODE_TOTAL").is_some_and(|t| t != "1"));
    c.run_number = env.get("CI_PIPELINE_IID");
    c.run_url = env.get("CI_PIPELINE_URL").map(|u| strip_credentials(&u));
    let x = &mut c.extra;
    put(x, "event", env.get("CI_PIPELINE_SOURCE"));
    put(x, "stage", env.get("CI_JOB_STAGE"));
    put(x, "job_id", env.get("CI_JOB_ID"));
    put(
        x,
        "job_url",
        env.get("CI_JOB_URL").map(|u| strip_credentials(&u)),
    );
    put(x, "user_id", env.get("GITLAB_USER_ID"));
    put(
        x,
        "server",
        env.get("CI_SERVER_URL").map(|u| strip_credentials(&u)),
    );
    put(x, "runner", env.get("CI_RUNNER_DESCRIPTION"));
    put(x, "merge_request", env.get("CI_MERGE_REQUEST_IID"));
    Ok(c)
}

fn azure(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::AzurePipelines;
    let run_id = require(env, s, &["BUILD_BUILDID"])?;
    let mut c = base(
        s,
        env.first(&["BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR"]),
        run_id.clone(),
    );
    c.repository = env
        .get("BUILD_REPOSITORY_URI")
        .map(|u| refs::repository_canonical(&u, None))
        .or_else(|| env.get("BUILD_REPOSITORY_NAME"));
    c.commit = env.get("BUILD_SOURCEVERSION");
    c.git_ref = env.get("BUILD_SOURCEBRANCH");
    c.workflow = env.get("BUILD_DEFINITIONNAME");
    c.job = env.first(&["SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME", "SYSTEM_PHASENAME"]);
    c.shard = env
        .get("SYSTEM_JOBPOSITIONINPHASE")
        .filter(|_| env.get("SYSTEM_TOTALJOBSINPHASE").is_some_and(|t| t != "1"));
    c.run_number = env.get("BUILD_BUILDNUMBER");
    if let (Some(coll), Some(project)) = (
        env.first(&["SYSTEM_COLLECTIONURI", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI"]),
        env.get("SYSTEM_TEAMPROJECT"),
    ) {
        c.run_url = Some(format!(
            "{}/{}/_build/results?buildId={run_id}",
            strip_credentials(coll.trim_end_matches('/')),
            project.replace(' ', "%20")
        ));
    }
    let x = &mut c.extra;
    put(x, "event", env.get("BUILD_REASON"));
    put(x, "stage", env.get("SYSTEM_STAGENAME"));
    put(x, "requested_for", env.get("BUILD_REQUESTEDFOR"));
    put(x, "requested_for_id", env.get("BUILD_REQUESTEDFORID"));
    put(x, "queued_by", env.get("BUILD_QUEUEDBY"));
    put(x, "attempt", env.get("SYSTEM_JOBATTEMPT"));
    put(
        x,
        "repository_url",
        env.get("BUILD_REPOSITORY_URI")
            .map(|u| strip_credentials(&u)),
    );
    put(x, "definition_id", env.get("SYSTEM_DEFINITIONID"));
    put(x, "runner", env.get("AGENT_NAME"));
    Ok(c)
}

fn jenkins(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::Jenkins;
    let job = require(env, s, &["JOB_NAME"])?;
    let number = require(env, s, &["BUILD_NUMBER"])?;
    // BUILD_USER_ID comes from the build-user-vars plugin; CHANGE_AUTHOR from multibranch
    // pull requests. Without either, the build was started by Jenkins itself (SCM, timer).
    let actor = env.first(&["BUILD_USER_ID", "BUILD_USER_EMAIL", "CHANGE_AUTHOR"]);
    let mut c = base(s, actor, format!("{job}#{number}"));
    c.repository = env
        .get("GIT_URL")
        .map(|u| refs::repository_canonical(&u, None));
    c.commit = env.get("GIT_COMMIT");
    c.git_ref =
        git_ref(env.get("TAG_NAME"), env.get("BRANCH_NAME")).or_else(|| env.get("GIT_BRANCH"));
    c.workflow = Some(job);
    c.job = env.get("JOB_BASE_NAME");
    c.step = env.get("STAGE_NAME");
    c.run_number = Some(number);
    c.run_url = env.get("BUILD_URL").map(|u| strip_credentials(&u));
    let x = &mut c.extra;
    put(
        x,
        "server",
        env.get("JENKINS_URL").map(|u| strip_credentials(&u)),
    );
    put(x, "change_id", env.get("CHANGE_ID"));
    put(x, "runner", env.get("NODE_NAME"));
    Ok(c)
}

fn buildkite(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::Buildkite;
    let run_id = require(env, s, &["BUILDKITE_BUILD_ID"])?;
    let mut c = base(
        s,
        env.first(&["BUILDKITE_BUILD_CREATOR_EMAIL", "BUILDKITE_BUILD_CREATOR"]),
        run_id,
    );
    c.repository = env
        .get("BUILDKITE_REPO")
        .map(|u| refs::repository_canonical(&u, None));
    c.commit = env.get("BUILDKITE_COMMIT").filter(|c| c != "HEAD");
    c.git_ref = git_ref(env.get("BUILDKITE_TAG"), env.get("BUILDKITE_BRANCH"));
    c.workflow =
        env.get("BUILDKITE_PIPELINE_SLUG")
            .map(|p| match env.get("BUILDKITE_ORGANIZATION_SLUG") {
                Some(o) => format!("{o}/{p}"),
                None => p,
            });
    c.job = env.get("BUILDKITE_LABEL");
    c.step = env.first(&["BUILDKITE_STEP_KEY", "BUILDKITE_STEP_ID"]);
    c.shard = env.get("BUILDKITE_PARALLEL_JOB");
    c.run_number = env.get("BUILDKITE_BUILD_NUMBER");
    c.run_url = env
        .get("BUILDKITE_BUILD_URL")
        .map(|u| strip_credentials(&u));
    let x = &mut c.extra;
    put(x, "event", env.get("BUILDKITE_SOURCE"));
    put(x, "job_id", env.get("BUILDKITE_JOB_ID"));
    put(x, "attempt", env.get("BUILDKITE_RETRY_COUNT"));
    put(
        x,
        "pull_request",
        env.get("BUILDKITE_PULL_REQUEST").filter(|p| p != "false"),
    );
    put(x, "runner", env.get("BUILDKITE_AGENT_NAME"));
    Ok(c)
}

fn circleci(env: &Env<'_>) -> Result<CiContext> {
    let s = CiSystem::CircleCi;
    // A "rerun from failed" starts a new workflow id but keeps the workflow's workspace id.
    let run_id = require(
        env,
        s,
        &["CIRCLE_WORKFLOW_WORKSPACE_ID", "CIRCLE_WORKFLOW_ID"],
    )?;
    let mut c = base(s, env.get("CIRCLE_USERNAME"), run_id);
    c.repository = match (
        env.get("CIRCLE_REPOSITORY_URL"),
        env.get("CIRCLE_PROJECT_USERNAME"),
        env.get("CIRCLE_PROJECT_REPONAME"),
    ) {
        (Some(url), _, _) => Some(refs::repository_canonical(&url, None)),
        (None, Some(o), Some(r)) => Some(format!("{o}/{r}")),
        _ => None,
    };
    c.commit = env.get("CIRCLE_SHA1");
    c.git_ref = git_ref(env.get("CIRCLE_TAG"), env.get("CIRCLE_BRANCH"));
    c.job = env.get("CIRCLE_JOB");
    c.shard = env
        .get("CIRCLE_NODE_INDEX")
        .filter(|_| env.get("CIRCLE_NODE_TOTAL").is_some_and(|t| t != "1"));
    c.run_url = env.get("CIRCLE_BUILD_URL").map(|u| strip_credentials(&u));
    let x = &mut c.extra;
    put(x, "pipeline_id", env.get("CIRCLE_PIPELINE_ID"));
    put(x, "workflow_id", env.get("CIRCLE_WORKFLOW_ID"));
    put(x, "job_id", env.get("CIRCLE_WORKFLOW_JOB_ID"));
    put(x, "build_num", env.get("CIRCLE_BUILD_NUM"));
    put(x, "pull_request", env.get("CIRCLE_PULL_REQUEST"));
    put(
        x,
        "repository_url",
        env.get("CIRCLE_REPOSITORY_URL")
            .map(|u| strip_credentials(&u)),
    );
    Ok(c)
}

impl CiContext {
    /// The context as JSON (`system`, `actor`, `via`, `repository`, `commit`, `ref`,
    /// `workflow`, `job`, `step`, `shard`, `run_id`, `run_number`, `run_url`, `extra`), as the
    /// bindings return it.
    pub fn to_json(&self) -> Value {
        json!({
            "system": self.system.name(),
            "actor": self.actor,
            "via": self.via,
            "repository": self.repository,
            "commit": self.commit,
            "ref": self.git_ref,
            "workflow": self.workflow,
            "job": self.job,
            "step": self.step,
            "shard": self.shard,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "run_url": self.run_url,
            "extra": self.extra,
        })
    }

    /// The default subject when the caller gives none: the commit being built, else the
    /// repository, else the run.
    pub fn default_subject(&self) -> (String, String) {
        match (&self.commit, &self.repository) {
            (Some(c), _) => ("commit".into(), c.clone()),
            (None, Some(r)) => ("repository".into(), r.clone()),
            (None, None) => (
                "ci-run".into(),
                format!("{}:{}", self.system.name(), self.run_id),
            ),
        }
    }

    /// The step's entry `id` (see the module documentation).
    pub fn step_id(&self, action: &str, subject: (&str, &str), step: &Step) -> String {
        let identity = json!({
            "system": self.system.name(),
            "run": self.run_id,
            "workflow": self.workflow,
            "job": self.job,
            "step": self.step,
            "shard": self.shard,
            "action": action,
            "subject": [subject.0, subject.1],
            "attrs": step.attrs,
            "refs": step
                .refs
                .iter()
                .map(|(rel, r)| (rel.as_str(), refs::canonical(r)))
                .collect::<Vec<_>>(),
            "payload": step.payload,
        });
        let digest = canonical_digest(&identity);
        let id = format!(
            "ci:{}:{}:{}",
            self.system.name(),
            self.run_id,
            &digest[..24]
        );
        if id.chars().count() <= 256 {
            id
        } else {
            format!("ci:{}:{}", self.system.name(), digest)
        }
    }

    /// The SPEC section 3 entry for one step: `action` on `subject` (`(type, id)`; default
    /// [`CiContext::default_subject`]) with the step's own labels, refs and payload. Refused
    /// with [`Error::InvalidArgument`] if a caller label uses the reserved `ci.` prefix, and
    /// with [`Error::InvalidEntry`] if the result breaks a SPEC rule (e.g. a bad action).
    pub fn entry(&self, action: &str, subject: Option<(&str, &str)>, step: &Step) -> Result<Value> {
        if let Some(k) = step.attrs.keys().find(|k| k.starts_with("ci.")) {
            return Err(Error::InvalidArgument(format!(
                "attr {k:?}: keys starting with `ci.` are filled in from the CI environment"
            )));
        }
        let default = self.default_subject();
        let subject = subject.unwrap_or((&default.0, &default.1));
        let mut actor = Map::new();
        actor.insert("id".into(), self.actor.clone().into());
        if !self.via.is_empty() {
            actor.insert("via".into(), self.via.clone().into());
        }
        let mut links = Vec::new();
        if let Some(u) = &self.run_url {
            links.push(json!({"rel": "run", "ref": refs::run(u)}));
        }
        if let Some(c) = &self.commit {
            links.push(json!({"rel": "commit", "ref": refs::commit(c)}));
        }
        if let Some(m) = self.extra.get("merge_commit") {
            links.push(json!({"rel": "merge_commit", "ref": refs::commit(m)}));
        }
        for (rel, r) in &step.refs {
            links.push(json!({"rel": rel, "ref": refs::canonical(r)}));
        }
        let mut attrs = Map::new();
        let mut label = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                attrs.insert(format!("ci.{k}"), v.clone().into());
            }
        };
        label("system", &Some(self.system.name().to_owned()));
        label("repository", &self.repository);
        label("commit", &self.commit);
        label("ref", &self.git_ref);
        label("workflow", &self.workflow);
        label("job", &self.job);
        label("step", &self.step);
        label("shard", &self.shard);
        label("run_id", &Some(self.run_id.clone()));
        label("run_number", &self.run_number);
        label("run_url", &self.run_url);
        for (k, v) in &self.extra {
            label(k, &Some(v.clone()));
        }
        for (k, v) in &step.attrs {
            attrs.insert(k.clone(), v.clone().into());
        }
        let mut e = Map::new();
        e.insert("id".into(), self.step_id(action, subject, step).into());
        e.insert("actor".into(), Value::Object(actor));
        e.insert("action".into(), action.into());
        e.insert(
            "subject".into(),
            json!({"type": subject.0, "id": subject.1}),
        );
        if !links.is_empty() {
            e.insert("links".into(), links.into());
        }
        e.insert("attrs".into(), Value::Object(attrs));
        if let Some(p) = &step.payload {
            e.insert("payload".into(), p.clone());
        }
        let e = Value::Object(e);
        crate::entry::validate(&e, u64::MAX)?;
        Ok(e)
    }

    /// Append the step's entry. A retry of an already recorded step writes nothing and
    /// returns the stored entry's receipt with `already_recorded` set.
    pub fn record(
        &self,
        ledger: &Ledger,
        action: &str,
        subject: Option<(&str, &str)>,
        step: &Step,
    ) -> Result<Recorded> {
        let entry = self.entry(action, subject, step)?;
        let size = ledger.size()?;
        match ledger.append(&entry) {
            Ok(receipt) => Ok(Recorded {
                already_recorded: receipt.index < size,
                receipt,
            }),
            Err(Error::IdConflict { id, index }) if entry["id"] == id.as_str() => {
                let stored = ledger.get(index)?;
                // On GitHub a retry is a later attempt (GITHUB_RUN_ATTEMPT), or the same job
                // run again unchanged. The same attempt with other details is another job of
                // it: matrix legs share GITHUB_JOB and GitHub names no leg. Taking it for a
                // retry would drop it. (The other systems number parallel jobs: `shard`.)
                let attempt = |e: &Value| e.pointer("/attrs/ci.attempt").cloned();
                if self.system == CiSystem::GitHubActions
                    && attempt(&stored).is_some()
                    && attempt(&stored) == attempt(&entry)
                {
                    return Err(Error::InvalidArgument(format!(
                        "another job of this run's attempt {} already recorded this step \
                         ({action} on {}) at index {index}, with other details: parallel jobs \
                         such as matrix legs share the job name, so tell them apart with \
                         --attr (e.g. --attr os=linux); nothing written",
                        entry["attrs"]["ci.attempt"].as_str().unwrap_or("?"),
                        entry["subject"]["id"].as_str().unwrap_or("?"),
                    )));
                }
                let time = stored
                    .get("time")
                    .and_then(Value::as_str)
                    .map(crate::entry::Timestamp::parse)
                    .transpose()?;
                Ok(Recorded {
                    receipt: Receipt {
                        index,
                        leaf_hash: ledger.leaf_hash(index)?,
                        tree_size: index + 1,
                        root: ledger.root_at(index + 1)?,
                        time,
                    },
                    already_recorded: true,
                })
            }
            Err(e) => Err(e),
        }
    }
}
