//! The committed `include/trailseal.h` is what cbindgen generates from the sources now.
//!
//! `TRAILSEAL_BLESS_HEADER=1 cargo test -p trailseal-ffi --test header` rewrites it.

use std::path::Path;

#[test]
fn committed_header_is_fresh() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("reading ffi/cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen failed to generate the header")
        .write(&mut fresh);
    let path = crate_dir.join("include/trailseal.h");
    if std::env::var_os("TRAILSEAL_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("writing include/trailseal.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != fresh {
        let fresh = String::from_utf8_lossy(&fresh);
        let committed = String::from_utf8_lossy(&committed);
        let first = fresh
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| fresh.lines().count().min(committed.lines().count()));
        panic!(
            "ffi/include/trailseal.h is stale (first difference at line {}: fresh {:?}, \
             committed {:?}); regenerate it with \
             `TRAILSEAL_BLESS_HEADER=1 cargo test -p trailseal-ffi --test header`",
            first + 1,
            fresh.lines().nth(first).unwrap_or("<end>"),
            committed.lines().nth(first).unwrap_or("<end>"),
        );
    }
}
