// `sockctl serve` against the faults a production supervisor meets: another process flooding
// NOTIFY_SOCKET (the same uid, and another uid), a SIGKILL of the supervisor, orphans and
// zombies (as a subreaper, and as PID 1 of a PID namespace), a SIGTERM during the first
// start, crash loops, SIGHUP storms, slow drains piling up, and the listener and log
// options. Witnesses: /proc (parents, zombies, environ), `ss`, python3 workers and senders.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessAvailable } from './helpers/ci';
import { CLI, ensureBuilt, ROOT } from './helpers/dist';
import { isLinux } from './helpers/net';
import { alive, get, load, running, Serve, until, untilServedBy } from './helpers/serve';

const PROBE = join(ROOT, 'test', 'fixtures', 'serve', 'probe-worker.py');
const NODE_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'node-server.js');
const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync('unshare', ['--help']).status === 0;

let dir: string;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** /proc/PID/stat: state and parent pid. */
function stat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** Zombies whose parent is `pid`. */
function zombiesOf(pid: number): number[] {
  return spawnSync('ps', ['-e', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, state]) => Number(ppid) === pid && state?.startsWith('Z'))
    .map(([child]) => Number(child));
}

function readyPids(serve: Serve, generation: number): number[] {
  const line = serve.lines.find((l) => l.includes(`generation ${generation}: `) && l.includes('worker(s) ready'));
  const pids = line === undefined ? null : /worker\(s\) ready \(pid ([\d ]+)\)/.exec(line);
  return pids === null ? [] : pids[1]!.split(' ').map(Number);
}

/** One line from a TCP or UNIX stream server that writes a line per connection. */
function lineFrom(options: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    net
      .connect(options)
      .setEncoding('utf8')
      .on('data', (chunk: string) => (text += chunk))
      .on('end', () => resolve(text.trim()))
      .on('error', reject);
  });
}

