// waitForState: resolves as soon as the kernel has a matching socket in the wanted state.
// Where the tracepoint serves (watch.ts), every transition is seen, even one shorter than
// any poll (FIN_WAIT_1 on loopback): the kernel is listed once the tracepoint is armed (a
// state reached before), then only when an event brings a wanted state; at a timeout, that
// listing kept up to date by the events says what the kernel had. Elsewhere the
// kernel is polled (pollKernel): by the exact 4-tuple lookup when the filter names both ends
// (its cost does not grow with the host's table), else by a dump with the filter run in the
// kernel. 'CLOSED' means gone.
import { constants as osConstants } from 'node:os';
import { isIP } from 'node:net';
import { abortError, errnoException, invalidArgValue, type SystemError } from '../core/errors';
import { INT32_MAX, readOptions, validateAbortSignal, validateInteger } from '../core/validate';
import { formatEndpoint } from './address';
import { EVERY_STATE, stateBits, stateMask, tcpOnly, toQuery, type StatesQuery, type TcpStatesFilter } from './filter';
import { addOwners, lookupTupleSync, queryRows } from './list';
import { pollKernel } from './poll';
import type { TcpStateRow, TcpStateRowWithProcess } from './row';
import { rowTupleKey, type TcpStateChange } from './change';
import { adoptRows, watchQuery, type WatchSource } from './watch';
import type { TcpState } from '../core/tcp-states';

export interface WaitForStateOptions {
  /** How long to wait before rejecting with ETIMEDOUT; default 5000. */
  timeoutMs?: number;
  /** Rejects with Node's AbortError when aborted. */
  signal?: AbortSignal;
  /** As watchStates: 'auto' (default), 'tracepoint' or 'poll'. */
  source?: WatchSource;
}

/** The rejection of a wait that timed out: `rows` is what the kernel had for the filter then. */
export interface WaitForStateTimeout extends SystemError {
  rows: TcpStateRow[];
}

const ROWS_SHOWN = 10;
const CLOSED = stateBits('CLOSED');

function where(query: StatesQuery): string {
  const parts: string[] = [];
  if (query.anyPort !== 0) parts.push(`port ${query.anyPort}`);
  if (query.localPort !== 0) parts.push(`local port ${query.localPort}`);
  if (query.remotePort !== 0) parts.push(`remote port ${query.remotePort}`);
  if (query.localAddress !== null) parts.push(`local address ${query.localAddress}`);
  if (query.remoteAddress !== null) parts.push(`remote address ${query.remoteAddress}`);
  if (query.ipv4 !== query.ipv6) parts.push(query.ipv4 ? 'ipv4' : 'ipv6');
  return parts.length === 0 ? 'any socket' : parts.join(', ');
}

function describe(row: TcpStateRow): string {
  return `${row.state} ${formatEndpoint(row.localAddress, row.localPort)} ${formatEndpoint(row.remoteAddress, row.remotePort)}`;
}

function checkWaitOptions(options: unknown) {
  const o = readOptions(options, 'options', ['timeoutMs', 'signal', 'source'], 'an option of waitForState');
  const timeoutMs = o.timeoutMs === undefined ? 5000 : validateInteger(o.timeoutMs, 'options.timeoutMs', 0, INT32_MAX);
  const signal = o.signal === undefined ? undefined : validateAbortSignal(o.signal, 'options.signal');
  const { source } = o;
  if (source !== undefined && source !== 'auto' && source !== 'tracepoint' && source !== 'poll') {
    throw invalidArgValue('options.source', source, "must be 'auto', 'tracepoint' or 'poll'");
  }
  return { timeoutMs, signal, source: (source ?? 'auto') as WatchSource };
}

/**
 * The kernel's rows for the query. A filter naming both ends is one lookup (no NLM_F_DUMP),
 * pinned to the first socket found by its cookie: a different socket on the same 4-tuple
 * later (a reuse, or a server-side tuple answered by its listener) is not the same one.
 */
function lister(query: StatesQuery): () => Promise<TcpStateRow[]> {
  const listing = { ...query, withProcess: false };
  const { localAddress, remoteAddress, localPort, remotePort } = query;
  if (localAddress === null || remoteAddress === null || localPort === 0 || remotePort === 0) {
    return () => queryRows(listing);
  }
  const tuple = { ipv6: isIP(localAddress) === 6, localAddress, localPort, remoteAddress, remotePort };
  // A family the filter excludes can never match: no lookup at all.
  if (!(tuple.ipv6 ? query.ipv6 : query.ipv4)) return async () => [];
  let cookie = '';
  return async () => {
    const row = lookupTupleSync(tuple, cookie, query.source);
    if (row === undefined || (stateBits(row.state) & query.states) === 0) return [];
    cookie = row.cookie ?? '';
    return [row];
  };
}

