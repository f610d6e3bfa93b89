//! Capture on real inputs (issue 24): what other tools actually emit. Every input is a file
//! under `tests/capture/` whose source is named in its README.

mod common;
use common::{all_pages, capture_fixtures, env_file, git_in as git};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use trailseal::capture::ci::{self, Step};
use trailseal::capture::formats::{self, Format};
use trailseal::capture::git::{self, ImportOptions};
use trailseal::evidence::Selection;
use trailseal::gate::GatePolicy;
use trailseal::query::Query;
use trailseal::trace::TraceOptions;
use trailseal::{CreateOptions, ErrorCode, Ledger, Timestamp};

fn ledger(dir: &tempfile::TempDir, name: &str) -> Ledger {
    Ledger::create(
        dir.path().join(format!("{name}.redb")),
        &CreateOptions::new("example.com/capture-real"),
    )
    .unwrap()
}

/// A CI environment of `tests/capture/real/ci/`.
fn real_env(name: &str) -> HashMap<String, String> {
    env_file(&format!("../real/ci/{name}"))
}

fn context(env: &HashMap<String, String>) -> ci::CiContext {
    ci::detect(&|k: &str| env.get(k).cloned()).unwrap()
}

/// Finding 1: a request and an approval both recorded from CI carry the same bot in `via`;
/// the bot is the carrier, not the approver, so the approval by another user counts.
#[test]
fn f1_approvals_recorded_from_ci_are_not_self_approvals_of_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "real");
    let subject = Some(("release", "sigstore-js@2.1.0"));
    let requester = real_env("github-actions-push.env");
    // The approval is another workflow run, started by the maintainer who re-ran the
    // release in the attempt-2 file (GITHUB_TRIGGERING_ACTOR there).
    let approval_run = |actor: &str, run: &str| {
        let mut env = real_env("github-actions-push.env");
        env.insert("GITHUB_ACTOR".into(), actor.to_owned());
        env.insert("GITHUB_RUN_ID".into(), run.to_owned());
        env.insert("GITHUB_WORKFLOW".into(), "Approve release".into());
        env.insert("GITHUB_JOB".into(), "approve".into());
        env
    };
    let other =
        real_env("github-actions-push-rerun-attempt2.env")["GITHUB_TRIGGERING_ACTOR"].clone();
    let approver = approval_run(&other, "6014502231");
    let (req, app) = (context(&requester), context(&approver));
    assert_eq!(req.via, app.via, "both carried by the same bot");
    assert_ne!(req.actor, app.actor);
    req.record(&l, "release.requested", subject, &Step::default())
        .unwrap();
    let policy = GatePolicy::from_json(r#"{"min_approvals":1}"#).unwrap();
    let before = l.gate("release:sigstore-js@2.1.0", &policy).unwrap();
    assert!(!before.passed, "no approval yet");
    app.record(&l, "approval.granted", subject, &Step::default())
        .unwrap();
    let r = l.gate("release:sigstore-js@2.1.0", &policy).unwrap();
    assert!(r.passed, "{r:?}");
    assert_eq!(r.requirements[0].evidence, vec![1]);

    // The requester approving their own release from CI is still a self-approval.
    let own = context(&approval_run(&req.actor, "6014502232"));
    own.record(&l, "approval.granted", subject, &Step::default())
        .unwrap();
    let r = l.gate("release:sigstore-js@2.1.0", &policy).unwrap();
    assert!(!r.passed, "{r:?}");
    let sod = &r.requirements[1];
    assert_eq!(sod.name, "forbid_self_approval");
    assert!(!sod.met && sod.detail.contains(&req.actor), "{sod:?}");
    assert_eq!(sod.evidence, vec![0, 2], "the approval and the request");

    // The bot approving in its own name what it carried is a self-approval too.
    let bot = l
        .append(&serde_json::json!({
            "actor": {"id": req.via[0]}, "action": "approval.granted",
            "subject": {"type": "release", "id": "sigstore-js@2.1.0"}}))
        .unwrap();
    let r = l.gate("release:sigstore-js@2.1.0", &policy).unwrap();
    let detail: &str = &r.requirements[1].detail;
    assert!(
        detail.contains(&format!("#{} by {}", bot.index, req.via[0])),
        "{detail}"
    );
}

// ---- git ------------------------------------------------------------------------------------

/// This repository's own history (a real one), when the tests run in a full checkout of it.
fn this_repository(min_commits: u64) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ok = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let count: u64 = ok(&["rev-list", "--count", "HEAD"])?.parse().ok()?;
    if ok(&["rev-parse", "--is-shallow-repository"])? != "false" || count < min_commits {
        eprintln!("not a full checkout with {min_commits} commits: skipped");
        return None;
    }
    Some(root)
}

fn all_entries(l: &Ledger) -> Vec<Value> {
    (0..l.size().unwrap()).map(|i| l.get(i).unwrap()).collect()
}

fn no_progress(_: u64, _: u64) {}

