//! trailseal next to raw redb and SQLite, on the same machine, in one run, on the same data.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin compare -- [--quick] --json FILE
//! ```
//!
//! Every ledger of every size is built in a child process of this same binary
//! (`compare --child build ...`), so each build's peak resident memory (`VmHWM`) is its own; the
//! proofs and `verify` of a trailseal ledger run in another child (`--child probe`). Durable
//! appends (single and 8 threads) run in the parent. See `benches/README.md` for what each
//! figure means and how it is measured.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use redb::TableDefinition;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use trailseal::{CreateOptions, HashAlg, Ledger, OpenOptions, Sharing, VerifyOptions};
use trailseal_benches::{
    self as tb, as_f64 as f, fmt_eps, human, loadavg, machine, round, summary_us, time_us, TempDir,
    BATCH,
};

mod peers;

type Res<T> = Result<T, Box<dyn Error>>;

const LEAVES: TableDefinition<u64, &[u8]> = TableDefinition::new("leaves");
const ORIGIN: &str = "bench.example/audit";
/// Entries written (in batches, untimed) before the durable-append runs start.
const PREFILL: u64 = 1_000;
const SYSTEMS: [&str; 3] = ["trailseal", "redb", "sqlite"];
/// Cache size of the raw redb floor, if not redb's default (1 GiB): an experiment knob
/// (`--redb-cache-mib`) to show how much of the resident memory is redb's page cache.
static REDB_CACHE_MIB: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// How big and how long each part of a run is.
#[derive(Clone, Debug)]
struct Plan {
    mode: &'static str,
    sizes: Vec<u64>,
    /// Proofs timed per size (after a warm-up of a tenth as many).
    samples: usize,
    /// Single durable appends per system: at most this many ...
    durable_count: u64,
    /// ... and for at most this long.
    durable_secs: f64,
    /// Durable appends from 8 threads, in total, at most ...
    threaded_count: u64,
    /// ... and for at most this long.
    threaded_secs: f64,
    /// The durable runs are split into this many rounds, the systems taking turns.
    rounds: usize,
}

impl Plan {
    fn quick() -> Plan {
        Plan {
            mode: "quick",
            sizes: vec![1_000, 100_000],
            samples: 1_000,
            durable_count: 300,
            durable_secs: 3.0,
            threaded_count: 2_000,
            threaded_secs: 3.0,
            rounds: 1,
        }
    }

    fn full() -> Plan {
        Plan {
            mode: "full",
            sizes: vec![1_000, 1_000_000, 10_000_000],
            samples: 5_000,
            durable_count: 6_000,
            durable_secs: 15.0,
            threaded_count: 24_000,
            threaded_secs: 15.0,
            rounds: 3,
        }
    }
}

struct Args {
    quick: bool,
    peers: bool,
    json: Option<PathBuf>,
    sizes: Option<Vec<u64>>,
    hash: HashAlg,
    dir: Option<PathBuf>,
    child: Option<String>,
    system: String,
    size: u64,
    path: PathBuf,
    samples: usize,
    threads: usize,
    count: u64,
    secs: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: compare [--quick] [--peers] [--json FILE] [--sizes N,N,...] [--hash blake3|sha256] [--dir DIR]\n\
         \n  --quick        sizes 1k and 100k and short durable runs (a smoke run, well under 2 minutes)\n\
         \x20 --peers        also build and run Tessera and immudb beside trailseal (always in full mode; needs Go)\n\
         \x20 --json FILE    write every figure and ratio as JSON\n\
         \x20 --sizes        override the ledger sizes (the first is the 'small' size of the proof targets)\n\
         \x20 --hash         trailseal's tree hash (default blake3, as in the recorded results; new ledgers default to sha256)\n\
         \x20 --dir DIR      where the temporary databases go (default: the system temp dir)\n\
         \x20 --redb-cache-mib N  give the raw redb floor an N MiB page cache instead of redb's 1 GiB default (an experiment)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        quick: false,
        peers: false,
        json: None,
        sizes: None,
        hash: HashAlg::Blake3,
        dir: None,
        child: None,
        system: String::new(),
        size: 0,
        path: PathBuf::new(),
        samples: 0,
        threads: 1,
        count: 0,
        secs: 0.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--peers" => a.peers = true,
            "--json" => a.json = Some(val().into()),
            "--sizes" => {
                let sizes: Option<Vec<u64>> = val()
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().ok())
                    .collect();
                a.sizes = Some(sizes.filter(|s| !s.is_empty()).unwrap_or_else(|| usage()));
            }
            "--hash" => a.hash = val().parse().unwrap_or_else(|_| usage()),
            "--dir" => a.dir = Some(val().into()),
            "--redb-cache-mib" => {
                let _ = REDB_CACHE_MIB.set(val().parse().unwrap_or_else(|_| usage()));
            }
            "--child" => a.child = Some(val()),
            "--system" => a.system = val(),
            "--size" => a.size = val().parse().unwrap_or_else(|_| usage()),
            "--path" => a.path = val().into(),
            "--samples" => a.samples = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => a.threads = val().parse().unwrap_or_else(|_| usage()),
            "--count" => a.count = val().parse().unwrap_or_else(|_| usage()),
            "--secs" => a.secs = val().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    a
}

