import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { ssRows } from './helpers/ss';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';

ensureBuilt(); // the test runs what ships: dist/

const EXAMPLE = join(__dirname, '..', 'examples', 'http-restart.js');

interface Outcome {
  port: number;
  restarts: string[];
  ok: number;
  failed: Record<string, number>;
  /** What the example read from its own listener's TCP_INFO (the library): printed, not an oracle here. */
  queued: number;
  /** The namespace's own TCP counters (/proc/net/snmp, /proc/net/netstat), read by the kernel's tables after the run. */
  kernel: Record<string, number>;
}

// Printed after the example, inside its namespace: "COUNTERS Name=value ..." for the TCP counters.
const COUNTERS = `awk '/^(Tcp|TcpExt):/ { if (!($1 in names)) { names[$1] = $0; next } split(names[$1], n); for (i = 2; i <= NF; i++) printf "%s=%s ", n[i], $i } END { print "" }' /proc/net/snmp /proc/net/netstat | sed 's/^/COUNTERS /'`;

function parse(out: string): Outcome {
  const all = out.trim().split('\n');
  const counters = all.find((line) => line.startsWith('COUNTERS '));
  const kernel = Object.fromEntries((counters ?? '').slice(9).trim().split(/\s+/).filter(Boolean).map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]));
  const lines = all.filter((line) => !line.startsWith('COUNTERS '));
  const requests = /^requests: (\d+) ok, (\d+) failed (\{.*\})$/.exec(lines.at(-2)!)!;
  const failed = JSON.parse(requests[3]!) as Record<string, number>;
  expect(Object.values(failed).reduce((a, b) => a + b, 0)).toBe(Number(requests[2]));
  return {
    port: Number(/^v1 listening on 127\.0\.0\.1:(\d+)$/.exec(lines[0]!)![1]),
    restarts: lines.slice(1, -2),
    ok: Number(requests[1]),
    failed,
    queued: Number(/^in the old accept queues at close: (\d+)$/.exec(lines.at(-1)!)![1]),
    kernel,
  };
}

const run = (...args: string[]) => parse(execFileSync(process.execPath, [EXAMPLE, ...args], { encoding: 'utf8', timeout: 15_000 }));
// A network namespace of the test's own: `unshare -n` as root, else a user namespace too
// (`unshare -Urn`, where the kernel allows it); its counters count only the example's traffic.
const isRoot = process.getuid?.() === 0;
const works = (args: string[]) => spawnSync('unshare', [...args, 'true'], { stdio: 'ignore' }).status === 0;
const unshare = isRoot && works(['-n']) ? ['-n'] : works(['-Urn']) ? ['-Urn'] : null;
/** The example in a fresh network namespace (its own loopback, TCP sysctls and counters). */
const runInNetns = (migrate: 0 | 1 | null, ...args: string[]) =>
  parse(
    execFileSync(
      'unshare',
      [...unshare!, 'sh', '-c', `ip link set lo up && ${migrate === null ? '' : `sysctl -qw net.ipv4.tcp_migrate_req=${migrate} && `}"$@" && ${COUNTERS}`, 'sh', process.execPath, EXAMPLE, ...args],
      { encoding: 'utf8', timeout: 15_000 },
    ),
  );
const RESTARTED = [2, 3, 4, 5, 6].map((v) => `restart to v${v}: listening`);
const timeWaitOn = (port: number) => ssRows(port).filter((row) => row.state === 'TIME-WAIT' && row.localPort === port).length;

