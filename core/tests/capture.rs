//! Capture: CI environments, git history and standard event formats, from the fixtures in
//! `tests/capture/` (see its README for where each file comes from).

mod common;
use common::{capture_fixtures, env_file, git_in as sh};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use trailseal::capture::ci::{self, CiSystem, Step};
use trailseal::capture::formats::{self, Format};
use trailseal::capture::git::{self, ImportOptions};
use trailseal::query::Query;
use trailseal::{CreateOptions, Error, ErrorCode, Ledger};

fn ledger(dir: &tempfile::TempDir, name: &str) -> Ledger {
    Ledger::create(
        dir.path().join(format!("{name}.redb")),
        &CreateOptions::new("example.com/capture"),
    )
    .unwrap()
}

fn detect(env: &HashMap<String, String>) -> trailseal::Result<ci::CiContext> {
    ci::detect(&|k: &str| env.get(k).cloned())
}

struct Expect {
    file: &'static str,
    system: CiSystem,
    actor: &'static str,
    repository: &'static str,
    commit: &'static str,
    git_ref: &'static str,
    run_id: &'static str,
    run_url: &'static str,
    job: Option<&'static str>,
    /// A variable that changes when the step is retried, and its retry value.
    retry: (&'static str, &'static str),
}

const EXPECT: &[Expect] = &[
    Expect {
        file: "github-actions.env",
        system: CiSystem::GitHubActions,
        actor: "octocat",
        repository: "github.com/octocat/Hello-World",
        commit: "ffac537e6cbbf934b08745a378932722df287a53",
        git_ref: "refs/heads/main",
        run_id: "1658821493",
        run_url: "https://github.com/octocat/Hello-World/actions/runs/1658821493",
        job: Some("build"),
        retry: ("GITHUB_RUN_ATTEMPT", "3"),
    },
    Expect {
        file: "gitlab-ci.env",
        system: CiSystem::GitLabCi,
        actor: "root",
        repository: "gitlab.example.com/gitlab-org/gitlab-foss",
        commit: "dd648b2e48ce6518303b0bb580b2ee32fadaf045",
        git_ref: "refs/heads/main",
        run_id: "1000",
        run_url: "https://gitlab.example.com/gitlab-org/gitlab-foss/-/pipelines/1000",
        job: Some("test-job"),
        retry: ("CI_JOB_ID", "51"),
    },
    Expect {
        file: "azure-pipelines.env",
        system: CiSystem::AzurePipelines,
        actor: "jamal@fabrikam.com",
        repository: "dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/payments-api",
        commit: "3a5f9d1c4b2e8f7a6d5c4b3a2f1e0d9c8b7a6f5e",
        git_ref: "refs/heads/main",
        run_id: "4711",
        run_url: "https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_build/results?buildId=4711",
        job: Some("Build job"),
        retry: ("SYSTEM_JOBATTEMPT", "2"),
    },
    Expect {
        file: "jenkins.env",
        system: CiSystem::Jenkins,
        actor: "alice",
        repository: "github.com/acme/payments-api",
        commit: "7be01d2c6a3f0e2c4d9b8a7f6e5d4c3b2a190817",
        git_ref: "refs/heads/main",
        run_id: "payments-api/main#42",
        run_url: "https://ci.example.com/job/payments-api/job/main/42/",
        job: Some("main"),
        retry: ("NODE_NAME", "agent-7"),
    },
    Expect {
        file: "buildkite.env",
        system: CiSystem::Buildkite,
        actor: "keith@buildkite.com",
        repository: "github.com/acme-inc/my-project",
        commit: "83a20ec058e2fb00e7fa4558c4c6e81e2dcf253d",
        git_ref: "refs/heads/main",
        run_id: "f62a1b4d-10f9-4790-bc1c-e2c3a0c80983",
        run_url: "https://buildkite.com/acme-inc/my-project/builds/1514",
        job: Some(":hammer: Tests"),
        retry: ("BUILDKITE_JOB_ID", "b2f7a1c0-1111-4b93-a21d-f41fd5869db9"),
    },
    Expect {
        file: "circleci.env",
        system: CiSystem::CircleCi,
        actor: "jeff",
        repository: "github.com/circleci/frontend",
        commit: "cf49b55b0a4a3f1e2c8d4b0e9d7a6c5b4a3f2e1d",
        git_ref: "refs/heads/main",
        run_id: "9f0c3a12-3c45-4a5e-8f9b-0c1d2e3f4a5b",
        run_url: "https://circleci.com/gh/circleci/frontend/2531",
        job: Some("test"),
        retry: ("CIRCLE_WORKFLOW_ID", "0a1b2c3d-0000-4a5e-8f9b-0c1d2e3f4a5b"),
    },
];

