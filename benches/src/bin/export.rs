//! What exporting costs, next to reading the same entries the ledger's own ways, in one run.
//!
//! ```sh
//! cargo run --release -p trailseal-benches --bin export -- [--quick] [--size N] [--json FILE]
//! ```
//!
//! On one ledger of N entries (default 1,000,000; `--quick` 100,000) from the benchmarks'
//! entry generator:
//! 1. `export parquet` of the whole ledger: entries/s and bytes written, and the entries the
//!    files hold (read back from their footers);
//! 2. after 1,000 more appends, the incremental export: its time as a fraction of the full one
//!    and the files it wrote;
//! 3. the entries as OCSF events (`follow --format ocsf`'s work, without the terminal);
//! 4. the floor: every leaf read in order (`Ledger::scan_raw`);
//! 5. `query` by actor, every page, for every actor: entries returned per second.

use std::error::Error;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::{json, Value};
use trailseal::export::ocsf::{to_ocsf, Provenance};
use trailseal::export::parquet::{export_parquet, ParquetOptions};
use trailseal::query::Query;
use trailseal::{CreateOptions, Durability, Ledger};
use trailseal_benches::{self as tb, fmt_eps, human, loadavg, machine, round, time_us, TempDir};

type Res<T> = Result<T, Box<dyn Error>>;

const ORIGIN: &str = "bench.example/export";
/// Entries appended before the incremental export.
const MORE: u64 = 1_000;

struct Args {
    size: u64,
    quick: bool,
    json: Option<PathBuf>,
    dir: Option<PathBuf>,
}

fn args() -> Res<Args> {
    let mut a = Args {
        size: 1_000_000,
        quick: false,
        json: None,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    let mut size = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--size" => size = Some(it.next().ok_or("--size needs N")?.parse()?),
            "--json" => a.json = Some(it.next().ok_or("--json needs FILE")?.into()),
            "--dir" => a.dir = Some(it.next().ok_or("--dir needs DIR")?.into()),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    a.size = size.unwrap_or(if a.quick { 100_000 } else { a.size });
    Ok(a)
}

/// Every `.parquet` file under `dir` (not dot-named ones), and their bytes.
fn parquet_files(dir: &Path) -> Res<(Vec<PathBuf>, u64)> {
    let (mut files, mut bytes) = (Vec::new(), 0);
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                bytes += std::fs::metadata(&p)?.len();
                files.push(p);
            }
        }
    }
    Ok((files, bytes))
}

fn rows_in(files: &[PathBuf]) -> Res<i64> {
    let mut n = 0;
    for f in files {
        n += SerializedFileReader::new(File::open(f)?)?
            .metadata()
            .file_metadata()
            .num_rows();
    }
    Ok(n)
}

