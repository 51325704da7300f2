// The poll source: sock_diag dumps compared by cookie every `intervalMs`, and at once when
// the destroy multicast group says a matching socket went away. States shorter than one
// poll are not seen; times are those of the dumps.
import { binding, type NativeEventReader } from '../../core/binding';
import { EVERY_STATE, type StatesQuery } from '../filter';
import { queryRows } from '../list';
import { decodeRows } from '../netlink';
import type { TcpStateRow } from '../row';
import { rowTupleKey } from '../change';
import type { ChangeSink, ChangeSource } from './source';

function rowKey(row: TcpStateRow): string {
  return row.cookie ?? rowTupleKey(row);
}

export class PollSource implements ChangeSource {
  readonly name = 'poll';
  readonly #query: StatesQuery;
  readonly #sink: ChangeSink;
  readonly #intervalMs: number;
  readonly #initial: boolean;
  #destroy: NativeEventReader | undefined;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unref = false;
  #closed = false;

  constructor(query: StatesQuery, sink: ChangeSink, { intervalMs, initial }: { intervalMs: number; initial: boolean }) {
    this.#query = query;
    this.#sink = sink;
    this.#intervalMs = intervalMs;
    this.#initial = initial;
    try {
      this.#destroy = new binding.EventReader('destroy', '', (error, data) => {
        try {
          if (error === null && data !== null && this.#destroyMatters(data as ArrayBuffer)) this.#wake?.();
        } catch (failure) {
          sink.fail(failure); // a native callback never throws
        }
      });
      this.#destroy.start();
    } catch {
      this.#destroy = undefined; // no destroy groups here: polls alone
    }
    void this.#loop();
  }

  // The next dump shows the reader's backlog no sooner: nothing to pause.
  pause(): void {}

  resume(): void {}

  // The first dump lists every socket already there.
  adopt(): void {}

  unref(): void {
    this.#destroy?.unref();
    this.#timer?.unref();
    this.#unref = true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#destroy?.close();
    this.#destroy = undefined;
    clearTimeout(this.#timer);
    this.#wake?.();
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

  async #loop(): Promise<void> {
    // Every state, so that a change out of the filter's states is seen too.
    const listing: StatesQuery = { ...this.#query, states: EVERY_STATE, withProcess: false };
    const sink = this.#sink;
    let before: Map<string, TcpStateRow> | undefined;
    try {
      while (!this.#closed) {
        const rows = await queryRows(listing);
        if (this.#closed) break;
        const time = Date.now();
        const now = new Map<string, TcpStateRow>();
        for (const row of rows) now.set(rowKey(row), row);
        for (const [key, row] of now) {
          const was = before?.get(key);
          if (before === undefined) {
            if (this.#initial) sink.push({ time, from: null, to: row.state, durationMs: null, cookie: row.cookie, row, via: 'poll' });
          } else if (was === undefined || was.state !== row.state) {
            sink.push({ time, from: was?.state ?? 'CLOSED', to: row.state, durationMs: null, cookie: row.cookie, row, via: 'poll' });
          }
        }
        for (const [key, row] of before ?? []) {
          if (!now.has(key)) sink.push({ time, from: row.state, to: 'CLOSED', durationMs: null, cookie: row.cookie, row: { ...row, state: 'CLOSED', timer: null }, via: 'poll' });
        }
        before = now;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#timer = setTimeout(resolve, this.#intervalMs);
          if (this.#unref) this.#timer.unref();
        });
        clearTimeout(this.#timer);
        this.#wake = undefined;
      }
    } catch (error) {
      if (!this.#closed) sink.fail(error);
    }
  }
}
