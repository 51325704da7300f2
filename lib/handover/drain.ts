// drain(server): stop accepting and let the connections end, without racing a client.
//
// Node's own http server.close() (19+) and closeIdleConnections() destroy the idle
// keep-alive connections at once; a request the client sent just then is in the kernel,
// unread, and close() answers it with RST: wrk counts it as a read error, a browser
// retries or fails. Closing an idle connection is only safe once the client has been
// told: so here every request from now on is answered with `Connection: close` (Node
// then ends the connection after that response), in-flight ones included, and idle
// connections are left for their next request, or for the client to close them: their
// keep-alive timers are stopped too, since Node's own would close them under the same
// race. Only at `timeoutMs` is what remains destroyed. Upgraded connections (101, CONNECT)
// leave Node's list: every connection a server accepts is tracked here as well (from
// listen() on, or from drain() on), so that they too end at `timeoutMs`.
import http from 'node:http';
import net from 'node:net';
import { abortError, invalidArgType, serverNotRunning } from '../core/errors';
import { readOptions, validateInteger, INT32_MAX } from '../core/validate';
import { checkSignal, onAbort } from '../core/abort';
import { acceptedSockets, trackConnections } from '../listen/connections';
import { connectionsSymbol, openSockets, type WithResponse } from './http-connections';
import { keeperFor } from './keep-connections';

export interface DrainOptions {
  /** After this, the connections still open are destroyed (default 30000; 0: at once). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface DrainResult {
  /** The timeout came before the last connection ended. */
  timedOut: boolean;
  /** Connections destroyed at the timeout (an http server's only: a net.Server's cannot be listed). */
  destroyed: number;
}

/** After the timeout's destroys, how long 'close' may take before drain() resolves anyway. */
const CLOSE_GRACE_MS = 1000;

function sayClose(res: http.ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

function checkOptions(options: unknown): { timeoutMs: number; signal: AbortSignal | undefined } {
  const o = readOptions(options ?? undefined, 'options', ['timeoutMs', 'signal'], 'an option of drain');
  return {
    timeoutMs: o.timeoutMs === undefined ? 30_000 : validateInteger(o.timeoutMs, 'options.timeoutMs', 0, INT32_MAX),
    signal: checkSignal(o.signal),
  };
}

/**
 * Stops `server` accepting (its listener is closed: with a shared socket, only this
 * process's copy) and resolves once every connection has ended. http and https servers:
 * each request from now on, and each in flight, is answered with `Connection: close`;
 * idle keep-alive connections are never closed under a client that may be sending, only
 * destroyed at `timeoutMs`. Rejects with AbortError if `signal` aborts (the connections
 * are then left as they are); ERR_SERVER_NOT_RUNNING if the server is not listening.
 */
export function drain(server: net.Server, options?: DrainOptions): Promise<DrainResult> {
  if (!(server instanceof net.Server)) throw invalidArgType('server', 'an instance of net.Server', server);
  const { timeoutMs, signal } = checkOptions(options);
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (!server.listening) return Promise.reject(serverNotRunning());

  trackConnections(server);
  // Under `sockctl serve --keep-connections`: idle connections move to the next generation.
  const keeper = keeperFor(server);
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (keeper?.offer(server, req.socket) !== true) sayClose(res);
  };
  server.prependListener('request', onRequest);
  keeper?.moveParked(server);
  for (const socket of openSockets(server) as WithResponse[]) {
    socket.setTimeout(0); // Node's keep-alive timer: it would close an idle one under a client's request
    if (keeper?.offer(server, socket) === true) continue;
    if (socket._httpMessage) sayClose(socket._httpMessage);
  }
  const httpServer = server as Partial<http.Server>;
  const keepAliveTimeout = httpServer.keepAliveTimeout;
  if (keepAliveTimeout !== undefined) httpServer.keepAliveTimeout = 0;

  const isHttp = connectionsSymbol(server, 'http.server.connections') !== undefined;
  return new Promise<DrainResult>((resolve, reject) => {
    let timedOut = false;
    let destroyed = 0;
    let grace: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      clearTimeout(grace);
      offAbort();
      server.off('request', onRequest);
      if (keepAliveTimeout !== undefined) httpServer.keepAliveTimeout = keepAliveTimeout;
      // http.Server's own close() would stop this timer; net.Server's does not.
      const interval = connectionsSymbol(server, 'http.server.connectionsCheckingInterval');
      if (interval !== undefined) clearInterval((server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[interval]);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      if (!isHttp) {
        // A net.Server's connections cannot be listed: report the timeout, stop waiting.
        server.off('close', closed);
        finish();
        resolve({ timedOut, destroyed });
        return;
      }
      const remaining = new Set([...openSockets(server), ...acceptedSockets(server)].filter((socket) => !socket.destroyed));
      for (const socket of remaining) {
        destroyed++;
        socket.destroy(); // 'close' follows once the last one is gone
      }
      // A connection accepted before anything tracked it (upgraded, so in no list) keeps
      // 'close' from coming: resolve anyway, it must not keep a retiring process alive.
      grace = setTimeout(closed, CLOSE_GRACE_MS);
    }, timeoutMs);
    const closed = (): void => {
      server.off('close', closed);
      finish();
      resolve({ timedOut, destroyed });
    };
    const offAbort = onAbort(signal, (error) => {
      server.off('close', closed);
      finish();
      reject(error);
    });
    server.once('close', closed);
    // net.Server's close, not http.Server's (which destroys the idle connections).
    net.Server.prototype.close.call(server);
  });
}
