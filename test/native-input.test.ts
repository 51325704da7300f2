// The raw binding's own checks, for callers that skip lib/: a port's range, an address with
// a NUL byte, and TCP_INFO decoded only as far as the kernel filled it.
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { binding } from '../lib/core/binding';
import { getOption, socket } from '../lib/index';
import { connectedPair, isLinux } from './helpers/net';

describe.skipIf(!isLinux)('bind in the raw binding', () => {
  it.each([70000, -1, 65536])('port %d is ERR_OUT_OF_RANGE, and the socket stays unbound', (port) => {
    const s = socket('ipv4');
    try {
      expect(() => binding.bind(s.fd, '127.0.0.1', port)).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "port" is out of range. It must be >= 0 && <= 65535' }),
      );
      expect(binding.localAddress(s.fd)).toEqual({ address: '0.0.0.0', family: 'IPv4', port: 0 });
    } finally {
      s.close();
    }
  });

  it('an address with a NUL byte is refused, not cut short at it', () => {
    const s = socket('ipv4');
    try {
      expect(() => binding.bind(s.fd, '127.0.0.1\0.evil', 0)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "The argument 'address' must be an IP address without null bytes" }),
      );
      expect(binding.localAddress(s.fd).address).toBe('0.0.0.0');
      // Control: the same address without the tail binds.
      binding.bind(s.fd, '127.0.0.1', 0);
      expect(binding.localAddress(s.fd).address).toBe('127.0.0.1');
    } finally {
      s.close();
    }
  });
});

describe.skipIf(!isLinux)('TCP_INFO honours the length the kernel returns', () => {
  it('4 bytes (what qemu-user returns): state and the three bytes after it, nothing else', () => {
    const info = binding.decodeTcpInfo(Uint8Array.of(1, 2, 3, 4));
    expect(info).toEqual({ state: 1, caState: 2, retransmits: 3, probes: 4 });
    expect('rtt' in info).toBe(false);
  });

  it('7 bytes reach the window scales (bit-fields); 0 bytes give nothing', () => {
    expect(binding.decodeTcpInfo(Uint8Array.of(1, 0, 0, 0, 0, 0, 0x7a))).toMatchObject({ options: 0, sndWscale: 0xa, rcvWscale: 0x7 });
    expect(Object.keys(binding.decodeTcpInfo(new Uint8Array(6)))).not.toContain('sndWscale');
    expect(binding.decodeTcpInfo(new Uint8Array(0))).toEqual({});
  });

  it('a 4-byte integer field is present only when all 4 bytes are', () => {
    // rto is the first 32-bit field, at offset 8.
    expect('rto' in binding.decodeTcpInfo(new Uint8Array(11))).toBe(false);
    const bytes = new Uint8Array(12);
    new DataView(bytes.buffer).setUint32(8, 200_000, true);
    expect(binding.decodeTcpInfo(bytes).rto).toBe(200_000);
  });

  it("the kernel's fields beyond glibc's struct: an 8-byte one only when all 8 bytes are", () => {
    expect(Object.keys(binding.decodeTcpInfo(new Uint8Array(104)))).toHaveLength(31); // glibc's struct tcp_info
    expect('pacingRate' in binding.decodeTcpInfo(new Uint8Array(111))).toBe(false);
    const bytes = new Uint8Array(232);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(104, 12_345_678_901n, true); // tcpi_pacing_rate
    view.setBigUint64(160, 42n, true); // tcpi_delivery_rate
    view.setUint32(228, 65_483, true); // tcpi_snd_wnd
    expect(binding.decodeTcpInfo(bytes)).toMatchObject({ pacingRate: 12_345_678_901, deliveryRate: 42, sndWnd: 65_483 });
  });

  it('a full read from the kernel has every field (control), and getOption names the state', async () => {
    const pair = await connectedPair();
    try {
      const info = getOption(pair.client, 'TCP_INFO');
      expect(info.state).toBe('ESTABLISHED');
      // glibc's 31 fields and the kernel's 22 later ones (its struct is 232 bytes since 6.2).
      const [major = 0, minor = 0] = release().split('.').map(Number);
      if (major > 6 || (major === 6 && minor >= 2)) expect(Object.keys(info)).toHaveLength(53);
      else expect(Object.keys(info).length).toBeGreaterThan(31);
      expect(info.segsOut).toBeGreaterThan(0);
      expect(info.rtt).toBeGreaterThan(0);
    } finally {
      await pair.close();
    }
  });
});
