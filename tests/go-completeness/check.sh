#!/usr/bin/env bash
# An auditor's own tool: a Go checker written from docs/SPEC.md section 9 (Go's sumdb/note and
# sumdb/tlog for the checkpoint and inclusion proofs, the rest by hand) gives the same answer
# as `trailseal verify-completeness` for proofs of several queries, and refuses doctored ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$here" && go build -o "$work/complete" .)
"$T" init "$work/l.redb" --origin example.com/complete --committed-indexes > /dev/null
vkey=$("$T" vkey "$work/l.redb")
gen() {
  for n in $(seq "$1" "$2"); do
    printf '{"actor":{"id":"u%d","via":["bot%d"]},"action":"deploy.succeeded","subject":{"type":"service","id":"s%d"},"attrs":{"env":"e%d"},"links":[{"rel":"commit","ref":"git:%d"},{"rel":"after","index":%d}],"authz":{"decision":"allow","policy":"p%d"}}\n' \
      $((n % 5)) $((n % 2)) $((n % 7)) $((n % 3)) $((n % 11)) $(( n > 0 ? (n - 1) / 2 : 0 )) $((n % 4))
  done
}
{ printf '{"actor":{"id":"root"},"action":"init","subject":{"type":"service","id":"s0"}}\n'; gen 1 1099; } | "$T" append "$work/l.redb" - > /dev/null
gen 1100 1130 | "$T" append "$work/l.redb" - > /dev/null
checks=0
for q in "--actor u1" "--via bot0 --subject service:s3" "--attr env=e2 --ref git:4" "--links-to 17" \
         "--decision allow --policy p3" "--actor nobody" "--actor u2 --from 100 --to 1120" "--subject service:s6 --from 1105"; do
  # shellcheck disable=SC2086
  "$T" query "$work/l.redb" $q --prove > "$work/p.json"
  want=$("$T" verify-completeness "$work/p.json" --vkey "$vkey" --json | python3 -c 'import json,sys; print(json.dumps([json.loads(l)["index"] for l in sys.stdin], separators=(",", ":")))')
  got=$("$work/complete" -vkey "$vkey" "$work/p.json")
  [ "$got" = "$want" ] || { echo "query $q: Go says $got, trailseal $want"; exit 1; }
  checks=$((checks + 1))
done
# The Go side really checks: a dropped entry and a doctored tail are refused.
"$T" query "$work/l.redb" --actor u1 --prove > "$work/p.json"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["entries"].pop(); json.dump(p, open(sys.argv[2], "w"))' "$work/p.json" "$work/drop.json"
if "$work/complete" -vkey "$vkey" "$work/drop.json" > /dev/null 2>&1; then echo "Go accepted a dropped entry"; exit 1; fi
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p["log"]["leaves"].pop(); p["log"]["first"] += 1; json.dump(p, open(sys.argv[2], "w"))' "$work/p.json" "$work/tail.json"
if "$work/complete" -vkey "$vkey" "$work/tail.json" > /dev/null 2>&1; then echo "Go accepted a cut tail"; exit 1; fi
echo "go-completeness: Go's checker agreed with trailseal on $checks completeness proofs and refused 2 doctored ones"
