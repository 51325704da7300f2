// watchStates: the state changes of the sockets a filter matches, as an async iterable.
// Two sources:
// - 'tracepoint': sock:inet_sock_set_state in a tracefs instance of its own (tracefs.ts),
//   read on the loop (native EventReader, no thread-pool thread), every transition with
//   the kernel's timestamp. The kernel never reports TIME_WAIT (the connection becomes a
//   separate timewait socket: FIN_WAIT_2 -> CLOSE), so a CLOSE after FIN_WAIT_1/2 or CLOSING
//   is looked up by its 4-tuple and cookie: TIME_WAIT is reported when the kernel lists it,
//   and TIME_WAIT -> CLOSED when a later lookup no longer finds it.
// - 'poll': sock_diag dumps compared by cookie every `intervalMs`, and at once when the
//   destroy multicast group says a socket went away. States shorter than one poll are not
//   seen.
// 'auto' takes the tracepoint where this process may use it, else polls; `source` and
// `fallback` say which and why.
import { performance } from 'node:perf_hooks';
import { constants as osConstants } from 'node:os';
import { abortError, errnoException, invalidArgValue } from '../core/errors';
import { binding, type NativeEventReader } from '../core/binding';
import type { TcpState } from '../core/tcp-states';
import { readOptions, validateAbortSignal, validateBoolean, validateInteger } from '../core/validate';
import { matchesAddresses, stateBits, tcpOnly, toQuery, type StatesQuery, type TcpStatesFilter } from './filter';
import { addOwnersSync, queryRows, queryRowsSync } from './list';
import { decodeRows, lookupRowSync } from './netlink';
import type { TcpStateRow } from './row';
import { openInstance, TracepointUnavailable, type TraceInstance } from './tracefs';
import { parseTraceLine, type TraceEvent } from './trace-line';

export type WatchSource = 'auto' | 'tracepoint' | 'poll';

/** One state change of one socket. */
export interface TcpStateChange {
  /** When, in milliseconds since the epoch: the kernel's own timestamp from the tracepoint. */
  time: number;
  /** 'CLOSED' for a new socket; null for one already in `to` when the watch began (`initial`). */
  from: TcpState | null;
  /** 'CLOSED' once the kernel no longer has the socket (TIME_WAIT over included). */
  to: TcpState;
  /**
   * How long the socket spent in `from`, in milliseconds (what bcc's tcpstates prints), from
   * the kernel's timestamps of the tracepoint events that entered and left it. null where
   * unknown, never 0 for it: the watch did not see the socket enter `from` (`from` null or
   * 'CLOSED', or a socket older than the watch), the kernel does not report entering it
   * (TIME_WAIT; a server's SYN_RECV, logged only at the handshake's final ACK), or the
   * watch polls (its times are those of its dumps, not the kernel's).
   */
  durationMs: number | null;
  /** The socket's cookie (sock_diag's idiag_cookie, as `ss -e` prints `sk:`); null where unknown. */
  cookie: string | null;
  /**
   * The socket in `to`. From the tracepoint: state, addresses, ports and cookie; queues,
   * timer, uid and inode are the kernel's only when a lookup found the socket in `to`.
   */
  row: TcpStateRow;
  /** Who saw it: the tracepoint, a 4-tuple lookup (TIME_WAIT and its end), or a dump. */
  via: 'tracepoint' | 'lookup' | 'poll';
}

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

/** A change as `sockctl states --watch --json` prints it, one a line. */
export interface TcpStateChangeJson {
  /** ISO 8601, to the millisecond. */
  time: string;
  from: TcpState | null;
  to: TcpState;
  /** As TcpStateChange: milliseconds in `from`, null where unknown. */
  durationMs: number | null;
  cookie: string | null;
  via: TcpStateChange['via'];
  row: TcpStateRow;
}

export function changeToJson(change: TcpStateChange): TcpStateChangeJson {
  return { time: new Date(change.time).toISOString(), from: change.from, to: change.to, durationMs: change.durationMs, cookie: change.cookie, via: change.via, row: change.row };
}

const OPTION_KEYS = ['signal', 'source', 'intervalMs', 'initial', 'maxQueued'] as const;
const SOURCES: readonly WatchSource[] = ['auto', 'tracepoint', 'poll'];
// A CLOSE from these may leave a timewait socket (tcp_time_wait).
const TIME_WAIT_FROM = new Set<TcpState>(['FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSING']);
const TIME_WAIT_SWEEP_MS = 250;
const CONNECT_PAIRING_MS = 1000;
const MAX_TRACKED = 200_000;

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

