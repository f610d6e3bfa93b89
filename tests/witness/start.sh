#!/usr/bin/env bash
# Starts real witnesses for one log, for any test suite (the command's check.sh, Go, Python,
# Node): torchwood litewitness (built by build.sh), each with its own ssh-agent holding a
# fresh key and a database that trusts the log, listening on a free port of 127.0.0.1.
#
#   start.sh DIR ORIGIN LOG_VKEY NAME...
#
# Prints one JSON line: [{"name", "url", "vkey"}, ...] in the order of the NAMEs (the vkey is
# the C2SP witness key, name+id+base64(0x04 || Ed25519 key)). The processes' ids are in
# DIR/pids; stop them with `kill $(cat DIR/pids)`. Each also ends by itself after LIFETIME
# seconds, so a test that dies leaves nothing running for long.
set -euo pipefail
LIFETIME=${TRAILSEAL_WITNESS_LIFETIME:-600}
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 4 ] || { echo "usage: start.sh DIR ORIGIN LOG_VKEY NAME..." >&2; exit 2; }
dir=$1 origin=$2 logvkey=$3
shift 3
bin=$(bash "$here/build.sh")
mkdir -p "$dir"
: > "$dir/pids"

wait_for() { # CONDITION...: poll for at most 10 s
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  echo "start.sh: timed out waiting for: $*" >&2
  kill $(cat "$dir/pids") 2>/dev/null || true
  exit 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

out=()
for name in "$@"; do
  w="$dir/$name"
  mkdir -p "$w"
  ssh-keygen -q -t ed25519 -N '' -C '' -f "$w/key"
  timeout "$LIFETIME" ssh-agent -a "$w/sock" -D > /dev/null 2>&1 < /dev/null &
  echo $! >> "$dir/pids"
  wait_for test -S "$w/sock"
  SSH_AUTH_SOCK="$w/sock" ssh-add -q "$w/key" 2> /dev/null
  "$bin/witnessctl" add-log -db "$w/db" -origin "$origin" 2> /dev/null
  "$bin/witnessctl" add-key -db "$w/db" -origin "$origin" -key "$logvkey" 2> /dev/null
  port=$(free_port)
  fp=$(ssh-keygen -lf "$w/key.pub" | cut -d' ' -f2)
  timeout "$LIFETIME" "$bin/litewitness" -db "$w/db" -name "$name.example" -key "$fp" \
    -ssh-agent "$w/sock" -listen "127.0.0.1:$port" > "$w/log" 2>&1 < /dev/null &
  echo $! >> "$dir/pids"
  wait_for listening "$port"
  # The witness vkey, from the SSH public key (tlog-cosignature: key id over name, 0x0A, 0x04
  # and the key).
  out+=("$(python3 - "$name.example" "$w/key.pub" "http://127.0.0.1:$port" <<'PY'
import base64, hashlib, json, struct, sys
name, pub, url = sys.argv[1], open(sys.argv[2]).read().split()[1], sys.argv[3]
blob = base64.b64decode(pub)
n = struct.unpack(">I", blob[:4])[0]
key = blob[4 + n + 4:]
assert blob[4:4 + n] == b"ssh-ed25519" and len(key) == 32
kid = hashlib.sha256(name.encode() + b"\n\x04" + key).digest()[:4]
vkey = name + "+" + kid.hex() + "+" + base64.b64encode(bytes([4]) + key).decode()
print(json.dumps({"name": name, "url": url, "vkey": vkey}))
PY
)")
done
(IFS=,; echo "[${out[*]}]")
