//! What committed indexes (SPEC section 9) cost appends, and what a completeness proof costs,
//! in one run.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin complete -- [--quick]
//! ```
//!
//! 1. Batches of 1,000 (not fsync'd, so the index's own work is not hidden behind the disk)
//!    and durable single appends, into a ledger with committed indexes (a commitment every
//!    1,024 leaves) and one without, in alternating rounds, the best round of each:
//!    entries/s and the ratio on/off (the issue's target: at least 0.7x).
//! 2. On the ledger with them: completeness proofs for a subject (a few hundred hits) and an
//!    actor (a tenth of the ledger) over the whole ledger: proof JSON bytes, time to build
//!    (`Ledger::prove_complete`, which also signs a checkpoint and checks the proof it
//!    returns) and time to verify (`CompletenessProof::verify`).

use std::error::Error;

use trailseal::commit_index::proof::CompletenessProof;
use trailseal::query::Term;
use trailseal::{CreateOptions, Durability, Ledger, Signer};
use trailseal_benches::{self as tb, fmt_eps, machine_line, round, time_us, TempDir};

type Res<T> = Result<T, Box<dyn Error>>;

const ORIGIN: &str = "bench.example/complete";

fn ledger(dir: &TempDir, name: &str, on: bool, durable: bool) -> Res<Ledger> {
    let mut opts = CreateOptions::new(ORIGIN).committed_indexes(on);
    if !durable {
        opts.durability = Durability::NotDurableUntilSync;
    }
    Ok(Ledger::create(dir.0.join(name), &opts)?)
}

fn main() -> Res<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n_batch, n_single, rounds) = if quick {
        (100_000u64, 1_500u64, 3)
    } else {
        (1_000_000, 5_000, 3)
    };
    let dir = TempDir::new(None)?;
    println!("{}", machine_line(&tb::machine()));
    let kinds = [
        ("batches of 1,000 (not fsync'd)", 1000usize, n_batch, false),
        ("durable single appends", 1, n_single, true),
    ];
    let mut best = [[f64::MAX; 2]; 2];
    let mut kept = None;
    for round_no in 0..rounds {
        for (kind, &(_, batch, n, durable)) in kinds.iter().enumerate() {
            let entries = tb::entries(0, n as usize);
            let order = if round_no % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let name = format!("r{round_no}-{kind}-{which}.redb");
                let l = ledger(&dir, &name, which == 1, durable)?;
                let s = tb::append_secs(&l, &entries, batch);
                best[kind][which] = best[kind][which].min(s);
                if kind == 0 && which == 1 && round_no + 1 == rounds {
                    kept = Some(l);
                } else {
                    drop(l);
                    let _ = std::fs::remove_file(dir.0.join(&name));
                }
            }
        }
    }
    for (kind, &(what, _, n, _)) in kinds.iter().enumerate() {
        let [off, on] = best[kind];
        println!(
            "{what}, {n} entries: committed indexes off {}/s, on {}/s: ratio on/off {}",
            fmt_eps(n as f64 / off),
            fmt_eps(n as f64 / on),
            round(off / on, 3)
        );
    }
    let l = kept.ok_or("no ledger kept")?;
    let signer = Signer::from_seed(ORIGIN, [3; 32])?;
    let first = l.get(0)?;
    let subject = Term::Subject(
        first["subject"]["type"].as_str().unwrap_or_default().into(),
        first["subject"]["id"].as_str().unwrap_or_default().into(),
    );
    let actor = Term::Actor(first["actor"]["id"].as_str().unwrap_or_default().into());
    for term in [subject, actor] {
        let (proof, build_us) =
            time_us(|| l.prove_complete(std::slice::from_ref(&term), (0, None), &signer));
        let proof = proof?;
        let text = serde_json::to_string(&proof.to_json())?;
        let (report, verify_us) = time_us(|| {
            CompletenessProof::from_json(&serde_json::from_str(&text).expect("json"))
                .and_then(|p| p.verify(&signer.verifier()))
        });
        let report = report?;
        println!(
            "proof for {term:?} in {} entries: {} hits ({} committed, {} in the tail), {} bytes, build {} ms, parse and verify {} ms",
            l.size()?,
            report.entries.len(),
            proof.entries.len(),
            report.entries.len() - proof.entries.len(),
            text.len(),
            round(build_us / 1e3, 1),
            round(verify_us / 1e3, 1)
        );
    }
    println!("peak RSS {} MiB", round(tb::peak_rss_mib(), 0));
    Ok(())
}
