//! Shared pieces of the trailseal benchmarks: a deterministic generator of realistic audit
//! entries, the leaf bytes they encode to, small process and file measurements, and the
//! reporting helpers the benchmark programs share.
//!
//! The comparison program (`src/bin/compare/main.rs`) and the micro-benchmarks
//! (`benches/hot_paths.rs`) both draw their data from [`entry_json`], so every system and every
//! benchmark sees the same entries.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{json, Map, Value};
use trailseal::entry::{self, Timestamp};

/// Entries per commit in the batch benchmarks.
pub const BATCH: usize = 1_000;

/// The `time` every leaf made by [`leaf_bytes`] carries: 2025-01-01T00:00:00Z plus `index`
/// microseconds. Its RFC 3339 form has the same length as any time trailseal assigns, so the
/// leaves given to redb and SQLite are exactly as long as trailseal's own.
pub fn fixed_time(index: u64) -> Timestamp {
    Timestamp::from_unix_nanos(1_735_689_600_000_000_000 + i128::from(index) * 1_000)
}

/// SplitMix64: a tiny, fast, deterministic generator (no dependency, same stream everywhere).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(n);
        let mut bits = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                bits = self.next_u64();
            }
            s.push(DIGITS[(bits & 15) as usize] as char);
            bits >>= 4;
        }
        s
    }
}

