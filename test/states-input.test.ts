// Bad filters and options of tcpStates / waitForState: Node's error classes, codes and exact
// messages; the netlink socket is closed on every path (the descriptor count stays put).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binding } from '../lib/core/binding';
import { tcpStates, tcpStatesSync, waitForState } from '../lib/index';
import { connectedPair, isLinux, openDescriptorCount, type Pair } from './helpers/net';

const STATES = 'ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING';

type ErrorClass = TypeErrorConstructor | RangeErrorConstructor;
const BAD_FILTERS: Array<[unknown, ErrorClass, string, string]> = [
  ['80', TypeError, 'ERR_INVALID_ARG_TYPE', `The "filter" argument must be of type object. Received type string ('80')`],
  [null, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter" argument must be of type object. Received null'],
  [[80], TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter" argument must be of type object. Received an instance of Array'],
  [{ port: 0 }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "filter.port" is out of range. It must be >= 1 && <= 65535. Received 0'],
  [{ port: 65536 }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "filter.port" is out of range. It must be >= 1 && <= 65535. Received 65536'],
  [{ port: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "filter.port" is out of range. It must be an integer. Received 1.5'],
  [{ port: '80' }, TypeError, 'ERR_INVALID_ARG_TYPE', `The "filter.port" property must be of type number. Received type string ('80')`],
  [{ localPort: -1 }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "filter.localPort" is out of range. It must be >= 1 && <= 65535. Received -1'],
  [{ remotePort: NaN }, RangeError, 'ERR_OUT_OF_RANGE', 'The value of "filter.remotePort" is out of range. It must be an integer. Received NaN'],
  [{ state: 'TIMEWAIT' }, TypeError, 'ERR_INVALID_ARG_VALUE', `The property 'filter.state' must be a TCP state (${STATES}). Received 'TIMEWAIT'`],
  [{ state: ['LISTEN', 'UNKNOWN'] }, TypeError, 'ERR_INVALID_ARG_VALUE', `The property 'filter.state' must be a TCP state (${STATES}). Received 'UNKNOWN'`],
  [{ state: [] }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'filter.state' must name at least one TCP state. Received []"],
  [{ state: 6 }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter.state" property must be of type string or an instance of Array. Received type number (6)'],
  [{ family: 'inet' }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'filter.family' must be 'ipv4' or 'ipv6'. Received 'inet'"],
  [{ withProcess: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE', 'The "filter.withProcess" property must be of type boolean. Received type number (1)'],
  [{ source: 'ss' }, TypeError, 'ERR_INVALID_ARG_VALUE', "The property 'filter.source' must be 'auto', 'netlink' or 'proc'. Received 'ss'"],
  [
    { prot: 80 },
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    "The property 'filter.prot' is not a property of a TCP states filter (port, localPort, remotePort, localAddress, remoteAddress, state, family, withProcess, info, memory, protocol, source). Received 80",
  ],
];

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe.skipIf(!isLinux)('tcpStates and waitForState reject bad input with Node-style errors', () => {
  let pair: Pair;
  beforeAll(async () => {
    pair = await connectedPair();
  });
  afterAll(() => pair.close());

  it.each(BAD_FILTERS)('filter %o: %s %s', async (filter, type, code, message) => {
    const error = thrown(() => tcpStatesSync(filter as never));
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
    await expect(tcpStates(filter as never)).rejects.toThrow(expect.objectContaining({ code, message }));
    await expect(waitForState(filter as never, 'LISTEN')).rejects.toThrow(expect.objectContaining({ code, message }));
  });

  it('waitForState checks its state and options', async () => {
    const port = pair.port;
    await expect(waitForState({ port }, 'NOPE' as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: `The argument 'state' must be a TCP state (${STATES}). Received 'NOPE'` }),
    );
    // A wait the filter itself makes impossible is refused at once, not timed out.
    await expect(waitForState({ port, state: 'LISTEN' }, 'TIME_WAIT', { timeoutMs: 60_000 })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: "The argument 'state' is excluded by the filter's own state. Received 'TIME_WAIT'" }),
    );
    await expect(waitForState({ port }, [] as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: "The argument 'state' must name at least one TCP state. Received []" }),
    );
    await expect(waitForState({ port }, 'LISTEN', null as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'The "options" argument must be of type object. Received null' }),
    );
    await expect(waitForState({ port }, 'LISTEN', { timeoutMs: -1 })).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_OUT_OF_RANGE',
        message: 'The value of "options.timeoutMs" is out of range. It must be >= 0 && <= 2147483647. Received -1',
      }),
    );
    await expect(waitForState({ port }, 'LISTEN', { timeoutMs: '5' as never })).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: `The "options.timeoutMs" property must be of type number. Received type string ('5')` }),
    );
  });

  it('the addon checks its arguments again, cheaply, for direct callers', () => {
    expect(thrown(() => binding.tcpDiagDumpSync('3' as never, 2, 0, 0, 0))).toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "families" argument must be of type number',
    });
    expect(thrown(() => binding.tcpDiagDumpSync(3, 2, 70000, 0, 0))).toMatchObject({
      code: 'ERR_OUT_OF_RANGE',
      message: 'The value of "localPort" is out of range. It must be >= 0 && <= 65535',
    });
    expect(() => binding.tcpDiagDump(3, 2, 0, 0, -1)).toThrow(RangeError);
    // A mask of no state and no family: an empty dump, not an error.
    expect(binding.tcpDiagDumpSync(0, 0, 0, 0, 0).byteLength).toBe(0);
    expect(binding.tcpDiagDumpSync(3, 0, 0, 0, 0).byteLength).toBe(0);
  });

  it('a scratch buffer: rows copied into it when they fit (the count returned), else their own ArrayBuffer; a non-buffer is a TypeError', async () => {
    const ours = [3, 1 << 1 /* ESTABLISHED */, pair.port, 0, 0] as const;
    const own = binding.tcpDiagDumpSync(...ours);
    expect(own.byteLength).toBe(binding.diagRowBytes); // the client's end of the pair
    const roomy = new ArrayBuffer(binding.diagRowBytes * 4);
    expect(binding.tcpDiagDumpSync(...ours, roomy)).toBe(1);
    expect(Buffer.from(roomy, 0, binding.diagRowBytes)).toEqual(Buffer.from(own));
    const async = new ArrayBuffer(binding.diagRowBytes * 4);
    expect(await binding.tcpDiagDump(...ours, async)).toBe(1);
    expect(Buffer.from(async, 0, binding.diagRowBytes)).toEqual(Buffer.from(own));
    const small = binding.tcpDiagDumpSync(...ours, new ArrayBuffer(binding.diagRowBytes - 1));
    expect(small).toBeInstanceOf(ArrayBuffer);
    expect(Buffer.from(small as ArrayBuffer)).toEqual(Buffer.from(own));
    expect(thrown(() => binding.tcpDiagDumpSync(...ours, new Uint8Array(8) as never))).toMatchObject({
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "scratch" argument must be an ArrayBuffer',
    });
    expect(() => binding.tcpDiagDump(...ours, {} as never)).toThrow(TypeError);
  });

  it('elsewhere than Linux: ENOTSUP, never a silent empty list', async () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    try {
      const message = 'tcpStates ENOTSUP (sock_diag and /proc/net/tcp are Linux only, not on darwin)';
      expect(thrown(() => tcpStatesSync({ port: pair.port }))).toMatchObject({ code: 'ENOTSUP', syscall: 'tcpStates', message });
      await expect(tcpStates({ port: pair.port, source: 'proc' })).rejects.toThrow(expect.objectContaining({ code: 'ENOTSUP', message }));
      await expect(waitForState({ port: pair.port }, 'LISTEN')).rejects.toThrow(expect.objectContaining({ code: 'ENOTSUP', message }));
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });

  it('leaks no descriptor over hundreds of dumps, sync and async, and failing calls', async () => {
    // Our three sockets only: old TIME_WAIT of an earlier listener on this port number may linger.
    const ours = { port: pair.port, family: 'ipv4', state: ['LISTEN', 'ESTABLISHED'] } as const;
    const before = openDescriptorCount();
    for (let i = 0; i < 500; i++) {
      expect(tcpStatesSync({ ...ours, source: 'netlink' })).toHaveLength(3);
      expect(() => tcpStatesSync({ port: 0 })).toThrow(RangeError);
      expect(() => binding.tcpDiagDumpSync(3, 2, 70000, 0, 0)).toThrow(RangeError);
    }
    for (let round = 0; round < 10; round++) {
      const all = await Promise.all(Array.from({ length: 25 }, () => tcpStates(ours)));
      for (const rows of all) expect(rows).toHaveLength(3);
    }
    for (let i = 0; i < 50; i++) expect(tcpStatesSync({ ...ours, source: 'proc', withProcess: true })).toHaveLength(3);
    expect(openDescriptorCount()).toBe(before);
    // A dump walks the kernel's whole socket hash (sendmsg took 6-18 ms each here under load):
    // 800 dumps, each leak would show as hundreds of descriptors.
  }, 120_000);
});
