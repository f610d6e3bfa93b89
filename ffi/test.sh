#!/usr/bin/env bash
# The C ABI and Go package tests, in one command (idempotent; installs what a fresh machine
# lacks: a C compiler, pkg-config, valgrind, Go):
#
#   bash ffi/test.sh
#
# 1. builds libtrailseal (.so and .a) and the `trailseal` command (honours CARGO_TARGET_DIR);
# 2. runs the crate's tests, which fail when ffi/include/trailseal.h is not what cbindgen
#    generates now (regenerate: TRAILSEAL_BLESS_HEADER=1 cargo test -p trailseal-ffi --test header);
# 3. installs into a scratch prefix with ffi/install.sh and checks the header compiles as C99
#    and C++, and the pkg-config files link;
# 4. runs ffi/tests/test.c under valgrind (no leaks, no invalid accesses), linked against the
#    shared library, and again natively against the static library;
# 5. exchanges ledgers with the `trailseal` command (it writes one C reads and extends, C
#    writes one it reads and extends); the command records the example delivery history
#    (examples/history.sh) and C's answers about it (query, trace, why, gate, report) must be
#    the command's `--json` output byte for byte; each checks the other's evidence bundle;
# 6. runs `go test` in ffi/go (static library; then the pkg-config and shared-library builds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
start=$(date +%s)
step() { printf '\n== ffi: %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }

apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
# Toolchains installed outside the default PATH (rustup, the Go tarball).
for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
  if [ -d "$d" ] && [[ ":$PATH:" != *":$d:"* ]]; then PATH="$PATH:$d"; fi
done
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v go >/dev/null 2>&1 || need+=(golang-go)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  apt_install "${need[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
checks=0
check() { # DESCRIPTION COMMAND...: one interop check
  if "${@:2}"; then
    checks=$((checks + 1))
  else
    echo "FAIL: $1" >&2
    exit 1
  fi
}

step "build libtrailseal and the trailseal command"
cargo build -p trailseal-ffi -p trailseal-cli
T="$target/debug/trailseal"

step "crate tests: status codes, panics, header freshness"
cargo test -p trailseal-ffi

step "install into a scratch prefix; the header compiles as C99 and C++"
# A fixed path, not one under $work: Go caches a cgo package with the libraries pkg-config
# named for it (keyed on the compile flags only), so a prefix that moved between runs sent
# a second run's link to the first run's deleted archive.
prefix="$target/ffi-test-prefix"
rm -rf "$prefix"
TRAILSEAL_NO_BUILD=1 bash ffi/install.sh "$prefix" debug
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
printf '#include <trailseal.h>\nint main(void) { return (int)trailseal_status_name(0)[0] == 0; }\n' > "$work/h.c"
cc -std=c99 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags trailseal) -c "$work/h.c" -o "$work/h.o"
c++ -std=c++11 -Wall -Wextra -Werror -x c++ $(pkg-config --cflags trailseal) -c "$work/h.c" -o "$work/h++.o"
cc "$work/h.o" $(pkg-config --libs trailseal-static) -o "$work/h-static"
"$work/h-static"
cc "$work/h.o" $(pkg-config --libs trailseal) -Wl,-rpath,"$prefix/lib" -o "$work/h-shared"
"$work/h-shared"

step "compile ffi/tests/test.c (shared and static)"
cflags="-std=c11 -g -O0 -Wall -Wextra -Werror"
cc $cflags $(pkg-config --cflags trailseal) ffi/tests/test.c \
  $(pkg-config --libs trailseal) -lpthread -Wl,-rpath,"$prefix/lib" -o "$work/test-shared"
cc $cflags $(pkg-config --cflags trailseal) ffi/tests/test.c \
  $(pkg-config --libs trailseal-static) -o "$work/test-static"

