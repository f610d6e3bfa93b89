//! Decisions as code (docs/RULES.md) on a real ledger: the SOX change-management document of
//! `tests/rules/sox.json`, a history that breaks each of its rules once, the rules changed to
//! allow those entries, rules published while others append, `verify` re-judging the record,
//! and refusals recorded.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};
use trailseal::rules::Rules;
use trailseal::storage::tamper;
use trailseal::{CreateOptions, Error, ErrorCode, Ledger, VerifyOptions};

fn sox() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/rules/sox.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ledger(dir: &tempfile::TempDir) -> (std::path::PathBuf, Ledger) {
    let path = dir.path().join("rules.redb");
    let l = Ledger::create(&path, &CreateOptions::new("example.com/rules")).unwrap();
    (path, l)
}

fn e(actor: &str, action: &str) -> Value {
    json!({"actor": {"id": actor}, "action": action, "subject": {"type": "service", "id": "payments"}})
}

fn allow() -> Value {
    json!({"decision": "allow", "policy": "sox-cm", "policy_version": "7"})
}

/// The class and requirement of a rule violation, with its version checked.
fn violation(r: trailseal::Result<trailseal::Receipt>, version: &str) -> (String, String) {
    match r {
        Err(Error::RuleViolation {
            class,
            requirement,
            version: v,
        }) => {
            assert_eq!(v, version, "{class}: {requirement}");
            (class, requirement)
        }
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

/// A request, its approval by the change board, and a deploy linking to the approval.
struct History {
    request: u64,
    approval: u64,
}

fn approved_request(l: &Ledger) -> History {
    let mut req = e("alice", "change.requested");
    req["attrs"] = json!({"ticket": "CHG-1"});
    let request = l.append(&req).unwrap().index;
    let mut ok = e("dana", "change.approved");
    ok["authz"] = allow();
    ok["links"] = json!([{"rel": "decides", "index": request}]);
    let approval = l.append(&ok).unwrap().index;
    History { request, approval }
}

fn deploy(actor: &str, h: &History) -> Value {
    let mut d = e(actor, "deploy.succeeded");
    d["authz"] = allow();
    d["change"] = json!({"before": "v1", "after": "v2"});
    d["links"] = json!([{"rel": "approved_by", "index": h.approval}]);
    d
}

#[test]
fn each_rule_broken_once_is_refused_by_name_and_allowed_after_the_rules_change() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let v1 = Rules::from_value(&sox()).unwrap();
    let r1 = l
        .publish_rules(&v1, "ciso", Some(&allow()), None)
        .unwrap()
        .index;
    let label1 = format!("sox-2026.1 (leaf {r1})");
    let h = approved_request(&l);
    let size = l.size().unwrap();

    // The breaks, one per rule, each with the class and requirement it names.
    let mut breaks: Vec<(Value, &str, &str)> = Vec::new();
    let mut no_ticket = e("bob", "change.requested");
    no_ticket["attrs"] = json!({"team": "payments"});
    breaks.push((no_ticket, "change-request", "requires field attrs.ticket"));
    breaks.push((
        deploy("alice", &h),
        "production-deploy",
        "allowed roles are release_manager",
    ));
    let mut no_before = deploy("carol", &h);
    no_before["change"] = json!({"after": "v2"});
    breaks.push((
        no_before,
        "production-deploy",
        "requires field change.before",
    ));
    let mut unapproved = deploy("carol", &h);
    unapproved["links"] = json!([{"rel": "approved_by", "index": h.request}]);
    breaks.push((unapproved, "production-deploy", "of action change.approved"));
    let mut glass = deploy("bob", &h);
    glass["authz"] = json!({"decision": "break_glass", "policy": "sox-cm", "reason": "outage"});
    breaks.push((glass, "production-deploy", "only sre may break glass"));
    let mut ai = e("bot:copilot", "ai.change.proposed");
    ai["attrs"] = json!({"model": "m-4", "input_digest": "sha256:aa"});
    ai["links"] = json!([{"rel": "approved_by", "index": h.approval}]);
    breaks.push((
        ai,
        "ai-assisted-change",
        "requires field attrs.output_digest",
    ));
    breaks.push((
        e("alice", "lunch.ordered"),
        "(no class)",
        "no class names action",
    ));
    for (entry, class, requirement) in &breaks {
        let (c, r) = violation(l.append(entry), &label1);
        assert_eq!(&c, class, "{r}");
        assert!(r.contains(requirement), "{class}: {r}");
    }
    // Nothing of a refused batch is written, and the error says which entry broke.
    let mut ok_request = e("bob", "change.requested");
    ok_request["attrs"] = json!({"ticket": "CHG-2"});
    let batch = [ok_request.clone(), breaks[1].0.clone()];
    let err = l.append_batch(&batch).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RuleViolation);
    assert!(err.to_string().contains("entry 1 of the batch"), "{err}");
    assert_eq!(
        l.size().unwrap(),
        size,
        "nothing of a refused batch is written"
    );
    // What the rules allow goes in: SRE break-glass needs no approval, but a reason.
    let mut sre = deploy("oncall-7", &h);
    sre["authz"] = json!({"decision": "break_glass", "policy": "sox-cm", "policy_version": "7", "reason": "outage"});
    sre["links"] = json!([]);
    l.append(&sre).unwrap();
    l.append(&deploy("carol", &h)).unwrap();

    // The rules change to allow every break; the same entries then go in.
    let mut doc2 = sox();
    doc2["version"] = "sox-2026.2".into();
    doc2["default"] = "allow".into();
    doc2["roles"]["release_manager"] = json!(["carol", "alice"]);
    doc2["roles"]["sre"] = json!(["sam", "oncall-*", "bob"]);
    for class in doc2["classes"].as_array_mut().unwrap() {
        class["require"] = json!([]);
        class["links"] = json!([]);
    }
    let v2 = Rules::from_value(&doc2).unwrap();
    let approved_by = json!([{"rel": "approved_by", "index": h.approval}]);
    let r2 = l
        .publish_rules(&v2, "ciso", Some(&allow()), Some(&approved_by))
        .unwrap()
        .index;
    for (entry, _, _) in &breaks {
        let at = l.append(entry).unwrap().index;
        assert!(at > r2);
        // Against the earlier version (a dry run), refused again by the same rule.
        let e = v1.check(entry).unwrap_err();
        assert_eq!(e.code(), ErrorCode::RuleViolation, "{e}");
    }
    assert_eq!(
        l.rules_at(Some(r2)).unwrap().unwrap().rules.version,
        "sox-2026.1"
    );
    assert_eq!(l.rules_at(Some(r2 + 1)).unwrap().unwrap().index, r2);
    assert!(l.rules_at(Some(r1)).unwrap().is_none());
    let versions = l.rules_versions().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].published_by, "ciso");
    assert_eq!(versions[1].rules.digest, v2.digest);
    // why and trace: action -> class -> rules version -> who published it, approved by whom.
    let glass_at = l.size().unwrap() - 3; // the bob break-glass of `breaks`, now allowed
    let why = l.why(glass_at).unwrap().to_json();
    assert_eq!(why["rules"]["class"], "production-deploy", "{why}");
    assert_eq!(why["rules"]["break_glass"], true);
    assert_eq!(why["rules"]["version"], "sox-2026.2");
    assert_eq!(why["rules"]["published_at"], r2);
    assert_eq!(why["rules"]["published_by"], "ciso");
    assert_eq!(why["rules"]["approvals"][0]["index"], h.approval);
    assert_eq!(why["rules"]["approvals"][0]["entry"]["actor"]["id"], "dana");
    let trace = l.trace(glass_at, false).unwrap().to_json();
    assert_eq!(trace["rules"], why["rules"]);
    assert_eq!(
        l.why(h.request).unwrap().to_json()["rules"]["class"],
        "change-request"
    );
    assert!(
        l.why(r1).unwrap().rules.is_none(),
        "nothing in force before the first"
    );
    l.verify(&VerifyOptions::default()).unwrap();
    // Reopened, the handle finds the versions again and enforces the newest.
    drop(l);
    let l = Ledger::open(dir.path().join("rules.redb")).unwrap();
    let mut nobody = e("mallory", "deploy.succeeded");
    nobody["authz"] = allow();
    let (c, _) = violation(l.append(&nobody), &format!("sox-2026.2 (leaf {r2})"));
    assert_eq!(c, "production-deploy");
}

