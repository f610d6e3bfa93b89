//! Hostile files: truncated ledgers, random bytes, damaged pages, another program's redb file,
//! an empty file, records with wrong types or versions, and ledgers doctored to stay
//! self-consistent but disagreeing with a checkpoint held elsewhere. Each must be refused or
//! reported with an error code, never with a panic: every call on a hostile file runs under
//! `catch_unwind`, and a panic anywhere fails the test with the input that caused it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use serde_json::{json, Value};
use trailseal::merkle::{Frontier, Hash, NodeId};
use trailseal::storage::{is_stored, tamper, State};
use trailseal::{
    entry, Checkpoint, CreateOptions, ErrorCode, HashAlg, Ledger, Signer, Timestamp, Verifier,
    VerifyOptions,
};

mod common;
use common::Rng;

const ORIGIN: &str = "example.com/hostile";

// ---------------------------------------------------------------------------------------------
// Panic capture: a panic under `guarded` is recorded with its location instead of printed.

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
}

/// Run `f`; a panic becomes `Err(message with location)`.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    GUARDED.with(|g| g.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    r.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic without a message".into())
    })
}

/// What a hostile file gets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// `open` refused it.
    OpenRefused(ErrorCode),
    /// It opened, and `verify` reported this.
    VerifyRefused(ErrorCode),
    /// It opened and verified, with this many leaves.
    Verified(u64),
}

/// Open the file and verify it (against `external` if given), all under `catch_unwind`.
fn outcome(path: &Path, external: Option<(&str, &Verifier)>) -> Result<Outcome, String> {
    outcome_then_append(path, external, false).map(|(o, _)| o)
}

/// [`outcome`], and then (with `append`) try to append to the opened file: whatever the
/// damage, that must not panic either. Returns the append's code too (`None`: it worked).
fn outcome_then_append(
    path: &Path,
    external: Option<(&str, &Verifier)>,
    append: bool,
) -> Result<(Outcome, Option<ErrorCode>), String> {
    guarded(|| {
        let l = match Ledger::open(path) {
            Ok(l) => l,
            Err(e) => return (Outcome::OpenRefused(e.code()), None),
        };
        let mut opts = VerifyOptions::default();
        if let Some((note, v)) = external {
            opts = opts.against(note, v);
        }
        let got = match l.verify(&opts) {
            Ok(r) => Outcome::Verified(r.size),
            Err(e) => Outcome::VerifyRefused(e.code()),
        };
        let appended = if append {
            l.append(&entry_json(1_000_000))
                .and_then(|_| l.verify(&VerifyOptions::default()))
                .err()
                .map(|e| e.code())
        } else {
            None
        };
        (got, appended)
    })
}

/// Codes a damaged or foreign file may get when it is opened.
const OPEN_CODES: &[ErrorCode] = &[
    ErrorCode::NotALedger,
    ErrorCode::Storage,
    ErrorCode::Io,
    ErrorCode::Tampered,
];
/// Codes `verify` may report on a damaged file.
const VERIFY_CODES: &[ErrorCode] = &[
    ErrorCode::Tampered,
    ErrorCode::Inconsistent,
    ErrorCode::Storage,
    ErrorCode::NotALedger,
    ErrorCode::Io,
];

