#!/usr/bin/env bash
# Every test of the project, in one command (the README's test command; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "time-stamp authority for cli/tests/timestamp.rs (openssl ts -reply behind tests/tsa/server.py)"
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
command -v python3 >/dev/null
export TRAILSEAL_TSA_TESTS=1
# The held-key tests of every suite start OpenSSH's ssh-agent (installed by .ci/run).
export TRAILSEAL_KEY_TESTS=1
step "rust tests (unit, vectors, properties, ledger, tampering, CLI, crash)"
cargo test --workspace
step "Go's sumdb/tlog and sumdb/note accept trailseal's output"
cargo build -p trailseal-cli
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/go-interop/check.sh
TRAILSEAL_GO_INTEROP=1 cargo test -p trailseal --test note_vectors go_interop
step "a real witness (torchwood litewitness, built once from the Go module proxy) cosigns, refuses forks and rollbacks"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/witness/check.sh
step "held checkpoint keys: OpenSSH's ssh-agent and a SoftHSM2 token sign, Go's note.Open accepts"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/keys/check.sh
step "DuckDB (PyPI, pinned) reads two ledgers' Parquet export as one table and agrees with trailseal query; pydantic-ocsf accepts follow --format ocsf"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/export/check.sh
step "Tessera's fsck and proof builder (built once from the Go module proxy) read what publish writes"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/publish/check.sh
step "publish to real S3 (versitygw, built once from the Go module proxy) and monitor it: SIGKILLed publish, changed tile, rollback"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/publish/check-s3.sh
step "Python package (pip install ./bindings-python, pytest)"
bash bindings-python/test.sh -q
step "Node package (npm install, napi build, node --test, tsc)"
bash bindings-node/test.sh
step "C ABI (valgrind), Go package (the Go tests also ask the real witness and TSA)"
TRAILSEAL_WITNESS_TESTS=1 bash ffi/test.sh
step "all tests passed"
