// Abortive close: SO_LINGER { onoff: true, linger: 0 } makes close() send RST: no FIN, no
// TIME_WAIT; the peer's next read fails with ECONNRESET.
import { once } from 'node:events';
import { dup } from '../../core/descriptor';
import { setOption } from '../../core/options';
import { type Scenario, withEstablishedPair } from '../scenario';

export const abortiveClose: Scenario = {
  name: 'abortive-close',
  title: 'Abortive close: SO_LINGER 0 sends RST, no TIME_WAIT is left',
  states: ['ESTABLISHED', 'CLOSED'],
  async run(rec) {
    await withEstablishedPair(rec, {}, async (pair, { client }) => {
      // A second reference to the server's socket, to read its state after Node closes its own.
      const serverRef = dup(pair.accepted);
      try {
        setOption(pair.client, 'SO_LINGER', { onoff: true, linger: 0 });
        const reset = once(pair.accepted, 'error') as Promise<[NodeJS.ErrnoException]>;
        pair.client.destroy();
        await rec.gone('client', client, 'close() with SO_LINGER 0: RST sent, no TIME_WAIT');
        const [error] = await reset;
        rec.fromDescriptor('server', serverRef, `rcv RST: the server's read fails with ${error.code}`);
      } finally {
        serverRef.close();
      }
    });
  },
};
