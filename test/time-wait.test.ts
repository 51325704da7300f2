import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getOption, listen, restart, tcpStates, timeWaitOn, type ListenOptions } from '../lib/index';
import { elsewhere } from '../lib/listen/time-wait';
import { closeTracked, greeter, httpGet, listenRows, portOf, readAll, track } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';
import { ssRows, waitForSs, type SsRow } from './helpers/ss';

afterEach(closeTracked);
const hello = () => greeter('hello');
/** TIME-WAIT rows `ss` shows with `port` as the local port: the server's side. */
const timeWaitRows = (port: number) => ssRows(port).filter((row) => row.state === 'TIME-WAIT' && row.localPort === port);

const serves = (server: net.Server) => readAll(portOf(server));

async function failure(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await promise;
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection');
}

/** A listener of this kind on 127.0.0.1 with 3 connections of its own in TIME_WAIT, then closed. */
async function closedWithTimeWait(options: ListenOptions): Promise<number> {
  const old = await listen(hello(), { host: '127.0.0.1', ...options });
  const port = portOf(old);
  const { timeWait } = await timeWaitOn(old, 3);
  expect(timeWait).toBe(3);
  // ss, the independent witness, agrees before the old listener goes.
  expect(timeWaitRows(port).length).toBeGreaterThanOrEqual(3);
  await new Promise((r) => old.close(r));
  expect(listenRows(port)).toEqual([]);
  return port;
}

