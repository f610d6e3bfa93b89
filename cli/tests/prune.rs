//! `prune` and `compact` as a records officer runs them, and `prune` killed with SIGKILL at
//! random moments: the ledger reopens with each step's removal and its record both there or
//! both absent, `verify` passes, and nothing not eligible was removed.

mod common;

use common::{ok, run, run_and_kill};

use std::path::Path;

use serde_json::{json, Value};
use trailseal::{Ledger, OpenOptions, RecordedBy, VerifyOptions};

const WHO: [&str; 6] = [
    "--actor",
    "records-officer",
    "--policy",
    "records-management",
    "--reason",
    "retention schedule",
];
/// Far past every retention the tests' rules give (the ledger stamps entries now).
/// Three years from now: builds (one year) have gone by then, deploys (seven) have not.
fn in_three_years() -> String {
    trailseal::retention::Period {
        years: 3,
        months: 0,
        days: 0,
    }
    .after(trailseal::Timestamp::now())
    .to_string()
}

fn with_who<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(WHO);
    v
}

fn entry(i: usize) -> Value {
    let action = if i % 10 == 9 {
        "deploy.succeeded"
    } else {
        "build.finished"
    };
    json!({"actor": {"id": "ci"}, "action": action,
           "subject": {"type": "build", "id": format!("{}", i % 13)}})
}

#[test]
fn prune_show_query_verify_and_compact_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("l.redb");
    let l = l.to_str().unwrap();
    ok(&["init", l, "--origin", "example.com/prune-cli"]);
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"{"version": "v1", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}"#,
    )
    .unwrap();
    ok(&with_who(&[
        "retention",
        "publish",
        l,
        rules.to_str().unwrap(),
    ]));
    let lines: String = (0..3000).map(|i| format!("{}\n", entry(i))).collect();
    assert_eq!(
        run(&["append", l, "-", "--batch", "1000"], Some(&lines)).0,
        0
    );
    // Seven and a half years on, the deploys' retention has passed too; two years on, not.
    let dry = ok(&with_who(&[
        "prune",
        l,
        "--before",
        "2029-01-01T00:00:00Z",
        "--dry-run",
    ]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["kept"]["in_retention"], 300, "{dry}");
    assert_eq!(dry["records"], json!([]));
    assert_eq!(ok(&["show", l, "5"])["action"], "build.finished");

    let r = ok(&with_who(&["prune", l, "--before", "2029-01-01T00:00:00Z"]));
    assert_eq!(r["count"], dry["count"], "{r}");
    let record = r["records"][0].as_u64().unwrap();
    assert_eq!(record, 3001);
    let shown = ok(&["show", l, "5"]);
    assert_eq!(shown["index"], 5);
    assert_eq!(shown["pruned"]["by"], record);
    assert_eq!(shown["pruned"]["rules_version"], "v1");
    assert!(shown["leaf_hash"].as_str().unwrap().len() == 64, "{shown}");
    assert!(shown.get("action").is_none(), "no stale content: {shown}");
    let (code, _, err) = run(&["show", l, "5", "--raw"], None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pruned on"), "{err}");
    assert_eq!(ok(&["show", l, "10"])["action"], "deploy.succeeded");
    let (code, out, _) = run(&["query", l, "--action", "build.finished", "--json"], None);
    assert_eq!(code, 0);
    assert!(out
        .lines()
        .all(|line| serde_json::from_str::<Value>(line).unwrap()["index"].as_u64() >= Some(2944)));
    let v = ok(&["verify", l, "--indexes"]);
    assert_eq!(v["ok"], true);
    let (code, _, err) = run(&["why", l, "5"], None);
    assert_ne!(code, 0, "{err}");
    // A bundle of a pruned entry proves its leaf hash and carries no content; changing that
    // hash is caught.
    let key = format!("{l}.key");
    let (code, vkey, err) = run(&["vkey", l], None);
    assert_eq!(code, 0, "{err}");
    let vkey = vkey.trim().to_owned();
    let bundle = dir.path().join("b.json");
    let b = bundle.to_str().unwrap();
    let (code, _, err) = run(
        &["bundle", l, "--indexes", "5,10", "--key", &key, "-o", b],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&bundle).unwrap();
    assert!(text.contains("\"pruned\": {"), "{text}");
    let v = ok(&["verify-bundle", b, "--vkey", &vkey, "--json"]);
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["entries"][0]["index"], 10);
    assert_eq!(v["pruned"][0]["index"], 5, "{v}");
    assert_eq!(v["pruned"][0]["pruned"]["by"], record);
    let (code, out, err) = run(&["verify-bundle", b, "--vkey", &vkey], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("#5 pruned: entry 5 was pruned on"), "{out}");
    let hash = shown["leaf_hash"].as_str().unwrap();
    let other = ok(&["show", l, "6"]);
    let other = other["leaf_hash"].as_str().unwrap();
    assert_ne!(hash, other);
    std::fs::write(&bundle, text.replace(hash, other)).unwrap();
    let (code, _, err) = run(&["verify-bundle", b, "--vkey", &vkey], None);
    assert_eq!(code, 1, "a changed leaf hash fails: {err}");

    let c = ok(&["compact", l]);
    assert_eq!(c["compacted"], true, "{c}");
    assert!(
        c["bytes_after"].as_u64() < c["bytes_before"].as_u64(),
        "{c}"
    );
    assert_eq!(ok(&["verify", l])["ok"], true);
    assert_eq!(ok(&["show", l, "5"])["pruned"]["by"], record);
}

