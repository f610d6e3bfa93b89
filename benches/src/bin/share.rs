//! What sharing one ledger between processes costs: trailseal's sharing modes side by side, in
//! one run, on the same data.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin share -- [--quick] [--json FILE]
//! ```
//!
//! Three measurements (`benches/README.md`, "Sharing modes"):
//! 1. durable single appends from 4 processes at once (the default sharing, auto)
//!    against 4 threads of one process sharing one handle (its group commit);
//! 2. `Ledger::get` of a random committed index through a read-only handle in another process,
//!    while a writer process appends batches of 1,000, against the same on an idle ledger;
//! 3. one process appending, in each mode: durable single appends and batches of 1,000.
//!
//! Every appender and reader is a child process of this binary (`share --role append|read`),
//! so each starts as a fresh process with its own page cache, as a real one would. The durable
//! figures take turns in rounds, and a ratio is the median of the ratios within each round:
//! fsync latency on a shared machine drifts by several times within minutes.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use trailseal::{CreateOptions, Ledger, OpenOptions, Sharing};
use trailseal_benches::{
    self as tb, as_f64 as f, fmt_eps, human, loadavg, machine, round, time_us, TempDir, BATCH,
};

type Res<T> = Result<T, Box<dyn Error>>;

const ORIGIN: &str = "bench.example/share";
/// Entries in the ledger every append run starts from (as in `compare`'s durable runs).
const PREFILL: u64 = 1_000;
/// Appenders at once, as processes or as threads.
const PROCS: usize = 4;
/// Single appends before an appender is timed (batches: 2).
const WARMUP_SINGLE: u64 = 20;
/// Distinct entries an appender cycles through. Made before the clock starts, so a batch's
/// input is not timed; entry `j` of the stream links only below `j`, and the `k`-th entry an
/// appender submits is pool entry `k % POOL <= k`, which lands at index `PREFILL + k` or later
/// (less up to `threads - 1` in flight), so every link stays valid.
const POOL: usize = 8_192;
/// The modes of measurement 3; `None` is the default (auto for durable handles: exclusive
/// while the process is alone with the file, as it is in this measurement).
const MODES: [(&str, Option<Sharing>); 4] = [
    ("exclusive", Some(Sharing::Exclusive)),
    ("single_writer", Some(Sharing::SingleWriter)),
    ("multi_writer", Some(Sharing::MultiWriter)),
    ("auto", None),
];
/// The reader's runs: name, the reader's sharing, and where a writer process appends (none;
/// the reader's ledger; another copy of it, which costs the machine's CPU and disk as much
/// but gives the reader no commit to follow).
const READER_RUNS: [(&str, &str, Option<bool>); 4] = [
    ("idle", "default", None),
    ("idle_exclusive", "exclusive", None),
    ("busy", "default", Some(true)),
    ("busy_elsewhere", "default", Some(false)),
];

/// How long each part of a run is.
#[derive(Clone, Debug)]
struct Plan {
    mode: &'static str,
    /// Every durable measurement is split into this many rounds, the contenders taking turns.
    rounds: usize,
    /// Seconds of one round of 4 processes, and of 4 threads.
    concurrent_secs: f64,
    /// Seconds of one round of single appends by one process, per mode.
    single_secs: f64,
    /// Batches of [`BATCH`] per round and mode (at most [`Plan::batch_secs`]).
    batches: u64,
    batch_secs: f64,
    /// Entries in the ledger the reader reads.
    reader_prefill: u64,
    /// Seconds of `get` calls per reader run.
    reader_secs: f64,
}

impl Plan {
    fn quick() -> Plan {
        Plan {
            mode: "quick",
            rounds: 1,
            concurrent_secs: 3.0,
            single_secs: 1.5,
            batches: 40,
            batch_secs: 2.0,
            reader_prefill: 50_000,
            reader_secs: 1.5,
        }
    }

    fn full() -> Plan {
        // More, shorter rounds rather than fewer long ones: fsync latency here swings by up to
        // 10x within a minute, and only figures of the same round are divided.
        Plan {
            mode: "full",
            rounds: 5,
            concurrent_secs: 4.0,
            single_secs: 3.0,
            batches: 300,
            batch_secs: 3.0,
            reader_prefill: 1_000_000,
            reader_secs: 3.0,
        }
    }
}

