// STOP-GAP, to be replaced by waitForState/tcpStates (issue 4, NETLINK_SOCK_DIAG) once
// that lands on main: the TCP sockets on one local port as /proc/net/tcp and
// /proc/net/tcp6 list them (proc(5)). Slower than sock_diag (the kernel formats every
// socket of the host as text), but it is the kernel's own view, TIME_WAIT included.
import { readFileSync } from 'node:fs';
import { endianness, constants as osConstants } from 'node:os';
import { errnoException } from './errors';
import { tcpStateName, type TcpState } from './tcp-states';

export interface ProcTcpRow {
  state: TcpState | 'UNKNOWN';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** "0100007F" (IPv4) or 32 hex digits (IPv6), each 32-bit word in host byte order. */
function decodeAddress(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  if (LITTLE_ENDIAN) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  if (bytes.length === 4) return bytes.join('.');
  // IPv4-mapped (::ffff:a.b.c.d): a dual-stack listener's IPv4 peers, written as Node writes them.
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12).join('.')}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function rowsOf(file: string, localPort: number): ProcTcpRow[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (error) {
    // No IPv6 in this kernel: no tcp6 file, and no IPv6 sockets either.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const portHex = `:${localPort.toString(16).toUpperCase().padStart(4, '0')} `;
  const rows: ProcTcpRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    if (!line.includes(portHex)) continue; // cheap pre-filter; the exact check follows
    const [, local, remote, state] = line.trim().split(/\s+/);
    const [localHex, localPortHex] = local!.split(':');
    if (parseInt(localPortHex!, 16) !== localPort) continue;
    const [remoteHex, remotePortHex] = remote!.split(':');
    rows.push({
      state: tcpStateName(parseInt(state!, 16)),
      localAddress: decodeAddress(localHex!),
      localPort,
      remoteAddress: decodeAddress(remoteHex!),
      remotePort: parseInt(remotePortHex!, 16),
    });
  }
  return rows;
}

/** The TCP sockets (IPv4 and IPv6) whose local port is `localPort`, in any state. */
export function procTcpRows(localPort: number): ProcTcpRow[] {
  if (process.platform !== 'linux') {
    throw errnoException(osConstants.errno.ENOTSUP, 'open', { reason: '/proc/net/tcp is Linux-only' });
  }
  return [...rowsOf('/proc/net/tcp', localPort), ...rowsOf('/proc/net/tcp6', localPort)];
}

/**
 * One spelling per address, for comparing what Node reports with what decodeAddress
 * writes: IPv4-mapped as plain IPv4, IPv6 uncompressed without leading zeros.
 */
export function canonicalAddress(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice('::ffff:'.length);
  if (!address.includes(':')) return address;
  const [head, tail] = address.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16).toString(16)).join(':');
}
