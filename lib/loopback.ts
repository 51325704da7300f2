// A connected TCP pair on loopback: the building block of the demo, the lab and the tests.
import { once } from 'node:events';
import net from 'node:net';

export interface LoopbackPair {
  server: net.Server;
  /** The connecting end. */
  client: net.Socket;
  /** The accepted end. */
  accepted: net.Socket;
  /** The listener's port. */
  port: number;
  /** Destroys both ends and closes the listener. */
  close(): Promise<void>;
}

/** Listens on `host` port 0, connects, accepts; both ends allow half-open connections. */
export async function loopbackPair(host = '127.0.0.1'): Promise<LoopbackPair> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepting = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host, allowHalfOpen: true });
  await once(client, 'connect');
  const [accepted] = await accepting;
  return {
    server,
    client,
    accepted,
    port,
    async close() {
      client.destroy();
      accepted.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
