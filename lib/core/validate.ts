// Argument checks with Node's codes; every public function validates here before the
// binding sees a value.
import { invalidArgType, invalidArgValue, outOfRange } from './errors';

export const INT32_MAX = 2 ** 31 - 1;

export function validateInteger(value: unknown, name: string, min = 0, max = INT32_MAX): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  return value;
}

export function validateAbortSignal(value: unknown, name: string): AbortSignal {
  if (!(value instanceof AbortSignal)) throw invalidArgType(name, 'an instance of AbortSignal', value);
  return value;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  return value as Record<string, unknown>;
}

/** An object literal (or Object.create(null)): not a Map, an array or a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The one way to take an options object (or a filter) from a caller: `value` must be a
 * plain object (undefined reads as {}, unless `required`); a key outside `keys` is an error (a typo must
 * not be silently ignored); each own property is read exactly once, into a fresh object
 * that the caller then checks and acts on. A getter or Proxy therefore cannot answer one
 * thing to the check and another to the system call.
 *
 *   const o = readOptions(options, 'options', ['timeoutMs', 'signal'], 'an option of waitForState');
 *   const timeoutMs = o.timeoutMs === undefined ? 5000 : validateInteger(o.timeoutMs, 'options.timeoutMs');
 */
export function readOptions<K extends string>(
  value: unknown,
  name: string,
  keys: readonly K[],
  what = 'a known option',
  required = false,
): { readonly [P in K]?: unknown } {
  if (value === undefined && !required) return {};
  validateObject(value, name);
  if (!isPlainObject(value)) throw invalidArgType(name, 'a plain object', value);
  const copy: { [P in K]?: unknown } = Object.create(null);
  // Own names, enumerable or not: a property defined non-enumerable still means something.
  for (const key of Object.getOwnPropertyNames(value)) {
    if (!(keys as readonly string[]).includes(key)) {
      // The received value shown without running a getter.
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      const shown = descriptor !== undefined && 'value' in descriptor ? descriptor.value : '[Getter]';
      throw invalidArgValue(`${name}.${key}`, shown, `is not ${what} (${keys.join(', ')})`);
    }
    copy[key as K] = value[key];
  }
  return copy;
}