fn main() {
    let args = parse_args();
    let result = match args.child.as_deref() {
        Some("build") => child_build(&args).map(|v| println!("{v}")),
        Some("probe") => child_probe(&args).map(|v| println!("{v}")),
        Some("durable") => child_durable(&args).map(|v| println!("{v}")),
        Some("verify") => child_verify(&args).map(|v| println!("{v}")),
        Some(_) => usage(),
        None => run(&args),
    };
    if let Err(e) = result {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Children: one build, or the proofs and verify of one trailseal ledger.

/// Bytes on disk of the store at `path`: (file length, allocated blocks). SQLite's WAL file
/// counts too.
fn file_sizes(system: &str, path: &Path) -> Res<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut files = vec![path.to_path_buf()];
    if system == "sqlite" {
        files.push(PathBuf::from(format!("{}-wal", path.display())));
    }
    let (mut len, mut disk) = (0, 0);
    for f in files {
        if let Ok(m) = std::fs::metadata(&f) {
            len += m.len();
            disk += m.blocks() * 512;
        }
    }
    Ok((len, disk))
}

/// Pages redb has allocated in the file (what it would need if it grew a page at a time).
fn redb_used_bytes(path: &Path) -> Res<(u64, u64)> {
    let db = redb::Database::open(path)?;
    let txn = db.begin_write()?;
    let s = txn.stats()?;
    let used = s.allocated_pages() * s.page_size() as u64;
    let stored = s.stored_bytes();
    txn.abort()?;
    Ok((used, stored))
}

fn open_sqlite(path: &Path) -> Res<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, chain BLOB NOT NULL)",
    )?;
    Ok(conn)
}

/// `SHA-256(prev || leaf)`: the hash chain a team would hand-roll.
fn chain(prev: &[u8; 32], leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(leaf);
    h.finalize().into()
}

/// An append-only store under test: trailseal, or one of its floors.
enum Store {
    Trailseal(Box<Ledger>),
    Redb(redb::Database, u64),
    Sqlite(rusqlite::Connection, [u8; 32], u64),
}

impl Store {
    fn create(system: &str, path: &Path, hash: HashAlg) -> Res<Store> {
        Ok(match system {
            // Exclusive, as the raw redb and SQLite floors are: this program measures the work
            // per entry against them; `share` measures what sharing the file with other
            // processes (the default, two fsyncs per commit) costs on top.
            "trailseal" => Store::Trailseal(Box::new(Ledger::create(path, &{
                let mut o = CreateOptions::new(ORIGIN).hash(hash);
                o.sharing = Some(Sharing::Exclusive);
                o
            })?)),
            "redb" | "redb_group" => {
                let mut builder = redb::Builder::new();
                if let Some(&mib) = REDB_CACHE_MIB.get() {
                    builder.set_cache_size(mib << 20);
                }
                let db = builder.create(path)?;
                let txn = db.begin_write()?;
                txn.open_table(LEAVES)?;
                txn.commit()?;
                Store::Redb(db, 0)
            }
            "sqlite" => Store::Sqlite(open_sqlite(path)?, [0; 32], 0),
            other => return Err(format!("unknown system {other}").into()),
        })
    }

    /// Append entries `[start, start + n)` of the stream in one durable commit; returns the
    /// seconds spent appending (making the input is not counted).
    fn append(&mut self, start: u64, n: usize) -> Res<f64> {
        match self {
            Store::Trailseal(ledger) => {
                let values = tb::entries(start, n);
                let t = Instant::now();
                ledger.append_batch(&values)?;
                Ok(t.elapsed().as_secs_f64())
            }
            Store::Redb(db, next) => {
                let leaves = tb::leaves(start, n);
                let t = Instant::now();
                let mut txn = db.begin_write()?;
                txn.set_durability(redb::Durability::Immediate)?;
                {
                    let mut table = txn.open_table(LEAVES)?;
                    for leaf in &leaves {
                        table.insert(*next, leaf.as_slice())?;
                        *next += 1;
                    }
                }
                txn.commit()?;
                Ok(t.elapsed().as_secs_f64())
            }
            Store::Sqlite(conn, prev, next) => {
                let leaves = tb::leaves(start, n);
                let t = Instant::now();
                let tx = conn.transaction()?;
                {
                    let mut stmt =
                        tx.prepare("INSERT INTO log (idx, leaf, chain) VALUES (?1, ?2, ?3)")?;
                    for leaf in &leaves {
                        let c = chain(prev, leaf);
                        stmt.execute(rusqlite::params![*next as i64, leaf, &c[..]])?;
                        *prev = c;
                        *next += 1;
                    }
                }
                tx.commit()?;
                Ok(t.elapsed().as_secs_f64())
            }
        }
    }
}

/// Build a store of `size` entries in batches of [`BATCH`], one durable commit each.
fn child_build(a: &Args) -> Res<Value> {
    let mut store = Store::create(&a.system, &a.path, a.hash)?;
    let mut secs = 0.0;
    let mut rss_curve = Vec::new();
    let step = (a.size / 10).max(1);
    let mut next_mark = step;
    let mut done = 0u64;
    while done < a.size {
        let n = (a.size - done).min(BATCH as u64) as usize;
        secs += store.append(done, n)?;
        done += n as u64;
        if done >= next_mark || done == a.size {
            rss_curve.push(json!([
                done,
                round(tb::proc_status_mib("VmRSS:").unwrap_or(0.0), 1)
            ]));
            next_mark += step;
        }
    }
    drop(store);
    // Peak resident memory of the whole build, read before anything else touches the file.
    let peak = tb::peak_rss_mib();
    let (file_len, disk_bytes) = file_sizes(&a.system, &a.path)?;
    let mut out = json!({
        "system": a.system,
        "entries": a.size,
        "append_secs": secs,
        "eps": a.size as f64 / secs,
        "file_len": file_len,
        "disk_bytes": disk_bytes,
        "peak_rss_mib": peak,
        "rss_curve_mib": rss_curve,
    });
    if a.system != "sqlite" {
        let (used, stored) = redb_used_bytes(&a.path)?;
        out["used_bytes"] = used.into();
        out["stored_bytes"] = stored.into();
    }
    Ok(out)
}

