import { once } from 'node:events';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constants, fdOf, getOption, OPTIONS, setOption, socket, type OptionName, type OwnedDescriptor } from '../lib/index';
import { connectedPair, isLinux, type Pair } from './helpers/net';
import { execFileSync } from 'node:child_process';
import { pythonGetsockopt } from './helpers/python';
import { ssState } from './helpers/ss';

type On = 'client' | 'listener' | 'unbound' | 'unbound6';
interface RoundTrip {
  on: On;
  /** Each value is set, then read back; `expect` where the kernel changes what it was given. */
  values: Array<{ set: unknown; expect?: unknown }>;
}

// Linux doubles the buffer sizes it is given (socket(7)) to leave room for bookkeeping.
const doubled = (n: number) => ({ set: n, expect: isLinux ? 2 * n : n });
const flag = (on: On): RoundTrip => ({ on, values: [{ set: true }, { set: false }, { set: true }] });
const ints = (on: On, ...values: number[]): RoundTrip => ({ on, values: values.map((set) => ({ set })) });

const WRITABLE: Partial<Record<OptionName, RoundTrip>> = {
  SO_REUSEADDR: flag('client'),
  SO_REUSEPORT: flag('client'),
  SO_KEEPALIVE: flag('client'),
  SO_BROADCAST: flag('client'),
  SO_OOBINLINE: flag('client'),
  SO_RCVBUF: { on: 'client', values: [doubled(65536), doubled(32768)] },
  SO_SNDBUF: { on: 'client', values: [doubled(65536), doubled(32768)] },
  SO_RCVLOWAT: ints('client', 10, 1),
  SO_PRIORITY: ints('client', 3, 0),
  SO_LINGER: {
    on: 'client',
    values: [
      { set: { onoff: true, linger: 5 } },
      // Linux ignores l_linger when l_onoff is 0 and keeps the old time.
      { set: { onoff: false, linger: 0 }, expect: { onoff: false, linger: isLinux ? 5 : 0 } },
      { set: { onoff: true, linger: 0 } },
    ],
  },
  TCP_NODELAY: flag('client'),
  TCP_KEEPIDLE: ints('client', 30, 7200),
  TCP_KEEPINTVL: ints('client', 7, 75),
  TCP_KEEPCNT: ints('client', 4, 9),
  TCP_USER_TIMEOUT: ints('client', 5000, 0),
  // Kept as a count of SYN-ACK retransmits: seconds come back rounded up to 1+2+4+...
  TCP_DEFER_ACCEPT: { on: 'listener', values: [{ set: 1 }, { set: 5, expect: 7 }, { set: 0 }] },
  TCP_QUICKACK: flag('client'),
  TCP_CORK: flag('client'),
  // Reads back the requested MSS only before the connection exists.
  TCP_MAXSEG: ints('unbound', 1000, 1200),
  TCP_FASTOPEN: ints('listener', 16, 5),
  TCP_SYNCNT: ints('client', 3, 6),
  TCP_NOTSENT_LOWAT: ints('client', 16384, 4096),
  TCP_WINDOW_CLAMP: ints('client', 40000, 60000),
  IP_TTL: ints('client', 32, 64),
  IP_TOS: ints('client', 16, 0),
  // Both count before connect: set on a fresh socket (connect() sets them there).
  IP_BIND_ADDRESS_NO_PORT: flag('unbound'),
  TCP_FASTOPEN_CONNECT: flag('unbound'),
  // Settable only before bind.
  IPV6_V6ONLY: flag('unbound6'),
};

const PYTHON_READER = `
import re, socket, struct, sys
name = sys.argv[1]
s = socket.socket(fileno=3)
level = {"SO": socket.SOL_SOCKET, "TCP": socket.IPPROTO_TCP, "IP": socket.IPPROTO_IP, "IPV6": socket.IPPROTO_IPV6}[name.split("_")[0]]
number = getattr(socket, name, None)
if number is None:
    for header in ("/usr/include/netinet/tcp.h", "/usr/include/linux/tcp.h", "/usr/include/netinet/in.h", "/usr/include/linux/in.h"):
        try:
            found = re.search(r"^#\\s*define\\s+" + name + r"\\s+(\\d+)", open(header).read(), re.M)
        except OSError:
            continue
        if found:
            number = int(found.group(1))
            break
if name == "SO_LINGER":
    onoff, linger = struct.unpack("ii", s.getsockopt(level, number, 8))
    print(f"linger {onoff} {linger}")
else:
    print(f"int {s.getsockopt(level, number)} {number}")
s.detach()
`;

