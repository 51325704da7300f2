// Restarting a worker that keeps exiting: the delay doubles from `firstMs` up to `maxMs`,
// and starts over once a worker has stayed up for `stableMs` (a crash loop must not spin,
// nor must one crash a week later wait the longest delay).
export interface BackoffOptions {
  firstMs: number;
  maxMs: number;
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { firstMs: 1000, maxMs: 30_000, stableMs: 10_000 };

export class Backoff {
  readonly #options: BackoffOptions;
  #failures = 0;
  #startedAt = 0;

  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  /** A start of the worker this slot runs. */
  started(now = Date.now()): void {
    this.#startedAt = now;
  }

  /** It exited: the delay before the next start. */
  next(now = Date.now()): number {
    if (now - this.#startedAt >= this.#options.stableMs) this.#failures = 0;
    const delay = Math.min(this.#options.maxMs, this.#options.firstMs * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    return delay;
  }

  /** Restarts in a row so far. */
  get failures(): number {
    return this.#failures;
  }
}
