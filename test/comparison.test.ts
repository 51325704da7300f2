// docs/comparison.md's table, claim by claim, for Node core and the four
// packages it names: each one exercised on this machine, on loopback, as installed from
// the npm registry (devDependencies). sockctl's own column is backed by its own tests.
import { execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once, type EventEmitter } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as NetKeepalive from 'net-keepalive';
import type * as UnixSocket from 'node-unix-socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { constants, createListener, fdOf, getOption, setOption } from '../lib/index';
import { connectedPair, isLinux, nextData, openDescriptorCount, type Pair } from './helpers/net';
import { pythonGetsockopt } from './helpers/python';
import { ssRows, ssState, waitForSs } from './helpers/ss';

const load = createRequire(__filename);

// What Node and the other packages did is read by an outside reader, never by sockctl's own
// getOption: python3's getsockopt on the same socket (inherited as its fd 3), by python's
// constants, and ss for TCP_INFO's state and window scale.
type Target = Parameters<typeof fdOf>[0];
const pyInt = (target: Target, name: string): number => pythonGetsockopt(fdOf(target), [name])[name]!;
const pyFlag = (target: Target, name: string): boolean => pyInt(target, name) !== 0;
/** ss -ti's wscale:SND,RCV for the connection from localPort to peerPort. */
function ssWscale(localPort: number, peerPort: number): { snd: number; rcv: number } {
  const out = execFileSync('ss', ['-tinH', `( sport = :${localPort} and dport = :${peerPort} )`], { encoding: 'utf8' });
  const [, snd, rcv] = /wscale:(\d+),(\d+)/.exec(out) ?? [];
  return { snd: Number(snd), rcv: Number(rcv) };
}
const packageRoot = (name: string) => join(__dirname, '..', 'node_modules', name);
const packageJson = (name: string) =>
  JSON.parse(readFileSync(join(packageRoot(name), 'package.json'), 'utf8')) as {
    version: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };

/** sockopt 2.0.1 ships no types: its two functions as its index.js defines them. */
interface Sockopt {
  getsockopt(socket: object, level: number, name: number): number;
  setsockopt(socket: object, level: number, name: number, value: number): void;
}

/** node-netstat 1.9.0 ships no types: what its lib/netstat.js exports and calls back with. */
interface NetstatRow {
  protocol: string;
  local: { port: number | null; address: string | null };
  remote: { port: number | null; address: string | null };
  state: string | null;
  pid: number;
}
interface NetstatOptions {
  sync?: boolean;
  watch?: boolean;
  filter?: Partial<{ protocol: string; state: string; local: { port: number }; remote: { port: number } }>;
  done?: (error: (Error & { code?: string; syscall?: string }) | null) => void;
}
type Netstat = ((options: NetstatOptions, handler: (row: NetstatRow) => boolean | void) => { cancel(): void } | undefined) & {
  commands: Record<string, { cmd: string; args: string[] }>;
  version: string;
};

const [nodeMajor, nodeMinor] = process.versions.node.split('.').map(Number) as [number, number];
/** listen({ reusePort }) and dgram's reusePort arrived in Node 23.1 and 22.12. */
const nodeHasReusePort = nodeMajor > 22 || (nodeMajor === 22 && nodeMinor >= 12);

/** Resolves with the listen error, or undefined once the server listens. */
function listenResult(server: net.Server): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    server.once('listening', () => resolve(undefined));
    server.once('error', resolve);
  });
}

async function listening(server: net.Server): Promise<number> {
  const error = await listenResult(server);
  if (error) throw error;
  return (server.address() as net.AddressInfo).port;
}

const closed = (server: net.Server) => new Promise((resolve) => server.close(resolve));

/** One connection that the listener's side closes first, so it sits in TIME_WAIT on `port`; resolves with the client's port. */
async function leaveTimeWait(server: net.Server, port: number): Promise<number> {
  server.once('connection', (accepted: net.Socket) => accepted.end());
  const client = net.connect(port, '127.0.0.1');
  client.resume();
  await once(client, 'connect');
  const clientPort = client.localPort!;
  await once(client, 'close');
  await waitForSs(port, () => ssState(port, clientPort) === 'TIME-WAIT');
  return clientPort;
}

