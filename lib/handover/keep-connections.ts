// A worker's side of `sockctl serve --keep-connections` (SOCKCTL_KEEP_CONNECTIONS names the
// supervisor's relay socket, in its private 0700 directory). The app is unchanged:
// - listen(server, { descriptor }) tells the relay that this process takes connections of
//   that port;
// - drain(server) hands each idle keep-alive connection to the relay instead of waiting for
//   it to end, and each busy one once its response has gone out; the relay passes it to a
//   worker of the newest generation and answers 'kept' (then this copy is destroyed,
//   nothing reaches the client) or 'back' (nobody took it: it is drained here as before).
//
// A connection received is parked until the client sends (or closes): it is idle, and made
// a connection of the server only when bytes arrive, so Node's headersTimeout counts from
// the request, not from the adoption, and the keep-alive timer re-armed here closes it
// after keepAliveTimeout of silence, as Node would have. A parked connection is moved
// again, as it is, by the next drain.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { binding } from '../core/binding';
import type { OwnedDescriptor } from '../core/descriptor';
import { fdOf } from '../core/target';
import { INT32_MAX } from '../core/validate';
import { onServing } from '../listen/connections';
import { connectionMessage, readConnectionMessage, socketOn, startReading, stopReading } from './connection';
import { isHttpServer, isIdle, type WithResponse } from './http-connections';
import { FdChannel } from './scm-rights';

export const KEEP_CONNECTIONS_ENV = 'SOCKCTL_KEEP_CONNECTIONS';

const READABLE = 1;

interface Parked {
  descriptor: OwnedDescriptor;
  server: net.Server;
  timer: NodeJS.Timeout | undefined;
}

interface Counted {
  _connections: number;
}

function portOf(server: net.Server): number | null {
  const address = server.address();
  return address !== null && typeof address === 'object' ? address.port : null;
}

/** Only plain HTTP: a TLS session lives in this process and cannot move with the socket. */
function keepable(server: net.Server): boolean {
  return isHttpServer(server) && !(server instanceof tls.Server) && portOf(server) !== null;
}

class Keeper {
  readonly #channel: FdChannel;
  /** The servers that take connections, with their port (kept: a draining server's address() is null once closed). */
  readonly #servers = new Map<net.Server, number>();
  readonly #parked = new Set<Parked>();
  readonly #replies = new Map<number, (kept: boolean) => void>();
  /** Sockets on their way to the relay, and sockets that came back: drained here. */
  readonly #moving = new WeakSet<net.Socket>();
  readonly #stay = new WeakSet<net.Socket>();
  #nextId = 1;
  #closed = false;

  constructor(path: string) {
    this.#channel = FdChannel.connect(path);
    void this.#receive();
  }

