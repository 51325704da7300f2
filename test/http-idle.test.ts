// What --keep-connections relies on in Node's http server, pinned on every Node major the
// CI runs (20, 22, 24, 26): its connection list tells a connection between two requests
// (idle()) from one with a request begun or unanswered, and stopping the handle's reads
// stops the parser too (it consumes the handle: readableLength is always 0), so that bytes
// sent afterwards stay in the kernel (ss: Recv-Q) until reads start again.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../lib/index';
import { isIdle } from '../lib/handover/http-connections';
import { startReading, stopReading } from '../lib/handover/connection';
import { ssRows } from './helpers/ss';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function setUp() {
  let release: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') release = () => res.end('slow');
    else res.end('ok');
  });
  await listen(server, { host: '127.0.0.1', port: 0 });
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const client = net.connect(port, '127.0.0.1');
  const [socket] = (await accepted) as [net.Socket];
  closers.push(() => {
    client.destroy();
    server.closeAllConnections();
    server.close();
  });
  const request = async (path: string) => {
    const got = once(client, 'data');
    client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    return String((await got)[0]);
  };
  return { server, port, client, socket, request, release: () => release?.() };
}

const until = async (ready: () => boolean) => {
  for (const deadline = Date.now() + 5000; !ready(); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe.skipIf(process.platform !== 'linux')(`Node ${process.versions.node}'s http server, as --keep-connections reads it`, () => {
  it('a fresh connection and one between two requests are idle; a request begun or unanswered is not', async () => {
    const { server, client, socket, request, release } = await setUp();
    expect(socket.readableLength).toBe(0);
    expect(isIdle(server, socket)).toBe(true); // nothing read yet
    expect(await request('/')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*ok$/);
    expect(isIdle(server, socket)).toBe(true);

    client.write('GET / HT'); // part of the next request, in the parser
    await until(() => socket.bytesRead === 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.length + 'GET / HT'.length);
    expect(isIdle(server, socket)).toBe(false);
    expect(socket.readableLength).toBe(0); // the parser took it from the handle: no JS buffer

    const answered = once(client, 'data');
    client.write('TP/1.1\r\nHost: x\r\n\r\n');
    await answered;
    expect(isIdle(server, socket)).toBe(true);

    const waiting = once(server, 'request');
    client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await waiting;
    expect(isIdle(server, socket)).toBe(false); // a response in flight
    const slow = once(client, 'data');
    release();
    expect(String((await slow)[0])).toMatch(/slow$/);
    await until(() => isIdle(server, socket));
  });

  it('stopReading leaves what arrives in the kernel (ss Recv-Q), unparsed; startReading answers it', async () => {
    const { server, port, client, socket, request } = await setUp();
    await request('/');
    stopReading(socket);
    let requests = 0;
    server.on('request', () => requests++);
    const bytes = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    client.write(bytes);
    const serverSide = () => ssRows(port).find((row) => row.state === 'ESTAB' && row.localPort === port);
    await until(() => serverSide()?.recvQ === bytes.length);
    await new Promise((r) => setTimeout(r, 100));
    expect(requests).toBe(0);
    expect(isIdle(server, socket)).toBe(true);
    const answered = once(client, 'data');
    startReading(socket);
    expect(String((await answered)[0])).toMatch(/ok$/);
    expect(requests).toBe(1);
    expect(serverSide()?.recvQ).toBe(0);
  });
});
