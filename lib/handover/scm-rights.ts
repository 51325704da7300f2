// The low-level pair: framed messages with descriptors over an AF_UNIX stream socket
// (SCM_RIGHTS), each descriptor received owned and close-on-exec, and the peer's
// credentials (SO_PEERCRED). takeover() speaks its protocol through this.
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { binding, type PeerCredentials } from '../core/binding';
import { OwnedDescriptor, ownedByBinding } from '../core/descriptor';
import { abortError, errnoException, invalidArgType, invalidArgValue } from '../core/errors';
import { fdOf, type Target } from '../core/target';
import { INT32_MAX, readOptions, validateInteger } from '../core/validate';
import { checkSignal, onAbort } from '../core/abort';
import { encodeFrame, FrameReader, MAX_FRAME_FDS, MAX_PAYLOAD, protocolError, type Frame } from './frames';

export type { PeerCredentials };

export interface ChannelWaitOptions {
  /** Default 5000 ms; ETIMEDOUT after it. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ReceiveOptions extends ChannelWaitOptions {
  /** Room for this many descriptors a read (default and most 253); more is MSG_CTRUNC, an error. */
  maxDescriptors?: number;
}

export interface ReceivedMessage {
  message: Buffer;
  /** Owned by the caller, close-on-exec; in the order they were sent. */
  descriptors: OwnedDescriptor[];
}

function checkPath(path: unknown): string {
  if (typeof path !== 'string') throw invalidArgType('path', 'of type string', path);
  if (path.includes('\0')) throw invalidArgValue('path', path, 'must be a string without null bytes');
  return path;
}

function checkWait(options: unknown, name: string, keys: readonly string[] = ['timeoutMs', 'signal']) {
  const o = readOptions(options ?? undefined, name, keys, 'an option here');
  return {
    timeoutMs: o.timeoutMs === undefined ? 5000 : validateInteger(o.timeoutMs, `${name}.timeoutMs`, 0, INT32_MAX),
    signal: checkSignal(o.signal, `${name}.signal`),
    maxDescriptors: o.maxDescriptors === undefined ? MAX_FRAME_FDS : validateInteger(o.maxDescriptors, `${name}.maxDescriptors`, 0, MAX_FRAME_FDS),
  };
}

const READABLE = 1;
const WRITABLE = 2;

/**
 * Resolves once `fd` is ready for `events`, waiting on the event loop (binding.waitFd: no
 * pool thread held); rejects at `deadline` (ETIMEDOUT), when `signal` aborts (AbortError),
 * or when `cancel` is called (the channel closes under the wait). The wait is always
 * cancelled before this settles: none outlives the descriptor.
 */
function whenReady(fd: number, events: number, syscall: string, deadline: number, timeoutMs: number, signal: AbortSignal | undefined, waits: Set<() => void>): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const left = deadline - Date.now();
    if (left <= 0) return reject(errnoException(osConstants.errno.ETIMEDOUT, syscall, { reason: `nothing within ${timeoutMs} ms` }));
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      offAbort();
      waits.delete(closed);
      binding.waitFdCancel(fd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const closed = (): void => settle(errnoException(osConstants.errno.EBADF, syscall, { reason: 'the channel was closed' }));
    const timer = setTimeout(() => settle(errnoException(osConstants.errno.ETIMEDOUT, syscall, { reason: `nothing within ${timeoutMs} ms` })), left);
    const offAbort = onAbort(signal, settle);
    waits.add(closed);
    try {
      // An error on the socket is what the next sendmsg/recvmsg reports: woken, it tries again.
      binding.waitFd(fd, events, () => settle());
    } catch (error) {
      settle(error as Error);
    }
  });
}

/**
 * One end of an AF_UNIX stream connection, owned: messages of 1 to 65535 bytes, each
 * with up to 253 descriptors. A truncated control message (MSG_CTRUNC) rejects, with
 * whatever did arrive closed; so does anything that breaks the framing (EPROTO).
 */
