// close() against shutdown() on a shared descriptor: closing a dup() drops one reference
// and changes nothing; shutdown() on it acts on the connection for every holder.
import { once } from 'node:events';
import { dup } from '../../core/descriptor';
import { loopbackPair } from '../loopback';
import { shutdown } from '../../core/shutdown';
import { endsOf, type Scenario } from '../scenario';

export const sharedDescriptor: Scenario = {
  name: 'shared-descriptor',
  title: 'close() against shutdown() on a dup(): one drops a reference, the other ends the sending',
  states: ['ESTABLISHED', 'FIN_WAIT_2', 'CLOSE_WAIT'],
  async run(rec) {
    const pair = await loopbackPair();
    try {
      const { client, server } = endsOf(pair);
      await rec.observe('client', client, 'ESTABLISHED', 'connect');
      const copy = dup(pair.client);
      copy.close();
      await rec.observe('client', client, 'ESTABLISHED', `close(dup): one of two references dropped, nothing sent`);
      const again = dup(pair.client);
      const eof = once(pair.accepted, 'end');
      shutdown(again, 'write');
      again.close();
      await eof;
      await rec.observe('client', client, 'FIN_WAIT_2', 'shutdown(dup, SHUT_WR): FIN for the connection, the original still open');
      await rec.observe('server', server, 'CLOSE_WAIT', 'rcv FIN / ACK: the server reads EOF');
    } finally {
      await pair.close();
    }
  },
};
