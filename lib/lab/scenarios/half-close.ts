// Half-close: shutdown(SHUT_WR) ends one direction; data keeps flowing the other way.
import { once } from 'node:events';
import { shutdown } from '../../core/shutdown';
import { type Scenario, withEstablishedPair } from '../scenario';

export const halfClose: Scenario = {
  name: 'half-close',
  title: 'Half-close: FIN_WAIT_2 and CLOSE_WAIT with data still flowing from the server',
  states: ['ESTABLISHED', 'FIN_WAIT_2', 'CLOSE_WAIT', 'TIME_WAIT', 'CLOSED'],
  async run(rec) {
    await withEstablishedPair(rec, {}, async (pair, { client, server }) => {
      shutdown(pair.client, 'write');
      await rec.observe('client', client, 'FIN_WAIT_2', "shutdown(SHUT_WR): FIN sent, ACKed");
      await rec.observe('server', server, 'CLOSE_WAIT', 'rcv FIN / ACK: the server reads EOF');

      for (let i = 1; i <= 3; i++) {
        const arrived = once(pair.client, 'data') as Promise<[Buffer]>;
        pair.accepted.write(`chunk ${i}`);
        const [data] = await arrived;
        await rec.observe('client', client, 'FIN_WAIT_2', `rcv ${data.length} bytes from the server after our FIN`);
      }
      pair.accepted.end();
      await rec.observe('client', client, 'TIME_WAIT', 'rcv FIN / ACK');
      await rec.gone('server', server, 'close / FIN, rcv ACK');
    });
  },
};
