// A TCP listener made natively: socket (close-on-exec, non-blocking), every requested
// option set before bind, bind, listen. The descriptor is closed on every failure path.
import type { AddressInfo } from 'node:net';
import { binding } from '../core/binding';
import { OwnedDescriptor, transferOwnership } from '../core/descriptor';
import { errnoException, isSystemError } from '../core/errors';
import { checkListenOptions, defaultBindAddress, resolveHost, type BindAddress, type CheckedListenOptions, type ListenOptions } from './options';
import { applyOption, setOption } from '../core/options';
import { socket } from '../core/socket';
import { readOptions, validateInteger, validateString } from '../core/validate';
import type { CheckedWhyOptions } from '../why/options';
import { withBindCauses } from '../why/attach';

/** An owned listening descriptor, with the address it is bound to (getsockname). */
export class ListeningDescriptor extends OwnedDescriptor {
  readonly address: AddressInfo;
  /** listen(2)'s backlog as requested (Node's listen on this descriptor should repeat it). */
  readonly backlog: number;

  constructor(fd: number, address: AddressInfo, backlog: number) {
    // Checked (and the address copied) before the descriptor is taken over.
    const a = readOptions(address, 'address', ['address', 'family', 'port'], 'a field of an address', true);
    const copy = {
      address: validateString(a.address, 'address.address'),
      family: validateString(a.family, 'address.family'),
      port: validateInteger(a.port, 'address.port', 0, 65535),
    };
    validateInteger(backlog, 'backlog');
    super(fd);
    this.address = copy;
    this.backlog = backlog;
  }
}

/** Runs a bind/listen step; its system error gets the address and port, as Node's listen errors have. */
function withAddress(step: () => void, address: string, port: number): void {
  try {
    step();
  } catch (error) {
    if (!isSystemError(error)) throw error;
    throw errnoException(-error.errno, error.syscall, { address, port });
  }
}

function applyOptions(fd: OwnedDescriptor, family: BindAddress['family'], options: CheckedListenOptions): void {
  // reuseAddr false sets nothing at all: the kernel's default is off.
  if (options.reuseAddr) setOption(fd, 'SO_REUSEADDR', true);
  if (options.reusePort) setOption(fd, 'SO_REUSEPORT', true);
  // Set either way: ipv6Only false means dual-stack even where net.ipv6.bindv6only=1.
  if (family === 'ipv6') setOption(fd, 'IPV6_V6ONLY', options.ipv6Only);
  for (const prepared of options.sockopts) applyOption(fd.fd, prepared);
}

/**
 * A socket with every option set, not bound yet: the first half of a listener. restart()
 * makes it before closing the old listener, so only bind and listen happen after.
 */
export class UnboundListener {
  readonly #fd: OwnedDescriptor;
  readonly #where: BindAddress;
  readonly #options: CheckedListenOptions;

  constructor(where: BindAddress, options: CheckedListenOptions) {
    const fd = socket(where.family);
    try {
      applyOptions(fd, where.family, options);
    } catch (error) {
      fd.close();
      throw error;
    }
    this.#fd = fd;
    this.#where = where;
    this.#options = options;
  }

  /** The descriptor, still owned by this object: the lab reads its state (CLOSED) before listen. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** Where and how it binds, as whyInUse takes it (an EADDRINUSE is explained with it). */
  get bindRequest(): CheckedWhyOptions {
    const { port, reuseAddr, reusePort, ipv6Only } = this.#options;
    return { host: this.#where.address, port, reuseAddr, reusePort, ipv6Only };
  }

  /** listen(), and an EADDRINUSE rejected with its causes (whyInUse), computed only then. */
  async listenExplained(): Promise<ListeningDescriptor> {
    try {
      return this.listen();
    } catch (error) {
      throw await withBindCauses(error, this.bindRequest);
    }
  }

  /** bind, listen; the descriptor passes to the result, or is closed if either fails. */
  listen(): ListeningDescriptor {
    const fd = this.#fd;
    const { address } = this.#where;
    const { port, backlog } = this.#options;
    try {
      withAddress(() => binding.bind(fd.fd, address, port), address, port);
      withAddress(() => binding.listen(fd.fd, backlog), address, port);
      const local = binding.localAddress(fd.fd);
      const listening = new ListeningDescriptor(fd.fd, local, backlog);
      transferOwnership(fd, listening);
      return listening;
    } finally {
      fd.close(); // a no-op once transferred
    }
  }

  close(): void {
    this.#fd.close();
  }
}

/** Checked options and a resolved host: `open()` makes the socket, synchronously. */
export interface PreparedListener {
  open(): UnboundListener;
}

/** Checks the options and resolves the host (the slow part), so that the socket comes at once when wanted. */
export async function prepareListener(options: ListenOptions | undefined): Promise<PreparedListener> {
  const checked = checkListenOptions(options);
  const where = await resolveHost(checked.host);
  return { open: () => new UnboundListener(where ?? defaultBindAddress(), checked) };
}

/**
 * A listening descriptor owned by the caller, for handing elsewhere: a child process
 * (spawn's stdio), a worker, or `server.listen({ fd: l.release() }, l.backlog)`.
 */
export async function createListener(options?: ListenOptions): Promise<ListeningDescriptor> {
  return (await prepareListener(options)).open().listenExplained();
}
