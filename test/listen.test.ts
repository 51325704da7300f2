import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { fstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createListener, fdOf, getOption, listen, ListeningDescriptor, type ListenOptions } from '../lib/index';
import { closeTracked, greeter, httpGet, listenRows, portOf, readAll, startNode, track, tryConnect } from './helpers/listen';
import { isLinux, openDescriptorCount } from './helpers/net';

afterEach(closeTracked);
const echo = () => greeter('hello');
const readFrom = readAll;

describe.skipIf(!isLinux)('listen(server, options) hands a natively made listener to the server', () => {
  it('net.Server on IPv4 port 0: address() reports the chosen port, the kernel shows it listening, it serves', async () => {
    const server = await listen(echo(), { host: '127.0.0.1' });
    expect(server.listening).toBe(true);
    const address = server.address() as net.AddressInfo;
    expect(address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(address.port).toBeGreaterThan(0);
    expect(listenRows(address.port).map((row) => row.local)).toEqual([`127.0.0.1:${address.port}`]);
    expect(await readFrom(address.port, '127.0.0.1')).toBe('hello');
  });

  it('http.Server serves requests', async () => {
    const server = await listen(track(http.createServer((_, res) => res.end('from http'))), { host: '127.0.0.1' });
    expect(await httpGet(portOf(server))).toBe('from http');
  });

  describe('https.Server', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sockctl-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('serves requests over TLS', async () => {
      const cert = readFileSync(join(dir, 'cert.pem'));
      const server = await listen(track(https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_, res) => res.end('from https'))), { host: '127.0.0.1' });
      const request = https.get({ host: '127.0.0.1', port: portOf(server), ca: cert, servername: 'localhost', agent: false });
      const [response] = (await once(request, 'response')) as [http.IncomingMessage];
      let body = '';
      for await (const chunk of response) body += String(chunk);
      expect(body).toBe('from https');
    });
  });

  it('IPv6 on ::1', async () => {
    const server = await listen(echo(), { host: '::1' });
    expect(server.address()).toMatchObject({ address: '::1', family: 'IPv6' });
    expect(listenRows(portOf(server)).map((row) => row.local)).toEqual([`[::1]:${portOf(server)}`]);
    expect(await readFrom(portOf(server), '::1')).toBe('hello');
  });

  it("dual-stack: host '::' with ipv6Only false takes IPv4 and IPv6 clients; IPV6_V6ONLY is off", async () => {
    const server = await listen(echo(), { host: '::', ipv6Only: false });
    expect(getOption(server, 'IPV6_V6ONLY')).toBe(false);
    expect(await readFrom(portOf(server), '127.0.0.1')).toBe('hello');
    expect(await readFrom(portOf(server), '::1')).toBe('hello');
  });

  it("no host: Node's default, '::' dual-stack", async () => {
    const server = await listen(echo());
    expect(server.address()).toMatchObject({ address: '::', family: 'IPv6' });
    expect(await readFrom(portOf(server), '127.0.0.1')).toBe('hello');
  });

  it('ipv6Only true: IPv6 clients only, IPv4 clients refused', async () => {
    const server = await listen(echo(), { host: '::', ipv6Only: true });
    expect(getOption(server, 'IPV6_V6ONLY')).toBe(true);
    expect(await tryConnect(portOf(server), '::1')).toBe('connected');
    expect(await tryConnect(portOf(server), '127.0.0.1')).toBe('ECONNREFUSED');
  });

  it("a name is resolved as Node's listen resolves it (dns.lookup)", async () => {
    const ours = await listen(echo(), { host: 'localhost' });
    const node = track(net.createServer()).listen(0, 'localhost');
    await once(node, 'listening');
    expect((ours.address() as net.AddressInfo).address).toBe((node.address() as net.AddressInfo).address);
    expect((ours.address() as net.AddressInfo).family).toBe((node.address() as net.AddressInfo).family);
  });

  it('options are on the listener: SO_REUSEADDR by default, SO_REUSEPORT, sockopts; the kernel shows the backlog', async () => {
    const server = await listen(echo(), {
      host: '127.0.0.1',
      backlog: 77,
      reusePort: true,
      sockopts: { SO_RCVBUF: 65536, TCP_DEFER_ACCEPT: 1, TCP_FASTOPEN: 5, TCP_KEEPIDLE: 42 },
    });
    expect(getOption(server, 'SO_ACCEPTCONN')).toBe(true);
    expect(getOption(server, 'SO_REUSEADDR')).toBe(true);
    expect(getOption(server, 'SO_REUSEPORT')).toBe(true);
    expect(getOption(server, 'SO_RCVBUF')).toBe(131072);
    expect(getOption(server, 'TCP_DEFER_ACCEPT')).toBe(1);
    expect(getOption(server, 'TCP_FASTOPEN')).toBe(5);
    expect(getOption(server, 'TCP_KEEPIDLE')).toBe(42);
    // ss shows a listener's backlog as its Send-Q: Node's second listen() kept ours.
    expect(listenRows(portOf(server)).map((row) => row.sendQ)).toEqual([77]);
  });

  it('reuseAddr false leaves SO_REUSEADDR off; backlog 0 or absent means 511, as in Node', async () => {
    const server = await listen(echo(), { host: '127.0.0.1', reuseAddr: false, backlog: 0 });
    expect(getOption(server, 'SO_REUSEADDR')).toBe(false);
    expect(getOption(server, 'SO_REUSEPORT')).toBe(false);
    expect(listenRows(portOf(server)).map((row) => row.sendQ)).toEqual([511]);
    const node = track(net.createServer()).listen(0, '127.0.0.1');
    await once(node, 'listening');
    expect(listenRows(portOf(node)).map((row) => row.sendQ)).toEqual([511]);
  });

  it("the server owns the descriptor: its close() closes it and the kernel drops the listener", async () => {
    const before = openDescriptorCount();
    const server = await listen(net.createServer(), { host: '127.0.0.1' });
    const port = portOf(server);
    const fd = fdOf(server);
    expect(openDescriptorCount()).toBe(before + 1);
    await new Promise((r) => server.close(r));
    expect(openDescriptorCount()).toBe(before);
    expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
    expect(listenRows(port)).toEqual([]);
  });

  it('the descriptor is close-on-exec and non-blocking', async () => {
    const server = await listen(net.createServer(), { host: '127.0.0.1' });
    const fdinfo = readFileSync(`/proc/self/fdinfo/${fdOf(server)}`, 'utf8');
    const flags = parseInt(/^flags:\s+(\d+)/m.exec(fdinfo)![1]!, 8);
    expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    expect(flags & 0o4000).toBe(0o4000); // O_NONBLOCK
    await new Promise((r) => server.close(r));
  });
});

