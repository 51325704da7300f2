// The sysctls that change client-side TIME_WAIT, each in a network namespace of the
// test's own (root: ip netns add / exec / delete), so the host's settings are never touched:
// net.ipv4.tcp_timestamps for a bound port, net.ipv4.tcp_tw_reuse for ephemeral ports once
// a narrowed net.ipv4.ip_local_port_range runs out. ss inside the namespace is the witness.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

const NS = `sockctl-connect-${process.pid}`;
const FIXTURE = join(__dirname, 'fixtures', 'connect-netns.js');
const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', timeout: 20_000 });
// Written through /proc/sys inside the namespace (its own net.* values): no procps needed.
const sysctl = (name: string, value: string) => inNs('sh', '-c', `echo "${value}" > /proc/sys/${name.replaceAll('.', '/')}`);
const run = (...args: string[]) =>
  JSON.parse(
    execFileSync('ip', ['netns', 'exec', NS, process.execPath, FIXTURE, ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SOCKCTL_INDEX: DIST_INDEX },
    }),
  ) as Record<string, unknown>;

const isRoot = process.getuid?.() === 0;

// Root only: a network namespace needs CAP_SYS_ADMIN (CI runs as root).
describe.skipIf(!isLinux || !isRoot)('client TIME_WAIT and the sysctls that change it, in a namespace of our own (root)', () => {
  beforeAll(() => {
    ensureBuilt();
    execFileSync('ip', ['netns', 'add', NS]);
    inNs('ip', 'link', 'set', 'lo', 'up');
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', NS]);
  });

  it('net.ipv4.tcp_timestamps: 1 lets both-SO_REUSEADDR reuse the TIME_WAIT pair; 0 gives connect EADDRNOTAVAIL', () => {
    sysctl('net.ipv4.tcp_timestamps', '1');
    expect(run('bound')).toEqual({ before: ['TIME-WAIT'], result: 'connected', after: ['ESTAB'] });
    sysctl('net.ipv4.tcp_timestamps', '0');
    expect(run('bound')).toEqual({ before: ['TIME-WAIT'], result: 'connect EADDRNOTAVAIL', after: ['TIME-WAIT'] });
  });

  it('net.ipv4.tcp_tw_reuse with a two-port local range (at once EADDRNOTAVAIL for all): 0 stays EADDRNOTAVAIL; 1 and 2 (loopback) reuse after tcp_tw_reuse_delay', () => {
    sysctl('net.ipv4.tcp_timestamps', '1');
    for (const [reuse, afterDelay] of [
      ['0', 'connect EADDRNOTAVAIL'],
      ['1', 'connected'],
      ['2', 'connected'],
    ] as const) {
      sysctl('net.ipv4.tcp_tw_reuse', reuse);
      sysctl('net.ipv4.ip_local_port_range', '32768 60999'); // the fixture narrows it once its server listens
      const out = run('ephemeral', '40000 40001');
      // Two ports, two TIME_WAITs to the same peer, then nothing left at once, whatever tw_reuse.
      expect(out, `tcp_tw_reuse=${reuse}`).toMatchObject({ filled: 2, exhausted: 'connect EADDRNOTAVAIL', timeWait: 2, afterDelay });
      // Reuse takes one TIME_WAIT pair over: ss shows the new connection instead of it.
      const states = (out.states as string[]).sort();
      expect(states, `tcp_tw_reuse=${reuse}`).toEqual(afterDelay === 'connected' ? ['ESTAB', 'TIME-WAIT'] : ['TIME-WAIT', 'TIME-WAIT']);
    }
  }, 60_000);
});
