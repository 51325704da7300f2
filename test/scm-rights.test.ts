// SCM_RIGHTS against an independent peer: python3's socket.send_fds / recv_fds, both
// directions. The kernel is the witness: ss shows one listening socket (one inode) held
// by both processes; /proc/self/fdinfo and os.get_inheritable say close-on-exec.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createListener, FdChannel, listen, listenUnix, setOption, socket } from '../lib/index';
import { binding } from '../lib/core/binding';
import { spawnFdPeer, type FdPeer } from './helpers/fdpeer';
import { closeTracked, httpGet, portOf, readAll, track, tryConnect } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';

let dir: string;
let made = 0;
let peer: FdPeer;
const open: FdChannel[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockctl-scm-'));
  peer = spawnFdPeer();
});
afterEach(async () => {
  for (const channel of open.splice(0)) channel.close();
  await closeTracked();
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connected(): Promise<FdChannel> {
  const path = join(dir, `peer-${++made}.sock`);
  expect(await peer.ask(`listen ${path}`)).toEqual({ ok: true });
  const accepting = peer.ask('accept');
  const channel = FdChannel.connect(path);
  open.push(channel);
  expect(await accepting).toEqual({ ok: true });
  return channel;
}

const cloexec = (fd: number) => (parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8) & 0o2000000) !== 0;

/** ss -tlnpeH for a port: the LISTEN rows with their inode and the pids holding them. */
function listenersOf(port: number): { inode: number; pids: number[] }[] {
  const out = execFileSync('ss', ['-tlnpeH', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => ({
    inode: Number(/ino:(\d+)/.exec(line)![1]),
    pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort(),
  }));
}

describe.skipIf(!isLinux)('FdChannel: SCM_RIGHTS with python3 at the other end', () => {
  it('Node sends a listener, python serves on it: one socket, one inode, held by both processes (ss -tlnpe)', async () => {
    const channel = await connected();
    const listener = await createListener({ host: '127.0.0.1' });
    await channel.send(JSON.stringify({ name: 'web' }), [listener]);
    const got = await peer.ask('recvframe');
    // (python's recv_fds does not ask for MSG_CMSG_CLOEXEC: its copy is inheritable, its business)
    expect(got).toMatchObject({ magic: 0x46, count: 1, payload: '{"name":"web"}', fds: 1, ctrunc: false });
    const { pid } = await peer.ask('pid');
    const rows = listenersOf(listener.address.port);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.pids).toEqual([pid, process.pid].sort());
    const serving = peer.ask('serve');
    expect(await readAll(listener.address.port)).toBe('from python');
    await serving;
    listener.close();
  });

  it('python sends a listener, Node receives it owned and close-on-exec and serves HTTP on it; ss shows the same inode', async () => {
    const channel = await connected();
    const before = openDescriptorCount();
    const sent = await peer.ask('sendlistener');
    const { message, descriptors } = await channel.receive();
    expect(JSON.parse(message.toString())).toEqual({ port: sent.port });
    expect(descriptors).toHaveLength(1);
    expect(cloexec(descriptors[0]!.fd)).toBe(true);
    expect(openDescriptorCount()).toBe(before + 1);
    const server = await listen(track(http.createServer((_, res) => res.end('from node'))), { descriptor: descriptors[0]! });
    expect(portOf(server)).toBe(sent.port);
    expect(listenersOf(sent.port).map((row) => row.inode)).toEqual([sent.ino]);
    expect(await httpGet(sent.port)).toBe('from node');
    expect(channel.peerCredentials()).toEqual({ pid: peer.pid, uid: process.getuid!(), gid: process.getgid!() });
  });

  it('two frames joined in one read: each comes apart, the descriptor with the frame it was sent with', async () => {
    const channel = await connected();
    await peer.ask('sendjoined');
    await new Promise((resolve) => setTimeout(resolve, 50)); // both in the socket before the first read
    const first = await channel.receive();
    const second = await channel.receive();
    expect([first.message.toString(), first.descriptors.length]).toEqual(['first', 0]);
    expect([second.message.toString(), second.descriptors.length]).toEqual(['second', 1]);
    second.descriptors[0]!.close();
  });

  it('MSG_CTRUNC: 5 descriptors with room for 2 is EMSGSIZE, and the 2 that arrived are closed', async () => {
    const channel = await connected();
    const before = openDescriptorCount();
    await peer.ask('sendmany');
    await expect(channel.receive({ maxDescriptors: 2 })).rejects.toThrow(
      expect.objectContaining({ code: 'EMSGSIZE', syscall: 'recvmsg', message: 'recvmsg EMSGSIZE (MSG_CTRUNC: the control message was truncated (2 descriptors arrived and were closed))' }),
    );
    expect(openDescriptorCount()).toBe(before);
  });

  it('room for 1 is room for 2 in the kernel (CMSG_SPACE rounds up): 2 sent to maxDescriptors 1 is EMSGSIZE too, both closed', async () => {
    const path = join(dir, 'two.sock');
    const accepted = new Promise<FdChannel>((resolve) => track(FdChannel.serve(listenUnix(path), resolve)));
    const client = await FdChannel.connect(path);
    const server = await accepted;
    const [a, b] = [socket('ipv4', 'tcp'), socket('ipv4', 'tcp')];
    try {
      const before = openDescriptorCount();
      await client.send('two', [a, b]);
      await expect(server.receive({ maxDescriptors: 1 })).rejects.toThrow(
        expect.objectContaining({ code: 'EMSGSIZE', message: expect.stringContaining('(2 descriptors arrived and were closed)') }),
      );
      expect(openDescriptorCount()).toBe(before);
    } finally {
      a.close();
      b.close();
      client.close();
      server.close();
    }
  });

  it('concurrent send()s on a small send buffer arrive whole and in order: frames written in pieces never interleave', async () => {
    const path = join(dir, 'order.sock');
    const accepted = new Promise<FdChannel>((resolve) => track(FdChannel.serve(listenUnix(path), resolve)));
    const client = await FdChannel.connect(path);
    const server = await accepted;
    try {
      setOption(client.fd, 'SO_SNDBUF', 4096); // a 60,000-byte frame takes many writes
      const messages = ['a', 'b', 'c'].map((letter) => letter.repeat(60_000));
      const sending = Promise.all(messages.map((m) => client.send(m)));
      const received: string[] = [];
      for (let i = 0; i < messages.length; i++) received.push((await server.receive()).message.toString());
      await sending;
      expect(received.map((m) => `${m[0]}${m.length}${new Set(m).size}`)).toEqual(['a600001', 'b600001', 'c600001']);
    } finally {
      client.close();
      server.close();
    }
  });

  it('the raw binding: no room at all for descriptors gives MSG_CTRUNC with 0 arrived', async () => {
    const channel = await connected();
    const before = openDescriptorCount();
    await peer.ask('sendmany');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const got = binding.recvFds(channel.fd, 100, 0);
    expect(got).toMatchObject({ fds: [], truncated: 0 });
    expect(openDescriptorCount()).toBe(before);
  });

  it('garbage, a count that lies, descriptors in the middle of a payload, a truncated message: EPROTO, nothing leaked', async () => {
    const cases: [string, RegExp][] = [
      ['sendraw 68656c6c6f', /^recvmsg EPROTO \(not a sockctl frame \(byte 0x68 at offset 0\)\)$/],
      ['sendwrongcount', /^recvmsg EPROTO \(a frame said 2 descriptors and 1 came with it\)$/],
      ['sendorphan', /^recvmsg EPROTO \(descriptors arrived with no frame starting in their read\)$/],
    ];
    for (const [command, message] of cases) {
      const channel = await connected();
      const before = openDescriptorCount();
      const receiving = channel.receive({ timeoutMs: 2000 }).then(() => 'received', (error: Error) => error);
      await peer.ask(command);
      expect(await receiving).toMatchObject({ code: 'EPROTO', message: expect.stringMatching(message) });
      expect(openDescriptorCount()).toBe(before);
      channel.close();
      await peer.ask('close');
    }
    const channel = await connected();
    await peer.ask('sendraw 4600006468656c6c6f'); // says 100 bytes, sends 5
    await peer.ask('close');
    await expect(channel.receive()).rejects.toThrow(
      expect.objectContaining({ code: 'EPROTO', message: 'recvmsg EPROTO (the peer closed in the middle of a message (9 bytes of it))' }),
    );
  });

  it('EOF is EPIPE; a wait times out (ETIMEDOUT) or aborts (AbortError); bad arguments are refused', async () => {
    const channel = await connected();
    await expect(channel.receive({ timeoutMs: 100 })).rejects.toThrow(expect.objectContaining({ code: 'ETIMEDOUT', syscall: 'recvmsg' }));
    const controller = new AbortController();
    const waiting = channel.receive({ signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await peer.ask('close');
    await expect(channel.receive()).rejects.toThrow(expect.objectContaining({ code: 'EPIPE', message: 'recvmsg EPIPE (the peer closed the connection)' }));
    await expect(channel.send('')).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(channel.send('x', [{} as never])).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(channel.receive({ timeout: 5 } as never)).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => FdChannel.connect('a\0b')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => FdChannel.connect('x'.repeat(200))).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG', syscall: 'connect' }));
    expect(() => FdChannel.connect(join(dir, 'nobody'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'connect', address: join(dir, 'nobody') }));
  });

  it('a closed channel answers every call with EBADF naming the call, as the system call would, and stays closed', async () => {
    const channel = await connected();
    channel.close();
    expect(channel.fd).toBe(-1);
    await expect(channel.send('x')).rejects.toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'sendmsg', message: 'sendmsg EBADF (the channel is closed)' }));
    await expect(channel.receive()).rejects.toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'recvmsg', message: 'recvmsg EBADF (the channel is closed)' }));
    expect(() => channel.peerCredentials()).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'getsockopt' }));
    channel.close(); // twice: nothing more
    expect(channel.closed).toBe(true);
  });

  it("the other process's shutdown() of its copy stops the listener this one serves on; its close() does not (why takeover closes)", async () => {
    for (const how of ['closeheld', 'shutdownheld'] as const) {
      const channel = await connected();
      const listener = await createListener({ host: '127.0.0.1' });
      const { port } = listener.address;
      await channel.send('listener', [listener]);
      await peer.ask('recvframe');
      const server = track(http.createServer((_, res) => res.end('still here')));
      const errors: string[] = [];
      server.on('error', (error: NodeJS.ErrnoException) => errors.push(`${error.syscall} ${error.code}`));
      await listen(server, { descriptor: listener });
      expect(await httpGet(port)).toBe('still here');
      expect(await peer.ask(how)).toEqual({ ok: true });
      if (how === 'closeheld') {
        expect(await httpGet(port)).toBe('still here');
        expect(listenersOf(port)).toHaveLength(1);
      } else {
        expect(await tryConnect(port, '127.0.0.1')).toBe('ECONNREFUSED');
        expect(listenersOf(port)).toHaveLength(0); // the one socket no longer listens, for anyone
      }
      channel.close();
      await closeTracked();
    }
  });
});