#[test]
fn a_rules_entry_that_is_not_a_document_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let v1 = Rules::from_value(&sox()).unwrap();
    let mut entry = trailseal::rules::published_entry(&v1, "ciso", None, None);
    entry["payload"]["classes"][0]["roles"] = json!(["janitor"]);
    assert_eq!(l.append(&entry).unwrap_err().code(), ErrorCode::Malformed);
    let mut entry = trailseal::rules::published_entry(&v1, "ciso", None, None);
    entry["attrs"]["digest"] = "sha256:00".into();
    assert_eq!(
        l.append(&entry).unwrap_err().code(),
        ErrorCode::InvalidEntry
    );
    assert_eq!(l.size().unwrap(), 0);
    assert!(l.rules_versions().unwrap().is_empty());
}

#[test]
fn rules_published_while_others_append_judge_each_entry_by_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let doc = |version: &str, needs: &str| {
        Rules::from_value(&json!({"version": version, "classes": [
            {"name": "work", "action": "work.*", "require": [format!("attrs.{needs}")]}]}))
        .unwrap()
    };
    l.publish_rules(&doc("a", "a"), "ciso", None, None).unwrap();
    let l = Arc::new(l);
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (l, barrier) = (l.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let (mut accepted, mut refused) = (0, 0);
                for n in 0..60 {
                    // Half carry what version a needs, half what b needs.
                    let key = if (n + t) % 2 == 0 { "a" } else { "b" };
                    let mut w = e("worker", "work.done");
                    w["attrs"] = json!({ key: "1" });
                    let batch = vec![w; 1 + n % 3];
                    match l.append_batch(&batch) {
                        Ok(_) => accepted += 1,
                        Err(e) => {
                            assert_eq!(e.code(), ErrorCode::RuleViolation, "{e}");
                            refused += 1;
                        }
                    }
                }
                (accepted, refused)
            })
        })
        .collect();
    barrier.wait();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let switch = l
        .publish_rules(&doc("b", "b"), "ciso", None, None)
        .unwrap()
        .index;
    let mut refused = 0;
    for w in workers {
        refused += w.join().unwrap().1;
    }
    assert!(refused > 0);
    // Every stored entry carries what the version in force at its index needs.
    for i in 0..l.size().unwrap() {
        let entry = l.get(i).unwrap();
        if entry["action"] != "work.done" {
            continue;
        }
        let needs = if i > switch { "b" } else { "a" };
        assert!(
            entry["attrs"].get(needs).is_some(),
            "leaf {i} (switch at {switch})"
        );
    }
    l.verify(&VerifyOptions::default()).unwrap();
}

