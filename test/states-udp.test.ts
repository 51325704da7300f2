// tcpStates({ protocol: 'udp' }) and `sockctl states -u`: UDP sockets through the same
// sock_diag dump (one request per family), checked against `ss -uanm` for sockets a python3
// child holds: one bound and unconnected with a datagram waiting, one connected to it.
// /proc/net/udp gives the same rows; waits and watches, which follow TCP's states, refuse UDP.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpStates, tcpStatesSync, waitForState, watchStates } from '../lib/index';
import { CLI, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

const HOLDER = `
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.bind(('127.0.0.1', 0)); c.connect(u.getsockname())
c.send(b'x' * 100)
print(u.getsockname()[1], c.getsockname()[1], flush=True)
sys.stdin.readline()
`;

describe.skipIf(!isLinux)('UDP sockets (protocol: udp), against ss -uanm', () => {
  let holder: ReturnType<typeof spawn>;
  let port: number;
  let clientPort: number;
  beforeAll(async () => {
    ensureBuilt();
    holder = spawn('python3', ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = (await createInterface({ input: holder.stdout! })[Symbol.asyncIterator]().next()).value as string;
    [port, clientPort] = line.trim().split(' ').map(Number) as [number, number];
  });
  afterAll(async () => {
    holder.stdin!.end('\n');
    if (holder.exitCode === null) await once(holder, 'exit');
  });

  it("lists what ss lists: state, queues, both ends, skmem; /proc/net/udp the same rows", async () => {
    const rows = tcpStatesSync({ port, protocol: 'udp', memory: true });
    const ss = execFileSync('ss', ['-uanmH', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((line) => line.trim());
    const seen = [];
    for (let i = 0; i < ss.length; i += 2) {
      const [state, recvQ, sendQ, local, peer] = ss[i]!.split(/\s+/);
      seen.push({ state: state === 'UNCONN' ? 'CLOSED' : state === 'ESTAB' ? 'ESTABLISHED' : state, recvQ: Number(recvQ), sendQ: Number(sendQ), local, peer: peer === '0.0.0.0:*' ? '0.0.0.0:0' : peer, skmem: ss[i + 1]!.replace(/^skmem:/, '') });
    }
    const ours = rows.map((r) => {
      const m = r.memory!;
      return {
        state: r.state,
        recvQ: r.recvQ,
        sendQ: r.sendQ,
        local: `${r.localAddress}:${r.localPort}`,
        peer: `${r.remoteAddress}:${r.remotePort}`,
        skmem: `(r${m.rmemAlloc},rb${m.rcvbuf},t${m.wmemAlloc},tb${m.sndbuf},f${m.fwdAlloc},w${m.wmemQueued},o${m.optmem},bl${m.backlog},d${m.drops})`,
      };
    });
    const byLocal = (a: { local: string }, b: { local: string }) => a.local.localeCompare(b.local);
    expect(ours.sort(byLocal)).toEqual(seen.sort(byLocal));
    expect(ours.find((r) => r.local.endsWith(`:${port}`))).toMatchObject({ state: 'CLOSED', recvQ: expect.any(Number) });
    expect(ours.find((r) => r.local.endsWith(`:${clientPort}`))).toMatchObject({ state: 'ESTABLISHED', peer: `127.0.0.1:${port}` });
    expect(ours.find((r) => r.local.endsWith(`:${port}`))!.recvQ).toBeGreaterThan(0); // the datagram waiting

    const still = (list: { localPort: number; remotePort: number; state: string; recvQ: number }[]) =>
      list.map(({ localPort, remotePort, state, recvQ }) => ({ localPort, remotePort, state, recvQ })).sort((a, b) => a.localPort - b.localPort);
    expect(still(tcpStatesSync({ port, protocol: 'udp', source: 'proc' }))).toEqual(still(rows));
    expect(still(await tcpStates({ port, protocol: 'udp' }))).toEqual(still(rows));
    // TCP's listing has none of them (by inode: TCP sockets of other files may use the same port number).
    const udpInodes = new Set(rows.map((r) => r.inode));
    expect(udpInodes.size).toBe(rows.length);
    expect(tcpStatesSync({ port }).filter((r) => udpInodes.has(r.inode))).toEqual([]);
  });

  it('sockctl states -u prints UNCONN as ss does; waits and watches refuse UDP', async () => {
    const run = spawnSync(process.execPath, [CLI, 'states', '-u', '--port', String(port)], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^UNCONN\\s+\\d+\\s+0\\s+127\\.0\\.0\\.1:${port}\\s+0\\.0\\.0\\.0:\\*`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^ESTABLISHED\\s+0\\s+0\\s+127\\.0\\.0\\.1:${clientPort}\\s+127\\.0\\.0\\.1:${port}`, 'm'));
    expect(spawnSync(process.execPath, [CLI, 'states', '-u', '--watch', '--port', String(port)], { encoding: 'utf8' }).status).toBe(2);
    await expect(waitForState({ port, protocol: 'udp' }, 'ESTABLISHED')).rejects.toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => watchStates({ port, protocol: 'udp' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => tcpStatesSync({ port, protocol: 'sctp' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});
