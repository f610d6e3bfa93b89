#!/usr/bin/env bash
# Install the trailseal C library: header, shared and static library, pkg-config files.
#
#   bash ffi/install.sh [PREFIX] [PROFILE]       # defaults: /usr/local release
#
# Builds with cargo (PROFILE `release` or `debug`; TRAILSEAL_NO_BUILD=1 installs what is
# already built; CARGO_TARGET_DIR is honoured), then writes
#   PREFIX/include/trailseal.h
#   PREFIX/lib/libtrailseal.so  PREFIX/lib/libtrailseal.a
#   PREFIX/lib/pkgconfig/trailseal.pc          (shared:  -ltrailseal)
#   PREFIX/lib/pkgconfig/trailseal-static.pc   (static:  libtrailseal.a -lpthread -ldl -lm ...)
# and then
#   cc app.c $(pkg-config --cflags --libs trailseal)          # run with the .so found (ldconfig,
#                                                             # -Wl,-rpath or LD_LIBRARY_PATH)
#   cc app.c $(pkg-config --cflags --libs trailseal-static)   # self-contained binary
# (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a prefix pkg-config does not search by itself).
# TRAILSEAL_PC_PREFIX replaces PREFIX inside the .pc files (release/build.sh gives
# '${pcfiledir}/../..', so an unpacked archive works wherever it is put).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-/usr/local}
profile=${2:-release}
case "$profile" in
  release) flag=--release ;;
  debug) flag= ;;
  *) echo "install.sh: PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac
target=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${TRAILSEAL_NO_BUILD:-}" ]; then
  cargo build --quiet $flag --manifest-path "$root/Cargo.toml" -p trailseal-ffi
fi
prefix=$(mkdir -p "$prefix" && cd "$prefix" && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n1)
# What the Rust static library needs from the system (`rustc --print native-static-libs`,
# Linux with glibc); the shared library records its own dependencies.
system_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
install -m 0644 "$root/ffi/include/trailseal.h" "$prefix/include/trailseal.h"
install -m 0755 "$target/$profile/libtrailseal.so" "$prefix/lib/libtrailseal.so"
install -m 0644 "$target/$profile/libtrailseal.a" "$prefix/lib/libtrailseal.a"
pc() { # NAME LIBS LIBS_PRIVATE
  sed -e "s|@PREFIX@|${TRAILSEAL_PC_PREFIX:-$prefix}|" -e "s|@VERSION@|$version|" -e "s|@NAME@|$1|" \
    -e "s|@LIBS@|$2|" -e "s|@LIBS_PRIVATE@|$3|" "$root/ffi/trailseal.pc.in"
}
pc trailseal '-L${libdir} -ltrailseal' "$system_libs" > "$prefix/lib/pkgconfig/trailseal.pc"
pc trailseal-static "\${libdir}/libtrailseal.a $system_libs" '' \
  > "$prefix/lib/pkgconfig/trailseal-static.pc"
echo "installed trailseal $version ($profile build) into $prefix"