#[test]
fn verify_reports_an_entry_that_breaks_the_rules_in_force_and_a_dropped_version() {
    let dir = tempfile::tempdir().unwrap();
    let (path, l) = ledger(&dir);
    let rules = Rules::from_value(&json!({"version": "v1", "roles": {"rm": ["carol"]},
        "classes": [{"name": "deploys", "action": "deploy.*", "roles": ["rm"]}]}))
    .unwrap();
    let at = l.publish_rules(&rules, "ciso", None, None).unwrap().index;
    l.append(&e("carol", "deploy.succeeded")).unwrap();
    drop(l);
    // The version dropped from the rules table: the handle no longer sees it...
    tamper::edit(&path, |t| t.set_rules_version(at, None)).unwrap();
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(
        err.to_string().contains("rules table does not record"),
        "{err}"
    );
    // ... so an entry breaking it goes in; with the row restored, verify names it.
    l.append(&e("mallory", "deploy.succeeded")).unwrap();
    drop(l);
    tamper::edit(&path, |t| t.set_rules_version(at, Some(&rules.digest))).unwrap();
    let l = Ledger::open(&path).unwrap();
    let err = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Tampered, "{err}");
    assert!(err.to_string().contains("leaf 2"), "{err}");
    assert!(err.to_string().contains("mallory"), "{err}");
}

