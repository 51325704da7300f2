// The independent oracle: what `ss` (iproute2, NETLINK_SOCK_DIAG) reports for a port.
import { execFileSync } from 'node:child_process';

export interface SsRow {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
  localPort: number;
  peerPort: number;
}

/** The port of `address:port` as ss writes it; `*` (a listener's peer) is 0. */
export function portOf(endpoint: string): number {
  return endpoint.endsWith(':*') ? 0 : Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

function runSs(flags: string, port: number): string[] {
  // A port under load has thousands of TIME_WAIT rows: room for them (the default is 1 MiB).
  const out = execFileSync('ss', [flags, `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return out.split('\n').filter((line) => line.trim() !== '');
}

/** The first five columns, common to every `ss -t` listing; `rest` is what follows them. */
function parseLine(line: string): SsRow & { rest: string } {
  const [state, recvQ, sendQ, local, peer, ...rest] = line.trim().split(/\s+/);
  return {
    state: state!,
    recvQ: Number(recvQ),
    sendQ: Number(sendQ),
    local: local!,
    peer: peer!,
    localPort: portOf(local!),
    peerPort: portOf(peer!),
    rest: rest.join(' '),
  };
}

/** TCP sockets with `port` as local or peer port, in any state, as `ss -tanH` prints them. */
export function ssRows(port: number): SsRow[] {
  return runSs('-tanH', port).map((line) => {
    const { rest: _, ...row } = parseLine(line);
    return row;
  });
}

/** The state `ss` shows for the one socket with this local and peer port. */
export function ssState(localPort: number, peerPort: number): string | undefined {
  return ssRows(localPort).find((row) => row.localPort === localPort && row.peerPort === peerPort)?.state;
}

/** Polls `ss` until `predicate` holds, bounded by `timeoutMs`; throws with the last rows seen. */
export async function waitForSs(port: number, predicate: (rows: SsRow[]) => boolean, timeoutMs = 5000): Promise<SsRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = ssRows(port);
    if (predicate(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`ss never showed the expected states on port ${port}: ${JSON.stringify(rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface SsTimer {
  /** The library's names for ss's on, keepalive, timewait, persist. */
  kind: string;
  expiresMs: number;
  /** ss rounds down: to the millisecond under 10 s, the second under 10 min, else the minute. */
  resolutionMs: number;
  retransmits: number;
}

export interface SsDetailedRow extends SsRow {
  family: 'ipv4' | 'ipv6';
  /** The library's state names: ESTABLISHED, TIME_WAIT, ... */
  tcpState: string;
  localAddress: string;
  peerAddress: string;
  timer: SsTimer | null;
  uid: number;
  inode: number;
  /** sk:HEX, the socket's cookie, as tcpStates writes it. */
  cookie: string | null;
  /** users:(("node",pid=1,fd=3),...) with -p. */
  users: { command: string; pid: number; fd: number }[];
}

const TIMER_KINDS: Record<string, string> = { on: 'retransmit', keepalive: 'keepalive', timewait: 'timewait', persist: 'persist' };

// ss's print_ms_timer: "59sec", "9.268ms" (9 s 268 ms), "200ms", "1min26sec", "12min".
function parseSsDuration(text: string): { ms: number; resolutionMs: number } {
  const match = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (match === null) throw new Error(`ss printed a timer this parser does not know: ${text}`);
  const [minutes, seconds, millis] = match.slice(1).map((part) => Number(part ?? 0)) as [number, number, number];
  const resolutionMs = minutes > 9 ? 60_000 : minutes > 0 || seconds > 9 ? 1000 : 1;
  return { ms: minutes * 60_000 + seconds * 1000 + millis, resolutionMs };
}

// "127.0.0.1:80", "[::1]:80", "*:80" (a wildcard of either family), "0.0.0.0:*", "[fe80::1%lo]:80".
function parseEndpoint(text: string, family: 'ipv4' | 'ipv6'): string {
  const host = text.slice(0, text.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  return host === '*' ? (family === 'ipv4' ? '0.0.0.0' : '::') : host;
}

function parseDetails(line: string, family: 'ipv4' | 'ipv6'): SsDetailedRow {
  const { rest, ...row } = parseLine(line);
  const timer = /timer:\((\w+),([^,]*),(\d+)\)/.exec(rest);
  const duration = timer ? parseSsDuration(timer[2]!) : undefined;
  const users = /users:\((.*?)\)(?:\s|$)/.exec(rest)?.[1] ?? '';
  return {
    ...row,
    localPort: portOf(row.local),
    peerPort: portOf(row.peer),
    family,
    tcpState: row.state === 'ESTAB' ? 'ESTABLISHED' : row.state.replace(/-/g, '_'),
    localAddress: parseEndpoint(row.local, family),
    peerAddress: parseEndpoint(row.peer, family),
    timer: timer
      ? { kind: TIMER_KINDS[timer[1]!] ?? 'unknown', expiresMs: duration!.ms, resolutionMs: duration!.resolutionMs, retransmits: Number(timer[3]) }
      : null,
    uid: Number(/(?:^|\s)uid:(\d+)/.exec(rest)?.[1] ?? 0),
    inode: Number(/(?:^|\s)ino:(\d+)/.exec(rest)?.[1] ?? 0),
    cookie: /(?:^|\s)sk:([0-9a-f]+)/.exec(rest)?.[1] ?? null,
    users: [...users.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g)].map((m) => ({
      command: m[1]!,
      pid: Number(m[2]),
      fd: Number(m[3]),
    })),
  };
}

/** Rows of recorded `ss -tanoeH` output (one family's). */
export function parseSsDetails(text: string, family: 'ipv4' | 'ipv6'): SsDetailedRow[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => parseDetails(line, family));
}

/** `ss -tanoeH` (and -p with `processes`), IPv4 and IPv6 asked apart so each row knows its family. */
export function ssDetailedRows(port: number, options: { processes?: boolean } = {}): SsDetailedRow[] {
  const flags = `-tanoeH${options.processes ? 'p' : ''}`;
  return (['ipv4', 'ipv6'] as const).flatMap((family) =>
    runSs(`${flags}${family === 'ipv4' ? '4' : '6'}`, port).map((line) => parseDetails(line, family)),
  );
}
