// listenFds() and listen(server, { descriptor }) against the real thing: Debian's
// systemd-socket-activate starting a Node program at the first connection, with --fdname
// and with two sockets. The program reports what it got; /proc/self/fdinfo (the kernel)
// says whether close-on-exec is set. Faults in the variables run in child processes
// spawned with exactly the descriptors they should have.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createListener, listen, socket, SystemdDescriptor } from '../lib/index';
import { DIST_INDEX } from './helpers/dist';
import { closeTracked, httpGet, listenRows, portOf, track } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';
import { strictCi } from './helpers/ci';

const FIXTURE = join(__dirname, 'fixtures', 'activated.js');
// gdb, attached to the fixture as root, clears FD_CLOEXEC before listenFds() runs (Node has
// set it at start-up): then only the library can have set it again. Under CI it must work.
const clearsCloexec = strictCi || (process.getuid?.() === 0 && spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0);
const CLEAR_CLOEXEC = clearsCloexec ? '1' : '';

const hasActivate = (() => {
  try {
    execFileSync('systemd-socket-activate', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const children: ChildProcess[] = [];
afterEach(async () => {
  await closeTracked();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

/** A port nobody listens on now (bound to 0 and closed). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = portOf(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function getJson(port: number): Promise<Record<string, any>> {
  return JSON.parse(await httpGet(port)) as Record<string, any>;
}

/** systemd-socket-activate ARGS -- node FIXTURE; resolves once it listens (ss). */
async function activate(args: string[], ports: number[]): Promise<ChildProcess> {
  const child = spawn('systemd-socket-activate', [...args, '-E', `SOCKCTL_DIST=${DIST_INDEX}`, process.execPath, FIXTURE], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  const deadline = Date.now() + 5000;
  while (!ports.every((port) => listenRows(port).length === 1)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('systemd-socket-activate did not listen');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return child;
}

describe.skipIf(!isLinux || !hasActivate)('systemd-socket-activate starts a Node program that serves with listenFds()', () => {
  it('one socket with --fdname: started at the first connection, LISTEN_PID its own pid, the name, close-on-exec, the variables unset', async () => {
    const port = await freePort();
    const activator = await activate(['-l', `127.0.0.1:${port}`, '--fdname=web', '-E', `CLEAR_CLOEXEC=${CLEAR_CLOEXEC}`], [port]);
    const report = await getJson(port);
    // Cleared first (where gdb can): the library set it.
    expect(report.cloexecBefore).toEqual(clearsCloexec ? [false] : null);
    // systemd-socket-activate 252 execs in place: the program's pid is the activator's.
    expect(report.pid).toBe(activator.pid);
    expect(report.before).toEqual({ pid: String(activator.pid), fds: '1', names: 'web' });
    expect(report.after).toEqual({});
    expect(report.got).toEqual([
      { fd: 3, name: 'web', type: 'stream', family: 'ipv4', listening: true, address: '127.0.0.1', port, cloexec: true },
    ]);
    expect(report.refused).toEqual([]);
    expect(await getJson(port)).toMatchObject({ name: 'web' }); // and it goes on serving
  });

  it('two sockets, two names: each served by its own http.Server', async () => {
    const [a, b] = [await freePort(), await freePort()];
    await activate(['-l', `127.0.0.1:${a}`, '-l', `127.0.0.1:${b}`, '--fdname=api:admin'], [a, b]);
    const first = await getJson(b);
    expect(first.got.map((d: { fd: number; name: string; port: number }) => [d.fd, d.name, d.port])).toEqual([
      [3, 'api', a],
      [4, 'admin', b],
    ]);
    expect(first.name).toBe('admin');
    expect((await getJson(a)).name).toBe('api');
  });

  it('without --fdname every name is "unknown", as sd_listen_fds_with_names says', async () => {
    const port = await freePort();
    await activate(['-l', `127.0.0.1:${port}`], [port]);
    expect((await getJson(port)).got[0].name).toBe('unknown');
  });
});

/** Runs the fixture with `fds` as its 3, 4, ... and LISTEN_PID set to its own pid (exec through sh). */
async function runWith(fds: number[], env: Record<string, string>, pid: 'own' | 'other' = 'own'): Promise<Record<string, any>> {
  const script = pid === 'own' ? 'LISTEN_PID=$$ exec "$0" "$@"' : 'LISTEN_PID=1 exec "$0" "$@"';
  const child = spawn('sh', ['-c', script, process.execPath, FIXTURE], {
    stdio: ['ignore', 'pipe', 'inherit', ...fds],
    env: { ...process.env, SOCKCTL_DIST: DIST_INDEX, PRINT: '1', ...env },
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const deadline = Date.now() + 10_000;
  while (!out.includes('\n')) {
    if (Date.now() > deadline) throw new Error(`no report: ${out}`);
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return JSON.parse(out.split('\n')[0]!) as Record<string, any>;
}

describe.skipIf(!isLinux)('listenFds(): faults in what the supervisor passed', () => {
  it('new SystemdDescriptor() outside listenFds: ERR_ILLEGAL_CONSTRUCTOR before the descriptor is taken (found by the fuzz campaign)', () => {
    const owned = socket('ipv4');
    const before = openDescriptorCount();
    const Made = SystemdDescriptor as unknown as new (...args: unknown[]) => unknown;
    // Junk used to throw an uncoded TypeError after the number was taken (closed again at GC).
    for (const info of [null, { type: 'stream', family: 'ipv4', listening: false, address: '127.0.0.1', port: 0 }]) {
      expect(() => new Made(owned.fd, 'web', info)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR', message: 'Illegal constructor' }));
    }
    expect(existsSync(`/proc/self/fd/${owned.fd}`)).toBe(true);
    expect(openDescriptorCount()).toBe(before);
    owned.close();
  });

  it('a datagram socket is described (not listening) and listen() refuses it with EINVAL; the listener next to it serves', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    const udp = socket('ipv4', 'udp');
    try {
      const report = await runWith([listener.fd, udp.fd], { LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:dns', CLEAR_CLOEXEC });
      expect(report.cloexecBefore).toEqual(clearsCloexec ? [false, false] : null);
      expect(report.got.map((d: Record<string, unknown>) => [d.name, d.type, d.listening, d.cloexec])).toEqual([
        ['web', 'stream', true, true],
        ['dns', 'datagram', false, true],
      ]);
      expect(report.refused).toEqual([
        {
          name: 'dns',
          code: 'EINVAL',
          stillOwned: true,
          message: expect.stringMatching(/^listen EINVAL \(options\.descriptor \(fd 4\) is a datagram ipv4 socket, not listening, at 0\.0\.0\.0:0: not a listening stream socket\)$/),
        },
      ]);
    } finally {
      udp.close();
      listener.close();
    }
  });

  it('LISTEN_PID of another process: EINVAL that says so, nothing taken (fd 3 still open), the variables unset', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      const report = await runWith([listener.fd], { LISTEN_FDS: '1' }, 'other');
      expect(report.error).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'sd_listen_fds' });
      expect(report.error.message).toMatch(/^sd_listen_fds EINVAL \(LISTEN_PID is 1, not this process \(\d+\)/);
      expect(report.after).toEqual({});
      expect(report.fd3Open).toBe(true);
    } finally {
      listener.close();
    }
  });

  it('LISTEN_FDS larger than what is open: an error naming the first missing descriptor, and nothing taken', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      // Only fd 3 is passed; Node itself holds 4 and up (epoll, eventfd, pipes) or nothing.
      const report = await runWith([listener.fd], { LISTEN_FDS: '40' });
      expect(['EBADF', 'ENOTSOCK']).toContain(report.error.code);
      expect(report.error.message).toMatch(/\(LISTEN_FDS is 40 but fd \d+ \(unknown\) is not (open|a socket)\)$/);
      expect(report.fd3Open).toBe(true); // fd 3 was not taken (and closed) either
    } finally {
      listener.close();
    }
  });

  it('LISTEN_FDS=999999999 without names: the same error at the first missing descriptor, not out of memory (found by the fuzz campaign)', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      const report = await runWith([listener.fd], { LISTEN_FDS: '999999999' });
      expect(['EBADF', 'ENOTSOCK']).toContain(report.error.code);
      expect(report.error.message).toMatch(/\(LISTEN_FDS is 999999999 but fd \d+ \(unknown\) is not (open|a socket)\)$/);
      expect(report.fd3Open).toBe(true);
    } finally {
      listener.close();
    }
  });

  it('LISTEN_FDNAMES with the wrong count, and LISTEN_FDS that is not a number: EINVAL', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      const names = await runWith([listener.fd], { LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b' });
      expect(names.error.message).toBe('sd_listen_fds EINVAL (LISTEN_FDNAMES has 2 names for LISTEN_FDS=1)');
      const count = await runWith([listener.fd], { LISTEN_FDS: '1x' });
      expect(count.error.message).toBe('sd_listen_fds EINVAL (LISTEN_FDS is not a number: "1x")');
    } finally {
      listener.close();
    }
  });

  it('unsetEnvironment: false leaves the variables for the program to read; a second listenFds() is EBUSY, never a second owner', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      const report = await runWith([listener.fd], { LISTEN_FDS: '1', KEEP_ENV: '1' });
      expect(report.after).toMatchObject({ fds: '1' });
      expect(report.got).toHaveLength(1);
      expect(report.second).toBe('EBUSY');
    } finally {
      listener.close();
    }
  });
});

describe('listenFds() in this process', async () => {
  const { listenFds } = await import('../lib/index');
  it('not socket-activated: [] (and bad options are refused with Node codes)', () => {
    delete process.env.LISTEN_PID;
    delete process.env.LISTEN_FDS;
    expect(listenFds()).toEqual([]);
    expect(() => listenFds({ unset: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => listenFds({ unsetEnvironment: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'The "options.unsetEnvironment" property must be of type boolean. Received type number (1)' }),
    );
  });
});

describe.skipIf(!isLinux)('listen(server, { descriptor })', () => {
  it('serves on a createListener() descriptor: one LISTEN socket in ss, the descriptor passes to the server', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    const server = await listen(track(http.createServer((_, res) => res.end('on the descriptor'))), { descriptor: listener });
    expect(listener.closed).toBe(true);
    expect(portOf(server)).toBe(listener.address.port);
    expect(listenRows(portOf(server))).toHaveLength(1);
    expect(await httpGet(portOf(server))).toBe('on the descriptor');
  });

  it('a number, with a backlog: listen(2) again with it (ss shows it as the LISTEN row\'s Send-Q)', async () => {
    const listener = await createListener({ host: '127.0.0.1', backlog: 5 });
    const server = await listen(track(net.createServer()), { descriptor: listener.release(), backlog: 77 });
    expect(listenRows(portOf(server))[0]!.sendQ).toBe(77);
  });

  it('refuses what is not a listener, leaving it with the caller: unbound TCP, a file, a closed descriptor', async () => {
    const before = openDescriptorCount();
    const unbound = socket('ipv4', 'tcp');
    await expect(listen(net.createServer(), { descriptor: unbound })).rejects.toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'listen', message: expect.stringContaining('is a stream ipv4 socket, not listening') }),
    );
    expect(unbound.closed).toBe(false);
    unbound.close();
    const file = openSync(__filename, 'r');
    await expect(listen(net.createServer(), { descriptor: file })).rejects.toThrow(expect.objectContaining({ code: 'ENOTSOCK', syscall: 'fstat' }));
    closeSync(file);
    await expect(listen(net.createServer(), { descriptor: unbound })).rejects.toThrow(
      expect.objectContaining({ code: 'EBADF', message: 'listen EBADF (options.descriptor is already closed or released)' }),
    );
    expect(openDescriptorCount()).toBe(before);
  });

  it('bad options: wrong type, unknown key next to descriptor (read once: a getter runs once)', async () => {
    await expect(listen(net.createServer(), { descriptor: 'x' as never })).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    const listener = await createListener({ host: '127.0.0.1' });
    try {
      await expect(listen(net.createServer(), { descriptor: listener, port: 80 } as never)).rejects.toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining("The property 'options.port' is not an option with a descriptor") }),
      );
      let reads = 0;
      const options = { get descriptor() { reads++; return listener; } };
      const server = await listen(track(net.createServer()), options);
      expect(reads).toBe(1);
      expect(server.listening).toBe(true);
    } finally {
      listener.close();
    }
  });
});
