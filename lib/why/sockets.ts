// The sockets already on a port, as the kernel dumps them (sock_diag, the bound-but-inactive
// ones included on Linux >= 6.8) with their owners as `ss -p` finds them, and which of them
// share the address a new bind asks for (same address, a wildcard, or the other family
// through a dual-stack socket).
import { isIP } from 'node:net';
import { BOUND_INACTIVE_BIT, TCP_STATES, toQuery, type StatesQuery } from '../states/filter';
import { addOwners, queryRows } from '../states/list';
import { netlinkRowsWithV6only } from '../states/netlink';
import type { TcpStateRow } from '../states/row';
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
  /** IPV6_V6ONLY of an IPv6 socket as sock_diag reports it (`ss -e`'s v6only:); null for IPv4 or where unknown (/proc). */
  v6only: boolean | null;
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
 * reverse). An IPv6 socket with IPV6_V6ONLY never covers IPv4; one whose flag is unknown
 * (the /proc source) is taken as dual-stack, the default.
 */
export function overlaps(where: BindAddress, ipv6Only: boolean, row: { family: SocketFamily; localAddress: string; v6only?: boolean | null }): false | 'same' | 'cross' {
  if (row.family === where.family) return sameOrWildcard(where.address, row.localAddress) ? 'same' : false;
  if (where.family === 'ipv4') {
    if (row.v6only === true) return false;
    const v4 = mappedV4(row.localAddress);
    return v4 !== null && sameOrWildcard(where.address, v4) ? 'cross' : false;
  }
  if (ipv6Only) return false;
  const v4 = mappedV4(where.address);
  return v4 !== null && sameOrWildcard(v4, row.localAddress) ? 'cross' : false;
}

/** The port's rows, with IPV6_V6ONLY from sock_diag; from /proc (no flag) where netlink is refused. */
async function portRows(port: number): Promise<{ rows: TcpStateRow[]; v6only: (boolean | null)[] }> {
  const query = portQuery(port);
  try {
    return await netlinkRowsWithV6only(query);
  } catch {
    const rows = await queryRows(query);
    return { rows, v6only: rows.map(() => null) };
  }
}

/** The sockets on `port` whose address overlaps `where`. */
export async function socketsOnPort(where: BindAddress, port: number, ipv6Only: boolean): Promise<PortSocket[]> {
  const listed = await portRows(port);
  const flags = new Map(listed.rows.map((row, i) => [row, listed.v6only[i] ?? null]));
  const rows = await addOwners(listed.rows);
  const found: PortSocket[] = [];
  for (const row of rows) {
    if (row.localPort !== port || isIP(row.localAddress) === 0) continue;
    const v6only = flags.get(row) ?? null;
    const overlap = overlaps(where, ipv6Only, { ...row, v6only });
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
      v6only,
    });
  }
  return found;
}
