// destroySocket: SOCK_DESTROY of another process's socket, as `ss -K`. In a network
// namespace of its own (unshare -Urn: CAP_NET_ADMIN there, root or not), a python3 process
// holds both ends of a connection; destroying its accepted end, the client reads ECONNRESET
// and the holder ECONNABORTED (python3's own errors are the witness), the row is gone, and
// destroying it again is ENOENT. Without the capability (root-only: a child as uid 65534)
// it is EPERM, where `ss -K` says nothing.
import { spawnSync } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { destroySocket, tcpStatesSync } from '../lib/index';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
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
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ code: 'EPERM', syscall: 'sock_destroy', message: 'sock_destroy EPERM' });
    expect(tcpStatesSync({ localPort: pair.port, remotePort: pair.client.localPort! })).toMatchObject([{ state: 'ESTABLISHED', cookie: row!.cookie }]);
  });
});
