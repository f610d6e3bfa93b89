#!/usr/bin/env bash
# Tessera's own readers accept what `trailseal publish` writes to a directory: at tree sizes
# on and off the tile boundaries of levels 0 and 1 (published incrementally, each publish
# adding to the last), Tessera's client.ProofBuilder builds inclusion and consistency proofs
# from our tiles equal to `trailseal prove`'s, and Tessera's fsck (the cmd/fsck binary and
# the library it wraps) re-derives every tile from the bundles and the checkpoint's root.
# Then the checks that they really check: a changed tile fails fsck; and the rule for an
# entry no bundle can hold (refused, the published log left at its last checkpoint).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
T=${TRAILSEAL:-${CARGO_TARGET_DIR:-$root/target}/debug/trailseal}
bin=$(bash "$here/build.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

L=$work/l.redb
pub=$work/pub
"$T" init "$L" --origin example.com/publish/check > /dev/null
"$T" vkey "$L" > "$work/vkey"
size=0
grow_to() { # append entries until the ledger holds $1
  [ "$1" -gt "$size" ] || return 0
  awk -v a="$size" -v b="$1" 'BEGIN { for (i = a; i < b; i++)
    printf "{\"actor\":{\"id\":\"svc-%d\"},\"action\":\"deploy.succeeded\",\"subject\":{\"type\":\"service\",\"id\":\"s%d\"}}\n", i % 7, i }' \
    | "$T" append "$L" --batch 20000 > /dev/null
  size=$1
}
cmd_fsck() { # cmd/fsck exits 0 whatever it found (and can hang on a mismatch): its log says
  timeout 20 "$bin/fsck" --storage_url "file://$1" --public_key "$work/vkey" --ui=false > "$work/fsck.log" 2>&1 || true
  grep -q "Successfully fsck'd log with size $2 " "$work/fsck.log"
}
proofs=0
prev=0
for s in 1 2 255 256 257 511 513 65535 65536 65537 66000; do
  grow_to "$s"
  out=$("$T" publish "$L" "$pub")
  [ "$(jq .from <<< "$out")" = "$prev" ] || { echo "publish to $s started at $(jq .from <<< "$out"), not $prev"; exit 1; }
  [ "$(jq .size <<< "$out")" = "$s" ] || { echo "published $out, not size $s"; exit 1; }
  "$bin/tlogcheck" fsck "$pub" "$work/vkey" > "$work/lib.log" 2>&1 || { cat "$work/lib.log"; exit 1; }
  cmd_fsck "$pub" "$s" || { echo "cmd/fsck at size $s:"; cat "$work/fsck.log"; exit 1; }
  for i in 0 1 $((s / 2)) $((s - 256)) $((s - 2)) $((s - 1)); do
    [ "$i" -ge 0 ] && [ "$i" -lt "$s" ] || continue
    want=$("$T" prove inclusion "$L" "$i" --size "$s" | jq -c .path)
    got=$("$bin/tlogcheck" inclusion "$pub" "$i" | jq -c .path)
    [ "$want" = "$got" ] || { echo "inclusion of $i at $s: Tessera $got, trailseal $want"; exit 1; }
    # and trailseal's own proof from the published tiles is the one from the ledger file
    [ "$("$T" prove inclusion "$pub" "$i" --size "$s")" = "$("$T" prove inclusion "$L" "$i" --size "$s")" ] \
      || { echo "prove inclusion $i from the published log differs"; exit 1; }
    proofs=$((proofs + 1))
  done
  for o in 1 $prev $((s - 1)); do
    [ "$o" -ge 1 ] && [ "$o" -lt "$s" ] || continue
    want=$("$T" prove consistency "$L" "$o" --size "$s" | jq -c .path)
    got=$("$bin/tlogcheck" consistency "$pub" "$o" | jq -c .path)
    [ "$want" = "$got" ] || { echo "consistency $o..$s: Tessera $got, trailseal $want"; exit 1; }
    [ "$("$T" prove consistency "$pub" "$o")" = "$("$T" prove consistency "$L" "$o" --size "$s")" ] \
      || { echo "prove consistency $o from the published log differs"; exit 1; }
    proofs=$((proofs + 1))
  done
  prev=$s
done
# monitor reads the same log over HTTP (a static file server on 127.0.0.1), as from a CDN.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$pub" "$port" > /dev/null 2>&1 &
web=$!
trap 'kill "$web" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$T" monitor "http://127.0.0.1:$port" --vkey "$work/vkey" --state "$work/web.json" --full > "$work/web.out"
[ "$(jq .entries_checked "$work/web.out")" = "$prev" ] || { echo "monitor over HTTP: $(cat "$work/web.out")"; exit 1; }
[ "$("$T" prove inclusion "http://127.0.0.1:$port" 7)" = "$("$T" prove inclusion "$L" 7)" ] || { echo "prove over HTTP differs"; exit 1; }
kill "$web"

# Publishing again with nothing new writes no tile, only the checkpoint.
[ "$("$T" publish "$L" "$pub" | jq .objects)" = 0 ] || { echo "a publish with nothing new wrote objects"; exit 1; }

# A changed hash tile is caught by both fscks.
cp -r "$pub" "$work/bad"
printf '\x00' | dd of="$work/bad/tile/0/100" bs=1 seek=100 conv=notrunc status=none
if timeout 60 "$bin/tlogcheck" fsck "$work/bad" "$work/vkey" > /dev/null 2>&1; then echo "fsck passed a changed tile"; exit 1; fi
if cmd_fsck "$work/bad" "$prev"; then echo "cmd/fsck passed a changed tile"; exit 1; fi

# An entry over 65,535 bytes: publish refuses, naming it, and the published log stays at its
# last checkpoint, whole.
R=$work/raw.redb
"$T" init "$R" --origin example.com/publish/raw --raw > /dev/null
"$T" vkey "$R" > "$work/rvkey"
printf 'small' > "$work/small"
head -c 65535 /dev/zero > "$work/edge"
head -c 65536 /dev/zero > "$work/big"
"$T" append "$R" --raw "$work/small" "$work/edge" > /dev/null
"$T" publish "$R" "$work/rpub" > /dev/null
"$T" append "$R" --raw "$work/big" "$work/small" > /dev/null
if "$T" publish "$R" "$work/rpub" 2> "$work/err"; then echo "published an entry no bundle can hold"; exit 1; fi
grep -q "entry 2 is 65536 bytes" "$work/err" || { cat "$work/err"; exit 1; }
[ "$(sed -n 2p "$work/rpub/checkpoint")" = 2 ] || { echo "the published checkpoint moved"; exit 1; }
"$bin/tlogcheck" fsck "$work/rpub" "$work/rvkey" > /dev/null 2>&1 || { echo "the log left behind does not fsck"; exit 1; }

echo "publish: Tessera's fsck (cmd and library) accepted 11 published sizes up to $prev, its proof builder matched $proofs trailseal proofs (as did trailseal's own from the tiles); monitor and prove over HTTP; a changed tile and an oversize entry were caught"
