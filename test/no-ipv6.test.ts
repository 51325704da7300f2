// A host with no IPv6 at all (a kernel booted with ipv6.disable=1: socket(AF_INET6) fails
// with EAFNOSUPPORT), made here by replacing the library's socket() for the IPv6 family
// only: listen() and whyInUse() without a host both take 0.0.0.0 there, as Node's listen
// does, and agree with each other (ss is the witness of where the listener is).
import net from 'node:net';
import { constants } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { errnoException } from '../lib/core/errors';
import { listen, whyInUse } from '../lib/index';
import { closeTracked, portOf, track } from './helpers/listen';
import { isLinux } from './helpers/net';
import { ssRows } from './helpers/ss';

vi.mock('../lib/core/socket', async (importOriginal) => {
  const original = await importOriginal<typeof import('../lib/core/socket')>();
  return {
    ...original,
    socket: (family?: 'ipv4' | 'ipv6', type?: 'tcp' | 'udp') => {
      if (family === 'ipv6') throw errnoException(constants.errno.EAFNOSUPPORT, 'socket');
      return original.socket(family, type);
    },
  };
});

afterEach(closeTracked);

describe.skipIf(!isLinux)('a host without IPv6 (socket(AF_INET6) EAFNOSUPPORT)', () => {
  it('listen() with no host binds 0.0.0.0, and whyInUse() with no host explains that port on 0.0.0.0', async () => {
    const server = await listen(track(net.createServer()), { reuseAddr: false });
    const port = portOf(server);
    expect(server.address()).toMatchObject({ address: '0.0.0.0', family: 'IPv4', port });
    expect(ssRows(port).filter((row) => row.state === 'LISTEN').map((row) => row.local)).toEqual([`0.0.0.0:${port}`]);

    const why = await whyInUse({ port });
    expect(why).toMatchObject({ address: '0.0.0.0', family: 'ipv4', canBind: false, error: { code: 'EADDRINUSE' } });
    expect(why.causes.length).toBeGreaterThan(0);
  });
});
