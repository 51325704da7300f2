// Keep-alive connections carried across a reload (`sockctl serve --keep-connections`), and
// the primitive under it (sendConnection / receiveConnection), judged on the wire:
// - tcpdump -i lo counts the handshakes made to the port (SYN without ACK) while wrk -c16
//   keeps its connections busy across 10 reloads: only wrk's own at its start with the
//   option, at least 16 more per reload without it (so the count can fail);
// - wrk's own counts: 0 socket errors, 0 non-2xx; the last generation answers;
// - ss -tiep: the server side of each connection has the same socket cookie before and
//   after the reloads, now held by the new generation's pids;
// - python3 is the client whose one connection is served by two processes in turn.
// Under CI (root) a missing wrk or tcpdump is a failure, not a skip.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { CLI, ensureBuilt, ROOT } from './helpers/dist';
import { isLinux } from './helpers/net';
import { untilListenerLeft } from './helpers/serve';

const NODE_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'node-server.js');
const WRK_REPORT = join(ROOT, 'test', 'fixtures', 'serve', 'wrk-report.lua');
const has = (command: string) => isLinux && spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid?.() === 0;
const canWire = has('wrk') && has('tcpdump') && isRoot;

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
});

/** A child whose stdout and stderr lines are kept, with a bounded wait for a line. */
class Lines {
  readonly child: ChildProcess;
  readonly lines: string[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.push(this.child);
    for (const stream of [this.child.stdout!, this.child.stderr!]) createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
  }