function tupleKey(ipv6: boolean, localAddress: string, localPort: number, remoteAddress: string, remotePort: number): string {
  return `${ipv6 ? 6 : 4} ${localAddress} ${localPort} ${remoteAddress} ${remotePort}`;
}

function rowKey(row: TcpStateRow): string {
  return row.cookie ?? tupleKey(row.family === 'ipv6', row.localAddress, row.localPort, row.remoteAddress, row.remotePort);
}

function lookup(e: Pick<TraceEvent, 'ipv6' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort'>, cookie = ''): TcpStateRow | undefined {
  try {
    return lookupRowSync(e.ipv6, e.localAddress, e.localPort, e.remoteAddress, e.remotePort, cookie);
  } catch {
    return undefined; // another namespace's address, or sock_diag refused: no row
  }
}

/** The error for a tracepoint asked for by name that cannot serve. */
function unavailable(error: TracepointUnavailable): Error {
  const errno = error.code === 'EACCES' ? osConstants.errno.EACCES : error.code === 'ENOTSUP' ? (osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP) : osConstants.errno.ENOENT;
  const e = errnoException(errno, 'tracefs', { reason: error.message });
  e.cause = error.cause;
  return e;
}

/**
 * For waitForState (not exported from the package): hands an unseeded tracepoint watch the
 * rows its caller listed once the watch was armed, so that a TIME_WAIT among them still
 * reports its end (TIME_WAIT -> CLOSED) without any dump being polled.
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
  #ended = false;
  #failure: unknown;
  #dropped = 0;
  #paused = false;
  // tracepoint
  #instance: TraceInstance | undefined;
  #reader: NativeEventReader | undefined;
  #rest = '';
  readonly #live = new Map<string, string | null>(); // tuple -> cookie
  // tuple -> the state it entered and the kernel's time of that (null: entry not reported)
  readonly #entered = new Map<string, { state: TcpState; monoNs: bigint | null }>();
  readonly #timeWaits = new Map<string, { row: TcpStateRow; deadline: number }>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #connects: { event: TraceEvent; time: number }[] = [];
  #connectTimer: NodeJS.Timeout | undefined;
  readonly #epochOffsetMs: number;
  // poll
  #destroy: NativeEventReader | undefined;
  #wake: (() => void) | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #unref = false;
  readonly #onAbort = () => this.#finish(abortError(this.#settings.signal!));

  /**
   * `internal.seed: false` (waitForState, the lab) skips the first dump that gives the
   * sockets already there their cookies: a wait naming one connection must not walk the
   * host's table; cookies then come from lookups (and from adoptRows). A tracepoint watch
   * never polls dumps, seeded or not.
   */
  constructor(filter: TcpStatesFilter | undefined, options: WatchStatesOptions | undefined, internal: { seed: boolean } = { seed: true }) {
    this.#query = tcpOnly(toQuery(filter));
    this.#settings = readSettings(options);
    const { signal, source } = this.#settings;
    if (signal?.aborted) throw abortError(signal);
    if (process.platform !== 'linux') {
      throw errnoException(osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP, 'watchStates', { reason: `Linux only, not on ${process.platform}` });
    }
    // The kernel's mono timestamps on the epoch's scale (uv_hrtime is CLOCK_MONOTONIC).
    this.#epochOffsetMs = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint()) / 1e6;
    let chosen: 'tracepoint' | 'poll' = 'poll';
    if (source !== 'poll') {
      try {
        this.#openTracepoint();
        chosen = 'tracepoint';
      } catch (error) {
        if (!(error instanceof TracepointUnavailable)) throw error;
        if (source === 'tracepoint') throw unavailable(error);
        this.fallback = error.message;
      }
    }
    this.source = chosen;
    try {
      // The tracepoint alone serves a tracepoint watch: no dump is polled beside it.
      if (chosen === 'poll') this.#startPolling();
      else if (internal.seed || this.#settings.initial) this.#seed();
    } catch (error) {
      this.#close();
      throw error;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => live.forEach((watch) => watch.close()));
    }
  }

  /** Changes lost while this watch's reader was behind: the kernel's overwritten events and those past `maxQueued`. */
  get dropped(): number {
    return this.#dropped;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<TcpStateChange>> {
    const change = this.#queue.shift();
    if (change !== undefined) {
      if (this.#paused && this.#queue.length <= this.#settings.maxQueued / 2) {
        this.#paused = false;
        this.#reader?.start();
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
    this.#reader?.unref();
    this.#destroy?.unref();
    if (this.#sweep !== undefined) this.#sweep.unref();
    this.#pollTimer?.unref();
    this.#unref = true;
    return this;
  }

  [Symbol.dispose](): void {
    this.#finish(undefined);
  }

  #finish(failure: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    this.#queue.length = failure === undefined ? this.#queue.length : 0;
    this.#close();
    for (const waiter of this.#waiters.splice(0)) {
      if (failure !== undefined) waiter.reject(failure);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  // Pipe first, then the instance (rmdir fails with EBUSY while the pipe is open).
  #close(): void {
    live.delete(this);
    this.#settings.signal?.removeEventListener('abort', this.#onAbort);
    this.#reader?.close();
    this.#reader = undefined;
    try {
      this.#instance?.remove();
    } catch {
      // left for the exit hook, or the next process's stale cleanup
    }
    this.#instance = undefined;
    this.#destroy?.close();
    this.#destroy = undefined;
    clearInterval(this.#sweep);
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#pollTimer);
    this.#wake?.();
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
      // Never more than maxQueued held: the tracepoint pauses (the kernel's ring buffer takes
      // what follows, and says what it overwrites); what does not fit is counted.
      this.#dropped++;
      if (this.#reader !== undefined && !this.#paused) {
        this.#paused = true;
        this.#reader.stop();
      }
      return;
    }
    this.#queue.push(change);
  }

  /** Changes waiting for the reader (at most `maxQueued`). */
  get queued(): number {
    return this.#queue.length;
  }

  // A native callback never throws: what fails ends this watch with the error.
  #guard(body: () => void): void {
    try {
      body();
    } catch (error) {
      this.#finish(error);
    }
  }

  // --- tracepoint ---

  #openTracepoint(): void {
    const instance = openInstance(this.#query);
    try {
      // The reader removes the instance once its pipe is closed, a worker's end included.
      const reader = new binding.EventReader('file', instance.pipe, (error, data) => this.#guard(() => this.#onTrace(error, data)), instance.dir);
      this.#reader = reader;
      reader.start();
      instance.onExitClose(() => reader.close());
    } catch (error) {
      this.#reader?.close();
      this.#reader = undefined;
      instance.remove();
      const code = (error as { code?: string }).code;
      if (code === 'EACCES' || code === 'EPERM') throw new TracepointUnavailable(`not permitted to read ${instance.pipe} (${code})`, 'EACCES', { cause: error });
      throw error;
    }
    this.#instance = instance;
  }

  static {
    adoptRows = (watch, rows) => watch.#adopt(rows);
  }

  // Rows a caller listed after this watch began (waitForState's one look): their cookies are
  // kept, and a TIME_WAIT among them is looked up again when its timer is due, since no event
  // marks its end. An unseeded watch learns of the sockets already there this way.
  #adopt(rows: readonly TcpStateRow[]): void {
    if (this.source !== 'tracepoint' || this.#ended) return;
    for (const row of rows) {
      this.#live.set(tupleKey(row.family === 'ipv6', row.localAddress, row.localPort, row.remoteAddress, row.remotePort), row.cookie);
      if (row.state === 'TIME_WAIT') this.#trackTimeWait(row);
    }
  }

  // The sockets already there: their cookies, and (initial) a first change each.
  #seed(): void {
    const rows = queryRowsSync({ ...this.#query, states: toQuery(undefined).states, withProcess: false, source: 'auto' });
    const now = Date.now();
    for (const row of rows) {
      this.#live.set(tupleKey(row.family === 'ipv6', row.localAddress, row.localPort, row.remoteAddress, row.remotePort), row.cookie);
      if (row.state === 'TIME_WAIT') this.#trackTimeWait(row);
      if (this.#settings.initial) this.#push({ time: now, from: null, to: row.state, durationMs: null, cookie: row.cookie, row, via: 'lookup' });
    }
  }

  #onTrace(error: Error | null, data: Buffer | ArrayBuffer | null): void {
    if (error !== null) return this.#finish(error);
    if (data === null) return this.#finish(errnoException(osConstants.errno.EPIPE, 'read', { reason: 'the tracefs instance went away' }));
    const lines = (this.#rest + (data as Buffer).toString('latin1')).split('\n');
    this.#rest = lines.pop()!;
    for (const line of lines) {
      const parsed = parseTraceLine(line);
      if (parsed === null) continue;
      if ('lost' in parsed) this.#dropped += parsed.lost;
      else this.#onEvent(parsed);
    }
  }

  #epoch(monoNs: bigint): number {
    return Number(monoNs) / 1e6 + this.#epochOffsetMs;
  }

  #onEvent(event: TraceEvent): void {
    const time = this.#epoch(event.monoNs);
    // connect(2): CLOSE -> SYN_SENT comes before a local port is chosen (sport 0); it is
    // held until the socket's next event names the port.
    if (event.to === 'SYN_SENT' && event.localPort === 0) {
      this.#connects.push({ event, time });
      this.#connectTimer ??= setTimeout(() => this.#flushConnects(), CONNECT_PAIRING_MS);
      return;
    }
    if (event.from === 'SYN_SENT') {
      const i = this.#connects.findIndex(
        ({ event: c }) => c.ipv6 === event.ipv6 && c.remoteAddress === event.remoteAddress && c.remotePort === event.remotePort && c.localAddress === event.localAddress,
      );
      if (i >= 0) {
        const [held] = this.#connects.splice(i, 1);
        this.#onChange({ ...held!.event, localPort: event.localPort }, held!.time);
      }
    }
    this.#onChange(event, time);
  }

  #flushConnects(): void {
    this.#connectTimer = undefined;
    for (const { event, time } of this.#connects.splice(0)) this.#onChange(event, time);
  }

  // Time in event.from, from the kernel's timestamps of entering and leaving it; then what
  // entering event.to is known as. A server's child socket is logged LISTEN -> SYN_RECV only
  // at the final ACK, and a timewait socket's entry is not logged (see TcpStateChange).
  #durationOf(key: string, event: TraceEvent, enteredTo: TcpState | null): number | null {
    const entered = this.#entered.get(key);
    const durationMs = entered !== undefined && entered.state === event.from && entered.monoNs !== null && event.monoNs >= entered.monoNs ? Number(event.monoNs - entered.monoNs) / 1e6 : null;
    if (enteredTo === null) this.#entered.delete(key);
    else {
      const known = !(enteredTo === 'SYN_RECV' && event.from === 'LISTEN') && enteredTo !== 'TIME_WAIT' && !(enteredTo === 'FIN_WAIT_2' && event.to === 'CLOSED');
      if (this.#entered.size >= MAX_TRACKED && !this.#entered.has(key)) this.#entered.delete(this.#entered.keys().next().value!);
      this.#entered.set(key, { state: enteredTo, monoNs: known ? event.monoNs : null });
    }
    return durationMs;
  }

  #onChange(event: TraceEvent, time: number): void {
    const key = tupleKey(event.ipv6, event.localAddress, event.localPort, event.remoteAddress, event.remotePort);
    let cookie = this.#live.get(key) ?? null;
    if (event.to === 'CLOSED') {
      this.#live.delete(key);
      if (TIME_WAIT_FROM.has(event.from)) {
        const tw = lookup(event, cookie ?? '');
        if (tw !== undefined && (tw.state === 'TIME_WAIT' || tw.state === 'FIN_WAIT_2') && (cookie === null || tw.cookie === cookie)) {
          const durationMs = this.#durationOf(key, event, tw.state);
          this.#push({ time, from: event.from, to: tw.state, durationMs, cookie: tw.cookie, row: tw, via: 'lookup' });
          this.#trackTimeWait(tw);
          return;
        }
      }
      const durationMs = this.#durationOf(key, event, null);
      this.#push({ time, from: event.from, to: 'CLOSED', durationMs, cookie, row: this.#rowOf(event, cookie, undefined), via: 'tracepoint' });
      return;
    }
    const old = this.#timeWaits.get(key);
    if (old !== undefined && event.from !== 'TIME_WAIT') {
      // A new connection on the tuple: the kernel took over (or dropped) the timewait socket.
      this.#timeWaits.delete(key);
      this.#entered.delete(key);
      this.#push({ time, from: old.row.state, to: 'CLOSED', durationMs: null, cookie: old.row.cookie, row: { ...old.row, state: 'CLOSED', timer: null }, via: 'tracepoint' });
    }
    const durationMs = this.#durationOf(key, event, event.to);
    let found: TcpStateRow | undefined;
    if (cookie === null && event.localPort !== 0) {
      found = lookup(event);
      cookie = found?.cookie ?? null;
    }
    if (this.#live.size >= MAX_TRACKED) this.#live.delete(this.#live.keys().next().value!);
    this.#live.set(key, cookie);
    this.#push({ time, from: event.from, to: event.to, durationMs, cookie, row: this.#rowOf(event, cookie, found), via: 'tracepoint' });
  }

  #rowOf(event: TraceEvent, cookie: string | null, found: TcpStateRow | undefined): TcpStateRow {
    if (found !== undefined && found.state === event.to) return found;
    return {
      state: event.to,
      family: event.ipv6 ? 'ipv6' : 'ipv4',
      localAddress: event.localAddress,
      localPort: event.localPort,
      remoteAddress: event.remoteAddress,
      remotePort: event.remotePort,
      recvQ: 0,
      sendQ: 0,
      timer: null,
      retransmits: 0,
      uid: 0,
      inode: 0,
      cookie,
    };
  }

  // No event marks a timewait socket's end: it is looked up again once its timer is due.
  #trackTimeWait(row: TcpStateRow): void {
    if (this.#timeWaits.size >= MAX_TRACKED) return;
    const key = tupleKey(row.family === 'ipv6', row.localAddress, row.localPort, row.remoteAddress, row.remotePort);
    this.#timeWaits.set(key, { row, deadline: performance.now() + (row.timer?.expiresMs ?? 0) });
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(() => this.#sweepTimeWaits(), TIME_WAIT_SWEEP_MS);
      if (this.#unref) this.#sweep.unref();
    }
  }

  #sweepTimeWaits(): void {
    const now = performance.now();
    for (const [key, entry] of this.#timeWaits) {
      if (entry.deadline > now) continue;
      const { row } = entry;
      const again = lookup({ ipv6: row.family === 'ipv6', ...row }, row.cookie ?? '');
      if (again !== undefined && again.cookie === row.cookie && (again.state === 'TIME_WAIT' || again.state === 'FIN_WAIT_2')) {
        entry.deadline = now + Math.max(again.timer?.expiresMs ?? 0, TIME_WAIT_SWEEP_MS);
        continue;
      }
      this.#timeWaits.delete(key);
      this.#entered.delete(key);
      this.#push({ time: Date.now(), from: row.state, to: 'CLOSED', durationMs: null, cookie: row.cookie, row: { ...row, state: 'CLOSED', timer: null }, via: 'lookup' });
    }
    if (this.#timeWaits.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  // --- poll ---

  #startPolling(): void {
    try {
      this.#destroy = new binding.EventReader('destroy', '', (error, data) =>
        this.#guard(() => {
          if (error === null && data !== null && this.#destroyMatters(data as ArrayBuffer)) this.#wake?.();
        }),
      );
      this.#destroy.start();
    } catch {
      this.#destroy = undefined; // no destroy groups here: polls alone
    }
    void this.#pollLoop();
  }

  #destroyMatters(data: ArrayBuffer): boolean {
    const q = this.#query;
    return decodeRows(data).some(
      (row) =>
        (q.localPort === 0 || row.localPort === q.localPort) &&
        (q.remotePort === 0 || row.remotePort === q.remotePort || row.remotePort === 0) &&
        (q.anyPort === 0 || row.localPort === q.anyPort || row.remotePort === q.anyPort || row.remotePort === 0),
    );
  }

  async #pollLoop(): Promise<void> {
    // Every state, so that a change out of the filter's states is seen too.
    const listing: StatesQuery = { ...this.#query, states: toQuery(undefined).states, withProcess: false };
    let before: Map<string, TcpStateRow> | undefined;
    try {
      while (!this.#ended) {
        const rows = await queryRows(listing);
        if (this.#ended) break;
        const time = Date.now();
        const now = new Map<string, TcpStateRow>();
        for (const row of rows) now.set(rowKey(row), row);
        for (const [key, row] of now) {
          const was = before?.get(key);
          if (before === undefined) {
            if (this.#settings.initial) this.#push({ time, from: null, to: row.state, durationMs: null, cookie: row.cookie, row, via: 'poll' });
          } else if (was === undefined || was.state !== row.state) {
            this.#push({ time, from: was?.state ?? 'CLOSED', to: row.state, durationMs: null, cookie: row.cookie, row, via: 'poll' });
          }
        }
        for (const [key, row] of before ?? []) {
          if (!now.has(key)) this.#push({ time, from: row.state, to: 'CLOSED', durationMs: null, cookie: row.cookie, row: { ...row, state: 'CLOSED', timer: null }, via: 'poll' });
        }
        before = now;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#pollTimer = setTimeout(resolve, this.#settings.intervalMs);
          if (this.#unref) this.#pollTimer.unref();
        });
        clearTimeout(this.#pollTimer);
        this.#wake = undefined;
      }
    } catch (error) {
      this.#finish(error);
    }
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
