// `sockctl serve` run as a user runs it (node dist/cli/main.js), with a Node server and
// python3's http.server as the children. Witnesses from outside the library: `ss` (the
// listener's inode, the group's members), HTTP answers to Node clients, the child's own
// /proc/self/fd as it starts, python3 as the sd_notify sender.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createListener, getOption, type ListeningDescriptor } from '../lib/index';
import { binding } from '../lib/core/binding';
import { steer, unsteer, GroupOrder } from '../lib/serve/steering';
import { CLI, ensureBuilt, ROOT } from './helpers/dist';
import { isLinux, openDescriptorCount } from './helpers/net';
import { ssDetailedRows } from './helpers/ss';
import { alive, get, listenInodes, load, pidsOf, running, Serve as BaseServe, until, untilListenerLeft, untilServedBy } from './helpers/serve';
import { requireUnderCi, skipUnlessAvailable } from './helpers/ci';
import { canStrace, noStraceReason } from './helpers/strace';

const PYTHON_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'python-server.py');
const NODE_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'node-server.js');

let dir: string;
let control: string;

/** `sockctl serve` with the fixtures' control file. */
class Serve extends BaseServe {
  constructor(args: string[], extraFd = false) {
    super(args, extraFd, { SERVE_FIXTURE_CONTROL: control });
  }
}

