// What a descriptor this process did not make is (one from systemd, or received over
// SCM_RIGHTS): a socket or not, its type, whether it listens, and its address.
import { constants as osConstants } from 'node:os';
import { binding, type RawSocketInfo } from './binding';
import { errnoException } from './errors';

export type SocketInfo = RawSocketInfo;

/** fstat + getsockopt + getsockname; ENOTSOCK (syscall 'fstat') for anything but a socket. */
export function describeSocket(fd: number): SocketInfo {
  return binding.describeSocket(fd);
}

/** What net.Server.address() gives for a socket described here: `family` spelt as Node spells it ('IPv4', 'IPv6'; 'unix' for a path). */
export function addressInfoOf(info: Pick<SocketInfo, 'family' | 'address' | 'port' | 'path'>): { address: string; family: string; port: number } {
  const family = info.family === 'ipv6' ? 'IPv6' : info.family === 'ipv4' ? 'IPv4' : 'unix';
  return { address: info.address ?? info.path ?? '', family, port: info.port ?? 0 };
}

/** The address as one line for messages: 127.0.0.1:80, [::1]:80, /run/x.sock, @name. */
export function formatSocketAddress(info: SocketInfo): string {
  if (info.family === 'unix') return info.path === '' ? '(unbound unix socket)' : info.path!;
  if (info.family === 'ipv6') return `[${info.address}]:${info.port}`;
  if (info.family === 'ipv4') return `${info.address}:${info.port}`;
  return '(unknown family)';
}

/**
 * The descriptor's description if it is a listening stream socket (what a net.Server can
 * serve on); else EINVAL (ENOTSOCK for a non-socket) naming what it is instead.
 */
export function checkListening(fd: number, what: string): SocketInfo {
  let info: SocketInfo;
  try {
    info = describeSocket(fd);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw errnoException(-(e.errno ?? -osConstants.errno.EBADF), e.syscall ?? 'fstat', { reason: `${what} (fd ${fd}) is not an open socket` });
  }
  if (info.type !== 'stream' || !info.listening || (info.family !== 'ipv4' && info.family !== 'ipv6' && info.family !== 'unix')) {
    const state = info.listening ? 'listening' : 'not listening';
    throw errnoException(osConstants.errno.EINVAL, 'listen', {
      reason: `${what} (fd ${fd}) is a ${info.type} ${info.family} socket, ${state}, at ${formatSocketAddress(info)}: not a listening stream socket`,
    });
  }
  return info;
}
