// whyInUse()'s options: the listener that would bind, read once and checked with Node's
// codes (unknown keys refused), the host resolved as listen() resolves it.
import { invalidArgType, invalidArgValue } from '../core/errors';
import { readOptions, validateBoolean, validateInteger } from '../core/validate';
import { defaultBindAddress, resolveHost, type BindAddress } from '../listen/options';

export interface WhyInUseOptions {
  /** An IP literal or a name (dns.lookup), as listen() takes it. Default '::' (dual-stack), as listen(). */
  host?: string;
  /** The port, 1..65535. */
  port: number;
  /** SO_REUSEADDR on the would-be listener (default true, as listen() and libuv set it). */
  reuseAddr?: boolean;
  /** SO_REUSEPORT on the would-be listener (default false). */
  reusePort?: boolean;
  /** IPV6_V6ONLY on an IPv6 listener (default false: dual-stack, as listen()). */
  ipv6Only?: boolean;
}

export interface CheckedWhyOptions {
  host: string | undefined;
  port: number;
  reuseAddr: boolean;
  reusePort: boolean;
  ipv6Only: boolean;
}

export const WHY_OPTION_KEYS = ['host', 'port', 'reuseAddr', 'reusePort', 'ipv6Only'] as const;

export function checkWhyOptions(options: unknown): CheckedWhyOptions {
  if (options === undefined || options === null) throw invalidArgType('options', 'of type object', options);
  const o = readOptions(options, 'options', WHY_OPTION_KEYS, 'an option of whyInUse');
  if (o.host !== undefined && typeof o.host !== 'string') throw invalidArgType('options.host', 'of type string', o.host);
  if (typeof o.host === 'string' && o.host.includes('\0')) {
    throw invalidArgValue('options.host', o.host, 'must be an IP address or a host name without null bytes');
  }
  if (o.port === undefined) throw invalidArgType('options.port', 'of type number', o.port);
  const flag = (value: unknown, name: string, fallback: boolean) => (value === undefined ? fallback : validateBoolean(value, name));
  return {
    host: o.host === '' ? undefined : (o.host as string | undefined),
    port: validateInteger(o.port, 'options.port', 1, 65535),
    reuseAddr: flag(o.reuseAddr, 'options.reuseAddr', true),
    reusePort: flag(o.reusePort, 'options.reusePort', false),
    ipv6Only: flag(o.ipv6Only, 'options.ipv6Only', false),
  };
}

/** Where the listener would bind: listen()'s default is '::' (dual-stack), or '0.0.0.0' without IPv6. */
export async function bindAddressOf(host: string | undefined): Promise<BindAddress> {
  return (await resolveHost(host)) ?? defaultBindAddress();
}
