// Real TCP connections on loopback for the tests, and the process's descriptor count.
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import type net from 'node:net';

export { loopbackPair as connectedPair, type LoopbackPair as Pair } from '../../lib/lab/loopback';

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
