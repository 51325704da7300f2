// timeWaitOn(server, count): N connections in TIME_WAIT on the server's own port, the way
// a restart meets them: the server closes each accepted connection first (active close,
// so the TIME_WAIT is on its side), the client answers with its FIN, and the call returns
// once the kernel lists every one of them in TIME_WAIT.
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { abortError, errnoException, invalidArgValue } from '../core/errors';
import { onAbort } from '../core/abort';
import { checkServer, inetAddress } from './listen';
import { tcpStates } from '../states/list';
import { pollKernel } from '../states/poll';
import { formatEndpoint } from '../states/address';
import type { TcpStateRow } from '../states/row';
import { readOptions, validateAbortSignal, validateInteger, validateString } from '../core/validate';

export interface TimeWaitOptions {
  /** Where the clients connect. Default: the server's address; loopback for a wildcard. */
  host?: string;
  /**
   * Source addresses for the clients, used in turn (e.g. 127.0.0.2 ... 127.0.0.5). One
   * address has ~28,000 ephemeral ports; spread large counts over several.
   */
  localAddresses?: string[];
  /** Connections in flight at once (default 64). */
  concurrency?: number;
  /** Bound on the whole call, the kernel's confirmation included (default 30,000 ms). */
  timeoutMs?: number;
  /** Aborting it ends the call: the clients in flight are destroyed, it rejects with Node's AbortError. */
  signal?: AbortSignal;
}

export interface TimeWaitResult {
  port: number;
  /** How many of this call's connections the kernel lists in TIME_WAIT on `port`. */
  timeWait: number;
}

// A dual-stack listener lists its IPv4 peers as ::ffff:a.b.c.d; the client knows a.b.c.d.
const plainAddress = (address: string) => (address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address);
const keyOf = (address: string | undefined, port: number | undefined) => `${plainAddress(address ?? '')}|${port}`;

/** Closes, from the server's side, exactly the connections this call's clients made. */
function serverSideCloser(server: net.Server) {
  const wanted = new Set<string>();
  const arrived = new Map<string, net.Socket>();
  const onConnection = (socket: net.Socket): void => {
    const key = keyOf(socket.remoteAddress, socket.remotePort);
    if (wanted.delete(key)) socket.destroy();
    else arrived.set(key, socket);
  };
  // First in line, before an http.Server's own connection listener.
  server.prependListener('connection', onConnection);
  return {
    /** Called once the client is connected: the server side closes first. */
    close(key: string): void {
      const socket = arrived.get(key);
      if (socket === undefined) return void wanted.add(key);
      arrived.delete(key);
      socket.destroy();
    },
    dispose(): void {
      server.off('connection', onConnection);
      wanted.clear();
      arrived.clear();
    },
  };
}

function timedOut(reason: string): Error {
  return errnoException(osConstants.errno.ETIMEDOUT, 'timeWaitOn', { reason });
}

/** One connection, closed by the server first; resolves with its key once the client end is closed. */
function oneConnection(
  port: number,
  host: string,
  localAddress: string | undefined,
  closer: ReturnType<typeof serverSideCloser>,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const client = net.connect({ port, host, localAddress });
    const offAbort = onAbort(signal, (error) => client.destroy(error));
    client.resume(); // whatever the server sends is dropped, so its FIN reaches 'end'
    let key: string | undefined;
    const timer = setTimeout(() => client.destroy(timedOut('a connection did not end in time')), Math.max(0, deadline - Date.now()));
    client.once('connect', () => {
      key = keyOf(client.localAddress, client.localPort);
      closer.close(key);
    });
    client.once('error', reject);
    client.once('close', () => {
      clearTimeout(timer);
      offAbort();
      if (key !== undefined) resolve(key);
    });
  });
}

async function waitForTimeWait(port: number, keys: Set<string>, deadline: number, signal: AbortSignal | undefined): Promise<number> {
  // The kernel filters by port (NETLINK_SOCK_DIAG); this call's connections are picked out
  // by their client end. Every state is listed so that a timeout can say where the others are.
  const ours = (rows: TcpStateRow[]) => rows.filter((row) => keys.has(keyOf(row.remoteAddress, row.remotePort)));
  const inTimeWait = (rows: TcpStateRow[]) => ours(rows).filter((row) => row.state === 'TIME_WAIT').length;
  const rows = await pollKernel(
    () => tcpStates({ localPort: port }),
    (listed) => inTimeWait(listed) === keys.size,
    Math.max(0, deadline - Date.now()),
    (listed) => timedOut(`the kernel lists ${inTimeWait(listed)} of ${keys.size} connections in TIME_WAIT on port ${port}${elsewhere(ours(listed), keys)}`),
    signal,
  );
  return inTimeWait(rows);
}

