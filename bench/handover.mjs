// Restarts under load, what each way loses: 10 restarts while wrk (keep-alive, 8
// connections) and Node clients (a new connection per request) keep asking, for
//   - no restart at all (the reference),
//   - restart() rebinding a new socket (in-process),
//   - restart({ sameSocket: true }) (in-process, the very socket),
//   - takeover() between Node processes (a new process each time).
// Prints wrk's socket errors and non-2xx, the Node clients' failures, and requests/s
// relative to the reference. The servers drain with drain() in every mode but the first
// restart() one, whose old server keeps its keep-alive connections (as restart() does).
// Usage: npm run bench:handover [-- RESTARTS]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const { listen, restart } = require('..');
const here = dirname(fileURLToPath(import.meta.url));
const restarts = Number(process.argv[2] ?? 10);
const GAP_MS = 300;
const hasWrk = (() => { try { execFileSync('wrk', ['--version'], { stdio: 'ignore' }); return true; } catch (e) { return e.status === 1; } })();

const app = (version) => http.createServer((req, res) => res.end(version));

function nodeClients(port, count = 4) {
  const tally = { ok: 0, failed: {} };
  let running = true;
  const one = () => new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, agent: false, timeout: 5000 }, (res) => res.resume().on('end', () => { tally.ok++; resolve(); }));
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    request.on('error', (e) => { tally.failed[e.code] = (tally.failed[e.code] ?? 0) + 1; resolve(); });
  });
  const loops = Array.from({ length: count }, async () => { while (running) await one(); });
  return async () => { running = false; await Promise.all(loops); return tally; };
}

function startWrk(port, seconds) {
  if (!hasWrk) return async () => null;
  const child = spawn('wrk', ['-t2', '-c8', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  const done = new Promise((resolve) => child.on('exit', resolve));
  return async () => {
    await done;
    const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
      perSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      socketErrors: errors ? { connect: +errors[1], read: +errors[2], write: +errors[3], timeout: +errors[4] } : { connect: 0, read: 0, write: 0, timeout: 0 },
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    };
  };
}

const seconds = Math.ceil(((restarts + 2) * GAP_MS) / 1000) + 1;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function inProcess(mode) {
  let server = await listen(app('v1'), { host: '127.0.0.1' });
  const port = server.address().port;
  const wrk = startWrk(port, seconds);
  const clients = nodeClients(port);
  for (let i = 0; i < restarts && mode !== 'none'; i++) {
    await sleep(GAP_MS);
    const old = server;
    server = await restart(old, app(`v${i + 2}`), mode === 'same' ? { sameSocket: true } : {});
  }
  const wrkResult = await wrk();
  const tally = await clients();
  server.closeAllConnections?.();
  server.close();
  return { wrk: wrkResult, clients: tally };
}

function version(path, name) {
  const child = spawn(process.execPath, [join(here, '..', 'test', 'fixtures', 'takeover-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SOCKCTL_DIST: require.resolve('..'), TAKEOVER_PATH: path, VERSION: name },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    async step(name) {
      for (;;) {
        const { value, done } = await lines.next();
        if (done) throw new Error(`version exited before ${name}`);
        const line = JSON.parse(value);
        if (line.step === name) return line;
        if (line.step === 'error') throw new Error(line.message);
      }
    },
  };
}

async function takeovers() {
  const dir = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
  const path = join(dir, 'takeover.sock');
  let current = version(path, 'v1');
  const { port } = await current.step('listening');
  await current.step('ready');
  const wrk = startWrk(port, seconds);
  const clients = nodeClients(port);
  for (let i = 0; i < restarts; i++) {
    await sleep(GAP_MS);
    const next = version(path, `v${i + 2}`);
    await next.step('ready');
    await current.step('replaced');
    current = next;
  }
  const wrkResult = await wrk();
  const tally = await clients();
  current.child.kill();
  rmSync(dir, { recursive: true, force: true });
  return { wrk: wrkResult, clients: tally };
}

const rows = [
  ['no restart (reference)', await inProcess('none')],
  ['restart() rebinding', await inProcess('rebind')],
  ['restart({ sameSocket: true })', await inProcess('same')],
  ['takeover() between processes', await takeovers()],
];
const reference = rows[0][1].wrk?.perSecond ?? 0;
console.log(`${restarts} restarts, ${seconds} s of load; wrk -t2 -c8 (keep-alive)${hasWrk ? '' : ' not installed'} and 4 Node clients (new connection per request)`);
console.log('| mode | wrk socket errors (connect/read/write/timeout) | wrk non-2xx | wrk req/s vs reference | Node clients: ok | Node clients: failed |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [name, { wrk, clients }] of rows) {
  const e = wrk?.socketErrors;
  console.log(`| ${name} | ${e ? `${e.connect}/${e.read}/${e.write}/${e.timeout}` : 'n/a'} | ${wrk?.non2xx ?? 'n/a'} | ${wrk && reference ? (wrk.perSecond / reference).toFixed(2) : 'n/a'} | ${clients.ok} | ${JSON.stringify(clients.failed)} |`);
}