#[test]
fn ci_capture_from_each_systems_recorded_environment() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "ci");
    for x in EXPECT {
        let mut env = env_file(x.file);
        let ctx = detect(&env).unwrap_or_else(|e| panic!("{}: {e}", x.file));
        assert_eq!(ctx.system, x.system, "{}", x.file);
        assert_eq!(ctx.actor, x.actor, "{}", x.file);
        assert_eq!(ctx.via, vec![x.system.bot().to_owned()], "{}", x.file);
        assert_eq!(ctx.repository.as_deref(), Some(x.repository), "{}", x.file);
        assert_eq!(ctx.commit.as_deref(), Some(x.commit), "{}", x.file);
        assert_eq!(ctx.git_ref.as_deref(), Some(x.git_ref), "{}", x.file);
        assert_eq!(ctx.run_id, x.run_id, "{}", x.file);
        assert_eq!(ctx.run_url.as_deref(), Some(x.run_url), "{}", x.file);
        assert_eq!(ctx.job.as_deref(), x.job, "{}", x.file);

        let step = Step {
            attrs: [("suite".to_owned(), "unit".to_owned())].into(),
            refs: vec![("artifact".into(), "oci:sha256:0b31b1c0".into())],
            payload: None,
        };
        let e = ctx.entry("test.passed", None, &step).unwrap();
        let text = e.to_string();
        for secret in ["ghp_secret", "MASKED", "fabrikam@dev"] {
            assert!(
                !text.contains(secret),
                "{}: credential leaked: {text}",
                x.file
            );
        }
        assert_eq!(e["actor"]["id"], x.actor);
        assert_eq!(e["subject"], json!({"type": "commit", "id": x.commit}));
        assert_eq!(e["attrs"]["ci.system"], x.system.name());
        assert_eq!(e["attrs"]["suite"], "unit");
        let refs: Vec<&str> = e["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["ref"].as_str().unwrap())
            .collect();
        assert!(
            // canonical: no trailing '/' (Jenkins' BUILD_URL has one)
            refs.contains(&format!("ci:{}", x.run_url.trim_end_matches('/')).as_str()),
            "{refs:?}"
        );
        assert!(
            refs.contains(&format!("git:{}", x.commit).as_str()),
            "{refs:?}"
        );
        // an OCI digest is recorded in the canonical artifact form (docs/CAPTURE.md)
        assert!(refs.contains(&"sha256:0b31b1c0"), "{refs:?}");
        let id = e["id"].as_str().unwrap();
        assert!(
            id.starts_with(&format!("ci:{}:{}:", x.system.name(), x.run_id)),
            "{id}"
        );

        // Recorded; recorded again (same step, same attempt): nothing new.
        let first = ctx.record(&l, "test.passed", None, &step).unwrap();
        assert!(!first.already_recorded, "{}", x.file);
        let again = ctx.record(&l, "test.passed", None, &step).unwrap();
        assert!(again.already_recorded);
        assert_eq!(again.receipt, first.receipt);

        // The step retried: attempt-specific variables differ, the step is recorded once.
        env.insert(x.retry.0.into(), x.retry.1.into());
        let retried = detect(&env).unwrap();
        assert_eq!(
            retried.entry("test.passed", None, &step).unwrap()["id"],
            e["id"]
        );
        let r = retried.record(&l, "test.passed", None, &step).unwrap();
        assert!(r.already_recorded, "{}: a retry was recorded twice", x.file);
        assert_eq!(r.receipt, first.receipt);

        // Something else recorded by the same step is a new entry.
        let other = ctx
            .record(&l, "scan.passed", Some(("artifact", "api:1.2.3")), &step)
            .unwrap();
        assert!(!other.already_recorded);
        assert_ne!(other.receipt.index, first.receipt.index);
    }
    assert_eq!(l.size().unwrap(), 2 * EXPECT.len() as u64);
    // Everything a system recorded is found by its attrs.
    let page = l
        .query(&Query {
            attrs: vec![("ci.system".into(), "gitlab-ci".into())],
            ..Query::default()
        })
        .unwrap();
    assert_eq!(page.entries.len(), 2);
    l.verify(&Default::default()).unwrap();
}

#[test]
fn ci_github_step_identity_and_details() {
    let env = env_file("github-actions.env");
    let ctx = detect(&env).unwrap();
    assert_eq!(ctx.step.as_deref(), Some("__run_2"));
    assert_eq!(ctx.extra["attempt"], "2");
    assert_eq!(ctx.extra["triggered_by"], "mona");
    let e = ctx
        .entry(
            "deploy.succeeded",
            Some(("service", "payments-api")),
            &Step::default(),
        )
        .unwrap();
    assert_eq!(
        e["subject"],
        json!({"type": "service", "id": "payments-api"})
    );
    assert_eq!(e["attrs"]["ci.workflow"], "Build and Test");
    assert_eq!(e["attrs"]["ci.attempt"], "2");
    // Another step of the same job recording the same thing is another step.
    let mut env2 = env.clone();
    env2.insert("GITHUB_ACTION".into(), "__run_3".into());
    let e2 = detect(&env2)
        .unwrap()
        .entry(
            "deploy.succeeded",
            Some(("service", "payments-api")),
            &Step::default(),
        )
        .unwrap();
    assert_ne!(e["id"], e2["id"]);
    // Reserved labels and bad actions are refused.
    let bad = Step {
        attrs: [("ci.system".to_owned(), "x".to_owned())].into(),
        ..Step::default()
    };
    assert_eq!(
        ctx.entry("x", None, &bad).unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        ctx.entry("Deploy!", None, &Step::default())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidEntry
    );
}

