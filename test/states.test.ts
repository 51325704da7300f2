// tcpStates against an independent oracle: `ss -tanoe` (iproute2), parsed in
// test/helpers/ss.ts, for sockets this test puts in LISTEN, ESTABLISHED, FIN_WAIT_2,
// CLOSE_WAIT and TIME_WAIT on its own ports, over IPv4 and IPv6.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdOf, tcpStates, tcpStatesSync, type TcpStateRow } from '../lib/index';
import { isLinux } from './helpers/net';
import { listenQuietly, makeScene, UNREAD_BYTES, type Scene } from './helpers/scene';
import { ssDetailedRows, type SsDetailedRow } from './helpers/ss';
import { spawnAgent } from './helpers/agent';

// ss runs a few milliseconds after (or before) our call, and prints times rounded down.
const TIMER_SLACK_MS = 2000;

function key(local: string, localPort: number, remote: string, remotePort: number): string {
  return `${local} ${localPort} ${remote} ${remotePort}`;
}
const ourKey = (r: TcpStateRow) => key(r.localAddress, r.localPort, r.remoteAddress, r.remotePort);
const ssKey = (r: SsDetailedRow) => key(r.localAddress, r.localPort, r.peerAddress, r.peerPort);

function expectSameAsSs(ours: TcpStateRow[], theirs: SsDetailedRow[]): void {
  expect(ours.map(ourKey).sort()).toEqual(theirs.map(ssKey).sort());
  const byKey = new Map(theirs.map((row) => [ssKey(row), row]));
  for (const row of ours) {
    const ss = byKey.get(ourKey(row))!;
    expect({ ...row, timer: row.timer?.kind ?? null }).toEqual({
      state: ss.tcpState,
      family: ss.family,
      localAddress: ss.localAddress,
      localPort: ss.localPort,
      remoteAddress: ss.peerAddress,
      remotePort: ss.peerPort,
      recvQ: ss.recvQ,
      sendQ: ss.sendQ,
      timer: ss.timer?.kind ?? null,
      retransmits: ss.timer?.retransmits ?? 0,
      uid: ss.uid,
      inode: ss.inode,
      cookie: ss.cookie,
    });
    if (row.timer !== null && ss.timer !== null) {
      expect(row.timer.expiresMs).toBeGreaterThanOrEqual(ss.timer.expiresMs - TIMER_SLACK_MS);
      expect(row.timer.expiresMs).toBeLessThanOrEqual(ss.timer.expiresMs + ss.timer.resolutionMs + TIMER_SLACK_MS);
    }
  }
}

/** Rows to compare across calls and sources: /proc has no backlog for a listener (its Send-Q is 0) and no cookie (compared with ss above); timers move on between calls (see expectTimersClose). */
function comparable(rows: TcpStateRow[]): object[] {
  return [...rows]
    .sort((a, b) => ourKey(a).localeCompare(ourKey(b)))
    .map((row) => ({ ...row, sendQ: row.state === 'LISTEN' ? 'backlog' : row.sendQ, timer: row.timer?.kind ?? null, cookie: undefined }));
}

function expectTimersClose(a: TcpStateRow[], b: TcpStateRow[], slackMs = 1000): void {
  const byKey = new Map(b.map((row) => [ourKey(row), row]));
  for (const row of a) {
    if (row.timer === null) continue;
    expect(Math.abs(row.timer.expiresMs - byKey.get(ourKey(row))!.timer!.expiresMs)).toBeLessThan(slackMs);
  }
}

