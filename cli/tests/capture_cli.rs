//! The capture commands on real inputs (issue 24, finding 12): messages and pipes. Inputs are
//! under `tests/capture/real/` (see `tests/capture/README.md` for their sources).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn real(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/capture/real")
        .join(dir)
        .join(name)
}

fn trailseal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A ledger in `dir` holding the real SLSA provenance and classic links of `real/intoto/`.
fn ledger_with_provenance(dir: &Path) -> String {
    let l = dir.join("audit.redb").to_str().unwrap().to_owned();
    let init = trailseal(&["init", &l, "--origin", "example.com/capture-cli"]);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));
    for f in [
        "gha_maven__v2.1.0__binary-linux-amd64-push-v14.build.slsa",
        "gha_container-based__v2.1.0__binary-linux-amd64-push-v14.intoto.build.slsa",
        "vi_gha__testdata__npm-attestations.intoto.sigstore",
        "write-code.b7d643de.link",
        "package.d3ffd108.link",
    ] {
        let p = real("intoto", f);
        let out = trailseal(&["import", &l, "--format", "intoto", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text(&out.stderr));
    }
    l
}

#[test]
fn two_events_under_one_id_are_named_by_position_not_by_a_phantom_index() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("audit.redb");
    let l = l.to_str().unwrap();
    assert_eq!(
        trailseal(&["init", l, "--origin", "example.com/capture-cli"])
            .status
            .code(),
        Some(0)
    );
    // The CDEvents conformance files all use one context.id: two of them as JSON Lines.
    let mut lines = String::new();
    for f in [
        "conformance_artifact_packaged.json",
        "conformance_pipelinerun_finished.json",
    ] {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(real("cdevents", f)).unwrap()).unwrap();
        lines.push_str(&format!("{v}\n"));
    }
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, lines).unwrap();
    let out = trailseal(&["import", l, "--format", "cdevents", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("event 2 of 2") && err.contains("event 1"),
        "{err}"
    );
    assert!(!err.contains("already recorded at index"), "{err}");
    let all = trailseal(&["query", l, "--json"]);
    assert_eq!(all.status.code(), Some(0));
    assert!(
        all.stdout.is_empty(),
        "nothing written: {}",
        text(&all.stdout)
    );
}

#[test]
fn a_closed_pipe_is_a_normal_end() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger_with_provenance(dir.path());
    for args in [
        vec!["trace", l.as_str(), "0", "--forward"],
        vec!["query", l.as_str(), "--oldest"],
        vec!["query", l.as_str(), "--json"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trailseal"))
            .args(&args)
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written, as `| head -0` would.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: quietly, not {err:?}");
    }
}

#[test]
fn long_actor_ids_keep_the_query_table_in_columns() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger_with_provenance(dir.path());
    let out = trailseal(&["query", &l, "--oldest"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows.len() >= 6, "{table}");
    // Every row's ACTION column starts where the header's does, builder URLs or not.
    let at = rows[0].find("ACTION").unwrap();
    for r in &rows[1..] {
        let col: String = r.chars().skip(at).take(7).collect();
        assert!(col.starts_with("intoto."), "misaligned: {r}\n{table}");
    }
    assert!(table.contains('…'), "long ids are cut visibly");
}

/// Finding 8, in part: trace shows when the source says a thing happened beside the ledger's
/// own time, labelled, never in its place.
#[test]
fn trace_shows_occurred_at_beside_the_ledgers_time() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger_with_provenance(dir.path());
    let out = trailseal(&["trace", &l, "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let first = text(&out.stdout).lines().next().unwrap().to_owned();
    assert!(first.starts_with("#0 intoto.provenance "), "{first}");
    assert!(first.contains(" at 20"), "the ledger's time: {first}");
    assert!(first.contains("(occurred 2025-02-25T21:12:21Z)"), "{first}");
}