export class FdChannel {
  readonly #fd: OwnedDescriptor;
  readonly #reader = new FrameReader((fd) => binding.close(fd));
  readonly #frames: Frame[] = [];
  // Sends one after another: a frame's bytes may take several writes, never interleaved.
  #sending: Promise<void> = Promise.resolve();
  #ended = false;
  #busy = false;
  // The waits on the loop now pending: close() cancels them before the descriptor goes.
  readonly #waits = new Set<() => void>();
  // A send waits for room on a duplicate: the loop watches one wait per descriptor number,
  // and a receive may be waiting on the socket's own number at the same time.
  #sendSide: OwnedDescriptor | undefined;

  /** Takes ownership of a connected AF_UNIX stream socket (from socketpair, accept, a child's stdio...). */
  constructor(descriptor: OwnedDescriptor) {
    if (!(descriptor instanceof OwnedDescriptor)) throw invalidArgType('descriptor', 'an instance of OwnedDescriptor', descriptor);
    this.#fd = descriptor;
  }

  /** connect(2) to a path: ENOENT, ECONNREFUSED (a stale socket file), EACCES (its mode) as they come. */
  static connect(path: string): FdChannel {
    checkPath(path);
    try {
      return new FdChannel(ownedByBinding(binding.unixConnect(path)));
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (typeof e.errno !== 'number') throw error;
      throw errnoException(-e.errno, e.syscall ?? 'connect', { address: path });
    }
  }

