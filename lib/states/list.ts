// tcpStates: the TCP sockets of this host (what `ss -tan` and `netstat -tan` list), from
// NETLINK_SOCK_DIAG with the filter run in the kernel, or from /proc/net/tcp when netlink
// is refused (a sandbox, a kernel without tcp_diag). Linux only: elsewhere ENOTSUP.
import { constants as osConstants } from 'node:os';
import { errnoException } from '../core/errors';
import { matchesAddresses, toQuery, type StatesQuery, type TcpStatesFilter, type TcpStatesSource } from './filter';
import { lookupRowSync, netlinkRows, netlinkRowsSync } from './netlink';
import { socketOwners, socketOwnersSync } from './owners';
import { procRows, procRowsSync } from './proc';
import type { SocketOwner, TcpStateRow, TcpStateRowWithProcess } from './row';

// What a refused netlink socket or dump says; anything else is a real failure and is thrown.
const REFUSED = new Set(['EPERM', 'EACCES', 'EPROTONOSUPPORT', 'EAFNOSUPPORT', 'ESOCKTNOSUPPORT', 'ENOENT', 'EOPNOTSUPP', 'ENOTSUP']);

function assertLinux(): void {
  if (process.platform !== 'linux') {
    throw errnoException(osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP, 'tcpStates', {
      reason: `sock_diag and /proc/net/tcp are Linux only, not on ${process.platform}`,
    });
  }
}

let warned = false;

/** A netlink failure that means sock_diag is refused here (a sandbox, an emulator), not a real error. */
function isRefusal(error: unknown): boolean {
  return REFUSED.has((error as { code?: string }).code ?? '');
}

/** Whether this process found NETLINK_SOCK_DIAG refused and lists from /proc instead. */
export function readsProc(): boolean {
  return warned;
}

// The fallback is said once per process (a warning, as Node says a deprecation): /proc is
// slower, filters in JavaScript and has no cookies, so a silent switch would hide that.
function fallsBack(source: TcpStatesSource, error: unknown): boolean {
  if (source !== 'auto' || !isRefusal(error)) return false;
  if (!warned) {
    warned = true;
    const refusal = error instanceof Error ? error.message : String(error);
    process.emitWarning(`NETLINK_SOCK_DIAG refused (${refusal}): tcpStates reads /proc/net/tcp and tcp6 instead`, {
      type: 'SockctlWarning',
      code: 'SOCKCTL_STATES_PROC',
    });
  }
  return true;
}

function withCause(error: unknown, cause: unknown): unknown {
  if (error instanceof Error && error.cause === undefined) error.cause = cause;
  return error;
}

// netlink, else /proc when netlink is refused and the source is 'auto': written once for
// the blocking and the async listing (`T` is rows or a promise of rows).
function fromSources<T extends TcpStateRow[] | Promise<TcpStateRow[]>>(query: StatesQuery, netlink: () => T, proc: () => T): T {
  assertLinux();
  const addressed = (rows: TcpStateRow[]) =>
    query.localAddress === null && query.remoteAddress === null ? rows : rows.filter((row) => matchesAddresses(query, row.localAddress, row.remoteAddress));
  const filtered = (rows: T): T => (rows instanceof Promise ? rows.then(addressed) : addressed(rows as TcpStateRow[])) as T;
  const attempt = (read: () => T, failed: (error: unknown) => T): T => {
    let rows: T;
    try {
      rows = read();
    } catch (error) {
      return failed(error);
    }
    return (rows instanceof Promise ? rows.catch(failed) : rows) as T;
  };
  if (query.source === 'proc') return filtered(proc());
  return filtered(
    attempt(netlink, (error) => {
      if (!fallsBack(query.source, error)) throw error;
      return attempt(proc, (procError) => {
        throw withCause(procError, error);
      });
    }),
  );
}

