//! Capture on real inputs (issue 24): what other tools actually emit. Every input is a file
//! under `tests/capture/` whose source is named in its README.

mod common;
use common::env_file;
use std::collections::HashMap;

use trailseal::capture::ci::{self, Step};
use trailseal::gate::GatePolicy;
use trailseal::{CreateOptions, Ledger};

fn ledger(dir: &tempfile::TempDir) -> Ledger {
    Ledger::create(
        dir.path().join("real.redb"),
        &CreateOptions::new("example.com/capture-real"),
    )
    .unwrap()
}

fn context(env: &HashMap<String, String>) -> ci::CiContext {
    ci::detect(&|k: &str| env.get(k).cloned()).unwrap()
}

/// Finding 1: a request and an approval both recorded from CI carry the same bot in `via`;
/// the bot is the carrier, not the approver, so the approval by another user counts.
#[test]
fn f1_approvals_recorded_from_ci_are_not_self_approvals_of_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(&dir);
    let subject = Some(("release", "sigstore-js@2.1.0"));
    let requester = env_file("github-actions-push.env");
    // The approval is another workflow run, started by the maintainer who re-ran the
    // release in the attempt-2 file (GITHUB_TRIGGERING_ACTOR there).
    let approval_run = |actor: &str, run: &str| {
        let mut env = env_file("github-actions-push.env");
        env.insert("GITHUB_ACTOR".into(), actor.to_owned());
        env.insert("GITHUB_RUN_ID".into(), run.to_owned());
        env.insert("GITHUB_WORKFLOW".into(), "Approve release".into());
        env.insert("GITHUB_JOB".into(), "approve".into());
        env
    };
    let other =
        env_file("github-actions-push-rerun-attempt2.env")["GITHUB_TRIGGERING_ACTOR"].clone();
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
