#!/usr/bin/env bash
# Builds the release artifacts (release/build.sh) and installs each as a user would, on a PATH
# that has no cargo, rustc or C compiler:
#   - the wheel into a fresh venv: a snippet records, proves and verifies;
#   - the two npm tarballs into a fresh folder: require('trailseal') runs the same snippet, and
#     tsc type-checks a TypeScript user against the shipped types;
#   - the static command in a scratch directory: init, append, checkpoint, verify;
# and then, with the compiler a C user has,
#   - the C archive unpacked into a prefix: a C program compiled and linked through pkg-config
#     (shared and static), and `go test` of the Go package linked against it through
#     `-tags trailseal_pkgconfig`.
# Checksums are checked first and every artifact's size is printed.
#
#   bash tests/release/check.sh        # TRAILSEAL_DIST=DIR reuses artifacts already built there
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
for d in "$HOME/.cargo/bin" /usr/local/go/bin; do
  if [ -d "$d" ] && [[ ":$PATH:" != *":$d:"* ]]; then PATH="$PATH:$d"; fi
done
start=$(date +%s)
step() { printf '\n== release check: %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
fail() { echo "release check: $*" >&2; exit 1; }

if [ -z "${TRAILSEAL_DIST:-}" ]; then
  export TRAILSEAL_DIST="$target/release-dist"
  rm -rf "$TRAILSEAL_DIST"
  bash release/build.sh
fi
dist=$(cd "$TRAILSEAL_DIST" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)

step "checksums and sizes"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS)
one() { # PATTERN: the one artifact matching it
  local m=("$dist"/$1)
  [ ${#m[@]} -eq 1 ] && [ -e "${m[0]}" ] || fail "expected one artifact $1 in $dist, found: ${m[*]}"
  echo "${m[0]}"
}
wheel=$(one "trailseal-$version-cp39-abi3-*.whl")
sdist=$(one "trailseal-$version.tar.gz")
npm_main=$(one "trailseal-$version.tgz")
npm_plat=$(one "trailseal-*-*-$version.tgz")
cli=$(one "trailseal-cli-$version-*.tar.gz")
capi=$(one "libtrailseal-$version-*.tar.gz")
for f in "$wheel" "$sdist" "$npm_main" "$npm_plat" "$cli" "$capi"; do
  printf '  %-60s %8d KiB\n' "$(basename "$f")" "$(($(stat -c %s "$f") / 1024))"
done
# (Listings are read whole: `grep -q` closing the pipe early would fail it under pipefail.)
listing=$(tar -tzf "$sdist")
grep -q '/core/src/lib.rs$' <<<"$listing" || fail "the sdist lacks the Rust core"
listing=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$wheel")
for f in trailseal/py.typed trailseal/_trailseal.pyi trailseal/__init__.py; do
  grep -qx "$f" <<<"$listing" || fail "the wheel lacks $f"
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A PATH of what a user without a toolchain has: the interpreters, npm and the shell's tools.
bin="$scratch/bin"
mkdir -p "$bin"
for t in bash sh env cat ls mkdir rm cp mv ln sed grep head tail tr cut sort uniq wc find \
  dirname basename readlink realpath uname date mktemp touch chmod id xargs tar gzip \
  python3 node npm npx; do
  p=$(command -v "$t") || fail "$t is needed"
  ln -s "$p" "$bin/$t"
done
bare() { env -i HOME="$scratch/home" PATH="$bin" LANG=C.UTF-8 npm_config_update_notifier=false "$@"; }
mkdir -p "$scratch/home"
for t in cargo rustc cc gcc c++ clang ld; do
  if bare bash -c "command -v $t" >/dev/null 2>&1; then fail "$t is on the bare PATH"; fi
done

step "python: the wheel into a fresh venv (no toolchain on PATH)"
# The venv is made as bindings-python/test.sh makes one (Debian's python3 may lack ensurepip);
# the install and the snippet run on the bare PATH.
if ! python3 -m venv "$scratch/venv" >/dev/null 2>&1; then
  rm -rf "$scratch/venv"
  python3 -m pip install --quiet --disable-pip-version-check --target "$scratch/virtualenv" virtualenv
  PYTHONPATH="$scratch/virtualenv" python3 -m virtualenv --quiet "$scratch/venv"
fi
bare "$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
cat > "$scratch/snippet.py" <<'EOF'
import os, sys, trailseal
path = os.path.join(sys.argv[1], "audit.redb")
with trailseal.Ledger.create(path, origin="example.com/release-check", hash="sha256") as led:
    r = led.append({"actor": {"id": "alice"}, "action": "deploy.succeeded",
                    "subject": {"type": "service", "id": "payments-api"}})
    signer = trailseal.Signer.generate("example.com/release-check")
    note = led.checkpoint(signer)
    trailseal.verify_inclusion(led.prove_inclusion(r.index), leaf=led.get(r.index),
                               checkpoint=note, verifier_key=signer.verifier_key)
    report = led.verify(checkpoint=note, verifier_key=signer.verifier_key)
    assert report["ok"] and report["size"] == 1, report
print("python: recorded, proved, verified:", trailseal.__file__)
EOF
mkdir -p "$scratch/py"
bare "$scratch/venv/bin/python" "$scratch/snippet.py" "$scratch/py"
case "$(bare "$scratch/venv/bin/python" -c 'import trailseal; print(trailseal.__file__)')" in
  "$scratch/venv/"*) ;;
  *) fail "the venv imported trailseal from outside itself" ;;