  /** A server of this process now serves on a port: the relay may send its connections here. */
  serve(server: net.Server): void {
    if (this.#closed || !keepable(server) || this.#servers.has(server)) return;
    this.#servers.set(server, portOf(server)!);
    server.once('close', () => {
      this.#servers.delete(server);
      this.#closeIfDone();
    });
    const ports = [...this.#servers.values()];
    this.#channel.send(JSON.stringify({ t: 'adopt', ports })).catch(() => this.close());
  }

  /** drain(server) keeps its connections through this keeper (plain HTTP servers it knows). */
  keeps(server: net.Server): boolean {
    return !this.#closed && this.#servers.has(server);
  }

  /**
   * Moves `socket` now if it is idle, or once its response has gone out. False when it
   * cannot move (it came back, or the relay is gone): drain it as usual.
   */
  offer(server: net.Server, socket: WithResponse): boolean {
    if (this.#closed || this.#stay.has(socket) || socket.destroyed) return false;
    if (this.#moving.has(socket)) return true;
    if (isIdle(server, socket)) {
      void this.#move(server, socket);
      return true;
    }
    // Busy: after the response's 'finish' (Node's own handler has run, and nothing of the
    // next request can have been read yet: no I/O between the two), or at its next request.
    socket._httpMessage?.once('finish', () => this.offer(server, socket));
    return true;
  }

  /** Hands on every connection parked for `server` (idle, by definition). */
  moveParked(server: net.Server): void {
    for (const entry of [...this.#parked]) if (entry.server === server) void this.#moveParked(entry);
  }

  async #ask(port: number, fd: number): Promise<boolean> {
    const id = this.#nextId++;
    const answer = new Promise<boolean>((resolve) => this.#replies.set(id, resolve));
    try {
      await this.#channel.send(connectionMessage({ t: 'conn', id, port }), [fd]);
    } catch {
      this.#replies.delete(id);
      return false;
    }
    return answer;
  }

  async #move(server: net.Server, socket: net.Socket): Promise<void> {
    this.#moving.add(socket);
    stopReading(socket); // from here nothing of the connection enters this process
    const kept = await this.#ask(this.#servers.get(server) ?? 0, fdOf(socket));
    this.#moving.delete(socket);
    if (kept) {
      socket.destroy(); // close(2) of our copy: the next generation holds the connection
    } else {
      this.#stay.add(socket); // drained here: its next response says Connection: close
      startReading(socket);
    }
    this.#closeIfDone();
  }

  async #moveParked(entry: Parked): Promise<void> {
    this.#unpark(entry);
    const kept = await this.#ask(this.#servers.get(entry.server) ?? 0, entry.descriptor.fd);
    if (kept) entry.descriptor.close();
    else this.#adopt(entry.server, entry.descriptor);
    this.#closeIfDone();
  }

  #park(server: net.Server, descriptor: OwnedDescriptor): void {
    const keepAlive = (server as http.Server).keepAliveTimeout ?? 0;
    const entry: Parked = { descriptor, server, timer: undefined };
    this.#parked.add(entry);
    if (keepAlive > 0) {
      // Node's own keep-alive timer, re-armed: silence for that long closes it, as Node would.
      entry.timer = setTimeout(() => {
        this.#unpark(entry);
        entry.descriptor.close();
        this.#closeIfDone();
      }, keepAlive);
    }
    try {
      binding.waitFd(descriptor.fd, READABLE, () => {
        this.#unpark(entry);
        this.#adopt(server, descriptor);
      });
    } catch {
      this.#unpark(entry);
      this.#adopt(server, descriptor);
    }
  }

  #unpark(entry: Parked): void {
    clearTimeout(entry.timer);
    binding.waitFdCancel(entry.descriptor.fd);
    this.#parked.delete(entry);
  }

  /** A connection of `server` from now on, as if it had accepted it (getConnections() counts it). */
  #adopt(server: net.Server, descriptor: OwnedDescriptor): void {
    let socket: net.Socket;
    try {
      socket = socketOn(descriptor, (server as net.Server & { allowHalfOpen?: boolean }).allowHalfOpen === true);
    } catch {
      return; // not a stream socket: closed
    }
    const counted = server as unknown as Counted;
    counted._connections++;
    Object.assign(socket, { server, _server: server }); // net.Socket's _destroy counts it down
    server.emit('connection', socket);
  }

  #arrived(fields: Record<string, unknown>, descriptor: OwnedDescriptor): void {
    const server = [...this.#servers].find(([s, port]) => s.listening && port === fields.port)?.[0];
    if (server === undefined) {
      descriptor.close(); // the server closed meanwhile
      return;
    }
    this.#park(server, descriptor);
  }

  async #receive(): Promise<void> {
    while (!this.#closed) {
      let got;
      try {
        got = await this.#channel.receive({ timeoutMs: INT32_MAX });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ETIMEDOUT') continue;
        break; // the relay is gone (EPIPE) or we closed
      }
      if (got.descriptors.length > 0) {
        try {
          const { fields, descriptor } = readConnectionMessage(got.message, got.descriptors);
          this.#arrived(fields, descriptor);
        } catch {
          // Not a connection: what came was closed.
        }
        continue;
      }
      let reply: { t?: unknown; id?: unknown };
      try {
        reply = JSON.parse(got.message.toString('utf8'));
      } catch {
        continue;
      }
      const answer = typeof reply.id === 'number' ? this.#replies.get(reply.id) : undefined;
      if (answer === undefined) continue;
      this.#replies.delete(reply.id as number);
      answer(reply.t === 'kept');
    }
    this.close();
  }

  #closeIfDone(): void {
    if (this.#servers.size === 0 && this.#parked.size === 0 && this.#replies.size === 0) this.close();
  }

  /** The relay is gone or nothing is left to keep: pending answers are 'back', parked connections join their servers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const answer of this.#replies.values()) answer(false);
    this.#replies.clear();
    for (const entry of [...this.#parked]) {
      this.#unpark(entry);
      if (entry.server.listening) this.#adopt(entry.server, entry.descriptor);
      else entry.descriptor.close();
    }
    this.#channel.close();
    if (keeper === this) keeper = undefined;
  }
}

let keeper: Keeper | undefined;

onServing((server) => {
  const path = process.env[KEEP_CONNECTIONS_ENV];
  if (path === undefined || path === '' || !keepable(server)) return; // nothing to keep: no channel held open
  try {
    keeper ??= new Keeper(path);
  } catch (error) {
    process.emitWarning(`sockctl: ${KEEP_CONNECTIONS_ENV} is set, but its relay cannot be reached (${(error as Error).message}): connections will be drained, not kept`, 'Warning');
    return;
  }
  keeper.serve(server);
});

/** The keeper drain(server) uses, or undefined (not under --keep-connections, or a server it cannot keep). */
export function keeperFor(server: net.Server): Keeper | undefined {
  return keeper?.keeps(server) ? keeper : undefined;
}
