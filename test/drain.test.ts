// drain(server) against Node's own close(): a keep-alive client whose next request is
// already in the server's kernel buffer when the server stops. Node's close() destroys
// the "idle" connection and the kernel answers the unread request with RST; drain()
// answers it, with Connection: close. The client is a raw socket: nothing retries.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { drain, listen } from '../lib/index';
import { closeTracked, portOf, track } from './helpers/listen';
import { isLinux } from './helpers/net';

afterEach(closeTracked);

const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** A raw keep-alive HTTP/1.1 client: collects responses by their Content-Length and the way it ended. */
async function keepAliveClient(port: number) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  let buffer = '';
  const responses: string[] = [];
  let waiting: (() => void) | undefined;
  let ended: string | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const head = buffer.indexOf('\r\n\r\n');
      if (head === -1) break;
      const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
      if (buffer.length < head + 4 + length) break;
      responses.push(buffer.slice(0, head + 4 + length));
      buffer = buffer.slice(head + 4 + length);
      waiting?.();
      client.onResponse?.(responses.at(-1)!);
    }
  });
  const end = new Promise<string>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve((ended = error.code ?? 'error')));
    socket.on('close', () => resolve((ended ??= 'EOF')));
  });
  const client = {
    onResponse: undefined as ((response: string) => void) | undefined,
    socket,
    responses,
    end,
    send: () => socket.write(REQUEST),
    async next(): Promise<string> {
      const count = responses.length;
      await new Promise<void>((resolve) => {
        waiting = resolve;
        if (responses.length > count) resolve();
      });
      return responses.at(-1)!;
    },
    get ended() {
      return ended;
    },
  };
  return client;
}

const app = () => track(http.createServer((_, res) => res.end('ok')));

