// destroySocket: closes a TCP socket of this network namespace, whoever holds it, as
// `ss -K` does: SOCK_DESTROY through sock_diag(7) (native/diag.cc), by its 4-tuple and
// cookie; the kernel aborts it (tcp_abort: an RST to the peer, ECONNABORTED to its owner).
// It needs CAP_NET_ADMIN in the socket's network namespace: EPERM without it, where
// `ss -K` exits 0 and says nothing.
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { errnoException, invalidArgValue } from '../core/errors';
import { validateInteger, validateObject, validateString } from '../core/validate';
import { lookupRowSync } from './netlink';
import type { TcpStateRow } from './row';

/** The fields of a row that name one socket. */
export type DestroyTarget = Pick<TcpStateRow, 'family' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort' | 'cookie'>;

/**
 * Destroys the socket `row` names (a row of tcpStates or watchStates). With its cookie, only
 * that socket: ENOENT once it is gone, even if another socket took its 4-tuple; a null
 * cookie (rows from /proc) names whichever connection has the 4-tuple now, never the port's
 * listener (ENOENT when no connection has it). Throws EPERM without
 * CAP_NET_ADMIN; off Linux, ENOTSUP.
 */
export function destroySocket(row: DestroyTarget): void {
  const o = validateObject(row, 'row');
  const { family, localAddress, localPort, remoteAddress, remotePort, cookie } = o; // each read once
  if (family !== 'ipv4' && family !== 'ipv6') throw invalidArgValue('row.family', family, "must be 'ipv4' or 'ipv6'");
  const version = family === 'ipv6' ? 6 : 4;
  for (const [name, address] of [['row.localAddress', localAddress], ['row.remoteAddress', remoteAddress]] as const) {
    validateString(address, name);
    if (isIP(address as string) !== version) throw invalidArgValue(name, address, `is not an ${family} address`);
  }
  const local = validateInteger(localPort, 'row.localPort', 0, 65535);
  const remote = validateInteger(remotePort, 'row.remotePort', 0, 65535);
  if (cookie !== null && !(typeof cookie === 'string' && /^[0-9a-f]{1,16}$/.test(cookie))) {
    throw invalidArgValue('row.cookie', cookie, 'must be null or the hexadecimal cookie of a row');
  }
  if (process.platform !== 'linux') {
    throw errnoException(osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP, 'sock_destroy', { reason: `Linux only, not on ${process.platform}` });
  }
  const ipv6 = version === 6;
  let pinned = cookie as string | null;
  if (pinned === null) {
    // The kernel's lookup falls back to the LISTEN socket of the port when the connection
    // is gone: without a cookie that listener would be destroyed. Find the connection
    // itself first (lookupRowSync refuses the listener) and destroy it by its cookie.
    const found = lookupRowSync(ipv6, localAddress as string, local, remoteAddress as string, remote);
    if (found === undefined) throw errnoException(osConstants.errno.ENOENT, 'sock_destroy');
    pinned = found.cookie ?? '';
  }
  binding.tcpDiagDestroySync(ipv6 ? 1 : 0, localAddress as string, local, remoteAddress as string, remote, pinned);
}
