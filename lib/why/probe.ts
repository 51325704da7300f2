// The honest test of "could it bind now": a probe socket with the requested options is
// bound for real, then closed. It never listens, so it takes no connection from anyone
// (a SO_REUSEPORT group hands connections only to its listening members). The four
// combinations of SO_REUSEADDR and SO_REUSEPORT are tried the same way: which of them
// bind is what the sockets already on the port allow (their own options and uid decide
// as much as ours: a TIME_WAIT keeps the reuse options of the socket it came from).
import { binding } from '../core/binding';
import { isSystemError } from '../core/errors';
import { setOption } from '../core/options';
import { socket } from '../core/socket';
import type { BindAddress } from '../listen/options';

export interface ProbeOutcome {
  /** true when bind(2) succeeded. */
  binds: boolean;
  /** The bind's error code when it did not ('EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'). */
  code: string | null;
  errno: number | null;
}

export interface ReuseChoice {
  reuseAddr: boolean;
  reusePort: boolean;
  ipv6Only: boolean;
}

export function probeBind(where: BindAddress, port: number, choice: ReuseChoice): ProbeOutcome {
  const fd = socket(where.family);
  try {
    if (choice.reuseAddr) setOption(fd, 'SO_REUSEADDR', true);
    if (choice.reusePort) setOption(fd, 'SO_REUSEPORT', true);
    if (where.family === 'ipv6') setOption(fd, 'IPV6_V6ONLY', choice.ipv6Only);
    binding.bind(fd.fd, where.address, port);
    return { binds: true, code: null, errno: null };
  } catch (error) {
    if (!isSystemError(error)) throw error;
    return { binds: false, code: error.code, errno: error.errno };
  } finally {
    fd.close();
  }
}

/** Which of the four reuse combinations bind now, measured (same family and IPV6_V6ONLY as asked). */
export interface ReuseMatrix {
  /** Neither SO_REUSEADDR nor SO_REUSEPORT. */
  none: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
  both: boolean;
}

export function probeMatrix(where: BindAddress, port: number, ipv6Only: boolean): ReuseMatrix {
  const binds = (reuseAddr: boolean, reusePort: boolean) => probeBind(where, port, { reuseAddr, reusePort, ipv6Only }).binds;
  return { none: binds(false, false), reuseAddr: binds(true, false), reusePort: binds(false, true), both: binds(true, true) };
}
