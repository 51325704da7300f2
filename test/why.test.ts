// whyInUse(options) and the EADDRINUSE errors that carry its causes: each cause made for
// real on loopback, and compared with the outside witnesses: ss -tanpe (pid, uid, state,
// timer), and for a bound-only socket, which Debian 12's ss cannot list, the python3
// program that bound it (its own pid and port).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createListener, listen, restart, tcpStatesSync, timeWaitOn, whyInUse, type AddressInUseError, type ListenOptions, type TimeWaitCause } from '../lib/index';
import { CLI, DIST_INDEX } from './helpers/dist';
import { closeTracked, greeter, portOf, track } from './helpers/listen';
import { isLinux } from './helpers/net';
import { ssDetailedRows, ssRows } from './helpers/ss';

afterEach(closeTracked);

const isRoot = process.getuid?.() === 0;
const PYTHON = '/usr/bin/python3';

// A python3 program that makes one socket as told, prints "PID PORT" and sleeps until its stdin closes.
const HOLDER = `
import os, socket, sys
family, host, port, mode, reuseport = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == '1'
s = socket.socket(socket.AF_INET6 if family == '6' else socket.AF_INET)
if family == '6': s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
if reuseport: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((host, port))
if mode == 'listen': s.listen(8)
print(os.getpid(), s.getsockname()[1], flush=True)
sys.stdin.read()
`;

