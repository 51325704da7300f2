// Simultaneous close: both sides send FIN before either has received the other's, so each
// receives a FIN while still in FIN_WAIT_1: CLOSING. Held by full queues both ways, so the
// FINs wait behind data until each side reads.
import { shutdown } from '../../core/shutdown';
import { fillSendQueue, limitReceiveBuffer } from '../fill';
import { drain, type Scenario, withEstablishedPair } from '../scenario';

export const simultaneousClose: Scenario = {
  name: 'simultaneous-close',
  title: 'Simultaneous close: both FIN_WAIT_1, then CLOSING, then both TIME_WAIT',
  states: ['ESTABLISHED', 'FIN_WAIT_1', 'CLOSING', 'FIN_WAIT_2', 'TIME_WAIT'],
  async run(rec) {
    await withEstablishedPair(rec, { paused: true }, async (pair, { client, server }) => {
      limitReceiveBuffer(pair.client);
      limitReceiveBuffer(pair.accepted);
      const fromClient = fillSendQueue(pair.client);
      const fromServer = fillSendQueue(pair.accepted);
      shutdown(pair.client, 'write');
      shutdown(pair.accepted, 'write');
      await rec.observe('client', client, 'FIN_WAIT_1', `close / FIN, queued behind ${fromClient} bytes`);
      await rec.observe('server', server, 'FIN_WAIT_1', `close / FIN at the same time, queued behind ${fromServer} bytes`);

      drain(pair.client);
      await rec.observe('client', client, 'CLOSING', "client reads: rcv the server's FIN / ACK while its own FIN is unacknowledged");
      await rec.observe('server', server, 'FIN_WAIT_2', "rcv ACK of the server's FIN");

      drain(pair.accepted);
      await rec.observe('client', client, 'TIME_WAIT', 'server reads: rcv ACK of our FIN');
      await rec.observe('server', server, 'TIME_WAIT', "rcv the client's FIN / ACK");
    });
  },
};
