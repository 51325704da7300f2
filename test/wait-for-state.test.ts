// waitForState: resolves as soon as the kernel lists the state (checked against ss at that
// moment), rejects on timeout saying what the kernel listed instead. No fixed sleeps.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { shutdown, tcpStatesSync, waitForState, type WaitForStateTimeout } from '../lib/index';
import { connectedPair, isLinux, type Pair } from './helpers/net';
import { ssDetailedRows } from './helpers/ss';

describe.skipIf(!isLinux)('waitForState', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  async function pair(host = '127.0.0.1'): Promise<Pair> {
    const p = await connectedPair(host);
    cleanups.push(() => p.close());
    return p;
  }
  function ssStateOf(port: number, localPort: number, remotePort: number): string | undefined {
    return ssDetailedRows(port).find((row) => row.localPort === localPort && row.peerPort === remotePort)?.tcpState;
  }

  it('resolves at once with the rows already in the state', async () => {
    const p = await pair();
    const rows = await waitForState({ localPort: p.port, family: 'ipv4' }, 'LISTEN', { timeoutMs: 0 });
    expect(rows).toMatchObject([{ state: 'LISTEN', localAddress: '127.0.0.1', localPort: p.port }]);
    expect(ssStateOf(p.port, p.port, 0)).toBe('LISTEN');
  });

  for (const host of ['127.0.0.1', '::1']) {
    it(`resolves with the TIME_WAIT row as soon as the active closer reaches it (${host})`, async () => {
      const p = await pair(host);
      const clientPort = p.client.localPort!;
      // The exact connection: old TIME_WAIT of an earlier listener on this port number may linger.
      const waiting = waitForState({ localPort: clientPort, remotePort: p.port, family: host === '::1' ? 'ipv6' : 'ipv4' }, 'TIME_WAIT');
      p.accepted.on('end', () => p.accepted.end());
      p.client.end();
      const rows = await waiting;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ state: 'TIME_WAIT', localAddress: host, localPort: clientPort, remotePort: p.port, timer: { kind: 'timewait' } });
      expect(ssStateOf(p.port, clientPort, p.port)).toBe('TIME_WAIT');
    });
  }

  it('waits for any of several states, and gives owners with withProcess', async () => {
    const p = await pair();
    const waiting = waitForState({ port: p.port, family: 'ipv4', withProcess: true }, ['FIN_WAIT_2', 'CLOSE_WAIT']);
    shutdown(p.client, 'write');
    const rows = await waiting;
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const row of rows) {
      expect(['FIN_WAIT_2', 'CLOSE_WAIT']).toContain(row.state);
      expect(ssStateOf(p.port, row.localPort, row.remotePort)).toBe(row.state);
      expect(row.pid).toBe(process.pid);
    }
    // Both ends get there: the client as soon as the peer acknowledges FIN, the peer on reading it.
    const both = await waitForState({ localPort: p.port, family: 'ipv4', state: ['FIN_WAIT_2', 'CLOSE_WAIT'] }, 'CLOSE_WAIT');
    expect(both).toMatchObject([{ state: 'CLOSE_WAIT', localPort: p.port, remotePort: p.client.localPort }]);
  });

  it('rejects on timeout with ETIMEDOUT, saying what the kernel listed instead', async () => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;

    // Live states only: old TIME_WAIT of an earlier listener on this port number may linger.
    const filter = { port, family: 'ipv4', state: ['LISTEN', 'SYN_SENT', 'ESTABLISHED'] } as const;
    const error = (await waitForState(filter, ['SYN_SENT', 'ESTABLISHED'], { timeoutMs: 30 }).catch((e: unknown) => e)) as WaitForStateTimeout;
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', errno: -110, syscall: 'waitForState' });
    expect(error.message).toBe(
      `waitForState ETIMEDOUT (no SYN_SENT or ESTABLISHED within 30 ms for port ${port}, ipv4; the kernel listed LISTEN 127.0.0.1:${port} 0.0.0.0:*)`,
    );
    expect(error.rows).toEqual(tcpStatesSync(filter));

    server.close();
    await once(server, 'close');
    const nothing = (await waitForState(filter, 'LISTEN', { timeoutMs: 0 }).catch((e: unknown) => e)) as WaitForStateTimeout;
    expect(nothing.message).toBe(`waitForState ETIMEDOUT (no LISTEN within 0 ms for port ${port}, ipv4; the kernel listed no socket)`);
    expect(nothing.rows).toEqual([]);
  });
});
