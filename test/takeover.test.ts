// takeover() between two Node processes: the new version receives the very listening
// socket (ss: the same inode), the old one closes its copy only after ready and drains;
// faults leave the old version serving.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { FdChannel, takeover, Takeover, TAKEOVER_PROTOCOL } from '../lib/index';
import { spawnFdPeer } from './helpers/fdpeer';
import { closeTracked, httpGet, portOf, track } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';
import { startVersion, stopVersions } from './helpers/versions';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sockctl-takeover-'));
  path = join(dir, 'takeover.sock');
});
afterEach(async () => {
  await stopVersions();
  await closeTracked();
  rmSync(dir, { recursive: true, force: true });
});

/** The inode and holders of the LISTEN socket on a port, as ss -tlnpe shows them. */
export function listeningInodes(port: number): { inode: number; pids: number[] }[] {
  const out = execFileSync('ss', ['-tlnpeH', `sport = :${port}`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((line) => ({
    inode: Number(/ino:(\d+)/.exec(line)![1]),
    pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])).sort(),
  }));
}

describe.skipIf(!isLinux)('takeover(): the listener passes from one process to the next', () => {
  it('v1 makes it, v2 receives the same socket, v1 closes its copy only after ready, drains and exits; the path passes to v2', async () => {
    const v1 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v1' });
    const first = await v1.step('listening');
    expect(first).toMatchObject({ inherited: [], previousPid: null });
    await v1.step('ready');
    const { port } = first;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await httpGet(port)).toBe('v1');
    const [before] = listeningInodes(port);

    const v2 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v2', HOLD: '1' });
    const second = await v2.step('listening');
    expect(second).toMatchObject({ port, inherited: ['web'], previousPid: v1.child.pid });
    // Both hold the one socket now; v1 has closed nothing yet.
    expect(listeningInodes(port)).toEqual([{ inode: before!.inode, pids: [v1.child.pid!, v2.child.pid!].sort() }]);
    v2.proceed();
    await v2.step('ready');
    expect(await v1.step('replaced')).toMatchObject({ drained: [{ timedOut: false, destroyed: 0 }] });
    expect(await v1.exited).toBe(0);
    expect(listeningInodes(port)).toEqual([{ inode: before!.inode, pids: [v2.child.pid!] }]);
    expect(await httpGet(port)).toBe('v2');

    // And v2 offers it at the same path: v3 takes over from v2.
    const v3 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v3' });
    expect(await v3.step('listening')).toMatchObject({ port, previousPid: v2.child.pid });
    await v3.step('ready');
    expect(await v2.exited).toBe(0);
    expect(await httpGet(port)).toBe('v3');
    expect(listeningInodes(port).map((row) => row.inode)).toEqual([before!.inode]);
  });
});

