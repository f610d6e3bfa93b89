#!/usr/bin/env bash
# Checkpoint keys that never sit beside the ledger, against the real holders: OpenSSH's
# ssh-agent (Debian openssh-client) with a key from `ssh-keygen -t ed25519`, and SoftHSM2
# (Debian softhsm2) with an Ed25519 key made by OpenSC's pkcs11-tool. Each signs checkpoints
# that trailseal verifies and Go's sumdb/note accepts; a key gone from the agent, a wrong PIN
# and a removed token are clear errors with nothing signed; the PIN is never printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
work=$(mktemp -d /tmp/tskeys.XXXXXX)
agent=
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
checks=0
pass() { checks=$((checks + 1)); echo "ok $checks - $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs trailseal, keeping stdout in $work/out, stderr in $work/err, and both in $work/all.
ts() {
  set +e; "$T" "$@" > "$work/out" 2> "$work/err"; local s=$?; set -e
  cat "$work/out" "$work/err" >> "$work/all"
  return $s
}
expect() { # STATUS ARGS...
  local want=$1; shift
  local got=0
  ts "$@" || got=$?
  [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "trailseal $* exited $got, not $want"; }
}
entry() { printf '{"actor":{"id":"bot"},"action":"build.succeeded","subject":{"type":"commit","id":"%s"}}\n' "$1"; }
kept() { "$T" verify "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checkpoints_checked"])'; }
(cd "$root/tests/go-interop" && go build -o "$work/interop" .)
go_opens() { "$work/interop" -vkey "$1" -note "$2" > /dev/null 2>&1 || fail "Go's note.Open refused $2"; }

# ---- ssh-agent ----
ssh-keygen -q -t ed25519 -N '' -C trailseal-ci -f "$work/id"
fp=$(ssh-keygen -lf "$work/id.pub" | cut -d' ' -f2)
timeout 300 ssh-agent -a "$work/agent.sock" -D > /dev/null 2>&1 < /dev/null &
agent=$!
for _ in $(seq 100); do [ -S "$work/agent.sock" ] && break; sleep 0.1; done
export SSH_AUTH_SOCK="$work/agent.sock"
ssh-add -q "$work/id" 2> /dev/null
expect 0 init "$work/a.redb" --origin example.com/keys/agent --key ssh-agent:trailseal-ci
grep -q '"key_created":false' "$work/out" || fail "a held key made a key file: $(cat "$work/out")"
[ ! -e "$work/a.redb.key" ] || fail "a key file was written beside the ledger"
vkey=$("$T" vkey "$work/a.redb")
entry c1 | "$T" append "$work/a.redb" > /dev/null
expect 0 checkpoint "$work/a.redb" --key ssh-agent:trailseal-ci
cp "$work/out" "$work/agent.note"
go_opens "$vkey" "$work/agent.note"
entry c2 | "$T" append "$work/a.redb" > /dev/null
TRAILSEAL_KEY_FILE="ssh-agent:$fp" expect 0 checkpoint "$work/a.redb"
expect 0 verify "$work/a.redb"
pass "ssh-agent signs checkpoints (by comment and by fingerprint) that verify and that Go's note.Open accepts"

other=$(mktemp -u "$work/other.XXXX")
ssh-keygen -q -t ed25519 -N '' -C other-key -f "$other"
ssh-add -q "$other" 2> /dev/null
expect 2 checkpoint "$work/a.redb" --key ssh-agent:other-key
grep -q "not the key of this ledger\|verifier key" "$work/err" || fail "another key's refusal does not say why: $(cat "$work/err")"
ssh-add -q -D 2> /dev/null
expect 2 checkpoint "$work/a.redb" --key ssh-agent:trailseal-ci
grep -q "holds no key" "$work/err" || fail "a key gone from the agent is not named: $(cat "$work/err")"
[ "$(kept "$work/a.redb")" = 2 ] || fail "a checkpoint was kept without a signature"
kill "$agent"; wait "$agent" 2>/dev/null || true; agent=
expect 3 checkpoint "$work/a.redb" --key ssh-agent:trailseal-ci
grep -q "cannot reach ssh-agent" "$work/err" || fail "a dead agent is not named: $(cat "$work/err")"
pass "another key, a key gone from the agent and a dead agent are refused, nothing kept"
unset SSH_AUTH_SOCK

# ---- SoftHSM2 ----
module=${TRAILSEAL_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -e "$module" ] || fail "no SoftHSM2 module at $module (apt-get install softhsm2)"
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf"
softhsm2-util --init-token --free --label trailseal-ci --pin 271828 --so-pin 314159 > /dev/null
pkcs11-tool --module "$module" --token-label trailseal-ci --login --pin 271828 \
  --keypairgen --key-type EC:edwards25519 --label checkpoint --id 01 > /dev/null 2>&1
uri="pkcs11:token=trailseal-ci;object=checkpoint?module-path=$module&pin-value=271828"
expect 0 init "$work/h.redb" --origin example.com/keys/hsm --key "$uri"
hvkey=$("$T" vkey "$work/h.redb")
entry h1 | "$T" append "$work/h.redb" > /dev/null
expect 0 checkpoint "$work/h.redb" --key "$uri"
cp "$work/out" "$work/hsm.note"
go_opens "$hvkey" "$work/hsm.note"
printf '271828\n' > "$work/pin"
chmod 600 "$work/pin"
entry h2 | "$T" append "$work/h.redb" > /dev/null
expect 0 checkpoint "$work/h.redb" --key "pkcs11:token=trailseal-ci;object=checkpoint?module-path=$module&pin-source=$work/pin"
expect 0 verify "$work/h.redb"
pass "a SoftHSM2 token signs checkpoints (PIN in the URI or a file) that verify and Go accepts"

expect 2 checkpoint "$work/h.redb" --key "pkcs11:token=trailseal-ci;object=checkpoint?module-path=$module&pin-value=000000"
grep -q "the PIN is wrong" "$work/err" || fail "a wrong PIN is not said: $(cat "$work/err")"
expect 2 checkpoint "$work/h.redb" --key "pkcs11:token=trailseal-ci;object=no-such-key?module-path=$module&pin-value=271828"
softhsm2-util --delete-token --token trailseal-ci > /dev/null
expect 3 checkpoint "$work/h.redb" --key "$uri"
grep -q "no PKCS#11 token" "$work/err" || fail "a removed token is not said: $(cat "$work/err")"
[ "$(kept "$work/h.redb")" = 2 ] || fail "a checkpoint was kept without a signature"
pass "a wrong PIN, a missing key and a removed token are refused, nothing kept"

# The PIN went through every command above: no output or message carries it.
if grep -q 271828 "$work/all"; then fail "the PIN was printed"; fi
"$T" init "$work/p.redb" --origin example.com/keys/p --key "pkcs11:token=x;object=k?module-path=$module&pin-value=271828" > "$work/out" 2> "$work/err" || true
if grep -q 271828 "$work/out" "$work/err"; then fail "init printed the PIN"; fi
pass "the PIN is never printed"
echo "$checks passed, 0 failed"
