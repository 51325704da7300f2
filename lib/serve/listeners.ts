// The sockets `sockctl serve --listen` asks for, made as listen() makes them: TCP with any
// pre-bind option by its C name, UNIX stream sockets at a path (a stale socket file is
// replaced, any other file refused, ours removed at stop), and UDP sockets.
import { connect as netConnect } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { ownedByBinding, transferOwnership } from '../core/descriptor';
import { socket } from '../core/socket';
import { errnoException, isSystemError } from '../core/errors';
import { unlinkOwn } from '../core/paths';
import { prepareOption, applyOption, type PreparedOption } from '../core/options';
import { createListener, ListeningDescriptor } from '../listen/listener';
import type { ListenSockopts } from '../listen/options';
import { resolveHost } from '../listen/options';
import { addOwners, tcpStates } from '../states/list';

export interface TcpListenSpec {
  /** A socket that exists already (handed over by a replaced supervisor): used as it is. */
  listener?: ListeningDescriptor;
  kind: 'tcp';
  /** LISTEN_FDNAMES entry. */
  name: string;
  host: string;
  port: number;
  /** listen(2)'s backlog (default 511). */
  backlog?: number;
  /** Pre-bind options by C name, as listen()'s `sockopts`. */
  sockopts?: ListenSockopts;
}

export interface UnixListenSpec {
  /** A socket that exists already (handed over by a replaced supervisor): used as it is. */
  listener?: ListeningDescriptor;
  kind: 'unix';
  name: string;
  path: string;
  /** The socket file's mode (default 0600: this uid only). */
  mode?: number;
  backlog?: number;
}

export interface UdpListenSpec {
  /** A socket that exists already (handed over by a replaced supervisor): used as it is. */
  listener?: ListeningDescriptor;
  kind: 'udp';
  name: string;
  host: string;
  port: number;
  sockopts?: ListenSockopts;
}

/** A socket the service manager passed (LISTEN_FDS), picked by its LISTEN_FDNAMES name. */
export interface InheritedListenSpec {
  kind: 'inherited';
  name: string;
  /** Filled in when the manager's sockets are read (listenFds()). */
  listener?: ListeningDescriptor;
}

export type ListenSpec = TcpListenSpec | UnixListenSpec | UdpListenSpec | InheritedListenSpec;

