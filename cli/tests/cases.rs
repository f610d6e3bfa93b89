//! The shared case table (`tests/vectors/cases.json`, format in `tests/vectors/README.md`),
//! replayed through the `trailseal` command: every front end answers each row the same.
//!
//! The command's contract is its exit status, with a core error's code at the end of its
//! message (`... [malformed]`). A refusal of the command's own (a flag combination clap or the
//! command refuses) names no code; it must then exit with the status the expected code maps to
//! (2 for refused input, 1 for a failed check), which is all the command promises for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_trailseal");

/// Calls the command has no form for, with the reason: every row of them is skipped.
const SKIP_CALLS: &[(&str, &str)] = &[
    (
        "verify_cosigned",
        "no command checks a bare cosigned note: verify, verify-proof and verify-bundle check \
         cosignatures of the checkpoint they are given (tests/witness/check.sh)",
    ),
    (
        "verify_timestamp_token",
        "no command checks a bare token: verify-bundle --tsa-ca checks a bundle's \
         (cli/tests/timestamp.rs)",
    ),
];

/// Rows the command cannot express, each with the reason. Flags are typed and named, so a
/// misspelt or mistyped key is refused by the flag parser rather than by the core; a row whose
/// arguments cannot be written as flags and is not listed here fails the test.
const SKIP: &[(&str, &str)] = &[
    (
        "query: an unknown filter is refused",
        "filters are flags: a misspelt one is a clap error",
    ),
    (
        "query: a filter of the wrong type",
        "flags are text: there is no number to pass as --actor",
    ),
    (
        "query: an unknown order",
        "the order is the --oldest flag: there is no other to name",
    ),
    (
        "bundle: an unknown key",
        "selections are flags: a misspelt one is a clap error",
    ),
    (
        "bundle: an unknown query filter",
        "filters are flags: a misspelt one is a clap error",
    ),
    (
        "bundle: a negative index",
        "the command has no flag for a list of indexes",
    ),
    (
        "bundle: an index that is not a number",
        "--index is parsed by clap, not the core",
    ),
    (
        "open: read-only refuses an append",
        "append always opens for writing: no command appends through a read-only open",
    ),
    (
        "open: not durable, with a shared mode",
        "the command has no flag for non-durable appends",
    ),
    (
        "open: not durable holds the file alone by default",
        "the command has no flag for non-durable appends",
    ),
    (
        "open: not durable, with auto",
        "the command has no flag for non-durable appends",
    ),
];

/// The keys of an `open` row's result the command can report: it has no handle to ask for
/// its sharing mode, so the mode is checked by the rows that refuse one, and here the indexes.
const OPEN_REPORTS: &[&str] = &["indexes"];

fn table() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Fixture {
    dir: TempDir,
    entries: PathBuf,
    raw: PathBuf,
    key: PathBuf,
    files: std::cell::Cell<u32>,
    /// `init`'s flags for the fixture's origin and hash, for the new ledger of an `open` row.
    init_flags: Vec<String>,
    /// A file holding the fixture's first entry as a JSON line.
    first: String,
}

