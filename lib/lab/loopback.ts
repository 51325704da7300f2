// Connected TCP pairs on loopback: the building blocks of the lab, of the tests, and of
// users' own tests.
import { once } from 'node:events';
import net from 'node:net';
import { invalidArgType, invalidArgValue } from '../core/errors';
import { shutdown } from '../core/shutdown';
import { readOptions, validateBoolean } from '../core/validate';
import { waitForState } from '../states/wait';

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

export interface LoopbackPairOptions {
  /**
   * Neither end reads until resume() is called on it, so what the other sends stays in the
   * kernel's queues (Node reads as soon as it can otherwise). Default false.
   */
  paused?: boolean;
}

/** `host` as both ends use it: an IP literal, so that listen and connect mean one address. */
function checkHost(host: unknown): string {
  if (typeof host !== 'string') throw invalidArgType('host', 'of type string', host);
  if (net.isIP(host) === 0) throw invalidArgValue('host', host, 'must be an IP address');
  return host;
}

/** Listens on `host` port 0, connects, accepts; both ends allow half-open connections. */
export async function loopbackPair(host: string = '127.0.0.1', options?: LoopbackPairOptions): Promise<LoopbackPair> {
  checkHost(host);
  const o = readOptions(options, 'options', ['paused'], 'an option of loopbackPair');
  const paused = o.paused === undefined ? false : validateBoolean(o.paused, 'options.paused');
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: paused });
  let client: net.Socket | undefined;
  let accepted: net.Socket;
  let port: number;
  try {
    server.listen(0, host);
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    const accepting = once(server, 'connection') as Promise<[net.Socket]>;
    client = net.connect({ port, host, allowHalfOpen: true });
    // Paused before the connection completes: Node then never starts reading it.
    if (paused) client.pause();
    await once(client, 'connect');
    [accepted] = await accepting;
  } catch (error) {
    // Whatever failed, nothing stays listening or connected.
    client?.destroy();
    server.close();
    throw error;
  }
  const connected = client;
  return {
    server,
    client: connected,
    accepted,
    port,
    async close() {
      connected.destroy();
      accepted.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A pair whose client has shut down its sending side: the client in FIN_WAIT_2, the
 * accepted end in CLOSE_WAIT, both confirmed by the kernel before it resolves. Data still
 * flows from the accepted end to the client.
 */
export async function halfClosedPair(host: string = '127.0.0.1'): Promise<LoopbackPair> {
  const pair = await loopbackPair(checkHost(host));
  try {
    const clientPort = pair.client.localPort!;
    shutdown(pair.client, 'write');
    await waitForState({ localPort: clientPort, remotePort: pair.port }, 'FIN_WAIT_2');
    await waitForState({ localPort: pair.port, remotePort: clientPort }, 'CLOSE_WAIT');
    return pair;
  } catch (error) {
    await pair.close();
    throw error;
  }
}