#[test]
fn ci_outside_a_known_system_names_the_variables() {
    let env: HashMap<String, String> = [("CI".to_owned(), "true".to_owned())].into();
    let e = detect(&env).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
    let msg = e.to_string();
    for var in [
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "TF_BUILD",
        "JENKINS_URL",
        "BUILDKITE",
        "CIRCLECI",
    ] {
        assert!(msg.contains(var), "{msg}");
    }
    // Inside a system but without the variable that identifies the run.
    let mut gh = env_file("github-actions.env");
    gh.remove("GITHUB_RUN_ID");
    let msg = detect(&gh).unwrap_err().to_string();
    assert!(msg.contains("GITHUB_RUN_ID"), "{msg}");
}

// ---- git -----------------------------------------------------------------------------

fn commit(dir: &Path, file: &str, text: &str, msg: &str, date: &str) -> String {
    std::fs::write(dir.join(file), text).unwrap();
    sh(dir, &["add", file]);
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["commit", "-q", "-m", msg])
        .env("GIT_AUTHOR_NAME", "Alice Example")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Bob Builder")
        .env("GIT_COMMITTER_EMAIL", "bob@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sh(dir, &["rev-parse", "HEAD"])
}

/// main: c1 - c2 ------ m (merge) - c4
///              \- f1 -/
fn made_repo(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    sh(dir, &["init", "-q", "-b", "main"]);
    let c1 = commit(dir, "a.txt", "one\n", "first", "2024-01-01T10:00:00+01:00");
    let c2 = commit(dir, "a.txt", "one\ntwo\n", "second", "2024-01-02T10:00:00Z");
    sh(dir, &["checkout", "-q", "-b", "feature", &c1]);
    let f1 = commit(
        dir,
        "b.txt",
        "feature\n",
        "feature work",
        "2024-01-03T10:00:00Z",
    );
    sh(dir, &["checkout", "-q", "main"]);
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["merge", "-q", "--no-ff", "-m", "merge feature", "feature"])
        .env("GIT_AUTHOR_NAME", "Carol Merger")
        .env("GIT_AUTHOR_EMAIL", "carol@example.com")
        .env("GIT_COMMITTER_NAME", "Carol Merger")
        .env("GIT_COMMITTER_EMAIL", "carol@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-04T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-04T10:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = sh(dir, &["rev-parse", "HEAD"]);
    let c4 = commit(dir, "c.txt", "x\ny\n", "fourth", "2024-01-05T10:00:00Z");
    vec![c1, c2, f1, m, c4]
}

fn entries(l: &Ledger) -> Vec<Value> {
    (0..l.size().unwrap()).map(|i| l.get(i).unwrap()).collect()
}

fn no_progress(_: u64, _: u64) {}