esac

step "node: the npm tarballs into a fresh folder (no toolchain on PATH)"
app="$scratch/node-app"
mkdir -p "$app"
echo '{"name": "release-check", "version": "1.0.0", "private": true}' > "$app/package.json"
# typescript and @types/node at the versions bindings-node's lock file pins.
ts=$(node -p "require('./bindings-node/package-lock.json').packages['node_modules/typescript'].version")
types=$(node -p "require('./bindings-node/package-lock.json').packages['node_modules/@types/node'].version")
(cd "$app" && bare npm install --no-audit --no-fund --loglevel=error \
  "$npm_main" "$npm_plat" "typescript@$ts" "@types/node@$types" >/dev/null)
[ -f "$app/node_modules/$(tar -xzOf "$npm_plat" package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0)).name')/package.json" ] \
  || fail "npm did not install the platform package"
cat > "$app/snippet.js" <<'EOF'
const path = require('path')
const { Ledger, Signer, verifyInclusion } = require('trailseal')
;(async () => {
  const ledger = await Ledger.create(path.join(process.argv[2], 'audit.redb'), { origin: 'example.com/release-check', hash: 'sha256' })
  const r = await ledger.append({ actor: { id: 'alice' }, action: 'deploy.succeeded', subject: { type: 'service', id: 'payments-api' } })
  verifyInclusion(ledger.proveInclusion(r.index), ledger.get(r.index))
  const signer = Signer.generate('example.com/release-check')
  const report = await ledger.verify({ checkpoint: await ledger.checkpoint(signer), verifierKey: signer.verifierKey })
  if (!report.ok || report.size !== 1) throw new Error(JSON.stringify(report))
  console.log('node: recorded, proved, verified:', require.resolve('trailseal'))
})().catch((e) => { console.error(e); process.exit(1) })
EOF
cat > "$app/user.ts" <<'EOF'
import { Ledger, Signer, verifyInclusion } from 'trailseal'
async function main(): Promise<number> {
  const ledger: Ledger = await Ledger.create('audit.redb', { origin: 'example.com/ts', hash: 'sha256' })
  const r = await ledger.append({ actor: { id: 'alice' }, action: 'deploy.succeeded', subject: { type: 'service', id: 'api' } })
  verifyInclusion(ledger.proveInclusion(r.index), ledger.get(r.index))
  const signer: Signer = Signer.generate('example.com/ts')
  return (await ledger.verify({ checkpoint: await ledger.checkpoint(signer), verifierKey: signer.verifierKey })).size
}
void main()
EOF
mkdir -p "$scratch/js"
(cd "$app" && bare node snippet.js "$scratch/js")
(cd "$app" && bare node node_modules/typescript/bin/tsc --noEmit --strict --module nodenext \
  --moduleResolution nodenext --target es2022 --types node user.ts)
