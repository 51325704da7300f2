// On a platform whose headers lack an option (macOS has no TCP_INFO as Linux lays it out,
// no TCP_KEEPIDLE by that name), the name is absent from the addon's constants; setOption
// and getOption must then fail with ENOPROTOOPT, never pass a wrong number or do nothing.
import { constants as osConstants } from 'node:os';
import { describe, expect, it, vi } from 'vitest';

vi.mock('../lib/core/binding', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/core/binding')>();
  const { TCP_INFO: _info, TCP_KEEPIDLE: _idle, ...constants } = real.binding.constants;
  return { ...real, binding: { ...real.binding, constants } };
});

const { getOption, setOption, socket } = await import('../lib/index');

describe('an option this platform lacks', () => {
  it('fails with ENOPROTOOPT and says which option', () => {
    const s = socket('ipv4');
    try {
      expect(() => setOption(s, 'TCP_KEEPIDLE', 30)).toThrow(
        expect.objectContaining({ code: 'ENOPROTOOPT', errno: -osConstants.errno.ENOPROTOOPT, syscall: 'setsockopt', message: `setsockopt ENOPROTOOPT (TCP_KEEPIDLE is not available on ${process.platform})` }),
      );
      expect(() => getOption(s, 'TCP_INFO')).toThrow(expect.objectContaining({ code: 'ENOPROTOOPT', syscall: 'getsockopt' }));
      // The options it has still work.
      setOption(s, 'TCP_KEEPINTVL', 9);
      expect(getOption(s, 'TCP_KEEPINTVL')).toBe(9);
    } finally {
      s.close();
    }
  });
});
