//! Target `ledger_model`: random sequences of operations on a ledger kept in memory
//! ([`crate::mem::MemDisk`]), checked against a simple model.
//!
//! The model holds the leaf bytes, computes every root with `merkle::Frontier`, and decides
//! from SPEC's rules alone (not by asking trailseal) which entries are refused and why: a
//! missing actor, a bad action, a link to a later entry, an integer beyond 2^53, an entry over
//! the size limit, an `id` already recorded with other fields (`id_conflict`) or with the same
//! ones (the old receipt, nothing written). Batches are all-or-nothing. After every operation
//! the ledger must agree: receipts, sizes, roots at every size, leaf bytes, proofs that verify,
//! checkpoints that verify, `verify` against the latest checkpoint, and all of it again after
//! dropping the handle and reopening the same bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{json, Map, Value};
use trailseal::merkle::{Frontier, Hash, HashAlg};
use trailseal::note::Signer;
use trailseal::{
    Checkpoint, CreateOptions, Durability, ErrorCode, Ledger, Receipt, Timestamp, VerifyOptions,
};

use crate::mem::MemDisk;

const ORIGIN: &str = "fuzz.example/model";

/// What the target has seen since the process started: new leaves, receipts returned for a
/// retried id, refused requests, reopens. Read with [`stats`].
static COUNTS: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

fn count(which: usize) {
    COUNTS[which].fetch_add(1, Ordering::Relaxed);
}

/// A summary of what the target has exercised in this process (for the replay's report).
pub fn stats() -> String {
    let [new, retried, refused, reopens] = &COUNTS;
    format!(
        "{} leaves appended, {} retried-id receipts, {} requests refused, {} reopens",
        new.load(Ordering::Relaxed),
        retried.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        reopens.load(Ordering::Relaxed)
    )
}
const ACTIONS: &[&str] = &["deploy.succeeded", "access.role_granted", "x"];
/// Length of every `time` the ledger writes until the year 9999.
const TIME_PLACEHOLDER: &str = "1970-01-01T00:00:00.000000000Z";

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Payload {
    None,
    Small(u8),
    Pad(u16),
    Text(String),
}

/// What makes an entry invalid (SPEC section 3), if anything.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flaw {
    None,
    NoActor,
    BadAction,
    /// An integer beyond 2^53 in the payload (RFC 8785 numbers are doubles).
    BigInt,
    UnknownField,
}

/// The caller-given fields of a [`Spec`], as the id rule compares them.
type SpecKey = (
    Option<u8>,
    u8,
    u8,
    u8,
    Option<u8>,
    bool,
    Option<u8>,
    Payload,
);

/// An entry, from a small alphabet so that ids and fields collide often.
#[derive(Arbitrary, Debug, Clone)]
struct Spec {
    id: Option<u8>,
    actor: u8,
    action: u8,
    subject: u8,
    /// An absolute index: refused unless earlier than the entry's own index.
    link: Option<u8>,
    git_ref: bool,
    attr: Option<u8>,
    payload: Payload,
    /// Send `"v": 1` (allowed; not part of the id comparison).
    with_v: bool,
    /// One in four entries has a flaw.
    flaw: u8,
}

impl Spec {
    fn flaw(&self) -> Flaw {
        match self.flaw % 16 {
            0 => Flaw::NoActor,
            1 => Flaw::BadAction,
            2 => Flaw::BigInt,
            3 => Flaw::UnknownField,
            _ => Flaw::None,
        }
    }

    /// The caller-given fields that the id rule compares (everything but `v`), reduced the
    /// way [`Spec::json`] reduces them, so that two specs with one JSON have one key.
    fn key(&self) -> SpecKey {
        let payload = match &self.payload {
            Payload::Pad(n) => Payload::Pad(n % 5000),
            other => other.clone(),
        };
        (
            self.id.map(|i| i % 6),
            self.actor % 3,
            self.action % ACTIONS.len() as u8,
            self.subject % 3,
            self.link,
            self.git_ref,
            self.attr.map(|a| a % 3),
            payload,
        )
    }

    fn id(&self) -> Option<String> {
        self.id.map(|i| format!("ev-{}", i % 6))
    }