#[test]
fn git_import_of_a_made_repository_twice() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let shas = made_repo(&repo);
    let l = ledger(&dir, "git");
    let mut seen = Vec::new();
    let report = git::import(&l, &repo, None, &mut |d, t| seen.push((d, t))).unwrap();
    assert_eq!(report.examined, 5);
    assert_eq!(report.recorded, 5);
    assert_eq!(report.repository, "repo");
    assert_eq!(report.head.as_deref(), Some(shas[4].as_str()));
    assert_eq!(seen.last(), Some(&(5, 5)));
    let es = entries(&l);
    let order: Vec<&str> = es
        .iter()
        .map(|e| e["subject"]["id"].as_str().unwrap())
        .collect();
    // Oldest first, parents before children.
    let pos = |s: &str| order.iter().position(|o| *o == s).unwrap();
    assert_eq!(pos(&shas[0]), 0);
    assert!(pos(&shas[1]) < pos(&shas[3]) && pos(&shas[2]) < pos(&shas[3]));
    assert_eq!(pos(&shas[4]), 4);
    let first = &es[0];
    assert_eq!(first["id"], format!("git:{}", shas[0]));
    assert_eq!(first["action"], "git.commit");
    assert_eq!(
        first["actor"],
        json!({"id": "alice@example.com", "via": ["bob@example.com"]})
    );
    assert_eq!(first["occurred_at"], "2024-01-01T10:00:00+01:00");
    assert_eq!(first["attrs"]["git.paths_changed"], "1");
    assert_eq!(first["attrs"]["git.insertions"], "1");
    assert_eq!(first["attrs"]["git.parents"], "0");
    assert_eq!(first["attrs"]["git.signature"], "none");
    assert_eq!(first["payload"], json!({"summary": "first"}));
    assert!(first.get("links").is_none());
    let merge = &es[pos(&shas[3])];
    assert_eq!(merge["actor"], json!({"id": "carol@example.com"}));
    assert_eq!(
        merge["links"],
        json!([{"rel": "parent", "ref": format!("git:{}", shas[1])},
               {"rel": "parent", "ref": format!("git:{}", shas[2])}])
    );
    // Against its first parent the merge brought in b.txt.
    assert_eq!(merge["attrs"]["git.paths_changed"], "1");

    // Second run: nothing to do, and it did not even walk the history again.
    let again = git::import(&l, &repo, None, &mut no_progress).unwrap();
    assert_eq!((again.examined, again.recorded), (0, 0));
    assert_eq!(again.resumed_after.as_deref(), Some(shas[4].as_str()));
    assert_eq!(l.size().unwrap(), 5);

    // A new commit: only it is added, linked to its parent.
    let c5 = commit(&repo, "a.txt", "changed\n", "fifth", "2024-01-06T10:00:00Z");
    let third = git::import(&l, &repo, None, &mut no_progress).unwrap();
    assert_eq!((third.examined, third.recorded), (1, 1));
    assert_eq!(l.get(5).unwrap()["id"], format!("git:{c5}"));

    // The same history under another repository name: every commit is already recorded
    // with other details; all are counted as conflicts and nothing is written.
    let renamed = ImportOptions {
        repository: Some("acme/renamed".into()),
        ..ImportOptions::default()
    };
    let r = git::import_with(&l, &repo, &renamed, &mut no_progress).unwrap();
    assert_eq!((r.examined, r.recorded, r.conflicts_total), (6, 0, 6));
    assert_eq!(r.conflicts[0], (shas[0].clone(), 0));
    assert_eq!(l.size().unwrap(), 6);

    // --since: only what came after that revision.
    let opts = ImportOptions {
        since: Some(shas[3].clone()),
        ..ImportOptions::default()
    };
    let l2 = ledger(&dir, "git2");
    let r2 = git::import_with(&l2, &repo, &opts, &mut no_progress).unwrap();
    assert_eq!(r2.recorded, 2, "c4 and c5");
    assert_eq!(l2.get(0).unwrap()["id"], format!("git:{}", shas[4]));
    // Importing everything into that ledger later walks all of it (its first import did
    // not cover the history) and adds only the missing commits.
    let r3 = git::import(&l2, &repo, None, &mut no_progress).unwrap();
    assert_eq!(r3.resumed_after, None);
    assert_eq!((r3.recorded, r3.already_recorded), (4, 2));
    l.verify(&Default::default()).unwrap();
}

#[test]
fn git_import_records_signature_status() {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        eprintln!("ssh-keygen not installed: signature test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("signed");
    std::fs::create_dir_all(&repo).unwrap();
    sh(&repo, &["init", "-q", "-b", "main"]);
    let key = dir.path().join("key");
    let st = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "alice@example.com",
            "-f",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, format!("alice@example.com {pubkey}")).unwrap();
    sh(&repo, &["config", "gpg.format", "ssh"]);
    sh(&repo, &["config", "user.signingkey", key.to_str().unwrap()]);
    sh(
        &repo,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            allowed.to_str().unwrap(),
        ],
    );
    std::fs::write(repo.join("f"), "x").unwrap();
    sh(&repo, &["add", "f"]);
    sh(&repo, &["commit", "-q", "-S", "-m", "signed"]);
    std::fs::write(repo.join("f"), "y").unwrap();
    sh(&repo, &["commit", "-q", "-a", "-m", "unsigned"]);
    let l = ledger(&dir, "sig");
    git::import(&l, &repo, None, &mut no_progress).unwrap();
    assert_eq!(l.get(0).unwrap()["attrs"]["git.signature"], "good");
    assert_eq!(l.get(1).unwrap()["attrs"]["git.signature"], "none");
    // Without signature checks the attr is absent.
    let l2 = ledger(&dir, "nosig");
    let opts = ImportOptions {
        signatures: false,
        ..ImportOptions::default()
    };
    git::import_with(&l2, &repo, &opts, &mut no_progress).unwrap();
    assert!(l2.get(0).unwrap()["attrs"].get("git.signature").is_none());
}

