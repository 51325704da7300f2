// The one place that loads the native addon (node-gyp-build, from the package root: a
// prebuild when one fits this platform, else build/Release).
import { join } from 'node:path';
import load from 'node-gyp-build';
import { errnoException } from './errors';

/**
 * struct tcp_info as native/tcp_info.cc reads it; `state` is the kernel's number. A field
 * beyond the length the kernel returned is absent (qemu-user fills only `state`).
 */
export type RawTcpInfo = Partial<RawTcpInfoFields>;

interface RawTcpInfoFields {
  state: number;
  caState: number;
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  sndWscale: number;
  rcvWscale: number;
  rto: number;
  ato: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  lastDataSent: number;
  lastAckSent: number;
  lastDataRecv: number;
  lastAckRecv: number;
  pmtu: number;
  rcvSsthresh: number;
  rtt: number;
  rttvar: number;
  sndSsthresh: number;
  sndCwnd: number;
  advmss: number;
  reordering: number;
  rcvRtt: number;
  rcvSpace: number;
  totalRetrans: number;
  // The kernel's later fields (linux/tcp.h), where it returns them: rates in bytes a second
  // (ss prints bits: pacing_rate, delivery_rate), times in µs.
  pacingRate: number;
  maxPacingRate: number;
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
  notsentBytes: number;
  minRtt: number;
  dataSegsIn: number;
  dataSegsOut: number;
  deliveryRate: number;
  busyTime: number;
  rwndLimited: number;
  sndbufLimited: number;
  delivered: number;
  deliveredCe: number;
  bytesSent: number;
  bytesRetrans: number;
  dsackDups: number;
  reordSeen: number;
  rcvOoopack: number;
  sndWnd: number;
}

export interface DiagLayout {
  rowBytes: number;
  offsets: Record<
    'family' | 'state' | 'timer' | 'retransmits' | 'expiresMs' | 'recvQ' | 'sendQ' | 'uid' | 'inode' | 'localPort' | 'remotePort' | 'local' | 'remote' | 'cookieLow' | 'cookieHigh' | 'v6only',
    number
  >;
  rowFamilies: { ipv4: number; ipv6: number };
  requestFamilies: { ipv4: number; ipv6: number };
  timers: { none: number; retransmit: number; keepalive: number; timewait: number; persist: number };
  /** native/diag_row.h DiagExtra: what an extended dump adds to each row. */
  extra: {
    bytes: number;
    infoBytes: number;
    memoryWords: number;
    congestion: number;
    congestionBytes: number;
    memory: number;
    info: number;
    extensions: { info: number; congestion: number; memory: number };
  };
  /** native/diag_row.h UnixRow. */
  unix: Record<'bytes' | 'type' | 'state' | 'pathBytes' | 'inode' | 'peerInode' | 'recvQ' | 'sendQ' | 'path', number>;
}

/** A polled descriptor that the reader owns; `fd` is -1 once closed. */
export interface NativeEventReader {
  start(): void;
  stop(): void;
  close(): void;
  /** The poll stops keeping the process alive. */
  unref(): void;
  readonly fd: number;
}

