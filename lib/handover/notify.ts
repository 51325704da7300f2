// notify(state): sd_notify(3) to the supervisor's NOTIFY_SOCKET ('READY=1', 'RELOADING=1',
// 'STOPPING=1', 'STATUS=...', several separated by newlines), as one datagram.
import { binding } from '../core/binding';
import { errnoException, invalidArgType, invalidArgValue } from '../core/errors';

/**
 * Sends `state` to NOTIFY_SOCKET (a path, or '@name' for an abstract socket). Resolves
 * true once sent, false when there is no NOTIFY_SOCKET (not run by a supervisor that
 * listens); rejects with a system error naming the socket (ECONNREFUSED when nobody
 * receives there, EAGAIN when its queue is full, EINVAL for an address that is neither).
 */
export async function notify(state: string): Promise<boolean> {
  if (typeof state !== 'string') throw invalidArgType('state', 'of type string', state);
  if (state.length === 0 || state.includes('\0')) throw invalidArgValue('state', state, 'must be a non-empty string without NUL');
  const address = process.env.NOTIFY_SOCKET;
  if (address === undefined || address === '') return false;
  try {
    binding.notify(address, Buffer.from(state, 'utf8'));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw errnoException(-(e.errno ?? 0), e.syscall ?? 'sendto', { address, reason: `NOTIFY_SOCKET, sending ${JSON.stringify(state.slice(0, 40))}` });
  }
  return true;
}