/**
 * Waits until a socket matching `filter` is in `state` (or in any of several states), and
 * resolves with all those that are ('CLOSED': with [] once none matches). Rejects with
 * ETIMEDOUT after `timeoutMs`, the error saying which sockets (of the filter, in any state)
 * the kernel listed instead, and with AbortError on `signal`.
 */
export async function waitForState(
  filter: TcpStatesFilter & { withProcess: true },
  state: TcpState | readonly TcpState[],
  options?: WaitForStateOptions,
): Promise<TcpStateRowWithProcess[]>;
export async function waitForState(
  filter: TcpStatesFilter | undefined,
  state: TcpState | readonly TcpState[],
  options?: WaitForStateOptions,
): Promise<TcpStateRow[]>;
export async function waitForState(
  filter: TcpStatesFilter | undefined,
  state: TcpState | readonly TcpState[],
  options: WaitForStateOptions = {},
): Promise<TcpStateRow[]> {
  const query = tcpOnly(toQuery(filter));
  // Read once: a caller's array is copied before it is checked.
  const states = typeof state === 'string' ? state : Array.isArray(state) ? Array.from(state as readonly TcpState[]) : state;
  const wanted = stateMask(states, 'state');
  // A filter that excludes every wanted state could only time out: say so at once.
  if ((query.states & wanted) === 0) {
    throw invalidArgValue('state', states, "is excluded by the filter's own state");
  }
  const { timeoutMs, signal, source } = checkWaitOptions(options);
  if (signal?.aborted) throw abortError(signal);

  const list = lister(query);
  const matching = (rows: TcpStateRow[]) => rows.filter((row) => (stateBits(row.state) & wanted) !== 0);
  const done = (rows: TcpStateRow[]) => matching(rows).length > 0 || ((wanted & CLOSED) !== 0 && rows.length === 0);
  const timedOut = (listed: TcpStateRow[]) => {
    const names = (typeof states === 'string' ? [states] : states).join(' or ');
    const more = listed.length > ROWS_SHOWN ? ` and ${listed.length - ROWS_SHOWN} more` : '';
    const saw = listed.length === 0 ? 'no socket' : listed.slice(0, ROWS_SHOWN).map(describe).join(', ') + more;
    const error = errnoException(osConstants.errno.ETIMEDOUT, 'waitForState', {
      reason: `no ${names} within ${timeoutMs} ms for ${where(query)}; the kernel listed ${saw}`,
    }) as WaitForStateTimeout;
    error.rows = listed;
    return error;
  };
  const finish = (rows: TcpStateRow[]) => (query.withProcess ? addOwners(matching(rows)) : matching(rows));

  if (source === 'poll' || process.platform !== 'linux') return finish(await pollKernel(list, done, timeoutMs, timedOut, signal));
  // The watch is armed before the first look, and before this returns (a transition made
  // right after the call is seen), so that nothing falls between the two. It follows every
  // state (leaving a wanted state counts too); owners are added at the end.
  const watch = watchQuery({ ...query, states: EVERY_STATE, withProcess: false }, { source });
  if (watch.source !== 'tracepoint') {
    watch.close();
    return finish(await pollKernel(list, done, timeoutMs, timedOut, signal));
  }
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => watch.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // One look once the tracepoint is armed: a state reached before is found here, and what
    // follows comes from the tracepoint alone (no dump is polled while waiting).
    let rows = await list();
    if (done(rows)) return finish(rows);
    adoptRows(watch, rows);
    // What the kernel has now: the last listing, kept up to date by the tracepoint's changes,
    // for the timeout's message (no dump at the end unless the kernel dropped events).
    const now = new Map(rows.map((row) => [rowTupleKey(row), row]));
    const track = (change: TcpStateChange) => {
      const key = rowTupleKey(change.row);
      if (change.to === 'CLOSED' || (stateBits(change.to) & query.states) === 0) now.delete(key);
      else now.set(key, change.row);
    };
    let expired = false;
    timer = setTimeout(() => ((expired = true), watch.close()), timeoutMs);
    for await (const change of watch) {
      track(change);
      // Left the wanted state since the watch began: it was in it while we waited.
      if (change.from !== null && change.from !== 'CLOSED' && (stateBits(change.from) & wanted) !== 0 && (stateBits(change.to) & wanted) === 0) {
        return finish([{ ...change.row, state: change.from, timer: null }]);
      }
      if ((stateBits(change.to) & wanted) === 0) continue;
      rows = await list();
      if (done(rows)) return finish(rows);
      // Passed already (a state shorter than this look): the tracepoint's row says it was.
      if (change.to !== 'CLOSED') return finish([change.row]);
      now.clear();
      for (const row of rows) now.set(rowTupleKey(row), row);
    }
    if (signal?.aborted) throw abortError(signal);
    if (expired) throw timedOut(watch.dropped === 0 ? [...now.values()] : await list());
    throw errnoException(osConstants.errno.EPIPE, 'waitForState', { reason: 'the watch ended' });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    watch.close();
  }
}
