// What a worker owned is closed when the worker ends (per-environment cleanup in
// native/environment.cc, not GC): 50 socket(), 50 dup() and a createListener() made in a
// worker are gone from the process once it ends, naturally, by process.exit() or by
// terminate(), and the port no longer listens. What it gave away by release(), and a number
// reused for something else after a close behind sockctl's back, stay open.
// The witnesses are outside the process under test: ss, and /proc/PID/fd read from here.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux } from './helpers/net';
import { ssRows } from './helpers/ss';

const FIXTURE = join(__dirname, 'fixtures', 'worker-descriptors.js');

interface Running {
  before: number[];
  during: number[];
  port: number;
  released: number;
  file: number;
  reused: boolean;
  made: number;
}

let child: ChildProcessWithoutNullStreams | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
});

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).map(Number);
const link = (pid: number, fd: number) => readlinkSync(`/proc/${pid}/fd/${fd}`);
/** What each descriptor of `pid` is (`socket:[inode]`, a path, ...), read from outside. */
const targets = (pid: number) => new Map(fds(pid).map((fd) => [fd, (() => { try { return link(pid, fd); } catch { return 'gone'; } })()]));
const listening = (port: number) => ssRows(port).filter((row) => row.state === 'LISTEN' && row.localPort === port);

describe.skipIf(!isLinux)('descriptors a worker owned', () => {
  beforeAll(() => ensureBuilt());

  it.each(['natural', 'exit', 'terminate'] as const)('are closed when the worker ends (%s)', async (ending) => {
    const proc = spawn(process.execPath, [FIXTURE, DIST_INDEX, ending]);
    child = proc;
    let stderr = '';
    proc.stderr.on('data', (chunk) => (stderr += chunk));
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const line = await lines.next();
      if (line.done) throw new Error(`the child ended early: ${stderr}`);
      return JSON.parse(line.value);
    };

    const running = (await next()) as Running;
    expect(running.made).toBe(101);
    expect(running.during.length - running.before.length).toBeGreaterThanOrEqual(running.made + 2);
    expect(listening(running.port)).toHaveLength(1); // the witness sees the listener while the worker lives
    const releasedSocket = link(proc.pid!, running.released);
    expect(releasedSocket).toMatch(/^socket:\[\d+\]$/);
    expect(running.reused).toBe(true); // the number closed behind sockctl's back is the file's now
    // The sockets the worker owns, by inode (a number can be reused; an open inode cannot).
    const during = targets(proc.pid!);
    const workers = new Set(
      [...during].filter(([fd, what]) => !running.before.includes(fd) && fd !== running.released && /^socket:/.test(what)).map(([, what]) => what),
    );
    expect(workers.size).toBeGreaterThanOrEqual(51); // 50 socket()s and the listener (each dup() shares its socket's inode)

    proc.stdin.write('\n');
    const { after } = (await next()) as { after: number[] };
    const left = targets(proc.pid!);
    // None of the worker's sockets is open anywhere in the process any more...
    expect([...left.values()].filter((what) => workers.has(what))).toEqual([]);
    // ...the two that were not the worker's to close are still open...
    expect(after).toEqual(expect.arrayContaining([running.released, running.file]));
    // ...and no other socket appeared: what Node itself opened meanwhile (Node 26 once had a
    // new descriptor by then, not a socket) is its own, a socket would be a leak of ours.
    const appeared = after.filter((fd) => !running.before.includes(fd) && fd !== running.released && fd !== running.file);
    expect(appeared.map((fd) => `${fd} ${left.get(fd) ?? 'gone'}`).filter((what) => / socket:/.test(what))).toEqual([]);
    expect(link(proc.pid!, running.released)).toBe(releasedSocket);
    expect(link(proc.pid!, running.file)).toBe('/dev/null');
    expect(listening(running.port)).toEqual([]);

    proc.stdin.end();
    const [code, signal] = await once(proc, 'exit');
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
  });
});
