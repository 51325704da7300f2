// docs/reloads.md's claims about `sockctl serve` under load, judged by outside witnesses:
// - "reloading on SIGHUP with nothing dropped (proven with wrk)", "0 socket errors and 0
//   non-2xx ... with short and keep-alive connections": Debian's wrk (-d8s) against 5
//   SIGHUPs, once with `Connection: close` and once keep-alive; wrk's own counts decide.
// - "the socket closes once its accept queue is empty and every handshake in progress for
//   it completed" (scale-down, --reuse-port): handshakes held half-open in a network
//   namespace of the test's own (unshare -n, root) by an nftables rule that drops the
//   client's final ACK (pure ACKs only: the clients send nothing while it holds), across a
//   SIGTTOU; ss (in the namespace) shows them SYN-RECV, python3 is the client.
// Under CI (CI=true, root) a missing wrk, unshare or nft is a failure, not a skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { CLI, ensureBuilt, ROOT } from './helpers/dist';
import { isLinux } from './helpers/net';

const NODE_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'node-server.js');
const WRK_REPORT = join(ROOT, 'test', 'fixtures', 'serve', 'wrk-report.lua');
const works = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const hasWrk = isLinux && spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid?.() === 0;
const canNamespace = isLinux && isRoot && works('unshare', ['-n', 'true']) && works('unshare', ['-n', 'nft', 'add', 'table', 'inet', 'probe']);

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

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(this.child);
    for (const stream of [this.child.stdout!, this.child.stderr!]) createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
  }

  /** The first line from `from` on matching `pattern` (not anchored: serve's lines may carry a timestamp). */
  async line(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpExecArray> {
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

describe.skipIf(!isLinux || skipUnlessAvailable(hasWrk))(`sockctl serve reloads under wrk (needs Debian's wrk: ${hasWrk ? 'found' : 'missing'})`, { timeout: 90_000 }, () => {
  requireUnderCi(hasWrk, () => 'wrk is not on PATH (apt-get install wrk)');
  beforeAll(() => ensureBuilt());

  for (const [connections, header] of [
    ['short connections (Connection: close)', ['-H', 'Connection: close']],
    ['keep-alive connections', []],
  ] as const) {
    it(`${connections}: wrk -d8s with 5 SIGHUPs: 0 socket errors, 0 non-2xx, answers from the first generation and the last`, async () => {
      const serve = new Lines(process.execPath, [CLI, 'serve', '--listen', 'http=127.0.0.1:0', '--workers', '2', '--', process.execPath, NODE_SERVER]);
      const port = Number((await serve.line(/serving \S+=[^ ]*:(\d+)/))[1]);
      await serve.line(/generation 1: 2 worker\(s\) ready/);
      const wrk = new Lines('wrk', ['-t1', '-c16', '-d8s', '--timeout', '2s', '-s', WRK_REPORT, ...header, `http://127.0.0.1:${port}/`]);
      // wrk is connected once generation 1 has answered it (its connections are in ss).
      for (let generation = 2; generation <= 6; generation++) {
        const from = serve.lines.length;
        serve.child.kill('SIGHUP');
        await serve.line(new RegExp(`generation ${generation}: 2 worker\\(s\\) ready`), from);
      }
      // The 5 reloads ended while wrk was still running: they happened under its load.
      expect(wrk.child.exitCode, 'wrk ended before the 5th reload was ready: the machine is too slow for -d8s').toBe(null);
      await once(wrk.child, 'exit');
      expect(wrk.child.exitCode).toBe(0);
      const line = wrk.lines.find((l) => l.startsWith('WRK '));
      expect(line, wrk.lines.join('\n')).toBeDefined();
      const report = JSON.parse(line!.slice(4)) as WrkReport;
      console.log(`serve-wrk ${connections}: ${JSON.stringify(report)}`);
      // wrk's own summary lines agree (printed only when there is something to say).
      expect(wrk.lines.filter((l) => /Socket errors|Non-2xx/.test(l))).toEqual([]);
      expect({ connect: report.connect, read: report.read, write: report.write, timeout: report.timeout, status: report.status, non2xx: report.non2xx }).toEqual({
        connect: 0, read: 0, write: 0, timeout: 0, status: 0, non2xx: 0,
      });
      // Load across every reload: the first generation and the last both answered wrk.
      expect(report.generations['1'] ?? 0).toBeGreaterThan(0);
      expect(report.generations['6'] ?? 0).toBeGreaterThan(0);
      expect(Object.values(report.generations).reduce((a, b) => a + b, 0)).toBe(report.requests);
    });
  }
});

const PORT = 8080; // in the test's own network namespace: nobody else's

// python3, in the namespace: `count` connects (each returns at the SYN-ACK: the client is
// ESTABLISHED, its final ACK dropped), nothing sent; on "go" a request on each, one status
// line per connection (or the error).
const CLIENT = `
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.settimeout(10)
    s.connect(("127.0.0.1", ${PORT}))
    held.append(s)
print("connected", flush=True)
sys.stdin.readline()
for s in held:
    try:
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        print("status", got.split(b"\\r\\n", 1)[0].decode(), flush=True)
    except OSError as e:
        print("error", type(e).__name__, flush=True)
    s.close()
print("done", flush=True)
`;

describe.skipIf(!isLinux || skipUnlessAvailable(canNamespace))(
  `sockctl serve --reuse-port: a scale-down waits for the handshakes in progress (root: unshare -n and nft; ${canNamespace ? 'available' : 'missing'})`,
  { timeout: 90_000 },
  () => {
    requireUnderCi(canNamespace, () => `root (${isRoot}), unshare -n and nft in a namespace`);
    beforeAll(() => ensureBuilt());

    it('half-open handshakes (final ACK dropped by nftables) hold the leaving listener open across SIGTTOU; once let through, every request is answered', async () => {
      const rules = `table inet held { chain out { type filter hook output priority 0; ip daddr 127.0.0.1 tcp dport ${PORT} tcp flags == ack counter drop; }; }`;
      const serve = new Lines('unshare', [
        '-n', 'sh', '-c',
        `ip link set lo up && nft ${JSON.stringify(rules)} && exec "$0" "$@"`,
        process.execPath, CLI, 'serve', '--listen', `127.0.0.1:${PORT}`, '--workers', '2', '--reuse-port', '--drain-timeout', '20000', '--', process.execPath, NODE_SERVER,
      ]);
      await serve.line(/generation 1: 2 worker\(s\) ready/);
      const inNs = ['--net=/proc/' + serve.child.pid + '/ns/net'];
      const ss = (state: string) =>
        spawnSync('nsenter', [...inNs, 'ss', '-tanH', 'state', state, `( sport = :${PORT} )`], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim() !== '');
      expect(ss('listening')).toHaveLength(2);

      // 16 handshakes: each SYN hashed to one of the two listeners (all 16 to one: 2^-16).
      const client = new Lines('nsenter', [...inNs, 'python3', '-c', CLIENT, '16']);
      await client.line(/^connected$/);
      for (const deadline = Date.now() + 5000; ss('syn-recv').length < 16 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(ss('syn-recv')).toHaveLength(16);

      const from = serve.lines.length;
      serve.child.kill('SIGTTOU');
      // While they are held half-open, the leaving listener stays: two LISTEN rows, no "scaled down".
      // (Bounded: 2 s, about two SYN-ACK retransmissions.)
      for (const until = Date.now() + 2000; Date.now() < until; ) {
        expect(serve.lines.slice(from).filter((l) => /scaled down|scale down (failed|refused)/.test(l))).toEqual([]);
        expect(ss('listening')).toHaveLength(2);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ss('syn-recv')).toHaveLength(16);

      // Let the ACKs through: each request's segment completes its handshake.
      expect(spawnSync('nsenter', [...inNs, 'nft', 'flush', 'ruleset']).status).toBe(0);
      client.child.stdin!.write('go\n');
      await client.line(/^done$/);
      await serve.line(/scaled down to 1 worker\(s\)/, from);
      const statuses = client.lines.filter((l) => /^(status|error) /.test(l));
      expect(statuses).toEqual(Array.from({ length: 16 }, () => 'status HTTP/1.1 200 OK'));
      expect(ss('listening')).toHaveLength(1);
    });
  },
);
