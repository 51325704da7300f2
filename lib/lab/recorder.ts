// A scenario's timeline: every state it claims is confirmed by the kernel (tcpStates /
// waitForState over NETLINK_SOCK_DIAG, or TCP_INFO on a descriptor) before it is recorded.
// Where the tracepoint serves (root), each confirmed state is dated by the kernel's own
// timestamp of the transition (`clock: 'kernel'`); elsewhere by when it was confirmed.
import { performance } from 'node:perf_hooks';
import { getOption } from '../core/options';
import { tcpStates } from '../states/list';
import { pollKernel } from '../states/poll';
import { formatEndpoint } from '../states/address';
import type { TcpStateRow } from '../states/row';
import { waitForState } from '../states/wait';
import { toQuery } from '../states/filter';
import { watchQuery, type StateWatch, type TcpStateChange } from '../states/watch';
import type { Target } from '../core/target';
import type { TcpState } from '../core/tcp-states';

export interface LabEvent {
  /** Milliseconds since the scenario started. */
  t: number;
  /** Which socket: 'client', 'server', 'listener', ... */
  side: string;
  state: TcpState;
  /** What made it happen: a call (connect, close, shutdown) or a segment (rcv FIN / ACK). */
  cause: string;
  /** How the kernel reported it. */
  source: 'sock_diag' | 'TCP_INFO' | 'gone';
  local?: string;
  remote?: string;
  /** The pending timer, e.g. TIME_WAIT's remaining 2MSL. */
  timer?: { kind: string; expiresMs: number };
  /** Whose time `t` is: the kernel's timestamp of the transition, or when it was confirmed. */
  clock?: 'kernel' | 'confirmed';
}

// The transitions the tracepoint saw lately, for dating what a scenario confirms. One watch
// for every recorder, unref'd (it never holds the process) and closed after a quiet spell.
const RECENT = 10_000;
const QUIET_MS = 2000;
const kernelClock = {
  watch: undefined as StateWatch | undefined,
  unavailable: false,
  recent: [] as TcpStateChange[],
  quiet: undefined as NodeJS.Timeout | undefined,
  start(): void {
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.stop(), QUIET_MS).unref();
    if (this.watch !== undefined || this.unavailable) return;
    try {
      const watch = watchQuery(toQuery(undefined), { source: 'tracepoint', maxQueued: RECENT }).unref();
      this.watch = watch;
      void (async () => {
        try {
          for await (const change of watch) {
            this.recent.push(change);
            if (this.recent.length > RECENT) this.recent.splice(0, this.recent.length - RECENT);
          }
        } catch {
          // the watch failed: dates fall back to confirmation times
        }
        if (this.watch === watch) this.watch = undefined;
      })();
    } catch {
      this.unavailable = true; // not root, or no tracefs: confirmation times, as before
    }
  },
  stop(): void {
    this.watch?.close();
    this.watch = undefined;
    this.recent.length = 0;
  },
  /** The latest transition into `state` of the socket at `at`, once the watch has read it. */
  async find(at: Endpoint, state: TcpState): Promise<number | undefined> {
    if (this.watch === undefined) return undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      for (let i = this.recent.length - 1; i >= 0; i--) {
        const { row, to, time } = this.recent[i]!;
        if (to === state && row.localPort === at.localPort && (at.remotePort === undefined || row.remotePort === at.remotePort)) return time;
      }
      await new Promise((resolve) => setTimeout(resolve, 5)); // the event may still be in the pipe
    }
    return undefined;
  },
};

/** One socket of a connection, as the kernel's table names it. */
export interface Endpoint {
  localPort: number;
  remotePort?: number;
}

const TIMEOUT_MS = 5000;

export class Recorder {
  readonly events: LabEvent[] = [];
  /** Observed transitions as 'FROM>TO', per side in the order seen. */
  readonly transitions = new Set<string>();
  readonly #last = new Map<string, TcpState>();
  readonly #start = performance.now();

  constructor(private readonly onEvent?: (event: LabEvent) => void) {
    kernelClock.start();
  }

  #record(event: Omit<LabEvent, 't'>, kernelTime?: number): LabEvent {
    // A kernel time is on the epoch's scale; the scenario's zero is #start on performance's.
    const ms = kernelTime === undefined ? performance.now() - this.#start : kernelTime - performance.timeOrigin - this.#start;
    const full: LabEvent = { t: Math.round(ms * 10) / 10, ...event, ...(kernelTime === undefined ? {} : { clock: 'kernel' as const }) };
    const previous = this.#last.get(event.side);
    if (previous !== undefined && previous !== event.state) this.transitions.add(`${previous}>${event.state}`);
    this.#last.set(event.side, event.state);
    this.events.push(full);
    this.onEvent?.(full);
    return full;
  }

  /** Waits until the kernel lists the socket in `state`, then records it. */
  async observe(side: string, at: Endpoint, state: TcpState, cause: string): Promise<TcpStateRow> {
    const filter = at.remotePort === undefined ? { localPort: at.localPort } : { localPort: at.localPort, remotePort: at.remotePort };
    kernelClock.start();
    const [row] = await waitForState(filter, state, { timeoutMs: TIMEOUT_MS });
    const kernelTime = await kernelClock.find(at, state);
    this.#record({
      side,
      state,
      cause,
      source: 'sock_diag',
      local: formatEndpoint(row!.localAddress, row!.localPort),
      remote: formatEndpoint(row!.remoteAddress, row!.remotePort),
      ...(row!.timer ? { timer: { kind: row!.timer.kind, expiresMs: row!.timer.expiresMs } } : {}),
    }, kernelTime);
    return row!;
  }

  /** The state the kernel gives for a descriptor (TCP_INFO), e.g. CLOSED for a fresh or reset socket. */
  fromDescriptor(side: string, target: Target, cause: string): TcpState {
    const { state } = getOption(target, 'TCP_INFO');
    if (state === 'UNKNOWN') throw new Error(`TCP_INFO gave an unknown state for ${side}`);
    this.#record({ side, state, cause, source: 'TCP_INFO' });
    return state;
  }

  /** Waits until the kernel lists nothing for the connection (no TIME_WAIT either): CLOSED. */
  async gone(side: string, at: Endpoint, cause: string, timeoutMs = TIMEOUT_MS): Promise<void> {
    // A listener (no remote port) too: its LISTEN -> CLOSED is seen only as its absence.
    const filter = at.remotePort === undefined ? { localPort: at.localPort } : { localPort: at.localPort, remotePort: at.remotePort };
    await pollKernel(
      () => tcpStates(filter),
      (rows) => rows.length === 0,
      timeoutMs,
      (rows) => new Error(`${side}: the kernel still lists ${rows.map((r) => r.state).join(', ')} for port ${at.localPort}`),
    );
    this.#record({ side, state: 'CLOSED', cause, source: 'gone' });
  }
}
