// AbortSignal handling for every wait: the `signal` option read as the rest of
// sockctl reads it, and Node's AbortError (core/errors) when it aborts.
import { abortError } from './errors';
import { validateAbortSignal } from './validate';

export function checkSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  return value === undefined ? undefined : validateAbortSignal(value, name);
}

/** Calls `abort` with Node's AbortError when `signal` aborts; the function returned removes the listener. */
export function onAbort(signal: AbortSignal | undefined, abort: (error: Error) => void): () => void {
  if (signal === undefined) return () => {};
  const listener = (): void => abort(abortError(signal));
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
