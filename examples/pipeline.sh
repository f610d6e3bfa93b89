#!/usr/bin/env bash
# A delivery pipeline's audit trail, end to end, with nothing but the `trailseal` command:
# record a change from commit to production with the evidence linked, sign a checkpoint,
# prove an entry and the log's growth, verify everything offline, and catch a tampered copy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p trailseal-cli
T="${CARGO_TARGET_DIR:-$root/target}/release/trailseal"
work=${TRAILSEAL_DEMO_DIR:-$(mktemp -d)}
mkdir -p "$work" && cd "$work" && rm -f audit.redb audit.redb.key ./*.json ./*.note
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Create the ledger (SHA-256, so any RFC 6962 verifier can check it) and its signing key"
"$T" init audit.redb --origin example.com/payments/audit --hash sha256
VKEY=$("$T" vkey audit.redb)

step "2. Record the pipeline: commit -> build -> tests -> scan -> approval -> deploy"
"$T" append audit.redb --actor alice --action commit.pushed --subject commit:4f2a9c1 \
  --ref commit=git:4f2a9c1 --attr repo=acme/payments-api --id git:4f2a9c1
cat > events.jsonl <<'JSON'
{"id":"ci:run/981","actor":{"id":"github-actions","via":["alice"]},"action":"build.succeeded","subject":{"type":"artifact","id":"payments-api:1.42.0"},"links":[{"rel":"built_from","index":0},{"rel":"run","ref":"ci:https://ci.example.com/runs/981"}],"change":{"after":{"digest":"sha256:9d1c0ffee"}}}
{"actor":{"id":"github-actions"},"action":"test.passed","subject":{"type":"artifact","id":"payments-api:1.42.0"},"links":[{"rel":"tested","index":1}],"attrs":{"suite":"integration","passed":"812"}}
{"actor":{"id":"scanner-bot"},"action":"scan.passed","subject":{"type":"artifact","id":"payments-api:1.42.0"},"links":[{"rel":"scanned","index":1}],"attrs":{"critical":"0"}}
JSON
"$T" append audit.redb events.jsonl
"$T" append audit.redb --actor bob --role release-manager --action approval.granted \
  --subject release:2026.11.3 --decision allow --policy release-two-person --policy-version 7 \
  --link approves=1 --link evidence=2 --link evidence=3
"$T" append audit.redb --actor deploy-bot --via carol --action deploy.succeeded \
  --subject service:payments-api --decision break_glass --policy prod-freeze \
  --reason "INC-2291: card declines, hotfix during freeze" --link approved_by=4 --link artifact=1 \
  --attr env=prod --occurred-at 2026-11-22T15:40:00Z
"$T" show audit.redb 5

step "3. Sign a checkpoint: the log's size and root, signed with Ed25519 (C2SP signed note)"
"$T" checkpoint audit.redb | tee checkpoint.note

step "4. Prove the deployment is in the log, and that the log only grew since entry 2"
"$T" prove inclusion audit.redb 5 | tee inclusion.json
"$T" show audit.redb 5 --raw > entry5.json
"$T" prove consistency audit.redb 2 > consistency.json

step "5. An auditor checks it offline, with only the public key"
"$T" verify-proof --inclusion inclusion.json --leaf entry5.json --checkpoint checkpoint.note --vkey "$VKEY"
"$T" verify-proof --consistency consistency.json --checkpoint checkpoint.note --vkey "$VKEY"
"$T" verify audit.redb --checkpoint checkpoint.note --vkey "$VKEY"

step "6. Someone edits a copy of the file behind the library's back: the break-glass reason"
cp audit.redb tampered.redb
python3 - <<'PY'
data = bytearray(open("tampered.redb", "rb").read())
at = data.find(b"INC-2291")
assert at >= 0, "entry text not found in the file"
data[at:at + 8] = b"INC-0000"
open("tampered.redb", "wb").write(data)
PY
if "$T" verify tampered.redb --checkpoint checkpoint.note --vkey "$VKEY"; then
  echo "tampering went unnoticed" >&2; exit 1
else
  echo "tampered copy refused (exit $?), as it must be"
fi
step "Done: the trail is in $work"
