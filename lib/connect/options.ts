// connect()'s options, read once into plain values and checked as Node's connect checks
// them; `sockopts` through the one check listen's go through (core/options.ts).
import { isIP } from 'node:net';
import { invalidArgType, invalidArgValue, socketBadPort, withCode } from '../core/errors';
import { checkSockopts, type OptionValue, type PreparedOption, type WritableOptionName } from '../core/options';
import { INT32_MAX, readOptions, validateAbortSignal, validateBoolean, validateInteger } from '../core/validate';

/** Options with a property of their own in ConnectOptions, so not in `sockopts`. */
type DedicatedOption = 'SO_REUSEADDR' | 'SO_REUSEPORT' | 'IPV6_V6ONLY' | 'IP_BIND_ADDRESS_NO_PORT';

export type ConnectSockopts = { [N in Exclude<WritableOptionName, DedicatedOption>]?: OptionValue<N> };

export interface ConnectOptions {
  /** The peer's port (required). */
  port: number | string;
  /** An IP literal or a name (dns.lookup, first answer, as Node's connect with autoSelectFamily false). Default 'localhost'. */
  host?: string;
  /** The local IP literal to bind to before connect. */
  localAddress?: string;
  /** The local port to bind to before connect (0 or absent: the kernel's choice at connect). */
  localPort?: number;
  /** SO_REUSEADDR before bind (default false: the kernel's default, unlike Node, which always sets it). */
  reuseAddr?: boolean;
  /** SO_REUSEPORT before bind (default false). */
  reusePort?: boolean;
  /** IP_BIND_ADDRESS_NO_PORT (Linux): bind the address only, the port chosen at connect for the 4-tuple. */
  bindAddressNoPort?: boolean;
  /** IPV6_V6ONLY on an IPv6 socket (default: the kernel's). */
  ipv6Only?: boolean;
  /** Any other writable option of the table, by C name, set before bind and connect in this order. */
  sockopts?: ConnectSockopts;
  /** Rejects with ETIMEDOUT (descriptor closed) when not connected within this many milliseconds of the call (lookup included). */
  timeoutMs?: number;
  /** Abandons the pending connect (descriptor closed), rejecting with an AbortError. */
  signal?: AbortSignal;
  /** As Node's: the socket stays writable after the peer's FIN (default false). */
  allowHalfOpen?: boolean;
}

export interface CheckedConnectOptions {
  port: number;
  host: string;
  localAddress: string | undefined;
  localPort: number;
  reuseAddr: boolean;
  reusePort: boolean;
  bindAddressNoPort: boolean;
  ipv6Only: boolean | undefined;
  sockopts: readonly PreparedOption[];
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  allowHalfOpen: boolean;
}

const KNOWN_OPTIONS = [
  'port',
  'host',
  'localAddress',
  'localPort',
  'reuseAddr',
  'reusePort',
  'bindAddressNoPort',
  'ipv6Only',
  'sockopts',
  'timeoutMs',
  'signal',
  'allowHalfOpen',
];

const DEDICATED: Readonly<Record<DedicatedOption, string>> = {
  SO_REUSEADDR: 'options.reuseAddr',
  SO_REUSEPORT: 'options.reusePort',
  IPV6_V6ONLY: 'options.ipv6Only',
  IP_BIND_ADDRESS_NO_PORT: 'options.bindAddressNoPort',
};

/** Node's connect: a number or numeric string, 0..65535, as validatePort words it. */
function checkPort(port: unknown): number {
  if (port === undefined) {
    throw withCode(new TypeError('The "options.port" argument must be specified'), 'ERR_MISSING_ARGS');
  }
  if (typeof port !== 'number' && typeof port !== 'string') throw invalidArgType('options.port', 'one of type number or string', port);
  if ((typeof port === 'string' && port.trim().length === 0) || +port !== +port >>> 0 || +port > 0xffff) {
    throw socketBadPort('Port', port);
  }
  return +port;
}

function checkLocalPort(port: unknown): number {
  if (port === undefined) return 0;
  if (typeof port !== 'number') throw invalidArgType('options.localPort', 'of type number', port);
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw socketBadPort('options.localPort', port);
  return port;
}

function checkLocalAddress(address: unknown): string | undefined {
  if (address === undefined) return undefined;
  if (typeof address !== 'string') throw invalidArgType('options.localAddress', 'of type string', address);
  if (isIP(address) === 0) throw withCode(new TypeError(`Invalid IP address: ${address}`), 'ERR_INVALID_IP_ADDRESS');
  return address;
}

const optional = (value: unknown, name: string, fallback: boolean): boolean =>
  value === undefined ? fallback : validateBoolean(value, name);

export function checkConnectOptions(options: unknown): CheckedConnectOptions {
  const o = readOptions(options, 'options', KNOWN_OPTIONS, 'an option of connect()', true);
  // Each property read exactly once, here: a getter cannot answer differently later.
  const { port, host, localAddress, localPort, reuseAddr, reusePort, bindAddressNoPort, ipv6Only, sockopts, timeoutMs, signal, allowHalfOpen } =
    o;
  if (host !== undefined && typeof host !== 'string') throw invalidArgType('options.host', 'of type string', host);
  // getaddrinfo would stop at a NUL: '127.0.0.1\0anything' must not mean 127.0.0.1 (as listen refuses it).
  if (typeof host === 'string' && host.includes('\0')) {
    throw invalidArgValue('options.host', host, 'must be an IP address or a host name without null bytes');
  }
  return {
    port: checkPort(port),
    host: host === undefined || host === '' ? 'localhost' : host,
    localAddress: checkLocalAddress(localAddress),
    localPort: checkLocalPort(localPort),
    reuseAddr: optional(reuseAddr, 'options.reuseAddr', false),
    reusePort: optional(reusePort, 'options.reusePort', false),
    bindAddressNoPort: optional(bindAddressNoPort, 'options.bindAddressNoPort', false),
    ipv6Only: ipv6Only === undefined ? undefined : validateBoolean(ipv6Only, 'options.ipv6Only'),
    sockopts: checkSockopts(sockopts, DEDICATED),
    timeoutMs: timeoutMs === undefined ? undefined : validateInteger(timeoutMs, 'options.timeoutMs', 1, INT32_MAX),
    signal: signal === undefined ? undefined : validateAbortSignal(signal, 'options.signal'),
    allowHalfOpen: optional(allowHalfOpen, 'options.allowHalfOpen', false),
  };
}
