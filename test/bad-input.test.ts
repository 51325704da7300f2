// Issue 9's bad input, one case each: the error's class, code and message, and no
// descriptor or listener left behind (the count of /proc/self/fd; ss for listeners).
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fdOf,
  getOption,
  halfClosedPair,
  listen,
  ListeningDescriptor,
  loopbackPair,
  connect,
  renderStateDiagram,
  runLab,
  setOption,
  socket,
  tcpStates,
  timeWaitOn,
  takeover,
  waitForState,
  watchStates,
} from '../lib/index';
import { sendNow } from '../lib/core/send';
import { isLinux, openDescriptorCount } from './helpers/net';

type Coded = Error & { code?: string; option?: string };

async function failure(run: () => unknown): Promise<Coded> {
  try {
    await run();
  } catch (error) {
    return error as Coded;
  }
  throw new Error('expected a failure');
}

async function expectRefusal(run: () => unknown, type: ErrorConstructor, code: string, message: string): Promise<Coded> {
  const error = await failure(run);
  expect(error).toBeInstanceOf(type);
  expect(error.code).toBe(code);
  expect(error.message).toBe(message);
  return error;
}

/** This process's listening sockets as ss sees them (ss -p names the owner). */
function ourListeners(): string[] {
  const out = execFileSync('ss', ['-Htlnp'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`pid=${process.pid},`));
}

