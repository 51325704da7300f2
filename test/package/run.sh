#!/usr/bin/env bash
# Tests the artifact that ships: npm pack, install the tarball into a fresh project whose
# PATH has node and npm but no C++ compiler, make or python (so only the prebuild can
# serve), then run the smoke programs through require() and import, and compile a
# TypeScript consumer with tsc --strict against the shipped types.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
# Usage: test/package/run.sh [TARBALL]   (without one: npm pack, whose prepack makes the prebuilds)
tarball=${1:-}
[ -n "$tarball" ] || tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
tar -tzf "$tarball" > "$work/contents"
for target in linux-x64 linux-arm64; do
  grep -q "package/prebuilds/$target/" "$work/contents" || { echo "the tarball has no $target prebuild" >&2; exit 1; }
done

mkdir -p "$work/bin" "$work/consumer"
ln -s "$(command -v node)" "$work/bin/node"
ln -s "$(command -v sh)" "$work/bin/sh"
ln -s "$(readlink -f "$(command -v npm)")" "$work/bin/npm"
for tool in cc c++ g++ gcc make python3 python; do
  PATH="$work/bin" command -v "$tool" >/dev/null 2>&1 && { echo "$tool is on the restricted PATH" >&2; exit 1; }
done

cp test/package/smoke.cjs test/package/smoke.mjs test/package/exercise.cjs test/package/consumer.ts "$work/consumer/"
cd "$work/consumer"
echo '{ "name": "consumer", "private": true }' > package.json
PATH="$work/bin" npm install --no-audit --no-fund --loglevel=error "$tarball"
test ! -e node_modules/sockctl/build || { echo "sockctl was compiled on install: the prebuild was not used" >&2; exit 1; }
chosen=$(PATH="$work/bin" node -p "require('node-gyp-build').path('node_modules/sockctl')")
[ "$chosen" = "$PWD/node_modules/sockctl/prebuilds/linux-x64/sockctl.glibc.node" ] || { echo "node-gyp-build chose $chosen" >&2; exit 1; }

PATH="$work/bin" node smoke.cjs
PATH="$work/bin" node smoke.mjs
node "$root/node_modules/typescript/bin/tsc" --strict --noEmit --module nodenext --moduleResolution nodenext \
  --target es2022 --lib es2022,esnext.disposable --typeRoots "$root/node_modules/@types" --types node consumer.ts
echo "typescript consumer: ok"
echo "package: ok ($(basename "$tarball"), no compiler on PATH)"