const ACTORS: &[&str] = &[
    "alice@example.com",
    "bob@example.com",
    "carol.nguyen@example.com",
    "dmitri@example.com",
    "deploy-bot",
    "svc:release-orchestrator",
    "erin.okafor@example.com",
    "frank@contractor.example.net",
];
const ROLES: &[&str] = &[
    "release-manager",
    "sre-oncall",
    "developer",
    "security-reviewer",
    "platform-admin",
];
const VIA: &[&str] = &[
    "github-actions:payments/deploy.yml",
    "okta:sso",
    "argo-cd",
    "jenkins:release-pipeline",
];
const ACTIONS: &[&str] = &[
    "deploy.succeeded",
    "deploy.started",
    "approval.granted",
    "build.completed",
    "config.changed",
    "secret.rotated",
    "access.granted",
    "release.created",
    "rollback.started",
    "policy.evaluated",
];
const SUBJECT_TYPES: &[&str] = &["service", "release", "repository", "environment", "secret"];
const SUBJECTS: &[&str] = &[
    "payments-api",
    "ledger-writer",
    "checkout-web",
    "fraud-scoring",
    "identity-gateway",
    "notifications",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const POLICIES: &[&str] = &[
    "two-person-review",
    "change-window",
    "sox-segregation-of-duties",
];
const RELS: &[&str] = &["approved_by", "follows", "caused_by"];

/// The audit entry number `index` of the deterministic stream: about 400 bytes once encoded,
/// with an actor (role, sometimes a `via` chain), action, subject, `authz` on about a third of
/// the entries, links (an earlier index and a git ref), attrs and a small payload.
pub fn entry_json(index: u64) -> Value {
    let mut r = Rng::new(index ^ 0x7472_6169_6c73_6561);
    let mut actor = Map::new();
    actor.insert("id".into(), r.pick(ACTORS).into());
    actor.insert("role".into(), r.pick(ROLES).into());
    if r.below(3) == 0 {
        actor.insert("via".into(), json!([r.pick(VIA)]));
    }
    let mut e = Map::new();
    e.insert("actor".into(), Value::Object(actor));
    e.insert("action".into(), r.pick(ACTIONS).into());
    e.insert(
        "subject".into(),
        json!({"type": r.pick(SUBJECT_TYPES), "id": format!("{}-{}", r.pick(SUBJECTS), r.below(100))}),
    );
    if r.below(3) == 0 {
        let policy = r.pick(POLICIES);
        let authz = if r.below(10) == 0 {
            json!({"decision": "break_glass", "policy": policy, "reason": "sev1 incident INC-4711: payment retries stuck"})
        } else {
            json!({"decision": "allow", "policy": policy, "policy_version": format!("2025-{:02}", 1 + r.below(12))})
        };
        e.insert("authz".into(), authz);
    }
    let mut links = Vec::new();
    if index > 0 {
        let back = 1 + r.below(index.min(1_000));
        links.push(json!({"rel": r.pick(RELS), "index": index - back}));
    }
    links.push(json!({"rel": "built_from", "ref": format!("git:{}", r.hex(40))}));
    e.insert("links".into(), Value::Array(links));
    let mut attrs = Map::new();
    attrs.insert("env".into(), r.pick(ENVS).into());
    if r.below(2) == 0 {
        attrs.insert(
            "ticket".into(),
            format!("CHG-{}", 10_000 + r.below(90_000)).into(),
        );
    }
    e.insert("attrs".into(), Value::Object(attrs));
    e.insert(
        "payload".into(),
        json!({"duration_ms": r.below(600_000), "exit_code": r.below(2)}),
    );
    Value::Object(e)
}

/// The leaf bytes trailseal stores for [`entry_json`]`(index)`, with the `time`
/// [`fixed_time`]`(index)`: validated and canonically encoded exactly as the ledger does.
pub fn leaf_bytes(index: u64) -> Vec<u8> {
    encode(&entry_json(index), index)
}

/// Validate and encode `value` as leaf `index` with [`fixed_time`]`(index)`.
pub fn encode(value: &Value, index: u64) -> Vec<u8> {
    entry::validate(value, index)
        .and_then(|v| v.encode(&fixed_time(index), entry::DEFAULT_MAX_ENTRY_BYTES))
        .expect("generated entries are valid")
}

/// The entries `[start, start + n)` of the stream.
pub fn entries(start: u64, n: usize) -> Vec<Value> {
    (start..start + n as u64).map(entry_json).collect()
}

/// Append entries `from..from + n` of the stream to `l`, in batches of 1,000.
pub fn fill(l: &trailseal::Ledger, from: u64, n: u64) -> trailseal::Result<()> {
    let mut at = from;
    while at < from + n {
        let k = (from + n - at).min(1000);
        l.append_batch(&entries(at, k as usize))?;
        at += k;
    }
    Ok(())
}

/// The length of `l`'s file.
pub fn file_bytes(l: &trailseal::Ledger) -> std::io::Result<u64> {
    Ok(std::fs::metadata(l.path())?.len())
}

/// The leaves `[start, start + n)` of the stream.
pub fn leaves(start: u64, n: usize) -> Vec<Vec<u8>> {
    (start..start + n as u64).map(leaf_bytes).collect()
}

/// A field of `/proc/self/status` in MiB (`VmHWM` = peak resident set, `VmRSS` = current).
pub fn proc_status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:").unwrap_or(f64::NAN)
}

/// The value in `p` (`0..=100`) percent of the way through `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Reporting and bookkeeping shared by the benchmark programs (`compare`, `share`).

/// `samples` (µs) as `{p50, p99, mean, samples}`.
pub fn summary_us(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    json!({
        "p50": round(percentile(&samples, 50.0), 2),
        "p99": round(percentile(&samples, 99.0), 2),
        "mean": round(samples.iter().sum::<f64>() / samples.len() as f64, 2),
        "samples": samples.len(),
    })
}

/// Seconds to append `entries` to `l`: one at a time (`batch` 1) or in batches of `batch`.
pub fn append_secs(l: &trailseal::Ledger, entries: &[Value], batch: usize) -> f64 {
    let ((), us) = time_us(|| {
        for chunk in entries.chunks(batch) {
            if batch == 1 {
                l.append(&chunk[0]).expect("append");
            } else {
                l.append_batch(chunk).expect("append");
            }
        }
    });
    us / 1e6
}

/// Runs `f` and returns its result with the microseconds it took.
pub fn time_us<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64() * 1e6)
}