/** getsockname(2) as Node's `server.address()` shows it. */
export interface LocalAddress {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** The native functions; arguments are validated in TypeScript before they get here. */
export interface NativeBinding {
  setErrorFactory(make: (errno: number, syscall: string) => Error): void;
  readonly constants: Readonly<Record<string, number>>;
  /** F_DUPFD_CLOEXEC; the copy is owned by this environment (see own). */
  dup(fd: number): number;
  /** close(2); forgets the descriptor first (see own). */
  close(fd: number): void;
  /**
   * close(2) only if this environment owns `fd` and it still names the file it named when
   * owned; false (and forgotten) otherwise. For the garbage collector's safety net.
   */
  closeIfOwned(fd: number): boolean;
  /**
   * This environment (main thread or worker) owns `fd`: it is closed when the environment
   * ends if still owned then. socket() and dup() own what they make; no-op on a closed fd.
   */
  own(fd: number): void;
  /** Given away (release()): no longer closed when the environment ends. */
  disown(fd: number): void;
  setIntOption(fd: number, level: number, name: number, value: number): void;
  getIntOption(fd: number, level: number, name: number): number;
  setLinger(fd: number, onoff: number, linger: number): void;
  getLinger(fd: number): { onoff: boolean; linger: number };
  /** Bytes the kernel took now (0 when the send queue is full). */
  send(fd: number, data: NodeJS.TypedArray): number;
  shutdown(fd: number, how: number): void;
  /** Owned by this environment, as dup's copy is. */
  socket(domain: number, type: number): number;
  getTcpInfo(fd: number): RawTcpInfo;
  /** The TCP_INFO decoder alone, on bytes as getsockopt returns them (their length is the kernel's). */
  decodeTcpInfo(bytes: NodeJS.TypedArray): RawTcpInfo;
  /**
   * NETLINK_SOCK_DIAG dump (native/diag.cc): `families` 1 IPv4, 2 IPv6, 3 both; ports 0 for
   * any. With `scratch`, the rows are copied into it when they fit, and the result is their
   * count; otherwise it is an ArrayBuffer of the rows.
   */
  tcpDiagDump(families: number, states: number, localPort: number, remotePort: number, anyPort: number): Promise<ArrayBuffer>;
  tcpDiagDump(families: number, states: number, localPort: number, remotePort: number, anyPort: number, scratch: ArrayBuffer | undefined, extensions?: 0, udp?: number): Promise<ArrayBuffer | number>;
  tcpDiagDumpSync(families: number, states: number, localPort: number, remotePort: number, anyPort: number): ArrayBuffer;
  tcpDiagDumpSync(families: number, states: number, localPort: number, remotePort: number, anyPort: number, scratch: ArrayBuffer | undefined, extensions?: 0, udp?: number): ArrayBuffer | number;
  /** With extensions (diagLayout.extra.extensions): [rows, extras], records of diagLayout.extra beside the rows. */
  tcpDiagDump(families: number, states: number, localPort: number, remotePort: number, anyPort: number, scratch: undefined, extensions: number, udp?: number): Promise<[ArrayBuffer, ArrayBuffer]>;
  tcpDiagDumpSync(families: number, states: number, localPort: number, remotePort: number, anyPort: number, scratch: undefined, extensions: number, udp?: number): [ArrayBuffer, ArrayBuffer];
  /** The size of one record in the dump's ArrayBuffer. */
  readonly diagRowBytes: number;
  /** native/diag_row.h: where each field of a row is, and the numbers its fields use. */
  readonly diagLayout: DiagLayout;
  /** One connection by its 4-tuple (no NLM_F_DUMP): 0 or 1 row. `cookie` hex or '' for any. */
  tcpDiagLookupSync(ipv6: number, localAddress: string, localPort: number, remoteAddress: string, remotePort: number, cookie: string): ArrayBuffer;
  /** Every UNIX socket of the namespace: records of diagLayout.unix. */
  unixDiagDumpSync(): ArrayBuffer;
  unixDiagDump(): Promise<ArrayBuffer>;
  /** SOCK_DESTROY of the socket a lookup with the same arguments would find ('' cookie: any). */
  tcpDiagDestroySync(ipv6: number, localAddress: string, localPort: number, remoteAddress: string, remotePort: number, cookie: string): void;
  /** The rows of recorded sock_diag reply messages (for the decoders' fixture tests). */
  diagRowsFromMessages(messages: Buffer): ArrayBuffer;
  /** native/events.cc: a descriptor polled on the loop ('file': a path opened O_NONBLOCK; 'destroy': sock_diag's destroy groups). */
  EventReader: new (
    kind: 'file' | 'destroy',
    path: string,
    callback: (error: Error | null, data: Buffer | ArrayBuffer | null) => void,
    /** rmdir'd once the descriptor is closed, at environment teardown too. */
    removeDir?: string,
  ) => NativeEventReader;
  bind(fd: number, address: string, port: number): void;
  listen(fd: number, backlog: number): void;
  localAddress(fd: number): LocalAddress;
  /** connect(2) on a non-blocking socket: true if connected at once, false while in progress. */
  connect(fd: number, address: string, port: number): boolean;
  /** Calls `done(errno)` (SO_ERROR; 0 when connected) once the pending connect completes. */
  connectWait(fd: number, done: (errno: number) => void): void;
  /** Forgets a pending connectWait (its callback never runs); true if there was one. */
  connectCancel(fd: number): boolean;
  /** native/socket_info.cc: fstat + SO_TYPE + SO_ACCEPTCONN + getsockname; ENOTSOCK for a non-socket. */
  describeSocket(fd: number): RawSocketInfo;
  setCloexec(fd: number): void;
  getCloexec(fd: number): boolean;
  /** native/notify.cc: one datagram to a path or '@abstract' name; bytes sent. */
  notify(address: string, message: Buffer): number;
  /** A datagram socket connect()ed to NOTIFY_SOCKET, owned by this environment: POLLOUT only while the receiver has room. */
  notifyConnect(address: string): number;
  /** Bytes sent on notifyConnect's socket, or -1 while the receiver's queue is full (EAGAIN); `passFd` goes with it (SCM_RIGHTS). */
  notifySend(fd: number, message: Buffer, passFd?: number): number;
  /** pipe(2): [read end, write end], close-on-exec, owned by this environment. */
  pipe(): [number, number];
  /** native/process.cc: prctl(PR_SET_CHILD_SUBREAPER, 1); ENOTSUP off Linux. */
  setChildSubreaper(): void;
  /** waitpid(pid, WNOHANG): null while it has not exited, else how it ended (`signal` a number). */
  reapChild(pid: number): { code: number | null; signal: number | null } | null;
  /** native/scm_rights.cc: AF_UNIX stream sockets, close-on-exec and non-blocking. */
  unixListen(path: string, backlog: number): number;
  unixConnect(path: string): number;
  peerCredentials(fd: number): PeerCredentials;
  /** One non-blocking sendmsg: bytes sent, 0 when the socket takes nothing now (fds go with the first byte). */
  sendFds(fd: number, data: Buffer, fds: number[]): number;
  /** One non-blocking recvmsg, its descriptors owned by this environment; null when nothing is there now. */
  recvFds(fd: number, maxBytes: number, maxFds: number): RawReceived | null;
  /**
   * native/watcher.cc, the one loop watcher: calls `done(errno)` once `fd` is readable (1)
   * and/or writable (2), on the event loop (no pool thread); EALREADY while another wait on
   * `fd` (waitFd or connectWait) is pending. Cancel before closing the descriptor.
   */
  waitFd(fd: number, events: number, done: (errno: number) => void): void;
  /** Forgets a pending waitFd or connectWait (its callback never runs); true if there was one. */
  waitFdCancel(fd: number): boolean;
  /** SO_ATTACH_REUSEPORT_CBPF (native/reuseport_cbpf.cc): the program as code, jt, jf, k per instruction. */
  attachReuseportCbpf(fd: number, program: number[]): void;
  /** SO_DETACH_REUSEPORT_BPF. */
  detachReuseportBpf(fd: number): void;
  /** NOTIFY_SOCKET's receiving end (native/notify_receiver.cc): an abstract '@name' or a path. */
  NotifyReceiver: new (address: string, onMessage: (pid: number, uid: number, gid: number, text: string) => void) => NativeNotifyReceiver;
}

/** A bound UNIX datagram socket with SO_PASSCRED, read on the event loop. */
export interface NativeNotifyReceiver {
  /** -1 once closed. */
  readonly fd: number;
  close(): void;
}

/** What native/socket_info.cc reads of a descriptor. */
export interface RawSocketInfo {
  inode: number;
  /** SO_TYPE: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, or another. */
  type: 'stream' | 'datagram' | 'seqpacket' | 'other';
  /** The address family of getsockname: AF_INET, AF_INET6, AF_UNIX, or another. */
  family: 'ipv4' | 'ipv6' | 'unix' | 'other';
  listening: boolean;
  address?: string;
  port?: number;
  /** AF_UNIX: the path, '@name' when abstract, '' when unbound. */
  path?: string;
}

/** SO_PEERCRED: the peer process as it was at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** One recvmsg: `truncated` is -1, or how many descriptors arrived with MSG_CTRUNC (all closed). */
export interface RawReceived {
  data: Buffer;
  fds: number[];
  truncated: number;
}

function loadBinding(): NativeBinding {
  if (process.platform === 'win32') {
    throw new Error('sockctl does not support Windows: it needs POSIX descriptors (listen on an fd, dup, shutdown on raw sockets)');
  }
  const binding = load(join(__dirname, '..', '..')) as NativeBinding;
  // The stack starts at the caller of the native function, not in this factory.
  const make = (errno: number, syscall: string): Error => {
    const error = errnoException(errno, syscall);
    Error.captureStackTrace(error, make);
    return error;
  };
  binding.setErrorFactory(make);
  return binding;
}

export const binding: NativeBinding = loadBinding();
