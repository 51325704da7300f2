// Reloads under load, judged by wrk (Debian's), not by our own clients: a steady HTTP load
// on loopback, short connections (Connection: close) and keep-alive ones, 20 reloads during
// it, for each way of restarting a server; the same load with no reload as each row's
// reference, measured in the same run. Then 2 workers' throughput on short connections:
// shared listeners, --reuse-port and Node cluster, and how evenly the workers share the
// connections (coefficient of variation of the requests each answered).
// Usage: npm run bench:reload [-- --reloads N --connections C --rows cluster,shared,rolling]
// The root-only row runs in a network namespace of its own (unshare --net) with
// net.ipv4.tcp_migrate_req=1; elsewhere it is skipped with the reason.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', 'dist', 'cli', 'main.js');
const APP = join(HERE, 'reload', 'app.js');
const { values: args } = parseArgs({
  options: {
    reloads: { type: 'string', default: '20' },
    connections: { type: 'string', default: '16' },
    'reference-ms': { type: 'string', default: '6000' },
    'throughput-ms': { type: 'string', default: '8000' },
    only: { type: 'string' }, // a row's key: how the netns child runs the root row
    rows: { type: 'string' }, // comma-separated row keys: a shorter run (default: every row)
    json: { type: 'boolean' },
  },
});
const RELOADS = Number(args.reloads);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A child whose stdout and stderr lines are kept, to wait for what it prints. */
function run(command, argv, env = {}) {
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: false });
  const lines = [];
  const waiters = new Set();
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf('\n')) !== -1) {
        lines.push(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
      }
      for (const wake of waiters) wake();
    });
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    exited,
    async line(pattern, from = 0, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.slice(from).map((l) => pattern.exec(l)).find(Boolean);
        if (found) return found;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${command}: no line ${pattern}:\n${lines.join('\n')}`);
        await new Promise((resolve) => {
          const wake = () => (waiters.delete(wake), clearTimeout(timer), resolve());
          const timer = setTimeout(wake, 100);
          waiters.add(wake);
        });
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function serve(flags) {
  return async (counts) => {
    const p = run(process.execPath, [CLI, 'serve', '--listen', 'http=127.0.0.1:0', ...flags, '--', process.execPath, APP], { BENCH_COUNTS: counts });
    const port = Number((await p.line(/serving http=127\.0\.0\.1:(\d+)/))[1]);
    let generation = 1;
    return {
      p,
      port,
      async reload() {
        const from = p.lines.length;
        p.child.kill('SIGHUP');
        generation++;
        await p.line(new RegExp(`generation ${generation}: \\d+ worker\\(s\\) ready|reload failed`), from);
      },
    };
  };
}

async function scaleDown(counts) {
  const s = await serve(['--workers', '2', '--reuse-port'])(counts);
  return {
    ...s,
    async reload() {
      let from = s.p.lines.length;
      s.p.child.kill('SIGTTOU');
      await s.p.line(/scaled down to 1|scale down (refused|failed)/, from);
      from = s.p.lines.length;
      s.p.child.kill('SIGTTIN');
      await s.p.line(/scaled up to 2|scale up (refused|failed)/, from);
    },
  };
}

function inProcess(script, pattern, env = {}) {
  return async (counts) => {
    const port = await freePort();
    const p = run(process.execPath, [join(HERE, 'reload', script)], { BENCH_COUNTS: counts, BENCH_PORT: String(port), ...env });
    const listening = Number((await p.line(/listening (\d+)/))[1]);
    let generation = 1;
    return {
      p,
      port: listening,
      async reload() {
        const from = p.lines.length;
        p.child.kill('SIGHUP');
        generation++;
        await p.line(new RegExp(`${pattern} ${generation}$`), from);
      },
    };
  };
}

const ROWS = [
  { key: 'restart', name: 'in-process `restart()` (baseline)', start: inProcess('restart.js', 'restarted') },
  { key: 'cluster', name: 'Node `cluster`, 2 workers replaced one by one', start: inProcess('cluster.js', 'replaced', { BENCH_WORKERS: '2' }) },
  { key: 'shared', name: '`sockctl serve --workers 2` (shared listener)', start: serve(['--workers', '2']) },
  { key: 'recreate', name: '`--workers 2 --reuse-port --recreate-listeners` (nginx)', start: serve(['--workers', '2', '--reuse-port', '--recreate-listeners']) },
  { key: 'keep', name: '`--workers 2 --reuse-port` (listeners kept)', start: serve(['--workers', '2', '--reuse-port']) },
  { key: 'rolling', name: '`--workers 2 --rolling` (shared, slot by slot)', start: serve(['--workers', '2', '--rolling']) },
  { key: 'rolling-keep', name: '`--workers 2 --reuse-port --rolling` (kept, slot by slot)', start: serve(['--workers', '2', '--reuse-port', '--rolling']) },
  { key: 'scale', name: '`--reuse-port` scale-down 2→1 steered (SIGTTOU), then SIGTTIN', start: scaleDown },
  { key: 'migrate', name: '`--reuse-port --recreate-listeners`, tcp_migrate_req=1 (root, netns)', start: serve(['--workers', '2', '--reuse-port', '--recreate-listeners']), netns: true },
];

/** wrk until stopped (SIGINT: wrk prints its summary), its report.lua line parsed. */
function wrk(port, keepAlive) {
  const flags = ['-t1', `-c${args.connections}`, '-d300s', '--timeout', '2s', '-s', join(HERE, 'reload', 'report.lua')];
  if (!keepAlive) flags.push('-H', 'Connection: close');
  const w = run('wrk', [...flags, `http://127.0.0.1:${port}/`]);
  return {
    async stop() {
      await w.stop('SIGINT');
      const line = w.lines.find((l) => l.startsWith('{"requests"'));
      if (!line) throw new Error(`wrk printed no summary:\n${w.lines.join('\n')}`);
      const r = JSON.parse(line);
      return { ...r, rps: r.requests / (r.durationUs / 1e6) };
    },
  };
}

