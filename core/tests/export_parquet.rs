//! Entries as Parquet (`export::parquet`), read back with the parquet crate's own reader.
//!
//! Every entry is one row holding its origin, index, leaf hash, time and fields, with its exact
//! leaf bytes; files are cut by day, file size and row group as asked; reruns add only new
//! entries; a run interrupted before its record is written is redone without duplicates; a
//! destination refuses another ledger's export under the same origin, and keeps ledgers of
//! different origins apart.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{json, Value};
use trailseal::export::parquet::{export_parquet, ledger_stem, ParquetOptions};
use trailseal::merkle::to_hex;
use trailseal::{CreateOptions, Error, Ledger, Timestamp};

fn ledger(dir: &Path, name: &str, origin: &str) -> Ledger {
    Ledger::create(
        dir.join(format!("{name}.redb")),
        &CreateOptions::new(origin),
    )
    .unwrap()
}

/// Entries with every optional field present in some and absent in others.
fn entry(n: u64) -> Value {
    let action = ["deploy.succeeded", "approval.granted", "config.changed"][n as usize % 3];
    let mut e = json!({
        "actor": {"id": format!("user-{}", n % 7)},
        "action": action,
        "subject": {"type": "service", "id": format!("svc-{}", n % 5)},
    });
    if n % 2 == 0 {
        e["id"] = format!("ev-{n}").into();
        e["actor"]["role"] = "deployer".into();
        e["attrs"] = json!({"env": "prod", "n": n.to_string()});
    }
    if n % 3 == 0 {
        e["actor"]["tenant"] = "acme".into();
        e["actor"]["via"] = json!(["ci-bot"]);
        e["authz"] = json!({"decision": "break_glass", "policy": "p-1", "policy_version": "2",
                            "reason": "incident"});
        e["change"] = json!({"before": 1, "after": 2.5});
        e["occurred_at"] = "2026-01-02T03:04:05+02:00".into();
        e["payload"] = json!({"big": "x".repeat(300)});
    }
    if n % 11 == 0 {
        // Text that JSON escapes: the columns hold it unescaped.
        e["actor"]["id"] = format!("\"quoted\" ünï\tcode \\ {n}").into();
        e["subject"]["id"] = "line\nbreak \u{1F600}".into();
    }
    if n > 0 && n % 4 == 0 {
        e["links"] = json!([{"rel": "after", "index": n - 1}, {"rel": "src", "ref": "git:abc"}]);
    }
    e
}

fn append(l: &Ledger, range: std::ops::Range<u64>) {
    l.append_batch(&range.map(entry).collect::<Vec<_>>())
        .unwrap();
}

/// The indexes of every row under `dest`, sorted (repeats kept).
fn indexes(dest: &Path) -> Vec<i64> {
    let mut out: Vec<i64> = rows(dest).iter().map(|(_, r)| long(&r["index"])).collect();
    out.sort();
    out
}

