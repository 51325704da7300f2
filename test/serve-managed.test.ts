// `sockctl serve` under a service manager, judged by what stands in the manager's place:
// a python3 datagram receiver as NOTIFY_SOCKET (the order of READY/RELOADING/STOPPING,
// MONOTONIC_USEC against python's own CLOCK_MONOTONIC, WATCHDOG), systemd-socket-activate
// and a python3 socket holder that restarts sockctl (sockets from the manager: ss shows one
// listening inode; nothing queued is lost), `systemd-analyze verify` on the units the docs
// show; the control socket through `sockctl reload|status`, its receipt against wrk and ss.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipUnlessAvailable } from './helpers/ci';
import { CLI, ensureBuilt, ROOT } from './helpers/dist';
import { isLinux } from './helpers/net';
import { alive, get, listenInodes, running, Serve, until, untilServedBy } from './helpers/serve';
import { hasWrk, startWrk } from './helpers/wrk';

const NODE_SERVER = join(ROOT, 'test', 'fixtures', 'serve', 'node-server.js');
const isRoot = process.getuid?.() === 0;
const hasActivate = spawnSync('systemd-socket-activate', ['--help']).status === 0;
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
let dir: string;
const children = new Set<ChildProcess>();

/**
 * A python3 NOTIFY_SOCKET receiver: each datagram with CLOCK_MONOTONIC (µs) at its arrival.
 * `keepBarrier`: hold BARRIER=1's pipe open, as a manager that does not know BARRIER does.
 */
