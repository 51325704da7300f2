// The interface between StateWatch (its queue, its options, its end) and what feeds it:
// the tracepoint (tracepoint.ts) or dumps compared by cookie (poll.ts).
import type { TcpStateChange } from '../change';
import type { TcpStateRow } from '../row';

/** Where a source hands what it sees. Called from the loop, never from inside next(). */
export interface ChangeSink {
  push(change: TcpStateChange): void;
  /** Ends the watch with this error. */
  fail(error: unknown): void;
  /** Changes the kernel dropped before the source could read them. */
  lost(count: number): void;
}

export interface ChangeSource {
  readonly name: 'tracepoint' | 'poll';
  /** The reader is behind: stop reading (the kernel's buffer holds, or counts, what follows). */
  pause(): void;
  resume(): void;
  /** Sockets a caller listed after the source started (waitForState's one look). */
  adopt(rows: readonly TcpStateRow[]): void;
  unref(): void;
  /** Every descriptor, timer and tracefs instance released; no sink call after it. */
  close(): void;
}
