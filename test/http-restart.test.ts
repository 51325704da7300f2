import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { ssRows } from './helpers/ss';

ensureBuilt(); // the test runs what ships: dist/

const EXAMPLE = join(__dirname, '..', 'examples', 'http-restart.js');

interface Outcome {
  port: number;
  restarts: string[];
  ok: number;
  failed: Record<string, number>;
  queued: number;
}

function parse(out: string): Outcome {
  const lines = out.trim().split('\n');
  const requests = /^requests: (\d+) ok, (\d+) failed (\{.*\})$/.exec(lines.at(-2)!)!;
  const failed = JSON.parse(requests[3]!) as Record<string, number>;
  expect(Object.values(failed).reduce((a, b) => a + b, 0)).toBe(Number(requests[2]));
  return {
    port: Number(/^v1 listening on 127\.0\.0\.1:(\d+)$/.exec(lines[0]!)![1]),
    restarts: lines.slice(1, -2),
    ok: Number(requests[1]),
    failed,
    queued: Number(/^in the old accept queues at close: (\d+)$/.exec(lines.at(-1)!)![1]),
  };
}

const run = (...args: string[]) => parse(execFileSync(process.execPath, [EXAMPLE, ...args], { encoding: 'utf8', timeout: 15_000 }));
/** The example in a fresh network namespace (its own loopback and TCP sysctls). */
const runInNetns = (migrate: 0 | 1, ...args: string[]) =>
  parse(
    execFileSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=${migrate} && exec "$@"`, 'sh', process.execPath, EXAMPLE, ...args], {
      encoding: 'utf8',
      timeout: 15_000,
    }),
  );
const RESTARTED = [2, 3, 4, 5, 6].map((v) => `restart to v${v}: listening`);
const timeWaitOn = (port: number) => ssRows(port).filter((row) => row.state === 'TIME-WAIT' && row.localPort === port).length;

describe.skipIf(!isLinux)('examples/http-restart.js: restarts under continuous requests', () => {
  it('reuseAddr (default): all 5 restarts bind despite TIME_WAIT; the only failures are the old accept queues, reset by close', () => {
    const outcome = run();
    expect(outcome.restarts).toEqual(RESTARTED);
    expect(outcome.ok).toBeGreaterThan(100);
    expect(timeWaitOn(outcome.port)).toBeGreaterThan(100); // what the restarts met
    // No EADDRINUSE, no refused connection: what failed was waiting in an old listener's
    // accept queue (a SYN caught between close and the new listen would be ECONNREFUSED).
    expect(Object.keys(outcome.failed).filter((code) => code !== 'ECONNRESET' && code !== 'ECONNREFUSED')).toEqual([]);
    // Refusals only in those microseconds: at most one per client (4) per restart (5).
    expect(outcome.failed.ECONNREFUSED ?? 0).toBeLessThanOrEqual(4 * 5);
    expect(outcome.failed.ECONNRESET ?? 0).toBeGreaterThanOrEqual(outcome.queued);
  });

  it('reuseAddr false: the first restart fails with EADDRINUSE from bind, with TIME_WAIT on the port', () => {
    const outcome = run('--no-reuse');
    expect(outcome.restarts).toEqual(['restart to v2: EADDRINUSE (bind)']);
    // At least one: how many depends on the requests done in the first 200 ms (2 once, on a
    // loaded machine); one TIME_WAIT is all the EADDRINUSE needs.
    expect(timeWaitOn(outcome.port)).toBeGreaterThan(0);
  });

  describe.skipIf(process.getuid?.() !== 0 || spawnSync('unshare', ['--version']).status !== 0)('root-only, in a network namespace of its own (unshare -n)', () => {
    it('--reuse-port with net.ipv4.tcp_migrate_req=1: the kernel moves the old accept queue to the new listener, no request fails', () => {
      const outcome = runInNetns(1, '--reuse-port');
      expect(outcome.restarts).toEqual(RESTARTED);
      expect(outcome.queued).toBeGreaterThan(0); // there was something to lose
      expect(outcome.failed).toEqual({});
    });

    it('--reuse-port with tcp_migrate_req=0 (the default): the old accept queues are reset', () => {
      const outcome = runInNetns(0, '--reuse-port');
      expect(outcome.restarts).toEqual(RESTARTED);
      expect(outcome.queued).toBeGreaterThan(0);
      expect(outcome.failed.ECONNRESET ?? 0).toBeGreaterThanOrEqual(outcome.queued);
    });
  });

  it('is in the README verbatim', () => {
    expect(readFileSync(join(__dirname, '..', 'README.md'), 'utf8')).toContain(readFileSync(EXAMPLE, 'utf8'));
  });
});
