//! Running the `trailseal` binary from the command-line tests.

#![allow(dead_code)]

use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_trailseal");

/// Run the binary with `args` and `stdin`: (exit code, stdout, stderr).
pub fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write;
    let mut c = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from a thread: the child prints receipts while it reads, and a full stdout
    // pipe would otherwise stop both.
    let mut input = c.stdin.take().unwrap();
    let text = stdin.unwrap_or("").to_owned();
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let out = c.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Run the binary, which must succeed; its last line of output as JSON.
pub fn ok(args: &[&str]) -> Value {
    let (code, out, err) = run(args, None);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(out.lines().last().unwrap_or("null")).unwrap()
}

/// Run the binary with `args` and SIGKILL it after a pseudo-random delay of `from_ms` plus up
/// to `spread_ms` (drawn from `seed`, a xorshift state), unless it finished first. Whether it
/// was killed.
pub fn run_and_kill(args: &[&str], seed: &mut u64, from_ms: u64, spread_ms: u64) -> bool {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    std::thread::sleep(std::time::Duration::from_millis(
        from_ms + *seed % spread_ms,
    ));
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().expect("SIGKILL the child");
    }
    child.wait().unwrap();
    killed
}