echo "node: tsc accepts a TypeScript user of the shipped types"

step "cli: the static command in a scratch directory (no toolchain on PATH)"
mkdir -p "$scratch/cli"
tar -C "$scratch/cli" -xzf "$cli"
t=$(find "$scratch/cli" -name trailseal -type f)
[ -x "$t" ] || fail "no trailseal in $cli"
for f in LICENSE-APACHE LICENSE-MIT; do [ -f "$(dirname "$t")/$f" ] || fail "$cli lacks $f"; done
if command -v ldd >/dev/null 2>&1 && ldd "$t" 2>&1 | grep -q '=>'; then
  ldd "$t" >&2; fail "the command is dynamically linked"
fi
(
  cd "$scratch/cli"
  bare "$t" init audit.redb --origin example.com/release-check >/dev/null
  echo '{"actor":{"id":"alice"},"action":"deploy.succeeded","subject":{"type":"service","id":"api"}}' \
    | bare "$t" append audit.redb >/dev/null
  bare "$t" checkpoint audit.redb >/dev/null
  bare "$t" verify audit.redb | grep -q '"ok":true' || fail "the static command's verify did not pass"
  bare "$t" --version
  # A static binary cannot dlopen a PKCS#11 module: it must say so, not crash or sign.
  set +e
  out=$(bare "$t" checkpoint audit.redb --key "pkcs11:token=t;object=k?module-path=/nonexistent/module.so&pin-value=1" 2>&1)
  code=$?
  set -e
  [ "$code" = 2 ] && grep -q "cannot load the PKCS#11 module" <<<"$out" || fail "pkcs11 in the static command: exit $code: $out"
)

step "c: the archive into a prefix; a C program through pkg-config; go test through -tags trailseal_pkgconfig"
# A fixed prefix, and the archive's digest in CGO_CFLAGS: Go's build cache keys a cgo package
# by the pkg-config command, not by what it prints, so a prefix that moved or a library that
# changed would otherwise link a cached package's stale flags or objects.
prefix="$target/release-check/prefix"
rm -rf "$prefix" && mkdir -p "$prefix"
tar -C "$prefix" --strip-components=1 -xzf "$capi"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
command -v pkg-config >/dev/null || fail "pkg-config is needed (ffi/test.sh installs it)"
cat > "$scratch/app.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include "trailseal.h"
int main(int argc, char **argv) {
  (void)argc;
  trailseal_ledger *l = NULL;
  if (trailseal_ledger_create(argv[1], "example.com/release-check", "sha256", false, 0, true, &l) != TRAILSEAL_STATUS_OK) {
    fprintf(stderr, "create: %s\n", trailseal_last_error_message());
    return 1;
  }
  char *receipt = NULL;
  const char *e = "{\"actor\":{\"id\":\"alice\"},\"action\":\"deploy.succeeded\",\"subject\":{\"type\":\"service\",\"id\":\"api\"}}";
  if (trailseal_ledger_append(l, e, &receipt) != TRAILSEAL_STATUS_OK || strstr(receipt, "\"index\":0") == NULL) {
    fprintf(stderr, "append: %s\n", trailseal_last_error_message());
    return 1;
  }
  printf("c: %s\n", receipt);
  trailseal_string_free(receipt);
  trailseal_ledger_free(l);
  return 0;
}
EOF
# shellcheck disable=SC2046
cc -std=c99 -o "$scratch/app-shared" "$scratch/app.c" $(pkg-config --cflags --libs trailseal) \
  -Wl,-rpath,"$prefix/lib"
# shellcheck disable=SC2046
cc -std=c99 -o "$scratch/app-static" "$scratch/app.c" $(pkg-config --cflags --libs trailseal-static)
"$scratch/app-shared" "$scratch/c-shared.redb"
"$scratch/app-static" "$scratch/c-static.redb"
digest=$(sha256sum "$capi" | cut -c1-16)
(cd ffi/go && CGO_ENABLED=1 CGO_CFLAGS="-O2 -g -DTRAILSEAL_ARCHIVE=$digest" \
  go test -count=1 -tags trailseal_pkgconfig ./...)
step "every artifact installed and worked"
