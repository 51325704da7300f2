// One TCP socket as tcpStates reports it, whichever source it came from (netlink or /proc):
// both build rows here, so the two give the same shape.
import type { SocketFamily } from '../core/socket';
import { binding } from '../core/binding';
import { tcpStateName, type TcpState } from '../core/tcp-states';
import type { TcpInfo } from '../core/options';

/**
 * The socket's pending timer, as `ss -o` shows it: 'retransmit' (ss "on": retransmission,
 * also SYN_RECV's SYN-ACK), 'keepalive' (also the orphaned FIN_WAIT_2 timeout), 'timewait'
 * (the rest of 2MSL), 'persist' (zero-window probe).
 */
export type TcpTimerKind = 'retransmit' | 'keepalive' | 'timewait' | 'persist' | 'unknown';

export interface TcpTimer {
  kind: TcpTimerKind;
  /** Time left before it fires, in milliseconds (10 ms steps from /proc). */
  expiresMs: number;
}

export interface TcpStateRow {
  state: TcpState;
  family: SocketFamily;
  localAddress: string;
  localPort: number;
  /** '0.0.0.0' or '::' and port 0 for a listener. */
  remoteAddress: string;
  remotePort: number;
  /** Bytes received, not yet read; on a LISTEN row, connections waiting in the accept queue. */
  recvQ: number;
  /** Bytes sent, not yet acknowledged; on a LISTEN row, the backlog (netlink only: /proc has 0). */
  sendQ: number;
  timer: TcpTimer | null;
  /** Retransmissions of the pending timer (keepalive and persist: probes sent), as `ss -o`. */
  retransmits: number;
  uid: number;
  /** The socket's inode, as in /proc/[pid]/fd links `socket:[inode]`; 0 for TIME_WAIT and SYN_RECV. */
  inode: number;
  /**
   * The kernel's cookie for the socket (inet_diag's idiag_cookie, hexadecimal as `ss -e`
   * prints `sk:`), which a reused 4-tuple does not share; its TIME_WAIT keeps it. null from
   * /proc/net/tcp, which has none.
   */
  cookie: string | null;
  /**
   * With `filter.info`: the socket's TCP_INFO as `getOption(socket, 'TCP_INFO')` gives it
   * (`ss -ti`: rtt and rttvar in µs, sndCwnd, retransmits, ...); null where the kernel gave
   * none (TIME_WAIT and SYN_RECV rows, and rows from /proc).
   */
  info?: TcpInfo | null;
  /** With `filter.info`: the congestion control ('cubic', 'bbr', ...), or null as `info`. */
  congestion?: string | null;
  /** With `filter.memory`: the socket's memory, as `ss -m` prints skmem; null as `info`. */
  memory?: SocketMemory | null;
}

/** sock_diag's INET_DIAG_SKMEMINFO, in bytes (`ss -m`'s skmem:(r,rb,t,tb,f,w,o,bl,d)). */
export interface SocketMemory {
  /** r: received, not read. */
  rmemAlloc: number;
  /** rb: the receive buffer's size (SO_RCVBUF). */
  rcvbuf: number;
  /** t: sent, not yet freed (in flight or queued in the kernel). */
  wmemAlloc: number;
  /** tb: the send buffer's size (SO_SNDBUF). */
  sndbuf: number;
  /** f: memory reserved, not yet used. */
  fwdAlloc: number;
  /** w: the send queue's memory. */
  wmemQueued: number;
  /** o: options and other ancillary memory. */
  optmem: number;
  /** bl: the backlog queue (packets waiting while the socket was busy). */
  backlog: number;
  /** d: packets dropped before reaching the socket. */
  drops: number;
}

/** A process holding a descriptor of the socket. */
export interface SocketOwner {
  pid: number;
  /** /proc/[pid]/comm. */
  command: string;
  fd: number;
}

export interface TcpStateRowWithProcess extends TcpStateRow {
  /** The first owner (lowest pid), or null: TIME_WAIT has none, nor a socket of an unreadable process. */
  pid: number | null;
  command: string | null;
  /** Every process and descriptor holding the socket (dup, fork, passed descriptors). */
  owners: SocketOwner[];
}

// By the kernel's numbers, as the addon exports them (native/diag_row.h); /proc's "tr"
// column uses the same.
const TIMER_KINDS: (TcpTimerKind | null)[] = [];
for (const [name, number] of Object.entries(binding.diagLayout.timers)) TIMER_KINDS[number] = name === 'none' ? null : (name as TcpTimerKind);

/** Kernel numbers in, a row out; `timer` and `expiresMs` as inet_diag_msg has them. */
export function makeRow(
  ipv6: boolean,
  state: number,
  localAddress: string,
  localPort: number,
  remoteAddress: string,
  remotePort: number,
  recvQ: number,
  sendQ: number,
  timer: number,
  expiresMs: number,
  retransmits: number,
  uid: number,
  inode: number,
  cookie: string | null,
): TcpStateRow {
  const kind = timer < TIMER_KINDS.length ? (TIMER_KINDS[timer] ?? null) : 'unknown';
  return {
    state: tcpStateName(state) as TcpState,
    family: ipv6 ? 'ipv6' : 'ipv4',
    localAddress,
    localPort,
    remoteAddress,
    remotePort,
    recvQ,
    sendQ,
    timer: kind ? { kind, expiresMs } : null,
    retransmits,
    uid,
    inode,
    cookie,
  };
}