/// Every `.parquet` file under `dest` (not the dot-named ones a run writes first), sorted.
fn files(dest: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dest.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                dirs.push(p);
            } else if name.ends_with(".parquet") && !name.starts_with('.') {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every row of every file under `dest`, each as column name → value, with its file.
fn rows(dest: &Path) -> Vec<(PathBuf, BTreeMap<String, Field>)> {
    let mut out = Vec::new();
    for f in files(dest) {
        let reader = SerializedFileReader::new(File::open(&f).unwrap()).unwrap();
        for row in reader {
            let cols = row
                .unwrap()
                .get_column_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.push((f.clone(), cols));
        }
    }
    out
}

fn text(f: &Field) -> Option<String> {
    match f {
        Field::Str(s) => Some(s.clone()),
        Field::Null => None,
        other => panic!("not text: {other:?}"),
    }
}

fn json_col(f: &Field) -> Option<Value> {
    text(f).map(|s| serde_json::from_str(&s).unwrap())
}

fn long(f: &Field) -> i64 {
    match f {
        Field::Long(n) => *n,
        Field::TimestampMicros(n) => *n,
        other => panic!("not a long: {other:?}"),
    }
}

#[test]
fn every_entry_is_one_row_with_its_place_in_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), "a", "example.com/parquet/a");
    let n = 300;
    let batch: Vec<Value> = (0..n).map(entry).collect();
    l.append_batch(&batch).unwrap();
    let dest = dir.path().join("lake");
    let opts = ParquetOptions {
        row_group_rows: 64,
        file_rows: 100,
    };
    let report = export_parquet(&l, &dest, &opts).unwrap();
    assert_eq!((report.from, report.to), (0, n));
    assert_eq!(report.files, files(&dest));

    let rows = rows(&dest);
    assert_eq!(rows.len() as u64, n);
    let mut seen = vec![false; n as usize];
    for (file, r) in &rows {
        let index = long(&r["index"]) as u64;
        assert!(
            !std::mem::replace(&mut seen[index as usize], true),
            "row {index} twice"
        );
        let stored = l.get(index).unwrap();
        let what = format!("row {index}");
        assert_eq!(text(&r["origin"]).unwrap(), "example.com/parquet/a");
        assert_eq!(
            text(&r["leaf_hash"]).unwrap(),
            to_hex(&l.leaf_hash(index).unwrap())
        );
        // The exact leaf bytes, which hash to the leaf hash.
        assert_eq!(
            text(&r["entry"]).unwrap().as_bytes(),
            &l.get_raw(index).unwrap()[..],
            "{what}"
        );
        let ns = Timestamp::parse(stored["time"].as_str().unwrap())
            .unwrap()
            .unix_nanos();
        assert_eq!(i128::from(long(&r["time_ns"])), ns, "{what}");
        assert_eq!(i128::from(long(&r["time"])), ns.div_euclid(1000), "{what}");
        // The file sits in its entry's day.
        let day = &stored["time"].as_str().unwrap()[..10];
        assert!(
            file.parent()
                .unwrap()
                .ends_with(format!("date={day}").as_str()),
            "{what}: {}",
            file.display()
        );
        let s = |p: &str| stored.pointer(p).and_then(Value::as_str).map(str::to_owned);
        for (col, p) in [
            ("id", "/id"),
            ("actor_id", "/actor/id"),
            ("actor_role", "/actor/role"),
            ("actor_tenant", "/actor/tenant"),
            ("action", "/action"),
            ("subject_type", "/subject/type"),
            ("subject_id", "/subject/id"),
            ("authz_decision", "/authz/decision"),
            ("authz_policy", "/authz/policy"),
            ("authz_policy_version", "/authz/policy_version"),
            ("authz_reason", "/authz/reason"),
            ("occurred_at", "/occurred_at"),
        ] {
            assert_eq!(text(&r[col]), s(p), "{what}: {col}");
        }
        for (col, p) in [
            ("actor_via", "/actor/via"),
            ("change", "/change"),
            ("links", "/links"),
            ("attrs", "/attrs"),
        ] {
            assert_eq!(
                json_col(&r[col]).as_ref(),
                stored.pointer(p),
                "{what}: {col}"
            );
        }
    }

    // Files hold at most 100 rows, row groups at most 64, and name their ledger.
    let stem = ledger_stem(l.origin());
    for f in files(&dest) {
        let reader = SerializedFileReader::new(File::open(&f).unwrap()).unwrap();
        let meta = reader.metadata();
        assert!(meta.file_metadata().num_rows() <= 100);
        for rg in meta.row_groups() {
            assert!(rg.num_rows() <= 64);
        }
        let kv = meta.file_metadata().key_value_metadata().unwrap();
        assert!(kv
            .iter()
            .any(|k| k.key == "trailseal.origin"
                && k.value.as_deref() == Some("example.com/parquet/a")));
        assert!(f.file_name().unwrap().to_string_lossy().starts_with(&stem));
    }
    assert!(files(&dest).len() >= 3);
}

