#!/usr/bin/env bash
# Builds the real S3 server the publish tests write to, once per version: versitygw (an
# S3 gateway over a POSIX directory), from the Go module proxy, pinned. Prints the directory
# holding the binary. Cached under target/ (or $TRAILSEAL_VERSITYGW_CACHE), keyed by
# version, so a CI run builds it once.
set -euo pipefail
VERSION=v1.8.0
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TRAILSEAL_VERSITYGW_CACHE:-${CARGO_TARGET_DIR:-$root/target}/versitygw-$VERSION}
if [ -x "$cache/versitygw" ]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
GOBIN="$cache" GOFLAGS=-mod=mod timeout 900 go install \
  "github.com/versity/versitygw/cmd/versitygw@$VERSION" >&2
echo "$cache"