/// Proof latencies at random indices, then one full `verify`, of the ledger at `path`.
fn child_probe(a: &Args) -> Res<Value> {
    let ledger = Ledger::open_with(
        &a.path,
        &OpenOptions {
            sharing: Some(Sharing::Exclusive),
            ..OpenOptions::default()
        },
    )?;
    let size = ledger.size()?;
    let mut rng = tb::Rng::new(0x5eed ^ size);
    // Warm up redb's page cache and the code paths, as a long-running process would be.
    for _ in 0..a.samples / 10 {
        let i = rng.below(size);
        ledger.prove_inclusion(i, None)?.verify()?;
        ledger
            .prove_consistency(1 + rng.below(size), None)?
            .verify()?;
    }
    let (mut incl, mut cons, mut vincl, mut vcons) = (vec![], vec![], vec![], vec![]);
    for _ in 0..a.samples {
        let (p, us) = time_us(|| ledger.prove_inclusion(rng.below(size), None));
        let p = p?;
        incl.push(us);
        let (r, us) = time_us(|| p.verify());
        r?;
        vincl.push(us);
        let (p, us) = time_us(|| ledger.prove_consistency(1 + rng.below(size), None));
        let p = p?;
        cons.push(us);
        let (r, us) = time_us(|| p.verify());
        r?;
        vcons.push(us);
    }
    let peak_before_verify = tb::peak_rss_mib();
    let t = Instant::now();
    let report = ledger.verify(&VerifyOptions::default())?;
    let verify_secs = t.elapsed().as_secs_f64();
    Ok(json!({
        "size": size,
        "prove_inclusion_us": summary_us(incl),
        "prove_consistency_us": summary_us(cons),
        "verify_inclusion_us": summary_us(vincl),
        "verify_consistency_us": summary_us(vcons),
        "verify_secs": verify_secs,
        "verify_eps": report.size as f64 / verify_secs,
        "peak_rss_mib_proofs": peak_before_verify,
        "peak_rss_mib_verify": tb::peak_rss_mib(),
    }))
}

/// One full `verify` of the ledger at `path`, in a fresh process.
fn child_verify(a: &Args) -> Res<Value> {
    let ledger = Ledger::open_with(
        &a.path,
        &OpenOptions {
            sharing: Some(Sharing::Exclusive),
            ..OpenOptions::default()
        },
    )?;
    let t = Instant::now();
    let report = ledger.verify(&VerifyOptions::default())?;
    let secs = t.elapsed().as_secs_f64();
    Ok(json!({"entries": report.size, "secs": secs, "eps": report.size as f64 / secs}))
}

// ---------------------------------------------------------------------------------------------
// Durable appends.

fn child_durable(a: &Args) -> Res<Value> {
    let (n, eps) = durable_run(&a.system, &a.path, a.hash, a.threads, a.count, a.secs)?;
    Ok(json!({"system": a.system, "threads": a.threads, "appends": n, "eps": eps}))
}

/// Prefill `system` with [`PREFILL`] entries, then append single entries, one durable commit
/// each, from `threads` threads sharing one handle, until `count` are done or `secs` pass.
/// Returns (entries appended, entries per second).
fn durable_run(
    system: &str,
    path: &Path,
    hash: HashAlg,
    threads: usize,
    count: u64,
    secs: f64,
) -> Res<(u64, f64)> {
    let mut store = Store::create(system, path, hash)?;
    store.append(0, PREFILL as usize)?;
    // The durable stream reuses the entries 0, 1, 2, ...: their links point at indexes below
    // the prefill, so they stay valid whatever order concurrent appends land in.
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let warmup = 20;
    let shared = match store {
        Store::Trailseal(l) => Shared::Trailseal(l),
        Store::Redb(db, next) if system == "redb_group" => Shared::RedbGroup(
            db,
            Mutex::new(GroupState {
                next_key: next,
                ..GroupState::default()
            }),
            Condvar::new(),
        ),
        Store::Redb(db, next) => Shared::Redb(db, AtomicU64::new(next)),
        Store::Sqlite(conn, prev, next) => Shared::Sqlite(Mutex::new((conn, prev, next))),
    };
    for k in 0..warmup {
        shared.append_one(k)?;
    }
    let t = Instant::now();
    let done = tb::run_claimed(threads, count, deadline, &AtomicBool::new(false), |k| {
        shared.append_one(warmup + k)
    });
    let elapsed = t.elapsed().as_secs_f64();
    let done = done?;
    Ok((done, done as f64 / elapsed))
}

/// A store shared by appending threads.
enum Shared {
    Trailseal(Box<Ledger>),
    /// The database and the next key (each commit reads and bumps it inside its transaction).
    Redb(redb::Database, AtomicU64),
    /// A hand-rolled SQLite log: one connection behind a mutex, with its last chain value.
    Sqlite(Mutex<(rusqlite::Connection, [u8; 32], u64)>),
    /// Raw redb with a textbook leader/follower group commit (a reference for what group
    /// commit can reach on this storage; see [`GroupState`]).
    RedbGroup(redb::Database, Mutex<GroupState>, Condvar),
}