#[test]
fn git_import_of_a_shallow_clone_an_empty_repo_and_a_non_repo() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("full");
    let shas = made_repo(&repo);
    let shallow = dir.path().join("shallow");
    let out = Command::new("git")
        .args(["clone", "-q", "--depth", "1", "--no-local"])
        .arg(format!("file://{}", repo.display()))
        .arg(&shallow)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = ledger(&dir, "shallow");
    let opts = ImportOptions {
        repository: Some("acme/repo".into()),
        ..ImportOptions::default()
    };
    let r = git::import_with(&l, &shallow, &opts, &mut no_progress).unwrap();
    assert!(r.shallow);
    assert_eq!(r.recorded, 1);
    let e = l.get(0).unwrap();
    assert_eq!(e["id"], format!("git:{}", shas[4]));
    assert_eq!(e["attrs"]["git.shallow"], "true");
    assert_eq!(e["attrs"]["git.repository"], "acme/repo");
    // Its real parent, although the clone does not hold it; no change counts.
    assert_eq!(
        e["links"],
        json!([{"rel": "parent", "ref": format!("git:{}", shas[3])}])
    );
    assert!(e["attrs"].get("git.paths_changed").is_none());
    // The full history imported later under the same name (a deepened clone): the shallow
    // import did not cover the history, so it is walked; the boundary commit stays as
    // recorded (counted as a conflict), everything older is added.
    let full = git::import_with(&l, &repo, &opts, &mut no_progress).unwrap();
    assert_eq!(full.resumed_after, None);
    assert_eq!(full.examined, 5);
    assert_eq!(full.recorded, 4);
    assert_eq!(full.conflicts, vec![(shas[4].clone(), 0)]);
    assert_eq!(full.conflicts_total, 1);
    assert_eq!(l.size().unwrap(), 5);
    // From now on the import resumes after the tip.
    let again = git::import_with(&l, &repo, &opts, &mut no_progress).unwrap();
    assert_eq!(again.resumed_after.as_deref(), Some(shas[4].as_str()));
    assert_eq!(again.examined, 0);

    // Empty repository: nothing, successfully.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    sh(&empty, &["init", "-q"]);
    let r = git::import(&l, &empty, None, &mut no_progress).unwrap();
    assert_eq!((r.examined, r.recorded, r.head.clone()), (0, 0, None));

    // Not a repository.
    let e = git::import(&l, dir.path(), None, &mut no_progress).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    // A --since that is not a commit.
    let e = git::import(&l, &repo, Some("no-such-rev"), &mut no_progress).unwrap_err();
    assert!(e.to_string().contains("no-such-rev"), "{e}");
}

#[test]
fn git_import_of_this_repository_twice() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let inside = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["rev-parse", "--verify", "HEAD"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !inside {
        eprintln!(
            "{} is not a git checkout with commits: skipped",
            root.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "self");
    let first = git::import(&l, &root, None, &mut no_progress).unwrap();
    assert!(first.recorded >= 1);
    assert_eq!(first.recorded + first.already_recorded, first.examined);
    let size = l.size().unwrap();
    let second = git::import(&l, &root, None, &mut no_progress).unwrap();
    assert_eq!(second.recorded, 0);
    assert_eq!(l.size().unwrap(), size);
    // Every entry is a valid commit record of this repository.
    for e in entries(&l) {
        assert_eq!(e["action"], "git.commit");
        assert_eq!(e["attrs"]["git.repository"], first.repository.as_str());
    }
    l.verify(&Default::default()).unwrap();
}

// ---- formats -------------------------------------------------------------------------

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(capture_fixtures().join(dir).join(name)).unwrap()
}

fn files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(capture_fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".pem"))
        .collect();
    v.sort();
    v
}

/// Import one fixture into a fresh ledger; check the payload is the original event.
fn import_one(dir: &tempfile::TempDir, format: Format, sub: &str, name: &str) -> Vec<Value> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let l = ledger(dir, &format!("{sub}-{n}"));
    let input = read(sub, name);
    let receipts = formats::import(&l, format, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(!receipts.is_empty());
    let originals = formats::parse_events(&input).unwrap();
    let got = entries(&l);
    assert_eq!(got.len(), originals.len(), "{name}");
    for (e, o) in got.iter().zip(&originals) {
        assert_eq!(
            &e["payload"], o,
            "{name}: payload is not the original event"
        );
    }
    got
}

