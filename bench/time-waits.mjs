// TIME_WAIT sockets for the benches (bench/states.mjs, bench/watch.mjs): `count` loopback
// connections to a server that closes first, so that each TIME_WAIT lands on the server's
// port. Each client binds its own 127.0.0.N:port (N from `firstAddress`), so every 4-tuple
// is new (a SYN that met an old TIME_WAIT could recycle it). They hold no descriptor; the
// kernel drops them 60 s later.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { tcpStatesSync } = require('../dist/index.js');

const BATCH = 250; // connections in flight at once: 500 descriptors at most
const SOURCE_PORTS = { first: 20_000, count: 10_000 }; // per 127.0.0.N source address

/** Resolves with the listening server (close it), its port, how many TIME_WAIT it has, and how long that took. */
export async function timeWaits(count, firstAddress) {
  const server = net.createServer((socket) => socket.end()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  const started = performance.now();
  let skipped = 0;
  const connect = (i) =>
    new Promise((resolve) => {
      const client = net.connect({
        port,
        host: '127.0.0.1',
        localAddress: `127.0.0.${firstAddress + Math.floor(i / SOURCE_PORTS.count)}`,
        localPort: SOURCE_PORTS.first + (i % SOURCE_PORTS.count),
      });
      client.on('error', () => (skipped++, resolve()));
      client.on('close', resolve);
      client.resume();
    });
  for (let i = 0; i < count + skipped && i < 2 * count; i += BATCH) {
    const end = Math.min(i + BATCH, count + skipped);
    await Promise.all(Array.from({ length: end - i }, (_, k) => connect(i + k)));
  }
  const made = tcpStatesSync({ localPort: port, state: 'TIME_WAIT' }).length;
  return { server, port, made, seconds: (performance.now() - started) / 1000, skipped };
}
