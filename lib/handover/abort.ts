// AbortSignal handling for the handover's waits, as Node's own APIs do it: the signal
// checked with Node's wording, and AbortError (code ABORT_ERR, the reason as cause).
import { invalidArgType } from '../core/errors';

export function checkSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalidArgType(name, 'an instance of AbortSignal', value);
  return value;
}

export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(cause?: unknown) {
    super('The operation was aborted', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
  }
}

/** Rejects with AbortError when `signal` aborts; `off()` removes the listener. */
export function onAbort(signal: AbortSignal | undefined, abort: (error: AbortError) => void): () => void {
  if (signal === undefined) return () => {};
  const listener = (): void => abort(new AbortError(signal.reason));
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