#[derive(Default)]
struct Args {
    quick: bool,
    json: Option<PathBuf>,
    dir: Option<PathBuf>,
    role: Option<String>,
    path: PathBuf,
    sharing: Option<Sharing>,
    threads: usize,
    batch: usize,
    count: u64,
    secs: f64,
    go: bool,
    until_eof: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: share [--quick] [--json FILE] [--dir DIR]\n\
         \n  --quick        one round of short runs (a smoke run, about 30 s)\n\
         \x20 --json FILE    write every figure and ratio as JSON\n\
         \x20 --dir DIR      where the temporary ledgers go (default: the system temp dir)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        threads: 1,
        batch: 1,
        count: u64::MAX,
        secs: 600.0,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--json" => a.json = Some(val().into()),
            "--dir" => a.dir = Some(val().into()),
            "--role" => a.role = Some(val()),
            "--path" => a.path = val().into(),
            "--sharing" => {
                a.sharing = match val().as_str() {
                    "default" => None,
                    s => Some(s.parse().unwrap_or_else(|_| usage())),
                }
            }
            "--threads" => a.threads = val().parse().unwrap_or_else(|_| usage()),
            "--batch" => a.batch = val().parse().unwrap_or_else(|_| usage()),
            "--count" => a.count = val().parse().unwrap_or_else(|_| usage()),
            "--secs" => a.secs = val().parse().unwrap_or_else(|_| usage()),
            "--go" => a.go = true,
            "--until-eof" => a.until_eof = true,
            _ => usage(),
        }
    }
    // Batches from several threads could submit an entry whose link is not yet in the ledger
    // (see POOL); no measurement needs them.
    if a.threads == 0 || a.batch == 0 || (a.threads > 1 && a.batch > 1) {
        usage()
    }
    a
}