/// Leader/follower group commit: each caller queues its leaf under a ticket; whoever finds no
/// commit running becomes the leader, takes everything queued, commits it with the lock
/// released, then publishes how far is durable and wakes the waiters. Followers wait on the
/// condition variable for their ticket, never on the write itself.
#[derive(Default)]
struct GroupState {
    pending: Vec<Vec<u8>>,
    next_ticket: u64,
    durable_below: u64,
    leader: bool,
    next_key: u64,
}

impl Shared {
    fn append_one(&self, k: u64) -> Res<()> {
        match self {
            Shared::Trailseal(ledger) => {
                let v = tb::entry_json(k);
                ledger.append(&v)?;
            }
            Shared::Redb(db, next) => {
                let leaf = tb::leaf_bytes(k);
                let mut txn = db.begin_write()?;
                txn.set_durability(redb::Durability::Immediate)?;
                {
                    let mut table = txn.open_table(LEAVES)?;
                    // Only one write transaction exists at a time, so this is race-free.
                    let key = next.fetch_add(1, Ordering::SeqCst);
                    table.insert(key, leaf.as_slice())?;
                }
                txn.commit()?;
            }
            Shared::RedbGroup(db, state, cv) => {
                let mut g = state.lock().map_err(|_| "poisoned")?;
                let ticket = g.next_ticket;
                g.next_ticket += 1;
                g.pending.push(tb::leaf_bytes(k));
                while g.durable_below <= ticket {
                    if g.leader {
                        g = cv.wait(g).map_err(|_| "poisoned")?;
                        continue;
                    }
                    g.leader = true;
                    let batch = std::mem::take(&mut g.pending);
                    let (upto, mut key) = (g.next_ticket, g.next_key);
                    drop(g);
                    let committed = (|| -> Res<()> {
                        let mut txn = db.begin_write()?;
                        txn.set_durability(redb::Durability::Immediate)?;
                        {
                            let mut table = txn.open_table(LEAVES)?;
                            for leaf in &batch {
                                table.insert(key, leaf.as_slice())?;
                                key += 1;
                            }
                        }
                        txn.commit()?;
                        Ok(())
                    })();
                    g = state.lock().map_err(|_| "poisoned")?;
                    g.leader = false;
                    cv.notify_all();
                    committed?;
                    g.next_key = key;
                    g.durable_below = upto;
                }
            }
            Shared::Sqlite(m) => {
                let leaf = tb::leaf_bytes(k);
                let mut g = m.lock().map_err(|_| "poisoned")?;
                let (conn, prev, next) = &mut *g;
                let c = chain(prev, &leaf);
                let tx = conn.transaction()?;
                tx.execute(
                    "INSERT INTO log (idx, leaf, chain) VALUES (?1, ?2, ?3)",
                    rusqlite::params![*next as i64, &leaf, &c[..]],
                )?;
                tx.commit()?;
                *prev = c;
                *next += 1;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The parent: plan, children, durable runs, JSON and the table.

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn spawn_child(args: &[String]) -> Res<Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(args);
    if let Some(mib) = REDB_CACHE_MIB.get() {
        cmd.args(["--redb-cache-mib".to_string(), mib.to_string()]);
    }
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("child {args:?} failed: {}", out.status).into());
    }
    let text = String::from_utf8(out.stdout)?;
    Ok(serde_json::from_str(text.trim())?)
}

fn run(args: &Args) -> Res<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let mut plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    if let Some(sizes) = &args.sizes {
        plan.sizes = sizes.clone();
    }
    let tmp = TempDir::new(args.dir.as_deref())?;
    eprintln!(
        "compare: {} mode, sizes {:?}, trailseal hash {}, temp dir {}",
        plan.mode,
        plan.sizes,
        args.hash,
        tmp.0.display()
    );
    let hash = args.hash.name().to_string();

    // Builds and probes, each in its own process.
    let mut builds: BTreeMap<(u64, &str), Value> = BTreeMap::new();
    let mut probes: BTreeMap<u64, Value> = BTreeMap::new();
    for &size in &plan.sizes {
        for system in SYSTEMS {
            let path = tmp.0.join(format!("{system}-{size}.db"));
            eprint!("compare: build {system:9} {:>5} ... ", human(size));
            let r = spawn_child(&[
                "--child".into(),
                "build".into(),
                "--system".into(),
                system.into(),
                "--size".into(),
                size.to_string(),
                "--path".into(),
                path.display().to_string(),
                "--hash".into(),
                hash.clone(),
            ])?;
            eprintln!(
                "{:>9.0} entries/s, {:.1} bytes/entry, peak {:.0} MiB",
                f(&r["eps"]),
                f(&r["file_len"]) / size as f64,
                f(&r["peak_rss_mib"])
            );
            builds.insert((size, system), r);
            if system == "trailseal" {
                eprint!("compare: probe trailseal {:>5} ... ", human(size));
                let p = spawn_child(&[
                    "--child".into(),
                    "probe".into(),
                    "--path".into(),
                    path.display().to_string(),
                    "--samples".into(),
                    plan.samples.to_string(),
                ])?;
                eprintln!(
                    "inclusion p50 {:.1} us, verify {:.0} entries/s",
                    f(&p["prove_inclusion_us"]["p50"]),
                    f(&p["verify_eps"])
                );
                probes.insert(size, p);
            }
            remove_store(&path);
        }
    }

