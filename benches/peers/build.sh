#!/usr/bin/env bash
# Builds the peers `compare --peers` measures trailseal against, once per source: Tessera
# (v1.0.4, POSIX driver) and immudb's embedded store (v1.10.0), each a small program in this
# folder, from the Go module proxy, pinned by go.mod and go.sum here. Prints the directory
# holding both binaries (`tessera`, `immudb`). Cached under target/ (or
# $TRAILSEAL_PEERS_CACHE), keyed by the sources, go.mod and go.sum, so a CI run builds them once.
# Exits 3 when Go is not installed (compare then skips the peers and says why).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! command -v go > /dev/null; then
  echo "benches/peers/build.sh: go is not installed" >&2
  exit 3
fi
stamp=$(cd "$here" && cat go.mod go.sum harness/*.go tessera/*.go immudb/*.go | sha256sum | cut -c1-16)
cache=${TRAILSEAL_PEERS_CACHE:-${CARGO_TARGET_DIR:-$root/target}/peers-$stamp}
if [ -x "$cache/tessera" ] && [ -x "$cache/immudb" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
# -mod=readonly: go.sum here is the whole truth; a module missing from it is an error, not a
# silent update.
(cd "$here" && GOFLAGS=-mod=readonly timeout 900 go build -trimpath -o "$cache/" ./tessera ./immudb) >&2
echo "$cache"