describe.skipIf(!isLinux)('examples/http-restart.js: restarts under continuous requests', () => {
  it('reuseAddr (default): all 5 restarts bind despite TIME_WAIT; the only failures are the old accept queues, reset by close', () => {
    const outcome = run();
    expect(outcome.restarts).toEqual(RESTARTED);
    // The clients went on through every restart (each waits 200 ms under 4 clients): attempts, not a rate.
    expect(outcome.ok).toBeGreaterThan(0);
    expect(timeWaitOn(outcome.port)).toBeGreaterThan(0); // what the restarts met (the server closes first)
    // No EADDRINUSE, no refused connection: what failed was waiting in an old listener's
    // accept queue (a SYN caught between close and the new listen would be ECONNREFUSED).
    expect(Object.keys(outcome.failed).filter((code) => code !== 'ECONNRESET' && code !== 'ECONNREFUSED')).toEqual([]);
    // Refusals only in those microseconds: at most one per client (4) per restart (5).
    expect(outcome.failed.ECONNREFUSED ?? 0).toBeLessThanOrEqual(4 * 5);
  });

  describe.skipIf(skipUnlessAvailable(unshare !== null))(`the same in a network namespace of its own, judged by its kernel counters (unshare -n or -Urn: ${unshare?.join(' ') ?? 'unavailable'})`, () => {
    requireUnderCi(unshare !== null, () => 'unshare -n');
    it('every failure a client saw is an RST the kernel sent (Tcp OutRsts), and nothing was migrated', () => {
      const outcome = runInNetns(null);
      expect(outcome.restarts).toEqual(RESTARTED);
      const failures = Object.values(outcome.failed).reduce((a, b) => a + b, 0);
      expect({ failures, TCPMigrateReqSuccess: outcome.kernel.TCPMigrateReqSuccess }).toEqual({ failures: outcome.kernel.OutRsts, TCPMigrateReqSuccess: 0 });
    });
  });

  it('reuseAddr false: the first restart fails with EADDRINUSE from bind, with TIME_WAIT on the port', () => {
    const outcome = run('--no-reuse');
    expect(outcome.restarts).toEqual(['restart to v2: EADDRINUSE (bind)']);
    // At least one: how many depends on the requests done in the first 200 ms (2 once, on a
    // loaded machine); one TIME_WAIT is all the EADDRINUSE needs.
    expect(timeWaitOn(outcome.port)).toBeGreaterThan(0);
  });

  describe.skipIf(skipUnlessAvailable(unshare !== null))(`in a network namespace of its own (unshare ${unshare?.join(' ') ?? 'unavailable'}), judged by its kernel counters`, () => {
    requireUnderCi(unshare !== null, () => 'unshare -n');
    it('--reuse-port with net.ipv4.tcp_migrate_req=1: the kernel moves the old accept queue to the new listener, no request fails', () => {
      const outcome = runInNetns(1, '--reuse-port');
      expect(outcome.restarts).toEqual(RESTARTED);
      // There was something to lose: the kernel counted the requests it migrated; it reset none.
      expect(outcome.kernel.TCPMigrateReqSuccess).toBeGreaterThan(0);
      expect({ failed: outcome.failed, TCPMigrateReqFailure: outcome.kernel.TCPMigrateReqFailure, OutRsts: outcome.kernel.OutRsts }).toEqual({
        failed: {},
        TCPMigrateReqFailure: 0,
        OutRsts: 0,
      });
    });

    it('--reuse-port with tcp_migrate_req=0 (the default): the old accept queues are reset', () => {
      const outcome = runInNetns(0, '--reuse-port');
      expect(outcome.restarts).toEqual(RESTARTED);
      // The kernel reset what was queued (Tcp OutRsts), migrated nothing, and each reset is a client's ECONNRESET.
      expect(outcome.kernel.OutRsts).toBeGreaterThan(0);
      expect({ failed: outcome.failed, TCPMigrateReqSuccess: outcome.kernel.TCPMigrateReqSuccess }).toEqual({
        failed: { ECONNRESET: outcome.kernel.OutRsts },
        TCPMigrateReqSuccess: 0,
      });
    });
  });

  it('is in docs/listen.md verbatim', () => {
    expect(readFileSync(join(__dirname, '..', 'docs', 'listen.md'), 'utf8')).toContain(readFileSync(EXAMPLE, 'utf8'));
  });
});
