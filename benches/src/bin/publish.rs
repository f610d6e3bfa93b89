//! What publishing a ledger as a static tlog-tiles log costs, in one run on one disk
//! (`benches/README.md`, "Publishing"):
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin publish -- [--quick] [--json FILE]
//! ```
//!
//! 1. an incremental publish of 1,000 new entries, on a small ledger and on the large one:
//!    objects written (must not grow with the ledger) and time against the full publish
//!    (target: under 5%);
//! 2. a full publish of the large ledger to a directory against `cp -r` of the published
//!    directory on the same disk (target: publish at least 0.5x cp's throughput);
//! 3. `monitor --full` of the published log: entries checked per second, next to `verify` of
//!    the ledger file.

use std::error::Error;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;
use trailseal::publish::monitor::monitor;
use trailseal::publish::{DirDestination, PublishCheckpoint};
use trailseal::{CreateOptions, Durability, Ledger, Signer, VerifyOptions};
use trailseal_benches::{entries, human, machine, round, TempDir, BATCH};

type Res<T> = Result<T, Box<dyn Error>>;

const ORIGIN: &str = "bench.example/publish";
const SMALL: u64 = 10_000;
const NEW: u64 = 1_000;

fn grow(l: &Ledger, to: u64) -> Res<()> {
    let mut n = l.size()?;
    while n < to {
        let k = (to - n).min(BATCH as u64 * 10) as usize;
        l.append_batch(&entries(n, k))?;
        n += k as u64;
    }
    l.sync()?;
    Ok(())
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn du(dir: &Path) -> Res<u64> {
    let out = Command::new("du").arg("-sb").arg(dir).output()?;
    let text = String::from_utf8(out.stdout)?;
    Ok(text.split_whitespace().next().unwrap_or("0").parse()?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json_out = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1));
    let large: u64 = if quick { 100_000 } else { 1_000_000 };
    let tmp = TempDir::new(None)?;
    let signer = Signer::from_seed(ORIGIN, [9; 32])?;
    let l = Ledger::create(
        tmp.0.join("bench.redb"),
        &CreateOptions {
            durability: Durability::NotDurableUntilSync,
            ..CreateOptions::new(ORIGIN).verifier(&signer.verifier())
        },
    )?;

    // 1a. an increment on a small ledger.
    grow(&l, SMALL)?;
    let small_dir = DirDestination::new(tmp.0.join("small"))?;
    l.publish(&small_dir, PublishCheckpoint::Sign(&signer))?;
    grow(&l, SMALL + NEW)?;
    let t = Instant::now();
    let inc_small = l.publish(&small_dir, PublishCheckpoint::Sign(&signer))?;
    let inc_small_s = secs(t);

    // 2. a full publish of the large ledger, to a fresh directory.
    eprintln!("building a ledger of {} entries", human(large));
    grow(&l, large)?;
    let full_dir = tmp.0.join("full");
    let dest = DirDestination::new(&full_dir)?;
    let t = Instant::now();
    let full = l.publish(&dest, PublishCheckpoint::Sign(&signer))?;
    let full_s = secs(t);
    let published_bytes = du(&full_dir)?;
    let t = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(&full_dir)
        .arg(tmp.0.join("copy"))
        .status()?;
    let cp_s = secs(t);
    if !status.success() {
        return Err("cp -r failed".into());
    }
    // `cp` does not sync; publish syncs once before the checkpoint. The same sync after cp.
    let t = Instant::now();
    Command::new("sync").status()?;
    let cp_sync_s = cp_s + secs(t);

    // 1b. an increment of the same size on the large ledger.
    grow(&l, large + NEW)?;
    let t = Instant::now();
    let inc_large = l.publish(&dest, PublishCheckpoint::Sign(&signer))?;
    let inc_large_s = secs(t);

    // 3. monitor --full of the published log, next to verify of the ledger.
    let t = Instant::now();
    let (mon, _) = monitor(&dest, &signer.verifier(), None, None, true)?;
    let monitor_s = secs(t);
    let t = Instant::now();
    let ver = l.verify(&VerifyOptions::default())?;
    let verify_s = secs(t);

    let report = json!({
        "machine": machine(),
        "large": large,
        "increment": {
            "new_entries": NEW,
            "small_size": SMALL,
            "small_objects": inc_small.objects,
            "small_seconds": round(inc_small_s, 4),
            "large_size": large,
            "large_objects": inc_large.objects,
            "large_seconds": round(inc_large_s, 4),
            "large_vs_full": round(inc_large_s / full_s, 4),
        },
        "full": {
            "objects": full.objects,
            "bytes": full.bytes,
            "bytes_on_disk": published_bytes,
            "seconds": round(full_s, 3),
            "cp_r_seconds": round(cp_s, 3),
            "cp_r_then_sync_seconds": round(cp_sync_s, 3),
            "throughput_vs_cp_r": round(cp_s / full_s, 3),
            "throughput_vs_cp_r_then_sync": round(cp_sync_s / full_s, 3),
        },
        "monitor": {
            "entries": mon.entries_checked,
            "seconds": round(monitor_s, 3),
            "entries_per_second": round(mon.entries_checked as f64 / monitor_s, 0),
            "verify_entries": ver.size,
            "verify_seconds": round(verify_s, 3),
            "verify_entries_per_second": round(ver.size as f64 / verify_s, 0),
        },
    });
    println!("| figure | value |\n| --- | --- |");
    println!(
        "| objects for {NEW} new entries at {} / {} entries | {} / {} |",
        human(SMALL),
        human(large),
        inc_small.objects,
        inc_large.objects
    );
    println!(
        "| incremental publish vs full publish at {} | {:.2}% ({:.3} s / {:.2} s) |",
        human(large),
        100.0 * inc_large_s / full_s,
        inc_large_s,
        full_s
    );
    println!(
        "| full publish vs cp -r (throughput) | {:.2}x ({:.2} s vs {:.2} s; {:.2}x against cp -r + sync) |",
        cp_s / full_s,
        full_s,
        cp_s,
        cp_sync_s / full_s
    );
    println!(
        "| monitor --full vs verify (entries/s) | {} vs {} |",
        human((mon.entries_checked as f64 / monitor_s) as u64),
        human((ver.size as f64 / verify_s) as u64)
    );
    if let Some(path) = json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
