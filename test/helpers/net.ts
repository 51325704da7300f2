// Real TCP connections on loopback for the tests, and the process's descriptor count.
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import net from 'node:net';

export interface Pair {
  server: net.Server;
  /** The connecting end. */
  client: net.Socket;
  /** The accepted end. */
  accepted: net.Socket;
  port: number;
  close(): Promise<void>;
}

/** A connected pair over 127.0.0.1 (or ::1), both ends half-open capable. */
export async function connectedPair(host = '127.0.0.1'): Promise<Pair> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const acceptedP = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host, allowHalfOpen: true });
  await once(client, 'connect');
  const [accepted] = await acceptedP;
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

/** Resolves with everything `socket` delivers until EOF. */
export async function readToEnd(socket: net.Socket): Promise<string> {
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (data += chunk));
  await once(socket, 'end');
  return data;
}

/** Resolves with the next chunk `socket` delivers. */
export async function nextData(socket: net.Socket): Promise<string> {
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString();
}

export function openDescriptorCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export const isLinux = process.platform === 'linux';
