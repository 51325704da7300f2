// From the sockets on the port and the measured reuse matrix to causes: what blocks the
// bind, the evidence (the sockets, as ss shows them), and the fix.
import { formatEndpoint } from '../states/address';
import type { BindAddress } from '../listen/options';
import type { ReuseMatrix } from './probe';
import type { PortSocket } from './sockets';

interface CauseBase {
  /** One line: what blocks the bind. */
  summary: string;
  /** The sockets behind it, as `ss -tanpe` lists them. */
  sockets: PortSocket[];
  /** What would let the bind through. */
  fix: string;
}

/** A socket listening on the port (pid, uid and command as `ss -p` finds them). */
export interface ListenerCause extends CauseBase {
  kind: 'listener';
}

/**
 * A SO_REUSEPORT group that this socket may not join: 'other-uid' (only sockets of the same
 * effective uid may join: port-hijack protection), 'not-set-here' (the group would take
 * this socket with reusePort: true), 'not-set-there' (this socket set it, the listener did not).
 */
export interface ReusePortCause extends CauseBase {
  kind: 'reuseport-group';
  reason: 'other-uid' | 'not-set-here' | 'not-set-there';
  /** The uids of the listeners on the port. */
  uids: number[];
}

/** `N` connections in TIME_WAIT on the port, and which reuse options would bind past them. */
export interface TimeWaitCause extends CauseBase {
  kind: 'time-wait';
  count: number;
  /** Time left of the youngest and the oldest, in ms (TIME_WAIT lasts 60 s on Linux). */
  timeLeftMs: { min: number; max: number };
  /**
   * The reuse options of the sockets the TIME_WAITs came from (a TIME_WAIT keeps them, even
   * when they were set after bind), as the probe binds show them; null where another socket
   * on the port blocks too, so the probes cannot tell.
   */
  oldOptions: { reuseAddr: boolean | null; reusePort: boolean | null };
  /** The new socket's options that bind now (measured). */
  wouldBind: ReuseMatrix;
}

/** A socket bound to the port that neither listens nor connects (sock_diag's bound-inactive, Linux >= 6.8). */
export interface BoundCause extends CauseBase {
  kind: 'bound';
}

/** Connections still open on the port (the old server's accepted ones, or a client bound to it). */
export interface ConnectionCause extends CauseBase {
  kind: 'connection';
}

/**
 * The other family through a dual-stack socket: 'ipv6-covers-ipv4' (a `::` socket without
 * IPV6_V6ONLY holds the port for IPv4 too) or 'ipv4-blocks-dual-stack' (an IPv4 socket holds
 * the port a dual-stack `::` bind also needs).
 */
export interface DualStackCause extends CauseBase {
  kind: 'dual-stack';
  direction: 'ipv6-covers-ipv4' | 'ipv4-blocks-dual-stack';
}

/** A client's connect found no free local port in net.ipv4.ip_local_port_range for that peer (EADDRNOTAVAIL). */
export interface PortRangeCause extends CauseBase {
  kind: 'port-range';
  /** net.ipv4.ip_local_port_range. */
  range: [number, number];
  /** Sockets toward the same peer with a local port in the range, and how many of them are TIME_WAIT. */
  inUse: number;
  timeWait: number;
  /** net.ipv4.tcp_tw_reuse: 0 never, 1 always, 2 loopback only (the default); null where unreadable. */
  twReuse: number | null;
}

export type PortCause = ListenerCause | ReusePortCause | TimeWaitCause | BoundCause | ConnectionCause | DualStackCause | PortRangeCause;

export function describeSocket(s: PortSocket): string {
  const owner = s.pid === null ? `uid ${s.uid}` : `pid ${s.pid} (${s.command ?? '?'}, uid ${s.uid})`;
  const remote = s.state === 'LISTEN' || s.state === 'CLOSED' ? '' : ` -> ${formatEndpoint(s.remoteAddress, s.remotePort)}`;
  const left = s.timeLeftMs === null ? '' : `, ${(s.timeLeftMs / 1000).toFixed(1)} s left`;
  return `${s.state} ${formatEndpoint(s.localAddress, s.localPort)}${remote} ${owner}${left}`;
}

const owners = (sockets: PortSocket[]) =>
  [...new Set(sockets.map((s) => (s.pid === null ? `uid ${s.uid}` : `pid ${s.pid} (${s.command ?? '?'}, uid ${s.uid})`)))].join(', ');

function options(m: { reuseAddr: boolean; reusePort: boolean }): string {
  if (m.reuseAddr && m.reusePort) return 'reuseAddr and reusePort';
  if (m.reuseAddr) return 'reuseAddr';
  if (m.reusePort) return 'reusePort';
  return 'neither reuseAddr nor reusePort';
}

export interface Request {
  where: BindAddress;
  port: number;
  reuseAddr: boolean;
  reusePort: boolean;
  ipv6Only: boolean;
  /** This process's effective uid. */
  uid: number;
}