    fn json(&self) -> Value {
        let flaw = self.flaw();
        let mut e = Map::new();
        if let Some(id) = self.id() {
            e.insert("id".into(), id.into());
        }
        if flaw != Flaw::NoActor {
            let actor = format!("actor-{}", self.actor % 3);
            e.insert("actor".into(), json!({ "id": actor }));
        }
        let action = if flaw == Flaw::BadAction {
            "Deploy"
        } else {
            ACTIONS[self.action as usize % ACTIONS.len()]
        };
        e.insert("action".into(), action.into());
        e.insert(
            "subject".into(),
            json!({"type": "service", "id": format!("svc-{}", self.subject % 3)}),
        );
        let mut links = Vec::new();
        if let Some(l) = self.link {
            links.push(json!({"rel": "after", "index": l}));
        }
        if self.git_ref {
            links.push(json!({"rel": "built_from", "ref": "git:4f2a9c1"}));
        }
        if !links.is_empty() {
            e.insert("links".into(), links.into());
        }
        if let Some(a) = self.attr {
            let env = ["dev", "staging", "prod"][a as usize % 3];
            e.insert("attrs".into(), json!({ "env": env }));
        }
        let payload = match &self.payload {
            Payload::None => None,
            Payload::Small(n) => Some(json!({"n": n})),
            Payload::Pad(n) => Some(json!({"pad": "x".repeat(*n as usize % 5000)})),
            Payload::Text(s) => Some(json!({"text": s})),
        };
        if flaw == Flaw::BigInt {
            e.insert("payload".into(), json!({"big": (1u64 << 53) + 1}));
        } else if let Some(p) = payload {
            e.insert("payload".into(), p);
        }
        if flaw == Flaw::UnknownField {
            e.insert("note".into(), "not a SPEC field".into());
        }
        if self.with_v {
            e.insert("v".into(), 1.into());
        }
        Value::Object(e)
    }

    /// SPEC section 3, for the fields this generator varies.
    fn valid_at(&self, index: u64) -> bool {
        self.flaw() == Flaw::None && self.link.is_none_or(|l| u64::from(l) < index)
    }

    /// The same entry once more, as a retry (`v` toggled, which the id rule ignores); with
    /// `change`, one caller field differs, which makes it a conflict.
    fn again(&self, change: bool) -> Spec {
        let mut s = self.clone();
        s.with_v = !s.with_v;
        if change {
            s.subject = s.subject % 3 + 1;
        }
        s
    }
}

/// The leaf bytes of `value` stamped with `time`: the canonical JSON with `v` and `time`.
fn stamped(value: &Value, time: &str) -> Vec<u8> {
    let mut v = value.clone();
    v["v"] = 1.into();
    v["time"] = time.into();
    trailseal::entry::canonical_json(&v)
}

#[derive(Arbitrary, Debug)]
enum Op {
    Append(Spec),
    Batch(Vec<Spec>),
    /// A batch with one of its entries repeated at its end.
    BatchRepeat(Vec<Spec>, u8),
    /// Append again an entry recorded with an id (`conflict`: with one field changed).
    Retry {
        pick: u8,
        conflict: bool,
    },
    Raw(Vec<u8>),
    RawBatch(Vec<Vec<u8>>),
    Prove {
        index: u64,
        size: Option<u64>,
    },
    Consistency {
        old: u64,
        size: Option<u64>,
    },
    Checkpoint(Option<u64>),
    Get(u64),
    Verify,
    Reopen {
        fast: bool,
    },
    Sync,
}

#[derive(Arbitrary, Debug)]
struct Input {
    sha256: bool,
    raw: bool,
    limit: u8,
    ops: Vec<Op>,
}

/// Mostly a size or index near the tree, sometimes anything.
fn pick(x: u64, size: u64) -> u64 {
    if x >> 63 == 1 {
        x
    } else {
        x % (size + 2)
    }
}

struct Model {
    alg: HashAlg,
    raw: bool,
    max: u64,
    leaves: Vec<Vec<u8>>,
    frontier: Frontier,
    /// roots[s]: the root at size s.
    roots: Vec<Hash>,
    receipts: Vec<Receipt>,
    ids: HashMap<String, (u64, Spec)>,
    last_time: Timestamp,
    checkpoints: Vec<String>,
}

impl Model {
    fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    fn push(&mut self, bytes: Vec<u8>) -> (u64, Hash, Hash) {
        count(0);
        let index = self.size();
        let leaf_hash = self.alg.leaf_hash(&bytes);
        self.frontier.push(self.alg, leaf_hash, |_, _| {});
        let root = self.frontier.root(self.alg);
        self.roots.push(root);
        self.leaves.push(bytes);
        (index, leaf_hash, root)
    }

