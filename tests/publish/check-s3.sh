#!/usr/bin/env bash
# `publish` to real S3 (versitygw over a POSIX directory, started here on 127.0.0.1) and
# `monitor` from s3://: publish, publish again after more appends (only the new objects),
# monitor each; a publish killed midway (SIGKILL) leaves a log that monitor accepts and the
# next publish completes; a tile changed in the bucket is caught by `monitor --full`; a
# rolled-back checkpoint is caught by `monitor`; Tessera's fsck accepts the bucket's files as
# published; and --lock-days locks what no publish replaces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
vgw=$(bash "$here/build-s3.sh")/versitygw
bin=$(bash "$here/build.sh")
work=$(mktemp -d)
server=
locker=
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  [ -z "$locker" ] || kill "$locker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/s3/audit"   # the bucket: a directory under the gateway's root
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$vgw" --access testkey --secret testsecret --port "127.0.0.1:$port" posix --nometa "$work/s3" \
  > "$work/vgw.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testkey AWS_SECRET_ACCESS_KEY=testsecret
dest=s3://audit/logs/payments
files=$work/s3/audit/logs/payments

L=$work/l.redb
"$T" init "$L" --origin example.com/publish/s3 > /dev/null
"$T" vkey "$L" > "$work/vkey"
n=0
grow() { # append $1 entries
  awk -v a="$n" -v k="$1" 'BEGIN { for (i = a; i < a + k; i++)
    printf "{\"actor\":{\"id\":\"svc-%d\"},\"action\":\"deploy.succeeded\",\"subject\":{\"type\":\"service\",\"id\":\"s%d\"}}\n", i % 7, i }' \
    | "$T" append "$L" --batch 20000 > /dev/null
  n=$((n + $1))
}
mon() { "$T" monitor "$dest" --vkey "$work/vkey" --state "$work/state.json" "$@"; }

grow 1000
out=$("$T" publish "$L" "$dest")
[ "$(jq .objects <<< "$out")" = 9 ] || { echo "first publish: $out"; exit 1; }
[ "$(mon | jq .entries_checked)" = 1000 ] || exit 1
grow 300
out=$("$T" publish "$L" "$dest")
[ "$(jq '[.from, .size, .objects]' -c <<< "$out")" = "[1000,1300,7]" ] || { echo "second publish: $out"; exit 1; }
[ "$(mon | jq .entries_checked)" = 300 ] || exit 1
cp "$files/checkpoint" "$work/old-checkpoint"

# A publish killed midway: the old checkpoint still stands, monitor accepts the log, and the
# next publish completes it.
grow 60000
"$T" publish "$L" "$dest" > /dev/null 2>&1 &
victim=$!
for _ in $(seq 200); do
  [ "$(find "$files/tile/entries" -type f | wc -l)" -gt 30 ] && break
  sleep 0.02
done
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
[ "$(sed -n 2p "$files/checkpoint")" = 1300 ] || { echo "the killed publish had already finished; make it larger"; exit 1; }
[ "$(mon | jq .size)" = 1300 ] || exit 1
out=$("$T" publish "$L" "$dest")
[ "$(jq .size <<< "$out")" = "$n" ] || { echo "the publish after the kill: $out"; exit 1; }
[ "$(mon | jq .entries_checked)" = 60000 ] || exit 1
[ "$("$T" prove inclusion "$dest" 4321)" = "$("$T" prove inclusion "$L" 4321)" ] || { echo "prove inclusion from s3:// differs"; exit 1; }
"$bin/tlogcheck" fsck "$files" "$work/vkey" > "$work/fsck.log" 2>&1 || { cat "$work/fsck.log"; exit 1; }

# A changed tile: the incremental monitor has nothing new to look at; --full finds it.
cp "$files/tile/0/010" "$work/tile"
printf '\x01' | dd of="$files/tile/0/010" bs=1 seek=64 conv=notrunc status=none
mon > /dev/null
if mon --full 2> "$work/err"; then echo "monitor --full passed a changed tile"; exit 1; fi
grep -q "tile/0/010" "$work/err" || { cat "$work/err"; exit 1; }
cp "$work/tile" "$files/tile/0/010"
mon --full > /dev/null

# A rolled-back checkpoint: exit 1, saying so, and the state is left as it was.
cp "$work/old-checkpoint" "$files/checkpoint"
if mon 2> "$work/err"; then echo "monitor accepted a rollback"; exit 1; fi
grep -q "rollback" "$work/err" || { cat "$work/err"; exit 1; }
[ "$(jq .size "$work/state.json")" = "$n" ] || { echo "the state moved on a rollback"; exit 1; }

# --lock-days on a bucket with object lock (a second gateway, keeping metadata, which object
# lock needs): full tiles and bundles carry a COMPLIANCE retention and cannot be overwritten;
# the checkpoint and partial tiles, which the next publish replaces, are not locked, so it
# succeeds. boto3 (pinned, in a venv cached under target/) creates the bucket and reads back.
venv=${CARGO_TARGET_DIR:-$root/target}/boto3-1.43.11
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q boto3==1.43.11 >&2; }
mkdir -p "$work/s3l"
lport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$vgw" --access testkey --secret testsecret --port "127.0.0.1:$lport" posix "$work/s3l" > "$work/vgwl.log" 2>&1 &
locker=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null && break; sleep 0.1; done
lockpy() { "$venv/bin/python" - "$lport" "$@"; }
lockpy <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="testkey", aws_secret_access_key="testsecret")
s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
PY
AWS_ENDPOINT_URL="http://127.0.0.1:$lport" "$T" publish "$L" s3://locked/log --lock-days 2 > /dev/null
grow 10
AWS_ENDPOINT_URL="http://127.0.0.1:$lport" "$T" publish "$L" s3://locked/log --lock-days 2 > /dev/null \
  || { echo "a second publish to a locked bucket failed"; exit 1; }
lockpy "$(find "$work/s3l/locked/log/tile/0" -name '*.p' -prune -o -type f -print | head -1 | sed "s#$work/s3l/locked/##")" <<'PY' || exit 1
import sys, boto3, datetime
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="testkey", aws_secret_access_key="testsecret")
key = sys.argv[2]
r = s3.get_object_retention(Bucket="locked", Key=key)["Retention"]
left = r["RetainUntilDate"] - datetime.datetime.now(datetime.timezone.utc)
assert r["Mode"] == "COMPLIANCE" and datetime.timedelta(days=1.9) < left < datetime.timedelta(days=2.1), r
try:
    s3.put_object(Bucket="locked", Key=key, Body=b"rewritten")
    sys.exit(f"{key}: a locked tile was overwritten")
except s3.exceptions.ClientError as e:
    assert "lock" in str(e).lower(), e
PY

echo "publish to S3 (versitygw): object lock on full tiles (a second publish still succeeds), incremental publishes, a SIGKILLed publish completed by the next, a changed tile caught by monitor --full, a rollback caught by monitor; Tessera's fsck accepted the bucket"