fn main() {
    let args = parse_args();
    let result = match args.role.as_deref() {
        Some("append") => role_append(&args).map(|v| println!("{v}")),
        Some("read") => role_read(&args).map(|v| println!("{v}")),
        // For experiments by hand: a ledger of --count entries to run the other roles on.
        Some("make") => make_template(&args.path, args.count),
        Some(_) => usage(),
        None => run(&args),
    };
    if let Err(e) = result {
        eprintln!("share: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Children.

fn unix_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(f64::NAN, |d| d.as_secs_f64())
}

/// With `--go`: say `ready` and wait for the parent's line, so that appenders in several
/// processes start together, each already open and warm.
fn wait_for_go(a: &Args) -> Res<()> {
    if a.go {
        println!("ready");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
    }
    Ok(())
}

/// Open the ledger at `--path` with `--sharing`, then append from `--threads` threads sharing
/// the handle, `--batch` entries per durable commit, until `--count` commits are done, `--secs`
/// pass, or (with `--until-eof`) the parent closes stdin.
fn role_append(a: &Args) -> Res<Value> {
    let ledger = Ledger::open_with(
        &a.path,
        &OpenOptions {
            sharing: a.sharing,
            // Another process may be opening or closing the file (exclusive mode only).
            wait: Some(Duration::from_secs(30)),
            ..OpenOptions::default()
        },
    )?;
    let pool = tb::entries(0, POOL);
    let batch = a.batch;
    let submit = |call: u64| -> trailseal::Result<()> {
        let first = call as usize * batch;
        if batch == 1 {
            ledger.append(&pool[first % POOL])?;
        } else {
            let entries: Vec<Value> = (first..first + batch)
                .map(|k| pool[k % POOL].clone())
                .collect();
            ledger.append_batch(&entries)?;
        }
        Ok(())
    };
    let warmup = if batch == 1 { WARMUP_SINGLE } else { 2 };
    for c in 0..warmup {
        submit(c)?;
    }
    wait_for_go(a)?;
    // Set when the parent closes an `--until-eof` appender's stdin.
    static STOP: AtomicBool = AtomicBool::new(false);
    if a.until_eof {
        std::thread::spawn(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            STOP.store(true, Ordering::Release);
        });
    }
    let started_unix = unix_secs();
    let t = Instant::now();
    let deadline = t + Duration::from_secs_f64(a.secs);
    let calls = tb::run_claimed(a.threads, a.count, deadline, &STOP, |c| submit(warmup + c));
    let secs = t.elapsed().as_secs_f64();
    let ended_unix = unix_secs();
    let entries = calls? * batch as u64;
    Ok(json!({
        "sharing": a.sharing.map_or("default", Sharing::name),
        "threads": a.threads,
        "batch": batch,
        "entries": entries,
        "secs": secs,
        "eps": entries as f64 / secs,
        "started_unix": started_unix,
        "ended_unix": ended_unix,
    }))
}

/// Open the ledger at `--path` read-only and time `Ledger::get` of random indexes below the
/// size it saw at open (committed before the reader started), one call at a time, for `--secs`.
fn role_read(a: &Args) -> Res<Value> {
    let ledger = Ledger::open_with(
        &a.path,
        &OpenOptions {
            read_only: true,
            sharing: a.sharing,
            ..OpenOptions::default()
        },
    )?;
    let size = ledger.size()?;
    let mut rng = tb::Rng::new(0x5eed ^ size);
    // Warm the page cache and the code paths, as a long-running reader would be.
    for _ in 0..1_000 {
        ledger.get(rng.below(size))?;
    }
    let mut us = Vec::with_capacity(1 << 20);
    let deadline = Instant::now() + Duration::from_secs_f64(a.secs);
    while Instant::now() < deadline && (us.len() as u64) < a.count {
        let (r, t) = time_us(|| ledger.get(rng.below(size)));
        r?;
        us.push(t);
    }
    let size_after = ledger.size()?;
    us.sort_by(f64::total_cmp);
    let q = |p: f64| round(tb::percentile(&us, p), 2);
    Ok(json!({
        "size_at_open": size,
        // What the writer committed meanwhile, as this handle saw it: it followed every commit.
        "followed_entries": size_after - size,
        "samples": us.len(),
        "p50": q(50.0),
        "p90": q(90.0),
        "p99": q(99.0),
        "p999": q(99.9),
        "max": q(100.0),
    }))
}

// ---------------------------------------------------------------------------------------------
// The parent.

/// A child of this binary: `--role ...` with stdin and stdout piped.
struct Child {
    proc: std::process::Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
    args: Vec<String>,
}

impl Child {
    fn spawn(args: Vec<String>) -> Res<Child> {
        let mut proc = Command::new(std::env::current_exe()?)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = proc.stdin.take();
        let out = BufReader::new(proc.stdout.take().ok_or("no stdout")?);
        Ok(Child {
            proc,
            stdin,
            out,
            args,
        })
    }

    fn ready(&mut self) -> Res<()> {
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(format!("child {:?} did not get ready: {line:?}", self.args).into());
        }
        Ok(())
    }

    fn go(&mut self) -> Res<()> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "go")?;
        stdin.flush()?;
        Ok(())
    }

    /// Closes its stdin (which stops an `--until-eof` appender) and returns its JSON.
    fn finish(mut self) -> Res<Value> {
        drop(self.stdin.take());
        let mut text = String::new();
        self.out.read_to_string(&mut text)?;
        let status = self.proc.wait()?;
        if !status.success() {
            return Err(format!("child {:?} failed: {status}", self.args).into());
        }
        let last = text.lines().last().ok_or("child printed nothing")?;
        Ok(serde_json::from_str(last)?)
    }
}

fn appender(
    path: &Path,
    sharing: Option<Sharing>,
    threads: usize,
    batch: usize,
    count: u64,
    secs: f64,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["--role".into(), "append".into()];
    args.extend(["--path".into(), path.display().to_string()]);
    args.extend([
        "--sharing".into(),
        sharing.map_or("default", Sharing::name).into(),
    ]);
    args.extend(["--threads".into(), threads.to_string()]);
    args.extend(["--batch".into(), batch.to_string()]);
    args.extend(["--count".into(), count.to_string()]);
    args.extend(["--secs".into(), secs.to_string()]);
    args
}

/// Create a ledger of `n` entries (batches of [`BATCH`]) at `path`.
fn make_template(path: &Path, n: u64) -> Res<()> {
    let ledger = Ledger::create(
        path,
        &CreateOptions {
            sharing: Some(Sharing::Exclusive),
            ..CreateOptions::new(ORIGIN)
        },
    )?;
    let mut done = 0;
    while done < n {
        let k = (n - done).min(BATCH as u64) as usize;
        ledger.append_batch(&tb::entries(done, k))?;
        done += k as u64;
    }
    Ok(())
}