  async line(pattern: RegExp, from = 0, timeoutMs = 30_000): Promise<RegExpExecArray> {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      for (const line of this.lines.slice(from)) {
        const match = pattern.exec(line);
        if (match) return match;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`no line matching ${pattern} (exit ${this.child.exitCode ?? this.child.signalCode}):\n${this.lines.join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}

/** Server-side established sockets of `port` as ss -tiepH shows them: cookie → owning pid. */
function serverSockets(port: number): Map<string, number> {
  const out = spawnSync('ss', ['-tiepH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).stdout;
  const sockets = new Map<string, number>();
  for (const line of out.split('\n')) {
    const cookie = / sk:([0-9a-f]+)/.exec(line);
    if (cookie === null) continue;
    const pid = /pid=(\d+)/.exec(line);
    sockets.set(cookie[1]!, pid === null ? 0 : Number(pid[1]));
  }
  return sockets;
}

/** tcpdump on lo, printing one line per handshake opened to `port` (SYN without ACK). */
async function countHandshakes(port: number): Promise<Lines> {
  const dump = new Lines('tcpdump', ['-i', 'lo', '-n', '-l', '-tt', `tcp dst port ${port} and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn`]);
  await dump.line(/listening on lo/);
  return dump;
}

interface WrkReport {
  requests: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  status: number;
  non2xx: number;
  generations: Record<string, number>;
}

const RELOADS = 10;

/** How many descriptors `pid` has open. */
function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function reloadsUnderWrk(keep: boolean) {
  const serve = new Lines(process.execPath, [CLI, 'serve', ...(keep ? ['--keep-connections'] : []), '--listen', 'http=127.0.0.1:0', '--workers', '2', '--', process.execPath, NODE_SERVER]);
  const port = Number((await serve.line(/serving \S+=[^ ]*:(\d+)/))[1]);
  await serve.line(/generation 1: 2 worker\(s\) ready/);
  const dump = await countHandshakes(port);
  const wrk = new Lines('wrk', ['-t1', '-c16', '-d60s', '--timeout', '5s', '-s', WRK_REPORT, `http://127.0.0.1:${port}/`]);
  // wrk's 16 connections are up (ss shows them) before the first reload.
  for (const deadline = Date.now() + 10_000; serverSockets(port).size < 16 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  const before = serverSockets(port);
  expect(before.size).toBe(16);
  const kept: number[] = [];
  for (let generation = 2; generation <= RELOADS + 1; generation++) {
    const from = serve.lines.length;
    serve.child.kill('SIGHUP');
    await serve.line(new RegExp(`generation ${generation}: 2 worker\\(s\\) ready`), from);
    await serve.line(new RegExp(`generation ${generation - 1}: (draining|drained)`), from);
    if (keep) kept.push(Number((await serve.line(new RegExp(`generation ${generation - 1}: (\\d+) connection\\(s\\) kept by generation ${generation}`), from))[1]));
    else await new Promise((r) => setTimeout(r, 300)); // wrk reconnects the closed connections
  }
  // Requests after the last reload, then wrk's summary (SIGINT: it prints it and stops).
  await new Promise((r) => setTimeout(r, 500));
  const after = serverSockets(port);
  await wrk.stop('SIGINT');
  await new Promise((r) => setTimeout(r, 200)); // tcpdump's last lines
  await dump.stop('SIGINT');
  const line = wrk.lines.find((l) => l.startsWith('WRK '));
  expect(line, wrk.lines.join('\n')).toBeDefined();
  const report = JSON.parse(line!.slice(4)) as WrkReport;
  const handshakes = dump.lines.filter((l) => / > 127\.0\.0\.1\.\d+: Flags \[S\]/.test(l)).length;
  const lastPids = new Set(serve.lines.filter((l) => new RegExp(`generation ${RELOADS + 1}: 2 worker`).test(l)).flatMap((l) => (/\(pid ([\d ]+)\)/.exec(l)?.[1] ?? '').split(' ').map(Number)));
  await serve.stop();
  return { report, handshakes, before, after, kept, lastPids, serveLines: serve.lines };
}

describe.skipIf(!isLinux || skipUnlessAvailable(canWire))(
  `sockctl serve --keep-connections under wrk, counted by tcpdump (root, wrk, tcpdump: ${canWire ? 'found' : 'missing'})`,
  { timeout: 120_000 },
  () => {
    requireUnderCi(canWire, () => `root (${isRoot}), wrk (${has('wrk')}) and tcpdump (${has('tcpdump')})`);
    beforeAll(() => ensureBuilt());

    it(`wrk -c16 keep-alive, ${RELOADS} reloads: 0 errors, 0 non-2xx, no handshake after wrk's start, the same sockets (cookies) now held by the last generation`, async () => {
      const run = await reloadsUnderWrk(true);
      console.log(`keep-connections: handshakes ${run.handshakes}, kept per reload ${run.kept.join(',')}, wrk ${JSON.stringify(run.report)}`);
      expect({ connect: run.report.connect, read: run.report.read, write: run.report.write, timeout: run.report.timeout, status: run.report.status, non2xx: run.report.non2xx }).toEqual({
        connect: 0, read: 0, write: 0, timeout: 0, status: 0, non2xx: 0,
      });
      // wrk's 16 connections and the one it opens first to test the address: nothing else.
      expect(run.handshakes).toBe(17);
      expect(run.kept).toEqual(Array.from({ length: RELOADS }, () => 16));
      expect([...run.after.keys()].sort()).toEqual([...run.before.keys()].sort());
      expect(new Set(run.after.values())).toEqual(run.lastPids);
      expect(run.report.generations[String(RELOADS + 1)] ?? 0).toBeGreaterThan(0);
    });

    it(`without the option the same run reconnects: at least 16 handshakes per reload`, async () => {
      const run = await reloadsUnderWrk(false);
      console.log(`draining: handshakes ${run.handshakes}, wrk ${JSON.stringify(run.report)}`);
      expect(run.report.connect + run.report.read + run.report.write + run.report.timeout + run.report.non2xx).toBe(0);
      expect(run.handshakes).toBeGreaterThanOrEqual(17 + 16 * RELOADS);
      expect([...run.after.keys()].filter((cookie) => run.before.has(cookie))).toEqual([]);
    });
  },
);

// python3 holds keep-alive connections: one request, a reload, the next request on the
// same socket (its local port unchanged, no reconnect) answered by the new generation.
const PY_CLIENT = `
import socket, ssl, sys, time
n = int(sys.argv[2])
conns = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20) for _ in range(n)]
if len(sys.argv) > 3:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conns = [context.wrap_socket(s) for s in conns]
def ask(s, path):
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    got = b""
    while b"\\r\\n\\r\\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        got += chunk
    head, _, body = got.partition(b"\\r\\n\\r\\n")
    length = int([l.split(b":")[1] for l in head.split(b"\\r\\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return "closed"
        body += chunk
    close = b"connection: close" in head.lower()
    return body.decode().split()[1] + (" close" if close else "")
for line in sys.stdin:
    if line.strip() == "eof":
        # How long until the server closes each (silent) connection.
        started = time.time()
        ends = [s.recv(1) for s in conns]
        print("eof", ends == [b""] * n, round(time.time() - started, 1), flush=True)
        continue
    answers = {}
    for s in conns:
        try:
            a = ask(s, line.strip() or "/")
        except OSError as e:
            a = type(e).__name__
        answers[a] = answers.get(a, 0) + 1
    ports = len(set(s.getsockname()[1] for s in conns))
    print("answers", sorted(answers.items()), "ports", ports, flush=True)
`;

describe.skipIf(!isLinux)('sockctl serve --keep-connections: what is kept and what is not (python3 as the client)', { timeout: 60_000 }, () => {
  beforeAll(() => ensureBuilt());

  async function start(n: number, control?: string, tlsDir?: string) {
    const env = { ...(control && { SERVE_FIXTURE_CONTROL: control }), ...(tlsDir && { SERVE_FIXTURE_TLS_DIR: tlsDir }) };
    const serve = new Lines(process.execPath, [CLI, 'serve', '--keep-connections', '--listen', 'http=127.0.0.1:0', '--', process.execPath, NODE_SERVER], env);
    const port = Number((await serve.line(/serving \S+=[^ ]*:(\d+)/))[1]);
    await serve.line(/generation 1: 1 worker\(s\) ready/);
    const client = new Lines('python3', ['-c', PY_CLIENT, String(port), String(n), ...(tlsDir ? ['tls'] : [])]);
    return { serve, port, client };
  }

  async function ask(client: Lines, path = '/'): Promise<string> {
    const from = client.lines.length;
    client.child.stdin!.write(`${path}\n`);
    return (await client.line(/^answers .*/, from))[0];
  }

  it('a request in flight at the reload is answered keep-alive, then its connection moves; a silent one is closed after keepAliveTimeout there', async () => {
    const { serve, client } = await start(1);
    expect(await ask(client)).toBe("answers [('1', 1)] ports 1");
    const slow = ask(client, '/slow'); // answered after 3 s: the reload comes meanwhile
    await new Promise((r) => setTimeout(r, 300));
    const from = serve.lines.length;
    serve.child.kill('SIGHUP');
    await serve.line(/generation 2: 1 worker\(s\) ready/, from);
    expect(await slow).toBe("answers [('1', 1)] ports 1"); // no Connection: close
    expect((await serve.line(/generation 1: (\d+) connection\(s\) kept by generation 2/, from))[1]).toBe('1');
    expect(await ask(client)).toBe("answers [('2', 1)] ports 1");
    // Silent now: generation 2's keep-alive timer (Node's default, 5 s), re-armed for it, ends it.
    const fromClient = client.lines.length;
    client.child.stdin!.write('eof\n');
    const [, closed, seconds] = (await client.line(/^eof (\w+) ([\d.]+)$/, fromClient))!;
    expect(closed).toBe('True');
    expect(Number(seconds)).toBeGreaterThanOrEqual(4);
    client.child.stdin!.end();
    await serve.stop();
  });

  it('TLS connections are not moved: drained by the old generation (Connection: close), none counted as kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-keep-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      writeFileSync(join(dir, 'mode'), 'tls');
      const { serve, port, client } = await start(3, join(dir, 'mode'), dir);
      expect(await ask(client)).toBe("answers [('1', 3)] ports 3");
      const from = serve.lines.length;
      serve.child.kill('SIGHUP');
      await serve.line(/generation 2: 1 worker\(s\) ready/, from);
      await untilListenerLeft(port, Number(/generation 1: 1 worker\(s\) ready \(pid (\d+)\)/.exec(serve.lines.join('\n'))![1]));
      expect(await ask(client)).toBe("answers [('1 close', 3)] ports 3");
      client.child.stdin!.end(); // the client closes its side too: the TLS sockets end, the drain with them
      expect((await serve.line(/generation 1: (\d+) connection\(s\) kept by generation 2(.*)$/, from)).slice(1)).toEqual(['0', '']);
      await serve.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the relay refuses a process that is not a worker (same uid, read from a worker\'s environment)', async () => {
    const { FdChannel } = await import('../lib/index');
    const { serve, client } = await start(1);
    const workerPid = Number(/\(pid (\d+)\)/.exec(serve.lines.find((l) => /generation 1: 1 worker/.test(l))!)![1]);
    const environ = (await import('node:fs')).readFileSync(`/proc/${workerPid}/environ`, 'utf8').split('\0');
    const path = environ.find((e) => e.startsWith('SOCKCTL_KEEP_CONNECTIONS='))!.split('=')[1]!;
    expect((await import('node:fs')).statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    const intruder = FdChannel.connect(path);
    await intruder.send(JSON.stringify({ t: 'adopt', ports: [1] })).catch(() => undefined);
    // Closed at once, unread (so with RST if the adopt message had arrived).
    await expect(intruder.receive({ timeoutMs: 5000 })).rejects.toMatchObject({ code: expect.stringMatching(/^(EPIPE|ECONNRESET)$/) });
    intruder.close();
    await serve.line(/a process that is not a worker connected to the relay; refused/);
    expect(await ask(client)).toBe("answers [('1', 1)] ports 1");
    client.child.stdin!.end();
    await serve.stop();
  });

  it('a new generation that dies while connections are in transit: each one is answered or closed, none hangs or leaks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-keep-die-'));
    try {
      const control = join(dir, 'mode');
      const { serve, client } = await start(200, control);
      expect(await ask(client)).toBe("answers [('1', 200)] ports 200");
      const supervisorFds = () => (openDescriptors(serve.child.pid!));
      const before = supervisorFds();
      writeFileSync(control, 'die-after-ready');
      const from = serve.lines.length;
      serve.child.kill('SIGHUP');
      // Bounded, not timed: under the sanitizers a crash-looping generation makes this slow.
      const [, kept, returned] = (await serve.line(/generation 1: (\d+) connection\(s\) kept by generation 2(?:; (\d+) nobody took)?/, from, 100_000))!;
      expect(Number(kept) + Number(returned ?? 0)).toBe(200);
      writeFileSync(control, 'normal'); // the restarted worker serves
      // Every connection: an answer (from the new generation), or closed (EOF or reset), never a hang.
      const answers = await ask(client);
      expect(answers).not.toMatch(/timeout/i);
      console.log(`died in transit: kept ${kept}, returned ${returned ?? 0}; ${answers}`);
      // The supervisor holds no descriptor of theirs afterwards.
      for (const deadline = Date.now() + 5000; supervisorFds() > before && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(supervisorFds()).toBeLessThanOrEqual(before);
      client.child.stdin!.end();
      await serve.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('200 idle connections move to the new generation at once, each answered there on the same socket', async () => {
    const { serve, port, client } = await start(200);
    expect(await ask(client)).toBe("answers [('1', 200)] ports 200");
    const before = serverSockets(port);
    const from = serve.lines.length;
    serve.child.kill('SIGHUP');
    const [, kept] = (await serve.line(/generation 1: (\d+) connection\(s\) kept by generation 2/, from))!;
    expect(Number(kept)).toBe(200);
    // Still 200 sockets, the same ones, and the old worker has exited (it held none).
    expect([...serverSockets(port).keys()].sort()).toEqual([...before.keys()].sort());
    expect(await ask(client)).toBe("answers [('2', 200)] ports 200");
    client.child.stdin!.end();
    await serve.stop();
  });

  it('a new generation that takes no connections (Node listen on the fd): they come back and are drained as before, counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-keep-'));
    try {
      const control = join(dir, 'mode');
      const { serve, port, client } = await start(40, control);
      expect(await ask(client)).toBe("answers [('1', 40)] ports 40");
      writeFileSync(control, 'no-adopt');
      const from = serve.lines.length;
      serve.child.kill('SIGHUP');
      await serve.line(/generation 2: 1 worker\(s\) ready/, from);
      await untilListenerLeft(port, Number(/generation 1: 1 worker\(s\) ready \(pid (\d+)\)/.exec(serve.lines.join('\n'))![1]));
      // Nobody takes them within 2 s: back to generation 1, whose drain answers the next
      // request with Connection: close, and the connections end after it. The 2 s are
      // waited once, not once per connection (40 in turn were 80 s, past this wait's 30 s).
      expect(await ask(client)).toBe("answers [('1 close', 40)] ports 40");
      expect((await serve.line(/generation 1: (\d+) connection\(s\) kept by generation 2; (\d+) nobody took/, from)).slice(1)).toEqual(['0', '40']);
      client.child.stdin!.end();
      await serve.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sendConnection / receiveConnection: one connection served by two processes in turn', { timeout: 60_000 }, () => {
  it('the peer (python3) sees one socket: its next request answered by the receiver, which got the state; bad input refused', async () => {
    const { FdChannel, listenUnix, sendConnection, receiveConnection } = await import('../lib/index');
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-conn-'));
    try {
      const path = join(dir, 'c.sock');
      const accepted: InstanceType<typeof FdChannel>[] = [];
      const channels = FdChannel.serve(listenUnix(path), (c) => accepted.push(c));
      const sender = FdChannel.connect(path);
      for (const deadline = Date.now() + 5000; accepted.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      const receiver = accepted[0]!;

      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const client = new Lines('python3', ['-c', `
import socket, sys
s = socket.create_connection(("127.0.0.1", ${port}), timeout=10)
s.sendall(b"one\\n")
print("got", s.recv(100).decode().strip(), s.getsockname()[1], flush=True)
sys.stdin.readline()
s.sendall(b"two\\n")
print("got", s.recv(100).decode().strip(), s.getsockname()[1], flush=True)
`]);
      const [socket] = (await once(server, 'connection')) as [net.Socket];
      expect(String((await once(socket, 'data'))[0]).trim()).toBe('one');
      socket.write('first\n');
      const first = await client.line(/^got first (\d+)$/);

      // Bad input: a socket with bytes already read into this process stays here.
      await expect(sendConnection(sender, socket, { state: { n: 1 }, nope: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(sendConnection({} as never, socket)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      socket.pause();
      socket.unshift(Buffer.from('x'));
      await expect(sendConnection(sender, socket)).rejects.toMatchObject({ code: 'EBUSY', syscall: 'sendmsg' });
      expect(socket.read(1)).toEqual(Buffer.from('x'));
      // A UNIX-domain connection is refused before it is sent (the receiver takes TCP only:
      // sent, it would be lost on both sides), and stays open here.
      const unixServer = net.createServer().listen(join(dir, 'u.sock'));
      await once(unixServer, 'listening');
      const unixClient = net.connect(join(dir, 'u.sock'));
      await once(unixClient, 'connect');
      await expect(sendConnection(sender, unixClient)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('must be a TCP connection') });
      expect(unixClient.destroyed).toBe(false);
      unixClient.destroy();
      unixServer.close();

      await sendConnection(sender, socket, { state: { session: 'abc' } });
      expect(socket.destroyed).toBe(true);
      // "two" is sent while the connection is in transit: it waits in the kernel for the receiver.
      client.child.stdin!.write('\n');
      await new Promise((r) => setTimeout(r, 100));
      const { socket: moved, state } = await receiveConnection(receiver);
      expect(state).toEqual({ session: 'abc' });
      expect(String((await once(moved, 'data'))[0]).trim()).toBe('two');
      moved.end(`second ${(state as { session: string }).session}\n`);
      const second = await client.line(/^got second abc (\d+)$/);
      expect(second[1]).toBe(first[1]); // the same connection: its local port unchanged
      if (client.child.exitCode === null) await once(client.child, 'exit');
      expect(client.child.exitCode).toBe(0);

      sender.close();
      receiver.close();
      channels.close();
      server.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