#[test]
fn refusals_are_recorded_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let rules =
        Rules::from_value(&json!({"version": "v1", "default": "refuse", "classes": []})).unwrap();
    l.publish_rules(&rules, "ciso", None, None).unwrap();
    assert!(l.append(&e("alice", "anything")).is_err());
    assert_eq!(l.size().unwrap(), 1, "off by default");
    l.set_record_refusals(true);
    let refused = e("alice", "anything");
    let err = l.append(&refused).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RuleViolation);
    assert_eq!(l.size().unwrap(), 2);
    let record = l.get(1).unwrap();
    assert_eq!(record["action"], "audit.refused");
    assert_eq!(record["actor"]["id"], "alice");
    assert_eq!(record["attrs"]["class"], "(no class)");
    assert_eq!(record["attrs"]["rules_version"], "v1 (leaf 0)");
    let digest = format!(
        "sha256:{}",
        trailseal::merkle::to_hex(&sha256(&trailseal::entry::canonical_json(&refused)))
    );
    assert_eq!(record["subject"]["id"], digest.as_str());
    // The record's receipt chain is sound.
    l.append(&e("alice", "rules.published").clone())
        .unwrap_err();
    l.verify(&VerifyOptions::default()).unwrap();
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[test]
fn the_delivery_report_measures_decisions_concentration_break_glass_and_ai_interventions() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let mut doc = sox();
    doc["default"] = "allow".into();
    l.publish_rules(&Rules::from_value(&doc).unwrap(), "ciso", None, None)
        .unwrap();
    let at = |mut e: Value, t: &str| {
        e["occurred_at"] = t.into();
        l.append(&e).unwrap().index
    };
    let h = approved_request(&l); // dana approves, no occurred_at: times are the ledger's
    let mut req = e("bob", "change.requested");
    req["attrs"] = json!({"ticket": "CHG-9"});
    let r = at(req, "2026-11-02T10:00:00Z");
    let mut ok = e("erin", "change.approved");
    ok["authz"] = allow();
    ok["links"] = json!([{"rel": "decides", "index": r}]);
    at(ok, "2026-11-02T11:00:00Z");
    // Break-glass by an SRE, in the deploy class.
    let mut sre = deploy("sam", &h);
    sre["authz"] = json!({"decision": "break_glass", "policy": "sox-cm", "policy_version": "7", "reason": "outage"});
    l.append(&sre).unwrap();
    // Two AI-made changes: one rejected by the change board.
    let ai = |n: &str| {
        let mut a = e("bot:copilot", "ai.change.proposed");
        a["attrs"] = json!({"model": "m-4", "input_digest": n, "output_digest": n});
        a["links"] = json!([{"rel": "approved_by", "index": h.approval}]);
        l.append(&a).unwrap().index
    };
    let first = ai("sha256:01");
    ai("sha256:02");
    let mut no = e("dana", "change.rejected");
    no["authz"] = allow();
    no["links"] =
        json!([{"rel": "decides", "index": h.request}, {"rel": "rejects", "index": first}]);
    l.append(&no).unwrap();
    let r = l.delivery_report(Some(0.6)).unwrap().to_json();
    assert_eq!(r["mean_time_to_decision"]["decided"], 2, "{r}");
    assert_eq!(
        r["approval_concentration"]["approvers"][0]["approver"],
        "dana"
    );
    assert_eq!(r["approval_concentration"]["approvers"][0]["share"], 0.5);
    assert_eq!(
        r["approval_concentration"]["approvers"][0]["flagged"],
        false
    );
    assert_eq!(
        r["break_glass_by_class"],
        json!([{"class": "production-deploy", "count": 1}])
    );
    assert_eq!(
        r["ai_intervention"],
        json!({"ai_outputs": 2, "intervened": 1, "rate": 0.5})
    );
    let weeks = r["requests_per_week"].as_array().unwrap();
    assert!(
        weeks
            .iter()
            .any(|w| w["week"] == "2026-W45" && w["requests"] == 1),
        "{r}"
    );
    let flagged = l.delivery_report(Some(0.4)).unwrap().to_json();
    assert_eq!(
        flagged["approval_concentration"]["approvers"][0]["flagged"],
        true
    );
}

#[test]
fn a_large_batch_is_judged_entry_by_entry_with_links_inside_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (_, l) = ledger(&dir);
    let rules = Rules::from_value(&json!({"version": "v1", "roles": {"boss": ["boss"]},
        "classes": [{"name": "deploys", "action": "deploy.*",
                     "links": [{"rel": "approved_by", "action": "ok.given", "role": "boss"}]}]}))
    .unwrap();
    l.publish_rules(&rules, "ciso", None, None).unwrap();
    // Both the two-thread path (batches of 64 and more) and the one-at-a-time path.
    for parallel in [true, false] {
        trailseal::ledger::PARALLEL_BATCHES.store(parallel, std::sync::atomic::Ordering::Relaxed);
        let base = l.size().unwrap();
        let batch = |approver: &str| {
            let mut v = vec![e(approver, "ok.given")];
            for _ in 0..69 {
                let mut d = e("dev", "deploy.succeeded");
                d["links"] = json!([{"rel": "approved_by", "index": base}]);
                v.push(d);
            }
            v
        };
        let err = l.append_batch(&batch("intern")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuleViolation, "{err}");
        assert!(err.to_string().contains("entry 1 of the batch"), "{err}");
        assert_eq!(l.size().unwrap(), base);
        let r = l.append_batch(&batch("boss")).unwrap();
        assert_eq!(r.len(), 70);
    }
    trailseal::ledger::PARALLEL_BATCHES.store(true, std::sync::atomic::Ordering::Relaxed);
    l.verify(&VerifyOptions::default()).unwrap();
}