/// A panic, or a code outside the allowed sets, is a finding: collect them all, then fail.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, input: &str, got: Result<Outcome, String>, full_size: u64) {
        match got {
            Err(panic) => self.0.push(format!("{input}: PANIC {panic}")),
            Ok(Outcome::OpenRefused(c)) if !OPEN_CODES.contains(&c) => self
                .0
                .push(format!("{input}: open refused with unexpected code {c}")),
            Ok(Outcome::VerifyRefused(c)) if !VERIFY_CODES.contains(&c) => self
                .0
                .push(format!("{input}: verify refused with unexpected code {c}")),
            // A damaged file that still verifies must not have lost anything that the
            // external checkpoint (always given here when full_size > 0) commits to.
            Ok(Outcome::Verified(n)) if n < full_size => self.0.push(format!(
                "{input}: verified with {n} of {full_size} leaves despite the external checkpoint"
            )),
            Ok(_) => {}
        }
    }

    fn assert_none(&self) {
        assert!(
            self.0.is_empty(),
            "{} hostile inputs were mishandled:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Tally an outcome (with what a later append got) and check it.
fn record(
    tally: &mut HashMap<String, usize>,
    findings: &mut Findings,
    input: &str,
    got: Result<(Outcome, Option<ErrorCode>), String>,
    full_size: u64,
) {
    if std::env::var_os("HOSTILE_VERBOSE").is_some() {
        eprintln!("{input}: {got:?}");
    }
    let key = match &got {
        Ok((o, None)) if !matches!(o, Outcome::OpenRefused(_)) => format!("{o:?}, append ok"),
        Ok((o, Some(c))) => format!("{o:?}, append {c}"),
        Ok((o, None)) => format!("{o:?}"),
        Err(_) => "PANIC".into(),
    };
    *tally.entry(key).or_default() += 1;
    findings.check(input, got.map(|(o, _)| o), full_size);
}

// ---------------------------------------------------------------------------------------------
// A real ledger to damage.

fn entry_json(n: u64) -> Value {
    let env = ["dev", "prod"][(n % 2) as usize];
    json!({"id": format!("ev-{n}"), "actor": {"id": format!("user-{}", n % 7)},
           "action": "deploy.succeeded",
           "subject": {"type": "service", "id": format!("marker-{n:05}")},
           "attrs": {"env": env},
           "payload": {"pad": "p".repeat((n % 9 * 40) as usize)}})
}

struct Built {
    _dir: tempfile::TempDir,
    path: PathBuf,
    signer: Signer,
    /// A checkpoint of the full ledger, as a witness would hold it (also kept in the ledger).
    note: String,
    size: u64,
}

fn build(n: u64) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.redb");
    let l = Ledger::create(&path, &CreateOptions::new(ORIGIN)).unwrap();
    let signer = Signer::from_seed(ORIGIN, [11; 32]).unwrap();
    let mut i = 0;
    while i < n {
        let k = (n - i).min(1 + i % 23);
        let batch: Vec<Value> = (i..i + k).map(entry_json).collect();
        l.append_batch(&batch).unwrap();
        i += k;
        if i % 3 == 0 {
            l.checkpoint(&signer, None).unwrap();
        }
    }
    let note = l.checkpoint(&signer, None).unwrap();
    l.verify(&VerifyOptions::default()).unwrap();
    drop(l);
    Built {
        _dir: dir,
        path,
        signer,
        note,
        size: n,
    }
}

fn write_copy(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------

#[test]
fn truncated_ledgers_are_refused_or_reported() {
    let b = build(300);
    let verifier = b.signer.verifier();
    let bytes = std::fs::read(&b.path).unwrap();
    let len = bytes.len();
    let scratch = tempfile::tempdir().unwrap();
    let mut offsets: Vec<usize> = vec![0, 1, 8, 63, 64, 511, 512, 4095, 4096, 4097, 8192];
    offsets.extend((1..48).map(|k| len * k / 48));
    offsets.extend([len - 4096, len - 1]);
    offsets.sort_unstable();
    offsets.dedup();
    let mut findings = Findings::default();
    let mut tally: HashMap<String, usize> = HashMap::new();
    for &at in offsets.iter().filter(|&&at| at < len) {
        let p = write_copy(scratch.path(), &format!("cut-{at}.redb"), &bytes[..at]);
        let input = format!("ledger of {len} bytes cut at {at}");
        let got = outcome_then_append(&p, Some((&b.note, &verifier)), true);
        record(&mut tally, &mut findings, &input, got, b.size);
        std::fs::remove_file(&p).unwrap();
    }
    eprintln!("truncations of a {len}-byte ledger: {tally:?}");
    findings.assert_none();
    // A cut file is named as such, not reported as a passing I/O error to retry.
    assert!(
        tally
            .keys()
            .all(|k| k == "OpenRefused(NotALedger)" || k.starts_with("VerifyRefused(Tampered)")),
        "{tally:?}"
    );
}

#[test]
fn random_bytes_and_damaged_pages_are_refused_or_reported() {
    let b = build(200);
    let verifier = b.signer.verifier();
    let real = std::fs::read(&b.path).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_1e55_0bad_cafe);
    let mut findings = Findings::default();
    let mut tally: HashMap<String, usize> = HashMap::new();
    let mut run = |name: String, bytes: Vec<u8>, findings: &mut Findings| {
        let p = write_copy(scratch.path(), "hostile.redb", &bytes);
        let got = outcome_then_append(&p, Some((&b.note, &verifier)), true);
        record(&mut tally, findings, &name, got, b.size);
        std::fs::remove_file(&p).unwrap();
    };
    // Pure noise of various lengths.
    for n in [1usize, 16, 512, 4096, 65_536, 300_000] {
        let bytes = rng.bytes(n);
        run(format!("{n} random bytes"), bytes, &mut findings);
    }
    // The real header (magic and all) followed by noise.
    for keep in [9usize, 64, 512, 4096, 8192] {
        let mut bytes = real[..keep.min(real.len())].to_vec();
        bytes.extend(rng.bytes(real.len() - bytes.len()));
        run(
            format!("real first {keep} bytes, then noise"),
            bytes,
            &mut findings,
        );
    }
    // One 4 KiB page of the real file overwritten with noise, at many places.
    let pages = real.len() / 4096;
    for k in 0..40 {
        let page = k * pages / 40;
        let mut bytes = real.clone();
        let end = (page * 4096 + 4096).min(bytes.len());
        let noise = rng.bytes(end - page * 4096);
        bytes[page * 4096..end].copy_from_slice(&noise);
        run(
            format!("page {page} of {pages} overwritten"),
            bytes,
            &mut findings,
        );
    }
    // Single flipped bits spread over the file.
    for k in 0..40 {
        let at = (rng.next() as usize) % real.len();
        let mut bytes = real.clone();
        bytes[at] ^= 1 << (k % 8);
        run(
            format!("bit {} of byte {at} flipped", k % 8),
            bytes,
            &mut findings,
        );
    }
    eprintln!("random and damaged files: {tally:?}");
    findings.assert_none();
}

#[test]
fn empty_file_directory_and_missing_file_get_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write_copy(dir.path(), "empty.redb", b"");
    assert_eq!(
        outcome(&empty, None).unwrap(),
        Outcome::OpenRefused(ErrorCode::NotALedger)
    );
    assert_eq!(
        outcome(&dir.path().join("missing.redb"), None).unwrap(),
        Outcome::OpenRefused(ErrorCode::NotFound)
    );
    let got = outcome(dir.path(), None).unwrap();
    assert!(
        matches!(
            got,
            Outcome::OpenRefused(ErrorCode::Io | ErrorCode::NotALedger)
        ),
        "a directory: {got:?}"
    );
    // A text file that merely looks like data.
    let text = write_copy(dir.path(), "notes.txt", b"{\"not\": \"a ledger\"}\n");
    assert_eq!(
        outcome(&text, None).unwrap(),
        Outcome::OpenRefused(ErrorCode::NotALedger)
    );
    // create refuses to overwrite any of them.
    let e = Ledger::create(&empty, &CreateOptions::new(ORIGIN)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::AlreadyExists);
}

