// watchStates: the state changes of the sockets a filter matches, as an async iterable.
// StateWatch holds the queue, the options and the one way to end; a source feeds it:
// - 'tracepoint' (sources/tracepoint.ts): every transition, with the kernel's timestamp;
// - 'poll' (sources/poll.ts): sock_diag dumps compared by cookie; states shorter than one
//   poll are not seen.
// 'auto' takes the tracepoint where this process may use it, else polls; `source` and
// `fallback` say which and why.
import { constants as osConstants } from 'node:os';
import { abortError, errnoException, invalidArgValue } from '../core/errors';
import { readOptions, validateAbortSignal, validateBoolean, validateInteger } from '../core/validate';
import type { TcpStateChange, WatchSource } from './change';
import { matchesAddresses, stateBits, tcpOnly, toQuery, type StatesQuery, type TcpStatesFilter } from './filter';
import { addOwnersSync } from './list';
import type { TcpStateRow } from './row';
import { PollSource } from './sources/poll';
import type { ChangeSink, ChangeSource } from './sources/source';
import { TracepointSource } from './sources/tracepoint';
import { TracepointUnavailable } from './tracefs';

export { changeToJson, type TcpStateChange, type TcpStateChangeJson, type WatchSource } from './change';

export interface WatchStatesOptions {
  signal?: AbortSignal;
  /** 'auto' (default): the tracepoint where this process may use it, else 'poll'. */
  source?: WatchSource;
  /** 'poll': milliseconds between dumps (default 20). */
  intervalMs?: number;
  /** Report the sockets already there as changes `from: null` first (default false). */
  initial?: boolean;
  /** Changes held for a slow reader; past it the source pauses (the kernel counts what it then drops). Default 10000. */
  maxQueued?: number;
}

const OPTION_KEYS = ['signal', 'source', 'intervalMs', 'initial', 'maxQueued'] as const;
const SOURCES: readonly WatchSource[] = ['auto', 'tracepoint', 'poll'];

interface Settings {
  signal: AbortSignal | undefined;
  source: WatchSource;
  intervalMs: number;
  initial: boolean;
  maxQueued: number;
}

function readSettings(options: unknown): Settings {
  const { signal, source, intervalMs, initial, maxQueued } = readOptions(options, 'options', OPTION_KEYS, 'an option of watchStates');
  if (signal !== undefined) validateAbortSignal(signal, 'options.signal');
  if (source !== undefined && !(typeof source === 'string' && (SOURCES as readonly string[]).includes(source))) {
    throw invalidArgValue('options.source', source, "must be 'auto', 'tracepoint' or 'poll'");
  }
  return {
    signal: signal as AbortSignal | undefined,
    source: (source as WatchSource | undefined) ?? 'auto',
    intervalMs: intervalMs === undefined ? 20 : validateInteger(intervalMs, 'options.intervalMs', 1, 60_000),
    initial: initial === undefined ? false : validateBoolean(initial, 'options.initial'),
    maxQueued: maxQueued === undefined ? 10_000 : validateInteger(maxQueued, 'options.maxQueued', 1, 1_000_000),
  };
}

/**
 * A watch made inside the library (waitForState, the lab) from an already checked query:
 * nothing is turned back into a public filter to be read again. `seed: false` skips the
 * tracepoint's first listing: a wait naming one connection must not walk the host's table.
 */
class WatchPlan {
  constructor(
    readonly query: StatesQuery,
    readonly settings: Settings,
    readonly seed: boolean,
  ) {}
}

export function watchQuery(query: StatesQuery, { source, maxQueued = 10_000 }: { source: WatchSource; maxQueued?: number }): StateWatch {
  return new StateWatch(new WatchPlan(query, { signal: undefined, source, intervalMs: 20, initial: false, maxQueued }, false) as unknown as TcpStatesFilter);
}

/** The error for a tracepoint asked for by name that cannot serve. */
function unavailable(error: TracepointUnavailable): Error {
  const errno = error.code === 'EACCES' ? osConstants.errno.EACCES : error.code === 'ENOTSUP' ? (osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP) : osConstants.errno.ENOENT;
  const e = errnoException(errno, 'tracefs', { reason: error.message });
  e.cause = error.cause;
  return e;
}

/**
 * For waitForState (not exported from the package): hands a watch the rows its caller
 * listed once the watch was armed, so that a TIME_WAIT among them still reports its end
 * (TIME_WAIT -> CLOSED) without any dump being polled.
 */
export let adoptRows: (watch: StateWatch, rows: readonly TcpStateRow[]) => void;

// Watches still open at exit are closed while JavaScript still runs (a worker's, which gets
// no 'exit' event when terminated, are closed by the readers' environment cleanup).
const live = new Set<StateWatch>();
let exitHook = false;

