// connect(options): a client socket made natively (close-on-exec, non-blocking), every
// option set before bind and connect, connected without blocking the event loop
// (native/connect.cc waits for writability and reads SO_ERROR), then handed to a
// net.Socket that owns the descriptor. The descriptor is closed on every failure path.
import { lookup } from 'node:dns/promises';
import { ADDRCONFIG } from 'node:dns';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { OwnedDescriptor } from '../core/descriptor';
import { errnoException, type SystemError } from '../core/errors';
import { applyOption, setOption } from '../core/options';
import { socket, type SocketFamily } from '../core/socket';
import { Stop } from './abort';
import { checkConnectOptions, type CheckedConnectOptions, type ConnectOptions } from './options';
import { withBindCauses, withConnectCauses } from '../why/attach';

/** A failed connect, as Node's: address and port of the peer, and the local end where one was asked for. */
export interface ConnectError extends SystemError {
  localAddress?: string;
  localPort?: number;
}

interface Remote {
  address: string;
  family: SocketFamily;
}

/** As Node's connect with autoSelectFamily false: an IP literal as is, else dns.lookup's first answer. */
async function resolveRemote(host: string): Promise<Remote> {
  const literal = net.isIP(host);
  if (literal !== 0) return { address: host, family: literal === 6 ? 'ipv6' : 'ipv4' };
  const { address, family } = await lookup(host, { hints: ADDRCONFIG });
  return { address, family: family === 6 ? 'ipv6' : 'ipv4' };
}

function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as SystemError).errno === 'number' && typeof (error as SystemError).syscall === 'string';
}

/** Node's exceptionWithHostPort: "connect ECONNREFUSED 127.0.0.1:80 - Local (127.0.0.1:5000)". */
function connectError(errno: number, syscall: string, address: string, port: number, local?: { address: string; port: number }): ConnectError {
  const error: ConnectError = errnoException(errno, syscall, { address, port });
  if (local !== undefined) {
    error.message += ` - Local (${local.address}:${local.port})`;
    error.localAddress = local.address;
    error.localPort = local.port;
  }
  return error;
}

function applyOptions(fd: OwnedDescriptor, family: SocketFamily, o: CheckedConnectOptions): void {
  // reuseAddr false sets nothing: the kernel's default is off.
  if (o.reuseAddr) setOption(fd, 'SO_REUSEADDR', true);
  if (o.reusePort) setOption(fd, 'SO_REUSEPORT', true);
  if (family === 'ipv6' && o.ipv6Only !== undefined) setOption(fd, 'IPV6_V6ONLY', o.ipv6Only);
  if (o.bindAddressNoPort) setOption(fd, 'IP_BIND_ADDRESS_NO_PORT', true);
  for (const prepared of o.sockopts) applyOption(fd.fd, prepared);
}

/** Binds when a local address or port was asked for; returns the local end then. */
function bindLocal(fd: OwnedDescriptor, family: SocketFamily, o: CheckedConnectOptions): true | undefined {
  if (o.localAddress === undefined && o.localPort === 0) return undefined;
  const address = o.localAddress ?? (family === 'ipv6' ? '::' : '0.0.0.0');
  try {
    binding.bind(fd.fd, address, o.localPort);
  } catch (error) {
    if (!isSystemError(error)) throw error;
    // As Node's: the bind's own address and port, and the same as localAddress/localPort.
    const failed = connectError(-error.errno, 'bind', address, o.localPort);
    failed.localAddress = address;
    failed.localPort = o.localPort;
    throw failed;
  }
  return true;
}

/** Resolves once the pending connect completed; rejects with its SO_ERROR, or at the stop. */
function completion(fd: number, stop: Stop, fail: (errno: number) => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const forget = stop.onStop((error) => {
      binding.connectCancel(fd);
      reject(error);
    });
    binding.connectWait(fd, (errno) => {
      forget();
      if (errno === 0) resolve();
      else reject(fail(errno));
    });
  });
}

/** Where the connect goes, for its errors; `local` once bound. */
interface Ends {
  address: string;
  port: number;
  local?: { address: string; port: number };
}

