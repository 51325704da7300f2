// What a watch of TCP states yields: one state change of one socket, and its JSON form.
import type { TcpState } from '../core/tcp-states';
import type { TcpStateRow } from './row';

export type WatchSource = 'auto' | 'tracepoint' | 'poll';

/** One state change of one socket. */
export interface TcpStateChange {
  /** When, in milliseconds since the epoch: the kernel's own timestamp from the tracepoint. */
  time: number;
  /** 'CLOSED' for a new socket; null for one already in `to` when the watch began (`initial`). */
  from: TcpState | null;
  /** 'CLOSED' once the kernel no longer has the socket (TIME_WAIT over included). */
  to: TcpState;
  /**
   * How long the socket spent in `from`, in milliseconds (what bcc's tcpstates prints), from
   * the kernel's timestamps of the tracepoint events that entered and left it. null where
   * unknown, never 0 for it: the watch did not see the socket enter `from` (`from` null or
   * 'CLOSED', or a socket older than the watch), the kernel does not report entering it
   * (TIME_WAIT; a server's SYN_RECV, logged only at the handshake's final ACK), or the
   * watch polls (its times are those of its dumps, not the kernel's).
   */
  durationMs: number | null;
  /** The socket's cookie (sock_diag's idiag_cookie, as `ss -e` prints `sk:`); null where unknown. */
  cookie: string | null;
  /**
   * The socket in `to`. From the tracepoint: state, addresses, ports and cookie; queues,
   * timer, uid and inode are the kernel's only when a lookup found the socket in `to`.
   */
  row: TcpStateRow;
  /** Who saw it: the tracepoint, a 4-tuple lookup (TIME_WAIT and its end), or a dump. */
  via: 'tracepoint' | 'lookup' | 'poll';
}

/** A change as `sockctl states --watch --json` prints it, one a line. */
export interface TcpStateChangeJson {
  /** ISO 8601, to the millisecond. */
  time: string;
  from: TcpState | null;
  to: TcpState;
  /** As TcpStateChange: milliseconds in `from`, null where unknown. */
  durationMs: number | null;
  cookie: string | null;
  via: TcpStateChange['via'];
  row: TcpStateRow;
}

export function changeToJson(change: TcpStateChange): TcpStateChangeJson {
  return { time: new Date(change.time).toISOString(), from: change.from, to: change.to, durationMs: change.durationMs, cookie: change.cookie, via: change.via, row: change.row };
}

/** A row's 4-tuple as the key of the maps the sources keep. */
export function tupleKey(ipv6: boolean, localAddress: string, localPort: number, remoteAddress: string, remotePort: number): string {
  return `${ipv6 ? 6 : 4} ${localAddress} ${localPort} ${remoteAddress} ${remotePort}`;
}

export function rowTupleKey(row: TcpStateRow): string {
  return tupleKey(row.family === 'ipv6', row.localAddress, row.localPort, row.remoteAddress, row.remotePort);
}
