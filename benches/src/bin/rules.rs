//! What enforcing a rules document costs on append (`benches/README.md`, "Rules"), in one run:
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin rules -- [--quick] [--json FILE]
//! ```
//!
//! Append throughput with a 50-class rules document in force (every entry of the stream
//! matched to a class after a scan of 45 wildcard classes that do not match, its actor's role
//! looked up, fields and links checked) against the same appends with no rules, for batches
//! of 1,000 and for durable single appends. Target: at least 0.9x for both. Runs alternate
//! between the two ledgers and the best of each is kept, so a noisy neighbour costs both.

use std::error::Error;
use std::time::Instant;

use serde_json::{json, Value};
use trailseal::rules::Rules;
use trailseal::{CreateOptions, Ledger};
use trailseal_benches::{entries, entry_json, machine, quick_and_json, round, TempDir, BATCH};

type Res<T> = Result<T, Box<dyn Error>>;

/// The 50-class document: 45 wildcard classes no entry of the stream matches, then one class
/// per action family of the stream, each with a role check, required fields and a link.
fn document() -> Value {
    let mut classes: Vec<Value> = (0..45)
        .map(|i| {
            json!({"name": format!("unused-{i}"), "action": format!("unused{i}.*"),
                        "roles": ["staff"], "require": ["authz.policy_version"]})
        })
        .collect();
    for (i, family) in ["deploy.*", "build.*", "approval.*", "release.*", "*"]
        .iter()
        .enumerate()
    {
        classes.push(json!({
            "name": format!("family-{i}"),
            "action": family,
            "roles": ["staff", "bots"],
            "require": ["attrs.env", "payload"],
            "links": [{"rel": "built_from"}],
            "break_glass": ["staff", "bots"],
            "retention": "sox-7y",
        }));
    }
    json!({
        "version": "bench-1",
        "roles": {
            "staff": ["alice@example.com", "bob@example.com", "carol.nguyen@example.com",
                      "dmitri@example.com", "erin.okafor@example.com", "*@contractor.example.net"],
            "bots": ["deploy-bot", "svc:*"],
        },
        "classes": classes,
    })
}

/// Entries per second appending `total` entries of the stream in `per_call`-entry calls.
fn throughput(l: &Ledger, start: u64, total: u64, per_call: usize) -> Res<f64> {
    let t = Instant::now();
    let mut n = start;
    while n < start + total {
        l.append_batch(&entries(n, per_call))?;
        n += per_call as u64;
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

fn main() -> Res<()> {
    let (quick, json_out) = quick_and_json();
    let dir = TempDir::new(None)?;
    let rules = Rules::from_value(&document())?;
    assert_eq!(rules.classes.len(), 50);
    let plain = Ledger::create(dir.0.join("plain.redb"), &CreateOptions::new("bench/rules"))?;
    let ruled = Ledger::create(dir.0.join("ruled.redb"), &CreateOptions::new("bench/rules"))?;
    // The same first entry on both, so both streams start at index 1.
    plain.append(&entry_json(0))?;
    ruled.publish_rules(&rules, "ciso", None, None)?;
    // Every entry of the stream conforms: a refusal here would be a broken benchmark.
    for i in 1..200 {
        rules
            .check(&entry_json(i))
            .map_err(|e| format!("entry {i}: {e}"))?;
    }
    let (rounds, batch_total, singles) = if quick {
        (3, 10_000, 100)
    } else {
        (5, 50_000, 400)
    };
    let mut best = [[0f64; 2]; 2];
    let mut next = [1u64; 2];
    for _ in 0..rounds {
        for (k, l) in [&plain, &ruled].into_iter().enumerate() {
            let b = throughput(l, next[k], batch_total, BATCH)?;
            next[k] += batch_total;
            let s = throughput(l, next[k], singles, 1)?;
            next[k] += singles;
            best[k][0] = best[k][0].max(b);
            best[k][1] = best[k][1].max(s);
        }
    }
    let report = json!({
        "machine": machine(),
        "classes": 50,
        "batch": {
            "none_entries_per_second": round(best[0][0], 0),
            "rules_entries_per_second": round(best[1][0], 0),
            "ratio": round(best[1][0] / best[0][0], 3),
        },
        "durable_single": {
            "none_appends_per_second": round(best[0][1], 1),
            "rules_appends_per_second": round(best[1][1], 1),
            "ratio": round(best[1][1] / best[0][1], 3),
        },
    });
    println!(
        "rules: 50 classes in force vs none: batches of {BATCH} {:.3}x ({:.0} vs {:.0} entries/s), durable single appends {:.3}x ({:.1} vs {:.1} appends/s) (target: at least 0.9x each)",
        best[1][0] / best[0][0], best[1][0], best[0][0],
        best[1][1] / best[0][1], best[1][1], best[0][1],
    );
    if let Some(path) = json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
