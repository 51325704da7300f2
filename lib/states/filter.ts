// The filter of tcpStates and waitForState: checked here with Node's codes, then reduced
// to what the kernel evaluates (a state mask and the port conditions of the bytecode).
import { isIP, SocketAddress } from 'node:net';
import { invalidArgType, invalidArgValue } from '../core/errors';
import type { SocketFamily } from '../core/socket';
import { TCP_STATE_NAMES, type TcpState } from '../core/tcp-states';
import { readOptions, validateBoolean, validateInteger } from '../core/validate';

export type TcpStatesSource = 'auto' | 'netlink' | 'proc';

export interface TcpStatesFilter {
  /** Local or remote port. */
  port?: number;
  localPort?: number;
  remotePort?: number;
  /** An IP address as `net.isIP` accepts it; compared in its canonical form ('::ffff:127.0.0.1'). */
  localAddress?: string;
  remoteAddress?: string;
  /** One state, or any of several. */
  state?: TcpState | readonly TcpState[];
  family?: SocketFamily;
  /** Adds `pid`, `command` and `owners` to each row, found by inode as `ss -p` does. */
  withProcess?: boolean;
  /**
   * Adds `info` (TCP_INFO as `getOption(socket, 'TCP_INFO')` gives it, for any socket of the
   * namespace: sock_diag's INET_DIAG_INFO, no privilege needed) and `congestion` (the
   * congestion control) to each row, as `ss -ti`. Off by default: the plain listing stays as
   * cheap as it was.
   */
  info?: boolean;
  /** Adds `memory` (the socket's buffers, INET_DIAG_SKMEMINFO) to each row, as `ss -m`. */
  memory?: boolean;
  /**
   * 'tcp' (the default) or 'udp': UDP sockets instead, as `ss -uan` (and `netstat -u`) list
   * them, through the same sock_diag dump. A UDP row's state is 'CLOSED' when it is not
   * connected (ss's UNCONN) and 'ESTABLISHED' when it is.
   */
  protocol?: 'tcp' | 'udp';
  /**
   * 'netlink' (NETLINK_SOCK_DIAG), 'proc' (/proc/net/tcp and tcp6), or 'auto' (the default):
   * netlink, and /proc when netlink is refused.
   */
  source?: TcpStatesSource;
}

/** The filter as the dump needs it: ports are 0 where there is no condition. */
export interface StatesQuery {
  readonly ipv4: boolean;
  readonly ipv6: boolean;
  /** Bit `1 << n` for each kernel state number n wanted. */
  readonly states: number;
  readonly localPort: number;
  readonly remotePort: number;
  /** Local or remote. */
  readonly anyPort: number;
  /** Canonical text, or null for any (compared in JavaScript: the kernel filters ports). */
  readonly localAddress: string | null;
  readonly remoteAddress: string | null;
  readonly withProcess: boolean;
  readonly info: boolean;
  readonly memory: boolean;
  readonly protocol: 'tcp' | 'udp';
  readonly source: TcpStatesSource;
}

const FILTER_KEYS = ['port', 'localPort', 'remotePort', 'localAddress', 'remoteAddress', 'state', 'family', 'withProcess', 'info', 'memory', 'protocol', 'source'] as const;
const FAMILIES: readonly SocketFamily[] = ['ipv4', 'ipv6'];
const SOURCES: readonly TcpStatesSource[] = ['auto', 'netlink', 'proc'];
const PROTOCOLS = ['tcp', 'udp'] as const;

/**
 * TCP_BOUND_INACTIVE (include/net/tcp_states.h, Linux >= 6.8): a request bit only. Sockets
 * bound to a port that never listened nor connected are dumped with it, and come back
 * with the state they are in, TCP_CLOSE. Older kernels ignore the bit.
 */
export const BOUND_INACTIVE_BIT = 1 << 13;

const STATE_BITS = new Map<string, number>();
TCP_STATE_NAMES.forEach((name, number) => {
  if (name !== 'UNKNOWN') STATE_BITS.set(name, (STATE_BITS.get(name) ?? 0) | (1 << number));
});
// The only CLOSED sockets the kernel dumps are the bound, inactive ones: a filter naming
// CLOSED asks for them (`ss state bound-inactive`). A filter without states leaves them
// out, as `ss -a` does.
/** Every state a dump lists without a state filter (bound, inactive sockets left out, as `ss -a`). */
export const EVERY_STATE = [...STATE_BITS.values()].reduce((mask, bits) => mask | bits, 0);
STATE_BITS.set('CLOSED', (STATE_BITS.get('CLOSED') ?? 0) | BOUND_INACTIVE_BIT);

