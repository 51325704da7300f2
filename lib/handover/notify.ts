// notify(state): sd_notify(3) to the supervisor's NOTIFY_SOCKET ('READY=1', 'RELOADING=1',
// 'STOPPING=1', 'STATUS=...', several separated by newlines), as one datagram.
//
// The receiver's queue is short (net.unix.max_dgram_qlen, 10 here): a supervisor with many
// workers starting at once, or a sender flooding it, fills it. An unconnected sender then
// gets EAGAIN, and poll(2) says POLLOUT all the same; a socket connect()ed to the receiver
// reports POLLOUT only when there is room. So the datagram goes on a connected socket, and
// a full queue is waited out on the event loop, bounded by `timeoutMs` and `signal`.
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { abortError, errnoException, invalidArgType, invalidArgValue, isSystemError } from '../core/errors';
import { INT32_MAX, readOptions, validateInteger } from '../core/validate';
import { checkSignal, onAbort } from '../core/abort';

export interface NotifyOptions {
  /** How long to wait for room in a full receiver queue (default 5000 ms); then ETIMEDOUT. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Resolves when `fd` is writable (the receiver has room), or hung up; rejects at the deadline or abort. */
export function whenWritable(fd: number, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      offAbort();
      binding.connectCancel(fd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(() => settle(errnoException(osConstants.errno.ETIMEDOUT, 'send')), timeoutMs);
    const offAbort = onAbort(signal, settle);
    // SO_ERROR (ECONNREFUSED once the receiver is gone) is what the next send reports too.
    binding.connectWait(fd, () => settle());
  });
}

/**
 * Sends `state` to NOTIFY_SOCKET (a path, or '@name' for an abstract socket). Resolves
 * true once sent, false when there is no NOTIFY_SOCKET (not run by a supervisor that
 * listens). While the receiver's queue is full it waits for room, up to `timeoutMs`
 * (ETIMEDOUT) or until `signal` aborts (AbortError). Rejects with a system error naming
 * the socket: ECONNREFUSED when nobody receives there, EINVAL for an address that is
 * neither a path nor '@name'.
 */
export async function notify(state: string, options?: NotifyOptions): Promise<boolean> {
  if (typeof state !== 'string') throw invalidArgType('state', 'of type string', state);
  if (state.length === 0 || state.includes('\0')) throw invalidArgValue('state', state, 'must be a non-empty string without NUL');
  const o = readOptions(options, 'options', ['timeoutMs', 'signal'], 'an option of notify');
  const timeoutMs = o.timeoutMs === undefined ? 5000 : validateInteger(o.timeoutMs, 'options.timeoutMs', 0, INT32_MAX);
  const signal = checkSignal(o.signal);
  if (signal?.aborted) throw abortError(signal);
  const address = process.env.NOTIFY_SOCKET;
  if (address === undefined || address === '') return false;
  await notifyAt(address, state, timeoutMs, signal);
  return true;
}

/**
 * sd_notify to `address` itself (sockctl serve's own manager): checked arguments, as
 * notify() leaves them. `passFd` goes with the datagram (SCM_RIGHTS).
 */
export async function notifyAt(address: string, state: string, timeoutMs: number, signal?: AbortSignal, passFd?: number): Promise<void> {
  const message = Buffer.from(state, 'utf8');
  const named = (error: unknown): unknown =>
    isSystemError(error)
      ? errnoException(-error.errno, error.syscall, { address, reason: `NOTIFY_SOCKET, sending ${JSON.stringify(state.slice(0, 40))}` })
      : error;
  let fd: number;
  try {
    fd = binding.notifyConnect(address);
  } catch (error) {
    throw named(error);
  }
  try {
    const deadline = Date.now() + timeoutMs;
    while (binding.notifySend(fd, message, passFd) < 0) {
      await whenWritable(fd, Math.max(0, deadline - Date.now()), signal);
    }
  } catch (error) {
    throw named(error);
  } finally {
    binding.close(fd);
  }
}
