// Socket options by their C names. One table says, for each name, its level, the kind of
// value and whether it is read-only; setOption and getOption both work from it. The
// numbers come from the addon (this platform's headers): a name it lacks is ENOPROTOOPT.
import { constants as osConstants } from 'node:os';
import { binding } from './binding';
import { errnoException, invalidArgType, invalidArgValue, isSystemError } from './errors';
import { fdOf, type Target } from './target';
import { tcpStateName, type TcpState } from './tcp-states';
import type { RawTcpInfo } from './binding';
import { isPlainObject, readOptions, validateBoolean, validateInteger, validateObject } from './validate';

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

/**
 * Linux's struct tcp_info, with the state by name. Times in microseconds (rtt, rttvar, rto,
 * ato) or milliseconds (last*). A field the kernel did not fill (a shorter struct, as
 * qemu-user returns) is absent, never 0.
 */
export type TcpInfo = Omit<RawTcpInfo, 'state'> & { state: TcpState | 'UNKNOWN' };

/** The decoder's fields with the state named: getOption's TCP_INFO, and tcpStates' `info`. */
export function tcpInfoOf(info: RawTcpInfo): TcpInfo {
  return { ...info, state: info.state === undefined ? 'UNKNOWN' : (tcpStateName(info.state) as TcpState | 'UNKNOWN') };
}

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

/** `where`/`value`: how an unknown name is reported (by default as the "name" argument). */
function lookup(name: unknown, syscall: string, where = 'name', value: unknown = name): ResolvedOption {
  if (typeof name !== 'string') throw invalidArgType(where, 'of type string', name);
  const option = resolved.get(name);
  if (option !== undefined) return option;
  if (Object.hasOwn(OPTIONS, name)) {
    const error = errnoException(osConstants.errno.ENOPROTOOPT, syscall, { reason: `${name} is not available on ${process.platform}` });
    throw Object.assign(error, { option: name });
  }
  throw invalidArgValue(where, value, 'is not a known socket option');
}

/** A checked setsockopt: the option resolved and its value copied into plain numbers. */
export interface PreparedOption {
  readonly option: ResolvedOption;
  /** The int for 'bool' and 'int'; [onoff, linger] for SO_LINGER. */
  readonly value: number | readonly [number, number];
}

/**
 * The one check of a value for setsockopt (setOption and listen's sockopts both use it):
 * the name known and writable, the value read once (SO_LINGER's getters included) and
 * checked. `where` names the value in errors ('SO_LINGER', 'options.sockopts.SO_LINGER').
 */
export function prepareOption(name: unknown, value: unknown, where?: string): PreparedOption {
  const option = where === undefined ? lookup(name, 'setsockopt') : lookup(name, 'setsockopt', where, value);
  if (option.readOnly) {
    throw where === undefined ? invalidArgValue('name', name, 'is a read-only socket option') : invalidArgValue(where, value, 'is a read-only socket option');
  }
  where ??= option.name;
  switch (option.kind) {
    case 'bool':
      return { option, value: validateBoolean(value, where) ? 1 : 0 };
    case 'int':
      return { option, value: validateInteger(value, where) };
    case 'linger': {
      const linger = readOptions(value, where, ['onoff', 'linger'], 'a field of struct linger');
      const onoff = validateBoolean(linger.onoff, `${where}.onoff`);
      return { option, value: [onoff ? 1 : 0, validateInteger(linger.linger, `${where}.linger`)] };
    }
    default:
      throw new Error(`unreachable: writable option kind ${option.kind}`);
  }
}

/**
 * The one check of a `sockopts` object (listen's and connect's): a plain object of option
 * names, known and writable, each value read once and prepared in order. An option the
 * caller has a property of its own for (`dedicated`: its name, and that property's) is
 * refused with a pointer to it.
 */
export function checkSockopts(value: unknown, dedicated: Readonly<Record<string, string>>): PreparedOption[] {
  if (value === undefined) return [];
  validateObject(value, 'options.sockopts');
  if (!isPlainObject(value)) throw invalidArgType('options.sockopts', 'a plain object', value);
  const prepared: PreparedOption[] = [];
  for (const name of Object.getOwnPropertyNames(value)) {
    const where = `options.sockopts.${name}`;
    const option = (value as Record<string, unknown>)[name]; // read once
    if (Object.hasOwn(dedicated, name)) throw invalidArgValue(where, option, `must be set through ${dedicated[name]}`);
    prepared.push(prepareOption(name, option, where));
  }
  return prepared;
}

/** A system error from the binding, with the option's name in its message and `option`. */
function naming<T>(option: ResolvedOption, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (!isSystemError(error)) throw error;
    throw errnoException(-error.errno, error.syscall, { option: option.name });
  }
}

/** setsockopt(2) of a prepared option; a refusal names the option (`setsockopt EINVAL (TCP_KEEPIDLE)`). */
export function applyOption(fd: number, prepared: PreparedOption): void {
  const { option, value } = prepared;
  naming(option, () => {
    if (typeof value === 'number') binding.setIntOption(fd, option.level, option.optname, value);
    else binding.setLinger(fd, value[0], value[1]);
  });
}

/** setsockopt(2) by the option's C name. The value is read and checked before the target. */
export function setOption<N extends WritableOptionName>(target: Target, name: N, value: OptionValue<N>): void {
  const prepared = prepareOption(name, value);
  applyOption(fdOf(target), prepared);
}

/** getsockopt(2) by the option's C name. */
export function getOption<N extends OptionName>(target: Target, name: N): OptionValue<N> {
  const option = lookup(name, 'getsockopt');
  const fd = fdOf(target);
  return naming(option, () => {
    switch (option.kind) {
      case 'bool':
        return binding.getIntOption(fd, option.level, option.optname) !== 0;
      case 'int':
        return binding.getIntOption(fd, option.level, option.optname);
      case 'linger':
        return binding.getLinger(fd);
      case 'tcpInfo':
        return tcpInfoOf(binding.getTcpInfo(fd));
    }
  }) as OptionValue<N>;
}