/// Finding 2: a partial clone lacks blobs; git's failure is reported as git's (an I/O
/// failure, exit 3, with its message), and `skip_unreadable` goes on without change counts
/// where git cannot read them, saying so.
#[test]
fn f2_a_partial_clone_reports_gits_failure_and_can_go_on_without_counts() {
    let Some(root) = this_repository(30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("partial.git");
    // A partial clone without the blobs above 16 KiB (Cargo.lock, the larger sources), whose
    // promisor remote is then gone: as a mirror without large files, or offline.
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            "--no-local",
            "--filter=blob:limit=16k",
            "-u",
            "git -c uploadpack.allowFilter=true upload-pack",
            &format!("file://{}", root.canonicalize().unwrap().display()),
            partial.to_str().unwrap(),
        ],
    );
    let gone = dir.path().join("gone");
    git(
        &partial,
        &["config", "remote.origin.url", gone.to_str().unwrap()],
    );
    let opts = ImportOptions {
        since: Some("HEAD~24".into()),
        repository: Some("trailseal".into()),
        batch: 5,
        signatures: false,
        ..ImportOptions::default()
    };

    // The full history, for what the partial clone can read.
    let full_l = ledger(&dir, "full");
    let rev = git(&partial, &["rev-parse", "HEAD"]);
    let full_opts = ImportOptions {
        rev: Some(rev.clone()),
        since: Some(format!("{rev}~24")),
        ..opts.clone()
    };
    git::import_with(&full_l, &root, &full_opts, &mut no_progress).unwrap();
    let full = all_entries(&full_l);
    let n: usize = git(&partial, &["rev-list", "--count", "HEAD~24..HEAD"])
        .parse()
        .unwrap();
    assert_eq!(full.len(), n);

    let l = ledger(&dir, "real");
    let err = git::import_with(&l, &partial, &opts, &mut no_progress).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io, "git's failure, not ours: {err}");
    let msg = err.to_string();
    assert!(
        msg.contains("git log failed") && msg.contains("could not fetch"),
        "git's own message: {msg}"
    );
    assert!(msg.contains("--skip-unreadable"), "{msg}");
    assert!(!msg.contains("described"), "{msg}");
    let before = l.size().unwrap();
    assert!(
        before < n as u64 && before % 5 == 0,
        "whole batches only: {before}"
    );

    let skip = ImportOptions {
        skip_unreadable: true,
        ..opts.clone()
    };
    let report = git::import_with(&l, &partial, &skip, &mut no_progress).unwrap();
    assert_eq!(l.size().unwrap(), n as u64);
    assert!(report.unreadable_total >= 1, "{report:?}");
    assert_eq!(report.unreadable.len() as u64, report.unreadable_total);
    assert!(report
        .unreadable_reason
        .as_deref()
        .is_some_and(|r| r.contains("could not fetch")));
    let json = report.to_json();
    assert_eq!(json["unreadable_total"], report.unreadable_total);
    let mut readable = 0;
    for (ours, theirs) in all_entries(&l).iter().zip(&full) {
        assert_eq!(ours["id"], theirs["id"], "same order");
        let sha = ours["subject"]["id"].as_str().unwrap();
        if ours["attrs"]["git.change_counts"] == "unreadable" {
            assert!(report.unreadable.iter().any(|s| s == sha));
            assert!(ours["attrs"].get("git.insertions").is_none());
            // everything else is what the full clone says
            let mut a = ours["attrs"].clone();
            let mut b = theirs["attrs"].clone();
            for k in [
                "git.change_counts",
                "git.paths_changed",
                "git.insertions",
                "git.deletions",
            ] {
                a.as_object_mut().unwrap().remove(k);
                b.as_object_mut().unwrap().remove(k);
            }
            assert_eq!(a, b, "{sha}");
        } else {
            readable += 1;
            assert_eq!(ours["attrs"], theirs["attrs"], "{sha}: the same counts");
        }
        assert_eq!(ours["links"], theirs["links"]);
        assert_eq!(ours["occurred_at"], theirs["occurred_at"]);
    }
    assert!(readable > 0, "what git can read keeps its counts");
}

// ---- canonical refs -------------------------------------------------------------------------

fn read_fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(capture_fixtures().join(dir).join(name)).unwrap()
}

fn import_file(l: &Ledger, format: Format, dir: &str, name: &str) -> Vec<(u64, Value)> {
    let receipts = formats::import(l, format, &read_fixture(dir, name)).unwrap();
    receipts
        .iter()
        .map(|r| (r.index, l.get(r.index).unwrap()))
        .collect()
}