async function measure(row, keepAlive, reloads) {
  const counts = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
  const server = await row.start(counts);
  try {
    await sleep(300);
    const load = wrk(server.port, keepAlive);
    await sleep(500);
    const started = Date.now();
    for (let i = 0; i < reloads; i++) {
      await server.reload();
      await sleep(150);
    }
    await sleep(Math.max(500, Number(args['reference-ms']) - (Date.now() - started)));
    const result = await load.stop();
    const failed = server.p.lines.filter((l) => /reload failed|refused|scale (up|down) failed/.test(l)).length;
    return { ...result, reloads, failedReloads: failed };
  } finally {
    await server.p.stop();
    rmSync(counts, { recursive: true, force: true });
  }
}

async function throughput(row) {
  const counts = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
  const server = await row.start(counts);
  let result;
  try {
    await sleep(300);
    const load = wrk(server.port, false);
    await sleep(Number(args['throughput-ms']));
    result = await load.stop();
  } finally {
    await server.p.stop();
  }
  const perWorker = readdirSync(counts).map((f) => Number(readFileSync(join(counts, f), 'utf8')));
  rmSync(counts, { recursive: true, force: true });
  const mean = perWorker.reduce((a, b) => a + b, 0) / perWorker.length;
  const sd = Math.sqrt(perWorker.reduce((a, b) => a + (b - mean) ** 2, 0) / perWorker.length);
  return { ...result, perWorker, cv: sd / mean };
}

const ms = (us) => (us / 1000).toFixed(1);

function line(name, mode, r, ref) {
  const errors = `${r.connect}/${r.read}/${r.write}/${r.timeout}`;
  const ratio = ref ? (r.p99 / ref.p99).toFixed(2) : '';
  return `| ${name} | ${mode} | ${r.reloads}${r.failedReloads ? ` (${r.failedReloads} failed)` : ''} | ${errors} | ${r.status} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${ratio} |`;
}

async function rowResults(row) {
  const out = [];
  for (const keepAlive of [false, true]) {
    const ref = await measure(row, keepAlive, 0);
    const reloaded = await measure(row, keepAlive, RELOADS);
    out.push({ mode: keepAlive ? 'keep-alive' : 'short', ref, reloaded });
  }
  return out;
}

/** The root row, in a network namespace of its own with tcp_migrate_req=1. */
function inNetns(row) {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (a network namespace and its sysctl)' };
  const script = `ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=1 && exec "${process.execPath}" "${fileURLToPath(import.meta.url)}" --only ${row.key} --json --reloads ${RELOADS} --connections ${args.connections}`;
  const out = execFileSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 600_000 });
  return JSON.parse(out.trim().split('\n').pop());
}

async function main() {
  if (args.only) {
    const row = ROWS.find((r) => r.key === args.only);
    process.stdout.write(`${JSON.stringify(await rowResults(row))}\n`);
    return;
  }
  console.log(`wrk -t1 -c${args.connections}, ${RELOADS} reloads per run, ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log('| server | connections | reloads | wrk socket errors connect/read/write/timeout | non-2xx | req/s | p50 ms | p99 ms | max ms | p99 × no-reload |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const chosen = args.rows ? ROWS.filter((row) => args.rows.split(',').includes(row.key)) : ROWS;
  for (const row of chosen) {
    const results = row.netns ? inNetns(row) : await rowResults(row);
    if (results.skipped) {
      console.log(`| ${row.name} | skipped: ${results.skipped} | | | | | | | | |`);
      continue;
    }
    for (const { mode, ref, reloaded } of results) {
      console.log(line(row.name, mode, ref, null));
      console.log(line(row.name, mode, reloaded, ref));
    }
  }
  if (args.rows) return;
  console.log(`\nShort connections per second, 2 workers, no reload (wrk -t1 -c${args.connections}, ${args['throughput-ms']} ms each):`);
  console.log('| 2 workers | connections/s | × cluster | requests per worker | CV |');
  console.log('| --- | --- | --- | --- | --- |');
  const byKey = Object.fromEntries(ROWS.map((r) => [r.key, r]));
  const cluster = await throughput(byKey.cluster);
  for (const [name, r] of [
    ['`--workers 2` (shared)', await throughput(byKey.shared)],
    ['`--workers 2 --reuse-port`', await throughput(byKey.keep)],
    ['Node `cluster` (round-robin)', cluster],
  ]) {
    console.log(`| ${name} | ${Math.round(r.rps)} | ${(r.rps / cluster.rps).toFixed(2)} | ${r.perWorker.join(' / ')} | ${(r.cv * 100).toFixed(1)}% |`);
  }
  console.log(`load average after: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