    /// Check one new receipt and record it.
    fn accept_new(&mut self, value: &Value, r: &Receipt) {
        let time = r.time.expect("an entry receipt carries its time");
        assert!(
            time >= self.last_time,
            "time went backwards: {time} < {}",
            self.last_time
        );
        self.last_time = time;
        let (index, leaf_hash, root) = self.push(stamped(value, &time.to_string()));
        let want = Receipt {
            index,
            leaf_hash,
            tree_size: index + 1,
            root,
            time: Some(time),
        };
        assert_eq!(*r, want, "receipt");
        self.receipts.push(want);
    }
}

/// What the model expects of one entry request: the error code, or per entry either a new
/// leaf or the receipt of an existing one.
enum Expect {
    Refused(ErrorCode),
    Ok(Vec<Option<u64>>),
}

fn expect_entries(m: &Model, specs: &[Spec]) -> Expect {
    let mut size = m.size();
    let mut ids: HashMap<String, (u64, Spec)> = m.ids.clone();
    let mut out = Vec::new();
    for s in specs {
        if !s.valid_at(size) {
            return Expect::Refused(ErrorCode::InvalidEntry);
        }
        if let Some(id) = s.id() {
            if let Some((index, earlier)) = ids.get(&id) {
                if earlier.key() != s.key() {
                    return Expect::Refused(ErrorCode::IdConflict);
                }
                out.push(Some(*index));
                continue;
            }
        }
        if stamped(&s.json(), TIME_PLACEHOLDER).len() as u64 > m.max {
            return Expect::Refused(ErrorCode::InvalidEntry);
        }
        if let Some(id) = s.id() {
            ids.insert(id, (size, s.clone()));
        }
        out.push(None);
        size += 1;
    }
    Expect::Ok(out)
}

fn refused<T: std::fmt::Debug>(got: trailseal::Result<T>, code: ErrorCode, what: &str) {
    count(2);
    match got {
        Err(e) => assert_eq!(e.code(), code, "{what}: {e}"),
        Ok(v) => panic!("{what}: expected {code}, got {v:?}"),
    }
}

fn append_entries(l: &Ledger, m: &mut Model, specs: &[Spec], one: bool) {
    let values: Vec<Value> = specs.iter().map(Spec::json).collect();
    let got = if one {
        l.append(&values[0]).map(|r| vec![r])
    } else {
        l.append_batch(&values)
    };
    if m.raw {
        return refused(got, ErrorCode::WrongKind, "entry into a raw ledger");
    }
    match expect_entries(m, specs) {
        Expect::Refused(code) => refused(got, code, "append"),
        Expect::Ok(plan) => {
            let got = got.unwrap_or_else(|e| panic!("append of {specs:?} refused: {e}"));
            assert_eq!(got.len(), specs.len(), "one receipt per entry");
            for ((s, value), (r, old)) in specs.iter().zip(&values).zip(got.iter().zip(plan)) {
                match old {
                    Some(index) => {
                        count(1);
                        assert_eq!(*r, m.receipts[index as usize], "retried id's receipt")
                    }
                    None => {
                        m.accept_new(value, r);
                        if let Some(id) = s.id() {
                            m.ids.insert(id, (r.index, s.clone()));
                        }
                    }
                }
            }
        }
    }
}

fn append_raw(l: &Ledger, m: &mut Model, leaves: &[Vec<u8>], one: bool) {
    let got = if one {
        l.append_raw(&leaves[0]).map(|r| vec![r])
    } else {
        let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        l.append_raw_batch(&refs)
    };
    if !m.raw {
        return refused(got, ErrorCode::WrongKind, "raw leaf into an entry ledger");
    }
    if leaves.iter().any(|b| b.len() as u64 > m.max) {
        return refused(got, ErrorCode::InvalidArgument, "raw leaf over the limit");
    }
    let got = got.unwrap_or_else(|e| panic!("raw append refused: {e}"));
    assert_eq!(got.len(), leaves.len());
    for (bytes, r) in leaves.iter().zip(&got) {
        let (index, leaf_hash, root) = m.push(bytes.clone());
        let want = Receipt {
            index,
            leaf_hash,
            tree_size: index + 1,
            root,
            time: None,
        };
        assert_eq!(*r, want, "raw receipt");
        m.receipts.push(want);
    }
}

fn check_state(l: &Ledger, m: &Model) {
    assert_eq!(l.size().unwrap(), m.size(), "size");
    assert_eq!(l.root().unwrap(), m.roots[m.leaves.len()], "root");
}