/// A fresh copy of `template` at `to`, on disk before any run starts: otherwise the first
/// fsync of the run would also write out the whole copy.
fn fresh_copy(template: &Path, to: &Path) -> Res<()> {
    let _ = std::fs::remove_file(to);
    std::fs::copy(template, to)?;
    std::fs::File::open(to)?.sync_all()?;
    Ok(())
}

/// The median of `v` (NaN if empty).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median over rounds of `a[i] / b[i]`: the two were measured in the same round, minutes
/// apart at most, so their quotient is not skewed by the machine's drift between rounds.
fn paired(a: &[f64], b: &[f64]) -> f64 {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&r)
}

fn run(args: &Args) -> Res<()> {
    let started = Instant::now();
    let load_before = loadavg();
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let tmp = TempDir::new(args.dir.as_deref())?;
    eprintln!(
        "share: {} mode, {} round(s), temp dir {}",
        plan.mode,
        plan.rounds,
        tmp.0.display()
    );
    let small = tmp.0.join("template-small.redb");
    let large = tmp.0.join("template-reader.redb");
    let work = tmp.0.join("run.redb");
    let other = tmp.0.join("other.redb");
    make_template(&small, PREFILL)?;
    eprint!(
        "share: reader's ledger of {} entries ... ",
        human(plan.reader_prefill)
    );
    let t = Instant::now();
    make_template(&large, plan.reader_prefill)?;
    eprintln!("{:.1} s", t.elapsed().as_secs_f64());

    // The series each figure's rounds go into, by key.
    let mut series: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut put = |k: &str, v: f64| series.entry(k.to_string()).or_default().push(v);
    let mut readers: Vec<(String, Value)> = Vec::new();
    let mut per_process: Vec<Value> = Vec::new();

    // A discarded warm-up first: the first durable run after the ledgers were built was the
    // slowest of its kind in most runs of `compare`.
    fresh_copy(&small, &work)?;
    let w = Child::spawn(appender(&work, None, 1, 1, u64::MAX, 0.5))?.finish()?;
    eprintln!(
        "share: durable warm-up (discarded) ... {:.0} entries/s",
        f(&w["eps"])
    );

    for round_no in 0..plan.rounds {
        let r = round_no + 1;
        // 3. One process, each mode: single durable appends, then batches; each round starts
        // with another mode.
        for (kind, batch, count, secs) in [
            ("single", 1, u64::MAX, plan.single_secs),
            ("batch", BATCH, plan.batches, plan.batch_secs),
        ] {
            for m in 0..MODES.len() {
                let (name, sharing) = MODES[(m + round_no) % MODES.len()];
                fresh_copy(&small, &work)?;
                let v = Child::spawn(appender(&work, sharing, 1, batch, count, secs))?.finish()?;
                eprintln!(
                    "share: round {r}: {kind:6} appends, {name:13} {:>7.0} entries/s",
                    f(&v["eps"])
                );
                put(&format!("{kind}.{name}"), f(&v["eps"]));
            }
        }

        // 1. Four processes against four threads (in the default sharing, which holds the file
        // alone, and in multi-writer, which the processes share it in), taking turns at going
        // first.
        for c in 0..3 {
            let contender = (c + round_no) % 3;
            fresh_copy(&small, &work)?;
            if contender == 0 {
                let mut children = Vec::new();
                for _ in 0..PROCS {
                    let mut a = appender(&work, None, 1, 1, u64::MAX, plan.concurrent_secs);
                    a.push("--go".into());
                    children.push(Child::spawn(a)?);
                }
                for c in &mut children {
                    c.ready()?;
                }
                for c in &mut children {
                    c.go()?;
                }
                let outs: Vec<Value> = children
                    .into_iter()
                    .map(Child::finish)
                    .collect::<Res<_>>()?;
                // Entries over the span from the first start to the last end.
                let from = outs
                    .iter()
                    .map(|o| f(&o["started_unix"]))
                    .fold(f64::MAX, f64::min);
                let to = outs
                    .iter()
                    .map(|o| f(&o["ended_unix"]))
                    .fold(f64::MIN, f64::max);
                let entries: f64 = outs.iter().map(|o| f(&o["entries"])).sum();
                let eps = entries / (to - from);
                let each: Vec<f64> = outs.iter().map(|o| round(f(&o["eps"]), 1)).collect();
                eprintln!(
                    "share: round {r}: {PROCS} processes  {eps:>7.0} entries/s (each: {each:?})"
                );
                put("concurrent.processes", eps);
                per_process.push(json!({"round": r, "eps": eps, "each_eps": each}));
            } else {
                let (sharing, key) = match contender {
                    1 => (None, "threads"),
                    _ => (Some(Sharing::MultiWriter), "threads_shared"),
                };
                let v = Child::spawn(appender(
                    &work,
                    sharing,
                    PROCS,
                    1,
                    u64::MAX,
                    plan.concurrent_secs,
                ))?
                .finish()?;
                eprintln!(
                    "share: round {r}: {PROCS} {key:<15} {:>7.0} entries/s",
                    f(&v["eps"])
                );
                put(&format!("concurrent.{key}"), f(&v["eps"]));
            }
        }

        // 2. A reader on an idle ledger, and beside a writer process appending batches; each
        // round starts at another of the four runs.
        for k in 0..READER_RUNS.len() {
            let (which, reader_sharing, writer_on) =
                READER_RUNS[(k + round_no) % READER_RUNS.len()];
            fresh_copy(&large, &work)?;
            let reader = vec![
                "--role".into(),
                "read".into(),
                "--path".into(),
                work.display().to_string(),
                "--sharing".into(),
                reader_sharing.into(),
                "--secs".into(),
                plan.reader_secs.to_string(),
            ];
            let (v, writer) = match writer_on {
                None => (Child::spawn(reader)?.finish()?, None),
                Some(same) => {
                    let target = if same { work.clone() } else { other.clone() };
                    if !same {
                        fresh_copy(&large, &target)?;
                    }
                    let mut a = appender(&target, None, 1, BATCH, u64::MAX, 600.0);
                    a.extend(["--go".into(), "--until-eof".into()]);
                    let mut w = Child::spawn(a)?;
                    w.ready()?;
                    w.go()?;
                    let v = Child::spawn(reader)?.finish()?;
                    (v, Some(w.finish()?))
                }
            };
            eprintln!(
                "share: round {r}: reader, {which:14} get p50 {} us, p99 {} us ({} samples{})",
                v["p50"],
                v["p99"],
                v["samples"],
                writer.as_ref().map_or(String::new(), |w| format!(
                    "; writer {:.0} entries/s, reader followed {} entries",
                    f(&w["eps"]),
                    v["followed_entries"]
                ))
            );
            for q in ["p50", "p90", "p99", "p999", "max"] {
                put(&format!("reader.{which}.{q}"), f(&v[q]));
            }
            if let Some(w) = &writer {
                put(&format!("reader.{which}.writer_eps"), f(&w["eps"]));
            }
            readers.push((format!("round {r} {which}"), v));
        }
    }

    let report = assemble(
        &plan,
        &series,
        readers,
        per_process,
        json!({"before": load_before, "after": loadavg()}),
        started.elapsed().as_secs_f64(),
    );
    print_table(&report);
    tb::write_json("share", args.json.as_deref(), &report)?;
    Ok(())
}

