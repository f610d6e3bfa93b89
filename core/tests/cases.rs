//! The shared case table (`tests/vectors/cases.json`), replayed against the core itself.
//!
//! Every front end replays the same table (the CLI, Python, Node, C and Go runners), so a
//! row that passes here and fails there is a binding that grew logic of its own. The rows of
//! the proof calls (`verify_inclusion`, `verify_consistency`, `verify`) carry literal proofs
//! and signed notes over the raw fixture; they are made by this file's generator:
//!
//! ```sh
//! TRAILSEAL_REGEN_CASES=1 cargo test -p trailseal --test cases regen -- --ignored
//! ```
//!
//! which rewrites those rows (and the fixture's signer key) and keeps every other row as it
//! is. The expectations it writes are stated below, not read back from the core, so the
//! replay still tests them.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use trailseal::query::Query;
use trailseal::report::ReportOptions;
use trailseal::retention::RetentionRules;
use trailseal::rules::Rules;
use trailseal::witness::verify_cosigned;
use trailseal::{
    check_consistency, check_inclusion, verify_timestamp_token, CreateOptions, Durability,
    EraseOptions, EraseSelect, Error, GatePolicy, HashAlg, Ledger, OpenOptions, Outside,
    RecordedBy, Selection, Signer, Timestamp, Verifier, VerifyOptions, WitnessPolicy,
};

fn table_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/cases.json")
}

fn table() -> Value {
    let text = std::fs::read_to_string(table_path()).expect("tests/vectors/cases.json");
    serde_json::from_str(&text).expect("the case table is JSON")
}

/// The two ledgers every front end builds from the table's fixture.
struct Fixture {
    dir: tempfile::TempDir,
    entries: Ledger,
    raw: Ledger,
    signer: Signer,
    /// What an `open` row's new ledger is created with: these options and the first entry.
    create: CreateOptions,
    first: Value,
    opened: std::cell::Cell<u32>,
}

