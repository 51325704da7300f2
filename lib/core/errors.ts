// Errors shaped like Node's own: system errors with code, negative errno and syscall;
// argument errors with Node's ERR_* codes and message wording.
import { constants as osConstants } from 'node:os';
import { getSystemErrorName, inspect, type InspectOptions } from 'node:util';

export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
  /** The socket option a setsockopt/getsockopt failed on ('TCP_KEEPIDLE'). */
  option?: string;
}

export function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as SystemError).errno === 'number' && typeof (error as SystemError).syscall === 'string';
}

// libuv's names miss some errnos the kernel gives (EBADMSG): os.constants.errno has them.
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));

/** The code Node would give `errno` (positive), or the kernel's own name where libuv has none. */
function errnoName(errno: number): string {
  const name = getSystemErrorName(-errno);
  return name.startsWith('Unknown system error') ? (ERRNO_NAMES.get(errno) ?? name) : name;
}

/** `errno` is positive, as C has it; the error carries it negated, as Node does. */
export function errnoException(
  errno: number,
  syscall: string,
  details?: { address?: string; port?: number; reason?: string; option?: string },
): SystemError {
  const code = errnoName(errno);
  let message = `${syscall} ${code}`;
  if (details?.address !== undefined) {
    message += details.port === undefined ? ` ${details.address}` : ` ${details.address}:${details.port}`;
  }
  if (details?.option !== undefined) message += ` (${details.option})`;
  if (details?.reason !== undefined) message += ` (${details.reason})`;
  const error = new Error(message) as SystemError;
  error.errno = -errno;
  error.code = code;
  error.syscall = syscall;
  if (details?.address !== undefined) error.address = details.address;
  if (details?.port !== undefined) error.port = details.port;
  if (details?.option !== undefined) error.option = details.option;
  Error.captureStackTrace(error, errnoException);
  return error;
}

export function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  // As Node does: the stack's first line reads "TypeError [ERR_...]: message".
  const { name } = error;
  error.name = `${name} [${code}]`;
  void error.stack;
  Reflect.deleteProperty(error, 'name');
  return Object.assign(error, { code });
}

/**
 * util.inspect, which throws for some objects (a Buffer.prototype object that is not a
 * typed array: "Method get TypedArray.prototype.length called on incompatible receiver");
 * an error about a bad argument must not fail itself, so those are named by their tag.
 */
function shown(value: unknown, options?: InspectOptions): string {
  try {
    return inspect(value, options);
  } catch {
    try {
      return `${Object.prototype.toString.call(value)} (not inspectable)`;
    } catch {
      return 'a value that cannot be inspected'; // a throwing Symbol.toStringTag getter, a Proxy
    }
  }
}

function describeReceived(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${String(value)}`;
  if (typeof value === 'function') return ` Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    let name: unknown;
    try {
      name = ((value as object).constructor as { name?: unknown } | undefined)?.name;
    } catch {
      // a throwing `constructor` getter: shown below instead
    }
    if (typeof name === 'string' && name !== '') return ` Received an instance of ${name}`;
    return ` Received ${shown(value, { depth: -1 })}`;
  }
  let text = shown(value, { colors: false });
  if (text.length > 28) text = `${text.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${text})`;
}

function subject(name: string): string {
  return name.includes('.') ? `"${name}" property` : `"${name}" argument`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: string } {
  const error = new TypeError(`The ${subject(name)} must be ${expected}.${describeReceived(actual)}`);
  return withCode(error, 'ERR_INVALID_ARG_TYPE');
}

export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): TypeError & { code: string } {
  const kind = name.includes('.') ? 'property' : 'argument';
  const error = new TypeError(`The ${kind} '${name}' ${reason}. Received ${shown(value)}`);
  return withCode(error, 'ERR_INVALID_ARG_VALUE');
}

/** As Node writes a received value: integers above 2**32 with digit groups (9_007_199_254_740_992). */
function describeValue(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) > 2 ** 32) {
    return String(value).replace(/\B(?=(\d{3})+$)/g, '_');
  }
  return shown(value);
}

export function outOfRange(name: string, range: string, received: unknown): RangeError & { code: string } {
  const error = new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describeValue(received)}`);
  return withCode(error, 'ERR_OUT_OF_RANGE');
}

/** Node's ERR_SOCKET_BAD_PORT (validatePort with zero allowed), word for word. */
export function socketBadPort(name: string, port: unknown): RangeError & { code: string } {
  const error = new RangeError(`${name} should be >= 0 and < 65536.${describeReceived(port)}.`);
  return withCode(error, 'ERR_SOCKET_BAD_PORT');
}

/** Node's ERR_SERVER_ALREADY_LISTEN, word for word. */
export function serverAlreadyListen(): Error & { code: string } {
  return withCode(new Error('Listen method has been called more than once without closing.'), 'ERR_SERVER_ALREADY_LISTEN');
}

/** Node's ERR_SERVER_NOT_RUNNING, word for word. */
export function serverNotRunning(): Error & { code: string } {
  return withCode(new Error('Server is not running.'), 'ERR_SERVER_NOT_RUNNING');
}

/** A failure of sockctl's own, with no system call behind it: a code in Node's ERR_ form. */
export function sockctlError(code: `ERR_SOCKCTL_${string}`, message: string): Error & { code: string } {
  return withCode(new Error(message), code);
}

/** Node's ERR_ILLEGAL_CONSTRUCTOR (as `new AbortSignal()` throws): a class only sockctl itself makes. */
export function illegalConstructor(): TypeError & { code: string } {
  return withCode(new TypeError('Illegal constructor'), 'ERR_ILLEGAL_CONSTRUCTOR');
}

/** Node's AbortError (as timers/promises and fs reject with): code ABORT_ERR, the signal's reason as cause. */
export function abortError(signal: AbortSignal): Error & { code: 'ABORT_ERR' } {
  const error = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: 'ABORT_ERR' };
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  return error;
}