fn assemble(
    plan: &Plan,
    series: &std::collections::BTreeMap<String, Vec<f64>>,
    readers: Vec<(String, Value)>,
    per_process: Vec<Value>,
    load: Value,
    secs: f64,
) -> Value {
    let s = |k: &str| series.get(k).map_or(&[][..], Vec::as_slice);
    let med = |k: &str| round(median(s(k)), 1);
    let by_mode = |kind: &str| -> Map<String, Value> {
        MODES
            .iter()
            .map(|(m, _)| (m.to_string(), med(&format!("{kind}.{m}")).into()))
            .collect()
    };
    let reader = |which: &str| -> Value {
        ["p50", "p90", "p99", "p999", "max", "writer_eps"]
            .iter()
            .filter(|q| series.contains_key(&format!("reader.{which}.{q}")))
            .map(|q| (q.to_string(), med(&format!("reader.{which}.{q}")).into()))
            .collect::<Map<String, Value>>()
            .into()
    };

    let mut ratios = Map::new();
    let mut ratio = |k: &str, a: &str, b: &str| {
        ratios.insert(k.into(), round(paired(s(a), s(b)), 3).into());
    };
    ratio(
        "processes_vs_threads",
        "concurrent.processes",
        "concurrent.threads",
    );
    ratio(
        "processes_vs_threads_shared",
        "concurrent.processes",
        "concurrent.threads_shared",
    );
    ratio(
        "processes_vs_one_process",
        "concurrent.processes",
        "single.auto",
    );
    ratio("threads_vs_one_thread", "concurrent.threads", "single.auto");
    for kind in ["single", "batch"] {
        ratio(
            &format!("{kind}_default_vs_exclusive"),
            &format!("{kind}.auto"),
            &format!("{kind}.exclusive"),
        );
        ratio(
            &format!("{kind}_multi_writer_vs_exclusive"),
            &format!("{kind}.multi_writer"),
            &format!("{kind}.exclusive"),
        );
        ratio(
            &format!("{kind}_single_writer_vs_exclusive"),
            &format!("{kind}.single_writer"),
            &format!("{kind}.exclusive"),
        );
    }
    for q in ["p50", "p99"] {
        for (a, b) in [
            ("busy", "idle"),
            ("busy", "busy_elsewhere"),
            ("busy_elsewhere", "idle"),
            ("idle", "idle_exclusive"),
        ] {
            ratio(
                &format!("reader_{q}_{a}_vs_{b}"),
                &format!("reader.{a}.{q}"),
                &format!("reader.{b}.{q}"),
            );
        }
    }

    let target = |name: &str, key: &str, threshold: f64| {
        let x = f(&ratios[key]);
        json!({"target": name, "ratio": key, "measured": x, "op": ">=", "threshold": threshold, "pass": x >= threshold})
    };
    let targets = vec![
        target(
            "4 processes appending >= 0.5x 4 threads of one process",
            "processes_vs_threads",
            0.5,
        ),
        target(
            "durable single appends, default (auto) >= 0.9x exclusive",
            "single_default_vs_exclusive",
            0.9,
        ),
        target(
            "batch appends, default (auto) >= 0.9x exclusive",
            "batch_default_vs_exclusive",
            0.9,
        ),
    ];
    let rounds: Map<String, Value> = series.iter().map(|(k, v)| (k.clone(), json!(v))).collect();

    json!({
        "mode": plan.mode,
        "machine": machine(),
        "load_average": load,
        "duration_s": round(secs, 1),
        "rounds": plan.rounds,
        "processes": PROCS,
        "batch_size": BATCH,
        "concurrent": {
            "processes": med("concurrent.processes"),
            "threads": med("concurrent.threads"),
            "threads_shared": med("concurrent.threads_shared"),
            "by_round": per_process,
        },
        "single": by_mode("single"),
        "batch": by_mode("batch"),
        "reader_us": {
            "idle": reader("idle"),
            "idle_exclusive": reader("idle_exclusive"),
            "busy": reader("busy"),
            "busy_elsewhere": reader("busy_elsewhere"),
            "ledger_entries": plan.reader_prefill,
            "runs": Map::from_iter(readers),
        },
        "series": rounds,
        "ratios": ratios,
        "targets": targets,
        "method": {
            "every_run": format!("a child process of this binary opens a fresh copy of a ledger made beforehand (exclusive mode, batches of {BATCH}, then fsync'd); every append is durable (Durability::Immediate); the input entries are made before the clock starts; {} round(s) in which the contenders take turns, after one discarded warm-up run; a figure is the median of its rounds, a ratio the median over rounds of the ratio within each round", plan.rounds),
            "concurrent": format!("{PROCS} processes, each opening the {PREFILL}-entry ledger with the default sharing (auto: the first holds it alone until the others open it, then all share it as multi-writer, committing through the relay) and appending single entries, one durable commit each; all open and warm ({WARMUP_SINGLE} appends each) before a common start; {} s each; entries of all over the span from the first start to the last end. Against: one process, {PROCS} threads sharing one handle, single appends (the group commit gathers them), {} s, in the default sharing (the file alone: exclusive) and in multi-writer (shared, as the processes have it)", plan.concurrent_secs, plan.concurrent_secs),
            "single": format!("one process, one thread, single durable appends for {} s after {WARMUP_SINGLE} warm-up appends, on the {PREFILL}-entry ledger; per mode (auto: sharing left to the default)", plan.single_secs),
            "batch": format!("one process, batches of {BATCH} (append_batch, one durable commit each), {} batches or {} s after 2 warm-up batches, per mode", plan.batches, plan.batch_secs),
            "reader_us": format!("Ledger::get of a uniformly random index below the size at open, each call timed alone, for {} s after 1,000 warm-up calls, in a process with a read-only handle (default sharing) on a {}-entry ledger; idle: no other process; idle_exclusive: the same with the reader in exclusive sharing (the read path without the shared modes' per-transaction header read and locks); busy: a writer process (default sharing) appending batches of {BATCH} to the reader's ledger as fast as it can, started and warm before the reader opens; busy_elsewhere: the same writer appending to another copy of the ledger (as much CPU and disk, no commits for the reader to follow)", plan.reader_secs, human(plan.reader_prefill)),
        },
    })
}