describe.skipIf(!isLinux)('timeWaitOn(server, count): TIME_WAIT on the server\'s own port, as the kernel shows it', () => {
  it('the server closes first, so ss shows N TIME-WAIT rows with the server\'s port as local port', async () => {
    const server = await listen(hello(), { host: '127.0.0.1' });
    const port = portOf(server);
    expect(timeWaitRows(port)).toEqual([]);
    expect(await timeWaitOn(server, 20)).toEqual({ port, timeWait: 20 });
    // (ssRows also lists sockets whose peer port happens to be `port`: keep the server's side.)
    const ours = (rows: SsRow[]) => rows.filter((row) => row.state === 'TIME-WAIT' && row.localPort === port);
    const rows = ours(await waitForSs(port, (r) => ours(r).length === 20));
    expect(rows.every((row) => row.local === `127.0.0.1:${port}` && row.peer.startsWith('127.0.0.1:'))).toBe(true);
    // The server still serves its other clients.
    expect(await serves(server)).toBe('hello');
  });

  it("a timeout's message says, for each connection not in TIME_WAIT, the state the kernel lists it in", async () => {
    const server = await listen(track(net.createServer()), { host: '127.0.0.1' }); // holds what it accepts
    const port = portOf(server);
    await timeWaitOn(server, 1);
    const held = net.connect(port, '127.0.0.1');
    try {
      await once(held, 'connect');
      const rows = await tcpStates({ localPort: port });
      const [timeWait] = rows.filter((row) => row.state === 'TIME_WAIT');
      const keys = new Set([`127.0.0.1|${timeWait!.remotePort}`, `127.0.0.1|${held.localPort}`, '127.0.0.9|9']);
      expect(elsewhere(rows, keys)).toBe(` (the others, by client end: 127.0.0.1:${held.localPort} ESTABLISHED, 127.0.0.9:9 not listed)`);
      expect(elsewhere(rows, new Set([`127.0.0.1|${timeWait!.remotePort}`]))).toBe('');
    } finally {
      held.destroy();
    }
  });

  it('works on an http.Server and a dual-stack listener, over several source addresses', async () => {
    const web = await listen(track(http.createServer((_, res) => res.end('ok'))), { host: '127.0.0.1' });
    expect((await timeWaitOn(web, 10, { localAddresses: ['127.0.0.2', '127.0.0.3'] })).timeWait).toBe(10);
    const peers = new Set(timeWaitRows(portOf(web)).map((row) => row.peer.split(':')[0]));
    expect([...peers].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(await httpGet(portOf(web))).toBe('ok');

    const dual = await listen(hello(), { host: '::' });
    expect((await timeWaitOn(dual, 4)).timeWait).toBe(4);
    expect((await timeWaitOn(dual, 4, { host: '127.0.0.1' })).timeWait).toBe(4);
    expect(timeWaitRows(portOf(dual))).toHaveLength(8);
  });

  it('counts distinct connections: a client port the kernel hands out again ends that TIME_WAIT, so it adds none', async () => {
    const server = await listen(hello(), { host: '127.0.0.1' });
    const port = portOf(server);
    const seen = new Set<string>();
    let reused = 0;
    server.on('connection', (socket) => {
      const key = `${socket.remoteAddress}:${socket.remotePort}`;
      if (seen.has(key)) reused++;
      seen.add(key);
    });
    // One source address, thousands of connections: the kernel reuses client ports.
    expect((await timeWaitOn(server, 3000, { localAddresses: ['127.0.0.9'] })).timeWait).toBe(3000);
    expect(reused).toBeGreaterThan(0);
    expect(timeWaitRows(port)).toHaveLength(3000);
  });

  it('stops at the first failed connection and rejects with its error, leaving the server as it was', async () => {
    const server = await listen(hello(), { host: '127.0.0.1' });
    const listeners = server.listenerCount('connection');
    const before = openDescriptorCount();
    const connects = vi.spyOn(net, 'connect');
    // Nothing listens on 127.0.0.2 at that port: every connection is refused.
    await expect(timeWaitOn(server, 500, { host: '127.0.0.2' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // Only the first wave (concurrency 64) was started: no worker went on after the failure.
    expect(connects.mock.calls.length).toBeGreaterThan(0);
    expect(connects.mock.calls.length).toBeLessThanOrEqual(64);
    connects.mockRestore();
    expect(server.listenerCount('connection')).toBe(listeners);
    expect(openDescriptorCount()).toBe(before); // no worker went on connecting
  });

  it('rejects bad input with Node codes', async () => {
    const server = await listen(hello(), { host: '127.0.0.1' });
    await expect(timeWaitOn({} as net.Server, 1)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(timeWaitOn(server, 0)).rejects.toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "count" is out of range. It must be >= 1 && <= 1000000. Received 0',
    });
    await expect(timeWaitOn(server, 1, { localAddresses: ['nope'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      message: "The property 'options.localAddresses' must be a non-empty array of IP addresses. Received [ 'nope' ]",
    });
    await expect(timeWaitOn(server, 1, { timeoutMs: -5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(timeWaitOn(net.createServer(), 1)).rejects.toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING', message: 'Server is not running.' });
  });
});

describe.skipIf(!isLinux)('restart during TIME_WAIT, observed in the kernel', () => {
  it('reuseAddr false fails with EADDRINUSE while TIME_WAIT is there; the default then succeeds at once and serves', async () => {
    const port = await closedWithTimeWait({});
    const error = await failure(listen(hello(), { host: '127.0.0.1', port, reuseAddr: false }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port });
    expect(timeWaitRows(port).length).toBeGreaterThanOrEqual(3); // the cause is still there
    expect(listenRows(port)).toEqual([]); // and nothing else holds the port

    const next = await listen(hello(), { host: '127.0.0.1', port });
    expect(getOption(next, 'SO_REUSEADDR')).toBe(true);
    expect(listenRows(port)).toHaveLength(1);
    expect(await serves(next)).toBe('hello');
  });

  it('control: the same listener closed with no TIME_WAIT on its port; reuseAddr false binds the port again', async () => {
    const old = await listen(hello(), { host: '127.0.0.1', reuseAddr: false });
    const port = portOf(old);
    await new Promise((r) => old.close(r));
    expect(timeWaitRows(port)).toEqual([]);
    const next = await listen(hello(), { host: '127.0.0.1', port, reuseAddr: false });
    expect(await serves(next)).toBe('hello');
  });

  // Linux's rule, cell by cell: old listener (whose accepted connections are in TIME_WAIT,
  // carrying its reuse flags) × new listener.
  const MODES: Record<string, ListenOptions> = {
    none: { reuseAddr: false },
    SO_REUSEADDR: { reuseAddr: true },
    SO_REUSEPORT: { reuseAddr: false, reusePort: true },
  };
  const cells = Object.keys(MODES).flatMap((old) =>
    Object.keys(MODES).map((next) => [old, next, old === next && old !== 'none' ? 'binds and serves' : 'EADDRINUSE'] as const),
  );
  it.each(cells)('old %s, new %s: %s', async (old, next, expected) => {
    const port = await closedWithTimeWait(MODES[old]!);
    const attempt = listen(hello(), { host: '127.0.0.1', port, ...MODES[next] });
    if (expected === 'EADDRINUSE') {
      expect(await failure(attempt)).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', port });
      expect(timeWaitRows(port).length).toBeGreaterThanOrEqual(3);
    } else {
      const server = await attempt;
      expect(await serves(server)).toBe('hello');
    }
  });

  it("Node core's own net.Server, restarted the same way, succeeds: libuv sets SO_REUSEADDR on both", async () => {
    const old = track(net.createServer((socket) => socket.end('old')));
    old.listen(0, '127.0.0.1');
    await once(old, 'listening');
    const port = portOf(old);
    expect(getOption(old, 'SO_REUSEADDR')).toBe(true);
    expect((await timeWaitOn(old, 3)).timeWait).toBe(3);
    expect(timeWaitRows(port).length).toBeGreaterThanOrEqual(3);
    await new Promise((r) => old.close(r));

    // Node has no way to leave SO_REUSEADDR off; sockctl shows the failure it avoids...
    expect(await failure(listen(hello(), { host: '127.0.0.1', port, reuseAddr: false }))).toMatchObject({ code: 'EADDRINUSE' });
    // ...and Node's own listen on the port succeeds.
    const next = track(net.createServer((socket) => socket.end('node')));
    next.listen(port, '127.0.0.1');
    await once(next, 'listening');
    expect(await serves(next)).toBe('node');
  });
});

describe.skipIf(!isLinux)('restart(server, next, options)', () => {
  it('closes the old listener and listens the next server on its port, with TIME_WAIT there', async () => {
    const old = await listen(track(http.createServer((_, res) => res.end('old'))), { host: '127.0.0.1' });
    const port = portOf(old);
    await timeWaitOn(old, 5);
    const next = await restart(old, track(http.createServer((_, res) => res.end('new'))));
    expect(old.listening).toBe(false);
    expect(next.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
    expect(listenRows(port)).toHaveLength(1);
    expect(timeWaitRows(port).length).toBeGreaterThanOrEqual(5);
    expect(await httpGet(port)).toBe('new');
  });

  it('keeps the old server\'s open connections working until they end', async () => {
    const old = await listen(track(net.createServer((socket) => socket.on('data', (d) => socket.write(`old:${d}`)))), { host: '127.0.0.1' });
    const client = net.connect(portOf(old), '127.0.0.1');
    await once(client, 'connect');
    const next = await restart(old, hello());
    const reply = once(client, 'data');
    client.write('ping');
    expect(String((await reply)[0])).toBe('old:ping');
    expect(await serves(next)).toBe('hello');
    client.destroy();
  });

  it("an http.Server's idle keep-alive connection is still served by the old server after the restart", async () => {
    const old = await listen(track(http.createServer((_, res) => res.end('old'))), { host: '127.0.0.1' });
    const port = portOf(old);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, agent }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += String(chunk))).on('end', () => resolve(body));
        }).on('error', reject);
      });
    expect(await get()).toBe('old');
    const [kept] = Object.values(agent.freeSockets).flat();
    expect(kept).toBeDefined(); // idle between requests: what http.Server's close() would close
    const next = await restart(old, track(http.createServer((_, res) => res.end('new'))));
    expect(await get()).toBe('old'); // the same connection, still served by the old server
    expect(portOf(next)).toBe(port);
    expect(await httpGet(port)).toBe('new'); // new connections reach the new one
    agent.destroy();
  });

  it("stops the old http.Server's connection-checking timer once its last connection is gone", async () => {
    // The timer is unref'd, so it keeps no process alive, but its callback holds the old
    // server: a process that restarts often would keep every old server. (Timeout's
    // _destroyed is Node's own mark of a cleared timer.)
    const timerOf = (server: http.Server) => {
      const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval')!;
      return (server as unknown as Record<symbol, { _destroyed: boolean }>)[key]!;
    };
    const old = await listen(track(http.createServer((_, res) => res.end('old'))), { host: '127.0.0.1' });
    const closed = once(old, 'close');
    const next = await restart(old, track(http.createServer((_, res) => res.end('new'))));
    await closed;
    expect(timerOf(old)._destroyed).toBe(true);
    expect(timerOf(next)._destroyed).toBe(false);
  });

  it('with the reuse option the old listener lacked it fails with EADDRINUSE (the old one is closed by then)', async () => {
    const old = await listen(hello(), { host: '127.0.0.1' });
    const port = portOf(old);
    await timeWaitOn(old, 3);
    const error = await failure(restart(old, net.createServer(), { reuseAddr: false, reusePort: true }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port });
    expect(old.listening).toBe(false);
  });

  /** Restarts a listener with these options and TIME_WAIT on its port; counts the LISTEN rows ss shows as the old one closes. */
  async function listenersAtClose(options: ListenOptions): Promise<number> {
    const old = await listen(hello(), { host: '127.0.0.1', ...options });
    const port = portOf(old);
    await timeWaitOn(old, 3);
    let seen = -1;
    const close = net.Server.prototype.close;
    const spy = vi.spyOn(net.Server.prototype, 'close').mockImplementation(function (this: net.Server, ...args) {
      if (this === old) seen = listenRows(port).length;
      return close.apply(this, args);
    });
    const next = await restart(old, hello(), options).finally(() => spy.mockRestore());
    expect(listenRows(port)).toHaveLength(1);
    expect(await serves(next)).toBe('hello');
    return seen;
  }

  it('both with reusePort: the new listener joins the group before the old one closes, so the port never refuses', async () => {
    expect(await listenersAtClose({ reusePort: true })).toBe(2);
  });

  it('otherwise the old one closes first (the new one binds right after, in the same turn)', async () => {
    expect(await listenersAtClose({})).toBe(1);
  });

  it('an option the kernel refuses fails before the old listener closes: it keeps serving', async () => {
    for (const reusePort of [false, true]) {
      const old = await listen(hello(), { host: '127.0.0.1', reusePort });
      const error = await failure(restart(old, net.createServer(), { reusePort, sockopts: { TCP_KEEPCNT: 0 } }));
      expect(error).toMatchObject({ code: 'EINVAL', syscall: 'setsockopt' });
      expect(old.listening).toBe(true);
      expect(await serves(old)).toBe('hello');
    }
  });

  it('rejects bad input with Node codes', async () => {
    const old = await listen(hello(), { host: '127.0.0.1' });
    await expect(restart(old, old)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      message: "The argument 'next' must not be the server being restarted: a closed server emits 'close' after it listens again. Received 'server'",
    });
    await expect(restart(old, net.createServer(), { port: 1 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      message: "The property 'options.port' must be left out: restart() listens on the old server's port. Received 1",
    });
    await expect(restart(old, 'x' as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(restart(old, hello(), { reuseAddr: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(restart(net.createServer(), net.createServer())).rejects.toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
    expect(old.listening).toBe(true); // no failed call touched it
  });
});
