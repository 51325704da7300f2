// The tracepoint source: sock:inet_sock_set_state in a tracefs instance of its own
// (tracefs.ts), read on the loop (native EventReader, no thread-pool thread), every
// transition with the kernel's timestamp. The kernel never reports TIME_WAIT (the connection
// becomes a separate timewait socket: FIN_WAIT_2 -> CLOSE), so a CLOSE after FIN_WAIT_1/2
// or CLOSING is looked up by its 4-tuple and cookie: TIME_WAIT is reported when the kernel
// lists it, and TIME_WAIT -> CLOSED when a later lookup no longer finds it. No dump is
// polled beside it.
import { performance } from 'node:perf_hooks';
import { constants as osConstants } from 'node:os';
import { errnoException } from '../../core/errors';
import { binding, type NativeEventReader } from '../../core/binding';
import type { TcpState } from '../../core/tcp-states';
import { rowTupleKey, tupleKey } from '../change';
import { EVERY_STATE, type StatesQuery } from '../filter';
import { lookupTupleSync, queryRowsSync, readsProc, type Tuple } from '../list';
import type { TcpStateRow } from '../row';
import { openInstance, TracepointUnavailable, type TraceInstance } from '../tracefs';
import { parseTraceLine, type TraceEvent } from '../trace-line';
import type { ChangeSink, ChangeSource } from './source';

// A CLOSE from these may leave a timewait socket (tcp_time_wait).
const TIME_WAIT_FROM = new Set<TcpState>(['FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSING']);
const TIME_WAIT_SWEEP_MS = 250;
const CONNECT_PAIRING_MS = 1000;
const MAX_TRACKED = 200_000;

function lookup(tuple: Tuple, cookie = ''): TcpStateRow | undefined {
  try {
    return lookupTupleSync(tuple, cookie); // /proc where sock_diag is refused
  } catch {
    return undefined; // another namespace's address: no row
  }
}

function tupleOf(row: TcpStateRow): Tuple {
  return { ipv6: row.family === 'ipv6', ...row };
}

export class TracepointSource implements ChangeSource {
  readonly name = 'tracepoint';
  readonly #sink: ChangeSink;
  readonly #instance: TraceInstance;
  readonly #reader: NativeEventReader;
  #rest = '';
  readonly #live = new Map<string, string | null>(); // tuple -> cookie
  // tuple -> the state it entered and the kernel's time of that (null: entry not reported)
  readonly #entered = new Map<string, { state: TcpState; monoNs: bigint | null }>();
  readonly #timeWaits = new Map<string, { row: TcpStateRow; deadline: number }>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #connects: { event: TraceEvent; time: number }[] = [];
  #connectTimer: NodeJS.Timeout | undefined;
  // The kernel's mono timestamps on the epoch's scale (uv_hrtime is CLOCK_MONOTONIC).
  readonly #epochOffsetMs = performance.timeOrigin + performance.now() - Number(process.hrtime.bigint()) / 1e6;
  #unref = false;
  #closed = false;