#[test]
fn reruns_write_only_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), "a", "example.com/parquet/rerun");
    let dest = dir.path().join("lake");
    let opts = ParquetOptions::default();
    append(&l, 0..50);
    let first = export_parquet(&l, &dest, &opts).unwrap();
    assert_eq!((first.from, first.to), (0, 50));

    let none = export_parquet(&l, &dest, &opts).unwrap();
    assert_eq!((none.from, none.to), (50, 50));
    assert!(none.files.is_empty());

    append(&l, 50..80);
    let more = export_parquet(&l, &dest, &opts).unwrap();
    assert_eq!((more.from, more.to), (50, 80));
    assert!(!more.files.is_empty());
    assert!(more.files.iter().all(|f| !first.files.contains(f)));

    assert_eq!(indexes(&dest), (0..80).collect::<Vec<_>>());
}

#[test]
fn a_run_interrupted_before_its_record_is_redone_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let l = ledger(dir.path(), "a", "example.com/parquet/crash");
    let dest = dir.path().join("lake");
    let opts = ParquetOptions {
        row_group_rows: 16,
        file_rows: 25,
    };
    append(&l, 0..60);
    export_parquet(&l, &dest, &ParquetOptions::default()).unwrap();
    append(&l, 60..110);
    let state = dest
        .join("_trailseal")
        .join(format!("{}.export.json", ledger_stem(l.origin())));
    let record = std::fs::read(&state).unwrap();
    let second = export_parquet(&l, &dest, &opts).unwrap();
    // As if the second run died after its files and before its record: the record says 60.
    std::fs::write(&state, &record).unwrap();
    append(&l, 110..130);
    // A file it was still writing when it died.
    let day_dir = second.files[0].parent().unwrap().to_path_buf();
    let partial = day_dir.join(format!(
        ".{}-{:020}.parquet.partial",
        ledger_stem(l.origin()),
        105
    ));
    std::fs::write(&partial, b"PAR1 cut short").unwrap();
    // The redo cuts its files differently: the interrupted run's files must still go.
    let redo = export_parquet(&l, &dest, &ParquetOptions::default()).unwrap();
    assert_eq!((redo.from, redo.to), (60, 130));
    for f in &second.files {
        assert!(
            redo.files.contains(f) || !f.exists(),
            "{} left behind",
            f.display()
        );
    }
    assert!(!partial.exists(), "a partial file was left behind");
    assert_eq!(indexes(&dest), (0..130).collect::<Vec<_>>());
}

#[test]
fn ledgers_share_a_destination_by_origin() {
    let dir = tempfile::tempdir().unwrap();
    let a = ledger(dir.path(), "a", "example.com/parquet/a");
    let b = ledger(dir.path(), "b", "example.com/parquet/b");
    let impostor = ledger(dir.path(), "c", "example.com/parquet/a");
    append(&a, 0..10);
    append(&b, 0..7);
    impostor
        .append(
            &json!({"actor": {"id": "mallory"}, "action": "deploy.succeeded",
                        "subject": {"type": "service", "id": "x"}}),
        )
        .unwrap();
    let dest = dir.path().join("lake");
    let opts = ParquetOptions::default();
    export_parquet(&a, &dest, &opts).unwrap();
    export_parquet(&b, &dest, &opts).unwrap();
    let rows = rows(&dest);
    let count = |o: &str| {
        rows.iter()
            .filter(|(_, r)| text(&r["origin"]).as_deref() == Some(o))
            .count()
    };
    assert_eq!(count("example.com/parquet/a"), 10);
    assert_eq!(count("example.com/parquet/b"), 7);

    // A different ledger under an origin DEST already holds is not mixed in.
    let e = export_parquet(&impostor, &dest, &opts).unwrap_err();
    assert!(matches!(e, Error::Inconsistent(_)), "{e}");
    assert_eq!(count("example.com/parquet/a"), 10);
}

#[test]
fn raw_ledgers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::create(
        dir.path().join("raw.redb"),
        &CreateOptions::new("example.com/raw").raw(),
    )
    .unwrap();
    l.append_raw(b"opaque").unwrap();
    let e = export_parquet(&l, &dir.path().join("lake"), &ParquetOptions::default()).unwrap_err();
    assert!(matches!(e, Error::WrongKind { .. }), "{e}");
}
