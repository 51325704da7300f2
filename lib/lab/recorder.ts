// A scenario's timeline: every state it claims is confirmed by the kernel (tcpStates /
// waitForState over NETLINK_SOCK_DIAG, or TCP_INFO on a descriptor) before it is recorded.
import { performance } from 'node:perf_hooks';
import { getOption } from '../core/options';
import { tcpStates } from '../states/list';
import { pollKernel } from '../states/poll';
import { formatEndpoint } from '../states/address';
import type { TcpStateRow } from '../states/row';
import { waitForState } from '../states/wait';
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
}

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

  constructor(private readonly onEvent?: (event: LabEvent) => void) {}

  #record(event: Omit<LabEvent, 't'>): LabEvent {
    const full: LabEvent = { t: Math.round((performance.now() - this.#start) * 10) / 10, ...event };
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
    const [row] = await waitForState(filter, state, { timeoutMs: TIMEOUT_MS });
    this.#record({
      side,
      state,
      cause,
      source: 'sock_diag',
      local: formatEndpoint(row!.localAddress, row!.localPort),
      remote: formatEndpoint(row!.remoteAddress, row!.remotePort),
      ...(row!.timer ? { timer: { kind: row!.timer.kind, expiresMs: row!.timer.expiresMs } } : {}),
    });
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