fn fixture(t: &Value) -> Fixture {
    let f = &t["fixture"];
    let dir = tempfile::tempdir().unwrap();
    let opts = || {
        CreateOptions::new(f["origin"].as_str().unwrap())
            .hash(f["hash"].as_str().unwrap().parse::<HashAlg>().unwrap())
    };
    let entries = Ledger::create(dir.path().join("entries.redb"), &opts()).unwrap();
    entries
        .append_batch(f["entries"].as_array().unwrap())
        .unwrap();
    let raw = Ledger::create(dir.path().join("raw.redb"), &opts().raw()).unwrap();
    let leaves: Vec<&[u8]> = f["raw_leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().as_bytes())
        .collect();
    raw.append_raw_batch(&leaves).unwrap();
    Fixture {
        dir,
        entries,
        raw,
        signer: Signer::from_key_string(f["signer_key"].as_str().unwrap()).unwrap(),
        create: opts(),
        first: f["entries"][0].clone(),
        opened: Default::default(),
    }
}

fn opt_str<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

/// One row's call, as its result shape (see tests/vectors/README.md).
fn run(fx: &Fixture, call: &str, args: &Value) -> Result<Value, Error> {
    match call {
        "query" => {
            let page = fx.entries.query(&Query::from_json(&args["filter"])?)?;
            let ix: Vec<u64> = page.entries.iter().map(|f| f.index).collect();
            Ok(json!({ "indexes": ix }))
        }
        "bundle" => {
            let selection = Selection::from_json(&args["selection"])?;
            let b = fx.entries.bundle(&selection, &fx.signer)?;
            let ix: Vec<u64> = b.entries.iter().map(|e| e.index).collect();
            Ok(json!({ "indexes": ix }))
        }
        "gate" => {
            let policy = GatePolicy::from_value(&args["policy"])?;
            let r = fx
                .entries
                .gate(args["subject"].as_str().unwrap(), &policy)?;
            let missed: Vec<&str> = r
                .requirements
                .iter()
                .filter(|r| !r.met)
                .map(|r| r.name.as_str())
                .collect();
            Ok(json!({ "passed": r.passed, "missed": missed }))
        }
        "verify" => {
            let outside =
                Outside::pair(opt_str(args, "checkpoint"), opt_str(args, "verifier_key"))?;
            let verifier = outside.as_ref().map(Outside::verifier).transpose()?;
            let mut opts = VerifyOptions::default();
            if let (Some(o), Some(v)) = (&outside, &verifier) {
                opts = opts.against(o.note, v);
            }
            let r = fx.raw.verify(&opts)?;
            Ok(json!({ "size": r.size, "consistent_with_checkpoint": r.external_checkpoint }))
        }
        "verify_inclusion" => {
            let outside =
                Outside::pair(opt_str(args, "checkpoint"), opt_str(args, "verifier_key"))?;
            let leaf = opt_str(args, "leaf").map(str::as_bytes);
            check_inclusion(&args["proof"].to_string(), leaf, outside)?;
            Ok(json!({}))
        }
        "verify_consistency" => {
            let outside =
                Outside::pair(opt_str(args, "checkpoint"), opt_str(args, "verifier_key"))?;
            check_consistency(&args["proof"].to_string(), outside)?;
            Ok(json!({}))
        }
        "verify_cosigned" => {
            let keys: Vec<&str> = args["witness_keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            let quorum = args.get("quorum").map(|q| q.as_u64().unwrap() as usize);
            let policy = WitnessPolicy::from_keys(&keys, quorum)?;
            let log = Verifier::from_key_string(args["verifier_key"].as_str().unwrap())?;
            let c = verify_cosigned(args["note"].as_str().unwrap(), &log, &policy)?;
            Ok(cosigned_shape(&c.to_json()))
        }
        "verify_timestamp_token" => {
            let token = hex::decode(args["token_hex"].as_str().unwrap()).unwrap();
            let note = args["note"].as_str().unwrap().as_bytes();
            let ca = args["ca_pem"].as_str().unwrap().as_bytes();
            Ok(verify_timestamp_token(&token, note, ca)?.to_json())
        }
        "report" => Ok(fx
            .entries
            .report_with(&ReportOptions::from_json(args)?)?
            .to_json()),
        "open" => open(fx, args),
        "rules" => rules(fx, args),
        "retention" => retention(fx, args),
        "erase" => erase(fx, args),
        "check_opening" => trailseal::entry::check_opening(
            args["commitment"].as_str().unwrap(),
            args["salt"].as_str().unwrap(),
            &args["value"],
        )
        .map(|()| Value::Null),
        "prune" => prune(fx, args),
        "rules_check" => {
            let rules = Rules::from_value(&args["document"])?;
            Ok(rules.check(&args["entry"])?.to_json(&rules))
        }
        "delivery_report" => Ok(fx
            .entries
            .delivery_report(args.get("threshold").and_then(Value::as_f64))?
            .to_json()),
        other => panic!("unknown call {other:?} in the case table"),
    }
}

/// A `verify_cosigned` row's shape: the checkpoint's size and the witnesses whose
/// cosignatures verified, in order.
fn cosigned_shape(c: &Value) -> Value {
    let names: Vec<&Value> = c["cosignatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["witness"])
        .collect();
    json!({ "size": c["checkpoint"]["size"], "witnesses": names })
}

/// An `open` row: a new ledger holding the fixture's first entry, opened as the row says, then
/// the first entry appended again or every entry queried through the new handle.
fn open(fx: &Fixture, args: &Value) -> Result<Value, Error> {
    let n = fx.opened.get() + 1;
    fx.opened.set(n);
    let path = fx.dir.path().join(format!("open-{n}.redb"));
    Ledger::create(&path, &fx.create)?.append(&fx.first)?;
    let l = Ledger::open_with(
        &path,
        &OpenOptions {
            sharing: opt_str(args, "share").map(str::parse).transpose()?,
            read_only: args["read_only"] == true,
            durability: if args["durable"] == false {
                Durability::NotDurableUntilSync
            } else {
                Durability::Immediate
            },
            ..OpenOptions::default()
        },
    )?;
    let indexes = match args["then"].as_str() {
        Some("append") => vec![l.append(&fx.first)?.index],
        Some("query") => l
            .query(&Query::default())?
            .entries
            .iter()
            .map(|f| f.index)
            .collect(),
        other => panic!("unknown then {other:?} in the case table"),
    };
    Ok(json!({ "sharing": l.sharing().name(), "read_only": l.read_only(), "indexes": indexes }))
}

/// A new ledger of the fixture's origin and hash, for the rows that need their own.
fn new_ledger(fx: &Fixture) -> Result<Ledger, Error> {
    let n = fx.opened.get() + 1;
    fx.opened.set(n);
    Ledger::create(fx.dir.path().join(format!("new-{n}.redb")), &fx.create)
}

/// A `rules` row: on a new ledger, the document published by `publisher`, then each entry
/// appended alone; each entry's index or error code, the size after, and the version in force.
fn rules(fx: &Fixture, args: &Value) -> Result<Value, Error> {
    let l = new_ledger(fx)?;
    l.set_record_refusals(args["record_refusals"] == true);
    let rules = Rules::from_value(&args["document"])?;
    l.publish_rules(&rules, args["publisher"].as_str().unwrap(), None, None)?;
    let results: Vec<Value> = args["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match l.append(e) {
            Ok(r) => json!(r.index),
            Err(e) => json!(e.code().as_str()),
        })
        .collect();
    let size = l.size()?;
    let version = l.rules_at(Some(size))?.map(|v| v.rules.version.clone());
    Ok(json!({ "results": results, "size": size, "version": version }))
}

/// A `retention` row: on a new ledger, the retention rules published (if the row gives a
/// document), the entries appended, each hold placed or released in turn, then the plan at
/// `at`; the version in force, every hold recorded and the plan.
fn retention(fx: &Fixture, args: &Value) -> Result<Value, Error> {
    let l = new_ledger(fx)?;
    let by = RecordedBy {
        actor: args["actor"].as_str().unwrap(),
        authz: &args["authz"],
    };
    if let Some(doc) = args.get("document") {
        l.publish_retention_rules(&RetentionRules::from_json(doc)?, &by)?;
    }
    l.append_batch(args["entries"].as_array().unwrap())?;
    for step in args["holds"].as_array().unwrap() {
        match (step.get("place"), step.get("release")) {
            (Some(id), None) => l.place_hold(id.as_str().unwrap(), &step["covers"], &by)?,
            (None, Some(id)) => l.release_hold(id.as_str().unwrap(), &by)?,
            _ => panic!("a hold step places or releases: {step}"),
        };
    }
    let at = Timestamp::parse(args["at"].as_str().unwrap())?;
    let version = l.retention_rules_at(None)?.map(|v| v.rules.version);
    let holds: Vec<Value> = l.legal_holds()?.iter().map(|h| h.to_json()).collect();
    Ok(json!({ "version": version, "holds": holds, "plan": l.retention_plan(Some(at))?.to_json() }))
}

/// An `erase` row: a new ledger with the row's personal fields holding its entries (and
/// holds), erased as the row selects; the report, what each index in `read` reads as (its
/// actor, the erasure that emptied it, its sealed fields: commitments are salted afresh, so
/// the shape, not the bytes) and the size after.
fn erase(fx: &Fixture, args: &Value) -> Result<Value, Error> {
    let n = fx.opened.get() + 1;
    fx.opened.set(n);
    let personal: Vec<&str> = args["personal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let l = Ledger::create(
        fx.dir.path().join(format!("erase-{n}.redb")),
        &fx.create.clone().personal_fields(&personal),
    )?;
    let by = RecordedBy {
        actor: args["actor"].as_str().unwrap(),
        authz: &args["authz"],
    };
    l.append_batch(args["entries"].as_array().unwrap())?;
    for h in args["holds"].as_array().into_iter().flatten() {
        l.place_hold(h["place"].as_str().unwrap(), &h["covers"], &by)?;
    }
    let report = l.erase(&EraseOptions {
        select: EraseSelect::from_json(&args["select"])?,
        reason: args["reason"].as_str().unwrap(),
        legal_basis: opt_str(args, "legal_basis"),
        request: None,
        dry_run: args["dry_run"] == true,
        by,
    })?;
    let reads: Vec<Value> = args["read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| erase_read(&l.get(i.as_u64().unwrap()).unwrap()))
        .collect();
    Ok(json!({"report": report.to_json(), "reads": reads, "size": l.size()?}))
}

#[path = "common/erase_read.rs"]
mod erase_read;
use erase_read::erase_read;

/// A `prune` row: on a new ledger (with committed indexes if the row says), the retention
/// rules published, `entries` appended `copies` times in one batch, then `then`, each hold
/// placed or released, and the ledger pruned at `at` (dry if `dry_run`); what was pruned and
/// kept, and then a read of each index of `read`.
fn prune(fx: &Fixture, args: &Value) -> Result<Value, Error> {
    let l = if args["committed_indexes"] == true {
        let n = fx.opened.get() + 1;
        fx.opened.set(n);
        Ledger::create(
            fx.dir.path().join(format!("new-{n}.redb")),
            &fx.create.clone().committed_indexes(true),
        )?
    } else {
        new_ledger(fx)?
    };
    let by = RecordedBy {
        actor: args["actor"].as_str().unwrap(),
        authz: &args["authz"],
    };
    l.publish_retention_rules(&RetentionRules::from_json(&args["document"])?, &by)?;
    let copies = args["copies"].as_u64().unwrap_or(1) as usize;
    let mut batch = Vec::new();
    for _ in 0..copies {
        batch.extend(args["entries"].as_array().unwrap().iter().cloned());
    }
    l.append_batch(&batch)?;
    if let Some(then) = args.get("then") {
        l.append_batch(then.as_array().unwrap())?;
    }
    for step in args["holds"].as_array().into_iter().flatten() {
        match (step.get("place"), step.get("release")) {
            (Some(id), None) => l.place_hold(id.as_str().unwrap(), &step["covers"], &by)?,
            (None, Some(id)) => l.release_hold(id.as_str().unwrap(), &by)?,
            _ => panic!("a hold step places or releases: {step}"),
        };
    }
    let r = l
        .prune(&trailseal::PruneOptions {
            before: Timestamp::parse(args["at"].as_str().unwrap())?,
            dry_run: args["dry_run"] == true,
            by,
        })?
        .to_json();
    let reads: Vec<Value> = args["read"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            let index = i.as_u64().unwrap();
            match l.get(index) {
                Ok(e) => json!({"index": index, "action": e["action"]}),
                Err(e) => json!({"index": index, "error": e.code().as_str(),
                                 "message": pruned_message(&e.to_string())}),
            }
        })
        .collect();
    Ok(
        json!({"count": r["count"], "pruned": r["pruned"], "records": r["records"].as_array().map_or(0, Vec::len),
              "kept": r["kept"], "reads": reads}),
    )
}

#[path = "common/pruned_message.rs"]
mod pruned_message;
use pruned_message::pruned_message;

#[test]
fn every_row_as_the_table_says() {
    let t = table();
    let fx = fixture(&t);
    let rows = t["cases"].as_array().unwrap();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failed = Vec::new();
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let got = match run(&fx, row["call"].as_str().unwrap(), &row["args"]) {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "error": e.code().as_str() }),
        };
        if got != row["expect"] {
            failed.push(format!("{name}: got {got}, want {}", row["expect"]));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn row_names_are_unique() {
    let t = table();
    let mut names: Vec<&str> = t["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "two rows share a name");
}

// ---- the generator ------------------------------------------------------------------------

/// The calls whose rows the generator writes.
const GENERATED: [&str; 3] = ["verify_inclusion", "verify_consistency", "verify"];

fn row(name: &str, call: &str, args: Value, expect: Value) -> Value {
    json!({ "name": name, "call": call, "args": args, "expect": expect })
}

fn ok(v: Value) -> Value {
    json!({ "ok": v })
}

fn err(code: &str) -> Value {
    json!({ "error": code })
}

fn proof_value(json_text: String) -> Value {
    serde_json::from_str(&json_text).unwrap()
}

/// A proof with its path one hash shorter, or one hash longer (a copy of its first hash).
fn path_changed(proof: &Value, longer: bool) -> Value {
    let mut p = proof.clone();
    let path = p["path"].as_array_mut().unwrap();
    if longer {
        let first = path[0].clone();
        path.push(first);
    } else {
        path.pop();
    }
    p
}

fn with(proof: &Value, key: &str, v: Value) -> Value {
    let mut p = proof.clone();
    p[key] = v;
    p
}

fn generated_rows(t: &Value) -> (String, Vec<Value>) {
    let f = &t["fixture"];
    let origin = f["origin"].as_str().unwrap();
    let signer = Signer::from_seed(origin, [7; 32]).unwrap();
    let other = Signer::from_seed(origin, [8; 32]).unwrap();
    let vkey = signer.verifier().to_key_string();
    let other_vkey = other.verifier().to_key_string();
    let dir = tempfile::tempdir().unwrap();
    let opts = CreateOptions::new(origin)
        .hash(f["hash"].as_str().unwrap().parse::<HashAlg>().unwrap())
        .raw();
    let raw = Ledger::create(dir.path().join("raw.redb"), &opts).unwrap();
    let leaves: Vec<String> = f["raw_leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    let n = leaves.len() as u64;
    assert_eq!(n, 7, "the rows below are written for 7 raw leaves");
    for l in &leaves {
        raw.append_raw(l.as_bytes()).unwrap();
    }
    // A tree of 4 other leaves under the same key: a fork of the fixture.
    let fork = Ledger::create(dir.path().join("fork.redb"), &opts).unwrap();
    for i in 0..4 {
        fork.append_raw(format!("fork {i}").as_bytes()).unwrap();
    }
    let note7 = raw.checkpoint(&signer, None).unwrap();
    let note4 = raw.checkpoint(&signer, Some(4)).unwrap();
    let note7_other = raw.checkpoint(&other, None).unwrap();
    let fork_note = fork.checkpoint(&signer, None).unwrap();
    let incl = proof_value(raw.prove_inclusion(2, None).unwrap().to_json());
    let incl_old = proof_value(raw.prove_inclusion(2, Some(4)).unwrap().to_json());
    let cons = proof_value(raw.prove_consistency(4, None).unwrap().to_json());
    let cons_4_6 = proof_value(raw.prove_consistency(4, Some(6)).unwrap().to_json());
    let leaf2 = &leaves[2];
    let leaf3 = &leaves[3];

    let mut rows = Vec::new();
    let vi = |name: &str, args: Value, expect: Value| {
        row(
            &format!("verify_inclusion: {name}"),
            "verify_inclusion",
            args,
            expect,
        )
    };
    rows.extend([
        vi("a good proof", json!({ "proof": incl }), ok(json!({}))),
        vi("a good proof and its leaf", json!({ "proof": incl, "leaf": leaf2 }), ok(json!({}))),
        vi(
            "a good proof against the checkpoint of its tree",
            json!({ "proof": incl, "checkpoint": note7, "verifier_key": vkey }),
            ok(json!({})),
        ),
        vi(
            "a good proof, its leaf and the checkpoint",
            json!({ "proof": incl, "leaf": leaf2, "checkpoint": note7, "verifier_key": vkey }),
            ok(json!({})),
        ),
        vi("another leaf", json!({ "proof": incl, "leaf": leaf3 }), err("verification_failed")),
        vi("a path one hash short", json!({ "proof": path_changed(&incl, false) }), err("verification_failed")),
        vi("a path one hash long", json!({ "proof": path_changed(&incl, true) }), err("verification_failed")),
        vi("another root", json!({ "proof": with(&incl, "root", incl_old["root"].clone()) }), err("verification_failed")),
        vi("a proof of an older tree, alone", json!({ "proof": incl_old }), ok(json!({}))),
        vi(
            "a proof of an older tree against the current checkpoint",
            json!({ "proof": incl_old, "checkpoint": note7, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        vi("a checkpoint without its key", json!({ "proof": incl, "checkpoint": note7 }), err("invalid_argument")),
        vi("a key without its checkpoint", json!({ "proof": incl, "verifier_key": vkey }), err("invalid_argument")),
        vi(
            "a checkpoint signed by another key",
            json!({ "proof": incl, "checkpoint": note7_other, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        vi(
            "a verifier key that does not parse",
            json!({ "proof": incl, "checkpoint": note7, "verifier_key": "not a key" }),
            err("malformed"),
        ),
        vi("a proof that does not parse", json!({ "proof": with(&incl, "root", json!("zz")) }), err("malformed")),
        vi("a proof without a path", json!({ "proof": { "hash": incl["hash"], "index": 2, "tree_size": n } }), err("malformed")),
        vi(
            "a bad proof against a checkpoint by another key: the checkpoint is checked first",
            json!({ "proof": with(&incl, "root", json!("zz")), "checkpoint": note7_other, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        vi("an index outside the tree", json!({ "proof": with(&incl, "index", json!(n)) }), err("out_of_range")),
    ]);
    let vc = |name: &str, args: Value, expect: Value| {
        row(
            &format!("verify_consistency: {name}"),
            "verify_consistency",
            args,
            expect,
        )
    };
    rows.extend([
        vc("a good proof", json!({ "proof": cons }), ok(json!({}))),
        vc(
            "against the checkpoint of the new tree",
            json!({ "proof": cons, "checkpoint": note7, "verifier_key": vkey }),
            ok(json!({})),
        ),
        vc(
            "against the checkpoint of the old tree",
            json!({ "proof": cons, "checkpoint": note4, "verifier_key": vkey }),
            ok(json!({})),
        ),
        vc(
            "a path one hash short",
            json!({ "proof": path_changed(&cons, false) }),
            err("verification_failed"),
        ),
        vc(
            "a path one hash long",
            json!({ "proof": path_changed(&cons, true) }),
            err("verification_failed"),
        ),
        vc(
            "old_size off by one",
            json!({ "proof": with(&cons, "old_size", json!(5)) }),
            err("verification_failed"),
        ),
        vc(
            "a proof between older trees against the current checkpoint",
            json!({ "proof": cons_4_6, "checkpoint": note7, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        vc(
            "a checkpoint without its key",
            json!({ "proof": cons, "checkpoint": note7 }),
            err("invalid_argument"),
        ),
        vc(
            "a key without its checkpoint",
            json!({ "proof": cons, "verifier_key": vkey }),
            err("invalid_argument"),
        ),
        vc(
            "a checkpoint signed by another key",
            json!({ "proof": cons, "checkpoint": note7_other, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        vc(
            "a proof that does not parse",
            json!({ "proof": with(&cons, "old_root", json!("zz")) }),
            err("malformed"),
        ),
        vc(
            "an old size beyond the new",
            json!({ "proof": with(&cons, "old_size", json!(n + 1)) }),
            err("out_of_range"),
        ),
    ]);
    let v = |name: &str, args: Value, expect: Value| {
        row(&format!("verify: {name}"), "verify", args, expect)
    };
    let report = |against: Value| ok(json!({ "size": n, "consistent_with_checkpoint": against }));
    rows.extend([
        v("the whole ledger", json!({}), report(Value::Null)),
        v(
            "against the checkpoint of the current tree",
            json!({ "checkpoint": note7, "verifier_key": vkey }),
            report(json!(n)),
        ),
        v(
            "against the checkpoint of an older tree",
            json!({ "checkpoint": note4, "verifier_key": vkey }),
            report(json!(4)),
        ),
        v(
            "a checkpoint without its key",
            json!({ "checkpoint": note7 }),
            err("invalid_argument"),
        ),
        v(
            "a key without its checkpoint",
            json!({ "verifier_key": vkey }),
            err("invalid_argument"),
        ),
        v(
            "a checkpoint signed by another key",
            json!({ "checkpoint": note7_other, "verifier_key": vkey }),
            err("verification_failed"),
        ),
        v(
            "another key that does not parse",
            json!({ "checkpoint": note7, "verifier_key": "not a key" }),
            err("malformed"),
        ),
        v(
            "a checkpoint of a forked tree",
            json!({ "checkpoint": fork_note, "verifier_key": vkey }),
            err("inconsistent"),
        ),
        v(
            "a checkpoint of another key's own, checked with that key",
            json!({ "checkpoint": note7_other, "verifier_key": other_vkey }),
            report(json!(n)),
        ),
    ]);
    (signer.to_key_string().unwrap(), rows)
}

/// One JSON value per line for rows and entries, so a diff of the table shows the rows that
/// changed.
fn write_table(t: &Value, signer_key: &str, rows: &[Value]) -> String {
    let f = &t["fixture"];
    let s = |v: &Value| serde_json::to_string(v).unwrap();
    let list = |items: &[Value], indent: &str| {
        items
            .iter()
            .map(|v| format!("{indent}{}", s(v)))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    let row_text = |r: &Value| {
        format!(
            "    {{\"name\": {}, \"call\": {}, \"args\": {}, \"expect\": {}}}",
            s(&r["name"]),
            s(&r["call"]),
            s(&r["args"]),
            s(&r["expect"])
        )
    };
    format!(
        "{{\n  \"format\": {},\n  \"about\": {},\n  \"fixture\": {{\n    \"origin\": {},\n    \"hash\": {},\n    \"signer_key\": {},\n    \"entries\": [\n{}\n    ],\n    \"raw_leaves\": {}\n  }},\n  \"cases\": [\n{}\n  ]\n}}\n",
        s(&t["format"]),
        s(&t["about"]),
        s(&f["origin"]),
        s(&f["hash"]),
        s(&json!(signer_key)),
        list(f["entries"].as_array().unwrap(), "      "),
        s(&f["raw_leaves"]),
        rows.iter().map(row_text).collect::<Vec<_>>().join(",\n"),
    )
}

#[test]
#[ignore = "writes tests/vectors/cases.json; run with TRAILSEAL_REGEN_CASES=1"]
fn regen() {
    if std::env::var_os("TRAILSEAL_REGEN_CASES").is_none() {
        return;
    }
    let t = table();
    let (signer_key, generated) = generated_rows(&t);
    let mut rows: Vec<Value> = t["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !GENERATED.contains(&r["call"].as_str().unwrap()))
        .cloned()
        .collect();
    rows.extend(generated);
    std::fs::write(table_path(), write_table(&t, &signer_key, &rows)).unwrap();
}

#[test]
fn the_generated_rows_are_what_the_generator_makes() {
    // Ed25519 is deterministic and raw leaves fix every hash, so regenerating changes nothing.
    let t = table();
    let (signer_key, generated) = generated_rows(&t);
    assert_eq!(t["fixture"]["signer_key"], json!(signer_key));
    let committed: Vec<&Value> = t["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| GENERATED.contains(&r["call"].as_str().unwrap()))
        .collect();
    assert_eq!(committed, generated.iter().collect::<Vec<_>>());
}