/** The connections not in TIME_WAIT, with the state the kernel lists them in, or "not listed". Exported for its test. */
export function elsewhere(rows: TcpStateRow[], keys: Set<string>): string {
  const states = new Map(rows.map((row) => [keyOf(row.remoteAddress, row.remotePort), row.state as string]));
  const others = [...keys].filter((key) => states.get(key) !== 'TIME_WAIT');
  const shown = others.slice(0, 5).map((key) => `${formatEndpoint(...splitKey(key))} ${states.get(key) ?? 'not listed'}`);
  return others.length === 0 ? '' : ` (the others, by client end: ${shown.join(', ')}${others.length > 5 ? `, and ${others.length - 5} more` : ''})`;
}

function splitKey(key: string): [string, number] {
  const bar = key.lastIndexOf('|');
  return [key.slice(0, bar), Number(key.slice(bar + 1))];
}

function defaultHost(address: string): string {
  if (address === '::') return '::1';
  if (address === '0.0.0.0') return '127.0.0.1';
  return address;
}

const OPTION_KEYS = ['host', 'localAddresses', 'concurrency', 'timeoutMs', 'signal'] as const;

function checkOptions(options: unknown) {
  const o = readOptions(options ?? undefined, 'options', OPTION_KEYS, 'an option of timeWaitOn');
  return {
    host: o.host === undefined ? undefined : checkHost(o.host),
    localAddresses: o.localAddresses === undefined ? [undefined] : checkAddresses(o.localAddresses),
    concurrency: o.concurrency === undefined ? 64 : validateInteger(o.concurrency, 'options.concurrency', 1, 10_000),
    timeoutMs: o.timeoutMs === undefined ? 30_000 : validateInteger(o.timeoutMs, 'options.timeoutMs', 1),
    signal: o.signal === undefined ? undefined : validateAbortSignal(o.signal, 'options.signal'),
  };
}

/** An IP literal or a name, as net.connect takes it (no NUL, no empty string). */
function checkHost(value: unknown): string {
  const host = validateString(value, 'options.host');
  if (host === '' || host.includes('\0')) throw invalidArgValue('options.host', host, 'must be an IP address or a host name');
  return host;
}

/** Copied once: a getter or a later change of the caller's array cannot reach connect(). */
function checkAddresses(value: unknown): string[] {
  const addresses = Array.isArray(value) ? Array.from(value as unknown[]) : undefined;
  if (addresses === undefined || addresses.length === 0 || !addresses.every((a) => typeof a === 'string' && net.isIP(a) !== 0)) {
    throw invalidArgValue('options.localAddresses', value, 'must be a non-empty array of IP addresses');
  }
  return addresses as string[];
}

/**
 * Makes `count` connections to `server` that end in TIME_WAIT on the server's port, and
 * resolves once the kernel lists all of them so. TIME_WAIT lasts 60 s on Linux; a server
 * restarted on the port in that time meets them (see listen's reuseAddr and reusePort).
 */
export async function timeWaitOn(server: net.Server, count: number, options?: TimeWaitOptions): Promise<TimeWaitResult> {
  checkServer(server);
  validateInteger(count, 'count', 1, 1_000_000);
  const o = checkOptions(options);
  const { port, address } = inetAddress(server);
  const host = o.host ?? defaultHost(address);
  const deadline = Date.now() + o.timeoutMs;

  const closer = serverSideCloser(server);
  try {
    // Distinct connections (address and port of the client): a client port used again
    // for the same server port takes over that connection's TIME_WAIT (the kernel lets a
    // new SYN end it), so it adds none. Keep connecting until `count` are distinct.
    const keys = new Set<string>();
    let started = 0;
    let inFlight = 0;
    let failure: { error: unknown } | undefined; // the first one stops every worker
    const worker = async (): Promise<void> => {
      while (failure === undefined && keys.size + inFlight < count) {
        const localAddress = o.localAddresses[started++ % o.localAddresses.length];
        inFlight++;
        try {
          keys.add(await oneConnection(port, host, localAddress, closer, deadline, o.signal));
        } catch (error) {
          failure ??= { error };
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, count) }, worker));
    if (failure !== undefined) throw failure.error;
    return { port, timeWait: await waitForTimeWait(port, keys, deadline, o.signal) };
  } finally {
    closer.dispose();
  }
}
