#!/usr/bin/env bash
# A delivery pipeline's audit trail, end to end, with nothing but the `trailseal` command:
# record a delivery history from commit to production with the evidence linked, sign a
# checkpoint, prove an entry and the log's growth, verify everything offline, answer an
# auditor's questions (search, trace, why, release gate, evidence bundle, approvals report),
# and catch a tampered copy of the ledger and of a bundle.
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

step "2. Record three weeks of delivery: policy, commits, builds, tests, scans, approvals, deploys, a rollback, a break-glass hotfix"
bash "$root/examples/history.sh" "$T" audit.redb
"$T" show audit.redb 22

step "3. Sign a checkpoint: the log's size and root, signed with Ed25519 (C2SP signed note)"
"$T" checkpoint audit.redb | tee checkpoint.note

step "4. Prove the break-glass deployment is in the log, and that the log only grew since it held 10 entries"
"$T" prove inclusion audit.redb 22 | tee inclusion.json
"$T" show audit.redb 22 --raw > entry22.json
"$T" prove consistency audit.redb 10 > consistency.json

step "5. An auditor checks it offline, with only the public key"
"$T" verify-proof --inclusion inclusion.json --leaf entry22.json --checkpoint checkpoint.note --vkey "$VKEY"
"$T" verify-proof --consistency consistency.json --checkpoint checkpoint.note --vkey "$VKEY"
"$T" verify audit.redb --checkpoint checkpoint.note --vkey "$VKEY"

step "6. Show me every change to payments-api, everything alice did, every break-glass action"
"$T" query audit.redb --subject service:payments-api
"$T" query audit.redb --actor alice
"$T" query audit.redb --decision break_glass --json

step "7. Trace the production deployment of 2026.11.3 back to its commit; and what that commit led to"
"$T" trace audit.redb 18
"$T" trace audit.redb 10 --forward

step "8. Which rule allowed that deployment, what did it say then, and who approved that version?"
"$T" why audit.redb 18

step "9. Was each release allowed to ship? (the gate's verdict is recorded for 2026.11.3)"
cp "$root/examples/release-gate.json" release-gate.json
"$T" gate audit.redb --subject release:2026.11.3 --policy release-gate.json --record --actor release-gate-bot
if "$T" gate audit.redb --subject release:2026.11.4 --policy release-gate.json; then
  echo "a self-approved, unscanned release passed the gate" >&2; exit 1
else
  echo "release 2026.11.4 refused (exit $?): self-approved and never scanned"
fi

step "10. Give me the evidence for release 2026.11.3, to check without your system"
"$T" bundle audit.redb --subject release:2026.11.3 -o evidence.json
"$T" verify-bundle evidence.json --vkey "$VKEY"
sed 's/"id":"bob"/"id":"bib"/' evidence.json > evidence-edited.json
if "$T" verify-bundle evidence-edited.json --vkey "$VKEY"; then
  echo "an edited bundle went unnoticed" >&2; exit 1
else
  echo "edited bundle refused (exit $?), as it must be"
fi

step "11. Where do approvals wait?"
"$T" report audit.redb
"$T" report audit.redb --since 2026-11-10T00:00:00Z --json

step "12. Someone edits a copy of the ledger file behind the library's back: the break-glass reason"
cp audit.redb tampered.redb
python3 - <<'PY'
data = open("tampered.redb", "rb").read()
# Replace every copy: the storage engine may also keep superseded copies of the page.
assert b"hotfix during" in data, "entry text not found in the file"
open("tampered.redb", "wb").write(data.replace(b"hotfix during", b"normal during"))
PY
if "$T" verify tampered.redb --checkpoint checkpoint.note --vkey "$VKEY"; then
  echo "tampering went unnoticed" >&2; exit 1
else
  echo "tampered copy refused (exit $?), as it must be"
fi
step "Done: the trail is in $work"
