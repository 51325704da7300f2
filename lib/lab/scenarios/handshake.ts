// The three-way handshake, each side held in place: SYN_SENT behind a listener whose accept
// queue is full (Linux drops the SYN), SYN_RECV behind TCP_DEFER_ACCEPT (the server keeps
// the connection half-open until data arrives).
import { once } from 'node:events';
import net from 'node:net';
import { binding } from '../../core/binding';
import { listen } from '../../listen/listen';
import { socket } from '../../core/socket';
import type { Scenario } from '../scenario';

export const handshake: Scenario = {
  name: 'handshake',
  title: 'Handshake: SYN_SENT held by a full accept queue, SYN_RECV by TCP_DEFER_ACCEPT',
  states: ['CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED'],
  async run(rec) {
    const cleanup: Array<() => void> = [];
    try {
      // A listener that never accepts, with room for one connection in its queue.
      const fd = socket('ipv4');
      cleanup.push(() => fd.close());
      rec.fromDescriptor('listener', fd, 'socket(): a new socket');
      binding.bind(fd.fd, '127.0.0.1', 0);
      binding.listen(fd.fd, 0);
      const { port } = binding.localAddress(fd.fd);
      await rec.observe('listener', { localPort: port }, 'LISTEN', 'bind + listen(backlog 0), never accept()');

      const first = net.connect(port, '127.0.0.1');
      cleanup.push(() => first.destroy());
      await once(first, 'connect');
      await rec.observe('client 1', { localPort: first.localPort!, remotePort: port }, 'ESTABLISHED', 'connect: handshake done, now in the accept queue');

      const second = net.connect(port, '127.0.0.1');
      second.on('error', () => {}); // destroyed below before it could time out
      cleanup.push(() => second.destroy());
      await new Promise((resolve) => setImmediate(resolve)); // connect(2) has run: the port is bound
      // Read from the socket, never guessed: a filter without it could match client 1.
      if (second.localPort === undefined) throw new Error('client 2 has no local port after connect(2)');
      const secondEnd = { localPort: second.localPort, remotePort: port };
      await rec.observe('client 2', secondEnd, 'SYN_SENT', 'connect: SYN sent; the full accept queue makes Linux drop it');

      // Node takes the listener over and accepts: the queue empties and the SYN, sent again
      // (1 s, then 3 s later), gets through.
      const accepted: net.Socket[] = [];
      const server = net.createServer((c) => accepted.push(c));
      cleanup.push(() => server.close());
      cleanup.push(() => accepted.forEach((c) => c.destroy()));
      server.listen({ fd: fd.release() }, 0);
      await rec.observe('client 2', secondEnd, 'ESTABLISHED', 'SYN sent again, accepted: rcv SYN,ACK / ACK');

      // SYN_RECV: with TCP_DEFER_ACCEPT the server ignores the bare final ACK.
      const deferred = await listen(net.createServer(), { host: '127.0.0.1', port: 0, sockopts: { TCP_DEFER_ACCEPT: 5 } });
      cleanup.push(() => deferred.close());
      const deferredPort = (deferred.address() as net.AddressInfo).port;
      await rec.observe('server', { localPort: deferredPort }, 'LISTEN', 'listen() with TCP_DEFER_ACCEPT 5');
      const third = net.connect(deferredPort, '127.0.0.1');
      cleanup.push(() => third.destroy());
      await once(third, 'connect');
      const server3 = { localPort: deferredPort, remotePort: third.localPort! };
      await rec.observe('client 3', { localPort: third.localPort!, remotePort: deferredPort }, 'ESTABLISHED', 'rcv SYN,ACK / ACK');
      await rec.observe('server', server3, 'SYN_RECV', 'rcv SYN / SYN,ACK; the bare ACK is ignored (TCP_DEFER_ACCEPT)');
      const deferredAccept = once(deferred, 'connection') as Promise<[net.Socket]>;
      third.write('hello');
      const [conn] = await deferredAccept;
      cleanup.push(() => conn.destroy());
      await rec.observe('server', server3, 'ESTABLISHED', 'rcv ACK with data: accepted');
    } finally {
      for (const step of cleanup.reverse()) step();
    }
  },
};