describe.skipIf(!isLinux)('drain(server): keep-alive safe', () => {
  it("Node's close() resets a request that is already on its way; drain() answers it with Connection: close", async () => {
    // Node's own close(): the second request sits unread in the kernel when close() runs.
    const node = await listen(app(), { host: '127.0.0.1' });
    const a = await keepAliveClient(portOf(node));
    a.send();
    expect(await a.next()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: keep-alive/);
    a.send();
    node.close(); // same tick: the request is in the server's receive queue, not parsed
    expect(await a.end).toBe('ECONNRESET');
    expect(a.responses).toHaveLength(1);

    const ours = await listen(app(), { host: '127.0.0.1' });
    const b = await keepAliveClient(portOf(ours));
    b.send();
    await b.next();
    b.send();
    const drained = drain(ours);
    expect(await b.next()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
    expect(await b.end).toBe('EOF');
    expect(await drained).toEqual({ timedOut: false, destroyed: 0 });
    expect(ours.listening).toBe(false);
  });

  it('a request in flight when drain() starts gets Connection: close, and drain() waits for it', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const server = await listen(track(http.createServer((_, res) => (arrived(), void held.then(() => res.end('late'))))), { host: '127.0.0.1' });
    const client = await keepAliveClient(portOf(server));
    client.send();
    await inHandler; // the request is in flight: its handler runs (the event, not a sleep)
    let done = false;
    const drained = drain(server).then((result) => ((done = true), result));
    // The port is closed to new connections at once.
    await expect(new Promise((resolve, reject) => net.connect(portOf(server) || 1, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow();
    // drain() has acted (the refusal above came after it) and still waits for the request:
    // ss, run as a child (the loop turns meanwhile), shows the connection still there and no listener.
    const port = client.socket.remotePort!;
    const rows = await new Promise<string>((resolve, reject) =>
      execFile('ss', ['-tanH', `( sport = :${port} )`], (error, stdout) => (error ? reject(error) : resolve(stdout))),
    );
    expect(rows.split('\n').filter(Boolean).map((row) => row.split(/\s+/)[0])).toEqual(['ESTAB']);
    expect(done).toBe(false);
    release();
    expect(await client.next()).toMatch(/Connection: close\r\n[^]*late$/);
    expect(await drained).toEqual({ timedOut: false, destroyed: 0 });
  });

  it('keep-alive clients in a loop: every request they send is answered, each connection ends after a Connection: close', async () => {
    const server = await listen(app(), { host: '127.0.0.1' });
    const port = portOf(server);
    const clients = await Promise.all(Array.from({ length: 8 }, () => keepAliveClient(port)));
    let sent = 0;
    for (const client of clients) {
      client.onResponse = (response) => {
        // The next request as soon as a response is complete, unless told to close.
        if (!response.includes('Connection: close') && client.responses.length < 1000) {
          sent++;
          client.send();
        }
      };
      sent++;
      client.send();
    }
    // Every client has had 3 answers before the drain starts (counted, bounded at 10 s).
    for (const deadline = Date.now() + 10_000; !clients.every((c) => c.responses.length >= 3); ) {
      expect(Date.now(), 'each client answered 3 times within 10 s').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const result = await drain(server, { timeoutMs: 5000 });
    const ends = await Promise.all(clients.map((client) => client.end));
    expect(result).toEqual({ timedOut: false, destroyed: 0 });
    expect(ends).toEqual(clients.map(() => 'EOF'));
    expect(clients.reduce((sum, client) => sum + client.responses.length, 0)).toBe(sent);
    expect(sent).toBeGreaterThanOrEqual(3 * 8);
  });

  it('an idle connection that never sends again is destroyed only at timeoutMs', async () => {
    const server = await listen(app(), { host: '127.0.0.1' });
    server.keepAliveTimeout = 60_000;
    const client = await keepAliveClient(portOf(server));
    client.send();
    await client.next();
    const started = Date.now();
    expect(await drain(server, { timeoutMs: 300 })).toEqual({ timedOut: true, destroyed: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await client.end).toBe('EOF');
  });

  it('a net.Server: stops accepting, resolves when its connections end (timedOut when they do not)', async () => {
    const server = track(net.createServer((socket) => socket.on('data', () => socket.end())));
    await listen(server, { host: '127.0.0.1' });
    const accepted = once(server, 'connection');
    const socket = net.connect(portOf(server), '127.0.0.1');
    await once(socket, 'connect');
    await accepted; // the server has it (not a guess that 20 ms is enough to accept)
    expect(await drain(server, { timeoutMs: 100 })).toEqual({ timedOut: true, destroyed: 0 });
    socket.destroy();
  });

  it('signal aborts with AbortError; bad arguments and a server that is not listening are refused', async () => {
    const server = await listen(app(), { host: '127.0.0.1' });
    const client = await keepAliveClient(portOf(server));
    client.send();
    await client.next();
    const controller = new AbortController();
    const drained = drain(server, { signal: controller.signal });
    controller.abort();
    await expect(drained).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
    client.socket.destroy();
    await expect(drain(server)).rejects.toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
    expect(() => drain({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => drain(server, { timeout: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => drain(server, { timeoutMs: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => drain(server, { signal: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    await expect(drain(server, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it("keepAliveTimeout shorter than the drain: Node's keep-alive timer no longer closes the idle connection under the client; its next request is answered", async () => {
    const server = await listen(app(), { host: '127.0.0.1' });
    server.keepAliveTimeout = 200;
    const client = await keepAliveClient(portOf(server));
    client.send();
    await client.next();
    const drained = drain(server, { timeoutMs: 10_000 });
    // Well past the keep-alive timeout (Node 20 closes an idle connection some 1 s after
    // keepAliveTimeout: at about 1.2 s here, without drain()'s stop of the timer).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(client.ended).toBeUndefined();
    client.send();
    expect(await client.next()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
    expect(await client.end).toBe('EOF');
    expect(await drained).toEqual({ timedOut: false, destroyed: 0 });
    expect(server.keepAliveTimeout).toBe(200); // put back
  });

  function upgrading(server: http.Server): http.Server {
    // A WebSocket-like upgrade: 101, then the socket is the application's (Node forgets it).
    server.on('upgrade', (_req, socket: net.Socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n'));
    return server;
  }

  async function upgradedClient(port: number) {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n');
    const [head] = (await once(socket, 'data')) as [Buffer];
    expect(head.toString()).toMatch(/^HTTP\/1\.1 101 /);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    return { socket, closed };
  }

  it('an upgraded connection (101) is ended at timeoutMs: drain() resolves instead of waiting forever', async () => {
    const server = await listen(upgrading(app()), { host: '127.0.0.1' });
    const client = await upgradedClient(portOf(server));
    const started = Date.now();
    expect(await drain(server, { timeoutMs: 300 })).toEqual({ timedOut: true, destroyed: 1 });
    expect(Date.now() - started).toBeLessThan(5000);
    await client.closed;
  });

  it("a server listened by Node's own listen(), upgraded before drain(): drain() still resolves shortly after timeoutMs", async () => {
    const server = upgrading(app());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = await upgradedClient(portOf(server));
    const started = Date.now();
    expect(await drain(server, { timeoutMs: 300 })).toMatchObject({ timedOut: true });
    expect(Date.now() - started).toBeLessThan(5000);
    client.socket.destroy();
  });
});
