#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 10).
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# With a nightly toolchain (`cargo +nightly`), installs cargo-fuzz if it is missing, builds the
# targets once, then runs each under libFuzzer for SECONDS (-max_total_time), starting from the
# committed seeds (fuzz/seeds/TARGET, read only; libFuzzer runs every one of them first, so a
# regression seed that panics fails the run) and a scratch corpus (fuzz/corpus/TARGET,
# ignored by git). A crash fails that target; the others still run, and the script exits 1
# naming the failed ones. libFuzzer leaves the input in fuzz/artifacts/TARGET/ (minimise it
# with `cargo +nightly fuzz tmin TARGET FILE` and keep it in fuzz/seeds/TARGET/).
#
# Without nightly (a CI machine with stable only), or when cargo-fuzz cannot be installed,
# replays the committed seeds through the same target functions with the stable toolchain
# instead (the `replay` binary of this crate), so every seed, and every regression input added
# to fuzz/seeds/, still runs. Exit 1 if any input panics.
#
# Environment: FUZZ_NO_NIGHTLY=1 forces the replay even where nightly exists.
# FUZZ_SANITIZER=none builds without AddressSanitizer (default: address). trailseal is safe
# Rust, but redb and the crypto crates hold unsafe code, so the default keeps ASan; without
# it the ledger_model target runs about ten times faster.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-10}"
san="${FUZZ_SANITIZER:-address}"
shift || true
all_targets=(proof_json proof_structured note keys entry ledger_model witness timestamp_token rules completeness)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
case "$secs" in '' | *[!0-9]*) echo "fuzz/run.sh: SECONDS must be a whole number" >&2; exit 2 ;; esac

step() { printf '\n== %s\n' "$*"; }
failed=()

nightly=0
if [ "${FUZZ_NO_NIGHTLY:-0}" != 1 ] && cargo +nightly --version >/dev/null 2>&1; then
  nightly=1
  if ! cargo fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    if ! cargo install cargo-fuzz --locked; then
      echo "fuzz/run.sh: cannot install cargo-fuzz; replaying the seeds instead" >&2
      nightly=0
    fi
  fi
fi

if [ "$nightly" = 1 ]; then
  step "building the fuzz targets (nightly, sanitizer: $san)"
  # One target at a time: a bare `cargo fuzz build` builds every binary of the crate, the
  # `replay` one included, which has no libFuzzer to provide the coverage hooks and fails
  # to link.
  for t in "${targets[@]}"; do cargo +nightly fuzz build -s "$san" "$t"; done
  mkdir -p target/fuzz-logs
  for t in "${targets[@]}"; do
    step "fuzzing $t for ${secs}s"
    mkdir -p "corpus/$t"
    log="target/fuzz-logs/$t.log"
    if cargo +nightly fuzz run -s "$san" "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
      # INITED: every committed seed has run (libFuzzer runs the whole starting corpus
      # before it starts mutating, whatever -max_total_time says).
      grep -E '^(#[0-9]+\s+(INITED|DONE)|Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 3 "$log"
    else
      tail -n 60 "$log" >&2
      echo "fuzz/run.sh: $t failed (full log: fuzz/$log); the input is in fuzz/artifacts/$t/" >&2
      failed+=("$t")
    fi
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz/run.sh: failing targets: ${failed[*]}" >&2
    exit 1
  fi
  step "fuzzing done: ${targets[*]}"
else
  step "no nightly toolchain: replaying the committed seeds with stable"
  cargo build --quiet --no-default-features --bin replay
  for t in "${targets[@]}"; do
    cargo run --quiet --no-default-features --bin replay -- "$t" "seeds/$t" || failed+=("$t")
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz/run.sh: failing targets: ${failed[*]}" >&2
    exit 1
  fi
  step "replay done"
fi
