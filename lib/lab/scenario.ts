// What every lab scenario is: a name, what it shows, and a run that drives real sockets on
// loopback and records each state once the kernel reports it.
import { loopbackPair, type LoopbackPair, type LoopbackPairOptions } from './loopback';
import type { TcpState } from '../core/tcp-states';
import type { Endpoint, Recorder } from './recorder';

export interface ScenarioOptions {
  /** Also wait out TIME_WAIT's 2MSL (60 s on Linux) until the kernel drops it. */
  waitTwoMsl?: boolean;
}

export interface Scenario {
  name: string;
  title: string;
  /** The states the run confirms in the kernel. */
  states: readonly TcpState[];
  run(recorder: Recorder, options: ScenarioOptions): Promise<void>;
}

/** The two ends of a loopback pair, as the kernel's table names them. */
export function endsOf(pair: LoopbackPair): { client: Required<Endpoint>; server: Required<Endpoint> } {
  const clientPort = pair.client.localPort!;
  return {
    client: { localPort: clientPort, remotePort: pair.port },
    server: { localPort: pair.port, remotePort: clientPort },
  };
}

/** Starts reading a paused socket, discarding what arrives (the lab only cares about states). */
export function drain(socket: LoopbackPair['client']): void {
  socket.on('data', () => {});
  socket.resume();
}

/**
 * Runs `body` on a loopback pair whose two ends the kernel has shown ESTABLISHED (and
 * recorded so), then closes the pair whatever happened.
 */
export async function withEstablishedPair(
  rec: Recorder,
  options: LoopbackPairOptions,
  body: (pair: LoopbackPair, ends: ReturnType<typeof endsOf>) => Promise<void>,
): Promise<void> {
  const pair = await loopbackPair('127.0.0.1', options);
  try {
    const ends = endsOf(pair);
    const reading = options.paused ? ' (not reading)' : '';
    await rec.observe('client', ends.client, 'ESTABLISHED', `connect${reading}`);
    await rec.observe('server', ends.server, 'ESTABLISHED', `accept${reading}`);
    await body(pair, ends);
  } finally {
    await pair.close();
  }
}
