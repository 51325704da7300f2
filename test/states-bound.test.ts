// `sockctl states -B`: sockets bound to a port that neither listen nor connect (Linux 6.8
// and later dump them through sock_diag, state CLOSED). Debian 12's ss (iproute2 6.1) has
// no -B, so the witness is the program that bound them: a python3 child reports its port,
// its socket's inode (fstat) and its pid; the CLI must list exactly that socket, owned by
// that pid, and leave it out without -B.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { release } from 'node:os';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TcpStateRowWithProcess } from '../lib/index';
import { CLI, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';

const [major = 0, minor = 0] = release().split('.').map(Number);
const listsBound = isLinux && (major > 6 || (major === 6 && minor >= 8));

const BINDER = `
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', 0))  # bound, never listening nor connecting
print(s.getsockname()[1], os.fstat(s.fileno()).st_ino, os.getpid(), flush=True)
sys.stdin.readline()
`;

function states(...args: string[]) {
  const run = spawnSync(process.execPath, [CLI, 'states', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe.skipIf(!listsBound)(`sockctl states -B (Linux >= 6.8 lists bound, inactive sockets; this is ${release()})`, () => {
  let binder: ReturnType<typeof spawn>;
  let port: number;
  let inode: number;
  let pid: number;
  beforeAll(async () => {
    ensureBuilt();
    binder = spawn('python3', ['-c', BINDER], { stdio: ['pipe', 'pipe', 'inherit'] });
    const line = (await createInterface({ input: binder.stdout! })[Symbol.asyncIterator]().next()).value as string;
    [port, inode, pid] = line.trim().split(' ').map(Number) as [number, number, number];
  });
  afterAll(async () => {
    binder.stdin!.end('\n');
    if (binder.exitCode === null) await once(binder, 'exit');
  });

  it('lists the socket python3 bound, with its inode and its pid; without -B, nothing (exit 1)', () => {
    const run = states('-B', '-p', '--port', String(port), '--json');
    expect(run.status, run.stderr).toBe(0);
    const rows = JSON.parse(run.stdout) as TcpStateRowWithProcess[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'CLOSED', localAddress: '127.0.0.1', localPort: port, remotePort: 0, inode, pid });
    expect(rows[0]!.owners.map((o) => o.pid)).toEqual([pid]);

    const table = states('--bound-inactive', '--port', String(port));
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^CLOSED\\s+0\\s+0\\s+127\\.0\\.0\\.1:${port}\\s+0\\.0\\.0\\.0:\\*`, 'm'));

    // Without -B the bound socket is not listed. (Other tests' connections may use port N on
    // another address, ::1 or as a remote port: only rows of 127.0.0.1:N would be ours.)
    const without = states('--port', String(port), '--json');
    const listed = JSON.parse(without.stdout) as TcpStateRowWithProcess[];
    expect(listed.filter((r) => r.localAddress === '127.0.0.1' && r.localPort === port)).toEqual([]);
    expect(without.status).toBe(listed.length === 0 ? 1 : 0);
    // Beside other states: -B adds CLOSED to them.
    const both = states('-B', '--state', 'listen', '--port', String(port), '--json');
    expect((JSON.parse(both.stdout) as TcpStateRowWithProcess[]).map((r) => r.state)).toEqual(['CLOSED']);
  });
});