/** The iterable watchStates returns; `source` says which source serves it. */
export class StateWatch implements AsyncIterableIterator<TcpStateChange> {
  /** The source serving this watch. */
  readonly source: 'tracepoint' | 'poll';
  /** Why 'auto' is not using the tracepoint; null when it is, or when a source was named. */
  readonly fallback: string | null = null;
  readonly #query: StatesQuery;
  readonly #settings: Settings;
  readonly #queue: TcpStateChange[] = [];
  // Callers of next() waiting for a change, in call order (concurrent next() calls are allowed).
  readonly #waiters: { resolve: (r: IteratorResult<TcpStateChange>) => void; reject: (e: unknown) => void }[] = [];
  readonly #feed: ChangeSource;
  #ended = false;
  #failure: unknown;
  #dropped = 0;
  #paused = false;
  readonly #onAbort = () => this.#finish(abortError(this.#settings.signal!));

  constructor(filter?: TcpStatesFilter, options?: WatchStatesOptions) {
    const plan = (filter as unknown) instanceof WatchPlan ? (filter as unknown as WatchPlan) : new WatchPlan(tcpOnly(toQuery(filter)), readSettings(options), true);
    this.#query = plan.query;
    this.#settings = plan.settings;
    const { signal, source, initial, intervalMs } = this.#settings;
    if (signal?.aborted) throw abortError(signal);
    if (process.platform !== 'linux') {
      throw errnoException(osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP, 'watchStates', { reason: `Linux only, not on ${process.platform}` });
    }
    const sink: ChangeSink = {
      push: (change) => this.#push(change),
      fail: (error) => this.#finish(error),
      lost: (count) => void (this.#dropped += count),
    };
    let feed: ChangeSource | undefined;
    if (source !== 'poll') {
      try {
        feed = new TracepointSource(this.#query, sink, { seed: plan.seed, initial });
      } catch (error) {
        if (!(error instanceof TracepointUnavailable)) throw error;
        if (source === 'tracepoint') throw unavailable(error);
        this.fallback = error.message;
      }
    }
    this.#feed = feed ?? new PollSource(this.#query, sink, { intervalMs, initial });
    this.source = this.#feed.name;
    if (this.#paused) this.#feed.pause(); // filled past maxQueued by `initial` already
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => live.forEach((watch) => watch.close()));
    }
  }

  static {
    adoptRows = (watch, rows) => {
      if (!watch.#ended) watch.#feed.adopt(rows);
    };
  }

  /** Changes lost while this watch's reader was behind: the kernel's overwritten events and those past `maxQueued`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Changes waiting for the reader (at most `maxQueued`). */
  get queued(): number {
    return this.#queue.length;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TcpStateChange>> {
    const change = this.#queue.shift();
    if (change !== undefined) {
      if (this.#paused && this.#queue.length <= this.#settings.maxQueued / 2) {
        this.#paused = false;
        this.#feed.resume();
      }
      return Promise.resolve({ value: change, done: false });
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Ends the watch: the tracefs instance is removed, every descriptor closed. */
  return(): Promise<IteratorResult<TcpStateChange>> {
    this.#finish(undefined);
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    this.#finish(undefined);
  }

  /** The watch no longer keeps the process alive (at exit its instance is removed). */
  unref(): this {
    this.#feed.unref();
    return this;
  }

  [Symbol.dispose](): void {
    this.#finish(undefined);
  }

  #finish(failure: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    if (failure !== undefined) this.#queue.length = 0;
    live.delete(this);
    this.#settings.signal?.removeEventListener('abort', this.#onAbort);
    this.#feed.close();
    for (const waiter of this.#waiters.splice(0)) {
      if (failure !== undefined) waiter.reject(failure);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  #push(change: TcpStateChange): void {
    if (this.#ended) return;
    const { row } = change;
    if ((stateBits(change.to) & this.#query.states) === 0 && (change.from === null || (stateBits(change.from) & this.#query.states) === 0)) return;
    if (!matchesAddresses(this.#query, row.localAddress, row.remoteAddress)) return;
    if (this.#query.withProcess) [change.row] = addOwnersSync([row]);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ value: change, done: false });
      return;
    }
    if (this.#queue.length >= this.#settings.maxQueued) {
      // Never more than maxQueued held: the source pauses (the kernel's ring buffer takes
      // what follows, and says what it overwrites); what does not fit is counted.
      this.#dropped++;
      if (!this.#paused) {
        this.#paused = true;
        this.#feed?.pause(); // undefined while a source reports `initial` from its constructor
      }
      return;
    }
    this.#queue.push(change);
  }
}

/**
 * The state changes of the TCP sockets `filter` matches (ports and family; `state` keeps
 * changes from or to those states), as an async iterable that ends with `break`, `return()`,
 * `close()` or `signal`. See StateWatch's `source` for which kernel interface serves it.
 */
export function watchStates(filter?: TcpStatesFilter, options?: WatchStatesOptions): StateWatch {
  return new StateWatch(filter, options);
}
