#!/usr/bin/env bash
# Builds every release artifact of this platform into dist/ (or $TRAILSEAL_DIST):
#
#   bash release/build.sh [python] [node] [cli] [c]     # default: all four
#
#   python  trailseal-<v>-cp39-abi3-<platform>.whl (maturin, abi3: one wheel for CPython 3.9+,
#           with the type stubs and py.typed) and the sdist trailseal-<v>.tar.gz
#   node    trailseal-<v>.tgz (the main package: loader, TypeScript types) and
#           trailseal-<platform>-<v>.tgz (the prebuilt .node), laid out as napi-rs lays them
#           out, both from `npm pack`
#   cli     trailseal-cli-<v>-<triple>.tar.gz: the `trailseal` command, statically linked
#           (musl where its Rust target and musl-gcc can be installed, else glibc with
#           crt-static), with its licences
#   c       libtrailseal-<v>-<triple>.tar.gz: include/trailseal.h, lib/libtrailseal.{so,a},
#           lib/pkgconfig/trailseal{,-static}.pc (relocatable: ${pcfiledir})
#
# and SHA256SUMS over everything in dist/. Tools come pinned from the registries (maturin from
# PyPI, @napi-rs/cli from bindings-node/package-lock.json). The release workflow
# (.github/workflows/release.yml) runs this script on each platform of its matrix; CI runs it
# here through tests/release/check.sh, which installs each artifact as a user would.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
dist=${TRAILSEAL_DIST:-$root/dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
host=$(rustc -vV | sed -n 's/^host: //p')
MATURIN_VERSION=1.16.0
start=$(date +%s)
step() { printf '\n== release: %s (%ss)\n' "$*" "$(($(date +%s) - start))"; }
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(python node cli c)
for p in "${parts[@]}"; do
  case "$p" in python|node|cli|c) ;; *) echo "release/build.sh: unknown part $p (python, node, cli, c)" >&2; exit 2 ;; esac
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if wants python; then
  step "python: wheel and sdist (maturin $MATURIN_VERSION)"
  tools="$target/release-tools"
  if ! "$tools/bin/maturin" --version 2>/dev/null | grep -q " $MATURIN_VERSION\$"; then
    rm -rf "$tools"
    python3 -m venv "$tools" 2>/dev/null || {
      python3 -m pip install --quiet --target "$target/release-virtualenv" virtualenv
      PYTHONPATH="$target/release-virtualenv" python3 -m virtualenv --quiet "$tools"
    }
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"
  fi
  rm -f "$dist"/trailseal-*.whl "$dist"/trailseal-*.tar.gz.sdist
  # The manylinux tag is what the builder's glibc allows; the release workflow builds inside a
  # manylinux_2_28 container and asks for that tag (TRAILSEAL_MANYLINUX=2_28).
  compat=()
  [ -z "${TRAILSEAL_MANYLINUX:-}" ] || compat=(--compatibility "manylinux_$TRAILSEAL_MANYLINUX")
  "$tools/bin/maturin" build --quiet --release --strip "${compat[@]}" -m bindings-python/Cargo.toml --out "$dist"
  "$tools/bin/maturin" sdist -m bindings-python/Cargo.toml --out "$dist"
fi

if wants node; then
  step "node: the main package and this platform's package (napi-rs layout, npm pack)"
  (
    cd bindings-node
    npm install --no-audit --no-fund --loglevel=error >/dev/null
    git checkout -- package-lock.json 2>/dev/null || true
    npx napi build --platform --release >/dev/null
  )
  stage="$target/release-npm"
  rm -rf "$stage" && mkdir -p "$stage"
  cp bindings-node/package.json bindings-node/index.js bindings-node/index.d.ts \
    bindings-node/README.md "$stage/"
  # The main package names this platform's package as an optional dependency, as `napi
  # pre-publish` writes it, so npm installs the one prebuilt addon a machine can load.
  node - "$stage" "$host" <<'EOF'
