// Active close: the side that closes first goes FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT.
// FIN_WAIT_1 is held by queueing the FIN behind data the peer has no room for.
import { shutdown } from '../../core/shutdown';
import { fillSendQueue, limitReceiveBuffer } from '../fill';
import { drain, type Scenario, withEstablishedPair } from '../scenario';

const TWO_MSL_MS = 65_000;

export const activeClose: Scenario = {
  name: 'active-close',
  title: 'Active close: FIN_WAIT_1 held behind a full send queue, FIN_WAIT_2, TIME_WAIT and its 2MSL timer',
  states: ['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT', 'CLOSE_WAIT', 'CLOSED'],
  async run(rec, options) {
    await withEstablishedPair(rec, { paused: true }, async (pair, { client, server }) => {
      limitReceiveBuffer(pair.accepted);
      const queued = fillSendQueue(pair.client);
      shutdown(pair.client, 'write');
      await rec.observe('client', client, 'FIN_WAIT_1', `shutdown(SHUT_WR): FIN queued behind ${queued} bytes the server has no room for`);

      drain(pair.accepted);
      await rec.observe('server', server, 'CLOSE_WAIT', 'server reads: rcv data, then FIN / ACK');
      await rec.observe('client', client, 'FIN_WAIT_2', 'rcv ACK of our FIN');

      pair.accepted.end();
      const first = await rec.observe('client', client, 'TIME_WAIT', 'rcv FIN / ACK: the 2MSL timer starts');
      await rec.gone('server', server, 'server: close / FIN, rcv ACK (LAST_ACK done)');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const later = await rec.observe('client', client, 'TIME_WAIT', '2MSL timer counting down');
      if (first.timer && later.timer && later.timer.expiresMs >= first.timer.expiresMs) {
        throw new Error(`TIME_WAIT's timer did not count down: ${first.timer.expiresMs} ms, then ${later.timer.expiresMs} ms`);
      }
      if (options.waitTwoMsl) await rec.gone('client', client, '2MSL timeout: TIME_WAIT ends', TWO_MSL_MS);
    });
  },
};
