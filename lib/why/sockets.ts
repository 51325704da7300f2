// The sockets already on a port, as the kernel dumps them (sock_diag, the bound-but-inactive
// ones included on Linux >= 6.8) with their owners as `ss -p` finds them, and which of them
// share the address a new bind asks for (same address, a wildcard, or the other family
// through a dual-stack socket).
import { isIP } from 'node:net';
import { BOUND_INACTIVE_BIT, TCP_STATES, toQuery, type StatesQuery } from '../states/filter';
import { addOwners, queryRows } from '../states/list';
import type { SocketFamily } from '../core/socket';
import type { TcpState } from '../core/tcp-states';
import type { BindAddress } from '../listen/options';

/** One socket on the port, with what `ss -tanpe` would show of it. */
export interface PortSocket {
  /** CLOSED for a socket bound to the port that neither listens nor connects (bound-inactive). */
  state: TcpState;
  family: SocketFamily;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  uid: number;
  /** 0 for TIME_WAIT (no descriptor holds it). */
  inode: number;
  cookie: string | null;
  /** The first process holding it (lowest pid), as `ss -p`; null for TIME_WAIT or a process we may not read. */
  pid: number | null;
  command: string | null;
  /** TIME_WAIT: milliseconds left before the kernel drops it (ss -o's timer). null otherwise. */
  timeLeftMs: number | null;
  /** The socket is of the other address family and overlaps through a dual-stack (`::`) socket. */
  crossFamily: boolean;
}

/** Every TCP state, and bound-inactive (request bit 13; it comes back as CLOSED). */
function portQuery(port: number): StatesQuery {
  const query = toQuery({ localPort: port, state: TCP_STATES });
  return { ...query, states: query.states | BOUND_INACTIVE_BIT };
}

const WILDCARDS = new Set(['0.0.0.0', '::']);
const mappedV4 = (address: string): string | null => {
  if (address === '::') return '0.0.0.0';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : null;
};
const sameOrWildcard = (a: string, b: string) => a === b || WILDCARDS.has(a) || WILDCARDS.has(b);

/**
 * Whether a socket at `row` shares the address a bind at `where` asks for; 'cross' when it
 * does so across families (an IPv6 socket on `::` or ::ffff:a.b.c.d against IPv4, or the
 * reverse). An IPv6 row on `::` is taken as dual-stack: sock_diag's row does not say
 * IPV6_V6ONLY, the probe's bind does (a v6-only one never blocks an IPv4 bind).
 */
export function overlaps(where: BindAddress, ipv6Only: boolean, row: { family: SocketFamily; localAddress: string }): false | 'same' | 'cross' {
  if (row.family === where.family) return sameOrWildcard(where.address, row.localAddress) ? 'same' : false;
  if (where.family === 'ipv4') {
    const v4 = mappedV4(row.localAddress);
    return v4 !== null && sameOrWildcard(where.address, v4) ? 'cross' : false;
  }
  if (ipv6Only) return false;
  const v4 = mappedV4(where.address);
  return v4 !== null && sameOrWildcard(v4, row.localAddress) ? 'cross' : false;
}

/** The sockets on `port` whose address overlaps `where`. */
export async function socketsOnPort(where: BindAddress, port: number, ipv6Only: boolean): Promise<PortSocket[]> {
  const rows = await addOwners(await queryRows(portQuery(port)));
  const found: PortSocket[] = [];
  for (const row of rows) {
    if (row.localPort !== port || isIP(row.localAddress) === 0) continue;
    const overlap = overlaps(where, ipv6Only, row);
    if (overlap === false) continue;
    found.push({
      state: row.state,
      family: row.family,
      localAddress: row.localAddress,
      localPort: row.localPort,
      remoteAddress: row.remoteAddress,
      remotePort: row.remotePort,
      uid: row.uid,
      inode: row.inode,
      cookie: row.cookie,
      pid: row.pid,
      command: row.command,
      timeLeftMs: row.state === 'TIME_WAIT' ? (row.timer?.expiresMs ?? null) : null,
      crossFamily: overlap === 'cross',
    });
  }
  return found;
}
