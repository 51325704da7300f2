// Rows from /proc/net/tcp and /proc/net/tcp6 (proc(5)), for when NETLINK_SOCK_DIAG is
// refused: the kernel prints every socket (net/ipv4/tcp_ipv4.c get_tcp4_sock,
// get_timewait4_sock, get_openreq4) and the filter runs here, ports and state first so
// that lines which do not match cost little.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { formatIPv4, formatIPv6 } from './address';
import { matchesQuery, type StatesQuery } from './filter';
import { makeRow, type TcpStateRow } from './row';

// /proc/net/udp and udp6 (filter.protocol 'udp') print the same columns.
const TABLES = [
  { path: '/proc/net/tcp', ipv6: false, udp: false },
  { path: '/proc/net/tcp6', ipv6: true, udp: false },
  { path: '/proc/net/udp', ipv6: false, udp: true },
  { path: '/proc/net/udp6', ipv6: true, udp: true },
] as const;

// Timer times are printed in USER_HZ ticks, 100 a second on every Linux.
const MS_PER_TICK = 10;

function hex(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    value = value * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return value;
}

// The kernel prints each 32-bit word of the address as a host-order number: written back
// into native-order words, the bytes are in network order again.
const words = new Uint32Array(4);
const wordBytes = new Uint8Array(words.buffer);

function address(text: string, at: number, ipv6: boolean, cache: Map<string, string>): string {
  const digits = ipv6 ? 32 : 8;
  const key = text.slice(at, at + digits);
  let formatted = cache.get(key);
  if (formatted === undefined) {
    for (let w = 0; w < digits / 8; w++) words[w] = hex(text, at + w * 8, at + w * 8 + 8);
    formatted = ipv6 ? formatIPv6(wordBytes, 0) : formatIPv4(wordBytes, 0);
    cache.set(key, formatted);
  }
  return formatted;
}

/** Appends the rows of one table's text that match `query`. */
export function parseTable(text: string, ipv6: boolean, query: StatesQuery, rows: TcpStateRow[]): void {
  const digits = ipv6 ? 32 : 8;
  const cache = new Map<string, string>();
  // "  sl: LLLLLLLL:PPPP RRRRRRRR:PPPP ST TXQUEUE_:RXQUEUE_ TR:WHEN____ RETRNSMT   UID  TIMEOUT INODE ..."
  for (let start = text.indexOf('\n') + 1; start > 0 && start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const local = text.indexOf(':', start) + 2;
    const remote = local + digits + 6;
    const st = remote + digits + 6;
    const localPort = hex(text, local + digits + 1, local + digits + 5);
    const remotePort = hex(text, remote + digits + 1, remote + digits + 5);
    const state = hex(text, st, st + 2);
    if (local > 1 && st + 2 <= end && matchesQuery(query, state, localPort, remotePort)) {
      const queues = st + 3;
      const timer = hex(text, queues + 18, queues + 20);
      const [when = '0', retransmits = '0', uid = '0', probes = '0', inode = '0'] = text
        .slice(queues + 21, end)
        .trim()
        .split(/\s+/);
      rows.push(
        makeRow(
          ipv6,
          state,
          address(text, local, ipv6, cache),
          localPort,
          address(text, remote, ipv6, cache),
          remotePort,
          hex(text, queues + 9, queues + 17),
          hex(text, queues, queues + 8),
          timer,
          parseInt(when, 16) * MS_PER_TICK,
          // Keepalive and zero-window probes count in the "timeout" column, as netlink reports them.
          Number(timer === 2 || timer === 4 ? probes : hex(retransmits, 0, retransmits.length)),
          Number(uid),
          Number(inode),
          null,
        ),
      );
    }
    start = end + 1;
  }
}

function tablesFor(query: StatesQuery) {
  return TABLES.filter((table) => (table.ipv6 ? query.ipv6 : query.ipv4) && table.udp === (query.protocol === 'udp'));
}

// No tcp6 table on a kernel without IPv6: no IPv6 socket. A missing tcp table is an error.
function absentAsEmpty(table: (typeof TABLES)[number], error: unknown): string {
  if (table.ipv6 && (error as NodeJS.ErrnoException).code === 'ENOENT') return '';
  throw error;
}

export function procRowsSync(query: StatesQuery): TcpStateRow[] {
  const rows: TcpStateRow[] = [];
  for (const table of tablesFor(query)) {
    let text: string;
    try {
      text = readFileSync(table.path, 'latin1');
    } catch (error) {
      text = absentAsEmpty(table, error);
    }
    parseTable(text, table.ipv6, query, rows);
  }
  return rows;
}

export async function procRows(query: StatesQuery): Promise<TcpStateRow[]> {
  const tables = tablesFor(query);
  const texts = await Promise.all(tables.map((table) => readFile(table.path, 'latin1').catch((error: unknown) => absentAsEmpty(table, error))));
  const rows: TcpStateRow[] = [];
  tables.forEach((table, i) => parseTable(texts[i]!, table.ipv6, query, rows));
  return rows;
}