describe.skipIf(!isLinux)('listen() fails like Node', () => {
  async function rejection(promise: Promise<unknown>): Promise<NodeJS.ErrnoException & { address?: string; port?: number }> {
    try {
      await promise;
    } catch (error) {
      return error as NodeJS.ErrnoException;
    }
    throw new Error('expected a rejection');
  }

  it('EADDRINUSE with address and port; Node itself says the same but names the syscall listen', async () => {
    const taken = await listen(echo(), { host: '127.0.0.1' });
    const port = portOf(taken);
    const ours = await rejection(listen(net.createServer(), { host: '127.0.0.1', port }));
    expect(ours).toBeInstanceOf(Error);
    expect(ours.message).toBe(`bind EADDRINUSE 127.0.0.1:${port}`);
    expect(ours).toMatchObject({ code: 'EADDRINUSE', errno: -98, syscall: 'bind', address: '127.0.0.1', port });

    // libuv defers bind's error to listen(), so Node reports syscall 'listen' for the same failure.
    const node = net.createServer().listen(port, '127.0.0.1');
    const [nodeError] = (await once(node, 'error')) as [NodeJS.ErrnoException & { address: string; port: number }];
    expect(nodeError).toMatchObject({ code: ours.code, errno: ours.errno, address: ours.address, port: ours.port, syscall: 'listen' });
  });

  it('EADDRNOTAVAIL for an address this host does not have', async () => {
    const error = await rejection(listen(net.createServer(), { host: '192.0.2.1', port: 0 }));
    expect(error.message).toBe('bind EADDRNOTAVAIL 192.0.2.1:0');
    expect(error).toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind', address: '192.0.2.1', port: 0 });
  });

  it('the DNS error for a name that does not resolve, before any socket is made', async () => {
    const before = openDescriptorCount();
    const error = await rejection(listen(net.createServer(), { host: 'no-such-host.invalid' }));
    expect(error).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo' });
    expect(openDescriptorCount()).toBe(before);
  });

  it.skipIf(process.getuid?.() !== 0)('EACCES for a port below 1024 without privilege (root-only: child with uid 65534)', async () => {
    const script = `
      const net = require('node:net');
      const { listen } = require(process.env.SOCKCTL_DIST);
      listen(net.createServer(), { host: '127.0.0.1', port: 81 }).then(
        () => console.log('listening'),
        (e) => { console.log(JSON.stringify({ message: e.message, code: e.code, syscall: e.syscall, address: e.address, port: e.port })); process.exit(0); });`;
    const child = await startNode(script, { uid: 65534, gid: 65534 });
    await child.stop();
    expect(JSON.parse(child.ready)).toEqual({ message: 'bind EACCES 127.0.0.1:81', code: 'EACCES', syscall: 'bind', address: '127.0.0.1', port: 81 });
  });

  it('a server that is not a net.Server', async () => {
    for (const server of ['not a server', {}, null]) {
      const error = await rejection(listen(server as never));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe('ERR_INVALID_ARG_TYPE');
      expect(error.message).toMatch(/^The "server" argument must be an instance of net\.Server\. Received /);
    }
  });

  it('ERR_SERVER_ALREADY_LISTEN for a listening server, as Node', async () => {
    const server = await listen(echo(), { host: '127.0.0.1' });
    const before = openDescriptorCount();
    const error = await rejection(listen(server, { host: '127.0.0.1' }));
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_SERVER_ALREADY_LISTEN');
    expect(error.message).toBe('Listen method has been called more than once without closing.');
    expect(openDescriptorCount()).toBe(before);
  });

  const bad: Array<[string, unknown, ErrorConstructor, string, string]> = [
    ['options', 42, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object. Received type number (42)'],
    ['port', { port: 65536 }, RangeError, 'ERR_SOCKET_BAD_PORT', 'options.port should be >= 0 and < 65536. Received type number (65536).'],
    ['port', { port: -1 }, RangeError, 'ERR_SOCKET_BAD_PORT', 'options.port should be >= 0 and < 65536. Received type number (-1).'],
    ['port', { port: 1.5 }, RangeError, 'ERR_SOCKET_BAD_PORT', 'options.port should be >= 0 and < 65536. Received type number (1.5).'],
    ['port', { port: 'abc' }, RangeError, 'ERR_SOCKET_BAD_PORT', "options.port should be >= 0 and < 65536. Received type string ('abc')."],
    ['host', { host: 127 }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.host" property must be of type string. Received type number (127)'],
    ['backlog', { backlog: -1 }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "options.backlog" is out of range. It must be >= 0 && <= 2147483647. Received -1'],
    ['backlog', { backlog: '10' }, TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.backlog" property must be of type number. Received type string ('10')`],
    ['reuseAddr', { reuseAddr: 'no' }, TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.reuseAddr" property must be of type boolean. Received type string ('no')`],
    ['reusePort', { reusePort: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.reusePort" property must be of type boolean. Received type number (1)'],
    ['ipv6Only', { ipv6Only: null }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.ipv6Only" property must be of type boolean. Received null'],
    ['sockopts', { sockopts: [] }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.sockopts" property must be of type object. Received an instance of Array'],
    ['an unknown option (a typo)', { reuseaddr: false }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.reuseaddr' is not an option of a TCP listener (port, host, backlog, ipv6Only, reuseAddr, reusePort, sockopts). Received false"],
    ["Node's path option", { path: '/tmp/sockctl.sock' }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.path' is not an option of a TCP listener (port, host, backlog, ipv6Only, reuseAddr, reusePort, sockopts). Received '/tmp/sockctl.sock'"],
    ['sockopts name', { sockopts: { SO_NOPE: 1 } }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_NOPE' is not a known socket option. Received 1"],
    ['sockopts read-only', { sockopts: { SO_TYPE: 1 } }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_TYPE' is a read-only socket option. Received 1"],
    ['sockopts dedicated', { sockopts: { SO_REUSEADDR: false } }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_REUSEADDR' must be set through options.reuseAddr. Received false"],
    ['sockopts value', { host: '127.0.0.1', sockopts: { SO_RCVBUF: 'big' } }, TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.sockopts.SO_RCVBUF" property must be of type number. Received type string ('big')`],
  ];
  it.each(bad)('bad %s: %j', async (_, options, type, code, message) => {
    const error = await rejection(listen(net.createServer(), options as ListenOptions));
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
  });

  it('ENOTSUP in a cluster worker, whose listen-on-fd Node would send to the primary', async () => {
    const primary = await startNode(join(__dirname, 'fixtures', 'cluster-listen.js'));
    await primary.stop();
    expect(JSON.parse(primary.ready)).toEqual({
      message: 'listen ENOTSUP (a cluster worker cannot listen on a descriptor; use createListener() in the primary)',
      code: 'ENOTSUP',
      syscall: 'listen',
    });
  });

  it('a failing hand-over closes the descriptor, unless Node already took and closed it', async () => {
    class Refusing extends net.Server {
      override listen(): this {
        process.nextTick(() => this.emit('error', new Error('refused')));
        return this;
      }
    }
    class Throwing extends net.Server {
      override listen(): this {
        throw new Error('thrown');
      }
    }
    const before = openDescriptorCount();
    expect((await rejection(listen(new Refusing(), { host: '127.0.0.1' }))).message).toBe('refused');
    expect((await rejection(listen(new Throwing(), { host: '127.0.0.1' }))).message).toBe('thrown');
    expect(openDescriptorCount()).toBe(before);
  });

  it('leaks no descriptor over hundreds of failures on every path', async () => {
    const taken = await listen(echo(), { host: '127.0.0.1', reuseAddr: false });
    const port = portOf(taken);
    const failing: ListenOptions[] = [
      { host: '127.0.0.1', port }, // bind EADDRINUSE
      { host: '192.0.2.1' }, // bind EADDRNOTAVAIL
      { host: '127.0.0.1', sockopts: { SO_RCVBUF: 'big' as never } }, // the value's TypeError, before socket()
      { host: '127.0.0.1', sockopts: { TCP_KEEPCNT: 0 } }, // setsockopt EINVAL from the kernel
      { port: 70000 }, // before socket()
    ];
    // Counted once the process is quiet (an async /proc read of the causes' owner scan may
    // still hold a descriptor for a moment): three equal counts 20 ms apart.
    const settled = async (): Promise<number> => {
      let counts = [-1, -2, -3];
      for (let i = 0; i < 100 && new Set(counts).size > 1; i++) {
        counts = [...counts.slice(1), openDescriptorCount()];
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return counts[2]!;
    };
    const before = await settled();
    for (let i = 0; i < 200; i++) {
      for (const options of failing) await expect(listen(net.createServer(), options)).rejects.toThrow();
      for (const options of failing) await expect(createListener(options)).rejects.toThrow();
    }
    expect(await settled()).toBe(before);
    // Each EADDRINUSE now carries its causes (whyInUse: probe binds, a sock_diag dump and the
    // /proc scan for owners, about 25 ms here, 13 s in all alone; far slower under qemu's
    // /proc fallback): 400 of them, and none may leak a descriptor.
  }, 120_000);
});

describe.skipIf(!isLinux)('createListener(options): an owned listening descriptor', () => {
  it('listens with its options, reports its address, and closes once', async () => {
    const before = openDescriptorCount();
    const listener = await createListener({ host: '127.0.0.1', backlog: 33, reuseAddr: false });
    expect(listener).toBeInstanceOf(ListeningDescriptor);
    expect(listener.address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    expect(getOption(listener, 'SO_ACCEPTCONN')).toBe(true);
    expect(getOption(listener, 'SO_REUSEADDR')).toBe(false);
    expect(listenRows(listener.address.port).map((row) => row.sendQ)).toEqual([33]);
    listener.close();
    listener.close();
    expect(listenRows(listener.address.port)).toEqual([]);
    expect(openDescriptorCount()).toBe(before);
  });

  it('a child process serves on the inherited listener after the parent closes its copy', async () => {
    const listener = await createListener({ host: '127.0.0.1' });
    const { port } = listener.address;
    const child = await startNode(
      `require('node:net').createServer((s) => s.end('from child ' + process.pid)).listen({ fd: 3 }, () => console.log('ready'));`,
      { stdio: ['pipe', 'pipe', 'inherit', listener.fd] },
    );
    try {
      listener.close();
      expect(child.ready).toBe('ready');
      expect(await readFrom(port, '127.0.0.1')).toBe(`from child ${child.child.pid}`);
      expect(listenRows(port)).toHaveLength(1);
    } finally {
      await child.stop();
    }
    expect(listenRows(port)).toEqual([]);
  });
});
