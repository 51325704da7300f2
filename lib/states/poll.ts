// Polling the kernel until a condition holds: the kernel sends no event on a TCP state
// change (sock_diag only announces destruction), so waiters ask again, every millisecond
// at first, backing off to 20 ms, for at most `timeoutMs`.
import { setTimeout as sleep } from 'node:timers/promises';
import { abortError } from '../core/errors';

const FIRST_POLL_MS = 1;
const MAX_POLL_MS = 20;

/**
 * Calls `look` until `done(result)` holds and resolves with that result; after `timeoutMs`
 * throws `timedOut(lastResult)`; an aborted `signal` rejects with Node's AbortError.
 */
export async function pollKernel<T>(
  look: () => Promise<T>,
  done: (result: T) => boolean,
  timeoutMs: number,
  timedOut: (last: T) => Error,
  signal?: AbortSignal,
): Promise<T> {
  // Node's AbortError, not signal.reason (a DOMException for a bare abort()).
  if (signal?.aborted) throw abortError(signal);
  const deadline = performance.now() + timeoutMs;
  let pause = FIRST_POLL_MS;
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    const result = await look();
    if (done(result)) return result;
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(result);
    await sleep(Math.min(pause, left), undefined, { signal });
    pause = Math.min(pause * 2, MAX_POLL_MS);
  }
}