// Real process starts (python3, Node) on a machine that may be loaded: a minute per test at most.
describe.skipIf(!isLinux)('sockctl serve', { timeout: 60_000 }, () => {
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sockctl-serve-'));
    control = join(dir, 'mode');
  });
  afterEach(async () => {
    writeFileSync(control, 'normal');
    await Promise.all([...running].map((s) => s.stop()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [server, command, readyFlags, mode] of [
    ['python3 http.server (READY=1 itself)', ['python3', PYTHON_SERVER], [], 'normal'],
    ['a Node server (listenFds, notify)', [process.execPath, NODE_SERVER], [], 'normal'],
    ['a Node server that never says READY=1, with --ready-after', [process.execPath, NODE_SERVER], ['--ready-after', '300'], 'never-ready'],
  ] as const) {
    it(`${server}: 5 reloads under continuous clients, every request answered, the same listener throughout (ss)`, async () => {
      writeFileSync(control, mode);
      const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', ...readyFlags, '--', ...command]);
      const port = await serve.port();
      const inodes = listenInodes(port);
      expect(inodes).toHaveLength(1);
      const clients = load(port);
      for (let generation = 2; generation <= 6; generation++) {
        await clients.more(4); // requests to the generation before this reload
        const from = serve.lines.length;
        serve.signal('SIGHUP');
        await serve.line(new RegExp(`generation ${generation}: 2 worker\\(s\\) ready`), from);
        expect(listenInodes(port)).toEqual(inodes);
      }
      // Until the last generation has answered some of them (bounded).
      expect(await until(() => clients.tally.generations.has(6))).toBe(true);
      await clients.more(4);
      const tally = await clients.stop();
      expect(tally.failed).toEqual([]);
      // Every attempt answered, at least 4 per generation (waited for above, not a rate).
      expect(tally.ok).toBe(tally.attempts);
      expect(tally.ok).toBeGreaterThanOrEqual(24);
      expect(tally.generations.has(1) && tally.generations.has(6)).toBe(true);
      // Old generations exited (drained), the last one serves.
      await serve.line(/generation 5: draining/);
      await untilServedBy(port, 6);
      expect(await serve.stop()).toBe(0);
      const pids = pidsOf(serve);
      expect(pids.length).toBeGreaterThanOrEqual(12); // 2 workers in each of 6 generations
      for (const pid of pids) expect(alive(pid)).toBe(false);
      expect(listenInodes(port)).toEqual([]);
    });
  }

  it('examples/serve-app.js (the README\'s) serves under it, reloads, and is in the README and docs/reloads.md verbatim', async () => {
    const example = join(ROOT, 'examples', 'serve-app.js');
    for (const page of ['README.md', 'docs/reloads.md']) expect(readFileSync(join(ROOT, page), 'utf8')).toContain(readFileSync(example, 'utf8'));
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--', process.execPath, example]);
    const port = await serve.port();
    const first = await serve.line(/generation 1: 2 worker\(s\) ready \(pid (\d+) (\d+)\)/);
    expect((await get(port)).body).toMatch(/^hello from \d+\n$/);
    const from = serve.lines.length;
    serve.signal('SIGHUP');
    const ready = await serve.line(/generation 2: 2 worker\(s\) ready \(pid (\d+) (\d+)\)/, from);
    await serve.line(/generation 1: draining/, from);
    // The old workers answer what they accepted until they close their copy, then exit.
    for (let i = 0; i < 200 && (alive(Number(first[1])) || alive(Number(first[2]))); i++) await new Promise((r) => setTimeout(r, 25));
    expect(alive(Number(first[1])) || alive(Number(first[2]))).toBe(false);
    const pids = new Set<string>();
    for (let i = 0; i < 40; i++) pids.add((await get(port)).body.split(' ')[2]!.trim());
    expect([...pids].every((pid) => pid === ready[1] || pid === ready[2])).toBe(true);
  });

  it('a worker that dies while serving is started again on the same socket', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'python3', PYTHON_SERVER]);
    const port = await serve.port();
    const [pid] = pidsOf(serve);
    process.kill(pid!, 'SIGKILL');
    await serve.line(new RegExp(`generation 1 worker 0 \\(pid ${pid}\\) was killed by SIGKILL; starting it again in 1 s`));
    const again = await serve.line(/generation 1 worker 0 \(pid (\d+)\): serving/, serve.lines.length - 1);
    expect(Number(again[1])).not.toBe(pid);
    expect((await get(port)).body).toContain(` ${again[1]}\n`);
    expect(listenInodes(port)).toHaveLength(1);
  });

  it('SIGINT stops the workers and what they started (their process group): no orphan', async () => {
    const grandchild = join(dir, 'grandchild');
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', 'sh', '-c', `sleep 300 & echo $! > ${grandchild}; exec python3 ${PYTHON_SERVER}`]);
    await serve.port();
    const sleeper = Number(readFileSync(grandchild, 'utf8'));
    expect(alive(sleeper)).toBe(true);
    serve.signal('SIGINT');
    await serve.exited;
    expect(serve.child.exitCode).toBe(0);
    for (let i = 0; i < 50 && alive(sleeper); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(sleeper)).toBe(false);
    const pids = pidsOf(serve);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it('a new generation that crashes at start, or never says READY=1, leaves the old one serving', async () => {
    // Long enough for a python3 start on a loaded machine (the crash must come first).
    const serve = new Serve(['--listen', '127.0.0.1:0', '--ready-timeout', '6000', '--', 'python3', PYTHON_SERVER]);
    const port = await serve.port();
    const clients = load(port, 2);

    writeFileSync(control, 'crash');
    let from = serve.lines.length;
    serve.signal('SIGHUP');
    await serve.line(/reload failed: generation 2 worker 0 \(pid \d+\) exited with code 3 before it was ready; generation 1 keeps serving/, from);

    writeFileSync(control, 'never-ready');
    from = serve.lines.length;
    serve.signal('SIGHUP');
    const failed = await serve.line(/reload failed: generation 3 worker 0 \(pid (\d+)\) not ready within 6000 ms; generation 1 keeps serving/, from);
    // It was stopped (SIGTERM): its pid is gone shortly after.
    const pid = Number(failed[1]);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(pid)).toBe(false);

    await clients.more(4);
    const tally = await clients.stop();
    expect(tally.failed).toEqual([]);
    expect(tally.ok).toBe(tally.attempts);
    expect(tally.ok).toBeGreaterThanOrEqual(4);
    expect((await get(port)).generation).toBe(1);
    // A later good reload still works.
    writeFileSync(control, 'normal');
    from = serve.lines.length;
    serve.signal('SIGHUP');
    await serve.line(/generation 4: 1 worker\(s\) ready/, from);
    // Generation 1 stops at its SIGTERM, which comes after that line: until then it may still accept.
    await untilListenerLeft(port, Number(/generation 1: 1 worker\(s\) ready \(pid (\d+)\)/.exec(serve.lines.join('\n'))![1]));
    expect((await get(port)).generation).toBe(4);
  });

  it('the child gets fds 0-2 and its LISTEN_FDS, nothing else: not even a descriptor sockctl inherited', async () => {
    const serve = new Serve(['--listen', 'web=127.0.0.1:0', '--', 'python3', PYTHON_SERVER], true);
    const port = await serve.port();
    const fds = JSON.parse((await get(port, '/fds')).body) as Record<string, string>;
    expect(Object.keys(fds).sort()).toEqual(['0', '1', '2', '3']);
    expect(fds['3']).toBe(`socket:[${listenInodes(port)[0]}]`);
  });

  it('the first generation not ready: exit 1; a socket that cannot be made: exit 2; usage errors: exit 2', async () => {
    writeFileSync(control, 'crash');
    const crashed = new Serve(['--listen', '127.0.0.1:0', '--', 'python3', PYTHON_SERVER]);
    await crashed.exited;
    expect(crashed.child.exitCode).toBe(1);
    expect(crashed.lines.join('\n')).toMatch(/start failed: generation 1 worker 0 \(pid \d+\) exited with code 3 before it was ready/);

    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as net.AddressInfo).port;
    const busy = new Serve(['--listen', `127.0.0.1:${port}`, '--', 'true']);
    await busy.exited;
    taken.close();
    expect(busy.child.exitCode).toBe(2);
    expect(busy.lines.join('\n')).toContain(`bind EADDRINUSE 127.0.0.1:${port}`);

    for (const args of [
      ['--listen', '127.0.0.1:0'],
      ['--', 'true'],
      ['--listen', '127.0.0.1:99999', '--', 'true'],
      ['--listen', 'a:b=127.0.0.1:0', '--', 'true'],
      ['--listen', '127.0.0.1:0', '--workers', '0', '--', 'true'],
      ['--listen', '127.0.0.1:0', '--recreate-listeners', '--', 'true'],
      ['--listen', '127.0.0.1:0', '--bogus', '--', 'true'],
    ]) {
      const run = spawnSync(process.execPath, [CLI, 'serve', ...args], { encoding: 'utf8', timeout: 10_000 });
      expect({ args, status: run.status }).toEqual({ args, status: 2 });
      expect(run.stderr).toMatch(/^sockctl serve: /);
    }
  });

  it('--reuse-port: one listener per worker in one group; reloads keep them (ss: same inodes); SIGTTOU leaves with nothing dropped', async () => {
    // A python3 start may take seconds on a loaded machine (more under ASan); the stalled scale-up below waits this long too.
    const serve = new Serve(['--listen', '127.0.0.1:0', '--workers', '2', '--reuse-port', '--ready-timeout', '12000', '--', 'python3', PYTHON_SERVER]);
    const port = await serve.port();
    const inodes = listenInodes(port);
    expect(inodes).toHaveLength(2);
    const clients = load(port);
    for (let generation = 2; generation <= 3; generation++) {
      const from = serve.lines.length;
      serve.signal('SIGHUP');
      await serve.line(new RegExp(`generation ${generation}: 2 worker\\(s\\) ready`), from);
      expect(listenInodes(port)).toEqual(inodes);
    }
    let from = serve.lines.length;
    serve.signal('SIGTTOU');
    await serve.line(/scaled down to 1 worker\(s\)/, from);
    const left = listenInodes(port);
    expect(left).toHaveLength(1);
    expect(inodes).toContain(left[0]);
    from = serve.lines.length;
    serve.signal('SIGTTIN');
    await serve.line(/scaled up to 2 worker\(s\)/, from);
    expect(listenInodes(port)).toHaveLength(2);
    await clients.more(4);
    const tally = await clients.stop();
    expect(tally.failed).toEqual([]);
    expect(tally.ok).toBe(tally.attempts);
    expect(tally.ok).toBeGreaterThanOrEqual(4);
    from = serve.lines.length;
    serve.signal('SIGTTOU');
    await serve.line(/scaled down to 1 worker\(s\)/, from);
    serve.signal('SIGTTOU');
    await serve.line(/scale down refused: 1 worker is the least/, from);
    // A worker that never accepts: its new listener is steered away from while it starts,
    // so nothing waits in its queue, and the failed scale-up closes it with nothing lost.
    writeFileSync(control, 'stall');
    const serving = listenInodes(port); // the one listener left: its own queue may hold a moment's connections
    const during = load(port);
    from = serve.lines.length;
    serve.signal('SIGTTIN');
    // The stalled worker's listener is in the group (a second LISTEN row in ss) until the
    // failed scale-up closes it: sampled all that time, while the clients go on connecting.
    const failedLine = /scale up failed: generation 3 worker 1 \(pid \d+\) not ready within 12000 ms; 1 worker\(s\) keep serving/;
    const twoListeners = () => ssDetailedRows(port).filter((r) => r.tcpState === 'LISTEN' && r.localPort === port);
    expect(await until(() => twoListeners().length === 2), 'a second LISTEN row in ss').toBe(true);
    let samples = 0;
    let queued = 0;
    const answeredBefore = during.tally.ok;
    let answeredWhileTwo = 0;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      const listeners = twoListeners();
      if (listeners.length !== 2) break;
      samples++;
      queued = Math.max(queued, ...listeners.filter((r) => !serving.includes(r.inode)).map((r) => r.recvQ));
      answeredWhileTwo = during.tally.ok - answeredBefore;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await serve.line(failedLine, from);
    await during.more(4);
    const after = await during.stop();
    // Samples saw both listeners, connections were made meanwhile, and none waited in the stalled one's queue.
    expect({ samples: samples >= 5, answeredWhileTwo: answeredWhileTwo > 0, queued }).toEqual({ samples: true, answeredWhileTwo: true, queued: 0 });
    expect(after.failed).toEqual([]);
    expect(after.ok).toBe(after.attempts);
    expect(listenInodes(port)).toHaveLength(1);
  });
});

