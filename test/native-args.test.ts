// The native functions check their arguments again, cheaply, for code that calls the
// binding directly: a wrong type is Node's TypeError, never a crash or a silent 0.
import { describe, expect, it } from 'vitest';
import { binding } from '../lib/core/binding';

type Call = [string, () => unknown, string];

describe('the binding called directly with wrong types', () => {
  const calls: Call[] = [
    ['setIntOption', () => (binding.setIntOption as (...a: unknown[]) => void)('3', 1, 1, 1), 'The "fd" argument must be of type number'],
    ['setIntOption', () => (binding.setIntOption as (...a: unknown[]) => void)(3, 1, 1), 'The "value" argument must be of type number'],
    ['getIntOption', () => (binding.getIntOption as (...a: unknown[]) => void)(3, null, 1), 'The "level" argument must be of type number'],
    ['setLinger', () => (binding.setLinger as (...a: unknown[]) => void)(3, true, 0), 'The "onoff" argument must be of type number'],
    ['shutdown', () => (binding.shutdown as (...a: unknown[]) => void)(3), 'The "how" argument must be of type number'],
    ['dup', () => (binding.dup as (...a: unknown[]) => void)(), 'The "fd" argument must be of type number'],
    ['send', () => (binding.send as (...a: unknown[]) => void)(3, 'text'), 'The "data" argument must be an instance of Buffer or TypedArray'],
    ['send', () => (binding.send as (...a: unknown[]) => void)(3, new DataView(new ArrayBuffer(4))), 'The "data" argument must be an instance of Buffer or TypedArray'],
    ['own', () => (binding.own as (...a: unknown[]) => void)('3'), 'The "fd" argument must be of type number'],
    ['disown', () => (binding.disown as (...a: unknown[]) => void)(), 'The "fd" argument must be of type number'],
    ['closeIfOwned', () => (binding.closeIfOwned as (...a: unknown[]) => void)(null), 'The "fd" argument must be of type number'],
    ['bind', () => (binding.bind as (...a: unknown[]) => void)(3, 127, 0), 'The "address" argument must be of type string'],
    ['setErrorFactory', () => (binding.setErrorFactory as (...a: unknown[]) => void)(42), 'The "factory" argument must be of type function'],
    // A DataView passes napi_is_buffer on Node 20 and then failed as an uncoded "Invalid argument" (found by the fuzz campaign).
    ['notify', () => (binding.notify as (...a: unknown[]) => void)('/nonexistent/sockctl', new DataView(new ArrayBuffer(4))), 'The "message" argument must be an instance of Buffer'],
    ['sendFds', () => (binding.sendFds as (...a: unknown[]) => void)(1_000_000, new DataView(new ArrayBuffer(4)), [], 0), 'The "data" argument must be an instance of Buffer'],
    ['diagRowsFromMessages', () => (binding.diagRowsFromMessages as (...a: unknown[]) => void)(new DataView(new ArrayBuffer(4))), 'The "messages" argument must be an instance of Buffer'],
  ];
  for (const [name, call, message] of calls) {
    it(`${name}: ${message}`, () => {
      expect(call).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message }));
    });
  }

  it('a negative descriptor is a RangeError', () => {
    expect(() => binding.dup(-1)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
  });

  // napi_get_value_int32 alone would make NaN 0 (stdin) and 2**32 + 3 descriptor 3.
  for (const value of [NaN, Infinity, 1.5, 2 ** 32 + 3, -(2 ** 31) - 1]) {
    it(`${value} is no descriptor, nor any other integer argument`, () => {
      const outOfRange = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "fd" is out of range. It must be a 32-bit integer' });
      expect(() => binding.close(value)).toThrow(outOfRange);
      expect(() => binding.shutdown(0, value)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"how"') }));
    });
  }
});
