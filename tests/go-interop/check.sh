#!/usr/bin/env bash
# Go's golang.org/x/mod/sumdb/tlog and sumdb/note accept trailseal's SHA-256 proofs and
# checkpoints unchanged, and a key made by Go's note.GenerateKey signs trailseal checkpoints.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$here" && go build -o "$work/interop" .)
"$work/interop" -genkey example.com/interop > "$work/keys"
sed -n 1p "$work/keys" > "$work/l.redb.key"
chmod 600 "$work/l.redb.key"
vkey=$(sed -n 2p "$work/keys")

"$T" init "$work/l.redb" --origin example.com/interop --hash sha256 --key "$work/l.redb.key" > /dev/null
[ "$("$T" vkey "$work/l.redb")" = "$vkey" ] || { echo "verifier key differs from Go's"; exit 1; }
for n in $(seq 0 36); do
  printf '{"actor":{"id":"bot-%d"},"action":"build.succeeded","subject":{"type":"commit","id":"c%d"}}\n' "$n" "$n"
done | "$T" append "$work/l.redb" --batch 5 > /dev/null

checks=0
go_check() { "$work/interop" "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }; }
for size in 1 2 3 4 5 7 8 9 16 17 31 32 33 37; do
  for index in 0 1 $((size / 2)) $((size - 2)) $((size - 1)); do
    [ "$index" -ge 0 ] && [ "$index" -lt "$size" ] || continue
    "$T" prove inclusion "$work/l.redb" "$index" --size "$size" > "$work/inc.json"
    go_check -inclusion "$work/inc.json"
    checks=$((checks + 1))
  done
  for old in 1 2 3 $((size / 2)) $((size - 1)); do
    [ "$old" -ge 1 ] && [ "$old" -le "$size" ] || continue
    "$T" prove consistency "$work/l.redb" "$old" --size "$size" > "$work/con.json"
    go_check -consistency "$work/con.json"
    checks=$((checks + 1))
  done
  "$T" checkpoint "$work/l.redb" --size "$size" > "$work/cp.note"
  go_check -vkey "$vkey" -note "$work/cp.note"
  checks=$((checks + 1))
done
# and the Go side really checks: a doctored proof and a doctored note are refused
"$T" prove inclusion "$work/l.redb" 5 > "$work/inc.json"
sed -i 's/"path":\["\(.\)/"path":["f\1/; s/"path":\["ff/"path":["0f/' "$work/inc.json"
if "$work/interop" -inclusion "$work/inc.json" > /dev/null 2>&1; then echo "Go accepted a doctored proof"; exit 1; fi
sed 's/^37$/36/' "$work/cp.note" > "$work/bad.note"
if "$work/interop" -vkey "$vkey" -note "$work/bad.note" > /dev/null 2>&1; then echo "Go accepted a doctored note"; exit 1; fi
echo "go-interop: Go's tlog and note accepted $checks trailseal proofs and checkpoints"