    // Durable appends: fsync latency drifts on a shared machine, so the systems take turns,
    // round after round, and each figure is the median of its rounds.
    let mut rounds: BTreeMap<(usize, &str), Vec<f64>> = BTreeMap::new();
    // One durable child: `system` appending from `threads` threads, a round's share of
    // `count` appends or `secs`; its entries per second and appends.
    let durable_child = |system: &str, threads: usize, count: u64, secs: f64| -> Res<Value> {
        let path = tmp.0.join(format!("{system}-durable-{threads}.db"));
        let r = spawn_child(&[
            "--child".into(),
            "durable".into(),
            "--system".into(),
            system.into(),
            "--path".into(),
            path.display().to_string(),
            "--hash".into(),
            hash.clone(),
            "--threads".into(),
            threads.to_string(),
            "--count".into(),
            (count / plan.rounds as u64).to_string(),
            "--secs".into(),
            (secs / plan.rounds as f64).to_string(),
        ]);
        remove_store(&path);
        r
    };
    // A discarded warm-up run first: whichever run came first right after the builds was
    // the slowest of its system's rounds in most full runs (trailseal's, since it goes first).
    eprint!("compare: durable warm-up (discarded) ... ");
    let r = durable_child("trailseal", 1, plan.durable_count, plan.durable_secs)?;
    eprintln!("{:.0} entries/s", f(&r["eps"]));
    for round_no in 0..plan.rounds {
        let mut runs = Vec::new();
        for system in SYSTEMS {
            runs.push((system, 1, plan.durable_count, plan.durable_secs));
            runs.push((system, 8, plan.threaded_count, plan.threaded_secs));
        }
        runs.push(("redb_group", 8, plan.threaded_count, plan.threaded_secs));
        for (system, threads, count, secs) in runs {
            eprint!(
                "compare: durable {system:9} {threads} thread(s), round {} ... ",
                round_no + 1
            );
            let r = durable_child(system, threads, count, secs)?;
            let eps = f(&r["eps"]);
            eprintln!("{eps:.0} entries/s ({} appends)", r["appends"]);
            rounds.entry((threads, system)).or_default().push(eps);
        }
    }
    let median_of = |threads: usize| -> Map<String, Value> {
        rounds
            .iter()
            .filter(|((t, _), _)| *t == threads)
            .map(|((_, s), v)| {
                let mut v = v.clone();
                v.sort_by(f64::total_cmp);
                (s.to_string(), round(v[v.len() / 2], 1).into())
            })
            .collect()
    };
    let durable = median_of(1);
    let threaded = median_of(8);
    let rounds_of = |threads: usize| -> Map<String, Value> {
        rounds
            .iter()
            .filter(|((t, _), _)| *t == threads)
            .map(|((_, s), v)| (s.to_string(), json!(v)))
            .collect()
    };
    let durable_rounds = json!({
        "append_durable": rounds_of(1),
        "append_durable_8_threads": rounds_of(8),
    });

    // Side by side: trailseal's two tree hashes and (with --peers, or in full mode) Tessera
    // and immudb, at the largest size up to 1M, in rounds.
    let side_size = plan
        .sizes
        .iter()
        .copied()
        .filter(|&s| s <= 1_000_000)
        .max()
        .unwrap_or(plan.sizes[0]);
    let side = peers::run(&peers::PeerPlan {
        size: side_size,
        rounds: plan.rounds,
        durable_count: plan.durable_count,
        durable_secs: plan.durable_secs,
        peers: args.peers || !args.quick,
        tmp: &tmp.0,
    })?;

    let load_after = loadavg();
    let mut report = assemble(
        &plan,
        &hash,
        &builds,
        &probes,
        durable,
        threaded,
        durable_rounds,
        json!({"before": load_before, "after": load_after}),
        started.elapsed().as_secs_f64(),
    );
    report["peers"] = side;
    print_table(&report);
    peers::print_table(&report["peers"]);
    tb::write_json("compare", args.json.as_deref(), &report)?;
    Ok(())
}

