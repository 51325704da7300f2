// Socket options by their C names. One table says, for each name, its level, the kind of
// value and whether it is read-only; setOption and getOption both work from it. The
// numbers come from the addon (this platform's headers): a name it lacks is ENOPROTOOPT.
import { constants as osConstants } from 'node:os';
import { binding } from './binding';
import { errnoException, invalidArgType, invalidArgValue } from './errors';
import { fdOf, type Target } from './target';
import { tcpStateName, type TcpState } from './tcp-states';
import type { RawTcpInfo } from './binding';
import { validateBoolean, validateInteger, validateObject } from './validate';

type Level = 'SOL_SOCKET' | 'IPPROTO_TCP' | 'IPPROTO_IP' | 'IPPROTO_IPV6';
type Kind = 'bool' | 'int' | 'linger' | 'tcpInfo';
interface OptionSpec {
  readonly level: Level;
  readonly kind: Kind;
  readonly readOnly?: true;
}

export const OPTIONS = {
  SO_REUSEADDR: { level: 'SOL_SOCKET', kind: 'bool' },
  SO_REUSEPORT: { level: 'SOL_SOCKET', kind: 'bool' },
  SO_KEEPALIVE: { level: 'SOL_SOCKET', kind: 'bool' },
  SO_BROADCAST: { level: 'SOL_SOCKET', kind: 'bool' },
  SO_OOBINLINE: { level: 'SOL_SOCKET', kind: 'bool' },
  SO_RCVBUF: { level: 'SOL_SOCKET', kind: 'int' },
  SO_SNDBUF: { level: 'SOL_SOCKET', kind: 'int' },
  SO_RCVLOWAT: { level: 'SOL_SOCKET', kind: 'int' },
  SO_PRIORITY: { level: 'SOL_SOCKET', kind: 'int' },
  SO_LINGER: { level: 'SOL_SOCKET', kind: 'linger' },
  SO_ERROR: { level: 'SOL_SOCKET', kind: 'int', readOnly: true },
  SO_TYPE: { level: 'SOL_SOCKET', kind: 'int', readOnly: true },
  SO_ACCEPTCONN: { level: 'SOL_SOCKET', kind: 'bool', readOnly: true },
  TCP_NODELAY: { level: 'IPPROTO_TCP', kind: 'bool' },
  TCP_KEEPIDLE: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_KEEPINTVL: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_KEEPCNT: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_USER_TIMEOUT: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_DEFER_ACCEPT: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_QUICKACK: { level: 'IPPROTO_TCP', kind: 'bool' },
  TCP_CORK: { level: 'IPPROTO_TCP', kind: 'bool' },
  TCP_MAXSEG: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_FASTOPEN: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_SYNCNT: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_NOTSENT_LOWAT: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_WINDOW_CLAMP: { level: 'IPPROTO_TCP', kind: 'int' },
  TCP_FASTOPEN_CONNECT: { level: 'IPPROTO_TCP', kind: 'bool' },
  TCP_INFO: { level: 'IPPROTO_TCP', kind: 'tcpInfo', readOnly: true },
  IP_TTL: { level: 'IPPROTO_IP', kind: 'int' },
  IP_TOS: { level: 'IPPROTO_IP', kind: 'int' },
  IP_BIND_ADDRESS_NO_PORT: { level: 'IPPROTO_IP', kind: 'bool' },
  IPV6_V6ONLY: { level: 'IPPROTO_IPV6', kind: 'bool' },
} as const satisfies Record<string, OptionSpec>;

/** SO_LINGER's struct linger: `linger` in seconds; `{ onoff: true, linger: 0 }` makes close() send RST. */
export interface Linger {
  onoff: boolean;
  linger: number;
}

/** Linux's struct tcp_info, with the state by name. Times in microseconds (rtt, rttvar, rto, ato) or milliseconds (last*). */
export type TcpInfo = Omit<RawTcpInfo, 'state'> & { state: TcpState | 'UNKNOWN' };

interface KindValues {
  bool: boolean;
  int: number;
  linger: Linger;
  tcpInfo: TcpInfo;
}

export type OptionName = keyof typeof OPTIONS;
export type OptionValue<N extends OptionName> = KindValues[(typeof OPTIONS)[N]['kind']];
export type WritableOptionName = {
  [N in OptionName]: (typeof OPTIONS)[N] extends { readOnly: true } ? never : N;
}[OptionName];

interface ResolvedOption {
  readonly name: OptionName;
  readonly level: number;
  readonly optname: number;
  readonly kind: Kind;
  readonly readOnly: boolean;
}

// Resolved once at load: the hot path is one Map lookup, no string work.
const resolved = new Map<string, ResolvedOption>();
for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec][]) {
  const level = binding.constants[spec.level];
  const optname = binding.constants[name];
  if (level === undefined || optname === undefined) continue;
  resolved.set(name, { name, level, optname, kind: spec.kind, readOnly: spec.readOnly === true });
}

function lookup(name: unknown, syscall: string): ResolvedOption {
  if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
  const option = resolved.get(name);
  if (option !== undefined) return option;
  if (Object.hasOwn(OPTIONS, name)) {
    throw errnoException(osConstants.errno.ENOPROTOOPT, syscall, { reason: `${name} is not available on ${process.platform}` });
  }
  throw invalidArgValue('name', name, 'is not a known socket option');
}

/** setsockopt(2) by the option's C name. */
export function setOption<N extends WritableOptionName>(target: Target, name: N, value: OptionValue<N>): void {
  const fd = fdOf(target);
  const option = lookup(name, 'setsockopt');
  if (option.readOnly) throw invalidArgValue('name', name, 'is a read-only socket option');
  switch (option.kind) {
    case 'bool':
      binding.setIntOption(fd, option.level, option.optname, validateBoolean(value, option.name) ? 1 : 0);
      return;
    case 'int':
      binding.setIntOption(fd, option.level, option.optname, validateInteger(value, option.name));
      return;
    case 'linger': {
      const linger = validateObject(value, option.name);
      const onoff = validateBoolean(linger.onoff, `${option.name}.onoff`);
      const seconds = validateInteger(linger.linger, `${option.name}.linger`);
      binding.setLinger(fd, onoff ? 1 : 0, seconds);
      return;
    }
    default:
      throw new Error(`unreachable: writable option kind ${option.kind}`);
  }
}

/** getsockopt(2) by the option's C name. */
export function getOption<N extends OptionName>(target: Target, name: N): OptionValue<N> {
  const fd = fdOf(target);
  const option = lookup(name, 'getsockopt');
  let value: boolean | number | Linger | TcpInfo;
  switch (option.kind) {
    case 'bool':
      value = binding.getIntOption(fd, option.level, option.optname) !== 0;
      break;
    case 'int':
      value = binding.getIntOption(fd, option.level, option.optname);
      break;
    case 'linger':
      value = binding.getLinger(fd);
      break;
    case 'tcpInfo': {
      const info = binding.getTcpInfo(fd);
      value = { ...info, state: tcpStateName(info.state) };
      break;
    }
  }
  return value as OptionValue<N>;
}
