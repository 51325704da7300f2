// dup(): a second descriptor for the same open socket, owned by the returned object.
// Closing it drops one reference (the connection lives on through the others);
// it is close-on-exec unless handed to a child explicitly (spawn's stdio).
// Ownership is also registered natively, per environment (native/environment.h): what a
// worker still owns when it ends (terminate(), process.exit()) is closed then; release()
// gives it up.
import { constants as osConstants } from 'node:os';
import { binding } from './binding';
import { errnoException } from './errors';
import { fdOf, type Target } from './target';
import { validateInteger } from './validate';

// The safety net, as Node has for a FileHandle: a descriptor whose owner is garbage-
// collected without close() is closed then, with a warning that names it.
// Only a number that still names the file it named when owned is closed: one closed behind
// the object's back and reused (a file opened since) belongs to someone else now.
const unclosed = new FinalizationRegistry<number>((fd) => {
  let outcome = 'closed it';
  try {
    if (!binding.closeIfOwned(fd)) outcome = 'it was closed behind its back (the number names another file now or none): left alone';
  } catch (error) {
    outcome = `could not close it: ${(error as Error).message}`;
  }
  process.emitWarning(`sockctl: descriptor ${fd} was garbage-collected without close(); ${outcome}`, 'Warning');
});

// Ownership moves from one object to another (a ListeningDescriptor made from the socket)
// with no moment where the environment does not own the descriptor: a worker terminated in
// between would leak it. Set below, where the private field is in reach.
let forget: (from: OwnedDescriptor) => void;

/** `to` was made from `from.fd` and owns it now: `from` acts as closed, closing nothing. */
export function transferOwnership(from: OwnedDescriptor, to: OwnedDescriptor): void {
  if (to.fd !== from.fd) throw new Error('sockctl internal: transferOwnership between different descriptors');
  forget(from);
}

// Set while ownedByBinding() constructs: the binding registered the descriptor with the
// environment when it made it (socket, dup, recvFds), so it is not registered again.
let registered = false;

/**
 * The owner of `fd`, which the binding call that made it already registered with the
 * environment: an OwnedDescriptor, or what `make` builds on one (a ListeningDescriptor).
 */
export function ownedByBinding<T extends OwnedDescriptor = OwnedDescriptor>(fd: number, make: (fd: number) => T = (n) => new OwnedDescriptor(n) as T): T {
  registered = true;
  try {
    return make(fd);
  } finally {
    registered = false;
  }
}

export class OwnedDescriptor implements Disposable {
  #fd: number;

  /** Takes ownership of `fd`: this object closes it, once (or the environment's end does). */
  constructor(fd: number) {
    this.#fd = validateInteger(fd, 'fd');
    if (!registered) binding.own(fd);
    unclosed.register(this, fd, this);
  }

  static {
    forget = (from) => {
      from.#fd = -1;
      unclosed.unregister(from);
    };
  }

  /** The descriptor number, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd === -1;
  }

  /**
   * close(2), once. Later calls do nothing: the number may already belong to a
   * descriptor opened since, and closing it again would close that one.
   */
  close(): void {
    const fd = this.#fd;
    if (fd === -1) return;
    this.#fd = -1;
    unclosed.unregister(this);
    binding.close(fd);
  }

  /**
   * Gives the descriptor away without closing it (to a net.Server, a child process...):
   * from here on the new owner closes it, and this object acts as closed. EBADF once
   * closed or released: -1 handed on would mean "no descriptor" to whoever gets it.
   */
  release(): number {
    const fd = this.#fd;
    if (fd === -1) throw errnoException(osConstants.errno.EBADF, 'release', { reason: 'the descriptor is already closed or released' });
    this.#fd = -1;
    unclosed.unregister(this);
    binding.disown(fd);
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** dup(2) (as F_DUPFD_CLOEXEC): a new descriptor for the same socket, owned by the caller. */
export function dup(target: Target): OwnedDescriptor {
  return ownedByBinding(binding.dup(fdOf(target)));
}
