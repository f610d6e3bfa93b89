#!/usr/bin/env bash
# Builds the real readers the publish tests hold our tlog-tiles output to, once per version:
# Tessera's fsck (cmd/fsck) and tlogcheck (this folder: Tessera's client.ProofBuilder and the
# fsck library over a published directory), from the Go module proxy, pinned by go.mod and
# go.sum here. Prints the directory holding both. Cached under target/ (or
# $TRAILSEAL_TESSERA_CACHE), keyed by version, so a CI run builds them once.
set -euo pipefail
VERSION=v1.0.4
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${TRAILSEAL_TESSERA_CACHE:-${CARGO_TARGET_DIR:-$root/target}/tessera-$VERSION}
# tlogcheck's source is part of the key: a changed checker is rebuilt.
stamp=$(cat "$here/tlogcheck/main.go" "$here/tlogcheck/go.sum" | sha256sum | cut -c1-16)
if [ -x "$cache/fsck" ] && [ -x "$cache/tlogcheck-$stamp" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
GOBIN="$cache" GOFLAGS=-mod=mod timeout 600 go install \
  "github.com/transparency-dev/tessera/cmd/fsck@$VERSION" >&2
(cd "$here/tlogcheck" && timeout 600 go build -o "$cache/tlogcheck-$stamp" .) >&2
ln -sf "tlogcheck-$stamp" "$cache/tlogcheck"
echo "$cache"