describe.skipIf(!isLinux)('FdChannel and worker_threads', () => {
  it('Workers terminated while receive() waits (30 s timeout): this process survives, and the pool threads come free', async () => {
    const { Worker } = await import('node:worker_threads');
    const { DIST_INDEX } = await import('./helpers/dist');
    const code = `
      const { FdChannel, listenUnix } = require(${JSON.stringify(DIST_INDEX)});
      const { parentPort, threadId } = require('node:worker_threads');
      const path = ${JSON.stringify(dir)} + '/worker-' + threadId + '.sock';
      FdChannel.serve(listenUnix(path), () => {});
      FdChannel.connect(path).receive({ timeoutMs: 30000 }).catch(() => {});
      parentPort.postMessage('waiting');`;
    for (let i = 0; i < 8; i++) {
      const worker = new Worker(code, { eval: true });
      await new Promise((resolve) => worker.once('message', resolve));
      await worker.terminate();
    }
    // 8 waits would hold every pool thread (4) for 30 s if nothing cancelled them.
    const channel = await connected();
    const started = Date.now();
    await expect(channel.receive({ timeoutMs: 100 })).rejects.toThrow(expect.objectContaining({ code: 'ETIMEDOUT' }));
    expect(Date.now() - started).toBeLessThan(5000);
  }, 60_000);
});

describe('FdChannel arguments', () => {
  it('the constructor takes an OwnedDescriptor only', () => {
    expect(() => new FdChannel(3 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
