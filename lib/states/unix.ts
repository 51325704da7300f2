// unixSockets: the UNIX sockets of this network namespace, as `ss -xa` lists them, from
// sock_diag(7) for AF_UNIX (native/diag.cc, linux/unix_diag.h): type, state, name, inode,
// the peer's inode and the queues. Linux only: elsewhere ENOTSUP.
import { constants as osConstants } from 'node:os';
import { binding } from '../core/binding';
import { errnoException } from '../core/errors';
import { tcpStateName, type TcpState } from '../core/tcp-states';

export interface UnixSocketRow {
  /** SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET (ss: u_str, u_dgr, u_seq). */
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown';
  /** 'LISTEN', 'ESTABLISHED' (connected), 'CLOSED' (neither: ss's UNCONN), ... */
  state: TcpState;
  /** The name: a path, '@name' for an abstract one (as ss prints it), or null for none. */
  path: string | null;
  /** As in /proc/[pid]/fd links `socket:[inode]`. */
  inode: number;
  /** The connected peer's inode, or null. */
  peerInode: number | null;
  /** A listener: connections waiting to be accepted; else bytes received, not read. */
  recvQ: number;
  /** A listener: its backlog; else bytes sent, not read by the peer yet. */
  sendQ: number;
}

const U = binding.diagLayout.unix;
const TYPES: Record<number, UnixSocketRow['type']> = {
  1: 'stream',
  2: 'dgram',
  5: 'seqpacket',
};

function decode(dump: ArrayBuffer): UnixSocketRow[] {
  const bytes = new Uint8Array(dump);
  const view = new DataView(dump);
  const rows: UnixSocketRow[] = [];
  for (let at = 0; at + U.bytes <= dump.byteLength; at += U.bytes) {
    const length = view.getUint16(at + U.pathBytes, true);
    const name = Buffer.from(dump, at + U.path, length);
    let path: string | null = null;
    if (length > 0) path = name[0] === 0 ? `@${name.subarray(1).toString('latin1')}` : name.toString('utf8').replace(/\0+$/, '');
    const peer = view.getUint32(at + U.peerInode, true);
    rows.push({
      type: TYPES[bytes[at + U.type]!] ?? 'unknown',
      state: tcpStateName(bytes[at + U.state]!) as TcpState,
      path,
      inode: view.getUint32(at + U.inode, true),
      peerInode: peer === 0 ? null : peer,
      recvQ: view.getUint32(at + U.recvQ, true),
      sendQ: view.getUint32(at + U.sendQ, true),
    });
  }
  return rows;
}

function assertLinux(): void {
  if (process.platform !== 'linux') {
    throw errnoException(osConstants.errno.ENOTSUP ?? osConstants.errno.EOPNOTSUPP, 'unixSockets', { reason: `sock_diag is Linux only, not on ${process.platform}` });
  }
}

/** The UNIX sockets of this network namespace, blocking (one sock_diag dump). */
export function unixSocketsSync(): UnixSocketRow[] {
  assertLinux();
  return decode(binding.unixDiagDumpSync());
}

/** The UNIX sockets of this network namespace, as `ss -xa` lists them; the dump runs on libuv's thread pool. */
export async function unixSockets(): Promise<UnixSocketRow[]> {
  assertLinux();
  return decode(await binding.unixDiagDump());
}