// /proc/net/tcp has no TCP_INFO, congestion control or socket memory: null where asked.
function withoutExtras(query: StatesQuery, rows: TcpStateRow[]): TcpStateRow[] {
  if (query.info) for (const row of rows) Object.assign(row, { info: null, congestion: null });
  if (query.memory) for (const row of rows) row.memory = null;
  return rows;
}

export function queryRowsSync(query: StatesQuery): TcpStateRow[] {
  return fromSources(query, () => netlinkRowsSync(query), () => withoutExtras(query, procRowsSync(query)));
}

export function queryRows(query: StatesQuery): Promise<TcpStateRow[]> {
  return fromSources(query, () => netlinkRows(query), () => procRows(query).then((rows) => withoutExtras(query, rows)));
}

/** One connection's exact 4-tuple. */
export interface Tuple {
  readonly ipv6: boolean;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

// The /proc listing of one 4-tuple: every state, no extras (its ports, addresses and family set per call).
const TUPLE_QUERY: StatesQuery = { ...toQuery(undefined), source: 'proc' };

/**
 * The socket on one exact 4-tuple, pinned to `cookie` once known: sock_diag's lookup (one
 * request, no dump: its cost does not grow with the host's table), or /proc where sock_diag
 * is refused and `source` is 'auto' (no cookies there: the first row of the tuple).
 */
export function lookupTupleSync(tuple: Tuple, cookie = '', source: TcpStatesSource = 'auto'): TcpStateRow | undefined {
  assertLinux();
  const { ipv6, localAddress, localPort, remoteAddress, remotePort } = tuple;
  if (source !== 'proc' && !(source === 'auto' && warned)) {
    try {
      return lookupRowSync(ipv6, localAddress, localPort, remoteAddress, remotePort, cookie);
    } catch (error) {
      if (!fallsBack(source, error)) throw error;
    }
  }
  const query: StatesQuery = { ...TUPLE_QUERY, ipv4: !ipv6, ipv6, localPort, remotePort, localAddress, remoteAddress };
  return procRowsSync(query).find((row) => matchesAddresses(query, row.localAddress, row.remoteAddress));
}

function inodesOf(rows: readonly TcpStateRow[]): Set<number> {
  return new Set(rows.map((row) => row.inode).filter((inode) => inode !== 0));
}

function attach(rows: TcpStateRow[], owners: Map<number, SocketOwner[]>): TcpStateRowWithProcess[] {
  return rows.map((row) => {
    const list = (row.inode !== 0 && owners.get(row.inode)) || [];
    return Object.assign(row, { pid: list[0]?.pid ?? null, command: list[0]?.command ?? null, owners: list });
  });
}

export function addOwnersSync(rows: TcpStateRow[]): TcpStateRowWithProcess[] {
  return attach(rows, socketOwnersSync(inodesOf(rows)));
}

export async function addOwners(rows: TcpStateRow[]): Promise<TcpStateRowWithProcess[]> {
  return attach(rows, await socketOwners(inodesOf(rows)));
}

/**
 * The TCP sockets that match `filter` (all of them without one). The netlink dump runs on
 * libuv's thread pool; with `withProcess`, so do the reads of /proc/[pid]/fd.
 */
export async function tcpStates(filter: TcpStatesFilter & { withProcess: true }): Promise<TcpStateRowWithProcess[]>;
export async function tcpStates(filter?: TcpStatesFilter): Promise<TcpStateRow[]>;
export async function tcpStates(filter?: TcpStatesFilter): Promise<TcpStateRow[]> {
  const query = toQuery(filter);
  const rows = await queryRows(query);
  return query.withProcess ? addOwners(rows) : rows;
}

/** tcpStates, blocking: for tests and scripts. */
export function tcpStatesSync(filter: TcpStatesFilter & { withProcess: true }): TcpStateRowWithProcess[];
export function tcpStatesSync(filter?: TcpStatesFilter): TcpStateRow[];
export function tcpStatesSync(filter?: TcpStatesFilter): TcpStateRow[] {
  const query = toQuery(filter);
  const rows = queryRowsSync(query);
  return query.withProcess ? addOwnersSync(rows) : rows;
}
