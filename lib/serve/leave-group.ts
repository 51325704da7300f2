// A SO_REUSEPORT listener leaves its group without loss: once steered away (steering.ts),
// it gets no new SYN, and it may close when the connections it had are taken: its accept
// queue empty (TCP_INFO's unacked on a listener) and no handshake still in progress for it
// (a SYN_RECV request belongs to the listener its SYN chose, and is dropped if that one
// closes). sock_diag does not say which listener a request belongs to, so every request
// on the port at steering time is waited for: new ones cannot be the leaving listener's.
import { setTimeout as sleep } from 'node:timers/promises';
import { getOption } from '../core/options';
import { pollKernel } from '../states/poll';
import { tcpStates } from '../states/list';
import type { ListeningDescriptor } from '../listen/listener';

function tuple(row: { localAddress: string; localPort: number; remoteAddress: string; remotePort: number }): string {
  return `${row.localAddress}:${row.localPort} ${row.remoteAddress}:${row.remotePort}`;
}

async function handshakes(ports: readonly number[]): Promise<Set<string>> {
  const rows = await Promise.all(ports.map((port) => tcpStates({ localPort: port, state: 'SYN_RECV' })));
  return new Set(rows.flat().map(tuple));
}

/** Resolves once `leaving` (already steered away from) hold nothing; rejects after `timeoutMs`. */
export async function waitUntilIdle(leaving: readonly ListeningDescriptor[], timeoutMs: number): Promise<void> {
  const ports = [...new Set(leaving.map((l) => l.address.port))];
  // A SYN being handled on another CPU while the program was attached may still pick the
  // leaving listener: its request is in the table a moment later.
  await sleep(2);
  const before = await handshakes(ports);
  await pollKernel(
    async () => {
      const now = await handshakes(ports);
      const inProgress = [...before].filter((t) => now.has(t)).length;
      // Read after the handshakes: one that completed is in the queue by now.
      const queued = leaving.reduce((sum, l) => sum + (getOption(l, 'TCP_INFO').unacked ?? 0), 0);
      return { inProgress, queued };
    },
    ({ inProgress, queued }) => inProgress === 0 && queued === 0,
    timeoutMs,
    ({ inProgress, queued }) =>
      new Error(`still ${queued} connection(s) in its accept queue and ${inProgress} handshake(s) in progress after ${timeoutMs} ms`),
  );
}