describe.skipIf(!isLinux)('loopbackPair and halfClosedPair check host', () => {
  class Host {}
  const cases: Array<[string, unknown, ErrorConstructor, string, string]> = [
    ['an array', ['127.0.0.1'], TypeError, 'ERR_INVALID_ARG_TYPE', 'The "host" argument must be of type string. Received an instance of Array'],
    ['a class', Host, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "host" argument must be of type string. Received function Host'],
    ['a number', 127, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "host" argument must be of type string. Received type number (127)'],
    ['a name', 'localhost', TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'host' must be an IP address. Received 'localhost'"],
    ['empty', '', TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'host' must be an IP address. Received ''"],
    ['a NUL', '127.0.0.1\0', TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'host' must be an IP address. Received '127.0.0.1\\x00'"],
  ];

  it.each(cases)('%s', async (_what, host, type, code, message) => {
    const listeners = ourListeners();
    const before = openDescriptorCount();
    await expectRefusal(() => loopbackPair(host as string), type, code, message);
    await expectRefusal(() => halfClosedPair(host as string), type, code, message);
    expect(openDescriptorCount()).toBe(before);
    expect(ourListeners()).toEqual(listeners);
  });

  it('a host this machine lacks: the listen error, and nothing stays listening (:::PORT included)', async () => {
    const listeners = ourListeners();
    const before = openDescriptorCount();
    const error = await failure(() => loopbackPair('192.0.2.1'));
    expect(error).toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'listen' });
    expect(openDescriptorCount()).toBe(before);
    expect(ourListeners()).toEqual(listeners);
  });

  it('unknown and wrong options', async () => {
    await expectRefusal(() => loopbackPair('127.0.0.1', { pause: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.pause' is not an option of loopbackPair (paused). Received true");
    await expectRefusal(() => loopbackPair('127.0.0.1', { paused: 1 } as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.paused" property must be of type boolean. Received type number (1)');
  });

  it('a good host still makes a pair (control)', async () => {
    const pair = await loopbackPair('127.0.0.1');
    expect(pair.client.remotePort).toBe(pair.port);
    await pair.close();
  });
});

describe.skipIf(!isLinux)('options objects are read once, before any system call', () => {
  it("setOption: SO_LINGER's getters run once each, before the target's descriptor is read", () => {
    const s = socket('ipv4');
    try {
      const order: string[] = [];
      const target = {
        get fd() {
          order.push('fd');
          return s.fd;
        },
      };
      let lingerReads = 0;
      const value = {
        get onoff() {
          order.push('onoff');
          return true;
        },
        get linger() {
          order.push('linger');
          // A second read would get a string: it must never happen.
          return ++lingerReads === 1 ? 7 : ('seven' as unknown as number);
        },
      };
      setOption(target, 'SO_LINGER', value);
      expect(order).toEqual(['onoff', 'linger', 'fd']);
      expect(getOption(s, 'SO_LINGER')).toEqual({ onoff: true, linger: 7 });
    } finally {
      s.close();
    }
  });

  it('setOption: SO_LINGER must be a plain object with onoff and linger only', async () => {
    const s = socket('ipv4');
    try {
      await expectRefusal(() => setOption(s, 'SO_LINGER', new Map() as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "SO_LINGER" argument must be a plain object. Received an instance of Map');
      await expectRefusal(() => setOption(s, 'SO_LINGER', { onoff: true, linger: 0, time: 1 } as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'SO_LINGER.time' is not a field of struct linger (onoff, linger). Received 1");
    } finally {
      s.close();
    }
  });

  it("listen: sockopts' values are read once, and checked before socket()", async () => {
    let reads = 0;
    const sockopts = {
      get SO_RCVBUF() {
        return ++reads === 1 ? 65536 : -1;
      },
    };
    const server = await listen(net.createServer(), { host: '127.0.0.1', sockopts });
    try {
      expect(reads).toBe(1);
      expect(getOption(server, 'SO_RCVBUF')).toBe(131072); // Linux doubles it
    } finally {
      server.close();
    }
    const before = openDescriptorCount();
    await expectRefusal(() => listen(net.createServer(), { host: '127.0.0.1', sockopts: new Map() as never }), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.sockopts" property must be a plain object. Received an instance of Map');
    expect(openDescriptorCount()).toBe(before);
  });

  it('timeWaitOn reads host once (a getter that changes its answer)', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      let reads = 0;
      const options = {
        get host() {
          return ++reads === 1 ? '127.0.0.1' : (['127.0.0.1'] as unknown as string);
        },
      };
      const result = await timeWaitOn(server, 1, options);
      expect(reads).toBe(1);
      expect(result.timeWait).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe.skipIf(!isLinux)('unknown keys and non-plain objects are refused at once', () => {
  let server: net.Server;
  beforeAll(async () => {
    server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('waitForState({ timeout: 50 }) is an error, not a 5000 ms wait', async () => {
    await expectRefusal(
      () => waitForState({ localPort: 1 }, 'ESTABLISHED', { timeout: 50 } as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.timeout' is not an option of waitForState (timeoutMs, signal, source). Received 50",
    );
  });

  it('waitForState: signal must be an AbortSignal; an aborted one rejects with AbortError', async () => {
    await expectRefusal(() => waitForState({ localPort: 1 }, 'ESTABLISHED', { signal: 'stop' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.signal" property must be an instance of AbortSignal. Received type string ('stop')`);
    // Aborted before the call: Node's AbortError too, with the signal's reason as cause.
    const early = await failure(() => waitForState({ localPort: 1 }, 'ESTABLISHED', { signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
    expect((early as Error & { cause?: unknown }).cause).toBeInstanceOf(DOMException);
    const controller = new AbortController();
    const waiting = waitForState({ localPort: 1 }, 'ESTABLISHED', { signal: controller.signal, timeoutMs: 60_000 });
    controller.abort();
    const error = await failure(() => waiting);
    expect(error.name).toBe('AbortError');
    expect(error.code).toBe('ABORT_ERR');
  });

  it('a non-enumerable option counts as much as an enumerable one', async () => {
    const options = Object.defineProperty({}, 'timeoutMs', { value: 'soon' });
    await expectRefusal(() => waitForState({ localPort: 1 }, 'ESTABLISHED', options), TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.timeoutMs" property must be of type number. Received type string ('soon')`);
  });

  it('timeWaitOn refuses unknown options', async () => {
    await expectRefusal(
      () => timeWaitOn(server, 1, { timeout: 50 } as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.timeout' is not an option of timeWaitOn (host, localAddresses, concurrency, timeoutMs, signal). Received 50",
    );
  });

  it('timeWaitOn: an aborted signal ends the call with AbortError, its clients closed', async () => {
    const before = openDescriptorCount();
    const early = await failure(() => timeWaitOn(server, 1, { signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    const controller = new AbortController();
    const making = timeWaitOn(server, 5000, { concurrency: 1, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error = await failure(() => making);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
    // The accepted ends close on the server's side a few turns later: waited for, bounded (2 s).
    for (let i = 0; i < 200 && openDescriptorCount() !== before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(openDescriptorCount()).toBe(before);
  });

  it('a filter must be a plain object: a Map or a class instance lists nothing', async () => {
    const map = new Map([['port', 1]]);
    await expectRefusal(() => tcpStates(map as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter" argument must be a plain object. Received an instance of Map');
    class Filter {
      port = 1;
    }
    await expectRefusal(() => tcpStates(new Filter()), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter" argument must be a plain object. Received an instance of Filter');
    await expectRefusal(() => waitForState(map as never, 'LISTEN'), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter" argument must be a plain object. Received an instance of Map');
    // Control: a null-prototype object is plain.
    const filter = Object.assign(Object.create(null) as object, { port: (server.address() as net.AddressInfo).port, state: 'LISTEN' });
    expect(await tcpStates(filter)).toHaveLength(1);
  });

  it('connect, watchStates and takeover take options as every other call does: a plain object, no unknown key even non-enumerable', async () => {
    class Options {
      port = 1;
    }
    await expectRefusal(() => connect(new Options()), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be a plain object. Received an instance of Options');
    const hidden = Object.defineProperty({ port: 1 }, 'timeout', { value: 50 });
    await expectRefusal(
      () => connect(hidden as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.timeout' is not an option of connect() (port, host, localAddress, localPort, reuseAddr, reusePort, bindAddressNoPort, ipv6Only, sockopts, timeoutMs, signal, allowHalfOpen). Received 50",
    );
    await expectRefusal(() => watchStates({ localPort: 1 }, new Map() as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be a plain object. Received an instance of Map');
    await expectRefusal(
      () => watchStates({ localPort: 1 }, { interval: 5 } as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.interval' is not an option of watchStates (signal, source, intervalMs, initial, maxQueued). Received 5",
    );
    await expectRefusal(() => takeover(new Map() as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options" argument must be a plain object. Received an instance of Map');
    await expectRefusal(
      () => takeover({ path: '/nonexistent/x.sock', listeners: {}, timeout: 1 } as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.timeout' is not an option of takeover (path, listeners, timeoutMs, readyTimeoutMs, drainTimeoutMs, signal). Received 1",
    );
  });
});

describe.skipIf(!isLinux)('a value util.inspect cannot show still gets a coded error', () => {
  // Object.create(Buffer.prototype): inspect() throws "Method get TypedArray.prototype.length
  // called on incompatible receiver" (found by the fuzz campaign, seed 1452929739).
  const uninspectable = () => Object.create(Buffer.prototype) as unknown;
  it('as a value, and as the value of an unknown key', async () => {
    await expectRefusal(
      () => connect({ host: '127.0.0.1', port: 1, family: uninspectable() } as never),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      "The property 'options.family' is not an option of connect() (port, host, localAddress, localPort, reuseAddr, reusePort, bindAddressNoPort, ipv6Only, sockopts, timeoutMs, signal, allowHalfOpen). Received [object Object] (not inspectable)",
    );
    // And one whose Symbol.toStringTag getter throws as well.
    const toStringTagThrows = Object.defineProperty(uninspectable(), Symbol.toStringTag, { get: () => { throw new Error('no'); } });
    // An options object whose `constructor` getter throws: refused as not plain, coded.
    const constructorThrows = Object.create({ get constructor() { throw new Error('no'); } }) as object;
    await expect(connect(constructorThrows as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
    await expect(connect({ host: '127.0.0.1', port: 1, keepAlive: toStringTagThrows } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG_VALUE',
      message: expect.stringMatching(/Received a value that cannot be inspected$/),
    });
  });
});

describe('runLab, renderStateDiagram and ListeningDescriptor check their arguments', () => {
  it('runLab', async () => {
    await expectRefusal(() => runLab('handshake' as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "names" argument must be an instance of Array. Received type string ('handshake')`);
    const unnamed = await failure(() => runLab([1] as never));
    expect(unnamed).toBeInstanceOf(TypeError);
    expect(unnamed.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(unnamed.message).toMatch(/^The argument 'names' must name lab scenarios \(handshake, .*\)\. Received 1$/);
    await expectRefusal(() => runLab([], { wait2msl: true } as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.wait2msl' is not an option of runLab (waitTwoMsl, onEvent, onScenario). Received true");
    await expectRefusal(() => runLab([], { onEvent: 'log' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.onEvent" property must be of type function. Received type string ('log')`);
    await expectRefusal(() => runLab([], { waitTwoMsl: 'yes' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.waitTwoMsl" property must be of type boolean. Received type string ('yes')`);
    // Control: nothing to run is an empty report.
    expect((await runLab([])).scenarios).toEqual([]);
  });

  it('renderStateDiagram', async () => {
    await expectRefusal(() => renderStateDiagram(undefined as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "observed" argument must be of type object. Received undefined');
    await expectRefusal(() => renderStateDiagram({ states: 'LISTEN', transitions: [] } as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "observed.states" property must be an iterable of strings. Received type string ('LISTEN')`);
    await expectRefusal(() => renderStateDiagram({ states: [1], transitions: [] } as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "observed.states" property must be an iterable of strings. Received type number (1)');
    await expectRefusal(() => renderStateDiagram({ states: [], transitions: [], colour: 'red' } as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'observed.colour' is not a property of Observed or of a LabReport (states, transitions, title, scenarios, missing). Received 'red'");
    await expectRefusal(() => renderStateDiagram({ states: [], transitions: [], title: 5 } as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "observed.title" property must be of type string. Received type number (5)');
    expect(renderStateDiagram({ states: new Set(['LISTEN'] as const), transitions: [] })).toContain('data-state="LISTEN"');
  });

  it.skipIf(!isLinux)('the ListeningDescriptor constructor, which takes nothing over when it refuses', async () => {
    const s = socket('ipv4');
    try {
      const address = { address: '127.0.0.1', family: 'IPv4', port: 0 };
      await expectRefusal(() => new ListeningDescriptor('3' as never, address, 1), TypeError, 'ERR_INVALID_ARG_TYPE', `The "fd" argument must be of type number. Received type string ('3')`);
      await expectRefusal(() => new ListeningDescriptor(-1, address, 1), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received -1');
      await expectRefusal(() => new ListeningDescriptor(s.fd, null as never, 1), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "address" argument must be of type object. Received null');
      await expectRefusal(() => new ListeningDescriptor(s.fd, { ...address, port: 70000 }, 1), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "address.port" is out of range. It must be >= 0 && <= 65535. Received 70000');
      await expectRefusal(() => new ListeningDescriptor(s.fd, { ...address, scope: 1 } as never, 1), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'address.scope' is not a field of an address (address, family, port). Received 1");
      await expectRefusal(() => new ListeningDescriptor(s.fd, address, '511' as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "backlog" argument must be of type number. Received type string ('511')`);
      // Refused before taking ownership: the socket is still open and still s's.
      expect(() => fstatSync(s.fd)).not.toThrow();
    } finally {
      s.close();
    }
  });
});

describe.skipIf(!isLinux)('descriptors and system errors', () => {
  it('fdOf on an unbound dgram.Socket is EBADF, as docs/errors.md says', async () => {
    const udp = dgram.createSocket('udp4');
    try {
      const error = await expectRefusal(() => fdOf(udp), Error, 'EBADF', 'fdOf EBADF (dgram.Socket has no open descriptor)');
      expect(error).toMatchObject({ errno: -9, syscall: 'fdOf' });
      // Control: once bound it has one.
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      expect(fdOf(udp)).toBeGreaterThan(2);
    } finally {
      udp.close();
    }
  });

  it("listen's sockopts: the kernel's refusal names the option; nothing leaks", async () => {
    const before = openDescriptorCount();
    const error = await expectRefusal(() => listen(net.createServer(), { host: '127.0.0.1', sockopts: { TCP_KEEPIDLE: 0 } }), Error, 'EINVAL', 'setsockopt EINVAL (TCP_KEEPIDLE)');
    expect(error).toMatchObject({ errno: -22, syscall: 'setsockopt', option: 'TCP_KEEPIDLE' });
    expect(openDescriptorCount()).toBe(before);
  });

  it("listen: a host with a NUL byte is refused before DNS (getaddrinfo would stop at it)", async () => {
    const before = openDescriptorCount();
    await expectRefusal(() => listen(net.createServer(), { host: '127.0.0.1\0.evil' }), TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'options.host' must be an IP address or a host name without null bytes. Received '127.0.0.1\\x00.evil'");
    expect(openDescriptorCount()).toBe(before);
  });

  it('sendNow takes bytes only: a DataView is a coded TypeError', async () => {
    const s = socket('ipv4');
    try {
      await expectRefusal(() => sendNow(s, new DataView(new ArrayBuffer(4)) as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "data" argument must be an instance of Buffer or Uint8Array. Received an instance of DataView');
      // Control: bytes reach send(2), which refuses an unconnected socket.
      await expectRefusal(() => sendNow(s, Buffer.from('x')), Error, 'EPIPE', 'send EPIPE');
    } finally {
      s.close();
    }
  });
});
