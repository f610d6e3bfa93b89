//! What personal fields (SPEC section 10) cost appends and `verify`, and what an erasure costs,
//! in one run.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin erase -- [--quick] [--size N] [--json FILE]
//! ```
//!
//! 1. Two ledgers of the benchmarks' generator, one sealing `actor.id`, `change.before` and
//!    `payload` (each value a salted commitment in the leaf, the value beside it), one not:
//!    batches of 1,000 appended to each, then `verify` of each, in alternating rounds, the
//!    best of each; the ratios sealed / plain. Sealed batches take the one-entry-at-a-time
//!    path (a salt per field), so this is the whole price.
//! 2. One actor's entries erased from the sealed ledger (about one in twelve of its entries):
//!    time, entries/s, peak resident memory during the erasure alone, file bytes before and
//!    after, and the part of the time spent rebuilding the personal postings and overwriting
//!    free pages (`scrub_free_pages` timed alone after it).

use std::error::Error;

use serde_json::json;
use trailseal::{CreateOptions, EraseOptions, EraseSelect, Ledger, RecordedBy, VerifyOptions};
use trailseal_benches::{self as tb, machine_line, proc_status_mib, round, time_us, TempDir};

type Res<T> = Result<T, Box<dyn Error>>;

const PERSONAL: [&str; 3] = ["actor.id", "change.before", "payload"];

fn ledger(dir: &TempDir, name: &str, personal: bool) -> Res<Ledger> {
    let mut opts = CreateOptions::new("bench.example/erase");
    if personal {
        opts = opts.personal_fields(&PERSONAL);
    }
    Ok(Ledger::create(dir.0.join(name), &opts)?)
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

    // 1. Sealed against plain: appends and verify, alternating rounds.
    let sealed = ledger(&dir, "sealed.redb", true)?;
    let plain = ledger(&dir, "plain.redb", false)?;
    let per_round = n / rounds as u64;
    let (mut app, mut ver) = ([f64::MAX; 2], [f64::MAX; 2]);
    for r in 0..rounds {
        for (k, l) in [&sealed, &plain].into_iter().enumerate() {
            let (res, us) = time_us(|| tb::fill(l, r as u64 * per_round, per_round));
            res?;
            app[k] = app[k].min(us / 1e6);
            let (res, us) = time_us(|| l.verify(&VerifyOptions::default()));
            res?;
            ver[k] = ver[k].min(us / 1e6);
        }
    }
    let eps = |s: f64| per_round as f64 / s;
    println!(
        "sealed ({}) vs plain, {} entries, best of {rounds}: append batches of 1,000 {:.0} vs \
         {:.0} entries/s ({:.3}x); verify {:.2} s vs {:.2} s ({:.3}x time); file {} vs {} bytes",
        PERSONAL.join(", "),
        sealed.size()?,
        eps(app[0]),
        eps(app[1]),
        eps(app[0]) / eps(app[1]),
        ver[0],
        ver[1],
        ver[0] / ver[1],
        tb::file_bytes(&sealed)?,
        tb::file_bytes(&plain)?
    );

    // 2. Erase one actor's entries.
    let actor = sealed.get(0)?["actor"]["id"]
        .as_str()
        .ok_or("entry 0 has no actor")?
        .to_owned();
    let before = tb::file_bytes(&sealed)?;
    let a = json!({"decision": "allow", "policy": "gdpr-erasure"});
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_mib("VmRSS:").unwrap_or(f64::NAN);
    let (report, us) = time_us(|| {
        sealed.erase(&EraseOptions {
            select: EraseSelect::Actor(actor.clone()),
            reason: "benchmark",
            legal_basis: None,
            request: None,
            dry_run: false,
            by: RecordedBy {
                actor: "dpo",
                authz: &a,
            },
        })
    });
    let report = report?;
    let peak = proc_status_mib("VmHWM:").unwrap_or(f64::NAN);
    let after = tb::file_bytes(&sealed)?;
    let (res, scrub_us) = time_us(|| sealed.scrub_free_pages());
    res?;
    let secs = us / 1e6;
    let erased = report.erased.len();
    let size = sealed.size()?;
    println!(
        "erase of one actor: {erased} of {size} entries in {secs:.2} s ({:.0} entries/s), {} \
         record(s); peak RSS during erase {peak:.1} MiB (RSS before {rss_before:.1} MiB); file \
         bytes {before} -> {after} ({:.2}x); a scrub alone {:.2} s",
        erased as f64 / secs,
        report.records.len(),
        after as f64 / before as f64,
        scrub_us / 1e6
    );
    let (res, verify_us) = time_us(|| sealed.verify(&VerifyOptions::default()));
    res?;
    let path = sealed.path().to_path_buf();
    drop(sealed);
    let (res, compact_us) = time_us(|| Ledger::compact(&path));
    res?;
    let compacted = std::fs::metadata(&path)?.len();
    println!(
        "after compact: {compacted} bytes ({:.2}x the bytes before the erasure; compact {:.2} s)",
        compacted as f64 / before as f64,
        compact_us / 1e6
    );
    let mut out = json!({
        "machine": tb::machine(),
        "load_average": {"before": load_before, "after": tb::loadavg()},
        "size": n,
        "personal": PERSONAL,
        "appends": {"sealed_eps": round(eps(app[0]), 0), "plain_eps": round(eps(app[1]), 0),
                    "ratio": round(eps(app[0]) / eps(app[1]), 3)},
        "verify": {"sealed_s": round(ver[0], 3), "plain_s": round(ver[1], 3),
                   "time_ratio": round(ver[0] / ver[1], 3),
                   "after_erase_s": round(verify_us / 1e6, 3)},
        "erase": {"erased": erased, "seconds": round(secs, 3),
                  "entries_per_s": round(erased as f64 / secs, 0),
                  "records": report.records.len(), "peak_rss_mib": round(peak, 1),
                  "rss_before_mib": round(rss_before, 1),
                  "scrub_alone_seconds": round(scrub_us / 1e6, 3)},
        "file_bytes": {"before_erase": before, "after_erase": after,
                       "after_compact": compacted,
                       "compact_seconds": round(compact_us / 1e6, 3)},
    });
    println!("{}", machine_line(&out));
    out["machine_line"] = machine_line(&out).into();
    tb::write_json(
        "erase",
        json_path.as_deref().map(std::path::Path::new),
        &out,
    )?;
    Ok(())
}
