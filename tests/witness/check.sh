#!/usr/bin/env bash
# trailseal against a real witness we did not write: two torchwood litewitness instances
# (C2SP tlog-witness) on 127.0.0.1, built by build.sh. Two cosign and a quorum of 2 verifies;
# Go's note verifiers accept the cosigned checkpoint; a rebuilt copy (same origin and key,
# another history) and a rolled-back copy are refused and `witness` exits 1; a witness that
# is down is reported; a BLAKE3 ledger is refused before any request; one bundle carries the
# cosignatures and a time-stamp token (the test TSA, tests/tsa/server.py) and both are checked.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
work=$(mktemp -d /tmp/tsw.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$here/cosigcheck" && go build -o "$work/cosigcheck" .)

origin=example.com/witness-test
checks=0
pass() { checks=$((checks + 1)); echo "ok $checks - $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs trailseal, keeping stdout in $work/out and stderr in $work/err; returns its status.
ts() { set +e; "$T" "$@" > "$work/out" 2> "$work/err"; local s=$?; set -e; return $s; }
expect() { # STATUS ARGS...: the command must exit with STATUS
  local want=$1; shift
  local got=0
  ts "$@" || got=$?
  [ "$got" = "$want" ] || { cat "$work/out" "$work/err" >&2; fail "trailseal $* exited $got, not $want"; }
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$T" init "$work/l.redb" --origin "$origin" > /dev/null
logvkey=$("$T" vkey "$work/l.redb")
append() { # LEDGER FIRST LAST
  for n in $(seq "$2" "$3"); do
    printf '{"actor":{"id":"bot"},"action":"build.succeeded","subject":{"type":"commit","id":"%s-%d"}}\n' "$(basename "$1")" "$n"
  done | "$T" append "$1" > /dev/null
}

# Two witnesses that trust our log (start.sh); their URLs and vkeys.
bash "$here/start.sh" "$work/witnesses" "$origin" "$logvkey" w1 w2 > "$work/witnesses.json"
mapfile -t pids < "$work/witnesses/pids"
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])][sys.argv[3]])' "$work/witnesses.json" "$@"; }
url_w1=$(field 0 url) vkey_w1=$(field 0 vkey) url_w2=$(field 1 url) vkey_w2=$(field 1 vkey)
w=(--key "$work/l.redb.key" --witness "$url_w1" --witness-key "$vkey_w1" --witness "$url_w2" --witness-key "$vkey_w2")
policy=(--witness-key "$vkey_w1" --witness-key "$vkey_w2" --quorum 2)

append "$work/l.redb" 1 5
expect 0 witness "$work/l.redb" "${w[@]}" --quorum 2
grep -q '"cosigned":2' "$work/out" || fail "two cosignatures expected: $(cat "$work/out")"
pass "two witnesses cosign size 5"
cp "$work/l.redb" "$work/old.redb"

append "$work/l.redb" 6 13
expect 0 witness "$work/l.redb" "${w[@]}"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["note"], end="")' "$work/out" > "$work/cosigned.note"
grep -q '^13$' "$work/cosigned.note" || fail "the note is not of size 13"
pass "both cosign size 13 from the size they cosigned before (a consistency proof)"

"$work/cosigcheck" -log "$logvkey" -witness "$vkey_w1" -witness "$vkey_w2" -note "$work/cosigned.note" > /dev/null \
  || fail "Go's note verifiers refuse the cosigned checkpoint"
pass "Go's sumdb/note and transparency-dev/formats accept the cosigned checkpoint"

expect 0 verify "$work/l.redb" "${policy[@]}"
grep -q '"witnessed_size":13' "$work/out" || fail "witnessed_size 13 expected: $(cat "$work/out")"
grep -q '"cosignatures_checked":4' "$work/out" || fail "4 kept cosignatures expected: $(cat "$work/out")"
pass "verify with a quorum of 2 witnesses"

