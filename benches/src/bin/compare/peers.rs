//! trailseal beside the systems a user would pick instead: Tessera (v1.0.4, POSIX driver) and
//! immudb's embedded store (v1.10.0), built from the Go module proxy by
//! `benches/peers/build.sh`, next to trailseal's two tree hashes (BLAKE3 and SHA-256). The
//! systems take turns in rounds; every ratio is the median over the rounds of the ratio within
//! a round. See benches/README.md, "Peers".

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};
use trailseal_benches::{self as tb, as_f64 as f, fmt_eps, human, round, BATCH};

use crate::{remove_store, spawn_child, Res, PREFILL};

/// trailseal's two ledgers, then the peers.
const SYSTEMS: [&str; 4] = ["trailseal_blake3", "trailseal_sha256", "tessera", "immudb"];
/// The trailseal ledger the peers are held to: the same hash as both of theirs.
const VS: &str = "trailseal_sha256";
/// The peers, whose programs `benches/peers/build.sh` builds.
const PEERS: [&str; 2] = ["tessera", "immudb"];
/// Warm-up appends before the timed single appends (as in `durable_run`).
const WARMUP: u64 = 20;

/// What one side-by-side run does.
pub struct PeerPlan<'a> {
    /// Entries per batch-built store.
    pub size: u64,
    pub rounds: usize,
    /// Single durable appends per system and round: at most this many, for at most `secs`.
    pub durable_count: u64,
    pub durable_secs: f64,
    /// Whether to build and run Tessera and immudb (trailseal's two hashes run regardless).
    pub peers: bool,
    pub tmp: &'a Path,
}

/// Builds the peers' programs; their directory, or why they cannot run here.
fn build_peers() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/build.sh");
    eprintln!("compare: building the peers (Go, module proxy; cached under target/) ...");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        let why = if out.status.code() == Some(3) {
            "Go is not installed".to_string()
        } else {
            format!(
                "their build failed (Go module proxy unreachable?): {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            )
        };
        return Err(why);
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// One run of a peer's program; its JSON. Their logs go to a file, shown only on failure.
fn peer(bin: &Path, system: &str, args: &[String], log: &Path) -> Res<Value> {
    let errf = std::fs::File::create(log)?;
    let out = Command::new(bin.join(system))
        .args(args)
        .stdin(Stdio::null())
        .stderr(errf)
        .output()?;
    if !out.status.success() {
        let err = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(10).collect();
        return Err(format!(
            "{system} {args:?} failed ({}): {}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
        .into());
    }
    Ok(serde_json::from_str(String::from_utf8(out.stdout)?.trim())?)
}

/// The leaves of entries `0..n` as the peers read them: u32 little-endian length, bytes.
fn write_leaves(path: &Path, n: u64) -> Res<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        let leaf = tb::leaf_bytes(i);
        w.write_all(&u32::try_from(leaf.len())?.to_le_bytes())?;
        w.write_all(&leaf)?;
    }
    w.flush()?;
    Ok(())
}

/// Median of `v` (NaN when empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs the rounds and returns the `peers` section of the report.
pub fn run(p: &PeerPlan) -> Res<Value> {
    let bin = if p.peers {
        match build_peers() {
            Ok(dir) => Some(dir),
            Err(why) => {
                eprintln!("compare: peers skipped: {why}");
                return side_by_side(p, None, Some(why));
            }
        }
    } else {
        None
    };
    let skipped = bin
        .is_none()
        .then(|| "not requested (--peers, or full mode)".to_string());
    side_by_side(p, bin.as_deref(), skipped)
}