interface Holder {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

/** A python3 process holding a socket on `port` (0: any), bound or listening; as `uid` when given. */
async function holder(o: { host?: string; family?: 4 | 6; port?: number; mode: 'bind' | 'listen'; reusePort?: boolean; uid?: number }): Promise<Holder> {
  const child = spawn(PYTHON, ['-c', HOLDER, String(o.family ?? 4), o.host ?? '127.0.0.1', String(o.port ?? 0), o.mode, o.reusePort ? '1' : '0'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(o.uid === undefined ? {} : { uid: o.uid, gid: o.uid }),
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as [string];
  clearTimeout(timer);
  const [pid, port] = line.split(' ').map(Number);
  if (!Number.isInteger(port)) throw new Error(`python3 holder did not start: ${line}`);
  return {
    pid: pid!,
    port: port!,
    async stop() {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

async function rejection<T>(promise: Promise<T>): Promise<AddressInUseError> {
  try {
    await promise;
  } catch (error) {
    return error as AddressInUseError;
  }
  throw new Error('expected a rejection');
}

/** A free port on 127.0.0.1 (and ::), found by binding 0 and letting it go. */
async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '::');
  await once(s, 'listening');
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(!isLinux)('whyInUse: a live listener', () => {
  it('another process listening: pid, uid and command as ss -tanpe shows them', async () => {
    const python = await holder({ mode: 'listen' });
    const why = await whyInUse({ host: '127.0.0.1', port: python.port });
    expect(why).toMatchObject({ canBind: false, error: { code: 'EADDRINUSE' }, family: 'ipv4', address: '127.0.0.1' });
    expect(why.wouldBind).toEqual({ none: false, reuseAddr: false, reusePort: false, both: false });
    expect(why.causes.map((c) => c.kind)).toEqual(['listener']);
    const [socket] = why.causes[0]!.sockets;
    expect(socket).toMatchObject({ state: 'LISTEN', pid: python.pid, command: 'python3', uid: 0 });
    const ss = ssDetailedRows(python.port, { processes: true }).filter((row) => row.tcpState === 'LISTEN');
    expect(ss).toHaveLength(1);
    expect(ss[0]!.users.map((u) => u.pid)).toEqual([python.pid]);
    expect(ss[0]!).toMatchObject({ uid: socket!.uid, inode: socket!.inode, cookie: socket!.cookie });
    expect(why.causes[0]!.fix).toContain(`kill ${python.pid}`);
    await python.stop();
    // Gone: the same question now binds, with nothing to explain.
    expect(await whyInUse({ host: '127.0.0.1', port: python.port })).toMatchObject({ canBind: true, error: null, causes: [] });
  });

  it("listen()'s EADDRINUSE carries the same cause, computed when it failed; createListener()'s too", async () => {
    const first = await listen(greeter('a'), { host: '127.0.0.1' });
    const port = portOf(first);
    const error = await rejection(listen(track(net.createServer()), { host: '127.0.0.1', port }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', port, message: `bind EADDRINUSE 127.0.0.1:${port}` });
    expect(error.causes?.map((c) => c.kind)).toEqual(['listener']);
    expect(error.causes?.[0]!.sockets[0]).toMatchObject({ pid: process.pid, state: 'LISTEN' });
    const again = await rejection(createListener({ host: '127.0.0.1', port }));
    expect(again.causes?.map((c) => c.kind)).toEqual(['listener']);
  });

  it('a successful listen() computes nothing: no causes property on anything', async () => {
    const server = await listen(greeter('a'), { host: '127.0.0.1' });
    expect(server.listening).toBe(true);
  });
});

describe.skipIf(!isLinux)('whyInUse: TIME_WAIT, the reuse options of the old and the new socket', () => {
  const MODES: Record<string, { options: ListenOptions; old: { reuseAddr: boolean; reusePort: boolean }; binds: Record<string, boolean> }> = {
    none: { options: { reuseAddr: false }, old: { reuseAddr: false, reusePort: false }, binds: { none: false, reuseAddr: false, reusePort: false, both: false } },
    SO_REUSEADDR: { options: { reuseAddr: true }, old: { reuseAddr: true, reusePort: false }, binds: { none: false, reuseAddr: true, reusePort: false, both: true } },
    SO_REUSEPORT: { options: { reuseAddr: false, reusePort: true }, old: { reuseAddr: false, reusePort: true }, binds: { none: false, reuseAddr: false, reusePort: true, both: true } },
  };

  it.each(Object.keys(MODES))('old listener %s, 3 TIME_WAITs: count and time left as ss shows, the old options, what binds', async (mode) => {
    const m = MODES[mode]!;
    const old = await listen(greeter('old'), { host: '127.0.0.1', ...m.options });
    const port = portOf(old);
    expect((await timeWaitOn(old, 3)).timeWait).toBe(3);
    await new Promise((r) => old.close(r));

    const why = await whyInUse({ host: '127.0.0.1', port, reuseAddr: false });
    const ss = ssDetailedRows(port).filter((row) => row.tcpState === 'TIME_WAIT' && row.localPort === port);
    expect(why.canBind).toBe(false);
    expect(why.wouldBind).toEqual(m.binds);
    expect(why.causes.map((c) => c.kind)).toEqual(['time-wait']);
    const cause = why.causes[0] as TimeWaitCause;
    expect(cause.count).toBe(3);
    expect(ss).toHaveLength(3);
    expect(cause.oldOptions).toEqual(m.old);
    // The time left agrees with ss's timer (ss rounds to the second above 10 s).
    for (const row of ss) {
      const mine = cause.sockets.find((s) => s.remotePort === row.peerPort)!;
      expect(mine.cookie).toBe(row.cookie);
      expect(Math.abs(mine.timeLeftMs! - row.timer!.expiresMs)).toBeLessThan(row.timer!.resolutionMs + 1000);
    }
    expect(cause.timeLeftMs.max).toBeLessThanOrEqual(60_000);
    expect(cause.timeLeftMs.min).toBeGreaterThan(50_000);
    if (mode === 'none') expect(cause.fix).toMatch(/^wait \d+\.\d s/);
    if (mode === 'SO_REUSEADDR') expect(cause.fix).toContain('reuseAddr: true');
    if (mode === 'SO_REUSEPORT') expect(cause.fix).toContain('reusePort: true');

    // The matrix is what listen() meets: the option it says binds, binds.
    if (m.binds.reuseAddr) expect((await listen(greeter('new'), { host: '127.0.0.1', port, reuseAddr: true })).listening).toBe(true);
    if (m.binds.reusePort) expect((await listen(greeter('new'), { host: '127.0.0.1', port, reuseAddr: false, reusePort: true })).listening).toBe(true);
  });

  it("restart() into TIME_WAIT without SO_REUSEADDR: its EADDRINUSE says so, and which option of the old socket decided", async () => {
    const old = await listen(greeter('old'), { host: '127.0.0.1', reuseAddr: true });
    const port = portOf(old);
    expect((await timeWaitOn(old, 2)).timeWait).toBe(2);
    const error = await rejection(restart(old, track(net.createServer()), { reuseAddr: false }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', port });
    expect(error.causes?.map((c) => c.kind)).toEqual(['time-wait']);
    const cause = error.causes![0] as TimeWaitCause;
    expect(cause.count).toBe(2);
    expect(cause.oldOptions).toEqual({ reuseAddr: true, reusePort: false });
    expect(cause.fix).toContain('reuseAddr: true');
  });
});

describe.skipIf(!isLinux)('whyInUse: connections still open on the port', () => {
  it("the old listener is gone, its accepted connection is not: ESTABLISHED holds the port against a bind without SO_REUSEADDR", async () => {
    const old = await listen(track(net.createServer((socket) => socket.on('error', () => {}))), { host: '127.0.0.1' });
    const port = portOf(old);
    const client = net.connect({ port, host: '127.0.0.1' });
    client.on('error', () => {});
    await once(client, 'connect');
    await new Promise((r) => setTimeout(r, 20)); // accepted
    old.close(); // the listener closes; the accepted connection stays open
    await new Promise((r) => setTimeout(r, 50));
    try {
      const why = await whyInUse({ host: '127.0.0.1', port, reuseAddr: false });
      expect(why.causes.map((c) => c.kind)).toEqual(['connection']);
      const [socket] = why.causes[0]!.sockets;
      expect(socket).toMatchObject({ state: 'ESTABLISHED', localPort: port, remotePort: client.localPort, pid: process.pid });
      const ss = ssDetailedRows(port, { processes: true }).filter((row) => row.localPort === port);
      expect(ss.map((row) => [row.tcpState, row.peerPort, row.users[0]?.pid])).toEqual([['ESTABLISHED', client.localPort, process.pid]]);
      // The connection kept its listener's SO_REUSEADDR: a listener with it binds past it.
      expect(why.wouldBind).toMatchObject({ none: false, reuseAddr: true });
    } finally {
      client.destroy();
    }
  });
});

describe.skipIf(!isLinux)('whyInUse: SO_REUSEPORT groups', () => {
  it('a group this socket did not ask to join (not-set-here), and a listener without SO_REUSEPORT (not-set-there)', async () => {
    const group = await listen(greeter('g'), { host: '127.0.0.1', reusePort: true });
    const port = portOf(group);
    const plain = await whyInUse({ host: '127.0.0.1', port });
    expect(plain.causes).toMatchObject([{ kind: 'reuseport-group', reason: 'not-set-here', uids: [0] }]);
    expect(plain.wouldBind).toMatchObject({ reusePort: true, none: false, reuseAddr: false });
    expect(await whyInUse({ host: '127.0.0.1', port, reusePort: true })).toMatchObject({ canBind: true, causes: [] });

    const lone = await listen(greeter('l'), { host: '127.0.0.1' });
    const joining = await whyInUse({ host: '127.0.0.1', port: portOf(lone), reusePort: true });
    expect(joining.causes).toMatchObject([{ kind: 'reuseport-group', reason: 'not-set-there' }]);
  });

  it.skipIf(!isRoot)('root-only: a group of another uid (65534): other-uid, with the uid ss shows', async () => {
    const stranger = await holder({ mode: 'listen', reusePort: true, uid: 65534 });
    const why = await whyInUse({ host: '127.0.0.1', port: stranger.port, reusePort: true });
    expect(why.causes).toMatchObject([{ kind: 'reuseport-group', reason: 'other-uid', uids: [65534] }]);
    expect(why.causes[0]!.sockets[0]).toMatchObject({ pid: stranger.pid, uid: 65534 });
    const ss = ssDetailedRows(stranger.port, { processes: true }).filter((row) => row.tcpState === 'LISTEN');
    expect(ss.map((row) => [row.uid, row.users[0]?.pid])).toEqual([[65534, stranger.pid]]);
    expect(why.wouldBind).toEqual({ none: false, reuseAddr: false, reusePort: false, both: false });
  });
});

describe.skipIf(!isLinux)('whyInUse: a socket bound to the port that does not listen', () => {
  it('found through sock_diag (bound-inactive, Linux >= 6.8) with the pid python3 reports; ss 6.1 lists nothing', async () => {
    const python = await holder({ mode: 'bind' });
    const why = await whyInUse({ host: '127.0.0.1', port: python.port, reuseAddr: false });
    expect(why.canBind).toBe(false);
    expect(why.causes.map((c) => c.kind)).toEqual(['bound']);
    expect(why.causes[0]!.sockets).toMatchObject([{ state: 'CLOSED', pid: python.pid, command: 'python3', localPort: python.port }]);
    // The witness is the program itself: it printed its pid and the port it bound. ss (Debian 12) shows no row.
    expect(ssRows(python.port)).toEqual([]);
    // tcpStates lists it when the filter names CLOSED (sock_diag's bound-inactive bit), not without.
    expect(tcpStatesSync({ localPort: python.port, state: 'CLOSED' })).toMatchObject([{ state: 'CLOSED', localAddress: '127.0.0.1', localPort: python.port, remotePort: 0 }]);
    expect(tcpStatesSync({ localPort: python.port })).toEqual([]);
    // Both SO_REUSEADDR? python's socket has none: still refused. After it exits: binds.
    await python.stop();
    expect((await whyInUse({ host: '127.0.0.1', port: python.port, reuseAddr: false })).canBind).toBe(true);
  });

  it("connect()'s bind to a local port another socket holds: the EADDRINUSE carries the cause", async () => {
    const python = await holder({ mode: 'bind' });
    const server = await listen(greeter('s'), { host: '127.0.0.1' });
    const error = await rejection(connect({ host: '127.0.0.1', port: portOf(server), localAddress: '127.0.0.1', localPort: python.port }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    expect(error.causes?.map((c) => c.kind)).toEqual(['bound']);
    expect(error.causes?.[0]!.sockets[0]!.pid).toBe(python.pid);
  });
});

describe.skipIf(!isLinux)('whyInUse: the dual-stack clash', () => {
  it('[::] without IPV6_V6ONLY holds the port for IPv4 too; with it, 0.0.0.0 binds', async () => {
    const port = await freePort();
    const python = await holder({ family: 6, host: '::', port, mode: 'listen' });
    const why = await whyInUse({ host: '0.0.0.0', port });
    expect(why.causes).toMatchObject([{ kind: 'dual-stack', direction: 'ipv6-covers-ipv4', sockets: [{ family: 'ipv6', localAddress: '::', pid: python.pid, crossFamily: true }] }]);
    const ss = ssDetailedRows(port, { processes: true }).filter((row) => row.tcpState === 'LISTEN');
    expect(ss.map((row) => [row.family, row.localAddress, row.users[0]?.pid])).toEqual([['ipv6', '::', python.pid]]);
    // IPV6_V6ONLY as sock_diag reports it: ss -e prints the same flag.
    expect(why.causes[0]!.sockets[0]!.v6only).toBe(false);
    expect(execFileSync('ss', ['-tanHe6', `( sport = :${port} )`], { encoding: 'utf8' })).toContain('v6only:0');
    expect(why.causes[0]!.summary).toContain('without IPV6_V6ONLY (sock_diag: v6only 0)');
    await python.stop();
    const v6only = await listen(greeter('v6'), { host: '::', port, ipv6Only: true });
    expect(v6only.listening).toBe(true);
    expect(await whyInUse({ host: '0.0.0.0', port })).toMatchObject({ canBind: true, causes: [] });
  });

  it('an IPv6-only [::] listener (v6only 1, as ss -e says) is no cause for an IPv4 bind; the IPv4 listener beside it is', async () => {
    const v6 = await listen(greeter('v6'), { host: '::', ipv6Only: true });
    const port = portOf(v6);
    await listen(greeter('v4'), { host: '0.0.0.0', port });
    expect(execFileSync('ss', ['-tanHe6', `( sport = :${port} )`], { encoding: 'utf8' })).toContain('v6only:1');
    const why = await whyInUse({ host: '0.0.0.0', port });
    expect(why.causes.map((c) => c.kind)).toEqual(['listener']);
    expect(why.causes[0]!.sockets.map((s) => s.family)).toEqual(['ipv4']);
    expect(why.sockets.find((s) => s.family === 'ipv6')).toBeUndefined();
  });

  it('and the reverse: 0.0.0.0 blocks a dual-stack [::] listen (the default host); ipv6Only: true binds', async () => {
    const v4 = await listen(greeter('v4'), { host: '0.0.0.0' });
    const port = portOf(v4);
    const error = await rejection(listen(track(net.createServer()), { port }));
    expect(error).toMatchObject({ code: 'EADDRINUSE', address: '::', port });
    expect(error.causes).toMatchObject([{ kind: 'dual-stack', direction: 'ipv4-blocks-dual-stack', sockets: [{ family: 'ipv4', localAddress: '0.0.0.0', pid: process.pid }] }]);
    expect(await whyInUse({ port, ipv6Only: true })).toMatchObject({ canBind: true, family: 'ipv6', address: '::' });
  });
});

describe.skipIf(!isLinux)('whyInUse: bad input, as Node checks it', () => {
  it('TypeError / RangeError with Node codes; unknown keys refused; each option read once', async () => {
    await expect(whyInUse(undefined as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(whyInUse({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: /"options.port" property must be of type number/ });
    await expect(whyInUse({ port: '80' } as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await expect(whyInUse({ port: 0 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(whyInUse({ port: 65536 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(whyInUse({ port: 1.5 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await expect(whyInUse({ port: 80, reuseaddr: false } as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /options.reuseaddr' is not an option of whyInUse/ });
    await expect(whyInUse({ port: 80, reusePort: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(whyInUse({ port: 80, host: 5 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(whyInUse({ port: 80, host: '127.0.0.1\0x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(whyInUse(new Map([['port', 80]]) as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    let reads = 0;
    const port = await freePort();
    const tricky = {
      get port() {
        return reads++ === 0 ? port : -1;
      },
    };
    expect((await whyInUse(tricky as never)).port).toBe(port);
    expect(reads).toBe(1);
  });
});

describe.skipIf(!isLinux)('sockctl why [HOST:]PORT', () => {
  const run = (...args: string[]) => {
    try {
      return { status: 0, stdout: execFileSync(process.execPath, [CLI, 'why', ...args], { encoding: 'utf8', timeout: 10_000 }), stderr: '' };
    } catch (error) {
      const e = error as { status: number; stdout: string; stderr: string };
      return { status: e.status, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('prints the causes and their fix, exits 1; --json is whyInUse()\'s result; a free port exits 0', async () => {
    const python = await holder({ mode: 'listen' });
    const text = run(`127.0.0.1:${python.port}`);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`127.0.0.1:${python.port} (SO_REUSEADDR on, SO_REUSEPORT off): bind fails now with EADDRINUSE`);
    expect(text.stdout).toContain(`1. listener: pid ${python.pid} (python3, uid 0) listens on 127.0.0.1:${python.port}`);
    expect(text.stdout).toContain(`fix: stop that process (kill ${python.pid})`);
    const json = run(`127.0.0.1:${python.port}`, '--json', '--no-reuse-addr');
    expect(json.status).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed).toMatchObject({ canBind: false, reuseAddr: false, causes: [{ kind: 'listener', sockets: [{ pid: python.pid }] }] });
    await python.stop();
    const free = run(String(python.port));
    expect(free.status).toBe(0);
    expect(free.stdout).toContain(`[::]:${python.port} (SO_REUSEADDR on, SO_REUSEPORT off, IPV6_V6ONLY off): a listener could bind now`);
  });

  it('bad usage exits 2', () => {
    for (const args of [[], ['x'], ['0'], ['70000'], ['1:2:3'], ['[1.2.3.4]:80'], ['80', '--nope'], ['80', '81']]) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^sockctl why: /);
    }
  });
});

describe.skipIf(!isLinux || !isRoot)('connect(): no free local port (EADDRNOTAVAIL), in a network namespace of the test\'s own', () => {
  it('root-only: a two-port range exhausted, then held by TIME_WAIT; tcp_tw_reuse=1 lets the next connect through', () => {
    // unshare -n: a namespace with its own ip_local_port_range and tcp_tw_reuse; nothing leaves it.
    const out = execFileSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$1"', process.execPath, join(__dirname, 'fixtures', 'why-port-range.js')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, SOCKCTL_INDEX: DIST_INDEX },
    });
    const r = JSON.parse(out);
    expect(r.failed).toBeUndefined();
    expect(r.open.results).toEqual(['connected', 'connected', 'connect EADDRNOTAVAIL']);
    expect(r.open.ss).toEqual(['ESTAB', 'ESTAB']);
    expect(r.open.causes).toMatchObject([{ kind: 'port-range', range: [40000, 40001], inUse: 2, timeWait: 0, twReuse: 0 }]);
    expect(r.open.causes[0].fix).toContain('widen net.ipv4.ip_local_port_range');
    // The client closed first: its two ports sit in TIME_WAIT (ss agrees), and tcp_tw_reuse=0 keeps them.
    expect(r.timeWait.result).toBe('connect EADDRNOTAVAIL');
    expect(r.timeWait.ss).toEqual(['TIME-WAIT', 'TIME-WAIT']);
    expect(r.timeWait.causes).toMatchObject([{ kind: 'port-range', inUse: 2, timeWait: 2, twReuse: 0 }]);
    expect(r.timeWait.causes[0].fix).toContain('net.ipv4.tcp_tw_reuse=1 (now 0)');
    // What the fix says: with tcp_tw_reuse=1, a TIME_WAIT older than 1 s is taken over.
    expect(r.twReuse1.result).toBe('connected');
    expect([...r.twReuse1.ss].sort()).toEqual(['ESTAB', 'TIME-WAIT']);
  });
});
