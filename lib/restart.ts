// restart(server, next, options): a new server takes over the old one's port. The old
// listener closes and the new one is made (socket, options, bind, listen) in the same
// synchronous turn, so the port is unbound only for those few system calls. The old
// server keeps serving the connections it already has until they end.
import type net from 'node:net';
import { invalidArgValue, serverNotRunning } from './errors';
import { checkCanListen, checkServer, handOver } from './listen';
import type { ListenOptions } from './listen-options';
import { prepareListener } from './listener';
import { validateObject } from './validate';

/**
 * Closes `server`'s listener and listens `next` on the same port (and host, unless
 * `options.host` says otherwise) with `options`. Resolves with `next`, listening. With
 * connections of the old server still in TIME_WAIT, the bind succeeds only if the old
 * and the new listener set the same reuse option (reuseAddr, the default, or reusePort);
 * if it fails, the old listener is already closed and the error says why.
 */
export async function restart<S extends net.Server>(server: net.Server, next: S, options?: ListenOptions): Promise<S> {
  checkServer(server);
  if (next === server) {
    // (The value named, not printed: inspect() of a whole server is pages long.)
    throw invalidArgValue('next', 'server', "must not be the server being restarted: a closed server emits 'close' after it listens again");
  }
  checkCanListen(next);
  const address = server.address();
  if (!server.listening || address === null || typeof address === 'string') throw serverNotRunning();
  const o = validateObject(options ?? {}, 'options');
  if (o.port !== undefined) throw invalidArgValue('options.port', o.port, "must be left out: restart() listens on the old server's port");
  // Everything slow (the checks, a DNS lookup) before the old listener closes.
  const open = await prepareListener({ host: address.address, ...o, port: address.port } as ListenOptions);
  checkCanListen(next);
  if (!server.listening) throw serverNotRunning();
  server.close();
  return handOver(next, open());
}
