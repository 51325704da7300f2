// connect()'s options, proven by witnesses outside the library: strace shows each option
// on the client's descriptor before its bind and its connect; a python3 server sees the
// requested source address and port; SO_RCVBUF set before connect changes the window scale
// the peer sees (python3's TCP_INFO and ss -ti), which setting it after connect cannot.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, getOption, setOption } from '../lib/index';
import { binding } from '../lib/core/binding';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { canStrace, lifeOf, noStraceReason, straceNode } from './helpers/strace';

ensureBuilt(); // the child runs what ships: dist/

const FIXTURE = join(__dirname, 'fixtures', 'connect-client.js');

// Accepts `count` connections; prints its port first, then per connection the peer and the
// window scales from its own TCP_INFO (byte 6: snd_wscale low nibble, rcv_wscale high).
const SERVER = `
import json, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
for _ in range(int(sys.argv[1])):
    c, peer = s.accept()
    w = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[6]
    print(json.dumps({"peer": list(peer), "sndWscale": w & 15, "rcvWscale": w >> 4}), flush=True)
    c.recv(1)
    c.close()
`;

interface Seen {
  peer: [string, number];
  sndWscale: number;
  rcvWscale: number;
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await once(child, 'exit');
    }
  }
});

async function pythonServer(count: number): Promise<{ port: number; next(): Promise<Seen> }> {
  const child = spawn('python3', ['-c', SERVER, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  return { port, next: async () => JSON.parse((await lines.next()).value as string) as Seen };
}

/** A local port nobody holds now: bound to 0 by us, then let go. */
function freePort(address: string): number {
  const fd = binding.socket(binding.constants.AF_INET!, binding.constants.SOCK_STREAM!);
  try {
    binding.bind(fd, address, 0);
    return binding.localAddress(fd).port;
  } finally {
    binding.close(fd);
  }
}

/** ss -ti's "wscale:<snd>,<rcv>" for the socket from `local` to `peer`. */
async function ssWscale(local: string, peer: string): Promise<[number, number] | undefined> {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync('ss', ['-tinH', 'src', local, 'dst', peer], { encoding: 'utf8' });
  const match = /wscale:(\d+),(\d+)/.exec(out);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

describe.skipIf(!isLinux || skipUnlessAvailable(canStrace))(`connect(): strace, python3 and the window scale (needs strace, python3${canStrace ? '' : `; skipped: ${noStraceReason}`})`, () => {
  requireUnderCi(canStrace, () => noStraceReason);
  it('strace: socket(CLOEXEC|NONBLOCK), every option, then bind, then connect (EINPROGRESS), nothing set in between', async () => {
    const server = await pythonServer(1);
    const localPort = freePort('127.0.0.2');
    const options = {
      host: '127.0.0.1',
      localAddress: '127.0.0.2',
      localPort,
      reuseAddr: true,
      sockopts: { SO_RCVBUF: 4096, TCP_NODELAY: true, TCP_USER_TIMEOUT: 5000, TCP_SYNCNT: 3, SO_KEEPALIVE: true, TCP_KEEPIDLE: 30, TCP_MAXSEG: 1200 },
    };
    const { stdout, calls } = straceNode([FIXTURE, JSON.stringify(options), String(server.port)], { ...process.env, SOCKCTL_INDEX: DIST_INDEX }, 'socket,setsockopt,bind,connect');
    const printed = JSON.parse(stdout) as { localAddress: string; localPort: number; rcvWscale: number };
    const connects = calls.filter((c) => c.name === 'connect' && c.args.includes(`htons(${server.port})`));
    expect(connects).toHaveLength(1);
    const fd = connects[0]!.fd;
    const life = lifeOf(calls, fd);
    expect(life[0]!.args).toMatch(/^AF_INET, SOCK_STREAM\|SOCK_CLOEXEC\|SOCK_NONBLOCK,/);
    expect(life.map((c) => c.name)).toEqual(['socket', ...Array(8).fill('setsockopt'), 'bind', 'connect']);
    expect(life.slice(1, 9).map((c) => c.args.replace(/, \d+$/, ''))).toEqual([
      'SOL_SOCKET, SO_REUSEADDR, [1]',
      'SOL_SOCKET, SO_RCVBUF, [4096]',
      'SOL_TCP, TCP_NODELAY, [1]',
      'SOL_TCP, TCP_USER_TIMEOUT, [5000]',
      'SOL_TCP, TCP_SYNCNT, [3]',
      'SOL_SOCKET, SO_KEEPALIVE, [1]',
      'SOL_TCP, TCP_KEEPIDLE, [30]',
      'SOL_TCP, TCP_MAXSEG, [1200]',
    ]);
    expect(life[9]!.args).toContain(`sin_port=htons(${localPort}), sin_addr=inet_addr("127.0.0.2")`);
    expect(life[10]!.args).toContain(`sin_port=htons(${server.port}), sin_addr=inet_addr("127.0.0.1")`);
    expect(life[10]!.result).toBe(-1); // EINPROGRESS: completed later, without blocking
    // python3, the other end, saw the requested source.
    const seen = await server.next();
    expect(seen.peer).toEqual(['127.0.0.2', localPort]);
    expect(printed).toMatchObject({ localAddress: '127.0.0.2', localPort });
  });

  it('SO_RCVBUF 4096 before connect: window scale 0 both ways (TCP_INFO here, python3\'s TCP_INFO and ss -ti there); after connect it stays', async () => {
    const server = await pythonServer(2);
    const before = await connect({ host: '127.0.0.1', port: server.port, sockopts: { SO_RCVBUF: 4096 } });
    const seenBefore = await server.next();
    expect(seenBefore.peer[1]).toBe(before.localPort);
    expect(getOption(before, 'TCP_INFO').rcvWscale).toBe(0);
    expect(seenBefore.sndWscale).toBe(0); // the peer scales what it sends to us by 2^0
    expect(await ssWscale(`127.0.0.1:${before.localPort}`, `127.0.0.1:${server.port}`)).toEqual([seenBefore.rcvWscale, 0]);
    before.destroy(); // python3 reads EOF and goes on to accept the next

    // Node's own connect, SO_RCVBUF set once connected: the SYN already announced the scale.
    const after = net.connect(server.port, '127.0.0.1').on('error', () => {});
    await once(after, 'connect');
    setOption(after, 'SO_RCVBUF', 4096);
    const seenAfter = await server.next();
    expect(getOption(after, 'TCP_INFO').rcvWscale).toBeGreaterThan(0);
    expect(seenAfter.sndWscale).toBe(getOption(after, 'TCP_INFO').rcvWscale);
    expect(seenAfter.sndWscale).toBeGreaterThan(0);
    after.destroy();
  });
});