fn link_refs(e: &Value, rel: &str) -> Vec<String> {
    e["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["rel"] == rel)
        .filter_map(|l| l["ref"].as_str().map(str::to_owned))
        .collect()
}

const EXAMPLE_PACKAGE: &str = "github.com/slsa-framework/example-package";
const V14_COMMIT: &str = "4d329c75e7ec1725f7c9ce917a8799d408d06be3";
const V14_RUN: &str = "https://github.com/slsa-framework/example-package/actions/runs/13530999509";

/// Findings 3 and 4: a commit, a CI run and a repository have one spelling whichever tool
/// names them, so `record`, SLSA v1 (`gitCommit` and `sha1` materials, `/attempts/1` run
/// ids), SLSA v0.2 (`sha1` materials) and `import git` join.
#[test]
fn f3_f4_commits_runs_and_repositories_join_across_importers() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "refs");
    // The release job of the run the provenance names, recorded by `record`: the values the
    // provenance's own internalParameters give (GITHUB_REPOSITORY, _RUN_ID, _SHA, _REF).
    let mut env = real_env("github-actions-push.env");
    for (k, v) in [
        ("GITHUB_REPOSITORY", "slsa-framework/example-package"),
        ("GITHUB_RUN_ID", "13530999509"),
        ("GITHUB_SHA", V14_COMMIT),
        ("GITHUB_REF", "refs/tags/v14"),
    ] {
        env.insert(k.into(), v.into());
    }
    let ctx = context(&env);
    ctx.record(&l, "build.succeeded", None, &Step::default())
        .unwrap();
    let recorded = l.get(0).unwrap();
    assert_eq!(recorded["attrs"]["ci.repository"], EXAMPLE_PACKAGE);
    assert_eq!(link_refs(&recorded, "run"), vec![format!("ci:{V14_RUN}")]);

    // Two real SLSA v1 provenance documents of that build: one names the source commit as
    // `gitCommit`, the other as `sha1` of a `git+` URI; both name the run with `/attempts/1`.
    for name in [
        "gha_maven__v2.1.0__binary-linux-amd64-push-v14.build.slsa",
        "gha_container-based__v2.1.0__binary-linux-amd64-push-v14.intoto.build.slsa",
    ] {
        let (ix, e) = import_file(&l, Format::InToto, "real/intoto", name).remove(0);
        assert!(
            link_refs(&e, "built_from").contains(&format!("git:{V14_COMMIT}")),
            "{name}: {:?}",
            e["links"]
        );
        assert_eq!(
            link_refs(&e, "run"),
            vec![format!("ci:{V14_RUN}")],
            "{name}"
        );
        assert_eq!(e["attrs"]["slsa.repository"], EXAMPLE_PACKAGE, "{name}");
        // trace follows the refs to the CI step.
        let t = l.trace(ix, false).unwrap();
        let node = t.nodes.iter().find(|n| n.found.index == ix).unwrap();
        assert!(node.links.contains(&0), "{name}: reaches the CI step");
    }

    // A deploy step names the artifact as an OCI digest, as a deploy script has it at hand:
    // the canonical form is the provenance's subject, so trace reaches the provenance.
    let deploy = ctx
        .record(
            &l,
            "deploy.succeeded",
            Some(("service", "example-package")),
            &Step {
                refs: vec![(
                    "artifact".into(),
                    "oci:sha256:18A114F0A2D8031687D28E5514D7ABABE54D641E08FD01D99F22C3F8745CAF0A"
                        .into(),
                )],
                ..Step::default()
            },
        )
        .unwrap()
        .receipt
        .index;
    let maven = 1;
    let t = l.trace(deploy, false).unwrap();
    let node = t.nodes.iter().find(|n| n.found.index == deploy).unwrap();
    assert!(node.links.contains(&maven), "{:?}", node.links);

    // SLSA v0.2 (slsa-github-generator 1.2.0): the source commit only as a `sha1` material,
    // the run only as `buildInvocationID` `<run id>-<attempt>`.
    let (_, v02) = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "gha_generic__v1.2.0__binary-linux-amd64-push-v14.intoto.jsonl",
    )
    .remove(0);
    assert_eq!(
        link_refs(&v02, "built_from"),
        vec!["git:dcd26fed2ccf37087005539ad8e8ce4db23b501d".to_owned()]
    );
    assert_eq!(
        link_refs(&v02, "run"),
        vec!["ci:https://github.com/slsa-framework/example-package/actions/runs/2700464409"]
    );
    assert_eq!(v02["attrs"]["slsa.repository"], EXAMPLE_PACKAGE);
    let (_, tag) = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "annotated-tag.intoto.jsonl",
    )
    .remove(0);
    assert_eq!(
        link_refs(&tag, "built_from"),
        vec!["git:f24af35a7c714f1b4eeb53afefb57fa11bd5c95c".to_owned()]
    );
    assert_eq!(
        tag["attrs"]["slsa.repository"],
        "github.com/asraa/slsa-on-github-test"
    );

    // `import git` names a clone of the repository the same way, whatever its remote's form.
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["remote", "add", "origin", "file:///nowhere"]);
    for url in [
        "git@github.com:slsa-framework/example-package.git",
        "https://GitHub.com/slsa-framework/example-package",
    ] {
        git(repo.path(), &["remote", "set-url", "origin", url]);
        assert_eq!(
            git::default_repository_name(repo.path()).unwrap(),
            EXAMPLE_PACKAGE,
            "{url}"
        );
    }
}

// ---- trace limits ---------------------------------------------------------------------------

