// Restart with 10,000 TIME_WAIT connections on the port: time from the old listener's
// close to the new one accepting a connection, sockctl's listen() against Node core's
// server.listen() in the same run (both set SO_REUSEADDR, so both may bind), rounds
// alternating which goes first. Then the same on a port with no TIME_WAIT, for scale.
// Prints medians and the ratio sockctl / Node.
// Usage: npm run bench:restart [-- TIME_WAIT_COUNT ROUNDS]
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { listen, timeWaitOn } = require('..');

const timeWaitCount = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 9);
const HOST = '127.0.0.1';
// Several client source addresses, so the ephemeral ports of one address are never short.
const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** TIME-WAIT rows with `port` as local port, as ss (the kernel's sock_diag) counts them. */
function timeWaitOnPort(port) {
  const out = execFileSync('ss', ['-tanH', 'state', 'time-wait', `( sport = :${port} )`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

const server = () => net.createServer((socket) => socket.on('error', () => {}).destroy());

const START = {
  async sockctl(next, port) {
    return listen(next, { host: HOST, port });
  },
  async node(next, port) {
    next.listen(port, HOST);
    await once(next, 'listening');
    return next;
  },
};

/** close(old) -> the new listener (made by `how`) has accepted a connection, in ms. */
async function restartOnce(old, how, port) {
  const next = server();
  const accepted = once(next, 'connection');
  const start = performance.now();
  old.close(); // the listening descriptor closes now; the server's 'close' waits for its connections
  await START[how](next, port);
  const client = net.connect(port, HOST);
  await accepted;
  const elapsed = performance.now() - start;
  client.destroy();
  return { next, elapsed };
}

async function measure(current, port) {
  const times = { sockctl: [], node: [] };
  for (let r = 0; r < rounds; r++) {
    for (const how of r % 2 === 0 ? ['sockctl', 'node'] : ['node', 'sockctl']) {
      const { next, elapsed } = await restartOnce(current, how, port);
      times[how].push(elapsed);
      current = next;
    }
  }
  current.close();
  return times;
}

function report(title, times) {
  const s = median(times.sockctl);
  const n = median(times.node);
  console.log(`${title}`);
  console.log(`  sockctl listen(): median ${s.toFixed(3)} ms  (${times.sockctl.map((t) => t.toFixed(2)).join(' ')})`);
  console.log(`  Node listen():    median ${n.toFixed(3)} ms  (${times.node.map((t) => t.toFixed(2)).join(' ')})`);
  console.log(`  ratio sockctl / Node: ${(s / n).toFixed(2)}`);
}

// With TIME_WAIT: the old listener's own connections, closed by it first.
const old = await listen(server(), { host: HOST });
const port = old.address().port;
const made = performance.now();
await timeWaitOn(old, timeWaitCount, { localAddresses: SOURCES, concurrency: 128, timeoutMs: 120_000 });
console.log(`${timeWaitCount} connections in TIME_WAIT on ${HOST}:${port} in ${((performance.now() - made) / 1000).toFixed(1)} s; ss counts ${timeWaitOnPort(port)}`);
const withTimeWait = await measure(old, port);
console.log(`after ${rounds * 2} restarts ss still counts ${timeWaitOnPort(port)} TIME-WAIT on the port`);
report(`close -> new listener accepting, ${timeWaitCount} TIME_WAIT on the port (${rounds} rounds each):`, withTimeWait);

// Without: a fresh port.
const fresh = await listen(server(), { host: HOST });
const freshPort = fresh.address().port;
console.log(`\nss counts ${timeWaitOnPort(freshPort)} TIME-WAIT on ${HOST}:${freshPort}`);
report(`close -> new listener accepting, no TIME_WAIT on the port (${rounds} rounds each):`, await measure(fresh, freshPort));
