// Every connection a server accepts, kept from listen() on: Node's own list (which drain()
// reads) drops a connection once it is upgraded (101 Switching Protocols, CONNECT), and
// such a socket would otherwise be reachable by nobody at a drain's deadline.
import type net from 'node:net';

const accepted = new WeakMap<net.Server, Set<net.Socket>>();

/** Starts tracking `server`'s connections; once per server. */
export function trackConnections(server: net.Server): void {
  if (accepted.has(server)) return;
  const sockets = new Set<net.Socket>();
  accepted.set(server, sockets);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
}

let servingHook: ((server: net.Server) => void) | undefined;

/** Called with every server listen() gives a socket to (the handover of kept connections watches them). */
export function onServing(hook: (server: net.Server) => void): void {
  servingHook = hook;
}

/** `server` now serves on a socket listen() made or was given. */
export function serving(server: net.Server): void {
  trackConnections(server);
  servingHook?.(server);
}

/** The tracked sockets still open. */
export function acceptedSockets(server: net.Server): net.Socket[] {
  return [...(accepted.get(server) ?? [])].filter((socket) => !socket.destroyed);
}
