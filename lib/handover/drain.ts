// drain(server): stop accepting and let the connections end, without racing a client.
//
// Node's own http server.close() (19+) and closeIdleConnections() destroy the idle
// keep-alive connections at once; a request the client sent just then is in the kernel,
// unread, and close() answers it with RST: wrk counts it as a read error, a browser
// retries or fails. Closing an idle connection is only safe once the client has been
// told: so here every request from now on is answered with `Connection: close` (Node
// then ends the connection after that response), in-flight ones included, and idle
// connections are left for their next request, or for the client to close them. Only
// at `timeoutMs` is what remains destroyed.
import http from 'node:http';
import net from 'node:net';
import { invalidArgType, invalidArgValue, serverNotRunning } from '../core/errors';
import { validateInteger, validateObject, INT32_MAX } from '../core/validate';
import { AbortError, checkSignal, onAbort } from './abort';

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

interface Parser {
  socket?: net.Socket | null;
}
interface ConnectionsList {
  all(): Parser[];
}

function connectionsSymbol(server: net.Server, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((s) => s.description === description);
}

/** The sockets of an http(s) server (Node tracks them for its own timeouts); [] for a net.Server. */
function openSockets(server: net.Server): net.Socket[] {
  const symbol = connectionsSymbol(server, 'http.server.connections');
  if (symbol === undefined) return [];
  const list = (server as unknown as Record<symbol, ConnectionsList | undefined>)[symbol];
  return (list?.all() ?? []).map((parser) => parser.socket).filter((s): s is net.Socket => s != null && !s.destroyed);
}

type WithResponse = net.Socket & { _httpMessage?: http.ServerResponse | null };

function sayClose(res: http.ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
}

function checkOptions(options: unknown): { timeoutMs: number; signal: AbortSignal | undefined } {
  const o = { ...validateObject(options ?? {}, 'options') };
  for (const key of Object.keys(o)) {
    if (key !== 'timeoutMs' && key !== 'signal') throw invalidArgValue(`options.${key}`, o[key], 'is not an option of drain (timeoutMs, signal)');
  }
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
  if (signal?.aborted) return Promise.reject(new AbortError(signal.reason));
  if (!server.listening) return Promise.reject(serverNotRunning());

  const onRequest = (_req: http.IncomingMessage, res: http.ServerResponse): void => sayClose(res);
  server.prependListener('request', onRequest);
  for (const socket of openSockets(server) as WithResponse[]) {
    if (socket._httpMessage) sayClose(socket._httpMessage);
  }

  const isHttp = connectionsSymbol(server, 'http.server.connections') !== undefined;
  return new Promise<DrainResult>((resolve, reject) => {
    let timedOut = false;
    let destroyed = 0;
    const finish = (): void => {
      clearTimeout(timer);
      offAbort();
      server.off('request', onRequest);
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
      for (const socket of openSockets(server)) {
        destroyed++;
        socket.destroy(); // 'close' follows once the last one is gone
      }
    }, timeoutMs);
    const closed = (): void => {
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
