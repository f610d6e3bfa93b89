#!/usr/bin/env bash
# Builds the real witness the witness tests run against, once per version: torchwood's
# litewitness and witnessctl (C2SP tlog-witness), from the Go module proxy, pinned. Prints the
# directory holding both binaries. Cached under target/ (or $TRAILSEAL_WITNESS_CACHE), keyed by
# version, so a CI run builds it once.
set -euo pipefail
VERSION=v0.6.1
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TRAILSEAL_WITNESS_CACHE:-${CARGO_TARGET_DIR:-$root/target}/witness-$VERSION}
if [ -x "$cache/litewitness" ] && [ -x "$cache/witnessctl" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# GOBIN install of a pinned module version: no go.mod of ours involved, go.sum checked by
# the checksum database as for any module download.
GOBIN="$cache" GOFLAGS=-mod=mod timeout 600 go install \
  "filippo.io/torchwood/cmd/litewitness@$VERSION" \
  "filippo.io/torchwood/cmd/witnessctl@$VERSION" >&2
echo "$cache"
