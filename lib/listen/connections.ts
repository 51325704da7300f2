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

/** The tracked sockets still open. */
export function acceptedSockets(server: net.Server): net.Socket[] {
  return [...(accepted.get(server) ?? [])].filter((socket) => !socket.destroyed);
}
