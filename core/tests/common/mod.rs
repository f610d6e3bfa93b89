//! Helpers shared by the integration tests (each test file is its own crate and uses what it
//! needs of these).
#![allow(dead_code)]

pub mod retention;

/// xorshift64: reproducible noise without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// `tests/capture/`: the capture fixtures (its README names the source of each file).
pub fn capture_fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/capture")
}

/// A recorded CI environment of `tests/capture/ci/`: KEY=VALUE lines (comments and blank
/// lines skipped), as `env` prints them.
pub fn env_file(name: &str) -> std::collections::HashMap<String, String> {
    let text = std::fs::read_to_string(capture_fixtures().join("ci").join(name)).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Run git in `dir` as Alice (a fixed identity), without user or system config; its stdout.
/// Panics with git's message if it fails.
pub fn git_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Alice Example")
        .env("GIT_AUTHOR_EMAIL", "alice@example.com")
        .env("GIT_COMMITTER_NAME", "Alice Example")
        .env("GIT_COMMITTER_EMAIL", "alice@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Every page of `q`, following cursors: the indexes found, in the query's order.
pub fn all_pages(l: &trailseal::Ledger, mut q: trailseal::query::Query) -> Vec<u64> {
    let mut out = Vec::new();
    loop {
        let page = l.query(&q).unwrap();
        out.extend(page.entries.iter().map(|f| f.index));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}
