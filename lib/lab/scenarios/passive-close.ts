// Passive close: the side that receives the FIN goes CLOSE_WAIT -> LAST_ACK -> CLOSED.
// LAST_ACK is held by queueing the server's FIN behind data the client has no room for.
import { shutdown } from '../../core/shutdown';
import { fillSendQueue, limitReceiveBuffer } from '../fill';
import { drain, type Scenario, withEstablishedPair } from '../scenario';

export const passiveClose: Scenario = {
  name: 'passive-close',
  title: 'Passive close: CLOSE_WAIT, LAST_ACK held behind a full send queue, CLOSED',
  states: ['ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'FIN_WAIT_2', 'TIME_WAIT', 'CLOSED'],
  async run(rec) {
    await withEstablishedPair(rec, { paused: true }, async (pair, { client, server }) => {
      limitReceiveBuffer(pair.client);
      shutdown(pair.client, 'write');
      await rec.observe('server', server, 'CLOSE_WAIT', 'rcv FIN / ACK');
      await rec.observe('client', client, 'FIN_WAIT_2', 'shutdown(SHUT_WR), rcv ACK');

      const queued = fillSendQueue(pair.accepted);
      shutdown(pair.accepted, 'write');
      await rec.observe('server', server, 'LAST_ACK', `close / FIN, queued behind ${queued} bytes the client has no room for`);

      drain(pair.client);
      await rec.observe('client', client, 'TIME_WAIT', 'client reads: rcv data, then FIN / ACK');
      await rec.gone('server', server, 'rcv ACK of our FIN');
    });
  },
};
