// TCP state names by the kernel's numbers (include/net/tcp_states.h), written as in the
// TCP diagram. 12 (NEW_SYN_RECV) is Linux's request socket; it is a SYN_RECV to a user.
export const TCP_STATE_NAMES = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT_1',
  'FIN_WAIT_2',
  'TIME_WAIT',
  'CLOSED',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'SYN_RECV',
] as const;

export type TcpState = Exclude<(typeof TCP_STATE_NAMES)[number], 'UNKNOWN'>;

export function tcpStateName(state: number): TcpState | 'UNKNOWN' {
  return TCP_STATE_NAMES[state] ?? 'UNKNOWN';
}