step "the trailseal command writes a ledger for C"
c="$work/c"
mkdir -p "$c"
"$T" init "$c/cli-made.redb" --origin example.com/cli/made --hash sha256 > /dev/null
"$T" append "$c/cli-made.redb" --actor alice --action deploy.succeeded --subject service:payments-api \
  --decision allow --policy two-person --attr env=prod --id cli-1 > /dev/null
printf '%s\n' \
  '{"actor":{"id":"bob","via":["alice"]},"action":"test.passed","subject":{"type":"artifact","id":"a:1"},"links":[{"rel":"tested","index":0}]}' \
  '{"actor":{"id":"carol"},"action":"scan.passed","subject":{"type":"artifact","id":"a:1 \u00e9"},"payload":{"n":[1,2.5,null]}}' \
  | "$T" append "$c/cli-made.redb" > /dev/null
"$T" checkpoint "$c/cli-made.redb" > "$c/cli.note"
for i in 0 1 2; do "$T" show "$c/cli-made.redb" "$i" > "$c/cli-show-$i.json"; done
"$T" prove inclusion "$c/cli-made.redb" 1 > "$c/cli-inclusion-1.json"
# The example delivery history, and the command's answers about it, for C to match byte for byte.
h="$c/cli-history.redb"
"$T" init "$h" --origin example.com/payments/audit --hash sha256 > /dev/null
bash examples/history.sh "$T" "$h" > /dev/null
"$T" vkey "$h" > "$c/cli-history.vkey"
"$T" bundle "$h" --subject release:2026.11.3 -o "$c/cli-history.bundle" > /dev/null
"$T" gate "$h" --subject release:2026.11.3 --policy examples/release-gate.json --json > "$c/cli-gate-3.json"
if "$T" gate "$h" --subject release:2026.11.4 --policy examples/release-gate.json --json \
  > "$c/cli-gate-4.json" 2> /dev/null; then
  echo "FAIL: release 2026.11.4 passed the example gate" >&2
  exit 1
fi
"$T" trace "$h" 18 --json > "$c/cli-trace-18.json"
"$T" trace "$h" 10 --forward --json > "$c/cli-trace-10-forward.json"
"$T" why "$h" 18 --json > "$c/cli-why-18.json"
"$T" report "$h" --since 2026-11-09T00:00:00Z --json > "$c/cli-report.json"
"$T" query "$h" --actor alice --json > "$c/cli-query-alice.jsonl"

step "C tests under valgrind (shared library)"
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,possible --track-origins=yes \
  --suppressions=ffi/tests/valgrind.supp \
  --error-exitcode=99 "$work/test-shared" "$root" "$c" 2>&1 | tee "$work/c.log"
c_status=${PIPESTATUS[0]}
if [ "$c_status" != 0 ]; then
  echo "FAIL: the C tests exited with $c_status (99: valgrind found errors)" >&2
  exit 1
fi
grep -q '^c: [0-9]* passed, 0 failed$' "$work/c.log"
c_passed=$(sed -n 's/^c: \([0-9]*\) passed, 0 failed$/\1/p' "$work/c.log")

step "C tests natively (static library)"
mkdir -p "$work/c-static"
"$work/test-static" "$root" "$work/c-static" | tail -n 1

step "the trailseal command reads and extends the C-made ledger; C read and extended its ledger"
vkey=$(cat "$c/c-made.vkey")
check "vkey from the C-written key file" test "$("$T" vkey "$c/c-made.redb")" = "$vkey"
out=$("$T" verify "$c/c-made.redb" --checkpoint "$c/c-made.note" --vkey "$vkey")
check "verify the C-made ledger against its C checkpoint" \
  grep -q '"ok":true,"size":3,.*"checkpoints_checked":1,"consistent_with_checkpoint":3' <<<"$out"
for i in 0 1 2; do
  "$T" show "$c/c-made.redb" "$i" > "$work/show.json"
  check "show $i is the entry C read" cmp -s "$work/show.json" "$c/c-entry-$i.json"
