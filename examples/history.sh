#!/usr/bin/env bash
# Record a realistic delivery history into an empty ledger, through the `trailseal` command:
# a release policy and its approval, three releases of payments-api (commits, builds, tests,
# scans, release requests, approvals, deployments), a rollback and one break-glass hotfix.
#
#   bash examples/history.sh TRAILSEAL_BINARY LEDGER
#
# Each stage is one atomic batch, as a CI system posting its events would record them. Every
# event carries `occurred_at` (when it happened), so a report on it is the same whenever it is
# recorded. Links name earlier entries by index, so the ledger must start empty.
# core/tests/audit.rs reads the entries from this file (every line starting with `{`), so the
# tests and the README's example answer the same questions about the same history.
#
# What it holds (index: event):
#    0-1   policy release-two-person v7 published by ciso, approved by dana
#    2-9   release 2026.11.2 (erin): commit, build, test, scan, request, bob + carol approve, deploy
#   10-18  release 2026.11.3 (alice): commit, build, test, scan, request, dave (a developer),
#          bob and carol approve, deploy to prod
#   19     carol rolls 2026.11.3 back (INC-2291)
#   20-22  alice's hotfix: commit, build, deploy-bot deploys it for carol as break-glass
#   23-26  release 2026.11.4 recorded afterwards: test, alice requests it, alice and bob
#          approve (a self-approval; no scan)
set -euo pipefail
T=${1:?usage: history.sh TRAILSEAL_BINARY LEDGER}
L=${2:?usage: history.sh TRAILSEAL_BINARY LEDGER}
size=$("$T" prove consistency "$L" 0 | sed -E 's/.*"new_size":([0-9]+).*/\1/')
if [ "$size" != 0 ]; then
  echo "history.sh: $L already holds $size entries; the history links by index and needs an empty ledger" >&2
  exit 2
fi
record() {
  "$T" append "$L" >/dev/null
  echo "  recorded: $1"
}

record "policy release-two-person v7, and its approval" <<'JSON'
{"id":"policy:release-two-person@7","actor":{"id":"ciso","role":"security"},"action":"policy.published","subject":{"type":"policy","id":"release-two-person"},"attrs":{"version":"7"},"payload":{"rule":"A release ships after test.passed and scan.passed are recorded on it, with approvals by two different people holding release-manager or sre, neither its requester nor an author of what it ships.","gate":{"min_approvals":2,"approver_roles":["release-manager","sre"],"forbid_self_approval":true,"require":["test.passed","scan.passed"]}},"occurred_at":"2026-10-26T09:00:00Z"}
{"actor":{"id":"dana","role":"security-lead"},"action":"approval.granted","subject":{"type":"policy","id":"release-two-person"},"attrs":{"version":"7"},"links":[{"rel":"approves","index":0}],"occurred_at":"2026-10-26T15:00:00Z"}
JSON

record "release 2026.11.2: commit, build, test, scan" <<'JSON'
{"id":"git:7be01d2","actor":{"id":"erin","role":"developer"},"action":"commit.pushed","subject":{"type":"commit","id":"7be01d2"},"attrs":{"repo":"acme/payments-api","branch":"main"},"payload":{"message":"Retry idempotent card captures once"},"occurred_at":"2026-11-03T10:00:00Z"}
{"id":"ci:run/970","actor":{"id":"github-actions","via":["erin"]},"action":"build.succeeded","subject":{"type":"artifact","id":"payments-api:1.41.0"},"links":[{"rel":"built_from","ref":"git:7be01d2"},{"rel":"run","ref":"ci:https://ci.example.com/runs/970"}],"change":{"after":{"digest":"sha256:5e1f0a2b"}},"occurred_at":"2026-11-03T10:12:00Z"}
{"actor":{"id":"github-actions"},"action":"test.passed","subject":{"type":"release","id":"2026.11.2"},"links":[{"rel":"tested","index":3}],"attrs":{"suite":"integration","passed":"812"},"occurred_at":"2026-11-03T10:30:00Z"}
{"actor":{"id":"scanner-bot"},"action":"scan.passed","subject":{"type":"release","id":"2026.11.2"},"links":[{"rel":"scanned","index":3}],"attrs":{"critical":"0","high":"0"},"occurred_at":"2026-11-03T10:35:00Z"}
JSON