fn open(disk: &MemDisk, fast: bool) -> Ledger {
    let d = if fast {
        Durability::NotDurableUntilSync
    } else {
        Durability::Immediate
    };
    Ledger::open_on(Box::new(disk.clone()), d).unwrap_or_else(|e| panic!("reopen: {e}"))
}

/// The target.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let alg = if input.sha256 {
        HashAlg::Sha256
    } else {
        HashAlg::Blake3
    };
    let max = [400, 4096, 1 << 20][input.limit as usize % 3];
    let mut opts = CreateOptions::new(ORIGIN).hash(alg);
    opts.max_entry_bytes = max;
    if input.raw {
        opts = opts.raw();
    }
    let disk = MemDisk::default();
    let mut l = Ledger::create_on(Box::new(disk.clone()), &opts).expect("create in memory");
    let signer = Signer::from_seed(ORIGIN, [3; 32]).expect("valid name");
    let verifier = signer.verifier();
    let mut m = Model {
        alg,
        raw: input.raw,
        max,
        leaves: Vec::new(),
        frontier: Frontier::new(),
        roots: vec![alg.empty_root()],
        receipts: Vec::new(),
        ids: HashMap::new(),
        last_time: Timestamp::EPOCH,
        checkpoints: Vec::new(),
    };

    for op in input.ops.iter().take(48) {
        let size = m.size();
        match op {
            Op::Append(s) => append_entries(&l, &mut m, std::slice::from_ref(s), true),
            Op::Batch(specs) => {
                let specs = &specs[..specs.len().min(8)];
                if specs.is_empty() {
                    // An empty batch writes nothing and succeeds (or is the wrong kind).
                    let got = l.append_batch(&[]);
                    if m.raw {
                        refused(got, ErrorCode::WrongKind, "empty batch, raw ledger");
                    } else {
                        assert!(got.expect("empty batch").is_empty());
                    }
                } else {
                    append_entries(&l, &mut m, specs, false);
                }
            }
            Op::BatchRepeat(specs, k) => {
                let mut specs = specs[..specs.len().min(7)].to_vec();
                if let Some(s) = specs.get(*k as usize % specs.len().max(1)).cloned() {
                    specs.push(s.again(false));
                    append_entries(&l, &mut m, &specs, false);
                }
            }
            Op::Retry { pick, conflict } => {
                let mut recorded: Vec<&Spec> = m.ids.values().map(|(_, s)| s).collect();
                recorded.sort_by_key(|s| s.id());
                if let Some(s) = recorded.get(*pick as usize % recorded.len().max(1)) {
                    let s = s.again(*conflict);
                    append_entries(&l, &mut m, std::slice::from_ref(&s), true);
                }
            }
            Op::Raw(b) => append_raw(&l, &mut m, std::slice::from_ref(b), true),
            Op::RawBatch(bs) => {
                if !bs.is_empty() {
                    append_raw(&l, &mut m, &bs[..bs.len().min(8)], false);
                }
            }
            Op::Prove { index, size: s } => {
                let index = pick(*index, size);
                let s = s.map(|s| pick(s, size));
                let got = l.prove_inclusion(index, s);
                let s = s.unwrap_or(size);
                if s > size || index >= s {
                    refused(got, ErrorCode::OutOfRange, "inclusion proof out of range");
                } else {
                    let p = got.unwrap_or_else(|e| panic!("prove_inclusion({index}, {s}): {e}"));
                    assert_eq!((p.hash, p.index, p.tree_size), (alg, index, s));
                    assert_eq!(p.leaf_hash, m.receipts[index as usize].leaf_hash);
                    assert_eq!(p.root, m.roots[s as usize]);
                    p.verify().expect("inclusion proof verifies");
                    p.verify_leaf(&m.leaves[index as usize])
                        .expect("with its leaf");
                }
            }
            Op::Consistency { old, size: s } => {
                let old = pick(*old, size);
                let s = s.map(|s| pick(s, size));
                let got = l.prove_consistency(old, s);
                let s = s.unwrap_or(size);
                if s > size || old > s {
                    refused(got, ErrorCode::OutOfRange, "consistency proof out of range");
                } else {
                    let p = got.unwrap_or_else(|e| panic!("prove_consistency({old}, {s}): {e}"));
                    assert_eq!((p.hash, p.old_size, p.new_size), (alg, old, s));
                    assert_eq!(p.old_root, m.roots[old as usize]);
                    assert_eq!(p.new_root, m.roots[s as usize]);
                    p.verify().expect("consistency proof verifies");
                }
            }
            Op::Checkpoint(s) => {
                let s = s.map(|s| pick(s, size));
                let got = l.checkpoint(&signer, s);
                let s = s.unwrap_or(size);
                if s > size {
                    refused(got, ErrorCode::OutOfRange, "checkpoint beyond the tree");
                } else {
                    let note = got.unwrap_or_else(|e| panic!("checkpoint({s}): {e}"));
                    let cp = Checkpoint::verify(&note, &verifier).expect("own checkpoint");
                    assert_eq!(cp, Checkpoint::new(ORIGIN, s, m.roots[s as usize]));
                    m.checkpoints.push(note);
                    let stored = l.checkpoints().unwrap();
                    assert_eq!(stored.len(), m.checkpoints.len());
                    assert_eq!(stored.last().map(|c| &c.note), m.checkpoints.last());
                }
            }
            Op::Get(i) => {
                let i = pick(*i, size);
                let got = l.get_raw(i);
                if i >= size {
                    refused(got, ErrorCode::OutOfRange, "get beyond the tree");
                    refused(l.leaf_hash(i), ErrorCode::OutOfRange, "leaf hash beyond");
                } else {
                    assert_eq!(got.unwrap(), m.leaves[i as usize], "leaf bytes {i}");
                    assert_eq!(l.leaf_hash(i).unwrap(), m.receipts[i as usize].leaf_hash);
                    if !m.raw {
                        let v: Value = serde_json::from_slice(&m.leaves[i as usize]).unwrap();
                        assert_eq!(l.get(i).unwrap(), v);
                    }
                }
                let s = pick(i, size);
                if s <= size {
                    assert_eq!(l.root_at(s).unwrap(), m.roots[s as usize], "root at {s}");
                } else {
                    refused(l.root_at(s), ErrorCode::OutOfRange, "root beyond the tree");
                }
            }
            Op::Verify => {
                let mut opts = VerifyOptions::default();
                if let Some(note) = m.checkpoints.last() {
                    opts = opts.against(note, &verifier);
                }
                let report = l.verify(&opts).unwrap_or_else(|e| panic!("verify: {e}"));
                assert_eq!(report.size, size);
                assert_eq!(report.root, m.roots[size as usize]);
                assert_eq!(report.checkpoints, m.checkpoints.len() as u64);
                assert_eq!(
                    report.external_checkpoint.is_some(),
                    !m.checkpoints.is_empty()
                );
            }
            Op::Reopen { fast } => {
                count(3);
                drop(l);
                l = open(&disk, *fast);
                assert_eq!(l.origin(), ORIGIN);
                assert_eq!(l.hash(), alg);
                assert_eq!(l.max_entry_bytes(), max);
            }
            Op::Sync => l.sync().expect("sync"),
        }
        check_state(&l, &m);
    }
    // Finally the whole ledger, from a fresh handle, as an outsider would check it.
    drop(l);
    let l = open(&disk, false);
    check_state(&l, &m);
    let mut opts = VerifyOptions::default();
    if let Some(note) = m.checkpoints.last() {
        opts = opts.against(note, &verifier);
    }
    l.verify(&opts)
        .unwrap_or_else(|e| panic!("final verify: {e}"));
}