describe.skipIf(!isLinux)('takeover(): faults leave the running version serving', () => {
  async function runningV1(env: Record<string, string> = {}) {
    const v1 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v1', ...env });
    const { port } = await v1.step('listening');
    await v1.step('ready');
    return { v1, port: port as number };
  }

  it('a new version that dies before ready: v1 serves on, and the next attempt succeeds', async () => {
    const { v1, port } = await runningV1();
    const dying = startVersion({ TAKEOVER_PATH: path, VERSION: 'v2', FAULT: 'die-before-ready' });
    await dying.step('listening');
    expect(await dying.exited).toBe(3);
    expect(await httpGet(port)).toBe('v1');
    const v3 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v3' });
    await v3.step('ready');
    expect(await v1.step('replaced')).toMatchObject({ failures: ['EPIPE'] });
    expect(await httpGet(port)).toBe('v3');
  });

  it('a new version never ready within readyTimeoutMs: v1 gives up on it and serves on; meanwhile a second takeover is refused (EBUSY)', async () => {
    const { v1, port } = await runningV1({ READY_TIMEOUT_MS: '2500' });
    const stuck = startVersion({ TAKEOVER_PATH: path, VERSION: 'v2', FAULT: 'never-ready' });
    await stuck.step('listening');
    const started = Date.now();
    const before = openDescriptorCount();
    await expect(takeover({ path, listeners: { web: { host: '127.0.0.1' } } })).rejects.toThrow(
      expect.objectContaining({
        code: 'EBUSY',
        syscall: 'takeover',
        address: path,
        message: `takeover EBUSY ${path} (refused by the running version: this version is handing-over: one takeover at a time)`,
      }),
    );
    expect(openDescriptorCount()).toBe(before);
    // v1 gives up at 2.5 s and says so on the channel (ETIMEDOUT), which the stuck version
    // never reads: waited for in ss (its unix socket's Recv-Q), bounded, not slept on.
    const refusalQueued = () =>
      execFileSync('ss', ['-xpH'], { encoding: 'utf8' })
        .split('\n')
        .some((line) => line.includes(`pid=${stuck.child.pid},`) && Number(line.trim().split(/\s+/)[2]) > 0);
    while (!refusalQueued()) {
      expect(Date.now() - started, 'v1 said nothing to the stuck version within 15 s').toBeLessThan(15_000);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(2400); // not before its readyTimeoutMs
    await stuck.stop(); // (it held a copy and could have served too; v1 never stopped)
    for (let i = 0; i < 5; i++) expect(await httpGet(port)).toBe('v1');
    const v4 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v4' });
    await v4.step('ready');
    expect(await v1.step('replaced')).toMatchObject({ failures: ['ETIMEDOUT'] });
    expect(await httpGet(port)).toBe('v4');
  });

  it('a stale socket file at the path (its version is gone): a first start, and ready() replaces the file', async () => {
    const { listenUnix } = await import('../lib/index');
    listenUnix(path).close(); // the file stays, nobody listens
    const v1 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v1' });
    expect(await v1.step('listening')).toMatchObject({ inherited: [], previousPid: null });
    await v1.step('ready');
    const v2 = startVersion({ TAKEOVER_PATH: path, VERSION: 'v2' });
    expect(await v2.step('listening')).toMatchObject({ previousPid: v1.child.pid });
  });

  it('options as every call takes them: takeover() needs its object, ready() and replaced() know only signal', async () => {
    await expect(takeover(undefined as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'The "options" argument must be of type object. Received undefined' });
    const v1 = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
    try {
      expect(() => v1.replaced({ timeout: 1 } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: "The property 'options.timeout' is not an option of replaced (signal). Received 1" }),
      );
      expect(() => v1.replaced(new Map() as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'The "options" argument must be a plain object. Received an instance of Map' }));
      await expect(v1.ready({ timeoutMs: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: "The property 'options.timeoutMs' is not an option of ready (signal). Received 1" });
      expect(v1.state).toBe('serving'); // refused before anything was done
      // A first start too: an aborted signal offers nothing (ss lists no listener of ours beside the path).
      await expect(v1.ready({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
      expect(v1.state).toBe('serving');
      expect(execFileSync('ss', ['-xlnH'], { encoding: 'utf8' })).not.toContain(dir); // ss names the socket by the name it was bound to, in a directory beside the path
      await v1.ready();
      expect(execFileSync('ss', ['-xlnH'], { encoding: 'utf8' })).toContain(dir);
      expect(v1.state).toBe('offering');
    } finally {
      v1.close();
    }
  });

  it('close() while handing over: the hand-over stops there, the state stays closed (never replaced after), the path is removed', async () => {
    const v1 = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
    await v1.ready();
    expect(v1.state).toBe('offering');
    const v2 = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } }); // v1 now waits for its ready
    expect(v1.state).toBe('handing-over');
    v1.close();
    expect(v1.state).toBe('closed');
    await expect(v1.replaced()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(() => statSync(path)).toThrow(expect.objectContaining({ code: 'ENOENT' })); // v1's path, unlinked
    // v2 holds the listener it received and goes on: its ready() finds v1 gone (EOF is done).
    await v2.ready();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(v1.state).toBe('closed');
    expect(v2.state).toBe('offering');
    expect(statSync(path).isSocket()).toBe(true); // v2's now
    v2.close();
  });

  it('a new version ready after the running one gave up waiting: its ready() rejects with that refusal (ETIMEDOUT), and the running one offers on', async () => {
    const v1 = await takeover({ path, listeners: { web: { host: '127.0.0.1' } }, readyTimeoutMs: 200 });
    await v1.ready();
    const v2 = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
    for (let i = 0; i < 200 && v1.state !== 'offering'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(v1.state).toBe('offering');
    await expect(v2.ready()).rejects.toMatchObject({ code: 'ETIMEDOUT', message: expect.stringContaining('refused by the running version: not ready within 200 ms') });
    expect(v1.state).toBe('offering');
    v2.close();
    v1.close();
  });

  it('TAKEOVER_PROTOCOL is frozen: what this process speaks cannot be changed at run time', () => {
    expect(Object.isFrozen(TAKEOVER_PROTOCOL)).toBe(true);
    expect(() => {
      (TAKEOVER_PROTOCOL as { max: number }).max = 9;
    }).toThrow(TypeError);
    expect(TAKEOVER_PROTOCOL).toEqual({ min: 1, max: 1 });
  });

  it('new Takeover() outside takeover(): ERR_ILLEGAL_CONSTRUCTOR (found by the fuzz campaign: junk made an object whose close() threw)', () => {
    const Made = Takeover as unknown as new (...args: unknown[]) => unknown;
    for (const args of [[1.5, new Map(), 0, [], null], [{ path, timeoutMs: 1, readyTimeoutMs: 1, drainTimeoutMs: 1 }, new Map(), null, [], null]]) {
      expect(() => new Made(...args)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR', message: 'Illegal constructor' }));
    }
  });

  it('in this process: a path that is not a socket (ENOTSOCK), bad options; nothing leaked', async () => {
    writeFileSync(path, 'not a socket');
    const before = openDescriptorCount();
    await expect(takeover({ path, listeners: { web: { host: '127.0.0.1' } } })).rejects.toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'connect', address: path, message: `connect ENOTSOCK ${path} (the takeover path exists and is not a socket)` }),
    );
    await expect(takeover({ path, listeners: {} })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(takeover({ path, listeners: { web: { prot: 1 } as never } })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(takeover({ path: 1 as never, listeners: { web: {} } })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(takeover({ path, listeners: { web: {} }, readyTimeout: 1 } as never)).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(takeover({ path, listeners: { web: {} }, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(openDescriptorCount()).toBe(before);
  });
});

describe.skipIf(!isLinux)('takeover(): a peer at the path that is not a sockctl version of ours', () => {
  const hello = JSON.stringify({ type: 'hello', protocol: 1, pid: 1 });
  const cases: [string, string[], string, RegExp][] = [
    ['garbage', ['sendraw 68656c6c6f21'], 'EPROTO', /not a sockctl frame/],
    ['a truncated message', ['sendraw 4600006468656c6c6f', 'close'], 'EPROTO', /the peer closed in the middle of a message/],
    ['a message that is not JSON', ['sendframe {nope'], 'EPROTO', /a takeover message that is not JSON/],
    ['descriptors that are not listeners', [`sendframe ${hello}`, 'sendudp {"type":"listeners","names":["web"]}'], 'EINVAL', /the listener 'web' handed over \(fd \d+\) is a datagram ipv4 socket, not listening/],
    ['names that do not match the descriptors', [`sendframe ${hello}`, 'sendudp {"type":"listeners","names":["a","b"]}'], 'EPROTO', /1 descriptors for the names \["a","b"\]/],
  ];
  for (const [what, commands, code, message] of cases) {
    it(`${what}: ${code}, and nothing leaked`, async () => {
      const peer = spawnFdPeer();
      try {
        expect(await peer.ask(`listen ${path}`)).toEqual({ ok: true });
        const before = openDescriptorCount();
        const accepted = peer.ask('accept');
        const attempt = takeover({ path, listeners: { web: { host: '127.0.0.1' } }, timeoutMs: 2000 }).then(() => 'taken over', (error: Error) => error);
        await accepted;
        expect(await peer.ask('recvframe')).toMatchObject({ payload: expect.stringContaining('"type":"hello"') });
        for (const command of commands) await peer.ask(command);
        expect(await attempt).toMatchObject({ code, message: expect.stringMatching(message) });
        expect(openDescriptorCount()).toBe(before);
      } finally {
        await peer.stop();
      }
    });
  }

  it('a hello that carries a descriptor: it is closed at once, never kept (/proc/self/fd counts the same after)', async () => {
    const peer = spawnFdPeer();
    try {
      expect(await peer.ask(`listen ${path}`)).toEqual({ ok: true });
      const before = openDescriptorCount();
      const accepted = peer.ask('accept');
      const attempt = takeover({ path, listeners: { web: { host: '127.0.0.1' } }, timeoutMs: 2000 });
      await accepted;
      expect(await peer.ask('recvframe')).toMatchObject({ payload: expect.stringContaining('"type":"hello"') });
      await peer.ask(`sendudp ${hello}`); // a UDP socket rides with the hello
      await peer.ask('sendframe {"type":"listeners","names":[]}');
      const t = await attempt;
      expect(t.inherited).toEqual([]); // nothing handed over: 'web' was made here
      t.close();
      expect(openDescriptorCount()).toBe(before);
    } finally {
      await peer.stop();
    }
  });

  it('a new version that speaks only protocol 2..3 is refused (EPROTO) by this one, which serves on', async () => {
    const t = await takeover({ path, listeners: { web: { host: '127.0.0.1' } } });
    try {
      const server = await t.listen('web', track(http.createServer((_, res) => res.end('old'))));
      await t.ready();
      const channel = FdChannel.connect(path);
      await channel.send(JSON.stringify({ type: 'hello', protocol: { min: 2, max: 3 } }));
      expect(JSON.parse((await channel.receive()).message.toString())).toEqual({
        type: 'refused',
        code: 'EPROTO',
        reason: 'protocol {"min":2,"max":3} is not one of 1..1',
      });
      channel.close();
      expect(await httpGet(portOf(server))).toBe('old');
      expect(t.state).toBe('offering');
      expect(t.failures.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['EPROTO']);
      const waiting = t.replaced();
      t.close();
      await expect(waiting).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
      await expect(t.ready()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    } finally {
      t.close();
    }
  });
});