fn print_table(r: &Value) {
    println!(
        "\ntrailseal sharing modes ({} mode, {} round(s), {} s) on {}",
        r["mode"].as_str().unwrap_or(""),
        r["rounds"],
        r["duration_s"],
        tb::machine_line(r),
    );
    let ratio = |k: &str| f(&r["ratios"][k]);
    println!("\n| durable single appends, {PROCS} at once | entries/s |");
    println!("| --- | ---: |");
    println!(
        "| {PROCS} processes (default sharing) | {} |",
        fmt_eps(f(&r["concurrent"]["processes"]))
    );
    println!(
        "| {PROCS} threads, one handle (group commit; default sharing: the file alone) | {} |",
        fmt_eps(f(&r["concurrent"]["threads"]))
    );
    println!(
        "| {PROCS} threads, one handle, multi-writer (the file shared, as the processes have it) | {} |",
        fmt_eps(f(&r["concurrent"]["threads_shared"]))
    );
    println!(
        "\nprocesses / threads: {:.2}x (threads multi-writer: {:.2}x); {PROCS} processes / one process alone: {:.2}x; {PROCS} threads / one: {:.2}x",
        ratio("processes_vs_threads"),
        ratio("processes_vs_threads_shared"),
        ratio("processes_vs_one_process"),
        ratio("threads_vs_one_thread"),
    );

    println!("\n| one process (entries/s) | exclusive | single-writer | multi-writer | auto (default) | default / exclusive | multi-writer / exclusive | single-writer / exclusive |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (label, kind) in [
        ("durable single".to_string(), "single"),
        (format!("batch of {BATCH}"), "batch"),
    ] {
        let v = &r[kind];
        println!(
            "| {label} | {} | {} | {} | {} | {:.2}x | {:.2}x | {:.2}x |",
            fmt_eps(f(&v["exclusive"])),
            fmt_eps(f(&v["single_writer"])),
            fmt_eps(f(&v["multi_writer"])),
            fmt_eps(f(&v["auto"])),
            ratio(&format!("{kind}_default_vs_exclusive")),
            ratio(&format!("{kind}_multi_writer_vs_exclusive")),
            ratio(&format!("{kind}_single_writer_vs_exclusive")),
        );
    }

    let rd = &r["reader_us"];
    println!(
        "\n| `Ledger::get` in a read-only process, {} entries (us) | p50 | p90 | p99 | p99.9 | max |",
        human(rd["ledger_entries"].as_u64().unwrap_or(0))
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let writer = |which: &str| fmt_eps(f(&rd[which]["writer_eps"]));
    for (label, which) in [
        ("idle ledger".to_string(), "idle"),
        (
            "idle ledger, reader in exclusive sharing".to_string(),
            "idle_exclusive",
        ),
        (
            format!(
                "beside a writer process appending to it ({} entries/s in batches of {BATCH})",
                writer("busy")
            ),
            "busy",
        ),
        (
            format!(
                "beside a writer process appending to another ledger ({} entries/s)",
                writer("busy_elsewhere")
            ),
            "busy_elsewhere",
        ),
    ] {
        let v = &rd[which];
        println!(
            "| {label} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
            f(&v["p50"]),
            f(&v["p90"]),
            f(&v["p99"]),
            f(&v["p999"]),
            f(&v["max"])
        );
    }
    println!(
        "\nbusy / idle: p50 {:.2}x, p99 {:.2}x; busy / busy elsewhere: p50 {:.2}x, p99 {:.2}x; \
         idle / idle exclusive: p50 {:.2}x",
        ratio("reader_p50_busy_vs_idle"),
        ratio("reader_p99_busy_vs_idle"),
        ratio("reader_p50_busy_vs_busy_elsewhere"),
        ratio("reader_p99_busy_vs_busy_elsewhere"),
        ratio("reader_p50_idle_vs_idle_exclusive"),
    );

    tb::print_targets(&r["targets"]);
}
