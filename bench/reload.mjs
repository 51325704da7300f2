// Reloads under load, judged by wrk (Debian's), not by our own clients: a steady HTTP load
// on loopback, short connections (Connection: close) and keep-alive ones, 20 reloads during
// it, for each way of restarting a server; the same load with no reload as each row's
// reference, measured in the same run. Then 2 workers' throughput on short connections:
// shared listeners, --reuse-port and Node cluster, and how evenly the workers share the
// connections (coefficient of variation of the requests each answered).
// Then keep-alive connections across reloads: handshakes per reload (tcpdump, root) and p99
// for Node cluster, serve draining and serve --keep-connections; 502s behind nginx's
// upstream keep-alive pool (POST, proxy_next_upstream off); the time to hand N idle
// connections over against N clients reconnecting.
// Then where a rolling reload's p99 goes on this machine: the Node starts alone (no reload),
// and a fresh worker's CPU per request in its first seconds (its JIT still cold).
// Usage: npm run bench:reload [-- --reloads N --connections C --rows cluster,shared,rolling]
// (--rows keep-connections,nginx,handover,cost: only those sections)
// The root-only row runs in a network namespace of its own (unshare --net) with
// net.ipv4.tcp_migrate_req=1; elsewhere it is skipped with the reason.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginx } from './reload/nginx.mjs';

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
function run(command, argv, env = {}, stdin = 'ignore') {
  const child = spawn(command, argv, { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: false });
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

function serve(flags, env = {}) {
  return async (counts) => {
    const p = run(process.execPath, [CLI, 'serve', '--listen', 'http=127.0.0.1:0', ...flags, '--', process.execPath, APP], { BENCH_COUNTS: counts, ...env });
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

/** tcpdump on lo counting handshakes opened to `port` (SYN without ACK); null without root or tcpdump. */
async function synCounter(port) {
  if (process.getuid?.() !== 0) return null;
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const dump = run('tcpdump', ['-i', 'lo', '-n', '-l', `tcp dst port ${port} and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn`]);
  await dump.line(/listening on lo/);
  return {
    async stop() {
      await sleep(200);
      await dump.stop('SIGINT');
      return dump.lines.filter((l) => /Flags \[S\]/.test(l)).length;
    },
  };
}

async function measure(row, keepAlive, reloads, handshakes = false) {
  const counts = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
  const server = await row.start(counts);
  try {
    await sleep(300);
    const syn = handshakes ? await synCounter(server.port) : null;
    const load = wrk(server.port, keepAlive);
    await sleep(500);
    const started = Date.now();
    for (let i = 0; i < reloads; i++) {
      await server.reload();
      await sleep(150);
    }
    const loopMs = Date.now() - started;
    await sleep(Math.max(500, Number(args['reference-ms']) - (Date.now() - started)));
    const result = await load.stop();
    const failed = server.p.lines.filter((l) => /reload failed|refused|scale (up|down) failed/.test(l)).length;
    return { ...result, reloads, failedReloads: failed, handshakes: syn ? await syn.stop() : null, loopMs };
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

const KEEP_ROWS = [
  { name: 'Node `cluster`, 2 workers replaced one by one', start: inProcess('cluster.js', 'replaced', { BENCH_WORKERS: '2' }) },
  { name: '`sockctl serve --workers 2` (draining: `Connection: close`)', start: serve(['--workers', '2']) },
  { name: '`sockctl serve --workers 2 --keep-connections`', start: serve(['--workers', '2', '--keep-connections']) },
];

/** Keep-alive load through the reloads: how many handshakes each reload costs the clients. */
async function keepConnectionsSection() {
  console.log(`\nKeep-alive connections (wrk -t1 -c${args.connections}) through ${RELOADS} reloads; handshakes counted by tcpdump on lo (SYN without ACK; wrk's own at its start are connections + 1):`);
  console.log('| server | reloads | wrk socket errors connect/read/write/timeout | non-2xx | handshakes | handshakes per reload | p99 ms | p99 × no-reload |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of KEEP_ROWS) {
    const ref = await measure(row, true, 0, true);
    const r = await measure(row, true, RELOADS, true);
    const perReload = r.handshakes === null ? 'needs root and tcpdump' : ((r.handshakes - (Number(args.connections) + 1)) / RELOADS).toFixed(1);
    for (const [x, ratio, per] of [[ref, '', ''], [r, (r.p99 / ref.p99).toFixed(2), perReload]]) {
      console.log(`| ${row.name} | ${x.reloads} | ${x.connect}/${x.read}/${x.write}/${x.timeout} | ${x.status} | ${x.handshakes ?? '-'} | ${per} | ${ms(x.p99)} | ${ratio} |`);
    }
  }
}

/** nginx's upstream keep-alive pool in front: 502s over the reloads, draining against keeping. */
async function nginxSection() {
  console.log(`\nBehind nginx (upstream keepalive 32, keepalive_timeout 60s, proxy_next_upstream off; the app's keepAliveTimeout 75 s), wrk -t1 -c${args.connections} POST, ${RELOADS} reloads:`);
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
  } catch {
    console.log('skipped: no nginx (apt-get install nginx-light)');
    return;
  }
  const lua = join(mkdtempSync(join(tmpdir(), 'sockctl-bench-lua-')), 'post.lua');
  (await import('node:fs')).writeFileSync(lua, `wrk.method = "POST"\nwrk.body = "x"\n${readFileSync(join(HERE, 'reload', 'report.lua'), 'utf8')}`);
  console.log('| app under `sockctl serve --workers 2` | reloads | wrk socket errors connect/read/write/timeout | 502s (non-2xx) | requests | p99 ms |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, flags] of [['draining (`drain()`: `Connection: close`)', []], ['`--keep-connections`', ['--keep-connections']]]) {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-bench-nginx-'));
    const app = await serve(['--workers', '2', ...flags], { BENCH_KEEPALIVE_MS: '75000' })(dir); // (the workers inherit it)
    let nginx;
    try {
      const port = await freePort();
      nginx = await startNginx(dir, port, app.port);
      const load = run('wrk', ['-t1', `-c${args.connections}`, '-d300s', '--timeout', '5s', '-s', lua, `http://127.0.0.1:${port}/`]);
      await sleep(500);
      for (let i = 0; i < RELOADS; i++) {
        await app.reload();
        await sleep(150);
      }
      await sleep(6000); // past the app's drain timeout (5 s): the last old workers are gone
      await load.stop('SIGINT');
      const r = JSON.parse(load.lines.find((l) => l.startsWith('{"requests"')));
      console.log(`| ${name} | ${RELOADS} | ${r.connect}/${r.read}/${r.write}/${r.timeout} | ${r.status} | ${r.requests} | ${ms(r.p99)} |`);
    } finally {
      nginx?.kill('SIGQUIT');
      if (nginx) await new Promise((resolve) => (nginx.exitCode !== null ? resolve() : nginx.once('exit', resolve)));
      await app.p.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The time to hand N idle connections over, against N clients making a new connection each. */
async function handoverSection() {
  console.log('\nHanding N idle keep-alive connections to the new generation (`--keep-connections`, 1 worker; python3 clients), against N fresh connections with one request each, same run:');
  console.log('| N | handed over in ms | µs per connection | N reconnects + request, ms | × reconnect | kept ones answered afterwards |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const n of [16, 1000]) {
    const counts = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
    const server = await serve(['--keep-connections'])(counts);
    try {
      const clients = run('python3', [join(HERE, 'reload', 'idle-clients.py'), String(server.port), String(n)], {}, 'pipe');
      await clients.line(/^ready$/, 0, 60_000);
      const from = server.p.lines.length;
      await server.reload();
      const keptLine = (await server.p.line(/generation 1: (\d+) connection\(s\) kept/, from, 60_000)).input;
      const drainingLine = server.p.lines.slice(from).find((l) => /generation 1: draining/.test(l));
      const stamp = (line) => Date.parse(line.split(' ')[0]);
      const handed = stamp(keptLine) - stamp(drainingLine);
      const kept = Number(/: (\d+) connection/.exec(keptLine)[1]);
      clients.child.stdin.write('go\n');
      const [, reconnect] = await clients.line(/^reconnect ([\d.]+) (\d+)$/, 0, 60_000);
      const [, answered] = await clients.line(/^kept answered (\d+)$/, 0, 60_000);
      console.log(`| ${n} | ${handed} (${kept} kept) | ${((handed * 1000) / n).toFixed(0)} | ${reconnect} | ${(handed / Number(reconnect)).toFixed(2)} | ${answered} |`);
      await clients.stop();
    } finally {
      await server.p.stop();
      rmSync(counts, { recursive: true, force: true });
    }
  }
}

/** CPU time (ms) a process has used so far, from /proc (utime + stime, clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Where a rolling reload's p99 goes: the same server (`--workers 2 --rolling`, short
 * connections) with no reload, with RELOADS rolling reloads, and with no reload but two Node
 * starts (`require('sockctl')`, what each new worker does before it serves) at the reloads'
 * own pace; then a fresh worker's CPU per request, second by second, from its start.
 */
async function costSection() {
  if (RELOADS < 1) throw new Error('--rows cost needs --reloads 1 or more (the starts follow the reloads\' pace)');
  const rolling = ROWS.find((row) => row.key === 'rolling');
  const startNode = () => run(process.execPath, ['-e', `require(${JSON.stringify(join(HERE, '..'))})`]).exited;
  const ref = await measure(rolling, false, 0);
  const reloaded = await measure(rolling, false, RELOADS);
  const paceMs = reloaded.loopMs / RELOADS - 150; // one reload's length, as measured
  const startsOnly = {
    start: async (counts) => {
      const s = await rolling.start(counts);
      return {
        ...s,
        async reload() {
          const began = Date.now();
          await Promise.all([startNode(), startNode()]);
          await sleep(Math.max(0, paceMs - (Date.now() - began)));
        },
      };
    },
  };
  const starts = await measure(startsOnly, false, RELOADS);
  console.log(`\nWhere a rolling reload's p99 goes (\`--workers 2 --rolling\`, short connections, wrk -t1 -c${args.connections}; one reload took ${Math.round(paceMs)} ms):`);
  console.log('| during the load | failed reloads | req/s | p99 ms | p99 × none |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, r] of [
    ['nothing', ref],
    [`${RELOADS} rolling reloads`, reloaded],
    [`${RELOADS} × two Node starts (\`require('sockctl')\`), no reload, at the same pace`, starts],
  ]) {
    console.log(`| ${name} | ${r === reloaded ? r.failedReloads : ''} | ${Math.round(r.rps)} | ${ms(r.p99)} | ${r === ref ? '' : (r.p99 / ref.p99).toFixed(2)} |`);
  }

  // One fresh worker, wrk in 1 s windows from its first request: CPU per request as its JIT warms.
  const counts = mkdtempSync(join(tmpdir(), 'sockctl-bench-'));
  const server = await serve(['--workers', '1'])(counts);
  try {
    const pid = Number((await server.p.line(/worker\(s\) ready \(pid (\d+)\)/))[1]);
    console.log(`\nA fresh worker (\`--workers 1\`), wrk -t1 -c${args.connections} short connections in 1 s windows from its start:`);
    console.log('| window | requests | worker CPU ms | CPU µs per request | × last window |');
    console.log('| --- | --- | --- | --- | --- |');
    const windows = [];
    for (let i = 1; i <= 5; i++) {
      const before = cpuMs(pid);
      const w = run('wrk', ['-t1', `-c${args.connections}`, '-d1s', '-H', 'Connection: close', `http://127.0.0.1:${server.port}/`]);
      await w.exited;
      const requests = Number(/(\d+) requests in/.exec(w.lines.join('\n'))[1]);
      windows.push({ requests, cpu: cpuMs(pid) - before });
    }
    const last = windows.at(-1);
    windows.forEach((x, i) => console.log(`| ${i + 1} | ${x.requests} | ${x.cpu} | ${((x.cpu * 1000) / x.requests).toFixed(0)} | ${(x.cpu / x.requests / (last.cpu / last.requests)).toFixed(2)} |`));
  } finally {
    await server.p.stop();
    rmSync(counts, { recursive: true, force: true });
  }
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
  const wanted = (key) => !args.rows || args.rows.split(',').includes(key);
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
  if (wanted('keep-connections')) await keepConnectionsSection();
  if (wanted('nginx')) await nginxSection();
  if (wanted('handover')) await handoverSection();
  if (wanted('cost')) await costSection();
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
