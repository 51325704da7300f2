// listen(server, options): the listener made natively (listener.ts), then handed to
// the server through Node's own listen-on-a-descriptor path, server.listen({ fd }, backlog).
import { serving } from './connections';
import cluster from 'node:cluster';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { addressInfoOf, checkListening } from '../core/describe';
import { OwnedDescriptor } from '../core/descriptor';
import { errnoException, invalidArgType, invalidArgValue, serverAlreadyListen, serverNotRunning } from '../core/errors';
import { INT32_MAX, validateInteger, validateObject } from '../core/validate';
import type { ListenOptions } from './options';
import { prepareListener, ListeningDescriptor } from './listener';

export function checkServer(server: unknown): asserts server is net.Server {
  if (!(server instanceof net.Server)) throw invalidArgType('server', 'an instance of net.Server', server);
}

/** The address of a server listening on an inet socket (not a UNIX path); ERR_SERVER_NOT_RUNNING otherwise. */
export function inetAddress(server: net.Server): net.AddressInfo {
  checkServer(server);
  const address = server.address();
  if (!server.listening || address === null || typeof address === 'string') throw serverNotRunning();
  return address;
}

/** Throws what Node's listen would, before any socket is made. */
export function checkCanListen(server: unknown): asserts server is net.Server {
  checkServer(server);
  if (server.listening) throw serverAlreadyListen();
  if (cluster.isWorker) {
    // Node sends a worker's listen-on-fd to the primary, which would open its own fd of
    // that number: refuse rather than listen on the wrong socket.
    throw errnoException(osConstants.errno.ENOTSUP, 'listen', {
      reason: 'a cluster worker cannot listen on a descriptor; use createListener() in the primary',
    });
  }
}

/** The same socket still open under this number (st_dev and st_ino identify it). */
function sameSocket(fd: number, stat: { dev: number; ino: number }): boolean {
  try {
    const now = fstatSync(fd);
    return now.dev === stat.dev && now.ino === stat.ino;
  } catch {
    return false;
  }
}

/**
 * Gives the listening descriptor to `server`, which owns it from then on (its close()
 * closes it). If Node refuses it, the descriptor is closed here, unless Node already did.
 */
export function serveOnListener<S extends net.Server>(server: S, listener: ListeningDescriptor): Promise<S> {
  let stat: ReturnType<typeof fstatSync>;
  try {
    stat = fstatSync(listener.fd);
  } catch (error) {
    listener.close();
    return Promise.reject(error);
  }
  const backlog = listener.backlog;
  const fd = listener.release();
  return new Promise<S>((resolve, reject) => {
    const fail = (error: unknown): void => {
      server.off('listening', succeed);
      server.off('error', fail);
      if (sameSocket(fd, stat)) binding.close(fd);
      reject(error);
    };
    const succeed = (): void => {
      server.off('error', fail);
      serving(server); // for drain(): upgraded connections leave Node's own list; kept connections come to it
      resolve(server);
    };
    server.once('error', fail);
    server.once('listening', succeed);
    try {
      // The backlog as a separate argument: Node's fd path ignores options.backlog and
      // would call listen(fd, 511) again over ours.
      server.listen({ fd }, backlog);
    } catch (error) {
      fail(error);
    }
  });
}

/** listen(server, { descriptor }): serve on a listening socket that exists already. */
export interface DescriptorListenOptions {
  /**
   * A listening stream socket: from createListener(), listenFds(), received over
   * SCM_RIGHTS, or a number. The server owns it once listening (its close() closes it).
   */
  descriptor: OwnedDescriptor | number;
  /** listen(2) again with this backlog (Node's fd path always calls it); default 511, as Node. */
  backlog?: number;
}

const DESCRIPTOR_KEYS = ['descriptor', 'backlog'];

function onDescriptor<S extends net.Server>(server: S, o: Readonly<Record<string, unknown>>): Promise<S> {
  for (const key of Object.keys(o)) {
    if (!DESCRIPTOR_KEYS.includes(key)) {
      throw invalidArgValue(`options.${key}`, o[key], 'is not an option with a descriptor (descriptor, backlog): the socket exists already');
    }
  }
  const { descriptor } = o;
  let fd: number;
  if (descriptor instanceof OwnedDescriptor) {
    if (descriptor.closed) throw errnoException(osConstants.errno.EBADF, 'listen', { reason: 'options.descriptor is already closed or released' });
    fd = descriptor.fd;
  } else if (typeof descriptor === 'number') {
    fd = validateInteger(descriptor, 'options.descriptor');
  } else {
    throw invalidArgType('options.descriptor', 'of type number or an instance of OwnedDescriptor', descriptor);
  }
  const backlog = o.backlog === undefined ? 0 : validateInteger(o.backlog, 'options.backlog', 0, INT32_MAX);
  // Checked before the descriptor changes hands: on a refusal the caller still owns it.
  const info = checkListening(fd, 'options.descriptor');
  if (descriptor instanceof OwnedDescriptor) descriptor.release();
  return serveOnListener(server, new ListeningDescriptor(fd, addressInfoOf(info), backlog || 511));
}

/**
 * Makes the listening socket natively, with every option set before bind, and hands it
 * to `server` (net.Server, http.Server, https.Server...). Resolves with the listening
 * server; rejects like Node's listen (EADDRINUSE, EACCES, EADDRNOTAVAIL with address and
 * port), with the descriptor closed.
 *
 * With `{ descriptor }`, serves on that listening socket instead: one from
 * createListener(), listenFds() or takeover(), or received over SCM_RIGHTS. A descriptor
 * that is not a listening stream socket is refused (EINVAL, ENOTSOCK, EBADF) and stays
 * the caller's.
 */
export async function listen<S extends net.Server>(server: S, options?: ListenOptions | DescriptorListenOptions): Promise<S> {
  checkCanListen(server);
  // Read once: every getter runs here, and only here.
  const o = { ...validateObject(options ?? {}, 'options') };
  if (o.descriptor !== undefined) return onDescriptor(server, o);
  const prepared = await prepareListener(o as ListenOptions);
  checkCanListen(server); // again: the DNS lookup gave other code a turn
  return serveOnListener(server, await prepared.open().listenExplained());
}