record "release 2026.11.2: erin requests it, bob and carol approve, deploy-bot ships it" <<'JSON'
{"actor":{"id":"erin","role":"developer"},"action":"release.requested","subject":{"type":"release","id":"2026.11.2"},"links":[{"rel":"ships","index":3},{"rel":"change","ref":"git:7be01d2"}],"occurred_at":"2026-11-03T11:00:00Z"}
{"actor":{"id":"bob","role":"release-manager"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.2"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":6}],"occurred_at":"2026-11-03T12:00:00Z"}
{"actor":{"id":"carol","role":"sre"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.2"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":6}],"occurred_at":"2026-11-03T14:00:00Z"}
{"actor":{"id":"deploy-bot"},"action":"deploy.succeeded","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"release","index":6},{"rel":"approved_by","index":7},{"rel":"approved_by","index":8},{"rel":"artifact","index":3}],"attrs":{"env":"prod","release":"2026.11.2"},"change":{"before":"payments-api:1.40.3","after":"payments-api:1.41.0"},"occurred_at":"2026-11-04T09:00:00Z"}
JSON

record "release 2026.11.3: commit, build, test, scan" <<'JSON'
{"id":"git:4f2a9c1","actor":{"id":"alice","role":"developer"},"action":"commit.pushed","subject":{"type":"commit","id":"4f2a9c1"},"attrs":{"repo":"acme/payments-api","branch":"main"},"payload":{"message":"Move card tokenization to the new vault client"},"occurred_at":"2026-11-09T09:00:00Z"}
{"id":"ci:run/981","actor":{"id":"github-actions","via":["alice"]},"action":"build.succeeded","subject":{"type":"artifact","id":"payments-api:1.42.0"},"links":[{"rel":"built_from","ref":"git:4f2a9c1"},{"rel":"run","ref":"ci:https://ci.example.com/runs/981"}],"change":{"after":{"digest":"sha256:9d1c0ffe"}},"occurred_at":"2026-11-09T09:15:00Z"}
{"actor":{"id":"github-actions"},"action":"test.passed","subject":{"type":"release","id":"2026.11.3"},"links":[{"rel":"tested","index":11}],"attrs":{"suite":"integration","passed":"815"},"occurred_at":"2026-11-09T09:40:00Z"}
{"actor":{"id":"scanner-bot"},"action":"scan.passed","subject":{"type":"release","id":"2026.11.3"},"links":[{"rel":"scanned","index":11}],"attrs":{"critical":"0","high":"0"},"occurred_at":"2026-11-09T09:45:00Z"}
JSON

record "release 2026.11.3: alice requests it, dave, bob and carol approve, deploy-bot ships it" <<'JSON'
{"actor":{"id":"alice","role":"developer"},"action":"release.requested","subject":{"type":"release","id":"2026.11.3"},"links":[{"rel":"ships","index":11},{"rel":"change","ref":"git:4f2a9c1"}],"occurred_at":"2026-11-09T10:00:00Z"}
{"actor":{"id":"dave","role":"developer"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.3"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":14}],"occurred_at":"2026-11-09T10:20:00Z"}
{"actor":{"id":"bob","role":"release-manager"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.3"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":14}],"occurred_at":"2026-11-09T11:30:00Z"}
{"actor":{"id":"carol","role":"sre"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.3"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":14}],"occurred_at":"2026-11-10T10:00:00Z"}
{"actor":{"id":"deploy-bot"},"action":"deploy.succeeded","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"release","index":14},{"rel":"approved_by","index":16},{"rel":"approved_by","index":17},{"rel":"artifact","index":11}],"attrs":{"env":"prod","release":"2026.11.3"},"change":{"before":"payments-api:1.41.0","after":"payments-api:1.42.0"},"occurred_at":"2026-11-10T11:00:00Z"}
JSON

record "incident INC-2291: carol rolls 2026.11.3 back" <<'JSON'
{"actor":{"id":"carol","role":"sre"},"action":"deploy.rolled_back","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"allow","policy":"rollback-anytime"},"links":[{"rel":"rolls_back","index":18},{"rel":"incident","ref":"jira:INC-2291"}],"attrs":{"env":"prod","release":"2026.11.3"},"change":{"before":"payments-api:1.42.0","after":"payments-api:1.41.0"},"payload":{"reason":"card declines up 4x after 1.42.0"},"occurred_at":"2026-11-10T11:40:00Z"}
JSON

record "alice's hotfix, deployed for carol as break-glass during the freeze" <<'JSON'
{"id":"git:9c3e5aa","actor":{"id":"alice","role":"developer"},"action":"commit.pushed","subject":{"type":"commit","id":"9c3e5aa"},"attrs":{"repo":"acme/payments-api","branch":"hotfix/inc-2291"},"payload":{"message":"Pin the vault client to 2.3 until its retry bug is fixed"},"occurred_at":"2026-11-10T12:10:00Z"}
{"id":"ci:run/983","actor":{"id":"github-actions","via":["alice"]},"action":"build.succeeded","subject":{"type":"artifact","id":"payments-api:1.42.1"},"links":[{"rel":"built_from","ref":"git:9c3e5aa"},{"rel":"run","ref":"ci:https://ci.example.com/runs/983"}],"change":{"after":{"digest":"sha256:0b7e4c1d"}},"occurred_at":"2026-11-10T12:20:00Z"}
{"actor":{"id":"deploy-bot","via":["carol"]},"action":"deploy.succeeded","subject":{"type":"service","id":"payments-api"},"authz":{"decision":"break_glass","policy":"prod-freeze","reason":"INC-2291: card declines, hotfix during the change freeze"},"links":[{"rel":"artifact","index":21},{"rel":"after","index":19},{"rel":"ticket","ref":"jira:INC-2291"}],"attrs":{"env":"prod","release":"2026.11.4"},"change":{"before":"payments-api:1.41.0","after":"payments-api:1.42.1"},"occurred_at":"2026-11-10T12:35:00Z"}
JSON

record "release 2026.11.4, recorded after the fact: test, alice requests it, alice and bob approve" <<'JSON'
{"actor":{"id":"github-actions"},"action":"test.passed","subject":{"type":"release","id":"2026.11.4"},"links":[{"rel":"tested","index":21}],"attrs":{"suite":"integration","passed":"815"},"occurred_at":"2026-11-16T09:10:00Z"}
{"actor":{"id":"alice","role":"developer"},"action":"release.requested","subject":{"type":"release","id":"2026.11.4"},"links":[{"rel":"ships","index":21},{"rel":"hotfix","index":22},{"rel":"change","ref":"git:9c3e5aa"}],"occurred_at":"2026-11-16T09:20:00Z"}
{"actor":{"id":"alice","role":"release-manager"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.4"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":24}],"occurred_at":"2026-11-16T09:50:00Z"}
{"actor":{"id":"bob","role":"release-manager"},"action":"approval.granted","subject":{"type":"release","id":"2026.11.4"},"authz":{"decision":"allow","policy":"release-two-person","policy_version":"7"},"links":[{"rel":"approves","index":24}],"occurred_at":"2026-11-16T13:20:00Z"}
JSON
