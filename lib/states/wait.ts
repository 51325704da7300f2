// waitForState: resolves as soon as the kernel lists a matching socket in the wanted state,
// polling the netlink dump (well under a millisecond for one port) through pollKernel.
import { constants as osConstants } from 'node:os';
import { errnoException, invalidArgValue, type SystemError } from '../core/errors';
import { INT32_MAX, readOptions, validateAbortSignal, validateInteger } from '../core/validate';
import { formatEndpoint } from './address';
import { stateBits, stateMask, toQuery, type StatesQuery, type TcpStatesFilter } from './filter';
import { addOwners, queryRows } from './list';
import { pollKernel } from './poll';
import type { TcpStateRow, TcpStateRowWithProcess } from './row';
import type { TcpState } from '../core/tcp-states';

export interface WaitForStateOptions {
  /** How long to wait before rejecting with ETIMEDOUT; default 5000. */
  timeoutMs?: number;
  /** Aborting it rejects the wait with Node's AbortError. */
  signal?: AbortSignal;
}

/** The rejection of a wait that timed out: `rows` is what the kernel listed last. */
export interface WaitForStateTimeout extends SystemError {
  rows: TcpStateRow[];
}

const ROWS_SHOWN = 10;

/** The filter as checked (the caller's object is not read again). */
function where(query: StatesQuery): string {
  const parts: string[] = [];
  if (query.anyPort !== 0) parts.push(`port ${query.anyPort}`);
  if (query.localPort !== 0) parts.push(`local port ${query.localPort}`);
  if (query.remotePort !== 0) parts.push(`remote port ${query.remotePort}`);
  if (query.ipv4 !== query.ipv6) parts.push(query.ipv4 ? 'ipv4' : 'ipv6');
  return parts.length === 0 ? 'any socket' : parts.join(', ');
}

function describe(row: TcpStateRow): string {
  return `${row.state} ${formatEndpoint(row.localAddress, row.localPort)} ${formatEndpoint(row.remoteAddress, row.remotePort)}`;
}

/**
 * Waits until a socket matching `filter` is in `state` (or in any of several states), and
 * resolves with all those that are. Rejects with ETIMEDOUT after `timeoutMs`, the error
 * saying which sockets (of the filter, in any state) the kernel listed instead.
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
  options?: WaitForStateOptions,
): Promise<TcpStateRow[]> {
  const query = toQuery(filter);
  const states = typeof state === 'string' ? state : Array.isArray(state) ? Array.from(state as readonly TcpState[]) : state;
  const wanted = stateMask(states, 'state');
  // A filter that excludes every wanted state could only time out: say so at once.
  if ((query.states & wanted) === 0) {
    throw invalidArgValue('state', states, "is excluded by the filter's own state");
  }
  const o = readOptions(options, 'options', ['timeoutMs', 'signal'], 'an option of waitForState');
  const timeoutMs = o.timeoutMs === undefined ? 5000 : validateInteger(o.timeoutMs, 'options.timeoutMs', 0, INT32_MAX);
  const signal = o.signal === undefined ? undefined : validateAbortSignal(o.signal, 'options.signal');

  // Ask for every state the filter allows, to say what was there instead on timeout.
  const listing = { ...query, withProcess: false };
  const matching = (rows: TcpStateRow[]) => rows.filter((row) => (stateBits(row.state) & wanted) !== 0);
  const rows = await pollKernel(
    () => queryRows(listing),
    (listed) => matching(listed).length > 0,
    timeoutMs,
    (listed) => {
      const names = (typeof states === 'string' ? [states] : states).join(' or ');
      const more = listed.length > ROWS_SHOWN ? ` and ${listed.length - ROWS_SHOWN} more` : '';
      const saw = listed.length === 0 ? 'no socket' : listed.slice(0, ROWS_SHOWN).map(describe).join(', ') + more;
      const error = errnoException(osConstants.errno.ETIMEDOUT, 'waitForState', {
        reason: `no ${names} within ${timeoutMs} ms for ${where(query)}; the kernel listed ${saw}`,
      }) as WaitForStateTimeout;
      error.rows = listed;
      return error;
    },
    signal,
  );
  return query.withProcess ? addOwners(matching(rows)) : matching(rows);
}