impl Fixture {
    /// A new file in the fixture's directory holding `bytes`.
    fn file(&self, bytes: &[u8]) -> String {
        let n = self.files.get() + 1;
        self.files.set(n);
        let p = self.dir.path().join(format!("arg-{n}"));
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn trailseal(args: &[String]) -> Run {
    let out = Command::new(BIN).args(args).output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn ok(args: &[String]) -> Run {
    let r = trailseal(args);
    assert_eq!(r.status, 0, "{args:?}: {}", r.stderr);
    r
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn fixture(t: &Value) -> Fixture {
    let f = &t["fixture"];
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signer.key");
    std::fs::write(&key, f["signer_key"].as_str().unwrap()).unwrap();
    // The command refuses a key file others can read.
    std::fs::set_permissions(&key, {
        let mut p = std::fs::metadata(&key).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o600);
        p
    })
    .unwrap();
    let entries = dir.path().join("entries.redb");
    let raw = dir.path().join("raw.redb");
    let mut fx = Fixture {
        entries: entries.clone(),
        raw: raw.clone(),
        key: key.clone(),
        dir,
        files: Default::default(),
        init_flags: vec![
            s("--origin"),
            s(f["origin"].as_str().unwrap()),
            s("--hash"),
            s(f["hash"].as_str().unwrap()),
        ],
        first: String::new(),
    };
    fx.first = fx.file(format!("{}\n", f["entries"][0]).as_bytes());
    for (ledger, extra) in [(&entries, None), (&raw, Some("--raw"))] {
        let mut args = vec![
            s("init"),
            ledger.display().to_string(),
            s("--origin"),
            s(f["origin"].as_str().unwrap()),
            s("--hash"),
            s(f["hash"].as_str().unwrap()),
            s("--key"),
            key.display().to_string(),
        ];
        args.extend(extra.map(s));
        ok(&args);
    }
    let lines: Vec<String> = f["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    let batch = fx.file(format!("{}\n", lines.join("\n")).as_bytes());
    ok(&[s("append"), entries.display().to_string(), batch]);
    let mut args = vec![s("append"), raw.display().to_string(), s("--raw")];
    for leaf in f["raw_leaves"].as_array().unwrap() {
        args.push(fx.file(leaf.as_str().unwrap().as_bytes()));
    }
    ok(&args);
    fx
}

/// A query's filters as flags; `None` when the JSON has no flag form.
fn filter_flags(filter: &Value) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (k, v) in filter.as_object()? {
        match (k.as_str(), v) {
            (
                "actor" | "via" | "action" | "subject" | "decision" | "policy" | "since" | "until"
                | "occurred_since" | "occurred_until" | "cursor",
                Value::String(x),
            ) => {
                out.extend([format!("--{}", k.replace('_', "-")), x.clone()]);
            }
            ("attrs", Value::Object(m)) => {
                for (ak, av) in m {
                    out.extend([s("--attr"), format!("{ak}={}", av.as_str()?)]);
                }
            }
            ("refs", Value::Array(refs)) => {
                for r in refs {
                    out.extend([s("--ref"), s(r.as_str()?)]);
                }
            }
            ("links_to", Value::Number(n)) => out.extend([s("--links-to"), s(n.as_u64()?)]),
            ("limit", Value::Number(n)) => out.extend([s("--limit"), s(n.as_u64()?)]),
            ("order", Value::String(o)) if o == "oldest" => out.push(s("--oldest")),
            ("order", Value::String(o)) if o == "newest" => {}
            _ => return None,
        }
    }
    Some(out)
}

/// A bundle selection as flags; `None` when the JSON has no flag form.
fn selection_flags(sel: &Value) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (k, v) in sel.as_object()? {
        match (k.as_str(), v) {
            ("subject", Value::String(x)) => out.extend([s("--subject"), x.clone()]),
            ("index", Value::Number(n)) => out.extend([s("--index"), s(n.as_u64()?)]),
            ("forward", Value::Bool(true)) => out.push(s("--forward")),
            ("forward", Value::Bool(false)) => {}
            ("depth", Value::Number(n)) => out.extend([s("--depth"), s(n.as_u64()?)]),
            ("ancestry", Value::Bool(true)) => out.push(s("--ancestry")),
            ("ancestry", Value::Bool(false)) => {}
            ("query", q) => out.extend(filter_flags(q)?),
            ("indexes", Value::Array(ix)) => {
                let ix: Option<Vec<String>> = ix.iter().map(|i| i.as_u64().map(s)).collect();
                out.extend([s("--indexes"), ix?.join(",")]);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The flags of a row's outside checkpoint, only the halves it gives.
fn outside_flags(fx: &Fixture, a: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(note) = a.get("checkpoint").and_then(Value::as_str) {
        out.extend([s("--checkpoint"), fx.file(note.as_bytes())]);
    }
    if let Some(vkey) = a.get("verifier_key").and_then(Value::as_str) {
        out.extend([s("--vkey"), s(vkey)]);
    }
    out
}

/// The command line of a row, and how to read its stdout into the result shape; `None` when
/// the row has no command-line form.
type Reader = fn(&str) -> Value;
/// A reader that may carry what a row's setup saw.
type BoxedReader = Box<dyn Fn(&str) -> Value>;

fn command(fx: &Fixture, call: &str, a: &Value) -> Option<(Vec<String>, Reader)> {
    let entries = fx.entries.display().to_string();
    let raw = fx.raw.display().to_string();
    Some(match call {
        "query" => {
            let mut args = vec![s("query"), entries, s("--json")];
            args.extend(filter_flags(&a["filter"])?);
            (args, |out| {
                let ix: Vec<Value> = out
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"].clone())
                    .collect();
                json!({ "indexes": ix })
            })
        }
        "bundle" => {
            let mut args = vec![
                s("bundle"),
                entries,
                s("--key"),
                fx.key.display().to_string(),
            ];
            args.extend(selection_flags(&a["selection"])?);
            args.extend([
                s("-o"),
                fx.dir.path().join("out.bundle").display().to_string(),
            ]);
            args.push(s("--json"));
            (args, |out| {
                let v: Value = serde_json::from_str(out).unwrap();
                json!({ "indexes": v["entries"] })
            })
        }
        "gate" => {
            let policy = fx.file(a["policy"].to_string().as_bytes());
            let subject = s(a["subject"].as_str()?);
            (
                vec![
                    s("gate"),
                    entries,
                    s("--subject"),
                    subject,
                    s("--policy"),
                    policy,
                    s("--json"),
                ],
                |out| {
                    let v: Value = serde_json::from_str(out).unwrap();
                    let missed: Vec<&Value> = v["requirements"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|r| r["met"] == json!(false))
                        .map(|r| &r["name"])
                        .collect();
                    json!({ "passed": v["passed"], "missed": missed })
                },
            )
        }
        "report" => {
            let mut args = vec![s("report"), entries, s("--json")];
            if let Some(since) = a.get("since").and_then(Value::as_str) {
                args.extend([s("--since"), s(since)]);
            }
            for action in a
                .get("change_actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                args.extend([s("--change-action"), s(action.as_str()?)]);
            }
            (args, |out| serde_json::from_str(out).unwrap())
        }
        "verify" => {
            let mut args = vec![s("verify"), raw];
            args.extend(outside_flags(fx, a));
            (args, |out| {
                let v: Value = serde_json::from_str(out).unwrap();
                json!({ "size": v["size"], "consistent_with_checkpoint": v["consistent_with_checkpoint"] })
            })
        }
        "verify_inclusion" | "verify_consistency" => {
            let kind = if call == "verify_inclusion" {
                "--inclusion"
            } else {
                "--consistency"
            };
            let mut args = vec![
                s("verify-proof"),
                s(kind),
                fx.file(a["proof"].to_string().as_bytes()),
            ];
            if let Some(leaf) = a.get("leaf").and_then(Value::as_str) {
                args.extend([s("--leaf"), fx.file(leaf.as_bytes())]);
            }
            args.extend(outside_flags(fx, a));
            (args, |_| json!({}))
        }
        "open" => open_command(fx, a)?,
        "rules_check" => (
            vec![
                s("rules"),
                s("check"),
                fx.file(a["document"].to_string().as_bytes()),
                fx.file(a["entry"].to_string().as_bytes()),
            ],
            |out| serde_json::from_str(out).unwrap(),
        ),
        "delivery_report" => {
            let mut args = vec![s("rules"), s("report"), entries];
            if let Some(t) = a.get("threshold") {
                args.extend([s("--threshold"), s(t)]);
            }
            (args, |out| serde_json::from_str(out).unwrap())
        }
        "check_opening" => (
            vec![
                s("verify-opening"),
                s(a["commitment"].as_str()?),
                s(a["salt"].as_str()?),
                a["value"].to_string(),
            ],
            |_| json!(null),
        ),
        other => panic!("unknown call {other:?} in the case table"),
    })
}

/// The command of any row, with a reader that may carry what its setup saw.
fn any_command(fx: &Fixture, call: &str, a: &Value) -> Option<(Vec<String>, BoxedReader)> {
    if call == "rules" {
        return rules_command(fx, a);
    }
    if call == "retention" {
        return retention_command(fx, a);
    }
    if call == "erase" {
        return erase_command(fx, a);
    }
    if call == "prune" {
        return prune_command(fx, a);
    }
    let (args, read) = command(fx, call, a)?;
    Some((args, Box::new(read)))
}

/// A `rules` row: `init`, `rules publish` and one `append` per entry (with
/// `--record-refusals` if the row asks), each append's index or error code kept; the row's
/// command is then `verify` (for the size) and `rules show` gives the version in force. A
/// document the command refuses makes `rules publish` the row's command.
fn rules_command(fx: &Fixture, a: &Value) -> Option<(Vec<String>, BoxedReader)> {
    fx.files.set(fx.files.get() + 1);
    let ledger = fx.dir.path().join(format!("rules-{}.redb", fx.files.get()));
    let ledger = ledger.display().to_string();
    let mut init = vec![s("init"), ledger.clone()];
    init.extend(fx.init_flags.iter().cloned());
    ok(&init);
    let publish = vec![
        s("rules"),
        s("publish"),
        ledger.clone(),
        fx.file(a["document"].to_string().as_bytes()),
        s("--actor"),
        s(a["publisher"].as_str()?),
    ];
    if trailseal(&publish).status != 0 {
        return Some((publish, Box::new(|_| json!(null))));
    }
    let mut results = Vec::new();
    for e in a["entries"].as_array()? {
        let mut args = vec![
            s("append"),
            ledger.clone(),
            fx.file(e.to_string().as_bytes()),
        ];
        if a["record_refusals"] == true {
            args.push(s("--record-refusals"));
        }
        let r = trailseal(&args);
        results.push(if r.status == 0 {
            serde_json::from_str::<Value>(&r.stdout).unwrap()["index"].clone()
        } else {
            json!(code_in(&r.stderr))
        });
    }
    let shown: Value =
        serde_json::from_str(&ok(&[s("rules"), s("show"), ledger.clone()]).stdout).unwrap();
    let version = shown["version"].clone();
    Some((
        vec![s("verify"), ledger],
        Box::new(move |out| {
            let v: Value = serde_json::from_str(out).unwrap();
            json!({ "results": results, "size": v["size"], "version": version })
        }),
    ))
}

/// An `open` row: a new ledger holding the fixture's first entry, then `--share MODE` on
/// `append` (which opens for writing) or on `query` (which opens read-only).
fn open_command(fx: &Fixture, a: &Value) -> Option<(Vec<String>, Reader)> {
    // Named after the argument files' counter, so each row has a ledger of its own.
    fx.files.set(fx.files.get() + 1);
    let ledger = fx.dir.path().join(format!("open-{}.redb", fx.files.get()));
    let ledger = ledger.display().to_string();
    let mut args = Vec::new();
    if let Some(mode) = a.get("share") {
        args.extend([s("--share"), s(mode.as_str()?)]);
    }
    let read_only = a.get("read_only") == Some(&json!(true));
    match (a["then"].as_str()?, read_only, a.get("durable")) {
        ("append", false, None) => args.extend([s("append"), ledger.clone(), fx.first.clone()]),
        ("query", true, None) => args.extend([s("query"), ledger.clone(), s("--json")]),
        _ => return None,
    }
    let mut init = vec![s("init"), ledger.clone()];
    init.extend(fx.init_flags.iter().cloned());
    ok(&init);
    ok(&[s("append"), ledger, fx.first.clone()]);
    // Receipts and query lines both carry the index.
    Some((args, |out| {
        let ix: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"].clone())
            .collect();
        json!({ "indexes": ix })
    }))
}

/// `--actor` and `--policy` of a row's `actor` and `authz` (the command records decision
/// allow).
fn recorded_by(a: &Value) -> Option<Vec<String>> {
    assert_eq!(
        a["authz"]["decision"], "allow",
        "the command records decision allow"
    );
    Some(vec![
        s("--actor"),
        s(a["actor"].as_str()?),
        s("--policy"),
        s(a["authz"]["policy"].as_str()?),
    ])
}

/// The setup of a `retention` or `prune` row: `init` (with `--committed-indexes` if the row
/// says), `retention publish` (if the row gives a document), one `append` per text of
/// `appends` (JSON Lines), then `hold place` / `hold release` in turn (the row's `authz` as
/// `--policy`). The ledger, and the first step the command refused, if any.
fn retention_setup(
    fx: &Fixture,
    a: &Value,
    name: &str,
    appends: &[String],
) -> Option<(String, Option<Vec<String>>)> {
    fx.files.set(fx.files.get() + 1);
    let ledger = fx
        .dir
        .path()
        .join(format!("{name}-{}.redb", fx.files.get()));
    let ledger = ledger.display().to_string();
    let mut init = vec![s("init"), ledger.clone()];
    init.extend(fx.init_flags.iter().cloned());
    if a["committed_indexes"] == true {
        init.push(s("--committed-indexes"));
    }
    ok(&init);
    let by = recorded_by(a)?;
    let mut steps: Vec<Vec<String>> = Vec::new();
    if let Some(doc) = a.get("document") {
        let mut publish = vec![
            s("retention"),
            s("publish"),
            ledger.clone(),
            fx.file(doc.to_string().as_bytes()),
        ];
        publish.extend(by.iter().cloned());
        steps.push(publish);
    }
    for lines in appends {
        steps.push(vec![s("append"), ledger.clone(), fx.file(lines.as_bytes())]);
    }
    for step in a["holds"].as_array().into_iter().flatten() {
        let mut args = match (step.get("place"), step.get("release")) {
            (Some(id), None) => vec![
                s("hold"),
                s("place"),
                ledger.clone(),
                s("--id"),
                s(id.as_str()?),
                s("--covers"),
                step["covers"].to_string(),
            ],
            (None, Some(id)) => vec![
                s("hold"),
                s("release"),
                ledger.clone(),
                s("--id"),
                s(id.as_str()?),
            ],
            _ => return None,
        };
        args.extend(by.iter().cloned());
        steps.push(args);
    }
    let failed = steps.into_iter().find(|step| trailseal(step).status != 0);
    Some((ledger, failed))
}

/// JSON Lines of `entries`, `copies` times over.
fn lines_of(entries: &Value, copies: u64) -> Option<String> {
    let mut lines = String::new();
    for _ in 0..copies {
        for e in entries.as_array()? {
            lines.push_str(&format!("{e}\n"));
        }
    }
    Some(lines)
}

/// A `retention` row: its setup (`retention_setup`, the entries in one `append`), then
/// `retention plan --at` as the row's command; `retention show` and `hold list` give the
/// version and the holds. The first step the command refuses becomes the row's command.
fn retention_command(fx: &Fixture, a: &Value) -> Option<(Vec<String>, BoxedReader)> {
    let (ledger, failed) = retention_setup(fx, a, "retention", &[lines_of(&a["entries"], 1)?])?;
    if let Some(step) = failed {
        return Some((step, Box::new(|_| json!(null))));
    }
    let shown: Value =
        serde_json::from_str(&ok(&[s("retention"), s("show"), ledger.clone()]).stdout).unwrap();
    let holds: Vec<Value> = ok(&[s("hold"), s("list"), ledger.clone()])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let version = shown["version"].clone();
    Some((
        vec![
            s("retention"),
            s("plan"),
            ledger,
            s("--at"),
            s(a["at"].as_str()?),
        ],
        Box::new(move |out| {
            let plan: Value = serde_json::from_str(out).unwrap();
            json!({ "version": version, "holds": holds, "plan": plan })
        }),
    ))
}

/// An `erase` row: `init --personal ...`, `append`, `hold place` for each hold, then the
/// row's command is `erase`; after it, `show` of each index to read and `verify` for the size.
fn erase_command(fx: &Fixture, a: &Value) -> Option<(Vec<String>, BoxedReader)> {
    fx.files.set(fx.files.get() + 1);
    let ledger = fx.dir.path().join(format!("erase-{}.redb", fx.files.get()));
    let ledger = ledger.display().to_string();
    let mut init = vec![s("init"), ledger.clone()];
    init.extend(fx.init_flags.iter().cloned());
    for p in a["personal"].as_array()? {
        init.extend([s("--personal"), s(p.as_str()?)]);
    }
    let lines: String = a["entries"]
        .as_array()?
        .iter()
        .map(|e| e.to_string() + "\n")
        .collect();
    let mut steps = vec![
        init,
        vec![s("append"), ledger.clone(), fx.file(lines.as_bytes())],
    ];
    let policy = s(a["authz"]["policy"].as_str()?);
    for h in a["holds"].as_array().into_iter().flatten() {
        steps.push(vec![
            s("hold"),
            s("place"),
            ledger.clone(),
            s("--id"),
            s(h["place"].as_str()?),
            s("--covers"),
            h["covers"].to_string(),
            s("--actor"),
            s(a["actor"].as_str()?),
            s("--policy"),
            policy.clone(),
        ]);
    }
    for step in steps {
        if trailseal(&step).status != 0 {
            return Some((step, Box::new(|_| json!(null))));
        }
    }
    let mut erase = vec![s("erase"), ledger.clone()];
    let select = a["select"].as_object()?;
    for (k, v) in select {
        match k.as_str() {
            "actor" => erase.extend([s("--actor"), s(v.as_str()?)]),
            "subject" => erase.extend([s("--subject"), s(v.as_str()?)]),
            "indexes" => erase.extend(v.as_array()?.iter().map(|i| i.to_string())),
            _ => return None,
        }
    }
    erase.extend([
        s("--reason"),
        s(a["reason"].as_str()?),
        s("--policy"),
        policy,
        s("--by"),
        s(a["actor"].as_str()?),
    ]);
    if let Some(b) = a.get("legal_basis") {
        erase.extend([s("--legal-basis"), s(b.as_str()?)]);
    }
    if a["dry_run"] == true {
        erase.push(s("--dry-run"));
    }
    let reads: Vec<u64> = a["read"]
        .as_array()?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    Some((
        erase,
        Box::new(move |out| {
            let mut report: Value = serde_json::from_str(out).unwrap();
            // The command adds whether it could compact the file afterwards.
            if let Some(o) = report.as_object_mut() {
                o.remove("compacted");
            }
            let reads: Vec<Value> = reads
                .iter()
                .map(|i| {
                    let e: Value = serde_json::from_str(
                        &ok(&[s("show"), ledger.clone(), i.to_string()]).stdout,
                    )
                    .unwrap();
                    erase_read(&e)
                })
                .collect();
            let size = serde_json::from_str::<Value>(&ok(&[s("verify"), ledger.clone()]).stdout)
                .unwrap()["size"]
                .clone();
            json!({"report": report, "reads": reads, "size": size})
        }),
    ))
}

/// A `prune` row: its setup (`retention_setup`: the entries `copies` times in one `append`,
/// then `then` in another), then `prune --before` (with `--dry-run`) as the row's command;
/// each index of `read` is then read with `show --raw`. The first step the command refuses
/// becomes the row's command.
fn prune_command(fx: &Fixture, a: &Value) -> Option<(Vec<String>, BoxedReader)> {
    let mut appends = vec![lines_of(&a["entries"], a["copies"].as_u64().unwrap_or(1))?];
    if a.get("then").is_some() {
        appends.push(lines_of(&a["then"], 1)?);
    }
    let (ledger, failed) = retention_setup(fx, a, "prune", &appends)?;
    if let Some(step) = failed {
        return Some((step, Box::new(|_| json!(null))));
    }
    let by = recorded_by(a)?;
    let mut prune = vec![
        s("prune"),
        ledger.clone(),
        s("--before"),
        s(a["at"].as_str()?),
    ];
    if a["dry_run"] == true {
        prune.push(s("--dry-run"));
    }
    prune.extend(by.iter().cloned());
    let read: Vec<u64> = a["read"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    Some((
        prune,
        Box::new(move |out| {
            let r: Value = serde_json::from_str(out).unwrap();
            let reads: Vec<Value> = read
                .iter()
                .map(|&i| {
                    let shown = trailseal(&[s("show"), ledger.clone(), s(i), s("--raw")]);
                    if shown.status == 0 {
                        let e: Value = serde_json::from_str(&shown.stdout).unwrap();
                        return json!({"index": i, "action": e["action"]});
                    }
                    let line = shown.stderr.trim_end().lines().last().unwrap_or_default();
                    let code = code_in(&shown.stderr).unwrap_or_default();
                    let message = line.strip_suffix(&format!(" [{code}]")).unwrap_or(line);
                    json!({"index": i, "error": code, "message": pruned_message(message)})
                })
                .collect();
            json!({"count": r["count"], "pruned": r["pruned"],
                   "records": r["records"].as_array().map_or(0, Vec::len),
                   "kept": r["kept"], "reads": reads})
        }),
    ))
}

/// A read error's message as a `prune` row gives it (tests/vectors/README.md).
#[path = "../../core/tests/common/erase_read.rs"]
mod erase_read;
use erase_read::erase_read;

#[path = "../../core/tests/common/pruned_message.rs"]
mod pruned_message;
use pruned_message::pruned_message;

/// The exit status the command gives for a core error code (the README's error table).
fn exit_status_of(code: &str) -> i32 {
    match code {
        "verification_failed" | "tampered" | "inconsistent" => 1,
        "not_found" | "not_a_ledger" | "locked" | "storage" | "io" | "internal" => 3,
        _ => 2,
    }
}

/// The code at the end of the command's message: `trailseal: ... [code]`.
fn code_in(stderr: &str) -> Option<&str> {
    let line = stderr.trim_end().lines().last()?;
    let code = line.strip_suffix(']')?.rsplit_once('[')?.1;
    code.chars()
        .all(|c| c.is_ascii_lowercase() || c == '_')
        .then_some(code)
}

#[test]
fn every_row_as_the_table_says() {
    let t = table();
    let fx = fixture(&t);
    let skip: BTreeMap<&str, &str> = SKIP.iter().copied().collect();
    let rows = t["cases"].as_array().unwrap();
    for name in skip.keys() {
        assert!(
            rows.iter().any(|r| r["name"] == *name),
            "SKIP names no row: {name}"
        );
    }
    let mut failed = Vec::new();
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let call = row["call"].as_str().unwrap();
        if skip.contains_key(name) || SKIP_CALLS.iter().any(|(c, _)| *c == call) {
            continue;
        }
        let Some((args, read)) = any_command(&fx, call, &row["args"]) else {
            failed.push(format!("{name}: no command-line form, and not in SKIP"));
            continue;
        };
        let r = trailseal(&args);
        // A failed gate prints its result and exits 1.
        let gate_result = call == "gate" && r.status == 1 && r.stdout.starts_with('{');
        let mut want = row["expect"].clone();
        if let (Some(ok), "open") = (want.get_mut("ok").and_then(Value::as_object_mut), call) {
            ok.retain(|k, _| OPEN_REPORTS.contains(&k.as_str()));
        }
        let got = if r.status == 0 || gate_result {
            json!({ "ok": read(&r.stdout) })
        } else {
            match code_in(&r.stderr) {
                Some(code) => json!({ "error": code }),
                None => match row["expect"]["error"].as_str() {
                    Some(want) if exit_status_of(want) == r.status => row["expect"].clone(),
                    _ => json!({ "exit": r.status, "stderr": r.stderr }),
                },
            }
        };
        if got != want {
            failed.push(format!("{name}: got {got}, want {want} ({args:?})"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