/** What python3 reads for `name` on `fd`, in the library's terms (flags as booleans). */
function pythonReads(fd: number, name: OptionName): unknown {
  const out = execFileSync('python3', ['-c', PYTHON_READER, name], { stdio: ['ignore', 'pipe', 'inherit', fd], encoding: 'utf8' });
  const [kind, a, b] = out.trim().split(' ');
  if (kind === 'linger') return { onoff: Number(a) !== 0, linger: Number(b) };
  const flagOption = (WRITABLE[name]?.values ?? []).every((v) => typeof v.set === 'boolean');
  return flagOption ? Number(a) !== 0 : Number(a);
}

describe.skipIf(!isLinux)('socket options round-trip through the kernel', () => {
  let pair: Pair;
  let unbound: OwnedDescriptor;
  let unbound6: OwnedDescriptor;
  beforeAll(async () => {
    pair = await connectedPair();
    unbound = socket('ipv4');
    unbound6 = socket('ipv6');
  });
  afterAll(async () => {
    unbound.close();
    unbound6.close();
    await pair.close();
  });
  const targetOf = (on: On) => ({ client: pair.client, listener: pair.server, unbound, unbound6 })[on];

  it('has a round-trip case for every writable option in the table', () => {
    const writable = (Object.keys(OPTIONS) as OptionName[]).filter((name) => !('readOnly' in OPTIONS[name]));
    expect(Object.keys(WRITABLE).sort()).toEqual(writable.sort());
  });

  // An outside reader for each value: python3's getsockopt on the same socket (inherited as
  // fd 3), by python's own constants (the C header's where python has none), so an option
  // number the library got wrong reads back a different option.
  for (const [name, trip] of Object.entries(WRITABLE) as [OptionName, RoundTrip][]) {
    it(`${name} on a ${trip.on} socket (and python3 reads the same)`, () => {
      for (const { set, expect: expected = set } of trip.values) {
        setOption(targetOf(trip.on), name as never, set as never);
        expect(getOption(targetOf(trip.on), name)).toEqual(expected);
        expect({ name, set, python: pythonReads(fdOf(targetOf(trip.on)), name) }).toEqual({ name, set, python: expected });
      }
    });
  }

  it('python3, on the same socket inherited as fd 3, reads what setOption wrote', () => {
    const names = ['SO_REUSEADDR', 'SO_REUSEPORT', 'TCP_NODELAY', 'TCP_KEEPIDLE'] as const;
    const fd = pair.client;
    for (const [flags, idle] of [[true, 42], [false, 17]] as const) {
      for (const name of names.slice(0, 3)) setOption(fd, name, flags);
      setOption(fd, 'TCP_KEEPIDLE', idle);
      const seen = pythonGetsockopt(fdOf(fd), [...names]);
      expect(seen).toEqual({ SO_REUSEADDR: +flags, SO_REUSEPORT: +flags, TCP_NODELAY: +flags, TCP_KEEPIDLE: idle });
    }
  });

  it('reads the read-only options', async () => {
    expect(getOption(pair.client, 'SO_ERROR')).toBe(0);
    expect(getOption(pair.client, 'SO_TYPE')).toBe(constants.SOCK_STREAM);
    expect(getOption(pair.client, 'SO_ACCEPTCONN')).toBe(false);
    expect(getOption(pair.server, 'SO_ACCEPTCONN')).toBe(true);
    const udp = dgram.createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    expect(getOption(udp, 'SO_TYPE')).toBe(constants.SOCK_DGRAM);
    udp.close();
  });

  it('TCP_INFO gives the state by name, as ss sees it, with rtt and the MSS', () => {
    const info = getOption(pair.client, 'TCP_INFO');
    expect(info.state).toBe('ESTABLISHED');
    expect(ssState(pair.client.localPort!, pair.port)).toBe('ESTAB');
    expect(info.rtt).toBeGreaterThan(0);
    expect(info.sndMss).toBeGreaterThan(0);
    expect(info.retransmits).toBe(0);
    expect(getOption(pair.server, 'TCP_INFO').state).toBe('LISTEN');
  });

  it('TCP_MAXSEG set before connect limits the MSS the connection uses', async () => {
    const { server } = pair;
    setOption(server, 'TCP_MAXSEG', 1000);
    const accepted = once(server, 'connection');
    const { connect } = await import('node:net');
    const client = connect({ port: pair.port, host: '127.0.0.1' });
    await once(client, 'connect');
    const [peer] = (await accepted) as [import('node:net').Socket];
    expect(getOption(peer, 'TCP_INFO').sndMss).toBeLessThanOrEqual(1000);
    client.destroy();
    peer.destroy();
  });
});