  /**
   * Throws TracepointUnavailable where this process may not use it. With `seed`, the
   * sockets already there are listed once for their cookies (and, with `initial`, reported
   * `from: null`); without, a wait naming one connection never walks the host's table:
   * cookies come from lookups and from adopt().
   */
  constructor(query: StatesQuery, sink: ChangeSink, { seed, initial }: { seed: boolean; initial: boolean }) {
    this.#sink = sink;
    const instance = openInstance(query);
    let reader: NativeEventReader | undefined;
    try {
      // The reader removes the instance once its pipe is closed, a worker's end included.
      reader = new binding.EventReader('file', instance.pipe, (error, data) => this.#guard(() => this.#onTrace(error, data)), instance.dir);
      reader.start();
      instance.onExitClose(() => reader!.close());
    } catch (error) {
      reader?.close();
      instance.remove();
      const code = (error as { code?: string }).code;
      if (code === 'EACCES' || code === 'EPERM') throw new TracepointUnavailable(`not permitted to read ${instance.pipe} (${code})`, 'EACCES', { cause: error });
      throw error;
    }
    this.#instance = instance;
    this.#reader = reader;
    if (seed || initial) {
      try {
        this.#seed(query, initial);
      } catch (error) {
        this.close();
        throw error;
      }
    }
  }

  pause(): void {
    this.#reader.stop();
  }

  resume(): void {
    this.#reader.start();
  }

  unref(): void {
    this.#reader.unref();
    this.#sweep?.unref();
    this.#unref = true;
  }

  // Pipe first, then the instance (rmdir fails with EBUSY while the pipe is open).
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.close();
    try {
      this.#instance.remove();
    } catch {
      // left for the exit hook, or the next process's stale cleanup
    }
    clearInterval(this.#sweep);
    clearTimeout(this.#connectTimer);
  }

  // Their cookies are kept, and a TIME_WAIT among them is looked up again when its timer is
  // due, since no event marks its end.
  adopt(rows: readonly TcpStateRow[]): void {
    if (this.#closed) return;
    for (const row of rows) {
      this.#live.set(rowTupleKey(row), row.cookie);
      if (row.state === 'TIME_WAIT') this.#trackTimeWait(row);
    }
  }

  #seed(query: StatesQuery, initial: boolean): void {
    const rows = queryRowsSync({ ...query, states: EVERY_STATE, withProcess: false, source: 'auto' });
    this.adopt(rows);
    if (!initial) return;
    const now = Date.now();
    for (const row of rows) this.#sink.push({ time: now, from: null, to: row.state, durationMs: null, cookie: row.cookie, row, via: 'lookup' });
  }

  // A native callback never throws: what fails ends the watch with the error.
  #guard(body: () => void): void {
    try {
      body();
    } catch (error) {
      this.#sink.fail(error);
    }
  }

  #onTrace(error: Error | null, data: Buffer | ArrayBuffer | null): void {
    if (error !== null) return this.#sink.fail(error);
    if (data === null) return this.#sink.fail(errnoException(osConstants.errno.EPIPE, 'read', { reason: 'the tracefs instance went away' }));
    const lines = (this.#rest + (data as Buffer).toString('latin1')).split('\n');
    this.#rest = lines.pop()!;
    for (const line of lines) {
      const parsed = parseTraceLine(line);
      if (parsed === null) continue;
      if ('lost' in parsed) this.#sink.lost(parsed.lost);
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
          this.#sink.push({ time, from: event.from, to: tw.state, durationMs, cookie: tw.cookie, row: tw, via: 'lookup' });
          this.#trackTimeWait(tw);
          return;
        }
      }
      const durationMs = this.#durationOf(key, event, null);
      this.#sink.push({ time, from: event.from, to: 'CLOSED', durationMs, cookie, row: this.#rowOf(event, cookie, undefined), via: 'tracepoint' });
      return;
    }
    const old = this.#timeWaits.get(key);
    if (old !== undefined && event.from !== 'TIME_WAIT') {
      // A new connection on the tuple: the kernel took over (or dropped) the timewait socket.
      this.#timeWaits.delete(key);
      this.#entered.delete(key);
      this.#sink.push({ time, from: old.row.state, to: 'CLOSED', durationMs: null, cookie: old.row.cookie, row: { ...old.row, state: 'CLOSED', timer: null }, via: 'tracepoint' });
    }
    const durationMs = this.#durationOf(key, event, event.to);
    let found: TcpStateRow | undefined;
    // The cookie, where sock_diag gives cookies (/proc has none: no read of it per event).
    if (cookie === null && event.localPort !== 0 && !readsProc()) {
      found = lookup(event);
      cookie = found?.cookie ?? null;
    }
    if (this.#live.size >= MAX_TRACKED) this.#live.delete(this.#live.keys().next().value!);
    this.#live.set(key, cookie);
    this.#sink.push({ time, from: event.from, to: event.to, durationMs, cookie, row: this.#rowOf(event, cookie, found), via: 'tracepoint' });
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
    this.#timeWaits.set(rowTupleKey(row), { row, deadline: performance.now() + (row.timer?.expiresMs ?? 0) });
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(() => this.#guard(() => this.#sweepTimeWaits()), TIME_WAIT_SWEEP_MS);
      if (this.#unref) this.#sweep.unref();
    }
  }

  #sweepTimeWaits(): void {
    const now = performance.now();
    for (const [key, entry] of this.#timeWaits) {
      if (entry.deadline > now) continue;
      const { row } = entry;
      const again = lookup(tupleOf(row), row.cookie ?? '');
      if (again !== undefined && again.cookie === row.cookie && (again.state === 'TIME_WAIT' || again.state === 'FIN_WAIT_2')) {
        entry.deadline = now + Math.max(again.timer?.expiresMs ?? 0, TIME_WAIT_SWEEP_MS);
        continue;
      }
      this.#timeWaits.delete(key);
      this.#entered.delete(key);
      this.#sink.push({ time: Date.now(), from: row.state, to: 'CLOSED', durationMs: null, cookie: row.cookie, row: { ...row, state: 'CLOSED', timer: null }, via: 'lookup' });
    }
    if (this.#timeWaits.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }
}