"$T" prove inclusion "$work/l.redb" 3 --size 13 > "$work/inc.json"
expect 0 verify-proof --inclusion "$work/inc.json" --checkpoint "$work/cosigned.note" --vkey "$logvkey" "${policy[@]}"
pass "verify-proof with a quorum of 2"
expect 0 bundle "$work/l.redb" --index 3 -o "$work/b.json" --checkpoint "$work/cosigned.note" --vkey "$logvkey"
expect 0 verify-bundle "$work/b.json" --vkey "$logvkey" "${policy[@]}"
pass "a bundle carries the cosigned checkpoint and verify-bundle holds it to the quorum"

# Trusted time on the cosigned checkpoint (size 13, the second kept): the test TSA
# (openssl ts -reply behind tests/tsa/server.py) stamps it, and one bundle then carries the
# witnesses' cosignatures and the token, each checked by verify-bundle.
bash "$root/tests/tsa/make_pki.sh" "$work/pki" > /dev/null 2>&1
python3 "$root/tests/tsa/server.py" "$work/pki" "$work/tsaport" > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/tsaport" ] && break; sleep 0.1; done
[ -s "$work/tsaport" ] || fail "the test TSA did not start"
tsa="http://127.0.0.1:$(cat "$work/tsaport")/ec"
expect 0 timestamp "$work/l.redb" --tsa "$tsa" --tsa-ca "$work/pki/ca-ec.pem" --checkpoint 1
grep -q '"size":13' "$work/out" || fail "checkpoint 1 is not of size 13: $(cat "$work/out")"
expect 0 bundle "$work/l.redb" --index 3 -o "$work/bt.json" --checkpoint "$work/cosigned.note" --vkey "$logvkey"
grep -q '"checkpoint_timestamp"' "$work/bt.json" || fail "the bundle carries no token"
expect 0 verify-bundle "$work/bt.json" --vkey "$logvkey" --tsa-ca "$work/pki/ca-ec.pem" "${policy[@]}" --json
python3 - "$work/out" <<'PY' || fail "verify-bundle --json lacks the attested time or the cosignatures: $(cat "$work/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["attested"]["time"] and len(r["cosignatures"]) == 2, r
PY
expect 1 verify-bundle "$work/bt.json" --vkey "$logvkey" --tsa-ca "$work/pki/ca-rsa.pem" "${policy[@]}"
expect 1 verify-bundle "$work/bt.json" --vkey "$logvkey" --tsa-ca "$work/pki/ca-ec.pem" --witness-key "$vkey_w1" --witness-key "$(cat "$root/tests/vectors/cosignature.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["witness_vkeys"][1])')"
pass "one bundle carries the witnesses' cosignatures and a TSA's token; verify-bundle checks both"

cat > "$work/policy.txt" <<POLICY
# C2SP tlog-policy: our log, both witnesses, and a quorum of both
log $logvkey
witness one $vkey_w1 $url_w1
witness two $vkey_w2
group both 2 one two
quorum both
POLICY
expect 0 verify-proof --inclusion "$work/inc.json" --checkpoint "$work/cosigned.note" --vkey "$logvkey" --witness-policy "$work/policy.txt"
expect 0 verify-bundle "$work/b.json" --vkey "$logvkey" --witness-policy "$work/policy.txt"
expect 0 verify "$work/l.redb" --witness-policy "$work/policy.txt"
grep -q '"witnessed_size":13' "$work/out" || fail "witnessed_size 13 expected: $(cat "$work/out")"
# One more witness that never cosigned, required beside the two: no kept checkpoint meets it.
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["witness_vkeys"][0])' \
  "$root/tests/vectors/cosignature.json" > "$work/absent.vkey"
sed -e "s|^quorum both|witness three $(cat "$work/absent.vkey")\ngroup all3 all both three\nquorum all3|" \
  "$work/policy.txt" > "$work/policy3.txt"
expect 1 verify "$work/l.redb" --witness-policy "$work/policy3.txt"
grep -q "the witness policy's quorum" "$work/err" || fail "no quorum message: $(cat "$work/err")"
pass "a C2SP tlog-policy file with a group of both witnesses holds (verify-proof, verify-bundle, verify LEDGER)"