describe.skipIf(!isLinux)('tcpStates lists what ss -tanoe lists', () => {
  for (const [family, host] of [['ipv4', '127.0.0.1'], ['ipv6', '::1']] as const) {
    describe(family, () => {
      let scene: Scene;
      beforeAll(async () => {
        scene = await makeScene(host);
      });
      afterAll(() => scene.close());

      it('LISTEN, ESTABLISHED, FIN_WAIT_2, CLOSE_WAIT and TIME_WAIT: the same rows as ss, field by field', () => {
        const ours = tcpStatesSync({ port: scene.port, source: 'netlink' });
        expectSameAsSs(ours, ssDetailedRows(scene.port));
        expect(ours.map((row) => row.state).sort()).toEqual(['CLOSE_WAIT', 'ESTABLISHED', 'ESTABLISHED', 'FIN_WAIT_2', 'LISTEN', 'TIME_WAIT']);

        const listener = ours.find((row) => row.state === 'LISTEN')!;
        expect(listener).toMatchObject({ family, localAddress: host, localPort: scene.port, remotePort: 0, sendQ: 511 });
        const unread = ours.find((row) => row.localPort === scene.port && row.remotePort === scene.established.client.localPort)!;
        expect(unread).toMatchObject({ state: 'ESTABLISHED', recvQ: UNREAD_BYTES });
        const timeWait = ours.find((row) => row.state === 'TIME_WAIT')!;
        expect(timeWait).toMatchObject({ localPort: scene.timeWaitPort, remotePort: scene.port, inode: 0, timer: { kind: 'timewait' } });
        // 2MSL is 60 s on Linux; this one started moments ago.
        expect(timeWait.timer!.expiresMs).toBeGreaterThan(50_000);
        expect(timeWait.timer!.expiresMs).toBeLessThanOrEqual(60_000);
      });

      it('tcpStates (thread pool) gives what tcpStatesSync gives', async () => {
        const pending = tcpStates({ port: scene.port });
        expect(pending).toBeInstanceOf(Promise);
        const [async, sync] = [await pending, tcpStatesSync({ port: scene.port })];
        expect(comparable(async)).toEqual(comparable(sync));
        expectTimersClose(async, sync);
      });

      it('the /proc/net/tcp fallback gives the same rows as netlink', async () => {
        const netlink = tcpStatesSync({ port: scene.port, source: 'netlink' });
        const proc = tcpStatesSync({ port: scene.port, source: 'proc' });
        expect(comparable(proc)).toEqual(comparable(netlink));
        expectTimersClose(proc, netlink);
        expect(proc.find((row) => row.state === 'LISTEN')!.sendQ).toBe(0);
        expect(proc.filter((row) => row.timer !== null).every((row) => row.timer!.expiresMs % 10 === 0)).toBe(true);
        expect(comparable(await tcpStates({ port: scene.port, source: 'proc' }))).toEqual(comparable(netlink));
      });

      it('the kernel-side filters (ports, states, family) keep exactly what the full dump filtered here keeps', () => {
        const everything = tcpStatesSync({ source: 'netlink' });
        const client = scene.halfClosed.client.localPort!;
        const cases: Array<[Parameters<typeof tcpStatesSync>[0], (row: TcpStateRow) => boolean]> = [
          [{ port: scene.port }, (r) => r.localPort === scene.port || r.remotePort === scene.port],
          [{ localPort: scene.port }, (r) => r.localPort === scene.port],
          [{ remotePort: scene.port }, (r) => r.remotePort === scene.port],
          [{ localPort: client, remotePort: scene.port }, (r) => r.localPort === client && r.remotePort === scene.port],
          // Both conditions: another process's connection may have the same local port number.
          [{ port: scene.port, localPort: client }, (r) => r.localPort === client && (r.localPort === scene.port || r.remotePort === scene.port)],
          [{ port: client, remotePort: client }, (r) => r.remotePort === client],
          [{ port: scene.port, state: 'TIME_WAIT' }, (r) => r.state === 'TIME_WAIT' && (r.localPort === scene.port || r.remotePort === scene.port)],
          [{ port: scene.port, state: ['FIN_WAIT_2', 'CLOSE_WAIT'] }, (r) => ['FIN_WAIT_2', 'CLOSE_WAIT'].includes(r.state) && (r.localPort === scene.port || r.remotePort === scene.port)],
          [{ port: scene.port, family }, (r) => r.family === family && (r.localPort === scene.port || r.remotePort === scene.port)],
          [{ port: scene.port, family: family === 'ipv4' ? 'ipv6' : 'ipv4' }, () => false],
        ];
        // Compared on this scene's sockets only: other processes on this host open and close
        // sockets between the full dump and the filtered ones (a TIME_WAIT expired once).
        const ours = (rows: TcpStateRow[]) => rows.filter((r) => r.localPort === scene.port || r.remotePort === scene.port);
        for (const [filter, keep] of cases) {
          const fromKernel = tcpStatesSync({ ...filter, source: 'netlink' });
          const expected = ours(everything.filter(keep));
          expect(comparable(ours(fromKernel)), JSON.stringify(filter)).toEqual(comparable(expected));
          expect(comparable(ours(tcpStatesSync({ ...filter, source: 'proc' }))), JSON.stringify(filter)).toEqual(comparable(expected));
          // And nothing the filter excludes came back, ours or not.
          expect(fromKernel.filter((row) => !keep(row)), JSON.stringify(filter)).toEqual([]);
        }
        expect(tcpStatesSync({ localPort: client, remotePort: scene.port })).toHaveLength(1);
      });

      it('withProcess: each socket\'s processes and descriptors, as ss -p finds them, across a child holding a copy', async () => {
        const agent = spawnAgent(fdOf(scene.established.client));
        try {
          await agent.ask('send ping'); // the child is up and holds the socket as its fd 3
          const ours = tcpStatesSync({ port: scene.port, withProcess: true });
          const ss = new Map(ssDetailedRows(scene.port, { processes: true }).map((row) => [ssKey(row), row]));
          for (const row of ours) {
            const users = ss.get(ourKey(row))!.users.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
            expect(row.owners).toEqual(users);
            expect(row.pid).toBe(users[0]?.pid ?? null);
            expect(row.command).toBe(users[0]?.command ?? null);
          }
          const shared = ours.find((row) => row.localPort === scene.established.client.localPort)!;
          expect(shared.owners).toHaveLength(2);
          const command = readFileSync('/proc/self/comm', 'utf8').trimEnd(); // 'node', or the title a test runner set
          expect(shared.owners).toContainEqual({ pid: process.pid, command, fd: fdOf(scene.established.client) });
          expect(shared.owners.some((o) => o.pid !== process.pid && o.fd === 3 && o.command.startsWith('python'))).toBe(true);
          expect(ours.find((row) => row.state === 'TIME_WAIT')).toMatchObject({ pid: null, command: null, owners: [] });
          const owners = (rows: typeof ours) => rows.map((row) => [ourKey(row), row.pid, row.command, row.owners]).sort();
          expect(owners(await tcpStates({ port: scene.port, withProcess: true }))).toEqual(owners(ours));
        } finally {
          await agent.stop();
        }
      });
    });
  }
});

describe.skipIf(!isLinux)('a port filter matches local or remote ports, as ss does', () => {
  it("shows the clients' TIME_WAIT of a listener that is gone, for 2MSL; localPort does not", async () => {
    const server = net.createServer({ allowHalfOpen: true });
    const port = await listenQuietly(server, '127.0.0.1');
    const accepting = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(client, 'connect');
    const [accepted] = await accepting;
    const clientPort = client.localPort;
    accepted.on('end', () => accepted.end());
    accepted.resume();
    client.resume();
    const closed = once(client, 'close');
    client.end(); // the client closes first: the TIME_WAIT is on its side
    await closed;
    server.close();
    await once(server, 'close');

    expect(tcpStatesSync({ port })).toMatchObject([{ state: 'TIME_WAIT', localPort: clientPort, remotePort: port }]);
    expect(ssDetailedRows(port).map((row) => row.tcpState)).toEqual(['TIME_WAIT']);
    expect(tcpStatesSync({ localPort: port })).toEqual([]);
  });
});