describe.skipIf(!isLinux || skipUnlessAvailable(canStrace))(`sockctl serve when the kernel refuses the steering program (strace injects ENOPROTOOPT${canStrace ? '' : `; skipped: ${noStraceReason}`})`, () => {
  requireUnderCi(canStrace, () => noStraceReason);
  beforeAll(() => {
    ensureBuilt();
  });
  afterEach(async () => {
    await Promise.all([...running].map((s) => s.stop()));
  });

  it('SIGTTOU says so and keeps the worker and its listener', async () => {
    const serve = new Serve(['--listen', '127.0.0.1:0', '--workers', '2', '--reuse-port', '--', 'python3', PYTHON_SERVER]);
    const port = await serve.port();
    // From now on every setsockopt of the supervisor's main thread fails as qemu-user's does.
    const strace = spawn('strace', ['-p', String(serve.child.pid), '-e', 'trace=setsockopt', '-e', 'inject=setsockopt:error=ENOPROTOOPT', '-o', '/dev/null'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let attached = '';
      await new Promise<void>((resolve, reject) => {
        strace.stderr!.setEncoding('utf8').on('data', (c: string) => ((attached += c), /attached/.test(attached) && resolve()));
        strace.once('exit', () => reject(new Error(`strace: ${attached}`)));
      });
      const from = serve.lines.length;
      serve.signal('SIGTTOU');
      await serve.line(/scale down refused: the kernel refused the steering program \(setsockopt ENOPROTOOPT\); keeping generation 1 worker 1 \(pid \d+\) and its listeners/, from);
    } finally {
      strace.kill('SIGINT');
      await once(strace, 'exit');
    }
    expect(listenInodes(port)).toHaveLength(2);
    const workers = new Set<string>();
    for (let i = 0; i < 60 && workers.size < 2; i++) workers.add((await get(port)).body.split(' ')[2]!);
    expect(workers).toEqual(new Set(['0', '1']));
  });
});

describe.skipIf(!isLinux)('SO_ATTACH_REUSEPORT_CBPF steering, as the kernel does it', () => {
  const held: ListeningDescriptor[] = [];
  afterEach(() => held.splice(0).forEach((l) => l.close()));

  async function group(count: number): Promise<ListeningDescriptor[]> {
    const first = await createListener({ host: '127.0.0.1', reusePort: true });
    const members = [first];
    for (let i = 1; i < count; i++) members.push(await createListener({ host: '127.0.0.1', port: first.address.port, reusePort: true }));
    held.push(...members);
    return members;
  }

  // An outside client: python3 completes `count` handshakes (each lands in the accept queue
  // of the member the kernel picked), then closes its ends.
  async function connectMany(port: number, count: number): Promise<void> {
    const run = spawnSync(
      'python3',
      ['-c', 'import socket, sys\nheld = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]\nfor s in held: s.close()', String(port), String(count)],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  }

  // Each member's accept queue as ss shows it (Recv-Q of its LISTEN row, found by inode); -1 once closed.
  const inodeOf = (l: ListeningDescriptor) => Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${l.fd}`))![1]);
  const queues = (members: ListeningDescriptor[]) => {
    const rows = ssDetailedRows(members[0]!.address.port).filter((r) => r.tcpState === 'LISTEN');
    return members.map((l) => (l.closed ? -1 : (rows.find((r) => r.inode === inodeOf(l))?.recvQ ?? -2)));
  };

  it('the program picks members in join order; a close moves the last one into the hole (GroupOrder models it; ss counts each queue)', async () => {
    const members = await group(3);
    expect(queues(members)).toEqual([0, 0, 0]);
    const order = new GroupOrder<ListeningDescriptor>();
    members.forEach((m) => order.join(m));
    steer(members[0]!.fd, [1]);
    await connectMany(members[0]!.address.port, 12);
    expect(queues(members)).toEqual([0, 12, 0]);

    members[0]!.close();
    order.leave(members[0]!);
    expect(order.indexOf(members[2]!)).toBe(0);
    steer(members[1]!.fd, [order.indexOf(members[2]!)]);
    await connectMany(members[1]!.address.port, 5);
    expect(queues(members)).toEqual([-1, 12, 5]);

    // Out of range: the kernel hashes over every member (both get some of 60).
    unsteer(members[1]!.fd);
    await connectMany(members[1]!.address.port, 60);
    const [, a, b] = queues(members);
    expect(a! > 12 && b! > 5).toBe(true);
  });

  it('a program the kernel refuses is an error with a code (no listener is touched)', async () => {
    const [member] = await group(1);
    let error: NodeJS.ErrnoException | undefined;
    try {
      binding.attachReuseportCbpf(member!.fd, [0xffff, 0, 0, 0]); // not an instruction
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error).toMatchObject({ code: 'EINVAL', syscall: 'setsockopt', errno: -22 });
    expect(getOption(member!, 'SO_REUSEPORT')).toBe(true);
  });
});

describe.skipIf(!isLinux)('the NOTIFY_SOCKET receiver', () => {
  it('gives each datagram with the sender pid the kernel attached; descriptors sent with one are closed', async () => {
    const { NotifyReceiver } = await import('../lib/serve/notify-receiver');
    const before = openDescriptorCount();
    const got: { pid: number; ready?: string; status?: string }[] = [];
    const receiver = new NotifyReceiver(
      () => 'any sender',
      (_worker, m) => got.push({ pid: m.pid, ready: m.fields.get('READY'), status: m.fields.get('STATUS') }),
    );
    const python = spawnSync(
      'python3',
      [
        '-c',
        `import os, socket, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1\\nSTATUS=up")
r, w = os.pipe()
s.sendmsg([b"FDSTORE=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]))])
print(os.getpid())`,
      ],
      { encoding: 'utf8', env: { ...process.env, NOTIFY_SOCKET: receiver.address } },
    );
    expect(python.status).toBe(0);
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const pid = Number(python.stdout.trim());
    expect(got).toEqual([
      { pid, ready: '1', status: 'up' },
      { pid, ready: undefined, status: undefined },
    ]);
    expect(openDescriptorCount()).toBe(before + 1); // its own socket; the two passed were closed
    receiver.close();
    // Closed by the time close() returns (its libuv handle is freed on a later turn of the loop).
    expect(openDescriptorCount()).toBe(before);
    receiver.close();
    expect(openDescriptorCount()).toBe(before);
  });

  it('worker_threads: 20 workers terminated while datagrams arrive, 20 that exit themselves; the process survives, their sockets are closed', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'test', 'fixtures', 'serve', 'notify-workers.js')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SOCKCTL_BINDING: join(ROOT, 'dist', 'core', 'binding.js') },
    });
    expect({ signal: run.signal, status: run.status, stderr: run.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    const { before, after } = JSON.parse(run.stdout) as { before: number; after: number };
    expect(after).toBe(before);
  }, 60_000);
});
