// Sockets on one listening port in every state a test can hold still on loopback: LISTEN,
// ESTABLISHED (with unread bytes), FIN_WAIT_2 / CLOSE_WAIT (a half-close) and TIME_WAIT.
// Waits on `ss` (the independent oracle), never on the library under test.
import { once } from 'node:events';
import net from 'node:net';
import { shutdown } from '../../lib/index';
import { ssRows, waitForSs } from './ss';

export interface Scene {
  server: net.Server;
  port: number;
  /** ESTABLISHED both ways; `accepted` has UNREAD_BYTES waiting in its receive queue. */
  established: { client: net.Socket; accepted: net.Socket };
  /** The client sent FIN (FIN_WAIT_2); the accepted end read it (CLOSE_WAIT). */
  halfClosed: { client: net.Socket; accepted: net.Socket };
  /** The client's port of the connection that closed first on the client: TIME_WAIT there. */
  timeWaitPort: number;
  close(): Promise<void>;
}

export const UNREAD_BYTES = 1000;

// A filter by port number also shows the TIME_WAIT left for 60 s by an earlier listener on
// the same number (or by its clients). Ports 0 hands out are reused soon after; these are
// drawn from a range below the ephemeral one, and only when ss shows nothing on them.
const QUIET_PORTS = { first: 10_000, count: 10_000 };

/** A port number on which ss lists no socket at all, right now. */
export function quietPort(): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = QUIET_PORTS.first + Math.floor(Math.random() * QUIET_PORTS.count);
    if (ssRows(port).length === 0) return port;
  }
  throw new Error('no quiet port in 100 tries');
}

/** Listens on a quiet port (see quietPort) and returns it. */
export async function listenQuietly(server: net.Server, host: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = quietPort();
    try {
      server.listen(port, host);
      await once(server, 'listening');
      return port;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 10) throw error;
    }
  }
}

async function connect(server: net.Server, host: string, port: number): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const accepting = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host, allowHalfOpen: true });
  await once(client, 'connect');
  const [accepted] = await accepting;
  return { client, accepted };
}

export async function makeScene(host: '127.0.0.1' | '::1'): Promise<Scene> {
  // pauseOnConnect: an accepted socket reads nothing until resume(), so bytes can wait in the kernel.
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  const port = await listenQuietly(server, host);

  const established = await connect(server, host, port);
  established.client.write(Buffer.alloc(UNREAD_BYTES, 'x'));

  const halfClosed = await connect(server, host, port);
  const eof = once(halfClosed.accepted, 'end');
  halfClosed.accepted.resume();
  shutdown(halfClosed.client, 'write');
  await eof;

  const closing = await connect(server, host, port);
  const timeWaitPort = closing.client.localPort!;
  closing.accepted.resume();
  closing.accepted.on('end', () => closing.accepted.end());
  const closed = once(closing.client, 'close');
  closing.client.resume();
  closing.client.end();
  await closed;

  await waitForSs(port, (rows) => {
    const states = rows.map((row) => row.state).sort().join(' ');
    const queued = rows.some((row) => row.recvQ === UNREAD_BYTES);
    return states === 'CLOSE-WAIT ESTAB ESTAB FIN-WAIT-2 LISTEN TIME-WAIT' && queued;
  });

  return {
    server,
    port,
    established,
    halfClosed,
    timeWaitPort,
    async close() {
      for (const pair of [established, halfClosed]) {
        pair.client.destroy();
        pair.accepted.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
