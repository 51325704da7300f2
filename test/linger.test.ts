import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { getOption, setOption } from '../lib/index';
import { connectedPair, isLinux } from './helpers/net';
import { waitForSs } from './helpers/ss';

describe.skipIf(!isLinux)('SO_LINGER { onoff: true, linger: 0 }', () => {
  it('makes destroy() send RST: the peer gets ECONNRESET and no TIME_WAIT is left', async () => {
    const pair = await connectedPair();
    const clientPort = pair.client.localPort!;
    setOption(pair.client, 'SO_LINGER', { onoff: true, linger: 0 });
    expect(getOption(pair.client, 'SO_LINGER')).toEqual({ onoff: true, linger: 0 });

    const peerError = once(pair.accepted, 'error') as Promise<[NodeJS.ErrnoException]>;
    pair.client.destroy();
    const [error] = await peerError;
    expect(error.code).toBe('ECONNRESET');
    const rows = await waitForSs(pair.port, (r) => !r.some((x) => x.localPort === clientPort || x.peerPort === clientPort));
    // Only the listener is left on the port (other sockets of the host may have it as peer port).
    expect(rows.filter((x) => x.localPort === pair.port).map((x) => x.state)).toEqual(['LISTEN']);
    await pair.close();
  });

  it('without it, the side that closes first is left in TIME_WAIT (the control case)', async () => {
    const pair = await connectedPair();
    const clientPort = pair.client.localPort!;
    const peerEnd = once(pair.accepted, 'end'); // an orderly FIN, not a reset
    pair.accepted.on('end', () => pair.accepted.end());
    pair.client.end();
    await peerEnd;
    const rows = await waitForSs(pair.port, (r) => r.some((x) => x.localPort === clientPort && x.state === 'TIME-WAIT'));
    expect(rows.filter((x) => x.localPort === clientPort).map((x) => x.state)).toEqual(['TIME-WAIT']);
    await pair.close();
  });
});
