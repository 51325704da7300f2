// restart(server, next, options): a new server takes over the old one's port.
// - Both listeners with SO_REUSEPORT: the new one joins the old one's group first, then
//   the old one closes, so the port never refuses a connection. (With
//   net.ipv4.tcp_migrate_req=1 the kernel also moves the old accept queue to the new one.)
// - Otherwise the new socket is made and given its options, the old listener closes, and
//   the new one binds and listens in the same synchronous turn: the port is unbound only
//   for those two calls, and an option the kernel refuses leaves the old one listening.
// Either way the kernel resets what sits in the old listener's accept queue when it
// closes (unless migrated), and the old server keeps serving the connections it has.
import net from 'node:net';
import { invalidArgValue, serverNotRunning } from '../core/errors';
import { checkCanListen, checkServer, inetAddress, serveOnListener } from './listen';
import { LISTEN_OPTION_KEYS, type ListenOptions, type RestartOptions } from './options';
import { ListeningDescriptor, prepareListener } from './listener';
import { getOption } from '../core/options';
import { dup } from '../core/descriptor';
import { INT32_MAX, readOptions, validateBoolean, validateInteger } from '../core/validate';
import { withBindCauses } from '../why/attach';

/**
 * net.Server's close, not http.Server's, which also closes the idle keep-alive
 * connections (Node 19+): a request racing that close would fail. The old server keeps
 * serving them until they end or time out.
 */
function closeListener(server: net.Server): void {
  net.Server.prototype.close.call(server);
  // http.Server's close() would also stop its timer that checks connections for timeouts.
  // The timer goes on while the old connections are served, then must stop, or its
  // callback keeps the old server in memory for good: cleared once the last one is gone.
  const interval = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
  if (interval !== undefined) {
    server.once('close', () => clearInterval((server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[interval]));
  }
}

/**
 * restart(server, next, { sameSocket: true }): `next` serves on a duplicate of the old
 * listener's descriptor, the very socket, and only then does the old server stop
 * accepting: the accept queue is never reset, and no bind happens at all. Only `backlog`
 * may go with it (the socket's options are the old ones).
 */
function restartOnSameSocket<S extends net.Server>(server: net.Server, next: S, o: Readonly<Record<string, unknown>>): Promise<S> {
  for (const key of Object.keys(o)) {
    if (key !== 'backlog') {
      throw invalidArgValue(`options.${key}`, o[key], 'must be left out with sameSocket: the socket, and its options, stay the same');
    }
  }
  const backlog = o.backlog === undefined ? 511 : validateInteger(o.backlog, 'options.backlog', 0, INT32_MAX) || 511;
  const address = server.address() as net.AddressInfo;
  const copy = dup(server);
  return serveOnListener(next, new ListeningDescriptor(copy.release(), address, backlog)).then((listening) => {
    closeListener(server); // this process's other copy: the socket lives on in `next`
    return listening;
  });
}

/**
 * Closes `server`'s listener and listens `next` on the same port (and host, unless
 * `options.host` says otherwise) with `options`. Resolves with `next`, listening. With
 * connections of the old server still in TIME_WAIT, the bind succeeds only if the old
 * and the new listener set the same reuse option (reuseAddr, the default, or reusePort).
 * If bind or listen fails, the error says why and the old listener is closed by then,
 * unless both have reusePort (the new one listens first, the old one keeps listening).
 * With `sameSocket: true`, no new socket at all: see restartOnSameSocket.
 */
export async function restart<S extends net.Server>(server: net.Server, next: S, options?: RestartOptions): Promise<S> {
  checkServer(server);
  if (next === server) {
    // (The value named, not printed: inspect() of a whole server is pages long.)
    throw invalidArgValue('next', 'server', "must not be the server being restarted: a closed server emits 'close' after it listens again");
  }
  checkCanListen(next);
  const address = inetAddress(server);
  const { sameSocket, ...o } = readOptions(options ?? undefined, 'options', [...LISTEN_OPTION_KEYS, 'sameSocket'], 'an option of a TCP listener');
  if (sameSocket !== undefined && validateBoolean(sameSocket, 'options.sameSocket')) return restartOnSameSocket(server, next, o);
  if (o.port !== undefined) throw invalidArgValue('options.port', o.port, "must be left out: restart() listens on the old server's port");
  // Everything slow (the checks, a DNS lookup) before the old listener closes.
  const prepared = await prepareListener({ host: address.address, ...o, port: address.port } as ListenOptions);
  checkCanListen(next);
  if (!server.listening) throw serverNotRunning();

  const unbound = prepared.open();
  let overlap: boolean;
  try {
    overlap = o.reusePort === true && getOption(server, 'SO_REUSEPORT');
  } catch (error) {
    unbound.close();
    throw error;
  }
  // (An EADDRINUSE is explained after the fact, with the port as the failure left it.)
  if (overlap) {
    let listener: ListeningDescriptor;
    try {
      listener = unbound.listen(); // joins the old listener's group
    } catch (error) {
      throw await withBindCauses(error, unbound.bindRequest);
    }
    closeListener(server);
    return serveOnListener(next, listener);
  }
  closeListener(server);
  let listener: ListeningDescriptor;
  try {
    listener = unbound.listen();
  } catch (error) {
    throw await withBindCauses(error, unbound.bindRequest);
  }
  return serveOnListener(next, listener);
}
