// Restart during TIME_WAIT: the old server closed its connections first, so they sit in
// TIME_WAIT on its port; a new listener without SO_REUSEADDR cannot bind it, one with it can.
import net from 'node:net';
import { listen } from '../../listen/listen';
import type { SystemError } from '../../core/errors';
import { timeWaitOn } from '../../listen/time-wait';
import type { Scenario } from '../scenario';

const HOST = '127.0.0.1';

async function bindFails(port: number): Promise<SystemError> {
  const server = net.createServer();
  try {
    await listen(server, { host: HOST, port, reuseAddr: false });
  } catch (error) {
    if ((error as SystemError).code === 'EADDRINUSE') return error as SystemError;
    throw error;
  }
  server.close();
  throw new Error(`listen(reuseAddr: false) on port ${port} succeeded although TIME_WAIT was there`);
}

export const restartScenario: Scenario = {
  name: 'restart',
  title: 'Restart during TIME_WAIT: EADDRINUSE without SO_REUSEADDR, a clean restart with it',
  states: ['LISTEN', 'TIME_WAIT'],
  async run(rec) {
    const old = await listen(net.createServer(), { host: HOST, port: 0 });
    let next: net.Server | undefined;
    try {
      const { port } = old.address() as net.AddressInfo;
      await rec.observe('old listener', { localPort: port }, 'LISTEN', 'listen() with SO_REUSEADDR, as libuv sets it');
      const { timeWait } = await timeWaitOn(old, 3);
      await rec.observe('connections', { localPort: port }, 'TIME_WAIT', `the server closed ${timeWait} connections first: TIME_WAIT on its port`);
      await new Promise((resolve) => old.close(resolve));

      const error = await bindFails(port);
      await rec.observe('connections', { localPort: port }, 'TIME_WAIT', `listen(reuseAddr: false): ${error.message}, the port is held`);
      next = await listen(net.createServer(), { host: HOST, port });
      await rec.observe('new listener', { localPort: port }, 'LISTEN', 'listen() with SO_REUSEADDR: bound at once during TIME_WAIT');
    } finally {
      if (old.listening) old.close();
      next?.close();
    }
  },
};
