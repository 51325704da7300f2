// Rows from NETLINK_SOCK_DIAG (native/diag.cc): the kernel applies the state mask and the
// port filter; this decodes the dump's fixed records (native/diag_row.h) into rows.
import { binding } from '../core/binding';
import { formatIPv4, formatIPv6 } from './address';
import type { StatesQuery } from './filter';
import { makeRow, type SocketMemory, type TcpStateRow } from './row';
import { tcpInfoOf } from '../core/options';

// Where each field of a row is: native/diag_row.h, exported by the addon (never copied here).
const layout = binding.diagLayout;
const ROW_BYTES = layout.rowBytes;
const O = layout.offsets;
if (ROW_BYTES % 4 !== 0 || O.expiresMs % 4 !== 0 || O.localPort % 2 !== 0 || O.cookieLow % 4 !== 0 || O.v6only % 4 !== 0) {
  throw new Error('sockctl: the addon\'s diag rows are not aligned as this library reads them: rebuild it');
}

/** The addon's last dump argument: 1 for UDP sockets (filter.protocol). */
function udpOf(query: StatesQuery): number {
  return query.protocol === 'udp' ? 1 : 0;
}

function families(query: StatesQuery): number {
  return (query.ipv4 ? layout.requestFamilies.ipv4 : 0) | (query.ipv6 ? layout.requestFamilies.ipv6 : 0);
}

const HEX_DIGIT = Array.from('0123456789abcdef', (digit) => digit.charCodeAt(0));

/** The socket's cookie as ss -e prints it (sk:...): hexadecimal, high word first. */
export function cookieText(high: number, low: number): string {
  if (high !== 0) return high.toString(16) + low.toString(16).padStart(8, '0');
  if (low < 0x100) return low.toString(16);
  // A cookie is a count from boot, so nearly always under 2^32, and this runs once per row of
  // a dump: one String.fromCharCode per digit count cost about half of Number#toString(16),
  // where a loop filling an array for fromCharCode.apply cost more than toString itself.
  const digit = (shift: number): number => HEX_DIGIT[(low >>> shift) & 15]!;
  if (low < 0x1000) return String.fromCharCode(digit(8), digit(4), digit(0));
  if (low < 0x10000) return String.fromCharCode(digit(12), digit(8), digit(4), digit(0));
  if (low < 0x100000) return String.fromCharCode(digit(16), digit(12), digit(8), digit(4), digit(0));
  if (low < 0x1000000) return String.fromCharCode(digit(20), digit(16), digit(12), digit(8), digit(4), digit(0));
  if (low < 0x10000000) return String.fromCharCode(digit(24), digit(20), digit(16), digit(12), digit(8), digit(4), digit(0));
  return String.fromCharCode(digit(28), digit(24), digit(20), digit(16), digit(12), digit(8), digit(4), digit(0));
}

// The offsets as plain numbers, once: the decoding loop reads no object properties.
const F_FAMILY = O.family;
const F_STATE = O.state;
const F_TIMER = O.timer;
const F_RETRANSMITS = O.retransmits;
const W_EXPIRES = O.expiresMs / 4;
const W_RECVQ = O.recvQ / 4;
const W_SENDQ = O.sendQ / 4;
const W_UID = O.uid / 4;
const W_INODE = O.inode / 4;
const H_LOCAL_PORT = O.localPort / 2;
const H_REMOTE_PORT = O.remotePort / 2;
const B_LOCAL = O.local;
const B_REMOTE = O.remote;
const W_COOKIE_LOW = O.cookieLow / 4;
const W_COOKIE_HIGH = O.cookieHigh / 4;
const ROW_IPV6 = layout.rowFamilies.ipv6;
const W_V6ONLY = O.v6only / 4;

/** The rows of a dump: the first `count` records of `dump` (all of them by default). */
export function decodeRows(dump: ArrayBuffer, count = dump.byteLength / ROW_BYTES): TcpStateRow[] {
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
  const rows: TcpStateRow[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * ROW_BYTES;
    const word = at / 4;
    const half = at / 2;
    const ipv6 = bytes[at + F_FAMILY] === ROW_IPV6;
    rows[i] = makeRow(
      ipv6,
      bytes[at + F_STATE]!,
      address(ipv6, at + B_LOCAL),
      halves[half + H_LOCAL_PORT]!,
      address(ipv6, at + B_REMOTE),
      halves[half + H_REMOTE_PORT]!,
      words[word + W_RECVQ]!,
      words[word + W_SENDQ]!,
      bytes[at + F_TIMER]!,
      words[word + W_EXPIRES]!,
      bytes[at + F_RETRANSMITS]!,
      words[word + W_UID]!,
      words[word + W_INODE]!,
      cookieText(words[word + W_COOKIE_HIGH]!, words[word + W_COOKIE_LOW]!),
    );
  }
  return rows;
}

/**
 * IPV6_V6ONLY of each row of a dump (INET_DIAG_SKV6ONLY, as `ss -e` prints v6only:): true,
 * false (dual-stack), or null for an IPv4 socket. Not part of TcpStateRow (/proc has no such
 * column); whyInUse reads it to tell a dual-stack [::] socket from an IPv6-only one.
 */
export function decodeV6only(dump: ArrayBuffer, count = dump.byteLength / ROW_BYTES): (boolean | null)[] {
  const words = new Uint32Array(dump);
  const flags: (boolean | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const value = words[(i * ROW_BYTES) / 4 + W_V6ONLY]!;
    flags[i] = value === 0 ? null : value === 2;
  }
  return flags;
}

