// destroySocket: SOCK_DESTROY of another process's socket, as `ss -K`. In a network
// namespace of its own (unshare -Urn: CAP_NET_ADMIN there, root or not), a python3 process
// holds both ends of a connection; destroying its accepted end, the client reads ECONNRESET
// and the holder ECONNABORTED (python3's own errors are the witness), the row is gone, and
// destroying it again is ENOENT. Without the capability (root-only: a child as uid 65534)
// it is EPERM, where `ss -K` says nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { destroySocket, tcpStatesSync } from '../lib/index';
import { CLI, DIST_INDEX, ensureBuilt } from './helpers/dist';
import { connectedPair, isLinux } from './helpers/net';
import { readableCopy } from './helpers/readable-copy';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';

const canUnshare =
  isLinux && spawnSync('unshare', ['-Urn', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' }).status === 0 && spawnSync('python3', ['--version']).status === 0;

const HOLDER = `
import errno, socket, sys
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
print(l.getsockname()[1], c.getsockname()[1], flush=True)
sys.stdin.readline()  # the accepted end was destroyed
def outcome(s):
    s.settimeout(5)
    try:
        return 'read %r' % s.recv(1)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
print(outcome(c), outcome(a), flush=True)
`;

describe.skipIf(!isLinux)('destroySocket: bad input', () => {
  it('refuses what is not a row with Node codes, before any system call', () => {
    const row = { family: 'ipv4', localAddress: '127.0.0.1', localPort: 1, remoteAddress: '127.0.0.1', remotePort: 2, cookie: '1f' } as const;
    expect(() => destroySocket(undefined as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => destroySocket({ ...row, family: 'inet' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => destroySocket({ ...row, localAddress: '::1' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('is not an ipv4 address') }));
    expect(() => destroySocket({ ...row, remotePort: 70000 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => destroySocket({ ...row, cookie: 'sk:1f' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => destroySocket({ ...row, cookie: 31 as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

describe.skipIf(!isLinux || skipUnlessAvailable(canUnshare))(`destroySocket in a network namespace of its own (unshare -Urn, python3: ${canUnshare ? 'available' : 'missing'})`, () => {
  requireUnderCi(canUnshare, () => 'unshare -Urn (user namespaces) or python3 missing');

  it("destroys python3's accepted socket: its peer reads ECONNRESET, its holder ECONNABORTED; then ENOENT", () => {
    ensureBuilt();
    const script = `
      const { destroySocket, tcpStatesSync } = require(${JSON.stringify(DIST_INDEX)});
      const { spawn } = require('node:child_process');
      const { createInterface } = require('node:readline');
      const python = spawn('python3', ['-c', ${JSON.stringify(HOLDER)}], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
      (async () => {
        const [port, clientPort] = (await lines.next()).value.split(' ').map(Number);
        const [row] = tcpStatesSync({ localPort: port, remotePort: clientPort, state: 'ESTABLISHED' });
        destroySocket(row);
        const after = tcpStatesSync({ localPort: port, remotePort: clientPort });
        let again;
        try { destroySocket(row); } catch (e) { again = { code: e.code, syscall: e.syscall }; }
        python.stdin.end('\\n');
        const [client, holder] = (await lines.next()).value.split(' ');
        console.log(JSON.stringify({ row, after, again, client, holder }));
      })();`;
    const run = spawnSync('unshare', ['-Urn', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { row: { state: string; cookie: string }; after: unknown[]; again: unknown; client: string; holder: string };
    expect(result.row).toMatchObject({ state: 'ESTABLISHED', cookie: expect.stringMatching(/^[0-9a-f]+$/) });
    expect(result.client).toBe('ECONNRESET');
    expect(result.holder).toBe('ECONNABORTED');
    expect(result.after).toEqual([]);
    expect(result.again).toEqual({ code: 'ENOENT', syscall: 'sock_destroy' });
  });

  // The kernel's by-tuple lookup falls back to the port's LISTEN socket when no connection
  // has the tuple: a cookie-less row (from /proc) of a connection gone by then once
  // destroyed the listener itself. ss and python3 in the namespace are the witnesses.
  it("a cookie-less row destroys its live connection, and once it is gone ENOENT: never the port's listener", () => {
    ensureBuilt();
    const script = `
      const { destroySocket } = require(${JSON.stringify(DIST_INDEX)});
      const net = require('node:net');
      const server = net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1', () => {
        const port = server.address().port;
        const client = net.connect(port, '127.0.0.1', () => {
          const row = { family: 'ipv4', localAddress: '127.0.0.1', localPort: port, remoteAddress: '127.0.0.1', remotePort: client.localPort, cookie: null };
          client.on('error', (e) => {
            const live = e.code;
            setTimeout(() => {
              let gone;
              try { destroySocket(row); gone = 'destroyed'; } catch (e) { gone = { code: e.code, syscall: e.syscall }; }
              console.log(JSON.stringify({ port, live, gone }));
            }, 100);
          });
          destroySocket(row); // the accepted end: the client reads ECONNRESET
        });
      });`;
    const shell = `ip link set lo up || exit 1
      "$NODE" -e "$SCRIPT" > out.json & pid=$!
      for i in $(seq 100); do [ -s out.json ] && break; sleep 0.05; done
      ss -Htln; python3 -c "import json, socket; socket.create_connection(('127.0.0.1', json.load(open('out.json'))['port']), 2); print('python3 connected')"
      cat out.json; kill $pid; wait`;
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-destroy-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const run = spawnSync('unshare', ['-Urn', 'bash', '-c', shell], { encoding: 'utf8', timeout: 15_000, cwd: dir, env: { ...process.env, NODE: process.execPath, SCRIPT: script } });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { port: number; live: string; gone: unknown };
    expect(result.live).toBe('ECONNRESET');
    expect(result.gone).toEqual({ code: 'ENOENT', syscall: 'sock_destroy' });
    expect(run.stdout).toMatch(new RegExp(`LISTEN +0 +\\d+ +127\\.0\\.0\\.1:${result.port} `));
    expect(run.stdout).toContain('python3 connected');
  });
});

describe.skipIf(!isLinux || skipUnlessAvailable(canUnshare))(`sockctl states --kill in a network namespace of its own (unshare -Urn, python3: ${canUnshare ? 'available' : 'missing'})`, () => {
  requireUnderCi(canUnshare, () => 'unshare -Urn (user namespaces) or python3 missing');

  it('refuses two sockets without --yes (stdin not a terminal); with it destroys the first, the second already reset by it; python3 sees both', () => {
    ensureBuilt();
    // A shell in the namespace: python3 holds a connection, sockctl runs twice, python3 reports.
    const shell = `
      ip link set lo up
      coproc HOLD { python3 -c "$HOLDER"; }
      read -r port client <&"\${HOLD[0]}"
      "$NODE" "$CLI" states --kill --port "$port" --state established < /dev/null
      echo "without --yes: $?"
      "$NODE" "$CLI" states --kill --yes --json --port "$port" --state established > "$OUT"
      echo "with --yes: $?"
      echo >&"\${HOLD[1]}"
      read -r a b <&"\${HOLD[0]}"
      echo "python3: $a $b"
      wait`;
    const out = join(mkdtempSync(join(tmpdir(), 'sockctl-kill-')), 'out.json');
    onTestFinished(() => rmSync(dirname(out), { recursive: true, force: true }));
    const run = spawnSync('unshare', ['-Urn', 'bash', '-c', shell], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, HOLDER, NODE: process.execPath, CLI, OUT: out },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('without --yes: 2');
    expect(run.stderr).toMatch(/sockctl states: 2 sockets match:[\s\S]*nothing destroyed \(--yes destroys them all/);
    expect(run.stdout).toContain('with --yes: 0');
    // The first end destroyed sends the other an RST: that one is gone by its turn, and said so.
    const destroyed = JSON.parse(readFileSync(out, 'utf8')) as { state: string; localPort: number }[];
    expect(destroyed).toMatchObject([{ state: 'ESTABLISHED' }]);
    expect(run.stderr).toMatch(/sockctl states: already gone: ESTABLISHED 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ sk:[0-9a-f]+/);
    // python3's own sockets: the destroyed one aborted, its peer reset (client first, then the accepted end).
    const [, client, accepted] = /python3: (\w+) (\w+)/.exec(run.stdout) ?? [];
    expect([client, accepted].sort()).toEqual(['ECONNABORTED', 'ECONNRESET']);
  });
});

describe.skipIf(!isLinux || process.getuid?.() !== 0)('destroySocket without CAP_NET_ADMIN (root-only: a child as uid 65534)', () => {
  it('is EPERM, and the socket lives on', async () => {
    ensureBuilt();
    const pair = await connectedPair();
    onTestFinished(() => pair.close());
    const copy = readableCopy();
    onTestFinished(copy.remove);
    const [row] = tcpStatesSync({ localPort: pair.port, remotePort: pair.client.localPort!, state: 'ESTABLISHED' });
    const script = `
      const { destroySocket } = require(${JSON.stringify(copy.dist)});
      try { destroySocket(JSON.parse(process.argv[1])); console.log('destroyed'); } catch (e) { console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })); }`;
    const run = spawnSync(process.execPath, ['-e', script, JSON.stringify(row)], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000, cwd: '/' });
    // Under the sanitizer run (test/sanitize/run.sh) the UBSan shim is preloaded from a 0700
    // directory uid 65534 cannot read: ld.so says so and goes on (libasan itself loads).
    expect(run.stderr.replace(/^ERROR: ld\.so: object '[^']*' from LD_PRELOAD cannot be preloaded .*\n?/gm, '')).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ code: 'EPERM', syscall: 'sock_destroy', message: 'sock_destroy EPERM' });
    expect(tcpStatesSync({ localPort: pair.port, remotePort: pair.client.localPort! })).toMatchObject([{ state: 'ESTABLISHED', cookie: row!.cookie }]);
  });
});
