//! `retention` and `hold` as a records officer runs them: rules recorded and shown, a hold
//! placed, listed and released, the plan asked years ahead, and bad input refused (exit 2).

mod common;

use common::{ok, run};
use serde_json::Value;

#[test]
fn rules_holds_and_the_plan_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("l.redb");
    let l = l.to_str().unwrap();
    ok(&["init", l, "--origin", "example.com/ret-cli"]);
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"version": "sox-2026", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}"#,
    )
    .unwrap();
    let who = [
        "--actor",
        "records-officer",
        "--policy",
        "records-management",
        "--reason",
        "SOX 802",
    ];
    let mut publish = vec!["retention", "publish", l, rules.to_str().unwrap()];
    publish.extend(who);
    assert_eq!(ok(&publish)["index"], 0);
    let lines = "{\"actor\":{\"id\":\"ci\"},\"action\":\"deploy.succeeded\",\"subject\":{\"type\":\"service\",\"id\":\"api\"}}\n\
                 {\"actor\":{\"id\":\"ci\"},\"action\":\"build.finished\",\"subject\":{\"type\":\"build\",\"id\":\"1\"}}\n";
    assert_eq!(run(&["append", l], Some(lines)).0, 0);
    let shown = ok(&["retention", "show", l]);
    assert_eq!(
        (shown["version"].as_str(), shown["index"].as_u64()),
        (Some("sox-2026"), Some(0))
    );
    assert_eq!(ok(&["retention", "show", l, "--at", "0"]), Value::Null);

    let plan = ok(&["retention", "plan", l, "--at", "2100-01-01T00:00:00Z"]);
    assert_eq!(plan["eligible"], serde_json::json!([[1, 3]]), "{plan}");
    let plan = ok(&["retention", "plan", l]);
    assert_eq!(plan["counts"]["in_retention"], 2, "{plan}");

    let mut place = vec![
        "hold",
        "place",
        l,
        "--id",
        "case-7",
        "--subject",
        "service:api",
    ];
    place.extend(who);
    ok(&place);
    let holds = ok(&["hold", "list", l]);
    assert_eq!(
        (holds["id"].as_str(), holds["released"].as_str()),
        (Some("case-7"), None)
    );
    let plan = ok(&["retention", "plan", l, "--at", "2100-01-01T00:00:00Z"]);
    assert_eq!(
        (plan["counts"]["held"].as_u64(), plan["eligible"].clone()),
        (Some(1), serde_json::json!([[2, 3]]))
    );
    let mut release = vec!["hold", "release", l, "--id", "case-7"];
    release.extend(who);
    ok(&release);
    let (code, _, err) = run(&release, None);
    assert_eq!(code, 2, "{err}");

    // Refused, nothing written: a document that is not rules, a hold naming nothing, a plan
    // at a time that is not one.
    std::fs::write(
        &rules,
        r#"{"version": "x", "rules": [{"action": "deploy.*", "keep": "seven years"}]}"#,
    )
    .unwrap();
    let (code, _, err) = run(&publish, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("rules.json"), "{err}");
    let mut empty = vec!["hold", "place", l, "--id", "h", "--covers", "{}"];
    empty.extend(who);
    assert_eq!(run(&empty, None).0, 2);
    assert_eq!(
        run(&["retention", "plan", l, "--at", "tomorrow"], None).0,
        2
    );
    assert_eq!(ok(&["verify", l])["size"], 5);
}