/** Every property name along an object's prototype chain. */
function namesAlong(object: object | null): string[] {
  const names: string[] = [];
  for (let o = object; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    names.push(...Object.getOwnPropertyNames(o));
  }
  return names;
}

/** The first four bytes of a file: ELF or Mach-O. */
function magic(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const bytes = Buffer.alloc(4);
    readSync(fd, bytes, 0, 4, 0);
    return bytes.toString('hex');
  } finally {
    closeSync(fd);
  }
}
const ELF = '7f454c46';
const MACH_O_64 = 'cffaedfe';

/** python3 binds and listens a socket with SO_REUSEPORT set before bind: 'ok' or the errno name. */
function pythonReusePortListen(port: number): string {
  const script = `
import errno, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
`;
  return execFileSync('python3', ['-c', script, String(port)], { encoding: 'utf8', timeout: 10_000 }).trim();
}

describe.skipIf(!isLinux)(`Node core (${process.version})`, () => {
  it('a net.Server listener always has SO_REUSEADDR: no listen() option leaves it off', async () => {
    for (const options of [{}, { exclusive: true }, { reuseAddr: false }]) {
      const server = net.createServer().listen({ port: 0, host: '127.0.0.1', ...options });
      await listening(server);
      expect(pyFlag(server, 'SO_REUSEADDR'), JSON.stringify(options)).toBe(true);
      await closed(server);
    }
  });

  it('so a new listener binds a port whose connections sit in TIME_WAIT: EADDRINUSE cannot be reproduced', async () => {
    const old = net.createServer();
    const port = await listening(old.listen(0, '127.0.0.1'));
    const clientPort = await leaveTimeWait(old, port);
    await closed(old);
    const again = net.createServer().listen(port, '127.0.0.1');
    expect(await listenResult(again)).toBeUndefined();
    expect(ssState(port, clientPort)).toBe('TIME-WAIT');
    await closed(again);
  });

  it('a busy port fails with a Node-style error (the shape sockctl copies)', async () => {
    const first = net.createServer();
    const port = await listening(first.listen(0, '127.0.0.1'));
    const error = await listenResult(net.createServer().listen(port, '127.0.0.1'));
    expect(error).toMatchObject({ code: 'EADDRINUSE', errno: -constants.errno.EADDRINUSE!, syscall: 'listen', port });
    await closed(first);
  });

  it.skipIf(!nodeHasReusePort)('listen({ reusePort }) sets SO_REUSEPORT and two listeners share a port (Node >= 22.12)', async () => {
    const first = net.createServer().listen({ port: 0, host: '127.0.0.1', reusePort: true });
    const port = await listening(first);
    expect(pyFlag(first, 'SO_REUSEPORT')).toBe(true);
    const second = net.createServer().listen({ port, host: '127.0.0.1', reusePort: true });
    expect(await listenResult(second)).toBeUndefined();
    await Promise.all([closed(first), closed(second)]);
  });

  it.skipIf(nodeHasReusePort)('before Node 22.12 listen() ignores reusePort: SO_REUSEPORT stays off, a second listener gets EADDRINUSE', async () => {
    const first = net.createServer().listen({ port: 0, host: '127.0.0.1', reusePort: true });
    const port = await listening(first);
    expect(pyFlag(first, 'SO_REUSEPORT')).toBe(false);
    const error = await listenResult(net.createServer().listen({ port, host: '127.0.0.1', reusePort: true }));
    expect(error?.code).toBe('EADDRINUSE');
    await closed(first);
  });

  it(`dgram.createSocket({ reuseAddr }) sets SO_REUSEADDR; { reusePort } sets SO_REUSEPORT ${nodeHasReusePort ? '(Node >= 22.12)' : 'only from Node 22.12: not here'}`, async () => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true, reusePort: true } as dgram.SocketOptions);
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    expect(pyFlag(socket, 'SO_REUSEADDR')).toBe(true);
    expect(pyFlag(socket, 'SO_REUSEPORT')).toBe(nodeHasReusePort);
    socket.close();
  });

  it('listen({ ipv6Only }) is one of its few pre-bind choices, and it does set IPV6_V6ONLY', async () => {
    const server = net.createServer().listen({ port: 0, host: '::1', ipv6Only: true });
    await listening(server);
    expect(pyFlag(server, 'IPV6_V6ONLY')).toBe(true);
    await closed(server);
  });

  describe('on a connected pair', () => {
    let pair: Pair;
    beforeEach(async () => {
      pair = await connectedPair();
    });
    afterEach(() => pair.close());

    it('end() is SHUT_WR: FIN goes out and the socket still receives; nothing shuts down reading', async () => {
      const eof = once(pair.accepted, 'end');
      pair.client.end();
      await eof;
      await waitForSs(pair.port, () => ssState(pair.client.localPort!, pair.port) === 'FIN-WAIT-2');
      const reply = nextData(pair.client);
      pair.accepted.write('after our FIN');
      expect(await reply).toBe('after our FIN');
      expect(namesAlong(pair.client).filter((name) => /shut/i.test(name))).toEqual([]);
    });

    it('no getsockopt, dup, TCP_INFO or state listing anywhere in net, net.Socket or net.Server', () => {
      const names = [...Object.keys(net), ...namesAlong(pair.client), ...namesAlong(pair.server)];
      expect(names.filter((name) => /sockopt|shutdown|^dup|tcp_?info|tcpStates?|waitForState/i.test(name))).toEqual([]);
    });

    it('reads back only dgram buffer sizes and, where it exists, getTypeOfService(): they agree with getsockopt', async () => {
      const getters = Object.getOwnPropertyNames(net.Socket.prototype).filter((name) => name.startsWith('get'));
      expect(getters.filter((name) => name !== 'getTypeOfService')).toEqual([]);
      const socket = pair.client as net.Socket & { setTypeOfService?(tos: number): void; getTypeOfService?(): number };
      expect(typeof socket.getTypeOfService === 'function', 'getTypeOfService() from Node 24 on').toBe(nodeMajor >= 24);
      if (socket.getTypeOfService && socket.setTypeOfService) {
        socket.setTypeOfService(0x10);
        expect(pyInt(socket, 'IP_TOS')).toBe(0x10);
        expect(socket.getTypeOfService()).toBe(0x10);
      }

      const udp = dgram.createSocket('udp4');
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      udp.setRecvBufferSize(65536);
      udp.setSendBufferSize(65536);
      expect(udp.getRecvBufferSize()).toBe(pyInt(udp, 'SO_RCVBUF'));
      expect(udp.getSendBufferSize()).toBe(pyInt(udp, 'SO_SNDBUF'));
      udp.close();
    });
  });
});

