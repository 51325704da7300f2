// waitForState on the tracepoint asks the kernel for a dump once the tracepoint is armed,
// never on a timer, not even to say at a timeout what the kernel had (that listing, kept up
// to date by the tracepoint, says it): strace counts the sock_diag requests a 2 s wait
// sends, and ss checks the timeout's rows. A TIME_WAIT there before the wait still reports
// its end, from the tracepoint alone (a new connection takes its 4-tuple), checked against ss.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, waitForState, type WaitForStateTimeout } from '../lib/index';
import { binding } from '../lib/core/binding';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { ssRows, waitForSs } from './helpers/ss';
import { noTracingReason, tracing } from './helpers/tracefs';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { canStrace, noStraceReason } from './helpers/strace';

const WAIT_MS = 2000;

describe.skipIf(!isLinux || skipUnlessAvailable(tracing && canStrace))(
  `waitForState on the tracepoint polls no dump (root, tracefs, strace: ${noTracingReason || (canStrace ? 'available' : 'strace or ptrace missing')})`,
  () => {
    requireUnderCi(tracing && canStrace, () => noTracingReason || noStraceReason);
    const log = join(tmpdir(), `sockctl-wait-strace-${process.pid}.log`);
    beforeAll(() => ensureBuilt());
    afterAll(() => rmSync(log, { force: true }));

    it(`sends 1 sock_diag request during a ${WAIT_MS} ms wait that times out (strace -yy counts them)`, () => {
      // BEGIN and END on stdout mark the wait in the trace.
      const script = `
        const { waitForState } = require(${JSON.stringify(DIST_INDEX)});
        const net = require('node:net');
        const server = net.createServer().listen(0, '127.0.0.1', async () => {
          process.stdout.write('BEGIN\\n');
          const began = Date.now();
          const outcome = await waitForState({ localPort: server.address().port }, 'CLOSE_WAIT', { timeoutMs: ${WAIT_MS}, source: 'tracepoint' }).then(
            () => 'resolved', (error) => error.code);
          process.stdout.write('END\\n' + outcome + ' ' + (Date.now() - began) + '\\n');
          server.close();
        });`;
      const run = spawnSync('strace', ['-f', '-qq', '-yy', '-o', log, '-e', 'trace=sendmsg,sendto,recvmsg,recvfrom,write', process.execPath, '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(run.status, run.stderr).toBe(0);
      const [outcome, took] = run.stdout.trimEnd().split('\n').at(-1)!.split(' ');
      expect(outcome).toBe('ETIMEDOUT');
      expect(Number(took)).toBeGreaterThanOrEqual(WAIT_MS);
      const lines = readFileSync(log, 'utf8').split('\n');
      const begin = lines.findIndex((line) => /write\(1\S*, "BEGIN\\n"/.test(line));
      const end = lines.findIndex((line) => /write\(1\S*, "END\\n/.test(line));
      expect(begin).toBeGreaterThanOrEqual(0);
      expect(end).toBeGreaterThan(begin);
      const during = lines.slice(begin, end).filter((line) => /^\d+\s+(sendmsg|sendto)\(\d+<NETLINK:/.test(line));
      // One dump once the tracepoint is armed; none on a timer, none at the timeout.
      expect(during.length, during.map((line) => line.slice(0, 120)).join('\n')).toBe(1);
    });

    it("at a timeout, its rows are what the kernel had then: a connection made during the wait is in them, as ss lists it", async () => {
      const server = net.createServer((c) => c.on('error', () => {}).resume());
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as net.AddressInfo).port;
      // Live states only: old TIME_WAIT of an earlier listener on this port number may linger.
      const filter = { port, family: 'ipv4', state: ['LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'CLOSE_WAIT'] } as const;
      const waiting = waitForState(filter, 'CLOSE_WAIT', { timeoutMs: 1500, source: 'tracepoint' }).catch((e: unknown) => e as WaitForStateTimeout);
      const client = net.connect(port, '127.0.0.1');
      try {
        await once(client, 'connect');
        const error = await waiting;
        expect(error).toMatchObject({ code: 'ETIMEDOUT', syscall: 'waitForState' });
        const ours = error.rows.map((r) => `${r.state.replace('ESTABLISHED', 'ESTAB')} ${r.localPort} ${r.remotePort}`).sort();
        const witness = ssRows(port).filter((r) => r.state !== 'TIME-WAIT').map((r) => `${r.state} ${r.localPort} ${r.peerPort}`).sort();
        expect(ours).toEqual([`ESTAB ${client.localPort} ${port}`, `ESTAB ${port} ${client.localPort}`, `LISTEN ${port} 0`].sort());
        expect(ours).toEqual(witness);
        expect(error.message).toContain(`ESTABLISHED 127.0.0.1:${client.localPort} 127.0.0.1:${port}`);
      } finally {
        client.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('a TIME_WAIT there before the wait: CLOSED once a new connection takes its 4-tuple', async () => {
      const server = net.createServer((c) => c.on('error', () => {}).resume());
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as net.AddressInfo).port;
      const fd = binding.socket(binding.constants.AF_INET!, binding.constants.SOCK_STREAM!);
      binding.bind(fd, '127.0.0.1', 0);
      const localPort = binding.localAddress(fd).port;
      binding.close(fd);
      try {
        const first = await connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort, reuseAddr: true });
        first.resume();
        first.end(); // the client closes first: TIME_WAIT on its side
        await once(first, 'close');
        await waitForSs(port, (rows) => rows.some((r) => r.localPort === localPort && r.peerPort === port && r.state === 'TIME-WAIT'));
        const tuple = { localAddress: '127.0.0.1', localPort, remoteAddress: '127.0.0.1', remotePort: port };
        const waiting = waitForState(tuple, 'CLOSED', { timeoutMs: 5000, source: 'tracepoint' });
        await new Promise((resolve) => setTimeout(resolve, 200)); // the wait has looked and found TIME_WAIT
        // Both SO_REUSEADDR: the new connection takes over the TIME_WAIT at once.
        const second = await connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort, reuseAddr: true });
        try {
          expect(await waiting).toEqual([]);
          // ss: the 4-tuple is the new connection's, no TIME-WAIT on it any more.
          const now = ssRows(port).filter((r) => r.localPort === localPort && r.peerPort === port);
          expect(now.map((r) => r.state)).toEqual(['ESTAB']);
        } finally {
          second.destroy();
        }
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });
  },
);
