#!/usr/bin/env bash
# The Node package's tests, from a clean clone: install the locked dev dependencies, build
# the addon (regenerating index.js and index.d.ts), run the node:test suite (vectors, API,
# every error code, concurrency, interop with the `trailseal` command), and type-check a
# TypeScript user of the package. Needs only node/npm and a Rust toolchain; safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"
step() { printf '\n== node: %s\n' "$*"; }

step "npm install (versions pinned by package-lock.json)"
# Not `npm ci`: npm 11 writes only this platform's optional native packages of @napi-rs/cli's
# dependencies into the lock file, and `npm ci` then refuses it as out of sync (npm/cli#8320).
npm install --no-audit --no-fund
step "npm run build"
npm run build
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && git ls-files --error-unmatch index.js index.d.ts >/dev/null 2>&1; then
  # The generated bindings are shipped in the repository: they must be what the build makes.
  git diff --exit-code -- index.js index.d.ts \
    || { echo "index.js/index.d.ts differ from the build: commit the regenerated files" >&2; exit 1; }
fi
step "npm test"
npm test
step "tsc --noEmit (a TypeScript user of the package)"
npm run typecheck
step "node tests passed"
