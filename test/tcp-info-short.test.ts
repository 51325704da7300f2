// getOption(s, 'TCP_INFO') when the kernel fills a short struct tcp_info (qemu-user: 4
// bytes): the binding's getTcpInfo answers through the real decoder given 4 bytes, and
// the fields beyond them are absent from what getOption returns, never 0.
import { describe, expect, it, vi } from 'vitest';

let filled = Uint8Array.of(1, 0, 0, 0); // TCP_ESTABLISHED, then ca_state, retransmits, probes
vi.mock('../lib/core/binding', async (importOriginal) => {
  const real = await importOriginal<typeof import('../lib/core/binding')>();
  return { ...real, binding: { ...real.binding, getTcpInfo: () => real.binding.decodeTcpInfo(filled) } };
});

const { getOption, socket } = await import('../lib/index');

describe('a short TCP_INFO', () => {
  it('4 bytes: the state by name and three counters; no rtt, no rto', () => {
    const s = socket('ipv4');
    try {
      const info = getOption(s, 'TCP_INFO');
      expect(info).toEqual({ state: 'ESTABLISHED', caState: 0, retransmits: 0, probes: 0 });
      expect('rtt' in info).toBe(false);
    } finally {
      s.close();
    }
  });

  it('0 bytes: the state is UNKNOWN, nothing else', () => {
    filled = new Uint8Array(0);
    const s = socket('ipv4');
    try {
      expect(getOption(s, 'TCP_INFO')).toEqual({ state: 'UNKNOWN' });
    } finally {
      s.close();
    }
  });
});