done
"$T" show "$c/c-made.redb" 2 --raw > "$work/leaf2"
out=$("$T" verify-proof --inclusion "$c/c-inclusion-2.json" --leaf "$work/leaf2" \
  --checkpoint "$c/c-made.note" --vkey "$vkey")
check "the C proof verifies in the command" grep -q '"leaf_checked":true,"ok":true' <<<"$out"
printf '%s\n' '{"id":"c-1","actor":{"id":"alice","role":"sre"},"action":"deploy.succeeded","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"allow","policy":"two-person"},"attrs":{"env":"prod"}}' \
  > "$work/retry.jsonl"
out=$("$T" append "$c/c-made.redb" "$work/retry.jsonl")
check "a retried C id is recorded once" grep -q '"index":0,' <<<"$out"
"$T" append "$c/c-made.redb" --actor cli --action ledger.extended --subject ledger:c-made > /dev/null
"$T" checkpoint "$c/c-made.redb" > "$work/cli-on-c.note"
out=$("$T" verify "$c/c-made.redb" --checkpoint "$work/cli-on-c.note" --vkey "$vkey")
check "extended and re-signed by the command with the C key" \
  grep -q '"size":4,.*"checkpoints_checked":2,"consistent_with_checkpoint":4' <<<"$out"
cli_vkey=$("$T" vkey "$c/cli-made.redb")
out=$("$T" verify "$c/cli-made.redb" --checkpoint "$c/cli-made.c.note" --vkey "$cli_vkey")
check "the command verifies its ledger as extended and signed by C" \
  grep -q '"size":4,.*"checkpoints_checked":2,"consistent_with_checkpoint":4' <<<"$out"
out=$("$T" show "$c/cli-made.redb" 3)
check "the command shows the C-appended entry" grep -q '"actor":{"id":"c-program"}' <<<"$out"
hvkey=$(cat "$c/c-history.vkey")
out=$("$T" verify-bundle "$c/c-history.bundle" --vkey "$hvkey" --json)
check "the C-made bundle verifies in the command" \
  grep -q '^{"ok":true,"origin":"example.com/payments/audit","hash":"sha256","tree_size":27,' <<<"$out"
sed '0,/"id":"alice"/s//"id":"Alice"/' "$c/c-history.bundle" > "$work/changed.bundle"
check "the changed bundle differs in one byte" test "$(cmp -l "$c/c-history.bundle" "$work/changed.bundle" | wc -l)" = 1
set +e
"$T" verify-bundle "$work/changed.bundle" --vkey "$hvkey" > /dev/null 2>&1
status=$?
set -e
check "the command refuses the C-made bundle with one character changed (exit 1)" test "$status" = 1
echo "interop: $checks passed, 0 failed"

step "go test (static library from $target/debug)"
export TRAILSEAL_CLI="$T"
lib_id=$(cksum < "$target/debug/libtrailseal.a" | cut -d' ' -f1)
# Go's build cache does not see a rebuilt C library; a flag that changes with it does.
export CGO_CFLAGS="-g -O2 -DTRAILSEAL_LIB_ID=$lib_id"
(cd ffi/go && CGO_LDFLAGS="-L$target/debug" go test -count=1 -v ./... > "$work/go.log" 2>&1) || {
  cat "$work/go.log"
  exit 1
}
grep -E '^(--- FAIL|ok|FAIL)' "$work/go.log" || true
go_passed=$(grep -c '^\(    \)\?--- PASS' "$work/go.log" || true)

step "go test against the installed library (pkg-config: static, then shared)"
(cd ffi/go && go test -count=1 -tags trailseal_pkgconfig -run 'TestVersion|TestSigners|Example' ./...)
(cd ffi/go && LD_LIBRARY_PATH="$prefix/lib" go test -count=1 -tags trailseal_shared \
  -run 'TestVersion|TestSigners|Example' ./...)

step "done"
echo "ffi: C $c_passed checks (valgrind clean), interop $checks checks, Go $go_passed tests"
echo "ffi: $((c_passed + checks + go_passed)) passed, 0 failed"
