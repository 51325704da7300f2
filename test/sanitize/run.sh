#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer: the addon built with
# -fsanitize=address,undefined (npm run build:asan), gcc's runtimes preloaded into node (and
# so into every child the tests start). Any sanitizer report, or any failed test, fails this
# script; the normal build is restored afterwards, on every path.
# - ASan writes each report to a file (log_path): found even when it came from a child
#   process whose output a test kept to itself.
# - UBSan (built -fno-sanitize-recover) ends the process at the first report. gcc 12's
#   libubsan, loaded next to libasan, ignores UBSAN_OPTIONS' log_path and writes to stderr,
#   where a test that keeps a child's stderr to itself (and does not check its exit status)
#   would hide it: test/sanitize/ubsan-report-path.c, preloaded after the runtimes, points
#   libubsan's own report path at the reports directory, so every process's report is a
#   file there too. log_path is set as well (for runtimes that honour it), and the suite's
#   output is still searched. Any file in the reports directory fails this script.
# - detect_leaks=0: node itself does not free everything at exit, so LeakSanitizer would
#   report node's allocations, not the addon's. Overflows, use-after-free, double free and
#   undefined behaviour are all still reported. malloc_context_size=4: shorter allocation
#   stacks in reports (not in the faulting access's), a much cheaper malloc for node.
# - Everything runs several times slower, so the tests get longer timeouts, and two files
#   are left out: build-config.test.ts runs no addon code, only g++ (slowed by the runtime
#   it inherits), and http-restart.test.ts asserts request throughput; the native paths it
#   takes (listen, restart) are run by listen.test.ts and time-wait.test.ts.
#   oom.test.ts sets its own LD_PRELOAD (an operator new that fails), which takes the
#   sanitizer runtimes' place: node then refuses to start. lab.test.ts, systemd.test.ts,
#   examples.test.ts and watch.test.ts hold states with timers or start Node children
#   against deadlines (the lab's scenarios, systemd-socket-activate's first connection, the
#   poll source's view of a closing connection): under the instrumentation's slowdown they
#   time out or see an extra intermediate state, no sanitizer report among them (seen
#   here). Their native paths still run under the sanitizers through the fuzz campaign
#   (every raw function, EventReader included), watch-tcpdump, states, notify and serve.
#   The supervisor's fault and manager files (serve-hardening, serve-managed, serve-wrk,
#   serve-real-servers) and the lost-segment lab (lab-loss) orchestrate processes against
#   deadlines too (gunicorn, lighttpd, python3 and wrk would all run with the runtimes
#   preloaded): left out for the same reason; the native code they reach (the notify
#   receiver and sender, SO_PEERCRED, SCM_RIGHTS, the CBPF steering, the subreaper) runs
#   here through serve.test.ts, notify.test.ts, scm-rights.test.ts and the fuzz campaign.
# Usage: test/sanitize/run.sh [vitest arguments...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
mkdir "$work/reports"
# A step's output only when it fails (node-gyp is verbose).
quiet() { "$@" >"$work/step.log" 2>&1 || { cat "$work/step.log"; return 1; }; }
restore() {
  local status=$?
  quiet npm run build:gyp || status=1
  rm -rf "$work"
  exit "$status"
}
trap restore EXIT

quiet npm run build:asan
gcc -shared -fPIC -O2 test/sanitize/ubsan-report-path.c -o "$work/ubsan-report-path.so" -ldl
runtimes="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so):$work/ubsan-report-path.so"
status=0
LD_PRELOAD="$runtimes" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:malloc_context_size=4:log_path=$work/reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$work/reports/ubsan" \
  UBSAN_REPORT_PATH="$work/reports/ubsan" \
  SOCKCTL_SKIP_SLOW=1 node node_modules/vitest/vitest.mjs run --testTimeout=60000 --hookTimeout=60000 \
  --exclude test/build-config.test.ts --exclude test/http-restart.test.ts --exclude test/oom.test.ts \
  --exclude test/lab.test.ts --exclude test/systemd.test.ts --exclude test/examples.test.ts --exclude test/watch.test.ts \
  --exclude test/serve-hardening.test.ts --exclude test/serve-managed.test.ts --exclude test/serve-wrk.test.ts \
  --exclude test/serve-real-servers.test.ts --exclude test/lab-loss.test.ts "$@" 2>&1 | tee "$work/suite.log" || status=$?

if compgen -G "$work/reports/*" >/dev/null || grep -qE 'runtime error:|ERROR: AddressSanitizer' "$work/suite.log"; then
  echo "== sanitizer reports:"
  cat "$work"/reports/* 2>/dev/null || true
  grep -E -A20 'runtime error:|ERROR: AddressSanitizer' "$work/suite.log" || true
  exit 1
fi
exit "$status"