/** How a spec reads in logs: `http=127.0.0.1:8080`, `api=unix:/run/app.sock`, `dns=udp:[::1]:53`. */
export function describeListener(spec: ListenSpec, port = spec.kind === 'unix' || spec.kind === 'inherited' ? 0 : spec.port): string {
  if (spec.kind === 'unix') return `${spec.name}=unix:${spec.path}`;
  if (spec.kind === 'inherited') {
    const address = spec.listener?.address;
    if (address === undefined) return `${spec.name}=(from the service manager)`;
    if (address.family === 'unix') return `${spec.name}=unix:${address.address} (from the service manager)`;
    const host = address.address.includes(':') ? `[${address.address}]` : address.address;
    return `${spec.name}=${host}:${address.port} (from the service manager)`;
  }
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.name}=${spec.kind === 'udp' ? 'udp:' : ''}${host}:${port}`;
}

/** Whether something accepts at the UNIX socket `path` (a live socket is never replaced). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(path);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** A UNIX stream listener; what stands at `path` is replaced only if it is a stale socket. */
async function openUnix(spec: UnixListenSpec): Promise<ListeningDescriptor> {
  const existing = lstatSync(spec.path, { throwIfNoEntry: false });
  if (existing !== undefined) {
    if (!existing.isSocket()) {
      throw errnoException(osConstants.errno.EEXIST, 'bind', { address: spec.path, reason: 'a file that is not a socket is there: remove it yourself if it should go' });
    }
    if (await answers(spec.path)) throw errnoException(osConstants.errno.EADDRINUSE, 'bind', { address: spec.path, reason: 'a process accepts on it' });
    unlinkSync(spec.path); // stale: nobody listens
  }
  const backlog = spec.backlog ?? 511;
  const listener = ownedByBinding(binding.unixListen(spec.path, backlog), (fd) => new ListeningDescriptor(fd, { address: spec.path, family: 'unix', port: 0 }, backlog));
  try {
    if (spec.mode !== undefined) chmodSync(spec.path, spec.mode);
  } catch (error) {
    listener.close();
    unlinkSync(spec.path); // just bound by us, in the moment since
    throw error;
  }
  return listener;
}

/** Removes the socket file of `listener` at `path`, and only while it is still that socket. */
export function removeUnixPath(path: string, listener: ListeningDescriptor): void {
  unlinkOwn(path, unixFiles.get(listener) ?? null);
}

/** The socket file each UNIX listener made (device and inode), to remove only that one. */
const unixFiles = new WeakMap<ListeningDescriptor, { dev: number; ino: number }>();

/** A UNIX listener handed over: the file at `path` now is its (removed at stop as if made here). */
export function rememberUnixFile(path: string, listener: ListeningDescriptor): void {
  const now = lstatSync(path, { throwIfNoEntry: false });
  if (now?.isSocket()) unixFiles.set(listener, { dev: now.dev, ino: now.ino });
}

function prepared(sockopts: ListenSockopts | undefined, name: string): PreparedOption[] {
  return Object.entries(sockopts ?? {}).map(([option, value]) => prepareOption(option, value, `--listen ${name} ${option}`));
}

/** A bound UDP socket (SO_REUSEADDR as libuv sets it, SO_REUSEPORT when asked). */
async function openUdp(spec: UdpListenSpec, port: number, reusePort: boolean): Promise<ListeningDescriptor> {
  const options = prepared(spec.sockopts, spec.name);
  const where = (await resolveHost(spec.host)) ?? { address: '0.0.0.0', family: 'ipv4' as const };
  const fd = socket(where.family, 'udp');
  try {
    binding.setIntOption(fd.fd, binding.constants.SOL_SOCKET!, binding.constants.SO_REUSEADDR!, 1);
    if (reusePort) binding.setIntOption(fd.fd, binding.constants.SOL_SOCKET!, binding.constants.SO_REUSEPORT!, 1);
    for (const option of options) applyOption(fd.fd, option);
    try {
      binding.bind(fd.fd, where.address, port);
    } catch (error) {
      if (!isSystemError(error)) throw error;
      throw errnoException(-error.errno, error.syscall, { address: where.address, port });
    }
    const listener = new ListeningDescriptor(fd.fd, binding.localAddress(fd.fd), 0);
    transferOwnership(fd, listener);
    return listener;
  } finally {
    fd.close(); // a no-op once transferred
  }
}

/** One socket for `spec`; `port` is the group's (a kernel-chosen port, once known). */
export async function openListener(spec: ListenSpec, port: number, reusePort: boolean): Promise<ListeningDescriptor> {
  if (spec.listener !== undefined) {
    // Handed over by the supervisor before this one: used as it is.
    if (spec.kind === 'unix') rememberUnixFile(spec.path, spec.listener);
    return spec.listener;
  }
  if (spec.kind === 'inherited') {
    if (spec.listener === undefined) throw errnoException(osConstants.errno.EBADF, 'listen', { reason: `no socket named '${spec.name}' was passed by the service manager` });
    return spec.listener;
  }
  if (spec.kind === 'unix') {
    const listener = await openUnix(spec);
    // The file's identity (not the socket's inode): what stop checks before it removes the path.
    const made = lstatSync(spec.path);
    unixFiles.set(listener, { dev: made.dev, ino: made.ino });
    return listener;
  }
  if (spec.kind === 'udp') return openUdp(spec, port, reusePort);
  return createListener({ host: spec.host, port, reusePort, backlog: spec.backlog, sockopts: spec.sockopts });
}

/**
 * Before joining a SO_REUSEPORT group on a fixed port: the listeners already there. The
 * kernel lets any socket of this uid join, orphans of a killed supervisor included, which
 * would then take a share of the connections: refuse, naming them (EADDRINUSE).
 */
export async function refuseForeignGroup(spec: TcpListenSpec): Promise<void> {
  if (spec.port === 0) return;
  const where = await resolveHost(spec.host);
  const rows = (await tcpStates({ localPort: spec.port, state: 'LISTEN' })).filter(
    (row) => where === undefined || row.localAddress === where.address || row.localAddress === '0.0.0.0' || row.localAddress === '::' || where.address === '0.0.0.0' || where.address === '::',
  );
  if (rows.length === 0) return;
  const owners = (await addOwners(rows)).map((row) => (row.pid === null ? `uid ${row.uid}` : `pid ${row.pid} (${row.command}) uid ${row.uid}`));
  throw errnoException(osConstants.errno.EADDRINUSE, 'bind', {
    address: spec.host,
    port: spec.port,
    reason: `the SO_REUSEPORT group on this port already has listeners that are not ours: ${[...new Set(owners)].join(', ')}; they would take a share of the connections`,
  });
}
