#!/usr/bin/env bash
# Creates the Python environment the export test reads Parquet with: DuckDB from PyPI, pinned.
# Prints its python. Cached under target/ (or $TRAILSEAL_DUCKDB_CACHE), keyed by version, so a
# CI run installs it once.
set -euo pipefail
VERSION=2.0.0
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${TRAILSEAL_DUCKDB_CACHE:-${CARGO_TARGET_DIR:-$root/target}/duckdb-$VERSION}
if [ -x "$cache/bin/python" ] && "$cache/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$VERSION')" 2>/dev/null; then
  echo "$cache/bin/python"
  exit 0
fi
rm -rf "$cache"
python3 -m venv "$cache" >&2
timeout 600 "$cache/bin/pip" install -q --disable-pip-version-check "duckdb==$VERSION" >&2
echo "$cache/bin/python"
