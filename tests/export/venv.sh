#!/usr/bin/env bash
# Creates the Python environment the export test reads its output with, from PyPI, pinned:
# DuckDB (reads the Parquet files) and pydantic-ocsf (the OCSF schemas as models, to validate
# the events of `follow --format ocsf`). Prints its python. Cached under target/ (or
# $TRAILSEAL_EXPORT_VENV), keyed by the pins, so a CI run installs it once.
set -euo pipefail
PINS="duckdb==2.0.0 pydantic-ocsf==3.0.0 pydantic==2.14.4"
root=$(cd "$(dirname "$0")/../.." && pwd)
key=$(printf '%s' "$PINS" | sha256sum | cut -c1-12)
cache=${TRAILSEAL_EXPORT_VENV:-${CARGO_TARGET_DIR:-$root/target}/export-venv-$key}
if [ -x "$cache/bin/python" ] && [ -f "$cache/.complete" ]; then
  echo "$cache/bin/python"
  exit 0
fi
rm -rf "$cache"
python3 -m venv "$cache" >&2
# shellcheck disable=SC2086 # the pins are separate words
timeout 600 "$cache/bin/pip" install -q --disable-pip-version-check $PINS >&2
touch "$cache/.complete"
echo "$cache/bin/python"
