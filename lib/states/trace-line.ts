// The text trace_pipe prints for sock:inet_sock_set_state (include/trace/events/sock.h,
// its print fmt), one event a line after the context columns:
//   <comm>-<pid> [<cpu>] <flags> <seconds>.<micro>: inet_sock_set_state: family=AF_INET
//   protocol=IPPROTO_TCP sport=N dport=N saddr=A daddr=A saddrv6=A6 daddrv6=A6
//   oldstate=TCP_X newstate=TCP_Y
// and "CPU:N [LOST M EVENTS]" when the ring buffer overwrote events nobody read.
import type { TcpState } from '../core/tcp-states';

export interface TraceEvent {
  /** The instance's clock (mono): CLOCK_MONOTONIC, in nanoseconds. */
  monoNs: bigint;
  ipv6: boolean;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  from: TcpState;
  to: TcpState;
}

// The kernel's names (tcp_state_names of the print fmt) as the library writes them.
const STATES: Record<string, TcpState> = {
  ESTABLISHED: 'ESTABLISHED',
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  FIN_WAIT1: 'FIN_WAIT_1',
  FIN_WAIT2: 'FIN_WAIT_2',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE: 'CLOSED',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  LISTEN: 'LISTEN',
  CLOSING: 'CLOSING',
  NEW_SYN_RECV: 'SYN_RECV',
};

const EVENT =
  /\s(\d+)\.(\d+): inet_sock_set_state: family=AF_INET(6?) protocol=IPPROTO_TCP sport=(\d+) dport=(\d+) saddr=(\S+) daddr=(\S+) saddrv6=(\S+) daddrv6=(\S+) oldstate=TCP_(\w+) newstate=TCP_(\w+)/;
const LOST = /^CPU:\d+ \[LOST (\d+) EVENTS\]/;

/** One line: an event, a count of events the kernel lost, or null (anything else). */
export function parseTraceLine(line: string): TraceEvent | { lost: number } | null {
  const lost = LOST.exec(line);
  if (lost) return { lost: Number(lost[1]) };
  const m = EVENT.exec(line);
  if (!m) return null;
  const from = STATES[m[10]!];
  const to = STATES[m[11]!];
  if (from === undefined || to === undefined) return null;
  const ipv6 = m[3] === '6';
  const micro = m[2]!.padEnd(9, '0').slice(0, 9); // the fraction, in nanoseconds
  return {
    monoNs: BigInt(m[1]!) * 1_000_000_000n + BigInt(micro),
    ipv6,
    localPort: Number(m[4]),
    remotePort: Number(m[5]),
    localAddress: ipv6 ? m[8]! : m[6]!,
    remoteAddress: ipv6 ? m[9]! : m[7]!,
    from,
    to,
  };
}