/// A ledger of `n` entries (a tenth of them deploys, kept seven years) under rules v1, with a
/// hold on build 3.
fn big_ledger(path: &Path, n: usize) {
    let l = Ledger::create(
        path,
        &trailseal::CreateOptions::new("example.com/prune-crash"),
    )
    .unwrap();
    let authz = json!({"decision": "allow", "policy": "records-management"});
    let by = RecordedBy {
        actor: "records-officer",
        authz: &authz,
    };
    let rules = trailseal::retention::RetentionRules::from_json(
        &json!({"version": "v1", "default": "P1Y", "rules": [{"action": "deploy.*", "keep": "P7Y"}]}),
    )
    .unwrap();
    l.publish_retention_rules(&rules, &by).unwrap();
    l.place_hold("case-3", &json!({"subject": "build:3"}), &by)
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<Value> = chunk.iter().map(|&i| entry(i)).collect();
        l.append_batch(&batch).unwrap();
    }
}

#[test]
fn killed_prune_leaves_each_step_whole_or_absent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    // Three steps of 65,536 (a kill lands mid-step or between steps).
    big_ledger(&path, 150_000);
    let p = path.to_str().unwrap();
    let later = in_three_years();
    let mut seed = 0x5eed_u64;
    let mut kills = 0;
    for round in 0..6 {
        if run_and_kill(
            &with_who(&["prune", p, "--before", &later]),
            &mut seed,
            50,
            1500,
        ) {
            kills += 1;
        }
        let l = Ledger::open_with(&path, &OpenOptions::default()).unwrap();
        let report = l.verify(&VerifyOptions::default()).unwrap();
        // Nothing not eligible went: every deploy and every held build reads back.
        for i in (0..150_000usize).filter(|i| i % 10 == 9 || i % 13 == 3) {
            let e = l
                .get(i as u64 + 2)
                .unwrap_or_else(|e| panic!("round {round}: entry {} went: {e}", i + 2));
            assert_eq!(e["subject"]["id"], format!("{}", i % 13));
        }
        assert!(report.size >= 150_002, "round {round}");
    }
    assert!(kills > 0, "prune always finished before the kill");
    // A final prune completes what the kills interrupted.
    let r = ok(&with_who(&["prune", p, "--before", &later]));
    assert!(r["kept"]["at_edge"].as_u64().unwrap() < 64, "{r}");
    let l = Ledger::open(&path).unwrap();
    l.verify(&VerifyOptions::default().indexes(true)).unwrap();
    // Only what waited at the edge (the records moved it) is left to go.
    assert!(ok(&with_who(&["prune", p, "--before", &later]))["count"].as_u64() < Some(64));
}