/// A temporary directory removed on drop (also when a step fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under `base`, or under the system temp dir.
    pub fn new(base: Option<&Path>) -> std::io::Result<TempDir> {
        let base = base
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let dir = base.join(format!("trailseal-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `x` rounded to `digits` decimals.
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// A JSON number as `f64`, NaN for anything else (a missing figure shows as `-`, never as 0).
pub fn as_f64(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn read_first_line(path: &str, prefix: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(|l| l.split_once(':').map_or("", |x| x.1).trim().to_string())
}

/// The 1, 5 and 15 minute load averages.
pub fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// CPU model and flags, cores, RAM and kernel, for the JSON of a run.
pub fn machine() -> Value {
    let mem_kib: f64 = read_first_line("/proc/meminfo", "MemTotal")
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    // The instruction sets the hashes use: BLAKE3 (AVX-512/AVX2) and SHA-256 (SHA-NI).
    let flags = read_first_line("/proc/cpuinfo", "flags").unwrap_or_default();
    let simd: Vec<&str> = ["avx2", "avx512f", "sha_ni"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    json!({
        "cpu": read_first_line("/proc/cpuinfo", "model name").unwrap_or_default(),
        "cpu_flags": simd,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "ram_gib": round(mem_kib / 1024.0 / 1024.0, 1),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// `1000` as `1k`, `1000000` as `1M`; other numbers as they are.
pub fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// Entries per second for a table: `12k`, `1.23M`, `3898`.
pub fn fmt_eps(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Calls `work(0)`, `work(1)`, ... from `threads` threads, each taking the next number, until
/// `count` calls are made, `deadline` passes or `stop` is set; the first error stops every
/// thread and is returned. Returns how many calls were made.
pub fn run_claimed<E: std::fmt::Display>(
    threads: usize,
    count: u64,
    deadline: Instant,
    stop: &AtomicBool,
    work: impl Fn(u64) -> Result<(), E> + Sync,
) -> Result<u64, String> {
    let claimed = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<u64, String> {
                    let mut mine = 0;
                    while Instant::now() < deadline
                        && !stop.load(Ordering::Acquire)
                        && !failed.load(Ordering::Relaxed)
                    {
                        let k = claimed.fetch_add(1, Ordering::Relaxed);
                        if k >= count {
                            break;
                        }
                        if let Err(e) = work(k) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e.to_string());
                        }
                        mine += 1;
                    }
                    Ok(mine)
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w.join().map_err(|_| "a worker thread panicked")??;
        }
        Ok(total)
    })
}

/// The `targets` list of a run (`{target, ratio, measured, pass}` each) as a Markdown table.
pub fn print_targets(targets: &Value) {
    println!("\n| target | measured | PASS/MISS |");
    println!("| --- | ---: | --- |");
    for t in targets.as_array().into_iter().flatten() {
        println!(
            "| {} | {:.2} (`{}`) | {} |",
            t["target"].as_str().unwrap_or(""),
            as_f64(&t["measured"]),
            t["ratio"].as_str().unwrap_or(""),
            if t["pass"].as_bool() == Some(true) {
                "PASS"
            } else {
                "MISS"
            }
        );
    }
}

/// Write `report` as pretty JSON to `path`, if there is one, and say so on stderr.
pub fn write_json(program: &str, path: Option<&Path>, report: &Value) -> std::io::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(report)? + "\n")?;
        eprintln!("{program}: wrote {}", path.display());
    }
    Ok(())
}

/// The machine and load of a run's JSON: `CPU (2 cores, 23.5 GiB RAM, Linux ...), load [..] -> [..]`.
pub fn machine_line(r: &Value) -> String {
    let m = &r["machine"];
    format!(
        "{} ({} cores, {} GiB RAM, Linux {}), load {} -> {}",
        m["cpu"].as_str().unwrap_or(""),
        m["cores"],
        m["ram_gib"],
        m["kernel"].as_str().unwrap_or(""),
        r["load_average"]["before"],
        r["load_average"]["after"],
    )
}

/// The options every benchmark program takes: `--quick`, and `--json FILE` (where to write
/// its figures).
pub fn quick_and_json() -> (bool, Option<String>) {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned();
    (quick, json)
}