#[test]
fn cdevents_conformance_examples() {
    let dir = tempfile::tempdir().unwrap();
    let names = files("cdevents");
    assert!(names.len() >= 9);
    for name in &names {
        let e = &import_one(&dir, Format::CDEvents, "cdevents", name)[0];
        let stem = name.trim_end_matches(".json");
        let (subject, predicate) = stem.split_once('_').unwrap();
        // A failed outcome is its own action (issue 24): the conformance runs all failed.
        let failed = e["payload"]["subject"]["content"]["outcome"] == "failure";
        assert_eq!(
            e["action"],
            format!(
                "cdevents.{subject}.{predicate}{}",
                if failed { ".failed" } else { "" }
            ),
            "{name}"
        );
        assert_eq!(e["subject"]["type"], subject, "{name}");
        assert_eq!(
            e["id"],
            format!(
                "cdevents:{}",
                e["payload"]["context"]["id"].as_str().unwrap()
            )
        );
        assert_eq!(e["occurred_at"], e["payload"]["context"]["timestamp"]);
    }
    let pr = &import_one(
        &dir,
        Format::CDEvents,
        "cdevents",
        "pipelinerun_finished.json",
    )[0];
    assert_eq!(pr["actor"], json!({"id": "/event/source/123"}));
    assert_eq!(
        pr["subject"],
        json!({"type": "pipelinerun", "id": "mySubject123"})
    );
    assert_eq!(pr["attrs"]["cdevents.outcome"], "failure");
    assert_eq!(pr["attrs"]["cdevents.spec_version"], "0.5.0");
    assert_eq!(
        pr["attrs"]["cdevents.chain_id"],
        "4c8cb7dd-3448-41de-8768-eec704e2829b"
    );
    let refs: Vec<&Value> = pr["links"].as_array().unwrap().iter().collect();
    assert!(refs.contains(
        &&json!({"rel": "trigger", "ref": "cdevents:5328c37f-bb7e-4bb7-84ea-9f5f85e4a7ce"})
    ));
    assert!(
        refs.contains(&&json!({"rel": "run", "ref": "ci:https://www.example.com/mySubject123"}))
    );
    let dep = &import_one(&dir, Format::CDEvents, "cdevents", "service_deployed.json")[0];
    let art =
        "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427";
    assert_eq!(dep["change"], json!({"after": {"artifactId": art}}));
    assert_eq!(dep["attrs"]["cdevents.environment"], "test123");
    let pubd = &import_one(
        &dir,
        Format::CDEvents,
        "cdevents",
        "artifact_published.json",
    )[0];
    assert_eq!(
        pubd["actor"],
        json!({"id": "mybot-myapp", "via": ["/event/source/123"]})
    );
    let t = &import_one(&dir, Format::CDEvents, "cdevents", "ticket_closed.json")[0];
    assert_eq!(t["actor"]["id"], "Bob");
    assert_eq!(t["attrs"]["cdevents.spec_version"], "0.4.1");

    // The conformance files share one context id: CDEvents ids are unique per event, so two
    // different events under one id in one input are refused, naming both (issue 24: not
    // as "already recorded at index 0" on an empty ledger), and the batch writes nothing.
    let l = ledger(&dir, "cd-all");
    let mut all = Vec::new();
    for name in ["pipelinerun_finished.json", "service_deployed.json"] {
        all.push(
            formats::parse_events(&read("cdevents", name))
                .unwrap()
                .remove(0),
        );
    }
    let input = serde_json::to_vec(&all).unwrap();
    let err = formats::import(&l, Format::CDEvents, &input).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Malformed, "{err}");
    assert!(err.to_string().contains("event 2 of 2") && err.to_string().contains("event 1"));
    assert_eq!(l.size().unwrap(), 0);
    // Against an event already in the ledger, the ledger's own conflict names its index.
    formats::import(
        &l,
        Format::CDEvents,
        &read("cdevents", "service_deployed.json"),
    )
    .unwrap();
    let err = formats::import(
        &l,
        Format::CDEvents,
        &read("cdevents", "pipelinerun_finished.json"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::IdConflict, "{err}");
    let l = ledger(&dir, "cd-all-2");
    // The same event delivered twice is recorded once.
    let one = read("cdevents", "pipelinerun_finished.json");
    let a = formats::import(&l, Format::CDEvents, &one).unwrap();
    let b = formats::import(&l, Format::CDEvents, &one).unwrap();
    assert_eq!(a, b);
    assert_eq!(l.size().unwrap(), 1);
}