fn side_by_side(p: &PeerPlan, bin: Option<&Path>, skipped: Option<String>) -> Res<Value> {
    let systems: Vec<&str> = SYSTEMS
        .into_iter()
        .filter(|s| bin.is_some() || !PEERS.contains(s))
        .collect();
    let leaves = p.tmp.join("peer-leaves.bin");
    if bin.is_some() {
        write_leaves(
            &leaves,
            p.size
                .max(PREFILL + WARMUP + p.durable_count / p.rounds as u64 + 1),
        )?;
    }
    let log = p.tmp.join("peer-stderr.log");
    // (figure, system) -> one value per round.
    let mut rounds: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    let mut last: BTreeMap<&str, Value> = BTreeMap::new();
    let per_round_count = (p.durable_count / p.rounds as u64).max(1);
    let per_round_secs = p.durable_secs / p.rounds as f64;
    for round_no in 1..=p.rounds {
        for &system in &systems {
            let store = p.tmp.join(format!("side-{system}"));
            let hash = system.strip_prefix("trailseal_");
            // Batches of BATCH into an empty store, then the whole store verified.
            eprint!(
                "compare: side by side, round {round_no}: {system:16} {} batch ... ",
                human(p.size)
            );
            let (build, verify) = if let Some(hash) = hash {
                let path = store.with_extension("db");
                let build = spawn_child(&[
                    "--child".into(),
                    "build".into(),
                    "--system".into(),
                    "trailseal".into(),
                    "--size".into(),
                    p.size.to_string(),
                    "--path".into(),
                    path.display().to_string(),
                    "--hash".into(),
                    hash.into(),
                ])?;
                let verify = spawn_child(&[
                    "--child".into(),
                    "verify".into(),
                    "--path".into(),
                    path.display().to_string(),
                ])?;
                remove_store(&path);
                (build, verify)
            } else {
                let bin = bin.ok_or("peers not built")?;
                let dir = store.display().to_string();
                let build = peer(
                    bin,
                    system,
                    &[
                        "batch".into(),
                        "--leaves".into(),
                        leaves.display().to_string(),
                        "--dir".into(),
                        dir.clone(),
                        "--count".into(),
                        p.size.to_string(),
                        "--batch".into(),
                        BATCH.to_string(),
                    ],
                    &log,
                )?;
                let verify = peer(bin, system, &["verify".into(), "--dir".into(), dir], &log)?;
                let _ = std::fs::remove_dir_all(&store);
                let _ = std::fs::remove_file(format!("{}.vkey", store.display()));
                (build, verify)
            };
            // trailseal's build reports the file length; the peers the bytes of the files
            // that make up the log.
            let bytes = if hash.is_some() {
                f(&build["file_len"])
            } else {
                f(&build["file_bytes"])
            };
            eprintln!(
                "{:>9.0} entries/s, verify {:.0} entries/s, {:.0} bytes/entry",
                f(&build["eps"]),
                f(&verify["eps"]),
                bytes / p.size as f64
            );
            rounds
                .entry(("append_batch", system))
                .or_default()
                .push(f(&build["eps"]));
            rounds
                .entry(("verify_eps", system))
                .or_default()
                .push(f(&verify["eps"]));
            rounds
                .entry(("bytes_per_entry", system))
                .or_default()
                .push(bytes / p.size as f64);
            rounds
                .entry(("peak_rss_mib", system))
                .or_default()
                .push(f(&build["peak_rss_mib"]));
            last.insert(system, build);

            // Durable single appends after a PREFILL-entry batch.
            eprint!("compare: side by side, round {round_no}: {system:16} durable single ... ");
            let r = if let Some(hash) = hash {
                let path = store.with_extension("db");
                let r = spawn_child(&[
                    "--child".into(),
                    "durable".into(),
                    "--system".into(),
                    "trailseal".into(),
                    "--path".into(),
                    path.display().to_string(),
                    "--hash".into(),
                    hash.into(),
                    "--threads".into(),
                    "1".into(),
                    "--count".into(),
                    per_round_count.to_string(),
                    "--secs".into(),
                    per_round_secs.to_string(),
                ])?;
                remove_store(&path);
                r
            } else {
                let bin = bin.ok_or("peers not built")?;
                let r = peer(
                    bin,
                    system,
                    &[
                        "single".into(),
                        "--leaves".into(),
                        leaves.display().to_string(),
                        "--dir".into(),
                        store.display().to_string(),
                        "--count".into(),
                        per_round_count.to_string(),
                        "--secs".into(),
                        per_round_secs.to_string(),
                        "--prefill".into(),
                        PREFILL.to_string(),
                    ],
                    &log,
                )?;
                let _ = std::fs::remove_dir_all(&store);
                let _ = std::fs::remove_file(format!("{}.vkey", store.display()));
                r
            };
            eprintln!("{:.0} entries/s ({} appends)", f(&r["eps"]), r["appends"]);
            rounds
                .entry(("append_durable", system))
                .or_default()
                .push(f(&r["eps"]));
        }
    }
    let _ = std::fs::remove_file(&leaves);
    let _ = std::fs::remove_file(&log);
    Ok(report(p, &systems, &rounds, &last, skipped))
}