describe.skipIf(!isLinux)('sockctl serve hardened', { timeout: 60_000 }, () => {
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sockctl-hardening-'));
  });
  afterEach(async () => {
    await Promise.all([...running].map((s) => s.stop()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a process of our uid floods NOTIFY_SOCKET: 3 reloads of Node workers all succeed (notify() waits for room)', async () => {
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--ready-timeout', '20000', '--', process.execPath, NODE_SERVER]);
    const port = await serve.port();
    const [worker] = readyPids(serve, 1);
    // Where any process of this uid can find it: the worker's environment.
    const address = /(?:^|\0)NOTIFY_SOCKET=([^\0]*)/.exec(readFileSync(`/proc/${worker}/environ`, 'latin1'))![1]!;
    const flooder = spawn(
      'python3',
      [
        '-c',
        `import signal, socket, sys, time
signal.signal(signal.SIGINT, lambda *_: (print(sent, flush=True), sys.exit(0)))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
a = sys.argv[1]
a = "\\0" + a[1:] if a.startswith("@") else a
sent = 0
print("flooding", flush=True)
end = time.monotonic() + 40
while time.monotonic() < end:
    try:
        s.sendto(b"READY=1\\nSTATUS=flood", a)
        sent += 1
    except BlockingIOError:
        pass
    except OSError:
        break
print(sent, flush=True)`,
        address,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let flooded = '';
    flooder.stdout!.setEncoding('utf8').on('data', (c: string) => (flooded += c));
    try {
      // The flood is on before the first reload (python3 can take a while to start on a busy machine).
      expect(await until(() => flooded.includes('flooding'), 30_000)).toBe(true);
      for (let generation = 2; generation <= 4; generation++) {
        const from = serve.lines.length;
        serve.signal('SIGHUP');
        await serve.line(new RegExp(`generation ${generation}: 2 worker\\(s\\) ready|reload failed`), from, 30_000);
        expect(serve.lines.slice(from).join('\n')).not.toContain('reload failed');
      }
      await untilServedBy(port, 4);
      // The flood's datagrams were heard and dropped, never taken for a worker's.
      expect(serve.lines.join('\n')).not.toContain('flood');
    } finally {
      flooder.kill('SIGINT');
      await once(flooder, 'exit');
    }
    expect(Number(flooded.replace('flooding', '').trim())).toBeGreaterThan(10_000); // a real flood
    expect(address.startsWith('/')).toBe(true); // a path, not an abstract name anyone can list
  });

  it.skipIf(skipUnlessAvailable(isRoot))('another uid (65534) cannot send to NOTIFY_SOCKET at all (EACCES: a 0700 directory)', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'python3', PROBE]);
    await serve.port();
    const [worker] = readyPids(serve, 1);
    const address = /(?:^|\0)NOTIFY_SOCKET=([^\0]*)/.exec(readFileSync(`/proc/${worker}/environ`, 'latin1'))![1]!;
    const run = spawnSync(
      'python3',
      ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ntry:\n    s.sendto(b"READY=1", sys.argv[1]); print("sent")\nexcept OSError as e:\n    print(e.errno)', address],
      { encoding: 'utf8', uid: 65534, gid: 65534 },
    );
    expect(run.stdout.trim()).toBe('13'); // EACCES
    expect(statSync(join(address, '..')).mode & 0o777).toBe(0o700);
  });

  it('READY=1 from a descendant of a worker (a shell that does not exec) counts; from a stranger of our uid it does not', async () => {
    // The sender lives on (as a server would): a sender gone before sockctl reads its
    // datagram cannot be told apart from a stranger (its /proc entry is gone), and is dropped.
    const sendReady = `python3 -c 'import os, socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(os.environ["NOTIFY_SOCKET"]); s.send(b"READY=1"); time.sleep(60)'`;
    const serve = new Serve(['--listen', '127.0.0.1:0', '--ready-timeout', '8000', '--', 'sh', '-c', `${sendReady}; exit 0`]);
    expect(await serve.port()).toBeGreaterThan(0);
    // A never-ready worker; a stranger (not its descendant) says READY=1 on its socket.
    const stranger = new Serve(['--listen', '127.0.0.1:0', '--ready-timeout', '8000', '--', 'python3', PROBE], false, { PROBE_READY: '0' });
    const waiting = await stranger.line(/waiting for READY=1 from generation 1 worker 0 \(pid (\d+)\)/);
    const address = /(?:^|\0)NOTIFY_SOCKET=([^\0]*)/.exec(readFileSync(`/proc/${waiting[1]}/environ`, 'latin1'))![1]!;
    const sent = spawnSync('python3', ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.sendto(b"READY=1", sys.argv[1])', address]);
    expect(sent.status).toBe(0);
    await stranger.exited;
    expect(stranger.child.exitCode).toBe(1);
    expect(stranger.lines.join('\n')).toMatch(/start failed: generation 1 worker 0 \(pid \d+\) not ready within 8000 ms/);
  });

  it('SIGKILL of the supervisor: its workers stop (PR_SET_PDEATHSIG), and a new sockctl serve binds the port', async () => {
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--', process.execPath, NODE_SERVER]);
    const port = await serve.port();
    const workers = readyPids(serve, 1);
    expect(workers).toHaveLength(2);
    serve.child.kill('SIGKILL');
    await serve.exited;
    expect(await until(() => workers.every((pid) => !alive(pid)))).toBe(true);
    const next = new Serve(['--listen', `http=127.0.0.1:${port}`, '--', process.execPath, NODE_SERVER]);
    expect(await next.port()).toBe(port);
    expect((await get(port)).generation).toBe(1);
  });

  it('--reuse-port on a port whose group has a listener that is not ours: refused, naming its pid (exit 2)', async () => {
    const holder = spawn(
      'python3',
      ['-c', 'import socket, sys, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\ns.bind(("127.0.0.1", 0)); s.listen()\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [data] = (await once(holder.stdout!, 'data')) as [Buffer];
      const port = Number(data.toString().trim());
      const serve = new Serve(['--listen', `127.0.0.1:${port}`, '--reuse-port', '--', 'python3', PROBE]);
      await serve.exited;
      expect(serve.child.exitCode).toBe(2);
      expect(serve.lines.join('\n')).toMatch(new RegExp(`bind EADDRINUSE 127\\.0\\.0\\.1:${port} .*not ours: pid ${holder.pid} \\(python3\\) uid \\d+`));
    } finally {
      holder.kill();
      await once(holder, 'exit');
    }
  });

  it("a worker's orphans come back to sockctl (child subreaper): reaped when they exit, stopped at sockctl's exit", async () => {
    const pids = join(dir, 'orphans');
    // A short-lived orphan (its parent subshell exits at once) and a daemon in a session of its own.
    const script = `(sleep 0.3 & echo $! >> ${pids}); (setsid sleep 300 & echo $! >> ${pids}); exec python3 ${PROBE}`;
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'sh', '-c', script]);
    await serve.port();
    const [short, daemon] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(stat(daemon!)?.ppid).toBe(serve.child.pid);
    // The short one exits and is reaped (no zombie left under sockctl).
    expect(await until(() => stat(short!) === null, 8000)).toBe(true);
    expect(zombiesOf(serve.child.pid!)).toEqual([]);
    expect(await serve.stop()).toBe(0);
    expect(await until(() => stat(daemon!) === null)).toBe(true);
  });

  it.skipIf(skipUnlessAvailable(isRoot && hasUnshare))('as PID 1 of a PID namespace: 4 generations of workers leaving orphans, no zombie left', async () => {
    const script = `(sleep 0.1 &); (sleep 0.1 &); exec python3 ${PROBE}`;
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'sh', '-c', script], false, {}, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', process.execPath, CLI]);
    await serve.port();
    // sockctl is unshare's child on this side of the namespace (PID 1 inside).
    const sockctl = Number(spawnSync('pgrep', ['-P', String(serve.child.pid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
    expect(readFileSync(`/proc/${sockctl}/status`, 'utf8')).toMatch(/NSpid:\s+\d+\s+1\n/);
    for (let generation = 2; generation <= 4; generation++) {
      const from = serve.lines.length;
      process.kill(sockctl, 'SIGHUP');
      await serve.line(new RegExp(`generation ${generation}: 1 worker\\(s\\) ready`), from);
    }
    await sleep(3000); // every orphan has exited, and a sweep has passed
    expect(zombiesOf(sockctl)).toEqual([]);
    process.kill(sockctl, 'SIGTERM');
    await serve.exited;
    expect(serve.lines.join('\n')).toContain('stopped');
  });

  it('SIGTERM while the first generation is not ready yet: stops at once, exit 0, after saying what it waits for', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--ready-timeout', '30000', '--', 'python3', PROBE], false, { PROBE_READY: '0' });
    const waiting = await serve.line(/waiting for READY=1 from generation 1 worker 0 \(pid (\d+)\); programs that never send it: --ready-after MS/, 0, 15_000);
    const started = Date.now();
    serve.signal('SIGTERM');
    await serve.exited;
    expect(serve.child.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(alive(Number(waiting[1]))).toBe(false);
  });

  it('a worker that keeps exiting is restarted after 1, 2, 4 s (backoff), and its readiness is logged once it serves again', async () => {
    const flag = join(dir, 'crash');
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'sh', '-c', `[ -e ${flag} ] && exit 3; exec python3 ${PROBE}`]);
    await serve.port();
    writeFileSync(flag, '');
    process.kill(readyPids(serve, 1)[0]!, 'SIGKILL');
    await serve.line(/was killed by SIGKILL; starting it again in 1 s \(restart 1\)/);
    await serve.line(/exited with code 3; starting it again in 2 s \(restart 2\)/);
    await serve.line(/exited with code 3; starting it again in 4 s \(restart 3\)/, 0, 15_000);
    rmSync(flag);
    const ready = await serve.line(/generation 1 worker 0 \(pid (\d+)\) ready \(restart 3\)/, 0, 15_000);
    expect(JSON.parse(await lineFrom({ host: '127.0.0.1', port: await serve.port() })).pid).toBe(Number(ready[1]));
  });

  it('30 SIGHUPs 30 ms apart: coalesced into a few reloads (at most one waits behind the running one)', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', process.execPath, NODE_SERVER]);
    const port = await serve.port();
    for (let i = 0; i < 30; i++) {
      serve.signal('SIGHUP');
      await sleep(30);
    }
    const burstEnd = Date.now();
    // Quiet: no new generation for 2 s.
    const ready = () => serve.lines.filter((l) => /generation \d+: 1 worker\(s\) ready/.test(l));
    let count = -1;
    for (let i = 0; i < 60; i++) {
      const now = ready().length;
      if (now === count) break;
      count = now;
      await sleep(2000);
    }
    // How many reloads fit in the burst depends on how fast one is; what coalescing promises
    // does not: once the signals stop, at most the running reload and one waiting behind it
    // are still to come (a reload per signal would leave many more). The log's own clock.
    const stamp = (line: string) => Date.parse(line.slice(0, line.indexOf(' ')));
    expect(ready().every((line) => Number.isFinite(stamp(line)))).toBe(true);
    const after = ready().filter((line) => stamp(line) > burstEnd);
    expect(after.length).toBeLessThanOrEqual(2);
    expect(count).toBeGreaterThanOrEqual(2);
    expect(count).toBeLessThan(31); // fewer generations than signals
    await untilServedBy(port, count);
  });

  it('--stop-signal INT: a reload and the stop send SIGINT to the workers, not SIGTERM', async () => {
    const file = join(dir, 'signals');
    const serve = new Serve(['--listen', '127.0.0.1:0', '--stop-signal', 'INT', '--', 'python3', PROBE], false, { PROBE_MODE: 'signal', PROBE_FILE: file });
    await serve.port();
    const from = serve.lines.length;
    serve.signal('SIGHUP');
    await serve.line(/generation 2: 1 worker\(s\) ready/, from);
    expect(await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('\n'))).toBe(true);
    expect(await serve.stop()).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('SIGINT\nSIGINT\n');
  });

  it('--max-draining 1: workers that never finish draining do not pile up; the oldest drain is cut short', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--drain-timeout', '60000', '--max-draining', '1', '--', 'python3', PROBE], false, { PROBE_MODE: 'stubborn' });
    await serve.port();
    for (let generation = 2; generation <= 4; generation++) {
      const from = serve.lines.length;
      serve.signal('SIGHUP');
      await serve.line(new RegExp(`generation ${generation}: 1 worker\\(s\\) ready`), from);
    }
    await serve.line(/generation 2: drain cut short \(more than 1 generation\(s\) draining\)/);
    const all = [1, 2, 3, 4].flatMap((g) => readyPids(serve, g));
    expect(all).toHaveLength(4);
    expect(await until(() => all.filter(alive).length === 2)).toBe(true);
    expect(all.filter(alive)).toEqual(all.slice(2)); // the serving one and the one draining
  });

  it('logs: an ISO time on each line, the pid at start, each listener as bound; --log-format json; --pid-file; one-line usage errors', async () => {
    const pidFile = join(dir, 'serve.pid');
    const serve = new Serve(['--listen', 'web=127.0.0.1:0', '--pid-file', pidFile, '--', 'python3', PROBE]);
    const port = await serve.port();
    expect(readFileSync(pidFile, 'utf8')).toBe(`${serve.child.pid}\n`);
    expect(serve.lines.every((line) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z sockctl serve: /.test(line))).toBe(true);
    expect(serve.lines.join('\n')).toContain(`starting, pid ${serve.child.pid}`);
    expect(serve.lines.join('\n')).toContain(`serving web=127.0.0.1:${port}`);
    await serve.stop();
    expect(existsSync(pidFile)).toBe(false);

    const json = new Serve(['--listen', 'web=127.0.0.1:0', '--log-format', 'json', '--', 'python3', PROBE]);
    await json.line(/"event":"serving"/);
    const objects = json.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects[0]).toMatchObject({ pid: json.child.pid, event: 'start', msg: `starting, pid ${json.child.pid}` });
    expect(objects.find((o) => o.event === 'ready')).toMatchObject({ generation: 1 });
    expect(objects.every((o) => typeof o.time === 'string' && !Number.isNaN(Date.parse(o.time as string)))).toBe(true);

    for (const [args, message] of [
      [['--listen', '127.0.0.1:0', 'python3', 'app.py'], "'python3': the command goes after --"],
      [['--listen', '127.0.0.1:0', '--bogus', '--', 'true'], "Unknown option '--bogus'"],
      [['--listen', '127.0.0.1:0,TCP_BOGUS=1', '--', 'true'], "'TCP_BOGUS' is not a writable socket option"],
      [['--listen', '127.0.0.1:0', '--stop-signal', 'KILL', '--', 'true'], '--stop-signal must be a signal name'],
      [['--listen', 'a=unix:/tmp/x.sock', '--reuse-port', '--', 'true'], '--reuse-port is for TCP and UDP listeners'],
    ] as const) {
      const run = spawnSync(process.execPath, [CLI, 'serve', ...args], { encoding: 'utf8', timeout: 10_000 });
      expect(run.status).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain(message);
      expect(lines[1]).toBe('see sockctl serve --help');
    }
  });

  it('--listen options: backlog and TCP_NODELAY set on the listener (ss; the worker reads its accepted socket)', async () => {
    const serve = new Serve(['--listen', 'web=127.0.0.1:0,backlog=37,TCP_NODELAY=1', '--', 'python3', PROBE]);
    const port = await serve.port();
    const ss = spawnSync('ss', ['-Htln', `sport = :${port}`], { encoding: 'utf8' }).stdout.trim().split(/\s+/);
    expect(ss[2]).toBe('37'); // a listener's Send-Q is its backlog
    expect(JSON.parse(await lineFrom({ host: '127.0.0.1', port }))).toMatchObject({ nodelay: 1 });
    const plain = new Serve(['--listen', 'web=127.0.0.1:0', '--', 'python3', PROBE]);
    expect(JSON.parse(await lineFrom({ host: '127.0.0.1', port: await plain.port() }))).toMatchObject({ nodelay: 0 });
  });

  it('--listen NAME=unix:PATH,mode=0660: a stale socket file replaced, any other file refused, removed at stop', async () => {
    const path = join(dir, 'app.sock');
    // A stale socket: bound by a process that exited without removing it.
    spawnSync('python3', ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', path]);
    expect(statSync(path).isSocket()).toBe(true);
    const serve = new Serve(['--listen', `api=unix:${path},mode=0660`, '--', 'python3', PROBE], false, { PROBE_MODE: 'unix' });
    await serve.line(new RegExp(`serving api=unix:${path}`));
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(spawnSync('ss', ['-Hxl', 'src', path], { encoding: 'utf8' }).stdout).toContain(path);
    expect(JSON.parse(await lineFrom({ path })).pid).toBe(readyPids(serve, 1)[0]);
    // A second one on a live socket, and on a file that is not a socket: refused.
    const live = new Serve(['--listen', `api=unix:${path}`, '--', 'python3', PROBE]);
    await live.exited;
    expect(live.child.exitCode).toBe(2);
    expect(live.lines.join('\n')).toContain(`bind EADDRINUSE ${path} (a process accepts on it)`);
    await serve.stop();
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, 'data');
    const file = new Serve(['--listen', `api=unix:${path}`, '--', 'python3', PROBE]);
    await file.exited;
    expect(file.child.exitCode).toBe(2);
    expect(file.lines.join('\n')).toContain('a file that is not a socket is there');
    expect(readFileSync(path, 'utf8')).toBe('data');
  });

  it('--listen NAME=udp:HOST:PORT: a UDP socket as fd 3 (ss -u), answered by the worker', async () => {
    const serve = new Serve(['--listen', 'dns=udp:127.0.0.1:0', '--', 'python3', PROBE], false, { PROBE_MODE: 'udp' });
    const port = await serve.port();
    expect(spawnSync('ss', ['-Huln', `sport = :${port}`], { encoding: 'utf8' }).stdout).toContain(`127.0.0.1:${port}`);
    const client = dgram.createSocket('udp4');
    try {
      client.send('hello', port, '127.0.0.1');
      const [message] = (await once(client, 'message')) as [Buffer];
      expect(message.toString()).toBe(`pid ${readyPids(serve, 1)[0]}`);
    } finally {
      client.close();
    }
  });
});

