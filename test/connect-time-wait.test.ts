// Client-side TIME_WAIT, measured against the kernel: a client bound to a local port that
// closes first keeps TIME_WAIT on (its address, its port, the peer). Reconnecting from that
// port, with and without SO_REUSEADDR / SO_REUSEPORT on the old and the new socket, to the
// same peer and to another, gives what docs/connect.md's table says; ss confirms each case.
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ConnectOptions } from '../lib/index';
import { binding } from '../lib/core/binding';
import { isLinux } from './helpers/net';
import { ssRows, waitForSs } from './helpers/ss';

type Reuse = 'none' | 'reuseAddr' | 'reusePort';
const REUSES: Reuse[] = ['none', 'reuseAddr', 'reusePort'];
const flags = (reuse: Reuse): Partial<ConnectOptions> => (reuse === 'none' ? {} : { [reuse]: true });

/** docs/connect.md's table, row by row: old socket's option, new socket's option, to the same peer / to another. */
export const CLIENT_TIME_WAIT: Record<Reuse, Record<Reuse, [string, string]>> = {
  none: {
    none: ['bind EADDRINUSE', 'bind EADDRINUSE'],
    reuseAddr: ['bind EADDRINUSE', 'bind EADDRINUSE'],
    reusePort: ['bind EADDRINUSE', 'bind EADDRINUSE'],
  },
  reuseAddr: {
    none: ['bind EADDRINUSE', 'bind EADDRINUSE'],
    reuseAddr: ['connected', 'connected'],
    reusePort: ['bind EADDRINUSE', 'bind EADDRINUSE'],
  },
  reusePort: {
    none: ['bind EADDRINUSE', 'bind EADDRINUSE'],
    reuseAddr: ['bind EADDRINUSE', 'bind EADDRINUSE'],
    reusePort: ['connected', 'connected'],
  },
};

const servers: net.Server[] = [];
const ports: number[] = [];
beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    // Each accepted connection ends when the client's FIN arrives (allowHalfOpen false).
    const server = net.createServer((c) => c.on('error', () => {}).resume());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    ports.push((server.address() as net.AddressInfo).port);
  }
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

/** A local port nobody holds now: bound to 0 by us, then let go. */
function freePort(): number {
  const fd = binding.socket(binding.constants.AF_INET!, binding.constants.SOCK_STREAM!);
  try {
    binding.bind(fd, '127.0.0.1', 0);
    return binding.localAddress(fd).port;
  } finally {
    binding.close(fd);
  }
}

/** Connects from 127.0.0.1:localPort with `reuse`, closes first, and waits for ss to show TIME-WAIT there. */
async function leaveTimeWait(localPort: number, reuse: Reuse, peer: number): Promise<void> {
  const client = await connect({ host: '127.0.0.1', port: peer, localAddress: '127.0.0.1', localPort, ...flags(reuse) });
  client.resume();
  client.end();
  await once(client, 'close');
  await waitForSs(peer, (rows) => rows.some((r) => r.localPort === localPort && r.peerPort === peer && r.state === 'TIME-WAIT'));
}

async function outcome(options: ConnectOptions): Promise<{ result: string; socket?: net.Socket }> {
  try {
    const socket = await connect(options);
    return { result: 'connected', socket };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { result: `${e.syscall} ${e.code}` };
  }
}

describe.skipIf(!isLinux)('client-side TIME_WAIT on a bound local port (the table of docs/connect.md), against ss', () => {
  for (const old of REUSES) {
    for (const next of REUSES) {
      for (const [i, where] of ['same peer', 'another peer'].entries()) {
        const expected = CLIENT_TIME_WAIT[old][next][i]!;
        it(`old ${old}, new ${next}, to the ${where}: ${expected}`, async () => {
          const localPort = freePort();
          const [first, second] = ports as [number, number];
          await leaveTimeWait(localPort, old, first);
          const target = i === 0 ? first : second;
          const { result, socket } = await outcome({ host: '127.0.0.1', port: target, localAddress: '127.0.0.1', localPort, ...flags(next) });
          expect(result).toBe(expected);
          const mine = (port: number) => ssRows(port).filter((r) => r.localPort === localPort && r.peerPort === port).map((r) => r.state);
          if (socket !== undefined) {
            expect(socket.localPort).toBe(localPort);
            // To the same peer the TIME_WAIT pair was taken over; to another it stays.
            expect(mine(target)).toEqual(['ESTAB']);
            if (i === 1) expect(mine(first)).toEqual(['TIME-WAIT']);
            socket.destroy();
          } else {
            expect(mine(first)).toEqual(['TIME-WAIT']);
            if (i === 1) expect(mine(second)).toEqual([]);
          }
        });
      }
    }
  }
});

describe('docs/connect.md\'s client TIME_WAIT table is this test\'s table', () => {
  it('row by row', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const readme = readFileSync(join(__dirname, '..', 'docs', 'connect.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Client-side TIME_WAIT'));
    const rows = section
      .split('\n')
      .filter((line) => /^\| `?(neither|reuseAddr|reusePort)/.test(line))
      .map((line) => line.split('|').slice(1, 5).map((cell) => cell.trim().replace(/`/g, '')));
    const name = (cell: string): Reuse[] => (cell === 'any' ? REUSES : [cell === 'neither' ? 'none' : (cell as Reuse)]);
    const fromReadme: Record<string, string> = {};
    for (const [old, next, same, other] of rows) {
      for (const o of name(old!)) for (const n of name(next!)) {
        fromReadme[`${o} ${n}`] = [same, other].map((c) => (c!.startsWith('connected') ? 'connected' : c)).join(' / ');
      }
    }
    const fromTest = Object.fromEntries(REUSES.flatMap((o) => REUSES.map((n) => [`${o} ${n}`, CLIENT_TIME_WAIT[o][n].join(' / ')])));
    expect(fromReadme).toEqual(fromTest);
  });
});
