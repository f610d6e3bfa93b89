#!/usr/bin/env bash
# Build the Python package the way a user installs it (`pip install ./bindings-python`: pip
# runs maturin through PEP 517, which compiles the Rust core in release mode) into a private
# venv, then run its pytest suite. Needs only python3 (with pip) and a Rust toolchain. Reruns
# reuse the venv and cargo's build cache (a first build takes a few minutes, later ones
# seconds to a minute). Extra arguments go to pytest.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
venv="${TRAILSEAL_PY_VENV:-$target/python-venv}"
py="$venv/bin/python"

if ! "$py" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 without python3-venv has no ensurepip: fall back to virtualenv.
    rm -rf "$venv"
    tools="$target/python-virtualenv"
    python3 -m pip install --quiet --disable-pip-version-check --target "$tools" virtualenv
    PYTHONPATH="$tools" python3 -m virtualenv --quiet "$venv"
  fi
fi

cd "$repo"
"$py" -m pip install --quiet --disable-pip-version-check pytest mypy
start=$(date +%s)
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings-python
echo "built and installed the trailseal Python package in $(($(date +%s) - start))s"
cd "$repo/bindings-python"
"$py" -m pytest "$@"
