// The three-way handshake, each side held in place: SYN_SENT behind a listener whose accept
// queue is full (Linux drops the SYN), SYN_RECV behind TCP_DEFER_ACCEPT (the server keeps
// the connection half-open until data arrives). The client is made by connect(), so its
// CLOSED is read from its descriptor before the SYN; one client gives up (timeoutMs) in
// SYN_SENT, and a listener that never had a connection is closed: LISTEN -> CLOSED.
import { once } from 'node:events';
import net from 'node:net';
import { connect, prepareClient } from '../../connect/connect';
import { listen } from '../../listen/listen';
import { createListener, prepareListener } from '../../listen/listener';
import type { Scenario } from '../scenario';

const HOST = '127.0.0.1';

export const handshake: Scenario = {
  name: 'handshake',
  title: 'Handshake: SYN_SENT held by a full accept queue, SYN_RECV by TCP_DEFER_ACCEPT',
  states: ['CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED'],
  async run(rec) {
    const cleanup: Array<() => void> = [];
    try {
      // LISTEN -> CLOSED: a listener closed with nothing queued; the kernel lists nothing on its port.
      const idle = await createListener({ host: HOST, port: 0 });
      cleanup.push(() => idle.close());
      await rec.observe('idle listener', { localPort: idle.address.port }, 'LISTEN', 'createListener()');
      idle.close();
      await rec.gone('idle listener', { localPort: idle.address.port }, 'close(): nothing was queued');

      // A listener that never accepts, backlog 1: two connections fill its queue.
      const unbound = (await prepareListener({ host: HOST, port: 0, backlog: 1 })).open();
      cleanup.push(() => unbound.close());
      rec.fromDescriptor('listener', { fd: unbound.fd }, 'socket(): a new socket, options set');
      const listener = unbound.listen();
      cleanup.push(() => listener.close());
      const { port } = listener.address;
      await rec.observe('listener', { localPort: port }, 'LISTEN', 'bind + listen(backlog 1), never accept()');
      for (const side of ['queued 1', 'queued 2']) {
        const queued = await connect({ host: HOST, port });
        cleanup.push(() => queued.destroy());
        await rec.observe(side, { localPort: queued.localPort!, remotePort: port }, 'ESTABLISHED', 'connect(): handshake done, now in the accept queue');
      }

      // CLOSED -> SYN_SENT, held: the queue is full, so Linux drops the SYN.
      const client = await prepareClient({ host: HOST, port, localAddress: HOST });
      cleanup.push(() => client.close());
      const clientEnd = { localPort: client.localPort, remotePort: port };
      rec.fromDescriptor('client', { fd: client.fd }, 'connect(): socket made, options set and bound, no SYN yet');
      const connecting = client.connect();
      connecting.catch(() => {}); // awaited below; a failure is reported there
      await rec.observe('client', clientEnd, 'SYN_SENT', 'connect(2): SYN sent; the full accept queue makes Linux drop it');

      // SYN_SENT -> CLOSED: a second client gives up (timeoutMs) and its descriptor is closed.
      const quitter = await prepareClient({ host: HOST, port, localAddress: HOST, timeoutMs: 300 });
      cleanup.push(() => quitter.close());
      const quitterEnd = { localPort: quitter.localPort, remotePort: port };
      rec.fromDescriptor('client 2', { fd: quitter.fd }, 'connect(): socket made, bound, no SYN yet');
      const quitting = quitter.connect().then(
        (socket) => (socket.destroy(), 'connected'),
        (error: NodeJS.ErrnoException) => error.code,
      );
      await rec.observe('client 2', quitterEnd, 'SYN_SENT', 'connect(2) with timeoutMs 300: SYN dropped as well');
      const outcome = await quitting;
      if (outcome !== 'ETIMEDOUT') throw new Error(`client 2: expected ETIMEDOUT, got ${outcome}`);
      await rec.gone('client 2', quitterEnd, 'timeoutMs: ETIMEDOUT, descriptor closed');

      // Node takes the listener over and accepts: the queue empties and the SYN, sent again
      // (1 s, then 3 s later), gets through.
      const accepted: net.Socket[] = [];
      const server = net.createServer((c) => accepted.push(c));
      cleanup.push(() => server.close());
      cleanup.push(() => accepted.forEach((c) => c.destroy()));
      server.listen({ fd: listener.release() }, listener.backlog);
      await rec.observe('client', clientEnd, 'ESTABLISHED', 'SYN sent again, accepted: rcv SYN,ACK / ACK');
      const socket = await connecting;
      cleanup.push(() => socket.destroy());

      // SYN_RECV: with TCP_DEFER_ACCEPT the server ignores the bare final ACK.
      const deferred = await listen(net.createServer(), { host: HOST, port: 0, sockopts: { TCP_DEFER_ACCEPT: 5 } });
      cleanup.push(() => deferred.close());
      const deferredPort = (deferred.address() as net.AddressInfo).port;
      await rec.observe('server', { localPort: deferredPort }, 'LISTEN', 'listen() with TCP_DEFER_ACCEPT 5');
      const third = await connect({ host: HOST, port: deferredPort });
      cleanup.push(() => third.destroy());
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