fn by_size(sizes: &[u64], mut get: impl FnMut(u64) -> Value) -> Value {
    Value::Object(sizes.iter().map(|&s| (s.to_string(), get(s))).collect())
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    plan: &Plan,
    hash: &str,
    builds: &BTreeMap<(u64, &str), Value>,
    probes: &BTreeMap<u64, Value>,
    durable: Map<String, Value>,
    threaded: Map<String, Value>,
    durable_rounds: Value,
    load: Value,
    secs: f64,
) -> Value {
    let sizes = &plan.sizes;
    let small = sizes[0];
    let largest = *sizes.last().unwrap_or(&small);
    // The "1 million" point of the proof-growth target: 1M if the run has it, else the
    // largest size up to 1M (quick mode: 100k), else the largest.
    let mid = sizes
        .iter()
        .copied()
        .filter(|&s| s <= 1_000_000)
        .max()
        .unwrap_or(largest);
    let b = |size: u64, system: &str, key: &str| f(&builds[&(size, system)][key]);

    let eps_at = |size: u64| {
        json!({
            "trailseal": round(b(size, "trailseal", "eps"), 1),
            "redb": round(b(size, "redb", "eps"), 1),
            "sqlite": round(b(size, "sqlite", "eps"), 1),
        })
    };
    let append_batch = eps_at(largest);
    let probe_stat = |key: &str| {
        by_size(sizes, |s| {
            let p = &probes[&s][key];
            json!({"p50": p["p50"], "p99": p["p99"]})
        })
    };
    // The leaves are the same bytes in every store; trailseal's count is the stored bytes
    // redb reports minus the tiles (32 bytes per node, about 2 per leaf) — so take the
    // generator's own mean instead, over the first 100k entries (a stationary stream).
    let sample = largest.min(100_000);
    let leaf_total: usize = (0..sample).map(|i| tb::leaf_bytes(i).len()).sum();
    let leaf_bytes = leaf_total as f64 / sample as f64;
    let bpe =
        |system: &str, key: &str| by_size(sizes, |s| round(b(s, system, key) / s as f64, 1).into());
    let bytes_per_entry = bpe("trailseal", "file_len");
    let rss = |system: &str| by_size(sizes, |s| round(b(s, system, "peak_rss_mib"), 1).into());

    let ts_batch = f(&append_batch["trailseal"]);
    // A durable ratio is the median over the rounds of the two figures of the same round,
    // measured minutes apart at most: fsync latency drifts with the load of the machine,
    // and dividing medians taken separately could pair one system's slow round with the
    // other's fast one.
    let paired = |(ka, a): (&str, &str), (kb, b): (&str, &str)| -> f64 {
        let of = |k: &str, s: &str| -> Vec<f64> {
            durable_rounds[k][s]
                .as_array()
                .map(|v| v.iter().map(f).collect())
                .unwrap_or_default()
        };
        let mut r: Vec<f64> = of(ka, a)
            .iter()
            .zip(of(kb, b))
            .map(|(x, y)| x / y)
            .collect();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let (single, eight) = ("append_durable", "append_durable_8_threads");
    let budget = 1.25 * leaf_bytes + 64.0;
    let bpe_largest = b(largest, "trailseal", "file_len") / largest as f64;
    let used_largest = b(largest, "trailseal", "used_bytes") / largest as f64;
    let growth = |key: &str, q: &str| f(&probes[&mid][key][q]) / f(&probes[&small][key][q]);
    let verify_eps = f(&probes[&largest]["verify_eps"]);
    let rss_small = b(small, "trailseal", "peak_rss_mib");
    let rss_mid = b(mid, "trailseal", "peak_rss_mib");
    let rss_largest = b(largest, "trailseal", "peak_rss_mib");

    let mut ratios = Map::new();
    let mut put = |k: &str, v: f64| {
        ratios.insert(k.into(), round(v, 3).into());
    };
    put("append_batch_vs_redb", ts_batch / f(&append_batch["redb"]));
    put(
        "append_batch_vs_sqlite",
        ts_batch / f(&append_batch["sqlite"]),
    );
    put(
        "append_durable_vs_redb",
        paired((single, "trailseal"), (single, "redb")),
    );
    put(
        "append_durable_vs_sqlite",
        paired((single, "trailseal"), (single, "sqlite")),
    );
    put(
        "append_durable_8_threads_vs_single",
        paired((eight, "trailseal"), (single, "trailseal")),
    );
    put(
        "append_durable_8_threads_vs_redb",
        paired((eight, "trailseal"), (eight, "redb")),
    );
    put(
        "append_durable_8_threads_vs_redb_group",
        paired((eight, "trailseal"), (eight, "redb_group")),
    );
    put(
        "redb_group_8_threads_vs_redb_single",
        paired((eight, "redb_group"), (single, "redb")),
    );
    put(
        "append_durable_8_threads_vs_sqlite",
        paired((eight, "trailseal"), (eight, "sqlite")),
    );
    put(
        "prove_inclusion_p50_growth",
        growth("prove_inclusion_us", "p50"),
    );
    put(
        "prove_inclusion_p99_growth",
        growth("prove_inclusion_us", "p99"),
    );
    put(
        "prove_consistency_p50_growth",
        growth("prove_consistency_us", "p50"),
    );
    put(
        "prove_consistency_p99_growth",
        growth("prove_consistency_us", "p99"),
    );
    put(
        "verify_proof_p50_growth",
        growth("verify_inclusion_us", "p50"),
    );
    put("verify_eps_vs_target", verify_eps / 2e6);
    put("bytes_per_entry_vs_budget", bpe_largest / budget);
    put("bytes_per_entry_used_vs_budget", used_largest / budget);
    put("bytes_per_entry_vs_leaf", bpe_largest / leaf_bytes);
    put(
        "bytes_per_entry_vs_redb",
        bpe_largest / (b(largest, "redb", "file_len") / largest as f64),
    );
    put(
        "bytes_per_entry_vs_sqlite",
        bpe_largest / (b(largest, "sqlite", "file_len") / largest as f64),
    );
    put(
        "redb_bytes_per_entry_vs_leaf",
        b(largest, "redb", "file_len") / largest as f64 / leaf_bytes,
    );
    put("peak_rss_growth_vs_smallest", rss_largest / rss_small);
    put("peak_rss_growth_vs_mid", rss_largest / rss_mid);
    put(
        "peak_rss_vs_redb",
        rss_largest / b(largest, "redb", "peak_rss_mib"),
    );

    let r = |k: &str| f(&ratios[k]);
    let target = |name: &str, ratio: &str, op: &str, threshold: f64| {
        let x = r(ratio);
        let pass = if op == ">=" {
            x >= threshold
        } else {
            x <= threshold
        };
        json!({"target": name, "ratio": ratio, "measured": x, "op": op, "threshold": threshold, "pass": pass})
    };
    let mid_label = human(mid);
    let mut targets = vec![
        target(
            "batch appends >= 0.5x raw redb",
            "append_batch_vs_redb",
            ">=",
            0.5,
        ),
        target(
            "batch appends >= 2x SQLite",
            "append_batch_vs_sqlite",
            ">=",
            2.0,
        ),
        target(
            "durable single appends >= 0.8x raw redb",
            "append_durable_vs_redb",
            ">=",
            0.8,
        ),
        target(
            "8 concurrent durable appenders >= 4x one",
            "append_durable_8_threads_vs_single",
            ">=",
            4.0,
        ),
        target(
            &format!("inclusion proof p50 grows <= 3x from 1k to {mid_label}"),
            "prove_inclusion_p50_growth",
            "<=",
            3.0,
        ),
        target(
            &format!("inclusion proof p99 grows <= 3x from 1k to {mid_label}"),
            "prove_inclusion_p99_growth",
            "<=",
            3.0,
        ),
        target(
            &format!("consistency proof p50 grows <= 3x from 1k to {mid_label}"),
            "prove_consistency_p50_growth",
            "<=",
            3.0,
        ),
        target(
            &format!("consistency proof p99 grows <= 3x from 1k to {mid_label}"),
            "prove_consistency_p99_growth",
            "<=",
            3.0,
        ),
        target("verify >= 2M entries/s", "verify_eps_vs_target", ">=", 1.0),
        target(
            "file <= 1.25x leaf bytes + 64 B/entry (file length)",
            "bytes_per_entry_vs_budget",
            "<=",
            1.0,
        ),
        target(
            &format!(
                "memory flat as the ledger grows (peak RSS at {} <= 1.5x at {})",
                human(largest),
                human(small)
            ),
            "peak_rss_growth_vs_smallest",
            "<=",
            1.5,
        ),
    ];
    // The same from the middle size on (full mode): the page cache is bounded (64 MiB), so
    // resident memory rises until it is full and is flat after that.
    if mid != largest {
        targets.push(target(
            &format!(
                "memory flat once the page cache is full (peak RSS at {} <= 1.5x at {})",
                human(largest),
                human(mid)
            ),
            "peak_rss_growth_vs_mid",
            "<=",
            1.5,
        ));
    }

    json!({
        "mode": plan.mode,
        "machine": machine(),
        "load_average": load,
        "duration_s": round(secs, 1),
        "hash": hash,
        "redb_cache_mib": REDB_CACHE_MIB.get().map_or(Value::Null, |&m| m.into()),
        "sizes": sizes,
        "batch_size": BATCH,
        "append_batch": append_batch,
        "append_batch_by_size": by_size(sizes, eps_at),
        "append_durable": Value::Object(durable),
        "append_durable_8_threads": Value::Object(threaded),
        "append_durable_rounds": durable_rounds,
        "prove_inclusion_us": probe_stat("prove_inclusion_us"),
        "prove_consistency_us": probe_stat("prove_consistency_us"),
        "verify_proof_us": probe_stat("verify_inclusion_us"),
        "verify_consistency_proof_us": probe_stat("verify_consistency_us"),
        "verify_eps": round(verify_eps, 0),
        "verify_eps_by_size": by_size(sizes, |s| round(f(&probes[&s]["verify_eps"]), 0).into()),
        "leaf_bytes": round(leaf_bytes, 1),
        "bytes_per_entry": bytes_per_entry,
        "bytes_per_entry_used": bpe("trailseal", "used_bytes"),
        "bytes_per_entry_disk": bpe("trailseal", "disk_bytes"),
        "bytes_per_entry_floor": {
            "redb": bpe("redb", "file_len"),
            "redb_used": bpe("redb", "used_bytes"),
            "sqlite": bpe("sqlite", "file_len"),
        },
        "peak_rss_mib": rss("trailseal"),
        "peak_rss_mib_floor": {"redb": rss("redb"), "sqlite": rss("sqlite")},
        "peak_rss_mib_verify": by_size(sizes, |s| round(f(&probes[&s]["peak_rss_mib_verify"]), 1).into()),
        "rss_curve_mib": by_size(sizes, |s| builds[&(s, "trailseal")]["rss_curve_mib"].clone()),
        "ratios": ratios,
        "targets": targets,
        "method": {
            "data": "deterministic audit entries (actor with role and sometimes via, action, subject, authz on ~1/3, an index link and a git ref link, attrs, a small payload); redb and SQLite get the same leaf bytes (trailseal's canonical encoding with a fixed time of the same length)",
            "append_batch": format!("entries/s while building the {}-entry store from empty in batches of {BATCH}, one durable commit each; only the append calls are timed (making the input is not); every build runs in its own child process", human(largest)),
            "append_durable": format!("single appends, one durable commit each, after a {PREFILL}-entry prefill and 20 warm-up appends; up to {} appends or {} s per system, split into {} rounds in which the systems take turns, after one discarded warm-up run; the median round (a ratio of two durable figures is the median over the rounds of the ratio within each round)", plan.durable_count, plan.durable_secs, plan.rounds),
            "append_durable_8_threads": format!("8 threads sharing one handle (trailseal: one Ledger; redb: one Database, a write transaction per append; SQLite: one connection behind a mutex; redb_group: raw redb behind a textbook leader/follower group commit, a reference for what group commit can reach on this storage), up to {} appends in total or {} s, in the same rounds", plan.threaded_count, plan.threaded_secs),
            "proofs": format!("{} proofs at random indices (consistency: random old size) against the current size, after {} warm-up proofs, in a fresh process that opened the ledger; verify_proof_us is InclusionProof::verify", plan.samples, plan.samples / 10),
            "verify_eps": format!("Ledger::verify over the whole ledger, entries/s; the headline is the {} ledger", human(largest)),
            "bytes_per_entry": "file length right after the last commit and close, divided by entries; *_used counts only the pages redb has allocated (its file grows in doubling steps, so the length overstates the data by up to 2x); *_disk counts allocated blocks; SQLite counts the db and -wal files",
            "peak_rss_mib": "VmHWM of the child process that built the store (trailseal: all of it, including redb's page cache, up to 1 GiB by default)",
        },
    })
}

fn print_table(r: &Value) {
    let sizes: Vec<u64> = r["sizes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    println!(
        "\ntrailseal comparison ({} mode, tree hash {}, {} s) on {}",
        r["mode"].as_str().unwrap_or(""),
        r["hash"].as_str().unwrap_or(""),
        r["duration_s"],
        tb::machine_line(r),
    );
    let ratio = |k: &str| f(&r["ratios"][k]);
    println!("\n| appends (entries/s) | trailseal | redb | sqlite | vs redb | vs sqlite |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let largest = sizes.last().copied().unwrap_or(0);
    for (label, key, rr, rs) in [
        (
            format!("batch of {BATCH} ({} build)", human(largest)),
            "append_batch",
            "append_batch_vs_redb",
            "append_batch_vs_sqlite",
        ),
        (
            "durable single".into(),
            "append_durable",
            "append_durable_vs_redb",
            "append_durable_vs_sqlite",
        ),
        (
            "durable single, 8 threads".into(),
            "append_durable_8_threads",
            "append_durable_8_threads_vs_redb",
            "append_durable_8_threads_vs_sqlite",
        ),
    ] {
        let v = &r[key];
        println!(
            "| {label} | {} | {} | {} | {:.2}x | {:.2}x |",
            fmt_eps(f(&v["trailseal"])),
            fmt_eps(f(&v["redb"])),
            fmt_eps(f(&v["sqlite"])),
            ratio(rr),
            ratio(rs)
        );
    }
    for &s in &sizes[..sizes.len().saturating_sub(1)] {
        let v = &r["append_batch_by_size"][s.to_string()];
        println!(
            "| batch of {BATCH} ({} build) | {} | {} | {} | {:.2}x | {:.2}x |",
            human(s),
            fmt_eps(f(&v["trailseal"])),
            fmt_eps(f(&v["redb"])),
            fmt_eps(f(&v["sqlite"])),
            f(&v["trailseal"]) / f(&v["redb"]),
            f(&v["trailseal"]) / f(&v["sqlite"]),
        );
    }
    println!(
        "\n8 threads vs 1 (trailseal group commit): {:.2}x. Reference: raw redb with a textbook \
         leader/follower group commit, 8 threads: {} entries/s = {:.2}x raw redb single",
        ratio("append_durable_8_threads_vs_single"),
        fmt_eps(f(&r["append_durable_8_threads"]["redb_group"])),
        ratio("redb_group_8_threads_vs_redb_single"),
    );

    let head: Vec<String> = sizes.iter().map(|&s| human(s)).collect();
    println!("\n| trailseal, per size | {} |", head.join(" | "));
    println!("| --- |{}", " ---: |".repeat(sizes.len()));
    let row = |label: &str, get: &dyn Fn(&str) -> String| {
        let cells: Vec<String> = sizes.iter().map(|s| get(&s.to_string())).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    for (label, key) in [
        ("prove inclusion p50 / p99 (us)", "prove_inclusion_us"),
        ("prove consistency p50 / p99 (us)", "prove_consistency_us"),
        ("verify inclusion proof p50 / p99 (us)", "verify_proof_us"),
        (
            "verify consistency proof p50 / p99 (us)",
            "verify_consistency_proof_us",
        ),
    ] {
        row(label, &|s| {
            format!("{:.1} / {:.1}", f(&r[key][s]["p50"]), f(&r[key][s]["p99"]))
        });
    }
    row("verify (entries/s)", &|s| {
        fmt_eps(f(&r["verify_eps_by_size"][s]))
    });
    row("bytes/entry: file length", &|s| {
        format!("{:.0}", f(&r["bytes_per_entry"][s]))
    });
    row("bytes/entry: redb pages in use", &|s| {
        format!("{:.0}", f(&r["bytes_per_entry_used"][s]))
    });
    row("raw redb bytes/entry: file / in use", &|s| {
        format!(
            "{:.0} / {:.0}",
            f(&r["bytes_per_entry_floor"]["redb"][s]),
            f(&r["bytes_per_entry_floor"]["redb_used"][s])
        )
    });
    row("SQLite bytes/entry (db + wal)", &|s| {
        format!("{:.0}", f(&r["bytes_per_entry_floor"]["sqlite"][s]))
    });
    row("peak RSS while appending (MiB)", &|s| {
        format!("{:.0}", f(&r["peak_rss_mib"][s]))
    });
    row("raw redb / SQLite peak RSS (MiB)", &|s| {
        format!(
            "{:.0} / {:.0}",
            f(&r["peak_rss_mib_floor"]["redb"][s]),
            f(&r["peak_rss_mib_floor"]["sqlite"][s])
        )
    });
    row("peak RSS during verify (MiB)", &|s| {
        format!("{:.0}", f(&r["peak_rss_mib_verify"][s]))
    });
    println!(
        "\nmean leaf: {} bytes; budget 1.25 x leaf + 64 = {:.0} bytes/entry",
        r["leaf_bytes"],
        1.25 * f(&r["leaf_bytes"]) + 64.0
    );

    tb::print_targets(&r["targets"]);
}