const fs = require('fs');
const [stage, triple] = process.argv.slice(2);
const file = `${stage}/package.json`;
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.napi.targets = [triple];
delete pkg.devDependencies;
delete pkg.scripts;
pkg.files = ['index.js', 'index.d.ts', 'README.md'];
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
  (cd bindings-node && npx napi create-npm-dirs --cwd "$stage" --npm-dir npm >/dev/null)
  platdir=$(find "$stage/npm" -mindepth 1 -maxdepth 1 -type d | head -n1)
  cp bindings-node/trailseal.*.node "$platdir/"
  # The release profile keeps line tables for profiling here; users get the code alone.
  strip --strip-unneeded "$platdir"/*.node 2>/dev/null || true
  node - "$stage" "$platdir" <<'EOF'
const fs = require('fs');
const [stage, platdir] = process.argv.slice(2);
const plat = JSON.parse(fs.readFileSync(`${platdir}/package.json`, 'utf8'));
const file = `${stage}/package.json`;
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.optionalDependencies = { [plat.name]: plat.version };
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF
  rm -f "$dist"/trailseal-*.tgz
  (cd "$stage" && npm pack --silent --pack-destination "$dist" >/dev/null)
  (cd "$platdir" && npm pack --silent --pack-destination "$dist" >/dev/null)
fi

if wants cli; then
  # musl gives a binary that runs on any Linux of the architecture; glibc with crt-static is
  # the fallback where the musl target cannot be installed (its NSS lookups then want the
  # build's glibc at run time). Either way the binary cannot dlopen a PKCS#11 module: keys in
  # tokens are for the library and a dynamically linked command (docs/KEYS in the README).
  triple=${host/-gnu/-musl}
  rustflags=""
  if [[ "$host" == *-linux-gnu ]]; then
    rustup target add "$triple" >/dev/null 2>&1 || true
    if ! command -v musl-gcc >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      { sudo_ apt-get update -qq && sudo_ env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq musl-tools; } >/dev/null 2>&1 || true
    fi
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple" \
      || ! command -v musl-gcc >/dev/null 2>&1; then
      triple=$host
      rustflags="-C target-feature=+crt-static"
    fi
  else
    triple=$host
  fi
  step "cli: the trailseal command for $triple ${rustflags:+($rustflags)}"
  # The binary is shipped stripped, so the release profile's debug info (kept for profiling
  # the benchmarks) would only cost build time here.
  CARGO_PROFILE_RELEASE_DEBUG=0 RUSTFLAGS="${RUSTFLAGS:-} $rustflags" \
    cargo build --quiet --release -p trailseal-cli --target "$triple"
  name="trailseal-cli-$version-$triple"
  stage="$target/release-cli/$name"
  rm -rf "$target/release-cli" && mkdir -p "$stage"
  install -m 0755 "$target/$triple/release/trailseal" "$stage/trailseal"
  strip "$stage/trailseal" 2>/dev/null || true
  cp LICENSE-APACHE LICENSE-MIT "$stage/"
  printf 'trailseal %s (%s)\nhttps://github.com/trailseal/trailseal\n' "$version" "$triple" > "$stage/README"
  tar -C "$target/release-cli" -czf "$dist/$name.tar.gz" "$name"
fi

if wants c; then
  step "c: header, shared and static library, pkg-config files"
  name="libtrailseal-$version-$host"
  stage="$target/release-c/$name"
  rm -rf "$target/release-c" && mkdir -p "$stage"
  # pkg-config files relative to where they are unpacked, so the archive works in any prefix.
  TRAILSEAL_PC_PREFIX='${pcfiledir}/../..' bash ffi/install.sh "$stage" release >/dev/null
  strip --strip-unneeded "$stage/lib/libtrailseal.so" 2>/dev/null || true
  strip --strip-debug "$stage/lib/libtrailseal.a" 2>/dev/null || true
  cp LICENSE-APACHE LICENSE-MIT "$stage/"
  tar -C "$target/release-c" -czf "$dist/$name.tar.gz" "$name"
fi

step "checksums"
sum() { if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }
(cd "$dist" && rm -f SHA256SUMS && sum -- * > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
ls -l "$dist" | sed 1d | awk '{printf "  %10d  %s\n", $5, $9}'
step "done"
