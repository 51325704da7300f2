// waitForState: resolves as soon as the kernel lists a matching socket in the wanted state,
// polling the netlink dump (well under a millisecond for one port) through pollKernel.
import { constants as osConstants } from 'node:os';
import { errnoException, invalidArgValue, type SystemError } from '../core/errors';
import { INT32_MAX, validateInteger, validateObject } from '../core/validate';
import { formatEndpoint } from './address';
import { stateBits, stateMask, toQuery, type TcpStatesFilter } from './filter';
import { addOwners, queryRows } from './list';
import { pollKernel } from './poll';
import type { TcpStateRow, TcpStateRowWithProcess } from './row';
import type { TcpState } from '../core/tcp-states';

export interface WaitForStateOptions {
  /** How long to wait before rejecting with ETIMEDOUT; default 5000. */
  timeoutMs?: number;
}

/** The rejection of a wait that timed out: `rows` is what the kernel listed last. */
export interface WaitForStateTimeout extends SystemError {
  rows: TcpStateRow[];
}

const ROWS_SHOWN = 10;

function where(filter: TcpStatesFilter | undefined): string {
  const parts: string[] = [];
  if (filter?.port !== undefined) parts.push(`port ${filter.port}`);
  if (filter?.localPort !== undefined) parts.push(`local port ${filter.localPort}`);
  if (filter?.remotePort !== undefined) parts.push(`remote port ${filter.remotePort}`);
  if (filter?.family !== undefined) parts.push(filter.family);
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
  options: WaitForStateOptions = {},
): Promise<TcpStateRow[]> {
  const query = toQuery(filter);
  const wanted = stateMask(state, 'state');
  // A filter that excludes every wanted state could only time out: say so at once.
  if ((query.states & wanted) === 0) {
    throw invalidArgValue('state', state, "is excluded by the filter's own state");
  }
  const { timeoutMs = 5000 } = validateObject(options, 'options') as WaitForStateOptions;
  validateInteger(timeoutMs, 'options.timeoutMs', 0, INT32_MAX);

  // Ask for every state the filter allows, to say what was there instead on timeout.
  const listing = { ...query, withProcess: false };
  const matching = (rows: TcpStateRow[]) => rows.filter((row) => (stateBits(row.state) & wanted) !== 0);
  const rows = await pollKernel(
    () => queryRows(listing),
    (listed) => matching(listed).length > 0,
    timeoutMs,
    (listed) => {
      const names = (typeof state === 'string' ? [state] : state).join(' or ');
      const more = listed.length > ROWS_SHOWN ? ` and ${listed.length - ROWS_SHOWN} more` : '';
      const saw = listed.length === 0 ? 'no socket' : listed.slice(0, ROWS_SHOWN).map(describe).join(', ') + more;
      const error = errnoException(osConstants.errno.ETIMEDOUT, 'waitForState', {
        reason: `no ${names} within ${timeoutMs} ms for ${where(filter)}; the kernel listed ${saw}`,
      }) as WaitForStateTimeout;
      error.rows = listed;
      return error;
    },
  );
  return query.withProcess ? addOwners(matching(rows)) : matching(rows);
}