/** The state names a filter accepts, in the kernel's order. */
export const TCP_STATES = [...STATE_BITS.keys()] as TcpState[];

/** The mask bits of one state name (SYN_RECV has two: Linux's NEW_SYN_RECV is one too). */
export function stateBits(state: TcpState): number {
  return STATE_BITS.get(state) ?? 0;
}

/** The state mask for one state name or a non-empty array of them. */
export function stateMask(value: unknown, name: string): number {
  const names = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(names)) throw invalidArgType(name, 'of type string or an instance of Array', value);
  if (names.length === 0) throw invalidArgValue(name, value, 'must name at least one TCP state');
  let mask = 0;
  for (const state of names) {
    const bits = typeof state === 'string' ? STATE_BITS.get(state) : undefined;
    if (bits === undefined) throw invalidArgValue(name, state, `must be a TCP state (${TCP_STATES.join(', ')})`);
    mask |= bits;
  }
  return mask;
}

function port(value: unknown, name: string): number {
  return value === undefined ? 0 : validateInteger(value, name, 1, 65535);
}

function address(value: unknown, name: string): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  const version = isIP(value);
  if (version === 0) throw invalidArgValue(name, value, 'must be an IPv4 or IPv6 address');
  return new SocketAddress({ address: value, family: version === 6 ? 'ipv6' : 'ipv4' }).address;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw invalidArgValue(name, value, `must be ${allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
}

export function toQuery(filter: unknown, name = 'filter'): StatesQuery {
  // A plain object, read once: a Map (whose entries are no properties) must not list every socket.
  const f = readOptions(filter, name, FILTER_KEYS, 'a property of a TCP states filter');
  const family = oneOf(f.family, `${name}.family`, FAMILIES);
  return {
    ipv4: family !== 'ipv6',
    ipv6: family !== 'ipv4',
    states: f.state === undefined ? EVERY_STATE : stateMask(f.state, `${name}.state`),
    localPort: port(f.localPort, `${name}.localPort`),
    remotePort: port(f.remotePort, `${name}.remotePort`),
    anyPort: port(f.port, `${name}.port`),
    localAddress: address(f.localAddress, `${name}.localAddress`),
    remoteAddress: address(f.remoteAddress, `${name}.remoteAddress`),
    withProcess: f.withProcess === undefined ? false : validateBoolean(f.withProcess, `${name}.withProcess`),
    info: f.info === undefined ? false : validateBoolean(f.info, `${name}.info`),
    memory: f.memory === undefined ? false : validateBoolean(f.memory, `${name}.memory`),
    protocol: oneOf(f.protocol, `${name}.protocol`, PROTOCOLS) ?? 'tcp',
    source: oneOf(f.source, `${name}.source`, SOURCES) ?? 'auto',
  };
}

/** waitForState and watchStates follow TCP's states: a UDP filter is refused there. */
export function tcpOnly(query: StatesQuery, name = 'filter'): StatesQuery {
  if (query.protocol !== 'tcp') throw invalidArgValue(`${name}.protocol`, query.protocol, "is for tcpStates: only TCP sockets change state ('tcp')");
  return query;
}

/** The address conditions, which every source checks in JavaScript. */
export function matchesAddresses(query: StatesQuery, localAddress: string, remoteAddress: string): boolean {
  return (query.localAddress === null || localAddress === query.localAddress) && (query.remoteAddress === null || remoteAddress === query.remoteAddress);
}

/** The query's conditions, for rows filtered in JavaScript (the /proc path). */
export function matchesQuery(query: StatesQuery, state: number, localPort: number, remotePort: number): boolean {
  return (
    state < 32 &&
    (query.states & (1 << state)) !== 0 &&
    (query.localPort === 0 || localPort === query.localPort) &&
    (query.remotePort === 0 || remotePort === query.remotePort) &&
    (query.anyPort === 0 || localPort === query.anyPort || remotePort === query.anyPort)
  );
}
