import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getOption, listen } from '../lib/index';
import { closeTracked, greeter, listenRows, readAll, startNode } from './helpers/listen';
import { isLinux } from './helpers/net';

afterEach(closeTracked);
/** A server that answers every connection with its name. */
const named = greeter;
const greeting = (port: number) => readAll(port);

/** `total` connections, 16 at a time; how many each name answered. */
async function tally(port: number, total: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next++ < total) {
      const name = await greeting(port);
      counts[name] = (counts[name] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return counts;
}

/** A child process that listens on PORT (with SO_REUSEPORT when REUSE_PORT=1) and answers 'child'. */
const CHILD = `
  const net = require('node:net');
  const { listen } = require(process.env.SOCKCTL_DIST);
  const options = { host: '127.0.0.1', port: Number(process.env.PORT), reusePort: process.env.REUSE_PORT === '1' };
  listen(net.createServer((s) => s.on('error', () => {}).end('child')), options).then(
    () => console.log('listening'),
    (e) => { console.log(e.code + ' ' + e.message); process.exit(0); },
  );`;
const child = (port: number, reusePort: boolean, ids: { uid?: number; gid?: number } = {}) =>
  startNode(CHILD, { ...ids, env: { PORT: String(port), REUSE_PORT: reusePort ? '1' : '0' } });

describe.skipIf(!isLinux)('SO_REUSEPORT groups', () => {
  it('two listeners in one process share the port; the kernel spreads 240 connections over both', async () => {
    const first = await listen(named('first'), { host: '127.0.0.1', reusePort: true });
    const { port } = first.address() as net.AddressInfo;
    const second = await listen(named('second'), { host: '127.0.0.1', port, reusePort: true });
    expect(getOption(second, 'SO_REUSEPORT')).toBe(true);
    expect(listenRows(port)).toHaveLength(2);
    const counts = await tally(port, 240);
    expect(counts.first! + counts.second!).toBe(240);
    expect(counts.first).toBeGreaterThan(0);
    expect(counts.second).toBeGreaterThan(0);
  });

  it('a listener without reusePort cannot join: EADDRINUSE', async () => {
    const first = await listen(named('first'), { host: '127.0.0.1', reusePort: true });
    const { port } = first.address() as net.AddressInfo;
    await expect(listen(named('plain'), { host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', port });
    await expect(listen(named('plain'), { host: '127.0.0.1', port, reuseAddr: false })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(listenRows(port)).toHaveLength(1);
  });

  it('two processes share the port: 240 connections reach both', async () => {
    const parent = await listen(named('parent'), { host: '127.0.0.1', reusePort: true });
    const { port } = parent.address() as net.AddressInfo;
    const other = await child(port, true);
    try {
      expect(other.ready).toBe('listening');
      expect(listenRows(port)).toHaveLength(2);
      const counts = await tally(port, 240);
      expect(counts.parent! + counts.child!).toBe(240);
      expect(counts.parent).toBeGreaterThan(0);
      expect(counts.child).toBeGreaterThan(0);
    } finally {
      await other.stop();
    }
  });

  it('another process without reusePort gets EADDRINUSE', async () => {
    const parent = await listen(named('parent'), { host: '127.0.0.1', reusePort: true });
    const { port } = parent.address() as net.AddressInfo;
    const other = await child(port, false);
    await other.stop();
    expect(other.ready).toBe(`EADDRINUSE bind EADDRINUSE 127.0.0.1:${port}`);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'root-only: a process of another uid (65534) cannot join a group owned by root, though it sets reusePort too',
    async () => {
      const parent = await listen(named('parent'), { host: '127.0.0.1', reusePort: true });
      const { port } = parent.address() as net.AddressInfo;
      const stranger = await child(port, true, { uid: 65534, gid: 65534 });
      await stranger.stop();
      expect(stranger.ready).toBe(`EADDRINUSE bind EADDRINUSE 127.0.0.1:${port}`);
      // Control: the same child as root joins.
      const friend = await child(port, true);
      try {
        expect(friend.ready).toBe('listening');
        expect(listenRows(port)).toHaveLength(2);
      } finally {
        await friend.stop();
      }
    },
  );
});