describe.skipIf(!isLinux)(`node-unix-socket ${packageJson('node-unix-socket').version}`, () => {
  const unix = load('node-unix-socket') as typeof UnixSocket;

  it('exports unix-domain SOCK_DGRAM and SOCK_SEQPACKET classes and a SO_REUSEPORT TCP descriptor, nothing else', () => {
    expect(Object.keys(unix).sort()).toEqual(['DgramSocket', 'SeqpacketServer', 'SeqpacketSocket', 'closeFd', 'createReuseportFd']);
  });

  it('is a napi-rs addon whose binaries come prebuilt in per-platform packages (no Windows one)', () => {
    expect(packageJson('node-unix-socket')).toHaveProperty('napi.name', 'node-unix-socket');
    expect(Object.keys(packageJson('node-unix-socket').optionalDependencies ?? {}).sort()).toEqual([
      'node-unix-socket-darwin-arm64',
      'node-unix-socket-darwin-x64',
      'node-unix-socket-linux-arm-gnueabihf',
      'node-unix-socket-linux-arm64-gnu',
      'node-unix-socket-linux-arm64-musl',
      'node-unix-socket-linux-x64-gnu',
      'node-unix-socket-linux-x64-musl',
    ]);
  });

  it('createReuseportFd(): a bound, not listening, TCP descriptor with SO_REUSEADDR and SO_REUSEPORT both on, not close-on-exec', () => {
    for (const host of ['127.0.0.1', '::1']) {
      const fd = unix.createReuseportFd(0, host);
      try {
        expect(pythonGetsockopt(fd, ['SO_TYPE', 'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_ACCEPTCONN'])).toEqual({ SO_TYPE: constants.SOCK_STREAM, SO_REUSEADDR: 1, SO_REUSEPORT: 1, SO_ACCEPTCONN: 0 });
        const flags = parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
        expect(flags & 0o2000000).toBe(0); // O_CLOEXEC
      } finally {
        unix.closeFd(fd);
      }
    }
  });

  it('two net.Servers listen on one port through it', async () => {
    const first = net.createServer().listen({ fd: unix.createReuseportFd(0, '127.0.0.1') });
    const port = await listening(first);
    const second = net.createServer().listen({ fd: unix.createReuseportFd(port, '127.0.0.1') });
    expect(await listening(second)).toBe(port);
    expect(ssRows(port).filter((row) => row.state === 'LISTEN')).toHaveLength(2);
    await Promise.all([closed(first), closed(second)]);
  });

  it('errors: an Error with the strerror text and code "Unknown", no errno or syscall; no descriptor leaks', async () => {
    const busy = net.createServer();
    const port = await listening(busy.listen(0, '127.0.0.1'));
    const before = openDescriptorCount();
    for (let i = 0; i < 20; i++) {
      let error: (Error & { code?: string; errno?: number; syscall?: string }) | undefined;
      try {
        unix.createReuseportFd(port, '127.0.0.1');
      } catch (e) {
        error = e as typeof error;
      }
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ message: 'Address already in use', code: 'Unknown' });
      expect(error?.errno).toBeUndefined();
      expect(error?.syscall).toBeUndefined();
    }
    expect(openDescriptorCount()).toBe(before);
    await closed(busy);
  });

  /** once(), settled from a macrotask of its own: see the Node 26 test below. */
  const nextEvent = <T extends unknown[]>(emitter: EventEmitter, name: string) =>
    new Promise<T>((resolve) => emitter.once(name, (...args: unknown[]) => setImmediate(resolve, args as T)));

  it('its SOCK_SEQPACKET and SOCK_DGRAM sockets live at filesystem paths (dgram: buffer sizes); seqpacket end() is SHUT_WR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-nus-'));
    const server = new unix.SeqpacketServer();
    const client = new unix.SeqpacketSocket();
    const datagrams = new unix.DgramSocket();
    try {
      datagrams.bind(join(dir, 'dgram.sock'));
      expect(statSync(join(dir, 'dgram.sock')).isSocket()).toBe(true);
      expect(datagrams.getRecvBufferSize()).toBeGreaterThan(0); // its only read-back

      server.listen(join(dir, 'seq.sock'));
      const accepted = nextEvent<[UnixSocket.SeqpacketSocket]>(server, 'connection');
      client.connect(join(dir, 'seq.sock'));
      const [peer] = await accepted;
      const eof = nextEvent(peer, 'end');
      client.end();
      await eof;
      const reply = nextEvent<[Buffer]>(client, 'data');
      peer.write(Buffer.from('after our end()'));
      expect(String((await reply)[0])).toBe('after our end()');
      peer.destroy();
    } finally {
      client.destroy();
      server.close();
      datagrams.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`a promise resolved in its callbacks settles ${nodeMajor >= 26 ? 'only after the next event on Node 26 (seen on 26.10)' : 'at once (Node < 26)'}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-nus-'));
    const server = new unix.SeqpacketServer();
    const client = new unix.SeqpacketSocket();
    const order: string[] = [];
    try {
      server.listen(join(dir, 'seq.sock'));
      let timer: Promise<void> | undefined;
      const connected = new Promise<void>((resolve) =>
        client.connect(join(dir, 'seq.sock'), () => {
          order.push('callback');
          resolve();
          timer = new Promise((fired) => setTimeout(() => fired(void order.push('next event')), 0));
        }),
      );
      await connected.then(() => order.push('promise settled'));
      await timer;
      const late = nodeMajor >= 26;
      expect(order).toEqual(['callback', ...(late ? ['next event', 'promise settled'] : ['promise settled', 'next event'])]);
    } finally {
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const sockoptVersion = packageJson('sockopt').version;

describe.skipIf(!isLinux)(`sockopt ${sockoptVersion}: how it is built`, () => {
  it('its prebuilds (linux-x64 included) are all Mach-O files, so npm install compiled it here (build/Release is ELF)', () => {
    for (const target of ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64', 'win32-x64']) {
      expect(magic(join(packageRoot('sockopt'), 'prebuilds', target, 'node.napi.node')), target).toBe(MACH_O_64);
    }
    expect(magic(join(packageRoot('sockopt'), 'build', 'Release', 'sockopt.node'))).toBe(ELF);
  });
});

// PREBUILDS_ONLY (the Node 22-26 runs) makes node-gyp-build load sockopt's Mach-O linux-x64
// prebuild, which cannot load; the runs without it cover the API.
describe.skipIf(!isLinux || !!process.env.PREBUILDS_ONLY)(`sockopt ${sockoptVersion} (skipped under PREBUILDS_ONLY: its linux-x64 prebuild is Mach-O)`, () => {
  const sockopt = (): Sockopt => load('sockopt') as Sockopt;
  const { SOL_SOCKET, IPPROTO_TCP } = constants;
  let pair: Pair;
  beforeEach(async () => {
    pair = await connectedPair();
  });
  afterEach(() => pair.close());

  it('exports getsockopt and setsockopt only', () => {
    expect(Object.keys(sockopt()).sort()).toEqual(['getsockopt', 'setsockopt']);
  });

  it('takes numeric levels and names and int values: reads back what Node and the kernel set', () => {
    const { getsockopt, setsockopt } = sockopt();
    pair.client.setNoDelay(true);
    expect(getsockopt(pair.client, IPPROTO_TCP, constants.TCP_NODELAY!)).toBe(1);
    setsockopt(pair.client, IPPROTO_TCP, constants.TCP_KEEPCNT!, 4);
    expect(pyInt(pair.client, 'TCP_KEEPCNT')).toBe(4);
    expect(getsockopt(pair.client, SOL_SOCKET, constants.SO_RCVBUF!)).toBe(pyInt(pair.client, 'SO_RCVBUF'));
    expect(() => setsockopt(pair.client, SOL_SOCKET, constants.SO_KEEPALIVE!, true as never)).toThrow('flagValue must be an integer');
  });

  it('struct options: TCP_INFO reads as its first int (the state byte); SO_LINGER cannot be set', () => {
    const { getsockopt, setsockopt } = sockopt();
    expect(getsockopt(pair.client, IPPROTO_TCP, constants.TCP_INFO!) & 0xff).toBe(1); // TCP_ESTABLISHED
    expect(ssState(pair.client.localPort!, pair.port)).toBe('ESTAB');
    let error: (Error & { code?: string; errno?: number; syscall?: string }) | undefined;
    try {
      setsockopt(pair.client, SOL_SOCKET, constants.SO_LINGER!, 1);
    } catch (e) {
      error = e as typeof error;
    }
    // ...and its errors are TypeErrors carrying strerror text: no code, errno or syscall.
    expect(error).toBeInstanceOf(TypeError);
    expect(error?.message).toBe(`setsockopt failed: Invalid argument (${constants.errno.EINVAL})`);
    expect([error?.code, error?.errno, error?.syscall]).toEqual([undefined, undefined, undefined]);
  });

  it('needs a Node socket that already has a descriptor: nothing before listen() binds', () => {
    expect(() => sockopt().setsockopt(new net.Server(), SOL_SOCKET, constants.SO_REUSEADDR!, 0)).toThrow(
      'Socket has no file descriptor yet. Did you call listen() or bind()?',
    );
  });

  it('SO_REUSEADDR cleared after listen(): accepted connections inherit it, and re-listening during their TIME_WAIT gets EADDRINUSE', async () => {
    for (const clear of [false, true]) {
      const old = net.createServer();
      const port = await listening(old.listen(0, '127.0.0.1'));
      if (clear) sockopt().setsockopt(old, SOL_SOCKET, constants.SO_REUSEADDR!, 0);
      let inherited: boolean | undefined;
      old.once('connection', (accepted: net.Socket) => (inherited = pyFlag(accepted, 'SO_REUSEADDR')));
      await leaveTimeWait(old, port);
      expect(inherited).toBe(!clear);
      await closed(old);
      const again = net.createServer().listen(port, '127.0.0.1');
      expect((await listenResult(again))?.code, `cleared: ${clear}`).toBe(clear ? 'EADDRINUSE' : undefined);
      if (!clear) await closed(again);
    }
  });

  it('SO_REUSEPORT set after listen(): Linux lets a socket that set it before bind join the port', async () => {
    for (const late of [false, true]) {
      const server = net.createServer();
      const port = await listening(server.listen(0, '127.0.0.1'));
      if (late) sockopt().setsockopt(server, SOL_SOCKET, constants.SO_REUSEPORT!, 1);
      expect(pythonReusePortListen(port), `set late: ${late}`).toBe(late ? 'ok' : 'EADDRINUSE');
      await closed(server);
    }
  });
});

describe.skipIf(!isLinux)(`net-keepalive ${packageJson('net-keepalive').version}`, () => {
  const keepalive = load('net-keepalive') as typeof NetKeepalive;
  let pair: Pair;
  beforeEach(async () => {
    pair = await connectedPair();
  });
  afterEach(() => pair.close());

  it('exports getters and setters for TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT only', () => {
    expect(Object.keys(keepalive).sort()).toEqual([
      'getKeepAliveInterval',
      'getKeepAliveProbes',
      'getUserTimeout',
      'setKeepAliveInterval',
      'setKeepAliveProbes',
      'setUserTimeout',
    ]);
  });

  it('is JavaScript calling libc through ffi-rs (a prebuilt FFI addon), with no native code of its own', () => {
    expect(packageJson('net-keepalive').dependencies).toEqual({ 'ffi-rs': '1.3.7' });
    expect(packageJson('net-keepalive')).not.toHaveProperty('gypfile');
  });

  it('sets what the kernel then reports: probes, interval in whole seconds, user timeout in ms', () => {
    expect(keepalive.setKeepAliveProbes(pair.client, 3)).toBe(true);
    expect(pyInt(pair.client, 'TCP_KEEPCNT')).toBe(3);
    expect(keepalive.getKeepAliveProbes(pair.client)).toBe(3);
    keepalive.setKeepAliveInterval(pair.client, 1500);
    expect(pyInt(pair.client, 'TCP_KEEPINTVL')).toBe(1);
    expect(keepalive.getKeepAliveInterval(pair.client)).toBe(1000);
    keepalive.setUserTimeout(pair.client, 2500);
    expect(pyInt(pair.client, 'TCP_USER_TIMEOUT')).toBe(2500);
    expect(keepalive.getUserTimeout(pair.client)).toBe(2500);
  });

  it('system-call errors are Node-style; bad arguments are AssertionErrors', () => {
    expect(() => keepalive.setUserTimeout(pair.client, -1)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -constants.errno.EINVAL!, syscall: 'setsockopt' }),
    );
    expect(() => keepalive.setKeepAliveProbes(pair.client, '3' as never)).toThrow(
      expect.objectContaining({ name: 'AssertionError', code: 'ERR_ASSERTION', message: expect.stringContaining('requires cnt to be a Number') }),
    );
  });

  it('works only on a net.Socket: not on a listener or a bare descriptor', () => {
    expect(() => keepalive.setKeepAliveProbes(pair.server as never, 3)).toThrow('expects an instance of socket');
    expect(() => keepalive.setKeepAliveProbes({ _handle: { _fd: 3 } }, 3)).toThrow('expects an instance of socket');
  });
});

const hasNetstat = spawnSync('netstat', ['--version'], { stdio: 'ignore' }).error === undefined;

describe.skipIf(!isLinux)(`node-netstat ${packageJson('node-netstat').version}`, () => {
  const netstat = load('node-netstat') as Netstat;

  it('on Linux it spawns `netstat -apntu` (Debian net-tools) for every query', () => {
    expect(netstat.commands.linux).toEqual({ cmd: 'netstat', args: ['-apntu'] });
    const path = process.env.PATH;
    let result: Parameters<NonNullable<NetstatOptions['done']>>[0] | undefined;
    process.env.PATH = '/nonexistent';
    try {
      netstat({ sync: true, done: (error) => (result = error) }, () => {});
    } finally {
      process.env.PATH = path;
    }
    expect(result).toMatchObject({ code: 'ENOENT', syscall: 'spawnSync netstat' });
  });

  it('sync mode reads netstat through spawnSync\'s 1 MiB buffer: a busier host fails it with ENOBUFS, streaming does not', async () => {
    // A stand-in `netstat` that prints 1.5 MB of lines, first on PATH.
    const dir = mkdtempSync(join(tmpdir(), 'sockctl-netstat-'));
    writeFileSync(join(dir, 'netstat'), '#!/bin/sh\nyes "tcp 0 0 127.0.0.1:1 127.0.0.1:2 TIME_WAIT -" | head -c 1500000\n', { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      let syncResult: Parameters<NonNullable<NetstatOptions['done']>>[0] | undefined;
      netstat({ sync: true, done: (error) => (syncResult = error) }, () => {});
      expect(syncResult).toMatchObject({ code: 'ENOBUFS' });
      let rows = 0;
      const streamed = await new Promise((resolve) => netstat({ done: resolve }, () => void rows++));
      expect(streamed).toBeNull();
      expect(rows).toBeGreaterThan(20_000);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(!hasNetstat)('with netstat on PATH (skipped without net-tools)', () => {
    let pair: Pair;
    beforeEach(async () => {
      pair = await connectedPair();
    });
    afterEach(() => pair.close());

    // Streamed (its default): sync mode gives up on a busy host (above). Ports alone are not
    // unique on a busy host (old TIME_WAITs reuse them), so rows are matched on both ends.
    const rowsWith = (filter: NonNullable<NetstatOptions['filter']>) =>
      new Promise<NetstatRow[]>((resolve, reject) => {
        const rows: NetstatRow[] = [];
        const done = (error: Error | null) => (error ? reject(error) : resolve(rows));
        netstat({ filter, done }, (row) => void rows.push(row));
      });

    it("lists the listener, the connections and a half-closed one, in netstat's spelling (FIN_WAIT2)", async () => {
      const ours = { port: pair.client.localPort!, address: '127.0.0.1' };
      expect(await rowsWith({ local: { port: pair.port } })).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ state: 'LISTEN', remote: { port: NaN, address: null } }),
          expect.objectContaining({ state: 'ESTABLISHED', remote: ours }),
        ]),
      );
      const eof = once(pair.accepted, 'end');
      pair.client.end();
      await eof;
      await waitForSs(pair.port, () => ssState(ours.port, pair.port) === 'FIN-WAIT-2');
      expect(await rowsWith({ local: { port: ours.port }, remote: { port: pair.port } })).toEqual([
        expect.objectContaining({ protocol: 'tcp', state: 'FIN_WAIT2', local: ours }),
      ]);
    });

    it('watch: re-runs netstat until the handler returns false (no timeout of its own: cancel() is ours)', async () => {
      const server = net.createServer();
      const port = await listening(server.listen(0, '127.0.0.1'));
      let clientPort: number | undefined;
      let watch: { cancel(): void } | undefined;
      const seen = new Promise<NetstatRow>((resolve, reject) => {
        const done = (error: Error | null) => reject(error ?? new Error('the watch ended with no TIME_WAIT row'));
        watch = netstat({ watch: true, filter: { local: { port }, state: 'TIME_WAIT' }, done }, (row) => {
          if (clientPort === undefined || row.remote.port !== clientPort) return;
          resolve(row);
          return false;
        });
      });
      const timer = setTimeout(() => watch?.cancel(), 5000);
      try {
        // The watch runs before the connection exists: it has to see TIME_WAIT appear.
        clientPort = await leaveTimeWait(server, port);
        expect(await seen).toMatchObject({ state: 'TIME_WAIT', local: { port }, remote: { port: clientPort } });
      } finally {
        clearTimeout(timer);
        watch?.cancel();
        await closed(server);
      }
    });
  });
});

// The rows about client sockets (connect): what the others can do before the SYN. sockctl's
// cells are backed by test/connect.test.ts and test/connect-witness.test.ts.
describe.skipIf(!isLinux)('client sockets: options before the SYN (connect)', () => {
  let server: net.Server;
  let port: number;
  beforeEach(async () => {
    server = net.createServer((c) => c.on('error', () => {}).resume());
    port = await listening(server.listen(0, '127.0.0.1'));
  });
  afterEach(async () => {
    await closed(server);
  });

  it('Node core: net.connect() has no descriptor until libuv has called connect(2), so nothing can be set before the SYN', async () => {
    const client = net.connect(port, '127.0.0.1');
    expect(() => getOption(client, 'SO_RCVBUF')).toThrow(expect.objectContaining({ code: 'EBADF' }));
    await once(client, 'connect');
    // Set once connected, SO_RCVBUF 4096 leaves the window scale the SYN announced.
    setOption(client, 'SO_RCVBUF', 4096);
    expect(ssWscale(client.localPort!, port).rcv).toBeGreaterThan(0);
    client.destroy();
  });

  it('Node core: a client bound with localPort always has SO_REUSEADDR (libuv sets it on every TCP bind)', async () => {
    const client = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    await once(client, 'connect');
    expect(client.localAddress).toBe('127.0.0.2');
    expect(pyFlag(client, 'SO_REUSEADDR')).toBe(true);
    client.destroy();
  });

  it("Node core: `timeout` is idle time, not a connect timeout: a SYN the peer drops emits 'timeout' and goes on connecting", async () => {
    const full = await createListener({ host: '127.0.0.1', port: 0, backlog: 1 });
    const fillers = [net.connect(full.address.port, '127.0.0.1'), net.connect(full.address.port, '127.0.0.1')];
    await Promise.all(fillers.map((f) => once(f, 'connect')));
    const client = net.connect({ port: full.address.port, host: '127.0.0.1', timeout: 100 });
    await once(client, 'timeout');
    expect([client.connecting, client.destroyed]).toEqual([true, false]);
    client.destroy();
    for (const f of fillers) f.destroy();
    full.close();
  });

  it.skipIf(!!process.env.PREBUILDS_ONLY)('sockopt: on a connecting net.Socket, setsockopt fails with EBADF (no descriptor yet)', () => {
    const client = net.connect(port, '127.0.0.1');
    expect(() => (load('sockopt') as Sockopt).setsockopt(client, constants.SOL_SOCKET!, constants.SO_RCVBUF!, 4096)).toThrow(
      `setsockopt failed: Bad file descriptor (${constants.errno.EBADF})`,
    );
    client.destroy();
  });

  it('net-keepalive: on a connecting net.Socket, an AssertionError (no descriptor yet)', () => {
    const client = net.connect(port, '127.0.0.1');
    expect(() => (load('net-keepalive') as typeof NetKeepalive).setUserTimeout(client, 1000)).toThrow('Unable to get socket fd');
    client.destroy();
  });
});
