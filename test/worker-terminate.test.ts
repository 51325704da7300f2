// A worker_threads Worker that ends while sockctl calls are in flight (terminate(), or
// process.exit() inside it) must not take the process with it. It did: a C++ exception
// thrown in the terminating environment ("terminate called after throwing an instance of
// 'Napi::Error'", SIGABRT; Node 24: "FATAL ERROR: Error::Error napi_define_properties").
// Each case runs 50 workers in a child process, so that an abort is seen as a signal. CI
// runs the suite on Node 20, 22, 24 and 26 (test/package/node-versions.sh); the child is
// the same Node as the suite.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

const FIXTURE = join(__dirname, 'fixtures', 'worker-terminate.js');
const WORKERS = 50;

function run(mode: 'async' | 'sync' | 'exit') {
  const out = spawnSync(process.execPath, [FIXTURE, DIST_INDEX, mode, String(WORKERS)], { encoding: 'utf8', timeout: 110_000 });
  return { status: out.status, signal: out.signal, stderr: out.stderr, report: out.stdout === '' ? undefined : JSON.parse(out.stdout) };
}

describe.skipIf(!isLinux)(`workers ended mid-call (Node ${process.version})`, () => {
  beforeAll(() => ensureBuilt());

  const cases = [
    ['async', 'terminate() with 8 tcpStates() and 2 unixSockets() dumps in flight on the thread pool'],
    ['sync', 'terminate() in a loop of socket, setOption, getOption, dup, a failing shutdown, tcpStatesSync, createListener'],
    ['exit', 'process.exit() inside the worker with tcpStates() dumps in flight'],
  ] as const;
  it.each(cases)('%s: %s; the main thread survives all 50 and owns no more descriptors than before', (mode) => {
    const { status, signal, stderr, report } = run(mode);
    expect({ status, signal }, stderr).toEqual({ status: 0, signal: null });
    expect(stderr).not.toMatch(/terminate called|FATAL ERROR|Abort/);
    // The main thread still calls into the addon, and what the workers made is closed.
    // `before` is a real count (fds 0-2 and Node's own at least), and `after` equals it.
    expect(typeof report.before === 'number' && report.before > 3, `before: ${report.before}`).toBe(true);
    expect(report).toEqual({ workers: WORKERS, errors: [], before: report.before, after: report.before, survivor: true });
  }, 120_000);
});