/// Finding 5: a trace that stops says so (`cut`), git history is followed only when asked,
/// a depth limit asks for what matters, and a bundle never holds part of a trace silently.
/// On this repository's own history, imported, with a deploy recorded from CI on its tip.
#[test]
fn f5_a_cut_trace_says_so_and_history_is_followed_when_asked() {
    let Some(root) = this_repository(30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "trace");
    let opts = ImportOptions {
        repository: Some("trailseal".into()),
        signatures: false,
        ..ImportOptions::default()
    };
    let report = git::import_with(&l, &root, &opts, &mut no_progress).unwrap();
    let commits = report.recorded;
    let tip = report.head.clone().unwrap();
    let mut env = real_env("github-actions-push.env");
    env.insert("GITHUB_SHA".into(), tip.clone());
    let deploy = context(&env)
        .record(
            &l,
            "deploy.succeeded",
            Some(("service", "trailseal")),
            &Step::default(),
        )
        .unwrap()
        .receipt
        .index;

    // By default: the deploy and the commit it names, not the commit's ancestors.
    let t = l.trace(deploy, false).unwrap();
    let reached: Vec<u64> = t.nodes.iter().map(|n| n.found.index).collect();
    assert_eq!(reached.len(), 2, "{reached:?}");
    assert_eq!(t.cut, None);
    assert!(t.ancestry_skipped >= 1);
    assert!(t.to_json()["ancestry_skipped"].as_u64().is_some());
    assert!(t.to_json().get("cut").is_none());

    // Asked for: the whole history behind the tip, whole.
    let all = TraceOptions {
        ancestry: true,
        ..TraceOptions::default()
    };
    let ancestors: u64 = git(&root, &["rev-list", "--count", &tip]).parse().unwrap();
    let t = l.trace_with(deploy, false, &all).unwrap();
    assert_eq!(t.nodes.len() as u64, ancestors + 1);
    assert!(ancestors <= commits);
    assert_eq!((t.cut.as_deref(), t.ancestry_skipped), (None, 0));

    // Fewer entries than the history: cut, and saying so, with no link to what is left out.
    let small = TraceOptions {
        max_entries: 20,
        ..all.clone()
    };
    let t = l.trace_with(deploy, false, &small).unwrap();
    assert_eq!(t.nodes.len(), 20);
    let cut = t.cut.clone().expect("a cut trace says so");
    assert!(cut.contains("stopped at 20 entries"), "{cut}");
    assert_eq!(t.to_json()["cut"], cut.as_str());
    let held: Vec<u64> = t.nodes.iter().map(|n| n.found.index).collect();
    assert!(t
        .nodes
        .iter()
        .flat_map(|n| &n.links)
        .all(|l| held.contains(l)));

    // A depth limit: the deploy, its commit and that commit's parents.
    let shallow = TraceOptions {
        depth: Some(2),
        ..all.clone()
    };
    let t = l.trace_with(deploy, false, &shallow).unwrap();
    let parents = git(&root, &["rev-list", "--no-walk", "--parents", &tip])
        .split_whitespace()
        .count()
        - 1;
    assert_eq!(t.nodes.len(), 2 + parents);
    assert!(
        t.cut.as_deref().is_some_and(|c| c.contains("depth 2")),
        "{:?}",
        t.cut
    );

    // A bundle holds a whole trace or refuses, saying why.
    let signer = trailseal::note::Signer::from_seed("example.com/capture-real", [3; 32]).unwrap();
    let b = l
        .bundle(
            &Selection::Trace {
                index: deploy,
                forward: false,
                options: TraceOptions::default(),
            },
            &signer,
        )
        .unwrap();
    assert_eq!(b.entries.len(), 2);
    let err = l
        .bundle(
            &Selection::Trace {
                index: deploy,
                forward: false,
                options: shallow,
            },
            &signer,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("not whole"), "{err}");

    // Forward from the root commit: its children are history too.
    let first = l.get(0).unwrap();
    assert_eq!(first["action"], "git.commit");
    let t = l.trace(0, true).unwrap();
    assert!(t
        .nodes
        .iter()
        .all(|n| n.found.index == 0 || n.found.entry["action"] != "git.commit"));
}

// ---- formats others publish -----------------------------------------------------------------

/// Finding 6 (and 7's times): npm's attestations response, classic in-toto links as
/// `in-toto-run` writes them, and Cloud Build provenance are read, not refused; provenance
/// that states no time gets the time its Sigstore bundle was logged, said so in attrs.
#[test]
fn f6_npm_attestations_classic_links_and_cloud_build_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "formats");

    // npm: two attestations (SLSA v0.2 provenance, npm publish) of one package.
    let npm = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "vi_gha__testdata__npm-attestations.intoto.sigstore",
    );
    assert_eq!(npm.len(), 2);
    let subject = json!({"type": "artifact", "id": "sha512:29d19f26233f4441328412b34fd73ed104ecfef62f14097890cccf7455b521b65c5acff851849faa85c85395aa22d401436f01f3afb61b19c780e906c88c7f20"});
    let (_, prov) = &npm[0];
    assert_eq!(prov["action"], "intoto.provenance");
    assert_eq!(prov["subject"], subject);
    assert_eq!(prov["actor"]["id"], "https://github.com/npm/cli@9.5.0");
    assert_eq!(
        link_refs(prov, "built_from"),
        vec!["git:16babffb9153811e193c019939391357372b25ce".to_owned()]
    );
    assert_eq!(
        prov["occurred_at"], "2023-02-15T19:33:32Z",
        "Rekor's integratedTime"
    );
    assert_eq!(prov["attrs"]["intoto.time_source"], "rekor.integrated_time");
    assert_eq!(
        prov["attrs"]["dsse.payload_type"],
        "application/vnd.in-toto+json"
    );
    let (_, publish) = &npm[1];
    assert_eq!(publish["action"], "intoto.publish");
    assert_eq!(publish["subject"], subject);
    assert_eq!(publish["occurred_at"], "2023-02-15T19:33:35Z");
    assert_eq!(
        publish["payload"]["predicateType"],
        "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
    );

    // Classic in-toto links, signed as in-toto-run writes them.
    let (_, write) = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "write-code.b7d643de.link",
    )
    .remove(0);
    assert_eq!(write["action"], "intoto.link");
    assert_eq!(
        write["subject"],
        json!({"type": "step", "id": "write-code"})
    );
    assert_eq!(
        write["actor"]["id"],
        "key:b7d643dec0a051096ee5d87221b5d91a33daa658699d30903e1cefb90c418401"
    );
    assert_eq!(
        link_refs(&write, "product"),
        vec!["sha256:74dc3727c6e89308b39e4dfedf787e37841198b1fa165a27c013544a60502549".to_owned()]
    );
    let (_, package) =
        import_file(&l, Format::InToto, "real/intoto", "package.d3ffd108.link").remove(0);
    assert_eq!(
        package["attrs"]["intoto.command"],
        "tar zcvf foo.tar.gz foo.py"
    );
    assert_eq!(
        link_refs(&package, "material"),
        link_refs(&write, "product"),
        "the chain joins"
    );

    // Classic in-toto layouts (the owner's signed policy), signed classically or in DSSE.
    for name in ["demo.layout", "demo.dsse.layout"] {
        let (_, layout) = import_file(&l, Format::InToto, "real/intoto", name).remove(0);
        assert_eq!(layout["action"], "intoto.layout", "{name}");
        assert_eq!(layout["subject"]["type"], "layout");
        assert!(layout["subject"]["id"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
        assert_eq!(
            layout["actor"]["id"],
            "key:70ca5750c2eda80b18f41f4ec5f92146789b5d68dd09577be422a0159bd13680",
            "{name}"
        );
        assert!(layout["attrs"]["intoto.expires"]
            .as_str()
            .unwrap()
            .starts_with("2030-"));
        assert!(layout["attrs"]["intoto.steps"]
            .as_str()
            .unwrap()
            .contains("package"));
    }

    // Cloud Build (gcloud's provenance, predicate as `slsaProvenance`, source as a commit URL).
    let (_, gcb) = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "vi_gcb__slsaprovenance__v0.1__testdata__gcloud-container-invalid-intotoheader.json",
    )
    .remove(0);
    assert_eq!(gcb["action"], "intoto.provenance");
    assert_eq!(
        gcb["actor"]["id"],
        "https://cloudbuild.googleapis.com/GoogleHostedWorker@v0.2"
    );
    assert_eq!(
        gcb["subject"],
        json!({"type": "artifact", "id": "sha256:1a033b002f89ed2b8ea733162497fb70f1a4049a7f8602d6a33682b4ad9921fd"})
    );
    assert_eq!(
        link_refs(&gcb, "built_from"),
        vec!["git:fbbb98765e85ad464302dc5977968104d36e455e".to_owned()]
    );
    assert_eq!(gcb["occurred_at"], "2022-08-15T22:43:34.366498Z");
    assert!(
        gcb["attrs"].get("intoto.time_source").is_none(),
        "the document's own time"
    );

    // SLSA v1 from the GitHub generator states no time either: its bundle's.
    let (_, v1) = import_file(
        &l,
        Format::InToto,
        "real/intoto",
        "gha_maven__v2.1.0__binary-linux-amd64-push-v14.build.slsa",
    )
    .remove(0);
    assert_eq!(v1["occurred_at"], "2025-02-25T21:12:21Z");
}

