//! Replay inputs through a fuzz target on any toolchain, without libFuzzer:
//!
//! ```sh
//! cargo run --no-default-features --bin replay -- TARGET FILE_OR_DIR...
//! ```
//!
//! Runs each file (each file of each directory) through the target and reports the first
//! that panics, with the panic message; exit status 1 if any did.

use std::path::{Path, PathBuf};

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for e in entries {
            files(&e, out);
        }
    } else {
        out.push(p.to_path_buf());
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(name) = args.next() else {
        eprintln!("usage: replay TARGET FILE_OR_DIR...");
        std::process::exit(2);
    };
    let Some(target) = trailseal_fuzz::target(&name) else {
        let names: Vec<&str> = trailseal_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("unknown target {name:?}; targets: {}", names.join(", "));
        std::process::exit(2);
    };
    let mut inputs = Vec::new();
    for a in args {
        files(Path::new(&a), &mut inputs);
    }
    let mut failed = 0;
    for f in &inputs {
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            eprintln!("{name}: {} panics (message above)", f.display());
            failed += 1;
        }
    }
    eprintln!("{name}: {} inputs, {failed} panicked", inputs.len());
    if name == "ledger_model" {
        eprintln!("{name}: {}", trailseal_fuzz::ledger_model::stats());
    }
    std::process::exit(i32::from(failed > 0));
}
