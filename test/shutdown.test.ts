import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { constants, shutdown } from '../lib/index';
import { connectedPair, isLinux, nextData, readToEnd, type Pair } from './helpers/net';
import { ssState, waitForSs } from './helpers/ss';

describe.skipIf(!isLinux)('shutdown(target, how) on a connected socket', () => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await connectedPair();
  });
  afterEach(() => pair.close());

  const ours = () => ssState(pair.client.localPort!, pair.port);
  const theirs = () => ssState(pair.port, pair.client.localPort!);

  it("'write' half-closes: the peer reads EOF and can still send, and we still receive", async () => {
    pair.client.write('request');
    const request = readToEnd(pair.accepted);
    shutdown(pair.client, 'write');
    expect(await request).toBe('request');

    await waitForSs(pair.port, () => ours() === 'FIN-WAIT-2' && theirs() === 'CLOSE-WAIT');
    const reply = nextData(pair.client);
    pair.accepted.write('reply after our FIN');
    expect(await reply).toBe('reply after our FIN');
    expect(ours()).toBe('FIN-WAIT-2');
  });

  it('accepts the SHUT_* numbers as well as the names', async () => {
    const eof = once(pair.accepted, 'end');
    shutdown(pair.client, constants.SHUT_WR);
    await eof;
    await waitForSs(pair.port, () => ours() === 'FIN-WAIT-2');
  });

  it("'read' ends our reading without telling the peer; we can still send", async () => {
    const end = once(pair.client, 'end');
    shutdown(pair.client, 'read');
    await end;
    // No FIN went out: the peer is still ESTABLISHED and its writes succeed...
    expect(theirs()).toBe('ESTAB');
    await new Promise<void>((resolve, reject) => pair.accepted.write('unread', (e) => (e ? reject(e) : resolve())));
    // ...but reach only our receive queue, never the application.
    const rows = await waitForSs(pair.port, (r) => r.some((x) => x.localPort === pair.client.localPort && x.recvQ === 6));
    expect(rows.find((x) => x.localPort === pair.client.localPort)?.state).toBe('ESTAB');
    const data = nextData(pair.accepted);
    pair.client.write('still sending');
    expect(await data).toBe('still sending');
  });

  it("'both' sends FIN and ends reading: the peer sees EOF and our next write fails with EPIPE", async () => {
    const theirEnd = once(pair.accepted, 'end');
    const ourEnd = once(pair.client, 'end');
    shutdown(pair.client, 'both');
    await Promise.all([theirEnd, ourEnd]);
    await waitForSs(pair.port, () => ours() === 'FIN-WAIT-2' && theirs() === 'CLOSE-WAIT');
    const [error] = (await new Promise((resolve) => {
      pair.client.once('error', (e) => resolve([e]));
      pair.client.write('too late');
    })) as [NodeJS.ErrnoException];
    expect(error.code).toBe('EPIPE');
  });
});
