#!/usr/bin/env bash
# Where the time of a 1,000-entry batch append goes: `perf record` (DWARF call graphs) on the
# child process that builds a trailseal ledger in batches of 1,000 (`compare --child build`),
# then classify.py sorts every sample on trailseal's path into a phase (validation, canonical
# encoding, tree hashing, index postings, compression, redb's commit, ...), and the fdatasync
# time per batch from `strace`. Needs perf and strace; prints CPU shares and µs per entry.
#
#   bash benches/profile/batch.sh [ENTRIES] [sha256|blake3]    # default 300000 sha256
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-300000}
hash=${2:-sha256}
hz=1999
cargo build --release -p trailseal-benches --bin compare --manifest-path "$root/Cargo.toml" >&2
bin=${CARGO_TARGET_DIR:-$root/target}/release/compare
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
perf record -q -F $hz --call-graph dwarf,16384 -o "$work/perf.data" -- \
  "$bin" --child build --system trailseal --size "$n" --path "$work/p.db" --hash "$hash" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print(f"build: {r[\"eps\"]:.0f} entries/s")'
perf script -i "$work/perf.data" 2> /dev/null | python3 "$here/classify.py" $hz "$n"
rm -f "$work/p.db" "$work/perf.data"
strace -f --seccomp-bpf -e trace=fdatasync -T -o "$work/strace.log" \
  "$bin" --child build --system trailseal --size 100000 --path "$work/p.db" --hash "$hash" > /dev/null
python3 - "$work/strace.log" <<'PY'
import re, sys
t = [float(m.group(1)) for l in open(sys.argv[1]) for m in [re.search(r"<([\d.]+)>\s*$", l)] if "fdatasync" in l and m]
t.sort()
print(f"fdatasync (100k build): {len(t)} calls, {sum(t) / 100 * 1000:.2f} ms per 1,000-entry batch, median call {t[len(t) // 2] * 1000:.2f} ms")
PY