#[test]
fn intoto_and_slsa_examples() {
    let dir = tempfile::tempdir().unwrap();
    for name in files("intoto") {
        import_one(&dir, Format::InToto, "intoto", &name);
    }
    let v1 = &import_one(
        &dir,
        Format::InToto,
        "intoto",
        "slsa-provenance-v1.statement.json",
    )[0];
    assert_eq!(v1["action"], "intoto.provenance");
    let builder = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_go_slsa3.yml@refs/tags/v0.0.1";
    assert_eq!(v1["actor"], json!({"id": builder}));
    assert_eq!(
        v1["subject"],
        json!({"type": "artifact", "id": "sha256:fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4"})
    );
    assert_eq!(v1["occurred_at"], "2023-01-01T12:34:56Z");
    let links = v1["links"].as_array().unwrap();
    assert!(links.contains(
        &json!({"rel": "built_from", "ref": "git:c27d339ee6075c1f744c5d4b200f7901aad2c369"})
    ));
    assert!(links.contains(&json!({"rel": "run", "ref": "ci:https://github.com/octocat/hello-world/actions/runs/1536140711"})));

    // The same statement inside a DSSE envelope: same mapping, plus the envelope's details.
    let env = &import_one(
        &dir,
        Format::InToto,
        "intoto",
        "slsa-provenance-v1.dsse.json",
    )[0];
    assert_eq!(env["action"], v1["action"]);
    assert_eq!(env["subject"], v1["subject"]);
    assert_eq!(
        env["attrs"]["dsse.payload_type"],
        "application/vnd.in-toto+json"
    );
    assert_eq!(env["attrs"]["dsse.signatures"], "1");
    assert_ne!(env["id"], v1["id"]);

    let v02 = &import_one(
        &dir,
        Format::InToto,
        "intoto",
        "slsa-provenance-v0.2.statement.json",
    )[0];
    assert_eq!(v02["actor"]["id"], "mailto:person@example.com");
    assert_eq!(
        v02["attrs"]["slsa.build_type"],
        "https://example.com/Makefile"
    );

    let tr = &import_one(&dir, Format::InToto, "intoto", "test-result.statement.json")[0];
    assert_eq!(tr["action"], "intoto.test-result.passed");
    assert_eq!(
        tr["subject"],
        json!({"type": "commit", "id": "d20ace7968ba43c0219f62d71334c1095bab1602"})
    );
    assert!(tr["links"]
        .as_array()
        .unwrap()
        .contains(&json!({"rel": "run", "ref": "ci:https://github.com/in-toto/in-toto/actions/runs/4425592351"})));

    // Real DSSE-signed in-toto links (in-toto-golang test data), as JSON Lines: one batch.
    let links = import_one(&dir, Format::InToto, "intoto", "demo-links.intoto.jsonl");
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["action"], "intoto.link");
    assert_eq!(
        links[0]["subject"],
        json!({"type": "step", "id": "clone-dsse"})
    );
    assert_eq!(
        links[0]["actor"]["id"],
        "key:776a00e29f3559e0141b3b096f696abc6cfb0c657ab40f441132b345b08453f5"
    );
    assert_eq!(links[1]["subject"]["id"], "package-dsse");
    assert!(links[1]["links"]
        .as_array()
        .unwrap()
        .contains(&json!({"rel": "material",
        "ref": "sha256:c2c0ea54fa94fac3a4e1575d6ed3bbd1b01a6d0b8deb39196bdc31c457ef731b"})));
}

#[test]
fn ocsf_examples() {
    let dir = tempfile::tempdir().unwrap();
    for name in files("ocsf") {
        import_one(&dir, Format::Ocsf, "ocsf", &name);
    }
    let ac = &import_one(
        &dir,
        Format::Ocsf,
        "ocsf",
        "account_change_cloudtrail_1.1.0.json",
    )[0];
    assert_eq!(ac["action"], "ocsf.account_change.create");
    assert_eq!(
        ac["actor"],
        json!({"id": "arn:aws:sts::112233445566:assumed-role/Admin/Admin-user",
               "role": "arn:aws:iam::112233445566:role/Admin", "tenant": "112233445566"})
    );
    assert_eq!(
        ac["subject"],
        json!({"type": "user", "id": "AROA2W7SOKHEXAMPLE:Admin-user"})
    );
    assert_eq!(ac["occurred_at"], "2023-03-17T17:07:59Z");
    assert_eq!(ac["attrs"]["ocsf.api_operation"], "CreateUser");
    let rc2 = &import_one(
        &dir,
        Format::Ocsf,
        "ocsf",
        "account_change_cloudtrail_1.0.0-rc.2.json",
    )[0];
    assert_eq!(
        rc2["occurred_at"], "2023-03-17T17:07:59Z",
        "from `time` in milliseconds"
    );
    assert_eq!(rc2["actor"]["tenant"], "112233445566");
    let api = &import_one(
        &dir,
        Format::Ocsf,
        "ocsf",
        "api_activity_cloudtrail_1.0.0-rc.2.json",
    )[0];
    assert_eq!(api["action"], "ocsf.api_activity.create");
    assert_eq!(api["actor"]["id"], "123456789012");
    assert_eq!(
        api["subject"],
        json!({"type": "service", "id": "elasticloadbalancing.amazonaws.com"})
    );

    // Why it was allowed, and what changed: OCSF's `actor.authorizations` and
    // `user` / `user_result`. (The public examples carry neither, so they are added here to
    // the 1.1.0 Account Change example.)
    let mut ev: Value =
        serde_json::from_slice(&read("ocsf", "account_change_cloudtrail_1.1.0.json")).unwrap();
    ev["actor"]["authorizations"] = json!([{"decision": "Allow",
        "policy": {"name": "AdministratorAccess", "uid": "arn:aws:iam::aws:policy/AdministratorAccess", "version": "v1"}}]);
    ev["user_result"] = json!({"name": "test_user2", "uid": "AROA2W7SOKHEXAMPLE:Admin-user", "groups": [{"name": "admins"}]});
    let e = formats::map_event(Format::Ocsf, &ev).unwrap();
    assert_eq!(
        e["authz"],
        json!({"decision": "allow", "policy": "arn:aws:iam::aws:policy/AdministratorAccess", "policy_version": "v1"})
    );
    assert_eq!(e["change"]["before"], ev["user"]);
    assert_eq!(e["change"]["after"], ev["user_result"]);
    ev["status_id"] = json!(2);
    ev["actor"]["authorizations"][0]["decision"] = json!("Deny");
    let failed = formats::map_event(Format::Ocsf, &ev).unwrap();
    assert_eq!(failed["action"], "ocsf.account_change.create.failed");
    assert!(failed.get("authz").is_none());
    assert_eq!(failed["attrs"]["ocsf.authz_decision"], "deny");
}