#[test]
fn another_programs_redb_file_is_not_a_ledger() {
    use redb::{Database, ReadableDatabase, TableDefinition};
    let dir = tempfile::tempdir().unwrap();

    // A redb database with unrelated tables.
    let other = dir.path().join("other.redb");
    {
        let db = Database::create(&other).unwrap();
        let t = db.begin_write().unwrap();
        {
            let users: TableDefinition<&str, u64> = TableDefinition::new("users");
            let mut tbl = t.open_table(users).unwrap();
            for i in 0..500u64 {
                tbl.insert(format!("user-{i}").as_str(), i).unwrap();
            }
        }
        t.commit().unwrap();
    }
    assert_eq!(
        outcome(&other, None).unwrap(),
        Outcome::OpenRefused(ErrorCode::NotALedger)
    );

    // trailseal's table names with other key and value types.
    let typed = dir.path().join("typed.redb");
    {
        let db = Database::create(&typed).unwrap();
        let t = db.begin_write().unwrap();
        {
            let meta: TableDefinition<u64, u64> = TableDefinition::new("trailseal.meta");
            t.open_table(meta).unwrap().insert(1, 2).unwrap();
        }
        t.commit().unwrap();
    }
    assert_eq!(
        outcome(&typed, None).unwrap(),
        Outcome::OpenRefused(ErrorCode::NotALedger)
    );

    // A real ledger whose meta record is garbage, names a future format, or is missing; whose
    // state record is garbage; and one missing a table.
    let b = build(20);
    let real = std::fs::read(&b.path).unwrap();
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("trailseal.meta");
    let variant = |name: &str, f: &dyn Fn(&redb::WriteTransaction)| -> PathBuf {
        let p = write_copy(dir.path(), name, &real);
        let db = Database::open(&p).unwrap();
        let t = db.begin_write().unwrap();
        f(&t);
        t.commit().unwrap();
        p
    };
    let meta_bytes = {
        let db = Database::open(&b.path).unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_table(META).unwrap();
        let v = t.get("meta").unwrap().unwrap().value().to_vec();
        v
    };
    assert_eq!(
        u32::from(meta_bytes[0]),
        trailseal::storage::STORAGE_FORMAT,
        "postcard varint of the storage format"
    );
    let cases: Vec<(&str, PathBuf, Outcome)> = vec![
        (
            "garbage meta",
            variant("garbage-meta.redb", &|t| {
                t.open_table(META)
                    .unwrap()
                    .insert("meta", &[0xff; 3][..])
                    .unwrap();
            }),
            Outcome::OpenRefused(ErrorCode::NotALedger),
        ),
        (
            "future format",
            variant("future.redb", &|t| {
                let mut m = meta_bytes.clone();
                m[0] = 99;
                t.open_table(META)
                    .unwrap()
                    .insert("meta", m.as_slice())
                    .unwrap();
            }),
            Outcome::OpenRefused(ErrorCode::NotALedger),
        ),
        (
            "no meta",
            variant("no-meta.redb", &|t| {
                t.open_table(META).unwrap().remove("meta").unwrap();
            }),
            Outcome::OpenRefused(ErrorCode::NotALedger),
        ),
        (
            "garbage state",
            variant("garbage-state.redb", &|t| {
                t.open_table(META)
                    .unwrap()
                    .insert("state", &[0xff; 2][..])
                    .unwrap();
            }),
            Outcome::OpenRefused(ErrorCode::Tampered),
        ),
        (
            "leaves table deleted",
            variant("no-leaves.redb", &|t| {
                let leaves: TableDefinition<u64, &[u8]> = TableDefinition::new("trailseal.leaves");
                t.delete_table(leaves).unwrap();
            }),
            Outcome::OpenRefused(ErrorCode::NotALedger),
        ),
    ];
    let mut findings = Vec::new();
    for (name, path, want) in cases {
        match outcome(&path, None) {
            Ok(got) if got == want => {}
            Ok(got) => findings.push(format!("{name}: expected {want:?}, got {got:?}")),
            Err(panic) => findings.push(format!("{name}: PANIC {panic}")),
        }
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn a_ledger_open_elsewhere_is_locked() {
    // Exclusive sharing: a handle that has the file excludes every other.
    let b = build(5);
    let exclusive = trailseal::OpenOptions {
        sharing: Some(trailseal::Sharing::Exclusive),
        ..Default::default()
    };
    let first = Ledger::open_with(&b.path, &exclusive).unwrap();
    let e = Ledger::open_with(&b.path, &exclusive).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Locked, "{e}");
    drop(first);
    Ledger::open_with(&b.path, &exclusive).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Self-consistent forgeries: the ledger's own `verify` passes, only an outside checkpoint
// catches them.

/// Rewrite leaf `index` to a forged entry and every node above it, the state root, and (with
/// `resign`, as an insider holding the key would) every checkpoint stored in the ledger, so
/// that the file is consistent with itself.
fn forge_consistently(path: &Path, index: u64, resign: Option<&Signer>) {
    let l = Ledger::open(path).unwrap();
    let size = l.size().unwrap();
    let alg = l.hash();
    let leaves: Vec<Vec<u8>> = (0..size).map(|i| l.get_raw(i).unwrap()).collect();
    let last_time = {
        let v: Value = serde_json::from_slice(&leaves[size as usize - 1]).unwrap();
        Timestamp::parse(v["time"].as_str().unwrap()).unwrap()
    };
    let stored = l.checkpoints().unwrap();
    drop(l);

    // The forged entry keeps its id, time and shape: only what it says changes.
    let mut forged: Value = serde_json::from_slice(&leaves[index as usize]).unwrap();
    forged["actor"]["id"] = "mallory".into();
    forged["subject"]["id"] = "forged".into();
    let forged = entry::canonical_json(&forged);

    let nodes_of = |leaves: &[Vec<u8>]| -> (HashMap<NodeId, Hash>, Vec<Hash>) {
        let mut nodes = HashMap::new();
        let mut roots = vec![alg.empty_root()];
        let mut f = Frontier::new();
        for leaf in leaves {
            f.push(alg, alg.leaf_hash(leaf), |id, h| {
                nodes.insert(id, *h);
            });
            roots.push(f.root(alg));
        }
        (nodes, roots)
    };
    let (before, _) = nodes_of(&leaves);
    let mut new_leaves = leaves.clone();
    new_leaves[index as usize] = forged.clone();
    let (after, roots) = nodes_of(&new_leaves);
    assert_ne!(before, after, "the forgery changes the leaf hash");
    // Only complete tiles are stored: the forger rewrites the stored nodes that change.
    let changed: Vec<(NodeId, Hash)> = after
        .iter()
        .filter(|(id, h)| before.get(id) != Some(h) && is_stored(**id, size))
        .map(|(id, h)| (*id, *h))
        .collect();

    tamper::edit(path, |t| {
        t.set_leaf(index, &forged)?;
        for (id, h) in &changed {
            t.set_node(*id, *h)?;
        }
        t.set_state(&State {
            size,
            root: roots[size as usize],
            last_time,
        })?;
        if let Some(signer) = resign {
            for (seq, cp) in stored.iter().enumerate() {
                let note = Checkpoint::new(ORIGIN, cp.size, roots[cp.size as usize])
                    .sign(signer)
                    .unwrap();
                t.set_checkpoint_note(seq as u64, &note)?;
            }
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_self_consistent_forgery_passes_verify_but_not_an_outside_checkpoint() {
    let b = build(200);
    let verifier = b.signer.verifier();
    // The witness also holds an older checkpoint, from before the forged entry.
    let early = {
        let l = Ledger::open(&b.path).unwrap();
        let root = l.root_at(100).unwrap();
        Checkpoint::new(ORIGIN, 100, root).sign(&b.signer).unwrap()
    };
    forge_consistently(&b.path, 137, Some(&b.signer));

    // The file is consistent with itself: leaves, nodes, state and the re-signed checkpoints.
    let got = outcome(&b.path, None).unwrap();
    assert_eq!(
        got,
        Outcome::Verified(200),
        "the forgery is self-consistent"
    );
    // A checkpoint held elsewhere catches it.
    assert_eq!(
        outcome(&b.path, Some((&b.note, &verifier))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Inconsistent)
    );
    // A checkpoint from before the forged entry cannot: it says nothing about entry 137.
    assert_eq!(
        outcome(&b.path, Some((&early, &verifier))).unwrap(),
        Outcome::Verified(200)
    );
    // The forged entry reads back as forged: nothing flags it short of the checkpoint.
    let l = Ledger::open(&b.path).unwrap();
    assert_eq!(l.get(137).unwrap()["subject"]["id"], "forged");
    // Its inclusion proof verifies against the forged root, not the witnessed one.
    let proof = l.prove_inclusion(137, None).unwrap();
    proof.verify().unwrap();
    let witnessed = Checkpoint::verify(&b.note, &verifier).unwrap();
    assert_ne!(proof.root, witnessed.root);
}

#[test]
fn a_forgery_without_the_key_is_caught_by_the_stored_checkpoints() {
    let b = build(120);
    forge_consistently(&b.path, 30, None);
    let l = Ledger::open(&b.path).unwrap();
    let e = l.verify(&VerifyOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Tampered, "{e}");
    assert!(e.to_string().contains("checkpoint"), "{e}");
}

#[test]
fn rollback_and_fork_are_inconsistent_with_an_outside_checkpoint() {
    let b = build(60);
    let verifier = b.signer.verifier();
    let scratch = tempfile::tempdir().unwrap();
    // Rollback: an old copy of the file, checked against a newer checkpoint.
    let old_copy = scratch.path().join("old.redb");
    std::fs::copy(&b.path, &old_copy).unwrap();
    let l = Ledger::open(&b.path).unwrap();
    l.append_batch(&(60..90).map(entry_json).collect::<Vec<_>>())
        .unwrap();
    let newer = l.checkpoint(&b.signer, None).unwrap();
    drop(l);
    assert_eq!(
        outcome(&old_copy, Some((&newer, &verifier))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Inconsistent)
    );
    // Fork: the old copy grows differently to the same size.
    let fork = Ledger::open(&old_copy).unwrap();
    let other: Vec<Value> = (60..90)
        .map(|n| {
            let mut e = entry_json(n);
            e["subject"]["id"] = format!("fork-{n}").into();
            e
        })
        .collect();
    fork.append_batch(&other).unwrap();
    drop(fork);
    assert_eq!(
        outcome(&old_copy, Some((&newer, &verifier))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Inconsistent)
    );
    // And the outside checkpoint itself must be genuine and for this log.
    let stranger = Signer::from_seed(ORIGIN, [12; 32]).unwrap();
    assert_eq!(
        outcome(&b.path, Some((&newer, &stranger.verifier()))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::VerificationFailed)
    );
    let elsewhere = {
        let s = Signer::from_seed("example.com/elsewhere", [13; 32]).unwrap();
        let note = Checkpoint::new("example.com/elsewhere", 10, [0; 32])
            .sign(&s)
            .unwrap();
        (note, s.verifier())
    };
    assert_eq!(
        outcome(&b.path, Some((&elsewhere.0, &elsewhere.1))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Inconsistent)
    );
    assert_eq!(
        outcome(&b.path, Some(("not a note", &verifier))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Malformed)
    );
    // The genuine ledger passes against its own latest checkpoint.
    assert_eq!(
        outcome(&b.path, Some((&newer, &verifier))).unwrap(),
        Outcome::Verified(90)
    );
}

#[test]
fn sha256_ledger_forgery_is_caught_the_same_way() {
    // The same forgery on a SHA-256 ledger (RFC 6962 hashing), without stored checkpoints.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sha.redb");
    let l = Ledger::create(&path, &CreateOptions::new(ORIGIN).hash(HashAlg::Sha256)).unwrap();
    l.append_batch(&(0..77).map(entry_json).collect::<Vec<_>>())
        .unwrap();
    let signer = Signer::from_seed(ORIGIN, [14; 32]).unwrap();
    let root = l.root().unwrap();
    let note = Checkpoint::new(ORIGIN, 77, root).sign(&signer).unwrap();
    drop(l);
    forge_consistently(&path, 70, None);
    assert_eq!(outcome(&path, None).unwrap(), Outcome::Verified(77));
    assert_eq!(
        outcome(&path, Some((&note, &signer.verifier()))).unwrap(),
        Outcome::VerifyRefused(ErrorCode::Inconsistent)
    );
}

// ---------------------------------------------------------------------------------------------
// The query indexes (posting lists) are not part of the tree: doctoring them must not make
// `query` panic or spin, whatever it returns.

#[test]
fn doctored_posting_lists_neither_panic_nor_hang() {
    use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
    use trailseal::postings::{decode_block, BlockBuilder};
    use trailseal::query::Query;
    const BLOCKS: TableDefinition<(u64, u64, u64), &[u8]> =
        TableDefinition::new("trailseal.posting_blocks");

    let b = build(150);
    // The biggest posting block of the file, decoded.
    let (key, honest) = {
        let db = Database::open(&b.path).unwrap();
        let r = db.begin_read().unwrap();
        let t = r.open_table(BLOCKS).unwrap();
        type Block = ((u64, u64, u64), Vec<(u64, u64)>);
        let mut best: Option<Block> = None;
        for item in t.iter().unwrap() {
            let (k, v) = item.unwrap();
            let k = k.value();
            let ps = decode_block((k.1, k.2), v.value()).unwrap();
            if best.as_ref().is_none_or(|(_, b)| b.len() < ps.len()) {
                best = Some((k, ps));
            }
        }
        best.expect("the ledger has posting blocks")
    };
    let encode = |ps: &[(u64, u64)]| -> Vec<u8> {
        let mut b = BlockBuilder::default();
        for &p in ps {
            b.push(p);
        }
        b.take().map(|(_, v, _)| v).unwrap_or_default()
    };
    let honest_bytes = encode(&honest);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a posting removed", encode(&honest[..honest.len() - 1])),
        ("a posting moved to a leaf beyond the ledger", {
            let mut ps = honest.clone();
            let last = ps.len() - 1;
            ps[last].1 = 1_000_000;
            encode(&ps)
        }),
        (
            "ragged",
            honest_bytes[..honest_bytes.len() / 2 + 1].to_vec(),
        ),
        ("empty", Vec::new()),
        ("garbage", vec![0xff; 40]),
        ("a posting repeated", {
            let mut v = honest_bytes.clone();
            v.extend_from_slice(&[0, 0]);
            v
        }),
    ];
    let actor = |n: u64| format!("user-{n}");
    let scratch = tempfile::tempdir().unwrap();
    let real = std::fs::read(&b.path).unwrap();
    let mut findings = Vec::new();
    for (name, chunk) in cases {
        let p = write_copy(scratch.path(), "postings.redb", &real);
        {
            let db = Database::open(&p).unwrap();
            let t = db.begin_write().unwrap();
            t.open_table(BLOCKS)
                .unwrap()
                .insert(key, chunk.as_slice())
                .unwrap();
            t.commit().unwrap();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let path = p.clone();
        std::thread::spawn(move || {
            let got = guarded(|| {
                let l = Ledger::open(&path).unwrap();
                let mut out = Vec::new();
                for (n, oldest) in (0..8).flat_map(|n| [(n, false), (n, true)]) {
                    let q = Query {
                        actor: Some(actor(n)),
                        order: if oldest {
                            trailseal::query::Order::OldestFirst
                        } else {
                            trailseal::query::Order::NewestFirst
                        },
                        limit: 3,
                        ..Query::default()
                    };
                    // Page through to the end (bounded: a doctored list must not loop).
                    let mut q = q;
                    let mut pages = Vec::new();
                    for _ in 0..50 {
                        match l.query(&q) {
                            Ok(page) => {
                                pages.extend(page.entries.iter().map(|f| f.index));
                                match page.next_cursor {
                                    Some(c) => q.cursor = Some(c),
                                    None => break,
                                }
                            }
                            Err(e) => {
                                pages.push(u64::MAX - e.code().as_u32() as u64);
                                break;
                            }
                        }
                    }
                    out.push(pages);
                }
                let verified = l.verify(&VerifyOptions::default()).map(|r| r.size);
                (out, verified.map_err(|e| e.code()))
            });
            let _ = tx.send(got);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Err(_) => findings.push(format!("posting list {name}: query did not return in 20 s")),
            Ok(Err(panic)) => findings.push(format!("posting list {name}: PANIC {panic}")),
            Ok(Ok((pages, verified))) => {
                eprintln!("posting list {name}: query pages {pages:?}, verify {verified:?}")
            }
        }
        let _ = std::fs::remove_file(&p);
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}
