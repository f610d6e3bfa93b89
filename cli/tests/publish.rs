//! `trailseal publish` and `monitor` on directories, as a shell user runs them: publish,
//! publish again (only what is new), monitor incrementally and in full, and the exit status
//! and message of each failure monitor exists to catch (a changed entry, a rollback, a fork)
//! and of each refusal of publish (a BLAKE3 ledger). Tessera's readers and a real S3 server
//! are held to the same output in tests/publish/*.sh.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Exit status and stderr of a command that must fail.
fn fails(args: &[&str]) -> (i32, String) {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn init(dir: &Path, name: &str, origin: &str, hash: &str) -> String {
    let l = dir.join(name);
    let l = l.to_str().unwrap().to_owned();
    ok(&["init", &l, "--origin", origin, "--hash", hash]);
    l
}

fn append(l: &str, from: u64, n: u64) {
    let lines: String = (from..from + n)
        .map(|i| format!("{{\"actor\":{{\"id\":\"u{i}\"}},\"action\":\"x.y\",\"subject\":{{\"type\":\"t\",\"id\":\"s{i}\"}}}}\n"))
        .collect();
    let file = format!("{l}.in");
    std::fs::write(&file, lines).unwrap();
    assert!(run(&["append", l, &file]).status.success());
}

#[test]
fn publish_then_monitor_catches_changes_rollbacks_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let l = init(d, "l.redb", "example.com/cli-publish", "sha256");
    let vkey = String::from_utf8(run(&["vkey", &l]).stdout).unwrap();
    let vkey = vkey.trim();
    let pub_dir = d.join("pub");
    let p = pub_dir.to_str().unwrap();
    let state = d.join("state.json");
    let st = state.to_str().unwrap();
    let monitor = |extra: &[&str]| {
        let mut a = vec!["monitor", p, "--vkey", vkey, "--state", st];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };

    append(&l, 0, 300);
    assert_eq!(ok(&["publish", &l, p])["size"], 300);
    assert_eq!(ok(&strs(&monitor(&[])))["entries_checked"], 300);
    let old_checkpoint = std::fs::read(pub_dir.join("checkpoint")).unwrap();
    append(&l, 300, 20);
    let r = ok(&["publish", &l, p]);
    assert_eq!(
        (r["from"].as_u64(), r["size"].as_u64()),
        (Some(300), Some(320))
    );
    let m = ok(&strs(&monitor(&[])));
    assert_eq!(
        (m["previous"].as_u64(), m["entries_checked"].as_u64()),
        (Some(300), Some(20))
    );

    // A changed entry in a full bundle: the incremental run does not read it, --full does.
    let bundle = pub_dir.join("tile/entries/000");
    let original = std::fs::read(&bundle).unwrap();
    let mut changed = original.clone();
    let at = changed.iter().position(|&b| b == b'u').unwrap();
    changed[at] = b'v';
    std::fs::write(&bundle, &changed).unwrap();
    ok(&strs(&monitor(&[])));
    let (code, err) = fails(&strs(&monitor(&["--full"])));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tile/0/000"), "{err}");
    std::fs::write(&bundle, &original).unwrap();
    ok(&strs(&monitor(&["--full"])));

    // A rolled-back checkpoint: exit 1, and the state file keeps the size seen.
    let current = std::fs::read(pub_dir.join("checkpoint")).unwrap();
    std::fs::write(pub_dir.join("checkpoint"), &old_checkpoint).unwrap();
    let (code, err) = fails(&strs(&monitor(&[])));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("rollback"), "{err}");
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept["size"], 320);
    std::fs::write(pub_dir.join("checkpoint"), &current).unwrap();

    // A fork: the same origin and key, another history, published over the same place.
    let key = format!("{l}.key");
    let f = d.join("fork.redb");
    let f = f.to_str().unwrap();
    ok(&[
        "init",
        f,
        "--origin",
        "example.com/cli-publish",
        "--key",
        &key,
    ]);
    append(f, 1000, 330);
    let forked = d.join("forked");
    ok(&["publish", f, forked.to_str().unwrap(), "--key", &key]);
    let (code, err) = fails(&[
        "monitor",
        forked.to_str().unwrap(),
        "--vkey",
        vkey,
        "--state",
        st,
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fork"), "{err}");

    // A checkpoint under another key is refused before anything else.
    let other = init(d, "other.redb", "example.com/cli-publish", "sha256");
    let other_vkey = String::from_utf8(run(&["vkey", &other]).stdout).unwrap();
    let (code, _) = fails(&["monitor", p, "--vkey", other_vkey.trim(), "--state", st]);
    assert_eq!(code, 1);

    // BLAKE3 ledgers cannot be published as tlog-tiles: refused as usage (exit 2).
    let b = init(d, "b3.redb", "example.com/cli-b3", "blake3");
    append(&b, 0, 3);
    let (code, err) = fails(&["publish", &b, d.join("b3pub").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SHA-256"), "{err}");
}

/// `bundle` from a published log: the entry at an index with its proof against the published
/// checkpoint, checked by `verify-bundle` with the verifier key alone, byte for byte the entry
/// the ledger holds; an entry bundle changed in the published log is refused, and so are
/// selections a published log cannot answer.
#[test]
fn bundle_from_a_published_log() {
    let dir = tempfile::tempdir().unwrap();
    let l = init(
        dir.path(),
        "b.redb",
        "example.com/published-bundle",
        "sha256",
    );
    append(&l, 0, 300);
    let dest = dir.path().join("pub");
    let dest = dest.to_str().unwrap();
    ok(&["publish", &l, dest]);
    let vkey = String::from_utf8(run(&["vkey", &l]).stdout).unwrap();
    let vkey = vkey.trim();
    for index in ["3", "299"] {
        let out = dir.path().join(format!("b{index}.json"));
        let out = out.to_str().unwrap();
        ok(&[
            "bundle", dest, "--index", index, "--vkey", vkey, "-o", out, "--json",
        ]);
        let report = ok(&["verify-bundle", out, "--vkey", vkey, "--json"]);
        let shown: Value = serde_json::from_slice(&run(&["show", &l, index]).stdout).unwrap();
        assert_eq!(report["entries"][0]["entry"], shown, "entry {index}");
        assert_eq!(report["tree_size"], 300);
    }
    let (code, err) = fails(&["bundle", dest, "--index", "300", "--vkey", vkey, "-o", "-"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = fails(&[
        "bundle",
        dest,
        "--subject",
        "t:s1",
        "--vkey",
        vkey,
        "-o",
        "-",
    ]);
    assert_eq!(code, 2, "{err}");
    let (code, _) = fails(&["bundle", dest, "--index", "3", "-o", "-"]);
    assert_eq!(code, 2);
    // One byte of the first entry bundle changed (an entry's text, not its framing).
    let bundle = dir.path().join("pub/tile/entries/000");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.iter().position(|&b| b == b'u').unwrap();
    bytes[at] = b'v';
    std::fs::write(&bundle, bytes).unwrap();
    let (code, err) = fails(&["bundle", dest, "--index", "0", "--vkey", vkey, "-o", "-"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("do not hash to the signed root"), "{err}");
}
