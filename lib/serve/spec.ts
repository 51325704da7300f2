// The `--listen` specs of `sockctl serve` (and `serve({ listen })`), as text:
//   [NAME=]HOST:PORT, NAME=unix:/PATH, NAME=udp:HOST:PORT, each with ,key=value options;
//   a bare NAME picks a socket the service manager passed (LISTEN_FDS).
import { withCode } from '../core/errors';
import { OPTIONS as SOCKET_OPTIONS } from '../core/options';
import type { ListenSpec } from './listeners';

/** A spec that is not one: the CLI prints the message (exit 2), serve() throws it. */
function bad(message: string): TypeError {
  return withCode(new TypeError(message), 'ERR_INVALID_ARG_VALUE');
}

/** `OPTION=VALUE` of a --listen spec, checked later as listen() checks sockopts. */
function socketOption(name: string, text: string, spec: string): [string, boolean | number] {
  const option = (SOCKET_OPTIONS as Record<string, { kind: string; readOnly?: boolean }>)[name];
  if (option === undefined || option.readOnly || (option.kind !== 'bool' && option.kind !== 'int')) {
    throw bad(`--listen ${spec}: '${name}' is not a writable socket option that takes a flag or a number`);
  }
  if (option.kind === 'bool') {
    if (!/^(1|0|true|false|yes|no|on|off)$/.test(text)) throw bad(`--listen ${spec}: ${name} takes 1 or 0, not '${text}'`);
    return [name, /^(1|true|yes|on)$/.test(text)];
  }
  if (!/^-?\d+$/.test(text)) throw bad(`--listen ${spec}: ${name} takes an integer, not '${text}'`);
  return [name, Number(text)];
}

/**
 * `[NAME=]HOST:PORT`, `NAME=unix:/PATH` or `NAME=udp:HOST:PORT`, then `,key=value` options;
 * a name as systemd's FileDescriptorName= allows (LISTEN_FDNAMES is ':'-separated).
 */
function wholeNumber(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > 2 ** 31 - 1) throw bad(`${what} must be an integer from 1 to ${2 ** 31 - 1}, not '${text}'`);
  return Number(text);
}

export function parseListen(text: string): ListenSpec {
  if (/^[\x21-\x7e]{1,255}$/.test(text) && !/[=:,]/.test(text)) return { kind: 'inherited', name: text };
  const [address = '', ...extras] = text.split(',');
  const equals = address.indexOf('=');
  const named = equals !== -1 && !address.slice(0, equals).includes(':') && !address.startsWith('[');
  const name = named ? address.slice(0, equals) : 'unknown';
  const where = named ? address.slice(equals + 1) : address;
  if (!/^[\x21-\x7e]{1,255}$/.test(name) || name.includes(':') || name.includes(',')) {
    throw bad(`--listen: the name '${name}' must be 1 to 255 printable ASCII characters without ':' or ','`);
  }
  const options = new Map<string, string>();
  for (const extra of extras) {
    const at = extra.indexOf('=');
    if (at <= 0) throw bad(`--listen ${text}: '${extra}' must be key=value`);
    if (options.has(extra.slice(0, at))) throw bad(`--listen ${text}: '${extra.slice(0, at)}' is given twice`);
    options.set(extra.slice(0, at), extra.slice(at + 1));
  }
  const backlogText = options.get('backlog');
  options.delete('backlog');
  const backlog = backlogText === undefined ? undefined : wholeNumber(backlogText, `--listen ${text}: backlog`);
  if (where.startsWith('unix:')) {
    const path = where.slice(5);
    if (!path.startsWith('/') || path.includes('\0') || Buffer.byteLength(path) > 107) {
      throw bad(`--listen ${text}: a UNIX socket needs an absolute path of at most 107 bytes`);
    }
    const modeText = options.get('mode');
    options.delete('mode');
    if (modeText !== undefined && !/^0?[0-7]{3}$/.test(modeText)) throw bad(`--listen ${text}: mode must be octal, as 0660`);
    if (options.size > 0) throw bad(`--listen ${text}: a UNIX socket takes backlog= and mode= only`);
    return { kind: 'unix', name, path, ...(backlog !== undefined && { backlog }), ...(modeText !== undefined && { mode: parseInt(modeText, 8) }) };
  }
  const udp = where.startsWith('udp:');
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(udp ? where.slice(4) : where);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw bad(`--listen must be [NAME=]HOST:PORT, NAME=unix:/PATH or NAME=udp:HOST:PORT (IPv6 as [::1]:8080), with a port from 0 to 65535, not '${text}'`);
  }
  if (options.has('mode')) throw bad(`--listen ${text}: mode= is for UNIX sockets`);
  const sockopts = Object.fromEntries([...options].map(([key, value]) => socketOption(key, value, text)));
  const host = match[1] ?? match[2]!;
  if (udp) {
    if (backlog !== undefined) throw bad(`--listen ${text}: a UDP socket has no backlog`);
    return { kind: 'udp', name, host, port, sockopts };
  }
  return { kind: 'tcp', name, host, port, sockopts, ...(backlog !== undefined && { backlog }) };
}

