// listen()'s options, checked as Node's own listen checks them, and the host resolved as
// Node resolves it (dns.lookup for a name; '::' dual-stack, else '0.0.0.0', by default).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { invalidArgType, invalidArgValue, isSystemError, socketBadPort } from '../core/errors';
import { socket } from '../core/socket';
import { checkSockopts, type OptionValue, type PreparedOption, type WritableOptionName } from '../core/options';
import { INT32_MAX, readOptions, validateBoolean, validateInteger } from '../core/validate';

/** Options with a property of their own in ListenOptions, so not in `sockopts`. */
type DedicatedOption = 'SO_REUSEADDR' | 'SO_REUSEPORT' | 'IPV6_V6ONLY';
const DEDICATED: Readonly<Record<DedicatedOption, string>> = {
  SO_REUSEADDR: 'options.reuseAddr',
  SO_REUSEPORT: 'options.reusePort',
  IPV6_V6ONLY: 'options.ipv6Only',
};

export type ListenSockopts = { [N in Exclude<WritableOptionName, DedicatedOption>]?: OptionValue<N> };

export interface ListenOptions {
  /** 0 (the default) lets the kernel choose; `server.address().port` tells which. A numeric string is taken, as Node's listen takes it. */
  port?: number | string;
  /** An IP literal or a name (dns.lookup, first answer, as Node). Default '::' (dual-stack), or '0.0.0.0' without IPv6. */
  host?: string;
  /** listen(2)'s backlog; 0 or absent means 511, as in Node. */
  backlog?: number;
  /** IPV6_V6ONLY on an IPv6 listener (default false: dual-stack); ignored for IPv4, as in Node. */
  ipv6Only?: boolean;
  /** SO_REUSEADDR (default true, as libuv sets it); false leaves it off. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT (default false). */
  reusePort?: boolean;
  /** Any other option from the options table, by C name, set before bind in this order. */
  sockopts?: ListenSockopts;
}

/** restart()'s options: a listener's, without the port (the old server's is kept). */
export type RestartOptions = Omit<ListenOptions, 'port'> & {
  /**
   * true: hand `next` the old listener's very socket (a duplicate of its descriptor), so
   * nothing queued is lost. false (the default): bind a new socket on the port, the mode
   * that shows what TIME_WAIT and the reuse options do.
   */
  sameSocket?: boolean;
};

export interface CheckedListenOptions {
  port: number;
  host: string | undefined;
  backlog: number;
  ipv6Only: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
  /** Checked and copied before any socket is made; applied in this order. */
  sockopts: readonly PreparedOption[];
}

/** Node's validatePort: an integer 0..65535, as a number or a numeric string. */
function checkPort(port: unknown): number {
  if (port === undefined || port === null) return 0;
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff
  ) {
    throw socketBadPort('options.port', port);
  }
  return +port;
}

function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  return value === undefined ? fallback : validateBoolean(value, name);
}


export const LISTEN_OPTION_KEYS = ['port', 'host', 'backlog', 'ipv6Only', 'reuseAddr', 'reusePort', 'sockopts'] as const;

export function checkListenOptions(options: unknown): CheckedListenOptions {
  // A typo (reuseaddr) or Node's path/signal/exclusive must not be silently ignored.
  const o = readOptions(options ?? undefined, 'options', LISTEN_OPTION_KEYS, 'an option of a TCP listener');
  if (o.host !== undefined && o.host !== null && typeof o.host !== 'string') {
    throw invalidArgType('options.host', 'of type string', o.host);
  }
  // getaddrinfo would stop at a NUL: '127.0.0.1\0anything' must not mean 127.0.0.1.
  if (typeof o.host === 'string' && o.host.includes('\0')) {
    throw invalidArgValue('options.host', o.host, 'must be an IP address or a host name without null bytes');
  }
  const backlog = o.backlog === undefined ? 0 : validateInteger(o.backlog, 'options.backlog', 0, INT32_MAX);
  return {
    port: checkPort(o.port),
    host: (o.host as string | null | undefined) ?? undefined,
    backlog: backlog || 511,
    ipv6Only: checkBoolean(o.ipv6Only, 'options.ipv6Only', false),
    reuseAddr: checkBoolean(o.reuseAddr, 'options.reuseAddr', true),
    reusePort: checkBoolean(o.reusePort, 'options.reusePort', false),
    sockopts: checkSockopts(o.sockopts, DEDICATED),
  };
}

/** Where to bind: an IP literal and its family, or undefined for Node's default ('::', else '0.0.0.0'). */
export interface BindAddress {
  address: string;
  family: 'ipv4' | 'ipv6';
}

let hasIpv6: boolean | undefined;

/**
 * Node's default when no host is given: '::' (dual-stack), or '0.0.0.0' where this host has
 * no IPv6 at all (socket(AF_INET6) fails with EAFNOSUPPORT: a kernel booted with
 * ipv6.disable=1). Asked of the kernel once.
 */
export function defaultBindAddress(): BindAddress {
  if (hasIpv6 === undefined) {
    try {
      socket('ipv6').close();
      hasIpv6 = true;
    } catch (error) {
      if (!isSystemError(error) || error.code !== 'EAFNOSUPPORT') throw error;
      hasIpv6 = false;
    }
  }
  return hasIpv6 ? { address: '::', family: 'ipv6' } : { address: '0.0.0.0', family: 'ipv4' };
}

/** As Node's listen: an IP literal as is, a name through dns.lookup (its first answer). */
export async function resolveHost(host: string | undefined): Promise<BindAddress | undefined> {
  if (host === undefined || host === '') return undefined;
  const literal = isIP(host);
  if (literal !== 0) return { address: host, family: literal === 6 ? 'ipv6' : 'ipv4' };
  const { address, family } = await lookup(host);
  return { address, family: family === 6 ? 'ipv6' : 'ipv4' };
}
