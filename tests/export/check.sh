#!/usr/bin/env bash
# `trailseal export parquet` read by an engine we did not write: DuckDB (PyPI, pinned, see
# venv.sh). Two ledgers of different services, their entries spread over four days (the clock
# set by libfaketime, so that the day partitions are real), are exported under one prefix,
# one of them again after more appends (incremental); an export killed (SIGKILL) midway and run
# again leaves every entry in the table once. DuckDB, reading the prefix as one table,
# answers the questions `trailseal query` answers on each ledger (actor, subject, action, time
# range, and combinations) with the same entries, row for row; see check.py. The same ledgers,
# and one of every CDEvents and in-toto fixture, followed with --format ocsf give events that
# pydantic-ocsf's OCSF 1.3.0 models and schema accept; see ocsf_check.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime; }
py=$(bash "$here/venv.sh")
work=$(mktemp -d /tmp/tsexport.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Entries for service $1, day $2: every actor, action and subject in several combinations,
# some with the optional fields.
entries() {
  python3 - "$1" "$2" <<'PY'
import json, sys
svc, day = sys.argv[1], int(sys.argv[2])
for n in range(40):
    e = {"actor": {"id": f"user-{(n + day) % 5}"},
         "action": ["deploy.succeeded", "approval.granted", "config.changed"][n % 3],
         "subject": {"type": ["service", "flag"][n % 2], "id": f"{svc}-{n % 4}"}}
    if n % 3 == 0:
        e["authz"] = {"decision": "allow", "policy": "p-1"}
        e["attrs"] = {"env": "prod", "day": str(day)}
    if n % 5 == 0:
        e["actor"]["via"] = ["ci-bot"]
        e["change"] = {"before": n, "after": n + 0.5}
    print(json.dumps(e))
PY
}
# append LEDGER SVC DAY TIME: that day's entries, recorded at TIME (UTC) on the fake clock.
append() {
  entries "$2" "$3" > "$work/in.jsonl"
  TZ=UTC faketime "$4" "$T" append "$1" "$work/in.jsonl" > /dev/null
}

"$T" init "$work/a.redb" --origin example.com/payments/audit > /dev/null 2>&1
"$T" init "$work/b.redb" --origin example.com/billing/audit > /dev/null 2>&1
append "$work/a.redb" payments 1 '2026-03-01 10:00:00'
append "$work/b.redb" billing 1 '2026-03-01 11:00:00'
append "$work/a.redb" payments 2 '2026-03-02 23:59:59'
append "$work/b.redb" billing 3 '2026-03-03 08:00:00'
"$T" export parquet "$work/a.redb" "$work/lake" > /dev/null
"$T" export parquet "$work/b.redb" "$work/lake" --row-group-rows 16 --file-rows 50 > /dev/null
# More for one service, exported again: only the new entries are written.
append "$work/a.redb" payments 4 '2026-03-04 09:30:00'
"$T" export parquet "$work/a.redb" "$work/lake" > "$work/rerun.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert (r['from'], r['to'], r['rows']) == (80, 120, 40), r" "$work/rerun.json"
echo "ok - a rerun exported only the 40 new entries"

"$py" "$here/check.py" "$T" "$work/lake" "$work/a.redb" "$work/b.redb"

# An export killed (SIGKILL) midway, then run again after more appends: every entry is in the
# table exactly once. Small files (one fsync and rename each) make the run long enough to kill.
python3 -c '
import json
for n in range(80000):
    print(json.dumps({"actor": {"id": f"u{n % 13}"}, "action": "deploy.succeeded",
                      "subject": {"type": "service", "id": f"s{n % 7}"}, "attrs": {"n": str(n)}}))
' > "$work/big.jsonl"
"$T" init "$work/d.redb" --origin example.com/killed/audit > /dev/null 2>&1
"$T" append "$work/d.redb" "$work/big.jsonl" --batch 20000 > /dev/null
"$T" export parquet "$work/d.redb" "$work/lake2" --file-rows 100 --row-group-rows 100 > /dev/null &
victim=$!
for _ in $(seq 1000); do
  [ "$(find "$work/lake2" -name '*.parquet' 2>/dev/null | wc -l)" -ge 10 ] && break
  sleep 0.01
done
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
if ls "$work"/lake2/_trailseal/*.export.json > /dev/null 2>&1; then
  echo "FAIL: the export finished before it was killed; the test did not test" >&2
  exit 1
fi
left=$(find "$work/lake2" -name '*.parquet' | wc -l)
head -n 500 "$work/big.jsonl" > "$work/more.jsonl"
"$T" append "$work/d.redb" "$work/more.jsonl" > /dev/null
"$T" export parquet "$work/d.redb" "$work/lake2" > /dev/null
[ -z "$(find "$work/lake2" -name '.*.partial')" ] || { echo "FAIL: partial files left" >&2; exit 1; }
"$py" - "$work/lake2" <<'PY'
import sys, duckdb
n, distinct, lo, hi = duckdb.connect().execute(
    f"SELECT count(*), count(DISTINCT index), min(index), max(index) "
    f"FROM read_parquet('{sys.argv[1]}/*/*.parquet')").fetchone()
assert (n, distinct, lo, hi) == (80500, 80500, 0, 80499), (n, distinct, lo, hi)
PY
echo "ok - an export killed after $left files, run again after 500 appends: 80,500 entries, each once"

# And entries captured from other formats: every CDEvents and in-toto fixture. The CDEvents
# spec examples share one context id, so each is given its own before it is imported.
"$T" init "$work/c.redb" --origin example.com/captured/audit > /dev/null 2>&1
for f in "$root"/tests/capture/cdevents/*.json; do
  python3 -c 'import json, sys; e = json.load(open(sys.argv[1])); e["context"]["id"] = sys.argv[1]; print(json.dumps(e))' "$f" |
    "$T" import "$work/c.redb" --format cdevents - > /dev/null
done
for f in "$root"/tests/capture/intoto/*.json* "$root"/tests/capture/intoto/*.link; do
  "$T" import "$work/c.redb" --format intoto "$f" > /dev/null
done
captured=$("$T" query "$work/c.redb" --limit 100000 --json | wc -l)

for l in a:120 b:80 c:$captured; do
  "$T" follow "$work/${l%:*}.redb" --from 0 --until-size "${l#*:}" --format ocsf > "$work/events.jsonl"
  "$py" "$here/ocsf_check.py" "$work/events.jsonl" "${l#*:}"
done