// Buffers the addon copies a dump's rows into (native/diag.cc), kept for the next dumps:
// memory already touched costs nothing to write, where a fresh buffer's every page faults in
// (a third of a 20,000-row dump here). One per dump in flight, a few kept, none over 16 MiB.
const SCRATCH_KEPT = 4;
const SCRATCH_MAX_BYTES = 16 << 20;
const SCRATCH_MIN_ROWS = 64;
const scratches: ArrayBuffer[] = [];

/** Decodes what the addon returned for `scratch`, and keeps a buffer (the same, or a bigger one) for the next dump. */
function fromScratch<T>(out: ArrayBuffer | number, scratch: ArrayBuffer | undefined, decode: (dump: ArrayBuffer, count: number) => T): T {
  const dump = typeof out === 'number' ? scratch! : out;
  const count = typeof out === 'number' ? out : out.byteLength / ROW_BYTES;
  const result = decode(dump, count);
  const kept = typeof out === 'number' ? scratch! : new ArrayBuffer(Math.max(SCRATCH_MIN_ROWS, Math.ceil(count * 1.25)) * ROW_BYTES);
  if (scratches.length < SCRATCH_KEPT && kept.byteLength <= SCRATCH_MAX_BYTES) scratches.push(kept);
  return result;
}

async function dumpAsync<T>(query: StatesQuery, decode: (dump: ArrayBuffer, count: number) => T): Promise<T> {
  const { states, localPort, remotePort, anyPort } = query;
  const scratch = scratches.pop();
  let out: ArrayBuffer | number;
  try {
    out = await binding.tcpDiagDump(families(query), states, localPort, remotePort, anyPort, scratch, 0, udpOf(query));
  } catch (error) {
    if (scratch !== undefined) scratches.push(scratch);
    throw error;
  }
  return fromScratch(out, scratch, decode);
}

// An extended dump (filter.info, filter.memory): the rows, and beside each its extra record
// (native/diag_row.h DiagExtra), decoded into the row's info, congestion and memory.
const X = layout.extra;
const MEMORY_FIELDS: readonly (keyof SocketMemory)[] = ['rmemAlloc', 'rcvbuf', 'wmemAlloc', 'sndbuf', 'fwdAlloc', 'wmemQueued', 'optmem', 'backlog', 'drops'];

function extensionsOf(query: StatesQuery): number {
  return (query.info ? X.extensions.info | X.extensions.congestion : 0) | (query.memory ? X.extensions.memory : 0);
}

function withExtras(rows: TcpStateRow[], extras: ArrayBuffer, query: StatesQuery): TcpStateRow[] {
  const bytes = new Uint8Array(extras);
  const words = new Uint32Array(extras);
  rows.forEach((row, i) => {
    const at = i * X.bytes;
    if (query.info) {
      const length = words[(at + X.infoBytes) / 4]!;
      row.info = length === 0 ? null : tcpInfoOf(binding.decodeTcpInfo(bytes.subarray(at + X.info, at + X.info + length)));
      const name = bytes.subarray(at + X.congestion, at + X.congestion + X.congestionBytes);
      const end = name.indexOf(0);
      row.congestion = end === 0 ? null : Buffer.from(name.buffer, name.byteOffset, end < 0 ? name.length : end).toString('latin1');
    }
    if (query.memory) {
      const count = words[(at + X.memoryWords) / 4]!;
      if (count < MEMORY_FIELDS.length) row.memory = null;
      else {
        const memory = {} as SocketMemory;
        MEMORY_FIELDS.forEach((field, k) => (memory[field] = words[(at + X.memory) / 4 + k]!));
        row.memory = memory;
      }
    }
  });
  return rows;
}

/** netlinkRows with each row's IPV6_V6ONLY beside it. */
export function netlinkRowsWithV6only(query: StatesQuery): Promise<{ rows: TcpStateRow[]; v6only: (boolean | null)[] }> {
  return dumpAsync(query, (dump, count) => ({ rows: decodeRows(dump, count), v6only: decodeV6only(dump, count) }));
}

export function netlinkRowsSync(query: StatesQuery): TcpStateRow[] {
  const { states, localPort, remotePort, anyPort } = query;
  const extensions = extensionsOf(query);
  if (extensions !== 0) {
    const [dump, extras] = binding.tcpDiagDumpSync(families(query), states, localPort, remotePort, anyPort, undefined, extensions, udpOf(query));
    return withExtras(decodeRows(dump), extras, query);
  }
  const scratch = scratches.pop();
  let out: ArrayBuffer | number;
  try {
    out = binding.tcpDiagDumpSync(families(query), states, localPort, remotePort, anyPort, scratch, 0, udpOf(query));
  } catch (error) {
    if (scratch !== undefined) scratches.push(scratch);
    throw error;
  }
  return fromScratch(out, scratch, decodeRows);
}

/** The dump runs on libuv's thread pool; only the decoding is on this thread. */
export async function netlinkRows(query: StatesQuery): Promise<TcpStateRow[]> {
  const extensions = extensionsOf(query);
  if (extensions !== 0) {
    const { states, localPort, remotePort, anyPort } = query;
    const [dump, extras] = await binding.tcpDiagDump(families(query), states, localPort, remotePort, anyPort, undefined, extensions, udpOf(query));
    return withExtras(decodeRows(dump), extras, query);
  }
  return dumpAsync(query, decodeRows);
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
