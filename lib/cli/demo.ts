// `sockctl demo` (npm start): half-close, close against shutdown on a dup, and SO_LINGER 0
// on loopback, printing at each step what the kernel reports for the port (`ss`).
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import type net from 'node:net';
import { dup, getOption, setOption, shutdown } from '../index';
import { loopbackPair, type LoopbackPair } from '../loopback';

function kernelView(port: number): string {
  try {
    const out = execFileSync('ss', ['-tan', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
    return out.trimEnd().replace(/^/gm, '      ');
  } catch {
    return '      (ss from iproute2 is not installed: no kernel view)';
  }
}

function step(pair: LoopbackPair, what: string): void {
  console.log(`   ${what}\n${kernelView(pair.port)}`);
}

async function nextData(socket: net.Socket): Promise<string> {
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return chunk.toString();
}

async function halfClose(): Promise<void> {
  console.log("\n1. Half-close: shutdown(client, 'write') sends FIN; the peer can still send");
  const pair = await loopbackPair();
  step(pair, 'connected:');
  const eof = once(pair.accepted, 'end');
  shutdown(pair.client, 'write');
  await eof;
  const reply = nextData(pair.client);
  pair.accepted.write('reply after FIN');
  console.log(`   peer read EOF, then sent; client received "${await reply}"`);
  step(pair, `client is ${getOption(pair.client, 'TCP_INFO').state}, peer is ${getOption(pair.accepted, 'TCP_INFO').state}:`);
  await pair.close();
}

async function closeAgainstShutdown(): Promise<void> {
  console.log('\n2. close() against shutdown() on a dup() of the client');
  const pair = await loopbackPair();
  const copy = dup(pair.client);
  copy.close();
  const ping = nextData(pair.accepted);
  pair.client.write('ping');
  console.log(`   closed the dup: the peer still receives "${await ping}"`);
  step(pair, 'after close(dup):');
  const again = dup(pair.client);
  const eof = once(pair.accepted, 'end');
  shutdown(again, 'write');
  await eof;
  again.close();
  step(pair, "after shutdown(dup, 'write'): the peer read EOF though the original is open:");
  await pair.close();
}

async function abortiveClose(): Promise<void> {
  console.log('\n3. SO_LINGER { onoff: true, linger: 0 }: close sends RST, no TIME_WAIT');
  const pair = await loopbackPair();
  setOption(pair.client, 'SO_LINGER', { onoff: true, linger: 0 });
  const reset = once(pair.accepted, 'error') as Promise<[NodeJS.ErrnoException]>;
  pair.client.destroy();
  const [error] = await reset;
  console.log(`   the peer got ${error.code}`);
  step(pair, 'after destroy(): no TIME-WAIT row:');
  await pair.close();
}

export async function runDemo(args: string[]): Promise<number> {
  if (args.includes('--help')) {
    console.log('Usage: sockctl demo\n\nRuns three short scenarios on 127.0.0.1 and prints what ss reports.');
    return 0;
  }
  console.log('sockctl demo: real sockets on 127.0.0.1; the tables are what the kernel reports (ss).');
  await halfClose();
  await closeAgainstShutdown();
  await abortiveClose();
  return 0;
}
