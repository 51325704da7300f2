// What Node's http server knows of its connections, read through its own list (the one it
// keeps for headersTimeout and requestTimeout: server[Symbol('http.server.connections')]).
// Node has no public API for it; a net.Server has no such list, and neither does a server
// whose Node lacks it: then every function here answers as for a net.Server.
import type http from 'node:http';
import type net from 'node:net';

interface Parser {
  socket?: net.Socket | null;
}
interface ConnectionsList {
  all(): Parser[];
  /** Parsers between two requests: the last one complete, no byte of the next one parsed. */
  idle?(): Parser[];
}

/** A server symbol by its description ('http.server.connections', ...). */
export function connectionsSymbol(server: net.Server, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((s) => s.description === description);
}

function list(server: net.Server): ConnectionsList | undefined {
  const symbol = connectionsSymbol(server, 'http.server.connections');
  return symbol === undefined ? undefined : (server as unknown as Record<symbol, ConnectionsList | undefined>)[symbol];
}

export function isHttpServer(server: net.Server): boolean {
  return connectionsSymbol(server, 'http.server.connections') !== undefined;
}

function sockets(parsers: Parser[]): net.Socket[] {
  return parsers.map((parser) => parser.socket).filter((s): s is net.Socket => s != null && !s.destroyed);
}

/** The sockets of an http(s) server (not the upgraded ones: they leave the list); [] for a net.Server. */
export function openSockets(server: net.Server): net.Socket[] {
  return sockets(list(server)?.all() ?? []);
}

export type WithResponse = net.Socket & { _httpMessage?: http.ServerResponse | null; parser?: Parser | null };

/**
 * Whether `socket` of `server` holds nothing of a request in this process: no response in
 * flight or unwritten, and its parser between two requests (or nothing read at all yet).
 * Such a connection is all in the kernel; with its reads stopped, it can move.
 */
export function isIdle(server: net.Server, socket: WithResponse): boolean {
  if (socket.destroyed || socket._httpMessage || socket.writableLength > 0 || socket.readableLength > 0) return false;
  if (socket.bytesRead === 0) return true;
  const idle = list(server)?.idle?.() ?? [];
  return socket.parser != null && idle.includes(socket.parser);
}