describe.skipIf(!isLinux)('sockctl serve --rolling', { timeout: 60_000 }, () => {
  beforeAll(() => ensureBuilt());
  afterEach(async () => {
    await Promise.all([...running].map((s) => s.stop()));
  });

  it('slot by slot: new worker i ready, then old worker i drains, then the next slot; every request answered', async () => {
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '3', '--rolling', '--', process.execPath, NODE_SERVER]);
    const port = await serve.port();
    const clients = load(port, 3);
    await clients.more(10);
    const from = serve.lines.length;
    serve.signal('SIGHUP');
    await serve.line(/generation 2: 3 worker\(s\) ready/, from);
    const steps = serve.lines.slice(from).filter((line) => / ready; generation 1 worker \d \(pid \d+\) draining/.test(line));
    expect(steps.map((line) => /generation 2 worker (\d)/.exec(line)![1])).toEqual(['0', '1', '2']);
    // One start at a time: each new worker's start (/proc, in clock ticks) comes a Node
    // start-up after the previous one's (which had to say READY=1 first); without --rolling
    // all three start within a tick or two of each other.
    const ticks = steps.map((line) => {
      const pid = /generation 2 worker \d \(pid (\d+)\)/.exec(line)![1];
      return Number(readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[19]);
    });
    const tick = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout);
    for (let i = 1; i < ticks.length; i++) expect((ticks[i]! - ticks[i - 1]!) * tick).toBeGreaterThanOrEqual(50);
    await clients.more(10);
    const tally = await clients.stop();
    expect(tally.failed).toEqual([]);
    expect((await get(port)).generation).toBe(2);
  });
});
