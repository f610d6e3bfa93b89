//! What the `occurred_at` index costs appends, and what it buys queries, in one run.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin occurred -- [--quick]
//! ```
//!
//! Two ledgers get the same entries of the benchmarks' generator, one of them with an
//! `occurred_at` on each, over one year: either in the order of the entries with some jitter
//! (an imported history, oldest first), or in no order at all (the worst case for the index):
//! 1. batches of 1,000 and single appends (not fsync'd, so the index's own work is not hidden
//!    behind the disk), in alternating rounds, the best round of each: entries/s and the ratio
//!    with to without;
//! 2. on the ledger with `occurred_at`, one month's entries by `occurred_since` /
//!    `occurred_until` (every page) against reading every entry and filtering.

use std::error::Error;

use serde_json::{json, Value};
use trailseal::query::{Order, Query};
use trailseal::{CreateOptions, Durability, Ledger, Timestamp};
use trailseal_benches::{self as tb, fmt_eps, machine_line, round, time_us, TempDir};

type Res<T> = Result<T, Box<dyn Error>>;

/// 2024-01-01T00:00:00Z.
const YEAR_START: i64 = 1_704_067_200;

/// `e` with an `occurred_at`: with `n` entries, at `index / n` of the year give or take a
/// day, or (`random`) anywhere in it.
fn with_occurred(mut e: Value, index: u64, n: u64, random: bool) -> Value {
    let mut r = tb::Rng::new(index ^ 0x6f63_6375_7272_6564);
    let year = 365 * 86_400;
    let offset = if random {
        r.below(year)
    } else {
        (index * year / n.max(1) + r.below(2 * 86_400)).saturating_sub(86_400)
    };
    let secs = YEAR_START + offset as i64;
    let t = Timestamp::from_unix_nanos(i128::from(secs) * 1_000_000_000);
    e["occurred_at"] = json!(t.to_string());
    e
}

fn ledger(dir: &TempDir, name: &str) -> Res<Ledger> {
    let mut opts = CreateOptions::new("bench.example/occurred");
    opts.durability = Durability::NotDurableUntilSync;
    Ok(Ledger::create(dir.0.join(name), &opts)?)
}

fn main() -> Res<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_batch, n_single, rounds) = if quick {
        (50_000u64, 2_000u64, 3)
    } else {
        (200_000, 10_000, 5)
    };
    let dir = TempDir::new(None)?;
    println!("{}", machine_line(&tb::machine()));
    let kinds = [
        (
            "batches of 1,000, occurred_at in order",
            1000,
            n_batch,
            false,
        ),
        (
            "batches of 1,000, occurred_at in no order",
            1000,
            n_batch,
            true,
        ),
        ("single appends, occurred_at in order", 1, n_single, false),
    ];
    let mut best = [[f64::MAX; 2]; 3];
    let mut kept = None;
    for round_no in 0..rounds {
        for (kind, &(_, batch, n, random)) in kinds.iter().enumerate() {
            let plain = tb::entries(0, n as usize);
            let dated: Vec<Value> = (0..n)
                .map(|i| with_occurred(plain[i as usize].clone(), i, n, random))
                .collect();
            // Alternate which goes first, so a warming cache favours neither.
            let order = if round_no % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let l = ledger(&dir, &format!("r{round_no}-{kind}-{which}.redb"))?;
                let s = tb::append_secs(&l, if which == 0 { &plain } else { &dated }, batch);
                best[kind][which] = best[kind][which].min(s);
                if kind == 1 && which == 1 && round_no + 1 == rounds {
                    kept = Some((l, dated.clone()));
                } else {
                    drop(l);
                    let _ = std::fs::remove_file(
                        dir.0.join(format!("r{round_no}-{kind}-{which}.redb")),
                    );
                }
            }
        }
    }
    for (kind, &(what, _, n, _)) in kinds.iter().enumerate() {
        let [without, with] = best[kind];
        println!(
            "{what}, {n} entries: without occurred_at {}/s, with {}/s: ratio with/without {} (time)",
            fmt_eps(n as f64 / without),
            fmt_eps(n as f64 / with),
            round(with / without, 3)
        );
    }
    let (l, dated) = kept.ok_or("no ledger kept")?;
    let at = |s: &str| Timestamp::parse(s);
    let (since, until) = (at("2024-03-01T00:00:00Z")?, at("2024-04-01T00:00:00Z")?);
    let (found, q_us) = time_us(|| {
        let mut q = Query {
            occurred_since: Some(since),
            occurred_until: Some(until),
            order: Order::OldestFirst,
            limit: 1000,
            ..Query::default()
        };
        let mut n = 0usize;
        loop {
            let page = l.query(&q).expect("query");
            n += page.entries.len();
            match page.next_cursor {
                Some(c) => q.cursor = Some(c),
                None => return n,
            }
        }
    });
    let (scanned, s_us) = time_us(|| {
        (0..l.size().expect("size"))
            .filter(|&i| {
                let e = l.get(i).expect("get");
                let t = e["occurred_at"]
                    .as_str()
                    .map(|s| Timestamp::parse(s).expect("t"));
                t.is_some_and(|t| t >= since && t < until)
            })
            .count()
    });
    assert_eq!(found, scanned, "the index and the scan agree");
    let expected = dated
        .iter()
        .filter(|e| {
            let t = Timestamp::parse(e["occurred_at"].as_str().unwrap_or("")).ok();
            t.is_some_and(|t| t >= since && t < until)
        })
        .count();
    assert_eq!(found, expected);
    println!(
        "March 2024 of {n_batch} entries ({found} found): by occurred_at {} ms, by reading every entry {} ms ({}x)",
        round(q_us / 1e3, 1),
        round(s_us / 1e3, 1),
        round(s_us / q_us, 1)
    );
    Ok(())
}
