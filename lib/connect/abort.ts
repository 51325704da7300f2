// The end of a wait before its result: Node's AbortError, or a deadline's own error.
import { onAbort } from '../core/abort';
import { abortError } from '../core/errors';

/**
 * One stop for a whole operation: the signal's abort or the deadline, whichever comes
 * first. `onStop` listeners run once, with the error to reject with.
 */
export class Stop implements Disposable {
  error: Error | undefined;
  readonly #listeners = new Set<(error: Error) => void>();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #offAbort: () => void = () => {};

  constructor(signal: AbortSignal | undefined, timeoutMs: number | undefined, timedOut: () => Error) {
    if (signal?.aborted) {
      this.error = abortError(signal);
      return;
    }
    this.#offAbort = onAbort(signal, (error) => this.#stop(error));
    if (timeoutMs !== undefined) this.#timer = setTimeout(() => this.#stop(timedOut()), timeoutMs);
  }

  #stop(error: Error): void {
    if (this.error !== undefined) return;
    this.error = error;
    for (const listener of this.#listeners) listener(error);
    this.#listeners.clear();
  }

  /** Throws the stop's error if it came already. */
  check(): void {
    if (this.error !== undefined) throw this.error;
  }

  /** Calls `listener` at the stop; the returned function forgets it. */
  onStop(listener: (error: Error) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves as `promise` does, or rejects at the stop, whichever comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    this.check();
    return new Promise<T>((resolve, reject) => {
      const forget = this.onStop(reject);
      promise.then(
        (value) => (forget(), resolve(value)),
        (error: unknown) => (forget(), reject(error)),
      );
    });
  }

  [Symbol.dispose](): void {
    clearTimeout(this.#timer);
    this.#offAbort();
    this.#listeners.clear();
  }
}