/**
 * A client socket with every option set and bound (when asked), not connected yet: the
 * first half of connect(). The lab reads its state (CLOSED) before the SYN.
 */
export class PreparedClient {
  readonly #fd: OwnedDescriptor;
  readonly #ends: Ends;
  readonly #stop: Stop;
  readonly #allowHalfOpen: boolean;

  constructor(o: CheckedConnectOptions, remote: Remote, ends: Ends, stop: Stop) {
    const fd = socket(remote.family);
    try {
      applyOptions(fd, remote.family, o);
      // The local end as the kernel has it (port 0 until connect for a NO_PORT bind).
      if (bindLocal(fd, remote.family, o) !== undefined) ends.local = binding.localAddress(fd.fd);
    } catch (error) {
      fd.close();
      throw error;
    }
    this.#fd = fd;
    this.#ends = ends;
    this.#stop = stop;
    this.#allowHalfOpen = o.allowHalfOpen;
  }

  /** The descriptor, still owned by this object (-1 once connected or closed). */
  get fd(): number {
    return this.#fd.fd;
  }

  /** The bound local port (0 when not bound yet: connect(2) chooses it). */
  get localPort(): number {
    return this.#ends.local?.port ?? 0;
  }

  /** connect(2), then the wait for its completion; resolves with the net.Socket that owns the descriptor. */
  async connect(): Promise<net.Socket> {
    const fd = this.#fd;
    const { address, port } = this.#ends;
    const fail = (errno: number): ConnectError => connectError(errno, 'connect', address, port, this.#ends.local);
    try {
      this.#stop.check();
      let connected: boolean;
      try {
        connected = binding.connect(fd.fd, address, port);
      } catch (error) {
        throw isSystemError(error) ? fail(-error.errno) : error;
      }
      if (!connected) await completion(fd.fd, this.#stop, fail);
      const client = new net.Socket({ fd: fd.fd, readable: true, writable: true, allowHalfOpen: this.#allowHalfOpen });
      fd.release();
      return client;
    } finally {
      this.close();
    }
  }

  /** Closes the descriptor (a no-op once connected) and forgets the timer and the signal. */
  close(): void {
    this.#fd.close();
    this.#stop[Symbol.dispose]();
  }
}

/** Checks the options, resolves the host and makes the socket with its options set and bound. */
export async function prepareClient(options: ConnectOptions): Promise<PreparedClient> {
  const o = checkConnectOptions(options);
  const ends: Ends = { address: o.host, port: o.port };
  const stop = new Stop(o.signal, o.timeoutMs, () => connectError(osConstants.errno.ETIMEDOUT, 'connect', ends.address, ends.port, ends.local));
  try {
    const remote = await stop.race(resolveRemote(o.host));
    ends.address = remote.address;
    return new PreparedClient(o, remote, ends, stop);
  } catch (error) {
    stop[Symbol.dispose]();
    if (isSystemError(error) && error.syscall === 'bind') {
      // The local port asked for is taken: why, measured now (whyInUse with this socket's options).
      const { localAddress, localPort } = error as ConnectError;
      throw await withBindCauses(error, { host: localAddress, port: localPort ?? 0, reuseAddr: o.reuseAddr, reusePort: o.reusePort, ipv6Only: o.ipv6Only ?? false });
    }
    throw error;
  }
}

/**
 * A client TCP socket with every option set before bind and connect. Resolves with a
 * connected net.Socket that owns the descriptor; rejects like Node's connect (ECONNREFUSED,
 * ETIMEDOUT, EADDRNOTAVAIL, EADDRINUSE with address and port), or with an AbortError, with
 * the descriptor closed.
 */
export async function connect(options: ConnectOptions): Promise<net.Socket> {
  const client = await prepareClient(options);
  try {
    return await client.connect();
  } catch (error) {
    // No free local port toward that peer (EADDRNOTAVAIL): what holds the range, and tcp_tw_reuse.
    throw await withConnectCauses(error);
  }
}