async function manager(path: string, keepBarrier = false) {
  const child = spawn(
    'python3',
    [
      '-c',
      `import array, json, os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # the sender's pid, as systemd reads it
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    data, ancillary, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16) + socket.CMSG_SPACE(12))
    fds = [fd for level, kind, raw in ancillary if kind == socket.SCM_RIGHTS for fd in array.array("i", raw)]
    pids = [array.array("i", raw)[0] for level, kind, raw in ancillary if kind == socket.SCM_CREDENTIALS]
    if sys.argv[2] == "close":
        for fd in fds:
            os.close(fd)  # as systemd does with BARRIER=1's pipe
    print(json.dumps({"data": data.decode(), "at": time.monotonic_ns() // 1000, "fds": len(fds), "pid": pids[0] if pids else None}), flush=True)`,
      path,
      keepBarrier ? 'keep' : 'close',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.add(child);
  /** One datagram: its text, when it came (CLOCK_MONOTONIC µs), descriptors it carried, its sender's pid. */
  type Message = { data: string; at: number; fds: number; pid: number | null };
  const got: Message[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.on('line', (line) => got.push(JSON.parse(line) as Message));
  return {
    got,
    /** The messages that are not WATCHDOG=1, in order. */
    states: () => got.filter((m) => m.data !== 'WATCHDOG=1'),
    async waitFor(test: (m: { data: string }) => boolean, timeoutMs = 20_000) {
      expect(await until(() => got.some(test), timeoutMs), `a message matching ${test}`).toBe(true);
      return got.find(test)!;
    },
  };
}

function reloadCli(control: string): { status: number | null; receipt: Record<string, unknown>; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, 'reload', '--control', control, '--timeout', '60000'], { encoding: 'utf8', timeout: 70_000 });
  return { status: run.status, receipt: JSON.parse(run.stdout || '{}') as Record<string, unknown>, stderr: run.stderr };
}

describe.skipIf(!isLinux)('sockctl serve under a service manager', { timeout: 90_000 }, () => {
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sockctl-managed-'));
  });
  afterEach(async () => {
    await Promise.all([...running].map((s) => s.stop()));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all([...children].map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
    children.clear();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('its own manager: READY=1, RELOADING=1 with a MONOTONIC_USEC systemd can match, READY=1 after each reload (failed ones too, saying so), STOPPING=1, WATCHDOG=1', async () => {
    const path = join(dir, 'manager.sock');
    const m = await manager(path);
    const control = join(dir, 'mode');
    writeFileSync(control, 'normal');
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--', process.execPath, NODE_SERVER], false, {
      NOTIFY_SOCKET: path,
      WATCHDOG_USEC: '400000',
      SERVE_FIXTURE_CONTROL: control,
    });
    const port = await serve.port();
    await m.waitFor((x) => x.data.startsWith('READY=1'));
    // The workers speak to sockctl's own receiver, and know nothing of the watchdog.
    const worker = /worker\(s\) ready \(pid (\d+)\)/.exec(serve.lines.join('\n'))![1]!;
    const environ = readFileSync(`/proc/${worker}/environ`, 'latin1').split('\0');
    expect(environ).not.toContain(`NOTIFY_SOCKET=${path}`);
    expect(environ.some((v) => v.startsWith('WATCHDOG_'))).toBe(false);

    serve.signal('SIGHUP');
    const reloading = await m.waitFor((x) => x.data.startsWith('RELOADING=1'));
    const usec = Number(/MONOTONIC_USEC=(\d+)/.exec(reloading.data)![1]);
    expect(Math.abs(usec - (reloading as { at: number }).at)).toBeLessThan(1_000_000);
    await m.waitFor((x) => x.data.includes('STATUS=generation 2 ready'));
    await untilServedBy(port, 2);

    writeFileSync(control, 'crash');
    serve.signal('SIGHUP');
    await m.waitFor((x) => /^READY=1\nSTATUS=reload failed: .*generation 2 keeps serving/.test(x.data));
    // Every 200 ms (half of WATCHDOG_USEC) while it runs: a third ping comes (bounded), whatever the run's length so far.
    for (const deadline = Date.now() + 5000; m.got.filter((x) => x.data === 'WATCHDOG=1').length < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
    }

    await serve.stop();
    await m.waitFor((x) => x.data.startsWith('STOPPING=1'));
    expect(m.states().map((x) => x.data.split('\n')[0])).toEqual(['READY=1', 'RELOADING=1', 'READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    expect(m.got.filter((x) => x.data === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(3);
  });

  it("WATCHDOG_PID of another process: the watchdog is not sockctl's to feed", async () => {
    const path = join(dir, 'manager2.sock');
    const m = await manager(path);
    const serve = new Serve(['--listen', '127.0.0.1:0', '--', process.execPath, NODE_SERVER], false, { NOTIFY_SOCKET: path, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' });
    await serve.port();
    await m.waitFor((x) => x.data.startsWith('READY=1'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(m.got.filter((x) => x.data === 'WATCHDOG=1')).toEqual([]);
  });

  it('--control: sockctl reload waits and prints the receipt (exit 0), a failed one exits 1 with the old generation serving; sockctl status agrees with ss', async () => {
    const control = join(dir, 'control.sock');
    const mode = join(dir, 'mode2');
    writeFileSync(mode, 'normal');
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--control', control, '--', process.execPath, NODE_SERVER], false, { SERVE_FIXTURE_CONTROL: mode });
    const port = await serve.port();
    const ok = reloadCli(control);
    expect(ok.status).toBe(0);
    expect(ok.receipt).toMatchObject({ ok: true, generation: 2, lost: { queued: 0 } });
    const pids = ok.receipt.pids as number[];
    expect(pids).toHaveLength(2);
    expect(pids.every(alive)).toBe(true);
    expect(ok.receipt.readyMs).toBeGreaterThan(0);
    expect(ok.receipt.drainMs).toBeGreaterThanOrEqual(0);
    expect((await get(port)).generation).toBe(2);

    writeFileSync(mode, 'crash');
    const failed = reloadCli(control);
    expect(failed.status).toBe(1);
    expect(failed.receipt).toMatchObject({ ok: false, generation: 2, pids });
    expect(failed.stderr).toMatch(/failed: generation 3 worker \d \(pid \d+\) exited with code 3 before it was ready; generation 2 keeps serving/);

    const status = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--control', control, '--json'], { encoding: 'utf8' }).stdout) as {
      pid: number;
      generation: number;
      workers: { pid: number }[];
      listeners: { inode: number; port: number }[];
    };
    expect(status.pid).toBe(serve.child.pid);
    expect(status.generation).toBe(2);
    expect(status.workers.map((w) => w.pid)).toEqual(pids);
    expect(status.listeners.map((l) => String(l.inode))).toEqual(listenInodes(port).map(String));
    const text = spawnSync(process.execPath, [CLI, 'status', '--control', control], { encoding: 'utf8' }).stdout;
    expect(text).toContain(`pid ${serve.child.pid}, generation 2`);
  });

  it('--control in a directory others may write (sticky /tmp-like, or group-writable) is refused: exit 2, saying why', async () => {
    for (const mode of [0o1777, 0o770]) {
      const shared = mkdtempSync(join(dir, 'shared-'));
      chmodSync(shared, mode);
      const serve = new Serve(['--listen', '127.0.0.1:0', '--control', join(shared, 'control.sock'), '--', process.execPath, NODE_SERVER]);
      await serve.exited;
      expect(serve.child.exitCode).toBe(2);
      expect(serve.lines.join('\n')).toContain('control EPERM');
      expect(serve.lines.join('\n')).toContain('put the control path in a private directory');
    }
  });

  it.skipIf(skipUnlessAvailable(isRoot))('--control: another uid is refused (the socket is 0600)', async () => {
    const control = join(dir, 'control-uid.sock');
    const serve = new Serve(['--listen', '127.0.0.1:0', '--control', control, '--', process.execPath, NODE_SERVER]);
    await serve.port();
    const run = spawnSync('python3', ['-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1]); print("connected")\nexcept OSError as e:\n    print(e.errno)', control], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
    });
    expect(run.stdout.trim()).toBe('13'); // EACCES
  });

  it.skipIf(skipUnlessAvailable(hasWrk))('the receipt under load: shared listeners lose 0; --recreate-listeners reports what its closes reset, and wrk saw errors too', async () => {
    const control = join(dir, 'control-load.sock');
    const shared = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--control', control, '--', process.execPath, NODE_SERVER]);
    const port = await shared.port();
    const wrk = startWrk(`http://127.0.0.1:${port}/`, { close: true, connections: 16 });
    const receipts = [reloadCli(control), reloadCli(control)];
    const summary = await wrk.stop();
    expect(receipts.map((r) => r.receipt.lost)).toEqual([expect.objectContaining({ queued: 0 }), expect.objectContaining({ queued: 0 })]);
    expect(summary.socketErrors).toBe(0);
    await shared.stop();

    const recreate = join(dir, 'control-recreate.sock');
    const nginxLike = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--reuse-port', '--recreate-listeners', '--control', recreate, '--', process.execPath, NODE_SERVER]);
    const port2 = await nginxLike.port();
    const wrk2 = startWrk(`http://127.0.0.1:${port2}/`, { close: true, connections: 16 });
    let queued = 0;
    for (let i = 0; i < 5 && queued === 0; i++) queued += (reloadCli(recreate).receipt.lost as { queued: number }).queued;
    const summary2 = await wrk2.stop();
    expect(queued).toBeGreaterThan(0);
    expect(summary2.socketErrors).toBeGreaterThan(0);
  });

  it.skipIf(skipUnlessAvailable(hasActivate))('sockets from the manager: under systemd-socket-activate, sockctl serves the socket it was given (ss: one listening inode, the same before and after)', async () => {
    const port = Number(spawnSync('python3', ['-c', 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'], { encoding: 'utf8' }).stdout);
    const activator = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--fdname=http', process.execPath, CLI, 'serve', '--', process.execPath, NODE_SERVER], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(activator);
    let stderr = '';
    activator.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    expect(await until(() => listenInodes(port).length === 1)).toBe(true);
    const before = listenInodes(port);
    const answer = await get(port); // starts sockctl, which serves that very socket
    expect(answer.status).toBe(200);
    // Its workers answer before sockctl prints that all of them are ready.
    const serving = new RegExp(`serving http=127\\.0\\.0\\.1:${port} \\(from the service manager\\)`);
    expect(await until(() => serving.test(stderr), 30_000), stderr).toBe(true);
    expect(listenInodes(port)).toEqual(before);
    activator.kill('SIGTERM');
    await once(activator, 'exit');
  });

  it('a holder keeps the socket (as a socket unit does) and restarts sockctl serve twice: every connection made meanwhile is answered', async () => {
    const holder = spawn(
      'python3',
      [
        '-c',
        `import os, socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(128)
print(s.getsockname()[1], flush=True)
for start in range(3):
    pid = os.fork()
    if pid == 0:
        if s.fileno() != 3:
            os.dup2(s.fileno(), 3)
        os.set_inheritable(3, True)
        os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES="http", LISTEN_PID=str(os.getpid()))
        os.execv(sys.argv[1], sys.argv[1:])
    print("started", pid, flush=True)
    os.waitpid(pid, 0)
print("done", flush=True)`,
        process.execPath,
        CLI,
        'serve',
        '--',
        process.execPath,
        NODE_SERVER,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.add(holder);
    const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);
    const starts: number[] = [];
    const nextStart = async () => starts.push(Number(/started (\d+)/.exec((await lines.next()).value as string)![1]));
    await nextStart();
    expect(await until(() => listenInodes(port).length === 1)).toBe(true);
    const inode = listenInodes(port);
    // Clients back to back, each on a new connection, across two restarts of sockctl.
    let on = true;
    const outcomes: string[] = [];
    const clients = Array.from({ length: 3 }, async () => {
      for (let n = 0; on && n < 10_000; n++) outcomes.push(await get(port).then((r) => String(r.status), (e: NodeJS.ErrnoException) => e.code ?? 'error'));
    });
    for (let restart = 0; restart < 2; restart++) {
      await until(() => outcomes.includes('200'));
      const count = outcomes.length;
      process.kill(starts.at(-1)!, 'SIGTERM');
      await nextStart();
      expect(await until(() => outcomes.length > count + 20, 30_000)).toBe(true);
    }
    on = false;
    await Promise.all(clients);
    expect(outcomes.filter((o) => o !== '200')).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(40);
    expect(listenInodes(port)).toEqual(inode);
    process.kill(starts.at(-1)!, 'SIGTERM');
  });

  it.skipIf(skipUnlessAvailable(hasAnalyze))('the units the docs show pass systemd-analyze verify (the notify-reload one warns only on a systemd older than 253)', () => {
    const units = join(ROOT, 'examples', 'systemd');
    const version = Number(/systemd (\d+)/.exec(spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout)?.[1]);
    for (const [unit, allowed] of [
      ['app-systemd252.service', null],
      ['app.service', /^\S+app\.service:\d+: Failed to parse service type, ignoring: notify-reload$/],
    ] as const) {
      // Each variant alone with the socket unit, as a machine installs one of them.
      const where = mkdtempSync(join(dir, 'units-'));
      writeFileSync(join(where, 'app.socket'), readFileSync(join(units, 'app.socket')));
      writeFileSync(join(where, 'app.service'), readFileSync(join(units, unit)));
      const run = spawnSync('systemd-analyze', ['verify', join(where, 'app.service')], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      const lines = run.stderr.split('\n').filter((line) => line.trim() !== '');
      if (allowed === null || version >= 253) expect(lines).toEqual([]);
      else expect(lines.length > 0 && lines.every((line) => allowed.test(line))).toBe(true);
    }
  });
});

describe.skipIf(!isLinux)('sockctl serve replaced by a new sockctl serve (SIGUSR2)', { timeout: 120_000 }, () => {
  let dir2: string;
  const extra = new Set<number>();
  beforeAll(() => {
    ensureBuilt();
    dir2 = mkdtempSync(join(tmpdir(), 'sockctl-usr2-'));
  });
  afterEach(async () => {
    for (const pid of extra) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    for (const pid of extra) await until(() => !alive(pid), 20_000);
    extra.clear();
    await Promise.all([...running].map((s) => s.stop()));
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all([...children].map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
    children.clear();
  });
  afterAll(() => rmSync(dir2, { recursive: true, force: true }));

  /** The first line from `from` on matching `pattern`, waiting past the first process's exit (its successor writes to the same pipe). */
  async function lineOf(serve: Serve, pattern: RegExp, from: number): Promise<RegExpExecArray> {
    let match: RegExpExecArray | null = null;
    const found = await until(() => serve.lines.slice(from).some((line) => (match = pattern.exec(line)) !== null), 60_000);
    expect(found, `a line matching ${pattern}:\n${serve.lines.slice(from).join('\n')}`).toBe(true);
    return match!;
  }

  it.skipIf(skipUnlessAvailable(hasWrk))('3 replacements under wrk with Connection: close: 0 socket errors, 0 non-2xx, the same listening inode; status answers from the new pid', async () => {
    const control = join(dir2, 'control.sock');
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--workers', '2', '--control', control, '--', process.execPath, NODE_SERVER]);
    const port = await serve.port();
    const inode = listenInodes(port);
    const wrk = startWrk(`http://127.0.0.1:${port}/`, { close: true });
    let pid = serve.child.pid!;
    for (let i = 0; i < 3; i++) {
      const from = serve.lines.length;
      process.kill(pid, 'SIGUSR2');
      const next = Number((await lineOf(serve, /replaced by pid (\d+)/, from))[1]);
      extra.add(next);
      expect(await until(() => !alive(pid), 30_000)).toBe(true);
      extra.delete(pid);
      pid = next;
      const status = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--control', control, '--json'], { encoding: 'utf8' }).stdout) as { pid: number };
      expect(status.pid).toBe(pid);
      expect(listenInodes(port)).toEqual(inode);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const summary = await wrk.stop();
    expect({ socketErrors: summary.socketErrors, nonSuccess: summary.nonSuccess }).toEqual({ socketErrors: 0, nonSuccess: 0 });
    expect(summary.requests).toBeGreaterThan(100);
    expect(serve.child.exitCode).toBe(0);
  });

  it('under a manager: the old supervisor says MAINPID=<new> and BARRIER=1 (a pipe the manager closes) before it exits; the new one speaks only after it (watchdog pings too), and says STOPPING=1 at its stop', async () => {
    const path = join(dir2, 'manager.sock');
    const m = await manager(path);
    // WATCHDOG_USEC without WATCHDOG_PID: both supervisors ping, every 100 ms.
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--', process.execPath, NODE_SERVER], false, { NOTIFY_SOCKET: path, WATCHDOG_USEC: '200000' });
    const port = await serve.port();
    await m.waitFor((x) => x.data.startsWith('READY=1'));
    const from = serve.lines.length;
    serve.signal('SIGUSR2');
    const next = Number((await lineOf(serve, /replaced by pid (\d+)/, from))[1]);
    extra.add(next);
    await serve.exited;
    expect(serve.child.exitCode).toBe(0);
    // The old supervisor's own messages, by the sender's pid.
    const states = m
      .states()
      .filter((x) => x.pid === serve.child.pid)
      .map((x) => ({ first: x.data.split('\n')[0], fds: x.fds }));
    const mainpid = states.findIndex((x) => x.first === `MAINPID=${next}`);
    expect(mainpid).toBeGreaterThan(0);
    expect(states[mainpid + 1]).toEqual({ first: 'BARRIER=1', fds: 1 });
    // systemd with NotifyAccess=main takes a message only from the main pid, which MAINPID=
    // moves: every message of the new supervisor must come after the old one's MAINPID=, or
    // systemd drops it (its READY=1, STATUS= and watchdog pings among them).
    await m.waitFor((x) => x.pid === next && x.data.startsWith('READY=1'));
    let main = serve.child.pid;
    const accepted = m.got.filter((x) => {
      if (x.pid !== main) return false;
      main = Number(/^MAINPID=(\d+)$/m.exec(x.data)?.[1] ?? main);
      return true;
    });
    const fromNew = m.got.filter((x) => x.pid === next);
    const notPings = (x: { data: string }) => x.data !== 'WATCHDOG=1';
    expect(fromNew.filter(notPings).map((x) => x.data.split('\n')[0])).toEqual(['READY=1']);
    expect(accepted.filter((x) => x.pid === next)).toEqual(fromNew);
    expect(accepted.filter(notPings).at(-1)!.data).toMatch(/^READY=1\nSTATUS=generation 1 ready/);
    expect((await get(port)).status).toBe(200);
    process.kill(next, 'SIGTERM');
    await m.waitFor((x) => x.data.startsWith('STOPPING=1'));
    expect(await until(() => !alive(next), 30_000)).toBe(true);
    extra.delete(next);
  });

  it('a new supervisor stopped while the old one still waits on BARRIER=1 stops its workers at once (its STOPPING=1 waits, not they)', async () => {
    const path = join(dir2, 'manager-keeps-barrier.sock');
    const m = await manager(path, true); // the old one's barrier then waits its 5 s out
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--', process.execPath, NODE_SERVER], false, { NOTIFY_SOCKET: path });
    await serve.port();
    await m.waitFor((x) => x.data.startsWith('READY=1'));
    const from = serve.lines.length;
    serve.signal('SIGUSR2');
    const next = Number(/^MAINPID=(\d+)/.exec((await m.waitFor((x) => x.data.startsWith('MAINPID='))).data)![1]);
    extra.add(next);
    // The new supervisor's worker (its log comes to the same stderr).
    const worker = Number((await lineOf(serve, /generation 1: 1 worker\(s\) ready \(pid (\d+)\)/, from))[1]);
    process.kill(next, 'SIGTERM');
    expect(await until(() => !alive(worker), 4000)).toBe(true);
    expect(alive(serve.child.pid!)).toBe(true); // the old one is still in its barrier wait
    await serve.exited;
    expect(await until(() => !alive(next), 30_000)).toBe(true);
    extra.delete(next);
    await m.waitFor((x) => (x as { pid: number | null }).pid === next && x.data.startsWith('STOPPING=1'));
  });

  it('a new supervisor whose generation fails: the old one says so and serves on, its UNIX socket file still there', async () => {
    const mode = join(dir2, 'mode');
    const path = join(dir2, 'app.sock');
    writeFileSync(mode, 'normal');
    const serve = new Serve(['--listen', 'http=127.0.0.1:0', '--listen', `api=unix:${path}`, '--', process.execPath, NODE_SERVER], false, { SERVE_FIXTURE_CONTROL: mode });
    const port = await serve.port();
    const inode = statSync(path).ino;
    writeFileSync(mode, 'crash');
    const from = serve.lines.length;
    serve.signal('SIGUSR2');
    await lineOf(serve, /replacement failed: .*; this supervisor \(pid \d+\) keeps serving/, from);
    expect(serve.child.exitCode).toBe(null);
    expect((await get(port)).generation).toBe(1);
    // The failed new one closed its copies; the path is still the old one's socket, connectable.
    expect(statSync(path).ino).toBe(inode);
    const client = net.connect(path);
    await once(client, 'connect');
    client.destroy();
  });
});

describe('docs/reloads.md shows the systemd units as they are in examples/systemd', () => {
  it('each unit is in docs/reloads.md verbatim', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'reloads.md'), 'utf8');
    for (const unit of ['app.socket', 'app.service', 'app-systemd252.service']) {
      expect(readme).toContain(readFileSync(join(ROOT, 'examples', 'systemd', unit), 'utf8'));
    }
  });
});

describe.skipIf(!isLinux)('serve(options), the library', { timeout: 60_000 }, () => {
  it('bad options are refused with Node codes before anything starts; reload and scale waits take a signal (the operation goes on)', async () => {
    const { serve, ServeHandle } = await import('../lib/index');
    await expect(serve({ listen: ['127.0.0.1:0'], command: 'node' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(serve({ listen: ['127.0.0.1:0'], command: ['node'], worker: 2 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(serve({ listen: ['not a spec'], command: ['node'] })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(serve({ listen: ['127.0.0.1:0'], command: ['node'], workers: 0 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(serve({ listen: ['127.0.0.1:0'], command: ['node'], stopSignal: 'SIGKILL' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => new (ServeHandle as unknown as new () => unknown)()).toThrow(expect.objectContaining({ code: 'ERR_ILLEGAL_CONSTRUCTOR' }));

    const s = await serve({ listen: ['http=127.0.0.1:0'], command: [process.execPath, NODE_SERVER] });
    try {
      await expect(s.reload({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
      const controller = new AbortController();
      const waiting = s.reload({ signal: controller.signal });
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
      // The reload itself went on: generation 2 serves.
      expect(await until(() => s.status().generation === 2, 30_000)).toBe(true);
      await untilServedBy(s.ports[0]!, 2);
      await expect(s.reload({ bogus: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(s.scale(0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    } finally {
      await s.stop();
    }
  });
});
