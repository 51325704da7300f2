// whyInUse(options): could a listener with these options bind now, and if not, why. The
// answer is measured, not guessed: a probe socket with the options is bound for real and
// closed (lib/why/probe.ts), and so are the other three reuse combinations; the causes
// come from the sock_diag dump of the port (lib/why/sockets.ts, causes.ts).
import type { SocketFamily } from '../core/socket';
import { checkWhyOptions, bindAddressOf, type CheckedWhyOptions, type WhyInUseOptions } from './options';
import { probeBind, probeMatrix, type ReuseMatrix } from './probe';
import { socketsOnPort, type PortSocket } from './sockets';
import { explain, type PortCause } from './causes';

export interface WhyInUseResult {
  /** The address the probe bound (the host resolved; '::' when none was given). */
  address: string;
  family: SocketFamily;
  port: number;
  reuseAddr: boolean;
  reusePort: boolean;
  ipv6Only: boolean;
  /** A listener with these options could bind now (the probe's bind succeeded). */
  canBind: boolean;
  /** The probe's bind error when it could not ('EADDRINUSE', or EACCES below 1024 without the capability, ...). */
  error: { code: string; errno: number } | null;
  /** Which reuse options would bind now, measured with the same address and IPV6_V6ONLY. */
  wouldBind: ReuseMatrix;
  /** Every cause, with evidence and fix; empty when it binds (or for an error other than EADDRINUSE). */
  causes: PortCause[];
  /** Every socket on the port whose address overlaps, blocking or not. */
  sockets: PortSocket[];
}

/** The analysis behind whyInUse, for options already checked (the EADDRINUSE errors use it). */
export async function explainBind(o: CheckedWhyOptions): Promise<WhyInUseResult> {
  const where = await bindAddressOf(o.host);
  const outcome = probeBind(where, o.port, o);
  const wouldBind = probeMatrix(where, o.port, o.ipv6Only);
  const sockets = await socketsOnPort(where, o.port, o.ipv6Only);
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
  const causes = outcome.code === 'EADDRINUSE' ? explain(sockets, { where, uid, ...o }, wouldBind) : [];
  return {
    address: where.address,
    family: where.family,
    port: o.port,
    reuseAddr: o.reuseAddr,
    reusePort: o.reusePort,
    ipv6Only: o.ipv6Only,
    canBind: outcome.binds,
    error: outcome.binds ? null : { code: outcome.code!, errno: outcome.errno! },
    wouldBind,
    causes,
    sockets,
  };
}

/**
 * Whether a listener with these options (`listen()`'s defaults: host '::' dual-stack,
 * reuseAddr true, reusePort false) could bind `port` now and, if not, every cause with its
 * evidence and its fix: a live listener, a SO_REUSEPORT group it may not join, a socket
 * bound without listening, a dual-stack clash, open connections, TIME_WAIT (with the reuse
 * options of the old and the new socket that decide it). Linux (sock_diag).
 */
export async function whyInUse(options: WhyInUseOptions): Promise<WhyInUseResult> {
  return explainBind(checkWhyOptions(options));
}
