//! What pruning costs and frees, and what a half-pruned ledger costs appends and `verify`,
//! in one run.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin prune -- [--quick] [--size N] [--json FILE]
//! ```
//!
//! 1. A ledger of N entries of the benchmarks' generator (retention rules v1: keep everything a
//!    year) is pruned as judged two years on: time, entries/s, and the peak resident memory
//!    during the prune alone (`VmHWM`, reset just before through `/proc/self/clear_refs`);
//!    file bytes before, after pruning and after `compact`.
//! 2. A half-pruned ledger (N/2 entries, pruned, then N/2 more) against an unpruned one of the
//!    same N entries: batches of 1,000 appended to each, then `verify` of each, in
//!    alternating rounds, the best of each; the ratios half-pruned / unpruned.

use std::error::Error;

use serde_json::{json, Value};
use trailseal::retention::{Period, RetentionRules};
use trailseal::{CreateOptions, Ledger, PruneOptions, RecordedBy, Timestamp, VerifyOptions};
use trailseal_benches::{self as tb, machine_line, proc_status_mib, round, time_us, TempDir};

type Res<T> = Result<T, Box<dyn Error>>;

fn authz() -> Value {
    json!({"decision": "allow", "policy": "records-management"})
}

fn by(a: &Value) -> RecordedBy<'_> {
    RecordedBy {
        actor: "records-officer",
        authz: a,
    }
}

/// A ledger with retention rules v1 (everything a year) and entries `0..n` of the generator.
fn ledger(dir: &TempDir, name: &str, n: u64) -> Res<Ledger> {
    let l = Ledger::create(dir.0.join(name), &CreateOptions::new("bench.example/prune"))?;
    let a = authz();
    let rules = RetentionRules::from_json(&json!({"version": "v1", "default": "P1Y"}))?;
    l.publish_retention_rules(&rules, &by(&a))?;
    tb::fill(&l, 0, n)?;
    Ok(l)
}

fn two_years_on() -> Timestamp {
    Period {
        years: 2,
        months: 0,
        days: 0,
    }
    .after(Timestamp::now())
}

fn prune(l: &Ledger) -> Res<trailseal::PruneReport> {
    let a = authz();
    Ok(l.prune(&PruneOptions {
        before: two_years_on(),
        dry_run: false,
        by: by(&a),
    })?)
}

fn main() -> Res<()> {
    let (quick, json_path) = tb::quick_and_json();
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = match args.iter().position(|a| a == "--size") {
        Some(i) => args.get(i + 1).ok_or("--size N")?.parse()?,
        None if quick => 20_000,
        None => 200_000,
    };
    let rounds = if quick { 2 } else { 3 };
    let dir = TempDir::new(None)?;
    let load_before = tb::loadavg();

    // 1. Prune a ledger of n entries.
    let l = ledger(&dir, "pruned.redb", n)?;
    let before = tb::file_bytes(&l)?;
    // Reset the peak so it measures the prune alone (Linux: "5" resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let (report, us) = time_us(|| prune(&l));
    let report = report?;
    let peak = proc_status_mib("VmHWM:").unwrap_or(f64::NAN);
    let after_prune = tb::file_bytes(&l)?;
    let path = l.path().to_path_buf();
    drop(l);
    let (compacted, compact_us) = time_us(|| Ledger::compact(&path));
    compacted?;
    let after_compact = std::fs::metadata(&path)?.len();
    let secs = us / 1e6;
    println!(
        "prune of {n} entries: {} pruned in {:.2} s ({:.0} entries/s), {} steps; peak RSS during \
         prune {peak:.1} MiB (RSS before {rss_before:.1} MiB)",
        report.count,
        secs,
        report.count as f64 / secs,
        report.records.len()
    );
    println!(
        "file bytes: before {before}, after prune {after_prune} ({:.2}x), after compact \
         {after_compact} ({:.2}x; compact {:.2} s)",
        after_prune as f64 / before as f64,
        after_compact as f64 / before as f64,
        compact_us / 1e6
    );

    // 2. Half-pruned against unpruned: appends and verify.
    let half = ledger(&dir, "half.redb", n / 2)?;
    let gone = prune(&half)?.count;
    tb::fill(&half, n / 2, n - n / 2)?;
    let half_size = half.size()?;
    let whole = ledger(&dir, "whole.redb", n)?;
    let extra = if quick { 5_000 } else { 20_000 };
    let (mut app, mut ver) = ([f64::MAX; 2], [f64::MAX; 2]);
    for r in 0..rounds {
        for (k, l) in [&half, &whole].into_iter().enumerate() {
            let start = n + (r as u64) * extra;
            let (res, us) = time_us(|| tb::fill(l, start, extra));
            res?;
            app[k] = app[k].min(us / 1e6);
            let (res, us) = time_us(|| l.verify(&VerifyOptions::default()));
            res?;
            ver[k] = ver[k].min(us / 1e6);
        }
    }
    let eps = |s: f64| extra as f64 / s;
    println!(
        "half-pruned ({gone} of {} pruned) vs unpruned, best of {rounds}: append batches of \
         1,000 {:.0} vs {:.0} entries/s ({:.3}x); verify {:.2} s vs {:.2} s ({:.3}x time)",
        half_size,
        eps(app[0]),
        eps(app[1]),
        eps(app[0]) / eps(app[1]),
        ver[0],
        ver[1],
        ver[0] / ver[1]
    );
    let mut out = json!({
        "machine": tb::machine(),
        "load_average": {"before": load_before, "after": tb::loadavg()},
        "size": n,
        "prune": {"pruned": report.count, "seconds": round(secs, 3),
                  "entries_per_s": round(report.count as f64 / secs, 0),
                  "steps": report.records.len(), "peak_rss_mib": round(peak, 1),
                  "rss_before_mib": round(rss_before, 1)},
        "file_bytes": {"before": before, "after_prune": after_prune,
                       "after_compact": after_compact,
                       "compact_seconds": round(compact_us / 1e6, 3)},
        "half_pruned": {"pruned": gone, "size": half_size,
                        "append_eps": round(eps(app[0]), 0), "unpruned_append_eps": round(eps(app[1]), 0),
                        "append_ratio": round(eps(app[0]) / eps(app[1]), 3),
                        "verify_s": round(ver[0], 3), "unpruned_verify_s": round(ver[1], 3),
                        "verify_time_ratio": round(ver[0] / ver[1], 3)},
    });
    println!("{}", machine_line(&out));
    out["machine_line"] = machine_line(&out).into();
    tb::write_json(
        "prune",
        json_path.as_deref().map(std::path::Path::new),
        &out,
    )?;
    Ok(())
}