  /**
   * Accepts FdChannels on a listening AF_UNIX socket (listenUnix()'s, which the returned
   * net.Server then owns: its close() closes it). Each connection is handed over as a
   * channel of its own (a close-on-exec duplicate; Node never reads from it).
   */
  static serve(listener: OwnedDescriptor, onChannel: (channel: FdChannel) => void): net.Server {
    if (!(listener instanceof OwnedDescriptor)) throw invalidArgType('listener', 'an instance of OwnedDescriptor', listener);
    if (typeof onChannel !== 'function') throw invalidArgType('onChannel', 'of type function', onChannel);
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      let channel: FdChannel | undefined;
      try {
        channel = new FdChannel(ownedByBinding(binding.dup(fdOf(socket))));
      } catch (error) {
        server.emit('error', error);
      } finally {
        socket.destroy(); // the duplicate carries the connection from here
      }
      if (channel !== undefined) onChannel(channel);
    });
    server.listen({ fd: listener.release() });
    return server;
  }

  get fd(): number {
    return this.#fd.fd;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** SO_PEERCRED: the process at the other end as it was when it connected. */
  peerCredentials(): PeerCredentials {
    return binding.peerCredentials(this.#open('getsockopt'));
  }

  /** The socket's descriptor, or EBADF (as the system call would say) once the channel is closed. */
  #open(syscall: string): number {
    if (this.#fd.closed) throw errnoException(osConstants.errno.EBADF, syscall, { reason: 'the channel is closed' });
    return this.#fd.fd;
  }

  /** Sends `message` with `descriptors` (anything fdOf takes; the kernel duplicates them, the caller keeps its own). */
  async send(message: Buffer | string, descriptors: readonly Target[] = [], options?: ChannelWaitOptions): Promise<void> {
    const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    if (!Buffer.isBuffer(payload)) throw invalidArgType('message', 'of type string or an instance of Buffer', message);
    if (payload.length === 0 || payload.length > MAX_PAYLOAD) throw invalidArgValue('message', `<${payload.length} bytes>`, `must be 1 to ${MAX_PAYLOAD} bytes`);
    if (!Array.isArray(descriptors)) throw invalidArgType('descriptors', 'an instance of Array', descriptors);
    if (descriptors.length > MAX_FRAME_FDS) throw invalidArgValue('descriptors', `<${descriptors.length} descriptors>`, `must hold at most ${MAX_FRAME_FDS}`);
    const fds = descriptors.map((d) => fdOf(d));
    const { timeoutMs, signal } = checkWait(options, 'options');
    const deadline = Date.now() + timeoutMs;
    const previous = this.#sending;
    let done!: () => void;
    this.#sending = new Promise<void>((resolve) => (done = resolve));
    try {
      await previous;
      let rest = encodeFrame(payload, fds.length);
      let withFds = fds;
      while (rest.length > 0) {
        if (signal?.aborted) throw abortError(signal);
        const sent = binding.sendFds(this.#open('sendmsg'), rest, withFds);
        if (sent === 0) {
          this.#sendSide ??= ownedByBinding(binding.dup(this.#fd.fd));
          await whenReady(this.#sendSide.fd, WRITABLE, 'sendmsg', deadline, timeoutMs, signal, this.#waits);
          continue;
        }
        rest = rest.subarray(sent);
        withFds = []; // they went with the first byte
      }
    } finally {
      done();
    }
  }

  /**
   * The next message and its descriptors. Rejects with EPIPE when the peer has closed
   * (EPROTO if in the middle of a message), EPROTO for a broken frame, EMSGSIZE for
   * MSG_CTRUNC (what arrived is closed), ETIMEDOUT, or AbortError.
   */
  async receive(options?: ReceiveOptions): Promise<ReceivedMessage> {
    const { timeoutMs, signal, maxDescriptors } = checkWait(options, 'options', ['timeoutMs', 'signal', 'maxDescriptors']);
    if (this.#busy) throw errnoException(osConstants.errno.EBUSY, 'recvmsg', { reason: 'a receive is already waiting on this channel' });
    this.#busy = true;
    const deadline = Date.now() + timeoutMs;
    try {
      while (this.#frames.length === 0) {
        if (this.#ended) {
          throw this.#reader.pending > 0
            ? protocolError(`the peer closed in the middle of a message (${this.#reader.pending} bytes of it)`)
            : errnoException(osConstants.errno.EPIPE, 'recvmsg', { reason: 'the peer closed the connection' });
        }
        if (signal?.aborted) throw abortError(signal);
        const got = binding.recvFds(this.#open('recvmsg'), MAX_PAYLOAD + 4, maxDescriptors);
        if (got === null) {
          await whenReady(this.#fd.fd, READABLE, 'recvmsg', deadline, timeoutMs, signal, this.#waits);
          continue;
        }
        if (got.truncated >= 0) {
          this.#reader.discard();
          throw errnoException(osConstants.errno.EMSGSIZE, 'recvmsg', {
            reason: `MSG_CTRUNC: the control message was truncated (${got.truncated} descriptors arrived and were closed)`,
          });
        }
        if (got.data.length === 0) {
          for (const fd of got.fds) binding.close(fd);
          this.#ended = true;
          continue;
        }
        this.#frames.push(...this.#reader.push(got.data, got.fds));
      }
      const frame = this.#frames.shift()!;
      return { message: Buffer.from(frame.payload), descriptors: frame.fds.map((fd) => ownedByBinding(fd)) }; // recvFds registered them
    } finally {
      this.#busy = false;
    }
  }

  /** Closes the socket and every descriptor received but not handed out. */
  close(): void {
    for (const cancel of [...this.#waits]) cancel(); // before the descriptor goes: its number may be reused at once
    for (const frame of this.#frames.splice(0)) for (const fd of frame.fds) binding.close(fd);
    this.#reader.discard();
    this.#sendSide?.close();
    this.#fd.close();
  }
}

/**
 * A listening AF_UNIX stream socket at `path`, mode 0600 from the start (fchmod before
 * bind), owned by the caller: for takeover's path, or to accept FdChannels through a
 * net.Server (`server.listen({ fd })` with `pauseOnConnect`).
 */
export function listenUnix(path: string, backlog = 16): OwnedDescriptor {
  checkPath(path);
  validateInteger(backlog, 'backlog', 0, INT32_MAX);
  try {
    return ownedByBinding(binding.unixListen(path, backlog));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (typeof e.errno !== 'number') throw error;
    throw errnoException(-e.errno, e.syscall ?? 'bind', { address: path });
  }
}