/// What an input decodes to, in words (a debugging aid for choosing and reading seeds): the
/// ledger kind and hash, then the operations, with counts of entries per batch.
pub fn describe(data: &[u8]) -> String {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return "(not enough bytes)".into();
    };
    let ops: Vec<String> = input
        .ops
        .iter()
        .take(48)
        .map(|op| match op {
            Op::Append(_) => "append".into(),
            Op::Batch(b) => format!("batch{}", b.len().min(8)),
            Op::BatchRepeat(b, _) => format!("batchrepeat{}", b.len().min(7)),
            Op::Retry { conflict, .. } => if *conflict { "conflict" } else { "retry" }.into(),
            Op::Raw(_) => "raw".into(),
            Op::RawBatch(b) => format!("rawbatch{}", b.len().min(8)),
            Op::Prove { .. } => "prove".into(),
            Op::Consistency { .. } => "consistency".into(),
            Op::Checkpoint(_) => "checkpoint".into(),
            Op::Get(_) => "get".into(),
            Op::Verify => "verify".into(),
            Op::Reopen { .. } => "reopen".into(),
            Op::Sync => "sync".into(),
        })
        .collect();
    format!(
        "{} {} ledger, limit {}: {}",
        if input.sha256 { "sha256" } else { "blake3" },
        if input.raw { "raw" } else { "entries" },
        [400, 4096, 1 << 20][input.limit as usize % 3],
        ops.join(" ")
    )
}