fn report(
    p: &PeerPlan,
    systems: &[&str],
    rounds: &BTreeMap<(&str, &str), Vec<f64>>,
    last: &BTreeMap<&str, Value>,
    skipped: Option<String>,
) -> Value {
    let figures = [
        "append_batch",
        "append_durable",
        "verify_eps",
        "bytes_per_entry",
        "peak_rss_mib",
    ];
    let mut out = Map::new();
    let mut all_rounds = Map::new();
    for fig in figures {
        let mut medians = Map::new();
        let mut per = Map::new();
        for &s in systems {
            let v = rounds.get(&(fig, s)).cloned().unwrap_or_default();
            medians.insert(s.into(), round(median(v.clone()), 1).into());
            per.insert(s.into(), json!(v));
        }
        out.insert(fig.into(), Value::Object(medians));
        all_rounds.insert(fig.into(), Value::Object(per));
    }
    // Paired by round: a over b in each round, the median of those.
    let paired = |fig: &str, a: &str, b: &str| -> Option<f64> {
        let (x, y) = (rounds.get(&(fig, a))?, rounds.get(&(fig, b))?);
        Some(median(x.iter().zip(y).map(|(x, y)| x / y).collect()))
    };
    let mut ratios = Map::new();
    for fig in figures {
        if let Some(r) = paired(fig, "trailseal_sha256", "trailseal_blake3") {
            ratios.insert(format!("{fig}_sha256_vs_blake3"), round(r, 3).into());
        }
        for peer in PEERS {
            if let Some(r) = paired(fig, VS, peer) {
                ratios.insert(format!("{fig}_vs_{peer}"), round(r, 3).into());
            }
        }
    }
    let peer_extra: Map<String, Value> = PEERS
        .iter()
        .filter_map(|&s| {
            let b = last.get(s)?;
            Some((
                s.to_string(),
                json!({
                    "file_bytes_all": b["file_bytes_all"],
                    "disk_bytes": b["disk_bytes"],
                    "finish_secs": b["finish_secs"],
                    "version": b["version"],
                }),
            ))
        })
        .collect();
    json!({
        "skipped": skipped,
        "size": p.size,
        "rounds": p.rounds,
        "batch_size": BATCH,
        "systems": systems,
        "vs": VS,
        "append_batch": out["append_batch"],
        "append_durable": out["append_durable"],
        "verify_eps": out["verify_eps"],
        "bytes_per_entry": out["bytes_per_entry"],
        "peak_rss_mib": out["peak_rss_mib"],
        "by_round": all_rounds,
        "ratios": ratios,
        "peer_details": peer_extra,
        "settings": {
            "trailseal": "Ledger::create, Sharing::Exclusive, Durability::Immediate (fsync per commit); append_batch of 1,000 JSON entries (validation, canonical encoding, hashing, index postings, compression); the two ledgers differ only in their tree hash",
            "tessera": "github.com/transparency-dev/tessera v1.0.4, storage/posix driver (every file written O_SYNC, its directory fsynced); WithBatching(1000, 10ms) for batches (one sequencing batch per caller batch; 1 for single appends), WithCheckpointInterval(100ms) (the driver's minimum; default 10 s), no antispam, default garbage collection; a batch returns when every entry's index future has resolved (sequenced and integrated: bundles, tiles and tree state synced); the batch run ends when a published checkpoint commits to the last entry (PublicationAwaiter, polling every 10 ms), and that wait is timed; single appends wait for integration only (a checkpoint per append would cap them at 10/s, the 100 ms minimum interval); bytes exclude partial bundles and tiles (*.p/*), which the garbage collector deletes; verify is the fsck library (as cmd/fsck, 2 workers) against the signed checkpoint",
            "immudb": "github.com/codenotary/immudb v1.10.0, embedded/store, DefaultOptions with Synced(true) (commit returns after the value, transaction and commit logs are fsynced) and SyncFrequency(0) (the syncer does not wait 5 ms for other commits to share an fsync); one write-only transaction per caller batch, key = the 8-byte big-endian index, value = the leaf; key indexing is asynchronous (not waited for); verify reads every transaction with immudb's integrity check (entry digests rebuilt into the transaction's hash tree, Alh recomputed), holds each PrevAlh to the previous Alh, and reads every value (checked against its digest)",
            "input": "the leaf bytes trailseal stores (canonical JSON with a fixed time of the same length), written once to a file, u32 little-endian length before each; reading it is not timed",
        },
    })
}

/// The side-by-side table, if the section ran.
pub fn print_table(s: &Value) {
    let systems: Vec<&str> = s["systems"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if systems.is_empty() {
        return;
    }
    let has_peers = PEERS.iter().all(|p| systems.contains(p));
    println!(
        "\nSide by side, {} entries, {} round(s), systems taking turns; ratios are {VS} / peer, the median of the ratios within each round (higher is better for trailseal, except bytes).",
        human(s["size"].as_u64().unwrap_or(0)),
        s["rounds"]
    );
    if let Some(why) = s["skipped"].as_str() {
        println!("Peers skipped: {why}.");
    }
    let mut head = systems.join(" | ");
    let mut rule = " ---: |".repeat(systems.len());
    head.push_str(" | sha256 / blake3");
    rule.push_str(" ---: |");
    if has_peers {
        head.push_str(" | vs tessera | vs immudb");
        rule.push_str(" ---: | ---: |");
    }
    println!("\n| figure | {head} |");
    println!("| --- |{rule}");
    for (label, fig) in [
        (format!("batch of {BATCH} (entries/s)"), "append_batch"),
        ("durable single (entries/s)".into(), "append_durable"),
        ("whole-log verify (entries/s)".into(), "verify_eps"),
        ("file bytes per entry".into(), "bytes_per_entry"),
        ("peak RSS while appending (MiB)".into(), "peak_rss_mib"),
    ] {
        let mut cells: Vec<String> = systems
            .iter()
            .map(|sys| {
                let v = f(&s[fig][*sys]);
                if fig == "append_batch" || fig == "append_durable" || fig == "verify_eps" {
                    fmt_eps(v)
                } else {
                    format!("{v:.0}")
                }
            })
            .collect();
        let ratio = |k: String| format!("{:.2}x", f(&s["ratios"][k]));
        cells.push(ratio(format!("{fig}_sha256_vs_blake3")));
        if has_peers {
            for peer in PEERS {
                cells.push(ratio(format!("{fig}_vs_{peer}")));
            }
        }
        println!("| {label} | {} |", cells.join(" | "));
    }
}