#[test]
fn malformed_inputs_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "refused");
    let good_cd = String::from_utf8(read("cdevents", "ticket_closed.json")).unwrap();
    let good_cd_line =
        serde_json::to_string(&serde_json::from_str::<Value>(&good_cd).unwrap()).unwrap();
    let good_ocsf = serde_json::to_string(
        &serde_json::from_slice::<Value>(&read("ocsf", "api_activity_cloudtrail_1.1.0.json"))
            .unwrap(),
    )
    .unwrap();
    let cases: Vec<(Format, String, &str)> = vec![
        (Format::CDEvents, "".into(), "no event"),
        (Format::CDEvents, "{\"context\": ".into(), "EOF"),
        (Format::CDEvents, "[1, 2]".into(), "object"),
        (Format::CDEvents, r#"{"context": {}, "subject": {}}"#.into(), "context.type"),
        (
            Format::CDEvents,
            good_cd.replace("dev.cdevents.ticket.closed.0.1.0", "com.example.ticket"),
            "not a CDEvents type",
        ),
        (
            Format::CDEvents,
            good_cd.replace("2022-11-11T13:52:20.079Z", "yesterday"),
            "RFC 3339",
        ),
        // One good event, then a broken line: the good one is not written either.
        (Format::CDEvents, format!("{good_cd_line}\n{{\"context\": 1\n"), "line 2"),
        (
            Format::CDEvents,
            format!("{good_cd_line}\n{}\n", good_cd_line.replace("\"subject\"", "\"subjekt\"")),
            "event 2 of 2",
        ),
        (Format::InToto, r#"{"hello": "world"}"#.into(), "neither an in-toto Statement"),
        (
            Format::InToto,
            r#"{"payloadType": "application/vnd.in-toto+json", "payload": "%%%", "signatures": []}"#.into(),
            "base64",
        ),
        (
            Format::InToto,
            r#"{"payloadType": "text/plain", "payload": "aGk=", "signatures": []}"#.into(),
            "not an in-toto type",
        ),
        (
            Format::InToto,
            r#"{"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x"}"#.into(),
            "subject",
        ),
        (
            Format::InToto,
            r#"{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a"}], "predicateType": "x"}"#.into(),
            "digest",
        ),
        (
            Format::InToto,
            r#"{"_type": "https://example.com/Other", "subject": [{"digest": {"sha256": "ab"}}], "predicateType": "x"}"#.into(),
            "not an in-toto Statement",
        ),
        (Format::Ocsf, r#"{"class_uid": 3001}"#.into(), "activity_id"),
        (Format::Ocsf, r#"{"class_uid": "3001", "activity_id": 1, "time": 1}"#.into(), "class_uid"),
        (Format::Ocsf, format!("[{good_ocsf}, {{\"class_uid\": 6003, \"activity_id\": 1}}]"), "event 2 of 2"),
        // An OCSF event with an integer JSON cannot carry exactly (RFC 8785 / I-JSON).
        (Format::Ocsf, good_ocsf.replace("1695334972000", "9007199254740993"), "2^53"),
        (Format::Ocsf, format!("{good_ocsf}{good_ocsf}"), "trailing"),
    ];
    for (format, input, why) in cases {
        let err: Error = formats::import(&l, format, input.as_bytes())
            .expect_err(&format!("{format:?} accepted {input:.80}"));
        assert!(
            err.code().is_refused_input(),
            "{format:?} {why}: {err} is not a refusal"
        );
        assert!(
            err.to_string().contains(why),
            "{format:?}: expected {why:?} in {err}"
        );
        assert_eq!(
            l.size().unwrap(),
            0,
            "{format:?} {why}: something was written"
        );
    }
    assert_eq!(Format::from_name("in-toto").unwrap(), Format::InToto);
    assert_eq!(
        Format::from_name("cloudevents").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
}
