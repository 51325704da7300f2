// The exact 4-tuple lookup keeps one NETLINK_SOCK_DIAG socket per Node environment instead
// of one per lookup: strace counts the socket() calls of 500 lookups (one, close-on-exec),
// and /proc/net/netlink (protocol 4, NETLINK_SOCK_DIAG) names the sockets this process
// holds: a worker's appears with its first lookup and is gone once the worker is terminated.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupRowSync } from '../lib/states/netlink';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { canStrace, noStraceReason } from './helpers/strace';

const NETLINK_SOCK_DIAG = 4;

/** The inodes of the NETLINK_SOCK_DIAG sockets this process holds a descriptor of. */
function sockDiagDescriptors(): number[] {
  const diag = new Set(
    readFileSync('/proc/net/netlink', 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => Number(fields[1]) === NETLINK_SOCK_DIAG)
      .map((fields) => Number(fields.at(-1))),
  );
  const held: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own descriptor, gone
    }
    const inode = Number(/^socket:\[(\d+)\]$/.exec(target)?.[1]);
    if (diag.has(inode)) held.push(inode);
  }
  return held;
}

describe.skipIf(!isLinux)('the 4-tuple lookup: one sock_diag socket per environment', () => {
  let server: net.Server;
  let client: net.Socket;
  let tuple: [string, number, string, number];
  beforeAll(async () => {
    ensureBuilt();
    server = net.createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    tuple = ['127.0.0.1', client.localPort!, '127.0.0.1', port];
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  describe.skipIf(skipUnlessAvailable(canStrace))(`strace (${canStrace ? 'available' : 'strace missing, or ptrace refused'})`, () => {
    requireUnderCi(canStrace, () => noStraceReason);
    it('500 lookups make one socket(), close-on-exec, and each finds the connection', () => {
      const script = `
        const { lookupRowSync } = require(${JSON.stringify(DIST_INDEX.replace(/index\.js$/, 'states/netlink.js'))});
        let found = 0;
        for (let i = 0; i < 500; i++) if (lookupRowSync(false, ...${JSON.stringify(tuple)})?.state === 'ESTABLISHED') found++;
        console.log(found);`;
      const run = spawnSync('strace', ['-f', '-qq', '-e', 'trace=socket', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe('500');
      const sockets = run.stderr.split('\n').filter((line) => /socket\(AF_NETLINK, .*NETLINK_SOCK_DIAG\) = \d+/.test(line));
      expect(sockets, run.stderr).toHaveLength(1);
      expect(sockets[0]).toMatch(/SOCK_CLOEXEC/);
    });
  });

  it("a worker's lookups keep a socket of their own, closed when the worker is terminated", async () => {
    expect(lookupRowSync(false, ...tuple)?.state).toBe('ESTABLISHED'); // this thread's socket, kept
    const mine = sockDiagDescriptors();
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(lookupRowSync(false, ...tuple)?.state).toBe('ESTABLISHED');
    expect(sockDiagDescriptors()).toEqual(mine); // kept: no new socket for a second lookup

    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { lookupRowSync } = require(workerData.netlink);
       for (let i = 0; i < 100; i++) lookupRowSync(false, ...workerData.tuple);
       parentPort.postMessage(lookupRowSync(false, ...workerData.tuple)?.state);
       setInterval(() => {}, 1000); // stays until terminated`,
      { eval: true, workerData: { netlink: DIST_INDEX.replace(/index\.js$/, 'states/netlink.js'), tuple } },
    );
    const [state] = await once(worker, 'message');
    expect(state).toBe('ESTABLISHED');
    const withWorker = sockDiagDescriptors();
    expect(withWorker.length).toBe(mine.length + 1); // 101 lookups, one socket
    await worker.terminate();
    expect(sockDiagDescriptors()).toEqual(mine);
  });
});