"$T" checkpoint "$work/l.redb" > "$work/plain.note"
expect 1 verify-proof --inclusion "$work/inc.json" --checkpoint "$work/plain.note" --vkey "$logvkey" "${policy[@]}"
expect 0 bundle "$work/l.redb" --index 3 -o "$work/plain.json" --checkpoint "$work/plain.note" --vkey "$logvkey"
expect 1 verify-bundle "$work/plain.json" --vkey "$logvkey" "${policy[@]}"
expect 1 verify-bundle "$work/plain.json" --vkey "$logvkey" --witness-policy "$work/policy.txt"
pass "a checkpoint without cosignatures is refused under the policy"

# publish --cosigned: the newest kept checkpoint (plain.note) has no cosignatures, so the
# published one is the cosigned note of size 13 with both witnesses' lines; monitor holds
# it to the quorum, and refuses a published checkpoint without it.
expect 0 publish "$work/l.redb" "$work/pub" --cosigned "${policy[@]}"
[ "$(grep -c '^— ' "$work/pub/checkpoint")" = 3 ] || fail "the published note lacks the cosignatures: $(cat "$work/pub/checkpoint")"
expect 0 monitor "$work/pub" --vkey "$logvkey" --state "$work/mon.json" "${policy[@]}"
grep -q '"size":13' "$work/out" || fail "monitor: $(cat "$work/out")"
expect 0 publish "$work/l.redb" "$work/pub-plain" --newest
expect 1 monitor "$work/pub-plain" --vkey "$logvkey" --state "$work/mon-plain.json" "${policy[@]}"
pass "publish --cosigned publishes the quorum's checkpoint, and monitor requires the quorum"

# The insider's rebuilt copy: same origin and key, another history, longer than what the
# witnesses saw.
"$T" init "$work/rebuilt.redb" --origin "$origin" --key "$work/l.redb.key" > /dev/null 2>&1
append "$work/rebuilt.redb" 1 20
expect 1 witness "$work/rebuilt.redb" "${w[@]}"
grep -q "differs from the one it cosigned" "$work/err" || fail "no 422 message: $(cat "$work/err")"
pass "a rebuilt history is refused by both witnesses (exit 1)"
"$T" init "$work/same.redb" --origin "$origin" --key "$work/l.redb.key" > /dev/null 2>&1
append "$work/same.redb" 100 112
expect 1 witness "$work/same.redb" "${w[@]}"
grep -Eq "different root for size 13|differs from the one it cosigned" "$work/err" || fail "no same-size 409 message: $(cat "$work/err")"
pass "a forked copy of the same size is refused (litewitness answers 422, the spec 409)"

# The copy taken at size 5: the witnesses have cosigned 13 since.
expect 1 witness "$work/old.redb" "${w[@]}"
grep -q "rolled back" "$work/err" || fail "no rollback message: $(cat "$work/err")"
pass "a rolled-back ledger is refused (exit 1)"

dead="http://127.0.0.1:$(free_port)"
append "$work/l.redb" 14 14
expect 1 witness "$work/l.redb" --witness "$url_w1" --witness-key "$vkey_w1" --witness "$dead" --witness-key "$vkey_w2"
grep -q "connection refused" "$work/err" || fail "no refused-connection message: $(cat "$work/err")"
expect 0 witness "$work/l.redb" --witness "$url_w1" --witness-key "$vkey_w1" --witness "$dead" --witness-key "$vkey_w2" --quorum 1
pass "a witness that is down is reported; a quorum of 1 still succeeds"

"$T" init "$work/b3.redb" --origin "$origin" --hash blake3 --key "$work/l.redb.key" > /dev/null 2>&1
expect 2 witness "$work/b3.redb" "${w[@]}"
grep -q "SHA-256" "$work/err" || fail "the BLAKE3 refusal does not say why: $(cat "$work/err")"
pass "a BLAKE3 ledger is refused before any request"

echo "$checks passed, 0 failed"
