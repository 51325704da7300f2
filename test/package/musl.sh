#!/usr/bin/env bash
# musl (Alpine) has no prebuild: the packed tarball's binaries are tagged glibc, so there
# node-gyp-build finds none and the install builds from source, or fails saying why.
# No musl Node runs here: LIBC=musl, node-gyp-build's own override of its Alpine check
# (/etc/alpine-release), stands in for it. What this cannot show: the build on musl itself.
# Usage: test/package/musl.sh [TARBALL]   (without one: npm pack, which runs prepack)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "musl: $*" >&2; exit 1; }
cd "$root"

tarball=${1:-}
if [ -z "$tarball" ]; then
  tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
fi
tar -tzf "$tarball" | grep '^package/prebuilds/.*\.node$' | sort > "$work/prebuilds"
printf 'package/prebuilds/linux-arm64/sockctl.glibc.node\npackage/prebuilds/linux-x64/sockctl.glibc.node\n' |
  diff - "$work/prebuilds" || fail "the prebuilds are not the two glibc ones (prebuildify --tag-libc)"

mkdir -p "$work/bin"
ln -s "$(command -v node)" "$work/bin/node"
ln -s "$(command -v sh)" "$work/bin/sh"
ln -s "$(readlink -f "$(command -v npm)")" "$work/bin/npm"
for tool in cc c++ g++ gcc make python3 python; do
  PATH="$work/bin" command -v "$tool" >/dev/null 2>&1 && fail "$tool is on the restricted PATH"
done
cp test/package/smoke.cjs test/package/exercise.cjs "$work/"

# No compiler: the install fails, and says there is no prebuild for musl and what a build needs.
mkdir "$work/bare" && cd "$work/bare"
echo '{ "name": "consumer", "private": true }' > package.json
if LIBC=musl PATH="$work/bin" npm install --no-audit --no-fund "$tarball" > "$work/bare.log" 2>&1; then
  fail "the install succeeded on musl with no compiler"
fi
grep -q "sockctl: no prebuilt binary fits this system (.*none for musl.*it needs python3, make and a C++17 compiler" "$work/bare.log" ||
  { cat "$work/bare.log" >&2; fail "the failed install does not say why"; }
echo "musl, no compiler: the install fails, saying: $(grep -o 'sockctl: no prebuilt binary fits this system ([^)]*)' "$work/bare.log" | head -n 1) ..."

# With a compiler: built from source (build/Release), and that build is what loads.
mkdir "$work/built" && cd "$work/built"
echo '{ "name": "consumer", "private": true }' > package.json
start=$SECONDS
LIBC=musl npm install --no-audit --no-fund --loglevel=error "$tarball"
echo "musl, with a compiler: built from source in $((SECONDS - start)) s"
test -f node_modules/sockctl/build/Release/sockctl.node || fail "no build/Release after the install"
[ "$(LIBC=musl node -p "require('node-gyp-build').path('node_modules/sockctl')")" = "$PWD/node_modules/sockctl/build/Release/sockctl.node" ] ||
  fail "the source build is not the one that loads"
cp "$work/smoke.cjs" "$work/exercise.cjs" .
LIBC=musl node smoke.cjs
# Without that build, node-gyp-build says no binary fits: the glibc prebuilds are not taken.
rm -rf node_modules/sockctl/build
LIBC=musl node -e "require('node-gyp-build').path('node_modules/sockctl')" 2> "$work/none.log" && fail "a glibc prebuild was chosen for musl"
grep -q 'No native build was found for platform=linux arch=x64 .*libc=musl' "$work/none.log" || { cat "$work/none.log" >&2; fail "unexpected error"; }
echo "musl: ok (no prebuild chosen; built from source with a compiler, a clear failure without)"
