// Rows from NETLINK_SOCK_DIAG (native/diag.cc): the kernel applies the state mask and the
// port filter; this decodes the dump's fixed 64-byte records into rows.
import { binding } from '../core/binding';
import { formatIPv4, formatIPv6 } from './address';
import type { StatesQuery } from './filter';
import { makeRow, type TcpStateRow } from './row';

// Offsets of struct DiagRow in native/diag.cc, in bytes.
const ROW_BYTES = 64;
const LOCAL = 28;
const REMOTE = 44;

if (binding.diagRowBytes !== ROW_BYTES) {
  throw new Error(`sockctl: the addon's diag rows are ${binding.diagRowBytes} bytes, this library reads ${ROW_BYTES}: rebuild it`);
}

function families(query: StatesQuery): number {
  return (query.ipv4 ? 1 : 0) | (query.ipv6 ? 2 : 0);
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
    const ipv6 = bytes[at] === 6;
    rows[i] = makeRow(
      ipv6,
      bytes[at + 1]!,
      address(ipv6, at + LOCAL),
      halves[at / 2 + 12]!,
      address(ipv6, at + REMOTE),
      halves[at / 2 + 13]!,
      words[word + 2]!,
      words[word + 3]!,
      bytes[at + 2]!,
      words[word + 1]!,
      bytes[at + 3]!,
      words[word + 4]!,
      words[word + 5]!,
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
