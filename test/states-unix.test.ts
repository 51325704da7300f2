// unixSockets and `sockctl states -x`: the UNIX sockets of the namespace through sock_diag,
// checked against `ss -xan` for the sockets a python3 child holds (a pathname listener in a
// private directory, a connection with bytes waiting, an abstract datagram socket), matched
// by inode: type, state, name, queues and the peer's inode.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unixSockets, unixSocketsSync } from '../lib/index';
import { CLI, DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { canStrace, noStraceReason } from './helpers/strace';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';

const HOLDER = `
import os, socket, sys
path = sys.argv[1]
l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(7)
c = socket.socket(socket.AF_UNIX); c.connect(path); a, _ = l.accept(); c.send(b'hello')
d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.bind('\\0' + sys.argv[2])
print(*(os.fstat(s.fileno()).st_ino for s in (l, c, a, d)), flush=True)
sys.stdin.readline()
`;

const NETID = { u_str: 'stream', u_dgr: 'dgram', u_seq: 'seqpacket' } as Record<string, string>;
const STATE = { ESTAB: 'ESTABLISHED', UNCONN: 'CLOSED' } as Record<string, string>;

describe.skipIf(!isLinux)('UNIX sockets, against ss -xan', () => {
  let holder: ReturnType<typeof spawn>;
  let dir: string;
  let inodes: number[];
  const abstract = `sockctl-test-${process.pid}`;
  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sockctl-unix-'));
    holder = spawn('python3', ['-c', HOLDER, join(dir, 'listen.sock'), abstract], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = (await createInterface({ input: holder.stdout! })[Symbol.asyncIterator]().next()).value as string;
    inodes = line.trim().split(' ').map(Number);
  });
  afterAll(async () => {
    holder.stdin!.end('\n');
    if (holder.exitCode === null) await once(holder, 'exit');
    rmSync(dir, { recursive: true, force: true });
  });

  it("python3's four sockets are what ss says, field by field", async () => {
    const ss = new Map<number, Record<string, unknown>>();
    for (const line of execFileSync('ss', ['-xanH'], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n')) {
      const [netid, state, recvQ, sendQ, path, inode, , peer] = line.trim().split(/\s+/);
      ss.set(Number(inode), { type: NETID[netid!], state: STATE[state!] ?? state, recvQ: Number(recvQ), sendQ: Number(sendQ), path: path === '*' ? null : path, peerInode: peer === '0' || peer === '*' ? null : Number(peer) });
    }
    const ours = new Map(unixSocketsSync().map((row) => [row.inode, row]));
    const [listener, client, accepted, datagram] = inodes as [number, number, number, number];
    for (const inode of inodes) {
      const { inode: _, ...row } = ours.get(inode)!;
      expect(row, `inode ${inode}`).toEqual(ss.get(inode));
    }
    expect(ours.get(listener)).toMatchObject({ type: 'stream', state: 'LISTEN', path: join(dir, 'listen.sock'), sendQ: 7 });
    expect(ours.get(client)).toMatchObject({ state: 'ESTABLISHED', peerInode: accepted });
    expect(ours.get(accepted)).toMatchObject({ state: 'ESTABLISHED', peerInode: client, recvQ: 5 });
    expect(ours.get(datagram)).toMatchObject({ type: 'dgram', state: 'CLOSED', path: `@${abstract}` });
    expect((await unixSockets()).some((row) => row.inode === datagram)).toBe(true);
  });

  it('sockctl states -x prints them as ss -xa does; it takes no TCP filter', () => {
    const run = spawnSync(process.execPath, [CLI, 'states', '-x'], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 << 20 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^u_str\\s+LISTEN\\s+0\\s+7\\s+${join(dir, 'listen.sock').replace(/[.]/g, '\\.')}\\s+${inodes[0]}\\s+\\*$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^u_dgr\\s+UNCONN\\s+0\\s+0\\s+@${abstract}\\s+${inodes[3]}\\s+\\*$`, 'm'));
    const bad = spawnSync(process.execPath, [CLI, 'states', '-x', '--port', '80'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--unix lists every UNIX socket: --port does not go with it/);
  });
});


describe.skipIf(!isLinux || skipUnlessAvailable(canStrace))(`unixSockets() does not block the loop (strace: ${canStrace ? 'available' : noStraceReason})`, () => {
  requireUnderCi(canStrace, () => noStraceReason);
  // strace -f names the thread of each system call: the AF_UNIX sock_diag request
  // (SOCK_DIAG_BY_FAMILY, 0x14, whose body opens with sdiag_family AF_UNIX, 1) of the
  // blocking call comes from the main thread, the promise's from a thread of libuv's pool.
  it('its dump runs on the thread pool, unixSocketsSync() on the main thread (strace -f)', () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-unix-strace-'));
    try {
      const log = join(dir, 'strace.log');
      const script = `const s = require(${JSON.stringify(DIST_INDEX)}); s.unixSocketsSync(); s.unixSockets().then((rows) => console.log(process.pid, rows.length));`;
      const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=sendto,sendmsg', '-o', log, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(run.status).toBe(0);
      const [pid, count] = run.stdout.trim().split(' ').map(Number);
      expect(count).toBeGreaterThan(0);
      const requests = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.includes('nlmsg_type=0x14') || line.includes('SOCK_DIAG_BY_FAMILY'))
        .filter((line) => /\}, "\\x01\\x00/.test(line) || line.includes('sdiag_family=AF_UNIX'))
        .map((line) => Number(line.split(' ')[0]));
      expect(requests).toHaveLength(2);
      expect(requests[0]).toBe(pid); // unixSocketsSync(): the main thread
      expect(requests[1]).not.toBe(pid); // unixSockets(): another thread of the same process
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
