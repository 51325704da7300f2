import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dup, fdOf, shutdown } from '../lib/index';
import { spawnAgent } from './helpers/agent';
import { connectedPair, isLinux, nextData, readToEnd, type Pair } from './helpers/net';
import { ssState, waitForSs } from './helpers/ss';

describe.skipIf(!isLinux)('close() against shutdown() on shared descriptors', () => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await connectedPair();
  });
  afterEach(() => pair.close());

  const ours = () => ssState(pair.client.localPort!, pair.port);

  it('closing a dup() drops one reference: the connection works both ways', async () => {
    const copy = dup(pair.client);
    expect(copy.fd).not.toBe(fdOf(pair.client));
    copy.close();
    expect(copy.fd).toBe(-1);

    const there = nextData(pair.accepted);
    pair.client.write('ping');
    expect(await there).toBe('ping');
    const back = nextData(pair.client);
    pair.accepted.write('pong');
    expect(await back).toBe('pong');
    expect(ours()).toBe('ESTAB');
  });

  it("shutdown(dup, 'write') ends the connection's sending although the original is open", async () => {
    using copy = dup(pair.client);
    const eof = readToEnd(pair.accepted);
    shutdown(copy, 'write');
    expect(await eof).toBe('');
    expect(pair.client.destroyed).toBe(false);
    await waitForSs(pair.port, () => ours() === 'FIN-WAIT-2');
  });

  it('a child that inherited the socket keeps working after the parent closes its copy', async () => {
    const agent = spawnAgent(fdOf(pair.client));
    const clientPort = pair.client.localPort!;
    try {
      pair.client.destroy();
      await new Promise((resolve) => pair.client.once('close', resolve));
      // The parent's descriptor is gone; the child's reference keeps the connection up.
      expect(ssState(clientPort, pair.port)).toBe('ESTAB');
      const there = nextData(pair.accepted);
      expect(await agent.ask('send from-child')).toBe('sent');
      expect(await there).toBe('from-child');
      pair.accepted.write('to-child');
      expect(await agent.ask('recv')).toBe('data to-child');
    } finally {
      await agent.stop();
    }
  });

  it("after the parent's shutdown(sock, 'write') the child can no longer send (EPIPE)", async () => {
    const agent = spawnAgent(fdOf(pair.client));
    try {
      const eof = readToEnd(pair.accepted);
      shutdown(pair.client, 'write');
      expect(await eof).toBe('');
      expect(await agent.ask('send after-shutdown')).toBe('error EPIPE');
      expect(ours()).toBe('FIN-WAIT-2');
    } finally {
      await agent.stop();
    }
  });
});
