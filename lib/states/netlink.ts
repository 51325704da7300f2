// Rows from NETLINK_SOCK_DIAG (native/diag.cc): the kernel applies the state mask and the
// port filter; this decodes the dump's fixed records (native/diag_row.h) into rows.
import { binding } from '../core/binding';
import { formatIPv4, formatIPv6 } from './address';
import type { StatesQuery } from './filter';
import { makeRow, type TcpStateRow } from './row';

// Where each field of a row is: native/diag_row.h, exported by the addon (never copied here).
const layout = binding.diagLayout;
const ROW_BYTES = layout.rowBytes;
const O = layout.offsets;
if (ROW_BYTES % 4 !== 0 || O.expiresMs % 4 !== 0 || O.localPort % 2 !== 0 || O.cookieLow % 4 !== 0) {
  throw new Error('sockctl: the addon\'s diag rows are not aligned as this library reads them: rebuild it');
}

function families(query: StatesQuery): number {
  return (query.ipv4 ? layout.requestFamilies.ipv4 : 0) | (query.ipv6 ? layout.requestFamilies.ipv6 : 0);
}

/** The socket's cookie as ss -e prints it (sk:...): hexadecimal, high word first. */
export function cookieText(high: number, low: number): string {
  return high === 0 ? low.toString(16) : high.toString(16) + low.toString(16).padStart(8, '0');
}

export function decodeRows(dump: ArrayBuffer): TcpStateRow[] {
  const bytes = new Uint8Array(dump);
  const words = new Uint32Array(dump); // native order, as the addon wrote them
  const halves = new Uint16Array(dump);
  // Thousands of TIME_WAIT rows share a few addresses: format each once per dump.
  const ipv4Text = new Map<number, string>();
  const address = (ipv6: boolean, offset: number): string => {
    if (ipv6) return formatIPv6(bytes, offset);
    const key = words[offset / 4]!;
    let text = ipv4Text.get(key);
    if (text === undefined) ipv4Text.set(key, (text = formatIPv4(bytes, offset)));
    return text;
  };
  const count = dump.byteLength / ROW_BYTES;
  const rows: TcpStateRow[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * ROW_BYTES;
    const word = at / 4;
    const ipv6 = bytes[at + O.family] === layout.rowFamilies.ipv6;
    rows[i] = makeRow(
      ipv6,
      bytes[at + O.state]!,
      address(ipv6, at + O.local),
      halves[(at + O.localPort) / 2]!,
      address(ipv6, at + O.remote),
      halves[(at + O.remotePort) / 2]!,
      words[word + O.recvQ / 4]!,
      words[word + O.sendQ / 4]!,
      bytes[at + O.timer]!,
      words[word + O.expiresMs / 4]!,
      bytes[at + O.retransmits]!,
      words[word + O.uid / 4]!,
      words[word + O.inode / 4]!,
      cookieText(words[word + O.cookieHigh / 4]!, words[word + O.cookieLow / 4]!),
    );
  }
  return rows;
}

export function netlinkRowsSync(query: StatesQuery): TcpStateRow[] {
  const { states, localPort, remotePort, anyPort } = query;
  return decodeRows(binding.tcpDiagDumpSync(families(query), states, localPort, remotePort, anyPort));
}

/** The dump runs on libuv's thread pool; only the decoding is on this thread. */
export async function netlinkRows(query: StatesQuery): Promise<TcpStateRow[]> {
  const { states, localPort, remotePort, anyPort } = query;
  return decodeRows(await binding.tcpDiagDump(families(query), states, localPort, remotePort, anyPort));
}

/**
 * One connection by its 4-tuple, without NLM_F_DUMP: the kernel's hash lookup, whose cost
 * does not grow with the table. `cookie` ('' for any) pins the socket: a server-side tuple
 * whose connection is gone answers with its LISTEN socket otherwise.
 */
export function lookupRowSync(
  ipv6: boolean,
  localAddress: string,
  localPort: number,
  remoteAddress: string,
  remotePort: number,
  cookie = '',
): TcpStateRow | undefined {
  const [row] = decodeRows(binding.tcpDiagLookupSync(ipv6 ? 1 : 0, localAddress, localPort, remoteAddress, remotePort, cookie));
  if (row === undefined || row.localPort !== localPort || row.remotePort !== remotePort) return undefined;
  return row;
}
