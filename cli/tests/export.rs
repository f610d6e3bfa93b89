//! `trailseal follow --format ocsf` and `trailseal export parquet` from the command line.
//!
//! A followed OCSF import prints the original event back, a native entry an API Activity
//! event; a raw ledger is refused before anything is printed. An export prints what it wrote,
//! a rerun writes nothing new, another ledger under an origin the destination holds is refused
//! as inconsistent (exit 1), a raw ledger as wrong input (exit 2); the ledger file is not
//! changed by either.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use trailseal::{CreateOptions, Ledger};

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");

fn run(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// The exit status and stderr of a run that is meant to fail.
fn failing(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = run(args);
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ledger of one raw leaf.
fn raw_ledger(dir: &Path) -> PathBuf {
    let path = dir.join("raw.redb");
    let l = Ledger::create(&path, &CreateOptions::new("example.com/raw").raw()).unwrap();
    l.append_raw(b"opaque").unwrap();
    path
}

fn ok_stdout(args: &[&std::ffi::OsStr]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

fn ocsf_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/capture/ocsf/api_activity_cloudtrail_1.1.0.json")
}

#[test]
fn follow_prints_ocsf_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.redb");
    let l = Ledger::create(&path, &CreateOptions::new("example.com/cli-ocsf")).unwrap();
    let fixture = ocsf_fixture();
    trailseal::capture::formats::import(
        &l,
        trailseal::capture::formats::Format::Ocsf,
        &std::fs::read(&fixture).unwrap(),
    )
    .unwrap();
    l.append(&json!({"actor": {"id": "alice"}, "action": "secret.read",
                     "subject": {"type": "secret", "id": "db-password"}}))
        .unwrap();
    drop(l);
    let before = std::fs::read(&path).unwrap();

    let out = ok_stdout(&[
        os("follow"),
        os(&path),
        os("--from"),
        os("0"),
        os("--until-size"),
        os("2"),
        os("--format"),
        os("ocsf"),
    ]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let original: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let mut first = lines[0].clone();
    assert_eq!(first["unmapped"]["trailseal"]["index"], 0);
    first["unmapped"]
        .as_object_mut()
        .unwrap()
        .remove("trailseal");
    if first["unmapped"].as_object().unwrap().is_empty() && original.get("unmapped").is_none() {
        first.as_object_mut().unwrap().remove("unmapped");
    }
    assert_eq!(first, original);
    let second = &lines[1];
    assert_eq!(second["class_uid"], 6003);
    assert_eq!(second["activity_id"], 2);
    assert_eq!(second["actor"]["user"]["uid"], "alice");
    assert_eq!(second["resources"][0]["uid"], "db-password");
    assert_eq!(
        second["unmapped"]["trailseal"]["origin"],
        "example.com/cli-ocsf"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "follow changed the file"
    );

    // The default stays {"index", "entry"}.
    let out = ok_stdout(&[
        os("follow"),
        os(&path),
        os("--from"),
        os("1"),
        os("--count"),
        os("1"),
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["index"], 1);
    assert_eq!(v["entry"]["actor"]["id"], "alice");
}

#[test]
fn follow_refuses_ocsf_for_raw_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let path = raw_ledger(dir.path());
    let flags = ["--from", "0", "--format", "ocsf"].map(os);
    let (code, err) = failing(&[&[os("follow"), os(&path)][..], &flags].concat());
    assert_eq!(code, Some(2));
    assert!(err.contains("raw leaves"), "{err}");
}

#[test]
fn export_parquet_reports_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let a = dir.path().join("a.redb");
    let l = Ledger::create(&a, &CreateOptions::new("example.com/cli-export")).unwrap();
    for i in 0..5 {
        l.append(
            &json!({"actor": {"id": format!("u{i}")}, "action": "deploy.succeeded",
                         "subject": {"type": "service", "id": "api"}}),
        )
        .unwrap();
    }
    drop(l);
    let before = std::fs::read(&a).unwrap();

    let report: Value = serde_json::from_str(&ok_stdout(&[
        os("export"),
        os("parquet"),
        os(&a),
        os(&lake),
    ]))
    .unwrap();
    assert_eq!(report["from"], 0);
    assert_eq!(report["to"], 5);
    assert_eq!(report["rows"], 5);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let file = Path::new(files[0].as_str().unwrap());
    assert!(file.exists());
    assert!(file
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("date="));
    assert_eq!(
        std::fs::read(&a).unwrap(),
        before,
        "export changed the ledger"
    );

    let again: Value = serde_json::from_str(&ok_stdout(&[
        os("export"),
        os("parquet"),
        os(&a),
        os(&lake),
    ]))
    .unwrap();
    assert_eq!(
        (again["from"].as_u64(), again["rows"].as_u64()),
        (Some(5), Some(0))
    );

    // Another ledger with the same origin: inconsistent with what the lake holds.
    let b = dir.path().join("b.redb");
    let l = Ledger::create(&b, &CreateOptions::new("example.com/cli-export")).unwrap();
    l.append(
        &json!({"actor": {"id": "mallory"}, "action": "deploy.succeeded",
                     "subject": {"type": "service", "id": "api"}}),
    )
    .unwrap();
    drop(l);
    let (code, err) = failing(&[os("export"), os("parquet"), os(&b), os(&lake)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("same origin"), "{err}");

    let zero = ["--file-rows", "0"].map(os);
    let (code, _) =
        failing(&[&[os("export"), os("parquet"), os(&a), os(&lake)][..], &zero].concat());
    assert_eq!(code, Some(2));

    let raw = raw_ledger(dir.path());
    let (code, err) = failing(&[os("export"), os("parquet"), os(&raw), os(&lake)]);
    assert_eq!(code, Some(2), "{err}");
}
