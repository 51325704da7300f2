import { closeSync, fstatSync, openSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dup, fdOf, getOption, setOption, shutdown, socket } from '../lib/index';
import { connectedPair, isLinux, openDescriptorCount, type Pair } from './helpers/net';

function thrown(fn: () => unknown): Error & { code?: string; errno?: number; syscall?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

function expectError(fn: () => unknown, type: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string, message: string | RegExp) {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(type);
  expect(error.code).toBe(code);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  return error;
}

describe.skipIf(!isLinux)('bad input gets Node-style errors', () => {
  let pair: Pair;
  let file: number;
  const CLOSED_FD = 2 ** 30; // within range, never open
  beforeAll(async () => {
    pair = await connectedPair();
    file = openSync(__filename, 'r');
  });
  afterAll(async () => {
    closeSync(file);
    await pair.close();
  });

  it('fdOf rejects what is not a descriptor', () => {
    expectError(() => fdOf('3' as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "target" argument must be of type number or an instance of net.Socket, net.Server, dgram.Socket or { fd }. Received type string (\'3\')');
    expectError(() => fdOf(null as never), TypeError, 'ERR_INVALID_ARG_TYPE', /^The "target" argument must be of type number or an instance of .* Received null$/);
    expectError(() => fdOf({} as never), TypeError, 'ERR_INVALID_ARG_TYPE', /^The "target" argument .* Received an instance of Object$/);
    expectError(() => fdOf(NaN), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be an integer. Received NaN');
    expectError(() => fdOf(1.5), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be an integer. Received 1.5');
    expectError(() => fdOf(-1), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received -1');
    expectError(() => fdOf(2 ** 31), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received 2147483648');
    expectError(() => fdOf({ fd: '3' } as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "target.fd" property must be of type number. Received type string ('3')`);
    expect(fdOf({ fd: 7 })).toBe(7);
  });

  it('fdOf says EBADF for a socket with no descriptor (not yet connected, destroyed, closed dup)', () => {
    const unconnected = new net.Socket();
    const error = expectError(() => fdOf(unconnected), Error, 'EBADF', 'fdOf EBADF (Socket has no open descriptor)');
    expect(error.errno).toBe(-9);
    expect(error.syscall).toBe('fdOf');
    const copy = dup(pair.client);
    copy.close();
    expectError(() => getOption(copy, 'SO_TYPE'), Error, 'EBADF', 'fdOf EBADF (target has no open descriptor)');
    const destroyed = net.connect(pair.port, '127.0.0.1');
    destroyed.destroy();
    expectError(() => fdOf(destroyed), Error, 'EBADF', 'fdOf EBADF (Socket has no open descriptor)');
  });

  it('setOption and getOption name the option in every error', () => {
    expectError(() => setOption(pair.client, 'SO_NOPE' as never, true as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'name' is not a known socket option. Received 'SO_NOPE'");
    expectError(() => getOption(pair.client, 'SO_NOPE' as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'name' is not a known socket option. Received 'SO_NOPE'");
    expectError(() => getOption(pair.client, 42 as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "name" argument must be of type string. Received type number (42)');
    expectError(() => setOption(pair.client, 'SO_REUSEADDR', 1 as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "SO_REUSEADDR" argument must be of type boolean. Received type number (1)');
    expectError(() => setOption(pair.client, 'TCP_KEEPIDLE', '30' as never), TypeError, 'ERR_INVALID_ARG_TYPE', `The "TCP_KEEPIDLE" argument must be of type number. Received type string ('30')`);
    expectError(() => setOption(pair.client, 'TCP_KEEPIDLE', NaN), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "TCP_KEEPIDLE" is out of range. It must be an integer. Received NaN');
    expectError(() => setOption(pair.client, 'SO_RCVBUF', 1.5), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "SO_RCVBUF" is out of range. It must be an integer. Received 1.5');
    expectError(() => setOption(pair.client, 'SO_RCVBUF', -1), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "SO_RCVBUF" is out of range. It must be >= 0 && <= 2147483647. Received -1');
    expectError(() => setOption(pair.client, 'SO_RCVBUF', 2 ** 53), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "SO_RCVBUF" is out of range. It must be >= 0 && <= 2147483647. Received 9_007_199_254_740_992');
    expectError(() => setOption(pair.client, 'SO_LINGER', null as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "SO_LINGER" argument must be of type object. Received null');
    expectError(() => setOption(pair.client, 'SO_LINGER', { onoff: 1, linger: 0 } as never), TypeError, 'ERR_INVALID_ARG_TYPE', 'The "SO_LINGER.onoff" property must be of type boolean. Received type number (1)');
    expectError(() => setOption(pair.client, 'SO_LINGER', { onoff: true, linger: -1 }), RangeError, 'ERR_OUT_OF_RANGE', 'The value of "SO_LINGER.linger" is out of range. It must be >= 0 && <= 2147483647. Received -1');
    expectError(() => setOption(pair.client, 'SO_TYPE' as never, 1 as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'name' is a read-only socket option. Received 'SO_TYPE'");
    expectError(() => setOption(pair.client, 'TCP_INFO' as never, {} as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'name' is a read-only socket option. Received 'TCP_INFO'");
  });

  it('system calls that fail say so with code, negative errno and syscall', () => {
    // [call, code, errno, syscall, the option the message and `option` name]
    const cases: Array<[() => unknown, string, number, string, string?]> = [
      [() => setOption(CLOSED_FD, 'SO_KEEPALIVE', true), 'EBADF', -9, 'setsockopt', 'SO_KEEPALIVE'],
      [() => getOption(CLOSED_FD, 'SO_KEEPALIVE'), 'EBADF', -9, 'getsockopt', 'SO_KEEPALIVE'],
      [() => getOption(CLOSED_FD, 'SO_LINGER'), 'EBADF', -9, 'getsockopt', 'SO_LINGER'],
      [() => getOption(CLOSED_FD, 'TCP_INFO'), 'EBADF', -9, 'getsockopt', 'TCP_INFO'],
      [() => shutdown(CLOSED_FD, 'both'), 'EBADF', -9, 'shutdown'],
      [() => dup(CLOSED_FD), 'EBADF', -9, 'dup'],
      [() => setOption(file, 'SO_KEEPALIVE', true), 'ENOTSOCK', -88, 'setsockopt', 'SO_KEEPALIVE'],
      [() => getOption(file, 'TCP_NODELAY'), 'ENOTSOCK', -88, 'getsockopt', 'TCP_NODELAY'],
      [() => shutdown(file, 'write'), 'ENOTSOCK', -88, 'shutdown'],
      [() => shutdown(pair.server, 'write'), 'ENOTCONN', -107, 'shutdown'],
      [() => shutdown(pair.server, 'both'), 'ENOTCONN', -107, 'shutdown'],
      // The kernel's own range checks: TCP_KEEPCNT is 1..127, TCP_KEEPIDLE 1..32767 s.
      [() => setOption(pair.client, 'TCP_KEEPCNT', 0), 'EINVAL', -22, 'setsockopt', 'TCP_KEEPCNT'],
      [() => setOption(pair.client, 'TCP_KEEPIDLE', 0), 'EINVAL', -22, 'setsockopt', 'TCP_KEEPIDLE'],
    ];
    for (const [fn, code, errno, syscall, option] of cases) {
      const error = expectError(fn, Error, code, option === undefined ? `${syscall} ${code}` : `${syscall} ${code} (${option})`);
      expect(error).toMatchObject({ errno, syscall });
      expect((error as { option?: string }).option).toBe(option);
    }
    // The listener is still listening: shutdown refused it rather than silently stopping it.
    expect(getOption(pair.server, 'SO_ACCEPTCONN')).toBe(true);
  });

  it('shutdown and socket reject unknown modes', () => {
    for (const how of ['sideways', 3, -1, 1.5, null, undefined]) {
      expectError(() => shutdown(pair.client, how as never), TypeError, 'ERR_INVALID_ARG_VALUE', /^The argument 'how' must be 'read', 'write', 'both' or one of constants\.SHUT_RD, SHUT_WR, SHUT_RDWR\. Received /);
    }
    expectError(() => socket('ipx' as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'family' must be 'ipv4' or 'ipv6'. Received 'ipx'");
    expectError(() => socket('ipv4', 'sctp' as never), TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'type' must be 'tcp' or 'udp'. Received 'sctp'");
  });

  it('a second close() of a dup never closes the descriptor that reused its number', () => {
    const copy = dup(pair.client);
    const number = copy.fd;
    copy.close();
    const reused = openSync(__filename, 'r'); // the lowest free number: the one just freed
    try {
      expect(reused).toBe(number);
      copy.close();
      copy[Symbol.dispose]();
      expect(() => fstatSync(reused)).not.toThrow();
    } finally {
      closeSync(reused);
    }
  });

  it('leaks no descriptor over thousands of failing and succeeding calls', () => {
    const before = openDescriptorCount();
    for (let i = 0; i < 2000; i++) {
      for (const fn of [
        () => dup(CLOSED_FD),
        () => dup('x' as never),
        () => setOption(file, 'SO_KEEPALIVE', true),
        () => shutdown(pair.server, 'both'),
        () => getOption(pair.client, 'SO_NOPE' as never),
        () => socket('ipx' as never),
      ]) {
        expect(fn).toThrow();
      }
      dup(pair.client).close();
      socket('ipv6').close();
    }
    expect(openDescriptorCount()).toBe(before);
  });
});
