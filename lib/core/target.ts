// fdOf: the descriptor behind whatever a user holds. Node keeps it on the libuv handle
// (`_handle.fd` for net, the state symbol's `handle.fd` for dgram); this is the one
// place that reaches into those internals.
import type { Server, Socket } from 'node:net';
import { Socket as DgramSocket } from 'node:dgram';
import { constants as osConstants } from 'node:os';
import { errnoException, invalidArgType } from './errors';
import { validateInteger } from './validate';

/** Anything that has (or is) a socket descriptor. */
export type Target = Socket | Server | DgramSocket | { readonly fd: number } | number;

const TARGET_TYPES = 'of type number or an instance of net.Socket, net.Server, dgram.Socket or { fd }';

interface HandleHolder {
  _handle?: { fd?: number } | null;
}

let dgramState: symbol | undefined;

function dgramHandle(target: DgramSocket): { fd?: number } | null | undefined {
  dgramState ??= Object.getOwnPropertySymbols(target).find((s) => s.description === 'state symbol');
  if (dgramState === undefined) return undefined;
  return (target as unknown as Record<symbol, { handle?: { fd?: number } | null }>)[dgramState]?.handle;
}

function noDescriptor(what: string): Error {
  return errnoException(osConstants.errno.EBADF, 'fdOf', { reason: `${what} has no open descriptor` });
}

export function fdOf(target: Target): number {
  if (typeof target === 'number') return validateInteger(target, 'fd');
  if (typeof target !== 'object' || target === null) throw invalidArgType('target', TARGET_TYPES, target);

  let fd: unknown;
  let what: string;
  let fromHandle = true;
  if ('_handle' in target && !(target instanceof DgramSocket)) {
    // net.Socket and net.Server: no handle before connect/listen and after close; fd -1
    // while libuv has not made the socket yet. (dgram's `_handle` is a deprecated accessor.)
    fd = (target as HandleHolder)._handle?.fd ?? -1;
    what = target.constructor?.name ?? 'socket';
  } else if (target instanceof DgramSocket) {
    fd = dgramHandle(target)?.fd ?? -1;
    what = 'dgram.Socket';
  } else if ('fd' in target) {
    fd = target.fd;
    what = 'target';
    fromHandle = false;
  } else {
    throw invalidArgType('target', TARGET_TYPES, target);
  }
  // A handle says -1 before libuv made the socket, and an unbound dgram.Socket's -9 (UV_EBADF).
  if (fromHandle ? typeof fd === 'number' && fd < 0 : fd === -1) throw noDescriptor(what);
  return validateInteger(fd, 'target.fd');
}
