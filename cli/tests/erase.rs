//! `init --personal`, `erase`, `scrub` and `openings` as a privacy officer runs them: values
//! shown as recorded, erased with the record saying why, gone from the file, every proof
//! intact; `erase` beside a process appending, and killed with SIGKILL at random moments.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ok, run, run_and_kill, BIN};
use serde_json::{json, Value};
use trailseal::{Ledger, VerifyOptions};

const ALICE: &str = "alice.cli@example.com";

fn erase_args<'a>(l: &'a str, what: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["erase", l];
    a.extend_from_slice(what);
    a.extend_from_slice(&[
        "--reason",
        "data subject request",
        "--policy",
        "gdpr-erasure",
        "--by",
        "privacy-officer",
        "--legal-basis",
        "GDPR Art. 17(1)(a)",
        "--request",
        "DSR-7",
    ]);
    a
}

fn lines(entries: &[Value]) -> String {
    entries.iter().map(|e| format!("{e}\n")).collect()
}

fn by(actor: &str, i: usize) -> Value {
    json!({"actor": {"id": actor}, "action": "access.granted",
           "subject": {"type": "role", "id": format!("r{i}")},
           "change": {"before": {"note": format!("{actor} secret {i}")}}})
}

/// How many entries `query --actor` finds.
fn hits(l: &str, actor: &str) -> usize {
    let (code, out, err) = run(
        &["query", l, "--actor", actor, "--limit", "1000", "--json"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    out.lines().count()
}

fn init(l: &str) -> Value {
    ok(&[
        "init",
        l,
        "--origin",
        "example.com/erase-cli",
        "--personal",
        "actor.id",
        "--personal",
        "change.before",
    ])
}

#[test]
fn erase_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = path.to_str().unwrap();
    assert_eq!(init(l)["personal"], json!(["actor.id", "change.before"]));
    let mut entries: Vec<Value> = (0..3).map(|i| by(ALICE, i)).collect();
    entries.extend((0..70).map(|i| by("bob", i)));
    let (code, _, err) = run(&["append", l], Some(&lines(&entries)));
    assert_eq!(code, 0, "{err}");

    // show gives the values; --raw the leaf, which holds commitments only.
    assert_eq!(ok(&["show", l, "1"])["actor"]["id"], ALICE);
    let (_, raw, _) = run(&["show", l, "1", "--raw"], None);
    assert!(!raw.contains(ALICE) && raw.contains("commitment:"), "{raw}");
    let kept = ok(&["openings", l, "1"]);
    assert_eq!(kept["actor.id"]["value"], ALICE);
    assert_eq!(hits(l, ALICE), 3);

    // Exports carry the commitments, never the values.
    let (code, followed, _) = run(&["follow", l, "--from", "0", "--count", "73"], None);
    assert_eq!(code, 0);
    assert_eq!(followed.lines().count(), 73);
    assert!(!followed.contains(ALICE) && followed.contains("commitment:"));
    let (code, ocsf, _) = run(
        &[
            "follow", l, "--from", "0", "--count", "3", "--format", "ocsf",
        ],
        None,
    );
    assert_eq!(code, 0);
    assert!(!ocsf.contains(ALICE) && !ocsf.contains("secret"), "{ocsf}");

    // A dry run changes nothing; the erasure records why and who.
    let dry = ok(&erase_args(l, &["--actor", ALICE, "--dry-run"]));
    assert_eq!(dry["erased"], json!([0, 1, 2]));
    assert_eq!(ok(&["show", l, "1"])["actor"]["id"], ALICE);
    let done = ok(&erase_args(l, &["--actor", ALICE]));
    assert_eq!(done["count"], 3);
    let record = done["records"][0].as_u64().unwrap();
    let r = ok(&["show", l, &record.to_string()]);
    assert_eq!(r["action"], "erasure.performed");
    assert_eq!(r["payload"]["legal_basis"], "GDPR Art. 17(1)(a)");
    assert_eq!(r["subject"]["id"], "DSR-7");
    let e = ok(&["show", l, "1"]);
    assert_eq!(e["erased"]["by"], record);
    assert_eq!(ok(&["openings", l, "1"]), Value::Null);
    assert_eq!(hits(l, ALICE), 0);
    // Nothing left to erase; no selection is a usage error.
    let (code, _, err) = run(&erase_args(l, &["--actor", ALICE]), None);
    assert_ne!(code, 0, "{err}");
    let (code, _, _) = run(&erase_args(l, &[]), None);
    assert_eq!(code, 2);
    ok(&["verify", l]);
    assert_eq!(ok(&["scrub", l])["scrubbed"], true);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(ALICE.len()).any(|w| w == ALICE.as_bytes()));
    assert!(!bytes.windows(13).any(|w| w == b"alice.cli@exa"));
    // Whoever kept the openings still shows what entry 1 recorded.
    let leaf: Value = serde_json::from_str(&run(&["show", l, "1", "--raw"], None).1).unwrap();
    let c = leaf["actor"]["id"].as_str().unwrap();
    trailseal::entry::check_opening(
        c,
        kept["actor.id"]["salt"].as_str().unwrap(),
        &kept["actor.id"]["value"],
    )
    .unwrap();
}

#[test]
fn erase_beside_an_appending_process_and_killed_at_random() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = path.to_str().unwrap();
    init(l);
    // Many subjects' entries, so each erasure has work to do.
    let people: Vec<String> = (0..8).map(|p| format!("person-{p}@example.com")).collect();
    let entries: Vec<Value> = (0..4000).map(|i| by(&people[i % 8], i)).collect();
    let (code, _, err) = run(&["append", l], Some(&lines(&entries)));
    assert_eq!(code, 0, "{err}");
    // A second process appends throughout.
    let more: Vec<Value> = (0..3000).map(|i| by("carol", i)).collect();
    let mut appender = Command::new(BIN)
        .args(["append", l])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = appender.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        for e in more {
            if writeln!(input, "{e}").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let mut seed = 0x5eed_u64;
    let mut kills = 0;
    for person in &people[..6] {
        let args = erase_args(l, &["--actor", person]);
        if run_and_kill(&args, &mut seed, 5, 120) {
            kills += 1;
        }
        // Whole or absent: the person's entries are all erased or all readable. (Opened
        // writable: after a kill mid-commit the file needs redb's repair, which a read-only
        // handle, as `query` opens, cannot make.)
        let n = {
            let ledger = Ledger::open_with(&path, &trailseal::OpenOptions::default()).unwrap();
            let q = trailseal::query::Query {
                actor: Some(person.clone()),
                limit: 1000,
                ..Default::default()
            };
            ledger.query(&q).unwrap().entries.len()
        };
        assert!(n == 0 || n == 500, "{person}: {n} of 500 left");
        if n == 500 {
            let done = ok(&args);
            assert_eq!(done["count"], 500);
        }
    }
    feeder.join().unwrap();
    let out = appender.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(kills > 0, "erase always finished before the kill");
    let ledger = Ledger::open(&path).unwrap();
    ledger
        .verify(&VerifyOptions::default().indexes(true))
        .unwrap();
    assert_eq!(ledger.size().unwrap(), 7000 + 6);
    // The two people not erased keep their values; carol's entries all arrived.
    assert_eq!(ledger.get(6).unwrap()["actor"]["id"], people[6]);
    drop(ledger);
    ok(&["scrub", l]);
    let bytes = std::fs::read(&path).unwrap();
    for p in &people[..6] {
        assert!(!bytes.windows(p.len()).any(|w| w == p.as_bytes()), "{p}");
    }
    assert!(bytes
        .windows(people[7].len())
        .any(|w| w == people[7].as_bytes()));
}
