#!/usr/bin/env bash
# Every test of the project, in one command (the README's test command; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step prints the minutes since the start, so a slow CI run shows where its time went.
step() { printf '\n== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# The real components the tests start, from Debian's packages when missing: OpenSSH's
# ssh-agent (litewitness's key, held checkpoint keys), SoftHSM2 and OpenSC's pkcs11-tool (a
# PKCS#11 token and its key), openssl (the test TSA), libfaketime (the export test's clock),
# jq (the publish tests read JSON answers).
missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have ssh-agent && have ssh-keygen || missing+=(openssh-client)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
have pkcs11-tool || missing+=(opensc)
have openssl || missing+=(openssl)
have faketime || missing+=(faketime)
have jq || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "time-stamp authority for cli/tests/timestamp.rs (openssl ts -reply behind tests/tsa/server.py)"
command -v python3 >/dev/null
export TRAILSEAL_TSA_TESTS=1
# The held-key tests of every suite start OpenSSH's ssh-agent (installed above).
export TRAILSEAL_KEY_TESTS=1
step "rust tests (unit, vectors, properties, ledger, tampering, CLI, crash)"
cargo test --workspace
step "Go's sumdb/tlog and sumdb/note accept trailseal's output"
cargo build -p trailseal-cli
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/go-interop/check.sh
TRAILSEAL_GO_INTEROP=1 cargo test -p trailseal --test note_vectors go_interop
step "an independent Go checker of completeness proofs (SPEC section 9) agrees with trailseal"
TRAILSEAL="${CARGO_TARGET_DIR:-$PWD/target}/debug/trailseal" bash tests/go-completeness/check.sh
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
step "release artifacts (release/build.sh): wheel, npm packages, static command, C archive, each installed with no toolchain on PATH"
bash tests/release/check.sh
step "all tests passed"