fn main() -> Res<()> {
    let a = args()?;
    let load_before = loadavg();
    let tmp = TempDir::new(a.dir.as_deref())?;
    let path = tmp.0.join("export.redb");
    let mut opts = CreateOptions::new(ORIGIN);
    opts.durability = Durability::NotDurableUntilSync;
    let l = Ledger::create(&path, &opts)?;
    let mut at = 0;
    while at < a.size {
        let n = (a.size - at).min(tb::BATCH as u64) as usize;
        l.append_batch(&tb::entries(at, n))?;
        at += n as u64;
    }
    l.sync()?;
    let ledger_bytes = std::fs::metadata(&path)?.len();
    eprintln!("export: ledger of {} entries built", human(a.size));

    // 1. Full export.
    let lake = tmp.0.join("lake");
    let (full, full_us) = time_us(|| export_parquet(&l, &lake, &ParquetOptions::default()));
    let full = full?;
    let (files, bytes) = parquet_files(&lake)?;
    let rows = rows_in(&files)?;
    if rows as u64 != a.size || full.to != a.size {
        return Err(format!("exported {rows} rows of {} entries", a.size).into());
    }

    // 2. Incremental export of MORE new entries.
    l.append_batch(&tb::entries(a.size, MORE as usize))?;
    l.sync()?;
    let (more, more_us) = time_us(|| export_parquet(&l, &lake, &ParquetOptions::default()));
    let more = more?;
    let (files_after, _) = parquet_files(&lake)?;
    if rows_in(&files_after)? as u64 != a.size + MORE {
        return Err("the incremental export did not add exactly the new entries".into());
    }
    let size = a.size + MORE;

    // 3. OCSF events, and 4. the floor: every leaf in order.
    let (ocsf_bytes, ocsf_us) = time_us(|| -> Res<usize> {
        let mut total = 0;
        let mut at = 0;
        while at < size {
            let end = size.min(at + 65_536);
            l.scan_raw(at, end, |first, leaves| {
                for (k, leaf) in leaves.iter().enumerate() {
                    let entry: Value = serde_json::from_slice(leaf)
                        .map_err(|e| trailseal::Error::Internal(e.to_string()))?;
                    let p = Provenance {
                        origin: ORIGIN,
                        hash: l.hash(),
                        index: first + k as u64,
                        leaf_hash: l.hash().leaf_hash(leaf),
                    };
                    total += to_ocsf(&entry, &p)?.to_string().len() + 1;
                }
                Ok(())
            })?;
            at = end;
        }
        Ok(total)
    });
    let ocsf_bytes = ocsf_bytes?;
    let (scanned, scan_us) = time_us(|| -> Res<u64> {
        let mut n = 0;
        l.scan_raw(0, size, |_, leaves| {
            n += leaves.len() as u64;
            Ok(())
        })?;
        Ok(n)
    });
    let scanned = scanned?;

    // 5. Query by actor, every page of every actor.
    let actors: std::collections::BTreeSet<String> = (0..2_000)
        .map(|i| {
            tb::entry_json(i)["actor"]["id"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let (returned, query_us) = time_us(|| -> Res<u64> {
        let mut n = 0;
        for actor in &actors {
            let mut q = Query {
                actor: Some(actor.clone()),
                limit: 1_000,
                ..Query::default()
            };
            loop {
                let page = l.query(&q)?;
                n += page.entries.len() as u64;
                match page.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(n)
    });
    let returned = returned?;

    let eps = |n: u64, us: f64| n as f64 / (us / 1e6);
    let export_eps = eps(a.size, full_us);
    let query_eps = eps(returned, query_us);
    let report = json!({
        "program": "export",
        "mode": if a.quick { "quick" } else { "full" },
        "size": a.size,
        "machine": machine(),
        "load_average": {"before": load_before, "after": loadavg()},
        "ledger_bytes": ledger_bytes,
        "full_export": {
            "seconds": round(full_us / 1e6, 3),
            "entries_per_s": round(export_eps, 0),
            "files": files.len(),
            "bytes": bytes,
            "bytes_vs_ledger": round(bytes as f64 / ledger_bytes as f64, 3),
        },
        "incremental_export": {
            "entries": MORE,
            "seconds": round(more_us / 1e6, 4),
            "files": more.files.len(),
            "fraction_of_full": round(more_us / full_us, 4),
        },
        "ocsf": {"entries_per_s": round(eps(size, ocsf_us), 0),
                 "bytes_per_entry": round(ocsf_bytes as f64 / size as f64, 1)},
        "scan_raw": {"entries_per_s": round(eps(scanned, scan_us), 0)},
        "query_by_actor": {"actors": actors.len(), "entries": returned,
                           "entries_per_s": round(query_eps, 0)},
        "ratios": {
            "export_vs_query": round(export_eps / query_eps, 3),
            "export_vs_scan": round(export_eps / eps(scanned, scan_us), 3),
            "ocsf_vs_scan": round(eps(size, ocsf_us) / eps(scanned, scan_us), 3),
        },
    });

    println!("| {} entries | entries/s | notes |", human(a.size));
    println!("| --- | --- | --- |");
    println!(
        "| export parquet (full) | {} | {} files, {:.1} MiB ({:.2}x the ledger file) |",
        fmt_eps(export_eps),
        files.len(),
        bytes as f64 / 1048576.0,
        bytes as f64 / ledger_bytes as f64
    );
    println!(
        "| export parquet ({MORE} new) | {} | {:.1} ms, {:.2}% of the full export, {} file(s) |",
        fmt_eps(eps(MORE, more_us)),
        more_us / 1e3,
        100.0 * more_us / full_us,
        more.files.len()
    );
    println!(
        "| OCSF events (follow --format ocsf) | {} | {:.0} bytes an event |",
        fmt_eps(eps(size, ocsf_us)),
        ocsf_bytes as f64 / size as f64
    );
    println!(
        "| scan_raw (every leaf, in order) | {} | the floor |",
        fmt_eps(eps(scanned, scan_us))
    );
    println!(
        "| query by actor (every page) | {} | {} actors, {} entries |",
        fmt_eps(query_eps),
        actors.len(),
        human(returned)
    );
    println!(
        "\nexport / query: {:.2}x   export / scan: {:.2}x   ocsf / scan: {:.2}x",
        report["ratios"]["export_vs_query"].as_f64().unwrap_or(0.0),
        report["ratios"]["export_vs_scan"].as_f64().unwrap_or(0.0),
        report["ratios"]["ocsf_vs_scan"].as_f64().unwrap_or(0.0),
    );
    tb::write_json("export", a.json.as_deref(), &report)?;
    Ok(())
}