function listenerCauses(listeners: PortSocket[], request: Request, matrix: ReuseMatrix): PortCause[] {
  if (listeners.length === 0) return [];
  const uids = [...new Set(listeners.map((s) => s.uid))];
  const where = formatEndpoint(request.where.address, request.port);
  const foreign = listeners.filter((s) => s.uid !== request.uid);
  if (request.reusePort && foreign.length > 0) {
    return [{
      kind: 'reuseport-group', reason: 'other-uid', uids, sockets: listeners,
      summary: `a listener of another uid (${[...new Set(foreign.map((s) => s.uid))].join(', ')}) holds ${where}: only sockets of the same effective uid may join a SO_REUSEPORT group`,
      fix: `run as uid ${foreign[0]!.uid}, or stop ${owners(foreign)}, or pick another port`,
    }];
  }
  if (request.reusePort) {
    return [{
      kind: 'reuseport-group', reason: 'not-set-there', uids, sockets: listeners,
      summary: `${owners(listeners)} listens on the port without SO_REUSEPORT: this socket set it, the listener did not`,
      fix: 'set SO_REUSEPORT on the listener already there too (before its bind), or stop it, or pick another port',
    }];
  }
  if (matrix.reusePort || matrix.both) {
    return [{
      kind: 'reuseport-group', reason: 'not-set-here', uids, sockets: listeners,
      summary: `${owners(listeners)} listens on the port in a SO_REUSEPORT group this socket did not ask to join`,
      fix: 'listen with reusePort: true to join the group (the kernel spreads new connections over its members), or stop the listener',
    }];
  }
  return [{
    kind: 'listener', sockets: listeners,
    summary: `${owners(listeners)} listens on ${listeners.map((s) => formatEndpoint(s.localAddress, s.localPort)).join(', ')}`,
    fix: `stop that process (kill ${[...new Set(listeners.map((s) => s.pid).filter((p) => p !== null))].join(' ') || '<pid>'}) or pick another port; to share the port on purpose, both listeners set reusePort (same uid)`,
  }];
}

function timeWaitCause(sockets: PortSocket[], request: Request, matrix: ReuseMatrix, alone: boolean): TimeWaitCause {
  const left = sockets.map((s) => s.timeLeftMs ?? 0);
  const oldOptions = alone ? { reuseAddr: matrix.reuseAddr, reusePort: matrix.reusePort } : { reuseAddr: null, reusePort: null };
  const max = Math.max(...left);
  const waits = `wait ${(max / 1000).toFixed(1)} s (the oldest TIME_WAIT's end)`;
  let fix: string;
  if (!alone) fix = `the sockets above block too; once they are gone, ${waits} or bind with the reuse option the old listener had`;
  else if (matrix.reuseAddr && !request.reuseAddr) fix = 'listen with reuseAddr: true (the old sockets had SO_REUSEADDR; Node sets it by default)';
  else if (matrix.reusePort && !request.reusePort) fix = 'listen with reusePort: true (the old sockets had SO_REUSEPORT, same uid)';
  else if (matrix.both) fix = 'listen with reuseAddr: true and reusePort: true';
  else fix = `${waits}: the old sockets set neither SO_REUSEADDR nor SO_REUSEPORT, so no option of the new socket binds past them; set SO_REUSEADDR on the listener next time (Node does by default)`;
  return {
    kind: 'time-wait', count: sockets.length, timeLeftMs: { min: Math.min(...left), max }, oldOptions, wouldBind: matrix, sockets,
    summary: `${sockets.length} connection${sockets.length === 1 ? '' : 's'} in TIME_WAIT on the port (${(Math.min(...left) / 1000).toFixed(1)}-${(max / 1000).toFixed(1)} s left)` +
      (alone ? `; the old socket had ${options(oldOptions as { reuseAddr: boolean; reusePort: boolean })}, the new one asks for ${options(request)}` : ''),
    fix,
  };
}

/** The causes of a bind that failed with EADDRINUSE, from the sockets whose address overlaps it. */
export function explain(sockets: PortSocket[], request: Request, matrix: ReuseMatrix): PortCause[] {
  const causes: PortCause[] = [];
  const cross = sockets.filter((s) => s.crossFamily && (s.state === 'LISTEN' || s.state === 'CLOSED'));
  const same = sockets.filter((s) => !cross.includes(s));
  causes.push(...listenerCauses(same.filter((s) => s.state === 'LISTEN'), request, matrix));
  if (cross.length > 0) {
    const v6 = request.where.family === 'ipv4';
    causes.push({
      kind: 'dual-stack', direction: v6 ? 'ipv6-covers-ipv4' : 'ipv4-blocks-dual-stack', sockets: cross,
      summary: v6
        ? `${owners(cross)} holds [::]:${request.port} without IPV6_V6ONLY${cross.every((c) => c.v6only === false) ? ' (sock_diag: v6only 0)' : ''}, which covers IPv4 too`
        : `${owners(cross)} holds the port on IPv4, which a dual-stack [::] bind also needs`,
      fix: v6
        ? 'set ipv6Only: true on the [::] socket (then both can bind), or bind the IPv4 listener on a specific address the other does not hold'
        : 'listen with ipv6Only: true (IPv6 only), or on the IPv4 address alone, or stop the IPv4 socket',
    });
  }
  const bound = same.filter((s) => s.state === 'CLOSED');
  if (bound.length > 0) {
    causes.push({
      kind: 'bound', sockets: bound,
      summary: `${owners(bound)} has a socket bound to the port that neither listens nor connects (bound-inactive; Debian 12's ss cannot list it)`,
      fix: 'close that socket (often a client bound to a fixed local port, or a listener that never called listen), or set SO_REUSEADDR on both it and the new socket',
    });
  }
  const open = same.filter((s) => s.state !== 'LISTEN' && s.state !== 'CLOSED' && s.state !== 'TIME_WAIT');
  if (open.length > 0) {
    causes.push({
      kind: 'connection', sockets: open,
      summary: `${open.length} connection${open.length === 1 ? '' : 's'} still open on the port (${[...new Set(open.map((s) => s.state))].join(', ')})`,
      fix: 'listen with reuseAddr: true (when the old listener had it too), or end those connections first',
    });
  }
  const timeWait = same.filter((s) => s.state === 'TIME_WAIT');
  if (timeWait.length > 0) causes.push(timeWaitCause(timeWait, request, matrix, causes.length === 0));
  return causes;
}