// ---- thin mappings --------------------------------------------------------------------------

fn map_file(format: Format, dir: &str, name: &str) -> Value {
    let mut v = formats::to_entries(format, &read_fixture(dir, name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(v.len(), 1, "{name}");
    v.remove(0)
}

/// Finding 7: CDEvents 0.6 approvals keep who asked, who answered and what was decided, and
/// a closed approval counts in a gate on the resource it gates only when approved.
#[test]
fn f7_cdevents_approvals_keep_approver_and_decision_and_count_in_gates() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "approvals");
    let got = import_file(
        &l,
        Format::CDEvents,
        "real/cdevents",
        "approval_0.6.0-draft.jsonl",
    );
    let release = "https://deploy.example.com/releases/payments-api/1.42.0";
    let summary: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|(_, e)| {
            (
                e["action"].as_str().unwrap(),
                e["actor"]["id"].as_str().unwrap(),
                e["subject"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    let other = "https://deploy.example.com/releases/ledger-api/3.0.0";
    assert_eq!(
        summary,
        vec![
            ("approval.requested", "urn:example:user:alice", release),
            (
                "cdevents.approval.updated",
                "urn:example:user:carol",
                release
            ),
            ("approval.granted", "urn:example:user:bob", release),
            ("approval.requested", "urn:example:user:alice", release),
            ("approval.rejected", "urn:example:user:carol", release),
            ("approval.requested", "urn:example:user:dave", other),
            ("approval.granted", "urn:example:user:dave", other),
        ]
    );
    let (_, granted) = &got[2];
    assert_eq!(granted["subject"]["type"], "resource");
    assert_eq!(granted["actor"]["via"], json!(["/approvals/prod"]));
    assert_eq!(granted["attrs"]["cdevents.decision"], "approve");
    assert_eq!(granted["attrs"]["cdevents.status"], "approved");
    assert_eq!(granted["attrs"]["cdevents.approval"], "APR-1042");
    assert_eq!(granted["occurred_at"], "2026-12-01T10:30:00Z");
    assert_eq!(
        link_refs(granted, "approval"),
        vec!["cdevents.approval:APR-1042"]
    );
    assert_eq!(
        link_refs(granted, "url"),
        vec!["https://approvals.example.com/requests/APR-1042"]
    );
    let (_, rejected) = &got[4];
    assert_eq!(
        rejected["attrs"]["cdevents.decision"],
        "reject: no rollback plan"
    );

    // bob's approval counts; carol's rejection and her non-terminal decision do not.
    let one = GatePolicy::from_json(r#"{"min_approvals":1}"#).unwrap();
    let two = GatePolicy::from_json(r#"{"min_approvals":2}"#).unwrap();
    let r = l.gate(&format!("resource:{release}"), &one).unwrap();
    assert!(r.passed, "{r:?}");
    assert_eq!(r.requirements[0].evidence, vec![got[2].0]);
    assert!(!l.gate(&format!("resource:{release}"), &two).unwrap().passed);
    // dave approving what dave requested is a self-approval.
    let r = l.gate(&format!("resource:{other}"), &one).unwrap();
    assert!(!r.passed, "{r:?}");
    assert!(!r.requirements[1].met && r.requirements[1].detail.contains("dave"));

    // A CDEvents change review (up to 0.5) names no reviewer and no decision: it is what its
    // source reported, never an approval.
    let (_, review) = import_file(
        &l,
        Format::CDEvents,
        "real/cdevents",
        "conformance_change_reviewed.json",
    )
    .remove(0);
    assert_eq!(review["action"], "cdevents.change.reviewed");
    assert_eq!(review["actor"]["id"], "/event/source/123");
}

/// Finding 7: OCSF events without class or activity names, with times in seconds, with
/// fractions, as text, or 0; CDEvents failed runs and artifacts built from a change.
#[test]
fn f7_ocsf_names_and_times_cdevents_outcomes_and_changes() {
    let ocsf = |name: &str| map_file(Format::Ocsf, "real/ocsf", name);
    let launch =
        ocsf("System_Activity_Process_Activity_microsoft_windows_4688_4688_v2_Attackrange_0.json");
    assert_eq!(launch["action"], "ocsf.process_activity.launch");
    assert_eq!(launch["occurred_at"], "2021-03-12T15:48:14Z");
    assert!(launch["attrs"].get("ocsf.note").is_none());
    let end = ocsf("System_Activity_Process_Activity_microsoft_windows_4689_4689_0.json");
    assert_eq!(end["action"], "ocsf.process_activity.terminate");
    // No class_name: its type_name names class and activity.
    let falco = ocsf("Findings_Security_Finding_Falco_falco.json");
    assert_eq!(falco["action"], "ocsf.security_finding.generate");
    // Zeek: time in seconds with a fraction, activity_id `false`.
    let zeek = ocsf("Network_Activity_DNS_Activity_Zeek_dns_log_zeek_dns.log.event.parsed.json");
    assert_eq!(zeek["action"], "ocsf.dns_activity.unknown");
    assert_eq!(
        zeek["occurred_at"], "2020-06-05T14:39:59.305988Z",
        "exactly as written"
    );
    let note = zeek["attrs"]["ocsf.note"].as_str().unwrap();
    assert!(
        note.contains("seconds") && note.contains("no activity_id"),
        "{note}"
    );
    // Zeek's conn log: no activity_id at all.
    let conn =
        ocsf("Network_Activity_Network_Activity_Zeek_conn_log_zeek_conn.log.event.parsed.json");
    assert_eq!(conn["action"], "ocsf.network_activity.unknown");
    assert_eq!(conn["occurred_at"], "2020-06-05T14:39:59.305988Z");
    // Route 53 through bloblang: time as RFC 3339 text.
    let r53 = ocsf("mappings_bloblang_AWS_route53_v1.0.0_samples_OCSF_dns_activity.json");
    assert_eq!(r53["occurred_at"], "2022-10-13T21:02:36Z");
    // Tenable: time in microseconds; its time_dt is taken, and with it gone, the magnitude.
    let tenable = "mappings_bloblang_Tennable_v1.2.0_Discovery_samples_ocsf_device_invantory.json";
    let t = ocsf(tenable);
    assert_eq!(t["action"], "ocsf.device_inventory_info.log");
    assert_eq!(t["occurred_at"], "2024-06-08T04:48:42.354Z");
    let mut ev: Value = serde_json::from_slice(&read_fixture("real/ocsf", tenable)).unwrap();
    ev.as_object_mut().unwrap().remove("time_dt");
    let e = formats::map_event(Format::Ocsf, &ev).unwrap();
    assert_eq!(e["occurred_at"], "2024-06-08T04:48:42.354Z");
    assert_eq!(e["attrs"]["ocsf.note"], "time read as microseconds");
    // time 0 is "unknown", not 1970; seconds are not read as milliseconds (1970-01-20).
    for (time, want, why) in [
        (json!(0), None, "time is 0 (unknown): left out"),
        (
            json!(1_615_564_094u64),
            Some("2021-03-12T15:48:14Z"),
            "time read as seconds",
        ),
    ] {
        let mut ev: Value = serde_json::from_slice(&read_fixture(
            "real/ocsf",
            "System_Activity_Process_Activity_microsoft_windows_4688_4688_v2_Attackrange_0.json",
        ))
        .unwrap();
        ev["time"] = time;
        let e = formats::map_event(Format::Ocsf, &ev).unwrap();
        assert_eq!(e["occurred_at"].as_str(), want);
        assert_eq!(e["attrs"]["ocsf.note"], why);
    }

    // CDEvents: a failed run is not a successful one; an artifact names its change.
    let cd = |name: &str| map_file(Format::CDEvents, "real/cdevents", name);
    let run = cd("conformance_pipelinerun_finished.json");
    assert_eq!(run["action"], "cdevents.pipelinerun.finished.failed");
    assert_eq!(run["attrs"]["cdevents.outcome"], "failure");
    let mut ok: Value = serde_json::from_slice(&read_fixture(
        "real/cdevents",
        "conformance_pipelinerun_finished.json",
    ))
    .unwrap();
    ok["subject"]["content"]["outcome"] = "success".into();
    let e = formats::map_event(Format::CDEvents, &ok).unwrap();
    assert_eq!(e["action"], "cdevents.pipelinerun.finished");
    let artifact = cd("conformance_artifact_packaged.json");
    assert_eq!(
        link_refs(&artifact, "change"),
        vec!["cdevents.change:myChange123".to_owned()]
    );
    let change = cd("examples_change_merged.json");
    assert_eq!(
        link_refs(&change, "subject"),
        vec!["cdevents.change:mySubject123".to_owned()]
    );
}

// ---- who signed -----------------------------------------------------------------------------

/// Finding 9: a commit's signature names its signer and key; a commit by alice signed with
/// mallory's key says so. Signed with ssh-keygen keys and checked by git itself.
#[test]
fn f9_who_signed_a_commit_is_recorded() {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        eprintln!("ssh-keygen not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("signed");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut allowed = String::new();
    let mut keys = Vec::new();
    for who in ["alice@example.com", "mallory@example.com"] {
        let key = dir.path().join(who.split('@').next().unwrap());
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", who, "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(st.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        allowed.push_str(&format!("{who} {public}"));
        let fp = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(key.with_extension("pub"))
            .output()
            .unwrap();
        let fp = String::from_utf8_lossy(&fp.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned();
        keys.push((key, fp));
    }
    let allowed_file = dir.path().join("allowed_signers");
    std::fs::write(&allowed_file, allowed).unwrap();
    git(&repo, &["config", "gpg.format", "ssh"]);
    git(
        &repo,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            allowed_file.to_str().unwrap(),
        ],
    );
    for (n, (key, _)) in keys.iter().enumerate() {
        git(&repo, &["config", "user.signingkey", key.to_str().unwrap()]);
        std::fs::write(repo.join("f"), format!("{n}")).unwrap();
        git(&repo, &["add", "f"]);
        // Alice is the author of both (git_in's identity).
        git(&repo, &["commit", "-q", "-S", "-m", &format!("signed {n}")]);
    }
    let l = ledger(&dir, "signers");
    git::import(&l, &repo, None, &mut no_progress).unwrap();
    let own = l.get(0).unwrap();
    let other = l.get(1).unwrap();
    for e in [&own, &other] {
        assert_eq!(e["actor"]["id"], "alice@example.com");
        assert_eq!(e["attrs"]["git.signature"], "good");
    }
    assert_eq!(own["attrs"]["git.signer"], "alice@example.com");
    assert_eq!(own["attrs"]["git.signing_key"], keys[0].1.as_str());
    assert_eq!(own["attrs"]["git.signed_by_author"], "true");
    assert_eq!(other["attrs"]["git.signer"], "mallory@example.com");
    assert_eq!(other["attrs"]["git.signing_key"], keys[1].1.as_str());
    assert_eq!(other["attrs"]["git.signed_by_author"], "false");
}

// ---- change counts ----------------------------------------------------------------------------

/// Finding 10: change counts are what `git show --stat` says (renames found, git's default),
/// on every non-merge commit of this repository's own history, which moves files.
#[test]
fn f10_change_counts_match_git_show() {
    let Some(root) = this_repository(30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "counts");
    let opts = ImportOptions {
        signatures: false,
        ..ImportOptions::default()
    };
    git::import_with(&l, &root, &opts, &mut no_progress).unwrap();
    let renames = git(&root, &["log", "-M", "--diff-filter=R", "--format=%H"]);
    assert!(!renames.is_empty(), "the history moves files");
    let mut compared = 0;
    for e in all_entries(&l) {
        if e["attrs"]["git.parents"] != "1" {
            continue;
        }
        let sha = e["subject"]["id"].as_str().unwrap();
        // `git show --shortstat` with git's defaults (no user or system config here)
        let stat = git(&root, &["show", "--shortstat", "--format=", sha]);
        let n = |word: &str| -> String {
            stat.split(',')
                .find(|p| p.contains(word))
                .and_then(|p| p.split_whitespace().next())
                .unwrap_or("0")
                .to_owned()
        };
        assert_eq!(e["attrs"]["git.paths_changed"], n("changed"), "{sha}");
        assert_eq!(e["attrs"]["git.insertions"], n("insertion"), "{sha}");
        assert_eq!(e["attrs"]["git.deletions"], n("deletion"), "{sha}");
        compared += 1;
    }
    assert!(compared >= 30);
}

/// Finding 8: "the commits of one day" asked of an imported history by `occurred_at` (the
/// committer date), not by the ledger's `time` (the import's, the same instant for all). The
/// answer is git's own: `git rev-list --since --until`, and the committer dates `git log`
/// prints, filtered here.
#[test]
fn f8_commits_of_a_day_by_occurred_at_are_the_ones_git_log_dates_there() {
    let Some(root) = this_repository(30) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "occurred");
    let opts = ImportOptions {
        signatures: false,
        ..ImportOptions::default()
    };
    let started = Timestamp::now();
    git::import_with(&l, &root, &opts, &mut no_progress).unwrap();
    // (sha, committer date in Unix seconds) of every commit, as git prints them.
    let dated: Vec<(String, i64)> = git(&root, &["log", "--format=%H %ct"])
        .lines()
        .map(|l| {
            let (sha, ct) = l.split_once(' ').unwrap();
            (sha.to_owned(), ct.parse().unwrap())
        })
        .collect();
    let mut times: Vec<i64> = dated.iter().map(|d| d.1).collect();
    times.sort_unstable();
    // The UTC days of the first and the median commit, and from the one to the other.
    let day = |t: i64| t.div_euclid(86_400) * 86_400;
    let (first, median) = (day(times[0]), day(times[times.len() / 2]));
    for (since, until) in [
        (first, first + 86_400),
        (median, median + 86_400),
        (first + 3_600, median),
    ] {
        let mut want: Vec<String> = dated
            .iter()
            .filter(|d| (since..until).contains(&d.1))
            .map(|d| d.0.clone())
            .collect();
        want.sort();
        assert!(
            !want.is_empty() || since != first,
            "the first commit's day has it"
        );
        // git's --until is inclusive, ours exclusive.
        let by_git = git(
            &root,
            &[
                "rev-list",
                &format!("--since=@{since}"),
                &format!("--until=@{}", until - 1),
                "HEAD",
            ],
        );
        let mut by_git: Vec<String> = by_git.lines().map(str::to_owned).collect();
        by_git.sort();
        assert_eq!(by_git, want, "git's own date filter agrees");
        let at = |s: i64| Timestamp::from_unix_nanos(i128::from(s) * 1_000_000_000);
        let q = Query {
            action: Some("git.commit".into()),
            occurred_since: Some(at(since)),
            occurred_until: Some(at(until)),
            limit: 7,
            ..Query::default()
        };
        let mut ours: Vec<String> = all_pages(&l, q)
            .into_iter()
            .map(|i| {
                l.get(i).unwrap()["subject"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        ours.sort();
        assert_eq!(ours, want, "commits of {since}..{until}");
        // The ledger's own clock knows nothing of a day before the import: every entry was
        // recorded during it.
        if at(until) <= started {
            let by_time = Query {
                action: Some("git.commit".into()),
                since: Some(at(since)),
                until: Some(at(until)),
                ..Query::default()
            };
            assert!(l.query(&by_time).unwrap().entries.is_empty());
        }
    }
}

// ---- CI edge cases ----------------------------------------------------------------------------

/// Finding 11: GitHub matrix legs (one GITHUB_JOB, one attempt, other runners) are not taken
/// for retries of each other; pull/merge request runs record the head commit as their
/// subject and the temporary merge commit as what it is.
#[test]
fn f11_matrix_legs_and_merge_request_commits() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir, "ci-edges");
    let leg = |runner: &str, os: &str| {
        let mut env = real_env("github-actions-push.env");
        env.insert("RUNNER_NAME".into(), runner.into());
        env.insert("RUNNER_OS".into(), os.into());
        context(&env)
    };
    let (linux, macos) = (
        leg("GitHub Actions 12", "Linux"),
        leg("GitHub Actions 31", "macOS"),
    );
    let failed = Step::default();
    linux.record(&l, "test.failed", None, &failed).unwrap();
    let err = macos.record(&l, "test.failed", None, &failed).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(err.to_string().contains("--attr"), "{err}");
    assert_eq!(
        l.size().unwrap(),
        1,
        "nothing written, nothing dropped silently"
    );
    // Told apart, both legs are recorded.
    let with_os = |os: &str| Step {
        attrs: [("os".to_owned(), os.to_owned())].into(),
        ..Step::default()
    };
    let a = linux
        .record(&l, "test.failed", None, &with_os("linux"))
        .unwrap();
    let b = macos
        .record(&l, "test.failed", None, &with_os("macos"))
        .unwrap();
    assert!(!a.already_recorded && !b.already_recorded);
    // A re-run (attempt 2, the real re-run environment) is still a retry: recorded once.
    let rerun = context(&real_env("github-actions-push-rerun-attempt2.env"));
    let r = rerun.record(&l, "test.failed", None, &failed).unwrap();
    assert!(r.already_recorded);
    assert_eq!(r.receipt.index, 0);

    // GitLab merged-results pipeline (the real merge-request environment).
    let mr = context(&real_env("gitlab-ci-mr.env"));
    let e = mr.entry("test.passed", None, &Step::default()).unwrap();
    let head = "1111111111111111111111111111111111111111";
    assert_eq!(e["subject"], json!({"type": "commit", "id": head}));
    assert_eq!(link_refs(&e, "commit"), vec![format!("git:{head}")]);
    assert_eq!(
        link_refs(&e, "merge_commit"),
        vec!["git:8f70009fde0c94ade6ce2a054b94718c819126ec".to_owned()]
    );
    assert_eq!(
        e["attrs"]["ci.merge_commit"],
        "8f70009fde0c94ade6ce2a054b94718c819126ec"
    );

    // GitHub pull_request run: GITHUB_SHA is refs/pull/N/merge; the head is in the payload.
    let event = dir.path().join("event.json");
    let pr_head = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";
    std::fs::write(
        &event,
        json!({"action": "synchronize", "number": 1187,
               "pull_request": {"number": 1187, "head": {"sha": pr_head, "ref": "fix-x"}}})
        .to_string(),
    )
    .unwrap();
    let mut env = real_env("github-actions-push.env");
    for (k, v) in [
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_REF", "refs/pull/1187/merge"),
        ("GITHUB_HEAD_REF", "fix-x"),
        ("GITHUB_BASE_REF", "main"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ] {
        env.insert(k.into(), v.into());
    }
    let merge = env["GITHUB_SHA"].clone();
    let e = context(&env)
        .entry("test.passed", None, &Step::default())
        .unwrap();
    assert_eq!(e["subject"], json!({"type": "commit", "id": pr_head}));
    assert_eq!(link_refs(&e, "merge_commit"), vec![format!("git:{merge}")]);
    // Without a readable payload the merge commit stays the subject, but is named as such.
    env.insert("GITHUB_EVENT_PATH".into(), "/nonexistent/event.json".into());
    let e = context(&env)
        .entry("test.passed", None, &Step::default())
        .unwrap();
    assert_eq!(e["attrs"]["ci.merge_commit"], merge.as_str());
}

/// Concurrent `git log` runs (what signature checks make worth it) describe a batch exactly
/// as one run does, in order: this repository's history, batches of 100, in 3 parts each.
#[test]
fn concurrent_git_runs_describe_the_same_history() {
    let Some(root) = this_repository(70) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let import = |name: &str, jobs: usize| {
        let l = ledger(&dir, name);
        let opts = ImportOptions {
            repository: Some("trailseal".into()),
            batch: 100,
            jobs,
            ..ImportOptions::default()
        };
        git::import_with(&l, &root, &opts, &mut no_progress).unwrap();
        all_entries(&l)
            .into_iter()
            .map(|mut e| {
                let o = e.as_object_mut().unwrap();
                o.remove("time");
                e
            })
            .collect::<Vec<_>>()
    };
    let one = import("one", 1);
    let three = import("three", 3);
    assert_eq!(one.len(), three.len());
    assert!(one == three, "the same entries in the same order");
}
