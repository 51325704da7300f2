// ns per setOption call, on a raw descriptor and on a net.Socket, against the same
// setsockopt loop in C, and against the floor of any addon (one bare Node-API call doing
// that setsockopt), both compiled and run in this same run. Prints medians and ratios.
// Usage: npm run bench:options [-- ITERATIONS ROUNDS]
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { setOption, socket } = require('..');

const here = dirname(fileURLToPath(import.meta.url));
const iterations = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const out = join(here, '.out');
mkdirSync(out, { recursive: true });

function measureC() {
  const exe = join(out, 'setsockopt');
  execFileSync('cc', ['-O2', '-o', exe, join(here, 'setsockopt.c')]);
  return execFileSync(exe, [String(iterations), String(rounds)], { encoding: 'utf8' }).trim().split('\n').map(Number);
}

function loadFloor() {
  const addon = join(out, 'napi-floor.node');
  const headers = join(dirname(process.execPath), '..', 'include', 'node');
  execFileSync('cc', ['-O2', '-shared', '-fPIC', `-I${headers}`, '-o', addon, join(here, 'napi-floor.c')]);
  return require(addon);
}

function measure(call) {
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) call(i);
    perRound.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return perRound;
}

const server = net.createServer().listen(0, '127.0.0.1');
await once(server, 'listening');
const client = net.connect(server.address().port, '127.0.0.1');
await once(client, 'connect');
const raw = socket('ipv4');

const { IPPROTO_TCP, TCP_NODELAY } = require('..').constants;
const floor = loadFloor();
const viaFloor = (i) => floor.setInt(raw.fd, IPPROTO_TCP, TCP_NODELAY, i & 1);
const viaFd = (i) => setOption(raw.fd, 'TCP_NODELAY', (i & 1) === 1);
const viaSocket = (i) => setOption(client, 'TCP_NODELAY', (i & 1) === 1);
for (const call of [viaFloor, viaFd, viaSocket]) call(0), call(1); // warm-up: V8 optimises the loops

const c = median(measureC());
const napiFloor = median(measure(viaFloor));
const rawFd = median(measure(viaFd));
const netSocket = median(measure(viaSocket));

raw.close();
client.destroy();
server.close();

const rows = [
  ['C setsockopt (baseline)', c],
  ['bare Node-API call', napiFloor],
  ['setOption(fd)', rawFd],
  ['setOption(net.Socket)', netSocket],
];
console.log(`setsockopt(TCP_NODELAY), median of ${rounds} rounds x ${iterations} calls`);
for (const [name, ns] of rows) {
  console.log(`${name.padEnd(26)} ${ns.toFixed(1).padStart(7)} ns/call  ${(ns / c).toFixed(2)}x C  ${(ns / napiFloor).toFixed(2)}x Node-API floor`);
}
