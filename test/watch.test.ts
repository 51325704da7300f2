// watchStates and the waits built on it, on real loopback connections, checked against
// ss (states and sk: cookies at the moment of an event) and the process's descriptors and
// tracefs instances (none left behind). The tracepoint cases need root and tracefs (.ci/run
// mounts it); the poll cases run anywhere on Linux.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { runLab, waitForState, watchStates, type TcpStateChange } from '../lib/index';
import { toQuery } from '../lib/states/filter';
import { openInstance, removeStaleInstances, TracepointUnavailable } from '../lib/states/tracefs';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { connectedPair, isLinux, openDescriptorCount, type Pair } from './helpers/net';
import { ssDetailedRows } from './helpers/ss';
import { readableCopy } from './helpers/readable-copy';
import { noTracingReason, ownInstances, tracing } from './helpers/tracefs';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';

const pairs: Pair[] = [];
afterEach(async () => {
  for (const pair of pairs.splice(0)) await pair.close();
});
async function pair(host = '127.0.0.1'): Promise<Pair> {
  const p = await connectedPair(host);
  pairs.push(p);
  return p;
}

/** Collects changes until `until` holds for the list, or `ms` pass. */
async function collect(watch: AsyncIterable<TcpStateChange> & { close(): void }, until: (seen: TcpStateChange[]) => boolean, ms = 5000, each?: (c: TcpStateChange) => void) {
  const seen: TcpStateChange[] = [];
  const timer = setTimeout(() => watch.close(), ms);
  try {
    for await (const change of watch) {
      each?.(change);
      seen.push(change);
      if (until(seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

function activeClose(p: Pair): void {
  p.accepted.on('end', () => p.accepted.end());
  p.client.end();
}

const sequenceOf = (seen: TcpStateChange[], localPort: number) => seen.filter((c) => c.row.localPort === localPort).map((c) => `${c.from}>${c.to}`);

describe.skipIf(!isLinux)('watchStates: bad input', () => {
  it('refuses unknown options, a non-signal, a bad source and a bad address with Node codes', () => {
    expect(() => watchStates({}, { timeout: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' }));
    expect(() => watchStates({}, { signal: {} as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('The "options.signal" property must be an instance of AbortSignal') }),
    );
    expect(() => watchStates({}, { source: 'bpf' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => watchStates({ localAddress: 'localhost' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: "The property 'filter.localAddress' must be an IPv4 or IPv6 address. Received 'localhost'" }),
    );
    expect(() => watchStates({}, { intervalMs: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => watchStates({}, { signal: AbortSignal.abort() })).toThrow(expect.objectContaining({ name: 'AbortError', code: 'ABORT_ERR' }));
    expect(ownInstances()).toEqual([]);
  });
});

describe.skipIf(!isLinux)("watchStates, source 'poll': dump diffs prompted by destroy events", () => {
  it('reports a connection closing, with cookies that ss prints as sk:', async () => {
    const p = await pair();
    const clientPort = p.client.localPort!;
    const watch = watchStates({ port: p.port, family: 'ipv4' }, { source: 'poll', initial: true });
    expect(watch.source).toBe('poll');
    const ssAt: Record<string, { state: string; cookie: string | null } | undefined> = {};
    const seen = await collect(
      watch,
      (s) => s.some((c) => c.row.localPort === clientPort && c.to === 'TIME_WAIT'),
      5000,
      (c) => {
        if (c.from === null) {
          const ss = ssDetailedRows(p.port).find((r) => r.localPort === c.row.localPort && r.peerPort === c.row.remotePort);
          ssAt[`${c.row.localPort}>${c.row.remotePort}`] = ss && { state: ss.tcpState, cookie: ss.cookie };
        }
        if (c.from === null && c.row.localPort === clientPort) activeClose(p);
      },
    );
    // This pair's sockets only: another file's TIME_WAIT may hold the same port number at either end.
    const isClient = (c: TcpStateChange) => c.row.localPort === clientPort && c.row.remotePort === p.port;
    const ours = (c: TcpStateChange) => isClient(c) || (c.row.localPort === p.port && (c.row.remotePort === clientPort || c.to === 'LISTEN'));
    const initial = seen.filter((c) => c.from === null && ours(c));
    expect(initial.map((c) => c.to).sort()).toEqual(['ESTABLISHED', 'ESTABLISHED', 'LISTEN']);
    for (const c of initial) expect(ssAt[`${c.row.localPort}>${c.row.remotePort}`]).toEqual({ state: c.to, cookie: c.cookie });
    const timeWait = seen.find((c) => c.to === 'TIME_WAIT' && isClient(c))!;
    const ss = ssDetailedRows(p.port).find((r) => r.localPort === clientPort && r.peerPort === p.port)!;
    expect({ state: ss.tcpState, cookie: ss.cookie }).toEqual({ state: 'TIME_WAIT', cookie: timeWait.cookie });
    expect(timeWait.cookie).toBe(initial.find((c) => c.row.localPort === clientPort)!.cookie); // TIME_WAIT keeps the cookie
    expect(ownInstances()).toEqual([]);
  });

  it('an abort rejects the pending next() with AbortError and closes the destroy socket', async () => {
    const before = openDescriptorCount();
    const controller = new AbortController();
    const watch = watchStates({ port: 1 }, { source: 'poll', signal: controller.signal });
    expect(openDescriptorCount()).toBeGreaterThan(before); // the destroy-group socket (and a dump's, in flight)
    const pending = watch.next();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    // A dump already on the thread pool closes its socket when it returns, within milliseconds.
    for (let i = 0; i < 100 && openDescriptorCount() !== before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(openDescriptorCount()).toBe(before);
  });

  it('concurrent next() calls each get a change, in call order; close() ends the ones still waiting', async () => {
    const p = await pair();
    const watch = watchStates({ port: p.port, family: 'ipv4', state: 'ESTABLISHED' }, { source: 'poll', initial: true });
    const [first, second, third] = [watch.next(), watch.next(), watch.next()];
    // The two initial rows (both ends ESTABLISHED) go to the first two callers; nothing more comes.
    const got = await Promise.all([first, second]);
    expect(got.map((r) => [r.done, r.value?.from, r.value?.to])).toEqual([
      [false, null, 'ESTABLISHED'],
      [false, null, 'ESTABLISHED'],
    ]);
    expect(new Set(got.map((r) => r.value!.row.localPort))).toEqual(new Set([p.port, p.client.localPort]));
    watch.close();
    expect(await third).toEqual({ value: undefined, done: true });
  });
});

describe.skipIf(!isLinux || skipUnlessAvailable(tracing))(`watchStates, source 'tracepoint' (root and tracefs: ${noTracingReason || 'available'})`, () => {
  requireUnderCi(tracing, () => `the tracepoint: ${noTracingReason}`);
  it('every transition of both ends, FIN_WAIT_1 included, TIME_WAIT confirmed by a lookup with the cookie ss prints', async () => {
    const server = net.createServer((c) => c.on('end', () => c.end()));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      const watch = watchStates({ port }, { source: 'tracepoint' });
      expect(watch.source).toBe('tracepoint');
      expect(ownInstances()).toHaveLength(1);
      const client = net.connect(port, '127.0.0.1', () => client.end());
      client.resume();
      let clientPort = 0;
      let ss: { state: string; cookie: string | null } | undefined;
      const seen = await collect(
        watch,
        (s) => s.filter((c) => c.to === 'CLOSED' || c.to === 'TIME_WAIT').length >= 2,
        5000,
        (c) => {
          if (c.row.remotePort === port) clientPort = c.row.localPort;
          if (c.to === 'TIME_WAIT') {
            const row = ssDetailedRows(port).find((r) => r.localPort === c.row.localPort && r.peerPort === port);
            ss = row && { state: row.tcpState, cookie: row.cookie };
          }
        },
      );
      expect(sequenceOf(seen, clientPort)).toEqual(['CLOSED>SYN_SENT', 'SYN_SENT>ESTABLISHED', 'ESTABLISHED>FIN_WAIT_1', 'FIN_WAIT_1>FIN_WAIT_2', 'FIN_WAIT_2>TIME_WAIT']);
      const accepted = seen.filter((c) => c.row.localPort === port && c.row.remotePort === clientPort).map((c) => `${c.from}>${c.to}`);
      expect(accepted).toEqual(['LISTEN>SYN_RECV', 'SYN_RECV>ESTABLISHED', 'ESTABLISHED>CLOSE_WAIT', 'CLOSE_WAIT>LAST_ACK', 'LAST_ACK>CLOSED']);
      // One cookie per socket, all known, and the TIME_WAIT's is the one ss prints.
      const clientCookies = new Set(seen.filter((c) => c.row.localPort === clientPort).map((c) => c.cookie));
      expect(clientCookies.size).toBe(1);
      const timeWait = seen.find((c) => c.to === 'TIME_WAIT')!;
      expect(timeWait.via).toBe('lookup');
      expect(ss).toEqual({ state: 'TIME_WAIT', cookie: timeWait.cookie });
      expect(new Set(seen.filter((c) => c.row.localPort === port).map((c) => c.cookie)).size).toBe(1);
      // Kernel timestamps: in order, within the test's time.
      const times = seen.map((c) => c.time);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(times[0]!).toBeGreaterThanOrEqual(started - 5);
      expect(times.at(-1)!).toBeLessThanOrEqual(Date.now() + 5);
      expect(ownInstances()).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('an abort leaves no tracefs instance and no descriptor; so does break', async () => {
    const before = openDescriptorCount();
    const controller = new AbortController();
    const watch = watchStates({ port: 1 }, { signal: controller.signal });
    expect(watch.source).toBe('tracepoint');
    expect(ownInstances()).toHaveLength(1);
    expect(openDescriptorCount()).toBe(before + 1); // trace_pipe
    const pending = watch.next();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(ownInstances()).toEqual([]);
    expect(openDescriptorCount()).toBe(before);

    const p = await pair();
    for await (const change of watchStates({ port: p.port }, { initial: true })) {
      void change;
      break;
    }
    expect(ownInstances()).toEqual([]);
  });

  it('holds at most maxQueued changes for a reader that does not read, and counts the rest', async () => {
    const server = net.createServer((c) => c.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const watch = watchStates({ port }, { maxQueued: 20 });
    try {
      for (let i = 0; i < 50; i++) {
        const c = net.connect(port, '127.0.0.1');
        c.on('error', () => {});
        await once(c, 'close');
      }
      // The 50 connections' events reach the watch: wait for the first one it had no room for.
      for (const deadline = Date.now() + 5000; watch.dropped === 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(watch.queued).toBeLessThanOrEqual(20);
      expect(watch.dropped).toBeGreaterThan(0);
      // Reading again resumes the source: a new connection is seen.
      for (let i = 0; i < 20; i++) await watch.next();
      const c = net.connect(port, '127.0.0.1');
      c.on('error', () => {});
      const clientPort = await new Promise<number>((resolve) => c.once('connect', () => resolve(c.localPort!)));
      let found = false;
      for (let i = 0; i < 10_000 && !found; i++) found = (await watch.next()).value?.row.localPort === clientPort;
      expect(found).toBe(true);
    } finally {
      watch.close();
      server.close();
    }
  });

  for (const how of ['terminate()', 'process.exit() inside'] as const) {
    it(`a worker ended while watching (${how}) leaves no instance; the main thread goes on`, async () => {
      ensureBuilt();
      const { Worker } = await import('node:worker_threads');
      const worker = new Worker(
        `const { watchStates } = require(${JSON.stringify(DIST_INDEX)});
         const { parentPort } = require('node:worker_threads');
         const w = watchStates({ port: 1 });
         (async () => { for await (const c of w) void c; })();
         parentPort.postMessage(w.source);
         parentPort.on('message', () => process.exit(0));`,
        { eval: true },
      );
      const [source] = (await once(worker, 'message')) as [string];
      expect(source).toBe('tracepoint');
      expect(ownInstances()).toHaveLength(1);
      if (how === 'terminate()') await worker.terminate();
      else {
        worker.postMessage('exit');
        await once(worker, 'exit');
      }
      expect(ownInstances()).toEqual([]);
    });
  }

  it('a process that exits with watches open (and sockets closing) exits cleanly and leaves no instance', () => {
    ensureBuilt();
    const script = `
      const net = require('node:net');
      const { watchStates } = require(${JSON.stringify(DIST_INDEX)});
      const server = net.createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        for (const source of ['tracepoint', 'poll']) (async () => { for await (const c of watchStates({ port }, { source })) void c; })();
        for (let i = 0; i < 20; i++) net.connect(port, '127.0.0.1').on('error', () => {});
        setTimeout(() => process.exit(0), 50);
      });`;
    for (let run = 0; run < 5; run++) {
      const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
      expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
      const root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((r) => statSync(r, { throwIfNoEntry: false })?.isDirectory())!;
      expect(readdirSync(join(root, 'instances')).filter((n) => n.startsWith(`sockctl-${child.pid}-`))).toEqual([]);
    }
  });

  it('an instance left by a process that died is removed by the next watch', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await once(child, 'exit');
    const root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((r) => {
      try {
        return statSync(`${r}/instances`).isDirectory();
      } catch {
        return false;
      }
    })!;
    const stale = join(root, 'instances', `sockctl-${child.pid}-0`);
    mkdirSync(stale);
    watchStates({ port: 1 }).close();
    expect(readdirSync(join(root, 'instances'))).not.toContain(`sockctl-${child.pid}-0`);
  });

  it("the lab dates confirmed states by the kernel's timestamps", async () => {
    const report = await runLab(['active-close']);
    const events = report.scenarios[0]!.events;
    expect(report.scenarios[0]!.error).toBeUndefined();
    const fromKernel = events.filter((e) => e.clock === 'kernel').map((e) => e.state);
    expect(fromKernel, JSON.stringify(events)).toEqual(expect.arrayContaining(['ESTABLISHED', 'FIN_WAIT_1', 'TIME_WAIT']));
    for (const e of events) expect(e.t).toBeGreaterThanOrEqual(0);
    // The lab's watch closes itself after a quiet spell (2 s): no instance left.
    for (let i = 0; i < 50 && ownInstances().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ownInstances()).toEqual([]);
  });

  it('waitForState sees FIN_WAIT_1, which lasts microseconds on loopback', async () => {
    const p = await pair();
    const clientPort = p.client.localPort!;
    const waiting = waitForState({ localPort: clientPort, remotePort: p.port }, 'FIN_WAIT_1');
    // Its tracefs instance is there before waitForState returns: the watch is armed.
    expect(ownInstances()).toHaveLength(1);
    activeClose(p);
    expect(await waiting).toMatchObject([{ state: 'FIN_WAIT_1', localPort: clientPort, remotePort: p.port }]);
  });
});

describe.skipIf(!isLinux)('waitForState: CLOSED, the exact lookup, signal', () => {
  for (const source of ['poll', 'auto'] as const) {
    it(`'CLOSED' resolves once the connection is gone; both ends named: the 4-tuple lookup with its cookie (${source})`, async () => {
      const p = await pair();
      const clientPort = p.client.localPort!;
      const serverEnd = { localAddress: '127.0.0.1', localPort: p.port, remoteAddress: '127.0.0.1', remotePort: clientPort };
      expect(await waitForState(serverEnd, 'ESTABLISHED', { source })).toMatchObject([{ state: 'ESTABLISHED', localPort: p.port, remotePort: clientPort }]);
      const gone = waitForState(serverEnd, 'CLOSED', { source });
      activeClose(p);
      // The accepted end goes (LAST_ACK -> CLOSED); the same 4-tuple now answers with the listener, which is not it.
      expect(await gone).toEqual([]);
      expect(ssDetailedRows(p.port).filter((r) => r.localPort === p.port && r.peerPort === clientPort)).toEqual([]);
    });
  }

  it('rejects with AbortError when aborted, and at once for an aborted signal', async () => {
    const p = await pair();
    const controller = new AbortController();
    const waiting = waitForState({ localPort: p.port, remotePort: p.client.localPort! }, 'TIME_WAIT', { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(waitForState({ port: p.port }, 'LISTEN', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(waitForState({ port: p.port }, 'LISTEN', { timeout: 5 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(ownInstances()).toEqual([]);
  });
});

describe.skipIf(!isLinux)('the tracepoint unavailable: a clear reason, never a silent empty stream', () => {
  it('tracefs not mounted: ENOTMOUNTED with where it looked', () => {
    const error = (() => {
      try {
        openInstance(toQuery({}), ['/nonexistent/tracing']);
      } catch (e) {
        return e;
      }
    })() as TracepointUnavailable;
    expect(error).toBeInstanceOf(TracepointUnavailable);
    expect(error).toMatchObject({ code: 'ENOTMOUNTED', message: expect.stringContaining('tracefs is not mounted (looked in /nonexistent/tracing') });
  });

  it('the event missing (an older kernel): ENOEVENT, and the instance it made is removed; stale ones go', () => {
    const root = mkdtempSync(join(tmpdir(), 'sockctl-tracefs-'));
    try {
      mkdirSync(join(root, 'instances'));
      expect(() => openInstance(toQuery({}), [root])).toThrow(expect.objectContaining({ code: 'ENOEVENT', message: expect.stringContaining('no sock:inet_sock_set_state tracepoint') }));
      expect(readdirSync(join(root, 'instances'))).toEqual([]);
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      mkdirSync(join(root, 'instances', `sockctl-${dead}-0-3`));
      mkdirSync(join(root, 'instances', `sockctl-${process.pid}-0-99`)); // this process's own: kept
      mkdirSync(join(root, 'instances', 'someone-else'));
      expect(removeStaleInstances(root)).toEqual([`sockctl-${dead}-0-3`]);
      expect(readdirSync(join(root, 'instances')).sort()).toEqual([`sockctl-${process.pid}-0-99`, 'someone-else']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.skipIf(process.getuid?.() !== 0 || skipUnlessAvailable(tracing))(
    "not permitted (root-only: a child as uid 65534): 'auto' polls and says why; 'tracepoint' fails with EACCES",
    () => {
      expect(tracing, `the tracepoint, for root: ${noTracingReason}`).toBe(true);
      ensureBuilt();
      // The child loads a world-readable copy: the checkout may sit in a 0700 directory.
      const copy = readableCopy();
      onTestFinished(copy.remove);
      const script = `
        const { watchStates } = require(${JSON.stringify(copy.dist)});
        const w = watchStates({ port: 1 });
        let named;
        try { watchStates({ port: 1 }, { source: 'tracepoint' }).close(); } catch (e) { named = { code: e.code, syscall: e.syscall, message: e.message }; }
        console.log(JSON.stringify({ source: w.source, fallback: w.fallback, named }));
        w.close();`;
      const run = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000, cwd: '/' });
      expect(run.stderr).toBe('');
      const result = JSON.parse(run.stdout) as { source: string; fallback: string; named: { code: string; syscall: string; message: string } };
      expect(result.source).toBe('poll');
      expect(result.fallback).toMatch(/not permitted/);
      expect(result.named).toMatchObject({ code: 'EACCES', syscall: 'tracefs' });
    },
  );
});

describe.skipIf(!isLinux || skipUnlessAvailable(tracing))(`tracefs instances across worker_threads (root and tracefs: ${noTracingReason || 'available'})`, () => {
  requireUnderCi(tracing, () => `the tracepoint: ${noTracingReason}`);
  it('a watch in a worker while one is open on the main thread gets an instance of its own (names carry the thread)', async () => {
    ensureBuilt();
    const { Worker } = await import('node:worker_threads');
    const main = watchStates({ port: 1 }, { source: 'tracepoint' });
    try {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const { watchStates } = require(workerData);
         try { const w = watchStates({ port: 1 }, { source: 'tracepoint' }); parentPort.postMessage(w.source); w.close(); }
         catch (e) { parentPort.postMessage('error ' + e.code + ' ' + e.message); }`,
        { eval: true, workerData: DIST_INDEX },
      );
      const [answer] = (await once(worker, 'message')) as [string];
      await worker.terminate();
      expect(answer).toBe('tracepoint');
    } finally {
      main.close();
    }
  });
});
