// connect(options): connects on IPv4 and IPv6 as ss shows, resolves names as Node's connect
// does, fails as Node's connect fails (with the descriptor closed on every path), honours
// timeoutMs and signal, refuses bad input with Node's codes, and survives a terminated worker.
import { lookup } from 'node:dns/promises';
import { ADDRCONFIG } from 'node:dns';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createListener, getOption, type ConnectOptions, type ListeningDescriptor } from '../lib/index';
import { binding } from '../lib/core/binding';
import { DIST_INDEX, ensureBuilt } from './helpers/dist';
import { isLinux, openDescriptorCount } from './helpers/net';
import { ssRows, waitForSs } from './helpers/ss';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(host = '127.0.0.1'): Promise<{ server: net.Server; port: number }> {
  const s = net.createServer((c) => c.on('error', () => {}).end('hello'));
  s.listen(0, host);
  await once(s, 'listening');
  cleanup.push(() => new Promise((r) => s.close(r)));
  return { server: s, port: (s.address() as net.AddressInfo).port };
}

async function failure(promise: Promise<unknown>): Promise<NodeJS.ErrnoException & { localAddress?: string; localPort?: number }> {
  try {
    await promise;
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a rejection');
}

/**
 * A port that refuses on 127.0.0.1 and ::1: bound by us on '::' dual-stack (so nobody takes
 * it on either family, no SO_REUSEPORT to join), never listening.
 */
function refusingPort(): { port: number; close(): void } {
  const fd = binding.socket(binding.constants.AF_INET6!, binding.constants.SOCK_STREAM!);
  binding.setIntOption(fd, binding.constants.IPPROTO_IPV6!, binding.constants.IPV6_V6ONLY!, 0);
  binding.bind(fd, '::', 0);
  return { port: binding.localAddress(fd).port, close: () => binding.close(fd) };
}

/**
 * A listener whose accept queue is full (backlog 1, two connections queued, never
 * accepted): Linux drops the next SYN, so a connect to it stays in SYN_SENT.
 */
async function fullQueue(): Promise<{ port: number; listener: ListeningDescriptor }> {
  const listener = await createListener({ host: '127.0.0.1', port: 0, backlog: 1 });
  cleanup.push(() => listener.close());
  const port = listener.address.port;
  for (let i = 0; i < 2; i++) {
    const filler = net.connect(port, '127.0.0.1');
    cleanup.push(() => filler.destroy());
    await once(filler, 'connect');
  }
  return { port, listener };
}

const readAll = async (socket: net.Socket): Promise<string> => {
  let data = '';
  for await (const chunk of socket) data += String(chunk);
  return data;
};

describe.skipIf(!isLinux)('connect(options)', () => {
  it('connects on IPv4 and IPv6 and resolves with a net.Socket that owns the descriptor, as ss shows', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const { port } = await server(host);
      const client = await connect({ host, port });
      expect(client).toBeInstanceOf(net.Socket);
      expect([client.remoteAddress, client.remotePort]).toEqual([host, port]);
      const row = ssRows(port).find((r) => r.localPort === client.localPort && r.peerPort === port);
      expect(row?.state).toBe('ESTAB');
      expect(await readAll(client)).toBe('hello');
      client.destroy();
    }
  });

  it('resolves a name as Node\'s connect with autoSelectFamily false: the first address dns.lookup gives', async () => {
    const { port } = await server('::'); // dual-stack: whichever family comes first is served
    const first = await lookup('localhost', { hints: ADDRCONFIG });
    const client = await connect({ host: 'localhost', port });
    expect(client.remoteAddress).toBe(first.address);
    client.destroy();
    const byDefault = await connect({ port }); // host defaults to 'localhost', as in Node
    expect(byDefault.remoteAddress).toBe(first.address);
    byDefault.destroy();
  });

  it('binds the requested local address and port before connect, without SO_REUSEADDR unless asked', async () => {
    const { port } = await server();
    const free = refusingPort();
    const localPort = free.port;
    free.close();
    const client = await connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2', localPort });
    expect([client.localAddress, client.localPort]).toEqual(['127.0.0.2', localPort]);
    expect(getOption(client, 'SO_REUSEADDR')).toBe(false);
    expect(ssRows(port).some((r) => r.local === `127.0.0.2:${localPort}` && r.peer === `127.0.0.1:${port}`)).toBe(true);
    client.destroy();
    const reusing = await connect({ host: '127.0.0.1', port, reuseAddr: true, reusePort: true });
    expect([getOption(reusing, 'SO_REUSEADDR'), getOption(reusing, 'SO_REUSEPORT')]).toEqual([true, true]);
    reusing.destroy();
  });

  it('bindAddressNoPort binds the address only: getsockname says port 0 until connect chooses one', async () => {
    const { port } = await server();
    const client = await connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3', bindAddressNoPort: true });
    expect(client.localAddress).toBe('127.0.0.3');
    expect(client.localPort).toBeGreaterThan(0);
    expect(getOption(client, 'IP_BIND_ADDRESS_NO_PORT')).toBe(true);
    client.destroy();
  });

  it('fails as Node\'s connect does: ECONNREFUSED with address and port, and the local end when one was bound', async () => {
    const refusing = refusingPort();
    cleanup.push(() => refusing.close());
    const plain = await failure(connect({ host: '127.0.0.1', port: refusing.port }));
    expect(plain).toMatchObject({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: refusing.port });
    expect(plain.message).toBe(`connect ECONNREFUSED 127.0.0.1:${refusing.port}`);
    expect(plain.localAddress).toBeUndefined();
    // Node's own wording for the same failure, side by side.
    const node = net.connect({ host: '127.0.0.1', port: refusing.port });
    const [nodeError] = (await once(node, 'error').catch((e: unknown) => [e])) as [Error];
    expect(plain.message).toBe(nodeError.message);

    const local = await failure(connect({ host: '127.0.0.1', port: refusing.port, localAddress: '127.0.0.1' }));
    // bind(127.0.0.1, 0) took a port at once: the error names it, as getsockname gave it.
    expect(local.localAddress).toBe('127.0.0.1');
    expect(local.localPort).toBeGreaterThan(0);
    expect(local.message).toBe(`connect ECONNREFUSED 127.0.0.1:${refusing.port} - Local (127.0.0.1:${local.localPort})`);
  });

  it('EADDRINUSE and EADDRNOTAVAIL at bind name the local address and port; IPv6 to an IPv4 local address is EINVAL', async () => {
    const { port } = await server();
    const taken = await failure(connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: port }));
    expect(taken).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: port });
    expect(taken.message).toBe(`bind EADDRINUSE 127.0.0.1:${port}`);
    // 192.0.2.1 (TEST-NET-1) is no address of this host: nothing is sent anywhere.
    const foreign = await failure(connect({ host: '127.0.0.1', port, localAddress: '192.0.2.1' }));
    expect(foreign).toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind', address: '192.0.2.1', port: 0 });
    const mixed = await failure(connect({ host: '::1', port, localAddress: '127.0.0.1' }));
    expect(mixed).toMatchObject({ code: 'EINVAL', syscall: 'bind' });
  });

  it('timeoutMs: a SYN the peer drops ends in ETIMEDOUT shaped like Node\'s, and the socket is gone from the kernel', async () => {
    const { port } = await fullQueue();
    const before = openDescriptorCount();
    const started = Date.now();
    const error = await failure(connect({ host: '127.0.0.1', port, timeoutMs: 300, localAddress: '127.0.0.1' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', errno: -110, syscall: 'connect', address: '127.0.0.1', port });
    expect(error.message).toMatch(new RegExp(`^connect ETIMEDOUT 127\\.0\\.0\\.1:${port} - Local \\(127\\.0\\.0\\.1:\\d+\\)$`));
    expect(openDescriptorCount()).toBe(before);
    expect(ssRows(port).filter((r) => r.state === 'SYN-SENT')).toEqual([]);
  });

  it('signal: aborting a pending connect rejects with Node\'s AbortError and closes the descriptor; an aborted signal makes no socket', async () => {
    const { port } = await fullQueue();
    const before = openDescriptorCount();
    const controller = new AbortController();
    const pending = connect({ host: '127.0.0.1', port, signal: controller.signal });
    // Held in SYN_SENT (the queue is full) until we abort.
    for (let i = 0; i < 200 && !ssRows(port).some((r) => r.state === 'SYN-SENT'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(ssRows(port).filter((r) => r.state === 'SYN-SENT')).toHaveLength(1);
    controller.abort(new Error('enough'));
    const error = await failure(pending);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
    expect((error.cause as Error).message).toBe('enough');
    expect(openDescriptorCount()).toBe(before);
    expect(ssRows(port).filter((r) => r.state === 'SYN-SENT')).toEqual([]);

    const early = await failure(connect({ host: '127.0.0.1', port, signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(openDescriptorCount()).toBe(before);
  });

  it('2,000 failing calls (refused, bind failures, timeouts, aborts, bad options) leak no descriptor', async () => {
    const refusing = refusingPort();
    cleanup.push(() => refusing.close());
    const { port: held } = await fullQueue();
    const { port: taken } = await server();
    const before = openDescriptorCount();
    const kinds: Array<() => ConnectOptions> = [
      () => ({ host: '127.0.0.1', port: refusing.port }),
      () => ({ host: '::1', port: refusing.port, localAddress: '::1' }),
      () => ({ host: '127.0.0.1', port: taken, localAddress: '127.0.0.1', localPort: taken }),
      () => ({ host: '127.0.0.1', port: held, timeoutMs: 1 }),
      () => ({ host: '127.0.0.1', port: held, signal: AbortSignal.timeout(1) }),
      () => ({ host: '127.0.0.1', port: refusing.port, sockopts: { TCP_MAXSEG: -5 } }),
    ];
    const codes = new Map<string, number>();
    for (let round = 0; round < 40; round++) {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => connect(kinds[(round * 50 + i) % kinds.length]!())));
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const code = String((r as PromiseRejectedResult).reason.code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    expect([...codes.values()].reduce((a, b) => a + b)).toBe(2000);
    expect([...codes.keys()].sort()).toEqual(['ABORT_ERR', 'EADDRINUSE', 'ECONNREFUSED', 'ERR_OUT_OF_RANGE', 'ETIMEDOUT'].sort());
    expect(openDescriptorCount()).toBe(before);
  }, 60_000);

  it('the descriptor is close-on-exec, from socket(2) on (O_CLOEXEC in /proc/self/fdinfo), and owned by the net.Socket', async () => {
    const { port } = await server();
    const client = await connect({ host: '127.0.0.1', port });
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    const before = openDescriptorCount();
    client.destroy();
    await once(client, 'close');
    expect(openDescriptorCount()).toBe(before - 1);
  });

  it('LISTEN -> SYN_SENT cannot be asked of the sockets API: connect(2) on a listening socket is EISCONN', async () => {
    const listener = await createListener({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => listener.close());
    expect(() => binding.connect(listener.fd, '127.0.0.1', listener.address.port)).toThrow(expect.objectContaining({ code: 'EISCONN' }));
    expect(getOption(listener, 'TCP_INFO').state).toBe('LISTEN');
  });
});

describe.skipIf(!isLinux)('connect(options): bad input, with Node\'s codes and messages, and no descriptor made', () => {
  const cases: Array<[string, unknown, string, string, string | RegExp]> = [
    ['no options', undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be of type object. Received undefined'],
    ['no port', {}, 'TypeError', 'ERR_MISSING_ARGS', 'The "options.port" argument must be specified'],
    ['port as an object', { port: {} }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.port" property must be one of type number or string. Received an instance of Object'],
    ['port out of range', { port: 65536 }, 'RangeError', 'ERR_SOCKET_BAD_PORT', 'Port should be >= 0 and < 65536. Received type number (65536).'],
    ['port not numeric', { port: 'x' }, 'RangeError', 'ERR_SOCKET_BAD_PORT', "Port should be >= 0 and < 65536. Received type string ('x')."],
    ['host a number', { port: 80, host: 5 }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.host" property must be of type string. Received type number (5)'],
    ['host with a NUL (getaddrinfo would stop there)', { port: 80, host: '127.0.0.1\0evil' }, 'TypeError', 'ERR_INVALID_ARG_VALUE', "The property 'options.host' must be an IP address or a host name without null bytes. Received '127.0.0.1\\x00evil'"],
    ['localAddress a name', { port: 80, localAddress: 'localhost' }, 'TypeError', 'ERR_INVALID_IP_ADDRESS', 'Invalid IP address: localhost'],
    ['localPort a string', { port: 80, localPort: '1' }, 'TypeError', 'ERR_INVALID_ARG_TYPE', `The "options.localPort" property must be of type number. Received type string ('1')`],
    ['localPort out of range', { port: 80, localPort: 70000 }, 'RangeError', 'ERR_SOCKET_BAD_PORT', 'options.localPort should be >= 0 and < 65536. Received type number (70000).'],
    ['reuseAddr not boolean', { port: 80, reuseAddr: 1 }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.reuseAddr" property must be of type boolean. Received type number (1)'],
    ['reusePort not boolean', { port: 80, reusePort: 'yes' }, 'TypeError', 'ERR_INVALID_ARG_TYPE', /^The "options.reusePort" property must be of type boolean/],
    ['bindAddressNoPort not boolean', { port: 80, bindAddressNoPort: null }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.bindAddressNoPort" property must be of type boolean. Received null'],
    ['timeoutMs zero', { port: 80, timeoutMs: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE', 'The value of "options.timeoutMs" is out of range. It must be >= 1 && <= 2147483647. Received 0'],
    ['timeoutMs NaN', { port: 80, timeoutMs: NaN }, 'RangeError', 'ERR_OUT_OF_RANGE', 'The value of "options.timeoutMs" is out of range. It must be an integer. Received NaN'],
    ['signal not a signal', { port: 80, signal: {} }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.signal" property must be an instance of AbortSignal. Received an instance of Object'],
    ['unknown key', { port: 80, timeout: 5 }, 'TypeError', 'ERR_INVALID_ARG_VALUE', /^The property 'options.timeout' is not an option of connect\(\) \(port, host, .*\)\. Received 5$/],
    ['sockopts not an object', { port: 80, sockopts: [] }, 'TypeError', 'ERR_INVALID_ARG_TYPE', 'The "options.sockopts" property must be of type object. Received an instance of Array'],
    ['unknown sockopt', { port: 80, sockopts: { SO_NOPE: 1 } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_NOPE' is not a known socket option. Received 1"],
    ['read-only sockopt', { port: 80, sockopts: { SO_ERROR: 1 } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_ERROR' is a read-only socket option. Received 1"],
    ['dedicated sockopt', { port: 80, sockopts: { SO_REUSEADDR: true } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', "The property 'options.sockopts.SO_REUSEADDR' must be set through options.reuseAddr. Received true"],
    ['NO_PORT in sockopts', { port: 80, sockopts: { IP_BIND_ADDRESS_NO_PORT: true } }, 'TypeError', 'ERR_INVALID_ARG_VALUE', /must be set through options\.bindAddressNoPort/],
    // Not enumerable: the one sockopts check (core/options.ts) sees every own name, as listen's always did.
    ['NO_PORT in sockopts, not enumerable', { port: 80, sockopts: Object.defineProperty({}, 'IP_BIND_ADDRESS_NO_PORT', { value: true }) }, 'TypeError', 'ERR_INVALID_ARG_VALUE', /must be set through options\.bindAddressNoPort/],
  ];
  for (const [what, options, cls, code, message] of cases) {
    it(`${what}: ${code}`, async () => {
      const before = openDescriptorCount();
      const error = await failure(connect(options as ConnectOptions));
      expect(error.constructor.name).toBe(cls);
      expect(error.code).toBe(code);
      if (typeof message === 'string') expect(error.message).toBe(message);
      else expect(error.message).toMatch(message);
      expect(openDescriptorCount()).toBe(before);
    });
  }

  it('a bad sockopt value is refused before any socket exists, naming the option, with the descriptor closed', async () => {
    const before = openDescriptorCount();
    const error = await failure(connect({ port: 80, host: '127.0.0.1', sockopts: { TCP_NODELAY: 1 as unknown as boolean } }));
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: 'The "options.sockopts.TCP_NODELAY" property must be of type boolean. Received type number (1)' });
    const refused = await failure(connect({ port: 80, host: '127.0.0.1', sockopts: { TCP_MAXSEG: 1 } }));
    expect(refused).toMatchObject({ code: 'EINVAL', syscall: 'setsockopt', option: 'TCP_MAXSEG' });
    expect(openDescriptorCount()).toBe(before);
  });

  it('reads each option once: a getter that answers differently the second time never reaches a system call', async () => {
    const { port } = await server();
    const reads = new Map<string, number>();
    const options = {} as Record<string, unknown>;
    const values: Record<string, unknown[]> = {
      host: ['127.0.0.1', ['not', 'a', 'string']],
      port: [port, 'garbage'],
      localAddress: ['127.0.0.1', 42],
      reuseAddr: [true, 'no'],
      sockopts: [{ TCP_NODELAY: true }, 7],
    };
    for (const [key, answers] of Object.entries(values)) {
      Object.defineProperty(options, key, {
        enumerable: true,
        get() {
          const n = reads.get(key) ?? 0;
          reads.set(key, n + 1);
          return answers[Math.min(n, answers.length - 1)];
        },
      });
    }
    const client = await connect(options as unknown as ConnectOptions);
    expect([client.remotePort, client.localAddress, getOption(client, 'TCP_NODELAY'), getOption(client, 'SO_REUSEADDR')]).toEqual([port, '127.0.0.1', true, true]);
    client.destroy();
    expect(Object.fromEntries(reads)).toEqual({ host: 1, port: 1, localAddress: 1, reuseAddr: 1, sockopts: 1 });
  });
});

describe.skipIf(!isLinux)('the raw connect binding checks its arguments again', () => {
  const raw = binding as unknown as Record<string, (...a: unknown[]) => unknown>;
  it('types, ranges and a NUL byte: coded errors, never a crash', () => {
    const typeError = (message: string) => expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message });
    expect(() => raw.connect!(3, 127, 80)).toThrow(typeError('The "address" argument must be of type string'));
    expect(() => raw.connect!('3', '127.0.0.1', 80)).toThrow(typeError('The "fd" argument must be of type number'));
    expect(() => raw.connectWait!(3, 'not a function')).toThrow(typeError('The "callback" argument must be of type function'));
    expect(() => raw.connectCancel!(-1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    const fd = binding.socket(binding.constants.AF_INET!, binding.constants.SOCK_STREAM!);
    try {
      // The same checked address as bind's (native/address.h): the same errors for the same faults.
      expect(() => binding.connect(fd, '127.0.0.1', 65536)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
      expect(() => binding.connect(fd, '127.0.0.1\0.2', 80)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "The argument 'address' must be an IP address without null bytes" }),
      );
      expect(() => binding.connect(fd, 'localhost', 80)).toThrow(expect.objectContaining({ code: 'EINVAL' })); // numeric only
      expect(binding.connectCancel(fd)).toBe(false);
    } finally {
      binding.close(fd);
    }
  });
});

describe.skipIf(!isLinux)('connect() in a worker', () => {
  it('terminating 20 workers with a connect pending (held SYN) closes their sockets and leaves the main thread running and connecting', async () => {
    ensureBuilt();
    const { port } = await fullQueue();
    const before = openDescriptorCount();
    for (let i = 0; i < 20; i++) {
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const { connect } = require(workerData.index);
         connect({ host: '127.0.0.1', port: workerData.port, sockopts: { TCP_SYNCNT: 1 } }).catch(() => {});
         setTimeout(() => parentPort.postMessage('pending'), 20);`,
        { eval: true, workerData: { index: DIST_INDEX, port } },
      );
      await once(worker, 'message');
      // The connect is pending in the kernel before the worker ends: ss sees its SYN-SENT (this
      // worker's only: the ones before were closed at their end).
      await waitForSs(port, (rows) => rows.filter((r) => r.state === 'SYN-SENT').length === 1, 5_000);
      await worker.terminate();
    }
    // What each worker owned is closed at its end (the per-environment registry), the pending
    // wait released by the env's async cleanup hook in native/connect.cc: no descriptor more
    // here, and ss sees no SYN-SENT left well before TCP_SYNCNT 1 would end them (3 s).
    expect(openDescriptorCount()).toBe(before);
    await waitForSs(port, (rows) => !rows.some((r) => r.state === 'SYN-SENT'), 2_000);
    // Still alive, and still connecting.
    const { port: open } = await server();
    const client = await connect({ host: '127.0.0.1', port: open });
    expect(await readAll(client)).toBe('hello');
  }, 60_000);
});
